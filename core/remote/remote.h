/* Remote robots as subtrees: @remote/<name>/ is another robot's tree, reached over its HTTP
 * API. Its nodes belong to the remote provider of the tree (tree-provider.h, proxy.c): every
 * operation on one is one or more HTTP requests on the loop; attributes and listings are
 * cached for at most a second and dropped whenever the remote's event stream says something
 * changed; file contents are fetched at every open (never stale). This header is for the
 * wiring (main) and the local provider (@robot/remotes, producers on remotes). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "tree.h"

struct zr_remotes;
struct zr_remote;
struct zr_store;

struct zr_remotes_config {
	long timeout_ms;        /* --remote-timeout: a request slower than this is ETIMEDOUT */
	bool standalone;        /* zrobot mount: one remote only */
	struct zr_store *store; /* where remotes added at run time are kept; NULL = nowhere */
	const char *self;       /* this robot's name, as its consumers are registered elsewhere */
	size_t data_max;        /* bytes of a data body written through @remote (--http-max-body);
				   0 given = ZR_DATA_MAX_DEFAULT, set by zr_remotes_create */
	/* Told when a remote appears or goes, so the front end can drop @remote/<name>. */
	void (*changed)(const char *name, void *data);
	void *data;
};

int zr_remotes_create(uv_loop_t *loop, const struct zr_remotes_config *cfg, struct zr_remotes **ret);
/* Ends every request (parked reads get -err) and frees everything once handles are closed. */
void zr_remotes_destroy(struct zr_remotes *rs, int err);

/* Adds remote name at url with the token read from token_file (NULL = no token), in memory
 * (--remote). why gets a malloc'd reason on failure (-EINVAL bad name/URL/token file,
 * -EEXIST). */
int zr_remotes_add(struct zr_remotes *rs, const char *name, const char *url, const char *token_file,
		   char **why);
/* One write to @robot/remotes/add ("NAME URL [TOKEN-FILE]": added and kept in the store) or
 * @robot/remotes/ctl ("remove NAME": removed, here and from the store): 0 and cb once the
 * store has the change (cb may get an errno: -EEXIST, -EINVAL for a bad name, URL or token
 * file, the store's), or a negative errno with a malloc'd *why when the text is refused
 * (-EINVAL, -ENOENT: no such remote); cb is then not called. */
typedef void (*zr_remotes_done_cb)(int err, void *data);
int zr_remotes_command(struct zr_remotes *rs, bool add, const char *buf, size_t len,
		       zr_remotes_done_cb cb, void *data, char **why);
/* Service consumer (local "T/S") started (add) or stopped naming producer
 * ("@remote/ROBOT/T/S"): tells that robot (its producer's ctl takes "consumer add|remove
 * SELF T/S"), now or as soon as its event stream connects, and again at every reconnection. */
void zr_remotes_link(struct zr_remotes *rs, const char *producer, const char *consumer, bool add);
/* Checks that producer ("@remote/ROBOT/T/S") names a service of a mounted remote (its
 * listing, cached briefly): cb gets 0, -EINVAL with why (no such remote or service), or the
 * remote's errno (ENOTCONN...). A path through a remote's own remote is not checked. */
typedef void (*zr_remotes_check_cb)(int err, const char *why, void *data);
void zr_remotes_check(struct zr_remotes *rs, const char *producer, zr_remotes_check_cb cb, void *data);
/* Loads the remotes kept in the store (at start, before --remote ones). */
int zr_remotes_load(struct zr_remotes *rs);

/* Names in order of addition: i from 0; NULL past the end. */
const char *zr_remotes_name(const struct zr_remotes *rs, size_t i);
bool zr_remotes_has(const struct zr_remotes *rs, const char *name);
/* @robot/remotes/<name>/url and status as text; -ENOENT when unknown. */
int zr_remotes_url(const struct zr_remotes *rs, const char *name, char **ret);
int zr_remotes_status(const struct zr_remotes *rs, const char *name, char **ret);

/* The root of remote name as an entry (a directory of the remote provider, tree-provider.h);
 * count: one more lookup reference. -ENOENT when unknown. */
int zr_remotes_root(struct zr_remotes *rs, const char *name, bool count, struct zr_tree_attr *ret);
/* Puts the remote robots' nodes in t's inode table, now and as they come (NULL: takes them
 * out). With a tree that has no root (zrobot mount), the first remote's root is its root.
 * Called by zr_tree_set_remotes. */
void zr_remotes_attach(struct zr_remotes *rs, struct zr_tree *t);
