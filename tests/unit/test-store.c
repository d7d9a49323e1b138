/* Unit tests for core/store.c: what is synced survives a close and a reopen, in order; one
 * loop turn's changes share one commit; a newer schema is refused and an older one (2) is
 * migrated; remote robots are kept in their order; a failed commit reaches the sync callback
 * as a negative errno, drops a request's change and retries an internal one. */
#include "store.h"

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

/* ---- scratch folders ----
 * All under one base folder that main() makes before it forks: the tests run in the child, and
 * the parent unmounts and removes the base however the child ends (an assertion, an abort, a
 * sanitizer report), so a failing run leaves no tmpfs mounted and no files behind. */

static char *base_dir;
static unsigned n_dirs;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Unmounts whatever is mounted under base_dir (lazily), then removes it. */
static void cleanup_base(void)
{
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[8192];
	size_t n = strlen(base_dir);
	while (f && fgets(line, sizeof(line), f)) {
		char dev[4096], mp[4096];
		if (sscanf(line, "%4095s %4095s", dev, mp) == 2 && strncmp(mp, base_dir, n) == 0 &&
		    mp[n] == '/') {
			if (umount2(mp, MNT_DETACH) < 0) {
				fprintf(stderr, "cleanup: cannot unmount %s: %s\n", mp, strerror(errno));
			}
		}
	}
	if (f) {
		fclose(f);
	}
	(void)nftw(base_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* A new empty folder under the base. */
static const char *scratch_dir(void)
{
	static char dirs[16][4096];
	ASSERT_LT_INT(n_dirs, 16);
	char *d = dirs[n_dirs];
	snprintf(d, sizeof(dirs[0]), "%s/%u", base_dir, n_dirs);
	n_dirs++;
	ASSERT_OK(mkdir(d, 0700));
	return d;
}

/* ---- the loop ---- */

static uv_loop_t loop;

struct waiter {
	int fired;
	int err;
};

static void on_sync(int err, void *data)
{
	struct waiter *w = data;
	w->fired++;
	w->err = err;
}

/* Runs the loop until w has fired (a 20 s bound: a commit takes milliseconds). */
static void run_until(struct waiter *w)
{
	uint64_t deadline = uv_hrtime() + 20ull * 1000 * 1000 * 1000;
	while (!w->fired) {
		if (uv_hrtime() > deadline) {
			FAIL("sync callback did not fire within 20 s");
		}
		(void)uv_run(&loop, UV_RUN_ONCE);
	}
	ASSERT_EQ_INT(w->fired, 1);
}

/* zr_store_sync and wait: the commit's result. */
static int sync_wait(struct zr_store *st)
{
	struct waiter w = {0};
	zr_store_sync(st, on_sync, &w);
	run_until(&w);
	return w.err;
}

static struct zr_store *open_store(const char *dir)
{
	struct zr_store *st = NULL;
	char *why = NULL;
	int err = zr_store_open(&loop, dir, &st, &why);
	if (err < 0) {
		FAIL("zr_store_open(%s): %s (%s)", dir, strerror(-err), why ? why : "no message");
	}
	ASSERT_NULL(why);
	ASSERT_NOT_NULL(st);
	return st;
}

/* Closes and lets the loop finish the store's handles (they free it). */
static void close_store(struct zr_store *st)
{
	zr_store_close(st);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
}

/* Closes st and opens the store of dir again: what a restart finds. */
static struct zr_store *reopen(struct zr_store *st, const char *dir)
{
	close_store(st);
	return open_store(dir);
}

/* ---- loading into copies ---- */

struct svc_copy {
	char *template, *name, *guid, *uid, *data, *state, *secret, *upgrade_to, *creator;
	char *parent, *blueprint;
	long long created_ns;
	bool deleting;
	char *want, *cgroup; /* its server's row */
	int64_t pid, start_time;
	bool failed;
};

struct task_copy {
	int64_t id;
	char *service_guid, *action, *args, *state, *error;
	char *result;
	size_t result_len;
	int lane, err, attempt;
	long long created_ns, started_ns, finished_ns, progress_done, progress_total;
};

struct loaded {
	struct svc_copy *svcs;
	size_t n_svcs;
	struct task_copy *tasks;
	size_t n_tasks;
	int stop_after; /* > 0: service_fn returns -ECANCELED at that call */
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int load_svc(const struct zr_store_service *s, void *data)
{
	struct loaded *l = data;
	if (l->stop_after > 0 && (int)l->n_svcs + 1 == l->stop_after) {
		return -ECANCELED;
	}
	l->svcs = realloc(l->svcs, (l->n_svcs + 1) * sizeof(*l->svcs));
	ASSERT_NOT_NULL(l->svcs);
	l->svcs[l->n_svcs++] = (struct svc_copy){
		.template = dup_or_null(s->template), .name = dup_or_null(s->name),
		.guid = dup_or_null(s->guid), .uid = dup_or_null(s->uid),
		.data = dup_or_null(s->data), .state = dup_or_null(s->state),
		.secret = dup_or_null(s->secret), .created_ns = s->created_ns,
		.deleting = s->deleting, .upgrade_to = dup_or_null(s->upgrade_to),
		.creator = dup_or_null(s->creator), .want = dup_or_null(s->want),
		.cgroup = dup_or_null(s->cgroup), .pid = s->pid, .start_time = s->start_time,
		.failed = s->failed, .parent = dup_or_null(s->parent),
		.blueprint = dup_or_null(s->blueprint),
	};
	return 0;
}

static int load_task(const struct zr_store_task *t, void *data)
{
	struct loaded *l = data;
	l->tasks = realloc(l->tasks, (l->n_tasks + 1) * sizeof(*l->tasks));
	ASSERT_NOT_NULL(l->tasks);
	char *result = NULL;
	if (t->result_len) {
		ASSERT_NOT_NULL(t->result);
		result = malloc(t->result_len);
		ASSERT_NOT_NULL(result);
		memcpy(result, t->result, t->result_len);
	}
	l->tasks[l->n_tasks++] = (struct task_copy){
		.id = t->id, .service_guid = dup_or_null(t->service_guid),
		.action = dup_or_null(t->action), .args = dup_or_null(t->args),
		.state = dup_or_null(t->state), .error = dup_or_null(t->error),
		.result = result, .result_len = t->result_len, .lane = t->lane, .err = t->err,
		.attempt = t->attempt, .created_ns = t->created_ns, .started_ns = t->started_ns,
		.finished_ns = t->finished_ns, .progress_done = t->progress_done,
		.progress_total = t->progress_total,
	};
	return 0;
}

static void loaded_free(struct loaded *l)
{
	for (size_t i = 0; i < l->n_svcs; i++) {
		struct svc_copy *s = &l->svcs[i];
		free(s->template), free(s->name), free(s->guid), free(s->uid);
		free(s->data), free(s->state), free(s->secret), free(s->upgrade_to);
		free(s->creator), free(s->want), free(s->cgroup);
		free(s->parent), free(s->blueprint);
	}
	for (size_t i = 0; i < l->n_tasks; i++) {
		struct task_copy *t = &l->tasks[i];
		free(t->service_guid), free(t->action), free(t->args), free(t->state);
		free(t->error), free(t->result);
	}
	free(l->svcs);
	free(l->tasks);
	*l = (struct loaded){0};
}

static void load(struct zr_store *st, struct loaded *l)
{
	*l = (struct loaded){0};
	ASSERT_OK(zr_store_load(st, load_svc, load_task, l));
}

/* ---- records ---- */

static struct zr_store_service svc(const char *name, const char *guid, const char *data,
				   long long created)
{
	return (struct zr_store_service){
		.template = "t", .name = name, .guid = guid, .uid = "local/t/1.0.0", .data = data,
		.state = "{}", .secret = "s3cret", .created_ns = created,
	};
}

static struct zr_store_task queued_task(int64_t id, const char *guid, const char *action)
{
	return (struct zr_store_task){
		.id = id, .service_guid = guid, .action = action, .args = "{\"n\":1}",
		.state = "queued", .lane = 1, .created_ns = 1000 + id,
	};
}

/* A value the store and SQLite read back from the meta table, via the C API. */
static char *meta_schema(const char *dir)
{
	char *path = NULL, *v = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	ASSERT_TRUE(asprintf(&path, "%s/zrobot.db", dir) > 0);
	ASSERT_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'", -1, &s, NULL),
		      SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW) {
		v = strdup((const char *)sqlite3_column_text(s, 0));
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
	return v;
}

/* ---- remote robots and template repositories, copied out of the walks ---- */

struct rows {
	char *v[8][4]; /* up to 8 rows of up to 4 columns; NULL columns stay NULL */
	size_t n;
	size_t stop_at; /* > 0: the walk's callback returns -ECANCELED at that row */
};

static int remote_fn(const char *name, const char *url, const char *token_file, void *data)
{
	struct rows *r = data;
	if (r->stop_at > 0 && r->n + 1 == r->stop_at) {
		return -ECANCELED;
	}
	ASSERT_LT_SIZE(r->n, 8);
	ASSERT_NOT_NULL(name);
	ASSERT_NOT_NULL(url);
	r->v[r->n][0] = strdup(name);
	r->v[r->n][1] = strdup(url);
	r->v[r->n][2] = dup_or_null(token_file);
	r->n++;
	return 0;
}

static int repo_fn(const char *id, const char *url, const char *ref, const char *commit, void *data)
{
	struct rows *r = data;
	ASSERT_LT_SIZE(r->n, 8);
	r->v[r->n][0] = strdup(id);
	r->v[r->n][1] = strdup(url);
	r->v[r->n][2] = dup_or_null(ref);
	r->v[r->n][3] = strdup(commit);
	r->n++;
	return 0;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < 8; i++) {
		for (size_t j = 0; j < 4; j++) {
			free(r->v[i][j]);
		}
	}
	*r = (struct rows){0};
}

static void remotes(struct zr_store *st, struct rows *r)
{
	*r = (struct rows){0};
	ASSERT_OK(zr_store_remotes(st, remote_fn, r));
}

/* One table's existence, read with the C API. */
static bool has_table(const char *dir, const char *table)
{
	char *path = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	ASSERT_TRUE(asprintf(&path, "%s/zrobot.db", dir) > 0);
	ASSERT_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
					 -1, &s, NULL), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC), SQLITE_OK);
	bool found = sqlite3_step(s) == SQLITE_ROW;
	sqlite3_finalize(s);
	sqlite3_close(db);
	free(path);
	return found;
}

