/* Shared by the files of the local provider: tree-local.c (nodes, lookup, listings, open,
 * reads, poll), tree-kinds.c (one descriptor per kind of node) and tree-write.c (writes).
 *
 * A node stands for one object of the model by name (its kind, and a serial that tells a new
 * service or task from an old namesake); it is resolved again at every operation, so a node
 * whose object is gone answers ENOENT instead of pointing at freed memory. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "journal.h"
#include "tree-provider.h"
#include "util/buf.h"
#include "util/list.h"
#include "util/map.h"
#include "waitq.h"

struct zr_local;
struct node;
struct zr_names;
struct handle;
struct tree_op;
struct zr_local_bp;

/* What a node resolves to; each field is borrowed from the model for one operation. */
struct ctx {
	struct zr_robot_template *rt;
	struct zr_service *svc;
	struct zr_task *task;
	const struct zr_action_def *action;
	struct zr_repo *repo;
	const char *role; /* under producers/<role>/ (a list role): its name */
};

enum {
	KIND_BLOCKING = 1 << 0, /* reads may wait (a task's result, a running task's log) */
	KIND_RESULT = 1 << 1,   /* reads deliver the result of the handle's task (h->task_id) */
	KIND_IN_TASK = 1 << 2,  /* under tasks/<id>/: resolved through the task */
	KIND_ACTION = 1 << 3,   /* named after one of the service's actions */
	KIND_BLUEPRINT = 1 << 4, /* @robot/blueprint: reads deliver the outcome (tree-blueprint.c) */
};

/* Where a node's mtime comes from (zr_kind__mtime). */
enum kind_time {
	TIME_START,     /* the robot's start: never changes */
	TIME_NOW,       /* made at each read (@robot/info, metrics) */
	TIME_ROBOT,     /* the robot's last change (a template loaded) */
	TIME_TEMPLATE,  /* the template's last change (a service made or deleted) */
	TIME_CREATED,   /* the service's creation: never changes */
	TIME_TASKS,     /* the service's: a task queued, started or ended */
	TIME_STATE,
	TIME_DATA,
	TIME_LASTERROR,
	TIME_TASK,      /* tasks/<id>/: the task's last change */
	TIME_ACTION,    /* the newest task of the action: made */
	TIME_RESULT,    /* the newest task of the action: ended */
	TIME_APPLIED,   /* @robot/blueprints/<name>/: when that blueprint was applied */
};

/* One write(2) to a writable file, answered through zr_local__op_done. */
typedef void zr_kind_write_fn(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			      uint64_t off);

/* One kind of node: a new file is one row (a struct kind) and its functions. Optional
 * members are NULL. */
struct kind {
	const char *name; /* in a directory of fixed entries; NULL for entries named by the model */
	mode_t mode;
	unsigned flags;
	/* Directories: fixed entries first (NULL-terminated), then the model's. */
	const struct kind *const *fixed;
	/* The model's entry name in c's object: 0 with its kind and serial (and c filled further),
	 * or -ENOENT. */
	int (*child)(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
		     uint64_t *ret_serial);
	/* Adds the model's entry names to a listing (tree-local.c zr_local__add_name). */
	int (*list)(struct zr_local *t, const struct ctx *c, struct zr_names *l);
	/* Files whose content is made at open and at a read from 0 (like sysfs). */
	void (*content)(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b);
	/* Files that show a journal (logs, events): borrowed from the model. */
	struct zr_journal *(*journal)(struct zr_local *t, const struct ctx *c);
	/* The task a result-like file shows when opened (none: NULL). */
	struct zr_task *(*task)(const struct ctx *c);
	/* Where its mtime comes from (a journal's own time first). */
	enum kind_time time;
	/* Writable files: one write(2), answered through zr_local__op_done. O_TRUNC is accepted
	 * on them (echo). */
	zr_kind_write_fn *write;
	/* Symbolic links: the target, malloc'd. */
	int (*readlink)(struct zr_local *t, const struct node *n, const struct ctx *c, char **ret);
};

/* A directory's names, in listing order: a snapshot shared by the handles that read it, and
 * kept by a watched directory's node (zr_kind__attrs) while its time says it is current. */
