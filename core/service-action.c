/* Services: one attempt of a task: the action process, its stdin and environment, the
 * protocol on its pipes (stdout result, stderr log, fd-3 control lines), and its exit. */
#include "service.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-line.h"
#include "env.h"
#include "robot.h"
#include "runner.h"
#include "service-internal.h"
#include "task.h"
#include "template.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/log.h"

/* Error texts quote this many of the last stderr lines. */
#define ERROR_TAIL_LINES 5

static void on_retry(uv_timer_t *timer);

/* Keeps only the last ERROR_TAIL_LINES lines of stderr for the error text. */
static void keep_tail(struct zr_buf *b, const char *line, size_t n)
{
	(void)zr_buf_append(b, line, n);
	(void)zr_buf_append(b, "\n", 1);
	size_t lines = 0;
	for (size_t i = b->len; i > 0; i--) {
		if (b->data[i - 1] == '\n' && ++lines > ERROR_TAIL_LINES) {
			zr_buf_consume(b, i);
			break;
		}
	}
}

/* Per-attempt state the runner callbacks need. */
struct attempt {
	struct zr_task *t;
	struct zr_buf tail;
	bool truncated;
};

static void on_stderr_line(const char *line, size_t n, void *data)
{
	struct attempt *a = data;
	(void)zr_journal_append(zr_task_log_make(a->t), line, n);
	zr_service__log(a->t->svc, a->t, line, n);
	keep_tail(&a->tail, line, n);
}

static void on_stdout(const char *p, size_t n, void *data)
{
	struct attempt *a = data;
	struct zr_task *t = a->t;
	size_t max = t->svc->robot->cfg.result_max;
	if (t->result.len + n > max) {
		if (!a->truncated) {
			a->truncated = true;
			log_warn("Task %llu (%s %s): result cut at %zu bytes", (unsigned long long)t->id,
				 t->svc->path, t->action->name, max);
		}
		n = max > t->result.len ? max - t->result.len : 0;
	}
	(void)zr_buf_append(&t->result, p, n);
}

/* Says why line from task id's fd 3 is ignored: in the log, and in the task's log while the
 * task is kept. */
static void ctl_ignored(struct zr_service *s, uint64_t id, const char *action, const char *line,
			const char *why)
{
	struct zr_task *t = zr_service_task(s, id);
	/* A data line may hold secret fields: only its length is told. */
	_cleanup_free_ char *data = NULL;
	if (strncmp(line, "data ", 5) == 0) {
		if (asprintf(&data, "data ... (%zu bytes)", strlen(line) - 5) < 0) {
			data = NULL;
		}
		line = data ? data : "data ...";
	}
	/* The task's log is read in terminals too: what the action wrote is quoted escaped, as
	 * in the robot's log (util/log.h), and so is a reason that names a field of its data. */
	_cleanup_free_ char *shown = zr_log_escape(line);
	_cleanup_free_ char *shown_why = why ? zr_log_escape(why) : NULL;
	line = shown ? shown : "...";
	why = shown_why ? shown_why : why ? "..." : NULL;
	log_warn("Task %llu (%s %s): ignoring fd 3 line '%s': %s", (unsigned long long)id, s->path,
		 action, line, why ? why : "out of memory");
	if (t) {
		(void)zr_journal_appendf(zr_task_log_make(t), "zrobot: ignored fd 3 line '%s': %s", line,
					 why ? why : "");
	}
}

/* A "data" line on its way through the same checks as any request; its answer may come after
 * the task ended (a producer on another robot was looked up). */
struct ctl_data {
	struct zr_service *s; /* a reference */
	uint64_t task;
	const char *action;   /* borrowed from a template: they stay while the robot runs */
	char *line;
};

static void on_ctl_data(int err, const char *why, void *data)
{
	struct ctl_data *cd = data;
	if (err < 0) {
		ctl_ignored(cd->s, cd->task, cd->action, cd->line, why);
	}
	zr_service_unref(cd->s);
	free(cd->line);
	free(cd);
}

