/* The store's write path alone, without FUSE (README.md):
 *
 *     store-writers DIR WRITERS N [WORK_US]
 *
 * WRITERS simulated writers on one loop each enqueue N tasks the way a write to actions/
 * does (the task id, the task's row, a sync); a writer's next enqueue arrives on the loop's
 * next turn after its sync has answered, and costs the loop WORK_US microseconds of work (0
 * by default: what the request costs besides the store). The store is DIR/zrobot.db (made).
 * Prints one line:
 *
 *     ops_per_s X commits C per_commit P p50_us A p99_us B max_us M
 *
 * per_commit: enqueues per commit; p50/p99/max: from an enqueue to its sync's answer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "store.h"

struct writer {
	struct zr_store *st;
	uv_timer_t next; /* the next enqueue, on the loop's next turn */
	long index, left;
	uint64_t t0;
};

static uv_loop_t loop;
static long work_us, n_done, n_total;
static double *lat_us;
static int64_t task_id;

static void spin_us(long us)
{
	uint64_t end = uv_hrtime() + (uint64_t)us * 1000;
	while (uv_hrtime() < end) {
	}
}

static void on_next(uv_timer_t *t);

static void on_synced(int err, void *data)
{
	struct writer *w = data;
	if (err < 0) {
		fprintf(stderr, "store-writers: a commit failed: %s\n", strerror(-err));
		exit(1);
	}
	lat_us[n_done++] = (double)(uv_hrtime() - w->t0) / 1e3;
	if (--w->left > 0) {
		(void)uv_timer_start(&w->next, on_next, 0, 0);
	}
}

static void on_next(uv_timer_t *t)
{
	struct writer *w = t->data;
	char guid[32];
	spin_us(work_us);
	snprintf(guid, sizeof(guid), "g%ld", w->index % 10);
	struct zr_store_task row = {
		.id = ++task_id, .service_guid = guid, .action = "noop", .args = "{}",
		.state = "queued", .lane = 1, .created_ns = (long long)uv_hrtime(),
	};
	w->t0 = uv_hrtime();
	if (zr_store_task_id(w->st, row.id) < 0 || zr_store_task_put(w->st, &row, false) < 0) {
		fprintf(stderr, "store-writers: out of memory\n");
		exit(1);
	}
	zr_store_sync(w->st, on_synced, w);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: store-writers DIR WRITERS N [WORK_US]\n");
		return 2;
	}
	long n_writers = atol(argv[2]), n = atol(argv[3]);
	work_us = argc > 4 ? atol(argv[4]) : 0;
	n_total = n_writers * n;
	struct writer *ws = calloc((size_t)n_writers, sizeof(*ws));
	lat_us = calloc((size_t)n_total, sizeof(*lat_us));
	struct zr_store *st = NULL;
	char *why = NULL;
	if (!ws || !lat_us || uv_loop_init(&loop) < 0) {
		return 1;
	}
	if (zr_store_open(&loop, argv[1], &st, &why) < 0) {
		fprintf(stderr, "store-writers: cannot open the store in %s: %s\n", argv[1],
			why ? why : "?");
		return 1;
	}
	for (long i = 0; i < n_writers; i++) {
		ws[i] = (struct writer){.st = st, .index = i, .left = n};
		(void)uv_timer_init(&loop, &ws[i].next);
		ws[i].next.data = &ws[i];
		(void)uv_timer_start(&ws[i].next, on_next, 0, 0);
	}
	uint64_t c0, x0, c1, x1;
	zr_store_stats(st, &c0, &x0);
	uint64_t t0 = uv_hrtime();
	while (n_done < n_total) {
		(void)uv_run(&loop, UV_RUN_ONCE);
	}
	double s = (double)(uv_hrtime() - t0) / 1e9;
	zr_store_stats(st, &c1, &x1);
	qsort(lat_us, (size_t)n_total, sizeof(*lat_us), cmp_double);
	printf("ops_per_s %.0f commits %llu per_commit %.1f p50_us %.0f p99_us %.0f max_us %.0f\n",
	       (double)n_total / s, (unsigned long long)(c1 - c0),
	       (double)n_total / (double)(c1 - c0), lat_us[n_total / 2],
	       lat_us[n_total * 99 / 100], lat_us[n_total - 1]);
	for (long i = 0; i < n_writers; i++) {
		uv_close((uv_handle_t *)&ws[i].next, NULL);
	}
	zr_store_close(st);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&loop);
	free(ws);
	free(lat_us);
	return 0;
}
