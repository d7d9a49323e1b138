/* The tree: inode numbers for the robot's objects, their attributes and contents, and the
 * reads that wait for tasks. Nodes are resolved from the model by name on every operation, so
 * a node whose object is gone answers ENOENT instead of pointing at freed memory. */
#include "tree-provider.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "payload.h"
#include "remote/remote.h"
#include "repo.h"
#include "repos.h"
#include "robot.h"
#include "service.h"
#include "task.h"
#include "template.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/map.h"

enum ntype {
	N_ROOT,
	N_ROBOT,
	N_ROBOT_INFO,
	N_ROBOT_LOG,
	N_ROBOT_EVENTS,
	N_ROBOT_METRICS,
	N_RTEMPLATES,
	N_RTEMPLATE,
	N_RTFILE,
	N_TEMPLATE,
	N_SERVICE,
	N_ACTIONS,
	N_ACTION,
	N_RESULTS,
	N_RESULT,
	N_TASKS,
	N_QUEUE,
	N_TASK,
	N_TASKFILE,
	N_SVCFILE,
	N_REPOS,
	N_REPOS_ADD,
	N_REPO,
	N_REPOFILE,
	N_PRODUCERS,
	N_PRODUCER,
	N_CONSUMERS,
	N_CONSUMER,
	N_REMOTES,      /* @remote: its entries are remote robots' roots (remote/remote.h) */
	N_RREMOTES,     /* @robot/remotes */
	N_RREMOTES_ADD,
	N_RREMOTES_CTL,
	N_RREMOTE,
	N_RREMOTEFILE,
};

enum { RT_MANIFEST, RT_UID, RT_VERSIONS, RT_SOURCE };
enum { RP_URL, RP_REF, RP_COMMIT, RP_STATUS, RP_CTL };
enum { RM_URL, RM_STATUS };
enum { SF_STATE, SF_DATA, SF_INFO, SF_LOG, SF_EVENTS, SF_LASTERROR, SF_UPGRADE, SF_CTL };
enum {
	TF_ACTION, TF_ARGS, TF_STATE, TF_CREATED, TF_STARTED, TF_FINISHED,
	TF_RESULT, TF_ERROR, TF_LOG, TF_PROGRESS, TF_CANCEL,
};

/* The fixed entries of fixed directories. */
struct fixed {
	const char *name;
	enum ntype type;
	int field;
	mode_t mode;
};

static const struct fixed robot_entries[] = {
	{"events", N_ROBOT_EVENTS, 0, S_IFREG | 0444},
	{"info", N_ROBOT_INFO, 0, S_IFREG | 0444},
	{"log", N_ROBOT_LOG, 0, S_IFREG | 0444},
	{"metrics", N_ROBOT_METRICS, 0, S_IFREG | 0444},
	{"remotes", N_RREMOTES, 0, S_IFDIR | 0555},
	{"repos", N_REPOS, 0, S_IFDIR | 0555},
	{"templates", N_RTEMPLATES, 0, S_IFDIR | 0555},
	{NULL, 0, 0, 0},
};
static const struct fixed repo_entries[] = {
	{"commit", N_REPOFILE, RP_COMMIT, S_IFREG | 0444},
	{"ctl", N_REPOFILE, RP_CTL, S_IFREG | 0200},
	{"ref", N_REPOFILE, RP_REF, S_IFREG | 0444},
	{"status", N_REPOFILE, RP_STATUS, S_IFREG | 0444},
	{"url", N_REPOFILE, RP_URL, S_IFREG | 0444},
	{NULL, 0, 0, 0},
};
static const struct fixed rremote_entries[] = {
	{"status", N_RREMOTEFILE, RM_STATUS, S_IFREG | 0444},
	{"url", N_RREMOTEFILE, RM_URL, S_IFREG | 0444},
	{NULL, 0, 0, 0},
};
static const struct fixed rtemplate_entries[] = {
	{"manifest", N_RTFILE, RT_MANIFEST, S_IFREG | 0444},
	{"source", N_RTFILE, RT_SOURCE, S_IFREG | 0444},
	{"uid", N_RTFILE, RT_UID, S_IFREG | 0444},
	{"versions", N_RTFILE, RT_VERSIONS, S_IFREG | 0444},
	{NULL, 0, 0, 0},
};
static const struct fixed service_entries[] = {
	{"actions", N_ACTIONS, 0, S_IFDIR | 0555},
	{"consumers", N_CONSUMERS, 0, S_IFDIR | 0555},
	{"ctl", N_SVCFILE, SF_CTL, S_IFREG | 0200},
	{"data", N_SVCFILE, SF_DATA, S_IFREG | 0600},
	{"events", N_SVCFILE, SF_EVENTS, S_IFREG | 0444},
	{"info", N_SVCFILE, SF_INFO, S_IFREG | 0444},
	{"lasterror", N_SVCFILE, SF_LASTERROR, S_IFREG | 0444},
	{"log", N_SVCFILE, SF_LOG, S_IFREG | 0444},
	{"producers", N_PRODUCERS, 0, S_IFDIR | 0555},
	{"results", N_RESULTS, 0, S_IFDIR | 0555},
	{"state", N_SVCFILE, SF_STATE, S_IFREG | 0444},
	{"tasks", N_TASKS, 0, S_IFDIR | 0555},
	{"upgrade", N_SVCFILE, SF_UPGRADE, S_IFREG | 0600},
	{NULL, 0, 0, 0},
};
static const struct fixed task_entries[] = {
	{"action", N_TASKFILE, TF_ACTION, S_IFREG | 0444},
	{"args", N_TASKFILE, TF_ARGS, S_IFREG | 0444},
	{"cancel", N_TASKFILE, TF_CANCEL, S_IFREG | 0200},
	{"created", N_TASKFILE, TF_CREATED, S_IFREG | 0444},
	{"error", N_TASKFILE, TF_ERROR, S_IFREG | 0444},
	{"finished", N_TASKFILE, TF_FINISHED, S_IFREG | 0444},
	{"log", N_TASKFILE, TF_LOG, S_IFREG | 0444},
	{"progress", N_TASKFILE, TF_PROGRESS, S_IFREG | 0444},
	{"result", N_TASKFILE, TF_RESULT, S_IFREG | 0444},
	{"started", N_TASKFILE, TF_STARTED, S_IFREG | 0444},
	{"state", N_TASKFILE, TF_STATE, S_IFREG | 0444},
	{NULL, 0, 0, 0},
};

struct node {
	struct zr_tree_node base; /* ino, nlookup: the tree's */
	struct node *parent;
	char *name;
	char *key; /* "<parent ino>/<name>" in tree->by_name, NULL once detached */
	enum ntype type;
	int field;
	uint64_t serial; /* service serial or task id: tells a new object from an old namesake */
	unsigned nopen;
	unsigned nchildren;
};

/* What a node resolves to; each field is borrowed from the model for one operation. */
struct ctx {
	struct zr_robot_template *rt;
	struct zr_service *svc;
	struct zr_task *task;
	const struct zr_action_def *action;
	struct zr_repo *repo;
};

struct handle {
	struct zr_handle base;
	struct zr_local *tree;
	struct node *node;
	struct zr_service *svc; /* ref'd: the service of a file under one, even once deleted */
	struct zr_list link; /* in tree->handles */
	struct zr_buf content; /* snapshot of a small file, made at open and at a read of 0 */
	char **names;          /* directory snapshot */
	size_t n_names;
	uint64_t task_id;      /* the task a result read waits for, 0 = none */
	/* The file offset where reading the result of the last write began: after write(2) the
	 * position is past the payload, and the result starts there, not at 0. */
	uint64_t result_base;
	bool result_base_set;
	struct zr_journal_cursor cursor;
	uint64_t pos;          /* where the last read ended, for poll */
	struct zr_buf wbuf;    /* data body written so far */
	bool wpending;         /* wbuf not applied yet */
	void *ph;
	struct zr_waiter poll_waiter;
	unsigned inflight; /* requests waiting for a commit */
	bool released;
};

struct parked {
	struct zr_tree_req base;
	struct zr_waiter w;
	struct zr_local *tree;
	struct handle *h;
	uint64_t off;
	size_t size;
	zr_tree_read_cb cb;
	void *data;
	struct zr_list link; /* in tree->parked */
};

struct zr_local {
	struct zr_tree *tree;
	struct zr_robot *robot;
	struct zr_map by_name; /* key → node */
	struct node root_node; /* the tree's root (N_ROOT) */
	struct node *root;
	struct zr_list handles;
	struct zr_list parked;
	size_t n_parked;
	struct zr_buf scratch; /* sizes of small files */
	char *read_mem;        /* journal reads are copied here for the reply */
	size_t read_cap;
};

/* ---- nodes ---- */

static const struct zr_tree_provider local_provider;

/* The local provider of a node: its root is embedded in it. */
static struct zr_local *local_of(const struct node *n)
{
	while (n->parent) {
		n = n->parent;
	}
	return container_of(n, struct zr_local, root_node);
}

static struct handle *handle_of(struct zr_handle *h)
{
	return container_of(h, struct handle, base);
}

static struct node *node_of(struct zr_tree_node *n)
{
	return container_of(n, struct node, base);
}

static struct node *node_get(struct zr_local *t, uint64_t ino)
{
	struct zr_tree_node *n = zr_tree__node(t->tree, ino);
	return n && n->prov == &local_provider ? node_of(n) : NULL;
}

static void node_detach(struct zr_local *t, struct node *n)
{
	if (n->key) {
		(void)zr_map_del(&t->by_name, n->key);
		free(n->key);
		n->key = NULL;
	}
}

