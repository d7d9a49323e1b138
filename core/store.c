/* The store: SQLite behind one writer thread, with group commit and retried internal changes. */
#include "store.h"
#include "store-internal.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/list.h"
#include "util/log.h"

/* A group that failed is not retried sooner: a full disk must not spin the writer. */
#define RETRY_DELAY_MS 1000

/* Checkpoints (copying the WAL into the database file, two fsyncs and many page writes) run
 * on their own thread and connection, beside the commits, once the WAL has CKPT_PAGES pages.
 * A busy store may never leave the gap between two commits in which the WAL can start over
 * (every page copied, and no transaction began since): at CKPT_MAX_PAGES the writer copies
 * what is left itself, once the commit that got there has been answered. */
#define CKPT_PAGES 1000
#define CKPT_MAX_PAGES (4 * CKPT_PAGES)
/* The WAL file is cut back to this size when it starts over after a large group: above its
 * usual greatest size (CKPT_MAX_PAGES pages of 4 KiB, and what commits meanwhile), so that a
 * WAL reused in place keeps its size and a commit's fdatasync has no size to write. */
#define WAL_SIZE_LIMIT (32 * 1024 * 1024)

enum op_kind {
	OP_SERVICE_INSERT,
	OP_SERVICE_DATA,
	OP_SERVICE_STATE,
	OP_SERVICE_UID,
	OP_SERVICE_DELETING,
	OP_SERVICE_DELETE,
	OP_TASK_PUT,
	OP_TASK_DELETE,
	OP_TASKS_DELETE_SERVICE,
	OP_TASK_ID,
	OP_REPO_PUT,
	OP_REMOTE_PUT,
	OP_REMOTE_DELETE,
	OP_RCONSUMER_PUT,
	OP_RCONSUMER_DELETE,
	OP_RCONSUMERS_DELETE_SERVICE,
	OP_SERVICE_UPGRADE_TO,
	OP_UNLINK_PUT,
	OP_UNLINK_DELETE,
	OP_PROCESS_PUT,
	OP_PROCESS_DELETE_SERVICE,
	OP_SERVICE_PARENT,
	OP_SERVICE_BLUEPRINT,
	OP_BLUEPRINT_PUT,
	OP_BLUEPRINT_DELETE,
	OP_WEBHOOK_PUT,
	OP_WEBHOOK_ID,
	OP_WEBHOOK_DELETE,
	OP_DELIVERIES_DELETE_HOOK,
	OP_DELIVERY_PUT,
	OP_WEBHOOK_SEQ,
	OP_DELIVERY_DELETE,
	N_OPS,
};

#define OP_TEXTS 10
#define OP_INTS 10

struct op {
	struct zr_list link;
	enum op_kind kind;
	bool internal;
	char *text[OP_TEXTS]; /* NULL binds SQL NULL */
	size_t blob_len;      /* the length of the text its descriptor calls a blob */
	int64_t num[OP_INTS];
};

struct sync {
	struct zr_list link;
	void (*cb)(int err, void *data);
	void *data;
};

struct group {
	struct zr_list ops;
	struct zr_list syncs;
	int err;
};

struct zr_store {
	uv_loop_t *loop;
	sqlite3 *db;
	sqlite3_stmt *stmt[N_OPS];
	sqlite3_stmt *begin, *commit, *rollback;
	char *path;

	/* Loop side. */
	struct group *pending; /* collecting */
	uv_idle_t flush_idle;
	uv_async_t done_async;
	uv_timer_t retry_timer;
	bool busy;             /* a group is with the writer */
	bool backoff;
	uint64_t commits, changes;

	/* Shared with the writer and the checkpointer, under lock. */
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct group *todo;
	struct group *done;
	bool stop;
	int closing; /* handles still closing */

	/* The checkpointer: its own connection, woken by ckpt_cond once ckpt_wanted is set. */
	sqlite3 *ckpt_db;
	pthread_t ckpt_thread;
	bool ckpt_started;
	pthread_cond_t ckpt_cond;
	bool ckpt_wanted;
	/* The writer's own: the WAL's size after the last commit, and the size at which the
	 * checkpointer is woken next. */
	int wal_pages, ckpt_at;
};

/* One row per kind of change: its statement, how many of its parameters are texts (they
 * come first, integers follow), and which text, if any, is a blob (1-based; 0 for none). */
struct op_desc {
	const char *sql;
	int texts;
	int blob;
};

