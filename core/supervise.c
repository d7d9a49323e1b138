/* The supervisor's state machine (DESIGN §6): start through the launcher, readiness, exits,
 * restarts with backoff inside a start budget, stops of the whole tree, adoption after a robot
 * restart, and closing. One supervisor per service; everything runs on the loop. */
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "child.h"
#include "journal.h"
#include "outlog.h"
#include "procstat.h"
#include "ready.h"
#include "supervise-internal.h"
#include "util/buf.h"
#include "util/log.h"

/* Lines of output an error text ends with ("exited with code 1 before ready"). */
#define TAIL_LINES 5
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

struct exec_token {
	struct zr_list link;
	struct zr_sup *s;
	unsigned generation;
};

static void begin_start(struct zr_sup *s);
static void stop_internal(struct zr_sup *s);
static void close_continue(struct zr_sup *s);
static void on_t_stop(uv_timer_t *t);

/* Hooks. */

void zr_sup__event(struct zr_sup *s, const char *type, json_t *detail)
{
	if (s->closing || !s->hooks->event) {
		json_decref(detail);
		return;
	}
	s->hooks->event(s->data, type, detail);
}

static void on_hook(struct zr_sup *s, const char *which)
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

static void persist(struct zr_sup *s)
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

static void set_state(struct zr_sup *s, enum zr_sup_state state)
{
	s->state = state;
	zr_sup__health(s);
}

static void set_reason(struct zr_sup *s, const char *text)
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
static void finish_waiters(struct zr_sup *s, bool stop, int err, const char *why)
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
	if (s->outlog && zr_outlog_tail(s->outlog, TAIL_LINES, &tail) == 0 && tail) {
		(void)zr_buf_puts(&b, tail);
	}
	free(tail);
	return zr_buf_steal(&b);
}

static void finish_start_waiters_tail(struct zr_sup *s, int err, const char *first)
{
	char *why = why_with_tail(s, first);
	finish_waiters(s, false, err, why ? why : "out of memory\n");
	free(why);
}

/* Readiness. */

static void cancel_probe(struct zr_sup *s)
{
	if (s->ready) {
		zr_ready_cancel(s->ready);
		s->ready = NULL;
	}
	if (s->notify_fd >= 0) {
		(void)close(s->notify_fd);
		s->notify_fd = -1;
	}
	if (s->state != ZR_SUP_STOPPING) {
		(void)uv_timer_stop(&s->t_stop);
	}
}

static void free_exec_tokens(struct zr_sup *s)
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
	cancel_probe(s);
	set_state(s, ZR_SUP_READY);
	if (!reprobe) {
		zr_sup__event(s, "process.ready", json_pack("{s:i}", "pid", (int)s->pid));
		on_hook(s, "ready");
	}
	finish_waiters(s, false, 0, NULL);
}

/* The process did not get ready in time (or could not be probed): the request fails, the tree
 * is killed, and its exit counts as a failure. */
static void not_ready(struct zr_sup *s, int err, const char *why)
{
	cancel_probe(s);
	set_reason(s, why);
	s->timed_out = true;
	log_warn("Server of '%s' not ready: %s", s->name, s->reason);
	char *first = strndup(why, strcspn(why, "\n"));
	finish_start_waiters_tail(s, err, first ? first : why);
	free(first);
	zr_sup__kill_tree(s);
}

static void on_ready(int err, const char *why, void *data)
{
	struct zr_sup *s = data;
	s->ready = NULL;
	if (err < 0) {
		not_ready(s, err, why ? why : strerror(-err));
		return;
	}
	became_ready(s);
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
	(void)uv_timer_stop(&s->t_stop);
	if (err < 0) {
		char why[256];
		(void)snprintf(why, sizeof(why), "ready check '%s' failed: %s", s->def->ready_arg,
			       strerror(-err));
		not_ready(s, err, why);
		return;
	}
	became_ready(s);
}

