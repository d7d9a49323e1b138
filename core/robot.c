/* The robot: templates, services, job slots, events and the robot's own log. */
#include "robot.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "cgroup.h"
#include "config.h"
#include "repos.h"
#include "service.h"
#include "service-parent.h"
#include "store.h"
#include "supervise.h"
#include "util/map.h"
#include "task.h"
#include "template.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/name.h"
#include "webhook.h"

#define ROBOT_EVENTS_MAX (1024 * 1024)
#define ROBOT_LOG_MAX (1024 * 1024)

static void on_log_line(const char *line, size_t len, void *data)
{
	struct zr_robot *r = data;
	(void)zr_journal_append(&r->log, line, len);
}

/* The robot's name for other robots: the one given, else the hostname made a valid name
 * ("Web-01.example" becomes "web-01.example"), else "robot". */
static char *default_name(const char *given)
{
	char host[256] = "";
	if (given) {
		return strdup(given);
	}
	(void)gethostname(host, sizeof(host) - 1);
	for (char *p = host; *p; p++) {
		*p = (char)tolower((unsigned char)*p);
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_.-", *p)) {
			*p = '-';
		}
	}
	host[63] = '\0';
	return strdup(zr_name_valid(host) ? host : "robot");
}

/* zrobot-exec, the servers' launcher: beside the running binary (a build tree, or an install
 * that keeps them together), else where meson installs it. */
static char *find_launcher(void)
{
	char exe[PATH_MAX], *p = NULL;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		if (asprintf(&p, "%s/zrobot-exec", dirname(exe)) < 0) {
			return NULL;
		}
		if (access(p, X_OK) == 0) {
			return p;
		}
	}
#ifdef ZR_LIBEXECDIR
	free(p);
	return strdup(ZR_LIBEXECDIR "/zrobot-exec");
#else
	return p ? p : strdup("zrobot-exec");
#endif
}