/* ---- tests ---- */

/* Everything synced comes back after close and reopen: services in insertion order, tasks in
 * id order (whatever order they were written in), every field, binary results, updates,
 * deletions; and a second session's changes on top of a loaded store. */
TEST(roundtrip)
{
	const char *dir = scratch_dir();
	struct zr_store *st = open_store(dir);
	struct loaded l;
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 0);
	ASSERT_EQ_SIZE(l.n_tasks, 0);
	loaded_free(&l);

	struct zr_store_service a = svc("alpha", "g-a", "{\"greeting\":\"hi\"}", 111);
	struct zr_store_service b = svc("beta", "g-b", "{}", 222);
	struct zr_store_service c = svc("gamma", "g-c", "{\"count\":3}", 333);
	struct zr_store_service d = svc("delta", "g-d", "{}", 444);
	b.template = "other";
	b.uid = "local/other/2.1.0";
	b.secret = "";
	b.creator = "user:0123456789abcdef";
	zr_store_service_insert(st, &a);
	zr_store_service_insert(st, &b);
	zr_store_service_insert(st, &c);
	zr_store_service_insert(st, &d);
	/* Tasks written out of id order. */
	int64_t ids[] = {7, 2, 9, 4, 1};
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct zr_store_task t = queued_task(ids[i], ids[i] == 9 ? "g-b" : "g-a", "echo");
		zr_store_task_put(st, &t, false);
	}
	struct zr_store_task td = queued_task(20, "g-d", "slow");
	zr_store_task_put(st, &td, false);
	ASSERT_OK(sync_wait(st));

	/* Later changes: data, state, deleting, a task that finished (replaces the queued row),
	 * a task deleted (history trim), a service deleted with its tasks. */
	zr_store_service_data(st, "g-a", "{\"greeting\":\"bonjour\"}", false);
	zr_store_service_data(st, "g-b", "{\"x\":1}", true);
	zr_store_service_state(st, "g-a", "{\"actions echo ok\":\"ok\"}");
	zr_store_service_deleting(st, "g-c");
	static const char result[] = "line 1\n\0binary\xff\n";
	struct zr_store_task done = {
		.id = 2, .service_guid = "g-a", .action = "echo", .args = "{\"n\":2}", .state = "error",
		.error = "exit status 3\nboom\n", .result = result, .result_len = sizeof(result) - 1,
		.lane = 0, .err = 5, .attempt = 3, .created_ns = 1002, .started_ns = 5000,
		.finished_ns = 6000, .progress_done = 7, .progress_total = 10,
	};
	zr_store_task_put(st, &done, true);
	zr_store_task_delete(st, 4);
	zr_store_service_delete(st, "g-d");
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 3);
	ASSERT_EQ_STR(l.svcs[0].name, "alpha");
	ASSERT_EQ_STR(l.svcs[1].name, "beta");
	ASSERT_EQ_STR(l.svcs[2].name, "gamma");
	ASSERT_EQ_STR(l.svcs[0].template, "t");
	ASSERT_EQ_STR(l.svcs[0].guid, "g-a");
	ASSERT_EQ_STR(l.svcs[0].uid, "local/t/1.0.0");
	ASSERT_EQ_STR(l.svcs[0].data, "{\"greeting\":\"bonjour\"}");
	ASSERT_EQ_STR(l.svcs[0].state, "{\"actions echo ok\":\"ok\"}");
	ASSERT_EQ_STR(l.svcs[0].secret, "s3cret");
	ASSERT_EQ_STR(l.svcs[0].creator, "admin"); /* none given: the admin's */
	ASSERT_EQ_STR(l.svcs[1].creator, "user:0123456789abcdef");
	ASSERT_EQ_INT(l.svcs[0].created_ns, 111);
	ASSERT_FALSE(l.svcs[0].deleting);
	ASSERT_EQ_STR(l.svcs[1].template, "other");
	ASSERT_EQ_STR(l.svcs[1].uid, "local/other/2.1.0");
	ASSERT_EQ_STR(l.svcs[1].data, "{\"x\":1}");
	ASSERT_EQ_STR(l.svcs[1].secret, "");
	ASSERT_EQ_INT(l.svcs[1].created_ns, 222);
	ASSERT_EQ_STR(l.svcs[2].data, "{\"count\":3}");
	ASSERT_TRUE(l.svcs[2].deleting);

	/* 1 2 7 9 remain (4 deleted, 20 went with its service), ascending. */
	ASSERT_EQ_SIZE(l.n_tasks, 4);
	int64_t want[] = {1, 2, 7, 9};
	for (size_t i = 0; i < 4; i++) {
		ASSERT_EQ_INT(l.tasks[i].id, want[i]);
	}
	struct task_copy *t1 = &l.tasks[0], *t2 = &l.tasks[1];
	ASSERT_EQ_STR(t1->service_guid, "g-a");
	ASSERT_EQ_STR(t1->action, "echo");
	ASSERT_EQ_STR(t1->args, "{\"n\":1}");
	ASSERT_EQ_STR(t1->state, "queued");
	ASSERT_NULL(t1->error);
	ASSERT_EQ_SIZE(t1->result_len, 0);
	ASSERT_EQ_INT(t1->lane, 1);
	ASSERT_EQ_INT(t1->created_ns, 1001);
	ASSERT_EQ_INT(t1->started_ns, 0);
	ASSERT_EQ_STR(t2->state, "error");
	ASSERT_EQ_STR(t2->args, "{\"n\":2}");
	ASSERT_EQ_STR(t2->error, "exit status 3\nboom\n");
	ASSERT_EQ_MEM(t2->result, t2->result_len, result, sizeof(result) - 1);
	ASSERT_EQ_INT(t2->lane, 0);
	ASSERT_EQ_INT(t2->err, 5);
	ASSERT_EQ_INT(t2->attempt, 3);
	ASSERT_EQ_INT(t2->created_ns, 1002);
	ASSERT_EQ_INT(t2->started_ns, 5000);
	ASSERT_EQ_INT(t2->finished_ns, 6000);
	ASSERT_EQ_INT(t2->progress_done, 7);
	ASSERT_EQ_INT(t2->progress_total, 10);
	ASSERT_EQ_STR(l.tasks[3].service_guid, "g-b");
	loaded_free(&l);

	/* A load whose callback fails stops with that error. */
	l = (struct loaded){.stop_after = 2};
	ASSERT_EQ_INT(zr_store_load(st, load_svc, load_task, &l), -ECANCELED);
	ASSERT_EQ_SIZE(l.n_svcs, 1);
	ASSERT_EQ_SIZE(l.n_tasks, 0);
	loaded_free(&l);

	/* Second session: more changes after a load, then reopen once more. */
	struct zr_store_service e = svc("epsilon", "g-e", "{}", 555);
	zr_store_service_insert(st, &e);
	struct zr_store_task t3 = queued_task(3, "g-e", "echo");
	zr_store_task_put(st, &t3, false);
	zr_store_service_delete(st, "g-c");
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 3);
	ASSERT_EQ_STR(l.svcs[0].name, "alpha");
	ASSERT_EQ_STR(l.svcs[1].name, "beta");
	ASSERT_EQ_STR(l.svcs[2].name, "epsilon");
	ASSERT_EQ_SIZE(l.n_tasks, 5);
	ASSERT_EQ_INT(l.tasks[2].id, 3);
	ASSERT_EQ_STR(l.tasks[2].service_guid, "g-e");
	loaded_free(&l);
	close_store(st);

	/* The store wrote its schema version. */
	char *v = meta_schema(dir);
	char want_v[16];
	snprintf(want_v, sizeof(want_v), "%d", ZR_STORE_SCHEMA);
	ASSERT_EQ_STR(v, want_v);
	free(v);
}

