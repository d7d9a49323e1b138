/* The tree: the one model the front ends show (FUSE in fs/, HTTP in core/api/).
 *
 * A node has an inode number, attributes and asynchronous operations, and belongs to a
 * provider (an ops table, tree-provider.h): local nodes show this robot (tree-local.c and
 * the tree-*.c files around it), remote nodes another robot's tree over HTTP
 * (core/remote/proxy.c). Front ends never ask which provider a node has. There is one inode
 * table and one forget path (tree.c); every operation completes through its callback, exactly
 * once, possibly before the call that started it returns (a local node's always does).
 * Everything runs on the loop.
 *
 * Where things live, for a newcomer:
 *   tree.c              the inode table, dispatch to providers, walk (HTTP paths), forget
 *   tree-provider.h     what a provider implements (the ops table) and may use
 *   tree-local.c        the local provider: nodes of this robot, lookup, listings, reads
 *   tree-kinds.c        one descriptor per kind of local node (name, mode, content, write...):
 *                       a new file is one row there and one function
 *   tree-write.c        writes to local files (actions, data, upgrade, repos, ctl files)
 *   service-ctl.c       a service's ctl commands; remote/remote.c @robot/remotes' commands
 *   remote/proxy.c      the remote provider: another robot's nodes as HTTP requests
 *                       (remote/listing.c its cached listings, remote/services.c mkdir/rmdir)
 *   http.c              the one errno <-> HTTP status table, for api/ and remote/
 *
 * What the kernel may cache: names (1 s, dropped with inval_entry when they go) and the
 * attributes of directories the tree marks ZR_ATTR_STABLE (fs/fs.c gives them 1 s): fixed
 * ones, and the root's and templates' folders, whose times tree-local.c follows through the
 * robot's events (inval_attr; tree-kinds.c zr_kind__attrs says which). Files' attributes
 * are never cached. fs/fs.c adds "." and ".." to every FUSE listing. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "actor.h"
#include "http.h"

struct zr_robot;
struct zr_tree;
struct zr_handle;
struct zr_tree_req;
struct zr_tree_fwd;
struct zr_journal;
struct zr_remotes;

#define ZR_TREE_ROOT_INO 1

enum {
	ZR_ATTR_DIRECT_IO = 1 << 0, /* content changes or reads may block: bypass the page cache */
	ZR_ATTR_BLOCKING = 1 << 1,  /* reads may wait for a task */
	ZR_ATTR_READONLY = 1 << 2,  /* never written: no flush needed */
	/* The attributes change only with a zr_tree_ops.inval_attr: the front end may cache
	 * them (directories whose time is fixed or follows the robot's events). */
	ZR_ATTR_STABLE = 1 << 3,
};

struct zr_tree_attr {
	uint64_t ino;
	mode_t mode; /* S_IFDIR / S_IFREG / S_IFLNK with permission bits */
	uint64_t size;
	long long mtime_ns;
	unsigned nlink;
	unsigned flags;
};

/* What the tree asks of its front end. Called on the loop. */
struct zr_tree_ops {
	/* A child entry the kernel may have cached disappeared. */
	void (*inval_entry)(uint64_t parent, const char *name, void *data);
	/* Optional: the attributes of a ZR_ATTR_STABLE node changed. */
	void (*inval_attr)(uint64_t ino, void *data);
	/* A poll handle (given to zr_tree_poll) is ready: notify and destroy it. */
	void (*poll_notify)(void *ph, void *data);
	/* A poll handle is no longer needed: destroy it without notifying. */
	void (*poll_destroy)(void *ph, void *data);
};

/* Creates the tree of robot r (borrowed; must outlive the tree). r NULL: a tree with no local
 * nodes, whose root is the first remote robot given by zr_tree_set_remotes (zrobot mount). */
int zr_tree_create(struct zr_robot *r, const struct zr_tree_ops *ops, void *data,
		   struct zr_tree **ret);
/* Answers every parked read with -err and frees the tree (its local handles included). Remote
 * robots attached with zr_tree_set_remotes are detached, not freed. */
void zr_tree_destroy(struct zr_tree *t, int err);
/* Answers every parked local read with -err (shutdown). */
void zr_tree_cancel_all(struct zr_tree *t, int err);

/* Shows the remote robots of rs (borrowed, until zr_tree_destroy or zr_remotes_destroy)
 * under @remote/ and @robot/remotes/; with no robot, rs's first remote is the root. */
