/* The supervisor's state machine (DESIGN §6): the hooks and requests, exits and restarts with
 * backoff inside a start budget, stops of the whole tree. Its other parts: supervise-spawn.c
 * (a start), supervise-ready.c, supervise-life.c (create, adoption, close), supervise-tree.c,
 * supervise-text.c, supervise-sample.c. One supervisor per service; all on the loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "outlog.h"
#include "procstat.h"
#include "supervise-internal.h"
#include "util/buf.h"
#include "util/log.h"

/* The tree is polled this often while it should be going away, and killed again this often. */
#define TREE_POLL_MS 20
#define TREE_REKILL_NS (1000ull * 1000 * 1000)
/* The launcher's exit code for a command it could not run counts only this soon. */
#define CANNOT_RUN_NS (1000ull * 1000 * 1000)

struct zr_sup_waiter {
	struct zr_list link;
	bool stop;
	zr_sup_done_cb cb;
	void *data;
};

/* Hooks. */

void zr_sup__event(struct zr_sup *s, const char *type, json_t *detail)
{
	if (s->closing || !s->hooks->event) {
		json_decref(detail);
		return;
	}
	s->hooks->event(s->data, type, detail);
}

void zr_sup__on(struct zr_sup *s, const char *which)
{
	if (!s->closing && s->hooks->on) {
		s->hooks->on(s->data, which);
	}
}

void zr_sup__health(struct zr_sup *s)
{
	const char *level;
	switch (s->state) {
	case ZR_SUP_READY:
		level = s->over_limit ? "warning" : "ok";
		break;
	case ZR_SUP_FAILED:
		level = "error";
		break;
	case ZR_SUP_DOWN:
		level = s->want == ZR_WANT_DOWN ? NULL : "warning";
		break;
	default:
		level = "warning";
		break;
	}
	/* Levels are string literals: one pointer each. */
	if (s->closing || !s->hooks->health || (s->health_set && s->last_health == level)) {
		return;
	}
	s->health_set = true;
	s->last_health = level;
	s->hooks->health(s->data, level);
}

void zr_sup__persist(struct zr_sup *s)
{
	if (s->persisted && s->p_want == s->want && s->p_pid == s->pid &&
	    s->p_failed == s->failed) {
		return;
	}
	s->persisted = true;
	s->p_want = s->want;
	s->p_pid = s->pid;
	s->p_failed = s->failed;
	if (!s->hooks->persist) {
		return;
	}
	struct zr_sup_persist p = {
		.want = s->want,
		.pid = s->pid,
		.start_time = s->pid > 0 ? s->start_time : 0,
		.cgroup = s->pid > 0 ? s->cgroup : NULL,
		.failed = s->failed,
	};
	s->hooks->persist(s->data, &p);
}

void zr_sup__set_state(struct zr_sup *s, enum zr_sup_state state)
{
	s->state = state;
	zr_sup__health(s);
}

void zr_sup__set_reason(struct zr_sup *s, const char *text)
{
	char *r = strndup(text, strcspn(text, "\n"));
	if (r) {
		free(s->reason);
		s->reason = r;
	}
}

/* Waiters. */

static void add_waiter(struct zr_sup *s, bool stop, zr_sup_done_cb cb, void *data)
{
	if (!cb) {
		return;
	}
	struct zr_sup_waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		cb(-ENOMEM, "out of memory\n", data);
		return;
	}
	w->stop = stop;
	w->cb = cb;
	w->data = data;
	zr_list_push_back(&s->waiters, &w->link);
}

/* Answers the start (or stop) waiters. They are taken off first: a callback may ask again. */
void zr_sup__finish(struct zr_sup *s, bool stop, int err, const char *why)
{
	struct zr_list done;
	struct zr_sup_waiter *w, *tmp;
	zr_list_init(&done);
	zr_list_for_each_safe(w, tmp, &s->waiters, link) {
		if (w->stop == stop) {
			zr_list_remove(&w->link);
			zr_list_push_back(&done, &w->link);
		}
	}
	zr_list_for_each_safe(w, tmp, &done, link) {
		zr_list_remove(&w->link);
		w->cb(err, err ? why : NULL, w->data);
		free(w);
	}
}