static const struct op_desc op_descs[N_OPS] = {
	[OP_SERVICE_INSERT] = {"INSERT OR REPLACE INTO services (template, name, guid, uid, data, state,"
			       " secret, creator, parent, blueprint, created, deleting)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", 10},
	[OP_SERVICE_DATA] = {"UPDATE services SET data = ?2 WHERE guid = ?1", 2},
	[OP_SERVICE_STATE] = {"UPDATE services SET state = ?2 WHERE guid = ?1", 2},
	[OP_SERVICE_UID] = {"UPDATE services SET uid = ?2 WHERE guid = ?1", 2},
	[OP_SERVICE_DELETING] = {"UPDATE services SET deleting = 1 WHERE guid = ?1", 1},
	[OP_SERVICE_DELETE] = {"DELETE FROM services WHERE guid = ?1", 1},
	[OP_SERVICE_UPGRADE_TO] = {"UPDATE services SET upgrade_to = ?2 WHERE guid = ?1", 2},
	[OP_UNLINK_PUT] = {"INSERT OR IGNORE INTO remote_unlinks (remote, producer, consumer)"
			   " VALUES (?1, ?2, ?3)", 3},
	[OP_UNLINK_DELETE] = {"DELETE FROM remote_unlinks WHERE remote = ?1 AND producer = ?2"
			      " AND consumer = ?3", 3},
	[OP_TASK_PUT] = {"INSERT OR REPLACE INTO tasks (service, action, args, state, error, result, id,"
			 " lane, created, started, finished, err, attempt, progress_done, progress_total)"
			 " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
			 6, .blob = 6},
	[OP_TASK_DELETE] = {"DELETE FROM tasks WHERE id = ?1", 0},
	[OP_TASKS_DELETE_SERVICE] = {"DELETE FROM tasks WHERE service = ?1", 1},
	/* Ids are never reused, even once their tasks are gone with their service. */
	[OP_TASK_ID] = {"INSERT INTO meta VALUES ('task_id', ?1) ON CONFLICT (key) DO UPDATE"
			" SET value = MAX(CAST(value AS INTEGER), ?1)", 0},
	[OP_REPO_PUT] = {"INSERT OR REPLACE INTO repos (id, url, ref, commit_id, pos)"
			 " VALUES (?1, ?2, ?3, ?4, ?5)", 4},
	[OP_REMOTE_PUT] = {"INSERT OR REPLACE INTO remotes (name, url, token_file, pos)"
			   " VALUES (?1, ?2, ?3, ?4)", 3},
	[OP_REMOTE_DELETE] = {"DELETE FROM remotes WHERE name = ?1", 1},
	[OP_RCONSUMER_PUT] = {"INSERT OR IGNORE INTO remote_consumers (producer, robot, consumer)"
			      " VALUES (?1, ?2, ?3)", 3},
	[OP_RCONSUMER_DELETE] = {"DELETE FROM remote_consumers WHERE producer = ?1 AND robot = ?2"
				 " AND consumer = ?3", 3},
	[OP_RCONSUMERS_DELETE_SERVICE] = {"DELETE FROM remote_consumers WHERE producer = ?1", 1},
	[OP_PROCESS_PUT] = {"INSERT OR REPLACE INTO processes (service, want, cgroup, pid, start_time,"
			    " failed) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", 3},
	[OP_PROCESS_DELETE_SERVICE] = {"DELETE FROM processes WHERE service = ?1", 1},
	[OP_SERVICE_PARENT] = {"UPDATE services SET parent = ?2 WHERE guid = ?1", 2},
	[OP_SERVICE_BLUEPRINT] = {"UPDATE services SET blueprint = ?2 WHERE guid = ?1", 2},
	[OP_BLUEPRINT_PUT] = {"INSERT OR REPLACE INTO blueprints (name, content, outcome, applied_ns)"
			      " VALUES (?1, ?2, ?3, ?4)", 3, .blob = 2},
	[OP_BLUEPRINT_DELETE] = {"DELETE FROM blueprints WHERE name = ?1", 1},
	[OP_WEBHOOK_PUT] = {"INSERT OR REPLACE INTO webhooks (url, types, secret, id) VALUES (?1, ?2, ?3, ?4)", 3},
	/* Webhook ids are never reused, even once their hooks are gone. */
	[OP_WEBHOOK_ID] = {"INSERT INTO meta VALUES ('webhook_id', ?1) ON CONFLICT (key) DO UPDATE"
			   " SET value = MAX(CAST(value AS INTEGER), ?1)", 0},
	[OP_WEBHOOK_DELETE] = {"DELETE FROM webhooks WHERE id = ?1", 0},
	[OP_DELIVERIES_DELETE_HOOK] = {"DELETE FROM webhook_deliveries WHERE hook = ?1", 0},
	[OP_DELIVERY_PUT] = {"INSERT OR REPLACE INTO webhook_deliveries (type, body, hook, seq)"
			     " VALUES (?1, ?2, ?3, ?4)", 2},
	/* A hook's delivery numbers outlive its deliveries (X-Zrobot-Delivery stays unique). */
	[OP_WEBHOOK_SEQ] = {"UPDATE webhooks SET last_seq = MAX(last_seq, ?2) WHERE id = ?1", 0},
	[OP_DELIVERY_DELETE] = {"DELETE FROM webhook_deliveries WHERE hook = ?1 AND seq = ?2", 0},
};

