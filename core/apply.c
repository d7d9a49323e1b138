/* Applying a blueprint: the run (remote producers asked, creations wave by wave, then updates,
 * parents, names and prune in one group, then the tasks), the rollback of a failed run, the
 * outcome, and the stored applies. The plan is apply-plan.c's. */
#include "apply.h"
#include "apply-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "service-internal.h"
#include "service.h"
#include "store.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/list.h"
#include "util/log.h"
#include "util/name.h"

static void apply_free(struct apply *a)
{
	zr_apply__plan_done(a);
	zr_bp_free(a->bp);
	for (size_t i = 0; i < a->out.n_items; i++) {
		free(a->out.items[i].path);
		free(a->out.items[i].action);
		free(a->out.items[i].why);
	}
	free(a->out.items);
	free(a->out.name);
	free(a->out.error);
	free(a->name);
	free(a->given_name);
	free(a->text);
	free(a->step_why);
	free(a);
}

static void finish(struct apply *a)
{
	if (a->out.err && !a->out.error) {
		a->out.error = strdup(strerror(-a->out.err));
	}
	a->cb(&a->out, a->cbdata);
	apply_free(a);
}

static const struct zr_actor *who(const struct apply *a)
{
	return a->who_is_robot ? NULL : &a->who;
}

/* The first failure of a step of the run: the blueprint's error, on the entry's line. */
static void step_fail(struct apply *a, struct apply_entry *e, int err, const char *why)
{
	if (a->step_err) {
		return;
	}
	a->step_err = err;
	if (e) {
		(void)zr_apply__fail(a, e, e->pos, e->path, err, "%s", why ? why : strerror(-err));
	} else if (!a->out.err) {
		a->out.err = err;
		a->out.error = why ? strdup(why) : NULL;
	}
}

/* ---- the outcome's lines of a plan that passed ---- */

static enum zr_apply_verb verb_of(const struct apply_entry *e)
{
	switch (e->kind) {
	case APPLY_CREATE:
		return ZR_APPLY_CREATED;
	case APPLY_UPDATE:
		return ZR_APPLY_UPDATED;
	case APPLY_DELETE:
		return ZR_APPLY_DELETED;
	case APPLY_UNCHANGED:
	default:
		return ZR_APPLY_UNCHANGED;
	}
}

/* The services' lines in dependency order, then the pruned ones (children first), then one
 * line per task (its id filled in once queued). */
