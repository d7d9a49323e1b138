/* Services: the model's entry points for requests (FUSE mkdir and writes, HTTP create and PUT,
 * an action's fd-3 data), each validated here once and answered through one callback. */
#include "service.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "robot.h"
#include "schema.h"
#include "service-internal.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"

/* ---- producers on other robots ---- */

/* A walk over the new producers on other robots, looking up each in turn. */
struct remote_check {
	struct zr_robot *r;
	json_t *paths; /* the paths to look up, a list of strings; reference */
	size_t next;   /* the path to look at next */
	zr_request_cb done;
	void *ctx;
};

static void remote_next(struct remote_check *rc);

static void remote_end(struct remote_check *rc, int err, const char *why)
{
	rc->done(err, why, rc->ctx);
	json_decref(rc->paths);
	free(rc);
}

static void on_remote_checked(int err, const char *why, void *data)
{
	struct remote_check *rc = data;
	if (err < 0) {
		remote_end(rc, err, why);
		return;
	}
	remote_next(rc);
}

static void remote_next(struct remote_check *rc)
{
	const char *p = json_string_value(json_array_get(rc->paths, rc->next));
	if (!p) {
		remote_end(rc, 0, NULL);
		return;
	}
	rc->next++;
	rc->r->producer_check.fn(p, on_remote_checked, rc, rc->r->producer_check.data);
}

/* A producer named already was looked up when it was set: only the new remote ones. */
static int add_remote(const char *role, const char *path, void *ud)
{
	(void)role;
	if (strncmp(path, "@remote/", 8) != 0) {
		return 0;
	}
	return json_array_append_new(ud, json_string(path)) < 0 ? -ENOMEM : 0;
}

void zr_service__check_remote(struct zr_robot *r, const struct zr_template *t, const json_t *data,
			      const json_t *old, zr_request_cb done, void *ctx)
{
	if (!r->producer_check.fn || t->n_roles == 0) {
		done(0, NULL, ctx);
		return;
	}
	struct remote_check *rc = calloc(1, sizeof(*rc));
	json_t *paths = json_array();
	if (!rc || !paths || zr_service__each_new_producer(t, data, old, add_remote, paths) < 0) {
		free(rc);
		json_decref(paths);
		done(-ENOMEM, NULL, ctx);
		return;
	}
	*rc = (struct remote_check){.r = r, .paths = paths, .done = done, .ctx = ctx};
	remote_next(rc);
}

/* ---- who may ask (README "Security") ---- */

static int refuse_actor(const struct zr_actor *who, char **ret_err, const char *what,
			const struct zr_service *s)
{
	return zr_fail(ret_err, -EACCES, "%s may not %s %s", zr_actor_name(who), what, s->path);
}

int zr_service_may_act(const struct zr_service *s, const struct zr_actor *who, char **ret_err)
{
	return zr_actor_may_act(who, s->creator, s->guid) ? 0 : refuse_actor(who, ret_err, "act on", s);
}

int zr_service_may_change(const struct zr_service *s, const struct zr_actor *who, char **ret_err)
{
	return zr_actor_may_act(who, s->creator, s->guid) ? 0 : refuse_actor(who, ret_err, "change", s);
}

int zr_service_may_delete(const struct zr_service *s, const struct zr_actor *who, char **ret_err)
{
	return zr_actor_may_delete(who, s->creator, s->guid) ? 0 : refuse_actor(who, ret_err, "delete", s);
}

/* Naming a producer needs the right to act on it: a consumer's actions reach it through the
 * tree with the robot's rights. Roles whose producer stays as it was (old) are not asked
 * again, so a creator may change other fields of data an admin filled in. Producers on other
 * robots are reached with this robot's own token there: only the admin names them. */
struct rights_check {
	struct zr_robot *r;
	const struct zr_actor *who;
	char **ret_err;
};

