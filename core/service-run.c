/* Services: running their tasks: the queue, a job slot, the action process and its protocol
 * (stdin, environment, stdout, stderr, fd 3), retries and the end of a task. */
#include "service.h"

#include <ctype.h>
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "service-internal.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "runner.h"
#include "util/buf.h"

/* Error texts quote this many of the last stderr lines. */
#define ERROR_TAIL_LINES 5

extern char **environ;

static void on_retry(uv_timer_t *timer);

static void svc_log(struct zr_service *s, const struct zr_task *t, const char *text, size_t n)
{
	char ts[40];
	(void)zr_journal_appendf(&s->log, "%s task %llu %s: %.*s", zr_time_format(zr_now_ns(), ts),
				 (unsigned long long)t->id, t->action->name, (int)n, text);
}

/* The task as a store row; strings borrowed from the task. */
static void task_row(const struct zr_task *t, struct zr_store_task *row, char *args)
{
	*row = (struct zr_store_task){
		.id = (int64_t)t->id,
		.service_guid = t->svc->guid,
		.action = t->action->name,
		.args = args,
		.state = zr_task_state_name(t->state),
		.error = t->error,
		.result = t->result.data,
		.result_len = t->result.len,
		.lane = t->qitem.lane,
		.err = t->err,
		.attempt = t->attempt,
		.created_ns = t->created_ns,
		.started_ns = t->started_ns,
		.finished_ns = t->finished_ns,
		.progress_done = t->progress_done,
		.progress_total = t->progress_total,
	};
}

/* Queues the task's row; -ENOMEM when it could not be. */
int zr_service__store_task(const struct zr_task *t, bool internal)
{
	_cleanup_free_ char *args = json_dumps(t->args, JSON_COMPACT);
	struct zr_store_task row;
	if (!args) {
		return -ENOMEM;
	}
	task_row(t, &row, args);
	return zr_store_task_put(t->svc->robot->cfg.store, &row, internal);
}

/* The robot's own change could not be queued (out of memory): the store keeps the old value
 * until the next change of the same row. */
void zr_service__store_failed(const struct zr_service *s, const char *what, int err)
{
	if (err < 0) {
		log_error("Service %s: %s is not recorded in the store: %s, ignoring", s->path, what,
			  strerror(-err));
	}
}

/* An enqueue waiting for its commit. */
struct enqueue {
	struct zr_task *t;
	zr_task_cb cb;
	void *data;
};

/* Makes a committed task part of the service: queued and scheduled. */
static void task_queued(struct zr_service *s, struct zr_task *t)
{
	zr_list_push_back(&s->tasks, &t->link);
	s->tasks_mtime_ns = t->created_ns;
	zr_service__event(s, "task.queued",
			  json_pack("{sI ss}", "task", (json_int_t)t->id, "action", t->action->name));
	if (!s->current) {
		zr_robot__want_slot(s->robot, s);
	}
}

static void on_enqueued(int err, void *data)
{
	struct enqueue *q = data;
	struct zr_task *t = q->t;
	struct zr_service *s = t->svc;
	s->pending_tasks--;
	if (err < 0) {
		zr_queue_remove(&s->queue, &t->qitem);
		(void)zr_imap_del(&s->task_ids, t->id);
		zr_task_free(t);
		t = NULL;
	} else {
		t->pending = false;
		task_queued(s, t);
		if (s->deleting && t->qitem.lane == ZR_LANE_USER) {
			zr_service__finish(s, t, ZR_TASK_CANCELLED, strdup("cancelled: service deleted\n"),
				       ECANCELED);
		}
	}
	if (q->cb) {
		q->cb(err, t, q->data);
	}
	free(q);
	zr_service_unref(s);
}

int zr_service_enqueue(struct zr_service *s, const struct zr_action_def *action, json_t *args,
		       enum zr_lane lane, char **ret_err, zr_task_cb cb, void *data)
{
	return zr_service__enqueue(s, action, args, lane, 0, ret_err, cb, data);
}

