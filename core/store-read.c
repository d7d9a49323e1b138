/* The store: reading what it holds, at start (before the writer thread takes its first
 * group): services, tasks, repositories, remotes and the rest, each row handed to a callback. */
#include "store.h"
#include "store-internal.h"

#include <errno.h>
#include <stddef.h>
#include <sqlite3.h>

#include "util/buf.h"
#include "util/cleanup.h"

/* The caller's callback (one of these) and data, for the row functions. */
struct walk {
	int (*service_fn)(const struct zr_store_service *s, void *data);
	int (*task_fn)(const struct zr_store_task *t, void *data);
	int (*repo_fn)(const char *id, const char *url, const char *ref, const char *commit, void *data);
	int (*action_fn)(const char *tmpl, const char *uid, const char *action, void *data);
	/* rows of three texts: remotes, remote_consumers, remote_unlinks */
	int (*text3_fn)(const char *a, const char *b, const char *c, void *data);
	int (*blueprint_fn)(const char *name, const char *content, size_t len, const char *outcome,
			    long long applied_ns, void *data);
	void *data;
};

static const char *col_text(sqlite3_stmt *s, int i)
{
	return (const char *)sqlite3_column_text(s, i);
}


static int repo_row(sqlite3_stmt *s, void *ctx)
{
	struct walk *w = ctx;
	return w->repo_fn(col_text(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3), w->data);
}

int zr_store_repos(struct zr_store *st,
		   int (*fn)(const char *id, const char *url, const char *ref, const char *commit, void *data),
		   void *data)
{
	struct walk w = {.repo_fn = fn, .data = data};
	return zr_store__each_row(st, "SELECT id, url, ref, commit_id FROM repos ORDER BY pos, id", repo_row, &w);
}

static int text3_row(sqlite3_stmt *s, void *ctx)
{
	struct walk *w = ctx;
	return w->text3_fn(col_text(s, 0), col_text(s, 1), col_text(s, 2), w->data);
}

static int each_text3(struct zr_store *st, const char *sql,
		      int (*fn)(const char *a, const char *b, const char *c, void *data), void *data)
{
	struct walk w = {.text3_fn = fn, .data = data};
	return zr_store__each_row(st, sql, text3_row, &w);
}

int zr_store_remotes(struct zr_store *st,
		     int (*fn)(const char *name, const char *url, const char *token_file, void *data),
		     void *data)
{
	return each_text3(st, "SELECT name, url, token_file FROM remotes ORDER BY pos, name", fn, data);
}

int zr_store_rconsumers(struct zr_store *st,
			int (*fn)(const char *producer, const char *robot, const char *consumer, void *data),
			void *data)
{
	return each_text3(st, "SELECT producer, robot, consumer FROM remote_consumers ORDER BY robot, consumer",
			  fn, data);
}

int zr_store_unlinks(struct zr_store *st,
		     int (*fn)(const char *remote, const char *producer, const char *consumer, void *data),
		     void *data)
{
	return each_text3(st, "SELECT remote, producer, consumer FROM remote_unlinks ORDER BY remote, producer",
			  fn, data);
}

static int blueprint_row(sqlite3_stmt *s, void *ctx)
{
	struct walk *w = ctx;
	/* As text: SQLite ends it with a NUL (a blob's bytes come without one), so the caller may
	 * read it as a string too. An empty one may come back as NULL: "" then. */
	const char *content = col_text(s, 1);
	size_t len = (size_t)sqlite3_column_bytes(s, 1);
	return w->blueprint_fn(col_text(s, 0), content ? content : "", len, col_text(s, 2),
			       sqlite3_column_int64(s, 3), w->data);
}

int zr_store_blueprints(struct zr_store *st,
			int (*fn)(const char *name, const char *content, size_t len,
				  const char *outcome, long long applied_ns, void *data),
			void *data)
{
	struct walk w = {.blueprint_fn = fn, .data = data};
	return zr_store__each_row(st, "SELECT name, content, outcome, applied_ns FROM blueprints"
				  " ORDER BY name", blueprint_row, &w);
}

struct webhook_walk {
	int (*hook_fn)(int64_t id, const char *url, const char *types, const char *secret,
		       int64_t last_seq, void *data);
	int (*delivery_fn)(int64_t hook, int64_t seq, const char *type, const char *body, void *data);
	void *data;
};

