/* Services: running their tasks: the queue, a job slot, the end of a task (its state, its
 * record, its readers), cancelling and history. One attempt's process is service-action.c. */
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "runner.h"
#include "service-internal.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"

void zr_service__log(struct zr_service *s, const struct zr_task *t, const char *text, size_t n)
{
	char ts[40];
	(void)zr_journal_appendf(zr_service__log_make(s), "%s task %llu %s: %.*s", zr_time_format(zr_now_ns(), ts),
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

/* Makes a committed task part of the service: queued (on_enqueued schedules it). */
static void task_queued(struct zr_service *s, struct zr_task *t)
{
	zr_list_push_back(&s->tasks, &t->link);
	s->tasks_mtime_ns = t->created_ns;
	zr_service__event(s, "task.queued",
			  json_pack("{sI ss}", "task", (json_int_t)t->id, "action", t->action->name));
}

static void on_enqueued(int err, void *data)
{
	struct enqueue *q = data;
	struct zr_task *t = q->t;
	struct zr_service *s = t->svc;
	s->pending_tasks--;
	if (err < 0) {
		if (t->qitem.lane == ZR_LANE_USER) {
			(void)zr_quota_tasks(&s->robot->quota, s->creator, -1);
		}
		zr_queue_remove(&s->queue, &t->qitem);
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
	/* Only after the writer has its answer: starting the task is not part of the write. */
	if (err == 0 && !s->current && zr_queue_peek(&s->queue)) {
		zr_robot__want_slot(s->robot, s);
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
	if (!q || !t) {
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
		zr_task_free(t);
		free(q);
		return err;
	}
	t->pending = true;
	/* User-lane tasks count against the service's creator until they end (quota.h). */
	if (lane == ZR_LANE_USER) {
		(void)zr_quota_tasks(&r->quota, s->creator, 1);
	}
	r->next_task_id++;
	s->pending_tasks++;
	q->t = t;
	q->cb = cb;
	q->data = data;
	zr_service_ref(s);
	zr_store_sync(r->cfg.store, on_enqueued, q);
	return 0;
}

void zr_service__run_next(struct zr_service *s)
{
	struct zr_task *t = s->current;
	if (!t) {
		/* A task waiting for its commit is not runnable yet; its commit asks again. Tasks
		 * of a missing template wait for an upgrade. */
		struct zr_queue_item *it = zr_queue_peek(&s->queue);
		/* A deleted service's on_delete actions wait until its server is gone; the end of
		 * the stop asks for a slot again (robot.c). */
		if (!it || container_of(it, struct zr_task, qitem)->pending || s->template->missing ||
		    zr_service__process_stopping(s)) {
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
	zr_service__start_attempt(s, t);
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
	if (t->qitem.lane == ZR_LANE_USER && !zr_task_ended(t)) {
		(void)zr_quota_tasks(&r->quota, s->creator, -1);
	}
	t->state = state;
	t->error = error;
	t->err = err;
	t->finished_ns = zr_now_ns();
	s->tasks_mtime_ns = t->finished_ns;
	zr_metrics_task_ended(&r->metrics, t);
	zr_queue_remove(&s->queue, &t->qitem);
	if (s->current == t) {
		s->current = NULL;
		if (s->retry_timer) {
			(void)uv_timer_stop(s->retry_timer);
		}
		zr_robot__release_slot(r, s);
	}
	const char *value = state == ZR_TASK_OK ? "ok" : state == ZR_TASK_CANCELLED ? "skipped" : "error";
	(void)zr_service_set_state(s, "actions", t->action->name, value);
	if (state == ZR_TASK_OK) {
		zr_service__log(s, t, "ok", 2);
	} else {
		_cleanup_free_ char *msg = NULL;
		size_t el = error ? strcspn(error, "\n") : 0;
		if (asprintf(&msg, "%s: %.*s", zr_task_state_name(state), (int)el, error ? error : "") >= 0) {
			zr_service__log(s, t, msg, strlen(msg));
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
	if (t->log) {
		zr_waitq_wake_all(&t->log->waitq);
	}
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