int zr_store__errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	default:
		return -EIO;
	}
}

int zr_store__each_row(struct zr_store *st, const char *sql,
		       int (*row)(sqlite3_stmt *s, void *ctx), void *ctx)
{
	sqlite3_stmt *s;
	int err = 0;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL);
	if (rc != SQLITE_OK) {
		return zr_store__errno(rc);
	}
	while (err == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		err = row(s, ctx);
	}
	if (err == 0 && rc != SQLITE_DONE) {
		err = zr_store__errno(rc);
	}
	sqlite3_finalize(s);
	return err;
}

/* ---- the writer thread ---- */

static int exec_op(struct zr_store *st, struct op *o)
{
	sqlite3_stmt *s = st->stmt[o->kind];
	int n = sqlite3_bind_parameter_count(s);
	int texts = 0;
	for (int i = 1; i <= n; i++) {
		int rc;
		if (i <= op_descs[o->kind].texts) {
			const char *t = o->text[texts];
			if (!t) {
				rc = sqlite3_bind_null(s, i);
			} else if (i == op_descs[o->kind].blob) {
				rc = sqlite3_bind_blob(s, i, t, (int)o->blob_len, SQLITE_STATIC);
			} else {
				rc = sqlite3_bind_text(s, i, t, -1, SQLITE_STATIC);
			}
			texts++;
		} else {
			rc = sqlite3_bind_int64(s, i, o->num[i - 1 - texts]);
		}
		if (rc != SQLITE_OK) {
			sqlite3_reset(s);
			return zr_store__errno(rc);
		}
	}
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return rc == SQLITE_DONE ? 0 : zr_store__errno(rc);
}

static int run_group(struct zr_store *st, struct group *g)
{
	int rc = sqlite3_step(st->begin);
	sqlite3_reset(st->begin);
	if (rc != SQLITE_DONE) {
		return zr_store__errno(rc);
	}
	int err = 0;
	struct op *o;
	zr_list_for_each(o, &g->ops, link) {
		err = exec_op(st, o);
		if (err < 0) {
			break;
		}
	}
	if (err == 0) {
		rc = sqlite3_step(st->commit);
		sqlite3_reset(st->commit);
		if (rc == SQLITE_DONE) {
			return 0;
		}
		err = zr_store__errno(rc);
	}
	(void)sqlite3_step(st->rollback);
	sqlite3_reset(st->rollback);
	return err ? err : -EIO;
}

/* SQLite calls this on the writer thread after each commit (the write lock released), in place
 * of its own checkpoint at wal_autocheckpoint pages, which would make the group wait for it. */
static int on_wal(void *data, sqlite3 *db, const char *name, int pages)
{
	struct zr_store *st = data;
	(void)db;
	(void)name;
	st->wal_pages = pages;
	if (pages + CKPT_PAGES < st->ckpt_at) {
		st->ckpt_at = CKPT_PAGES; /* the WAL started over */
	}
	/* Once per CKPT_PAGES new pages: each checkpoint costs two fsyncs, which the commits'
	 * own share the disk with. */
	if (pages >= st->ckpt_at) {
		st->ckpt_at = pages + CKPT_PAGES;
		pthread_mutex_lock(&st->lock);
		st->ckpt_wanted = true;
		pthread_cond_signal(&st->ckpt_cond);
		pthread_mutex_unlock(&st->lock);
	}
	return SQLITE_OK;
}

/* Copies the WAL into the database file beside the writer (PASSIVE: it never takes the write
 * lock, so commits go on meanwhile). A checkpoint that fails leaves the WAL as it is, to be
 * copied by the next one; this thread does not log (the log is the loop's). */
