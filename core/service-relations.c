/* Relations (DESIGN §8): the producers a consumes role names, min/max/auto, the check actions
 * wait on and its "relation <role> ok|error" state lines. */
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "service-internal.h"
#include "store.h"
#include "supervise.h"
#include "template.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/log.h"

size_t zr_role_producers(const json_t *data, const char *role, const char **ret, size_t max)
{
	const json_t *v = json_object_get(data, role);
	if (json_is_string(v)) {
		/* An empty string is how a role is left without its producer. */
		if (!*json_string_value(v)) {
			return 0;
		}
		if (max > 0) {
			ret[0] = json_string_value(v);
		}
		return 1;
	}
	size_t n = 0, i;
	const json_t *p;
	json_array_foreach(v, i, p) {
		if (json_is_string(p) && *json_string_value(p)) {
			if (n < max) {
				ret[n] = json_string_value(p);
			}
			n++;
		}
	}
	return n;
}

bool zr_role_names(const json_t *data, const char *role, const char *path)
{
	const json_t *v = json_object_get(data, role);
	if (json_is_string(v)) {
		return strcmp(json_string_value(v), path) == 0;
	}
	size_t i;
	const json_t *p;
	json_array_foreach(v, i, p) {
		if (json_is_string(p) && strcmp(json_string_value(p), path) == 0) {
			return true;
		}
	}
	return false;
}

int zr_service__role_paths(const json_t *data, const char *role, const char ***ret,
			   size_t *ret_n)
{
	size_t n = zr_role_producers(data, role, NULL, 0);
	const char **paths = NULL;
	if (n > 0) {
		paths = calloc(n, sizeof(*paths));
		if (!paths) {
			return -ENOMEM;
		}
		(void)zr_role_producers(data, role, paths, n);
	}
	*ret = paths;
	*ret_n = n;
	return 0;
}

int zr_service__each_new_producer(const struct zr_template *t, const json_t *data,
				  const json_t *old,
				  int (*fn)(const char *role, const char *path, void *ud), void *ud)
{
	for (size_t i = 0; i < t->n_roles; i++) {
		const char *role = t->roles[i].name;
		_cleanup_free_ const char **now = NULL, **was = NULL;
		size_t n_now, n_was = 0;
		if (zr_service__role_paths(data, role, &now, &n_now) < 0 ||
		    (old && zr_service__role_paths(old, role, &was, &n_was) < 0)) {
			return -ENOMEM;
		}
		for (size_t j = 0; j < n_now; j++) {
			size_t k = 0;
			while (k < n_was && strcmp(was[k], now[j]) != 0) {
				k++;
			}
			int r = k == n_was ? fn(role, now[j], ud) : 0;
			if (r != 0) {
				return r;
			}
		}
	}
	return 0;
}

int zr_relations_auto(struct zr_robot *r, const struct zr_template *t, const char *name,
		      json_t *data, char ***ret, size_t *ret_n)
{
	char **missing = NULL;
	size_t n = 0;
	for (size_t i = 0; i < t->n_roles; i++) {
		const struct zr_template_role *role = &t->roles[i];
		if (!role->auto_create || zr_role_producers(data, role->name, NULL, 0) > 0) {
			continue;
		}
		char *path = NULL;
		if (asprintf(&path, "%s/%s", role->template, name) < 0) {
			path = NULL;
			goto fail;
		}
		if (json_object_set_new(data, role->name, json_string(path)) < 0) {
			free(path);
			goto fail;
		}
		/* Two roles of one template share the one producer. */
		bool known = zr_robot_service(r, role->template, name);
		for (size_t j = 0; !known && j < n; j++) {
			known = strcmp(missing[j], path) == 0;
		}
		char **more = known ? NULL : reallocarray(missing, n + 1, sizeof(*missing));
		if (!known && !more) {
			free(path);
			goto fail;
		}
		if (known) {
			free(path);
			continue;
		}
		missing = more;
		missing[n++] = path;
	}
	*ret = missing;
	*ret_n = n;
	return 0;
fail:
	while (n > 0) {
		free(missing[--n]);
	}
	free(missing);
	return -ENOMEM;
}

static void on_discarded(int err, void *data)
{
	const char *path = data;
	if (err < 0) {
		log_error("Failed to remove %s, created for a consumer whose creation failed: %s",
			  path, strerror(-err));
	}
	free(data);
}

void zr_service__discard(struct zr_service *s)
{
	char *path = strdup(s->path);
	if (!path) {
		log_error("Failed to remove %s, created for a consumer whose creation failed: out "
			  "of memory", s->path);
		return;
	}
	/* It never ran: no on_delete actions; and nothing consumes it but the consumer that
	 * failed. */
	s->quiet_delete = true;
	s->force_delete = true;
	zr_robot_delete_service(s->robot, s, on_discarded, path);
}