void zr_tree_set_remotes(struct zr_tree *t, struct zr_remotes *rs);
/* Remote name appeared or went: drops what the kernel may have cached of it. */
void zr_tree_remote_changed(struct zr_tree *t, const char *name);

/* Completions. err is 0 or a negative errno; attr, target and h are borrowed during the call. */
typedef void (*zr_tree_attr_cb)(int err, const struct zr_tree_attr *attr, void *data);
typedef void (*zr_tree_link_cb)(int err, const char *target, void *data);
/* h is the caller's until zr_tree_release; attr tells how to open it (direct_io...). */
typedef void (*zr_tree_open_cb)(int err, struct zr_handle *h, const struct zr_tree_attr *attr,
				void *data);
/* Completion of a request that changes the robot (it returns once the change is durable):
 * result is >= 0 on success (bytes taken for a write, 0 otherwise) or a negative errno; attr
 * is the new entry for mkdir, else NULL. */
typedef void (*zr_tree_done_cb)(ssize_t result, const struct zr_tree_attr *attr, void *data);
/* data (borrowed during the call) or a negative errno. */
typedef void (*zr_tree_read_cb)(int err, const char *buf, size_t len, void *data);

/* Looks up name in dir parent; success counts one reference on the child (drop it with
 * zr_tree_forget). -ENOENT, -ENOTDIR, -ENOTCONN and -ETIMEDOUT (remote robot down or slow). */
void zr_tree_lookup(struct zr_tree *t, uint64_t parent, const char *name, zr_tree_attr_cb cb,
		    void *data);
/* Drops n references; the node goes once nothing holds it. Unknown inodes are ignored. */
void zr_tree_forget(struct zr_tree *t, uint64_t ino, uint64_t n);
void zr_tree_getattr(struct zr_tree *t, uint64_t ino, zr_tree_attr_cb cb, void *data);
/* The target of a symbolic link (producers/<role>, consumers/<t>.<s>); -EINVAL otherwise. */
void zr_tree_readlink(struct zr_tree *t, uint64_t ino, zr_tree_link_cb cb, void *data);
/* Truncation to 0 of a writable file (echo's O_TRUNC): accepted, changes nothing. */
void zr_tree_truncate(struct zr_tree *t, uint64_t ino, uint64_t size, zr_tree_attr_cb cb,
		      void *data);

/* Directory listing: opendir takes a snapshot (remote: fetches the listing); readdir reads
 * the handle's snapshot, so it answers at once. fill returns false when the reply buffer is
 * full; the entry is then not counted. flags:
 *   ZR_TREE_READDIR_PLUS   each entry counts a reference (readdirplus);
 *   ZR_TREE_READDIR_NAMES  fill reads only name, ino and the type in mode (a plain readdir):
 *                          attributes may be left out.
 * Without PLUS, an entry whose node does not exist yet has attr->ino 0 (no node is made for
 * it, so its number is not known); symbolic links always have theirs. The listing has no
 * "." and ".." (a front end adds them: zr_tree_parent). */
enum {
	ZR_TREE_READDIR_PLUS = 1 << 0,
	ZR_TREE_READDIR_NAMES = 1 << 1,
};
typedef bool (*zr_tree_fill_fn)(const char *name, const struct zr_tree_attr *attr, uint64_t next_off,
				void *data);
void zr_tree_opendir(struct zr_tree *t, uint64_t ino, zr_tree_open_cb cb, void *data);
int zr_tree_readdir(struct zr_tree *t, struct zr_handle *h, uint64_t off, unsigned flags,
		    zr_tree_fill_fn fill, void *data);

/* The inode number of a directory's parent (the root's is the root), for "..": 0 when
 * unknown (ino is not a directory, or its provider does not tell). */
uint64_t zr_tree_parent(struct zr_tree *t, uint64_t ino);

/* mkdir: success counts one reference on the new entry. */
void zr_tree_mkdir(struct zr_tree *t, uint64_t parent, const char *name, zr_tree_done_cb cb,
		   void *data);
void zr_tree_rmdir(struct zr_tree *t, uint64_t parent, const char *name, zr_tree_done_cb cb,
		   void *data);
/* The same on behalf of who (borrowed for the call; actor.h): the role model decides (EACCES,
 * EDQUOT). The plain calls act as the robot itself (admin). */
