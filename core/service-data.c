/* Services: their data and producers: validation, commit, the consumers on other robots and
 * the link hook that tells producers there about us. */
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "schema.h"
#include "service-internal.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/name.h"

static bool path_in(const char *path, const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(paths[i], path) == 0) {
			return true;
		}
	}
	return false;
}

/* Tells the robot's link hook which producers on other robots this service stopped (add
 * false) or started (true) naming, between data old and new (NULL: none). */
void zr_service__links(struct zr_service *s, const json_t *old, const json_t *new)
{
	struct zr_robot *r = s->robot;
	if (!r->links.fn) {
		return;
	}
	for (size_t i = 0; i < s->template->n_roles; i++) {
		const char *role = s->template->roles[i].name;
		_cleanup_free_ const char **a = NULL, **b = NULL;
		size_t na = 0, nb = 0;
		if ((old && zr_service__role_paths(old, role, &a, &na) < 0) ||
		    (new && zr_service__role_paths(new, role, &b, &nb) < 0)) {
			log_error("Service %s: out of memory telling its remote producers, ignoring",
				  s->path);
			return;
		}
		/* Per path: one that stays named is not told again. */
		for (size_t j = 0; j < na; j++) {
			if (strncmp(a[j], "@remote/", 8) == 0 && !path_in(a[j], b, nb)) {
				r->links.fn(a[j], s->path, false, r->links.data);
			}
		}
		for (size_t j = 0; j < nb; j++) {
			if (strncmp(b[j], "@remote/", 8) == 0 && !path_in(b[j], a, na)) {
				r->links.fn(b[j], s->path, true, r->links.data);
			}
		}
	}
}

static void data_apply(struct zr_service *s, json_t *valid)
{
	zr_service__links(s, s->data, valid);
	json_decref(s->data);
	s->data = valid;
	zr_service__refile(s); /* the producers it names */
	s->data_mtime_ns = zr_now_ns();
	zr_service__event(s, "data.changed", NULL);
	zr_relations__update(s);
	if (s->template->n_roles > 0 && s->robot->hooks.producers_changed) {
		s->robot->hooks.producers_changed(s, s->robot->hooks.data);
	}
}

struct data_write {
	struct zr_service *s;
	json_t *valid;
	zr_done_cb cb;
	void *data;
};

static void on_data_committed(int err, void *data)
{
	struct data_write *w = data;
	if (err == 0) {
		data_apply(w->s, w->valid);
	} else {
		json_decref(w->valid);
	}
	if (w->cb) {
		w->cb(err, w->data);
	}
	zr_service_unref(w->s);
	free(w);
}

int zr_service__rconsumer_apply(struct zr_service *s, const char *robot, const char *consumer, bool add)
{
	const char *slash = strchr(consumer, '/');
	char *key = NULL, *path = NULL;
	int err = 0;
	if (!slash) {
		return -EINVAL;
	}
	if (asprintf(&key, "%.*s.%s@%s", (int)(slash - consumer), consumer, slash + 1, robot) < 0) {
		return -ENOMEM;
	}
	if (!add) {
		(void)json_object_del(s->rconsumers, key);
	} else if ((!s->rconsumers && !(s->rconsumers = json_object())) ||
		   asprintf(&path, "@remote/%s/%s", robot, consumer) < 0 ||
		   json_object_set_new(s->rconsumers, key, json_string(path)) < 0) {
		err = -ENOMEM;
	}
	free(key);
	free(path);
	return err;
}

struct rconsumer_write {
	struct zr_service *s;
	char *robot, *consumer;
	bool add;
	bool counted; /* in s->rconsumers_adding */
	zr_done_cb cb;
	void *data;
};

static void on_rconsumer_committed(int err, void *data)
{
	struct rconsumer_write *w = data;
	struct zr_service *s = w->s;
	s->rconsumers_adding -= w->counted;
	if (err == 0 && zr_service__rconsumer_apply(s, w->robot, w->consumer, w->add) == 0) {
		const char *slash = strchr(w->consumer, '/');
		log_info("%s: consumer %.*s.%s@%s %s", s->path, (int)(slash - w->consumer), w->consumer,
			 slash + 1, w->robot, w->add ? "registered" : "dropped");
	}
	w->cb(err, w->data);
	zr_service_unref(s);
	free(w->robot);
	free(w->consumer);
	free(w);
}