/* Whether role of s is satisfied: 0, or -EINVAL with *why (may be NULL). */
static int check_role(const struct zr_service *s, const struct zr_template_role *role,
		      char **why)
{
	_cleanup_free_ const char **paths = NULL;
	size_t n;
	if (zr_service__role_paths(s->data, role->name, &paths, &n) < 0) {
		return -ENOMEM;
	}
	if (n < role->min) {
		return zr_fail(why, -EINVAL, "role '%s' needs at least %u producer%s, has %zu",
			       role->name, role->min, role->min == 1 ? "" : "s", n);
	}
	if (n > role->max) {
		return zr_fail(why, -EINVAL, "role '%s' takes at most %u producer%s, has %zu",
			       role->name, role->max, role->max == 1 ? "" : "s", n);
	}
	bool secret = zr_schema_secret(s->template->data, role->name);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(paths[i], "@remote/", 8) == 0) {
			continue; /* checked when named; the remote keeps it (EBUSY) */
		}
		_cleanup_free_ char *tmpl = strdup(paths[i]);
		if (!tmpl) {
			return -ENOMEM;
		}
		char *name = strchr(tmpl, '/');
		if (name) {
			*name++ = '\0';
		}
		const struct zr_service *p = name ? zr_robot_service(s->robot, tmpl, name) : NULL;
		/* A producer deleted by force leaves its consumers naming it. */
		if (!p || p->deleting) {
			return zr_fail(why, -EINVAL, "role '%s': its producer %s is gone", role->name,
				       secret ? ZR_SCHEMA_REDACTED : paths[i]);
		}
	}
	return 0;
}

int zr_relations_check(const struct zr_service *s, char **why)
{
	for (size_t i = 0; i < s->template->n_roles; i++) {
		int err = check_role(s, &s->template->roles[i], why);
		if (err < 0) {
			return err;
		}
	}
	return 0;
}

/* Drops the lines of roles the template no longer has (an upgrade), storing the state. */
static void drop_stale(struct zr_service *s)
{
	const char *key;
	json_t *v;
	/* Collected first: a deletion may replace a shared state by its own copy. */
	_cleanup_json_ json_t *stale = json_array();
	json_object_foreach(s->state, key, v) {
		if (strncmp(key, "relation ", 9) == 0 && !zr_template_role(s->template, key + 9)) {
			(void)json_array_append_new(stale, json_string(key));
		}
	}
	if (json_array_size(stale) == 0) {
		return;
	}
	size_t i;
	json_array_foreach(stale, i, v) {
		zr_service__state_del(s, json_string_value(v));
	}
	s->state_mtime_ns = zr_now_ns();
	if (!s->pending) {
		_cleanup_free_ char *text = json_dumps(s->state, JSON_COMPACT);
		zr_service__store_failed(s, "its state",
					 text ? zr_store_service_state(s->robot->cfg.store, s->guid,
								       text)
					      : -ENOMEM);
	}
}

void zr_relations__update(struct zr_service *s)
{
	if (s->deleting || s->closing) {
		return;
	}
	drop_stale(s);
	for (size_t i = 0; i < s->template->n_roles; i++) {
		const struct zr_template_role *role = &s->template->roles[i];
		int err = check_role(s, role, NULL);
		if (err == -ENOMEM ||
		    (err = zr_service_set_state(s, "relation", role->name,
						err < 0 ? "error" : "ok")) < 0) {
			log_error("Service %s: state relation %s not updated: %s, ignoring", s->path,
				  role->name, strerror(-err));
		}
	}
}

static void update_consumer(struct zr_service *c, const char *role, void *data)
{
	(void)role;
	(void)data;
	zr_relations__update(c);
}

void zr_relations__producer_changed(struct zr_robot *r, const struct zr_service *p)
{
	zr_robot_consumers(r, p, update_consumer, NULL);
}

/* Adds c to the list when its server runs (a held start runs nothing). */
static void add_running(struct zr_service *c, const char *role, void *data)
{
	struct zr_buf *b = data;
	const struct zr_sup *sup = zr_service_sup(c);
	(void)role;
	if (!sup || zr_sup_pid(sup) <= 0 || zr_sup_state(sup) == ZR_SUP_STOPPING ||
	    zr_sup_state(sup) == ZR_SUP_DOWN) {
		return;
	}
	/* Walks give a consumer once per role that names s: listed once. */
	size_t n = strlen(c->path);
	if (b->len >= n && strcmp(b->data + b->len - n, c->path) == 0 &&
	    (b->len == n || b->data[b->len - n - 1] == ' ')) {
		return;
	}
	(void)zr_buf_printf(b, "%s%s", b->len ? ", " : "", c->path);
}

int zr_relations__may_stop(struct zr_service *s, char **why)
{
	struct zr_buf running = {0};
	zr_robot_consumers(s->robot, s, add_running, &running);
	if (running.len == 0) {
		zr_buf_done(&running);
		return 0;
	}
	/* force is used once: the next stop asks again. */
	if (s->force_delete) {
		s->force_delete = false;
		zr_buf_done(&running);
		return 0;
	}
	int err = zr_fail(why, -EBUSY, "consumers running: %s; write force to ctl first",
			  running.data ? running.data : "?");
	zr_buf_done(&running);
	return err;
}