static void start_probe(struct zr_sup *s, const char *arg)
{
	const struct zr_process_def *d = s->def;
	if (d->ready == ZR_READY_NONE) {
		became_ready(s);
		return;
	}
	if (d->ready == ZR_READY_EXEC) {
		struct exec_token *t = calloc(1, sizeof(*t));
		if (!t || !s->hooks->ready_exec) {
			free(t);
			not_ready(s, -ENOMEM, "cannot run the ready check");
			return;
		}
		t->s = s;
		t->generation = s->generation;
		zr_list_push_back(&s->exec_tokens, &t->link);
		if (d->ready_timeout > 0) {
			(void)uv_timer_start(&s->t_stop, on_t_stop,
					     (uint64_t)(d->ready_timeout * 1000), 0);
		}
		s->hooks->ready_exec(s->data, d->ready_arg, on_exec_done, t);
		return;
	}
	struct zr_ready_config cfg = {
		.loop = s->loop,
		.kind = d->ready,
		.arg = arg ? arg : d->ready_arg,
		.delay = d->ready_delay,
		.timeout = d->ready_timeout,
		.notify_fd = s->notify_fd,
	};
	int err = zr_ready_start(&cfg, on_ready, s, &s->ready);
	if (err < 0) {
		char why[256];
		(void)snprintf(why, sizeof(why), "cannot probe readiness: %s", strerror(-err));
		not_ready(s, err, why);
	}
}

/* Failure and the tree. */

/* The server is given up on (budget spent, a command that cannot run, a failure with restart
 * never): state failed, on.fail once per budget. */
static void fail_final(struct zr_sup *s, int err, const char *reason)
{
	set_reason(s, reason);
	s->failed = true;
	(void)uv_timer_stop(&s->t_delay);
	set_state(s, ZR_SUP_FAILED);
	persist(s);
	log_error("Server of '%s' failed: %s", s->name, s->reason);
	zr_sup__event(s, "process.failed", json_pack("{s:s}", "reason", s->reason));
	if (!s->fail_fired) {
		s->fail_fired = true;
		on_hook(s, "fail");
	}
	finish_start_waiters_tail(s, err, s->reason);
}

static void tree_done(struct zr_sup *s)
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
}

static void stopped_done(struct zr_sup *s)
{
	(void)uv_timer_stop(&s->t_stop);
	s->failed = false;
	set_state(s, ZR_SUP_DOWN);
	persist(s);
	finish_waiters(s, true, 0, NULL);
	if (s->closing) {
		close_continue(s);
		return;
	}
	if (s->start_after_stop) {
		s->start_after_stop = false;
		begin_start(s);
	}
}

static void spawn_now(struct zr_sup *s);

static void on_tree_poll(uv_timer_t *t)
{
	struct zr_sup *s = t->data;
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
	(void)uv_timer_stop(t);
	enum zr_sup_then then = s->then;
	s->then = ZR_THEN_NONE;
	tree_done(s);
	switch (then) {
	case ZR_THEN_START:
		spawn_now(s);
		break;
	case ZR_THEN_STOPPED:
		stopped_done(s);
		break;
	default:
		break;
	}
}

/* Kills what is left of the tree and waits for it to go (then: what follows). */
static void wait_tree(struct zr_sup *s, enum zr_sup_then then)
{
	s->then = then;
	if (zr_sup__tree_gone(s)) {
		/* Answered on the next turn, never inside the caller's own callback. */
		s->tree_since = s->tree_killed = uv_hrtime();
		(void)uv_timer_start(&s->t_tree, on_tree_poll, 0, TREE_POLL_MS);
		return;
	}
	zr_sup__kill_tree(s);
	s->tree_since = s->tree_killed = uv_hrtime();
	(void)uv_timer_start(&s->t_tree, on_tree_poll, TREE_POLL_MS, TREE_POLL_MS);
}

/* Starting. */

