/* The FUSE low-level front end on the libuv loop: requests in, tree operations, replies out. */
#define FUSE_USE_VERSION 314
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "notify.h"
#include "temp.h"
#include "tree.h"
#include "util/list.h"
#include "util/log.h"

/* Requests handled per wake-up: enough to batch, few enough to let timers and children in. */
#define BATCH 16
/* How long the kernel may trust a name: changes are pushed with invalidations anyway. */
#define ENTRY_TIMEOUT 1.0
/* How long it may trust attributes the tree calls stable (ZR_ATTR_STABLE): their changes are
 * pushed too (tree_inval_attr). Others are never cached: tail -f polls st_size and mtime. */
#define ATTR_TIMEOUT 1.0
/* The number libfuse gives an entry it has no inode for (d_ino of a plain readdir). */
#define UNKNOWN_INO 0xffffffffu
/* The largest temporary when the robot gives no data limit (zrobot mount): --http-max-body's
 * default. */
#define TEMP_MAX_DEFAULT (1024 * 1024)

struct zr_fs {
	uv_loop_t *loop;
	struct zr_fs_config cfg;
	char *mount;
	struct fuse_session *se;
	struct zr_tree *tree;
	struct zr_notifier *notifier;
	struct zr_temps *temps; /* editors' temporaries (temp.h) */
	uv_poll_t poll;
	bool polling;
	bool mounted;
	bool gone;
	struct fuse_buf buf;
	uid_t uid; /* every node's owner: the robot's user (two syscalls saved per entry) */
	gid_t gid;
	struct zr_list interrupted; /* parked reads whose EINTR is due after this batch */
	void (*on_gone)(void *data);
	void *data;
};

/* A read in flight: what the tree's callback needs to answer the kernel. */
struct read_ctx {
	fuse_req_t req;
	struct zr_fs *fs;
	struct zr_tree_req *treq;
	struct zr_list link; /* in fs->interrupted once interrupted */
};

/* An open waiting for its handle: fi lives for the call only, the answer needs a copy. */
struct open_ctx {
	fuse_req_t req;
	struct fuse_file_info fi;
};

static struct zr_fs *req_fs(fuse_req_t req) { return fuse_req_userdata(req); }

/* Who asks (README "Security"): root and the robot's own user are the admin; another uid
 * (only with --allow-other) a local user, whom the mode bits and the model limit. */
static void req_actor(fuse_req_t req, struct zr_actor *ret)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	zr_actor_local(ctx ? ctx->uid : 0, req_fs(req)->uid, ret);
}

static uid_t req_uid(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	return ctx ? ctx->uid : 0;
}

static void to_stat(const struct zr_fs *fs, const struct zr_tree_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((a->size + 511) / 512);
	st->st_mtim.tv_sec = a->mtime_ns / 1000000000;
	st->st_mtim.tv_nsec = a->mtime_ns % 1000000000;
	st->st_atim = st->st_ctim = st->st_mtim;
}

static double attr_timeout(const struct zr_tree_attr *a)
{
	return a->flags & ZR_ATTR_STABLE ? ATTR_TIMEOUT : 0;
}

static void to_entry(const struct zr_fs *fs, const struct zr_tree_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->generation = 1;
	to_stat(fs, a, &e->attr);
	/* A temporary's name is private to its creator (temp.h): the kernel shares names between
	 * users, so it must ask again each time. */
	e->entry_timeout = zr_temp_is_ino(a->ino) ? 0 : ENTRY_TIMEOUT;
	e->attr_timeout = attr_timeout(a);
}

