/* The store: reading what it holds, at start (before the writer thread takes its first
 * group): services, tasks, repositories, remotes and the rest, each row handed to a callback. */
#include "store.h"
#include "store-internal.h"

#include <sqlite3.h>

/* The caller's callback (one of these) and data, for the row functions. */
struct walk {
	int (*service_fn)(const struct zr_store_service *s, void *data);
	int (*task_fn)(const struct zr_store_task *t, void *data);
	int (*repo_fn)(const char *id, const char *url, const char *ref, const char *commit, void *data);
	int (*action_fn)(const char *tmpl, const char *uid, const char *action, void *data);
	/* rows of three texts: remotes, remote_consumers, remote_unlinks */
	int (*text3_fn)(const char *a, const char *b, const char *c, void *data);
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

static int last_id_row(sqlite3_stmt *s, void *ctx)
{
	*(int64_t *)ctx = sqlite3_column_int64(s, 0);
	return 0;
}

int64_t zr_store_last_task_id(struct zr_store *st)
{
	int64_t id = 0;
	(void)zr_store__each_row(st, "SELECT MAX((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'task_id'),"
				 " (SELECT MAX(id) FROM tasks))", last_id_row, &id);
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


static int service_row(sqlite3_stmt *s, void *ctx)
{
	struct walk *w = ctx;
	struct zr_store_service r = {
		.rowid = sqlite3_column_int64(s, 0),
		.template = col_text(s, 1),
		.name = col_text(s, 2),
		.guid = col_text(s, 3),
		.uid = col_text(s, 4),
		.data = col_text(s, 5),
		.state = col_text(s, 6),
		.secret = col_text(s, 7),
		.created_ns = sqlite3_column_int64(s, 8),
		.deleting = sqlite3_column_int(s, 9) != 0,
		.upgrade_to = col_text(s, 10),
	};
	return w->service_fn(&r, w->data);
}

static int task_row(sqlite3_stmt *s, void *ctx)
{
	struct walk *w = ctx;
	struct zr_store_task t = {
		.id = sqlite3_column_int64(s, 0),
		.service_guid = col_text(s, 1),
		.action = col_text(s, 2),
		.args = col_text(s, 3),
		.state = col_text(s, 4),
		.error = col_text(s, 5),
		.result = sqlite3_column_blob(s, 6),
		.result_len = (size_t)sqlite3_column_bytes(s, 6),
		.lane = sqlite3_column_int(s, 7),
		.err = sqlite3_column_int(s, 8),
		.attempt = sqlite3_column_int(s, 9),
		.created_ns = sqlite3_column_int64(s, 10),
		.started_ns = sqlite3_column_int64(s, 11),
		.finished_ns = sqlite3_column_int64(s, 12),
		.progress_done = sqlite3_column_int64(s, 13),
		.progress_total = sqlite3_column_int64(s, 14),
	};
	return w->task_fn(&t, w->data);
}

int zr_store_load(struct zr_store *st, int (*service_fn)(const struct zr_store_service *s, void *data),
		  int (*task_fn)(const struct zr_store_task *t, void *data), void *data)
{
	struct walk ws = {.service_fn = service_fn, .data = data};
	struct walk wt = {.task_fn = task_fn, .data = data};
	int err = zr_store__each_row(st, "SELECT rowid, template, name, guid, uid, data, state, secret, created,"
			   " deleting, upgrade_to FROM services ORDER BY rowid", service_row, &ws);
	if (err < 0) {
		return err;
	}
	return zr_store__each_row(st, "SELECT id, service, action, args, state, error, result, lane, err, attempt,"
			" created, started, finished, progress_done, progress_total FROM tasks ORDER BY id",
			task_row, &wt);
}