static int check_producer_right(const char *role, const char *p, void *ud)
{
	struct rights_check *rc = ud;
	if (strncmp(p, "@remote/", 8) == 0) {
		return zr_fail(rc->ret_err, -EACCES, "producer of role '%s': only the admin may name a "
			       "producer on another robot", role);
	}
	_cleanup_free_ char *tmpl = strdup(p);
	char *name = tmpl ? strchr(tmpl, '/') : NULL;
	if (!tmpl) {
		return -ENOMEM;
	}
	if (name) {
		*name++ = '\0';
	}
	const struct zr_service *ps = name ? zr_robot_service(rc->r, tmpl, name) : NULL;
	if (ps && !zr_actor_may_act(rc->who, ps->creator, ps->guid)) {
		return zr_fail(rc->ret_err, -EACCES, "producer of role '%s': %s may not act on %s",
			       role, zr_actor_name(rc->who), ps->path);
	}
	return 0;
}

static int check_producer_rights(struct zr_robot *r, const struct zr_template *t,
				 const struct zr_actor *who, const json_t *data, const json_t *old,
				 char **ret_err)
{
	if (zr_actor_is_admin(who)) {
		return 0;
	}
	struct rights_check rc = {.r = r, .who = who, .ret_err = ret_err};
	return zr_service__each_new_producer(t, data, old, check_producer_right, &rc);
}

/* ---- creating a service ---- */

struct create_request {
	struct zr_robot *r;
	char *tmpl, *name;
	char creator[ZR_ACTOR_ID_MAX];
	json_t *data;   /* as asked (NULL: the defaults), with auto producers named */
	char **autos;   /* auto producers to create first, "T/S"; owned */
	size_t n_autos;
	unsigned waiting; /* creations whose commit is still to come, the consumer's included */
	bool failed;      /* the consumer was refused after its producers were created */
	zr_request_service_cb cb;
	void *cbdata;
};

static void create_request_free(struct create_request *q)
{
	for (size_t i = 0; i < q->n_autos; i++) {
		free(q->autos[i]);
	}
	free(q->autos);
	free(q->tmpl);
	free(q->name);
	json_decref(q->data);
	free(q);
}

static void create_request_unref(struct create_request *q)
{
	if (--q->waiting == 0) {
		create_request_free(q);
	}
}

static void on_create_committed(int err, const char *why, struct zr_service *s, void *data)
{
	struct create_request *q = data;
	if (err < 0) {
		(void)zr_quota_services(&q->r->quota, q->creator, -1);
	}
	q->cb(err, why, s, q->cbdata);
	create_request_unref(q);
}

/* An auto producer's commit: the consumer's is in the same group, so both or neither
 * succeed; only a consumer refused after this was created leaves it to remove. */
static void on_auto_committed(int err, const char *why, struct zr_service *s, void *data)
{
	struct create_request *q = data;
	if (err < 0) {
		(void)zr_quota_services(&q->r->quota, q->creator, -1);
	} else if (q->failed) {
		zr_service__discard(s);
	}
	(void)why;
	create_request_unref(q);
}

/* Splits "T/S" into a copy's two halves (*ret_tmpl owns both). */
static int split_path(const char *path, char **ret_tmpl, const char **ret_name)
{
	char *t = strdup(path);
	if (!t) {
		return -ENOMEM;
	}
	char *slash = strchr(t, '/');
	*slash = '\0';
	*ret_tmpl = t;
	*ret_name = slash + 1;
	return 0;
}

/* Whether who may have the auto producer path (from zr_relations_auto) created, as if asked
 * for it with the template's defaults: the same checks as a creation that needs no I/O. */