/* A line on fd 3: "state CAT TAG VALUE", "data {json}" or "progress DONE TOTAL". */
static void on_ctl_line(const char *line, size_t n, void *data)
{
	struct attempt *a = data;
	struct zr_task *t = a->t;
	struct zr_service *s = t->svc;
	_cleanup_free_ char *l = strndup(line, n);
	struct zr_ctl_line c = {0};
	const char *why = NULL;
	if (!l) {
		return;
	}
	int r = zr_ctl_line_parse(l, &c, &why);
	if (r == 0 && c.kind == ZR_CTL_STATE && s->template->proc &&
	    zr_ctl_process_category(c.category)) {
		r = -EINVAL;
		why = "the category 'process' is the robot's where the template has a process";
	} else if (r == 0 && c.kind == ZR_CTL_STATE) {
		r = zr_service_set_state(s, c.category, c.tag, c.value);
		if (r == -EDQUOT) {
			why = "the service holds 10,000 lines of state already";
		} else if (r < 0) {
			r = -EINVAL;
			why = "want 'state CATEGORY TAG ok|error|warning|skipped'";
		}
	} else if (r == 0 && c.kind == ZR_CTL_DATA) {
		_cleanup_json_ json_t *merged = json_deep_copy(s->data);
		struct ctl_data *cd = NULL;
		if (merged && json_object_update(merged, c.data) == 0 &&
		    (cd = calloc(1, sizeof(*cd)))) {
			*cd = (struct ctl_data){.s = s, .task = t->id, .action = t->action->name,
						.line = TAKE_PTR(l)};
			zr_service_ref(s);
			zr_service__request_data(s, NULL, merged, true, on_ctl_data, cd);
		} else {
			r = -ENOMEM;
		}
	} else if (r == 0) {
		t->progress_done = c.done;
		t->progress_total = c.total;
	}
	zr_ctl_line_done(&c);
	if (r < 0) {
		ctl_ignored(s, t->id, t->action->name, l, r == -ENOMEM ? NULL : why);
	}
}

static char *signal_text(int sig)
{
	char *s = NULL;
	const char *abbrev = sigabbrev_np(sig);
	if (asprintf(&s, "killed by signal %d%s%s\n", sig, abbrev ? " SIG" : "", abbrev ? abbrev : "") < 0) {
		return NULL;
	}
	return s;
}

static void on_exited(int64_t status, int sig, bool timed_out, void *data)
{
	struct attempt *a = data;
	struct zr_task *t = a->t;
	struct zr_service *s = t->svc;
	struct zr_robot *r = s->robot;
	char *error = NULL;
	enum zr_task_state state = ZR_TASK_OK;
	int err = 0;

	t->runner = NULL;
	r->running_processes--;
	if (t->cancel_requested) {
		state = ZR_TASK_CANCELLED;
		error = strdup("cancelled\n");
		err = ECANCELED;
	} else if (r->stopping) {
		state = ZR_TASK_INTERRUPTED;
		error = strdup("interrupted\n");
		err = EIO;
	} else if (timed_out) {
		state = ZR_TASK_TIMEOUT;
		(void)asprintf(&error, "timeout after %gs\n", t->action->timeout);
		err = ETIMEDOUT;
	} else if (sig != 0) {
		state = ZR_TASK_ERROR;
		error = signal_text(sig);
		err = EIO;
	} else if (status != 0) {
		state = ZR_TASK_ERROR;
		(void)asprintf(&error, "exit status %lld\n%s", (long long)status,
			       a->tail.data ? a->tail.data : "");
		err = EIO;
	}
	zr_buf_done(&a->tail);
	free(a);
	if (state != ZR_TASK_OK && !error) {
		error = strdup("failed\n");
	}

	/* A template's own start or stop script went well: the supervisor's step follows, and
	 * ends the task. */
	if (state == ZR_TASK_OK && t->action->builtin != ZR_BUILTIN_NONE) {
		zr_service__process_builtin(s, t);
		zr_robot__process_ended(r);
		return;
	}
	bool retryable = state == ZR_TASK_ERROR || state == ZR_TASK_TIMEOUT;
	if (retryable && t->attempt < t->action->retry.tries && zr_service__retry_timer(s)) {
		double delay = t->action->retry.delay * pow(t->action->retry.backoff, t->attempt - 1);
		size_t el = strcspn(error, "\n");
		(void)zr_journal_appendf(zr_task_log_make(t),
					 "zrobot: attempt %d of %d failed (%.*s), retrying in %gs",
					 t->attempt, t->action->retry.tries, (int)el, error, delay);
		zr_service__log(s, t, "retrying", 8);
		free(error);
		zr_buf_reset(&t->result);
		t->attempt++;
		t->timed_out = false;
		/* The slot goes back while we wait: a backoff must not starve other services. */
		zr_robot__release_slot(r, s);
		(void)uv_timer_start(s->retry_timer, on_retry, (uint64_t)(delay * 1000), 0);
		zr_robot__process_ended(r);
		return;
	}
	zr_service__finish(s, t, state, error, err);
	zr_robot__process_ended(r);
}

static void on_retry(uv_timer_t *timer)
{
	struct zr_service *s = timer->data;
	zr_robot__want_slot(s->robot, s);
}

