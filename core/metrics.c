/* Metrics: the counters of struct zr_metrics and their Prometheus text rendering. */
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "robot.h"
#include "service.h"
#include "supervise.h"
#include "task.h"
#include "template.h"
#include "util/log.h"
#include "webhook.h"

/* Upper bounds in seconds: actions range from a quick check to a long install. */
static const double buckets[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct zr_metrics_hist {
	uint64_t counts[N_BUCKETS + 1]; /* the last one is +Inf */
	double sum;
	uint64_t count;
};

void zr_metrics_init(struct zr_metrics *m)
{
	*m = (struct zr_metrics){0};
}

void zr_metrics_done(struct zr_metrics *m)
{
	size_t i = 0;
	void *v;
	while (zr_map_next(&m->durations, &i, NULL, NULL, &v)) {
		free(v);
	}
	zr_map_done(&m->durations);
}

void zr_metrics_task_ended(struct zr_metrics *m, const struct zr_task *t)
{
	if ((unsigned)t->state < ZR_METRICS_STATES) {
		m->tasks_ended[t->state]++;
	}
	if (!t->started_ns || t->finished_ns < t->started_ns) {
		return; /* cancelled while queued: it never ran */
	}
	char key[160];
	snprintf(key, sizeof(key), "%s/%s", t->svc->template->name, t->action->name);
	struct zr_metrics_hist *h = zr_map_get(&m->durations, key);
	if (!h) {
		h = calloc(1, sizeof(*h));
		if (!h || zr_map_put(&m->durations, key, h) < 0) {
			free(h);
			return;
		}
	}
	double secs = (double)(t->finished_ns - t->started_ns) / 1e9;
	size_t i = 0;
	while (i < N_BUCKETS && secs > buckets[i]) {
		i++;
	}
	h->counts[i]++;
	h->sum += secs;
	h->count++;
}

static void head(struct zr_buf *b, const char *name, const char *type, const char *help)
{
	(void)zr_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static long rss_bytes(void)
{
	FILE *f = fopen("/proc/self/statm", "re");
	long size = 0, resident = 0;
	if (!f) {
		return -1;
	}
	int n = fscanf(f, "%ld %ld", &size, &resident);
	fclose(f);
	return n == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The keys of a string map, sorted, so the text is stable from one scrape to the next. */
static const char **sorted_keys(const struct zr_map *m)
{
	const char **keys = calloc(m->len + 1, sizeof(*keys));
	size_t i = 0, n = 0;
	const char *k;
	if (!keys) {
		return NULL;
	}
	while (zr_map_next(m, &i, &k, NULL, NULL)) {
		keys[n++] = k;
	}
	qsort(keys, n, sizeof(*keys), cmp_str);
	return keys;
}

/* The supervised servers (DESIGN §6), one family at a time as the text format wants, each
 * with its template and service labels. */
enum process_metric { PM_UP, PM_RESTARTS, PM_RSS, PM_CPU, PM_FDS, N_PM };

static int render_processes(const struct zr_robot *r, const char **tkeys, struct zr_buf *b)
{
	static const struct {
		const char *name, *type, *help;
	} fam[N_PM] = {
		[PM_UP] = {"zrobot_process_up", "gauge", "1 while a service's server is ready, else 0."},
		[PM_RESTARTS] = {"zrobot_process_restarts_total", "counter",
				 "Restarts of a service's server by its supervisor."},
		[PM_RSS] = {"zrobot_process_resident_memory_bytes", "gauge",
			    "Resident memory of a server's whole process tree, as last sampled."},
		[PM_CPU] = {"zrobot_process_cpu_seconds_total", "counter",
			    "CPU time of a server's live process tree, as last sampled."},
		[PM_FDS] = {"zrobot_process_open_fds", "gauge",
			    "Open files of a server's whole process tree, as last sampled."},
	};
	for (int f = 0; f < N_PM; f++) {
		head(b, fam[f].name, fam[f].type, fam[f].help);
		for (const char **tk = tkeys; *tk; tk++) {
			const struct zr_robot_template *rt = zr_robot_template(r, *tk);
			const char **skeys = sorted_keys(&rt->services);
			if (!skeys) {
				return -ENOMEM;
			}
			for (const char **sk = skeys; *sk; sk++) {
				const struct zr_service *s = zr_map_get(&rt->services, *sk);
				const struct zr_sup *sup = s->pending ? NULL : zr_service_sup(s);
				struct zr_sup_metrics m;
				if (!sup) {
					continue;
				}
				zr_sup_metrics(sup, &m);
				(void)zr_buf_printf(b, "%s{template=\"%s\",service=\"%s\"} ", fam[f].name,
						    s->template->name, s->name);
				if (f == PM_CPU) {
					(void)zr_buf_printf(b, "%.3f\n", m.cpu_seconds);
				} else {
					unsigned long long v = f == PM_UP ? m.up : f == PM_RESTARTS ? m.restarts
							       : f == PM_RSS ? m.rss : m.fds;
					(void)zr_buf_printf(b, "%llu\n", v);
				}
			}
			free(skeys);
		}
	}
	return 0;
}

int zr_metrics_render(const struct zr_robot *r, size_t parked, struct zr_buf *b)
{
	const struct zr_metrics *m = &r->metrics;
	uint64_t by_state[ZR_METRICS_STATES] = {0};
	size_t n_services = 0;
	const char **tkeys = sorted_keys(&r->templates);
	const char **dkeys = sorted_keys(&m->durations);
	int err = 0;
	if (!tkeys || !dkeys) {
		err = -ENOMEM;
		goto out;
	}

	head(b, "zrobot_queue_length", "gauge", "Tasks waiting in a service's queue.");
	for (const char **tk = tkeys; *tk; tk++) {
		const struct zr_robot_template *rt = zr_robot_template(r, *tk);
		const char **skeys = sorted_keys(&rt->services);
		if (!skeys) {
			err = -ENOMEM;
			goto out;
		}
		for (const char **sk = skeys; *sk; sk++) {
			const struct zr_service *s = zr_map_get(&rt->services, *sk);
			const struct zr_task *t;
			if (s->pending) {
				continue;
			}
			n_services++;
			zr_list_for_each(t, &s->tasks, link) {
				if (!t->pending && (unsigned)t->state < ZR_METRICS_STATES) {
					by_state[t->state]++;
				}
			}
			(void)zr_buf_printf(b, "zrobot_queue_length{service=\"%s\"} %zu\n", s->path,
					    zr_queue_len(&s->queue));
		}
		free(skeys);
	}

	head(b, "zrobot_tasks", "gauge", "Tasks the robot keeps (queued, running and the history), by state.");
	for (int s = 0; s < ZR_METRICS_STATES; s++) {
		(void)zr_buf_printf(b, "zrobot_tasks{state=\"%s\"} %llu\n", zr_task_state_name(s),
				    (unsigned long long)by_state[s]);
	}
	head(b, "zrobot_tasks_ended_total", "counter", "Tasks that ended since the robot started, by state.");
	for (int s = ZR_TASK_OK; s < ZR_METRICS_STATES; s++) {
		(void)zr_buf_printf(b, "zrobot_tasks_ended_total{state=\"%s\"} %llu\n", zr_task_state_name(s),
				    (unsigned long long)m->tasks_ended[s]);
	}
	head(b, "zrobot_tasks_running", "gauge", "Action processes running now.");
	(void)zr_buf_printf(b, "zrobot_tasks_running %d\n", r->running_processes);
	head(b, "zrobot_services", "gauge", "Services in the tree.");
	(void)zr_buf_printf(b, "zrobot_services %zu\n", n_services);
	head(b, "zrobot_templates", "gauge", "Templates loaded.");
	(void)zr_buf_printf(b, "zrobot_templates %zu\n", r->templates.len);

	head(b, "zrobot_action_duration_seconds", "histogram", "How long actions ran, per template and action.");
	for (const char **dk = dkeys; *dk; dk++) {
		const struct zr_metrics_hist *h = zr_map_get(&m->durations, *dk);
		const char *slash = strchr(*dk, '/');
		int tl = (int)(slash - *dk);
		uint64_t cum = 0;
		for (size_t i = 0; i <= N_BUCKETS; i++) {
			char le[32];
			cum += h->counts[i];
			if (i < N_BUCKETS) {
				snprintf(le, sizeof(le), "%g", buckets[i]);
			} else {
				strcpy(le, "+Inf");
			}
			(void)zr_buf_printf(b, "zrobot_action_duration_seconds_bucket{template=\"%.*s\",action=\"%s\",le=\"%s\"} %llu\n",
					    tl, *dk, slash + 1, le, (unsigned long long)cum);
		}
		(void)zr_buf_printf(b, "zrobot_action_duration_seconds_sum{template=\"%.*s\",action=\"%s\"} %.6f\n",
				    tl, *dk, slash + 1, h->sum);
		(void)zr_buf_printf(b, "zrobot_action_duration_seconds_count{template=\"%.*s\",action=\"%s\"} %llu\n",
				    tl, *dk, slash + 1, (unsigned long long)h->count);
	}

	err = render_processes(r, tkeys, b);
	if (err < 0) {
		goto out;
	}
	err = zr_webhooks_metrics(r->webhooks, b);
	if (err < 0) {
		goto out;
	}

	head(b, "zrobot_fuse_requests_total", "counter", "FUSE requests served.");
	(void)zr_buf_printf(b, "zrobot_fuse_requests_total %llu\n", (unsigned long long)m->fuse_requests);
	head(b, "zrobot_http_requests_total", "counter", "HTTP requests answered, by status code.");
	for (int code = 100; code < 600; code++) {
		if (m->http_requests[code]) {
			(void)zr_buf_printf(b, "zrobot_http_requests_total{code=\"%d\"} %llu\n", code,
					    (unsigned long long)m->http_requests[code]);
		}
	}
	head(b, "zrobot_http_connections", "gauge", "HTTP connections open now.");
	(void)zr_buf_printf(b, "zrobot_http_connections %llu\n", (unsigned long long)m->http_connections);
	head(b, "zrobot_http_waiting", "gauge", "HTTP long polls and event streams waiting now.");
	(void)zr_buf_printf(b, "zrobot_http_waiting %llu\n", (unsigned long long)m->http_waiting);
	head(b, "zrobot_parked_reads", "gauge", "Reads waiting for a task (FUSE and HTTP).");
	(void)zr_buf_printf(b, "zrobot_parked_reads %zu\n", parked);
	head(b, "process_resident_memory_bytes", "gauge", "Resident memory of the robot.");
	(void)zr_buf_printf(b, "process_resident_memory_bytes %ld\n", rss_bytes());
	head(b, "process_start_time_seconds", "gauge", "When the robot started, in seconds since the epoch.");
	(void)zr_buf_printf(b, "process_start_time_seconds %.3f\n", (double)r->started_ns / 1e9);
out:
	free(tkeys);
	free(dkeys);
	return err;
}