static void node_maybe_free(struct zr_local *t, struct node *n)
{
	while (n && n != t->root && n->base.nlookup == 0 && n->nopen == 0 && n->nchildren == 0) {
		struct node *parent = n->parent;
		node_detach(t, n);
		zr_tree__node_del(t->tree, &n->base);
		free(n->name);
		free(n);
		parent->nchildren--;
		n = parent;
	}
}

/* The node for (parent, name) of this identity: the existing one, or a new one when there is
 * none or the existing one stands for an object that is gone (it lives on, detached, until
 * the kernel forgets it). */
static struct node *node_child(struct zr_local *t, struct node *parent, const char *name,
			       enum ntype type, int field, uint64_t serial)
{
	char *key = NULL;
	if (asprintf(&key, "%" PRIu64 "/%s", parent->base.ino, name) < 0) {
		return NULL;
	}
	struct node *n = zr_map_get(&t->by_name, key);
	if (n && n->type == type && n->field == field && n->serial == serial) {
		free(key);
		return n;
	}
	if (n) {
		node_detach(t, n);
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strdup(name))) {
		free(n);
		free(key);
		return NULL;
	}
	n->base.prov = &local_provider;
	n->parent = parent;
	n->type = type;
	n->field = field;
	n->serial = serial;
	n->key = key;
	if (zr_map_put(&t->by_name, key, n) < 0 || zr_tree__node_add(t->tree, &n->base) < 0) {
		(void)zr_map_del(&t->by_name, key);
		free(n->name);
		free(key);
		free(n);
		return NULL;
	}
	parent->nchildren++;
	return n;
}

static const struct fixed *fixed_find(const struct fixed *f, const char *name)
{
	for (; f->name; f++) {
		if (strcmp(f->name, name) == 0) {
			return f;
		}
	}
	return NULL;
}

static bool parse_id(const char *s, uint64_t *ret)
{
	if (!*s || *s == '0' || strlen(s) > 19) {
		return false;
	}
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9') {
			return false;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return true;
}

struct consumer_walk {
	const char *want; /* "<template>.<service>" to find, or NULL to list */
	struct zr_service *found;
	struct handle *h;
	size_t *cap;
	int err;
};

static int add_name(struct handle *h, const char *name, size_t *cap);

static void on_consumer(struct zr_service *c, const char *role, void *data)
{
	struct consumer_walk *w = data;
	char name[256];
	(void)role;
	snprintf(name, sizeof(name), "%s.%s", c->template->name, c->name);
	if (w->want && strcmp(w->want, name) == 0) {
		w->found = c;
	} else if (!w->want && w->err == 0 && !(w->h->n_names > 0 && strcmp(w->h->names[w->h->n_names - 1], name) == 0)) {
		w->err = add_name(w->h, name, w->cap);
	}
}

/* The consumer "<template>.<service>" of producer p, or NULL. */
static struct zr_service *consumer_find(struct zr_local *t, const struct zr_service *p, const char *name)
{
	struct consumer_walk w = {.want = name};
	zr_robot_consumers(t->robot, p, on_consumer, &w);
	return w.found;
}

/* Finds child name of a directory of type ptype resolved to c; fills c further.
 * Returns 0 with its type, field and serial, or -ENOENT. */
static int child_of(struct zr_local *t, enum ntype ptype, struct ctx *c, const char *name,
		    enum ntype *type, int *field, uint64_t *serial)
{
	const struct fixed *f = NULL;
	uint64_t id;
	*field = 0;
	*serial = 0;
	switch (ptype) {
	case N_ROOT:
		if (strcmp(name, "@robot") == 0) {
			*type = N_ROBOT;
			return 0;
		}
		if (strcmp(name, "@remote") == 0) {
			*type = N_REMOTES;
			return 0;
		}
		c->rt = zr_robot_template(t->robot, name);
		*type = N_TEMPLATE;
		return c->rt ? 0 : -ENOENT;
	case N_ROBOT:
		f = fixed_find(robot_entries, name);
		break;
	case N_RTEMPLATES:
		c->rt = zr_robot_template(t->robot, name);
		*type = N_RTEMPLATE;
		return c->rt ? 0 : -ENOENT;
	case N_RTEMPLATE:
		f = fixed_find(rtemplate_entries, name);
		break;
	case N_REPOS:
		if (strcmp(name, "add") == 0) {
			*type = N_REPOS_ADD;
			return 0;
		}
		c->repo = zr_repos_find(t->robot->repos, name);
		*type = N_REPO;
		return c->repo ? 0 : -ENOENT;
	case N_REPO:
		f = fixed_find(repo_entries, name);
		break;
	case N_RREMOTES:
		*type = strcmp(name, "add") == 0 ? N_RREMOTES_ADD : strcmp(name, "ctl") == 0 ? N_RREMOTES_CTL : N_RREMOTE;
		return *type != N_RREMOTE || (zr_tree__remotes(t->tree) && zr_remotes_has(zr_tree__remotes(t->tree), name)) ? 0 : -ENOENT;
	case N_RREMOTE:
		f = fixed_find(rremote_entries, name);
		break;
	case N_REMOTES:
		/* Remote roots are the remote layer's nodes, not ours (see zr_tree_lookup). */
		return -ENOENT;
	case N_PRODUCERS:
		*type = N_PRODUCER;
		return zr_service_producer(c->svc, name) ? 0 : -ENOENT;
	case N_CONSUMERS:
		*type = N_CONSUMER;
		return consumer_find(t, c->svc, name) || json_object_get(c->svc->rconsumers, name) ? 0 : -ENOENT;
	case N_TEMPLATE:
		c->svc = zr_map_get(&c->rt->services, name);
		if (!c->svc || c->svc->pending) {
			return -ENOENT;
		}
		*type = N_SERVICE;
		*serial = c->svc->serial;
		return 0;
	case N_SERVICE:
		f = fixed_find(service_entries, name);
		break;
	case N_ACTIONS:
	case N_RESULTS:
		c->action = zr_template_action(c->svc->template, name);
		*type = ptype == N_ACTIONS ? N_ACTION : N_RESULT;
		return c->action ? 0 : -ENOENT;
	case N_TASKS:
		if (strcmp(name, "queue") == 0) {
			*type = N_QUEUE;
			return 0;
		}
		if (!parse_id(name, &id) || !(c->task = zr_service_task(c->svc, id)) || c->task->pending) {
			return -ENOENT;
		}
		*type = N_TASK;
		*serial = id;
		return 0;
	case N_TASK:
		f = fixed_find(task_entries, name);
		break;
	default:
		return -ENOTDIR;
	}
	if (!f) {
		return -ENOENT;
	}
	*type = f->type;
	*field = f->field;
	return 0;
}

/* Resolves a node to its objects, or -ENOENT when any of them is gone. */
static int resolve(struct zr_local *t, struct node *n, struct ctx *c)
{
	if (n == t->root) {
		*c = (struct ctx){0};
		return 0;
	}
	if (!n->key) {
		return -ENOENT;
	}
	int err = resolve(t, n->parent, c);
	if (err < 0) {
		return err;
	}
	enum ntype type;
	int field;
	uint64_t serial;
	err = child_of(t, n->parent->type, c, n->name, &type, &field, &serial);
	if (err < 0 || type != n->type || field != n->field || serial != n->serial) {
		return -ENOENT;
	}
	return 0;
}

/* A node resolved; -ENOENT when what it stands for is gone. */
static int node_resolve(struct zr_local *t, struct node *n, struct node **ret, struct ctx *c)
{
	int err = resolve(t, n, c);
	if (err == 0) {
		*ret = n;
	}
	return err;
}

/* The path of a node from the mount point, without the leading '/'. */
static void node_path(const struct node *n, struct zr_buf *b)
{
	if (!n->parent) {
		return;
	}
	node_path(n->parent, b);
	if (b->len > 0) {
		(void)zr_buf_puts(b, "/");
	}
	(void)zr_buf_puts(b, n->name);
}

/* ---- attributes and contents ---- */

static bool is_dir(enum ntype type)
{
	switch (type) {
	case N_ROOT: case N_ROBOT: case N_RTEMPLATES: case N_RTEMPLATE: case N_TEMPLATE:
	case N_SERVICE: case N_ACTIONS: case N_RESULTS: case N_TASKS: case N_TASK:
	case N_REPOS: case N_REPO: case N_PRODUCERS: case N_CONSUMERS:
	case N_REMOTES: case N_RREMOTES: case N_RREMOTE:
		return true;
	default:
		return false;
	}
}

static mode_t fixed_mode(const struct fixed *f, enum ntype type, int field)
{
	for (; f->name; f++) {
		if (f->type == type && f->field == field) {
			return f->mode;
		}
	}
	return S_IFREG | 0444;
}

static mode_t node_mode(const struct node *n)
{
	switch (n->type) {
	case N_ROOT: case N_ROBOT: case N_RTEMPLATES: case N_RTEMPLATE: case N_ACTIONS:
	case N_RESULTS: case N_TASKS: case N_TASK: case N_REPOS: case N_REPO:
	case N_PRODUCERS: case N_CONSUMERS: case N_REMOTES: case N_RREMOTES: case N_RREMOTE:
		return S_IFDIR | 0555;
	case N_RREMOTES_ADD: case N_RREMOTES_CTL:
		return S_IFREG | 0200;
	case N_RREMOTEFILE:
		return S_IFREG | 0444;
	case N_PRODUCER: case N_CONSUMER:
		return S_IFLNK | 0777;
	case N_REPOS_ADD:
		return S_IFREG | 0200;
	case N_REPOFILE:
		return fixed_mode(repo_entries, n->type, n->field);
	case N_TEMPLATE:
	case N_SERVICE:
		return S_IFDIR | 0755; /* mkdir and rmdir of services */
	case N_ACTION:
		return S_IFREG | 0620;
	case N_SVCFILE:
		return fixed_mode(service_entries, n->type, n->field);
	case N_TASKFILE:
		return fixed_mode(task_entries, n->type, n->field);
	default:
		return S_IFREG | 0444;
	}
}