/* Changes submitted in one loop turn share one commit; over many turns there are at most as
 * many commits as turns, however many changes and syncs each turn brings. */
struct turns {
	struct zr_store *st;
	uv_idle_t idle;
	int turn, turns, per_turn, fired, failed;
	int64_t next_id;
};

static void on_turn_sync(int err, void *data)
{
	struct turns *t = data;
	t->fired++;
	if (err < 0) {
		t->failed++;
	}
}

static void on_turn(uv_idle_t *h)
{
	struct turns *t = h->data;
	for (int i = 0; i < t->per_turn; i++) {
		struct zr_store_task task = queued_task(t->next_id++, "g-a", "echo");
		zr_store_task_put(t->st, &task, false);
		zr_store_sync(t->st, on_turn_sync, t);
	}
	if (++t->turn == t->turns) {
		(void)uv_idle_stop(h);
	}
}

/* Schema 5: a supervised service's server, one row per service, replaced at each change and
 * gone with its service; a service without one loads with want NULL. */
TEST(processes)
{
	const char *dir = scratch_dir();
	struct zr_store *st = open_store(dir);
	struct zr_store_service a = svc("alpha", "g-a", "{}", 1);
	struct zr_store_service b = svc("beta", "g-b", "{}", 2);
	struct zr_store_service c = svc("gamma", "g-c", "{}", 3);
	zr_store_service_insert(st, &a);
	zr_store_service_insert(st, &b);
	zr_store_service_insert(st, &c);
	struct zr_store_process pa = {.guid = "g-a", .want = "up", .cgroup = "/sys/fs/cgroup/x/g-a",
				      .pid = 4242, .start_time = 987654321, .failed = false};
	ASSERT_OK(zr_store_process_put(st, &pa, true));
	struct zr_store_process pc = {.guid = "g-c", .want = "once", .pid = 7, .start_time = 8};
	ASSERT_OK(zr_store_process_put(st, &pc, false));
	ASSERT_OK(sync_wait(st));
	/* Replaced: the server died, the budget ran out. */
	pa = (struct zr_store_process){.guid = "g-a", .want = "up", .failed = true};
	ASSERT_OK(zr_store_process_put(st, &pa, true));
	zr_store_service_delete(st, "g-c");
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	struct loaded l;
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 2);
	ASSERT_EQ_STR(l.svcs[0].guid, "g-a");
	ASSERT_EQ_STR(l.svcs[0].want, "up");
	ASSERT_NULL(l.svcs[0].cgroup);
	ASSERT_EQ_INT(l.svcs[0].pid, 0);
	ASSERT_EQ_INT(l.svcs[0].start_time, 0);
	ASSERT_TRUE(l.svcs[0].failed);
	ASSERT_EQ_STR(l.svcs[1].guid, "g-b");
	ASSERT_NULL(l.svcs[1].want);
	ASSERT_FALSE(l.svcs[1].failed);
	loaded_free(&l);
	/* The row of a deleted service went with it. */
	struct zr_store_service d = svc("gamma", "g-c", "{}", 4);
	zr_store_service_insert(st, &d);
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 3);
	ASSERT_EQ_STR(l.svcs[2].guid, "g-c");
	ASSERT_NULL(l.svcs[2].want);
	loaded_free(&l);
	zr_store_close(st);
}

