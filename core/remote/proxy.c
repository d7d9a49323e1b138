/* Remote nodes: inode numbers for paths of remote robots, their listings (cached for at most
 * ZR_REMOTE_TTL_MS, dropped at every change) and the file operations as HTTP requests. */
#include "remote-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "payload.h"
#include "util/log.h"

/* A long poll for a result is renewed this often. */
#define WAIT_SECS 30

/* ---- nodes ---- */

static const struct zr_tree_provider remote_provider;

/* Puts n in the tree's inode table; zrobot mount: the remote's root is the tree's root. */
static int node_register(struct zr_remotes *rs, struct rnode *n)
{
	if (!*n->path && !zr_tree__root(rs->tree)) {
		return zr_tree__set_root(rs->tree, &n->base);
	}
	return zr_tree__node_add(rs->tree, &n->base);
}

struct rnode *zr_rnode_get(struct zr_remotes *rs, struct zr_remote *rm, const char *path)
{
	char *key = NULL;
	if (asprintf(&key, "%" PRIu64 "/%s", rm->id, path) < 0) {
		return NULL;
	}
	struct rnode *n = zr_map_get(&rs->by_key, key);
	if (n) {
		free(key);
		return n;
	}
	n = calloc(1, sizeof(*n));
	if (!n || !(n->path = strdup(path))) {
		goto fail;
	}
	n->base.prov = &remote_provider;
	n->rm = rm;
	n->key = key;
	if (zr_map_put(&rs->by_key, key, n) < 0) {
		goto fail;
	}
	if (rs->tree && node_register(rs, n) < 0) {
		(void)zr_map_del(&rs->by_key, key);
		goto fail;
	}
	zr_remote__ref(rm);
	return n;
fail:
	if (n) {
		free(n->path);
	}
	free(n);
	free(key);
	return NULL;
}

void zr_rnode_maybe_free(struct zr_remotes *rs, struct rnode *n)
{
	if (!n || n == n->rm->root || n->base.nlookup > 0 || n->nopen > 0) {
		return;
	}
	(void)zr_map_del(&rs->by_key, n->key);
	if (rs->tree) {
		zr_tree__node_del(rs->tree, &n->base);
	}
	struct zr_remote *rm = n->rm;
	free(n->key);
	free(n->path);
	free(n);
	zr_remote__unref(rm);
}

struct rnode *zr_rnode__of(struct zr_tree_node *zn)
{
	struct rnode *n = container_of(zn, struct rnode, base);
	/* A removed remote's nodes name nothing any more. */
	return !n->rm->removed ? n : NULL;
}

void zr_rnodes_free_all(struct zr_remotes *rs)
{
	size_t i = 0;
	void *v;
	while (zr_map_next(&rs->by_key, &i, NULL, NULL, &v)) {
		struct rnode *n = v;
		struct zr_remote *rm = n->rm;
		if (rs->tree) {
			zr_tree__node_del(rs->tree, &n->base);
		}
		free(n->path);
		free(n->key);
		free(n);
		zr_remote__unref(rm);
	}
}

void zr_remotes_attach(struct zr_remotes *rs, struct zr_tree *t)
{
	size_t i = 0;
	void *v;
	while (rs->tree && zr_map_next(&rs->by_key, &i, NULL, NULL, &v)) {
		zr_tree__node_del(rs->tree, &((struct rnode *)v)->base);
	}
	rs->tree = t;
	i = 0;
	while (t && zr_map_next(&rs->by_key, &i, NULL, NULL, &v)) {
		/* Out of memory leaves a node unreachable: lookups of it answer ENOENT. */
		(void)node_register(rs, v);
	}
}

char *zr_rnode__path_join(const char *dir, const char *name)
{
	char *p = NULL;
	if (asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", name) < 0) {
		return NULL;
	}
	return p;
}

/* ---- attributes ---- */

