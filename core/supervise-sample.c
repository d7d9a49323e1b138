/* Sampling what the servers' trees use (process/stats, metrics) and acting on limits: one round
 * for every supervisor at once, so the sockets of /proc/net are read once per round. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "supervise-internal.h"
#include "util/log.h"

/* The limit exceeded now, or NULL: "memory" (sampled only where memory.max could not hold
 * it) or "cpu_percent". */
static const char *exceeded(const struct zr_sup *s, double *value, double *max)
{
	const struct zr_process_def *d = s->def;
	if (d->memory_max && !s->memory_in_cgroup && s->stats.rss > d->memory_max) {
		*value = (double)s->stats.rss;
		*max = (double)d->memory_max;
		return "memory";
	}
	if (d->cpu_percent > 0 && s->cpu_percent > d->cpu_percent) {
		*value = s->cpu_percent;
		*max = d->cpu_percent;
		return "cpu_percent";
	}
	return NULL;
}

static void check_limits(struct zr_sup *s, uint64_t now)
{
	double value = 0, max = 0;
	const char *what = exceeded(s, &value, &max);
	if (!what) {
		s->over_since = 0;
		if (s->over_limit) {
			s->over_limit = false;
			zr_sup__health(s);
		}
		return;
	}
	if (s->over_since == 0) {
		s->over_since = now;
	}
	if ((double)(now - s->over_since) / 1e9 < s->def->limit_for || s->over_limit) {
		return;
	}
	static const char *const thens[] = {"restart", "stop", "warn"};
	enum zr_limit_then then = s->def->limit_then;
	log_warn("Server of '%s' over its %s limit (%.0f > %.0f): %s", s->name, what, value, max,
		 thens[then]);
	zr_sup__event(s, "process.limit",
		      json_pack("{s:s,s:f,s:f,s:s}", "limit", what, "value", value, "max", max,
				"then", thens[then]));
	s->over_since = 0;
	switch (then) {
	case ZR_LIMIT_WARN:
		s->over_limit = true;
		zr_sup__health(s);
		break;
	case ZR_LIMIT_RESTART:
		zr_sup__limit_restart(s);
		break;
	case ZR_LIMIT_STOP:
		zr_sup__limit_stop(s);
		break;
	}
}

static void sample_one(struct zr_sup *s, const struct zr_sockets *socks)
{
	if (s->closing || s->pid <= 0 ||
	    (s->state != ZR_SUP_READY && s->state != ZR_SUP_STARTING)) {
		return;
	}
	pid_t *pids = NULL;
	size_t n = 0;
	if (zr_sup__tree_pids(s, &pids, &n) < 0) {
		return;
	}
	struct zr_procstat st;
	int err = zr_procstat_sample(pids, n, socks, &st);
	free(pids);
	if (err < 0) {
		return;
	}
	uint64_t now = uv_hrtime();
	/* The first sample of a process has nothing to compare with: 0 until the next one. */
	if (s->have_stats && s->prev_pid == s->pid && now > s->prev_hr) {
		double cpu = st.cpu_seconds - s->prev_cpu;
		s->cpu_percent = cpu > 0 ? cpu / ((double)(now - s->prev_hr) / 1e9) * 100 : 0;
	} else {
		s->cpu_percent = 0;
	}
	s->prev_cpu = st.cpu_seconds;
	s->prev_hr = now;
	s->prev_pid = s->pid;
	zr_procstat_done(&s->stats);
	s->stats = st;
	s->have_stats = true;
	check_limits(s, now);
}

void zr_sup_sample(struct zr_sup *const *sups, size_t n)
{
	struct zr_sockets *socks = NULL;
	if (n == 0) {
		return;
	}
	if (zr_sockets_read(&socks) < 0) {
		socks = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		sample_one(sups[i], socks);
	}
	zr_sockets_free(socks);
}