TEST(group_commit)
{
	const char *dir = scratch_dir();
	struct zr_store *st = open_store(dir);
	uint64_t commits0, changes0, commits, changes;
	zr_store_stats(st, &commits0, &changes0);
	ASSERT_EQ_U64(commits0, 0);
	ASSERT_EQ_U64(changes0, 0);

	struct zr_store_service a = svc("alpha", "g-a", "{}", 1);
	zr_store_service_insert(st, &a);
	/* 1000 changes and 50 syncs in one turn: one transaction, every sync answered. */
	struct waiter w[50] = {0};
	for (int i = 0; i < 1000; i++) {
		struct zr_store_task t = queued_task(i + 1, "g-a", "echo");
		zr_store_task_put(st, &t, false);
		if (i % 20 == 19) {
			zr_store_sync(st, on_sync, &w[i / 20]);
		}
	}
	run_until(&w[49]);
	for (int i = 0; i < 50; i++) {
		ASSERT_EQ_INT(w[i].fired, 1);
		ASSERT_EQ_INT(w[i].err, 0);
	}
	zr_store_stats(st, &commits, &changes);
	ASSERT_EQ_U64(commits, 1);
	ASSERT_EQ_U64(changes, 1001);

	/* 200 turns of 10 changes, each with its own sync: the writer takes whatever piled up
	 * while it was busy, so commits <= turns, far fewer than changes. */
	struct turns t = {.st = st, .turns = 200, .per_turn = 10, .next_id = 5000};
	t.idle.data = &t;
	ASSERT_OK(uv_idle_init(&loop, &t.idle));
	ASSERT_OK(uv_idle_start(&t.idle, on_turn));
	uint64_t deadline = uv_hrtime() + 30ull * 1000 * 1000 * 1000;
	while (t.fired < t.turns * t.per_turn) {
		if (uv_hrtime() > deadline) {
			FAIL("only %d of %d syncs answered after 30 s", t.fired, t.turns * t.per_turn);
		}
		(void)uv_run(&loop, UV_RUN_ONCE);
	}
	ASSERT_EQ_INT(t.failed, 0);
	uv_close((uv_handle_t *)&t.idle, NULL);
	uint64_t c2, ch2;
	zr_store_stats(st, &c2, &ch2);
	uint64_t dc = c2 - commits, dch = ch2 - changes;
	fprintf(stderr, "group commit: %d turns, %" PRIu64 " changes in %" PRIu64 " commits\n",
		t.turns, dch, dc);
	ASSERT_EQ_U64(dch, 2000);
	ASSERT_GE_INT((long long)dc, 1);
	ASSERT_LE_INT((long long)dc, t.turns);
	/* "Much smaller": at least ten changes per commit on average. */
	ASSERT_LE_INT((long long)dc * 10, (long long)dch);
	close_store(st);

	/* All of it is there. */
	st = open_store(dir);
	struct loaded l;
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_tasks, 3000);
	for (size_t i = 1; i < l.n_tasks; i++) {
		ASSERT_LT_INT(l.tasks[i - 1].id, l.tasks[i].id);
	}
	loaded_free(&l);
	close_store(st);
}

/* A database written by a newer zrobot is refused, with a message naming both versions, and
 * left untouched. */
TEST(newer_schema_refused)
{
	const char *dir = scratch_dir();
	char *path = NULL;
	sqlite3 *db = NULL;
	ASSERT_TRUE(asprintf(&path, "%s/zrobot.db", dir) > 0);
	ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_exec(db, "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
				   "INSERT INTO meta VALUES ('schema', '99');"
				   "CREATE TABLE future (x);", NULL, NULL, NULL), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_close(db), SQLITE_OK);
	free(path);

	struct zr_store *st = NULL;
	char *why = NULL;
	int err = zr_store_open(&loop, dir, &st, &why);
	ASSERT_LT_INT(err, 0);
	ASSERT_NULL(st);
	ASSERT_NOT_NULL(why);
	fprintf(stderr, "refused: %s (%s)\n", why, strerror(-err));
	if (!strstr(why, "99") || !strstr(why, "newer")) {
		FAIL("message does not say the version is newer: %s", why);
	}
	char ours[32];
	snprintf(ours, sizeof(ours), "%d", ZR_STORE_SCHEMA);
	ASSERT_NOT_NULL(strstr(why, ours));
	free(why);
	char *v = meta_schema(dir);
	ASSERT_EQ_STR(v, "99");
	free(v);
	/* Refused twice in a row: the first refusal changed nothing. */
	why = NULL;
	ASSERT_LT_INT(zr_store_open(&loop, dir, &st, &why), 0);
	free(why);
}

/* A failing commit: while it fails, fill_fn keeps the disk full; free_fn frees it. */
struct failure {
	const char *what;
	int (*fill_fn)(const char *dir);
	void (*free_fn)(const char *dir);
	bool want_enospc; /* exactly -ENOSPC (else any negative errno) */
};

static void commit_failure(const char *dir, const struct failure *f)
{
	struct zr_store *st = open_store(dir);
	struct zr_store_service a = svc("alpha", "g-a", "{\"v\":\"before\"}", 1);
	zr_store_service_insert(st, &a);
	ASSERT_OK(sync_wait(st));

	ASSERT_OK(f->fill_fn(dir));
	/* A request's change too big for what is left: its sync gets the error. */
	size_t big = 1024 * 1024;
	char *blob = malloc(big + 16);
	ASSERT_NOT_NULL(blob);
	strcpy(blob, "{\"v\":\"");
	memset(blob + 6, 'x', big);
	strcpy(blob + 6 + big, "\"}");
	zr_store_service_data(st, "g-a", blob, false);
	int err = sync_wait(st);
	fprintf(stderr, "%s: sync got %d (%s)\n", f->what, err, err < 0 ? strerror(-err) : "ok");
	ASSERT_LT_INT(err, 0);
	if (f->want_enospc) {
		ASSERT_EQ_INT(err, -ENOSPC);
	} else if (err != -ENOSPC && err != -EIO) {
		FAIL("want ENOSPC or EIO, got %s", strerror(-err));
	}
	/* An internal change (the robot's own, e.g. a task's end) fails too but is kept. */
	zr_store_service_data(st, "g-a", blob, true);
	err = sync_wait(st);
	ASSERT_LT_INT(err, 0);

	/* Room again: the next group commits and carries the retried internal change. */
	f->free_fn(dir);
	struct zr_store_task t = queued_task(1, "g-a", "echo");
	zr_store_task_put(st, &t, false);
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	struct loaded l;
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 1);
	ASSERT_EQ_SIZE(l.n_tasks, 1);
	/* The retried internal change is the data now, whole. */
	ASSERT_EQ_STR(l.svcs[0].data, blob);
	loaded_free(&l);

	/* Failing again: the request's change is dropped, never half-applied, and a close while
	 * the disk is full answers every waiter. */
	zr_store_service_data(st, "g-a", "{\"v\":\"small\"}", false);
	ASSERT_OK(sync_wait(st));
	ASSERT_OK(f->fill_fn(dir));
	zr_store_service_data(st, "g-a", blob, false);
	ASSERT_LT_INT(sync_wait(st), 0);
	struct waiter w = {0};
	zr_store_service_data(st, "g-a", blob, false);
	zr_store_sync(st, on_sync, &w);
	close_store(st);
	ASSERT_EQ_INT(w.fired, 1);
	ASSERT_LT_INT(w.err, 0);
	f->free_fn(dir);

	st = open_store(dir);
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 1);
	ASSERT_EQ_STR(l.svcs[0].data, "{\"v\":\"small\"}");
	loaded_free(&l);
	close_store(st);
	free(blob);
}

/* Full filesystem: an 8 MiB tmpfs filled with a file, as root only. */
static char filler[4096];

static int tmpfs_fill(const char *dir)
{
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	FILE *f = fopen(filler, "w");
	ASSERT_NOT_NULL(f);
	static char buf[4096];
	while (fwrite(buf, 1, sizeof(buf), f) == sizeof(buf)) {
	}
	(void)fclose(f);
	struct stat sb;
	ASSERT_OK(stat(filler, &sb));
	ASSERT_GT_INT(sb.st_size, 0);
	return 0;
}

static void tmpfs_free(const char *dir)
{
	(void)dir;
	ASSERT_OK(unlink(filler));
}

/* A file size limit: writes past it fail (EFBIG, or short writes), no privilege needed. */
static struct rlimit old_fsize;

static off_t file_size(const char *dir, const char *name)
{
	char path[4096];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0 ? sb.st_size : 0;
}

