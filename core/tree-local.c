/* The local provider: this robot's objects as tree nodes (tree-provider.h). A node stands for
 * an object by name and kind (tree-kinds.c) and is resolved from the model at every operation,
 * so a node whose object is gone answers ENOENT instead of pointing at freed memory. Every
 * operation answers before it returns, except reads that wait for a task (parked here) and
 * writes that wait for a commit (tree-write.c). */
#include "tree-local-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "remote/remote.h"
#include "robot.h"
#include "service.h"
#include "service-parent.h"
#include "task.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"

static const struct zr_tree_provider local_provider;

/* ---- nodes ---- */

/* The local provider of a node: its root is embedded in it. */
static struct zr_local *local_of(const struct node *n)
{
	while (n->parent) {
		n = n->parent;
	}
	return container_of(n, struct zr_local, root_node);
}

static struct node *node_of(struct zr_tree_node *n)
{
	return container_of(n, struct node, base);
}

static struct zr_names *names_ref(struct zr_names *l)
{
	l->refs++;
	return l;
}

static struct zr_names *names_unref(struct zr_names *l)
{
	if (l && --l->refs == 0) {
		for (size_t i = 0; i < l->n; i++) {
			free(l->v[i]);
		}
		free(l->v);
		free(l);
	}
	return NULL;
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
		names_unref(n->listing);
		free(n->name);
		free(n);
		parent->nchildren--;
		n = parent;
	}
}

/* The node for (parent, name) of this identity: the existing one, or a new one when there is
 * none or the existing one stands for an object that is gone (it lives on, detached, until
 * the kernel forgets it). */
static struct node *find_child(struct zr_local *t, const struct node *p, const char *name)
{
	char key[512];
	if (!p || snprintf(key, sizeof(key), "%" PRIu64 "/%s", p->base.ino, name) >= (int)sizeof(key)) {
		return NULL;
	}
	return zr_map_get(&t->by_name, key);
}

static struct node *node_child(struct zr_local *t, struct node *parent, const char *name,
			       const struct kind *kind, uint64_t serial)
{
	/* The common case, a node the kernel knows, without an allocation. */
	struct node *n = find_child(t, parent, name);
	if (n && n->kind == kind && n->serial == serial) {
		return n;
	}
	char *key = NULL;
	if (asprintf(&key, "%" PRIu64 "/%s", parent->base.ino, name) < 0) {
		return NULL;
	}
	n = zr_map_get(&t->by_name, key);
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
	n->kind = kind;
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
	const struct kind *kind;
	uint64_t serial;
	err = zr_kind__child(t, n->parent->kind, c, n->name, &kind, &serial);
	return err < 0 || kind != n->kind || serial != n->serial ? -ENOENT : 0;
}

void zr_local__path(const struct node *n, struct zr_buf *b)
{
	if (!n->parent) {
		return;
	}
	zr_local__path(n->parent, b);
	if (b->len > 0) {
		(void)zr_buf_puts(b, "/");
	}
	(void)zr_buf_puts(b, n->name);
}

/* ---- attributes ---- */

static void node_attr(struct zr_local *t, struct node *n, const struct ctx *c, struct zr_tree_attr *a)
{
	const struct kind *k = n->kind;
	*a = (struct zr_tree_attr){.ino = n->base.ino, .mode = zr_kind__mode(t, k), .nlink = 1};
	a->mtime_ns = zr_kind__mtime(t, n, c);
	if (S_ISDIR(k->mode)) {
		a->nlink = 2;
		switch (zr_kind__attrs(k)) {
		case ZR_KIND_ATTRS_WATCHED:
			n->shown_ns = a->mtime_ns; /* on_robot_event compares */
			a->flags |= ZR_ATTR_STABLE;
			break;
		case ZR_KIND_ATTRS_FIXED:
			a->flags |= ZR_ATTR_STABLE;
			break;
		case ZR_KIND_ATTRS_CHANGE:
			break;
		}
		return;
	}
	a->flags = ZR_ATTR_DIRECT_IO;
	if (k->flags & KIND_BLOCKING) {
		a->flags |= ZR_ATTR_BLOCKING;
	}
	struct zr_journal *j = zr_local__journal(t, n, c);
	struct zr_task *task = k->task ? k->task(c) : NULL;
	if (j) {
		a->size = j->end;
	} else if (task && task->settled) {
		size_t len;
		(void)zr_task_output(task, &len);
		a->size = len;
	} else if (k->content) {
		zr_local__content(t, n, c, &t->scratch);
		a->size = t->scratch.len;
	}
	if (!(a->mode & 0222)) {
		a->flags |= ZR_ATTR_READONLY;
	}
}

