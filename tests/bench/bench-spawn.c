/* What starting a process costs the loop, old path (uv_spawn: fork, then the loop waits for the
 * exec) against new (zr_child_spawn: posix_spawn on the spawner thread), from a parent with a
 * small RSS and from one with a large one. Not a test: it prints medians, asserts nothing.
 *
 *     meson compile -C build && cc -O2 -D_GNU_SOURCE -Icore -Ibuild tests/bench/bench-spawn.c \
 *         build/core/libzrcore.a -luv -lpthread -o build/bench-spawn && build/bench-spawn
 *
 * MIB (default 1024) is the memory touched for the large parent, N (default 200) the spawns per
 * path and size. For each it prints the loop's stall per spawn (the time the starting call
 * holds the loop, plus, new path, the loop's share of the spawn's callback) and the time from
 * the call until /bin/true's exit was seen. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "child.h"

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double median_us(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return (double)v[n / 2] / 1e3;
}

static char *argv_true[] = {"/bin/true", NULL};
static char *env[] = {"PATH=/usr/bin:/bin", NULL};

struct one {
	uv_loop_t *loop;
	int64_t t0, stall, total;
	bool done;
	uv_process_t proc;
};

static void on_uv_exit(uv_process_t *p, int64_t status, int sig)
{
	struct one *o = p->data;
	(void)status;
	(void)sig;
	o->total = now_ns() - o->t0;
	o->done = true;
	uv_close((uv_handle_t *)p, NULL);
}

/* As the old runner: 4 inherited fds, its own session. */
static void old_path(uv_loop_t *loop, struct one *o)
{
	uv_stdio_container_t stdio[4];
	for (int i = 0; i < 4; i++) {
		stdio[i] = (uv_stdio_container_t){.flags = UV_IGNORE};
	}
	uv_process_options_t opt = {.exit_cb = on_uv_exit, .file = argv_true[0], .args = argv_true,
				    .env = env, .cwd = "/", .flags = UV_PROCESS_DETACHED,
				    .stdio_count = 4, .stdio = stdio};
	o->proc.data = o;
	o->t0 = now_ns();
	if (uv_spawn(loop, &o->proc, &opt) != 0) {
		fprintf(stderr, "uv_spawn failed\n");
		exit(1);
	}
	o->stall = now_ns() - o->t0;
	while (!o->done) {
		(void)uv_run(loop, UV_RUN_ONCE);
	}
}

static void on_child_exit(int64_t status, int sig, void *data)
{
	struct one *o = data;
	(void)status;
	(void)sig;
	o->total = now_ns() - o->t0;
	o->done = true;
}

static void on_spawned(int err, pid_t pid, int pidfd, void *data)
{
	struct one *o = data;
	struct zr_child *c;
	int64_t t = now_ns();
	(void)pid;
	if (err < 0 || zr_child_watch(o->loop, pidfd, on_child_exit, o, &c) < 0) {
		fprintf(stderr, "spawn failed\n");
		exit(1);
	}
	o->stall += now_ns() - t;
}

static void new_path(uv_loop_t *loop, struct one *o)
{
	const int fds[4] = {-1, -1, -1, -1};
	const struct zr_child_spawn_options opt = {.path = argv_true[0], .env = env, .cwd = "/",
						   .fds = fds, .n_fds = 4, .flags = ZR_CHILD_SETSID};
	o->loop = loop;
	o->t0 = now_ns();
	if (zr_child_spawn(loop, &opt, on_spawned, o) != 0) {
		fprintf(stderr, "zr_child_spawn failed\n");
		exit(1);
	}
	o->stall = now_ns() - o->t0;
	while (!o->done) {
		(void)uv_run(loop, UV_RUN_ONCE);
	}
}

static void measure(const char *label, int n)
{
	int64_t *stall = calloc((size_t)n * 4, sizeof(int64_t));
	int64_t *total = stall + n, *stall2 = stall + 2 * n, *total2 = stall + 3 * n;
	uv_loop_t loop;
	uv_loop_init(&loop);
	/* Interleaved, so that the machine's noise falls on both alike. */
	for (int i = 0; i < n; i++) {
		struct one a = {0}, b = {0};
		old_path(&loop, &a);
		new_path(&loop, &b);
		stall[i] = a.stall;
		total[i] = a.total;
		stall2[i] = b.stall;
		total2[i] = b.total;
	}
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&loop);
	printf("%-14s uv_spawn: stall %8.1f us, to exit %8.1f us | zr_child_spawn: stall %6.1f us, "
	       "to exit %8.1f us\n",
	       label, median_us(stall, n), median_us(total, n), median_us(stall2, n),
	       median_us(total2, n));
	free(stall);
}

int main(void)
{
	int n = getenv("N") ? atoi(getenv("N")) : 200;
	size_t mib = getenv("MIB") ? strtoul(getenv("MIB"), NULL, 10) : 1024;
	measure("small parent", n);
	size_t size = mib << 20;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	memset(p, 1, size);
	char label[32];
	snprintf(label, sizeof(label), "%zu MiB parent", mib);
	measure(label, n);
	munmap(p, size);
	return 0;
}