static int env_add_json(char ***env, size_t *n, const char *prefix, const json_t *obj)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		char *kv = zr_env_var(prefix, key, v);
		if (!kv) {
			return -ENOMEM;
		}
		(*env)[(*n)++] = kv;
	}
	return 0;
}

/* A clean environment (core/env.h) plus the action protocol's variables (DESIGN §4). */
static char **build_env(const struct zr_service *s, const struct zr_task *t)
{
	const struct zr_robot *r = s->robot;
	size_t n = 0, cap;
	size_t extra = 5 + json_object_size(s->data) + json_object_size(t->args);
	const json_t *m = s->template->manifest;
	char **env = zr_env_build(r->cfg.pass_env, r->cfg.n_pass_env, zr_env_values(m, NULL),
				  zr_env_values(m, t->action->name), extra, &n);
	if (!env) {
		return NULL;
	}
	cap = n + extra + 1;
	if (asprintf(&env[n++], "ZR_ROOT=%s", r->cfg.mount) < 0 ||
	    asprintf(&env[n++], "ZR_SERVICE=%s", s->path) < 0 ||
	    asprintf(&env[n++], "ZR_SERVICE_DIR=%s/%s", r->cfg.mount, s->path) < 0 ||
	    asprintf(&env[n++], "ZR_TASK=%llu", (unsigned long long)t->id) < 0 ||
	    asprintf(&env[n++], "ZR_ACTION=%s", t->action->name) < 0) {
		env[--n] = NULL;
		goto fail;
	}
	if (env_add_json(&env, &n, "DATA_", s->data) < 0 || env_add_json(&env, &n, "ARG_", t->args) < 0) {
		goto fail;
	}
	return env;
fail:
	for (size_t i = 0; i < cap; i++) {
		free(env[i]);
	}
	free(env);
	return NULL;
}

static void free_env(char **env)
{
	for (char **e = env; e && *e; e++) {
		free(*e);
	}
	free(env);
}

static void start_failed(struct zr_service *s, struct zr_task *t, int err)
{
	char *error = NULL;
	(void)asprintf(&error, "cannot start %s: %s\n", t->action->path, strerror(-err));
	log_error("Task %llu (%s %s): %s", (unsigned long long)t->id, s->path, t->action->name,
		  error ? error : "cannot start");
	zr_service__finish(s, t, ZR_TASK_ERROR, error, EIO);
}

static void on_started(int pid, void *data)
{
	struct attempt *a = data;
	(void)zr_journal_appendf(zr_task_log_make(a->t), "zrobot: attempt %d started, pid %d",
				 a->t->attempt, pid);
}

/* The spawn, off the loop, found the executable missing or not executable. */
static void on_start_failed(int err, void *data)
{
	struct attempt *a = data;
	struct zr_task *t = a->t;
	struct zr_robot *r = t->svc->robot;
	t->runner = NULL;
	r->running_processes--;
	zr_buf_done(&a->tail);
	free(a);
	start_failed(t->svc, t, err);
	zr_robot__process_ended(r);
}

void zr_service__start_attempt(struct zr_service *s, struct zr_task *t)
{
	struct zr_robot *r = s->robot;
	static const struct zr_runner_events ev = {
		.stderr_line = on_stderr_line,
		.ctl_line = on_ctl_line,
		.stdout_data = on_stdout,
		.started = on_started,
		.failed = on_start_failed,
		.exited = on_exited,
	};
	if (t->action->builtin != ZR_BUILTIN_NONE && !t->action->path) {
		zr_service__process_builtin(s, t);
		return;
	}
	struct attempt *a = calloc(1, sizeof(*a));
	_cleanup_json_ json_t *in = json_pack("{ss ss ss sI sO sO}", "service", s->path, "template",
					      s->template->name, "action", t->action->name, "task",
					      (json_int_t)t->id, "data", s->data, "args", t->args);
	_cleanup_free_ char *input = in ? json_dumps(in, JSON_COMPACT) : NULL;
	char **env = build_env(s, t);
	_cleanup_free_ char *why = NULL, *cwd = zr_service__workdir(s);
	int err = -ENOMEM;
	if (a && input && env && cwd && (err = zr_service__workdir_make(s, &why)) < 0) {
		log_error("Service %s: %s", s->path, why ? why : strerror(-err));
	} else if (a && input && env && cwd) {
		a->t = t;
		struct zr_runner_config cfg = {
			.path = t->action->path,
			.cwd = cwd,
			.env = env,
			.input = input,
			.timeout = t->action->timeout,
			.grace = r->cfg.kill_grace,
		};
		err = zr_runner_start(r->loop, &cfg, &ev, a, &t->runner);
	}
	free_env(env);
	if (err == 0) {
		r->running_processes++;
		return;
	}
	free(a);
	start_failed(s, t, err);
}
