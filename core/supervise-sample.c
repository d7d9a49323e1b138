/* Sampling what the servers' trees use (process/stats, metrics) and acting on limits: one round
 * for every supervisor at once, so that, without cgroups, the marked processes of /proc are read
 * once per round. The sockets (connections, listening) are read only for a server whose stats
 * are read: no limit nor metric needs them, and the /proc/net tables and a readlink per fd of
 * every server each round were most of a round's cost. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup.h"
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

/* What a round reads once for all the supervisors. */
struct round {
	struct zr_marks *marks;   /* every marked process, read on first need */
	bool marks_read;
};

/* The tree's pids: the cgroup's (*owned: the caller frees them), else the marked ones of the
 * round's one /proc sweep (borrowed). */
static int tree_pids(struct zr_sup *s, struct round *r, const pid_t **ret, size_t *n,
		     pid_t **owned)
{
	*owned = NULL;
	if (s->cgroup) {
		int err = zr_cgroup_pids_held(s->cgroup, &s->held_procs_fd, owned, n);
		if (err != -ENOENT) {
			*ret = *owned;
			return err;
		}
	}
	if (!r->marks_read) {
		r->marks_read = true;
		if (zr_marks_read(&r->marks) < 0) {
			r->marks = NULL;
		}
	}
	if (!r->marks) {
		return -ENOMEM;
	}
	*ret = zr_marks_get(r->marks, s->id, n);
	return 0;
}

void zr_sup__sample_drop(struct zr_sup *s)
{
	int *fds[] = {&s->held_stat_fd, &s->held_procs_fd};
	for (size_t i = 0; i < 2; i++) {
		if (*fds[i] >= 0) {
			(void)close(*fds[i]);
			*fds[i] = -1;
		}
	}
	s->held_pid = 0;
}

static void sample_one(struct zr_sup *s, struct round *r)
{
	if (s->closing || s->pid <= 0 ||
	    (s->state != ZR_SUP_READY && s->state != ZR_SUP_STARTING)) {
		return;
	}
	if (s->held_pid != s->pid) {
		/* Another run: another process, and maybe another cgroup. */
		zr_sup__sample_drop(s);
		s->held_pid = s->pid;
	}
	const pid_t *pids = NULL;
	pid_t *owned = NULL;
	size_t n = 0;
	if (tree_pids(s, r, &pids, &n, &owned) < 0) {
		return;
	}
	struct zr_procstat st;
	int err = zr_procstat_sample_held(pids, n, s->pid, &s->held_stat_fd, NULL, &st);
	free(owned);
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

static void reads_drop_stale(uint64_t now);

void zr_sup_sample(struct zr_sup *const *sups, size_t n)
{
	struct round r = {0};
	if (n == 0) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		sample_one(sups[i], &r);
	}
	reads_drop_stale(uv_hrtime());
	zr_marks_free(r.marks);
}

/* What stats reads share: the socket tables (5-10 ms to read) and, without cgroups, the marked
 * processes (a /proc sweep), kept READS_KEEP_NS, so that reading the stats of many servers in
 * a row reads them once rather than per server. The loop's own, like the supervisors. */
#define READS_KEEP_NS (200 * 1000 * 1000ull)
static struct {
	uint64_t socks_at, marks_at;
	struct zr_sockets *socks;
	struct zr_marks *marks;
} reads;

static const struct zr_sockets *reads_sockets(uint64_t now)
{
	if (!reads.socks || now - reads.socks_at > READS_KEEP_NS) {
		zr_sockets_free(reads.socks);
		if (zr_sockets_read(&reads.socks) < 0) {
			reads.socks = NULL;
		}
		reads.socks_at = now;
	}
	return reads.socks;
}

/* The marked processes from a sweep taken after since and at most keep ns ago: the last one,
 * else a new one. */
static const struct zr_marks *reads_marks(uint64_t since, uint64_t keep)
{
	uint64_t now = uv_hrtime();
	if (reads.marks && reads.marks_at > since && now - reads.marks_at <= keep) {
		return reads.marks;
	}
	zr_marks_free(reads.marks);
	if (zr_marks_read(&reads.marks) < 0) {
		reads.marks = NULL;
	}
	reads.marks_at = now;
	return reads.marks;
}

const struct zr_marks *zr_sup__marks_after(uint64_t since)
{
	return reads_marks(since, UINT64_MAX);
}

/* A round lets go of what no read used lately (it is big: every socket of the machine). */
static void reads_drop_stale(uint64_t now)
{
	if (reads.socks && now - reads.socks_at > READS_KEEP_NS) {
		zr_sockets_free(reads.socks);
		reads.socks = NULL;
	}
	if (reads.marks && now - reads.marks_at > READS_KEEP_NS) {
		zr_marks_free(reads.marks);
		reads.marks = NULL;
	}
}

int zr_sup__sample_sockets(const struct zr_sup *s, struct zr_procstat *ret)
{
	*ret = (struct zr_procstat){0};
	uint64_t now = uv_hrtime();
	pid_t *owned = NULL;
	const pid_t *pids = NULL;
	size_t n = 0;
	int err = -ENOENT;
	if (s->cgroup) {
		err = zr_cgroup_pids(s->cgroup, &owned, &n);
		pids = owned;
	}
	if (err == -ENOENT) {
		/* Taken since the server's launch: one from before would not have it. */
		const struct zr_marks *m = reads_marks(s->marks_since, READS_KEEP_NS);
		if (!m) {
			return -ENOMEM;
		}
		pids = zr_marks_get(m, s->id, &n);
		err = 0;
	}
	if (err < 0) {
		return err;
	}
	const struct zr_sockets *socks = reads_sockets(now);
	err = socks ? zr_procstat_sample(pids, n, socks, ret) : -EIO;
	free(owned);
	return err;
}