/* ---- lifecycle ---- */

/* The service's node, if the kernel knows it. */
static struct node *service_node(struct zr_local *t, const struct zr_service *s)
{
	struct node *n = find_child(t, find_child(t, t->root, s->template->name), s->name);
	return n && n->serial == s->serial ? n : NULL;
}

/* Drops a node whose object left the model; the kernel may still have it cached. */
static void node_gone(struct zr_local *t, struct node *n)
{
	node_detach(t, n);
	if (n->base.nlookup > 0) {
		zr_tree__inval_entry(t->tree, n->parent->base.ino, n->name);
		/* The entry goes through the notifier thread, later: until then the kernel must not
		 * answer a stat from the attributes it cached (a service's are), so they go now. */
		zr_tree__inval_attr(t->tree, n->base.ino);
	}
	node_maybe_free(t, n);
}

/* Watched directories (zr_kind__attrs): the root, @robot/templates and the templates' two
 * folders, whose times move with the robot's events. The kernel caches their attributes;
 * here they go when the time it was given is no longer true. */
static void watched_inval(struct zr_local *t, struct node *n)
{
	if (n && n->shown_ns) {
		n->shown_ns = 0; /* until the kernel asks again */
		zr_tree__inval_attr(t->tree, n->base.ino);
	}
}

static void watched_check(struct zr_local *t, struct node *n, long long mtime_ns)
{
	if (n && n->shown_ns != mtime_ns) {
		watched_inval(t, n);
	}
}

static struct node *rtemplates_node(struct zr_local *t)
{
	return find_child(t, find_child(t, t->root, "@robot"), "templates");
}

static void watched_check_all(struct zr_local *t)
{
	struct zr_robot *r = t->robot;
	struct node *rts = rtemplates_node(t);
	size_t i = 0;
	const char *name;
	void *v;
	watched_check(t, t->root, r->mtime_ns);
	watched_check(t, rts, r->mtime_ns);
	while (zr_map_next(&r->templates, &i, &name, NULL, &v)) {
		const struct zr_robot_template *rt = v;
		watched_check(t, find_child(t, t->root, name), rt->mtime_ns);
		watched_check(t, find_child(t, rts, name), rt->mtime_ns);
	}
}

/* Every change of a watched time comes with an event (a service made, a template loaded),
 * logged after the change; a deletion's comes before it (on_service_removed). */
static void on_robot_event(struct zr_waiter *w)
{
	struct zr_local *t = container_of(w, struct zr_local, events_waiter);
	zr_waitq_add(&t->robot->events.waitq, w);
	watched_check_all(t);
}

/* A task dropped from the history. */
static void on_task_removed(struct zr_task *task, void *data)
{
	struct zr_local *t = data;
	char id[32];
	snprintf(id, sizeof(id), "%llu", (unsigned long long)task->id);
	struct node *n = find_child(t, find_child(t, service_node(t, task->svc), "tasks"), id);
	if (n) {
		node_gone(t, n);
	}
}

/* Drops children/<t>.<s> of s from the folder of its parent parent ("T/S"), if the kernel
 * knows it: s left it (deleted, or given another parent). */
static void child_gone(struct zr_local *t, const struct zr_service *s, const char *parent)
{
	char name[256];
	const char *slash = parent ? strchr(parent, '/') : NULL;
	if (!slash || (size_t)(slash - parent) >= sizeof(name)) {
		return;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(slash - parent), parent);
	struct node *p = find_child(t, find_child(t, t->root, name), slash + 1);
	snprintf(name, sizeof(name), "%s.%s", s->template->name, s->name);
	struct node *n = find_child(t, find_child(t, p, "children"), name);
	if (n) {
		node_gone(t, n);
	}
}