static struct zr_journal *node_journal(struct zr_local *t, const struct node *n, const struct ctx *c)
{
	switch (n->type) {
	case N_ROBOT_LOG:
		return &t->robot->log;
	case N_ROBOT_EVENTS:
		return &t->robot->events;
	case N_SVCFILE:
		return n->field == SF_LOG ? &c->svc->log : n->field == SF_EVENTS ? &c->svc->events : NULL;
	case N_TASKFILE:
		return n->field == TF_LOG ? &c->task->log : NULL;
	default:
		return NULL;
	}
}

/* The task a result-like node shows by default: its own, or the newest of the action. */
static struct zr_task *node_task(const struct node *n, const struct ctx *c)
{
	if (n->type == N_RESULT) {
		return zr_service_newest(c->svc, c->action->name);
	}
	if (n->type == N_TASKFILE && n->field == TF_RESULT) {
		return c->task;
	}
	return NULL;
}

static void put_time(struct zr_buf *b, long long ns)
{
	char ts[40];
	if (ns) {
		(void)zr_buf_printf(b, "%s\n", zr_time_format(ns, ts));
	}
}

static void put_json(struct zr_buf *b, const json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags | JSON_ENCODE_ANY);
	if (s) {
		(void)zr_buf_printf(b, "%s\n", s);
		free(s);
	}
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void gen_state(const struct zr_service *s, struct zr_buf *b)
{
	size_t n = json_object_size(s->state), i = 0;
	const char **keys = calloc(n ? n : 1, sizeof(*keys));
	const char *k;
	json_t *v;
	if (!keys) {
		return;
	}
	json_object_foreach(s->state, k, v) {
		keys[i++] = k;
	}
	qsort(keys, n, sizeof(*keys), cmp_strp);
	for (i = 0; i < n; i++) {
		(void)zr_buf_printf(b, "%s %s\n", keys[i], json_string_value(json_object_get(s->state, keys[i])));
	}
	free(keys);
}

static void gen_robot_info(struct zr_local *t, struct zr_buf *b)
{
	struct zr_robot *r = t->robot;
	char host[256] = "";
	size_t i = 0, n_svc = 0, queued = 0;
	void *v;
	(void)gethostname(host, sizeof(host) - 1);
	while (zr_map_next(&r->templates, &i, NULL, NULL, &v)) {
		struct zr_robot_template *rt = v;
		size_t j = 0;
		void *sv;
		while (zr_map_next(&rt->services, &j, NULL, NULL, &sv)) {
			n_svc++;
			queued += zr_queue_len(&((struct zr_service *)sv)->queue);
		}
	}
	_cleanup_json_ json_t *o = json_pack(
		"{ss ss sI sf ss ss sI sI s{sI sI} sI ss?}", "name", r->cfg.name, "version", ZR_VERSION, "pid",
		(json_int_t)getpid(), "uptime", (double)(zr_now_ns() - r->started_ns) / 1e9, "mount",
		r->cfg.mount, "data_dir", r->cfg.data_dir, "templates", (json_int_t)r->templates.len,
		"services", (json_int_t)n_svc, "tasks", "queued", (json_int_t)queued, "running",
		(json_int_t)r->running_processes, "jobs", (json_int_t)r->cfg.jobs, "listen", r->http_url);
	put_json(b, o, JSON_INDENT(2));
}

/* Fills b with the content of a small file. */
static void gen_content(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	zr_buf_reset(b);
	const struct zr_task *task = c->task;
	const struct zr_service *s = c->svc;
	switch (n->type) {
	case N_ROBOT_INFO:
		gen_robot_info(t, b);
		return;
	case N_ROBOT_METRICS:
		(void)zr_metrics_render(t->robot, t->n_parked, b);
		return;
	case N_RTFILE:
		switch (n->field) {
		case RT_MANIFEST:
			put_json(b, c->rt->t->manifest, JSON_INDENT(2));
			return;
		case RT_UID:
			(void)zr_buf_printf(b, "%s\n", c->rt->t->uid);
			return;
		case RT_VERSIONS:
			for (size_t i = 0; i < c->rt->n_versions; i++) {
				const struct zr_template *v = c->rt->versions[i];
				(void)zr_buf_printf(b, "%s %s%s\n", v->version, v->uid, v->missing ? " missing" : "");
			}
			return;
		case RT_SOURCE:
			(void)zr_buf_printf(b, "%s\n", c->rt->t->dir);
			return;
		}
		return;
	case N_RREMOTEFILE: {
		_cleanup_free_ char *text = NULL;
		int err = n->field == RM_URL ? zr_remotes_url(zr_tree__remotes(t->tree), n->parent->name, &text)
					     : zr_remotes_status(zr_tree__remotes(t->tree), n->parent->name, &text);
		if (err == 0) {
			(void)zr_buf_puts(b, text);
		}
		return;
	}
	case N_REPOFILE: {
		const struct zr_repo *rp = c->repo;
		if (n->field == RP_STATUS) {
			_cleanup_free_ char *st = zr_repo_status(rp);
			(void)zr_buf_puts(b, st ? st : "");
		} else if (n->field != RP_CTL) {
			const char *v = n->field == RP_URL ? rp->url : n->field == RP_REF ? rp->ref : rp->commit;
			if (v || n->field == RP_REF) {
				(void)zr_buf_printf(b, "%s\n", v ? v : "HEAD");
			}
		}
		return;
	}
	case N_QUEUE:
		for (struct zr_queue_item *it = zr_queue_next(&s->queue, NULL); it; it = zr_queue_next(&s->queue, it)) {
			(void)zr_buf_printf(b, "%llu\n", (unsigned long long)container_of(it, struct zr_task, qitem)->id);
		}
		return;
	case N_SVCFILE:
		switch (n->field) {
		case SF_STATE:
			gen_state(s, b);
			return;
		case SF_DATA:
			put_json(b, s->data, JSON_INDENT(2));
			return;
		case SF_INFO: {
			char ts[40];
			_cleanup_json_ json_t *o = json_pack(
				"{ss ss ss ss ss ss s{} sn}", "name", s->name, "template", s->template->name,
				"uid", s->template->uid, "version", s->template->version, "guid", s->guid,
				"created", zr_time_format(s->created_ns, ts), "producers", "process");
			const char *role;
			json_t *spec;
			json_object_foreach(s->template->consumes, role, spec) {
				const char *p = zr_service_producer(s, role);
				if (o && p) {
					(void)json_object_set_new(json_object_get(o, "producers"), role, json_string(p));
				}
			}
			put_json(b, o, JSON_INDENT(2));
			return;
		}
		case SF_UPGRADE:
			/* The version in use, and the one it moves to once its task ends. */
			(void)zr_buf_printf(b, "%s%s%s\n", s->template->missing ? s->template->uid : s->template->version,
					    s->upgrade_to ? " -> " : "", s->upgrade_to ? s->upgrade_to->version : "");
			return;
		case SF_LASTERROR:
			if (s->lasterror) {
				(void)zr_buf_printf(b, "%s\n", s->lasterror);
			}
			return;
		}
		return;
	case N_TASKFILE:
		switch (n->field) {
		case TF_ACTION:
			(void)zr_buf_printf(b, "%s\n", task->action->name);
			return;
		case TF_ARGS:
			put_json(b, task->args, JSON_COMPACT);
			return;
		case TF_STATE:
			(void)zr_buf_printf(b, "%s\n", zr_task_state_name(task->state));
			return;
		case TF_CREATED:
			put_time(b, task->created_ns);
			return;
		case TF_STARTED:
			put_time(b, task->started_ns);
			return;
		case TF_FINISHED:
			put_time(b, task->finished_ns);
			return;
		case TF_ERROR:
			(void)zr_buf_puts(b, task->error ? task->error : "");
			return;
		case TF_PROGRESS:
			if (task->progress_total >= 0) {
				(void)zr_buf_printf(b, "%lld %lld\n", task->progress_done, task->progress_total);
			}
			return;
		}
		return;
	default:
		return;
	}
}

static bool is_snapshot(const struct node *n)
{
	switch (n->type) {
	case N_ROBOT_INFO: case N_ROBOT_METRICS: case N_RTFILE: case N_QUEUE: case N_RREMOTEFILE:
		return true;
	case N_REPOFILE:
		return n->field != RP_CTL;
	case N_SVCFILE:
		return n->field != SF_LOG && n->field != SF_EVENTS;
	case N_TASKFILE:
		return n->field != TF_LOG && n->field != TF_RESULT && n->field != TF_CANCEL;
	default:
		return false;
	}
}

static long long node_mtime(struct zr_local *t, const struct node *n, const struct ctx *c)
{
	struct zr_robot *r = t->robot;
	struct zr_journal *j = node_journal(t, n, c);
	if (j) {
		return j->mtime_ns;
	}
	switch (n->type) {
	case N_ROOT:
	case N_RTEMPLATES:
		return r->mtime_ns;
	case N_ROBOT:
	case N_ROBOT_INFO:
	case N_ROBOT_METRICS:
		return zr_now_ns();
	case N_RTEMPLATE:
	case N_RTFILE:
	case N_TEMPLATE:
		return c->rt->mtime_ns;
	case N_SERVICE:
	case N_ACTIONS:
	case N_RESULTS:
	case N_SVCFILE:
		if (n->type == N_SVCFILE) {
			switch (n->field) {
			case SF_STATE:
				return c->svc->state_mtime_ns;
			case SF_DATA:
				return c->svc->data_mtime_ns;
			case SF_LASTERROR:
				return c->svc->lasterror_mtime_ns;
			}
		}
		return c->svc->created_ns;
	case N_TASKS:
	case N_QUEUE:
		return c->svc->tasks_mtime_ns;
	case N_ACTION:
	case N_RESULT: {
		struct zr_task *tk = zr_service_newest(c->svc, c->action->name);
		if (!tk) {
			return c->svc->created_ns;
		}
		return n->type == N_RESULT && tk->finished_ns ? tk->finished_ns : tk->created_ns;
	}
	case N_TASK:
	case N_TASKFILE: {
		const struct zr_task *tk = c->task;
		return tk->finished_ns ? tk->finished_ns : tk->started_ns ? tk->started_ns : tk->created_ns;
	}
	default:
		return r->started_ns;
	}
}