static void entry_attr(const struct rentry *e, uint64_t ino, struct zr_tree_attr *a)
{
	*a = (struct zr_tree_attr){
		.ino = ino,
		.mode = e->mode,
		.size = e->size,
		.mtime_ns = e->mtime_ns,
		.nlink = S_ISDIR(e->mode) ? 2 : 1,
		/* Never from the page cache: the remote's files change without telling us. */
		.flags = ZR_ATTR_DIRECT_IO,
	};
}

static void root_attr(const struct rnode *n, struct zr_tree_attr *a)
{
	*a = (struct zr_tree_attr){.ino = n->base.ino, .mode = S_IFDIR | 0755, .nlink = 2,
				   .mtime_ns = n->rm->checked_ns};
}

/* ---- lookup, getattr, readlink ---- */

static void attr_fail(zr_tree_attr_cb cb, zr_tree_link_cb link_cb, int err, void *data)
{
	if (link_cb) {
		link_cb(err, NULL, data);
	} else {
		cb(err, NULL, data);
	}
}

struct attr_op {
	struct zr_remotes *rs;
	struct zr_remote *rm;
	uint64_t ino;    /* getattr, readlink */
	char *path;      /* of the child */
	const char *name; /* its last component, inside path */
	zr_tree_attr_cb cb;
	zr_tree_link_cb link_cb;
	void *data;
};

static void attr_op_free(struct attr_op *op)
{
	zr_remote__unref(op->rm);
	free(op->path);
	free(op);
}

static void on_lookup_listing(int err, const struct listing *l, void *data)
{
	struct attr_op *op = data;
	const struct rentry *e = err ? NULL : zr_listing_find(l, op->name);
	struct zr_tree_attr a;
	struct rnode *n;
	if (!err && !e) {
		err = -ENOENT;
	}
	if (!err) {
		if (op->ino) {
			/* getattr or readlink: the node exists already */
			if (op->link_cb) {
				op->link_cb(e->target ? 0 : -EINVAL, e->target, op->data);
			} else {
				entry_attr(e, op->ino, &a);
				op->cb(0, &a, op->data);
			}
			attr_op_free(op);
			return;
		}
		if (!(n = zr_rnode_get(op->rs, op->rm, op->path))) {
			err = -ENOMEM;
		} else {
			n->base.nlookup++;
			n->mode = e->mode;
			entry_attr(e, n->base.ino, &a);
			op->cb(0, &a, op->data);
			attr_op_free(op);
			return;
		}
	}
	attr_fail(op->cb, op->link_cb, err, op->data);
	attr_op_free(op);
}

/* Looks the entry at path up in the listing of its folder: for lookup (ino 0) or the getattr
 * and readlink of node ino. */
static void attr_start(struct zr_remotes *rs, struct zr_remote *rm, const char *path, uint64_t ino,
		       zr_tree_attr_cb cb, zr_tree_link_cb link_cb, void *data)
{
	struct attr_op *op = calloc(1, sizeof(*op));
	char *dir = NULL;
	if (!op || !(op->path = strdup(path))) {
		free(op);
		attr_fail(cb, link_cb, -ENOMEM, data);
		return;
	}
	const char *slash = strrchr(op->path, '/');
	op->name = slash ? slash + 1 : op->path;
	if (!(dir = strndup(op->path, slash ? (size_t)(slash - op->path) : 0))) {
		free(op->path);
		free(op);
		attr_fail(cb, link_cb, -ENOMEM, data);
		return;
	}
	*op = (struct attr_op){.rs = rs, .rm = rm, .ino = ino, .path = op->path, .name = op->name,
			       .cb = cb, .link_cb = link_cb, .data = data};
	zr_remote__ref(rm);
	zr_listing_get(rm, dir, on_lookup_listing, op);
	free(dir);
}