static void on_parent_changed(struct zr_service *s, const char *old, void *data)
{
	struct zr_local *t = data;
	child_gone(t, s, old);
	struct node *n = s->parent ? NULL : find_child(t, service_node(t, s), "parent");
	if (n) {
		node_gone(t, n);
	}
}

static void on_service_removed(struct zr_service *s, void *data)
{
	struct zr_local *t = data;
	struct node *n = service_node(t, s);
	child_gone(t, s, s->parent);
	if (n) {
		node_gone(t, n);
	}
	/* The template's time moves right after this, before anyone is answered. */
	watched_inval(t, find_child(t, t->root, s->template->name));
	watched_inval(t, find_child(t, rtemplates_node(t), s->template->name));
}

/* A role's producers/<role> may have turned from a link into a folder or back: the kernel
 * must ask again. */
static void on_producers_changed(struct zr_service *s, void *data)
{
	struct zr_local *t = data;
	struct node *n = find_child(t, service_node(t, s), "producers");
	for (size_t i = 0; n && i < s->template->n_roles; i++) {
		if (find_child(t, n, s->template->roles[i].name)) {
			zr_tree__inval_entry(t->tree, n->base.ino, s->template->roles[i].name);
		}
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
	t->root->base.prov = &local_provider;
	t->root->kind = &zr_kind_root;
	if (zr_tree__set_root(tree, &t->root->base) < 0) {
		free(t);
		return -ENOMEM;
	}
	r->hooks = (struct zr_robot_hooks){
		.task_removed = on_task_removed,
		.service_removed = on_service_removed,
		.parent_changed = on_parent_changed,
		.producers_changed = on_producers_changed,
		.data = t,
	};
	zr_waiter_init(&t->events_waiter, on_robot_event);
	zr_waitq_add(&r->events.waitq, &t->events_waiter);
	*ret = t;
	return 0;
}

void zr_local_cancel_all(struct zr_local *t, int err)
{
	while (!zr_list_empty(&t->parked)) {
		zr_local__req_finish(container_of(t->parked.next, struct parked, link), -err, NULL, 0);
	}
}

void zr_local_destroy(struct zr_local *t, int err)
{
	if (!t) {
		return;
	}
	zr_local_cancel_all(t, err);
	while (!zr_list_empty(&t->handles)) {
		zr_local__handle_free(t, container_of(t->handles.next, struct handle, link));
	}
	size_t i = 0;
	struct zr_tree_node *tn;
	/* Detached nodes are in the inode table only: free ours from there (the table goes
	 * with the tree right after this). */
	while ((tn = zr_tree__next(t->tree, &i))) {
		if (tn->prov == &local_provider && tn != &t->root->base) {
			struct node *n = node_of(tn);
			names_unref(n->listing);
			free(n->name);
			free(n->key);
			free(n);
		}
	}
	t->robot->hooks = (struct zr_robot_hooks){0};
	zr_waiter_remove(&t->events_waiter);
	zr_map_done(&t->by_name);
	names_unref(t->root->listing);
	zr_buf_done(&t->scratch);
	free(t->read_mem);
	free(t);
}

size_t zr_local_parked(const struct zr_local *t) { return t->n_parked; }

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

/* ---- entries ---- */

static int lookup_node(struct zr_local *t, struct node *p, const char *name, struct node **ret,
		       struct ctx *c)
{
	int err = resolve(t, p, c);
	if (err < 0) {
		return err;
	}
	const struct kind *kind;
	uint64_t serial;
	err = zr_kind__child(t, p->kind, c, name, &kind, &serial);
	if (err < 0) {
		return err;
	}
	struct node *n = node_child(t, p, name, kind, serial);
	if (!n) {
		return -ENOMEM;
	}
	*ret = n;
	return 0;
}

static void local_lookup(struct zr_tree_node *zp, const char *name, zr_tree_attr_cb cb, void *data)
{
	struct node *p = node_of(zp), *n;
	struct zr_local *t = local_of(p);
	struct zr_tree_attr a;
	struct ctx c;
	int err;
	if (p->kind == &zr_kind_remotes) {
		/* A remote robot's root: a node of the remote provider, counted there. */
		struct zr_remotes *rs = zr_tree__remotes(t->tree);
		err = resolve(t, p, &c);
		err = err < 0 ? err : rs ? zr_remotes_root(rs, name, true, &a) : -ENOENT;
	} else if ((err = lookup_node(t, p, name, &n, &c)) == 0) {
		n->base.nlookup++;
		node_attr(t, n, &c, &a);
	}
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
	struct zr_local *t = local_of(n);
	struct zr_tree_attr a;
	struct ctx c;
	int err = resolve(t, n, &c);
	if (err == 0) {
		node_attr(t, n, &c, &a);
	}
	cb(err, err < 0 ? NULL : &a, data);
}

static void local_readlink(struct zr_tree_node *zn, zr_tree_link_cb cb, void *data)
{
	struct node *n = node_of(zn);
	struct zr_local *t = local_of(n);
	_cleanup_free_ char *target = NULL;
	struct ctx c;
	int err = resolve(t, n, &c);
	if (err == 0) {
		err = n->kind->readlink ? n->kind->readlink(t, n, &c, &target) : -EINVAL;
	}
	cb(err, target, data);
}

/* A node resolved for a file operation: -EISDIR for a directory. */
static int resolve_file(struct zr_local *t, struct node *n, struct ctx *c)
{
	int err = resolve(t, n, c);
	return err == 0 && S_ISDIR(n->kind->mode) ? -EISDIR : err;
}

/* Truncation to 0 of a file that takes writes (echo's O_TRUNC): accepted, changes nothing. */
static void local_truncate(struct zr_tree_node *zn, uint64_t size, zr_tree_attr_cb cb, void *data)
{
	struct node *n = node_of(zn);
	struct zr_local *t = local_of(n);
	struct zr_tree_attr a;
	struct ctx c;
	int err = resolve_file(t, n, &c);
	if (err == 0 && (!n->kind->write || size != 0)) {
		err = -EPERM;
	}
	if (err == 0) {
		node_attr(t, n, &c, &a);
	}
	cb(err, err < 0 ? NULL : &a, data);
}

/* ---- directories ---- */

int zr_local__add_name(struct zr_names *l, const char *name)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		char **p = realloc(l->v, nc * sizeof(*p));
		if (!p) {
			return -ENOMEM;
		}
		l->v = p;
		l->cap = nc;
	}
	if (!(l->v[l->n] = strdup(name))) {
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

/* Snapshots the names in a directory, so offsets stay stable across readdir calls. A watched
 * directory (the root, a template's folder: zr_kind__attrs) keeps its listing for the next
 * opendir until its time moves, so `ls` of 100,000 services lists and sorts them once. */
static int list_dir(struct zr_local *t, struct handle *h)
{
	struct node *n = h->node;
	struct ctx c;
	int err = resolve(t, n, &c);
	if (err < 0) {
		return err;
	}
	bool keep = zr_kind__attrs(n->kind) == ZR_KIND_ATTRS_WATCHED;
	long long version = keep ? zr_kind__mtime(t, n, &c) : 0;
	if (keep && n->listing && n->listing->version == version) {
		names_unref(h->names);
		h->names = names_ref(n->listing);
		return 0;
	}
	struct zr_names *l = calloc(1, sizeof(*l));
	if (!l) {
		return -ENOMEM;
	}
	*l = (struct zr_names){.refs = 1, .version = version};
	err = zr_kind__list(t, n->kind, &c, l);
	if (err < 0) {
		names_unref(l);
		return err;
	}
	names_unref(h->names);
	h->names = l;
	if (keep) {
		names_unref(n->listing);
		n->listing = names_ref(l);
	}
	return 0;
}

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
	zr_waiter_init(&h->poll_waiter, zr_local__on_poll_wake);
	zr_list_push_back(&t->handles, &h->link);
	return h;
}