int zr_service_rconsumer(struct zr_service *s, const char *robot, const char *consumer, bool add,
			 char **why, zr_done_cb cb, void *cbdata)
{
	_cleanup_free_ char *tmpl = strdup(consumer);
	char *name = tmpl ? strchr(tmpl, '/') : NULL;
	if (!tmpl) {
		return -ENOMEM;
	}
	if (name) {
		*name++ = '\0';
	}
	if (!zr_name_valid(robot) || !name || !zr_name_valid(tmpl) || !zr_name_valid(name)) {
		return zr_fail(why, -EINVAL, "want 'consumer add|remove ROBOT TEMPLATE/SERVICE' with valid names");
	}
	_cleanup_free_ char *key = NULL;
	if (asprintf(&key, "%s.%s@%s", tmpl, name, robot) < 0) {
		return -ENOMEM;
	}
	bool counted = add && !json_object_get(s->rconsumers, key);
	size_t have = json_object_size(s->rconsumers) + s->rconsumers_adding;
	if (counted && have >= ZR_SERVICE_RCONSUMERS_MAX) {
		return zr_fail(why, -EDQUOT, "%s has %d consumers on other robots already, the most it "
			       "takes", s->path, ZR_SERVICE_RCONSUMERS_MAX);
	}
	_cleanup_free_ char *robot_copy = strdup(robot);
	_cleanup_free_ char *consumer_copy = strdup(consumer);
	struct rconsumer_write *w = robot_copy && consumer_copy ? calloc(1, sizeof(*w)) : NULL;
	int err = w ? zr_store_rconsumer(s->robot->cfg.store, s->guid, robot, consumer, add) : -ENOMEM;
	if (err < 0) {
		free(w);
		return err;
	}
	*w = (struct rconsumer_write){.s = s, .robot = TAKE_PTR(robot_copy),
				      .consumer = TAKE_PTR(consumer_copy), .add = add, .cb = cb,
				      .data = cbdata, .counted = counted};
	s->rconsumers_adding += counted;
	zr_service_ref(s);
	zr_store_sync(s->robot->cfg.store, on_rconsumer_committed, w);
	return 0;
}

const char *zr_service_producer(const struct zr_service *s, const char *role)
{
	const char *p = json_string_value(json_object_get(s->data, role));
	return p && *p && json_object_get(s->template->consumes, role) ? p : NULL;
}

/* "@remote/ROBOT/[@remote/ROBOT/...]TEMPLATE/SERVICE", with TEMPLATE the role's; errors show
 * the path as shown. */
static int check_remote_path(const char *role, const char *path, const char *shown,
			     const char *want, char **ret_err)
{
	const char *p = path;
	char robot[64], tmpl[64], name[64];
	int n = 0;
	while (strncmp(p, "@remote/", 8) == 0) {
		size_t l = strcspn(p + 8, "/");
		if (l == 0 || l >= sizeof(robot) || !p[8 + l]) {
			break;
		}
		memcpy(robot, p + 8, l);
		robot[l] = '\0';
		if (!zr_name_valid(robot)) {
			break;
		}
		p += 8 + l + 1;
		n++;
	}
	size_t tl = strcspn(p, "/");
	if (n > 0 && tl > 0 && tl < sizeof(tmpl) && p[tl] == '/' && strlen(p + tl + 1) < sizeof(name)) {
		memcpy(tmpl, p, tl);
		tmpl[tl] = '\0';
		strcpy(name, p + tl + 1);
		if (zr_name_valid(tmpl) && zr_name_valid(name)) {
			if (want && strcmp(want, tmpl) != 0) {
				return zr_fail(ret_err, -EINVAL, "producer of role '%s': %s is a '%s', not a '%s'",
					       role, shown, tmpl, want);
			}
			return 0;
		}
	}
	return zr_fail(ret_err, -EINVAL, "producer of role '%s': bad path '%s' (want @remote/ROBOT/TEMPLATE/NAME)",
		       role, shown);
}