static int node_attr(struct zr_local *t, struct node *n, const struct ctx *c, struct zr_tree_attr *a)
{
	*a = (struct zr_tree_attr){.ino = n->base.ino, .mode = node_mode(n), .nlink = 1};
	a->mtime_ns = node_mtime(t, n, c);
	if (is_dir(n->type)) {
		a->nlink = 2;
		return 0;
	}
	a->flags = ZR_ATTR_DIRECT_IO;
	struct zr_journal *j = node_journal(t, n, c);
	struct zr_task *task = node_task(n, c);
	if (j) {
		a->size = j->end;
		if (n->type == N_TASKFILE) {
			a->flags |= ZR_ATTR_BLOCKING;
		}
	} else if (n->type == N_RESULT || (n->type == N_TASKFILE && n->field == TF_RESULT)) {
		a->flags |= ZR_ATTR_BLOCKING;
		if (task && task->settled) {
			size_t len;
			(void)zr_task_output(task, &len);
			a->size = len;
		}
	} else if (n->type == N_ACTION) {
		a->flags |= ZR_ATTR_BLOCKING;
	} else if (is_snapshot(n)) {
		gen_content(t, n, c, &t->scratch);
		a->size = t->scratch.len;
	}
	if (!(a->mode & 0222)) {
		a->flags |= ZR_ATTR_READONLY;
	}
	return 0;
}

/* ---- lifecycle ---- */

static struct node *find_child(struct zr_local *t, const struct node *p, const char *name)
{
	char key[512];
	if (!p || snprintf(key, sizeof(key), "%" PRIu64 "/%s", p->base.ino, name) >= (int)sizeof(key)) {
		return NULL;
	}
	return zr_map_get(&t->by_name, key);
}

/* The service's node, if the kernel knows it. */
static struct node *service_node(struct zr_local *t, const struct zr_service *s)
{
	struct node *n = find_child(t, find_child(t, t->root, s->template->name), s->name);
	return n && n->serial == s->serial ? n : NULL;
}

/* A task dropped from the history: the kernel may still have its directory cached. */
static void on_task_removed(struct zr_task *task, void *data)
{
	struct zr_local *t = data;
	char id[32];
	struct node *tasks = find_child(t, service_node(t, task->svc), "tasks");
	snprintf(id, sizeof(id), "%llu", (unsigned long long)task->id);
	struct node *n = find_child(t, tasks, id);
	if (n) {
		node_detach(t, n);
		if (n->base.nlookup > 0) {
			zr_tree__inval_entry(t->tree, tasks->base.ino, id);
		}
		node_maybe_free(t, n);
	}
}

static void on_service_removed(struct zr_service *s, void *data)
{
	struct zr_local *t = data;
	struct node *n = service_node(t, s);
	if (n) {
		uint64_t parent = n->parent->base.ino;
		node_detach(t, n);
		if (n->base.nlookup > 0) {
			zr_tree__inval_entry(t->tree, parent, s->name);
		}
		node_maybe_free(t, n);
	}
}