static void remote_lookup(struct zr_tree_node *zp, const char *name, zr_tree_attr_cb cb, void *data)
{
	struct rnode *p = zr_rnode__of(zp);
	char *path = p ? zr_rnode__path_join(p->path, name) : NULL;
	if (!path) {
		cb(p ? -ENOMEM : -ENOENT, NULL, data);
		return;
	}
	attr_start(p->rm->rs, p->rm, path, 0, cb, NULL, data);
	free(path);
}

static void remote_getattr(struct zr_tree_node *zn, zr_tree_attr_cb cb, void *data)
{
	struct rnode *n = zr_rnode__of(zn);
	struct zr_tree_attr a;
	if (!n) {
		cb(-ENOENT, NULL, data);
		return;
	}
	if (!*n->path) {
		root_attr(n, &a);
		cb(0, &a, data);
		return;
	}
	attr_start(n->rm->rs, n->rm, n->path, n->base.ino, cb, NULL, data);
}

static void remote_readlink(struct zr_tree_node *zn, zr_tree_link_cb cb, void *data)
{
	struct rnode *n = zr_rnode__of(zn);
	if (!n || !*n->path) {
		cb(n ? -EINVAL : -ENOENT, NULL, data);
		return;
	}
	attr_start(n->rm->rs, n->rm, n->path, n->base.ino, NULL, cb, data);
}

static void remote_forget(struct zr_tree_node *zn)
{
	struct rnode *n = container_of(zn, struct rnode, base);
	zr_rnode_maybe_free(n->rm->rs, n);
}

