/* The supervisor as text and numbers: process/status, deaths, stats, want's parser, the names
 * of states, and what metrics reads. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "supervise-internal.h"
#include "util/buf.h"
#include "util/log.h"

const char *zr_sup_state_name(enum zr_sup_state s)
{
	switch (s) {
	case ZR_SUP_DOWN:
		return "down";
	case ZR_SUP_STARTING:
		return "starting";
	case ZR_SUP_READY:
		return "ready";
	case ZR_SUP_STOPPING:
		return "stopping";
	case ZR_SUP_BACKOFF:
		return "backoff";
	case ZR_SUP_FAILED:
		return "failed";
	}
	return "down";
}

const char *zr_sup_want_name(enum zr_sup_want w)
{
	switch (w) {
	case ZR_WANT_UP:
		return "up";
	case ZR_WANT_ONCE:
		return "once";
	case ZR_WANT_DOWN:
		break;
	}
	return "down";
}

int zr_sup_want_parse(const char *text, size_t len, enum zr_sup_want *ret)
{
	if (len > 0 && text[len - 1] == '\n') {
		len--;
	}
	static const struct {
		const char *name;
		enum zr_sup_want want;
	} wants[] = {{"up", ZR_WANT_UP}, {"down", ZR_WANT_DOWN}, {"once", ZR_WANT_ONCE}};
	for (size_t i = 0; i < sizeof(wants) / sizeof(wants[0]); i++) {
		if (len == strlen(wants[i].name) && memcmp(text, wants[i].name, len) == 0) {
			*ret = wants[i].want;
			return 0;
		}
	}
	return -EINVAL;
}

void zr_sup_launch_done(struct zr_sup_launch *l)
{
	for (size_t i = 0; l->argv && l->argv[i]; i++) {
		free(l->argv[i]);
	}
	for (size_t i = 0; l->env && l->env[i]; i++) {
		free(l->env[i]);
	}
	free(l->argv);
	free(l->env);
	free(l->ready_arg);
	*l = (struct zr_sup_launch){0};
}

/* "code N", "signal NAME" or "unknown". */
static void put_exit(struct zr_buf *b, int64_t code, int sig)
{
	const char *name = zr_signal_name(sig);
	if (sig && name) {
		(void)zr_buf_printf(b, "signal %s", name);
	} else if (sig) {
		(void)zr_buf_printf(b, "signal %d", sig);
	} else if (code < 0) {
		(void)zr_buf_puts(b, "unknown");
	} else {
		(void)zr_buf_printf(b, "code %lld", (long long)code);
	}
}

void zr_sup_status(const struct zr_sup *s, struct zr_buf *b)
{
	char t[32];
	(void)zr_buf_printf(b, "state %s\n", zr_sup_state_name(s->state));
	if (s->pid > 0) {
		uint64_t ran = uv_hrtime() - s->started_hr;
		(void)zr_buf_printf(b, "pid %d\nsince %s\nuptime %.3f\n", (int)s->pid,
				    zr_time_format(s->since_ns, t), (double)ran / 1e9);
	}
	(void)zr_buf_printf(b, "restarts %llu\n", s->restarts);
	if (s->have_exit) {
		(void)zr_buf_puts(b, "last_exit ");
		put_exit(b, s->last_code, s->last_sig);
		(void)zr_buf_puts(b, "\n");
	}
	if (s->reason) {
		(void)zr_buf_printf(b, "reason %s\n", s->reason);
	}
	(void)zr_buf_printf(b, "adopted %s\n", s->adopted && s->pid > 0 ? "yes" : "no");
}

void zr_sup_deaths(const struct zr_sup *s, struct zr_buf *b)
{
	size_t first = (s->deaths_next + ZR_SUP_DEATHS - s->n_deaths) % ZR_SUP_DEATHS;
	for (size_t i = 0; i < s->n_deaths; i++) {
		const struct zr_sup_death *d = &s->deaths[(first + i) % ZR_SUP_DEATHS];
		char t[32];
		(void)zr_buf_printf(b, "%s ", zr_time_format(d->time_ns, t));
		put_exit(b, d->code, d->sig);
		(void)zr_buf_printf(b, " uptime %.3f\n", d->uptime);
	}
}

void zr_sup_stats(const struct zr_sup *s, struct zr_buf *b)
{
	if (!s->have_stats) {
		return;
	}
	const struct zr_procstat *p = &s->stats;
	/* The sockets are read now, for this server only (the rounds leave them out); the rest
	 * is the last round's, the same as metrics and limits see. */
	struct zr_procstat now;
	if (s->pid <= 0 || zr_sup__sample_sockets(s, &now) < 0) {
		now = (struct zr_procstat){0};
	}
	(void)zr_buf_printf(b,
			    "rss %llu\nvms %llu\ncpu_percent %.1f\nthreads %u\nfds %u\n"
			    "connections %u\n",
			    p->rss, p->vms, s->cpu_percent, p->threads, p->fds, now.connections);
	for (size_t i = 0; i < now.n_listening; i++) {
		(void)zr_buf_printf(b, "listening %s\n", now.listening[i]);
	}
	zr_procstat_done(&now);
}

enum zr_sup_state zr_sup_state(const struct zr_sup *s)
{
	return s->state;
}

enum zr_sup_want zr_sup_want(const struct zr_sup *s)
{
	return s->want;
}

pid_t zr_sup_pid(const struct zr_sup *s)
{
	return s->pid;
}

void zr_sup_metrics(const struct zr_sup *s, struct zr_sup_metrics *m)
{
	bool stats = s->have_stats && s->pid > 0;
	*m = (struct zr_sup_metrics){
		.up = s->state == ZR_SUP_READY,
		.restarts = s->restarts,
		.rss = stats ? s->stats.rss : 0,
		.fds = stats ? s->stats.fds : 0,
		.cpu_seconds = stats ? s->stats.cpu_seconds : 0,
	};
}
