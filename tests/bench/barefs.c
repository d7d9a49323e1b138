/* barefs: the benchmarks' peer, a minimal low-level libfuse filesystem on a libuv loop that
 * does no work of its own, mounted with the robot's options, so the robot's figures can be read
 * as "how far from bare FUSE".
 *
 *     barefs MOUNTPOINT [N]
 *
 * The tree has the robot's depth and the shapes the benchmarks use (N services, default 10):
 *
 *     b/s000000/state   a small read-only file (the robot's <template>/<service>/state)
 *     b/s000000/wait    a read parks until something is written to /go (results/<action>)
 *     b/s000000/sink    writes are acknowledged at once and stored nowhere (actions/<action>)
 *     go                a write answers every parked read ("released\n")
 *
 * The loop is the robot's (DESIGN §1 "FUSE rules"): the /dev/fuse fd non-blocking under a
 * uv_poll, up to BATCH receive_buf/process_buf per wake-up, no splice, parked reads answer
 * EINTR when interrupted. Mount options as fs/fs.c: default_permissions, auto_unmount,
 * entry timeout 1 s, readdirplus, direct_io on every file, noflush on read-only ones, atomic
 * O_TRUNC. One difference, what the issue asks the robot to reach: directories never change
 * here, so their attributes are cached for 1 s; files' attributes are not cached (as the
 * robot's). SIGINT/SIGTERM or an unmount ends it. */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#define BATCH 16
#define TIMEOUT 1.0
#define INO_ROOT 1
#define INO_DIR 2
#define INO_GO 3
/* Service i is inode FIRST + 4 i; its files follow it. */
#define INO_FIRST 16
enum { F_DIR, F_STATE, F_WAIT, F_SINK, N_KINDS };

static const char *const file_names[N_KINDS] = {NULL, "state", "wait", "sink"};
static const char state_text[] = "actions noop ok\nhealth disk ok\n";
static const char released[] = "released\n";

/* A parked read, in the parked list until answered or interrupted. */
struct park {
	fuse_req_t req;
	struct park *prev, *next;
	bool interrupted;
};

struct barefs {
	uv_loop_t *loop;
	struct fuse_session *se;
	struct fuse_buf buf;
	uv_poll_t poll;
	uv_signal_t sigint, sigterm;
	uint64_t n;
	struct park parked; /* list head */
	struct park *interrupted; /* singly linked through next, answered after each request */
};

static void list_add(struct park *head, struct park *p)
{
	p->next = head->next;
	p->prev = head;
	head->next->prev = p;
	head->next = p;
}

static void list_del(struct park *p)
{
	p->prev->next = p->next;
	p->next->prev = p->prev;
}

/* Kind and service of an inode: false when it does not exist. */
static bool decode(const struct barefs *b, fuse_ino_t ino, int *ret_kind, uint64_t *ret_svc)
{
	if (ino < INO_FIRST || (ino - INO_FIRST) / N_KINDS >= b->n) {
		return false;
	}
	*ret_kind = (int)((ino - INO_FIRST) % N_KINDS);
	*ret_svc = (ino - INO_FIRST) / N_KINDS;
	return true;
}

static int attr_of(const struct barefs *b, fuse_ino_t ino, struct stat *st, double *ret_timeout)
{
	int kind = F_DIR;
	uint64_t svc;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	*ret_timeout = TIMEOUT;
	if (ino == INO_ROOT || ino == INO_DIR) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	if (ino != INO_GO && !decode(b, ino, &kind, &svc)) {
		return -ENOENT;
	}
	if (kind == F_DIR && ino != INO_GO) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	/* Files: the robot's never cache attributes (st_size changes), nor do ours. */
	*ret_timeout = 0;
	st->st_nlink = 1;
	st->st_mode = S_IFREG | (kind == F_STATE ? 0444 : kind == F_WAIT ? 0444 : 0644);
	st->st_size = kind == F_STATE ? (off_t)sizeof(state_text) - 1 : 0;
	return 0;
}

static struct barefs *req_fs(fuse_req_t req) { return fuse_req_userdata(req); }

static void op_init(void *data, struct fuse_conn_info *conn)
{
	(void)data;
	conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) {
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	}
}

