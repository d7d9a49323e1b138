/* Tasks: one run of one action of one service, from queued to finished, with its result. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include "journal.h"
#include "queue.h"
#include "util/buf.h"
#include "waitq.h"

struct zr_service;
struct zr_action_def;
struct zr_runner;

enum zr_task_state {
	ZR_TASK_QUEUED,
	ZR_TASK_RUNNING, /* also while waiting to retry */
	ZR_TASK_OK,
	ZR_TASK_ERROR,
	ZR_TASK_CANCELLED,
	ZR_TASK_TIMEOUT,
	ZR_TASK_INTERRUPTED,
};

struct zr_task {
	uint64_t id;
	struct zr_service *svc;            /* owner */
	const struct zr_action_def *action; /* borrowed from the service's template */
	json_t *args;                      /* validated arguments, owned */
	long long created_ns, started_ns, finished_ns;
	struct zr_buf result;              /* stdout, capped */
	char *error;                       /* error text ending in '\n', NULL when ok */
	struct zr_journal *log;            /* this task's stderr; NULL until used (zr_task_log) */
	long long progress_done, progress_total; /* progress_total < 0: none reported */
	/* The small fields together: a robot keeps 100,000s of tasks. */
	enum zr_task_state state;
	int err;                           /* positive errno a result reader gets after the error text */
	int attempt;                       /* 1-based attempt number */
	bool pending;  /* enqueued, its commit not done yet: not visible, not runnable */
	bool settled;  /* ended and its end is on disk: result readers are answered */
	bool cancel_requested;
	bool timed_out;
	struct zr_runner *runner;          /* the process of the current attempt, or NULL */
	struct zr_queue_item qitem;        /* in svc->queue while queued */
	struct zr_list link;               /* in svc->tasks, by id */
	struct zr_waitq done;              /* woken when the task ends or is freed */
};

/* Creates a queued task; takes ownership of args. */
struct zr_task *zr_task_create(struct zr_service *svc, uint64_t id,
			       const struct zr_action_def *action, json_t *args);
/* Wakes every waiter (they find the task gone) and frees it. The runner must be gone. */
struct zr_task *zr_task_free(struct zr_task *t);

/* The task's log (borrowed), made on first use: zr_task_log for readers (see
 * zr_journal_or_empty), zr_task_log_make to append to (NULL when out of memory, which the
 * journal's appends take). */
struct zr_journal *zr_task_log(struct zr_task *t);
struct zr_journal *zr_task_log_make(struct zr_task *t);

bool zr_task_ended(const struct zr_task *t);
const char *zr_task_state_name(enum zr_task_state s);
/* What a result reader sees: the result when ok, else the error text. Borrowed. */
const char *zr_task_output(const struct zr_task *t, size_t *ret_len);