static void op_init(void *data, struct fuse_conn_info *conn)
{
	(void)data;
	/* No splice: requests are small, and write_buf is not implemented (DESIGN FUSE rules). */
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	/* O_TRUNC comes with open instead of a separate setattr. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) {
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	}
}

/* The interrupted-reply rule, in one place: a reply the kernel refuses (-ENOENT: the request
 * was interrupted) never counted its reference or handle, so it is given back here. */
static void reply_entry(fuse_req_t req, const struct zr_tree_attr *a)
{
	struct fuse_entry_param e;
	to_entry(req_fs(req), a, &e);
	if (fuse_reply_entry(req, &e) == -ENOENT) {
		zr_tree_forget(req_fs(req)->tree, a->ino, 1);
	}
}

static void reply_open(fuse_req_t req, const struct fuse_file_info *fi, struct zr_handle *h)
{
	if (fuse_reply_open(req, fi) == -ENOENT) {
		zr_tree_release(req_fs(req)->tree, h);
	}
}

static void on_entry(int err, const struct zr_tree_attr *a, void *data)
{
	if (err < 0) {
		fuse_reply_err(data, -err);
	} else {
		reply_entry(data, a);
	}
}

static void on_attr(int err, const struct zr_tree_attr *a, void *data)
{
	struct stat st;
	if (err < 0) {
		fuse_reply_err(data, -err);
		return;
	}
	to_stat(req_fs(data), a, &st);
	fuse_reply_attr(data, &st, attr_timeout(a));
}

/* ---- editors' temporaries (temp.h) ----
 *
 * sed -i, vim (backupcopy=no) and python's atomic-write idiom write a new file next to data and
 * rename it over data. A temporary lives here in the front end, not in the tree: only FUSE
 * has editors, and the rename hands its bytes to the tree as what it already knows, one data
 * write by the renaming user (open, write, close), so validation, the role model, lasterror
 * and durability are exactly a data write's. */

static void reply_temp_entry(fuse_req_t req, struct zr_temp *t)
{
	struct zr_tree_attr a;
	zr_temp_attr(t, &a);
	reply_entry(req, &a);
}

static void reply_temp_attr(fuse_req_t req, const struct zr_temp *t)
{
	struct zr_tree_attr a;
	struct stat st;
	zr_temp_attr(t, &a);
	to_stat(req_fs(req), &a, &st);
	fuse_reply_attr(req, &st, 0);
}

/* create(2) in a folder: a temporary when the folder is a service's (it has a data file) and
 * the name is free; files are made by the robot only anywhere else (EPERM, as before). */
struct create_ctx {
	fuse_req_t req;
	struct fuse_file_info fi;
	uint64_t parent;
	char *name;
};

static void create_ctx_free(struct create_ctx *c)
{
	free(c->name);
	free(c);
}

static void on_create_data(int err, const struct zr_tree_attr *a, void *data)
{
	struct create_ctx *c = data;
	struct zr_fs *fs = req_fs(c->req);
	struct zr_temp *t;
	bool service = err == 0 && S_ISREG(a->mode);
	if (err == 0) {
		zr_tree_forget(fs->tree, a->ino, 1);
	}
	if (!service) {
		fuse_reply_err(c->req, err == -ENOENT || err == 0 ? EPERM : -err);
	} else if ((err = zr_temps_add(fs->temps, c->parent, c->name, req_uid(c->req), &t)) < 0) {
		fuse_reply_err(c->req, -err);
	} else {
		struct fuse_entry_param e;
		struct zr_tree_attr ta;
		zr_temp_attr(t, &ta);
		to_entry(fs, &ta, &e);
		c->fi.fh = (uint64_t)(uintptr_t)t;
		c->fi.direct_io = 1;
		if (fuse_reply_create(c->req, &e, &c->fi) == -ENOENT) {
			/* Interrupted: nobody holds it, nobody will rename it. */
			zr_temp_drop(t);
			zr_temp_unref(t);
		}
	}
	create_ctx_free(c);
}

static void on_create_name(int err, const struct zr_tree_attr *a, void *data)
{
	struct create_ctx *c = data;
	struct zr_fs *fs = req_fs(c->req);
	if (err == 0) {
		zr_tree_forget(fs->tree, a->ino, 1);
		err = -EEXIST;
	}
	if (err != -ENOENT) {
		fuse_reply_err(c->req, -err);
		create_ctx_free(c);
		return;
	}
	zr_tree_lookup(fs->tree, c->parent, "data", on_create_data, c);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      struct fuse_file_info *fi)
{
	struct create_ctx *c = calloc(1, sizeof(*c));
	(void)mode; /* always 0600: the bytes are meant for data, which is 0600 */
	if (!c || !(c->name = strdup(name))) {
		free(c);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	c->req = req;
	c->fi = *fi;
	c->parent = parent;
	/* The tree's own names first: a temporary never hides one. */
	zr_tree_lookup(req_fs(req)->tree, parent, name, on_create_name, c);
}

/* rename(2) of a temporary over its folder's data: one data write, then the temporary goes,
 * applied or refused (the refusal's reason is in lasterror, as for any data write). */
struct apply_ctx {
	fuse_req_t req;
	struct zr_fs *fs;
	struct zr_temp *temp;
	struct zr_actor who;
	uint64_t ino; /* data's, counted */
	struct zr_handle *h;
	int err;
};

static void apply_finish(struct apply_ctx *c)
{
	if (c->h) {
		zr_tree_release(c->fs->tree, c->h);
	}
	if (c->ino) {
		zr_tree_forget(c->fs->tree, c->ino, 1);
	}
	zr_temp_unref(c->temp);
	fuse_reply_err(c->req, -c->err);
	free(c);
}

static void on_apply_flushed(ssize_t result, const struct zr_tree_attr *a, void *data)
{
	struct apply_ctx *c = data;
	(void)a;
	c->err = result < 0 ? (int)result : 0;
	apply_finish(c);
}

static void on_apply_written(ssize_t result, const struct zr_tree_attr *a, void *data)
{
	struct apply_ctx *c = data;
	(void)a;
	if (result < 0) {
		c->err = (int)result;
		apply_finish(c);
		return;
	}
	/* A body the write did not apply at once (not whole JSON) is applied, or refused, here. */
	zr_tree_flush(c->fs->tree, c->h, on_apply_flushed, c);
}

static void on_apply_open(int err, struct zr_handle *h, const struct zr_tree_attr *a, void *data)
{
	struct apply_ctx *c = data;
	size_t len;
	const char *buf;
	(void)a;
	if (err < 0) {
		c->err = err;
		apply_finish(c);
		return;
	}
	c->h = h;
	buf = zr_temp_data(c->temp, &len);
	zr_tree_write(c->fs->tree, h, buf, len, 0, on_apply_written, c);
}

static void on_apply_data(int err, const struct zr_tree_attr *a, void *data)
{
	struct apply_ctx *c = data;
	if (err == 0) {
		c->ino = a->ino;
		err = S_ISREG(a->mode) ? 0 : -EPERM;
	}
	if (err < 0) {
		c->err = err;
		apply_finish(c);
		return;
	}
	zr_tree_open_as(c->fs->tree, c->ino, O_WRONLY, &c->who, on_apply_open, c);
}

/* Handles rename(2) when its source is the caller's temporary; false when it is not one. */
static bool temp_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
			const char *newname, unsigned int flags)
{
	struct zr_fs *fs = req_fs(req);
	struct zr_temp *t = zr_temps_find(fs->temps, parent, name, req_uid(req));
	struct apply_ctx *c;
	if (!t) {
		return false;
	}
	/* Only over its own folder's data; the temporary stays, for a rename that makes sense. */
	if (newparent != parent || strcmp(newname, "data") != 0) {
		fuse_reply_err(req, EPERM);
		return true;
	}
	if (flags & RENAME_EXCHANGE) {
		fuse_reply_err(req, EINVAL);
		return true;
	}
	if (flags & RENAME_NOREPLACE) {
		fuse_reply_err(req, EEXIST); /* data is always there (mv then renames plainly) */
		return true;
	}
	if (!(c = calloc(1, sizeof(*c)))) {
		fuse_reply_err(req, ENOMEM);
		return true;
	}
	c->req = req;
	c->fs = fs;
	c->temp = t;
	req_actor(req, &c->who);
	/* Out of the names now: a second rename of it finds nothing; its bytes stay while held. */
	zr_temp_ref(t);
	zr_temp_drop(t);
	zr_tree_lookup(fs->tree, parent, "data", on_apply_data, c);
	return true;
}

static void temp_setattr(fuse_req_t req, struct zr_temp *t, const struct stat *attr, int to_set)
{
	int err;
	/* sed -i copies data's owner and mode onto its temporary, vim may set times: harmless,
	 * and ignored (the bytes go to data, whose mode and owner are the robot's). */
	if (to_set & FUSE_SET_ATTR_SIZE) {
		err = zr_temp_truncate(t, (uint64_t)attr->st_size);
		if (err < 0) {
			fuse_reply_err(req, -err);
			return;
		}
	}
	reply_temp_attr(req, t);
}

static void temp_open(fuse_req_t req, struct zr_temp *t, struct fuse_file_info *fi)
{
	if (zr_temp_uid(t) != req_uid(req)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	if (fi->flags & O_TRUNC) {
		(void)zr_temp_truncate(t, 0);
	}
	zr_temp_ref(t);
	fi->fh = (uint64_t)(uintptr_t)t;
	fi->direct_io = 1;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		zr_temp_unref(t);
	}
}

static void temp_read(fuse_req_t req, struct zr_temp *t, size_t size, off_t off)
{
	size_t len;
	const char *buf = zr_temp_data(t, &len);
	if ((uint64_t)off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	fuse_reply_buf(req, buf + off, size < len - (size_t)off ? size : len - (size_t)off);
}

static void temp_write(fuse_req_t req, struct zr_temp *t, const char *buf, size_t size, off_t off)
{
	ssize_t n = zr_temp_write(t, buf, size, (uint64_t)off);
	if (n < 0) {
		fuse_reply_err(req, (int)-n);
	} else {
		fuse_reply_write(req, (size_t)n);
	}
}

static struct zr_temp *fi_temp(const struct fuse_file_info *fi)
{
	return (struct zr_temp *)(uintptr_t)fi->fh;
}

static void temp_getattr(fuse_req_t req, fuse_ino_t ino)
{
	struct zr_temp *t = zr_temps_get(req_fs(req)->temps, ino);
	if (!t) {
		fuse_reply_err(req, ENOENT);
	} else {
		reply_temp_attr(req, t);
	}
}

/* ---- requests ---- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct zr_temp *t = zr_temps_find(req_fs(req)->temps, parent, name, req_uid(req));
	if (t) {
		reply_temp_entry(req, t);
		return;
	}
	/* Answered at once for local nodes, when the listing is here for remote ones. */
	zr_tree_lookup(req_fs(req)->tree, parent, name, on_entry, req);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* A temporary's references are not counted (it goes with its handles); the tree ignores
	 * numbers it does not know. */
	zr_tree_forget(req_fs(req)->tree, ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++) {
		zr_tree_forget(req_fs(req)->tree, forgets[i].ino, forgets[i].nlookup);
	}
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	if (zr_temp_is_ino(ino)) {
		temp_getattr(req, ino);
		return;
	}
	zr_tree_getattr(req_fs(req)->tree, ino, on_attr, req);
}

static void on_link(int err, const char *target, void *data)
{
	if (err < 0) {
		fuse_reply_err(data, -err);
	} else {
		fuse_reply_readlink(data, target);
	}
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	zr_tree_readlink(req_fs(req)->tree, ino, on_link, req);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)fi;
	if (zr_temp_is_ino(ino)) {
		struct zr_temp *t = zr_temps_get(req_fs(req)->temps, ino);
		if (!t) {
			fuse_reply_err(req, ENOENT);
		} else {
			temp_setattr(req, t, attr, to_set);
		}
		return;
	}
	/* Only truncation (echo's O_TRUNC, truncate -s 0) is meaningful here; the times that
	 * come with it are the robot's to keep. */
	if (!(to_set & FUSE_SET_ATTR_SIZE) ||
	    (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))) {
		fuse_reply_err(req, EPERM);
		return;
	}
	zr_tree_truncate(req_fs(req)->tree, ino, (uint64_t)attr->st_size, on_attr, req);
}