void zr_local__handle_free(struct zr_local *t, struct handle *h)
{
	zr_local__bp_detach(h);
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
	names_unref(h->names);
	struct node *n = h->node;
	n->nopen--;
	free(h);
	node_maybe_free(t, n);
}

static void local_opendir(struct zr_tree_node *zn, zr_tree_open_cb cb, void *data)
{
	struct node *n = node_of(zn);
	struct zr_local *t = local_of(n);
	struct zr_tree_attr a = {.ino = zn->ino, .mode = n->kind->mode, .nlink = 2};
	if (!S_ISDIR(n->kind->mode)) {
		cb(-ENOTDIR, NULL, NULL, data);
		return;
	}
	struct handle *h = handle_new(t, n);
	int err = h ? list_dir(t, h) : -ENOMEM;
	if (err < 0) {
		if (h) {
			zr_local__handle_free(t, h);
		}
		cb(err, NULL, NULL, data);
		return;
	}
	h->fresh = true;
	cb(0, &h->base, &a, data);
}

/* The attributes of entry name of h's directory: its node's when the front end keeps it
 * (plus), when the kernel knows it already, or for a link (the HTTP listing reads its target
 * by number); else those of a node on the stack, ino 0 (a listing of 10,000 services makes
 * no node). -ENOENT: removed since the snapshot. */