static int fsize_fill(const char *dir)
{
	/* In WAL mode a commit appends to the WAL; the database file grows only at checkpoints,
	 * which a 1 MiB change does not trigger. */
	off_t wal = file_size(dir, "zrobot.db-wal");
	ASSERT_OK(getrlimit(RLIMIT_FSIZE, &old_fsize));
	struct rlimit r = old_fsize;
	r.rlim_cur = (rlim_t)wal + 64 * 1024;
	ASSERT_OK(setrlimit(RLIMIT_FSIZE, &r));
	return 0;
}

static void fsize_free(const char *dir)
{
	(void)dir;
	ASSERT_OK(setrlimit(RLIMIT_FSIZE, &old_fsize));
}

TEST(commit_failure_file_size_limit)
{
	/* Past the limit the kernel sends SIGXFSZ: ignored, the write fails instead. */
	signal(SIGXFSZ, SIG_IGN);
	struct failure f = {.what = "RLIMIT_FSIZE", .fill_fn = fsize_fill, .free_fn = fsize_free};
	commit_failure(scratch_dir(), &f);
}

TEST(commit_failure_full_tmpfs)
{
	const char *dir = scratch_dir();
	if (geteuid() != 0) {
		fprintf(stderr, "skip commit_failure_full_tmpfs: not root, cannot mount a tmpfs "
			"(the RLIMIT_FSIZE case covered the failure path)\n");
		return;
	}
	if (mount("tmpfs", dir, "tmpfs", 0, "size=8m,mode=0700") < 0) {
		fprintf(stderr, "skip commit_failure_full_tmpfs: mount tmpfs: %s "
			"(the RLIMIT_FSIZE case covered the failure path)\n", strerror(errno));
		return;
	}
	struct failure f = {.what = "full tmpfs", .fill_fn = tmpfs_fill, .free_fn = tmpfs_free,
			    .want_enospc = true};
	commit_failure(dir, &f);
}

/* Remote robots survive close and reopen, listed by their place (pos), not by insertion or
 * name; a put on an existing name replaces it (url, token file, place); a delete forgets it. */
TEST(remotes_roundtrip)
{
	const char *dir = scratch_dir();
	struct zr_store *st = open_store(dir);
	struct rows r;
	remotes(st, &r);
	ASSERT_EQ_SIZE(r.n, 0);
	rows_free(&r);

	/* Written out of order: pos says where each goes. */
	zr_store_remote_put(st, "lab", "http://10.0.0.2:8080", "/etc/zrobot/lab.token", 2);
	zr_store_remote_put(st, "zeta", "http://zeta.example:8080", NULL, 0);
	zr_store_remote_put(st, "alpha", "https://alpha.example", "/run/alpha.token", 1);
	zr_store_remote_put(st, "gone", "http://gone.example", NULL, 3);
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	remotes(st, &r);
	ASSERT_EQ_SIZE(r.n, 4);
	ASSERT_EQ_STR(r.v[0][0], "zeta");
	ASSERT_EQ_STR(r.v[0][1], "http://zeta.example:8080");
	ASSERT_NULL(r.v[0][2]);
	ASSERT_EQ_STR(r.v[1][0], "alpha");
	ASSERT_EQ_STR(r.v[1][1], "https://alpha.example");
	ASSERT_EQ_STR(r.v[1][2], "/run/alpha.token");
	ASSERT_EQ_STR(r.v[2][0], "lab");
	ASSERT_EQ_STR(r.v[2][1], "http://10.0.0.2:8080");
	ASSERT_EQ_STR(r.v[2][2], "/etc/zrobot/lab.token");
	ASSERT_EQ_STR(r.v[3][0], "gone");
	rows_free(&r);

	/* A walk whose callback fails stops with that error. */
	r = (struct rows){.stop_at = 2};
	ASSERT_EQ_INT(zr_store_remotes(st, remote_fn, &r), -ECANCELED);
	ASSERT_EQ_SIZE(r.n, 1);
	rows_free(&r);

	/* Forget one, move one to the front with a new URL and no token file, add one; and a
	 * delete of a name never stored is harmless. */
	zr_store_remote_delete(st, "gone");
	zr_store_remote_delete(st, "never-there");
	zr_store_remote_put(st, "lab", "http://10.0.0.3:9090", NULL, -1);
	zr_store_remote_put(st, "new", "http://new.example", "/t", 4);
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	remotes(st, &r);
	ASSERT_EQ_SIZE(r.n, 4);
	ASSERT_EQ_STR(r.v[0][0], "lab");
	ASSERT_EQ_STR(r.v[0][1], "http://10.0.0.3:9090");
	ASSERT_NULL(r.v[0][2]);
	ASSERT_EQ_STR(r.v[1][0], "zeta");
	ASSERT_EQ_STR(r.v[2][0], "alpha");
	ASSERT_EQ_STR(r.v[3][0], "new");
	ASSERT_EQ_STR(r.v[3][2], "/t");
	rows_free(&r);

	/* Remotes live beside services and tasks without touching them. */
	struct loaded l;
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 0);
	ASSERT_EQ_SIZE(l.n_tasks, 0);
	loaded_free(&l);
	close_store(st);
}

/* A database written by schema 2 (before remote robots) is migrated on open: its rows are
 * kept, meta says the current version (3 added remotes, 4 the creator), the remotes table
 * works, and its service was made by the admin. */
TEST(migrate_2_to_3)
{
	const char *dir = scratch_dir();
	char *path = NULL;
	sqlite3 *db = NULL;
	ASSERT_TRUE(asprintf(&path, "%s/zrobot.db", dir) > 0);
	ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	/* Schema 2's tables as zrobot wrote them (core/store.c at commit b7be61a). */
	ASSERT_EQ_INT(sqlite3_exec(db,
		"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
		"CREATE TABLE services ("
		" guid TEXT PRIMARY KEY, template TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL,"
		" data TEXT NOT NULL, state TEXT NOT NULL, secret TEXT NOT NULL, created INTEGER NOT NULL,"
		" deleting INTEGER NOT NULL DEFAULT 0);"
		"CREATE TABLE tasks ("
		" id INTEGER PRIMARY KEY, service TEXT NOT NULL, action TEXT NOT NULL, args TEXT NOT NULL,"
		" lane INTEGER NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL, started INTEGER,"
		" finished INTEGER, result BLOB, error TEXT, err INTEGER, attempt INTEGER,"
		" progress_done INTEGER, progress_total INTEGER);"
		"CREATE INDEX tasks_service ON tasks (service, id);"
		"CREATE TABLE repos ("
		" id TEXT PRIMARY KEY, url TEXT NOT NULL, ref TEXT, commit_id TEXT NOT NULL, pos INTEGER NOT NULL);"
		"INSERT INTO meta VALUES ('schema', '2');"
		"INSERT INTO meta VALUES ('task_id', '41');"
		"INSERT INTO services VALUES ('g-old', 't', 'old', 'local/t/1.0.0', '{\"v\":2}', '{}', 's',"
		" 77, 0);"
		"INSERT INTO tasks (id, service, action, args, lane, state, created)"
		" VALUES (40, 'g-old', 'echo', '{}', 1, 'done', 78);"
		"INSERT INTO repos VALUES ('main', 'https://git.example/t.git', 'main', 'abc123', 0);",
		NULL, NULL, NULL), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_close(db), SQLITE_OK);
	free(path);
	ASSERT_FALSE(has_table(dir, "remotes"));

	struct zr_store *st = open_store(dir);
	char *v = meta_schema(dir);
	char want_v[16];
	snprintf(want_v, sizeof(want_v), "%d", ZR_STORE_SCHEMA);
	ASSERT_EQ_INT(ZR_STORE_SCHEMA, 7);
	ASSERT_EQ_STR(v, want_v);
	free(v);
	ASSERT_TRUE(has_table(dir, "remotes"));

	/* Schema 2's rows are all there. */
	struct loaded l;
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 1);
	ASSERT_EQ_STR(l.svcs[0].guid, "g-old");
	ASSERT_EQ_STR(l.svcs[0].data, "{\"v\":2}");
	ASSERT_EQ_INT(l.svcs[0].created_ns, 77);
	ASSERT_NULL(l.svcs[0].upgrade_to);
	ASSERT_EQ_STR(l.svcs[0].creator, "admin");
	ASSERT_NULL(l.svcs[0].parent);
	ASSERT_NULL(l.svcs[0].blueprint);
	ASSERT_EQ_SIZE(l.n_tasks, 1);
	ASSERT_EQ_INT(l.tasks[0].id, 40);
	loaded_free(&l);
	ASSERT_EQ_INT(zr_store_last_task_id(st), 41);
	struct rows r = {0};
	ASSERT_OK(zr_store_repos(st, repo_fn, &r));
	ASSERT_EQ_SIZE(r.n, 1);
	ASSERT_EQ_STR(r.v[0][0], "main");
	ASSERT_EQ_STR(r.v[0][1], "https://git.example/t.git");
	ASSERT_EQ_STR(r.v[0][2], "main");
	ASSERT_EQ_STR(r.v[0][3], "abc123");
	rows_free(&r);
	remotes(st, &r);
	ASSERT_EQ_SIZE(r.n, 0);
	rows_free(&r);

	/* The new table and column take writes that survive a reopen. */
	zr_store_remote_put(st, "lab", "http://10.0.0.2:8080", NULL, 0);
	zr_store_service_upgrade_to(st, "g-old", "local/t/2.0.0", false);
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 1);
	ASSERT_EQ_STR(l.svcs[0].upgrade_to, "local/t/2.0.0");
	loaded_free(&l);
	remotes(st, &r);
	ASSERT_EQ_SIZE(r.n, 1);
	ASSERT_EQ_STR(r.v[0][0], "lab");
	ASSERT_EQ_STR(r.v[0][1], "http://10.0.0.2:8080");
	rows_free(&r);
	close_store(st);
	v = meta_schema(dir);
	ASSERT_EQ_STR(v, want_v);
	free(v);
}