/* "FIRST\n" plus the last lines of output: an error text for a start request. malloc'd, or
 * NULL when out of memory. */
static char *why_with_tail(struct zr_sup *s, const char *first)
{
	struct zr_buf b = {0};
	if (zr_buf_printf(&b, "%s\n", first) < 0) {
		return NULL;
	}
	char *tail = NULL;
	if (s->outlog && zr_outlog_tail(s->outlog, ZR_SUP_TAIL_LINES, &tail) == 0 && tail) {
		(void)zr_buf_puts(&b, tail);
	}
	free(tail);
	return zr_buf_steal(&b);
}

void zr_sup__finish_start_tail(struct zr_sup *s, int err, const char *first)
{
	char *why = why_with_tail(s, first);
	zr_sup__finish(s, false, err, why ? why : "out of memory\n");
	free(why);
}

/* Failure and the tree. */

/* The server is given up on (budget spent, a command that cannot run, a failure with restart
 * never): state failed, on.fail once per budget. */
void zr_sup__fail(struct zr_sup *s, int err, const char *reason)
{
	zr_sup__set_reason(s, reason);
	s->failed = true;
	(void)uv_timer_stop(&s->t_delay);
	zr_sup__set_state(s, ZR_SUP_FAILED);
	zr_sup__persist(s);
	log_error("Server of '%s' failed: %s", s->name, s->reason);
	zr_sup__event(s, "process.failed", json_pack("{s:s}", "reason", s->reason));
	if (!s->fail_fired) {
		s->fail_fired = true;
		zr_sup__on(s, "fail");
	}
	zr_sup__finish_start_tail(s, err, s->reason);
}

void zr_sup__tree_done(struct zr_sup *s)
{
	if (s->cgroup) {
		int err = zr_cgroup_remove(s->cgroup);
		if (err < 0) {
			log_warn("Failed to remove cgroup '%s': %s, ignoring", s->cgroup,
				 strerror(-err));
		}
		free(s->cgroup);
		s->cgroup = NULL;
	}
	s->pgid = 0;
	s->marks_possible = false;
	zr_sup__sample_drop(s);
}

void zr_sup__stopped(struct zr_sup *s)
{
	(void)uv_timer_stop(&s->t_stop);
	s->failed = false;
	zr_sup__set_state(s, ZR_SUP_DOWN);
	zr_sup__persist(s);
	zr_sup__finish(s, true, 0, NULL);
	if (s->closing) {
		zr_sup__close_continue(s);
		return;
	}
	if (s->start_after_stop) {
		s->start_after_stop = false;
		zr_sup__begin_start(s);
	}
}

static void tree_check(struct zr_sup *s)
{
	uint64_t now = uv_hrtime();
	if (!zr_sup__tree_gone(s)) {
		if (now - s->tree_killed >= TREE_REKILL_NS) {
			/* Something survived a SIGKILL round (in uninterruptible sleep, or started
			 * since): again, and say so once it has taken long. */
			if (now - s->tree_since >= 5 * TREE_REKILL_NS &&
			    now - s->tree_killed < 2 * TREE_REKILL_NS) {
				log_warn("Server of '%s': processes survive SIGKILL, still waiting",
					 s->name);
			}
			s->tree_killed = now;
			zr_sup__kill_tree(s);
		}
		return;
	}
	(void)uv_timer_stop(&s->t_tree);
	(void)uv_fs_event_stop(&s->w_tree);
	enum zr_sup_then then = s->then;
	s->then = ZR_THEN_NONE;
	zr_sup__tree_done(s);
	switch (then) {
	case ZR_THEN_START:
		zr_sup__spawn(s);
		break;
	case ZR_THEN_STOPPED:
		zr_sup__stopped(s);
		break;
	default:
		break;
	}
}