static void on_entry_done(ssize_t result, const struct zr_tree_attr *a, void *data)
{
	if (result < 0) {
		fuse_reply_err(data, (int)-result);
	} else {
		reply_entry(data, a);
	}
}

/* For requests whose only answer is an errno (0 = success). */
static void on_status_done(ssize_t result, const struct zr_tree_attr *a, void *data)
{
	(void)a;
	fuse_reply_err(data, result < 0 ? (int)-result : 0);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct zr_actor who;
	(void)mode;
	req_actor(req, &who);
	/* Answered once the new service is on disk (DESIGN §5). */
	zr_tree_mkdir_as(req_fs(req)->tree, parent, name, &who, on_entry_done, req);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct zr_actor who;
	req_actor(req, &who);
	zr_tree_rmdir_as(req_fs(req)->tree, parent, name, &who, on_status_done, req);
}

/* Files are made by the robot only. */
static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	fuse_reply_err(req, EPERM);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct zr_temp *t = zr_temps_find(req_fs(req)->temps, parent, name, req_uid(req));
	if (t) {
		zr_temp_drop(t); /* an editor's own temporary, given up */
		fuse_reply_err(req, 0);
		return;
	}
	fuse_reply_err(req, EPERM);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	if (!temp_rename(req, parent, name, newparent, newname, flags)) {
		fuse_reply_err(req, EPERM);
	}
}