static bool budget_spent(struct zr_sup *s)
{
	const struct zr_process_def *d = s->def;
	uint64_t now = uv_hrtime();
	uint64_t window = (uint64_t)(d->start_interval * 1e9);
	size_t keep = 0;
	for (size_t i = 0; i < s->n_starts; i++) {
		if (now - s->starts[i] < window) {
			s->starts[keep++] = s->starts[i];
		}
	}
	s->n_starts = keep;
	if (d->start_burst > 0 && s->n_starts >= (size_t)d->start_burst) {
		return true;
	}
	uint64_t *n = realloc(s->starts, (s->n_starts + 1) * sizeof(*n));
	if (n) {
		s->starts = n;
		s->starts[s->n_starts++] = now;
	}
	return false;
}

static void reset_budget(struct zr_sup *s)
{
	s->n_starts = 0;
	s->fail_fired = false;
	s->failed = false;
	s->delay = s->def->restart_delay;
}

/* errno's name for the texts the issue fixes ("ENOENT: cannot run X"). */
static const char *errno_name(int err)
{
	switch (err) {
	case ENOENT:
		return "ENOENT";
	case EACCES:
		return "EACCES";
	case ENOEXEC:
		return "ENOEXEC";
	default:
		return "EIO";
	}
}

static void ensure_outlog(struct zr_sup *s);

/* A copy of env without NAME=..., with the marker (and NOTIFY_SOCKET) added. */
static char **server_env(struct zr_sup *s, char **env, bool notify)
{
	size_t n = 0;
	while (env && env[n]) {
		n++;
	}
	char **e = calloc(n + 3, sizeof(*e));
	if (!e) {
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(env[i], ZR_PROCESS_MARKER "=", strlen(ZR_PROCESS_MARKER) + 1) == 0 ||
		    (notify && strncmp(env[i], "NOTIFY_SOCKET=", 14) == 0)) {
			continue;
		}
		e[k++] = env[i];
	}
	char *marker = NULL, *sock = NULL;
	if (asprintf(&marker, "%s=%s", ZR_PROCESS_MARKER, s->id) < 0) {
		free(e);
		return NULL;
	}
	e[k++] = marker;
	if (notify) {
		if (asprintf(&sock, "NOTIFY_SOCKET=%s", s->notify_path) < 0) {
			free(marker);
			free(e);
			return NULL;
		}
		e[k++] = sock;
	}
	return e;
}

static void on_spawned(int err, pid_t pid, int pidfd, void *data);

/* The parts of a spawn, freed together. */
struct spawn_parts {
	struct zr_sup_launch l;
	char *path;
	char **env;
	size_t n_own_env; /* the last ones in env are ours */
	char **argv;
};

static const char *path_of(char **env)
{
	for (size_t i = 0; env && env[i]; i++) {
		if (strncmp(env[i], "PATH=", 5) == 0) {
			return env[i] + 5;
		}
	}
	return NULL;
}

static void spawn_parts_done(struct spawn_parts *p)
{
	if (p->env) {
		size_t n = 0;
		while (p->env[n]) {
			n++;
		}
		for (size_t i = n - p->n_own_env; i < n; i++) {
			free(p->env[i]);
		}
		free(p->env);
	}
	free(p->argv);
	free(p->path);
	zr_sup_launch_done(&p->l);
}

static int make_argv(struct zr_sup *s, struct spawn_parts *p)
{
	size_t n = 0;
	while (p->l.argv[n]) {
		n++;
	}
	char **a = calloc(n + 9, sizeof(*a));
	if (!a) {
		return -ENOMEM;
	}
	size_t k = 0;
	a[k++] = (char *)s->launcher;
	if (s->cgroup) {
		a[k++] = "--cgroup";
		a[k++] = s->cgroup;
	}
	a[k++] = "--log";
	a[k++] = s->log_path;
	if (s->def->user) {
		a[k++] = "--user";
		a[k++] = s->def->user;
	}
	/* The launcher's execvp finds it again in the same PATH: the server keeps its argv[0]. */
	a[k++] = "--";
	for (size_t i = 0; i < n; i++) {
		a[k++] = p->l.argv[i];
	}
	p->argv = a;
	return 0;
}