static int check_auto(struct zr_robot *r, const struct zr_actor *who, const char *path,
		      char **ret_err)
{
	_cleanup_free_ char *tmpl = NULL, *why = NULL;
	const char *name;
	_cleanup_json_ json_t *filled = NULL;
	const struct zr_template *t;
	if (split_path(path, &tmpl, &name) < 0) {
		return -ENOMEM;
	}
	struct zr_robot_template *rt = zr_robot_template(r, tmpl);
	int err = 0;
	if (!rt) {
		err = zr_fail(&why, -EINVAL, "no template '%s'", tmpl);
	} else if (who && who->role == ZR_ROLE_USER && !rt->t->users) {
		err = zr_fail(&why, -EACCES, "template %s is not offered to user tokens", tmpl);
	} else {
		err = zr_robot__create_check(r, tmpl, name, NULL, &t, &filled, &why);
	}
	if (err == -ENOMEM) {
		return err;
	}
	if (err < 0) {
		return zr_fail(ret_err, err, "its producer %s cannot be created: %s", path,
			       why ? why : strerror(-err));
	}
	return 0;
}

/* Takes a creation slot of q's creator (refused past the quota). */
static int take_slot(struct create_request *q, char **ret_err)
{
	int err = zr_quota_check_service(&q->r->quota, q->creator, ret_err);
	return err == 0 ? zr_quota_services(&q->r->quota, q->creator, 1) : err;
}

static void on_create_checked(int err, const char *why, void *data)
{
	struct create_request *q = data;
	_cleanup_free_ char *why2 = NULL;
	size_t slots = 0, made = 0;
	/* Held by this call, and by each creation until its commit (which may come at once). */
	q->waiting = 1;
	if (err < 0) {
		goto refused;
	}
	/* Anything may have changed while other robots were asked: checked again, before
	 * anything is created. The slots are taken before the services exist, so creates in
	 * flight count. */
	for (size_t i = 0; err == 0 && i < q->n_autos; i++) {
		err = check_auto(q->r, NULL, q->autos[i], &why2);
	}
	while (err == 0 && slots < q->n_autos + 1 && (err = take_slot(q, &why2)) == 0) {
		slots++;
	}
	/* The producers first, in this loop turn: they and the consumer are committed in one
	 * group, and the consumer may name them while they are pending. */
	for (; err == 0 && made < q->n_autos; made++) {
		_cleanup_free_ char *tmpl = NULL;
		const char *name;
		err = split_path(q->autos[made], &tmpl, &name);
		q->waiting++;
		if (err == 0) {
			err = zr_robot__create(q->r, tmpl, name, NULL, q->creator, &why2,
					       on_auto_committed, q);
		}
		if (err < 0) {
			q->waiting--;
			break;
		}
	}
	if (err == 0) {
		q->waiting++;
		err = zr_robot__create(q->r, q->tmpl, q->name, q->data, q->creator, &why2,
				       on_create_committed, q);
		if (err == 0) {
			create_request_unref(q);
			return;
		}
		q->waiting--;
	}
	/* The slots of the services created are theirs: given back at their commit or
	 * deletion. */
	for (size_t i = made; i < slots; i++) {
		(void)zr_quota_services(&q->r->quota, q->creator, -1);
	}
	why = why2;
refused:
	q->cb(err, why, NULL, q->cbdata);
	q->failed = true;
	create_request_unref(q);
}

/* The auto producers of the roles data leaves empty (zr_relations_auto): *ret_data (new
 * reference) is data naming them, or NULL when t has no such role (data stays as it is). */
static int plan_autos(struct zr_robot *r, const struct zr_actor *who, const struct zr_template *t,
		      const char *name, const json_t *data, struct create_request *q,
		      char **ret_err)
{
	bool any = false;
	for (size_t i = 0; i < t->n_roles; i++) {
		any |= t->roles[i].auto_create;
	}
	/* Not an object: the creation check says why. */
	if (!any || (data && !json_is_object(data))) {
		q->data = json_incref((json_t *)data);
		return 0;
	}
	json_t *named = data ? json_deep_copy(data) : json_object();
	if (!named) {
		return -ENOMEM;
	}
	q->data = named;
	int err = zr_relations_auto(r, t, name, named, &q->autos, &q->n_autos);
	for (size_t i = 0; err == 0 && i < q->n_autos; i++) {
		err = check_auto(r, who, q->autos[i], ret_err);
	}
	return err;
}