int zr_robot_create(uv_loop_t *loop, const struct zr_robot_config *cfg, struct zr_robot **ret)
{
	struct zr_robot *r = calloc(1, sizeof(*r));
	if (!r) {
		return -ENOMEM;
	}
	r->loop = loop;
	r->cfg = *cfg;
	r->cfg.mount = strdup(cfg->mount);
	r->cfg.data_dir = strdup(cfg->data_dir);
	r->cfg.name = default_name(cfg->name);
	r->cfg.launcher = cfg->launcher ? strdup(cfg->launcher) : find_launcher();
	if (!r->cfg.mount || !r->cfg.data_dir || !r->cfg.name || !r->cfg.launcher) {
		free((char *)r->cfg.mount);
		free((char *)r->cfg.data_dir);
		free((char *)r->cfg.name);
		free((char *)r->cfg.launcher);
		free(r);
		return -ENOMEM;
	}
	zr_list_init(&r->deleting);
	zr_list_init(&r->ready);
	zr_journal_init(&r->events, ROBOT_EVENTS_MAX);
	zr_journal_init(&r->log, ROBOT_LOG_MAX);
	zr_metrics_init(&r->metrics);
	r->quota.max_services = cfg->max_services_per_token ? cfg->max_services_per_token : ZR_QUOTA_SERVICES;
	r->quota.max_tasks = cfg->max_tasks_per_token ? cfg->max_tasks_per_token : ZR_QUOTA_TASKS;
	/* The defaults are taken here, once: readers use r->cfg as it is. */
	if (!r->cfg.args_max) {
		r->cfg.args_max = ZR_ARGS_MAX_DEFAULT;
	}
	if (!r->cfg.data_max) {
		r->cfg.data_max = ZR_DATA_MAX_DEFAULT;
	}
	r->started_ns = r->mtime_ns = zr_now_ns();
	uv_timer_init(loop, &r->stop_timer);
	r->stop_timer.data = r;
	uv_timer_init(loop, &r->sample_timer);
	r->sample_timer.data = r;
	zr_log_set_sink(on_log_line, r);
	if (zr_repos_create(r, &r->repos) < 0) {
		zr_robot_destroy(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

static int cmp_version(const void *a, const void *b)
{
	const struct zr_template *x = *(struct zr_template *const *)a, *y = *(struct zr_template *const *)b;
	if (x->missing != y->missing) {
		return x->missing ? -1 : 1; /* stand-ins sort first: never the latest */
	}
	int c = x->missing ? 0 : zr_semver_compare(x->version, y->version);
	return c ? c : strcmp(x->uid, y->uid);
}

struct zr_template *zr_robot_template_find(const struct zr_robot_template *rt, const char *which)
{
	if (strcmp(which, "latest") == 0) {
		return rt->t && !rt->t->missing ? rt->t : NULL;
	}
	/* The highest match wins: one version may come from two sources. */
	for (size_t i = rt->n_versions; i > 0; i--) {
		struct zr_template *t = rt->versions[i - 1];
		if (strcmp(t->uid, which) == 0 || (!t->missing && strcmp(t->version, which) == 0)) {
			return t;
		}
	}
	return NULL;
}

int zr_robot_add_template(struct zr_robot *r, struct zr_template *t)
{
	struct zr_robot_template *rt = zr_robot_template(r, t->name);
	if (rt) {
		for (size_t i = 0; i < rt->n_versions; i++) {
			if (strcmp(rt->versions[i]->uid, t->uid) == 0) {
				return -EEXIST;
			}
		}
	} else {
		rt = calloc(1, sizeof(*rt));
		if (!rt || zr_map_put(&r->templates, t->name, rt) < 0) {
			free(rt);
			return -ENOMEM;
		}
	}
	struct zr_template **v = realloc(rt->versions, (rt->n_versions + 1) * sizeof(*v));
	if (!v) {
		return -ENOMEM;
	}
	rt->versions = v;
	rt->versions[rt->n_versions++] = t;
	qsort(rt->versions, rt->n_versions, sizeof(*v), cmp_version);
	rt->t = rt->versions[rt->n_versions - 1];
	rt->mtime_ns = r->mtime_ns = zr_now_ns();
	if (!t->missing) {
		(void)zr_robot__event(r, "template.loaded", json_pack("{ss ss}", "template", t->name, "uid", t->uid));
	}
	return 0;
}

static int load_one(struct zr_robot *r, const char *dir)
{
	struct zr_template *t = NULL;
	_cleanup_free_ char *why = NULL;
	int err = zr_template_load(dir, "local", &t, &why);
	if (err < 0) {
		log_error("Skipping template %s: %s", dir, why ? why : strerror(-err));
		return err;
	}
	err = zr_robot_add_template(r, t);
	if (err < 0) {
		log_warn("Skipping template %s: %s", dir,
			 err == -EEXIST ? "that version of it is loaded already" : strerror(-err));
		zr_template_free(t);
		return err;
	}
	log_info("Loaded template %s from %s", t->uid, dir);
	return 0;
}

int zr_robot_load_templates(struct zr_robot *r, const char *dir)
{
	_cleanup_free_ char *manifest = NULL;
	struct stat st;
	if (asprintf(&manifest, "%s/template.json", dir) < 0) {
		return -ENOMEM;
	}
	if (stat(manifest, &st) == 0) {
		return load_one(r, dir) == 0 ? 1 : 0;
	}
	struct dirent **list = NULL;
	int n = scandir(dir, &list, NULL, alphasort);
	if (n < 0) {
		int err = -errno;
		log_error("Failed to read template folder %s: %s", dir, strerror(errno));
		return err;
	}
	int loaded = 0;
	for (int i = 0; i < n; i++) {
		_cleanup_free_ char *sub = NULL;
		_cleanup_free_ char *m = NULL;
		if (list[i]->d_name[0] != '.' && asprintf(&sub, "%s/%s", dir, list[i]->d_name) >= 0 &&
		    asprintf(&m, "%s/template.json", sub) >= 0 && stat(m, &st) == 0) {
			loaded += load_one(r, sub) == 0;
		}
		free(list[i]);
	}
	free(list);
	return loaded;
}

struct zr_robot_template *zr_robot_template(const struct zr_robot *r, const char *name)
{
	return zr_map_get(&r->templates, name);
}

struct zr_service *zr_robot_service(const struct zr_robot *r, const char *tmpl, const char *name)
{
	struct zr_robot_template *rt = zr_robot_template(r, tmpl);
	return rt ? zr_map_get(&rt->services, name) : NULL;
}

struct create {
	struct zr_service *s;
	zr_request_service_cb cb;
	void *data;
};

static void on_created(int err, void *data)
{
	struct create *c = data;
	struct zr_service *s = c->s;
	struct zr_robot *r = s->robot;
	struct zr_robot_template *rt = zr_robot_template(r, s->template->name);
	if (err < 0) {
		log_error("Failed to create service %s: %s", s->path, strerror(-err));
		if (rt) {
			(void)zr_map_del(&rt->services, s->name);
		}
		zr_service__close(s); /* which takes it out of the index */
		s = NULL;
	} else {
		s->pending = false;
		if (rt) {
			rt->mtime_ns = zr_now_ns();
		}
		log_info("Created service %s (%s)", s->path, s->template->uid);
		zr_service__event(s, "service.created", json_pack("{ss}", "uid", s->template->uid));
		zr_relations__update(s);
		zr_relations__producer_changed(r, s);
		zr_service__activate(s);
	}
	c->cb(err, NULL, s, c->data);
	free(c);
}

static int store_service_row(const struct zr_service *s)
{
	_cleanup_free_ char *data = json_dumps(s->data, JSON_COMPACT);
	_cleanup_free_ char *state = json_dumps(s->state, JSON_COMPACT);
	if (!data || !state) {
		return -ENOMEM;
	}
	struct zr_store_service row = {
		.template = s->template->name,
		.name = s->name,
		.guid = s->guid,
		.uid = s->template->uid,
		.data = data,
		.state = state,
		.secret = s->secret,
		.creator = s->creator,
		.parent = s->parent,
		.blueprint = s->blueprint,
		.created_ns = s->created_ns,
		.deleting = s->deleting,
	};
	return zr_store_service_insert(s->robot->cfg.store, &row);
}

int zr_robot__create_check(struct zr_robot *r, const char *tmpl, const char *version,
			   const char *name, const json_t *data, const struct zr_template **ret_t,
			   json_t **ret_data, char **ret_err)
{
	struct zr_robot_template *rt = zr_robot_template(r, tmpl);
	if (!rt) {
		return -ENOENT;
	}
	const struct zr_template *t = version ? zr_robot_template_find(rt, version) : rt->t;
	if (!t) {
		return zr_fail(ret_err, -EINVAL, "template %s %s not loaded", tmpl, version);
	}
	if (t->missing) {
		return zr_fail(ret_err, -EINVAL, "template %s is missing", t->uid);
	}
	if (!zr_name_valid(name)) {
		return zr_fail(ret_err, -EINVAL, "invalid service name '%s': want [a-z0-9][a-z0-9_.-]{0,62}",
			       name);
	}
	if (zr_map_get(&rt->services, name)) {
		return -EEXIST;
	}
	if (r->stopping) {
		return zr_fail(ret_err, -EAGAIN, "the robot is stopping");
	}
	_cleanup_json_ json_t *empty = data ? NULL : json_object();
	json_t *filled = NULL;
	if (!data && !empty) {
		return -ENOMEM;
	}
	int err = zr_schema_apply(t->data, data ? data : empty, ZR_SCHEMA_PARTIAL, &filled, ret_err);
	if (err == 0) {
		err = zr_service__check_producers(r, t, NULL, filled, ret_err);
	}
	if (err < 0) {
		json_decref(filled);
		return err;
	}
	*ret_t = t;
	*ret_data = filled;
	return 0;
}

int zr_robot__create(struct zr_robot *r, const char *tmpl, const char *version, const char *name,
		     const json_t *data, const char *creator, char **ret_err,
		     zr_request_service_cb cb, void *cbdata)
{
	const struct zr_template *t = NULL;
	json_t *filled = NULL;
	struct zr_service *s = NULL;
	int err = zr_robot__create_check(r, tmpl, version, name, data, &t, &filled, ret_err);
	if (err < 0) {
		return err;
	}
	struct zr_robot_template *rt = zr_robot_template(r, tmpl);
	struct create *c = calloc(1, sizeof(*c));
	if (!c) {
		json_decref(filled);
		return -ENOMEM;
	}
	err = zr_service__new(r, t, name, filled, &s, ret_err);
	if (err == 0) {
		snprintf(s->creator, sizeof(s->creator), "%s", creator);
	}
	if (err == 0 && zr_map_put(&rt->services, name, s) < 0) {
		err = -ENOMEM;
	} else if (err == 0 && (err = store_service_row(s)) < 0) {
		(void)zr_map_del(&rt->services, name);
	} else if (err == 0) {
		zr_service__index(s);
	}
	if (err < 0) {
		if (s) {
			zr_service__close(s);
		}
		free(c);
		return err;
	}
	/* In the map at once so the name is taken, but not in the tree before its commit. */
	s->pending = true;
	*c = (struct create){.s = s, .cb = cb, .data = cbdata};
	zr_store_sync(r->cfg.store, on_created, c);
	return 0;
}

/* zr_robot_create_service's callback, with what it returns when the request ends before it
 * does. */
struct create_compat {
	zr_service_cb cb;
	void *data;
	bool in_call, ended;
	int err;
	char **ret_err;
};

static void on_create_compat(int err, const char *why, struct zr_service *s, void *data)
{
	struct create_compat *cc = data;
	if (cc->in_call) {
		cc->ended = true;
		cc->err = err;
		if (why && cc->ret_err) {
			*cc->ret_err = strdup(why);
		}
		return;
	}
	cc->cb(err, s, cc->data);
	free(cc);
}

int zr_robot_create_service(struct zr_robot *r, const char *tmpl, const char *name,
			    const json_t *data, char **ret_err, zr_service_cb cb, void *cbdata)
{
	struct create_compat *cc = calloc(1, sizeof(*cc));
	if (!cc) {
		return -ENOMEM;
	}
	*cc = (struct create_compat){.cb = cb, .data = cbdata, .in_call = true, .ret_err = ret_err};
	zr_service_request_create(r, NULL, tmpl, name, data, on_create_compat, cc);
	cc->in_call = false;
	if (!cc->ended) {
		return 0;
	}
	int err = cc->err;
	free(cc);
	return err;
}

void zr_robot_set_producer_check(struct zr_robot *r, zr_producer_check_fn fn, void *data)
{
	r->producer_check.fn = fn;
	r->producer_check.data = data;
}

struct rm_work {
	uv_work_t req;
	char *path;
	int err;
};

/* Off the loop: a work folder may hold anything an action left there. */
static void rm_tree_work(uv_work_t *req)
{
	struct rm_work *w = req->data;
	w->err = -zr_rm_rf(w->path);
}

static void rm_tree_done(uv_work_t *req, int status)
{
	struct rm_work *w = req->data;
	if (w->err) {
		log_warn("Failed to remove %s: %s, ignoring", w->path, strerror(w->err));
	}
	free(w->path);
	free(w);
	(void)status;
}

static void on_server_stopped(struct zr_service *s);

/* A service deleted with its parent is gone: the parent, held until then
 * (zr_service__cascade_held), stops its server and runs its on_delete actions once its last
 * child is gone. */
static void release_parent(struct zr_robot *r, const struct zr_service *s)
{
	struct zr_service *p, **v = NULL;
	size_t n = 0;
	if (!s->parent) {
		return;
	}
	/* Every one of that name (a namesake made and deleted meanwhile waited too), gathered
	 * first: a release may end deletions, which changes the list. */
	zr_list_for_each(p, &r->deleting, delete_link) {
		if (strcmp(p->path, s->parent) == 0) {
			struct zr_service **nv = realloc(v, (n + 1) * sizeof(*v));
			if (!nv) {
				log_error("Service %s: out of memory while releasing its parent, ignoring",
					  s->path);
				break;
			}
			v = nv;
			v[n++] = p;
			zr_service_ref(p);
		}
	}
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->closing && !zr_service__cascade_held(v[i])) {
			zr_service__process_delete(v[i], on_server_stopped);
		}
		zr_service_unref(v[i]);
	}
	free(v);
}

void zr_robot__service_idle(struct zr_robot *r, struct zr_service *s)
{
	if (zr_service__cascade_held(s)) {
		return; /* its children first: release_parent comes back */
	}
	zr_list_remove(&s->delete_link);
	log_info("Deleted service %s", s->path);
	if (zr_store_service_delete(r->cfg.store, s->guid) < 0) {
		log_error("Service %s: its removal is not recorded in the store: out of memory, "
			  "ignoring (it is deleted again at the next start)", s->path);
	}
	struct rm_work *w = calloc(1, sizeof(*w));
	if (w && (w->path = zr_service__workdir(s))) {
		w->req.data = w;
		if (uv_queue_work(r->loop, &w->req, rm_tree_work, rm_tree_done) == 0) {
			w = NULL;
		} else {
			free(w->path);
		}
	}
	free(w);
	zr_service__close(s);
	/* After: its deletion is logged and stored before its parent's (s stays allocated until
	 * its handles close, after this turn). */
	release_parent(r, s);
}

/* A deleted service's server is gone (or it had none): its on_delete actions run, then it
 * goes. Also for one restored while being deleted. */
static void on_server_stopped(struct zr_service *s)
{
	struct zr_robot *r = s->robot;
	if (r->stopping) {
		return; /* its on_delete actions are stored: the next start runs them */
	}
	if (zr_service__idle(s)) {
		zr_robot__service_idle(r, s);
	} else if (zr_queue_peek(&s->queue)) {
		/* Its on_delete actions still to run (one cut short runs again). */
		zr_robot__want_slot(r, s);
	}
}

/* Detaches a service whose deletion is durable, queues its on_delete actions (durably, so a
 * restart runs them) and stops its server; they run once it is gone (zr_service__run_next
 * waits for it). */
static void service_detach(struct zr_robot *r, struct zr_service *s)
{
	struct zr_robot_template *rt = zr_robot_template(r, s->template->name);
	if (rt && zr_map_get(&rt->services, s->name) == s) {
		(void)zr_map_del(&rt->services, s->name);
		rt->mtime_ns = zr_now_ns();
	}
	zr_service__unindex(s);
	zr_list_push_back(&r->deleting, &s->delete_link);
	zr_service__begin_delete(s);
	if (!zr_service__cascade_held(s)) {
		zr_service__process_delete(s, on_server_stopped);
	}
}

/* A deletion: the services it deletes (a force-cascade's children first, deepest first, the
 * service asked for last), all committed in one group. */
struct delete {
	struct zr_service **v; /* each referenced */
	size_t n;
	void (*cb)(int err, void *data);
	void *data;
};

static void on_deleted(int err, void *data)
{
	struct delete *d = data;
	for (size_t i = 0; i < d->n; i++) {
		struct zr_service *s = d->v[i];
		struct zr_robot *r = s->robot;
		if (err < 0) {
			log_error("Failed to delete service %s: %s", s->path, strerror(-err));
			s->delete_requested = false;
		} else {
			zr_service__event(s, "service.deleted", NULL);
			zr_service__links(s, s->data, NULL);
			if (r->hooks.service_removed) {
				r->hooks.service_removed(s, r->hooks.data);
			}
			service_detach(r, s);
			zr_relations__producer_changed(r, s);
		}
	}
	d->cb(err, d->data);
	for (size_t i = 0; i < d->n; i++) {
		zr_service_unref(d->v[i]);
	}
	free(d->v);
	free(d);
}

void zr_robot_consumers(struct zr_robot *r, const struct zr_service *s,
			void (*fn)(struct zr_service *consumer, const char *role, void *data), void *data)
{
	size_t n;
	const struct zr_index_entry *filed = zr_robot__index_consumers(r, s->path, &n);
	if (n == 0) {
		return;
	}
	/* A copy: fn may change what a service names, which changes the index. */
	struct zr_index_entry few[16], *v = n <= 16 ? few : reallocarray(NULL, n, sizeof(*v));
	if (!v) {
		log_error("Service %s: out of memory while listing its consumers, ignoring", s->path);
		return;
	}
	memcpy(v, filed, n * sizeof(*v));
	for (size_t i = 0; i < n; i++) {
		struct zr_service *c = v[i].s;
		if (v[i].role < c->template->n_roles) {
			fn(c, c->template->roles[v[i].role].name, data);
		}
	}
	if (v != few) {
		free(v);
	}
}

static void count_consumer(struct zr_service *c, const char *role, void *data)
{
	struct zr_buf *b = data;
	(void)zr_buf_printf(b, "%s%s (%s)", b->len ? ", " : "", c->path, role);
}

static void count_rconsumers(const struct zr_service *s, struct zr_buf *b)
{
	const char *key;
	json_t *v;
	json_object_foreach(s->rconsumers, key, v) {
		(void)zr_buf_printf(b, "%s%s", b->len ? ", " : "", key);
	}
}

/* The services a deletion of s takes, in order (its descendants deepest first when forced,
 * then s), or a refusal: -EBUSY (consumers or children without force, a child still being
 * created or deleted), -ENOENT (s already being deleted), -ENOMEM. */
static int delete_set(struct zr_robot *r, struct zr_service *s, struct zr_service ***ret,
		      size_t *ret_n)
{
	struct zr_buf consumers = {0};
	zr_robot_consumers(r, s, count_consumer, &consumers);
	count_rconsumers(s, &consumers);
	if (consumers.len > 0 && !s->force_delete) {
		log_warn("Refused to delete %s: it has consumers: %s (write 'force' to its ctl to delete "
			 "it anyway)", s->path, consumers.data);
		zr_buf_done(&consumers);
		return -EBUSY;
	}
	zr_buf_done(&consumers);
	if (s->delete_requested || s->pending) {
		return s->pending ? -EBUSY : -ENOENT;
	}
	_cleanup_free_ char *kids = zr_service__children_text(r, s);
	if (kids && !s->force_delete) {
		_cleanup_free_ char *why = NULL;
		if (asprintf(&why, "has children: %s; write force to ctl first", kids) >= 0) {
			zr_service_refuse(s, s->path, EBUSY, why);
		}
		return -EBUSY;
	}
	struct zr_service **v = NULL;
	size_t n = 0;
	int err = kids ? zr_service__descendants(r, s, false, &v, &n) : 0;
	if (err < 0) {
		return err == -ELOOP ? -EBUSY : err;
	}
	struct zr_service **all = realloc(v, (n + 1) * sizeof(*all));
	if (!all) {
		free(v);
		return -ENOMEM;
	}
	all[n++] = s;
	for (size_t i = 0; i + 1 < n; i++) {
		if (all[i]->pending || all[i]->delete_requested) {
			log_warn("Refused to delete %s: its child %s is being %s", s->path, all[i]->path,
				 all[i]->pending ? "created" : "deleted");
			free(all);
			return -EBUSY;
		}
	}
	*ret = all;
	*ret_n = n;
	return 0;
}

void zr_robot_delete_service(struct zr_robot *r, struct zr_service *s, void (*cb)(int err, void *data),
			     void *cbdata)
{
	struct zr_service **v = NULL;
	size_t n = 0;
	int err = delete_set(r, s, &v, &n);
	struct delete *d = err == 0 ? calloc(1, sizeof(*d)) : NULL;
	if (err == 0 && !d) {
		err = -ENOMEM;
	}
	const char **guids = err == 0 ? calloc(n, sizeof(*guids)) : NULL;
	if (err == 0 && !guids) {
		err = -ENOMEM;
	}
	for (size_t i = 0; err == 0 && i < n; i++) {
		guids[i] = v[i]->guid;
	}
	/* All together or none: the answer is for the whole set. */
	if (err == 0) {
		err = zr_store_services_deleting(r->cfg.store, guids, n);
	}
	free(guids);
	if (err < 0) {
		free(v);
		free(d);
		cb(err, cbdata);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		v[i]->delete_requested = true;
		zr_service_ref(v[i]);
		if (i + 1 < n) {
			log_info("Deleting %s with its parent %s", v[i]->path, s->path);
		}
	}
	*d = (struct delete){.v = v, .n = n, .cb = cb, .data = cbdata};
	zr_store_sync(r->cfg.store, on_deleted, d);
}

/* ---- loading the store ---- */

static int cmp_action(const void *a, const void *b)
{
	return strcmp(((const struct zr_action_def *)a)->name, ((const struct zr_action_def *)b)->name);
}

/* Gives a stand-in the action its stored tasks name, so they stay listed (they never run: a
 * stand-in's services refuse and hold their queues until upgraded). Called before any task
 * points into the array. */
static int stub_add_action(struct zr_template *t, const char *name)
{
	if (zr_template_action(t, name)) {
		return 0;
	}
	struct zr_action_def *a = realloc(t->actions, (t->n_actions + 1) * sizeof(*a));
	if (!a) {
		return -ENOMEM;
	}
	t->actions = a;
	a = &t->actions[t->n_actions];
	*a = (struct zr_action_def){.retry = {.tries = 1, .delay = 1, .backoff = 2}};
	if (!(a->name = strdup(name)) || !(a->path = strdup("")) ||
	    zr_schema_parse(NULL, NULL, &a->args, NULL) < 0) {
		free(a->name);
		free(a->path);
		return -ENOMEM;
	}
	t->n_actions++;
	qsort(t->actions, t->n_actions, sizeof(*t->actions), cmp_action);
	return 0;
}

/* The version a stored service was made from, or a stand-in when it is not loaded now. */
static struct zr_template *stored_template(struct zr_robot *r, const char *name, const char *uid)
{
	struct zr_robot_template *rt = zr_robot_template(r, name);
	struct zr_template *t = rt ? zr_robot_template_find(rt, uid) : NULL;
	if (t) {
		return t;
	}
	const char *v = strrchr(uid, '/');
	t = calloc(1, sizeof(*t));
	if (!t || !(t->name = strdup(name)) || !(t->uid = strdup(uid)) ||
	    !(t->version = strdup(v && zr_semver_valid(v + 1) ? v + 1 : "0.0.0")) ||
	    !(t->dir = strdup("")) || zr_schema_parse(NULL, NULL, &t->data, NULL) < 0) {
		zr_template_free(t);
		return NULL;
	}
	t->missing = true;
	if (zr_robot_add_template(r, t) < 0) {
		zr_template_free(t);
		return NULL;
	}
	log_error("Template %s of stored services is not loaded: they stay, refusing actions until "
		  "upgraded", uid);
	return t;
}

static int stub_action(const char *tmpl, const char *uid, const char *action, void *data)
{
	struct zr_template *t = stored_template(data, tmpl, uid);
	if (!t) {
		return -ENOMEM;
	}
	return t->missing ? stub_add_action(t, action) : 0;
}

/* The services loaded so far, by guid, for the rows of tasks and consumers that name them:
 * by_hash by a hash of the guid (an integer map keeps no copies of the keys, which would stay
 * behind as 100,000 holes in the heap), by_guid for the rare guid whose hash another took. */
struct load {
	struct zr_robot *r;
	struct zr_map by_hash, by_guid;
	size_t services, tasks, skipped;
};

static uint64_t guid_hash(const char *guid)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
	for (; *guid; guid++) {
		h = (h ^ (unsigned char)*guid) * 0x100000001b3ULL;
	}
	return h;
}

