/* Services: what service.c, service-run.c, service-data.c and service-upgrade.c share, and
 * nobody else. */
#pragma once
#include <stdbool.h>
#include <jansson.h>

#include "service.h"
#include "task.h"

struct zr_template;

/* ---- service-run.c ---- */

/* Appends "TIME task ID ACTION: text" to the service's log. */
void zr_service__log(struct zr_service *s, const struct zr_task *t, const char *text, size_t n);

/* Ends a task: takes ownership of error (NULL or text ending in '\n'); err is the positive
 * errno its readers get. The task is current (running or waiting to retry) or queued. */
void zr_service__finish(struct zr_service *s, struct zr_task *t, enum zr_task_state state,
			char *error, int err);
/* zr_service_enqueue with the flags its args are validated with (ZR_SCHEMA_COERCE for text
 * from key=value lines). */
int zr_service__enqueue(struct zr_service *s, const struct zr_action_def *action, json_t *args,
			enum zr_lane lane, unsigned schema_flags, char **ret_err, zr_task_cb cb,
			void *data);
/* Queues the task's row in the store; -ENOMEM when it could not be. */
int zr_service__store_task(const struct zr_task *t, bool internal);
/* Logs that the robot's own change (what) could not be queued in the store, when err < 0. */
void zr_service__store_failed(const struct zr_service *s, const char *what, int err);

/* ---- service.c ---- */

/* The service's log to append to, made on first use; NULL when out of memory (which the
 * journal's appends take). */
struct zr_journal *zr_service__log_make(struct zr_service *s);

/* The service's retry timer, made on first use (its data is s); NULL: out of memory. */
uv_timer_t *zr_service__retry_timer(struct zr_service *s);

/* One of the handles the service waits for at its close is closed: the service is freed
 * with the last (and no open file). */
void zr_service__handle_closed(struct zr_service *s);

/* Makes the service's work folder unless this run made it already: 0, or -errno with why in
 * *ret_err (owned by the caller; may be NULL on -ENOMEM). */
int zr_service__workdir_make(struct zr_service *s, char **ret_err);

/* ---- service-action.c ---- */

/* Starts an attempt of t (current, holding a job slot): its end comes back through
 * zr_service__finish, or a retry that asks for a slot again. */
void zr_service__start_attempt(struct zr_service *s, struct zr_task *t);

/* ---- service-data.c ---- */

/* Validates data (borrowed) and sets it. internal (an action's fd 3, an upgrade's defaults):
 * applied at once; else on commit, then cb. -EINVAL with *ret_err, -ENOMEM. */
int zr_service__set_data(struct zr_service *s, const json_t *data, bool internal, char **ret_err,
			 zr_done_cb cb, void *cbdata);

/* Looks up, through the robot's producer check, each producer on another robot that data
 * (borrowed) names for a role of t and old (borrowed; NULL: none) does not name already. done
 * fires once (possibly before this returns): 0 when every one is there, else the first
 * refusal and why (borrowed for the call). */
void zr_service__check_remote(struct zr_robot *r, const struct zr_template *t, const json_t *data,
			      const json_t *old, zr_request_cb done, void *ctx);
/* zr_service_request_data for data from the service's own action (internal: applied at once
 * once valid, not waiting for the commit). */
void zr_service__request_data(struct zr_service *s, const struct zr_actor *who, const json_t *data,
			      bool internal, zr_request_cb cb, void *cbdata);

/* ---- service-relations.c ---- */

/* Calls fn for each producer path data (borrowed) names for a role of t that old (borrowed;
 * NULL: none) does not name for it, in role order; stops at fn's first nonzero return, which
 * it returns (-ENOMEM of its own), else 0. */
int zr_service__each_new_producer(const struct zr_template *t, const json_t *data,
				  const json_t *old,
				  int (*fn)(const char *role, const char *path, void *ud), void *ud);

/* Deletes s, which a request created for a consumer whose own creation then failed: without
 * its on_delete actions (it never ran), whatever names it. Failures are logged. */
void zr_service__discard(struct zr_service *s);

/* ---- service-upgrade.c ---- */

/* The timers of t's recurring actions: recur_alloc makes room (*ret NULL when t has none;
 * -ENOMEM), recur_init sets them up in it (s->recur) on the robot's loop, recur_arm starts
 * one for its next due time. */
int zr_service__recur_alloc(const struct zr_template *t, struct zr_recur **ret);
void zr_service__recur_init(struct zr_service *s, const struct zr_template *t, struct zr_recur *recur);
void zr_service__recur_arm(struct zr_recur *rc);
/* Moves an idle service to s->upgrade_to. */
void zr_service__switch(struct zr_service *s);