static int webhook_row(sqlite3_stmt *s, void *ctx)
{
	struct webhook_walk *w = ctx;
	return w->hook_fn(sqlite3_column_int64(s, 0), col_text(s, 1), col_text(s, 2), col_text(s, 3),
			  sqlite3_column_int64(s, 4), w->data);
}

int zr_store_webhooks(struct zr_store *st,
		      int (*fn)(int64_t id, const char *url, const char *types, const char *secret,
				int64_t last_seq, void *data),
		      void *data)
{
	struct webhook_walk w = {.hook_fn = fn, .data = data};
	return zr_store__each_row(st, "SELECT id, url, types, secret, last_seq FROM webhooks ORDER BY id",
				  webhook_row, &w);
}

static int delivery_row(sqlite3_stmt *s, void *ctx)
{
	struct webhook_walk *w = ctx;
	return w->delivery_fn(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), col_text(s, 2),
			      col_text(s, 3), w->data);
}

int zr_store_deliveries(struct zr_store *st,
			int (*fn)(int64_t hook, int64_t seq, const char *type, const char *body, void *data),
			void *data)
{
	struct webhook_walk w = {.delivery_fn = fn, .data = data};
	return zr_store__each_row(st, "SELECT hook, seq, type, body FROM webhook_deliveries"
				  " ORDER BY hook, seq", delivery_row, &w);
}

static int last_id_row(sqlite3_stmt *s, void *ctx)
{
	*(int64_t *)ctx = sqlite3_column_int64(s, 0);
	return 0;
}

int64_t zr_store_last_task_id(struct zr_store *st)
{
	int64_t id = 0;
	/* COALESCE: SQL's two-argument MAX is NULL when either is, and MAX(id) of no task is. */
	(void)zr_store__each_row(st, "SELECT MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta"
				 " WHERE key = 'task_id'), 0), COALESCE((SELECT MAX(id) FROM tasks), 0))",
				 last_id_row, &id);
	return id;
}

int64_t zr_store_last_webhook_id(struct zr_store *st)
{
	int64_t id = 0;
	/* COALESCE: SQL's two-argument MAX is NULL when either is, and MAX(id) of no hook is. */
	(void)zr_store__each_row(st, "SELECT MAX(COALESCE((SELECT CAST(value AS INTEGER) FROM meta"
				 " WHERE key = 'webhook_id'), 0), COALESCE((SELECT MAX(id) FROM webhooks), 0))",
				 last_id_row, &id);
	return id;
}

static int action_row(sqlite3_stmt *s, void *ctx)
{
	struct walk *w = ctx;
	return w->action_fn(col_text(s, 0), col_text(s, 1), col_text(s, 2), w->data);
}

int zr_store_actions(struct zr_store *st, int (*fn)(const char *tmpl, const char *uid, const char *action, void *data),
		     void *data)
{
	struct walk w = {.action_fn = fn, .data = data};
	return zr_store__each_row(st, "SELECT DISTINCT s.template, s.uid, t.action FROM tasks t"
			" JOIN services s ON s.guid = t.service", action_row, &w);
}


/* A row as data: where each selected column goes in the row's struct, and as what. The
 * columns are selected in the table's order. */
enum col_type { COL_TEXT, COL_I64, COL_INT, COL_BOOL, COL_BLOB };
struct col {
	const char *name;
	enum col_type type;
	size_t off;
	size_t len_off; /* COL_BLOB: where its size goes */
};

#define N_COLS(cols) (sizeof(cols) / sizeof((cols)[0]))

#define SERVICE_COL(name, type, field) {name, type, offsetof(struct zr_store_service, field), 0}
static const struct col service_cols[] = {
	SERVICE_COL("services.rowid", COL_I64, rowid),
	SERVICE_COL("template", COL_TEXT, template),
	SERVICE_COL("name", COL_TEXT, name),
	SERVICE_COL("guid", COL_TEXT, guid),
	SERVICE_COL("uid", COL_TEXT, uid),
	SERVICE_COL("data", COL_TEXT, data),
	SERVICE_COL("state", COL_TEXT, state),
	SERVICE_COL("secret", COL_TEXT, secret),
	SERVICE_COL("created", COL_I64, created_ns),
	SERVICE_COL("deleting", COL_BOOL, deleting),
	SERVICE_COL("upgrade_to", COL_TEXT, upgrade_to),
	SERVICE_COL("creator", COL_TEXT, creator),
	SERVICE_COL("parent", COL_TEXT, parent),
	SERVICE_COL("blueprint", COL_TEXT, blueprint),
	/* processes, joined: NULL (want) when the service has no server row. */
	SERVICE_COL("want", COL_TEXT, want),
	SERVICE_COL("pid", COL_I64, pid),
	SERVICE_COL("start_time", COL_I64, start_time),
	SERVICE_COL("cgroup", COL_TEXT, cgroup),
	SERVICE_COL("failed", COL_BOOL, failed),
};