static int load_put(struct load *l, struct zr_service *s)
{
	int err = zr_imap_put(&l->by_hash, guid_hash(s->guid), s);
	return err == -EEXIST ? zr_map_put(&l->by_guid, s->guid, s) : err;
}

static struct zr_service *load_get(const struct load *l, const char *guid)
{
	struct zr_service *s = zr_imap_get(&l->by_hash, guid_hash(guid));
	return s && strcmp(s->guid, guid) == 0 ? s : zr_map_get(&l->by_guid, guid);
}

static void load_del(struct load *l, struct zr_service *s)
{
	uint64_t h = guid_hash(s->guid);
	if (zr_imap_get(&l->by_hash, h) == s) {
		(void)zr_imap_del(&l->by_hash, h);
	} else {
		(void)zr_map_del(&l->by_guid, s->guid);
	}
}

static int load_service(const struct zr_store_service *row, void *data)
{
	struct load *l = data;
	struct zr_robot *r = l->r;
	_cleanup_free_ char *why = NULL;
	struct zr_service *s;
	struct zr_template *t = stored_template(r, row->template, row->uid);
	struct zr_robot_template *rt = zr_robot_template(r, row->template);
	if (!t || !rt) {
		return -ENOMEM;
	}
	int err = zr_service_restore(r, t, row, &s, &why);
	if (err < 0) {
		log_error("Failed to restore service %s/%s: %s", row->template, row->name,
			  why ? why : strerror(-err));
		l->skipped++;
		return err == -ENOMEM ? err : 0;
	}
	if (t->missing) {
		(void)zr_service_set_state(s, "template", "missing", "error");
	} else if (json_object_get(s->state, "template missing")) {
		/* The template came back. */
		zr_service__state_del(s, "template missing");
		(void)zr_service_set_state(s, "template", "version", "ok");
	}
	s->deleting = row->deleting;
	if (row->upgrade_to) {
		/* Asked for before a restart: carried out once everything is loaded. */
		const struct zr_template *to = zr_robot_template_find(rt, row->upgrade_to);
		if (to && !to->missing && to != s->template) {
			s->upgrade_to = to;
		} else if (!to || to->missing) {
			log_warn("Service %s was to move to %s, which is not loaded: it stays at %s", s->path,
				 row->upgrade_to, s->template->uid);
		}
	}
	if (load_put(l, s) < 0) {
		zr_service__close(s);
		return -ENOMEM;
	}
	if (row->deleting) {
		zr_list_push_back(&r->deleting, &s->delete_link);
	} else if (zr_map_put(&rt->services, s->name, s) < 0) {
		log_error("Duplicate service %s in the store, ignoring the second", s->path);
		load_del(l, s);
		zr_service__close(s);
		return 0;
	} else {
		zr_service__index(s);
	}
	l->services++;
	/* The producers on other robots hear from us again: they may have missed a change. */
	zr_service__links(s, NULL, s->data);
	return 0;
}