struct zr_names {
	unsigned refs;
	long long version; /* the directory's mtime when listed (watched directories) */
	size_t n, cap;
	size_t n_fixed; /* the kind's fixed entries, first */
	char **v;
};

struct node {
	struct zr_tree_node base; /* ino, nlookup: the tree's */
	struct node *parent;
	char *name;
	char *key; /* "<parent ino>/<name>" in by_name, NULL once detached */
	const struct kind *kind;
	uint64_t serial; /* service serial or task id: tells a new object from an old namesake */
	unsigned nopen;
	unsigned nchildren;
	long long shown_ns; /* ZR_KIND_ATTRS_WATCHED: the mtime the kernel was last given */
	struct zr_names *listing; /* ZR_KIND_ATTRS_WATCHED: the last listing, or NULL */
};

struct handle {
	struct zr_handle base;
	struct zr_local *tree;
	struct node *node;
	struct zr_service *svc; /* ref'd: the service of a file under one, even once deleted */
	struct zr_actor who;    /* who opened it: its writes are this actor's requests */
	struct zr_list link;    /* in tree->handles */
	struct zr_buf content;  /* snapshot of a small file, made at open and at a read of 0 */
	struct zr_names *names; /* directory snapshot; a reference */
	bool fresh;             /* names listed by opendir, not read yet */
	uint64_t task_id;       /* the task a result read waits for, 0 = none */
	/* The file offset where reading the result of the last write began: after write(2) the
	 * position is past the payload, and the result starts there, not at 0. */
	uint64_t result_base;
	bool result_base_set;
	struct zr_journal_cursor cursor;
	uint64_t pos;          /* where the last read ended, for poll */
	struct zr_buf wbuf;    /* data body written so far */
	bool wpending;         /* wbuf not applied yet */
	void *ph;
	struct zr_waiter poll_waiter;
	unsigned inflight; /* requests waiting for a commit */
	bool released;
	struct zr_local_bp *bp; /* @robot/blueprint: the text written and its outcome, or NULL */
};

struct zr_local {
	struct zr_tree *tree;
	struct zr_robot *robot;
	struct zr_map by_name; /* key → node */
	struct node root_node; /* the tree's root */
	struct node *root;
	struct zr_list handles;
	struct zr_list parked;
	size_t n_parked;
	struct zr_buf scratch; /* sizes of small files */
	char *read_mem;        /* journal reads are copied here for the reply */
	size_t read_cap;
	struct zr_waiter events_waiter; /* on the robot's events: watched directories' times */
};

/* A request waiting for its commit. */
struct tree_op {
	struct zr_local *tree;
	struct handle *h;
	uint64_t parent;
	char *name;
	ssize_t len;
	zr_tree_done_cb cb;
	void *data;
};

/* tree-kinds.c */
extern const struct kind zr_kind_root;
extern const struct kind zr_kind_template;
extern const struct kind zr_kind_remotes;
int zr_kind__child(struct zr_local *t, const struct kind *dir, struct ctx *c, const char *name,
		   const struct kind **ret, uint64_t *ret_serial);
int zr_kind__list(struct zr_local *t, const struct kind *dir, const struct ctx *c, struct zr_names *l);
long long zr_kind__mtime(struct zr_local *t, const struct node *n, const struct ctx *c);
/* Whether the kernel may cache a kind's attributes (tree.h ZR_ATTR_STABLE): files' sizes and
 * times change with the model, and so do some directories' times. */
enum zr_kind_attrs {
	ZR_KIND_ATTRS_CHANGE,  /* not cached */
	ZR_KIND_ATTRS_FIXED,   /* the same for the node's whole life; its object leaves through node_gone */
	ZR_KIND_ATTRS_WATCHED, /* the robot's or a template's time: invalidated on its change */
};
enum zr_kind_attrs zr_kind__attrs(const struct kind *k);
/* The mode a node of kind k shows: its row's, but action files are 0600, or 0660 with
 * --group-actions (the robot's config). */
mode_t zr_kind__mode(const struct zr_local *t, const struct kind *k);
/* The service's consumer "<template>.<service>", or NULL. */
struct zr_service *zr_kind__consumer(struct zr_local *t, const struct zr_service *p, const char *name);