static void reply_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = {.ino = ino, .generation = 1, .entry_timeout = TIMEOUT};
	if (attr_of(req_fs(req), ino, &e.attr, &e.attr_timeout) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_reply_entry(req, &e);
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct barefs *b = req_fs(req);
	int kind;
	uint64_t svc;
	if (parent == INO_ROOT) {
		if (strcmp(name, "b") == 0) {
			reply_entry(req, INO_DIR);
		} else if (strcmp(name, "go") == 0) {
			reply_entry(req, INO_GO);
		} else {
			fuse_reply_err(req, ENOENT);
		}
		return;
	}
	if (parent == INO_DIR) {
		char *end;
		unsigned long long i = name[0] == 's' ? strtoull(name + 1, &end, 10) : b->n;
		if (i >= b->n || *end || strlen(name) != 7) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		reply_entry(req, INO_FIRST + i * N_KINDS);
		return;
	}
	if (!decode(b, parent, &kind, &svc) || kind != F_DIR) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	for (int k = F_STATE; k < N_KINDS; k++) {
		if (strcmp(name, file_names[k]) == 0) {
			reply_entry(req, parent + (fuse_ino_t)k);
			return;
		}
	}
	fuse_reply_err(req, ENOENT);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	double timeout;
	(void)fi;
	if (attr_of(req_fs(req), ino, &st, &timeout) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_reply_attr(req, &st, timeout);
}

/* Truncation of sink or go (without atomic O_TRUNC): nothing is stored, nothing changes. */
static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	(void)attr, (void)to_set;
	op_getattr(req, ino, fi);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int kind = F_SINK;
	uint64_t svc;
	if (ino != INO_GO && !decode(req_fs(req), ino, &kind, &svc)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fi->noflush = kind == F_STATE || kind == F_WAIT;
	fi->fh = (uint64_t)kind;
	fuse_reply_open(req, fi);
}

/* Called by libfuse with the request's lock held: the answer waits for the end of the request
 * being processed (as the robot's answer_interrupted does). */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct park *p = data;
	struct barefs *b = req_fs(req);
	if (p->interrupted) {
		return;
	}
	p->interrupted = true;
	list_del(p);
	p->next = b->interrupted;
	b->interrupted = p;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct barefs *b = req_fs(req);
	(void)ino;
	if (fi->fh == F_STATE) {
		size_t len = sizeof(state_text) - 1;
		size_t o = off < 0 || (size_t)off > len ? len : (size_t)off;
		fuse_reply_buf(req, state_text + o, size < len - o ? size : len - o);
		return;
	}
	if (fi->fh != F_WAIT || off > 0) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	struct park *p = calloc(1, sizeof(*p));
	if (!p) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	p->req = req;
	list_add(&b->parked, p);
	fuse_req_interrupt_func(req, on_interrupt, p);
}

static void release_parked(struct barefs *b)
{
	while (b->parked.next != &b->parked) {
		struct park *p = b->parked.next;
		list_del(p);
		fuse_reply_buf(p->req, released, sizeof(released) - 1);
		free(p);
	}
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	(void)buf, (void)off;
	if (fi->fh != F_SINK) {
		fuse_reply_err(req, EBADF);
		return;
	}
	fuse_reply_write(req, size);
	if (ino == INO_GO) {
		release_parked(req_fs(req));
	}
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino, (void)fi;
	fuse_reply_err(req, 0);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	int kind = F_DIR;
	uint64_t svc;
	if (ino != INO_ROOT && ino != INO_DIR && (!decode(req_fs(req), ino, &kind, &svc) || kind != F_DIR)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fuse_reply_open(req, fi);
}

/* Entry i of directory ino ("." and ".." first), or false past the end. */
static bool dir_entry(const struct barefs *b, fuse_ino_t ino, uint64_t i, char name[32],
		      fuse_ino_t *ret_ino)
{
	if (i < 2) {
		snprintf(name, 32, "%s", i ? ".." : ".");
		*ret_ino = i ? INO_ROOT : ino;
		return true;
	}
	i -= 2;
	if (ino == INO_ROOT) {
		if (i >= 2) {
			return false;
		}
		snprintf(name, 32, "%s", i ? "go" : "b");
		*ret_ino = i ? INO_GO : INO_DIR;
		return true;
	}
	if (ino == INO_DIR) {
		if (i >= b->n) {
			return false;
		}
		snprintf(name, 32, "s%06llu", (unsigned long long)i);
		*ret_ino = INO_FIRST + i * N_KINDS;
		return true;
	}
	if (i >= N_KINDS - 1) {
		return false;
	}
	snprintf(name, 32, "%s", file_names[i + 1]);
	*ret_ino = ino + i + 1;
	return true;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct barefs *b = req_fs(req);
	char *buf = malloc(size ? size : 1);
	size_t pos = 0;
	char name[32];
	fuse_ino_t child;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (uint64_t i = off < 0 ? 0 : (uint64_t)off; dir_entry(b, ino, i, name, &child); i++) {
		struct fuse_entry_param e = {.ino = child, .generation = 1, .entry_timeout = TIMEOUT};
		size_t n;
		(void)attr_of(b, child, &e.attr, &e.attr_timeout);
		if (plus) {
			n = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, (off_t)(i + 1));
		} else {
			n = fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, (off_t)(i + 1));
		}
		if (n > size - pos) {
			break;
		}
		pos += n;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			   struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	/* Inodes are computed, never allocated: nothing to forget. */
	(void)ino, (void)nlookup;
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	(void)count, (void)forgets;
	fuse_reply_none(req);
}

