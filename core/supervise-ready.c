/* The supervisor's readiness: the probes of ready.h, or ready.exec through the service layer,
 * with ready_timeout; an adopted server is probed once again. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procstat.h"
#include "ready.h"
#include "supervise-internal.h"
#include "util/log.h"

/* ready.exec runs again this long after a failed check. */
#define EXEC_RETRY_MS 100

struct exec_token {
	struct zr_list link;
	struct zr_sup *s;
	unsigned generation;
};

void zr_sup__cancel_probe(struct zr_sup *s)
{
	if (s->ready) {
		zr_ready_cancel(s->ready);
		s->ready = NULL;
	}
	if (s->notify_fd >= 0) {
		(void)close(s->notify_fd);
		s->notify_fd = -1;
	}
	s->early = false;
	free(s->early_why);
	s->early_why = NULL;
	if (s->state != ZR_SUP_STOPPING) {
		(void)uv_timer_stop(&s->t_stop);
	}
}

void zr_sup__free_exec_tokens(struct zr_sup *s)
{
	struct exec_token *t, *tmp;
	zr_list_for_each_safe(t, tmp, &s->exec_tokens, link) {
		zr_list_remove(&t->link);
		free(t);
	}
}

static void became_ready(struct zr_sup *s)
{
	bool reprobe = s->ready_reprobe;
	s->ready_reprobe = false;
	zr_sup__cancel_probe(s);
	zr_sup__set_state(s, ZR_SUP_READY);
	if (!reprobe) {
		zr_sup__event(s, "process.ready", json_pack("{s:i}", "pid", (int)s->pid));
		zr_sup__on(s, "ready");
	}
	zr_sup__finish(s, false, 0, NULL);
}

/* The process did not get ready in time (or could not be probed): the request fails, the tree
 * is killed, and its exit counts as a failure. */
void zr_sup__not_ready(struct zr_sup *s, int err, const char *why)
{
	zr_sup__cancel_probe(s);
	zr_sup__set_reason(s, why);
	s->timed_out = true;
	log_warn("Server of '%s' not ready: %s", s->name, s->reason);
	char *first = strndup(why, strcspn(why, "\n"));
	zr_sup__finish_start_tail(s, err, first ? first : why);
	free(first);
	zr_sup__kill_tree(s);
}

static void on_ready(int err, const char *why, void *data)
{
	struct zr_sup *s = data;
	s->ready = NULL;
	if (s->spawning) {
		/* ready.log matched before the spawn's answer: kept for zr_sup__start_probe. */
		s->early = true;
		s->early_err = err;
		free(s->early_why);
		s->early_why = err < 0 && why ? strdup(why) : NULL;
		return;
	}
	if (err < 0) {
		zr_sup__not_ready(s, err, why ? why : strerror(-err));
		return;
	}
	became_ready(s);
}

static void run_exec(struct zr_sup *s);

/* t_delay, free while starting (it holds the backoff delay only in backoff). */
static void on_exec_retry(uv_timer_t *t)
{
	struct zr_sup *s = t->data;
	if (!s->closing && s->state == ZR_SUP_STARTING && s->pid > 0) {
		run_exec(s);
	}
}

static void on_exec_done(int err, void *arg)
{
	struct exec_token *t = arg;
	struct zr_sup *s = t->s;
	unsigned generation = t->generation;
	zr_list_remove(&t->link);
	free(t);
	if (s->closing || generation != s->generation || s->state != ZR_SUP_STARTING ||
	    s->pid <= 0) {
		return;
	}
	if (err < 0) {
		/* A server is seldom ready at its first check (a ping before it listens): the
		 * check runs again until it passes or ready_timeout (t_stop) gives up. */
		(void)uv_timer_start(&s->t_delay, on_exec_retry, EXEC_RETRY_MS, 0);
		return;
	}
	(void)uv_timer_stop(&s->t_stop);
	became_ready(s);
}

/* One run of the ready.exec action through the service layer. */
static void run_exec(struct zr_sup *s)
{
	struct exec_token *t = calloc(1, sizeof(*t));
	if (!t || !s->hooks->ready_exec) {
		free(t);
		zr_sup__not_ready(s, -ENOMEM, "cannot run the ready check");
		return;
	}
	t->s = s;
	t->generation = s->generation;
	zr_list_push_back(&s->exec_tokens, &t->link);
	s->hooks->ready_exec(s->data, s->def->ready_arg, on_exec_done, t);
}

int zr_sup__start_log_probe(struct zr_sup *s, const char *arg)
{
	struct zr_ready_config cfg = {
		.loop = s->loop,
		.kind = ZR_READY_LOG,
		.arg = arg ? arg : s->def->ready_arg,
		.timeout = s->def->ready_timeout,
		.notify_fd = -1,
	};
	return zr_ready_start(&cfg, on_ready, s, &s->ready);
}

void zr_sup__start_probe(struct zr_sup *s, const char *arg)
{
	const struct zr_process_def *d = s->def;
	if (d->ready == ZR_READY_LOG && (s->ready || s->early)) {
		if (!s->early) {
			return; /* listening since the spawn */
		}
		int err = s->early_err;
		char *why = s->early_why;
		s->early = false;
		s->early_why = NULL;
		if (err < 0) {
			zr_sup__not_ready(s, err, why ? why : strerror(-err));
		} else {
			became_ready(s);
		}
		free(why);
		return;
	}
	if (d->ready == ZR_READY_NONE) {
		became_ready(s);
		return;
	}
	if (d->ready == ZR_READY_EXEC) {
		if (d->ready_timeout > 0) {
			(void)uv_timer_start(&s->t_stop, zr_sup__on_t_stop,
					     (uint64_t)(d->ready_timeout * 1000), 0);
		}
		run_exec(s);
		return;
	}
	struct zr_ready_config cfg = {
		.loop = s->loop,
		.kind = d->ready,
		.arg = arg ? arg : d->ready_arg,
		.delay = d->ready_delay,
		.timeout = d->ready_timeout,
		.notify_fd = s->notify_fd,
		.notify_uid = s->notify_uid,
	};
	int err = zr_ready_start(&cfg, on_ready, s, &s->ready);
	if (err < 0) {
		char why[256];
		(void)snprintf(why, sizeof(why), "cannot probe readiness: %s", strerror(-err));
		zr_sup__not_ready(s, err, why);
	}
}
