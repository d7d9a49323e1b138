/* measure: the benchmarks' timing loops, in C so that what is timed is the syscalls and not a
 * shell. Every command prints one line "key value ..." on stdout; run.sh reads it.
 *
 *   measure stat N PATH               N stat(2): "ops_per_s X"
 *   measure read N PATH               N open+read to EOF+close: "ops_per_s X"
 *   measure readdir N DIR             N opendir+readdir to the end+closedir (no stat):
 *                                     "ms X entries E" (X the median of the N)
 *   measure roundtrip N ACTION RESULT N times: write "{}\n" to ACTION (open O_TRUNC, write,
 *                                     close), then read RESULT to EOF: "ms X" (median)
 *   measure spawn N SCRIPT            N times: posix_spawn SCRIPT (stdin /dev/null, stdout a
 *                                     pipe read to EOF), waitpid: "ms X" (median)
 *   measure writers N PATH...         one thread per PATH, each N times open O_TRUNC + write
 *                                     "{}\n" + close, all started together: "ops_per_s X"
 *   measure park N PATH TRIGGER PID   N threads each open PATH and read it (they park); once
 *                                     all are in read(2) and PID's RSS has settled, writes a
 *                                     line to TRIGGER and times until the last read returns:
 *                                     "ms X answered A rss_kb_per_reader R"
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "measure: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, long n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Reads fd to EOF; returns the bytes read or -1. */
static long drain(int fd)
{
	char buf[4096];
	long total = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -1;
		}
		total += r;
	}
	return total;
}

static void read_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		die("cannot open", path);
	}
	if (drain(fd) < 0) {
		die("cannot read", path);
	}
	close(fd);
}

static void write_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0) {
		die("cannot open", path);
	}
	if (write(fd, "{}\n", 3) != 3) {
		die("cannot write", path);
	}
	if (close(fd) < 0) {
		die("cannot close", path);
	}
}

static int cmd_stat(long n, const char *path)
{
	struct stat st;
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		if (stat(path, &st) < 0) {
			die("cannot stat", path);
		}
	}
	printf("ops_per_s %.0f\n", (double)n / (now_s() - t0));
	return 0;
}

static int cmd_read(long n, const char *path)
{
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		read_file(path);
	}
	printf("ops_per_s %.0f\n", (double)n / (now_s() - t0));
	return 0;
}

static int cmd_readdir(long n, const char *path)
{
	double *v = calloc((size_t)n, sizeof(*v));
	long entries = 0;
	for (long i = 0; i < n; i++) {
		double t0 = now_s();
		DIR *d = opendir(path);
		if (!d) {
			die("cannot open", path);
		}
		entries = 0;
		while (readdir(d)) {
			entries++;
		}
		closedir(d);
		v[i] = (now_s() - t0) * 1e3;
	}
	printf("ms %.3f entries %ld\n", median(v, n), entries);
	free(v);
	return 0;
}

static int cmd_roundtrip(long n, const char *action, const char *result)
{
	double *v = calloc((size_t)n, sizeof(*v));
	for (long i = 0; i < n; i++) {
		double t0 = now_s();
		write_file(action);
		read_file(result);
		v[i] = (now_s() - t0) * 1e3;
	}
	printf("ms %.3f\n", median(v, n));
	free(v);
	return 0;
}

static int cmd_spawn(long n, const char *script)
{
	double *v = calloc((size_t)n, sizeof(*v));
	char *argv[] = {(char *)script, NULL};
	for (long i = 0; i < n; i++) {
		posix_spawn_file_actions_t fa;
		int p[2], status;
		pid_t pid;
		double t0 = now_s();
		if (pipe2(p, O_CLOEXEC) < 0) {
			die("cannot make a pipe for", script);
		}
		posix_spawn_file_actions_init(&fa);
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		errno = posix_spawn(&pid, script, &fa, NULL, argv, environ);
		if (errno) {
			die("cannot spawn", script);
		}
		posix_spawn_file_actions_destroy(&fa);
		close(p[1]);
		(void)drain(p[0]);
		close(p[0]);
		if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
			die("failed:", script);
		}
		v[i] = (now_s() - t0) * 1e3;
	}
	printf("ms %.3f\n", median(v, n));
	free(v);
	return 0;
}

struct worker {
	pthread_t thread;
	const char *path;
	long n;
};

static pthread_barrier_t start_line;

static void *writer_main(void *data)
{
	struct worker *w = data;
	pthread_barrier_wait(&start_line);
	for (long i = 0; i < w->n; i++) {
		write_file(w->path);
	}
	return NULL;
}