static int load_rconsumer(const char *producer, const char *robot, const char *consumer, void *data)
{
	struct load *l = data;
	struct zr_service *s = load_get(l, producer);
	int err = s ? zr_service__rconsumer_apply(s, robot, consumer, true) : 0;
	return err == -ENOMEM ? err : 0;
}

static int load_task(const struct zr_store_task *row, void *data)
{
	struct load *l = data;
	struct zr_service *s = load_get(l, row->service_guid);
	_cleanup_free_ char *why = NULL;
	if ((uint64_t)row->id > l->r->next_task_id) {
		l->r->next_task_id = (uint64_t)row->id;
	}
	if (!s) {
		l->skipped++;
		return 0;
	}
	int err = zr_service__restore_task(s, row, &why);
	if (err == -ENOMEM) {
		return err;
	}
	if (err < 0) {
		log_warn("Skipping a stored task: %s", why ? why : strerror(-err));
		l->skipped++;
		return 0;
	}
	l->tasks++;
	return 0;
}

int zr_robot_load_store(struct zr_robot *r)
{
	struct load l = {.r = r};
	long long t0 = zr_now_ns();
	int64_t last = zr_store_last_task_id(r->cfg.store);
	if ((uint64_t)last > r->next_task_id) {
		r->next_task_id = (uint64_t)last;
	}
	int err = zr_store_actions(r->cfg.store, stub_action, r);
	if (err == 0) {
		err = zr_store_load(r->cfg.store, load_service, load_task, &l);
	}
	if (err == 0) {
		err = zr_store_rconsumers(r->cfg.store, load_rconsumer, &l);
	}
	if (err == 0) {
		err = zr_apply_load(r);
	}

	zr_map_done(&l.by_hash);
	zr_map_done(&l.by_guid);
	zr_service__load_done(r);
	if (err < 0) {
		return err;
	}
	zr_service__parents_check(r);
	log_info("Loaded %zu services and %zu tasks from the store in %.1f ms%s", l.services, l.tasks,
		 (double)(zr_now_ns() - t0) / 1e6, l.skipped ? " (some skipped, see above)" : "");
	return 0;
}