static void on_tree_poll(uv_timer_t *t)
{
	tree_check(t->data);
}

static void on_tree_events(uv_fs_event_t *w, const char *name, int events, int status)
{
	(void)name;
	(void)events;
	struct zr_sup *s = w->data;
	/* Only while a wait is on: a last event may come after tree_check stopped the watch. */
	if (status == 0 && s->then != ZR_THEN_NONE) {
		tree_check(s);
	}
}

/* Kills what is left of the tree and waits for it to go (then: what follows). */
void zr_sup__wait_tree(struct zr_sup *s, enum zr_sup_then then)
{
	s->then = then;
	if (zr_sup__tree_gone(s)) {
		/* Answered on the next turn, never inside the caller's own callback. */
		s->tree_since = s->tree_killed = uv_hrtime();
		(void)uv_timer_start(&s->t_tree, on_tree_poll, 0, TREE_POLL_MS);
		return;
	}
	/* Watched before the kill, so that the change it causes is seen: `populated` turning 0
	 * modifies cgroup.events at once, where the poll would wait up to TREE_POLL_MS. */
	if (s->cgroup && !uv_is_active((uv_handle_t *)&s->w_tree)) {
		char *events;
		if (asprintf(&events, "%s/cgroup.events", s->cgroup) >= 0) {
			(void)uv_fs_event_start(&s->w_tree, on_tree_events, events, 0);
			free(events);
		}
	}
	zr_sup__kill_tree(s);
	s->tree_since = s->tree_killed = uv_hrtime();
	(void)uv_timer_start(&s->t_tree, on_tree_poll, TREE_POLL_MS, TREE_POLL_MS);
}

/* A start once nothing of an earlier tree is left. */
void zr_sup__begin_start(struct zr_sup *s)
{
	/* t_delay may still hold create's first turn: a request came first and supersedes it. */
	(void)uv_timer_stop(&s->t_delay);
	s->first_turn = true;
	s->timed_out = false;
	zr_sup__set_state(s, ZR_SUP_STARTING);
	if (s->then != ZR_THEN_NONE || !zr_sup__tree_gone(s)) {
		zr_sup__wait_tree(s, ZR_THEN_START);
		return;
	}
	zr_sup__tree_done(s);
	zr_sup__spawn(s);
}

void zr_sup__send_stop(struct zr_sup *s)
{
	zr_sup__set_state(s, ZR_SUP_STOPPING);
	zr_sup__cancel_probe(s);
	zr_sup__signal_group(s, s->def->stop_signal);
	/* SIGKILL no sooner than stop_timeout after the signal: the loop's time may be this
	 * turn's start (older) and is whole milliseconds (rounded down), hence the update and
	 * the one more millisecond. */
	uv_update_time(s->loop);
	(void)uv_timer_start(&s->t_stop, zr_sup__on_t_stop,
			     (uint64_t)(s->def->stop_timeout * 1000) + 1, 0);
}

/* Exits and restarts. */

static void on_delay(uv_timer_t *t)
{
	struct zr_sup *s = t->data;
	if (s->state == ZR_SUP_BACKOFF) {
		zr_sup__begin_start(s);
	}
}

static void backoff(struct zr_sup *s, double uptime)
{
	const struct zr_process_def *d = s->def;
	/* A run that lasted is not a crash loop: the delay starts over. */
	if (uptime > d->restart_delay_max) {
		s->delay = d->restart_delay;
	}
	double delay = s->delay;
	s->delay = delay * 2 > d->restart_delay_max ? d->restart_delay_max : delay * 2;
	s->restarts++;
	zr_sup__set_state(s, ZR_SUP_BACKOFF);
	zr_sup__event(s, "process.restarting",
		      json_pack("{s:f,s:I}", "delay", delay, "restarts",
				(json_int_t)s->restarts));
	zr_sup__wait_tree(s, ZR_THEN_CLEANUP);
	(void)uv_timer_start(&s->t_delay, on_delay, (uint64_t)(delay * 1000), 0);
}