static int cmd_writers(long n, int argc, char **paths)
{
	struct worker *w = calloc((size_t)argc, sizeof(*w));
	pthread_barrier_init(&start_line, NULL, (unsigned)argc + 1);
	for (int i = 0; i < argc; i++) {
		w[i].path = paths[i];
		w[i].n = n;
		if (pthread_create(&w[i].thread, NULL, writer_main, &w[i]) != 0) {
			die("cannot start a writer for", paths[i]);
		}
	}
	pthread_barrier_wait(&start_line);
	double t0 = now_s();
	for (int i = 0; i < argc; i++) {
		pthread_join(w[i].thread, NULL);
	}
	printf("ops_per_s %.0f\n", (double)n * argc / (now_s() - t0));
	free(w);
	return 0;
}

static atomic_long in_read, answered, failed;
static _Atomic double last_answer;

static void *parker_main(void *data)
{
	const char *path = data;
	char buf[256];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		die("cannot open", path);
	}
	atomic_fetch_add(&in_read, 1);
	ssize_t r = read(fd, buf, sizeof(buf));
	double t = now_s();
	close(fd);
	atomic_fetch_add(r > 0 ? &answered : &failed, 1);
	/* The latest answer wins; a compare-exchange loop keeps it monotonic. */
	double prev = atomic_load(&last_answer);
	while (t > prev && !atomic_compare_exchange_weak(&last_answer, &prev, t)) {
	}
	return NULL;
}

static long rss_kb(const char *pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	FILE *f = fopen(path, "re");
	if (!f) {
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %ld", &kb) == 1) {
			break;
		}
	}
	fclose(f);
	return kb;
}

static int cmd_park(long n, const char *path, const char *trigger, const char *pid)
{
	pthread_t *t = calloc((size_t)n, sizeof(*t));
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	long rss0 = rss_kb(pid);
	for (long i = 0; i < n; i++) {
		if (pthread_create(&t[i], &attr, parker_main, (void *)path) != 0) {
			die("cannot start a reader of", path);
		}
	}
	while (atomic_load(&in_read) < n) {
		usleep(10000);
	}
	/* A thread counted itself just before read(2): let the requests reach the filesystem and
	 * wait until the server's RSS stops growing (it has parked them all). */
	long rss1 = rss_kb(pid), prev;
	do {
		prev = rss1;
		usleep(300000);
		rss1 = rss_kb(pid);
	} while (rss1 != prev);
	if (atomic_load(&answered) + atomic_load(&failed) > 0) {
		fprintf(stderr, "measure: reads of %s returned before the trigger\n", path);
		return 1;
	}
	int fd = open(trigger, O_WRONLY | O_CLOEXEC);
	double t0 = now_s();
	if (fd < 0 || write(fd, "go\n", 3) != 3) {
		die("cannot write", trigger);
	}
	close(fd);
	for (long i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
	}
	printf("ms %.3f answered %ld rss_kb_per_reader %.3f\n", (atomic_load(&last_answer) - t0) * 1e3,
	       atomic_load(&answered), (double)(rss1 - rss0) / (double)n);
	free(t);
	return atomic_load(&failed) != 0;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: measure stat|read|readdir|roundtrip|spawn|writers|park N ARGS...\n");
		return 2;
	}
	const char *cmd = argv[1];
	long n = strtol(argv[2], NULL, 10);
	if (n < 1) {
		fprintf(stderr, "measure: N must be positive\n");
		return 2;
	}
	if (strcmp(cmd, "stat") == 0) {
		return cmd_stat(n, argv[3]);
	} else if (strcmp(cmd, "read") == 0) {
		return cmd_read(n, argv[3]);
	} else if (strcmp(cmd, "readdir") == 0) {
		return cmd_readdir(n, argv[3]);
	} else if (strcmp(cmd, "roundtrip") == 0 && argc == 5) {
		return cmd_roundtrip(n, argv[3], argv[4]);
	} else if (strcmp(cmd, "spawn") == 0) {
		return cmd_spawn(n, argv[3]);
	} else if (strcmp(cmd, "writers") == 0) {
		return cmd_writers(n, argc - 3, argv + 3);
	} else if (strcmp(cmd, "park") == 0 && argc == 6) {
		return cmd_park(n, argv[3], argv[4], argv[5]);
	}
	fprintf(stderr, "measure: unknown command or wrong arguments: %s\n", cmd);
	return 2;
}
