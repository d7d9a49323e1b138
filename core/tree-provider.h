/* For the providers of tree nodes (tree-local.c for this robot, remote/proxy.c for other
 * robots): the part of a node, handle, parked read and passed-on request that the tree knows,
 * the ops table a provider fills, and the tree's inode table. Front ends use tree.h only. */
#pragma once
#include "tree.h"

struct zr_tree_provider;

/* Embedded in the provider's own node. nlookup counts the front ends' references: a provider
 * adds one when it answers a lookup or a mkdir with success, the tree one for a readdirplus
 * entry; the tree drops them in zr_tree_forget and then calls prov->forget, which frees the
 * node once nothing (references, open handles, children) holds it. */
struct zr_tree_node {
	uint64_t ino; /* 0 while in no tree's table */
	uint64_t nlookup;
	const struct zr_tree_provider *prov;
};

/* Embedded first in the provider's own open file or directory, parked read and passed-on
 * request: the tree sends their operations to prov. */
struct zr_handle {
	const struct zr_tree_provider *prov;
};

struct zr_tree_req {
	const struct zr_tree_provider *prov;
};

struct zr_tree_fwd {
	const struct zr_tree_provider *prov;
};

/* The operations of a provider's nodes, as in tree.h (same callbacks, same errors), on its own
 * nodes and handles. Optional ones may be NULL. */
struct zr_tree_provider {
	/* Its operations complete before they return: zr_tree_walk goes through its nodes. */
	bool sync;
	void (*lookup)(struct zr_tree_node *parent, const char *name, zr_tree_attr_cb cb, void *data);
	/* n->nlookup was lowered: free n if nothing holds it any more. */
	void (*forget)(struct zr_tree_node *n);
	void (*getattr)(struct zr_tree_node *n, zr_tree_attr_cb cb, void *data);
	void (*readlink)(struct zr_tree_node *n, zr_tree_link_cb cb, void *data);
	void (*truncate)(struct zr_tree_node *n, uint64_t size, zr_tree_attr_cb cb, void *data);
	void (*opendir)(struct zr_tree_node *n, zr_tree_open_cb cb, void *data);
	/* Entries from off, each a node in the table (ZR_TREE_READDIR_PLUS) or else an existing
	 * node or ino 0 (tree.h); fill (the tree's) counts the reference of a readdirplus entry,
	 * or calls forget on a node nothing holds. */
	int (*readdir)(struct zr_handle *h, uint64_t off, unsigned flags, zr_tree_fill_fn fill,
		       void *data);
	/* Optional: the parent directory's inode number (tree.h zr_tree_parent). */
	uint64_t (*parent)(struct zr_tree_node *n);
	void (*mkdir)(struct zr_tree_node *parent, const char *name, zr_tree_done_cb cb, void *data);
	void (*rmdir)(struct zr_tree_node *parent, const char *name, zr_tree_done_cb cb, void *data);
	void (*open)(struct zr_tree_node *n, int flags, zr_tree_open_cb cb, void *data);
	void (*read)(struct zr_handle *h, uint64_t off, size_t size, zr_tree_read_cb cb, void *data,
		     struct zr_tree_req **ret_req);
	void (*read_cancel)(struct zr_tree_req *req);
	void (*write)(struct zr_handle *h, const char *buf, size_t len, uint64_t off,
		      zr_tree_done_cb cb, void *data);
	void (*flush)(struct zr_handle *h, zr_tree_done_cb cb, void *data);
	void (*release)(struct zr_handle *h);
	unsigned (*poll)(struct zr_handle *h, void *ph);
	/* Optional: the HTTP passthrough to the robot a node stands for. */
	struct zr_tree_fwd *(*forward)(struct zr_tree_node *n, const struct zr_tree_fwd_opts *o,
				       zr_tree_fwd_cb cb, void *data, int *ret_err);
	void (*forward_cancel)(struct zr_tree_fwd *f);
	/* Optional: what an open file shows, for the HTTP API (tree.h). */
	uint64_t (*handle_task)(const struct zr_handle *h);
	struct zr_journal *(*handle_journal)(struct zr_handle *h);
};

/* The inode table. node_add gives n the next inode number; set_root gives it
 * ZR_TREE_ROOT_INO. -ENOMEM. node_del takes n out (its number is not reused). */
int zr_tree__node_add(struct zr_tree *t, struct zr_tree_node *n);
int zr_tree__set_root(struct zr_tree *t, struct zr_tree_node *n);
void zr_tree__node_del(struct zr_tree *t, struct zr_tree_node *n);
struct zr_tree_node *zr_tree__node(struct zr_tree *t, uint64_t ino);
struct zr_tree_node *zr_tree__root(struct zr_tree *t);
/* Every node in the table: i starts at 0; NULL at the end. No add or del meanwhile. */
struct zr_tree_node *zr_tree__next(struct zr_tree *t, size_t *i);

/* The front end's hooks (tree.h struct zr_tree_ops). */
void zr_tree__inval_entry(struct zr_tree *t, uint64_t parent, const char *name);
void zr_tree__inval_attr(struct zr_tree *t, uint64_t ino);
void zr_tree__poll_notify(struct zr_tree *t, void *ph);
void zr_tree__poll_destroy(struct zr_tree *t, void *ph);

/* One write of a data body: adds it to wbuf at off. 1: apply the body now (a first write that
 * holds a whole JSON text, or one plainly wrong, answers for itself); 0: it waits for close
 * (an editor writing in pieces); -ENOMEM; -EFBIG when the body would pass max bytes
 * (--http-max-body), checked before anything grows, and wbuf is then emptied. The same for
 * local and remote data files. */
struct zr_buf;
int zr_tree__data_write(struct zr_buf *wbuf, const char *buf, size_t len, uint64_t off, size_t max);

/* Who asks (actor.h) during a call of mkdir, rmdir or open made with zr_tree_*_as; NULL (the
 * robot itself) otherwise. Borrowed for that call only: copy what is kept. */
const struct zr_actor *zr_tree__actor(const struct zr_tree *t);

/* The remote robots shown under @remote/ (NULL: none). */
struct zr_remotes *zr_tree__remotes(const struct zr_tree *t);

/* tree-local.c: the local provider of robot r in tree t, with its root as t's root. */
struct zr_local;
int zr_local_create(struct zr_tree *t, struct zr_robot *r, struct zr_local **ret);
void zr_local_destroy(struct zr_local *l, int err);
void zr_local_cancel_all(struct zr_local *l, int err);
size_t zr_local_parked(const struct zr_local *l);
/* Remote name appeared or went: drops @remote/<name> and @robot/remotes/<name>. */
void zr_local_remote_changed(struct zr_local *l, const char *name);