static struct open_ctx *open_ctx_new(fuse_req_t req, const struct fuse_file_info *fi)
{
	struct open_ctx *c = malloc(sizeof(*c));
	if (!c) {
		fuse_reply_err(req, ENOMEM);
		return NULL;
	}
	c->req = req;
	c->fi = *fi;
	return c;
}

static void on_open(int err, struct zr_handle *h, const struct zr_tree_attr *a, void *data)
{
	struct open_ctx *c = data;
	if (err < 0) {
		fuse_reply_err(c->req, -err);
	} else {
		c->fi.fh = (uint64_t)(uintptr_t)h;
		/* Every file changes or may block: reads go to the robot, not the page cache. */
		c->fi.direct_io = 1;
		c->fi.keep_cache = 0;
		c->fi.noflush = (a->flags & ZR_ATTR_READONLY) != 0;
		reply_open(c->req, &c->fi, h);
	}
	free(c);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_ctx *c;
	struct zr_actor who;
	if (zr_temp_is_ino(ino)) {
		struct zr_temp *t = zr_temps_get(req_fs(req)->temps, ino);
		if (!t) {
			fuse_reply_err(req, ENOENT);
		} else {
			temp_open(req, t, fi);
		}
		return;
	}
	c = open_ctx_new(req, fi);
	req_actor(req, &who);
	if (c) {
		zr_tree_open_as(req_fs(req)->tree, ino, fi->flags, &who, on_open, c);
	}
}

