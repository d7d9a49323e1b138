/* Remote robots as subtrees: @remote/<name>/ is another robot's tree, reached over its HTTP
 * API. Every operation on a remote node is one or more HTTP requests on the loop; attributes
 * and listings are cached for at most a second and dropped whenever the remote's event stream
 * says something changed; file contents are fetched at every open (never stale). Remote nodes
 * have their own inode numbers (from ZR_REMOTE_INO_BASE up) so a front end sends their
 * operations here instead of to the local tree. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "remote/client.h"
#include "tree.h"

#define ZR_REMOTE_INO_BASE (UINT64_C(1) << 48)

struct zr_remotes;
struct zr_remote;
struct zr_rhandle;
struct zr_rreq;
struct zr_store;

struct zr_remotes_config {
	long timeout_ms;        /* --remote-timeout: a request slower than this is ETIMEDOUT */
	bool standalone;        /* zrobot mount: the first remote's root is inode 1 */
	struct zr_store *store; /* where remotes added at run time are kept; NULL = nowhere */
	const char *self;       /* this robot's name, as its consumers are registered elsewhere */
	/* Told when a remote appears or goes, so the front end can drop @remote/<name>. */
	void (*changed)(const char *name, void *data);
	void *data;
};

int zr_remotes_create(uv_loop_t *loop, const struct zr_remotes_config *cfg, struct zr_remotes **ret);
/* Ends every request (parked reads get -err) and frees everything once handles are closed. */
void zr_remotes_destroy(struct zr_remotes *rs, int err);

/* Adds remote name at url with the token read from token_file (NULL = no token). why gets a
 * malloc'd reason on failure (-EINVAL bad name/URL/token file, -EEXIST). persist: keep it in
 * the store (written to @robot/remotes/add) — returns once the store has it. */
typedef void (*zr_remotes_done_cb)(int err, void *data);
int zr_remotes_add(struct zr_remotes *rs, const char *name, const char *url, const char *token_file,
		   char **why);
void zr_remotes_add_persist(struct zr_remotes *rs, const char *name, const char *url,
			    const char *token_file, zr_remotes_done_cb cb, void *data, char **why);
/* "remove NAME": -ENOENT when unknown; durable before cb. */
void zr_remotes_remove(struct zr_remotes *rs, const char *name, zr_remotes_done_cb cb, void *data);
/* Service consumer (local "T/S") started (add) or stopped naming producer
 * ("@remote/ROBOT/T/S"): tells that robot (its producer's ctl takes "consumer add|remove
 * SELF T/S"), now or as soon as its event stream connects, and again at every reconnection. */
void zr_remotes_link(struct zr_remotes *rs, const char *producer, const char *consumer, bool add);
/* Checks that producer ("@remote/ROBOT/T/S") names a service of a mounted remote (its
 * listing, cached briefly): cb gets 0, -EINVAL with why (no such remote or service), or the
 * remote's errno (ENOTCONN...). A path through a remote's own remote is not checked. */
typedef void (*zr_remotes_check_cb)(int err, const char *why, void *data);
void zr_remotes_check(struct zr_remotes *rs, const char *producer, zr_remotes_check_cb cb, void *data);
/* One HTTP request passed on to remote name (the HTTP API's /v1/@remote/NAME/...): path is
 * the tree path there, query "wait=5" or NULL. cb gets the remote's answer as it is (r set,
 * whatever its status), or a transport errno with r NULL. NULL (with *ret_err) when the
 * remote is unknown (-ENOENT) or out of memory. */
struct zr_rfwd;
typedef void (*zr_remotes_fwd_cb)(int err, const struct zr_http_resp *r, void *data);
struct zr_rfwd *zr_remotes_forward(struct zr_remotes *rs, const char *name, const char *method,
				   const char *path, const char *query, const char *ctype,
				   const char *body, size_t len, long wait_ms, zr_remotes_fwd_cb cb,
				   void *data, int *ret_err);
/* Drops a forwarded request: its callback will not run. */
void zr_remotes_forward_cancel(struct zr_rfwd *f);
/* Loads the remotes kept in the store (at start, before --remote ones). */
int zr_remotes_load(struct zr_remotes *rs);