static void start_service(struct zr_service *s)
{
	struct zr_robot *r = s->robot;
	zr_service__trim(s);
	if (s->deleting) {
		/* A server left running by the last robot is found, then stopped (a parent's once
		 * its children being deleted with it are gone: release_parent). */
		zr_service__process_start(s);
		if (!zr_service__cascade_held(s)) {
			zr_service__process_delete(s, on_server_stopped);
		}
		return;
	}
	if (s->upgrade_to) {
		/* Asked for before a restart: the running task it waited for is over. Switching
		 * activates the service and asks for a slot. */
		zr_service__upgrade_if_idle(s);
		return;
	}
	/* A template's roles may have changed since the state lines were written. */
	zr_relations__update(s);
	zr_service__activate(s);
	if (zr_queue_peek(&s->queue)) {
		zr_robot__want_slot(r, s);
	}
}

static void for_each_service(struct zr_robot *r, void (*fn)(struct zr_service *s));

/* Where servers' cgroups go, found once: every server of this run uses the same answer. */
static void find_cgroup_base(struct zr_robot *r)
{
	_cleanup_free_ char *why = NULL;
	if (r->cfg.no_cgroups) {
		log_info("Supervised servers run in process groups (--no-cgroups)");
		return;
	}
	int err = zr_cgroup_base(&r->cgroup_base, &why);
	if (err < 0) {
		r->cgroup_base = NULL;
		log_warn("Supervised servers run in process groups, not cgroups: %s",
			 why ? why : strerror(-err));
	} else {
		log_info("Supervised servers get cgroups under %s", r->cgroup_base);
	}
}

