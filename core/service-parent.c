/* Services: their AYS parent (DESIGN §8): setting it (checked for cycles), the blueprint name a
 * service carries, finding children and descendants, and the ctl command "recurse ACTION". */
#include "service-parent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/log.h"

/* The local service at path "T/S" (in the tree or pending), or NULL. */
static struct zr_service *service_at(const struct zr_robot *r, const char *path)
{
	const char *slash = path ? strchr(path, '/') : NULL;
	if (!slash || slash == path || strchr(slash + 1, '/')) {
		return NULL;
	}
	_cleanup_free_ char *tmpl = strndup(path, (size_t)(slash - path));
	return tmpl ? zr_robot_service(r, tmpl, slash + 1) : NULL;
}

/* ---- children ---- */

/* The children of s, sorted by path, into *ret (malloc'd; NULL and 0 for none): a copy of the
 * index's, which the caller's walk may change. */
static int children_of(struct zr_robot *r, const struct zr_service *s, struct zr_service ***ret,
		       size_t *ret_n)
{
	size_t n;
	const struct zr_index_entry *filed = zr_robot__index_children(r, s->path, &n);
	struct zr_service **v = NULL;
	if (n > 0 && !(v = reallocarray(NULL, n, sizeof(*v)))) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = filed[i].s;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

void zr_robot_children(struct zr_robot *r, const struct zr_service *s,
		       void (*fn)(struct zr_service *child, void *data), void *data)
{
	struct zr_service **v = NULL;
	size_t n = 0;
	if (children_of(r, s, &v, &n) < 0) {
		log_error("Service %s: out of memory while listing its children, ignoring", s->path);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		fn(v[i], data);
	}
	free(v);
}

char *zr_service__children_text(struct zr_robot *r, const struct zr_service *s)
{
	struct zr_service **v = NULL;
	size_t n = 0;
	struct zr_buf b = {0};
	if (children_of(r, s, &v, &n) < 0) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		(void)zr_buf_printf(&b, "%s%s", i ? ", " : "", v[i]->path);
	}
	free(v);
	if (n == 0) {
		zr_buf_done(&b);
		return NULL;
	}
	return zr_buf_steal(&b);
}

struct walk {
	struct zr_robot *r;
	bool pre;
	struct zr_service **v;
	size_t n, cap;
};

static int walk_push(struct walk *w, struct zr_service *s)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 8;
		struct zr_service **nv = realloc(w->v, cap * sizeof(*nv));
		if (!nv) {
			return -ENOMEM;
		}
		w->v = nv;
		w->cap = cap;
	}
	w->v[w->n++] = s;
	return 0;
}

static int walk_children(struct walk *w, const struct zr_service *s, unsigned depth)
{
	struct zr_service **kids = NULL;
	size_t n = 0;
	/* set_parent refuses cycles; a store edited by hand may still hold one. */
	if (depth > ZR_PARENT_DEPTH_MAX) {
		return -ELOOP;
	}
	int err = children_of(w->r, s, &kids, &n);
	for (size_t i = 0; err == 0 && i < n; i++) {
		if (w->pre) {
			err = walk_push(w, kids[i]);
		}
		if (err == 0) {
			err = walk_children(w, kids[i], depth + 1);
		}
		if (err == 0 && !w->pre) {
			err = walk_push(w, kids[i]);
		}
	}
	free(kids);
	return err;
}

int zr_service__descendants(struct zr_robot *r, const struct zr_service *s, bool pre,
			    struct zr_service ***ret, size_t *ret_n)
{
	struct walk w = {.r = r, .pre = pre};
	int err = walk_children(&w, s, 0);
	if (err < 0) {
		free(w.v);
		return err;
	}
	*ret = w.v;
	*ret_n = w.n;
	return 0;
}

int zr_service__may_delete_tree(struct zr_service *s, const struct zr_actor *who, char **why)
{
	int err = zr_service_may_delete(s, who, why);
	if (err < 0 || !s->force_delete) {
		return err; /* without force, children refuse the deletion (EBUSY) */
	}
	struct zr_service **v = NULL;
	size_t n = 0;
	err = zr_service__descendants(s->robot, s, false, &v, &n);
	for (size_t i = 0; err == 0 && i < n; i++) {
		err = zr_service_may_delete(v[i], who, why);
	}
	free(v);
	return err == -ELOOP ? zr_fail(why, -EBUSY, "the parents of %s's children form a cycle",
				       s->path) : err;
}

bool zr_service__cascade_held(const struct zr_service *s)
{
	const struct zr_service *c;
	zr_list_for_each(c, &s->robot->deleting, delete_link) {
		if (c != s && c->parent && strcmp(c->parent, s->path) == 0) {
			return true;
		}
	}
	return false;
}

