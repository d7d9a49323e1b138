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

/* ---- creating a service ---- */

struct create_request {
	struct zr_robot *r;
	char *tmpl, *name;
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
	q->cb(err, why, s, q->cbdata);
	create_request_free(q);
}

static void on_create_checked(int err, const char *why, void *data)
{
	struct create_request *q = data;
	_cleanup_free_ char *why2 = NULL;
	if (err == 0) {
		/* Anything may have changed while other robots were asked: checked again. */
		err = zr_robot__create(q->r, q->tmpl, q->name, q->data, &why2, on_create_committed, q);
		if (err == 0) {
			return;
		}
		why = why2;
	}
	q->cb(err, why, NULL, q->cbdata);
	create_request_free(q);
}

void zr_service_request_create(struct zr_robot *r, const char *tmpl, const char *name,
			       const json_t *data, zr_request_service_cb cb, void *cbdata)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_json_ json_t *filled = NULL;
	const struct zr_template *t = NULL;
	int err = zr_robot__create_check(r, tmpl, name, data, &t, &filled, &why);
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

void zr_service__request_data(struct zr_service *s, const json_t *data, bool internal,
			      zr_request_cb cb, void *cbdata)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_json_ json_t *valid = NULL;
	struct data_request *q = NULL;
	int err = 0;
	if (s->template->missing) {
		err = zr_fail(&why, -EINVAL, "template %s is missing", s->template->uid);
	}
	if (err == 0) {
		err = zr_schema_apply(s->template->data, data, ZR_SCHEMA_PARTIAL, &valid, &why);
	}
	if (err == 0) {
		err = zr_service__check_producers(s->robot, s->template, s->path, valid, &why);
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

void zr_service_request_data(struct zr_service *s, const json_t *data, zr_request_cb cb,
			     void *cbdata)
{
	zr_service__request_data(s, data, false, cb, cbdata);
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
	size_t max = s->robot->cfg.args_max ? s->robot->cfg.args_max : ZR_ARGS_MAX_DEFAULT;
	if (len > max) {
		return zr_fail(ret_err, -EFBIG, "arguments of %zu bytes, more than %zu "
			       "(--max-args-bytes)", len, max);
	}
	return 0;
}

void zr_service_request_task(struct zr_service *s, const struct zr_action_def *action,
			     const char *payload, size_t len, zr_request_task_cb cb, void *cbdata)
{
	_cleanup_free_ char *why = NULL;
	json_t *args = NULL;
	struct task_request *q = calloc(1, sizeof(*q));
	int err = q ? check_args_size(s, len, &why) : -ENOMEM;
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