int zr_local_create(struct zr_tree *tree, struct zr_robot *r, struct zr_local **ret)
{
	struct zr_local *t = calloc(1, sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	t->tree = tree;
	t->robot = r;
	zr_list_init(&t->handles);
	zr_list_init(&t->parked);
	t->root = &t->root_node;
	if (zr_tree__set_root(tree, &t->root->base) < 0) {
		free(t);
		return -ENOMEM;
	}
	t->root->base.prov = &local_provider;
	t->root->type = N_ROOT;
	t->root->name = NULL;
	r->hooks = (struct zr_robot_hooks){
		.task_removed = on_task_removed,
		.service_removed = on_service_removed,
		.data = t,
	};
	*ret = t;
	return 0;
}

static void req_finish(struct parked *q, int err, const char *buf, size_t len)
{
	struct zr_local *t = q->tree;
	zr_waiter_remove(&q->w);
	zr_list_remove(&q->link);
	t->n_parked--;
	zr_tree_read_cb cb = q->cb;
	void *data = q->data;
	free(q);
	cb(err, buf, len, data);
}

void zr_local_cancel_all(struct zr_local *t, int err)
{
	while (!zr_list_empty(&t->parked)) {
		req_finish(container_of(t->parked.next, struct parked, link), -err, NULL, 0);
	}
}

static void handle_free(struct zr_local *t, struct handle *h);

void zr_local_destroy(struct zr_local *t, int err)
{
	if (!t) {
		return;
	}
	zr_local_cancel_all(t, err);
	while (!zr_list_empty(&t->handles)) {
		handle_free(t, container_of(t->handles.next, struct handle, link));
	}
	size_t i = 0;
	struct zr_tree_node *tn;
	/* Detached nodes are in the inode table only: free ours from there (the table goes
	 * with the tree right after this). */
	while ((tn = zr_tree__next(t->tree, &i))) {
		if (tn->prov == &local_provider && tn != &t->root->base) {
			struct node *n = node_of(tn);
			free(n->name);
			free(n->key);
			free(n);
		}
	}
	t->robot->hooks = (struct zr_robot_hooks){0};
	zr_map_done(&t->by_name);
	zr_buf_done(&t->scratch);
	free(t->read_mem);
	free(t);
}

size_t zr_local_parked(const struct zr_local *t) { return t->n_parked; }

static int handle_ctx(struct zr_local *t, struct handle *h, struct ctx *c);

/* ---- entries ---- */

static int lookup_node(struct zr_local *t, struct node *p, const char *name, struct node **ret,
		       struct ctx *c)
{
	int err = resolve(t, p, c);
	if (err < 0) {
		return err;
	}
	if (!is_dir(p->type)) {
		return -ENOTDIR;
	}
	enum ntype type;
	int field;
	uint64_t serial;
	err = child_of(t, p->type, c, name, &type, &field, &serial);
	if (err < 0) {
		return err;
	}
	struct node *n = node_child(t, p, name, type, field, serial);
	if (!n) {
		return -ENOMEM;
	}
	*ret = n;
	return 0;
}

void zr_local_remote_changed(struct zr_local *t, const char *name)
{
	struct node *n = find_child(t, t->root, "@remote");
	if (n) {
		zr_tree__inval_entry(t->tree, n->base.ino, name);
	}
	n = find_child(t, find_child(t, t->root, "@robot"), "remotes");
	if (n) {
		zr_tree__inval_entry(t->tree, n->base.ino, name);
	}
}

static int lookup(struct zr_local *t, struct node *p, const char *name, struct zr_tree_attr *ret)
{
	struct node *n;
	struct ctx c;
	if (p->type == N_REMOTES) {
		/* A remote robot's root: a node of the remote provider, counted there. */
		struct zr_remotes *rs = zr_tree__remotes(t->tree);
		int err = resolve(t, p, &c);
		return err < 0 ? err : rs ? zr_remotes_root(rs, name, true, ret) : -ENOENT;
	}
	int err = lookup_node(t, p, name, &n, &c);
	if (err < 0) {
		return err;
	}
	n->base.nlookup++;
	return node_attr(t, n, &c, ret);
}

static int readlink_node(struct zr_local *t, struct node *n0, char **ret)
{
	struct node *n = NULL;
	struct ctx c;
	int err = node_resolve(t, n0, &n, &c);
	if (err < 0) {
		return err;
	}
	if (n->type != N_PRODUCER && n->type != N_CONSUMER) {
		return -EINVAL;
	}
	/* Relative to the link's folder (<template>/<service>/producers), so the link works
	 * whatever the mount point. */
	const char *target = n->type == N_PRODUCER ? zr_service_producer(c.svc, n->name) : NULL;
	struct zr_service *cons = n->type == N_CONSUMER ? consumer_find(t, c.svc, n->name) : NULL;
	if (n->type == N_CONSUMER && !cons) {
		/* A consumer on another robot: "@remote/<robot>/<t>/<s>", a path that resolves
		 * where that robot is mounted under the name it gave. */
		target = json_string_value(json_object_get(c.svc->rconsumers, n->name));
	}
	if (!target && !cons) {
		return -ENOENT;
	}
	if (asprintf(ret, "../../../%s", target ? target : cons->path) < 0) {
		return -ENOMEM;
	}
	return 0;
}

static int getattr_node(struct zr_local *t, struct node *n, struct zr_tree_attr *ret)
{
	struct ctx c;
	int err = resolve(t, n, &c);
	return err < 0 ? err : node_attr(t, n, &c, ret);
}

static bool truncatable(const struct node *n)
{
	return n->type == N_ACTION || n->type == N_REPOS_ADD || (n->type == N_REPOFILE && n->field == RP_CTL) ||
	       n->type == N_RREMOTES_ADD || n->type == N_RREMOTES_CTL ||
	       (n->type == N_SVCFILE && (n->field == SF_DATA || n->field == SF_UPGRADE || n->field == SF_CTL)) ||
	       (n->type == N_TASKFILE && n->field == TF_CANCEL);
}

static int truncate_node(struct zr_local *t, struct node *n0, uint64_t size, struct zr_tree_attr *ret)
{
	struct node *n = NULL;
	struct ctx c;
	int err = node_resolve(t, n0, &n, &c);
	if (err < 0) {
		return err;
	}
	if (is_dir(n->type)) {
		return -EISDIR;
	}
	if (!truncatable(n) || size != 0) {
		return -EPERM;
	}
	return node_attr(t, n, &c, ret);
}

/* ---- directories ---- */

static int add_name(struct handle *h, const char *name, size_t *cap)
{
	if (h->n_names == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char **p = realloc(h->names, nc * sizeof(*p));
		if (!p) {
			return -ENOMEM;
		}
		h->names = p;
		*cap = nc;
	}
	if (!(h->names[h->n_names] = strdup(name))) {
		return -ENOMEM;
	}
	h->n_names++;
	return 0;
}

static int add_fixed(struct handle *h, const struct fixed *f, size_t *cap)
{
	for (; f->name; f++) {
		if (add_name(h, f->name, cap) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

static int add_map_names(struct handle *h, const struct zr_map *m, size_t *cap)
{
	size_t i = 0, first = h->n_names;
	const char *k;
	while (zr_map_next(m, &i, &k, NULL, NULL)) {
		if (add_name(h, k, cap) < 0) {
			return -ENOMEM;
		}
	}
	if (h->n_names > first) {
		qsort(h->names + first, h->n_names - first, sizeof(char *), cmp_strp);
	}
	return 0;
}

static void free_names(struct handle *h)
{
	for (size_t i = 0; i < h->n_names; i++) {
		free(h->names[i]);
	}
	free(h->names);
	h->names = NULL;
	h->n_names = 0;
}

/* Snapshots the names in a directory, so offsets stay stable across readdir calls. */
static int list_dir(struct zr_local *t, struct handle *h)
{
	struct ctx c;
	struct node *n = h->node;
	size_t cap = 0;
	int err = resolve(t, n, &c);
	char num[32];
	free_names(h);
	if (err < 0) {
		return err;
	}
	switch (n->type) {
	case N_ROOT:
		if (add_name(h, "@remote", &cap) < 0 || add_name(h, "@robot", &cap) < 0) {
			return -ENOMEM;
		}
		return add_map_names(h, &t->robot->templates, &cap);
	case N_REMOTES:
	case N_RREMOTES:
		if (n->type == N_RREMOTES && (add_name(h, "add", &cap) < 0 || add_name(h, "ctl", &cap) < 0)) {
			return -ENOMEM;
		}
		for (size_t i = 0; zr_tree__remotes(t->tree) && zr_remotes_name(zr_tree__remotes(t->tree), i); i++) {
			if (add_name(h, zr_remotes_name(zr_tree__remotes(t->tree), i), &cap) < 0) {
				return -ENOMEM;
			}
		}
		return 0;
	case N_RREMOTE:
		return add_fixed(h, rremote_entries, &cap);
	case N_ROBOT:
		return add_fixed(h, robot_entries, &cap);
	case N_REPOS:
		if (add_name(h, "add", &cap) < 0) {
			return -ENOMEM;
		}
		for (size_t i = 0; i < zr_repos_count(t->robot->repos); i++) {
			if (add_name(h, zr_repos_get(t->robot->repos, i)->id, &cap) < 0) {
				return -ENOMEM;
			}
		}
		return 0;
	case N_REPO:
		return add_fixed(h, repo_entries, &cap);
	case N_PRODUCERS: {
		const char *role;
		json_t *spec;
		json_object_foreach(c.svc->template->consumes, role, spec) {
			if (zr_service_producer(c.svc, role) && add_name(h, role, &cap) < 0) {
				return -ENOMEM;
			}
		}
		return 0;
	}
	case N_CONSUMERS: {
		struct consumer_walk w = {.h = h, .cap = &cap};
		const char *key;
		json_t *v;
		zr_robot_consumers(t->robot, c.svc, on_consumer, &w);
		json_object_foreach(c.svc->rconsumers, key, v) {
			if (w.err == 0) {
				w.err = add_name(h, key, &cap);
			}
		}
		return w.err;
	}
	case N_RTEMPLATES:
		return add_map_names(h, &t->robot->templates, &cap);
	case N_RTEMPLATE:
		return add_fixed(h, rtemplate_entries, &cap);
	case N_TEMPLATE: {
		size_t i = 0, first = h->n_names;
		const char *k;
		void *v;
		while (zr_map_next(&c.rt->services, &i, &k, NULL, &v)) {
			if (!((struct zr_service *)v)->pending && add_name(h, k, &cap) < 0) {
				return -ENOMEM;
			}
		}
		if (h->n_names > first) {
			qsort(h->names + first, h->n_names - first, sizeof(char *), cmp_strp);
		}
		return 0;
	}
	case N_SERVICE:
		return add_fixed(h, service_entries, &cap);
	case N_ACTIONS:
	case N_RESULTS:
		for (size_t i = 0; i < c.svc->template->n_actions; i++) {
			if (add_name(h, c.svc->template->actions[i].name, &cap) < 0) {
				return -ENOMEM;
			}
		}
		return 0;
	case N_TASKS: {
		if (add_name(h, "queue", &cap) < 0) {
			return -ENOMEM;
		}
		struct zr_task *tk;
		zr_list_for_each(tk, &c.svc->tasks, link) {
			snprintf(num, sizeof(num), "%llu", (unsigned long long)tk->id);
			if (add_name(h, num, &cap) < 0) {
				return -ENOMEM;
			}
		}
		return 0;
	}
	case N_TASK:
		return add_fixed(h, task_entries, &cap);
	default:
		return -ENOTDIR;
	}
}

static void on_poll_wake(struct zr_waiter *w);

static struct handle *handle_new(struct zr_local *t, struct node *n)
{
	struct handle *h = calloc(1, sizeof(*h));
	if (!h) {
		return NULL;
	}
	h->base.prov = &local_provider;
	h->tree = t;
	h->node = n;
	n->nopen++;
	zr_waiter_init(&h->poll_waiter, on_poll_wake);
	zr_list_push_back(&t->handles, &h->link);
	return h;
}

static int opendir_node(struct zr_local *t, struct node *n, struct handle **ret)
{
	if (!is_dir(n->type)) {
		return -ENOTDIR;
	}
	struct handle *h = handle_new(t, n);
	if (!h) {
		return -ENOMEM;
	}
	int err = list_dir(t, h);
	if (err < 0) {
		handle_free(t, h);
		return err;
	}
	*ret = h;
	return 0;
}

static int local_readdir(struct zr_handle *zh, uint64_t off, bool plus,
		    zr_tree_fill_fn fill, void *data)
{
	struct handle *h = handle_of(zh);
	struct zr_local *t = h->tree;
	if (off == 0) {
		/* rewinddir() or a new listing: show the tree as it is now. */
		int err = list_dir(t, h);
		if (err < 0) {
			return err;
		}
	}
	for (uint64_t i = off; i < h->n_names; i++) {
		struct node *n;
		struct ctx c;
		struct zr_tree_attr a;
		if (h->node->type == N_REMOTES) {
			/* A remote robot's root: an inode of the remote layer, counted there. */
			if (zr_remotes_root(zr_tree__remotes(t->tree), h->names[i], false, &a) < 0) {
				continue;
			}
			if (!fill(h->names[i], &a, i + 1, data)) {
				break;
			}
			(void)zr_remotes_root(zr_tree__remotes(t->tree), h->names[i], plus, &a);
			continue;
		}
		/* An entry removed since the snapshot is skipped, not shown stale. */
		if (lookup_node(t, h->node, h->names[i], &n, &c) < 0) {
			continue;
		}
		(void)node_attr(t, n, &c, &a);
		if (!fill(h->names[i], &a, i + 1, data)) {
			node_maybe_free(t, n);
			break;
		}
		if (plus) {
			n->base.nlookup++;
		} else {
			node_maybe_free(t, n);
		}
	}
	return 0;
}

/* A request waiting for its commit. */
struct tree_op {
	struct zr_local *tree;
	struct handle *h;
	uint64_t parent;
	char *name;
	ssize_t len;
	zr_tree_done_cb cb;
	void *data;
};

static struct tree_op *op_new(struct zr_local *t, struct handle *h, zr_tree_done_cb cb, void *data)
{
	struct tree_op *op = calloc(1, sizeof(*op));
	if (op) {
		*op = (struct tree_op){.tree = t, .h = h, .cb = cb, .data = data};
		if (h) {
			h->inflight++;
		}
	}
	return op;
}

static void handle_free(struct zr_local *t, struct handle *h);

/* Answers and frees op; a handle released meanwhile goes with its last request. */
static void op_done(struct tree_op *op, ssize_t result, const struct zr_tree_attr *attr)
{
	struct handle *h = op->h;
	op->cb(result, attr, op->data);
	if (h && --h->inflight == 0 && h->released) {
		handle_free(op->tree, h);
	}
	free(op->name);
	free(op);
}

static void on_mkdir_done(int err, struct zr_service *s, void *data)
{
	struct tree_op *op = data;
	struct zr_local *t = op->tree;
	struct node *p = node_get(t, op->parent), *n;
	struct zr_tree_attr a;
	struct ctx c;
	(void)s;
	if (err == 0) {
		err = p ? lookup_node(t, p, op->name, &n, &c) : -ENOENT;
	}
	if (err < 0) {
		op_done(op, err, NULL);
		return;
	}
	n->base.nlookup++;
	(void)node_attr(t, n, &c, &a);
	op_done(op, 0, &a);
}

static void local_mkdir(struct zr_tree_node *zp, const char *name, zr_tree_done_cb cb, void *data)
{
	struct node *p = node_of(zp);
	struct zr_local *t = local_of(p);
	uint64_t parent = p->base.ino;
	struct ctx c;
	_cleanup_free_ char *why = NULL;
	int err = p ? resolve(t, p, &c) : -ENOENT;
	if (err < 0) {
		cb(err, NULL, data);
		return;
	}
	if (p->type != N_TEMPLATE) {
		log_warn("Refused mkdir %s: services are made in a template's folder", name);
		cb(-EPERM, NULL, data);
		return;
	}
	struct tree_op *op = op_new(t, NULL, cb, data);
	if (!op || !(op->name = strdup(name))) {
		free(op);
		cb(-ENOMEM, NULL, data);
		return;
	}
	op->parent = parent;
	err = zr_robot_create_service(t->robot, c.rt->t->name, name, NULL, &why, on_mkdir_done, op);
	if (err < 0) {
		if (err != -EEXIST) {
			log_warn("Refused mkdir %s/%s: %s", c.rt->t->name, name, why ? why : strerror(-err));
		}
		op_done(op, err, NULL);
	}
}

static void on_rmdir_done(int err, void *data)
{
	op_done(data, err, NULL);
}

static void local_rmdir(struct zr_tree_node *zp, const char *name, zr_tree_done_cb cb, void *data)
{
	struct node *p = node_of(zp);
	struct zr_local *t = local_of(p);
	struct ctx c;
	int err = p ? resolve(t, p, &c) : -ENOENT;
	if (err == 0 && p->type != N_TEMPLATE) {
		enum ntype type;
		int field;
		uint64_t serial;
		err = child_of(t, p->type, &c, name, &type, &field, &serial) < 0 ? -ENOENT : -EPERM;
	}
	struct zr_service *s = err == 0 ? zr_map_get(&c.rt->services, name) : NULL;
	if (err == 0 && (!s || s->pending)) {
		err = -ENOENT;
	}
	struct tree_op *op = err == 0 ? op_new(t, NULL, cb, data) : NULL;
	if (err == 0 && !op) {
		err = -ENOMEM;
	}
	if (err < 0) {
		cb(err, NULL, data);
		return;
	}
	zr_robot_delete_service(t->robot, s, on_rmdir_done, op);
}

/* ---- files ---- */

static int open_node(struct zr_local *t, struct node *n0, int flags, struct handle **ret,
		     struct zr_tree_attr *ret_attr)
{
	struct node *n = NULL;
	struct ctx c;
	int err = node_resolve(t, n0, &n, &c);
	if (err < 0) {
		return err;
	}
	if (is_dir(n->type)) {
		return -EISDIR;
	}
	bool writing = (flags & O_ACCMODE) != O_RDONLY;
	if (writing && !(node_mode(n) & 0222)) {
		/* Root passes the kernel's permission check: say no here too. */
		return -EACCES;
	}
	struct handle *h = handle_new(t, n);
	if (!h) {
		return -ENOMEM;
	}
	if (c.svc) {
		h->svc = c.svc;
		zr_service_ref(c.svc);
	}
	struct zr_task *task = node_task(n, &c);
	if (n->type == N_RESULT && task) {
		h->task_id = task->id;
	}
	if (is_snapshot(n)) {
		gen_content(t, n, &c, &h->content);
	}
	(void)node_attr(t, n, &c, ret_attr);
	*ret = h;
	return 0;
}

/* Resolves an open file: through its service when it has one, so files opened before an
 * rmdir keep working (a blocked reader still gets its task's result). */
static int handle_ctx(struct zr_local *t, struct handle *h, struct ctx *c)
{
	struct node *n = h->node;
	if (!h->svc) {
		return resolve(t, n, c);
	}
	*c = (struct ctx){.svc = h->svc};
	if (n->type == N_TASKFILE) {
		c->task = zr_service_task(h->svc, n->parent->serial);
		if (!c->task) {
			return -ENOENT;
		}
	} else if (n->type == N_ACTION || n->type == N_RESULT) {
		c->action = zr_template_action(h->svc->template, n->name);
	}
	return 0;
}

static void handle_free(struct zr_local *t, struct handle *h)
{
	if (h->svc) {
		zr_service_unref(h->svc);
	}
	zr_waiter_remove(&h->poll_waiter);
	if (h->ph) {
		zr_tree__poll_destroy(t->tree, h->ph);
	}
	zr_list_remove(&h->link);
	zr_buf_done(&h->content);
	zr_buf_done(&h->wbuf);
	free_names(h);
	struct node *n = h->node;
	n->nopen--;
	free(h);
	node_maybe_free(t, n);
}

/* Where a read that cannot be answered yet waits, or NULL when it can be answered. */
struct outcome {
	int err;            /* negative errno, or 0 */
	const char *buf;
	size_t len;
	struct zr_waitq *wait;
};

static void answer_slice(const char *p, size_t plen, uint64_t off, size_t size, struct outcome *o)
{
	if (off >= plen) {
		o->len = 0;
		return;
	}
	o->buf = p + off;
	o->len = plen - off < size ? plen - off : size;
}

/* The result of a task for a reader: output, then the task's errno for a failed task. */
static void answer_task(struct zr_task *task, uint64_t off, size_t size, struct outcome *o)
{
	if (!task->settled) {
		o->wait = &task->done;
		return;
	}
	size_t len;
	const char *p = zr_task_output(task, &len);
	if (off >= len && task->error) {
		o->err = -task->err;
		return;
	}
	answer_slice(p, len, off, size, o);
}

static void try_read(struct zr_local *t, struct handle *h, uint64_t off, size_t size, struct outcome *o)
{
	struct node *n = h->node;
	struct ctx c;
	*o = (struct outcome){0};
	int err = handle_ctx(t, h, &c);
	if (err < 0) {
		o->err = err;
		return;
	}
	struct zr_journal *j = node_journal(t, n, &c);
	if (j) {
		if (size > t->read_cap) {
			char *p = realloc(t->read_mem, size);
			if (!p) {
				o->err = -ENOMEM;
				return;
			}
			t->read_mem = p;
			t->read_cap = size;
		}
		o->len = zr_journal_read(j, &h->cursor, off, t->read_mem, size);
		o->buf = t->read_mem;
		if (o->len == 0 && n->type == N_TASKFILE && !zr_task_ended(c.task)) {
			o->wait = &j->waitq;
		}
		return;
	}
	switch (n->type) {
	case N_RESULT:
	case N_ACTION: {
		if (!h->task_id) {
			return; /* nothing ran: EOF */
		}
		if (n->type == N_ACTION) {
			if (!h->result_base_set) {
				h->result_base = off;
				h->result_base_set = true;
			}
			off = off >= h->result_base ? off - h->result_base : 0;
		}
		struct zr_task *task = zr_service_task(c.svc, h->task_id);
		if (!task) {
			o->err = -ENOENT;
			return;
		}
		answer_task(task, off, size, o);
		return;
	}
	case N_TASKFILE:
		if (n->field == TF_RESULT) {
			answer_task(c.task, off, size, o);
			return;
		}
		/* The other task files are small snapshots. */
		__attribute__((fallthrough));
	default:
		if (is_snapshot(n)) {
			if (off == 0) {
				/* A read from the start sees the file as it is now (like sysfs). */
				gen_content(t, n, &c, &h->content);
			}
			answer_slice(h->content.data, h->content.len, off, size, o);
		}
		return;
	}
}

static void on_req_wake(struct zr_waiter *w)
{
	struct parked *q = container_of(w, struct parked, w);
	struct outcome o;
	try_read(q->tree, q->h, q->off, q->size, &o);
	if (o.wait) {
		zr_waitq_add(o.wait, &q->w);
		return;
	}
	if (o.err == 0) {
		q->h->pos = q->off + o.len;
	}
	req_finish(q, o.err, o.buf, o.len);
}

static void local_read(struct zr_handle *zh, uint64_t off, size_t size, zr_tree_read_cb cb,
		       void *data, struct zr_tree_req **ret_req)
{
	struct handle *h = handle_of(zh);
	struct zr_local *t = h->tree;
	struct outcome o;
	*ret_req = NULL;
	try_read(t, h, off, size, &o);
	if (!o.wait) {
		if (o.err == 0) {
			h->pos = off + o.len;
		}
		cb(o.err, o.buf, o.len, data);
		return;
	}
	struct parked *q = calloc(1, sizeof(*q));
	if (!q) {
		cb(-ENOMEM, NULL, 0, data);
		return;
	}
	q->base.prov = &local_provider;
	q->tree = t;
	q->h = h;
	q->off = off;
	q->size = size;
	q->cb = cb;
	q->data = data;
	zr_waiter_init(&q->w, on_req_wake);
	zr_waitq_add(o.wait, &q->w);
	zr_list_push_back(&t->parked, &q->link);
	t->n_parked++;
	*ret_req = &q->base;
}

static void local_read_cancel(struct zr_tree_req *req)
{
	req_finish(container_of(req, struct parked, base), -EINTR, NULL, 0);
}

/* A refused write: the reason goes to the service's lasterror (or the log) and the errno
 * back to the writer. */
static ssize_t refuse(struct zr_local *t, struct handle *h, const struct ctx *c, int err,
		      const char *why)
{
	struct zr_buf path = {0};
	node_path(h->node, &path);
	if (c->svc) {
		zr_service_refuse(c->svc, path.data ? path.data : "", -err, why);
	} else {
		log_warn("Refused write to /%s: %s", path.data ? path.data : "", why ? why : strerror(-err));
	}
	zr_buf_done(&path);
	return err;
}


/* A request that failed at commit: refused like any other, with the store's errno. */
static void op_refused(struct tree_op *op, int err, const char *why)
{
	struct ctx c;
	if (handle_ctx(op->tree, op->h, &c) == 0) {
		(void)refuse(op->tree, op->h, &c, err, why);
	}
	op_done(op, err, NULL);
}

static void on_data_done(int err, void *data)
{
	struct tree_op *op = data;
	if (err < 0) {
		op_refused(op, err, strerror(-err));
		return;
	}
	op_done(op, op->len, NULL);
}

/* Data naming producers on other robots: each new one is looked up there first (over HTTP,
 * its listing cached briefly), then the data is set as usual. */
struct data_check {
	struct tree_op *op;
	json_t *data;
	size_t next; /* the role to look at next, in the template's order */
};

static void data_check_next(struct data_check *dc);

static void on_producer_checked(int err, const char *why, void *data)
{
	struct data_check *dc = data;
	struct ctx c;
	if (err == 0 && handle_ctx(dc->op->tree, dc->op->h, &c) < 0) {
		err = -ENOENT;
		why = "the service was deleted meanwhile";
	}
	if (err < 0) {
		op_refused(dc->op, err, why);
		json_decref(dc->data);
		free(dc);
		return;
	}
	data_check_next(dc);
}

static void data_check_next(struct data_check *dc)
{
	struct tree_op *op = dc->op;
	struct ctx c;
	_cleanup_free_ char *why = NULL;
	int err = handle_ctx(op->tree, op->h, &c);
	const char *role;
	json_t *spec;
	size_t i = 0;
	json_object_foreach(err == 0 ? c.svc->template->consumes : NULL, role, spec) {
		const char *p = json_string_value(json_object_get(dc->data, role));
		const char *now = zr_service_producer(c.svc, role);
		if (i++ < dc->next || !p || strncmp(p, "@remote/", 8) != 0 || (now && strcmp(p, now) == 0)) {
			continue;
		}
		dc->next = i;
		zr_remotes_check(zr_tree__remotes(op->tree->tree), p, on_producer_checked, dc);
		return;
	}
	if (err == 0) {
		err = zr_service_set_data(c.svc, dc->data, &why, on_data_done, op);
	}
	if (err < 0) {
		op_refused(op, err, why);
	}
	json_decref(dc->data);
	free(dc);
}

static void apply_data(struct tree_op *op, const struct ctx *c, const char *buf, size_t len)
{
	json_error_t e;
	_cleanup_json_ json_t *j = json_loadb(buf, len, 0, &e);
	_cleanup_free_ char *why = NULL;
	int err;
	op->len = (ssize_t)len;
	if (!j) {
		if (asprintf(&why, "data is not valid JSON: %s", e.text) < 0) {
			why = NULL;
		}
		err = -EINVAL;
	} else if (!json_is_object(j)) {
		why = strdup("data must be a JSON object");
		err = -EINVAL;
	} else if (zr_tree__remotes(op->tree->tree) && json_object_size(c->svc->template->consumes) > 0) {
		/* What can be told here (a path's shape, a local producer) is told before asking
		 * remote robots. */
		struct data_check *dc = NULL;
		err = zr_service__check_producers(c->svc->robot, c->svc->template, c->svc->path, j, &why);
		if (err == 0 && !(dc = calloc(1, sizeof(*dc)))) {
			err = -ENOMEM;
		}
		if (dc) {
			*dc = (struct data_check){.op = op, .data = json_incref(j)};
			data_check_next(dc);
			return;
		}
	} else {
		err = zr_service_set_data(c->svc, j, &why, on_data_done, op);
	}
	if (err < 0) {
		op_done(op, refuse(op->tree, op->h, c, err, why), NULL);
	}
}

static void write_data(struct tree_op *op, const struct ctx *c, const char *buf, size_t len, uint64_t off)
{
	struct handle *h = op->h;
	if (zr_buf_write_at(&h->wbuf, off, buf, len) < 0) {
		op_done(op, -ENOMEM, NULL);
		return;
	}
	if (off == 0 && h->wbuf.len == len) {
		json_error_t e;
		json_t *j = json_loadb(buf, len, 0, &e);
		json_decref(j);
		if (!j && zr_json_incomplete(buf, len, &e)) {
			/* The first part of a body written in pieces: applied at close. */
			h->wpending = true;
			op_done(op, (ssize_t)len, NULL);
			return;
		}
		h->wpending = false;
		apply_data(op, c, buf, len);
		return;
	}
	h->wpending = true;
	op_done(op, (ssize_t)len, NULL);
}

static void on_enqueue_done(int err, struct zr_task *task, void *data)
{
	struct tree_op *op = data;
	if (err < 0) {
		op_refused(op, err, strerror(-err));
		return;
	}
	op->h->task_id = task->id;
	op->h->result_base_set = false;
	op_done(op, op->len, NULL);
}

static void write_action(struct tree_op *op, const struct ctx *c, const char *buf, size_t len)
{
	json_t *args = NULL;
	_cleanup_free_ char *why = NULL;
	op->len = (ssize_t)len;
	int err = zr_payload_parse(buf, len, c->action->name, &args, &why);
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", buf[i])) {
		i++;
	}
	if (err == 0 && i < len && buf[i] != '{' && json_object_size(args) > 0) {
		/* key=value lines carry text: convert it to the fields' types. A JSON object
		 * already says what its values are. */
		json_t *typed = NULL;
		err = zr_schema_apply(c->action->args, args, ZR_SCHEMA_COERCE, &typed, &why);
		json_decref(args);
		args = err == 0 ? typed : NULL;
	}
	if (err == 0) {
		err = zr_service_enqueue(c->svc, c->action, args, ZR_LANE_USER, &why, on_enqueue_done, op);
	}
	if (err < 0) {
		op_done(op, refuse(op->tree, op->h, c, err, why), NULL);
	}
}

/* @robot/repos/add takes "URL[#REF]"; a repository's ctl takes "fetch" or "checkout REF".
 * The write returns once the work started: its status file tells how it goes. */
static ssize_t write_repos(struct zr_local *t, struct handle *h, const struct ctx *c,
			   const char *buf, size_t len)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *text = strndup(buf, len);
	if (!text || memchr(buf, '\0', len)) {
		return text ? refuse(t, h, c, -EINVAL, "NUL byte in the request") : -ENOMEM;
	}
	char *w = text + strspn(text, " \t\r\n");
	size_t n = strlen(w);
	while (n > 0 && strchr(" \t\r\n", w[n - 1])) {
		w[--n] = '\0';
	}
	int err = h->node->type == N_REPOS_ADD ? zr_repos_add(t->robot->repos, w, &why)
					       : zr_repos_ctl(t->robot->repos, c->repo, w, &why);
	if (err == -EBUSY && !why) {
		why = strdup("another operation on this repository is running");
	}
	return err < 0 ? refuse(t, h, c, err, why) : (ssize_t)len;
}

static void on_remotes_done(int err, void *data)
{
	struct tree_op *op = data;
	op_done(op, err < 0 ? err : (ssize_t)op->len, NULL);
}

/* @robot/remotes/add takes "NAME URL [TOKEN-FILE]", @robot/remotes/ctl "remove NAME"; the
 * write returns once the store has the change. */
static void write_remotes(struct tree_op *op, const char *buf, size_t len)
{
	struct zr_local *t = op->tree;
	struct ctx c = {0};
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *text = strndup(buf, len);
	char *w[4] = {0}, *save = NULL;
	size_t n = 0;
	if (!text || !zr_tree__remotes(t->tree)) {
		op_done(op, text ? refuse(t, op->h, &c, -EINVAL, "this robot has no remote support") : -ENOMEM, NULL);
		return;
	}
	for (char *tok = strtok_r(text, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n < 4) {
			w[n] = tok;
		}
		n++;
	}
	op->len = len;
	if (op->h->node->type == N_RREMOTES_ADD) {
		if (n < 2 || n > 3) {
			op_done(op, refuse(t, op->h, &c, -EINVAL, "want 'NAME URL [TOKEN-FILE]'"), NULL);
			return;
		}
		zr_remotes_add_persist(zr_tree__remotes(t->tree), w[0], w[1], w[2], on_remotes_done, op, &why);
		return;
	}
	if (n != 2 || strcmp(w[0], "remove") != 0) {
		op_done(op, refuse(t, op->h, &c, -EINVAL, "want 'remove NAME'"), NULL);
		return;
	}
	if (!zr_remotes_has(zr_tree__remotes(t->tree), w[1])) {
		op_done(op, refuse(t, op->h, &c, -ENOENT, "no such remote"), NULL);
		return;
	}
	zr_remotes_remove(zr_tree__remotes(t->tree), w[1], on_remotes_done, op);
}

static void on_ctl_done(int err, void *data)
{
	struct tree_op *op = data;
	op_done(op, err < 0 ? err : op->len, NULL);
}

/* Service commands: "force" lets the next rmdir delete a service that has consumers;
 * "consumer add|remove ROBOT T/S" is another robot telling that its service T/S started or
 * stopped using this one (answered once stored). */
static void write_ctl(struct tree_op *op, const struct ctx *c, const char *buf, size_t len)
{
	struct zr_local *t = op->tree;
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *text = strndup(buf, len);
	char *w[5] = {0}, *save = NULL;
	size_t n = 0;
	if (!text) {
		op_done(op, -ENOMEM, NULL);
		return;
	}
	for (char *tok = strtok_r(text, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n < 5) {
			w[n] = tok;
		}
		n++;
	}
	op->len = (ssize_t)len;
	if (n == 1 && strcmp(w[0], "force") == 0) {
		c->svc->force_delete = true;
		op_done(op, op->len, NULL);
		return;
	}
	if (n == 4 && strcmp(w[0], "consumer") == 0 && (strcmp(w[1], "add") == 0 || strcmp(w[1], "remove") == 0)) {
		int err = zr_service_rconsumer(c->svc, w[2], w[3], w[1][0] == 'a', &why, on_ctl_done, op);
		if (err < 0) {
			op_done(op, refuse(t, op->h, c, err, why), NULL);
		}
		return;
	}
	op_done(op, refuse(t, op->h, c, -EINVAL, "unknown command: want 'force' or 'consumer add|remove ROBOT TEMPLATE/SERVICE'"), NULL);
}

/* "1.2.0", a uid or "latest": move the service to that version of its template; answered
 * once the request is stored. */
static void write_upgrade(struct tree_op *op, const struct ctx *c, const char *buf, size_t len)
{
	struct zr_local *t = op->tree;
	struct handle *h = op->h;
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *want = strndup(buf, len);
	if (!want) {
		op_done(op, -ENOMEM, NULL);
		return;
	}
	char *w = want + strspn(want, " \t\r\n");
	w[strcspn(w, " \t\r\n")] = '\0';
	struct zr_robot_template *rt = zr_robot_template(t->robot, c->svc->template->name);
	const struct zr_template *to = rt && *w ? zr_robot_template_find(rt, w) : NULL;
	if (!to) {
		if (asprintf(&why, "no version '%s' of template %s is loaded", w, c->svc->template->name) < 0) {
			why = NULL;
		}
		op_done(op, refuse(t, h, c, -EINVAL, why), NULL);
		return;
	}
	op->len = (ssize_t)len;
	int err = zr_service_upgrade(c->svc, to, &why, on_ctl_done, op);
	if (err < 0) {
		op_done(op, refuse(t, h, c, err, why), NULL);
	}
}

static void local_write(struct zr_handle *zh, const char *buf, size_t len, uint64_t off,
			zr_tree_done_cb cb, void *data)
{
	struct handle *h = handle_of(zh);
	struct zr_local *t = h->tree;
	struct node *n = h->node;
	struct ctx c;
	int err = handle_ctx(t, h, &c);
	struct tree_op *op = err == 0 ? op_new(t, h, cb, data) : NULL;
	if (err == 0 && !op) {
		err = -ENOMEM;
	}
	if (err < 0) {
		cb(err, NULL, data);
		return;
	}
	if (n->type == N_ACTION) {
		write_action(op, &c, buf, len);
	} else if (n->type == N_SVCFILE && n->field == SF_DATA) {
		write_data(op, &c, buf, len, off);
	} else if (n->type == N_REPOS_ADD || (n->type == N_REPOFILE && n->field == RP_CTL)) {
		op_done(op, write_repos(t, h, &c, buf, len), NULL);
	} else if (n->type == N_RREMOTES_ADD || n->type == N_RREMOTES_CTL) {
		write_remotes(op, buf, len);
	} else if (n->type == N_SVCFILE && n->field == SF_CTL) {
		write_ctl(op, &c, buf, len);
	} else if (n->type == N_SVCFILE && n->field == SF_UPGRADE) {
		write_upgrade(op, &c, buf, len);
	} else if (n->type == N_TASKFILE && n->field == TF_CANCEL) {
		err = zr_service_cancel(c.svc, c.task);
		op_done(op, err < 0 ? refuse(t, h, &c, err, "task already ended") : (ssize_t)len, NULL);
	} else {
		op_done(op, -EACCES, NULL);
	}
}

static void local_flush(struct zr_handle *zh, zr_tree_done_cb cb, void *data)
{
	struct handle *h = handle_of(zh);
	struct zr_local *t = h->tree;
	struct ctx c;
	if (!h->wpending) {
		cb(0, NULL, data);
		return;
	}
	h->wpending = false;
	int err = handle_ctx(t, h, &c);
	struct tree_op *op = err == 0 ? op_new(t, h, cb, data) : NULL;
	if (err < 0 || !op) {
		cb(err < 0 ? err : -ENOMEM, NULL, data);
		return;
	}
	apply_data(op, &c, h->wbuf.data ? h->wbuf.data : "", h->wbuf.len);
}

static void local_release(struct zr_handle *zh)
{
	struct handle *h = handle_of(zh);
	struct zr_local *t = h->tree;
	struct parked *q, *tmp;
	/* The kernel releases only idle files, but a parked read must never outlive its handle. */
	zr_list_for_each_safe(q, tmp, &t->parked, link) {
		if (q->h == h) {
			req_finish(q, -EINTR, NULL, 0);
		}
	}
	if (h->inflight > 0) {
		h->released = true; /* freed by its last request's answer */
		return;
	}
	handle_free(t, h);
}

static void on_poll_wake(struct zr_waiter *w)
{
	struct handle *h = container_of(w, struct handle, poll_waiter);
	struct zr_local *t = h->tree;
	if (h->ph) {
		void *ph = h->ph;
		h->ph = NULL;
		zr_tree__poll_notify(t->tree, ph);
	}
}

static unsigned local_poll(struct zr_handle *zh, void *ph)
{
	struct handle *h = handle_of(zh);
	struct zr_local *t = h->tree;
	struct node *n = h->node;
	struct ctx c;
	unsigned ev = POLLIN;
	struct zr_waitq *wait = NULL;
	if (ph) {
		if (h->ph) {
			zr_tree__poll_destroy(t->tree, h->ph);
		}
		h->ph = ph;
	}
	if (handle_ctx(t, h, &c) < 0) {
		ev = POLLERR;
	} else {
		struct zr_journal *j = node_journal(t, n, &c);
		struct zr_task *task = NULL;
		if (j) {
			if (!zr_journal_readable(j, &h->cursor, h->pos) &&
			    !(n->type == N_TASKFILE && zr_task_ended(c.task))) {
				wait = &j->waitq;
			}
		} else if (n->type == N_RESULT || n->type == N_ACTION) {
			task = h->task_id ? zr_service_task(c.svc, h->task_id) : NULL;
		} else if (n->type == N_TASKFILE && n->field == TF_RESULT) {
			task = c.task;
		}
		if (task && !task->settled) {
			wait = &task->done;
		}
		if (truncatable(n)) {
			ev |= POLLOUT;
		}
	}
	if (wait) {
		ev &= ~(unsigned)POLLIN;
		if (h->ph) {
			zr_waitq_add(wait, &h->poll_waiter);
		}
	} else if (h->ph) {
		zr_waiter_remove(&h->poll_waiter);
		zr_tree__poll_destroy(t->tree, h->ph);
		h->ph = NULL;
	}
	return ev;
}

/* ---- the provider: tree.h's operations on local nodes, all answered at once ---- */

static void local_lookup(struct zr_tree_node *zp, const char *name, zr_tree_attr_cb cb, void *data)
{
	struct node *p = node_of(zp);
	struct zr_tree_attr a;
	int err = lookup(local_of(p), p, name, &a);
	cb(err, err < 0 ? NULL : &a, data);
}

static void local_forget(struct zr_tree_node *zn)
{
	struct node *n = node_of(zn);
	struct zr_local *t = local_of(n);
	if (n != t->root) {
		node_maybe_free(t, n);
	}
}

static void local_getattr(struct zr_tree_node *zn, zr_tree_attr_cb cb, void *data)
{
	struct node *n = node_of(zn);
	struct zr_tree_attr a;
	int err = getattr_node(local_of(n), n, &a);
	cb(err, err < 0 ? NULL : &a, data);
}

static void local_readlink(struct zr_tree_node *zn, zr_tree_link_cb cb, void *data)
{
	struct node *n = node_of(zn);
	_cleanup_free_ char *target = NULL;
	int err = readlink_node(local_of(n), n, &target);
	cb(err, target, data);
}

static void local_truncate(struct zr_tree_node *zn, uint64_t size, zr_tree_attr_cb cb, void *data)
{
	struct node *n = node_of(zn);
	struct zr_tree_attr a;
	int err = truncate_node(local_of(n), n, size, &a);
	cb(err, err < 0 ? NULL : &a, data);
}

static void local_opendir(struct zr_tree_node *zn, zr_tree_open_cb cb, void *data)
{
	struct node *n = node_of(zn);
	struct zr_local *t = local_of(n);
	struct handle *h = NULL;
	struct zr_tree_attr a;
	int err = opendir_node(t, n, &h);
	if (err == 0) {
		err = getattr_node(t, n, &a);
	}
	if (err < 0) {
		if (h) {
			handle_free(t, h);
		}
		cb(err, NULL, NULL, data);
		return;
	}
	cb(0, &h->base, &a, data);
}

static void local_open(struct zr_tree_node *zn, int flags, zr_tree_open_cb cb, void *data)
{
	struct node *n = node_of(zn);
	struct handle *h;
	struct zr_tree_attr a;
	int err = open_node(local_of(n), n, flags, &h, &a);
	cb(err, err < 0 ? NULL : &h->base, err < 0 ? NULL : &a, data);
}

static uint64_t local_handle_task(const struct zr_handle *zh)
{
	return container_of(zh, const struct handle, base)->task_id;
}

static struct zr_journal *local_handle_journal(struct zr_handle *zh)
{
	struct handle *h = handle_of(zh);
	struct ctx c;
	return handle_ctx(h->tree, h, &c) < 0 ? NULL : node_journal(h->tree, h->node, &c);
}

static const struct zr_tree_provider local_provider = {
	.sync = true,
	.lookup = local_lookup,
	.forget = local_forget,
	.getattr = local_getattr,
	.readlink = local_readlink,
	.truncate = local_truncate,
	.opendir = local_opendir,
	.readdir = local_readdir,
	.mkdir = local_mkdir,
	.rmdir = local_rmdir,
	.open = local_open,
	.read = local_read,
	.read_cancel = local_read_cancel,
	.write = local_write,
	.flush = local_flush,
	.release = local_release,
	.poll = local_poll,
	.handle_task = local_handle_task,
	.handle_journal = local_handle_journal,
};
