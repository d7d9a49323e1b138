/* Tasks: the record of one action run, what its readers wait for. */
#include "task.h"

#include <stdlib.h>
#include <string.h>

#include "util/log.h"

/* A task's own log is small; the service log keeps the long history. */
#define TASK_LOG_MAX (256 * 1024)

struct zr_task *zr_task_create(struct zr_service *svc, uint64_t id,
			       const struct zr_action_def *action, json_t *args)
{
	struct zr_task *t = calloc(1, sizeof(*t));
	if (!t) {
		json_decref(args);
		return NULL;
	}
	t->id = id;
	t->svc = svc;
	t->action = action;
	t->args = args;
	t->state = ZR_TASK_QUEUED;
	t->created_ns = zr_now_ns();
	t->progress_total = -1;
	zr_queue_item_init(&t->qitem);
	zr_list_init(&t->link);
	zr_waitq_init(&t->done);
	return t;
}

struct zr_journal *zr_task_log(struct zr_task *t)
{
	return zr_journal_or_empty(&t->log, TASK_LOG_MAX, t->created_ns);
}

struct zr_journal *zr_task_log_make(struct zr_task *t)
{
	return zr_journal_make(&t->log, TASK_LOG_MAX, t->created_ns);
}

struct zr_task *zr_task_free(struct zr_task *t)
{
	if (!t) {
		return NULL;
	}
	/* Readers parked on the task re-check it from their wake and find it gone. */
	zr_list_remove(&t->link);
	zr_waitq_wake_all(&t->done);
	if (t->log) {
		zr_waitq_wake_all(&t->log->waitq);
	}
	zr_journal_free(&t->log);
	json_decref(t->args);
	zr_buf_done(&t->result);
	free(t->error);
	free(t);
	return NULL;
}

bool zr_task_ended(const struct zr_task *t)
{
	return t->state != ZR_TASK_QUEUED && t->state != ZR_TASK_RUNNING;
}

const char *zr_task_state_name(enum zr_task_state s)
{
	static const char *const names[] = {
		[ZR_TASK_QUEUED] = "queued",
		[ZR_TASK_RUNNING] = "running",
		[ZR_TASK_OK] = "ok",
		[ZR_TASK_ERROR] = "error",
		[ZR_TASK_CANCELLED] = "cancelled",
		[ZR_TASK_TIMEOUT] = "timeout",
		[ZR_TASK_INTERRUPTED] = "interrupted",
	};
	return names[s];
}

const char *zr_task_output(const struct zr_task *t, size_t *ret_len)
{
	if (t->error) {
		*ret_len = strlen(t->error);
		return t->error;
	}
	*ret_len = t->result.len;
	return t->result.data ? t->result.data : "";
}
