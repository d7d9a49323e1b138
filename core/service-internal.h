/* Services: what service.c, service-run.c, service-data.c and service-upgrade.c share, and
 * nobody else. */
#pragma once
#include <stdbool.h>
#include <jansson.h>

#include "service.h"
#include "task.h"

struct zr_template;

/* ---- service-run.c ---- */

/* Ends a task: takes ownership of error (NULL or text ending in '\n'); err is the positive
 * errno its readers get. The task is current (running or waiting to retry) or queued. */
void zr_service__finish(struct zr_service *s, struct zr_task *t, enum zr_task_state state,
			char *error, int err);
/* Queues the task's row in the store; -ENOMEM when it could not be. */
int zr_service__store_task(const struct zr_task *t, bool internal);
/* Logs that the robot's own change (what) could not be queued in the store, when err < 0. */
void zr_service__store_failed(const struct zr_service *s, const char *what, int err);

/* ---- service-data.c ---- */

/* Validates data (borrowed) and sets it. internal (an action's fd 3, an upgrade's defaults):
 * applied at once; else on commit, then cb. -EINVAL with *ret_err, -ENOMEM. */
int zr_service__set_data(struct zr_service *s, const json_t *data, bool internal, char **ret_err,
			 zr_done_cb cb, void *cbdata);

/* ---- service-upgrade.c ---- */

/* The timers of t's recurring actions: recur_alloc makes room, recur_init sets them up in
 * it (s->recur) on the robot's loop, recur_arm starts one for its next due time. */
struct zr_recur *zr_service__recur_alloc(const struct zr_template *t);
void zr_service__recur_init(struct zr_service *s, const struct zr_template *t, struct zr_recur *recur);
void zr_service__recur_arm(struct zr_recur *rc);
/* Moves an idle service to s->upgrade_to. */
void zr_service__switch(struct zr_service *s);