static void exit_text(int64_t code, int sig, char *dst, size_t size)
{
	const char *name = zr_signal_name(sig);
	if (sig && name) {
		(void)snprintf(dst, size, "killed by signal %s", name);
	} else if (sig) {
		(void)snprintf(dst, size, "killed by signal %d", sig);
	} else if (code < 0) {
		(void)snprintf(dst, size, "exited (status unknown)");
	} else {
		(void)snprintf(dst, size, "exited with code %lld", (long long)code);
	}
}

static void record_death(struct zr_sup *s, int64_t code, int sig, double uptime)
{
	struct zr_sup_death *d = &s->deaths[s->deaths_next];
	d->time_ns = zr_now_ns();
	d->code = code;
	d->sig = sig;
	d->uptime = uptime;
	s->deaths_next = (s->deaths_next + 1) % ZR_SUP_DEATHS;
	if (s->n_deaths < ZR_SUP_DEATHS) {
		s->n_deaths++;
	}
	s->have_exit = true;
	s->last_code = code;
	s->last_sig = sig;
}

/* The launcher writes "zrobot-exec: cannot WHAT ARG: REASON" to the log and exits 127 (the
 * command is missing) or 126 (not runnable, or the cgroup, the log, the user failed) when the
 * server never ran: trying again cannot help. Returns 0, or the errno with *ret_msg the reason
 * for the status ("ENOENT: cannot run X", else the launcher's line), malloc'd. */
static int launcher_refused(struct zr_sup *s, int64_t code, int sig, uint64_t ran_ns,
			    char **ret_msg)
{
	static const char prefix[] = "zrobot-exec: cannot ";
	if (sig || (code != 127 && code != 126) || ran_ns >= CANNOT_RUN_NS || !s->outlog) {
		return 0;
	}
	char *tail = NULL;
	int found = 0;
	const char *line = NULL;
	if (zr_outlog_tail(s->outlog, ZR_SUP_TAIL_LINES, &tail) == 0 && tail) {
		for (const char *l = tail; (l = strstr(l, prefix)); l++) {
			line = l;
		}
	}
	if (line && strncmp(line + strlen(prefix), "run ", 4) == 0) {
		found = code == 127 ? -ENOENT : -EACCES;
		if (asprintf(ret_msg, "%s: cannot run %s", zr_sup__errno_name(-found),
			     s->argv0 ? s->argv0 : "the command") < 0) {
			*ret_msg = NULL;
		}
	} else if (line) {
		found = -EIO;
		line += strlen("zrobot-exec: ");
		*ret_msg = strndup(line, strcspn(line, "\n"));
	}
	free(tail);
	return found;
}