#define TASK_COL(name, type, field) {name, type, offsetof(struct zr_store_task, field), 0}
static const struct col task_cols[] = {
	TASK_COL("id", COL_I64, id),
	TASK_COL("service", COL_TEXT, service_guid),
	TASK_COL("action", COL_TEXT, action),
	TASK_COL("args", COL_TEXT, args),
	TASK_COL("state", COL_TEXT, state),
	TASK_COL("error", COL_TEXT, error),
	{"result", COL_BLOB, offsetof(struct zr_store_task, result),
	 offsetof(struct zr_store_task, result_len)},
	TASK_COL("lane", COL_INT, lane),
	TASK_COL("err", COL_INT, err),
	TASK_COL("attempt", COL_INT, attempt),
	TASK_COL("created", COL_I64, created_ns),
	TASK_COL("started", COL_I64, started_ns),
	TASK_COL("finished", COL_I64, finished_ns),
	TASK_COL("progress_done", COL_I64, progress_done),
	TASK_COL("progress_total", COL_I64, progress_total),
};

/* Fills the struct at out from the current row of s, selected as cols (n of them) say. The
 * texts and blob are sqlite's, valid until the next step. */
static void read_row(sqlite3_stmt *s, const struct col *cols, size_t n, void *out)
{
	char *o = out;
	for (int i = 0; i < (int)n; i++) {
		const struct col *c = &cols[i];
		switch (c->type) {
		case COL_TEXT:
			*(const char **)(void *)(o + c->off) = col_text(s, i);
			break;
		case COL_I64:
			*(int64_t *)(void *)(o + c->off) = sqlite3_column_int64(s, i);
			break;
		case COL_INT:
			*(int *)(void *)(o + c->off) = sqlite3_column_int(s, i);
			break;
		case COL_BOOL:
			*(bool *)(void *)(o + c->off) = sqlite3_column_int(s, i) != 0;
			break;
		case COL_BLOB:
			*(const void **)(void *)(o + c->off) = sqlite3_column_blob(s, i);
			*(size_t *)(void *)(o + c->len_off) = (size_t)sqlite3_column_bytes(s, i);
			break;
		}
	}
}

static int service_row(sqlite3_stmt *s, void *ctx)
{
	struct walk *w = ctx;
	struct zr_store_service r = {0};
	read_row(s, service_cols, N_COLS(service_cols), &r);
	return w->service_fn(&r, w->data);
}

static int task_row(sqlite3_stmt *s, void *ctx)
{
	struct walk *w = ctx;
	struct zr_store_task t = {0};
	read_row(s, task_cols, N_COLS(task_cols), &t);
	return w->task_fn(&t, w->data);
}

/* "SELECT <cols> FROM <tail>", malloc'd (NULL: out of memory). */
static char *select_sql(const struct col *cols, size_t n, const char *tail)
{
	struct zr_buf b = {0};
	int err = zr_buf_puts(&b, "SELECT ");
	for (size_t i = 0; i < n && err == 0; i++) {
		err = zr_buf_printf(&b, "%s%s", i ? ", " : "", cols[i].name);
	}
	err = err < 0 ? err : zr_buf_printf(&b, " FROM %s", tail);
	if (err < 0) {
		zr_buf_done(&b);
		return NULL;
	}
	return zr_buf_steal(&b);
}

int zr_store_load(struct zr_store *st, int (*service_fn)(const struct zr_store_service *s, void *data),
		  int (*task_fn)(const struct zr_store_task *t, void *data), void *data)
{
	struct walk ws = {.service_fn = service_fn, .data = data};
	struct walk wt = {.task_fn = task_fn, .data = data};
	_cleanup_free_ char *services = select_sql(service_cols, N_COLS(service_cols),
						   "services LEFT JOIN processes ON processes.service = services.guid"
						   " ORDER BY services.rowid");
	_cleanup_free_ char *tasks = select_sql(task_cols, N_COLS(task_cols), "tasks ORDER BY id");
	if (!services || !tasks) {
		return -ENOMEM;
	}
	int err = zr_store__each_row(st, services, service_row, &ws);
	return err < 0 ? err : zr_store__each_row(st, tasks, task_row, &wt);
}