static void spawn_now(struct zr_sup *s)
{
	const struct zr_process_def *d = s->def;
	struct spawn_parts p = {0};
	char *why = NULL;
	char msg[512];
	int err;

	if (budget_spent(s)) {
		(void)snprintf(msg, sizeof(msg), "start limit: more than %d starts in %g s",
			       d->start_burst, d->start_interval);
		fail_final(s, -EAGAIN, msg);
		return;
	}
	err = s->hooks->launch(s->data, &p.l, &why);
	if (err < 0) {
		(void)snprintf(msg, sizeof(msg), "%s", why ? why : strerror(-err));
		free(why);
		fail_final(s, err, msg);
		return;
	}
	free(s->argv0);
	s->argv0 = p.l.argv && p.l.argv[0] ? strdup(p.l.argv[0]) : NULL;
	if (!s->argv0) {
		err = -EINVAL;
		(void)snprintf(msg, sizeof(msg), "no command");
		goto fail;
	}
	err = zr_sup__resolve(p.l.argv[0], path_of(p.l.env), s->cwd, &p.path);
	if (err < 0) {
		(void)snprintf(msg, sizeof(msg), "%s: cannot run %s", errno_name(-err), s->argv0);
		goto fail;
	}
	if (s->cgroup_base) {
		free(s->cgroup);
		s->cgroup = NULL;
		err = zr_cgroup_make(s->cgroup_base, s->id, &s->cgroup);
		if (err < 0) {
			/* The process group and the marker still find the tree. */
			log_warn("Failed to make the cgroup of '%s': %s, using a process group",
				 s->name, strerror(-err));
		}
	}
	s->memory_in_cgroup = false;
	if (s->cgroup && d->memory_max) {
		s->memory_in_cgroup = zr_cgroup_set_memory_max(s->cgroup, d->memory_max) == 0;
	}
	if (d->ready == ZR_READY_NOTIFY) {
		err = zr_ready_notify_open(s->notify_path, &s->notify_fd);
		if (err < 0) {
			(void)snprintf(msg, sizeof(msg), "cannot open NOTIFY_SOCKET %s: %s",
				       s->notify_path, strerror(-err));
			goto fail;
		}
		struct passwd *pw = d->user ? getpwnam(d->user) : NULL;
		if (pw && chown(s->notify_path, pw->pw_uid, pw->pw_gid) < 0) {
			log_warn("Failed to chown '%s': %s, ignoring", s->notify_path,
				 strerror(errno));
		}
	}
	p.env = server_env(s, p.l.env, d->ready == ZR_READY_NOTIFY);
	p.n_own_env = d->ready == ZR_READY_NOTIFY ? 2 : 1;
	if (!p.env || make_argv(s, &p) < 0) {
		err = -ENOMEM;
		(void)snprintf(msg, sizeof(msg), "out of memory");
		goto fail;
	}
	ensure_outlog(s);
	const int fds[3] = {-1, -1, -1};
	struct zr_child_spawn_options o = {
		.path = s->launcher,
		.argv = p.argv,
		.env = p.env,
		.cwd = s->cwd,
		.fds = fds,
		.n_fds = 3,
		.flags = ZR_CHILD_SETSID,
	};
	err = zr_child_spawn(s->loop, &o, on_spawned, s);
	if (err < 0) {
		(void)snprintf(msg, sizeof(msg), "cannot run %s: %s", s->launcher, strerror(-err));
		goto fail;
	}
	s->spawning = true;
	s->generation++;
	free(s->ready_arg);
	s->ready_arg = p.l.ready_arg;
	p.l.ready_arg = NULL;
	spawn_parts_done(&p);
	return;
fail:
	spawn_parts_done(&p);
	if (s->notify_fd >= 0) {
		(void)close(s->notify_fd);
		s->notify_fd = -1;
	}
	tree_done(s);
	fail_final(s, err, msg);
}

/* A start once nothing of an earlier tree is left. */
static void begin_start(struct zr_sup *s)
{
	/* t_delay may still hold create's first turn: a request came first and supersedes it. */
	(void)uv_timer_stop(&s->t_delay);
	s->first_turn = true;
	s->timed_out = false;
	free(s->fatal);
	s->fatal = NULL;
	set_state(s, ZR_SUP_STARTING);
	if (s->then != ZR_THEN_NONE || !zr_sup__tree_gone(s)) {
		wait_tree(s, ZR_THEN_START);
		return;
	}
	tree_done(s);
	spawn_now(s);
}