void zr_sup__on_exit(int64_t code, int sig, void *data)
{
	struct zr_sup *s = data;
	pid_t pid = s->pid;
	uint64_t ran_ns = uv_hrtime() - s->started_hr;
	double uptime = (double)ran_ns / 1e9;
	char text[128];

	s->child = NULL;
	if (s->outlog) {
		zr_outlog_poll(s->outlog);
	}
	zr_sup__cancel_probe(s);
	/* Its zombie keeps the process group's id ours during this call. */
	zr_sup__kill_tree(s);
	s->pid = 0;
	s->start_time = 0;
	s->have_stats = false;
	record_death(s, code, sig, uptime);
	exit_text(code, sig, text, sizeof(text));
	log_info("Server of '%s' (pid %d) %s", s->name, (int)pid, text);
	json_t *detail = json_pack("{s:i,s:f}", "pid", (int)pid, "uptime", uptime);
	if (detail && sig) {
		const char *name = zr_signal_name(sig);
		(void)json_object_set_new(detail, "signal", name ? json_string(name)
								  : json_integer(sig));
	} else if (detail) {
		(void)json_object_set_new(detail, "code", code < 0 ? json_null()
								   : json_integer(code));
	}
	zr_sup__event(s, "process.exited", detail);
	zr_sup__on(s, "exit");

	if (s->state == ZR_SUP_STOPPING) {
		zr_sup__persist(s);
		zr_sup__wait_tree(s, ZR_THEN_STOPPED);
		return;
	}
	char *msg = NULL;
	int refused = launcher_refused(s, code, sig, ran_ns, &msg);
	if (refused < 0) {
		zr_sup__wait_tree(s, ZR_THEN_CLEANUP);
		zr_sup__fail(s, refused, msg ? msg : "cannot run the command");
		free(msg);
		return;
	}
	bool failure = s->timed_out || sig || code != 0;
	if (s->state == ZR_SUP_STARTING && !s->timed_out) {
		char first[160];
		(void)snprintf(first, sizeof(first), "%s before ready", text);
		zr_sup__set_reason(s, first);
		zr_sup__finish_start_tail(s, -EIO, first);
	} else if (!s->timed_out) {
		zr_sup__set_reason(s, text);
	}
	bool restart;
	if (s->want != ZR_WANT_UP) {
		restart = false;
	} else if (s->def->restart == ZR_RESTART_ALWAYS) {
		restart = true;
	} else {
		restart = s->def->restart == ZR_RESTART_ON_FAILURE && failure;
	}
	if (restart) {
		zr_sup__persist(s);
		backoff(s, uptime);
		return;
	}
	zr_sup__wait_tree(s, ZR_THEN_CLEANUP);
	if (failure && s->want == ZR_WANT_UP) {
		zr_sup__fail(s, -EIO, s->reason);
		return;
	}
	/* Ended as allowed (once, or a clean exit without restarts): down is now the wish. */
	s->want = ZR_WANT_DOWN;
	zr_sup__set_state(s, ZR_SUP_DOWN);
	zr_sup__persist(s);
}

void zr_sup__on_t_stop(uv_timer_t *t)
{
	struct zr_sup *s = t->data;
	if (s->state == ZR_SUP_STOPPING) {
		log_warn("Server of '%s' still running %g s after its stop signal: SIGKILL",
			 s->name, s->def->stop_timeout);
		zr_sup__kill_tree(s);
		return;
	}
	if (s->state == ZR_SUP_STARTING && s->pid > 0) {
		char why[64];
		(void)snprintf(why, sizeof(why), "not ready after %g s", s->def->ready_timeout);
		zr_sup__not_ready(s, -ETIMEDOUT, why);
	}
}

/* Stopping. */

/* Brings the server down (want unchanged); zr_sup__stopped ends it. */
void zr_sup__stop_internal(struct zr_sup *s)
{
	switch (s->state) {
	case ZR_SUP_STARTING:
		if (!s->start_after_stop) {
			zr_sup__finish(s, false, -ECANCELED, "stopped before ready\n");
		}
		if (s->spawning) {
			zr_sup__set_state(s, ZR_SUP_STOPPING);
		} else if (s->pid > 0) {
			zr_sup__send_stop(s);
		} else {
			zr_sup__set_state(s, ZR_SUP_STOPPING);
			zr_sup__wait_tree(s, ZR_THEN_STOPPED);
		}
		return;
	case ZR_SUP_READY:
		zr_sup__send_stop(s);
		return;
	case ZR_SUP_STOPPING:
		return;
	case ZR_SUP_BACKOFF:
	case ZR_SUP_DOWN:
	case ZR_SUP_FAILED:
		(void)uv_timer_stop(&s->t_delay);
		if (s->then != ZR_THEN_NONE) {
			zr_sup__set_state(s, ZR_SUP_STOPPING);
			s->then = ZR_THEN_STOPPED;
			return;
		}
		zr_sup__stopped(s);
		return;
	}
}

/* Public requests. */