/* ---- schema 6: parents, blueprint names, stored applies ---- */

struct bp_row {
	char *name, *content, *outcome;
	size_t len;
	long long applied_ns;
};

struct bp_rows {
	struct bp_row v[8];
	size_t n;
};

static int blueprint_fn(const char *name, const char *content, size_t len, const char *outcome,
			long long applied_ns, void *data)
{
	struct bp_rows *r = data;
	ASSERT_LT_SIZE(r->n, 8);
	ASSERT_NOT_NULL(name);
	ASSERT_NOT_NULL(content);
	/* The content ends with a NUL past its length: callers may read it as a string. */
	ASSERT_EQ_INT(content[len], '\0');
	char *c = malloc(len + 1);
	ASSERT_NOT_NULL(c);
	memcpy(c, content, len + 1);
	r->v[r->n++] = (struct bp_row){strdup(name), c, dup_or_null(outcome), len, applied_ns};
	return 0;
}

static void blueprints(struct zr_store *st, struct bp_rows *r)
{
	*r = (struct bp_rows){0};
	ASSERT_OK(zr_store_blueprints(st, blueprint_fn, r));
}

static void bp_rows_free(struct bp_rows *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].name), free(r->v[i].content), free(r->v[i].outcome);
	}
	*r = (struct bp_rows){0};
}

/* A service's parent and blueprint name go in with its row and change on their own (NULL
 * clears); stored applies are kept by name, in name order, replaced and forgotten; a content
 * is bytes (a NUL inside is kept). All of it survives a reopen. */
TEST(parents_and_blueprints)
{
	const char *dir = scratch_dir();
	struct zr_store *st = open_store(dir);
	struct zr_store_service a = svc("alpha", "g-a", "{}", 1);
	struct zr_store_service b = svc("beta", "g-b", "{}", 2);
	b.parent = "t/alpha";
	b.blueprint = "shop";
	ASSERT_OK(zr_store_service_insert(st, &a));
	ASSERT_OK(zr_store_service_insert(st, &b));
	ASSERT_OK(zr_store_blueprint_put(st, "shop", "services: []\n", 13, "created t/beta\n", 42));
	ASSERT_OK(zr_store_blueprint_put(st, "lab", "x\0y", 3, NULL, 7));
	ASSERT_OK(zr_store_blueprint_put(st, "empty", "", 0, "", 8));
	ASSERT_OK(sync_wait(st));

	st = reopen(st, dir);
	struct loaded l;
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 2);
	ASSERT_NULL(l.svcs[0].parent);
	ASSERT_NULL(l.svcs[0].blueprint);
	ASSERT_EQ_STR(l.svcs[1].parent, "t/alpha");
	ASSERT_EQ_STR(l.svcs[1].blueprint, "shop");
	loaded_free(&l);
	struct bp_rows r;
	blueprints(st, &r);
	ASSERT_EQ_SIZE(r.n, 3);
	ASSERT_EQ_STR(r.v[0].name, "empty");
	ASSERT_EQ_SIZE(r.v[0].len, 0);
	ASSERT_EQ_STR(r.v[0].outcome, "");
	ASSERT_EQ_STR(r.v[1].name, "lab");
	ASSERT_EQ_SIZE(r.v[1].len, 3);
	ASSERT_TRUE(memcmp(r.v[1].content, "x\0y", 3) == 0);
	ASSERT_NULL(r.v[1].outcome);
	ASSERT_EQ_INT(r.v[1].applied_ns, 7);
	ASSERT_EQ_STR(r.v[2].name, "shop");
	ASSERT_EQ_STR(r.v[2].content, "services: []\n");
	ASSERT_EQ_STR(r.v[2].outcome, "created t/beta\n");
	ASSERT_EQ_INT(r.v[2].applied_ns, 42);
	bp_rows_free(&r);

	/* Changed: a's parent set, b's cleared, b's blueprint moved, a's set; shop replaced, lab
	 * forgotten (and forgetting one that is not there is no error). */
	ASSERT_OK(zr_store_service_parent(st, "g-a", "t/gamma"));
	ASSERT_OK(zr_store_service_parent(st, "g-b", NULL));
	ASSERT_OK(zr_store_service_blueprint(st, "g-b", "other"));
	ASSERT_OK(zr_store_service_blueprint(st, "g-a", "shop"));
	ASSERT_OK(zr_store_blueprint_put(st, "shop", "services: [a]\n", 14, "unchanged t/beta\n", 43));
	ASSERT_OK(zr_store_blueprint_put(st, "lab", NULL, 0, NULL, 0));
	ASSERT_OK(zr_store_blueprint_put(st, "never", NULL, 0, NULL, 0));
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 2);
	ASSERT_EQ_STR(l.svcs[0].parent, "t/gamma");
	ASSERT_EQ_STR(l.svcs[0].blueprint, "shop");
	ASSERT_NULL(l.svcs[1].parent);
	ASSERT_EQ_STR(l.svcs[1].blueprint, "other");
	loaded_free(&l);
	blueprints(st, &r);
	ASSERT_EQ_SIZE(r.n, 2);
	ASSERT_EQ_STR(r.v[0].name, "empty");
	ASSERT_EQ_STR(r.v[1].name, "shop");
	ASSERT_EQ_STR(r.v[1].content, "services: [a]\n");
	ASSERT_EQ_STR(r.v[1].outcome, "unchanged t/beta\n");
	ASSERT_EQ_INT(r.v[1].applied_ns, 43);
	bp_rows_free(&r);

	/* Out of memory: nothing of the change is committed. The content is the stored apply's
	 * third allocation (the change, its name, then the content). */
	zr_store__fail_alloc(3);
	ASSERT_EQ_INT(zr_store_blueprint_put(st, "shop", "lost", 4, "x", 1), -ENOMEM);
	zr_store__fail_alloc(2);
	ASSERT_EQ_INT(zr_store_service_parent(st, "g-a", "t/lost"), -ENOMEM);
	zr_store__fail_alloc(0);
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	blueprints(st, &r);
	ASSERT_EQ_STR(r.v[1].content, "services: [a]\n");
	bp_rows_free(&r);
	load(st, &l);
	ASSERT_EQ_STR(l.svcs[0].parent, "t/gamma");
	loaded_free(&l);
	close_store(st);
}