static void on_sample(uv_timer_t *timer)
{
	struct zr_robot *r = timer->data;
	size_t n = 0;
	struct zr_sup **sups = r->sups ? malloc(r->sups * sizeof(*sups)) : NULL;
	if (!sups) {
		return;
	}
	struct zr_robot_iter it = {0};
	for (struct zr_service *s; (s = zr_robot_next_service(r, &it)) && n < r->sups;) {
		struct zr_sup *sup = zr_service_sup(s);
		if (sup) {
			sups[n++] = sup;
		}
	}
	zr_sup_sample(sups, n);
	free(sups);
}

void zr_robot_start(struct zr_robot *r)
{
	find_cgroup_base(r);
	for_each_service(r, start_service);
	if (r->cfg.sample_interval > 0) {
		uint64_t ms = (uint64_t)(r->cfg.sample_interval * 1000);
		(void)uv_timer_start(&r->sample_timer, on_sample, ms, ms);
	}
}

const char *zr_robot__event(struct zr_robot *r, const char *type, json_t *ev)
{
	char ts[40];
	json_t *o = json_pack("{sI ss ss}", "seq", (json_int_t)++r->event_seq, "time",
			      zr_time_format(zr_now_ns(), ts), "event", type);
	if (o && ev) {
		(void)json_object_update(o, ev);
	}
	json_decref(ev);
	free(r->last_event);
	r->last_event = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (r->last_event) {
		(void)zr_journal_append(&r->events, r->last_event, strlen(r->last_event));
		zr_webhooks_event(r->webhooks, type, r->last_event);
	}
	return r->last_event;
}