int zr_service__enqueue(struct zr_service *s, const struct zr_action_def *action, json_t *args,
			enum zr_lane lane, unsigned schema_flags, char **ret_err, zr_task_cb cb,
			void *data)
{
	struct zr_robot *r = s->robot;
	json_t *valid = NULL;
	int err;
	if (!args && !(args = json_object())) {
		return -ENOMEM;
	}
	if (r->stopping) {
		json_decref(args);
		(void)asprintf(ret_err, "the robot is stopping");
		return -EAGAIN;
	}
	if (s->template->missing) {
		json_decref(args);
		(void)asprintf(ret_err, "template %s is missing", s->template->uid);
		return -EINVAL;
	}
	if (lane == ZR_LANE_USER) {
		if (s->deleting) {
			json_decref(args);
			return -ENOENT;
		}
		_cleanup_free_ char *missing = zr_schema_missing(s->template->data, s->data);
		if (missing) {
			json_decref(args);
			(void)asprintf(ret_err, "missing required data: %s", missing);
			return -EINVAL;
		}
	}
	err = zr_schema_apply(action->args, args, schema_flags, &valid, ret_err);
	json_decref(args);
	if (err < 0) {
		return err;
	}
	struct enqueue *q = calloc(1, sizeof(*q));
	struct zr_task *t = zr_task_create(s, r->next_task_id + 1, action, valid);
	if (!q || !t || zr_imap_put(&s->task_ids, t->id, t) < 0) {
		free(q);
		zr_task_free(t);
		return -ENOMEM;
	}
	/* In the queue at once, so the bound counts tasks waiting for their commit, but not
	 * visible (not in s->tasks) and not runnable before it. */
	err = zr_queue_push(&s->queue, &t->qitem, lane);
	if (err < 0) {
		(void)asprintf(ret_err, "queue full (%zu tasks)", s->queue.cap);
	} else {
		/* The id first: alone (the task's row refused) it only keeps the id unused. */
		err = zr_store_task_id(r->cfg.store, (int64_t)t->id);
		err = err < 0 ? err : zr_service__store_task(t, false);
		if (err < 0) {
			zr_queue_remove(&s->queue, &t->qitem);
		}
	}
	if (err < 0) {
		(void)zr_imap_del(&s->task_ids, t->id);
		zr_task_free(t);
		free(q);
		return err;
	}
	t->pending = true;
	r->next_task_id++;
	s->pending_tasks++;
	q->t = t;
	q->cb = cb;
	q->data = data;
	zr_service_ref(s);
	zr_store_sync(r->cfg.store, on_enqueued, q);
	return 0;
}

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
	(void)zr_journal_append(&a->t->log, line, n);
	svc_log(a->t->svc, a->t, line, n);
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
	log_warn("Task %llu (%s %s): ignoring fd 3 line '%s': %s", (unsigned long long)id, s->path,
		 action, line, why ? why : "out of memory");
	if (t) {
		(void)zr_journal_appendf(&t->log, "zrobot: ignored fd 3 line '%s': %s", line, why ? why : "");
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
	_cleanup_free_ char *why = NULL;
	if (!l) {
		return;
	}
	char cat[128], tag[128], val[32];
	long long done, total;
	char extra;
	if (strncmp(l, "state ", 6) == 0) {
		if (sscanf(l + 6, "%127s %127s %31s %c", cat, tag, val, &extra) == 3 &&
		    zr_service_set_state(s, cat, tag, val) == 0) {
			return;
		}
		why = strdup("want 'state CATEGORY TAG ok|error|warning|skipped'");
	} else if (strncmp(l, "data ", 5) == 0) {
		json_error_t jerr;
		_cleanup_json_ json_t *patch = json_loads(l + 5, 0, &jerr);
		_cleanup_json_ json_t *merged = json_deep_copy(s->data);
		struct ctl_data *cd = NULL;
		if (!patch || !json_is_object(patch)) {
			why = strdup("want 'data {JSON object}'");
		} else if (merged && json_object_update(merged, patch) == 0 &&
			   (cd = calloc(1, sizeof(*cd)))) {
			*cd = (struct ctl_data){.s = s, .task = t->id, .action = t->action->name,
						.line = TAKE_PTR(l)};
			zr_service_ref(s);
			zr_service__request_data(s, merged, true, on_ctl_data, cd);
			return;
		}
	} else if (strncmp(l, "progress ", 9) == 0) {
		if (sscanf(l + 9, "%lld %lld %c", &done, &total, &extra) == 2 && done >= 0 &&
		    total >= 0) {
			t->progress_done = done;
			t->progress_total = total;
			return;
		}
		why = strdup("want 'progress DONE TOTAL'");
	} else {
		why = strdup("unknown command");
	}
	ctl_ignored(s, t->id, t->action->name, l, why);
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

static void start_attempt(struct zr_service *s, struct zr_task *t);

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

	bool retryable = state == ZR_TASK_ERROR || state == ZR_TASK_TIMEOUT;
	if (retryable && t->attempt < t->action->retry.tries) {
		double delay = t->action->retry.delay * pow(t->action->retry.backoff, t->attempt - 1);
		size_t el = strcspn(error, "\n");
		(void)zr_journal_appendf(&t->log, "zrobot: attempt %d of %d failed (%.*s), retrying in %gs",
					 t->attempt, t->action->retry.tries, (int)el, error, delay);
		svc_log(s, t, "retrying", 8);
		free(error);
		zr_buf_reset(&t->result);
		t->attempt++;
		t->timed_out = false;
		/* The slot goes back while we wait: a backoff must not starve other services. */
		zr_robot__release_slot(r, s);
		(void)uv_timer_start(&s->retry_timer, on_retry, (uint64_t)(delay * 1000), 0);
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

static char *env_name(const char *prefix, const char *key)
{
	char *e = NULL;
	if (asprintf(&e, "%s%s", prefix, key) < 0) {
		return NULL;
	}
	for (char *c = e + strlen(prefix); *c; c++) {
		*c = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
	}
	return e;
}

static int env_add_json(char ***env, size_t *n, const char *prefix, const json_t *obj)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		_cleanup_free_ char *name = env_name(prefix, key);
		_cleanup_free_ char *text = json_is_string(v) ? strdup(json_string_value(v))
							      : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		char *kv = NULL;
		if (!name || !text || asprintf(&kv, "%s=%s", name, text) < 0) {
			return -ENOMEM;
		}
		(*env)[(*n)++] = kv;
	}
	return 0;
}