/* A database written by schema 5 (before blueprints) is migrated on open: its services and
 * their servers are kept, with no parent and no blueprint; the blueprints table is made and
 * meta says 6. The new columns and table take writes. */
TEST(migrate_5_to_6)
{
	const char *dir = scratch_dir();
	char *path = NULL;
	sqlite3 *db = NULL;
	ASSERT_TRUE(asprintf(&path, "%s/zrobot.db", dir) > 0);
	ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	/* Schema 5's tables as zrobot wrote them (core/store-schema.c at commit 3c2ca6b: the
	 * tables of schema_sql, then upgrade_to and creator added by migrations 2 and 3). */
	ASSERT_EQ_INT(sqlite3_exec(db,
		"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
		"CREATE TABLE services ("
		" guid TEXT PRIMARY KEY, template TEXT NOT NULL, name TEXT NOT NULL, uid TEXT NOT NULL,"
		" data TEXT NOT NULL, state TEXT NOT NULL, secret TEXT NOT NULL, created INTEGER NOT NULL,"
		" deleting INTEGER NOT NULL DEFAULT 0);"
		"CREATE TABLE tasks ("
		" id INTEGER PRIMARY KEY, service TEXT NOT NULL, action TEXT NOT NULL, args TEXT NOT NULL,"
		" lane INTEGER NOT NULL, state TEXT NOT NULL, created INTEGER NOT NULL, started INTEGER,"
		" finished INTEGER, result BLOB, error TEXT, err INTEGER, attempt INTEGER,"
		" progress_done INTEGER, progress_total INTEGER);"
		"CREATE INDEX tasks_service ON tasks (service, id);"
		"CREATE TABLE repos ("
		" id TEXT PRIMARY KEY, url TEXT NOT NULL, ref TEXT, commit_id TEXT NOT NULL, pos INTEGER NOT NULL);"
		"CREATE TABLE remotes ("
		" name TEXT PRIMARY KEY, url TEXT NOT NULL, token_file TEXT, pos INTEGER NOT NULL);"
		"CREATE TABLE remote_consumers ("
		" producer TEXT NOT NULL, robot TEXT NOT NULL, consumer TEXT NOT NULL,"
		" PRIMARY KEY (producer, robot, consumer));"
		"CREATE TABLE remote_unlinks ("
		" remote TEXT NOT NULL, producer TEXT NOT NULL, consumer TEXT NOT NULL,"
		" PRIMARY KEY (remote, producer, consumer));"
		"CREATE TABLE processes ("
		" service TEXT PRIMARY KEY, want TEXT NOT NULL, cgroup TEXT, pid INTEGER NOT NULL,"
		" start_time INTEGER NOT NULL, failed INTEGER NOT NULL DEFAULT 0);"
		"ALTER TABLE services ADD COLUMN upgrade_to TEXT;"
		"ALTER TABLE services ADD COLUMN creator TEXT NOT NULL DEFAULT 'admin';"
		"INSERT INTO meta VALUES ('schema', '5');"
		"INSERT INTO services (guid, template, name, uid, data, state, secret, created, deleting,"
		" creator) VALUES ('g-5', 't', 'five', 'local/t/1.0.0', '{\"v\":5}', '{}', 's', 55, 0,"
		" 'user:0123456789abcdef');"
		"INSERT INTO processes VALUES ('g-5', 'up', NULL, 123, 456, 0);",
		NULL, NULL, NULL), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_close(db), SQLITE_OK);
	free(path);
	ASSERT_FALSE(has_table(dir, "blueprints"));

	struct zr_store *st = open_store(dir);
	char *v = meta_schema(dir);
	ASSERT_EQ_STR(v, "7");
	free(v);
	ASSERT_TRUE(has_table(dir, "blueprints"));
	struct loaded l;
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 1);
	ASSERT_EQ_STR(l.svcs[0].guid, "g-5");
	ASSERT_EQ_STR(l.svcs[0].data, "{\"v\":5}");
	ASSERT_EQ_STR(l.svcs[0].creator, "user:0123456789abcdef");
	ASSERT_EQ_STR(l.svcs[0].want, "up");
	ASSERT_EQ_INT(l.svcs[0].pid, 123);
	ASSERT_NULL(l.svcs[0].parent);
	ASSERT_NULL(l.svcs[0].blueprint);
	loaded_free(&l);
	struct bp_rows r;
	blueprints(st, &r);
	ASSERT_EQ_SIZE(r.n, 0);

	ASSERT_OK(zr_store_service_parent(st, "g-5", "t/six"));
	ASSERT_OK(zr_store_service_blueprint(st, "g-5", "bp"));
	ASSERT_OK(zr_store_blueprint_put(st, "bp", "{}", 2, "unchanged t/five\n", 9));
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	load(st, &l);
	ASSERT_EQ_STR(l.svcs[0].parent, "t/six");
	ASSERT_EQ_STR(l.svcs[0].blueprint, "bp");
	loaded_free(&l);
	blueprints(st, &r);
	ASSERT_EQ_SIZE(r.n, 1);
	ASSERT_EQ_STR(r.v[0].content, "{}");
	bp_rows_free(&r);
	close_store(st);
}

/* A change that cannot be allocated is refused with -ENOMEM and leaves no trace: the sync that
 * follows succeeds, yet nothing of the change is on disk (a request must fail, not be
 * acknowledged). A change of several rows (a service's deletion) goes whole or not at all. */
TEST(submit_out_of_memory)
{
	const char *dir = scratch_dir();
	struct zr_store *st = open_store(dir);
	struct zr_store_service a = svc("alpha", "g-a", "{\"v\":1}", 111);
	ASSERT_OK(zr_store_service_insert(st, &a));
	struct zr_store_task t = queued_task(1, "g-a", "echo");
	ASSERT_OK(zr_store_task_put(st, &t, false));
	ASSERT_OK(sync_wait(st));

	/* The change itself, then its second text. */
	zr_store__fail_alloc(1);
	ASSERT_EQ_INT(zr_store_service_data(st, "g-a", "{\"v\":2}", false), -ENOMEM);
	zr_store__fail_alloc(2);
	ASSERT_EQ_INT(zr_store_service_data(st, "g-a", "{\"v\":3}", true), -ENOMEM);
	/* The task's result: its blob, the sixth allocation (no error text). */
	static const char result[] = "out\n";
	struct zr_store_task t2 = queued_task(2, "g-a", "echo");
	t2.result = result;
	t2.result_len = sizeof(result) - 1;
	zr_store__fail_alloc(6);
	ASSERT_EQ_INT(zr_store_task_put(st, &t2, false), -ENOMEM);
	/* The second of the deletion's three rows. */
	zr_store__fail_alloc(3);
	ASSERT_EQ_INT(zr_store_service_delete(st, "g-a"), -ENOMEM);
	ASSERT_OK(sync_wait(st));

	/* Once memory is back, the same calls work. */
	zr_store__fail_alloc(0);
	ASSERT_OK(zr_store_task_id(st, 5));
	ASSERT_OK(sync_wait(st));
	st = reopen(st, dir);
	struct loaded l;
	load(st, &l);
	ASSERT_EQ_SIZE(l.n_svcs, 1);
	ASSERT_EQ_STR(l.svcs[0].data, "{\"v\":1}");
	ASSERT_EQ_SIZE(l.n_tasks, 1);
	ASSERT_EQ_INT(l.tasks[0].id, 1);
	ASSERT_EQ_INT(zr_store_last_task_id(st), 5);
	loaded_free(&l);
	close_store(st);
}