static int entry_attr(struct zr_local *t, struct handle *h, const char *name, const struct ctx *dc,
		      bool plus, struct zr_tree_attr *ret)
{
	struct ctx c = *dc;
	const struct kind *kind;
	uint64_t serial;
	int err = zr_kind__child(t, h->node->kind, &c, name, &kind, &serial);
	if (err < 0) {
		return err;
	}
	struct node *n = find_child(t, h->node, name);
	if (plus || S_ISLNK(kind->mode)) {
		n = node_child(t, h->node, name, kind, serial);
		if (!n) {
			return -ENOMEM;
		}
	} else if (!n || n->kind != kind || n->serial != serial) {
		struct node tmp = {.parent = h->node, .name = (char *)name, .kind = kind, .serial = serial};
		node_attr(t, &tmp, &c, ret);
		return 0;
	}
	node_attr(t, n, &c, ret);
	return 0;
}

/* The snapshot of a watched directory whose time has not moved since: every name in it is
 * there still, and the model's are folders (zr_kind__attrs). */
static bool listing_current(struct zr_local *t, const struct handle *h, const struct ctx *dc)
{
	const struct node *n = h->node;
	return zr_kind__attrs(n->kind) == ZR_KIND_ATTRS_WATCHED &&
	       h->names->version == zr_kind__mtime(t, n, dc);
}

static int local_readdir(struct zr_handle *zh, uint64_t off, unsigned flags, zr_tree_fill_fn fill,
			 void *data)
{
	struct handle *h = zr_local__handle_of(zh);
	struct zr_local *t = h->tree;
	struct zr_remotes *rs = zr_tree__remotes(t->tree);
	struct ctx dc;
	if (off == 0 && !h->fresh) {
		/* rewinddir(): show the tree as it is now. */
		int err = list_dir(t, h);
		if (err < 0) {
			return err;
		}
	}
	h->fresh = false;
	if (resolve(t, h->node, &dc) < 0) {
		return 0; /* the directory is gone: nothing in it */
	}
	/* A plain readdir of 100,000 services: no lookup per name, numbers unknown. */
	bool names = (flags & ZR_TREE_READDIR_NAMES) && listing_current(t, h, &dc);
	bool plus = flags & ZR_TREE_READDIR_PLUS;
	for (uint64_t i = off; i < h->names->n; i++) {
		struct zr_tree_attr a;
		if (names && i >= h->names->n_fixed) {
			a = (struct zr_tree_attr){.mode = S_IFDIR | 0555, .nlink = 2};
		} else if (h->node->kind == &zr_kind_remotes) {
			/* A remote robot's root: a node of the remote provider. */
			if (!rs || zr_remotes_root(rs, h->names->v[i], false, &a) < 0) {
				continue;
			}
		} else {
			int err = entry_attr(t, h, h->names->v[i], &dc, plus, &a);
			if (err == -ENOMEM) {
				return err;
			}
			if (err < 0) {
				continue; /* removed since the snapshot: skipped, not shown stale */
			}
		}
		if (!fill(h->names->v[i], &a, i + 1, data)) {
			break;
		}
	}
	return 0;
}

