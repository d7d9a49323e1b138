/* The tree: the robot as nodes (dirs and files) with inode numbers and async operations — the
 * one model the FUSE front end (and later HTTP) shows. Every operation runs on the loop. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct zr_robot;
struct zr_tree;
struct zr_handle;
struct zr_tree_req;
struct zr_journal;

#define ZR_TREE_ROOT_INO 1

enum {
	ZR_ATTR_DIRECT_IO = 1 << 0, /* content changes or reads may block: bypass the page cache */
	ZR_ATTR_BLOCKING = 1 << 1,  /* reads may wait for a task */
	ZR_ATTR_READONLY = 1 << 2,  /* never written: no flush needed */
};

struct zr_tree_attr {
	uint64_t ino;
	mode_t mode; /* S_IFDIR / S_IFREG with permission bits */
	uint64_t size;
	long long mtime_ns;
	unsigned nlink;
	unsigned flags;
};

/* What the tree asks of its front end. Called on the loop. */
struct zr_tree_ops {
	/* A child entry the kernel may have cached disappeared. */
	void (*inval_entry)(uint64_t parent, const char *name, void *data);
	/* A poll handle (given to zr_tree_poll) is ready: notify and destroy it. */
	void (*poll_notify)(void *ph, void *data);
	/* A poll handle is no longer needed: destroy it without notifying. */
	void (*poll_destroy)(void *ph, void *data);
};

/* Creates the tree of robot r (borrowed; must outlive the tree). */
int zr_tree_create(struct zr_robot *r, const struct zr_tree_ops *ops, void *data,
		   struct zr_tree **ret);
/* Answers every parked read with -err and frees the tree (handles included). */
void zr_tree_destroy(struct zr_tree *t, int err);
/* Answers every parked read with -err (shutdown). */
void zr_tree_cancel_all(struct zr_tree *t, int err);

/* Shows the remote robots of rs under @remote/ and @robot/remotes/ (borrowed). */
struct zr_remotes;
void zr_tree_set_remotes(struct zr_tree *t, struct zr_remotes *rs);
struct zr_remotes *zr_tree_remotes(const struct zr_tree *t);
/* Remote name appeared or went: drops what the kernel may have cached of it. */
void zr_tree_remote_changed(struct zr_tree *t, const char *name);

/* Looks up name in dir parent and counts one kernel reference on the child. */
int zr_tree_lookup(struct zr_tree *t, uint64_t parent, const char *name, struct zr_tree_attr *ret);
/* Drops n kernel references. */
void zr_tree_forget(struct zr_tree *t, uint64_t ino, uint64_t n);
int zr_tree_getattr(struct zr_tree *t, uint64_t ino, struct zr_tree_attr *ret);
/* The target of a symbolic link (producers/<role>, consumers/<t>.<s>), malloc'd. */
int zr_tree_readlink(struct zr_tree *t, uint64_t ino, char **ret);
/* Truncation to 0 of a writable file (echo's O_TRUNC): accepted, changes nothing. */
int zr_tree_truncate(struct zr_tree *t, uint64_t ino, uint64_t size, struct zr_tree_attr *ret);

/* Directory listing. plus: each entry counts a kernel reference (readdirplus).
 * fill returns false when the reply buffer is full; the entry is then not counted. */
typedef bool (*zr_tree_fill_fn)(const char *name, const struct zr_tree_attr *attr, uint64_t next_off,
				void *data);
int zr_tree_opendir(struct zr_tree *t, uint64_t ino, struct zr_handle **ret);
int zr_tree_readdir(struct zr_tree *t, struct zr_handle *h, uint64_t off, bool plus,
		    zr_tree_fill_fn fill, void *data);

/* Completion of a request that changes the robot (it returns once the change is durable):
 * result is >= 0 on success (bytes taken for a write, 0 otherwise) or a negative errno; attr
 * is the new entry for mkdir, else NULL. Called exactly once, possibly before the call that
 * started the request returns. */
typedef void (*zr_tree_done_cb)(ssize_t result, const struct zr_tree_attr *attr, void *data);

/* mkdir: counts one kernel reference on the new entry. */
void zr_tree_mkdir(struct zr_tree *t, uint64_t parent, const char *name, zr_tree_done_cb cb,
		   void *data);
void zr_tree_rmdir(struct zr_tree *t, uint64_t parent, const char *name, zr_tree_done_cb cb,
		   void *data);

/* Looks up a path relative to the root ("node/local/state"; "" is the root), counting one
 * reference on the result like zr_tree_lookup (drop it with zr_tree_forget(ino, 1)). For
 * front ends that address by path (HTTP). */
int zr_tree_walk(struct zr_tree *t, const char *path, struct zr_tree_attr *ret);

/* Opens a file; flags are open(2)'s. *ret_attr tells how to open it (direct_io...). */
int zr_tree_open(struct zr_tree *t, uint64_t ino, int flags, struct zr_handle **ret,
		 struct zr_tree_attr *ret_attr);

/* Called exactly once with data (borrowed during the call) or a negative errno. */
typedef void (*zr_tree_read_cb)(int err, const char *buf, size_t len, void *data);
/* Reads; the callback may run before this returns. When the read waits, *ret_req is set
 * (else NULL) and zr_tree_read_cancel answers it with -EINTR. */
void zr_tree_read(struct zr_tree *t, struct zr_handle *h, uint64_t off, size_t size,
		  zr_tree_read_cb cb, void *data, struct zr_tree_req **ret_req);
void zr_tree_read_cancel(struct zr_tree *t, struct zr_tree_req *req);

/* One write(2) = one request: cb gets the bytes taken or a negative errno. */
void zr_tree_write(struct zr_tree *t, struct zr_handle *h, const char *buf, size_t len,
		   uint64_t off, zr_tree_done_cb cb, void *data);
/* close(2) of one descriptor: applies a data body that came in several writes; cb gets 0 or
 * a negative errno. */
void zr_tree_flush(struct zr_tree *t, struct zr_handle *h, zr_tree_done_cb cb, void *data);
/* Last close of an open file or dir; frees h. */
void zr_tree_release(struct zr_tree *t, struct zr_handle *h);

/* poll(2): returns the events ready now (POLLIN...). ph (may be NULL) is kept and given to
 * ops->poll_notify when the handle becomes readable; a new ph replaces the old. */
unsigned zr_tree_poll(struct zr_tree *t, struct zr_handle *h, void *ph);

/* Parked reads now (for tests and metrics). */
size_t zr_tree_parked(const struct zr_tree *t);

/* For front ends that read the model behind an open file (HTTP): the task an action file's
 * last write queued or a results file waits for (0 = none), and the journal a log or events
 * file shows (NULL for other files; borrowed, valid while h is open). */
uint64_t zr_tree_handle_task(const struct zr_handle *h);
struct zr_journal *zr_tree_handle_journal(struct zr_tree *t, struct zr_handle *h);