void zr_service__parents_check(struct zr_robot *r)
{
	struct zr_robot_iter it = {0};
	for (struct zr_service *s; (s = zr_robot_next_service(r, &it));) {
		if (s->parent && !service_at(r, s->parent)) {
			log_warn("Service %s: its parent %s is not there: it keeps the name (write "
				 "'parent none' to its ctl to forget it)", s->path, s->parent);
		}
	}
}

/* ---- setting the parent ---- */

int zr_service_set_blueprint(struct zr_service *s, const char *name)
{
	char *copy = NULL;
	if (name && !(copy = strdup(name))) {
		return -ENOMEM;
	}
	int err = zr_store_service_blueprint(s->robot->cfg.store, s->guid, name);
	if (err < 0) {
		free(copy);
		return err;
	}
	free(s->blueprint);
	s->blueprint = copy;
	return 0;
}

/* The generations below s (0: no children) into *max, or -ELOOP past ZR_PARENT_DEPTH_MAX. */
static int subtree_height(struct zr_robot *r, const struct zr_service *s, unsigned depth,
			  unsigned *max)
{
	if (depth > ZR_PARENT_DEPTH_MAX) {
		return -ELOOP;
	}
	*max = depth > *max ? depth : *max;
	struct zr_service **kids = NULL;
	size_t n = 0;
	int err = children_of(r, s, &kids, &n);
	for (size_t i = 0; err == 0 && i < n; i++) {
		err = subtree_height(r, kids[i], depth + 1, max);
	}
	free(kids);
	return err;
}

/* Refuses parent p for s when p's chain of parents leads back to s: "cycle: a/x -> b/y ->
 * a/x" (s first and last), or when s's deepest descendant would then be more than
 * ZR_PARENT_DEPTH_MAX below its root: walk_children refuses such a tree (ELOOP), so a forced
 * rmdir of the root, or the rollback of an apply that built it, could never delete it. */
static int check_cycle(const struct zr_service *s, const struct zr_service *p, char **why)
{
	struct zr_buf chain = {0};
	int err = 0;
	(void)zr_buf_printf(&chain, "%s -> %s", s->path, p->path);
	unsigned depth = 0;
	for (; err == 0 && p; depth++) {
		if (p == s) {
			err = zr_fail(why, -EINVAL, "cycle: %s", chain.data ? chain.data : "");
		} else if (depth >= ZR_PARENT_DEPTH_MAX) {
			err = zr_fail(why, -EINVAL, "parent chain of %s is deeper than %d", s->path,
				      ZR_PARENT_DEPTH_MAX);
		} else if (p->parent) {
			(void)zr_buf_printf(&chain, " -> %s", p->parent);
			p = service_at(s->robot, p->parent);
		} else {
			p = NULL;
		}
	}
	zr_buf_done(&chain);
	/* s is at generation depth under its root; a service being created has no children. */
	unsigned below = 0;
	if (err == 0 && !s->pending) {
		err = subtree_height(s->robot, s, 0, &below);
		if (err == -ENOMEM) {
			return err;
		}
	}
	if (err == -ELOOP || (err == 0 && depth + below > ZR_PARENT_DEPTH_MAX)) {
		err = zr_fail(why, -EINVAL, "parent chain of %s is deeper than %d", s->path,
			      ZR_PARENT_DEPTH_MAX);
	}
	return err;
}

struct set_parent {
	struct zr_service *s;
	char *parent; /* what was set, to undo on failure */
	char *old;
	zr_done_cb cb;
	void *cbdata;
};

static void parent_changed(struct zr_service *s, const char *old)
{
	struct zr_robot *r = s->robot;
	zr_service__refile(s);
	if (r->hooks.parent_changed) {
		r->hooks.parent_changed(s, old, r->hooks.data);
	}
}

static void on_parent_stored(int err, void *data)
{
	struct set_parent *q = data;
	struct zr_service *s = q->s;
	bool same = (!s->parent && !q->parent) ||
		    (s->parent && q->parent && strcmp(s->parent, q->parent) == 0);
	if (err < 0) {
		log_error("Service %s: its parent %s is not stored: %s", s->path,
			  q->parent ? q->parent : "none", strerror(-err));
		/* Undone unless another change came meanwhile. */
		if (same && !s->closing) {
			_cleanup_free_ char *was = s->parent;
			s->parent = q->old;
			q->old = NULL;
			parent_changed(s, was);
		}
	} else {
		log_info("Service %s: parent %s", s->path, q->parent ? q->parent : "none");
		zr_service__event(s, "parent.changed", json_pack("{ss?}", "parent", q->parent));
	}
	if (q->cb) {
		q->cb(err, q->cbdata);
	}
	free(q->parent);
	free(q->old);
	free(q);
	zr_service_unref(s);
}