/* ---- services ---- */

static void on_mkdir_done(int err, const char *why, struct zr_service *s, void *data)
{
	struct tree_op *op = data;
	struct zr_local *t = op->tree;
	struct zr_tree_node *zp = zr_tree__node(t->tree, op->parent);
	struct node *p = zp && zp->prov == &local_provider ? node_of(zp) : NULL, *n = NULL;
	struct zr_tree_attr a;
	struct ctx c;
	(void)s;
	if (err < 0 && err != -EEXIST) {
		log_warn("Refused mkdir %s: %s", op->name, why ? why : strerror(-err));
	}
	if (err == 0) {
		/* op->name is "<template>/<service>", for the log. */
		err = p ? lookup_node(t, p, strchr(op->name, '/') + 1, &n, &c) : -ENOENT;
	}
	if (err < 0) {
		zr_local__op_done(op, err, NULL);
		return;
	}
	n->base.nlookup++;
	node_attr(t, n, &c, &a);
	zr_local__op_done(op, 0, &a);
}

static void local_mkdir(struct zr_tree_node *zp, const char *name, zr_tree_done_cb cb, void *data)
{
	struct node *p = node_of(zp);
	struct zr_local *t = local_of(p);
	struct ctx c;
	int err = resolve(t, p, &c);
	if (err < 0) {
		cb(err, NULL, data);
		return;
	}
	if (p->kind != &zr_kind_template) {
		log_warn("Refused mkdir %s: services are made in a template's folder", name);
		cb(-EPERM, NULL, data);
		return;
	}
	struct tree_op *op = zr_local__op_new(t, NULL, cb, data);
	if (!op || asprintf(&op->name, "%s/%s", c.rt->t->name, name) < 0) {
		free(op);
		cb(-ENOMEM, NULL, data);
		return;
	}
	op->parent = zp->ino;
	/* Validated by the model (who, name, default data), as an HTTP create is. */
	zr_service_request_create(t->robot, zr_tree__actor(t->tree), c.rt->t->name, name, NULL,
				  on_mkdir_done, op);
}

static void on_rmdir_done(int err, void *data)
{
	zr_local__op_done(data, err, NULL);
}

static void local_rmdir(struct zr_tree_node *zp, const char *name, zr_tree_done_cb cb, void *data)
{
	struct node *p = node_of(zp);
	struct zr_local *t = local_of(p);
	struct ctx c;
	int err = resolve(t, p, &c);
	if (err == 0 && p->kind != &zr_kind_template) {
		const struct kind *kind;
		uint64_t serial;
		err = zr_kind__child(t, p->kind, &c, name, &kind, &serial) < 0 ? -ENOENT : -EPERM;
	}
	struct zr_service *s = err == 0 ? zr_map_get(&c.rt->services, name) : NULL;
	_cleanup_free_ char *why = NULL;
	if (err == 0 && (!s || s->pending)) {
		err = -ENOENT;
	}
	if (err == 0 && (err = zr_service__may_delete_tree(s, zr_tree__actor(t->tree), &why)) < 0) {
		log_warn("Refused rmdir %s: %s", s->path, why ? why : strerror(-err));
	}
	struct tree_op *op = zr_local__op_start(t, NULL, err, cb, data);
	if (!op) {
		return;
	}
	zr_robot_delete_service(t->robot, s, on_rmdir_done, op);
}

/* ---- files ---- */

