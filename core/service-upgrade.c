/* Services: timers of recurring actions, and moving a service to another version of its
 * template. */
#include "service.h"

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

static void on_recur(uv_timer_t *timer);

void zr_service__recur_arm(struct zr_recur *rc)
{
	struct zr_service *s = rc->svc;
	if (s->deleting || s->robot->stopping) {
		return;
	}
	long long period = (long long)(rc->action->every * 1e9);
	long long due = rc->last_start_ns ? rc->last_start_ns + period : s->created_ns + period;
	long long wait = due - zr_now_ns();
	if (wait < 0) {
		wait = 0;
	}
	(void)uv_timer_start(&rc->timer, on_recur, (uint64_t)(wait / 1000000), 0);
}

int zr_service__recur_alloc(const struct zr_template *t, struct zr_recur **ret)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n_actions; i++) {
		n += t->actions[i].every > 0;
	}
	*ret = n ? calloc(n, sizeof(struct zr_recur)) : NULL;
	return n && !*ret ? -ENOMEM : 0;
}

/* One timer per recurring action of t, in recur (from recur_alloc). */
void zr_service__recur_init(struct zr_service *s, const struct zr_template *t, struct zr_recur *recur)
{
	s->recur = recur;
	s->n_recur = 0;
	for (size_t i = 0; i < t->n_actions; i++) {
		if (t->actions[i].every > 0) {
			struct zr_recur *rc = &s->recur[s->n_recur++];
			rc->svc = s;
			rc->action = &t->actions[i];
			uv_timer_init(s->robot->loop, &rc->timer);
			rc->timer.data = rc;
			s->closing_handles++;
		}
	}
}

void zr_service__activate(struct zr_service *s)
{
	for (size_t i = 0; i < s->n_recur; i++) {
		zr_service__recur_arm(&s->recur[i]);
	}
	zr_service__process_start(s);
}

/* Moves an idle service to s->upgrade_to. */
void zr_service__switch(struct zr_service *s)
{
	const struct zr_template *t = s->upgrade_to, *old = s->template;
	struct zr_recur *recur;
	int err = zr_service__recur_alloc(t, &recur);
	struct zr_retired_recur *rr = calloc(1, sizeof(*rr));
	s->upgrade_to = NULL;
	if (err < 0 || !rr) {
		free(recur);
		free(rr);
		log_error("Failed to upgrade %s to %s: out of memory", s->path, t->uid);
		return;
	}
	for (size_t i = 0; i < s->n_recur; i++) {
		(void)uv_timer_stop(&s->recur[i].timer);
	}
	*rr = (struct zr_retired_recur){.recur = s->recur, .n = s->n_recur, .next = s->retired};
	s->retired = rr;
	s->template = t;
	zr_service__refile(s); /* its roles are the new version's */
	zr_service__recur_init(s, t, recur);
	/* Queued tasks run the new version's action of the same name. */
	struct zr_queue_item *it = zr_queue_next(&s->queue, NULL);
	while (it) {
		struct zr_task *task = container_of(it, struct zr_task, qitem);
		it = zr_queue_next(&s->queue, it);
		const struct zr_action_def *a = zr_template_action(t, task->action->name);
		if (a) {
			task->action = a;
		} else if (!task->pending) {
			zr_service__finish(s, task, ZR_TASK_CANCELLED,
				       strdup("cancelled: the action is gone from the new version\n"), ECANCELED);
		}
	}
	json_t *data = NULL;
	_cleanup_free_ char *why = NULL;
	if (zr_schema_apply(t->data, s->data, ZR_SCHEMA_PARTIAL, &data, &why) == 0) {
		(void)zr_service__set_data(s, data, true, NULL, NULL, NULL);
		json_decref(data);
	} else {
		log_warn("Service %s: its data does not fit %s (%s), keeping it as it is", s->path, t->uid, why);
	}
	if (json_object_get(s->state, "template missing")) {
		zr_service__state_del(s, "template missing");
		(void)zr_service_set_state(s, "template", "version", "ok");
	}
	zr_service__store_failed(s, "its new version", zr_store_service_uid(s->robot->cfg.store, s->guid, t->uid));
	zr_service__store_failed(s, "the end of its upgrade",
		     zr_store_service_upgrade_to(s->robot->cfg.store, s->guid, NULL, true));
	log_info("Upgraded service %s from %s to %s", s->path, old->uid, t->uid);
	zr_service__event(s, "service.upgraded", json_pack("{ss ss}", "from", old->uid, "to", t->uid));
	const struct zr_action_def *up = zr_template_action(t, "upgrade");
	if (up) {
		_cleanup_free_ char *e = NULL;
		if (zr_service_enqueue(s, up, NULL, ZR_LANE_SYSTEM, &e, NULL, NULL) < 0) {
			log_error("Service %s: upgrade action not queued: %s", s->path, e ? e : "");
		}
	}
	zr_service__process_switch(s);
	if (!s->deleting && !s->pending) {
		zr_service__activate(s);
	}
}