/* ---- checkpoints ---- */

#define CKPT_COMMITS 400
#define CKPT_BLOB (128 * 1024)

/* The bytes of task id's result. */
static void ckpt_blob(char *b, int64_t id)
{
	for (size_t i = 0; i < CKPT_BLOB; i++) {
		b[i] = (char)('a' + (id + (int64_t)i / 4096) % 26);
	}
}

static int skip_service(const struct zr_store_service *s, void *data)
{
	(void)s;
	(void)data;
	return 0;
}

struct ckpt_check {
	int64_t n;
	char *want;
};

static int check_ckpt_task(const struct zr_store_task *t, void *data)
{
	struct ckpt_check *c = data;
	c->n++;
	ASSERT_EQ_INT(t->id, c->n);
	ckpt_blob(c->want, t->id);
	ASSERT_EQ_MEM(t->result, t->result_len, c->want, (size_t)CKPT_BLOB);
	return 0;
}

/* What SQLite's WAL-index (zrobot.db-shm; https://sqlite.org/walformat.html, native byte
 * order) says: frames in the WAL now (mxFrame, in the first header copy), frames checkpoints
 * copied (nBackfill) and frames the last checkpoint set out to copy (nBackfillAttempted). A
 * checkpoint is copying while attempted > backfill. Read without SQLite's locks: enough to
 * wait for a checkpoint to finish. */
struct walidx {
	uint32_t frames, backfill, attempted;
};

static void walidx_read(const char *dir, struct walidx *w)
{
	char path[4096];
	unsigned char b[136];
	snprintf(path, sizeof(path), "%s/zrobot.db-shm", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_GE_INT(fd, 0);
	ASSERT_EQ_INT(pread(fd, b, sizeof(b), 0), (long long)sizeof(b));
	close(fd);
	memcpy(&w->frames, b + 16, 4);
	memcpy(&w->backfill, b + 96, 4);
	memcpy(&w->attempted, b + 128, 4);
}

/* SQLite's own checkpoint is off (it would run inside a commit): the WAL must still be copied
 * into the database while the store is open, and must not grow with everything written.
 *
 * How far the WAL grows depends on what commits while a checkpoint runs: the checkpointer
 * copies beside the writer (PASSIVE), and a WAL starts over only after a checkpoint that
 * copied every frame. On a loaded machine one checkpoint could last many commits of this
 * loop (39 MiB was seen with 8 tests on 2 cores), which says nothing about the store. So the
 * loop gives the checkpointer its turn: a commit waits until a checkpoint that is copying has
 * finished. Then what the WAL holds at most is the store's own doing (a checkpoint per
 * CKPT_PAGES, the writer's at CKPT_MAX_PAGES), whatever the scheduling: it must start over
 * several times and its file stay under 32 MiB. */
TEST(checkpoints)
{
	const char *dir = scratch_dir();
	struct zr_store *st = open_store(dir);
	char *blob = malloc(CKPT_BLOB);
	ASSERT_NOT_NULL(blob);
	struct zr_store_service a = svc("alpha", "g-a", "{}", 1);
	ASSERT_OK(zr_store_service_insert(st, &a));
	off_t wal_max = 0;
	uint32_t frames_max = 0, last = 0;
	int restarts = 0;
	for (int64_t id = 1; id <= CKPT_COMMITS; id++) {
		struct zr_store_task t = queued_task(id, "g-a", "echo");
		ckpt_blob(blob, id);
		t.result = blob;
		t.result_len = CKPT_BLOB;
		ASSERT_OK(zr_store_task_put(st, &t, false));
		ASSERT_OK(sync_wait(st));
		struct walidx w;
		walidx_read(dir, &w);
		restarts += w.frames < last;
		last = w.frames;
		frames_max = w.frames > frames_max ? w.frames : frames_max;
		/* The checkpointer's turn (at most a minute: one that never ends is a bug). */
		for (int i = 0; i < 60000 && w.attempted > w.backfill; i++) {
			usleep(1000);
			walidx_read(dir, &w);
		}
		ASSERT_TRUE(w.attempted <= w.backfill);
		off_t size = file_size(dir, "zrobot.db-wal");
		wal_max = size > wal_max ? size : wal_max;
	}
	/* Written: 400 x 128 KiB = 50 MiB (12,800 pages and their b-tree pages). The WAL starts
	 * over at 4,000 pages at the latest (16 MiB, and what committed while the checkpoint
	 * began), so at least 3 times; the database file holds what the checkpoints copied, all
	 * but the last few thousand pages. */
	long long written = (long long)CKPT_COMMITS * CKPT_BLOB;
	fprintf(stderr, "checkpoints: %lld MiB written, WAL at most %lld MiB (%u frames), started "
		"over %d times, database %lld MiB\n", written >> 20, (long long)wal_max >> 20,
		frames_max, restarts, (long long)file_size(dir, "zrobot.db") >> 20);
	ASSERT_GE_INT(restarts, 3);
	ASSERT_LT_INT((long long)wal_max, 32ll << 20);
	ASSERT_GT_INT((long long)file_size(dir, "zrobot.db"), written - (24ll << 20));

	st = reopen(st, dir);
	struct ckpt_check c = {.want = blob};
	ASSERT_OK(zr_store_load(st, skip_service, check_ckpt_task, &c));
	ASSERT_EQ_INT(c.n, CKPT_COMMITS);
	free(blob);
	close_store(st);
}

static int run_tests(void)
{
	ASSERT_OK(uv_loop_init(&loop));
	RUN_TEST(roundtrip);
	RUN_TEST(processes);
	RUN_TEST(group_commit);
	RUN_TEST(checkpoints);
	RUN_TEST(newer_schema_refused);
	RUN_TEST(remotes_roundtrip);
	RUN_TEST(migrate_2_to_3);
	RUN_TEST(migrate_5_to_6);
	RUN_TEST(parents_and_blueprints);
	RUN_TEST(commit_failure_file_size_limit);
	RUN_TEST(commit_failure_full_tmpfs);
	RUN_TEST(submit_out_of_memory);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_OK(uv_loop_close(&loop));
	return 0;
}

int main(void)
{
	ASSERT_TRUE(asprintf(&base_dir, "%s/zr-store.XXXXXX", test_tmp_dir()) > 0);
	ASSERT_NOT_NULL(mkdtemp(base_dir));
	fflush(NULL);
	pid_t pid = fork();
	ASSERT_TRUE(pid >= 0);
	if (pid == 0) {
		exit(run_tests());
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0) {
		ASSERT_EQ_INT(errno, EINTR);
	}
	cleanup_base();
	free(base_dir);
	if (WIFSIGNALED(status)) {
		fprintf(stderr, "FAIL: the tests died of signal %d (%s)\n", WTERMSIG(status),
			strsignal(WTERMSIG(status)));
		return 1;
	}
	return WEXITSTATUS(status);
}