void zr_sup_start(struct zr_sup *s, zr_sup_done_cb cb, void *data)
{
	if (s->closing) {
		if (cb) {
			cb(-ECANCELED, "closed\n", data);
		}
		return;
	}
	s->want = ZR_WANT_UP;
	zr_sup__reset_budget(s);
	zr_sup__persist(s);
	switch (s->state) {
	case ZR_SUP_READY:
		zr_sup__health(s);
		if (cb) {
			cb(0, NULL, data);
		}
		return;
	case ZR_SUP_STARTING:
		add_waiter(s, false, cb, data);
		return;
	case ZR_SUP_STOPPING:
		add_waiter(s, false, cb, data);
		s->start_after_stop = true;
		return;
	default:
		add_waiter(s, false, cb, data);
		zr_sup__begin_start(s);
		return;
	}
}

void zr_sup_stop(struct zr_sup *s, zr_sup_done_cb cb, void *data)
{
	if (s->closing) {
		if (cb) {
			cb(-ECANCELED, "closed\n", data);
		}
		return;
	}
	s->want = ZR_WANT_DOWN;
	zr_sup__persist(s);
	if (s->start_after_stop) {
		s->start_after_stop = false;
		zr_sup__finish(s, false, -ECANCELED, "stopped before ready\n");
	}
	add_waiter(s, true, cb, data);
	zr_sup__stop_internal(s);
}

void zr_sup_restart(struct zr_sup *s, zr_sup_done_cb cb, void *data)
{
	if (s->closing) {
		if (cb) {
			cb(-ECANCELED, "closed\n", data);
		}
		return;
	}
	s->want = ZR_WANT_UP;
	zr_sup__reset_budget(s);
	zr_sup__persist(s);
	add_waiter(s, false, cb, data);
	switch (s->state) {
	case ZR_SUP_STARTING:
	case ZR_SUP_READY:
	case ZR_SUP_STOPPING:
		s->start_after_stop = true;
		zr_sup__stop_internal(s);
		return;
	default:
		zr_sup__begin_start(s);
		return;
	}
}

void zr_sup_kick(struct zr_sup *s)
{
	/* A stop since the hold moved the state on: the next start asks again. */
	if (s->held && !s->closing && s->state == ZR_SUP_STARTING && s->then == ZR_THEN_NONE) {
		zr_sup__spawn(s);
	}
}

void zr_sup_set_want(struct zr_sup *s, enum zr_sup_want want)
{
	if (s->closing) {
		return;
	}
	if (want == ZR_WANT_UP) {
		zr_sup_start(s, NULL, NULL);
		return;
	}
	if (want == ZR_WANT_DOWN) {
		zr_sup_stop(s, NULL, NULL);
		return;
	}
	s->want = ZR_WANT_ONCE;
	switch (s->state) {
	case ZR_SUP_STARTING:
	case ZR_SUP_READY:
		zr_sup__persist(s);
		zr_sup__health(s);
		return;
	case ZR_SUP_STOPPING:
		zr_sup__persist(s);
		s->start_after_stop = true;
		return;
	default:
		zr_sup__reset_budget(s);
		zr_sup__persist(s);
		zr_sup__begin_start(s);
		return;
	}
}

int zr_sup_signal(struct zr_sup *s, int sig)
{
	if (s->pid <= 0) {
		return -ESRCH;
	}
	return kill(s->pid, sig) < 0 ? -errno : 0;
}

void zr_sup_set_def(struct zr_sup *s, const struct zr_process_def *def)
{
	s->def = def;
	if (s->closing) {
		return;
	}
	if (s->state == ZR_SUP_STARTING || s->state == ZR_SUP_READY) {
		s->start_after_stop = true;
		zr_sup__stop_internal(s);
	}
}

void zr_sup__limit_restart(struct zr_sup *s)
{
	if (s->state == ZR_SUP_STARTING || s->state == ZR_SUP_READY) {
		s->restarts++;
		s->start_after_stop = true;
		zr_sup__stop_internal(s);
	}
}

void zr_sup__limit_stop(struct zr_sup *s)
{
	zr_sup_stop(s, NULL, NULL);
}