/* The robot's environment plus the action protocol's variables (DESIGN §4). */
static char **build_env(const struct zr_service *s, const struct zr_task *t)
{
	size_t base = 0;
	while (environ[base]) {
		base++;
	}
	size_t cap = base + 6 + json_object_size(s->data) + json_object_size(t->args) + 1;
	char **env = calloc(cap, sizeof(*env));
	size_t n = 0;
	if (!env) {
		return NULL;
	}
	for (size_t i = 0; i < base; i++) {
		/* Our own variables must not leak in from a robot started by an action. */
		if (strncmp(environ[i], "ZR_", 3) == 0 || strncmp(environ[i], "DATA_", 5) == 0 ||
		    strncmp(environ[i], "ARG_", 4) == 0) {
			continue;
		}
		if (!(env[n++] = strdup(environ[i]))) {
			goto fail;
		}
	}
	const struct zr_robot *r = s->robot;
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

static void start_attempt(struct zr_service *s, struct zr_task *t)
{
	struct zr_robot *r = s->robot;
	static const struct zr_runner_events ev = {
		.stderr_line = on_stderr_line,
		.ctl_line = on_ctl_line,
		.stdout_data = on_stdout,
		.exited = on_exited,
	};
	struct attempt *a = calloc(1, sizeof(*a));
	_cleanup_json_ json_t *in = json_pack("{ss ss ss sI sO sO}", "service", s->path, "template",
					      s->template->name, "action", t->action->name, "task",
					      (json_int_t)t->id, "data", s->data, "args", t->args);
	_cleanup_free_ char *input = in ? json_dumps(in, JSON_COMPACT) : NULL;
	char **env = build_env(s, t);
	int err = -ENOMEM;
	if (a && input && env) {
		a->t = t;
		struct zr_runner_config cfg = {
			.path = t->action->path,
			.cwd = s->workdir,
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
		(void)zr_journal_appendf(&t->log, "zrobot: attempt %d started, pid %d", t->attempt,
					 zr_runner_pid(t->runner));
		return;
	}
	free(a);
	char *error = NULL;
	(void)asprintf(&error, "cannot start %s: %s\n", t->action->path, strerror(-err));
	log_error("Task %llu (%s %s): %s", (unsigned long long)t->id, s->path, t->action->name,
		  error ? error : "cannot start");
	zr_service__finish(s, t, ZR_TASK_ERROR, error, EIO);
}

void zr_service__run_next(struct zr_service *s)
{
	struct zr_task *t = s->current;
	if (!t) {
		/* A task waiting for its commit is not runnable yet; its commit asks again. Tasks
		 * of a missing template wait for an upgrade. */
		struct zr_queue_item *it = zr_queue_peek(&s->queue);
		if (!it || container_of(it, struct zr_task, qitem)->pending || s->template->missing) {
			zr_robot__release_slot(s->robot, s);
			return;
		}
		(void)zr_queue_pop(&s->queue);
		t = container_of(it, struct zr_task, qitem);
		s->current = t;
		t->state = ZR_TASK_RUNNING;
		t->started_ns = zr_now_ns();
		t->attempt = 1;
		s->tasks_mtime_ns = t->started_ns;
		for (size_t i = 0; i < s->n_recur; i++) {
			if (s->recur[i].action == t->action) {
				s->recur[i].last_start_ns = t->started_ns;
			}
		}
		zr_service__store_failed(s, "a task's start", zr_service__store_task(t, true));
		zr_service__event(s, "task.started", json_pack("{sI ss}", "task", (json_int_t)t->id,
								 "action", t->action->name));
	}
	start_attempt(s, t);
}

/* Drops the oldest finished tasks beyond the history bound. */
static void trim_history(struct zr_service *s)
{
	struct zr_task *t, *tmp;
	zr_list_for_each_safe(t, tmp, &s->tasks, link) {
		if (s->n_finished <= (size_t)s->robot->cfg.history) {
			break;
		}
		if (!zr_task_ended(t)) {
			continue;
		}
		s->n_finished--;
		(void)zr_imap_del(&s->task_ids, t->id);
		zr_service__store_failed(s, "a trimmed task", zr_store_task_delete(s->robot->cfg.store, (int64_t)t->id));
		if (s->robot->hooks.task_removed) {
			s->robot->hooks.task_removed(t, s->robot->hooks.data);
		}
		zr_task_free(t);
	}
}

struct settle {
	struct zr_service *s;
	uint64_t id;
};

static void on_settled(int err, void *data)
{
	struct settle *st = data;
	struct zr_task *t = zr_service_task(st->s, st->id);
	if (err < 0) {
		/* The store retries the change in the background; the reader is not held hostage
		 * to a full disk. */
		log_warn("Task %llu of %s: its end is not on disk yet (%s)", (unsigned long long)st->id,
			 st->s->path, strerror(-err));
	}
	if (t) {
		t->settled = true;
		zr_waitq_wake_all(&t->done);
	}
	zr_service_unref(st->s);
	free(st);
}

void zr_service__trim(struct zr_service *s)
{
	trim_history(s);
}

/* Ends a task: takes ownership of error. The task is current (running or waiting to retry)
 * or queued. */
void zr_service__finish(struct zr_service *s, struct zr_task *t, enum zr_task_state state,
			   char *error, int err)
{
	struct zr_robot *r = s->robot;
	t->state = state;
	t->error = error;
	t->err = err;
	t->finished_ns = zr_now_ns();
	s->tasks_mtime_ns = t->finished_ns;
	zr_metrics_task_ended(&r->metrics, t);
	zr_queue_remove(&s->queue, &t->qitem);
	if (s->current == t) {
		s->current = NULL;
		(void)uv_timer_stop(&s->retry_timer);
		zr_robot__release_slot(r, s);
	}
	const char *value = state == ZR_TASK_OK ? "ok" : state == ZR_TASK_CANCELLED ? "skipped" : "error";
	(void)zr_service_set_state(s, "actions", t->action->name, value);
	if (state == ZR_TASK_OK) {
		svc_log(s, t, "ok", 2);
	} else {
		_cleanup_free_ char *msg = NULL;
		size_t el = error ? strcspn(error, "\n") : 0;
		if (asprintf(&msg, "%s: %.*s", zr_task_state_name(state), (int)el, error ? error : "") >= 0) {
			svc_log(s, t, msg, strlen(msg));
		}
		if (s->deleting && t->qitem.lane == ZR_LANE_SYSTEM) {
			log_warn("Service %s: on_delete action %s (task %llu) ended %.*s, deleting anyway",
				 s->path, t->action->name, (unsigned long long)t->id, (int)el, error ? error : "");
		} else {
			log_info("Task %llu (%s %s) ended %s: %.*s", (unsigned long long)t->id, s->path,
				 t->action->name, zr_task_state_name(state), (int)el, error ? error : "");
		}
	}
	zr_service__event(s, "task.finished", json_pack("{sI ss ss}", "task", (json_int_t)t->id, "action",
							  t->action->name, "state", zr_task_state_name(state)));
	/* The task log ends now; result readers are answered once the end is on disk. */
	zr_waitq_wake_all(&t->log.waitq);
	zr_service__store_failed(s, "a task's end", zr_service__store_task(t, true));
	struct settle *st = malloc(sizeof(*st));
	if (st) {
		*st = (struct settle){.s = s, .id = t->id};
		zr_service_ref(s);
		zr_store_sync(r->cfg.store, on_settled, st);
	} else {
		t->settled = true;
		zr_waitq_wake_all(&t->done);
	}
	s->n_finished++;
	for (size_t i = 0; i < s->n_recur; i++) {
		if (s->recur[i].action == t->action) {
			zr_service__recur_arm(&s->recur[i]);
		}
	}
	trim_history(s);
	if (!s->current && s->upgrade_to) {
		zr_service__switch(s);
	}
	if (!s->current && zr_queue_peek(&s->queue)) {
		zr_robot__want_slot(r, s);
	} else if (s->deleting && zr_service__idle(s)) {
		zr_robot__service_idle(r, s);
	}
}

int zr_service_cancel(struct zr_service *s, struct zr_task *t)
{
	if (zr_task_ended(t)) {
		return -EINVAL;
	}
	if (t->runner) {
		t->cancel_requested = true;
		zr_runner_kill(t->runner);
		return 0;
	}
	zr_service__finish(s, t, ZR_TASK_CANCELLED, strdup("cancelled\n"), ECANCELED);
	return 0;
}

void zr_service__kill(struct zr_service *s)
{
	for (size_t i = 0; i < s->n_recur; i++) {
		(void)uv_timer_stop(&s->recur[i].timer);
	}
	if (!s->current) {
		return;
	}
	if (s->current->runner) {
		zr_runner_kill(s->current->runner);
	} else {
		zr_service__finish(s, s->current, ZR_TASK_INTERRUPTED, strdup("interrupted\n"), EIO);
	}
}