static void on_read_done(int err, const char *buf, size_t len, void *data)
{
	struct read_ctx *rc = data;
	zr_list_remove(&rc->link);
	if (err < 0) {
		fuse_reply_err(rc->req, -err);
	} else {
		fuse_reply_buf(rc->req, buf, len);
	}
	free(rc);
}

/* Called by libfuse, possibly from inside fuse_req_interrupt_func with the request's lock
 * held: answering there would free the request under libfuse's feet, so the answer waits
 * until the current batch is processed. */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct read_ctx *rc = data;
	(void)req;
	if (zr_list_empty(&rc->link)) {
		zr_list_push_back(&rc->fs->interrupted, &rc->link);
	}
}

static void answer_interrupted(struct zr_fs *fs)
{
	while (!zr_list_empty(&fs->interrupted)) {
		struct read_ctx *rc = container_of(fs->interrupted.next, struct read_ctx, link);
		/* EINTR via the tree's cancel, which calls on_read_done. */
		zr_tree_read_cancel(fs->tree, rc->treq);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct zr_fs *fs = req_fs(req);
	struct read_ctx *rc = calloc(1, sizeof(*rc));
	struct zr_tree_req *treq;
	if (zr_temp_is_ino(ino)) {
		free(rc);
		temp_read(req, fi_temp(fi), size, off);
		return;
	}
	if (!rc) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	rc->req = req;
	rc->fs = fs;
	zr_list_init(&rc->link);
	zr_tree_read(fs->tree, (struct zr_handle *)(uintptr_t)fi->fh, (uint64_t)off, size, on_read_done,
		     rc, &treq);
	if (treq) {
		/* Parked (a task's result, a remote's long poll): rc lives until the tree answers.
		 * Without this, a blocked reader would ignore Ctrl-C and even kill -9. */
		rc->treq = treq;
		fuse_req_interrupt_func(req, on_interrupt, rc);
	}
}

static void on_write_done(ssize_t result, const struct zr_tree_attr *a, void *data)
{
	(void)a;
	if (result < 0) {
		fuse_reply_err(data, (int)-result);
	} else {
		fuse_reply_write(data, (size_t)result);
	}
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	if (zr_temp_is_ino(ino)) {
		temp_write(req, fi_temp(fi), buf, size, off);
		return;
	}
	/* Answered once the task (or data) is durable: within a group commit, milliseconds. */
	zr_tree_write(req_fs(req)->tree, (struct zr_handle *)(uintptr_t)fi->fh, buf, size, (uint64_t)off,
		      on_write_done, req);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (zr_temp_is_ino(ino)) {
		fuse_reply_err(req, 0); /* its bytes are applied by the rename */
		return;
	}
	zr_tree_flush(req_fs(req)->tree, (struct zr_handle *)(uintptr_t)fi->fh, on_status_done, req);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (zr_temp_is_ino(ino)) {
		zr_temp_unref(fi_temp(fi));
		fuse_reply_err(req, 0);
		return;
	}
	zr_tree_release(req_fs(req)->tree, (struct zr_handle *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void on_opendir(int err, struct zr_handle *h, const struct zr_tree_attr *a, void *data)
{
	struct open_ctx *c = data;
	(void)a;
	if (err < 0) {
		fuse_reply_err(c->req, -err);
	} else {
		c->fi.fh = (uint64_t)(uintptr_t)h;
		reply_open(c->req, &c->fi, h);
	}
	free(c);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct open_ctx *c = open_ctx_new(req, fi);
	if (c) {
		/* A remote directory's listing is fetched here; readdir reads the copy. */
		zr_tree_opendir(req_fs(req)->tree, ino, on_opendir, c);
	}
}

/* A listing starts with "." and "..", at offsets 0 and 1; the tree's entry at offset i is
 * ours at DOTS + i. */
#define DOTS 2

struct dir_fill {
	fuse_req_t req;
	char *buf;
	size_t size, pos;
	bool plus;
};

/* One entry into the reply; false when it does not fit. entry: a readdirplus entry the
 * kernel links and counts (the tree counted it); "." and ".." are not. */
static bool dir_add(struct dir_fill *d, const char *name, const struct zr_tree_attr *a,
		    uint64_t next_off, bool entry)
{
	size_t n;
	if (d->plus) {
		struct fuse_entry_param e;
		to_entry(req_fs(d->req), a, &e);
		if (!entry) {
			/* No node id: the kernel neither links nor counts it (it skips "." and ".."
			 * anyway, and would never forget them). */
			e.ino = 0;
		}
		n = fuse_add_direntry_plus(d->req, d->buf + d->pos, d->size - d->pos, name, &e, (off_t)next_off);
	} else {
		struct stat st;
		to_stat(req_fs(d->req), a, &st);
		n = fuse_add_direntry(d->req, d->buf + d->pos, d->size - d->pos, name, &st, (off_t)next_off);
	}
	if (n > d->size - d->pos) {
		return false;
	}
	d->pos += n;
	return true;
}

static bool dir_fill(const char *name, const struct zr_tree_attr *a, uint64_t next_off, void *data)
{
	struct zr_tree_attr known = *a;
	if (!known.ino) {
		known.ino = UNKNOWN_INO; /* a plain entry the tree made no node for */
	}
	return dir_add(data, name, &known, next_off + DOTS, true);
}

/* "." and ".." from offset off (< DOTS); false when the reply is full. */
static bool dir_dots(struct dir_fill *d, fuse_ino_t ino, uint64_t off)
{
	uint64_t parent = zr_tree_parent(req_fs(d->req)->tree, ino);
	struct zr_tree_attr a = {.ino = ino, .mode = S_IFDIR | 0555, .nlink = 2};
	if (off == 0 && !dir_add(d, ".", &a, 1, false)) {
		return false;
	}
	a.ino = parent ? parent : UNKNOWN_INO;
	return dir_add(d, "..", &a, DOTS, false);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct dir_fill d = {.req = req, .size = size, .plus = plus};
	uint64_t from = (uint64_t)off;
	int err = 0;
	d.buf = malloc(size ? size : 1);
	if (!d.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (from < DOTS && !dir_dots(&d, ino, from)) {
		from = UINT64_MAX; /* full: the tree's entries come with the next request */
	}
	if (from != UINT64_MAX) {
		from = from < DOTS ? 0 : from - DOTS;
		err = zr_tree_readdir(req_fs(req)->tree, (struct zr_handle *)(uintptr_t)fi->fh, from,
				      plus ? ZR_TREE_READDIR_PLUS : ZR_TREE_READDIR_NAMES, dir_fill, &d);
	}
	if (err < 0) {
		fuse_reply_err(req, -err);
	} else {
		fuse_reply_buf(req, d.buf, d.pos);
	}
	free(d.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	op_release(req, ino, fi);
}

static void op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	(void)ino;
	fuse_reply_poll(req, zr_tree_poll(req_fs(req)->tree, (struct zr_handle *)(uintptr_t)fi->fh, ph));
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.create = op_create,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.rename = op_rename,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.poll = op_poll,
};

/* ---- the tree's requests to us ---- */

static void tree_inval_entry(uint64_t parent, const char *name, void *data)
{
	struct zr_fs *fs = data;
	if (fs->notifier) {
		zr_notifier_inval_entry(fs->notifier, parent, name);
	}
}

static void tree_poll_notify(void *ph, void *data)
{
	(void)data;
	/* Safe from the loop: it only writes a notification, it takes no kernel lock we hold. */
	(void)fuse_lowlevel_notify_poll(ph);
	fuse_pollhandle_destroy(ph);
}

static void tree_poll_destroy(void *ph, void *data)
{
	(void)data;
	fuse_pollhandle_destroy(ph);
}

/* Attribute-only invalidation: safe from the loop (DESIGN §1 "FUSE rules"). */
static void tree_inval_attr(uint64_t ino, void *data)
{
	struct zr_fs *fs = data;
	if (fs->se && fs->mounted) {
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	}
}

const struct zr_tree_ops zr_fs_tree_ops = {
	.inval_entry = tree_inval_entry,
	.inval_attr = tree_inval_attr,
	.poll_notify = tree_poll_notify,
	.poll_destroy = tree_poll_destroy,
};

/* ---- session on the loop ---- */

static void fs_gone(struct zr_fs *fs)
{
	if (fs->gone) {
		return;
	}
	fs->gone = true;
	if (fs->polling) {
		(void)uv_poll_stop(&fs->poll);
	}
	if (fs->on_gone) {
		fs->on_gone(fs->data);
	}
}

static void on_readable(uv_poll_t *p, int status, int events)
{
	struct zr_fs *fs = p->data;
	(void)events;
	if (status < 0) {
		log_error("FUSE device poll failed: %s", uv_strerror(status));
		fs_gone(fs);
		return;
	}
	for (int i = 0; i < BATCH; i++) {
		int res = fuse_session_receive_buf(fs->se, &fs->buf);
		if (res == -EAGAIN || res == -EINTR) {
			break;
		}
		if (res <= 0) {
			if (res < 0) {
				log_error("Failed to read from the FUSE device: %s", strerror(-res));
			} else {
				log_info("%s was unmounted", fs->mount);
			}
			fs_gone(fs);
			return;
		}
		fuse_session_process_buf(fs->se, &fs->buf);
		if (fs->cfg.requests) {
			(*fs->cfg.requests)++;
		}
		answer_interrupted(fs);
		if (fuse_session_exited(fs->se)) {
			fs_gone(fs);
			return;
		}
	}
}

int zr_fs_create(uv_loop_t *loop, const struct zr_fs_config *cfg, struct zr_fs **ret)
{
	struct zr_fs *fs = calloc(1, sizeof(*fs));
	if (!fs || !(fs->mount = strdup(cfg->mount))) {
		free(fs);
		return -ENOMEM;
	}
	fs->loop = loop;
	fs->cfg = *cfg;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->cfg.mount = fs->mount;
	if (zr_temps_create(loop, cfg->data_max ? cfg->data_max : TEMP_MAX_DEFAULT, &fs->temps) < 0) {
		free(fs->mount);
		free(fs);
		return -ENOMEM;
	}
	zr_list_init(&fs->interrupted);
	*ret = fs;
	return 0;
}

int zr_fs_start(struct zr_fs *fs, struct zr_tree *tree, void (*on_gone)(void *data), void *data)
{
	char opts[256];
	snprintf(opts, sizeof(opts), "-ofsname=zrobot,subtype=zrobot,default_permissions%s%s",
		 fs->cfg.allow_other ? ",allow_other" : "", fs->cfg.auto_unmount ? ",auto_unmount" : "");
	char *argv[] = {"zrobot", opts, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(2, argv);
	int err;
	fs->tree = tree;
	fs->on_gone = on_gone;
	fs->data = data;
	fs->se = fuse_session_new(&args, &ops, sizeof(ops), fs);
	fuse_opt_free_args(&args);
	if (!fs->se) {
		return -EIO;
	}
	if (fuse_session_mount(fs->se, fs->mount) != 0) {
		return -EIO;
	}
	fs->mounted = true;
	int fd = fuse_session_fd(fs->se);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		return -errno;
	}
	err = zr_notifier_start(fs->se, &fs->notifier);
	if (err < 0) {
		return err;
	}
	err = uv_poll_init(fs->loop, &fs->poll, fd);
	if (err < 0) {
		return err;
	}
	fs->polling = true;
	fs->poll.data = fs;
	return uv_poll_start(&fs->poll, UV_READABLE, on_readable);
}

static void on_poll_closed(uv_handle_t *h)
{
	free(h->data);
}

void zr_fs_destroy(struct zr_fs *fs)
{
	if (!fs) {
		return;
	}
	if (fs->polling) {
		(void)uv_poll_stop(&fs->poll);
	}
	/* Unmounting closes the device, which aborts whatever the kernel still waits for, so a
	 * notification stuck on a kernel lock returns and the notifier can be joined. */
	if (fs->se && fs->mounted) {
		fuse_session_unmount(fs->se);
	}
	zr_notifier_stop(fs->notifier);
	fs->notifier = NULL;
	if (fs->se) {
		fuse_session_destroy(fs->se);
	}
	free(fs->buf.mem);
	free(fs->mount);
	zr_temps_destroy(fs->temps);
	if (fs->polling) {
		fs->poll.data = fs;
		uv_close((uv_handle_t *)&fs->poll, on_poll_closed);
	} else {
		free(fs);
	}
}
