/* The tree: one inode table for the nodes of every provider, and each operation sent to the
 * provider of its node (tree-provider.h). The front ends (fs/, core/api/) see only this. */
#include "tree-provider.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "remote/remote.h"
#include "util/buf.h"
#include "util/map.h"

struct zr_tree {
	struct zr_tree_ops ops;
	void *data;
	struct zr_map by_ino; /* ino → struct zr_tree_node */
	uint64_t next_ino;
	struct zr_tree_node *root;
	struct zr_local *local;     /* NULL: a tree of one remote robot (zrobot mount) */
	struct zr_remotes *remotes; /* NULL: no remote robots */
	/* Who asks, during a provider call started by zr_tree_*_as only (tree-provider.h). */
	const struct zr_actor *actor;
};

int zr_tree_create(struct zr_robot *r, const struct zr_tree_ops *ops, void *data, struct zr_tree **ret)
{
	struct zr_tree *t = calloc(1, sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	t->ops = *ops;
	t->data = data;
	t->next_ino = ZR_TREE_ROOT_INO;
	int err = r ? zr_local_create(t, r, &t->local) : 0;
	if (err < 0) {
		zr_map_done(&t->by_ino);
		free(t);
		return err;
	}
	*ret = t;
	return 0;
}

void zr_tree_destroy(struct zr_tree *t, int err)
{
	if (!t) {
		return;
	}
	zr_tree_set_remotes(t, NULL);
	zr_local_destroy(t->local, err);
	zr_map_done(&t->by_ino);
	free(t);
}

void zr_tree_cancel_all(struct zr_tree *t, int err)
{
	if (t->local) {
		zr_local_cancel_all(t->local, err);
	}
}

void zr_tree_set_remotes(struct zr_tree *t, struct zr_remotes *rs)
{
	if (t->remotes == rs) {
		return;
	}
	if (t->remotes) {
		struct zr_remotes *old = t->remotes;
		t->remotes = NULL;
		zr_remotes_attach(old, NULL);
	}
	t->remotes = rs;
	if (rs) {
		zr_remotes_attach(rs, t);
	}
}

void zr_tree_remote_changed(struct zr_tree *t, const char *name)
{
	if (t->local) {
		zr_local_remote_changed(t->local, name);
	}
}

struct zr_remotes *zr_tree__remotes(const struct zr_tree *t) { return t->remotes; }

size_t zr_tree_parked(const struct zr_tree *t) { return t->local ? zr_local_parked(t->local) : 0; }

/* ---- the inode table ---- */

static int node_put(struct zr_tree *t, struct zr_tree_node *n, uint64_t ino)
{
	if (zr_imap_put(&t->by_ino, ino, n) < 0) {
		return -ENOMEM;
	}
	n->ino = ino;
	return 0;
}

int zr_tree__node_add(struct zr_tree *t, struct zr_tree_node *n)
{
	int err = node_put(t, n, t->next_ino + 1);
	if (err == 0) {
		t->next_ino = n->ino;
	}
	return err;
}

int zr_tree__set_root(struct zr_tree *t, struct zr_tree_node *n)
{
	int err = node_put(t, n, ZR_TREE_ROOT_INO);
	if (err == 0) {
		t->root = n;
	}
	return err;
}

void zr_tree__node_del(struct zr_tree *t, struct zr_tree_node *n)
{
	if (n->ino) {
		(void)zr_imap_del(&t->by_ino, n->ino);
	}
	if (t->root == n) {
		t->root = NULL;
	}
	n->ino = 0;
}

struct zr_tree_node *zr_tree__node(struct zr_tree *t, uint64_t ino) { return zr_imap_get(&t->by_ino, ino); }

struct zr_tree_node *zr_tree__root(struct zr_tree *t) { return t->root; }

struct zr_tree_node *zr_tree__next(struct zr_tree *t, size_t *i)
{
	void *v;
	return zr_map_next(&t->by_ino, i, NULL, NULL, &v) ? v : NULL;
}

void zr_tree__inval_entry(struct zr_tree *t, uint64_t parent, const char *name)
{
	t->ops.inval_entry(parent, name, t->data);
}

void zr_tree__inval_attr(struct zr_tree *t, uint64_t ino)
{
	if (t->ops.inval_attr) {
		t->ops.inval_attr(ino, t->data);
	}
}

void zr_tree__poll_notify(struct zr_tree *t, void *ph) { t->ops.poll_notify(ph, t->data); }

void zr_tree__poll_destroy(struct zr_tree *t, void *ph) { t->ops.poll_destroy(ph, t->data); }

/* ---- dispatch ---- */

void zr_tree_lookup(struct zr_tree *t, uint64_t parent, const char *name, zr_tree_attr_cb cb, void *data)
{
	struct zr_tree_node *p = zr_tree__node(t, parent);
	if (!p) {
		cb(-ENOENT, NULL, data);
		return;
	}
	p->prov->lookup(p, name, cb, data);
}

void zr_tree_forget(struct zr_tree *t, uint64_t ino, uint64_t n)
{
	struct zr_tree_node *node = zr_tree__node(t, ino);
	if (!node) {
		return;
	}
	node->nlookup = node->nlookup > n ? node->nlookup - n : 0;
	node->prov->forget(node);
}

void zr_tree_getattr(struct zr_tree *t, uint64_t ino, zr_tree_attr_cb cb, void *data)
{
	struct zr_tree_node *n = zr_tree__node(t, ino);
	if (!n) {
		cb(-ENOENT, NULL, data);
		return;
	}
	n->prov->getattr(n, cb, data);
}

void zr_tree_readlink(struct zr_tree *t, uint64_t ino, zr_tree_link_cb cb, void *data)
{
	struct zr_tree_node *n = zr_tree__node(t, ino);
	if (!n) {
		cb(-ENOENT, NULL, data);
		return;
	}
	n->prov->readlink(n, cb, data);
}

void zr_tree_truncate(struct zr_tree *t, uint64_t ino, uint64_t size, zr_tree_attr_cb cb, void *data)
{
	struct zr_tree_node *n = zr_tree__node(t, ino);
	if (!n) {
		cb(-ENOENT, NULL, data);
		return;
	}
	n->prov->truncate(n, size, cb, data);
}

void zr_tree_opendir(struct zr_tree *t, uint64_t ino, zr_tree_open_cb cb, void *data)
{
	struct zr_tree_node *n = zr_tree__node(t, ino);
	if (!n) {
		cb(-ENOENT, NULL, NULL, data);
		return;
	}
	n->prov->opendir(n, cb, data);
}

struct fill_ctx {
	struct zr_tree *t;
	zr_tree_fill_fn fill;
	void *data;
	bool plus;
};

/* The front end's fill, and the reference of an entry it took in a readdirplus (else the node
 * may go again: nothing else may hold it). */
static bool fill_counted(const char *name, const struct zr_tree_attr *a, uint64_t next_off, void *data)
{
	struct fill_ctx *f = data;
	bool taken = f->fill(name, a, next_off, f->data);
	struct zr_tree_node *n = zr_tree__node(f->t, a->ino);
	if (n && taken && f->plus) {
		n->nlookup++;
	} else if (n) {
		n->prov->forget(n);
	}
	return taken;
}

int zr_tree_readdir(struct zr_tree *t, struct zr_handle *h, uint64_t off, unsigned flags,
		    zr_tree_fill_fn fill, void *data)
{
	struct fill_ctx f = {.t = t, .fill = fill, .data = data, .plus = flags & ZR_TREE_READDIR_PLUS};
	return h->prov->readdir(h, off, flags, fill_counted, &f);
}

uint64_t zr_tree_parent(struct zr_tree *t, uint64_t ino)
{
	struct zr_tree_node *n = zr_tree__node(t, ino);
	if (n == t->root) {
		return n ? ino : 0;
	}
	return n && n->prov->parent ? n->prov->parent(n) : 0;
}

void zr_tree_mkdir(struct zr_tree *t, uint64_t parent, const char *name, zr_tree_done_cb cb, void *data)
{
	struct zr_tree_node *p = zr_tree__node(t, parent);
	if (!p) {
		cb(-ENOENT, NULL, data);
		return;
	}
	p->prov->mkdir(p, name, cb, data);
}

void zr_tree_rmdir(struct zr_tree *t, uint64_t parent, const char *name, zr_tree_done_cb cb, void *data)
{
	struct zr_tree_node *p = zr_tree__node(t, parent);
	if (!p) {
		cb(-ENOENT, NULL, data);
		return;
	}
	p->prov->rmdir(p, name, cb, data);
}

void zr_tree_open(struct zr_tree *t, uint64_t ino, int flags, zr_tree_open_cb cb, void *data)
{
	struct zr_tree_node *n = zr_tree__node(t, ino);
	if (!n) {
		cb(-ENOENT, NULL, NULL, data);
		return;
	}
	n->prov->open(n, flags, cb, data);
}

/* The actor is set around the provider's call only: providers read it at the start of the
 * operation (tree-provider.h), and a call without one never sees a stale one. */
void zr_tree_open_as(struct zr_tree *t, uint64_t ino, int flags, const struct zr_actor *who,
		     zr_tree_open_cb cb, void *data)
{
	const struct zr_actor *saved = t->actor;
	t->actor = who;
	zr_tree_open(t, ino, flags, cb, data);
	t->actor = saved;
}

void zr_tree_mkdir_as(struct zr_tree *t, uint64_t parent, const char *name,
		      const struct zr_actor *who, zr_tree_done_cb cb, void *data)
{
	const struct zr_actor *saved = t->actor;
	t->actor = who;
	zr_tree_mkdir(t, parent, name, cb, data);
	t->actor = saved;
}

void zr_tree_rmdir_as(struct zr_tree *t, uint64_t parent, const char *name,
		      const struct zr_actor *who, zr_tree_done_cb cb, void *data)
{
	const struct zr_actor *saved = t->actor;
	t->actor = who;
	zr_tree_rmdir(t, parent, name, cb, data);
	t->actor = saved;
}

const struct zr_actor *zr_tree__actor(const struct zr_tree *t)
{
	return t->actor;
}

void zr_tree_read(struct zr_tree *t, struct zr_handle *h, uint64_t off, size_t size,
		  zr_tree_read_cb cb, void *data, struct zr_tree_req **ret_req)
{
	(void)t;
	h->prov->read(h, off, size, cb, data, ret_req);
}

void zr_tree_read_cancel(struct zr_tree *t, struct zr_tree_req *req)
{
	(void)t;
	req->prov->read_cancel(req);
}

void zr_tree_write(struct zr_tree *t, struct zr_handle *h, const char *buf, size_t len, uint64_t off,
		   zr_tree_done_cb cb, void *data)
{
	(void)t;
	h->prov->write(h, buf, len, off, cb, data);
}

void zr_tree_flush(struct zr_tree *t, struct zr_handle *h, zr_tree_done_cb cb, void *data)
{
	(void)t;
	h->prov->flush(h, cb, data);
}

void zr_tree_release(struct zr_tree *t, struct zr_handle *h)
{
	(void)t;
	h->prov->release(h);
}

unsigned zr_tree_poll(struct zr_tree *t, struct zr_handle *h, void *ph)
{
	(void)t;
	return h->prov->poll(h, ph);
}

uint64_t zr_tree_handle_task(const struct zr_handle *h)
{
	return h->prov->handle_task ? h->prov->handle_task(h) : 0;
}

struct zr_journal *zr_tree_handle_journal(struct zr_tree *t, struct zr_handle *h)
{
	(void)t;
	return h->prov->handle_journal ? h->prov->handle_journal(h) : NULL;
}

struct zr_tree_fwd *zr_tree_forward(struct zr_tree *t, uint64_t ino, const struct zr_tree_fwd_opts *o,
				    zr_tree_fwd_cb cb, void *data, int *ret_err)
{
	struct zr_tree_node *n = zr_tree__node(t, ino);
	if (!n || !n->prov->forward) {
		*ret_err = -ENOENT;
		return NULL;
	}
	return n->prov->forward(n, o, cb, data, ret_err);
}

void zr_tree_forward_cancel(struct zr_tree *t, struct zr_tree_fwd *f)
{
	(void)t;
	f->prov->forward_cancel(f);
}

int zr_tree__data_write(struct zr_buf *wbuf, const char *buf, size_t len, uint64_t off, size_t max)
{
	/* Checked before the buffer grows: a write at offset 1 GiB must not allocate (and
	 * zero-fill) 1 GiB. What was gathered is dropped, so that the close applies nothing. */
	if (off > max || len > max - off) {
		zr_buf_done(wbuf);
		return -EFBIG;
	}
	if (zr_buf_write_at(wbuf, off, buf, len) < 0) {
		return -ENOMEM;
	}
	if (off != 0 || wbuf->len != len) {
		return 0;
	}
	json_error_t e;
	json_t *j = json_loadb(buf, len, 0, &e);
	json_decref(j);
	return j || !zr_json_incomplete(buf, len, &e);
}

/* ---- paths ---- */

struct walk_step {
	bool done;
	int err;
	struct zr_tree_attr attr;
};

static void on_walk_step(int err, const struct zr_tree_attr *a, void *data)
{
	struct walk_step *s = data;
	s->done = true;
	s->err = err;
	if (err == 0) {
		s->attr = *a;
	}
}

int zr_tree_walk(struct zr_tree *t, const char *path, struct zr_tree_attr *ret, size_t *ret_rest)
{
	struct zr_tree_node *node = t->root;
	struct walk_step s = {.err = -ENOENT};
	const char *p = path;
	if (!node || !node->prov->sync) {
		return -ENOENT;
	}
	node->prov->getattr(node, on_walk_step, &s);
	bool counted = false;
	while (s.err == 0 && *p) {
		const char *e = strchr(p, '/');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		if (n == 0) {
			p++;
			continue;
		}
		if (!node->prov->sync) {
			/* Another robot's: what follows is its to answer (zr_tree_forward). */
			*ret = s.attr;
			*ret_rest = (size_t)(p - path);
			return -EREMOTE;
		}
		char *name = strndup(p, n);
		if (!name) {
			s.err = -ENOMEM;
			break;
		}
		uint64_t parent = node->ino;
		s = (struct walk_step){.err = -EIO};
		node->prov->lookup(node, name, on_walk_step, &s);
		free(name);
		/* The child keeps its parent alive: the parent's reference can go now. */
		if (counted) {
			zr_tree_forget(t, parent, 1);
		}
		if (s.err < 0) {
			counted = false;
			break;
		}
		node = zr_tree__node(t, s.attr.ino);
		counted = true;
		p += n;
	}
	if (s.err < 0) {
		return s.err;
	}
	if (!counted) {
		node->nlookup++; /* the root is never freed; count it for symmetry */
	}
	if (!node->prov->sync) {
		*ret = s.attr;
		*ret_rest = (size_t)(p - path);
		return -EREMOTE;
	}
	*ret = s.attr;
	*ret_rest = strlen(path);
	return 0;
}