/* Names in order of addition: i from 0; NULL past the end. */
const char *zr_remotes_name(const struct zr_remotes *rs, size_t i);
bool zr_remotes_has(const struct zr_remotes *rs, const char *name);
/* @robot/remotes/<name>/url and status as text; -ENOENT when unknown. */
int zr_remotes_url(const struct zr_remotes *rs, const char *name, char **ret);
int zr_remotes_status(const struct zr_remotes *rs, const char *name, char **ret);

/* The root of remote name as an entry (a directory); count: one more lookup reference. */
int zr_remotes_root(struct zr_remotes *rs, const char *name, bool count, struct zr_tree_attr *ret);
bool zr_remotes_owns(const struct zr_remotes *rs, uint64_t ino);

/* The operations, like the tree's (tree.h) but asynchronous where the tree's are not. */
typedef void (*zr_remote_attr_cb)(int err, const struct zr_tree_attr *attr, void *data);
typedef void (*zr_remote_link_cb)(int err, const char *target, void *data);
typedef void (*zr_remote_open_cb)(int err, struct zr_rhandle *h, const struct zr_tree_attr *attr,
				  void *data);

void zr_remotes_lookup(struct zr_remotes *rs, uint64_t parent, const char *name,
		       zr_remote_attr_cb cb, void *data);
void zr_remotes_getattr(struct zr_remotes *rs, uint64_t ino, zr_remote_attr_cb cb, void *data);
void zr_remotes_forget(struct zr_remotes *rs, uint64_t ino, uint64_t n);
void zr_remotes_readlink(struct zr_remotes *rs, uint64_t ino, zr_remote_link_cb cb, void *data);
/* Truncation to 0 (echo's O_TRUNC) of a writable file: accepted without a request. */
int zr_remotes_truncate(struct zr_remotes *rs, uint64_t ino, struct zr_tree_attr *ret);

/* opendir fetches the listing; readdir reads the handle's copy (plus: counts references). */
void zr_remotes_opendir(struct zr_remotes *rs, uint64_t ino, zr_remote_open_cb cb, void *data);
int zr_remotes_readdir(struct zr_remotes *rs, struct zr_rhandle *h, uint64_t off, bool plus,
		       zr_tree_fill_fn fill, void *data);

int zr_remotes_open(struct zr_remotes *rs, uint64_t ino, int flags, struct zr_rhandle **ret);
/* A read that waits (a result) is a long poll renewed until the task ends; *ret_req is then
 * set and zr_remotes_read_cancel answers it -EINTR. */
void zr_remotes_read(struct zr_remotes *rs, struct zr_rhandle *h, uint64_t off, size_t size,
		     zr_tree_read_cb cb, void *data, struct zr_rreq **ret_req);
void zr_remotes_read_cancel(struct zr_remotes *rs, struct zr_rreq *req);
void zr_remotes_write(struct zr_remotes *rs, struct zr_rhandle *h, const char *buf, size_t len,
		      uint64_t off, zr_tree_done_cb cb, void *data);
void zr_remotes_flush(struct zr_remotes *rs, struct zr_rhandle *h, zr_tree_done_cb cb, void *data);
void zr_remotes_release(struct zr_remotes *rs, struct zr_rhandle *h);
/* poll(2): a result is readable once its task ended (a long poll of the handle's own finds
 * out; ph, kept, is then given to notify); any other remote file is always readable. */
unsigned zr_remotes_poll(struct zr_remotes *rs, struct zr_rhandle *h, void *ph);
/* How the front end is told a poll handle is ready (notify) or not needed (destroy). */
void zr_remotes_set_poll(struct zr_remotes *rs, void (*notify)(void *ph, void *data),
			 void (*destroy)(void *ph, void *data), void *data);

void zr_remotes_mkdir(struct zr_remotes *rs, uint64_t parent, const char *name, zr_tree_done_cb cb,
		      void *data);
void zr_remotes_rmdir(struct zr_remotes *rs, uint64_t parent, const char *name, zr_tree_done_cb cb,
		      void *data);