/* Hands free job slots to waiting services, in the order they asked. A service that starts
 * may end at once (its action cannot start) and so release its slot and ask again: those
 * calls land here while the loop below runs, and only change the counts and the list it
 * reads (no recursion). */
static void kick(struct zr_robot *r)
{
	if (r->kicking) {
		return;
	}
	r->kicking = true;
	while (!r->stopping && r->running < r->cfg.jobs && !zr_list_empty(&r->ready)) {
		struct zr_service *s = container_of(r->ready.next, struct zr_service, ready_link);
		zr_list_remove(&s->ready_link);
		r->running++;
		s->has_slot = true;
		zr_service__run_next(s);
	}
	r->kicking = false;
}

void zr_robot__want_slot(struct zr_robot *r, struct zr_service *s)
{
	if (s->has_slot || s->closing) {
		return;
	}
	/* A parent deleted with its children runs its on_delete actions after theirs:
	 * release_parent asks again. */
	if (s->deleting && zr_service__cascade_held(s)) {
		return;
	}
	if (zr_list_empty(&s->ready_link)) {
		zr_list_push_back(&r->ready, &s->ready_link);
	}
	kick(r);
}

void zr_robot__release_slot(struct zr_robot *r, struct zr_service *s)
{
	if (!s->has_slot) {
		return;
	}
	s->has_slot = false;
	r->running--;
	kick(r);
}

