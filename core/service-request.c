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

/* A walk over the roles of t, looking up each new producer on another robot in turn. */
struct remote_check {
	struct zr_robot *r;
	const struct zr_template *t; /* borrowed: templates stay while the robot runs */
	json_t *data, *old;          /* references */
	size_t next;                 /* the role to look at next, in the template's order */
	zr_request_cb done;
	void *ctx;
};

static void remote_next(struct remote_check *rc);

static void remote_end(struct remote_check *rc, int err, const char *why)
{
	rc->done(err, why, rc->ctx);
	json_decref(rc->data);
	json_decref(rc->old);
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
	const char *role;
	json_t *spec;
	size_t i = 0;
	json_object_foreach(rc->t->consumes, role, spec) {
		const char *p = json_string_value(json_object_get(rc->data, role));
		const char *now = json_string_value(json_object_get(rc->old, role));
		/* A producer named already was looked up when it was set. */
		if (i++ < rc->next || !p || strncmp(p, "@remote/", 8) != 0 || (now && strcmp(p, now) == 0)) {
			continue;
		}
		rc->next = i;
		rc->r->producer_check.fn(p, on_remote_checked, rc, rc->r->producer_check.data);
		return;
	}
	remote_end(rc, 0, NULL);
}

void zr_service__check_remote(struct zr_robot *r, const struct zr_template *t, const json_t *data,
			      const json_t *old, zr_request_cb done, void *ctx)
{
	if (!r->producer_check.fn || json_object_size(t->consumes) == 0) {
		done(0, NULL, ctx);
		return;
	}
	struct remote_check *rc = calloc(1, sizeof(*rc));
	if (!rc) {
		done(-ENOMEM, NULL, ctx);
		return;
	}
	*rc = (struct remote_check){.r = r, .t = t, .data = json_incref((json_t *)data),
				    .old = json_incref((json_t *)old), .done = done, .ctx = ctx};
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
static int check_producer_rights(struct zr_robot *r, const struct zr_template *t,
				 const struct zr_actor *who, const json_t *data, const json_t *old,
				 char **ret_err)
{
	const char *role;
	json_t *spec;
	if (zr_actor_is_admin(who)) {
		return 0;
	}
	json_object_foreach(t->consumes, role, spec) {
		const char *p = json_string_value(json_object_get(data, role));
		const char *now = json_string_value(json_object_get(old, role));
		if (!p || !*p || (now && strcmp(p, now) == 0)) {
			continue;
		}
		if (strncmp(p, "@remote/", 8) == 0) {
			return zr_fail(ret_err, -EACCES, "producer of role '%s': only the admin may name a "
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
		const struct zr_service *ps = name ? zr_robot_service(r, tmpl, name) : NULL;
		if (ps && !zr_actor_may_act(who, ps->creator, ps->guid)) {
			return zr_fail(ret_err, -EACCES, "producer of role '%s': %s may not act on %s",
				       role, zr_actor_name(who), ps->path);
		}
	}
	return 0;
}

/* ---- creating a service ---- */

struct create_request {
	struct zr_robot *r;
	char *tmpl, *name;
	char creator[ZR_ACTOR_ID_MAX];
	json_t *data; /* as asked (NULL: the defaults) */
	zr_request_service_cb cb;
	void *cbdata;
};

static void create_request_free(struct create_request *q)
{
	free(q->tmpl);
	free(q->name);
	json_decref(q->data);
	free(q);
}

static void on_create_committed(int err, const char *why, struct zr_service *s, void *data)
{
	struct create_request *q = data;
	if (err < 0) {
		(void)zr_quota_services(&q->r->quota, q->creator, -1);
	}
	q->cb(err, why, s, q->cbdata);
	create_request_free(q);
}

static void on_create_checked(int err, const char *why, void *data)
{
	struct create_request *q = data;
	_cleanup_free_ char *why2 = NULL;
	if (err == 0) {
		/* Anything may have changed while other robots were asked: checked again. The
		 * slot is taken before the service exists, so creates in flight count. */
		err = zr_quota_check_service(&q->r->quota, q->creator, &why2);
		if (err == 0 && (err = zr_quota_services(&q->r->quota, q->creator, 1)) == 0) {
			err = zr_robot__create(q->r, q->tmpl, q->name, q->data, q->creator, &why2,
					       on_create_committed, q);
			if (err == 0) {
				return;
			}
			(void)zr_quota_services(&q->r->quota, q->creator, -1);
		}
		why = why2;
	}
	q->cb(err, why, NULL, q->cbdata);
	create_request_free(q);
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
	if (err == 0) {
		err = zr_robot__create_check(r, tmpl, name, data, &t, &filled, &why);
	}
	if (err == 0) {
		err = check_producer_rights(r, t, who, filled, NULL, &why);
	}
	struct create_request *q = err == 0 ? calloc(1, sizeof(*q)) : NULL;
	if (err == 0 && (!q || !(q->tmpl = strdup(tmpl)) || !(q->name = strdup(name)))) {
		err = -ENOMEM;
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
	q->data = json_incref((json_t *)data);
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