/* One producer path of role (want: the role's template or NULL), as shown in errors. */
static int check_producer(struct zr_robot *r, const char *role, const char *want,
			  const char *self, const char *path, const char *shown, char **ret_err)
{
	if (strncmp(path, "@remote/", 8) == 0) {
		/* Another robot's: its shape here, its existence by the tree (over HTTP). */
		return check_remote_path(role, path, shown, want, ret_err);
	}
	_cleanup_free_ char *tmpl = strdup(path);
	char *name = tmpl ? strchr(tmpl, '/') : NULL;
	if (!tmpl) {
		return -ENOMEM;
	}
	if (name) {
		*name++ = '\0';
	}
	struct zr_service *p = name && !strchr(name, '/') ? zr_robot_service(r, tmpl, name) : NULL;
	/* A pending producer is named by its consumer created in the same loop turn (auto,
	 * apply): both are in one commit group, so both or neither stay. */
	if (!p || p->deleting) {
		return zr_fail(ret_err, -EINVAL, "producer of role '%s': no service '%s' (want TEMPLATE/NAME or @remote/ROBOT/TEMPLATE/NAME)",
			       role, shown);
	}
	if (want && strcmp(want, p->template->name) != 0) {
		return zr_fail(ret_err, -EINVAL, "producer of role '%s': %s is a '%s', not a '%s'", role, shown,
			       p->template->name, want);
	}
	if (self && strcmp(self, p->path) == 0) {
		return zr_fail(ret_err, -EINVAL, "producer of role '%s': a service cannot produce for itself", role);
	}
	return 0;
}

int zr_service__check_producers(struct zr_robot *r, const struct zr_template *t, const char *self,
				const json_t *data, char **ret_err)
{
	for (size_t i = 0; i < t->n_roles; i++) {
		const struct zr_template_role *role = &t->roles[i];
		_cleanup_free_ const char **paths = NULL;
		size_t n;
		if (zr_service__role_paths(data, role->name, &paths, &n) < 0) {
			return -ENOMEM;
		}
		/* A role is a data field: a template may call it secret, and then errors name
		 * the role only. */
		bool secret = zr_schema_secret(t->data, role->name);
		for (size_t j = 0; j < n; j++) {
			const char *shown = secret ? ZR_SCHEMA_REDACTED : paths[j];
			int err = check_producer(r, role->name, role->template, self, paths[j], shown,
						 ret_err);
			if (err < 0) {
				return err;
			}
			for (size_t k = 0; k < j; k++) {
				if (strcmp(paths[k], paths[j]) == 0) {
					return zr_fail(ret_err, -EINVAL, "producer of role '%s': %s named twice",
						       role->name, shown);
				}
			}
		}
	}
	return 0;
}

/* Validates data; internal changes (from an action) apply at once, requests on commit. */
int zr_service__set_data(struct zr_service *s, const json_t *data, bool internal, char **ret_err,
		    zr_done_cb cb, void *cbdata)
{
	json_t *valid = NULL;
	if (s->template->missing) {
		(void)asprintf(ret_err, "template %s is missing", s->template->uid);
		return -EINVAL;
	}
	int err = zr_schema_apply(s->template->data, data, ZR_SCHEMA_PARTIAL, &valid, ret_err);
	if (err == 0) {
		err = zr_service__check_producers(s->robot, s->template, s->path, valid, ret_err);
		if (err < 0) {
			json_decref(valid);
		}
	}
	if (err < 0) {
		return err;
	}
	_cleanup_free_ char *text = json_dumps(valid, JSON_COMPACT);
	struct data_write *w = internal || !text ? NULL : calloc(1, sizeof(*w));
	/* Not shown before it is queued: memory and the store must not disagree. */
	err = (internal || w) && text ? zr_store_service_data(s->robot->cfg.store, s->guid, text,
							      internal) : -ENOMEM;
	if (err < 0) {
		free(w);
		json_decref(valid);
		return err;
	}
	if (internal) {
		data_apply(s, valid);
		return 0;
	}
	*w = (struct data_write){.s = s, .valid = valid, .cb = cb, .data = cbdata};
	zr_service_ref(s);
	zr_store_sync(s->robot->cfg.store, on_data_committed, w);
	return 0;
}

int zr_service_set_data(struct zr_service *s, const json_t *data, char **ret_err, zr_done_cb cb,
			void *cbdata)
{
	return zr_service__set_data(s, data, false, ret_err, cb, cbdata);
}