static const struct fuse_lowlevel_ops ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_release,
};

static void stop(struct barefs *b)
{
	uv_poll_stop(&b->poll);
	uv_signal_stop(&b->sigint);
	uv_signal_stop(&b->sigterm);
	uv_stop(b->loop);
}

static void answer_interrupted(struct barefs *b)
{
	while (b->interrupted) {
		struct park *p = b->interrupted;
		b->interrupted = p->next;
		fuse_reply_err(p->req, EINTR);
		free(p);
	}
}

static void on_readable(uv_poll_t *h, int status, int events)
{
	struct barefs *b = h->data;
	(void)events;
	if (status < 0) {
		stop(b);
		return;
	}
	for (int i = 0; i < BATCH; i++) {
		int res = fuse_session_receive_buf(b->se, &b->buf);
		if (res == -EAGAIN || res == -EINTR) {
			break;
		}
		if (res <= 0) {
			stop(b);
			return;
		}
		fuse_session_process_buf(b->se, &b->buf);
		answer_interrupted(b);
		if (fuse_session_exited(b->se)) {
			stop(b);
			return;
		}
	}
}

static void on_signal(uv_signal_t *h, int signum)
{
	(void)signum;
	stop(h->data);
}

int main(int argc, char **argv)
{
	static struct barefs b;
	char *fuse_argv[] = {argv[0],
			     "-ofsname=barefs,subtype=barefs,default_permissions,auto_unmount", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(2, fuse_argv);
	int ret = 1;
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: barefs MOUNTPOINT [SERVICES]\n");
		return 2;
	}
	b.n = argc == 3 ? strtoull(argv[2], NULL, 10) : 10;
	if (b.n > 999999) {
		fprintf(stderr, "barefs: at most 999999 services\n");
		return 2;
	}
	b.parked.next = b.parked.prev = &b.parked;
	b.loop = uv_default_loop();
	b.se = fuse_session_new(&args, &ops, sizeof(ops), &b);
	fuse_opt_free_args(&args);
	if (!b.se) {
		return 1;
	}
	if (fuse_session_mount(b.se, argv[1]) != 0) {
		goto out_destroy;
	}
	int fd = fuse_session_fd(b.se);
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || uv_poll_init(b.loop, &b.poll, fd) < 0 ||
	    uv_signal_init(b.loop, &b.sigint) < 0 || uv_signal_init(b.loop, &b.sigterm) < 0) {
		goto out_unmount;
	}
	b.poll.data = b.sigint.data = b.sigterm.data = &b;
	if (uv_poll_start(&b.poll, UV_READABLE, on_readable) < 0 ||
	    uv_signal_start(&b.sigint, on_signal, SIGINT) < 0 ||
	    uv_signal_start(&b.sigterm, on_signal, SIGTERM) < 0) {
		goto out_unmount;
	}
	ret = uv_run(b.loop, UV_RUN_DEFAULT) < 0;
out_unmount:
	fuse_session_unmount(b.se);
out_destroy:
	/* Parked requests die with the session; their memory goes with the process. */
	fuse_session_destroy(b.se);
	free(b.buf.mem);
	return ret;
}