static void local_open(struct zr_tree_node *zn, int flags, zr_tree_open_cb cb, void *data)
{
	struct node *n = node_of(zn);
	struct zr_local *t = local_of(n);
	struct ctx c;
	int err = resolve_file(t, n, &c);
	if (err == 0 && (flags & O_ACCMODE) != O_RDONLY && !(n->kind->mode & 0222)) {
		/* Root passes the kernel's permission check: say no here too. */
		err = -EACCES;
	}
	struct handle *h = err == 0 ? handle_new(t, n) : NULL;
	if (err == 0 && !h) {
		err = -ENOMEM;
	}
	if (err < 0) {
		cb(err, NULL, NULL, data);
		return;
	}
	if (c.svc) {
		h->svc = c.svc;
		zr_service_ref(c.svc);
	}
	/* Whoever opened the file writes through it (a descriptor passed on keeps its opener's
	 * rights, as with mode bits). */
	const struct zr_actor *who = zr_tree__actor(t->tree);
	if (who) {
		h->who = *who;
	} else {
		zr_actor_admin(&h->who);
	}
	/* results/<action> waits for the task that is newest now, even if another starts. */
	struct zr_task *task = n->kind->task && (n->kind->flags & KIND_ACTION) ? n->kind->task(&c) : NULL;
	if (task) {
		h->task_id = task->id;
	}
	if (n->kind->content) {
		zr_local__content(t, n, &c, &h->content);
	}
	struct zr_tree_attr a;
	node_attr(t, n, &c, &a);
	cb(0, &h->base, &a, data);
}

/* Resolves an open file: through its service when it has one, so files opened before an
 * rmdir keep working (a blocked reader still gets its task's result). */
int zr_local__handle_ctx(struct zr_local *t, struct handle *h, struct ctx *c)
{
	struct node *n = h->node;
	if (!h->svc) {
		return resolve(t, n, c);
	}
	*c = (struct ctx){.svc = h->svc};
	if (n->kind->flags & KIND_IN_TASK) {
		c->task = zr_service_task(h->svc, n->parent->serial);
		if (!c->task) {
			return -ENOENT;
		}
	} else if (n->kind->flags & KIND_ACTION) {
		c->action = zr_template_action(h->svc->template, n->name);
	}
	return 0;
}

static void local_write(struct zr_handle *zh, const char *buf, size_t len, uint64_t off,
			zr_tree_done_cb cb, void *data)
{
	zr_local__write(zr_local__handle_of(zh), buf, len, off, cb, data);
}

static void local_flush(struct zr_handle *zh, zr_tree_done_cb cb, void *data)
{
	zr_local__flush(zr_local__handle_of(zh), cb, data);
}

static void local_release(struct zr_handle *zh)
{
	struct handle *h = zr_local__handle_of(zh);
	struct zr_local *t = h->tree;
	struct parked *q, *tmp;
	/* The kernel releases only idle files, but a parked read must never outlive its handle. */
	zr_list_for_each_safe(q, tmp, &t->parked, link) {
		if (q->h == h) {
			zr_local__req_finish(q, -EINTR, NULL, 0);
		}
	}
	if (h->inflight > 0) {
		h->released = true; /* freed by its last request's answer */
		return;
	}
	zr_local__handle_free(t, h);
}

static uint64_t local_handle_task(const struct zr_handle *zh)
{
	return container_of(zh, const struct handle, base)->task_id;
}

static struct zr_journal *local_handle_journal(struct zr_handle *zh)
{
	struct handle *h = zr_local__handle_of(zh);
	struct ctx c;
	return zr_local__handle_ctx(h->tree, h, &c) < 0 ? NULL : zr_local__journal(h->tree, h->node, &c);
}

static uint64_t local_parent(struct zr_tree_node *zn)
{
	struct node *n = node_of(zn);
	if (!S_ISDIR(n->kind->mode)) {
		return 0;
	}
	return n->parent ? n->parent->base.ino : zn->ino;
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
	.parent = local_parent,
	.mkdir = local_mkdir,
	.rmdir = local_rmdir,
	.open = local_open,
	.read = zr_local__read,
	.read_cancel = zr_local__read_cancel,
	.write = local_write,
	.flush = local_flush,
	.release = local_release,
	.poll = zr_local__poll,
	.handle_task = local_handle_task,
	.handle_journal = local_handle_journal,
};