static void *checkpointer_main(void *arg)
{
	struct zr_store *st = arg;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (!st->ckpt_wanted && !st->stop) {
			pthread_cond_wait(&st->ckpt_cond, &st->lock);
		}
		if (st->stop) {
			break;
		}
		st->ckpt_wanted = false;
		pthread_mutex_unlock(&st->lock);
		(void)sqlite3_wal_checkpoint_v2(st->ckpt_db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		pthread_mutex_lock(&st->lock);
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

static void *writer_main(void *arg)
{
	struct zr_store *st = arg;
	pthread_mutex_lock(&st->lock);
	for (;;) {
		while (!st->todo && !st->stop) {
			pthread_cond_wait(&st->cond, &st->lock);
		}
		if (!st->todo) {
			break;
		}
		struct group *g = st->todo;
		st->todo = NULL;
		pthread_mutex_unlock(&st->lock);
		g->err = run_group(st, g);
		pthread_mutex_lock(&st->lock);
		st->done = g;
		pthread_cond_broadcast(&st->cond);
		if (!st->stop) {
			(void)uv_async_send(&st->done_async);
		}
		if (st->wal_pages >= CKPT_MAX_PAGES) {
			/* The checkpointer never found a gap to finish in: copy what it left (the
			 * group just answered does not wait; the next one does), so that the next
			 * transaction starts the WAL over. BUSY: the checkpointer is at it. */
			pthread_mutex_unlock(&st->lock);
			(void)sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
			st->wal_pages = 0;
			pthread_mutex_lock(&st->lock);
		}
	}
	pthread_mutex_unlock(&st->lock);
	return NULL;
}

/* ---- the loop side ---- */

static struct group *group_new(void)
{
	struct group *g = calloc(1, sizeof(*g));
	if (g) {
		zr_list_init(&g->ops);
		zr_list_init(&g->syncs);
	}
	return g;
}

static void op_free(struct op *o)
{
	for (int i = 0; i < OP_TEXTS; i++) {
		free(o->text[i]);
	}
	free(o);
}

static void handoff(struct zr_store *st);

static void on_flush(uv_idle_t *h)
{
	struct zr_store *st = h->data;
	(void)uv_idle_stop(h);
	handoff(st);
}

static void on_retry(uv_timer_t *t)
{
	struct zr_store *st = t->data;
	st->backoff = false;
	handoff(st);
}

/* Gives the collected group to the writer when it is free. */
static void handoff(struct zr_store *st)
{
	struct group *g = st->pending;
	if (st->busy || !g || (zr_list_empty(&g->ops) && zr_list_empty(&g->syncs))) {
		return;
	}
	/* After a failure, wait unless someone waits for an answer. */
	if (st->backoff && zr_list_empty(&g->syncs)) {
		return;
	}
	st->pending = NULL;
	st->busy = true;
	pthread_mutex_lock(&st->lock);
	st->todo = g;
	pthread_cond_signal(&st->cond);
	pthread_mutex_unlock(&st->lock);
}

/* Something was added: commit it with this loop turn's group. */
static void kick(struct zr_store *st)
{
	if (!st->busy && !uv_is_active((uv_handle_t *)&st->flush_idle)) {
		(void)uv_idle_start(&st->flush_idle, on_flush);
	}
}

static struct group *pending(struct zr_store *st)
{
	if (!st->pending) {
		st->pending = group_new();
	}
	return st->pending;
}

/* Finishes a group the writer is done with: retries internal changes of a failed group, then
 * answers the waiters. */
static void group_done(struct zr_store *st, struct group *g)
{
	size_t n = 0;
	struct op *o, *tmp;
	struct zr_list *at = NULL; /* where the next retried change goes: ahead of newer ones */
	if (g->err < 0) {
		log_error("Failed to commit %zu changes to %s: %s", zr_list_length(&g->ops), st->path,
			  strerror(-g->err));
	}
	zr_list_for_each_safe(o, tmp, &g->ops, link) {
		zr_list_remove(&o->link);
		n++;
		/* The robot's own changes (a task's end, a state line) are kept until they are on
		 * disk, however long the disk is full: dropping one would bring a finished task
		 * back as interrupted, or run it twice. Our statements cannot violate a
		 * constraint, so only the disk can make them fail. */
		if (g->err < 0 && o->internal) {
			struct group *p = pending(st);
			if (p) {
				zr_list_insert(at ? at : &p->ops, &o->link);
				at = &o->link;
				continue;
			}
			log_error("Out of memory: a change to %s is lost", st->path);
		}
		op_free(o);
	}
	if (g->err == 0) {
		st->commits++;
		st->changes += n;
	}
	while (!zr_list_empty(&g->syncs)) {
		struct sync *s = container_of(g->syncs.next, struct sync, link);
		zr_list_remove(&s->link);
		s->cb(g->err, s->data);
		free(s);
	}
	free(g);
}

static void on_done(uv_async_t *a)
{
	struct zr_store *st = a->data;
	pthread_mutex_lock(&st->lock);
	struct group *g = st->done;
	st->done = NULL;
	pthread_mutex_unlock(&st->lock);
	if (!g) {
		return;
	}
	st->busy = false;
	if (g->err == 0) {
		/* What piled up during this commit goes to the writer first: its commit runs while
		 * this group's waiters are answered (a FUSE reply each). */
		handoff(st);
		group_done(st, g);
		return;
	}
	/* A failed group's internal changes go back ahead of what piled up: first them. */
	group_done(st, g);
	st->backoff = true;
	(void)uv_timer_start(&st->retry_timer, on_retry, RETRY_DELAY_MS, 0);
	handoff(st);
}

/* ---- changes ---- */

#ifdef ZR_STORE_FAULTS
/* Tests only: the nth allocation of a change from now on fails. */
static unsigned fault_countdown;

void zr_store__fail_alloc(unsigned nth)
{
	fault_countdown = nth;
}

static bool fault(void)
{
	return fault_countdown > 0 && --fault_countdown == 0;
}
#else
static bool fault(void)
{
	return false;
}
#endif

static void *op_memdup(const void *p, size_t n)
{
	void *d = fault() ? NULL : malloc(n ? n : 1);
	return d ? memcpy(d, p, n) : NULL;
}

/* A change of kind with copies of its texts (NULL stays NULL; the blob, if the kind has one,
 * is blob_len bytes) and its integers (NULL: all 0). NULL when out of memory. */
static struct op *op_new(enum op_kind kind, bool internal, const char *const text[OP_TEXTS],
			 size_t blob_len, const int64_t num[OP_INTS])
{
	const struct op_desc *d = &op_descs[kind];
	struct op *o = fault() ? NULL : calloc(1, sizeof(*o));
	if (!o) {
		return NULL;
	}
	o->kind = kind;
	o->internal = internal;
	zr_list_init(&o->link);
	for (int i = 0; i < d->texts; i++) {
		size_t n = i + 1 == d->blob ? blob_len : text[i] ? strlen(text[i]) + 1 : 0;
		if (text[i] && !(o->text[i] = op_memdup(text[i], n))) {
			op_free(o);
			return NULL;
		}
	}
	o->blob_len = d->blob ? blob_len : 0;
	if (num) {
		memcpy(o->num, num, sizeof(o->num));
	}
	return o;
}

/* Queues changes with the current group, all or none: -ENOMEM (each freed) when one of them
 * is NULL or the group cannot be made, and then nothing of them is committed. */
static int submit(struct zr_store *st, struct op **ops, size_t n)
{
	struct group *g = pending(st);
	bool ok = g != NULL;
	for (size_t i = 0; i < n; i++) {
		ok = ok && ops[i];
	}
	for (size_t i = 0; i < n; i++) {
		if (!ok && ops[i]) {
			op_free(ops[i]);
		} else if (ok) {
			zr_list_push_back(&g->ops, &ops[i]->link);
		}
	}
	if (!ok) {
		return -ENOMEM;
	}
	kick(st);
	return 0;
}

/* One change: texts and integers as op_new takes them. */
static int change(struct zr_store *st, enum op_kind kind, bool internal,
		  const char *const text[OP_TEXTS], const int64_t num[OP_INTS])
{
	struct op *o = op_new(kind, internal, text, 0, num);
	return submit(st, &o, 1);
}

int zr_store_service_insert(struct zr_store *st, const struct zr_store_service *s)
{
	return change(st, OP_SERVICE_INSERT, false,
		      (const char *[OP_TEXTS]){s->template, s->name, s->guid, s->uid, s->data,
					       s->state, s->secret, s->creator ? s->creator : "admin",
					       s->parent, s->blueprint},
		      (const int64_t[OP_INTS]){s->created_ns, s->deleting});
}

int zr_store_service_data(struct zr_store *st, const char *guid, const char *data, bool internal)
{
	return change(st, OP_SERVICE_DATA, internal, (const char *[OP_TEXTS]){guid, data}, NULL);
}

int zr_store_service_state(struct zr_store *st, const char *guid, const char *state)
{
	return change(st, OP_SERVICE_STATE, true, (const char *[OP_TEXTS]){guid, state}, NULL);
}

int zr_store_service_uid(struct zr_store *st, const char *guid, const char *uid)
{
	return change(st, OP_SERVICE_UID, true, (const char *[OP_TEXTS]){guid, uid}, NULL);
}

int zr_store_service_upgrade_to(struct zr_store *st, const char *guid, const char *uid, bool internal)
{
	return change(st, OP_SERVICE_UPGRADE_TO, internal, (const char *[OP_TEXTS]){guid, uid}, NULL);
}

int zr_store_service_deleting(struct zr_store *st, const char *guid)
{
	return change(st, OP_SERVICE_DELETING, false, (const char *[OP_TEXTS]){guid}, NULL);
}

int zr_store_services_deleting(struct zr_store *st, const char *const *guids, size_t n)
{
	struct op **ops = calloc(n ? n : 1, sizeof(*ops));
	if (!ops) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		ops[i] = op_new(OP_SERVICE_DELETING, false, (const char *[OP_TEXTS]){guids[i]}, 0, NULL);
	}
	int err = submit(st, ops, n);
	free(ops);
	return err;
}

int zr_store_service_delete(struct zr_store *st, const char *guid)
{
	/* Its tasks, remote consumers and server's row go with it: they have no meaning
	 * without it. */
	const char *const text[OP_TEXTS] = {guid};
	struct op *ops[] = {
		op_new(OP_SERVICE_DELETE, true, text, 0, NULL),
		op_new(OP_TASKS_DELETE_SERVICE, true, text, 0, NULL),
		op_new(OP_RCONSUMERS_DELETE_SERVICE, true, text, 0, NULL),
		op_new(OP_PROCESS_DELETE_SERVICE, true, text, 0, NULL),
	};
	return submit(st, ops, 4);
}

int zr_store_service_parent(struct zr_store *st, const char *guid, const char *parent)
{
	return change(st, OP_SERVICE_PARENT, false, (const char *[OP_TEXTS]){guid, parent}, NULL);
}

int zr_store_service_blueprint(struct zr_store *st, const char *guid, const char *name)
{
	return change(st, OP_SERVICE_BLUEPRINT, false, (const char *[OP_TEXTS]){guid, name}, NULL);
}

int zr_store_blueprint_put(struct zr_store *st, const char *name, const char *content, size_t len,
			   const char *outcome, long long applied_ns)
{
	if (!content) {
		return change(st, OP_BLUEPRINT_DELETE, false, (const char *[OP_TEXTS]){name}, NULL);
	}
	struct op *o = op_new(OP_BLUEPRINT_PUT, false, (const char *[OP_TEXTS]){name, content, outcome},
			      len, (const int64_t[OP_INTS]){applied_ns});
	return submit(st, &o, 1);
}

int zr_store_process_put(struct zr_store *st, const struct zr_store_process *p, bool internal)
{
	return change(st, OP_PROCESS_PUT, internal,
		      (const char *[OP_TEXTS]){p->guid, p->want, p->cgroup},
		      (const int64_t[OP_INTS]){p->pid, p->start_time, p->failed});
}

int zr_store_task_put(struct zr_store *st, const struct zr_store_task *t, bool internal)
{
	const char *const text[OP_TEXTS] = {t->service_guid, t->action, t->args, t->state, t->error,
					    t->result_len > 0 ? (const char *)t->result : NULL};
	const int64_t num[OP_INTS] = {t->id, t->lane, t->created_ns, t->started_ns, t->finished_ns,
				      t->err, t->attempt, t->progress_done, t->progress_total};
	struct op *o = op_new(OP_TASK_PUT, internal, text, t->result_len, num);
	return submit(st, &o, 1);
}

int zr_store_task_delete(struct zr_store *st, int64_t id)
{
	return change(st, OP_TASK_DELETE, true, (const char *[OP_TEXTS]){NULL}, (const int64_t[OP_INTS]){id});
}

int zr_store_task_id(struct zr_store *st, int64_t id)
{
	return change(st, OP_TASK_ID, false, (const char *[OP_TEXTS]){NULL}, (const int64_t[OP_INTS]){id});
}

int zr_store_repo_put(struct zr_store *st, const char *id, const char *url, const char *ref,
		      const char *commit, int64_t pos)
{
	return change(st, OP_REPO_PUT, true, (const char *[OP_TEXTS]){id, url, ref, commit},
		      (const int64_t[OP_INTS]){pos});
}

int zr_store_remote_put(struct zr_store *st, const char *name, const char *url,
			const char *token_file, int64_t pos)
{
	return change(st, OP_REMOTE_PUT, false, (const char *[OP_TEXTS]){name, url, token_file},
		      (const int64_t[OP_INTS]){pos});
}

int zr_store_remote_delete(struct zr_store *st, const char *name)
{
	return change(st, OP_REMOTE_DELETE, false, (const char *[OP_TEXTS]){name}, NULL);
}

int zr_store_rconsumer(struct zr_store *st, const char *producer, const char *robot,
		       const char *consumer, bool add)
{
	return change(st, add ? OP_RCONSUMER_PUT : OP_RCONSUMER_DELETE, false,
		      (const char *[OP_TEXTS]){producer, robot, consumer}, NULL);
}

int zr_store_unlink(struct zr_store *st, const char *remote, const char *producer,
		    const char *consumer, bool pending)
{
	return change(st, pending ? OP_UNLINK_PUT : OP_UNLINK_DELETE, true,
		      (const char *[OP_TEXTS]){remote, producer, consumer}, NULL);
}

int zr_store_webhook_put(struct zr_store *st, int64_t id, const char *url, const char *types,
			 const char *secret)
{
	const int64_t num[OP_INTS] = {id};
	struct op *ops[] = {
		op_new(OP_WEBHOOK_PUT, false, (const char *[OP_TEXTS]){url, types, secret}, 0, num),
		op_new(OP_WEBHOOK_ID, false, (const char *[OP_TEXTS]){NULL}, 0, num),
	};
	return submit(st, ops, 2);
}

int zr_store_webhook_delete(struct zr_store *st, int64_t id)
{
	const int64_t num[OP_INTS] = {id};
	struct op *ops[] = {
		op_new(OP_WEBHOOK_DELETE, false, (const char *[OP_TEXTS]){NULL}, 0, num),
		op_new(OP_DELIVERIES_DELETE_HOOK, false, (const char *[OP_TEXTS]){NULL}, 0, num),
	};
	return submit(st, ops, 2);
}

int zr_store_delivery_put(struct zr_store *st, int64_t hook, int64_t seq, const char *type,
			  const char *body)
{
	const int64_t num[OP_INTS] = {hook, seq};
	struct op *ops[] = {
		op_new(OP_DELIVERY_PUT, true, (const char *[OP_TEXTS]){type, body}, 0, num),
		op_new(OP_WEBHOOK_SEQ, true, (const char *[OP_TEXTS]){NULL}, 0, num),
	};
	return submit(st, ops, 2);
}

int zr_store_delivery_delete(struct zr_store *st, int64_t hook, int64_t seq)
{
	return change(st, OP_DELIVERY_DELETE, true, (const char *[OP_TEXTS]){NULL},
		      (const int64_t[OP_INTS]){hook, seq});
}

void zr_store_sync(struct zr_store *st, void (*cb)(int err, void *data), void *data)
{
	struct group *g = pending(st);
	struct sync *s = calloc(1, sizeof(*s));
	if (!g || !s) {
		free(s);
		cb(-ENOMEM, data);
		return;
	}
	s->cb = cb;
	s->data = data;
	zr_list_push_back(&g->syncs, &s->link);
	kick(st);
}

void zr_store_stats(const struct zr_store *st, uint64_t *ret_commits, uint64_t *ret_changes)
{
	*ret_commits = st->commits;
	*ret_changes = st->changes;
}

/* ---- open, load, close ---- */

static void close_db(struct zr_store *st)
{
	for (int i = 0; i < N_OPS; i++) {
		sqlite3_finalize(st->stmt[i]);
	}
	sqlite3_finalize(st->begin);
	sqlite3_finalize(st->commit);
	sqlite3_finalize(st->rollback);
	/* The writer's connection last: the last one to close checkpoints and removes the WAL. */
	sqlite3_close(st->ckpt_db);
	sqlite3_close(st->db);
}

/* Stops the threads that were started. */
static void stop_threads(struct zr_store *st)
{
	pthread_mutex_lock(&st->lock);
	st->stop = true;
	pthread_cond_signal(&st->cond);
	pthread_cond_signal(&st->ckpt_cond);
	pthread_mutex_unlock(&st->lock);
	if (st->thread_started) {
		pthread_join(st->thread, NULL);
	}
	if (st->ckpt_started) {
		pthread_join(st->ckpt_thread, NULL);
	}
}

int zr_store_open(uv_loop_t *loop, const char *data_dir, struct zr_store **ret, char **ret_err)
{
	struct zr_store *st = calloc(1, sizeof(*st));
	int err = -ENOMEM;
	*ret_err = NULL;
	if (!st || asprintf(&st->path, "%s/zrobot.db", data_dir) < 0) {
		free(st);
		return -ENOMEM;
	}
	st->loop = loop;
	st->ckpt_at = CKPT_PAGES;
	int rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				 SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		(void)asprintf(ret_err, "cannot open %s: %s", st->path, sqlite3_errstr(rc));
		err = zr_store__errno(rc);
		goto fail;
	}
	/* WAL: readers never wait for the writer; FULL: a commit is on disk when it returns (the
	 * WAL is synced at each commit: NORMAL would not be durable). */
	err = zr_store__exec(st->db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;", ret_err);
	if (err == 0) {
		err = zr_store__migrate(st->db, st->path, ret_err);
	}
	if (err < 0) {
		goto fail;
	}
	rc = sqlite3_open_v2(st->path, &st->ckpt_db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, NULL);
	if (rc != SQLITE_OK) {
		(void)asprintf(ret_err, "cannot open %s: %s", st->path, sqlite3_errstr(rc));
		err = zr_store__errno(rc);
		goto fail;
	}
	/* FULL: a checkpoint syncs the database file before the WAL may start over. */
	err = zr_store__exec(st->ckpt_db, "PRAGMA synchronous = FULL;", ret_err);
	if (err == 0) {
		char *sql = NULL;
		err = asprintf(&sql, "PRAGMA journal_size_limit = %d;", WAL_SIZE_LIMIT) < 0 ? -ENOMEM :
		      zr_store__exec(st->db, sql, ret_err);
		free(sql);
	}
	if (err < 0) {
		goto fail;
	}
	/* In place of SQLite's own checkpoints, which would run inside a group's commit. */
	(void)sqlite3_wal_hook(st->db, on_wal, st);
	for (int i = 0; i < N_OPS; i++) {
		rc = sqlite3_prepare_v2(st->db, op_descs[i].sql, -1, &st->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			goto prep_fail;
		}
		/* A row of op_descs that does not fit its statement is a bug, not bad input. */
		assert(op_descs[i].texts <= OP_TEXTS &&
		       sqlite3_bind_parameter_count(st->stmt[i]) <= op_descs[i].texts + OP_INTS);
	}
	if (sqlite3_prepare_v2(st->db, "BEGIN IMMEDIATE", -1, &st->begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "COMMIT", -1, &st->commit, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, "ROLLBACK", -1, &st->rollback, NULL) != SQLITE_OK) {
		goto prep_fail;
	}
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	pthread_cond_init(&st->ckpt_cond, NULL);
	st->thread_started = pthread_create(&st->thread, NULL, writer_main, st) == 0;
	st->ckpt_started = st->thread_started &&
			   pthread_create(&st->ckpt_thread, NULL, checkpointer_main, st) == 0;
	if (!st->ckpt_started) {
		(void)asprintf(ret_err, "cannot start the store's threads");
		stop_threads(st);
		pthread_mutex_destroy(&st->lock);
		pthread_cond_destroy(&st->cond);
		pthread_cond_destroy(&st->ckpt_cond);
		err = -EAGAIN;
		goto fail;
	}
	/* The handles after the threads (nothing to close if those fail): the writer sends on
	 * done_async only for a group, and none comes before this returns. */
	uv_idle_init(loop, &st->flush_idle);
	uv_async_init(loop, &st->done_async, on_done);
	uv_timer_init(loop, &st->retry_timer);
	st->flush_idle.data = st->done_async.data = st->retry_timer.data = st;
	*ret = st;
	return 0;

prep_fail:
	(void)asprintf(ret_err, "cannot prepare a statement on %s: %s", st->path, sqlite3_errmsg(st->db));
	err = -EIO;
fail:
	close_db(st);
	free(st->path);
	free(st);
	return err;
}

static void on_closed(uv_handle_t *h)
{
	struct zr_store *st = h->data;
	/* libuv runs close callbacks in no promised order: the last one frees. */
	if (--st->closing == 0) {
		free(st);
	}
}

void zr_store_close(struct zr_store *st)
{
	if (!st) {
		return;
	}
	/* Drain: the group with the writer, then what is pending, each answered. A group that
	 * fails here ends the drain: its retried changes would come back forever. */
	(void)uv_idle_stop(&st->flush_idle);
	(void)uv_timer_stop(&st->retry_timer);
	for (;;) {
		pthread_mutex_lock(&st->lock);
		while (st->busy && !st->done) {
			pthread_cond_wait(&st->cond, &st->lock);
		}
		struct group *g = st->done;
		st->done = NULL;
		pthread_mutex_unlock(&st->lock);
		int err = 0;
		if (g) {
			err = g->err;
			st->busy = false;
			group_done(st, g);
		}
		if (err < 0 || !st->pending ||
		    (zr_list_empty(&st->pending->ops) && zr_list_empty(&st->pending->syncs))) {
			break;
		}
		st->backoff = false;
		handoff(st);
	}
	stop_threads(st);
	if (st->pending) {
		st->pending->err = -EIO;
		group_done(st, st->pending);
		st->pending = NULL;
	}
	close_db(st);
	pthread_mutex_destroy(&st->lock);
	pthread_cond_destroy(&st->cond);
	pthread_cond_destroy(&st->ckpt_cond);
	free(st->path);
	st->closing = 3;
	uv_close((uv_handle_t *)&st->flush_idle, on_closed);
	uv_close((uv_handle_t *)&st->done_async, on_closed);
	uv_close((uv_handle_t *)&st->retry_timer, on_closed);
}