void zr_tree_mkdir_as(struct zr_tree *t, uint64_t parent, const char *name,
		      const struct zr_actor *who, zr_tree_done_cb cb, void *data);
void zr_tree_rmdir_as(struct zr_tree *t, uint64_t parent, const char *name,
		      const struct zr_actor *who, zr_tree_done_cb cb, void *data);

/* Looks up a path relative to the root ("node/local/state"; "" is the root), counting one
 * reference on the result like zr_tree_lookup (drop it with zr_tree_forget(ino, 1)), for
 * front ends that address by path (HTTP). It walks local nodes only, so it answers at once:
 * at a node of another robot it stops with -EREMOTE, *ret is that node (counted) and
 * *ret_rest the offset in path of what follows it (give it to zr_tree_forward). */
int zr_tree_walk(struct zr_tree *t, const char *path, struct zr_tree_attr *ret, size_t *ret_rest);

/* Opens a file; flags are open(2)'s. */
void zr_tree_open(struct zr_tree *t, uint64_t ino, int flags, zr_tree_open_cb cb, void *data);
/* The same on behalf of who (copied): the handle's writes and flushes are who's requests. */
void zr_tree_open_as(struct zr_tree *t, uint64_t ino, int flags, const struct zr_actor *who,
		     zr_tree_open_cb cb, void *data);

/* Reads; the callback may run before this returns. When the read waits, *ret_req is set
 * (else NULL) and zr_tree_read_cancel answers it with -EINTR through cb. */
void zr_tree_read(struct zr_tree *t, struct zr_handle *h, uint64_t off, size_t size,
		  zr_tree_read_cb cb, void *data, struct zr_tree_req **ret_req);
void zr_tree_read_cancel(struct zr_tree *t, struct zr_tree_req *req);

/* One write(2) = one request: cb gets the bytes taken or a negative errno. */
void zr_tree_write(struct zr_tree *t, struct zr_handle *h, const char *buf, size_t len,
		   uint64_t off, zr_tree_done_cb cb, void *data);
/* close(2) of one descriptor: applies a data body that came in several writes; cb gets 0 or
 * a negative errno. */
void zr_tree_flush(struct zr_tree *t, struct zr_handle *h, zr_tree_done_cb cb, void *data);
/* Last close of an open file or dir; frees h (once its requests in flight are answered). */
void zr_tree_release(struct zr_tree *t, struct zr_handle *h);

/* poll(2): returns the events ready now (POLLIN...). ph (may be NULL) is kept and given to
 * ops->poll_notify when the handle becomes readable; a new ph replaces the old. */
unsigned zr_tree_poll(struct zr_tree *t, struct zr_handle *h, void *ph);

/* One HTTP request passed on as it is to the robot that node ino (from zr_tree_walk's
 * -EREMOTE) stands for: path is the tree path below that node there. cb gets the answer (r
 * set, whatever its status) or a transport errno with r NULL. The answer is the remote's
 * except r->location: the remote's Location rewritten as "/v1/..." of that same remote in
 * our spelling, or NULL when it named anything else (a remote is untrusted: README
 * "Security"). NULL (with *ret_err) when ino is not another robot's (-ENOENT) or out of
 * memory. */
struct zr_tree_fwd_opts {
	const char *method; /* GET, HEAD, POST, PUT, DELETE */
	const char *path;
	const char *query;  /* "wait=5", or NULL */
	const char *ctype;
	const char *body;
	size_t len;
	long wait_ms;       /* a long poll: added to the timeout */
};
typedef void (*zr_tree_fwd_cb)(int err, const struct zr_http_resp *r, void *data);
struct zr_tree_fwd *zr_tree_forward(struct zr_tree *t, uint64_t ino,
				    const struct zr_tree_fwd_opts *o, zr_tree_fwd_cb cb, void *data,
				    int *ret_err);
/* Drops a forwarded request: its callback will not run. */
void zr_tree_forward_cancel(struct zr_tree *t, struct zr_tree_fwd *f);

/* Parked local reads now (for tests and metrics). */
size_t zr_tree_parked(const struct zr_tree *t);

/* For front ends that read the model behind an open file (HTTP): the task an action file's
 * last write queued or a results file waits for (0 = none), and the journal a log or events
 * file shows (NULL for other files; borrowed, valid while h is open). */
uint64_t zr_tree_handle_task(const struct zr_handle *h);
struct zr_journal *zr_tree_handle_journal(struct zr_tree *t, struct zr_handle *h);