/* Switches an idle service that has somewhere to go. */
void zr_service__upgrade_if_idle(struct zr_service *s)
{
	if (s->current || !s->upgrade_to || s->deleting) {
		return;
	}
	zr_service__switch(s);
	if (zr_queue_peek(&s->queue)) {
		zr_robot__want_slot(s->robot, s);
	}
}

struct upgrade_write {
	struct zr_service *s;
	const struct zr_template *t; /* NULL: stay */
	zr_done_cb cb;
	void *data;
};

static void on_upgrade_committed(int err, void *data)
{
	struct upgrade_write *w = data;
	if (err == 0) {
		w->s->upgrade_to = w->t;
		zr_service__upgrade_if_idle(w->s);
	}
	w->cb(err, w->data);
	zr_service_unref(w->s);
	free(w);
}

int zr_service_upgrade(struct zr_service *s, const struct zr_template *t, char **ret_err,
		       zr_done_cb cb, void *cbdata)
{
	if (t->missing) {
		(void)asprintf(ret_err, "version %s is not loaded", t->uid);
		return -EINVAL;
	}
	if (s->deleting) {
		return -ENOENT;
	}
	struct upgrade_write *w = calloc(1, sizeof(*w));
	if (!w) {
		return -ENOMEM;
	}
	/* Recorded before it is answered, so a crash before the running task ends does not lose
	 * it (the switch happens at restart then). */
	*w = (struct upgrade_write){.s = s, .t = t == s->template ? NULL : t, .cb = cb, .data = cbdata};
	int err = zr_store_service_upgrade_to(s->robot->cfg.store, s->guid, w->t ? w->t->uid : NULL,
					      false);
	if (err < 0) {
		free(w);
		return err;
	}
	zr_service_ref(s);
	zr_store_sync(s->robot->cfg.store, on_upgrade_committed, w);
	return 0;
}

static bool recur_active(const struct zr_service *s, const struct zr_action_def *a)
{
	if (s->current && s->current->action == a) {
		return true;
	}
	for (struct zr_queue_item *it = zr_queue_next(&s->queue, NULL); it;
	     it = zr_queue_next(&s->queue, it)) {
		if (container_of(it, struct zr_task, qitem)->action == a) {
			return true;
		}
	}
	return false;
}

static void on_recur(uv_timer_t *timer)
{
	struct zr_recur *rc = timer->data;
	struct zr_service *s = rc->svc;
	/* Never queued twice: the end of the running one re-arms the timer. */
	if (recur_active(s, rc->action)) {
		return;
	}
	long long period = (long long)(rc->action->every * 1e9);
	if (rc->last_start_ns && zr_now_ns() - rc->last_start_ns < period) {
		zr_service__recur_arm(rc);
		return;
	}
	_cleanup_free_ char *why = NULL;
	int err = zr_service_enqueue(s, rc->action, NULL, ZR_LANE_USER, &why, NULL, NULL);
	if (err < 0) {
		log_warn("Recurring action %s of %s not queued: %s, retrying in %gs", rc->action->name,
			 s->path, why ? why : strerror(-err), rc->action->every);
		/* Try again a period from now. */
		rc->last_start_ns = zr_now_ns();
		zr_service__recur_arm(rc);
	}
}