static int plan_lines(struct apply *a)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t k = 0; k < a->n_entries; k++) {
			const struct apply_entry *e = &a->entries[a->order[k]];
			if ((e->kind == APPLY_DELETE) != (pass == 1)) {
				continue;
			}
			if (zr_apply__item(a, verb_of(e), e->path, NULL, NULL) == (size_t)-1) {
				return -ENOMEM;
			}
		}
	}
	for (size_t i = 0; i < a->n_tasks; i++) {
		struct apply_task *t = &a->tasks[i];
		t->item = zr_apply__item(a, ZR_APPLY_QUEUED, a->entries[t->entry].path, t->def->name,
					 NULL);
		if (t->item == (size_t)-1) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- stored applies ---- */

static struct zr_apply_stored *stored_free(struct zr_apply_stored *st)
{
	if (st) {
		free(st->name);
		free(st->content);
		free(st->outcome);
		free(st);
	}
	return NULL;
}

static int stored_put(struct zr_robot *r, const char *name, const char *content, size_t len,
		      const char *outcome, long long applied_ns)
{
	struct zr_apply_stored *st = calloc(1, sizeof(*st));
	if (!st || !(st->name = strdup(name)) || !(st->content = malloc(len + 1)) ||
	    !(st->outcome = strdup(outcome ? outcome : ""))) {
		stored_free(st);
		return -ENOMEM;
	}
	memcpy(st->content, content, len);
	st->content[len] = '\0';
	st->len = len;
	st->applied_ns = applied_ns;
	struct zr_apply_stored *old = zr_map_del(&r->blueprints, name);
	if (zr_map_put(&r->blueprints, name, st) < 0) {
		stored_free(st);
		if (old) {
			(void)zr_map_put(&r->blueprints, name, old);
		}
		return -ENOMEM;
	}
	stored_free(old);
	return 0;
}

const struct zr_apply_stored *zr_apply_stored(const struct zr_robot *r, const char *name)
{
	return zr_map_get(&r->blueprints, name);
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

void zr_apply_stored_each(const struct zr_robot *r, void (*fn)(const char *name, void *data),
			  void *data)
{
	size_t n = r->blueprints.len, i = 0, k = 0;
	const char *key;
	_cleanup_free_ const char **names = n ? calloc(n, sizeof(*names)) : NULL;
	if (n && !names) {
		return;
	}
	while (k < n && zr_map_next(&r->blueprints, &i, &key, NULL, NULL)) {
		names[k++] = key;
	}
	if (k > 1) { /* qsort's base may not be NULL, even for no element */
		qsort(names, k, sizeof(*names), cmp_str);
	}
	for (size_t j = 0; j < k; j++) {
		fn(names[j], data);
	}
}

static int load_one(const char *name, const char *content, size_t len, const char *outcome,
		    long long applied_ns, void *data)
{
	return stored_put(data, name, content, len, outcome, applied_ns);
}

int zr_apply_load(struct zr_robot *r)
{
	return zr_store_blueprints(r->cfg.store, load_one, r);
}

void zr_apply_free_all(struct zr_robot *r)
{
	size_t i = 0;
	void *v;
	while (zr_map_next(&r->blueprints, &i, NULL, NULL, &v)) {
		stored_free(v);
	}
	zr_map_done(&r->blueprints);
}

static void on_stored(int err, void *data)
{
	struct apply *a = data;
	if (err < 0) {
		/* The services and tasks stay: only the record of this apply is not kept. */
		log_error("Failed to store the apply '%s': %s, ignoring", a->name, strerror(-err));
	} else {
		struct zr_buf b = {0};
		zr_apply_outcome_text(&a->out, &b);
		if (stored_put(a->r, a->name, a->text, a->len, b.data ? b.data : "",
			       a->applied_ns) < 0) {
			log_error("Failed to keep the apply '%s' in memory: out of memory, ignoring",
				  a->name);
		}
		zr_buf_done(&b);
	}
	finish(a);
}

static void store_apply(struct apply *a)
{
	struct zr_buf b = {0};
	zr_apply_outcome_text(&a->out, &b);
	a->applied_ns = zr_now_ns();
	int err = zr_store_blueprint_put(a->r->cfg.store, a->name, a->text, a->len,
					 b.data ? b.data : "", a->applied_ns);
	zr_buf_done(&b);
	if (err < 0) {
		on_stored(err, a);
		return;
	}
	zr_store_sync(a->r->cfg.store, on_stored, a);
}

/* ---- tasks ---- */

static void task_end(struct apply_task *t, int err, const char *why, const struct zr_task *task)
{
	struct apply *a = t->owner;
	struct zr_apply_item *it = t->item != (size_t)-1 ? &a->out.items[t->item] : NULL;
	if (it && err < 0) {
		/* The services stay: only this task is not queued. */
		it->verb = ZR_APPLY_FAILED;
		if (asprintf(&it->why, "line %u, column %u: %s", t->pos.line, t->pos.column,
			     why ? why : strerror(-err)) < 0) {
			it->why = NULL;
		}
	} else if (it && task) {
		it->task = task->id;
	}
	if (--a->waiting == 0) {
		store_apply(a);
	}
}

static void on_user_task(int err, const char *why, struct zr_task *task, void *data)
{
	task_end(data, err, why, task);
}

static void on_system_task(int err, struct zr_task *task, void *data)
{
	task_end(data, err, NULL, task);
}

static void queue_tasks(struct apply *a)
{
	a->waiting = 1;
	for (size_t i = 0; i < a->n_tasks; i++) {
		struct apply_task *t = &a->tasks[i];
		struct zr_service *s = a->entries[t->entry].s;
		a->waiting++;
		if (!s) {
			task_end(t, -ENOENT, "the service is gone", NULL);
			continue;
		}
		if (t->lane == ZR_LANE_SYSTEM) {
			char *why = NULL;
			int err = zr_service_enqueue(s, t->def, NULL, ZR_LANE_SYSTEM, &why,
						     on_system_task, t);
			if (err < 0) {
				task_end(t, err, why, NULL);
			}
			free(why);
			continue;
		}
		/* The block's args as a JSON object: the same parse and checks as a write. */
		_cleanup_free_ char *payload = t->args ? json_dumps(t->args, JSON_COMPACT)
						       : strdup("");
		if (!payload) {
			task_end(t, -ENOMEM, NULL, NULL);
			continue;
		}
		zr_service_request_task(s, who(a), t->def, payload, strlen(payload), on_user_task, t);
	}
	if (--a->waiting == 0) {
		store_apply(a);
	}
}

/* ---- rollback ---- */

static void rollback_end(struct apply *a)
{
	if (a->step_why) {
		char *error = NULL;
		if (asprintf(&error, "%s; %s", a->out.error ? a->out.error : "", a->step_why) >= 0) {
			free(a->out.error);
			a->out.error = error;
		}
	}
	finish(a);
}

static void on_rolled_back(int err, void *data)
{
	struct apply_entry *e = data;
	struct apply *a = e->owner;
	if (err < 0 && err != -ENOENT) {
		log_error("Failed to remove %s, created by the failed apply '%s': %s", e->path,
			  a->name, strerror(-err));
		if (!a->step_why && asprintf(&a->step_why, "%s could not be removed: %s", e->path,
					    strerror(-err)) < 0) {
			a->step_why = NULL;
		}
	}
	if (--a->waiting == 0) {
		rollback_end(a);
	}
}

static bool rolls_back(const struct apply_entry *e)
{
	return e->kind == APPLY_CREATE && e->created && e->s && !e->s->delete_requested &&
	       !e->s->deleting;
}

/* Whether e's parent is deleted by this apply too (kind: APPLY_CREATE for a rollback,
 * APPLY_DELETE for prune): a parent deleted with force takes its children first, deepest
 * first, so they are not asked for on their own (that would be refused: being deleted). */
static bool goes_with_parent(const struct apply *a, const struct apply_entry *e,
			     enum apply_kind kind)
{
	if (!e->s->parent) {
		return false;
	}
	size_t i = (size_t)(uintptr_t)zr_map_get(&a->by_path, e->s->parent);
	const struct apply_entry *p = i ? &a->entries[i - 1] : NULL;
	return p && p->kind == kind && (kind != APPLY_CREATE || rolls_back(p));
}

/* Removes what this apply created, consumers and children first, without their on_delete
 * actions: they never ran one. */
static void rollback(struct apply *a)
{
	free(a->step_why);
	a->step_why = NULL;
	a->waiting = 1;
	for (size_t i = 0; i < a->n_entries; i++) {
		struct apply_entry *e = &a->entries[i];
		if (rolls_back(e)) {
			e->s->quiet_delete = true;
			/* Its consumers and children, if any, are this apply's and go with it. */
			e->s->force_delete = true;
		}
	}
	for (size_t k = a->n_entries; k-- > 0;) {
		struct apply_entry *e = &a->entries[a->order[k]];
		if (!rolls_back(e) || goes_with_parent(a, e, APPLY_CREATE)) {
			continue;
		}
		a->waiting++;
		zr_robot_delete_service(a->r, e->s, on_rolled_back, e);
	}
	if (--a->waiting == 0) {
		rollback_end(a);
	}
}

/* ---- updates, parents, names and prune: one group ---- */

static void on_final(int err, void *data)
{
	struct apply *a = data;
	if (err < 0) {
		step_fail(a, NULL, err, NULL);
	}
	if (--a->waiting > 0) {
		return;
	}
	if (a->step_err) {
		rollback(a);
		return;
	}
	/* Every change is durable: the outcome's lines, then the tasks. */
	if (plan_lines(a) < 0) {
		log_error("Failed to write the outcome of the apply '%s': out of memory", a->name);
	}
	queue_tasks(a);
}

static void on_final_entry(int err, void *data)
{
	struct apply_entry *e = data;
	struct apply *a = e->owner;
	if (err < 0) {
		step_fail(a, e, err, NULL);
	}
	on_final(0, a);
}

static void final_group(struct apply *a)
{
	a->waiting = 1;
	bool names = false;
	for (size_t k = 0; k < a->n_entries && !a->step_err; k++) {
		struct apply_entry *e = &a->entries[a->order[k]];
		_cleanup_free_ char *why = NULL;
		int err = 0;
		if (e->kind == APPLY_CREATE || !e->s) {
			continue;
		}
		if (e->s->deleting || e->s->delete_requested) {
			step_fail(a, e, -ENOENT, "it was deleted meanwhile");
			break;
		}
		if (e->kind == APPLY_DELETE) {
			/* Its consumers and children were checked to go too (plan_prune). */
			e->s->force_delete = true;
			if (!goes_with_parent(a, e, APPLY_DELETE)) {
				a->waiting++;
				zr_robot_delete_service(a->r, e->s, on_final_entry, e);
			}
			continue;
		}
		if (e->kind == APPLY_UPDATE && e->data && !json_equal(e->data, e->s->data)) {
			err = zr_service__set_data(e->s, e->data, false, &why, on_final_entry, e);
			if (err == 0) {
				a->waiting++;
			}
		}
		if (err == 0 && e->parent_changes) {
			free(why);
			why = NULL;
			err = zr_service_set_parent(e->s, who(a), e->parent, &why, on_final_entry, e);
			if (err == 0) {
				a->waiting++;
			}
		}
		if (err == 0 && e->listed &&
		    (!e->s->blueprint || strcmp(e->s->blueprint, a->name) != 0)) {
			err = zr_service_set_blueprint(e->s, a->name);
			names = true;
		}
		if (err < 0) {
			step_fail(a, e, err, why);
		}
	}
	if (names) {
		/* The names have no callback of their own: their group's commit. */
		a->waiting++;
		zr_store_sync(a->r->cfg.store, on_final, a);
	}
	on_final(0, a);
}

/* ---- creations, wave by wave ---- */

static void wave_next(struct apply *a);

static void on_wave_step(struct apply *a)
{
	if (--a->waiting > 0) {
		return;
	}
	if (a->step_err) {
		rollback(a);
		return;
	}
	wave_next(a);
}

static void on_created(int err, const char *why, struct zr_service *s, void *data)
{
	struct apply_entry *e = data;
	struct apply *a = e->owner;
	if (err < 0) {
		(void)zr_quota_services(&a->r->quota, zr_actor_creator(&a->who), -1);
		e->s = NULL;
		step_fail(a, e, err, why);
	} else {
		e->s = s;
		e->created = true;
		zr_service_ref(s);
	}
	on_wave_step(a);
}

static void on_wave_parent(int err, void *data)
{
	struct apply_entry *e = data;
	if (err < 0) {
		step_fail(e->owner, e, err, NULL);
	}
	on_wave_step(e->owner);
}

/* One wave: the creations of one dependency level, submitted in one loop turn so that the
 * store commits them as one group; the parent and the blueprint name of each join it. */
static void wave_run(struct apply *a, unsigned level)
{
	const char *creator = zr_actor_creator(&a->who);
	for (size_t k = 0; k < a->n_entries && !a->step_err; k++) {
		struct apply_entry *e = &a->entries[a->order[k]];
		_cleanup_free_ char *why = NULL;
		if (e->kind != APPLY_CREATE || e->level != level) {
			continue;
		}
		int err = zr_quota_services(&a->r->quota, creator, 1);
		if (err == 0) {
			err = zr_robot__create(a->r, e->tname, e->t->version, e->name, e->data,
					       creator, &why, on_created, e);
			if (err < 0) {
				(void)zr_quota_services(&a->r->quota, creator, -1);
			}
		}
		if (err < 0) {
			step_fail(a, e, err, why);
			break;
		}
		a->waiting++;
		/* Pending: in the map, not in the tree; the changes below join its group. */
		struct zr_service *s = zr_robot_service(a->r, e->tname, e->name);
		err = s ? zr_service_set_blueprint(s, a->name) : -ENOENT;
		if (err == 0 && e->parent_said && e->parent) {
			err = zr_service_set_parent(s, who(a), e->parent, &why, on_wave_parent, e);
			if (err == 0) {
				a->waiting++;
			}
		}
		if (err < 0) {
			step_fail(a, e, err, why);
		}
	}
}

static void wave_next(struct apply *a)
{
	while (a->wave < a->waves) {
		a->waiting = 1;
		wave_run(a, a->wave++);
		if (--a->waiting > 0) {
			return; /* on_wave_step goes on */
		}
		if (a->step_err) {
			rollback(a);
			return;
		}
	}
	final_group(a);
}

/* ---- producers on other robots, then the run ---- */

static void run(struct apply *a)
{
	if (a->remote_asked) {
		/* Anything may have changed while other robots were asked: planned again. */
		zr_apply__plan_done(a);
		if (zr_apply__plan(a) < 0) {
			finish(a);
			return;
		}
	}
	if (a->opts.dry_run) {
		if (plan_lines(a) < 0) {
			a->out.err = -ENOMEM;
		}
		finish(a);
		return;
	}
	a->wave = 0;
	wave_next(a);
}

static int is_remote(const char *role, const char *path, void *ud)
{
	(void)role, (void)ud;
	return strncmp(path, "@remote/", 8) == 0;
}

/* Whether e names a producer on another robot that it did not name before: the same walk as
 * zr_service__check_remote's, so a role holding a list is looked at whole. Out of memory
 * counts as yes: the check then says so. */
static bool needs_remote(const struct apply_entry *e)
{
	if (!e->data || e->failed || (e->kind != APPLY_CREATE && e->kind != APPLY_UPDATE)) {
		return false;
	}
	return zr_service__each_new_producer(e->t, e->data, e->s ? e->s->data : NULL, is_remote,
					     NULL) != 0;
}

static void remote_step(struct apply *a);

static void on_remote(int err, const char *why, void *data)
{
	struct apply *a = data;
	if (err < 0) {
		struct apply_entry *e = &a->entries[a->remote_next - 1];
		(void)zr_apply__fail(a, e, e->pos, e->path, err, "%s", why ? why : strerror(-err));
	}
	a->remote_done = true;
	if (!a->remote_sync) {
		remote_step(a);
	}
}

/* One entry at a time (a robot's peers are asked in turn); an answer that comes before
 * zr_service__check_remote returns goes on in this loop, not deeper in the stack. */
static void remote_step(struct apply *a)
{
	while (!a->out.err && a->remote_next < a->n_entries) {
		struct apply_entry *e = &a->entries[a->remote_next++];
		if (!a->r->producer_check.fn || !needs_remote(e)) {
			continue;
		}
		a->remote_asked = true;
		a->remote_done = false;
		a->remote_sync = true;
		zr_service__check_remote(a->r, e->t, e->data, e->s ? e->s->data : NULL, on_remote, a);
		a->remote_sync = false;
		if (!a->remote_done) {
			return;
		}
	}
	if (a->out.err) {
		finish(a);
		return;
	}
	run(a);
}

/* The blueprint is parsed: its name and options, then the plan. */
static void parsed(struct apply *a, int err, char *why_taken)
{
	_cleanup_free_ char *why = why_taken;
	struct zr_robot *r = a->r;
	if (err == 0 && r->stopping) {
		err = zr_fail(&why, -EAGAIN, "the robot is stopping");
	}
	if (err == 0) {
		const struct zr_apply_opts *opts = &a->given;
		/* Unnamed: "default" for the admin, "user-<16 hex>" / "uid-N" for the others (their
		 * creator id), so that one principal's unnamed apply never replaces another's. */
		char own[ZR_ACTOR_ID_MAX] = "default";
		const char *creator = zr_actor_creator(&a->who);
		if (!a->who_is_robot && a->who.role != ZR_ROLE_ADMIN && creator) {
			snprintf(own, sizeof(own), "%s", creator);
			char *colon = strchr(own, ':');
			if (colon) {
				*colon = '-';
			}
		}
		const char *name = opts->name ? opts->name : a->bp->name ? a->bp->name : own;
		a->opts.dry_run = opts->dry_run || a->bp->dry_run;
		a->opts.prune = opts->prune || a->bp->prune;
		a->out.dry_run = a->opts.dry_run;
		if (!(a->name = strdup(name)) || !(a->out.name = strdup(name))) {
			err = -ENOMEM;
		} else if (!zr_name_valid(name)) {
			err = zr_fail(&why, -EINVAL, "invalid apply name '%s': want "
				      "[a-z0-9][a-z0-9_.-]{0,62}", name);
		} else if (!a->opts.dry_run && !zr_map_get(&r->blueprints, name) &&
			   r->blueprints.len >= ZR_APPLY_STORED_MAX) {
			err = zr_fail(&why, -EDQUOT, "%u stored applies already: a new name is refused",
				      ZR_APPLY_STORED_MAX);
		}
	}
	if (err < 0) {
		a->out.err = err;
		if (err == -E2BIG && !why) {
			(void)zr_fail(&why, err, "a blueprint of %zu bytes: at most %u", a->len,
				      ZR_BP_MAX_BYTES);
		}
		a->out.error = TAKE_PTR(why);
		finish(a);
		return;
	}
	if (zr_apply__plan(a) < 0) {
		finish(a);
		return;
	}
	remote_step(a);
}

/* A large blueprint is parsed on the loop's thread pool: the worst 10 MiB text takes libyaml
 * seconds (5 million list items), which the loop must not wait for. The robot counts it, so
 * its stop waits for the answer. */
#define PARSE_ON_LOOP_MAX (64 * 1024)

struct parse_work {
	uv_work_t req;
	struct apply *a;
	int err;
	char *why;
};

static void parse_work(uv_work_t *req)
{
	struct parse_work *w = container_of(req, struct parse_work, req);
	w->err = zr_bp_parse(w->a->text, w->a->len, &w->a->bp, &w->why);
}

static void parse_done(uv_work_t *req, int status)
{
	struct parse_work *w = container_of(req, struct parse_work, req);
	struct apply *a = w->a;
	struct zr_robot *r = a->r; /* a is gone once parsed */
	int err = status < 0 ? -ECANCELED : w->err;
	char *why = w->why;
	free(w);
	r->parsing--;
	parsed(a, err, why);
	zr_robot__process_ended(r);
}

void zr_apply(struct zr_robot *r, const struct zr_actor *who, const char *text, size_t len,
	      const struct zr_apply_opts *opts,
	      void (*cb)(const struct zr_apply_outcome *o, void *data), void *data)
{
	struct apply *a = calloc(1, sizeof(*a));
	if (!a) {
		struct zr_apply_outcome o = {.err = -ENOMEM, .error = "out of memory"};
		cb(&o, data);
		return;
	}
	a->r = r;
	a->cb = cb;
	a->cbdata = data;
	if (who) {
		a->who = *who;
	} else {
		zr_actor_admin(&a->who);
		a->who_is_robot = true;
	}
	_cleanup_free_ char *why = NULL;
	int err = len > ZR_BP_MAX_BYTES ? -E2BIG : 0;
	if (err == 0 && opts) {
		a->given = *opts;
		if (opts->name && !(a->given.name = a->given_name = strdup(opts->name))) {
			err = -ENOMEM;
		}
	}
	if (err == 0 && !(a->text = malloc(len + 1))) {
		err = -ENOMEM;
	}
	if (err == 0) {
		memcpy(a->text, text, len);
		a->text[len] = '\0';
		a->len = len;
		err = r->stopping ? zr_fail(&why, -EAGAIN, "the robot is stopping") : 0;
	}
	if (err == 0 && len > PARSE_ON_LOOP_MAX) {
		struct parse_work *w = calloc(1, sizeof(*w));
		if (w) {
			w->a = a;
			if (uv_queue_work(r->loop, &w->req, parse_work, parse_done) == 0) {
				r->parsing++;
				return;
			}
			free(w);
		}
		err = -ENOMEM;
	}
	if (err == 0) {
		err = zr_bp_parse(a->text, len, &a->bp, &why);
	}
	parsed(a, err, TAKE_PTR(why));
}

/* ---- the outcome ---- */

static const char *verb_word(enum zr_apply_verb v, bool dry_run)
{
	switch (v) {
	case ZR_APPLY_CREATED:
		return dry_run ? "create" : "created";
	case ZR_APPLY_UPDATED:
		return dry_run ? "update" : "updated";
	case ZR_APPLY_UNCHANGED:
		return "unchanged";
	case ZR_APPLY_DELETED:
		return dry_run ? "delete" : "deleted";
	case ZR_APPLY_QUEUED:
		return dry_run ? "queue" : "queued";
	case ZR_APPLY_FAILED:
	default:
		return "failed";
	}
}

void zr_apply_outcome_text(const struct zr_apply_outcome *o, struct zr_buf *b)
{
	for (size_t i = 0; i < o->n_items; i++) {
		const struct zr_apply_item *it = &o->items[i];
		(void)zr_buf_printf(b, "%s %s", verb_word(it->verb, o->dry_run), it->path);
		if (it->verb == ZR_APPLY_QUEUED) {
			(void)zr_buf_printf(b, " %s", it->action);
			if (!o->dry_run) {
				(void)zr_buf_printf(b, " task %" PRIu64, it->task);
			}
		} else if (it->verb == ZR_APPLY_FAILED && it->action) {
			(void)zr_buf_printf(b, " %s", it->action);
		}
		if (it->why) {
			(void)zr_buf_printf(b, " %s", it->why);
		}
		(void)zr_buf_puts(b, "\n");
	}
	if (o->err) {
		(void)zr_buf_printf(b, "error: %s\n", o->error ? o->error : strerror(-o->err));
	}
}

json_t *zr_apply_outcome_json(const struct zr_apply_outcome *o)
{
	json_t *items = json_array();
	json_t *j = json_pack("{s:s?, s:b, s:o, s:s?}", "name", o->name, "dry_run", o->dry_run,
			      "items", items,
			      "error", o->err ? (o->error ? o->error : strerror(-o->err)) : NULL);
	if (!j) {
		return NULL;
	}
	for (size_t i = 0; i < o->n_items; i++) {
		const struct zr_apply_item *it = &o->items[i];
		json_t *x = json_pack("{s:s, s:s}", "verb", verb_word(it->verb, o->dry_run), "path",
				      it->path);
		int err = x ? 0 : -1;
		if (err == 0 && it->action) {
			err = json_object_set_new(x, "action", json_string(it->action));
		}
		if (err == 0 && it->verb == ZR_APPLY_QUEUED && !o->dry_run) {
			err = json_object_set_new(x, "task", json_integer((json_int_t)it->task));
		}
		if (err == 0 && it->why) {
			err = json_object_set_new(x, "why", json_string(it->why));
		}
		if (err < 0 || json_array_append_new(items, x) < 0) {
			json_decref(x);
			json_decref(j);
			return NULL;
		}
	}
	return j;
}