void zr_service_request_create(struct zr_robot *r, const struct zr_actor *who, const char *tmpl,
			       const char *name, const json_t *data, zr_request_service_cb cb,
			       void *cbdata)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_json_ json_t *filled = NULL;
	const struct zr_template *t = NULL;
	const char *creator = zr_actor_creator(who);
	struct zr_robot_template *rt = zr_robot_template(r, tmpl);
	int err = 0;
	/* Who first: a refused token learns nothing about names or data. */
	if (!creator) {
		err = zr_fail(&why, -EACCES, "%s may not create services", zr_actor_name(who));
	} else if (who && who->role == ZR_ROLE_USER && rt && !rt->t->users) {
		err = zr_fail(&why, -EACCES, "template %s is not offered to user tokens (its manifest "
			      "has no \"users\": true)", tmpl);
	}
	if (err == 0) {
		err = zr_quota_check_service(&r->quota, creator, &why);
	}
	/* Checked with the data as asked: its auto producers do not exist yet. */
	if (err == 0) {
		err = zr_robot__create_check(r, tmpl, name, data, &t, &filled, &why);
	}
	struct create_request *q = err == 0 ? calloc(1, sizeof(*q)) : NULL;
	if (err == 0 && (!q || !(q->tmpl = strdup(tmpl)) || !(q->name = strdup(name)))) {
		err = -ENOMEM;
	}
	if (err == 0) {
		err = plan_autos(r, who, t, name, data, q, &why);
	}
	/* The data with its defaults (a role may have one), then the auto producers named. */
	if (err == 0) {
		err = check_producer_rights(r, t, who, filled, NULL, &why);
	}
	if (err == 0 && q->data && q->data != data) {
		err = check_producer_rights(r, t, who, q->data, filled, &why);
	}
	if (err < 0) {
		if (q) {
			create_request_free(q);
		}
		cb(err, why, NULL, cbdata);
		return;
	}
	q->r = r;
	snprintf(q->creator, sizeof(q->creator), "%s", creator);
	q->cb = cb;
	q->cbdata = cbdata;
	zr_service__check_remote(r, t, filled, NULL, on_create_checked, q);
}

/* ---- data ---- */

struct data_request {
	struct zr_service *s; /* a reference */
	json_t *data;
	bool internal;
	zr_request_cb cb;
	void *cbdata;
};

static void data_request_end(struct data_request *q, int err, const char *why)
{
	q->cb(err, why, q->cbdata);
	json_decref(q->data);
	zr_service_unref(q->s);
	free(q);
}

static void on_data_committed(int err, void *data)
{
	data_request_end(data, err, NULL);
}

static void on_data_checked(int err, const char *why, void *data)
{
	struct data_request *q = data;
	struct zr_service *s = q->s;
	_cleanup_free_ char *why2 = NULL;
	/* An action's own data goes on while its service finishes its deletion (on_delete). */
	if (err == 0 && !q->internal && (s->deleting || s->closing)) {
		err = -ENOENT;
		why = "the service was deleted meanwhile";
	}
	if (err == 0) {
		/* Validated again: the data, the template or a local producer may have changed. */
		err = zr_service__set_data(s, q->data, q->internal, &why2,
					   q->internal ? NULL : on_data_committed, q);
		why = why2;
		if (err == 0 && !q->internal) {
			return;
		}
	}
	data_request_end(q, err, why);
}