static void on_stopped(uv_timer_t *t)
{
	struct zr_robot *r = t->data;
	void (*cb)(struct zr_robot *) = r->stopped_cb;
	r->stopped_cb = NULL;
	if (cb) {
		cb(r);
	}
}

void zr_robot__process_ended(struct zr_robot *r)
{
	if (r->stopping && r->running_processes == 0 && r->sups_closing == 0 && r->parsing == 0 &&
	    r->stopped_cb) {
		/* From a timer, not from inside the runner's callback that got us here. */
		(void)uv_timer_start(&r->stop_timer, on_stopped, 0, 0);
	}
}

struct zr_service *zr_robot_next_service(const struct zr_robot *r, struct zr_robot_iter *it)
{
	void *v;
	for (;;) {
		if (it->rt && zr_map_next(&it->rt->services, &it->service, NULL, NULL, &v)) {
			return v;
		}
		if (!zr_map_next(&r->templates, &it->template, NULL, NULL, &v)) {
			return NULL;
		}
		it->rt = v;
		it->service = 0;
	}
}

/* Every service: those in the tree, then those finishing their deletion. */
static void for_each_service(struct zr_robot *r, void (*fn)(struct zr_service *s))
{
	struct zr_robot_iter it = {0};
	for (struct zr_service *s; (s = zr_robot_next_service(r, &it));) {
		fn(s);
	}
	struct zr_service *s, *tmp;
	zr_list_for_each_safe(s, tmp, &r->deleting, delete_link) {
		fn(s);
	}
}

void zr_robot_stop(struct zr_robot *r, void (*cb)(struct zr_robot *r))
{
	if (r->stopping) {
		return;
	}
	r->stopping = true;
	r->stopped_cb = cb;
	(void)uv_timer_stop(&r->sample_timer);
	log_info("Stopping: %d action processes to end, %u supervised servers to %s",
		 r->running_processes, r->sups, r->cfg.stop_on_exit ? "stop" : "leave running");
	for_each_service(r, zr_service__kill);
	for_each_service(r, zr_service__process_shutdown);
	zr_robot__process_ended(r);
}

/* The robot is freed with the last of its two timers. */
static void on_robot_closed(uv_handle_t *h)
{
	struct zr_robot *r = h->data;
	if (--r->timers_open == 0) {
		free(r);
	}
}

void zr_robot_destroy(struct zr_robot *r)
{
	if (!r) {
		return;
	}
	zr_log_set_sink(NULL, NULL);
	zr_repos_destroy(r->repos);
	r->repos = NULL;
	size_t i = 0;
	void *v;
	while (zr_map_next(&r->templates, &i, NULL, NULL, &v)) {
		struct zr_robot_template *rt = v;
		size_t j = 0;
		void *sv;
		while (zr_map_next(&rt->services, &j, NULL, NULL, &sv)) {
			zr_service__close(sv);
		}
		zr_map_done(&rt->services);
	}
	struct zr_service *s, *tmp;
	zr_list_for_each_safe(s, tmp, &r->deleting, delete_link) {
		zr_list_remove(&s->delete_link);
		zr_service__close(s);
	}
	zr_robot__index_done(r); /* empty by now: each close took its service out */
	zr_service__load_done(r);
	/* Templates outlive the services' close callbacks only by what those callbacks touch:
	 * tasks and journals, never the template. */
	i = 0;
	while (zr_map_next(&r->templates, &i, NULL, NULL, &v)) {
		struct zr_robot_template *rt = v;
		for (size_t k = 0; k < rt->n_versions; k++) {
			zr_template_free(rt->versions[k]);
		}
		free(rt->versions);
		free(rt);
	}
	zr_map_done(&r->templates);
	zr_apply_free_all(r);
	zr_quota_done(&r->quota);
	zr_journal_done(&r->events);
	zr_journal_done(&r->log);
	zr_metrics_done(&r->metrics);
	free(r->last_event);
	free((char *)r->cfg.mount);
	free((char *)r->cfg.data_dir);
	free((char *)r->cfg.name);
	free((char *)r->cfg.launcher);
	free(r->cgroup_base);
	r->timers_open = 2;
	uv_close((uv_handle_t *)&r->stop_timer, on_robot_closed);
	uv_close((uv_handle_t *)&r->sample_timer, on_robot_closed);
}

/* ---- Wiring (robot.h): setters and getters for the composition root ---- */

void zr_robot_set_store(struct zr_robot *r, struct zr_store *store)
{
	r->cfg.store = store;
}

void zr_robot_set_links(struct zr_robot *r, zr_robot_link_cb fn, void *data)
{
	r->links.fn = fn;
	r->links.data = data;
}

void zr_robot_set_hooks(struct zr_robot *r, const struct zr_robot_hooks *hooks)
{
	r->hooks = *hooks;
}

void zr_robot_set_webhooks(struct zr_robot *r, struct zr_webhooks *wh)
{
	r->webhooks = wh;
}

void zr_robot_set_http_url(struct zr_robot *r, const char *url)
{
	r->http_url = url;
}

const char *zr_robot_name(const struct zr_robot *r)
{
	return r->cfg.name;
}

struct zr_repos *zr_robot_repos(const struct zr_robot *r)
{
	return r->repos;
}

uint64_t *zr_robot_fuse_requests(struct zr_robot *r)
{
	return &r->metrics.fuse_requests;
}

uv_loop_t *zr_robot_loop(const struct zr_robot *r)
{
	return r->loop;
}