int zr_remotes_root(struct zr_remotes *rs, const char *name, bool count, struct zr_tree_attr *ret)
{
	for (size_t i = 0; rs && i < rs->n; i++) {
		struct zr_remote *rm = rs->list[i];
		if (strcmp(rm->name, name) == 0) {
			root_attr(rm->root, ret);
			rm->root->base.nlookup += count;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- handles ---- */

enum fkind { F_PLAIN, F_RESULT, F_ACTION, F_DATA, F_JOURNAL };

struct zr_rhandle {
	struct zr_handle handle; /* the tree's part */
	struct zr_remotes *rs;
	struct rnode *n;
	struct zr_list link; /* in rs->handles */
	enum fkind kind;
	struct listing *dir; /* directories: the listing at opendir */
	struct zr_buf content;
	uint64_t base;   /* file offset of content[0] */
	bool fetched;
	int64_t jlines; /* a journal's lines in content (its Zr-Lines), -1 = unknown */
	int fail; /* errno of a failed task's result, for the read after its text */
	uint64_t task;   /* the task the last write to an action file queued */
	bool base_next;  /* the next fetch starts where the reader is (after a write) */
	struct zr_buf wbuf;
	bool wpending;
	unsigned inflight; /* requests holding h */
	bool released;
	/* poll(2) of a result: a long poll of its own tells when the task has ended */
	struct rcall *poll_call;
	void *ph;
	bool poll_done;
};

struct zr_rreq {
	struct zr_tree_req base;
	struct zr_rhandle *h;
	struct rcall *call;
	char *path;
	bool waits;
	bool more; /* a journal: only the lines after those we have */
	uint64_t off;
	size_t size;
	zr_tree_read_cb cb;
	void *data;
};

/* What a path shows, whatever remote robots it goes through (@remote/x/@remote/y/...). */
static enum fkind classify(const char *path)
{
	const char *c[8];
	size_t n = 0, len[8];
	const char *p = path;
	while (*p && n < 8) {
		const char *e = strchr(p, '/');
		len[n] = e ? (size_t)(e - p) : strlen(p);
		c[n++] = p;
		p += len[n - 1] + (e ? 1 : 0);
	}
	size_t s = 0;
	while (s + 2 <= n && len[s] == 7 && strncmp(c[s], "@remote", 7) == 0) {
		s += 2;
	}
	n -= s;
	const char **k = c + s;
	size_t *kl = len + s;
#define IS(i, str) (kl[i] == strlen(str) && strncmp(k[i], str, kl[i]) == 0)
	if (n == 0) {
		return F_PLAIN;
	}
	if (IS(n - 1, "log") || IS(n - 1, "events")) {
		return F_JOURNAL;
	}
	if (k[0][0] == '@') {
		return F_PLAIN;
	}
	if (n == 4 && IS(2, "actions")) {
		return F_ACTION;
	}
	if ((n == 4 && IS(2, "results")) || (n == 5 && IS(2, "tasks") && IS(4, "result"))) {
		return F_RESULT;
	}
	if (n == 3 && IS(2, "data")) {
		return F_DATA;
	}
#undef IS
	return F_PLAIN;
}

static struct zr_rhandle *handle_new(struct zr_remotes *rs, struct rnode *n)
{
	struct zr_rhandle *h = calloc(1, sizeof(*h));
	if (!h) {
		return NULL;
	}
	*h = (struct zr_rhandle){.handle.prov = &remote_provider, .rs = rs, .n = n,
				 .kind = classify(n->path), .jlines = -1};
	n->nopen++;
	zr_list_push_back(&rs->handles, &h->link);
	return h;
}

static void poll_stop(struct zr_rhandle *h)
{
	struct zr_remotes *rs = h->rs;
	if (h->poll_call) {
		zr_remote__cancel(h->poll_call);
		h->poll_call = NULL;
	}
	if (h->ph) {
		zr_tree__poll_destroy(rs->tree, h->ph);
	}
	h->ph = NULL;
}

static void handle_free(struct zr_rhandle *h)
{
	poll_stop(h);
	zr_list_remove(&h->link);
	h->n->nopen--;
	zr_rnode_maybe_free(h->rs, h->n);
	zr_listing_free(h->dir);
	zr_buf_done(&h->content);
	zr_buf_done(&h->wbuf);
	free(h);
}

static void handle_put(struct zr_rhandle *h)
{
	if (--h->inflight == 0 && h->released) {
		handle_free(h);
	}
}

void zr_rhandles_free_all(struct zr_remotes *rs)
{
	while (!zr_list_empty(&rs->handles)) {
		handle_free(container_of(rs->handles.next, struct zr_rhandle, link));
	}
}

static struct zr_rhandle *rhandle_of(struct zr_handle *h)
{
	return container_of(h, struct zr_rhandle, handle);
}

static void remote_release(struct zr_handle *zh)
{
	struct zr_rhandle *h = rhandle_of(zh);
	h->released = true;
	if (h->inflight == 0) {
		handle_free(h);
	}
}

/* ---- directories ---- */

struct dir_op {
	struct zr_remotes *rs;
	struct rnode *n;
	zr_tree_open_cb cb;
	void *data;
};

static void on_dir_listing(int err, const struct listing *l, void *data)
{
	struct dir_op *op = data;
	struct zr_rhandle *h = NULL;
	struct zr_tree_attr a;
	if (!err && !(h = handle_new(op->rs, op->n))) {
		err = -ENOMEM;
	}
	if (h && !(h->dir = zr_listing_copy(l))) {
		handle_free(h);
		h = NULL;
		err = -ENOMEM;
	}
	op->n->nopen--; /* held during the fetch */
	if (err) {
		op->cb(err, NULL, NULL, op->data);
	} else {
		root_attr(op->n, &a);
		op->cb(0, &h->handle, &a, op->data);
	}
	zr_rnode_maybe_free(op->rs, op->n);
	free(op);
}

static void remote_opendir(struct zr_tree_node *zn, zr_tree_open_cb cb, void *data)
{
	struct rnode *n = zr_rnode__of(zn);
	struct dir_op *op;
	if (!n) {
		cb(-ENOENT, NULL, NULL, data);
		return;
	}
	if (!(op = calloc(1, sizeof(*op)))) {
		cb(-ENOMEM, NULL, NULL, data);
		return;
	}
	op->rs = n->rm->rs;
	op->n = n;
	op->cb = cb;
	op->data = data;
	n->nopen++;
	zr_listing_get(n->rm, n->path, on_dir_listing, op);
}

static int remote_readdir(struct zr_handle *zh, uint64_t off, unsigned flags, zr_tree_fill_fn fill,
			  void *data)
{
	(void)flags; /* a remote listing's entries are nodes already */
	struct zr_rhandle *h = rhandle_of(zh);
	struct zr_remotes *rs = h->rs;
	if (!h->dir) {
		return -ENOTDIR;
	}
	for (uint64_t i = off; i < h->dir->n; i++) {
		const struct rentry *e = &h->dir->e[i];
		char *path = zr_rnode__path_join(h->n->path, e->name);
		struct rnode *n = path ? zr_rnode_get(rs, h->n->rm, path) : NULL;
		struct zr_tree_attr a;
		free(path);
		if (!n) {
			return -ENOMEM;
		}
		entry_attr(e, n->base.ino, &a);
		n->mode = e->mode;
		if (!fill(e->name, &a, i + 1, data)) {
			break;
		}
	}
	return 0;
}

/* ---- files ---- */

static void remote_open(struct zr_tree_node *zn, int flags, zr_tree_open_cb cb, void *data)
{
	struct rnode *n = zr_rnode__of(zn);
	/* A write goes with this robot's token there (often its admin): on the mount only our
	 * admin sends one, as over HTTP (api/auth.c). The remote's group bits are its own
	 * group's: a local user they let through here gets EACCES. */
	if (n && (flags & O_ACCMODE) != O_RDONLY && n->rm->rs->tree &&
	    !zr_actor_is_admin(zr_tree__actor(n->rm->rs->tree))) {
		cb(-EACCES, NULL, NULL, data);
		return;
	}
	struct zr_rhandle *h = n ? handle_new(n->rm->rs, n) : NULL;
	if (!h) {
		cb(n ? -ENOMEM : -ENOENT, NULL, NULL, data);
		return;
	}
	/* Fetched at every open, never from the page cache: never stale. */
	struct zr_tree_attr a = {.ino = zn->ino, .mode = n->mode, .nlink = 1, .flags = ZR_ATTR_DIRECT_IO};
	cb(0, &h->handle, &a, data);
}

/* Truncation to 0 (echo's O_TRUNC) of a writable file: accepted without a request. */
static void remote_truncate(struct zr_tree_node *zn, uint64_t size, zr_tree_attr_cb cb, void *data)
{
	struct rnode *n = zr_rnode__of(zn);
	(void)size;
	if (!n) {
		cb(-ENOENT, NULL, data);
		return;
	}
	struct zr_tree_attr a = {.ino = zn->ino, .mode = S_IFREG | 0600, .nlink = 1, .flags = ZR_ATTR_DIRECT_IO};
	cb(0, &a, data);
}

static void serve(struct zr_rhandle *h, uint64_t off, size_t size, zr_tree_read_cb cb, void *data)
{
	const char *b = h->content.data ? h->content.data : "";
	size_t len = h->content.len;
	uint64_t rel = off >= h->base ? off - h->base : len;
	if (rel >= len) {
		/* As on a local robot: a failed task's text, then its errno, so cat exits non-zero. */
		cb(h->fail ? -h->fail : 0, b, 0, data);
		return;
	}
	cb(0, b + rel, len - rel < size ? len - rel : size, data);
}

static void rreq_free(struct zr_rreq *q)
{
	struct zr_rhandle *h = q->h;
	free(q->path);
	free(q);
	handle_put(h);
}

static int read_start(struct zr_rreq *q);

static void on_read(int err, const struct zr_http_resp *r, void *data)
{
	struct zr_rreq *q = data;
	struct zr_rhandle *h = q->h;
	q->call = NULL;
	if (err == 0 && q->waits && r->status == 204) {
		/* The task has not ended: ask again (a long poll renewed until it does). */
		err = read_start(q);
		if (err == 0) {
			return;
		}
	}
	if (err == 0) {
		if (!q->more) {
			zr_buf_reset(&h->content);
		}
		if (zr_buf_append(&h->content, r->body, r->len) < 0) {
			err = -ENOMEM;
		}
		h->jlines = r->lines;
		const char *st = q->waits ? r->task_state : NULL;
		h->fail = !st || strcmp(st, "ok") == 0 ? 0 : strcmp(st, "timeout") == 0 ? ETIMEDOUT
			: strcmp(st, "cancelled") == 0 ? ECANCELED : EIO;
	}
	if (err < 0) {
		q->cb(err, NULL, 0, q->data);
	} else {
		h->fetched = true;
		if (!q->more) {
			h->base = h->base_next ? q->off : 0;
			h->base_next = false;
		}
		serve(h, q->off, q->size, q->cb, q->data);
	}
	rreq_free(q);
}

static int read_start(struct zr_rreq *q)
{
	char query[48];
	if (q->more) {
		snprintf(query, sizeof(query), "after=%" PRId64, q->h->jlines);
	} else {
		snprintf(query, sizeof(query), "wait=%d", WAIT_SECS);
	}
	struct rcall_opts o = {
		.method = "GET",
		.path = q->path,
		.query = q->waits || q->more ? query : NULL,
		.wait_ms = q->waits ? WAIT_SECS * 1000L : 0,
	};
	q->call = zr_remote__call(q->h->n->rm, &o, on_read, q);
	return q->call ? 0 : -ENOMEM;
}

/* The path of the result of task id of the action file at path ("t/s/actions/a"). */
static char *task_result_path(const char *path, uint64_t id)
{
	const char *end = path + strlen(path);
	int slashes = 0;
	while (end > path && slashes < 2) {
		if (*--end == '/') {
			slashes++;
		}
	}
	char *p = NULL;
	if (asprintf(&p, "%.*s/tasks/%" PRIu64 "/result", (int)(end - path), path, id) < 0) {
		return NULL;
	}
	return p;
}

/* The request that fetches h's content for a read at off; it holds h until rreq_free.
 * NULL: -ENOMEM. */
static struct zr_rreq *rreq_new(struct zr_rhandle *h, uint64_t off, size_t size,
				zr_tree_read_cb cb, void *data)
{
	struct zr_rreq *q = calloc(1, sizeof(*q));
	if (!q) {
		return NULL;
	}
	*q = (struct zr_rreq){.base.prov = &remote_provider, .h = h, .off = off, .size = size,
			      .cb = cb, .data = data};
	q->waits = h->kind == F_RESULT || h->kind == F_ACTION;
	/* tail -f past the end: only the new lines, not the whole journal again. */
	q->more = h->kind == F_JOURNAL && off > 0 && h->fetched && h->jlines >= 0;
	q->path = h->kind == F_ACTION && h->task ? task_result_path(h->n->path, h->task) : strdup(h->n->path);
	h->inflight++;
	if (!q->path) {
		rreq_free(q);
		return NULL;
	}
	return q;
}

static void remote_read(struct zr_handle *zh, uint64_t off, size_t size, zr_tree_read_cb cb,
			void *data, struct zr_tree_req **ret_req)
{
	struct zr_rhandle *h = rhandle_of(zh);
	*ret_req = NULL;
	/* A read from 0 shows the file as it is now (cat); a journal read past what we have
	 * looks for more (tail -f); otherwise the copy fetched at the first read serves. */
	bool fetch = !h->fetched || off == 0 ||
		     (h->kind == F_JOURNAL && off >= h->base + h->content.len);
	/* A write-only file (ctl, cancel...) reads empty, as on a local robot, so grep -r and
	 * find stay quiet (root may open it; the remote would refuse the GET). */
	if (S_ISREG(h->n->mode) && !(h->n->mode & 0444)) {
		cb(0, "", 0, data);
		return;
	}
	if (!fetch) {
		serve(h, off, size, cb, data);
		return;
	}
	struct zr_rreq *q = rreq_new(h, off, size, cb, data);
	if (!q || read_start(q) < 0) {
		cb(-ENOMEM, NULL, 0, data);
		if (q) {
			rreq_free(q);
		}
		return;
	}
	*ret_req = &q->base;
}

static int poll_start(struct zr_rhandle *h);

static void on_poll_answer(int err, const struct zr_http_resp *r, void *data)
{
	struct zr_rhandle *h = data;
	struct zr_remotes *rs = h->rs;
	h->poll_call = NULL;
	if (err == 0 && r->status == 204 && poll_start(h) == 0) {
		return; /* not yet: asked again */
	}
	/* Ended (or failed: the read will tell how): readable now. */
	h->poll_done = true;
	if (h->ph) {
		zr_tree__poll_notify(rs->tree, h->ph);
		h->ph = NULL;
	}
}

static int poll_start(struct zr_rhandle *h)
{
	char query[32];
	char *path = h->kind == F_ACTION && h->task ? task_result_path(h->n->path, h->task) : strdup(h->n->path);
	snprintf(query, sizeof(query), "wait=%d", WAIT_SECS);
	/* GET: a HEAD never waits. */
	struct rcall_opts o = {.method = "GET", .path = path, .query = query, .wait_ms = WAIT_SECS * 1000L};
	h->poll_call = path ? zr_remote__call(h->n->rm, &o, on_poll_answer, h) : NULL;
	free(path);
	return h->poll_call ? 0 : -ENOMEM;
}

static unsigned remote_poll(struct zr_handle *zh, void *ph)
{
	struct zr_rhandle *h = rhandle_of(zh);
	struct zr_remotes *rs = h->rs;
	bool waits = h->kind == F_RESULT || (h->kind == F_ACTION && h->task);
	if (!waits || h->poll_done) {
		if (ph) {
			zr_tree__poll_destroy(rs->tree, ph);
		}
		return POLLIN | POLLRDNORM;
	}
	if (ph) {
		if (h->ph) {
			zr_tree__poll_destroy(rs->tree, h->ph);
		}
		h->ph = ph;
	}
	if (!h->poll_call && poll_start(h) < 0) {
		return POLLIN | POLLERR;
	}
	return 0;
}

static void remote_read_cancel(struct zr_tree_req *req)
{
	struct zr_rreq *q = container_of(req, struct zr_rreq, base);
	if (q->call) {
		zr_remote__cancel(q->call);
		q->call = NULL;
	}
	q->cb(-EINTR, NULL, 0, q->data);
	rreq_free(q);
}

struct write_op {
	struct zr_rhandle *h;
	size_t len;
	zr_tree_done_cb cb;
	void *data;
	bool action;
};

static void on_written(int err, const struct zr_http_resp *r, void *data)
{
	struct write_op *op = data;
	struct zr_rhandle *h = op->h;
	if (err == 0) {
		/* Read your own writes: a new task shows in tasks/ at once, a data change in every
		 * consumers/ (anywhere), a command in its service. */
		char *svc = zr_remote__prefix(h->n->path, 2), *prefix = NULL;
		if (op->action && svc) {
			(void)asprintf(&prefix, "%s/tasks", svc);
		} else if (h->kind != F_DATA) {
			prefix = svc ? strdup(svc) : NULL;
		}
		zr_remote__invalidate(h->n->rm, prefix);
		free(prefix);
		free(svc);
	}
	if (err == 0 && op->action) {
		json_t *j = json_loadb(r->body, r->len, 0, NULL);
		json_int_t id = json_integer_value(json_object_get(j, "id"));
		json_decref(j);
		if (id > 0) {
			h->task = (uint64_t)id;
			h->fetched = false;
			h->base_next = true;
			/* poll now waits for the new task */
			h->poll_done = false;
			if (h->poll_call) {
				zr_remote__cancel(h->poll_call);
				h->poll_call = NULL;
			}
		}
	}
	op->cb(err < 0 ? err : (ssize_t)op->len, NULL, op->data);
	free(op);
	handle_put(h);
}

static void send_body(struct zr_rhandle *h, const char *method, const char *ctype, const char *buf,
		      size_t len, size_t answer, bool action, zr_tree_done_cb cb, void *data)
{
	struct write_op *op = calloc(1, sizeof(*op));
	if (!op) {
		cb(-ENOMEM, NULL, data);
		return;
	}
	*op = (struct write_op){.h = h, .len = answer, .cb = cb, .data = data, .action = action};
	struct rcall_opts o = {.method = method, .path = h->n->path, .ctype = ctype, .body = buf, .len = len};
	h->inflight++;
	if (!zr_remote__call(h->n->rm, &o, on_written, op)) {
		free(op);
		h->inflight--;
		cb(-ENOMEM, NULL, data);
	}
}

static void remote_write(struct zr_handle *zh, const char *buf, size_t len, uint64_t off,
			 zr_tree_done_cb cb, void *data)
{
	struct zr_rhandle *h = rhandle_of(zh);
	if (h->kind == F_DATA) {
		/* As on a local robot: a body written at once is sent at once and answers for
		 * itself; one written in pieces waits for close. */
		size_t max = h->n->rm->rs->cfg.data_max;
		int now = zr_tree__data_write(&h->wbuf, buf, len, off, max);
		h->wpending = now == 0;
		if (now > 0) {
			send_body(h, "PUT", "application/json", buf, len, len, false, cb, data);
		} else {
			cb(now < 0 ? now : (ssize_t)len, NULL, data);
		}
		return;
	}
	if (h->kind == F_ACTION) {
		size_t i = 0;
		while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\t' || buf[i] == '\r')) {
			i++;
		}
		const char *ctype = i < len && buf[i] == '{' ? "application/json" : "text/plain";
		send_body(h, "POST", ctype, buf, len, len, true, cb, data);
		return;
	}
	send_body(h, "PUT", "text/plain", buf, len, len, false, cb, data);
}

static void remote_flush(struct zr_handle *zh, zr_tree_done_cb cb, void *data)
{
	struct zr_rhandle *h = rhandle_of(zh);
	if (!h->wpending) {
		cb(0, NULL, data);
		return;
	}
	h->wpending = false;
	char *body = zr_buf_steal(&h->wbuf);
	send_body(h, "PUT", "application/json", body, strlen(body), 0, false, cb, data);
	free(body);
}

/* ---- the provider ---- */

static struct zr_tree_fwd *remote_forward(struct zr_tree_node *zn, const struct zr_tree_fwd_opts *o,
					  zr_tree_fwd_cb cb, void *data, int *ret_err)
{
	struct rnode *n = zr_rnode__of(zn);
	if (!n || *n->path) {
		/* Passed on from a remote robot's root only: the front end's path goes on there. */
		*ret_err = -ENOENT;
		return NULL;
	}
	struct zr_tree_fwd *f = zr_remote__forward(n->rm, o, cb, data, ret_err);
	if (f) {
		f->prov = &remote_provider;
	}
	return f;
}

static const struct zr_tree_provider remote_provider = {
	.lookup = remote_lookup,
	.forget = remote_forget,
	.getattr = remote_getattr,
	.readlink = remote_readlink,
	.truncate = remote_truncate,
	.opendir = remote_opendir,
	.readdir = remote_readdir,
	.mkdir = zr_rnode__mkdir,
	.rmdir = zr_rnode__rmdir,
	.open = remote_open,
	.read = remote_read,
	.read_cancel = remote_read_cancel,
	.write = remote_write,
	.flush = remote_flush,
	.release = remote_release,
	.poll = remote_poll,
	.forward = remote_forward,
	.forward_cancel = zr_remote__forward_cancel,
};
