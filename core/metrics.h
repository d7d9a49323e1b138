/* Metrics: counters the robot and its front ends keep, shown in Prometheus text format by
 * @robot/metrics and GET /metrics. Everything runs on the loop: plain integers, no atomics. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "util/buf.h"
#include "util/map.h"

struct zr_robot;
struct zr_task;

#define ZR_METRICS_STATES 7 /* enum zr_task_state */

struct zr_metrics {
	uint64_t fuse_requests;           /* bumped by the FUSE front end, one per request */
	uint64_t http_requests[600];      /* bumped by the HTTP server, by status code */
	uint64_t http_connections;        /* open now */
	uint64_t http_waiting;            /* long polls and event streams waiting now */
	uint64_t tasks_ended[ZR_METRICS_STATES]; /* tasks that ended since start, by state */
	struct zr_map durations;          /* "<template>/<action>" → struct zr_metrics_hist */
};

void zr_metrics_init(struct zr_metrics *m);
void zr_metrics_done(struct zr_metrics *m);

/* Counts a task that just ended (state and finished_ns set): its state and, when it ran,
 * its duration in the histogram of its template and action. */
void zr_metrics_task_ended(struct zr_metrics *m, const struct zr_task *t);

/* Appends the Prometheus text of robot r (borrowed) to b: tasks by state, queue lengths,
 * action durations, FUSE and HTTP requests, parked reads (given by the caller: the tree
 * counts them), RSS. Returns 0 or -ENOMEM. */
int zr_metrics_render(const struct zr_robot *r, size_t parked, struct zr_buf *b);