static void on_exit_cb(int64_t status, int sig, void *data);

static void send_stop(struct zr_sup *s)
{
	set_state(s, ZR_SUP_STOPPING);
	cancel_probe(s);
	zr_sup__signal_group(s, s->def->stop_signal);
	(void)uv_timer_start(&s->t_stop, on_t_stop, (uint64_t)(s->def->stop_timeout * 1000), 0);
}

static void on_spawned(int err, pid_t pid, int pidfd, void *data)
{
	struct zr_sup *s = data;
	s->spawning = false;
	if (err < 0) {
		char msg[512];
		(void)snprintf(msg, sizeof(msg), "cannot run %s: %s", s->launcher, strerror(-err));
		tree_done(s);
		if (s->state == ZR_SUP_STOPPING || s->closing) {
			stopped_done(s);
			return;
		}
		fail_final(s, err, msg);
		return;
	}
	s->pid = s->pgid = pid;
	if (zr_proc_start_time(pid, &s->start_time) < 0) {
		s->start_time = 0;
	}
	s->since_ns = zr_now_ns();
	s->started_hr = uv_hrtime();
	s->adopted = false;
	s->have_stats = false;
	s->over_since = 0;
	s->over_limit = false;
	err = zr_child_watch(s->loop, pidfd, on_exit_cb, s, &s->child);
	if (err < 0) {
		/* Without a watch its exit would go unseen: it may not run. */
		s->child = NULL;
		zr_sup__kill_tree(s);
		s->pid = 0;
		char msg[256];
		(void)snprintf(msg, sizeof(msg), "cannot watch the process: %s", strerror(-err));
		fail_final(s, err, msg);
		wait_tree(s, ZR_THEN_CLEANUP);
		return;
	}
	persist(s);
	log_info("Started the server of '%s' (pid %d)", s->name, (int)pid);
	if (s->state == ZR_SUP_STOPPING || s->closing) {
		/* A stop (or the robot closing) came while it spawned: it never got going. */
		send_stop(s);
		return;
	}
	zr_sup__event(s, "process.started", json_pack("{s:i}", "pid", (int)pid));
	on_hook(s, "start");
	start_probe(s, s->ready_arg);
}

/* Exits and restarts. */