/* tree-local.c */
int zr_local__add_name(struct zr_names *l, const char *name);
int zr_local__handle_ctx(struct zr_local *t, struct handle *h, struct ctx *c);
void zr_local__handle_free(struct zr_local *t, struct handle *h);
/* The path of a node from the root, without the leading '/'. */
void zr_local__path(const struct node *n, struct zr_buf *b);

/* tree-write.c */
struct tree_op *zr_local__op_new(struct zr_local *t, struct handle *h, zr_tree_done_cb cb, void *data);
/* zr_local__op_new unless err (< 0) or out of memory: then cb has the errno and it is NULL. */
struct tree_op *zr_local__op_start(struct zr_local *t, struct handle *h, int err, zr_tree_done_cb cb,
				   void *data);
/* Answers and frees op; a handle released meanwhile goes with its last request. */
void zr_local__op_done(struct tree_op *op, ssize_t result, const struct zr_tree_attr *attr);
/* A refused write: the reason goes to the service's lasterror (or the log), the errno back. */
ssize_t zr_local__refuse(struct tree_op *op, const struct ctx *c, int err, const char *why);
void zr_local__write(struct handle *h, const char *buf, size_t len, uint64_t off,
		     zr_tree_done_cb cb, void *data);
void zr_local__flush(struct handle *h, zr_tree_done_cb cb, void *data);
/* The writers of the writable kinds. */
zr_kind_write_fn zr_local__write_action, zr_local__write_data, zr_local__write_repos,
	zr_local__write_remotes, zr_local__write_ctl, zr_local__write_upgrade, zr_local__write_cancel,
	zr_local__write_want, zr_local__write_signal, zr_local__write_webhooks;

/* tree-blueprint.c: @robot/blueprint. Writes gather the text (E2BIG past ZR_BP_MAX_BYTES,
 * EBUSY while it is applied). A read applies it (once) and answers the outcome's text from
 * where reading began: 0 with *ret_buf and *ret_len, 0 with *ret_wait (park there until it is
 * applied; nothing written: 0 bytes), or the refusal's errno once the text was read. A flush
 * applies text no read applied: false when h has no blueprint (not answered), else true and cb
 * answered once applied, with the refusal's errno. Detach: the handle is being freed. */
zr_kind_write_fn zr_local__write_blueprint;
int zr_local__bp_read(struct handle *h, uint64_t off, size_t size, const char **ret_buf,
		      size_t *ret_len, struct zr_waitq **ret_wait);
bool zr_local__bp_flush(struct handle *h, zr_tree_done_cb cb, void *data);
/* Where a poll of h waits: the outcome being made, or NULL (readable now). */
struct zr_waitq *zr_local__bp_waiting(const struct handle *h);
void zr_local__bp_detach(struct handle *h);

/* A read waiting for a task or a journal (tree-read.c). */
struct parked {
	struct zr_tree_req base;
	struct zr_waiter w;
	struct zr_local *tree;
	struct handle *h;
	uint64_t off;
	size_t size;
	zr_tree_read_cb cb;
	void *data;
	struct zr_list link; /* in tree->parked */
};

static inline struct handle *zr_local__handle_of(struct zr_handle *h)
{
	return container_of(h, struct handle, base);
}

/* The content of a file node, generated into b (reset first). */
static inline void zr_local__content(struct zr_local *t, const struct node *n, const struct ctx *c,
				     struct zr_buf *b)
{
	zr_buf_reset(b);
	n->kind->content(t, n, c, b);
}

/* The journal a log or events node shows, or NULL. */
static inline struct zr_journal *zr_local__journal(struct zr_local *t, const struct node *n,
						   const struct ctx *c)
{
	return n->kind->journal ? n->kind->journal(t, c) : NULL;
}

/* Reads (tree-read.c). */
void zr_local__read(struct zr_handle *zh, uint64_t off, size_t size, zr_tree_read_cb cb, void *data,
		    struct zr_tree_req **ret_req);
void zr_local__read_cancel(struct zr_tree_req *req);
/* Answers a parked read (and frees it). */
void zr_local__req_finish(struct parked *q, int err, const char *buf, size_t len);
unsigned zr_local__poll(struct zr_handle *zh, void *ph);
/* A handle's poll waiter woke: the front end is told its poll handle is ready. */
void zr_local__on_poll_wake(struct zr_waiter *w);