void zr_service__request_data(struct zr_service *s, const struct zr_actor *who, const json_t *data,
			      bool internal, zr_request_cb cb, void *cbdata)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_json_ json_t *valid = NULL;
	struct data_request *q = NULL;
	int err = zr_service_may_change(s, who, &why);
	if (err == 0 && s->template->missing) {
		err = zr_fail(&why, -EINVAL, "template %s is missing", s->template->uid);
	}
	if (err == 0) {
		err = zr_schema_apply(s->template->data, data, ZR_SCHEMA_PARTIAL, &valid, &why);
	}
	if (err == 0) {
		err = zr_service__check_producers(s->robot, s->template, s->path, valid, &why);
	}
	if (err == 0) {
		/* An action's own data (fd 3) names producers with its creator's rights: a
		 * template offered to users is no way to reach another's service. */
		struct zr_actor owner;
		zr_actor_from_creator(s->creator, &owner);
		err = check_producer_rights(s->robot, s->template, internal ? &owner : who, valid,
					    s->data, &why);
	}
	if (err == 0 && !(q = calloc(1, sizeof(*q)))) {
		err = -ENOMEM;
	}
	if (err < 0) {
		cb(err, why, cbdata);
		return;
	}
	*q = (struct data_request){.s = s, .data = json_incref((json_t *)data), .internal = internal,
				   .cb = cb, .cbdata = cbdata};
	zr_service_ref(s);
	zr_service__check_remote(s->robot, s->template, valid, s->data, on_data_checked, q);
}

void zr_service_request_data(struct zr_service *s, const struct zr_actor *who, const json_t *data,
			     zr_request_cb cb, void *cbdata)
{
	zr_service__request_data(s, who, data, false, cb, cbdata);
}

/* ---- tasks ---- */

struct task_request {
	zr_request_task_cb cb;
	void *cbdata;
};

static void on_task_queued(int err, struct zr_task *t, void *data)
{
	struct task_request *q = data;
	q->cb(err, NULL, t, q->cbdata);
	free(q);
}

/* One task's arguments are bounded before anything is parsed or copied (issue 12). */
static int check_args_size(const struct zr_service *s, size_t len, char **ret_err)
{
	size_t max = s->robot->cfg.args_max;
	if (len > max) {
		return zr_fail(ret_err, -EFBIG, "arguments of %zu bytes, more than %zu "
			       "(--max-args-bytes)", len, max);
	}
	return 0;
}

void zr_service_request_task(struct zr_service *s, const struct zr_actor *who,
			     const struct zr_action_def *action, const char *payload, size_t len,
			     zr_request_task_cb cb, void *cbdata)
{
	_cleanup_free_ char *why = NULL;
	json_t *args = NULL;
	struct task_request *q = NULL;
	int err = zr_service_may_act(s, who, &why);
	if (err == 0 && action->admin && !zr_actor_is_admin(who)) {
		err = zr_fail(&why, -EACCES, "action %s is admin-only: %s may not run it", action->name,
			      zr_actor_name(who));
	}
	/* The admin is never limited, even on a user's service. */
	if (err == 0 && !zr_actor_is_admin(who)) {
		err = zr_quota_check_task(&s->robot->quota, s->creator, &why);
	}
	if (err == 0) {
		err = check_args_size(s, len, &why);
	}
	/* Only a user's request waits for the producers: on_delete and the robot's own
	 * tasks go on (a consumer must be deletable whatever its producers). */
	if (err == 0) {
		err = zr_relations_check(s, &why);
	}
	/* Last, as it uses up a force: stopping a producer its consumers' servers need. */
	if (err == 0 && (action->builtin == ZR_BUILTIN_STOP ||
			 action->builtin == ZR_BUILTIN_RESTART)) {
		err = zr_relations__may_stop(s, &why);
	}
	if (err == 0 && !(q = calloc(1, sizeof(*q)))) {
		err = -ENOMEM;
	}
	if (err == 0) {
		err = zr_payload_parse(payload, len, action->name, &args, &why);
	}
	if (err == 0) {
		/* key=value lines carry text: it is converted to the fields' types. A JSON object
		 * already says what its values are. */
		size_t i = 0;
		while (i < len && strchr(" \t\r\n", payload[i])) {
			i++;
		}
		bool text = i < len && payload[i] != '{' && json_object_size(args) > 0;
		*q = (struct task_request){.cb = cb, .cbdata = cbdata};
		err = zr_service__enqueue(s, action, args, ZR_LANE_USER, text ? ZR_SCHEMA_COERCE : 0,
					  &why, on_task_queued, q);
		if (err == 0) {
			return;
		}
	}
	free(q);
	cb(err, why, NULL, cbdata);
}