static void on_delay(uv_timer_t *t)
{
	struct zr_sup *s = t->data;
	if (s->state == ZR_SUP_BACKOFF) {
		begin_start(s);
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
	set_state(s, ZR_SUP_BACKOFF);
	zr_sup__event(s, "process.restarting",
		      json_pack("{s:f,s:I}", "delay", delay, "restarts",
				(json_int_t)s->restarts));
	wait_tree(s, ZR_THEN_CLEANUP);
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
	if (zr_outlog_tail(s->outlog, TAIL_LINES, &tail) == 0 && tail) {
		for (const char *l = tail; (l = strstr(l, prefix)); l++) {
			line = l;
		}
	}
	if (line && strncmp(line + strlen(prefix), "run ", 4) == 0) {
		found = code == 127 ? -ENOENT : -EACCES;
		if (asprintf(ret_msg, "%s: cannot run %s", errno_name(-found),
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

static void on_exit_cb(int64_t code, int sig, void *data)
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
	cancel_probe(s);
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
	on_hook(s, "exit");

	if (s->state == ZR_SUP_STOPPING) {
		persist(s);
		wait_tree(s, ZR_THEN_STOPPED);
		return;
	}
	char *msg = NULL;
	int refused = launcher_refused(s, code, sig, ran_ns, &msg);
	if (refused < 0) {
		wait_tree(s, ZR_THEN_CLEANUP);
		fail_final(s, refused, msg ? msg : "cannot run the command");
		free(msg);
		return;
	}
	bool failure = s->timed_out || sig || code != 0;
	if (s->state == ZR_SUP_STARTING && !s->timed_out) {
		char first[160];
		(void)snprintf(first, sizeof(first), "%s before ready", text);
		set_reason(s, first);
		finish_start_waiters_tail(s, -EIO, first);
	} else if (!s->timed_out) {
		set_reason(s, text);
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
		persist(s);
		backoff(s, uptime);
		return;
	}
	wait_tree(s, ZR_THEN_CLEANUP);
	if (failure && s->want == ZR_WANT_UP) {
		fail_final(s, -EIO, s->reason);
		return;
	}
	/* Ended as allowed (once, or a clean exit without restarts): down is now the wish. */
	s->want = ZR_WANT_DOWN;
	set_state(s, ZR_SUP_DOWN);
	persist(s);
}

static void on_t_stop(uv_timer_t *t)
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
		not_ready(s, -ETIMEDOUT, why);
	}
}

/* Stopping. */

/* Brings the server down (want unchanged); stopped_done ends it. */
static void stop_internal(struct zr_sup *s)
{
	switch (s->state) {
	case ZR_SUP_STARTING:
		if (!s->start_after_stop) {
			finish_waiters(s, false, -ECANCELED, "stopped before ready\n");
		}
		if (s->spawning) {
			set_state(s, ZR_SUP_STOPPING);
		} else if (s->pid > 0) {
			send_stop(s);
		} else {
			set_state(s, ZR_SUP_STOPPING);
			wait_tree(s, ZR_THEN_STOPPED);
		}
		return;
	case ZR_SUP_READY:
		send_stop(s);
		return;
	case ZR_SUP_STOPPING:
		return;
	case ZR_SUP_BACKOFF:
	case ZR_SUP_DOWN:
	case ZR_SUP_FAILED:
		(void)uv_timer_stop(&s->t_delay);
		if (s->then != ZR_THEN_NONE) {
			set_state(s, ZR_SUP_STOPPING);
			s->then = ZR_THEN_STOPPED;
			return;
		}
		stopped_done(s);
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
	reset_budget(s);
	persist(s);
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
		begin_start(s);
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
	persist(s);
	if (s->start_after_stop) {
		s->start_after_stop = false;
		finish_waiters(s, false, -ECANCELED, "stopped before ready\n");
	}
	add_waiter(s, true, cb, data);
	stop_internal(s);
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
	reset_budget(s);
	persist(s);
	add_waiter(s, false, cb, data);
	switch (s->state) {
	case ZR_SUP_STARTING:
	case ZR_SUP_READY:
	case ZR_SUP_STOPPING:
		s->start_after_stop = true;
		stop_internal(s);
		return;
	default:
		begin_start(s);
		return;
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
		persist(s);
		zr_sup__health(s);
		return;
	case ZR_SUP_STOPPING:
		persist(s);
		s->start_after_stop = true;
		return;
	default:
		reset_budget(s);
		persist(s);
		begin_start(s);
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
		stop_internal(s);
	}
}

void zr_sup__limit_restart(struct zr_sup *s)
{
	if (s->state == ZR_SUP_STARTING || s->state == ZR_SUP_READY) {
		s->start_after_stop = true;
		stop_internal(s);
	}
}

void zr_sup__limit_stop(struct zr_sup *s)
{
	zr_sup_stop(s, NULL, NULL);
}

/* Output. */

static void on_output_line(const char *line, size_t len, void *data)
{
	struct zr_sup *s = data;
	if (s->ready) {
		zr_ready_log_line(s->ready, line, len);
	}
	if (!s->closing && s->hooks->output) {
		s->hooks->output(s->data, line, len);
	}
}

static void ensure_outlog(struct zr_sup *s)
{
	if (s->outlog) {
		return;
	}
	int err = zr_outlog_open(s->loop, s->log_path, s->log_max, on_output_line, s, &s->outlog);
	if (err < 0) {
		s->outlog = NULL;
		log_warn("Failed to follow the output of '%s' in '%s': %s, ignoring", s->name,
			 s->log_path, strerror(-err));
	}
}

struct zr_journal *zr_sup_log(struct zr_sup *s)
{
	if (s->outlog) {
		return zr_outlog_journal(s->outlog);
	}
	return zr_journal_or_empty(&s->empty_log, s->log_max, zr_now_ns());
}

/* Creating and adopting. */

static bool adopt(struct zr_sup *s, const struct zr_sup_persist *r)
{
	unsigned long long st = 0;
	if (zr_proc_start_time(r->pid, &st) < 0 || st != r->start_time) {
		return false;
	}
	if (r->cgroup) {
		char *cg = NULL;
		bool same = zr_cgroup_of(r->pid, &cg) == 0 && strcmp(cg, r->cgroup) == 0;
		free(cg);
		if (!same) {
			return false;
		}
	}
	int pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	if (pidfd < 0) {
		return false;
	}
	/* The pid could have been reused between the check and the pidfd: the pidfd now pins
	 * one process, so the start time is checked again on that one. */
	if (zr_proc_start_time(r->pid, &st) < 0 || st != r->start_time) {
		(void)close(pidfd);
		return false;
	}
	if (r->cgroup && !(s->cgroup = strdup(r->cgroup))) {
		(void)close(pidfd);
		return false;
	}
	if (zr_child_watch(s->loop, pidfd, on_exit_cb, s, &s->child) < 0) {
		s->child = NULL;
		free(s->cgroup);
		s->cgroup = NULL;
		return false;
	}
	s->pid = s->pgid = r->pid;
	s->start_time = st;
	long long now = zr_now_ns();
	long long since = zr_sup__start_wall_ns(st);
	s->since_ns = since > 0 && since <= now ? since : now;
	uint64_t hr = uv_hrtime();
	uint64_t ran = (uint64_t)(now - s->since_ns);
	s->started_hr = ran < hr ? hr - ran : 0;
	s->adopted = true;
	s->state = ZR_SUP_READY;
	return true;
}

/* The first loop turn after create: hooks may run now that the caller holds the supervisor. */
static void first_turn(struct zr_sup *s)
{
	s->first_turn = true;
	if (s->adopted && s->pid > 0 && s->state == ZR_SUP_READY) {
		log_info("Adopted the server of '%s' (pid %d)", s->name, (int)s->pid);
		zr_sup__event(s, "process.adopted", json_pack("{s:i}", "pid", (int)s->pid));
		persist(s);
		const struct zr_process_def *d = s->def;
		if (d->ready == ZR_READY_TCP || d->ready == ZR_READY_UNIX) {
			struct zr_sup_launch l = {0};
			char *why = NULL;
			if (s->hooks->launch(s->data, &l, &why) == 0) {
				s->ready_reprobe = true;
				free(s->ready_arg);
				s->ready_arg = l.ready_arg;
				l.ready_arg = NULL;
				set_state(s, ZR_SUP_STARTING);
				start_probe(s, s->ready_arg);
			}
			free(why);
			zr_sup_launch_done(&l);
		}
		zr_sup__health(s);
		return;
	}
	if (s->adopted || s->state != ZR_SUP_DOWN) {
		return; /* asked for something already */
	}
	if (s->want == ZR_WANT_ONCE) {
		/* It ran (and ended) while the robot was away. */
		s->want = ZR_WANT_DOWN;
	}
	if (s->want == ZR_WANT_UP) {
		reset_budget(s);
		persist(s);
		begin_start(s);
		return;
	}
	s->failed = false;
	persist(s);
	zr_sup__health(s);
}

static void on_first_turn(uv_timer_t *t)
{
	struct zr_sup *s = t->data;
	if (!s->first_turn && !s->closing) {
		first_turn(s);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct zr_sup *s = h->data;
	if (--s->open_handles > 0) {
		return;
	}
	void (*done)(void *) = s->close_done;
	void *data = s->close_data;
	zr_procstat_done(&s->stats);
	zr_journal_free(&s->empty_log);
	free(s->starts);
	free(s->reason);
	free(s->argv0);
	free(s->fatal);
	free(s->ready_arg);
	free(s->cgroup);
	free(s->name);
	free(s->id);
	free(s->cwd);
	free(s->log_path);
	free(s->notify_path);
	free(s);
	if (done) {
		done(data);
	}
}

int zr_sup_create(const struct zr_sup_config *cfg, const struct zr_sup_persist *restored,
		  struct zr_sup **ret)
{
	struct zr_sup *s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->loop = cfg->loop;
	s->def = cfg->def;
	s->cgroup_base = cfg->cgroup_base;
	s->launcher = cfg->launcher;
	s->log_max = cfg->log_max;
	s->hooks = cfg->hooks;
	s->data = cfg->data;
	s->notify_fd = -1;
	zr_list_init(&s->waiters);
	zr_list_init(&s->exec_tokens);
	s->name = strdup(cfg->name);
	s->id = strdup(cfg->id);
	s->cwd = strdup(cfg->cwd);
	s->log_path = strdup(cfg->log_path);
	s->notify_path = strdup(cfg->notify_path ? cfg->notify_path : "");
	if (!s->name || !s->id || !s->cwd || !s->log_path || !s->notify_path) {
		free(s->name);
		free(s->id);
		free(s->cwd);
		free(s->log_path);
		free(s->notify_path);
		free(s);
		return -ENOMEM;
	}
	uv_timer_t *timers[] = {&s->t_delay, &s->t_stop, &s->t_tree};
	for (size_t i = 0; i < 3; i++) {
		(void)uv_timer_init(s->loop, timers[i]);
		timers[i]->data = s;
	}
	s->open_handles = 3;
	s->delay = s->def->restart_delay;
	s->state = ZR_SUP_DOWN;
	s->want = restored ? restored->want : ZR_WANT_DOWN;
	s->failed = restored && restored->failed;
	/* What the last run stored is what the store holds: no need to store it again. */
	if (restored) {
		s->persisted = true;
		s->p_want = restored->want;
		s->p_pid = restored->pid;
		s->p_failed = restored->failed;
	}
	ensure_outlog(s);
	if (restored && restored->pid > 0 && !adopt(s, restored)) {
		/* Gone, or the pid is someone else's now: only what is left in its cgroup, or
		 * carries its marker, is ours to kill (never the pid or its group). */
		if (restored->cgroup) {
			s->cgroup = strdup(restored->cgroup);
		}
		zr_sup__kill_tree(s);
		if (!zr_sup__tree_gone(s)) {
			wait_tree(s, ZR_THEN_CLEANUP);
		} else {
			tree_done(s);
		}
	}
	(void)uv_timer_start(&s->t_delay, on_first_turn, 0, 0);
	*ret = s;
	return 0;
}

/* Closing. */

void zr_sup_close(struct zr_sup *s, bool stop, void (*done)(void *data), void *data)
{
	if (s->closing) {
		return;
	}
	s->closing = true;
	s->close_done = done;
	s->close_data = data;
	s->start_after_stop = false;
	finish_waiters(s, false, -ECANCELED, "closed\n");
	if (stop && (s->pid > 0 || s->spawning || s->then != ZR_THEN_NONE)) {
		stop_internal(s);
		return;
	}
	close_continue(s);
}

/* Runs once the server is down (a stopping close) or at once: lets go of the process and
 * closes the handles. A spawn in flight is waited for (its callback stops what it made). */
static void close_continue(struct zr_sup *s)
{
	if (s->spawning || s->open_handles == 0 || uv_is_closing((uv_handle_t *)&s->t_tree)) {
		return;
	}
	cancel_probe(s);
	free_exec_tokens(s);
	if (s->child) {
		zr_child_close(s->child);
		s->child = NULL;
	}
	if (s->outlog) {
		zr_outlog_close(s->outlog);
		s->outlog = NULL;
	}
	finish_waiters(s, false, -ECANCELED, "closed\n");
	finish_waiters(s, true, -ECANCELED, "closed\n");
	uv_close((uv_handle_t *)&s->t_delay, on_handle_closed);
	uv_close((uv_handle_t *)&s->t_stop, on_handle_closed);
	uv_close((uv_handle_t *)&s->t_tree, on_handle_closed);
}