int zr_service_set_parent(struct zr_service *s, const struct zr_actor *who, const char *parent,
			  char **why, zr_done_cb cb, void *cbdata)
{
	struct zr_robot *r = s->robot;
	int err = zr_service_may_change(s, who, why);
	if (err < 0) {
		return err;
	}
	if (s->deleting || s->delete_requested) {
		return zr_fail(why, -ENOENT, "%s is being deleted", s->path);
	}
	if (parent) {
		struct zr_service *p = service_at(r, parent);
		if (!p || p->delete_requested || p->deleting) {
			return zr_fail(why, -EINVAL, "no such service: %s (a parent is a local "
				       "TEMPLATE/SERVICE)", parent);
		}
		if (p == s) {
			return zr_fail(why, -EINVAL, "%s cannot be its own parent", s->path);
		}
		/* As for a producer: who lists a service among another's children may act
		 * there. */
		err = zr_service_may_act(p, who, why);
		if (err == 0) {
			err = check_cycle(s, p, why);
		}
		if (err < 0) {
			return err;
		}
	}
	struct set_parent *q = calloc(1, sizeof(*q));
	if (!q || (parent && !(q->parent = strdup(parent)))) {
		free(q);
		return -ENOMEM;
	}
	char *mine = parent ? strdup(parent) : NULL;
	if ((parent && !mine) || zr_store_service_parent(r->cfg.store, s->guid, parent) < 0) {
		free(mine);
		free(q->parent);
		free(q);
		return -ENOMEM;
	}
	/* In the model at once, so that a second change in this loop turn (an apply's next
	 * entry) sees it and cannot close a cycle; undone if the commit fails. */
	q->old = s->parent;
	s->parent = mine;
	parent_changed(s, q->old);
	*q = (struct set_parent){.s = s, .parent = q->parent, .old = q->old, .cb = cb, .cbdata = cbdata};
	zr_service_ref(s);
	zr_store_sync(r->cfg.store, on_parent_stored, q);
	return 0;
}

/* ---- recurse ---- */

struct recurse {
	struct zr_service *s;
	char *action;
	unsigned left;   /* requests not ended yet, plus one while they are being made */
	int err;         /* the first error */
	zr_done_cb cb;
	void *cbdata;
};

static void recurse_end(struct recurse *q)
{
	if (--q->left > 0) {
		return;
	}
	q->cb(q->err, q->cbdata);
	zr_service_unref(q->s);
	free(q->action);
	free(q);
}

static void on_recurse_queued(int err, const char *why, struct zr_task *t, void *data)
{
	struct recurse *q = data;
	if (err < 0) {
		log_warn("Service %s: recurse %s: not queued: %s", q->s->path, q->action,
			 why ? why : strerror(-err));
		if (q->err == 0) {
			q->err = err;
		}
	} else {
		log_info("Service %s: recurse %s: task %llu on %s", q->s->path, q->action,
			 (unsigned long long)t->id, t->svc->path);
	}
	recurse_end(q);
}

int zr_service__recurse(struct zr_service *s, const struct zr_actor *who, const char *action,
			char **why, zr_done_cb cb, void *cbdata)
{
	const struct zr_action_def *a = zr_template_action(s->template, action);
	if (!a) {
		return zr_fail(why, -EINVAL, "recurse: %s has no action '%s'", s->template->name, action);
	}
	struct zr_service **v = NULL;
	size_t n = 0;
	int err = zr_service__descendants(s->robot, s, true, &v, &n);
	if (err < 0) {
		return err == -ELOOP ? zr_fail(why, -EINVAL, "recurse: the parents of %s's children "
					       "form a cycle", s->path) : err;
	}
	struct recurse *q = calloc(1, sizeof(*q));
	if (!q || !(q->action = strdup(action))) {
		free(q);
		free(v);
		return -ENOMEM;
	}
	*q = (struct recurse){.s = s, .action = q->action, .left = 1, .cb = cb, .cbdata = cbdata};
	zr_service_ref(s);
	/* In order: a request that is refused at once ends before the next is made. */
	for (size_t i = 0; i <= n; i++) {
		struct zr_service *c = i == 0 ? s : v[i - 1];
		const struct zr_action_def *ca = zr_template_action(c->template, action);
		if (!ca || c->pending) {
			log_info("Service %s: recurse %s: %s %s, skipped", s->path, action, c->path,
				 ca ? "is not created yet" : "has no such action");
			continue;
		}
		q->left++;
		zr_service_request_task(c, who, ca, "", 0, on_recurse_queued, q);
	}
	free(v);
	recurse_end(q);
	return 0;
}
