/* Unit tests for the tree (core/tree.h) without FUSE: a robot with one template on a private
 * data dir, driven through the tree's operations as a front end would. Lookup, readdir and
 * reads of local nodes; mkdir, writes to data and ctl, truncation, a write to an action file
 * and the read of its result parked and interrupted (-EINTR); rmdir; and the remote provider against this robot's own HTTP API on
 * 127.0.0.1:0, through @remote/self/ (lookup, listing, a read, a walk that stops there). */
#include "tree.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "remote/remote.h"
#include "robot.h"
#include "store.h"
#include "test.h"
#include "util/buf.h"

static uv_loop_t loop;
static struct zr_store *store;
static struct zr_robot *robot;
static struct zr_tree *tree;
static struct zr_api *api;
static struct zr_remotes *remotes;
static char *data_dir;
static unsigned invalidated;
static uint64_t attr_invalidated[8]; /* the last inodes whose attributes were invalidated */
static unsigned n_attr_invalidated;

/* ---- the front end's side ---- */

static void on_inval_entry(uint64_t parent, const char *name, void *data)
{
	(void)parent, (void)name, (void)data;
	invalidated++;
}

static void on_inval_attr(uint64_t ino, void *data)
{
	(void)data;
	attr_invalidated[n_attr_invalidated++ % 8] = ino;
}

static bool attr_was_invalidated(uint64_t ino)
{
	for (unsigned i = 0; i < 8 && i < n_attr_invalidated; i++) {
		if (attr_invalidated[i] == ino) {
			return true;
		}
	}
	return false;
}

static void on_poll_notify(void *ph, void *data)
{
	(void)ph, (void)data;
}

static const struct zr_tree_ops ops = {
	.inval_entry = on_inval_entry,
	.inval_attr = on_inval_attr,
	.poll_notify = on_poll_notify,
	.poll_destroy = on_poll_notify,
};

/* One answer of any operation, kept until the test reads it. */
struct answer {
	bool done;
	int err;
	ssize_t result;
	struct zr_tree_attr attr;
	struct zr_handle *h;
	struct zr_buf buf;
};

static void on_attr(int err, const struct zr_tree_attr *a, void *data)
{
	struct answer *r = data;
	ASSERT_FALSE(r->done);
	r->done = true;
	r->err = err;
	if (err == 0) {
		r->attr = *a;
	}
}

static void on_open(int err, struct zr_handle *h, const struct zr_tree_attr *a, void *data)
{
	struct answer *r = data;
	ASSERT_FALSE(r->done);
	r->done = true;
	r->err = err;
	r->h = h;
	if (err == 0) {
		r->attr = *a;
	}
}

static void on_read(int err, const char *buf, size_t len, void *data)
{
	struct answer *r = data;
	ASSERT_FALSE(r->done);
	r->done = true;
	r->err = err;
	if (err == 0) {
		ASSERT_OK(zr_buf_append(&r->buf, buf, len));
	}
}

static void on_done(ssize_t result, const struct zr_tree_attr *a, void *data)
{
	struct answer *r = data;
	ASSERT_FALSE(r->done);
	r->done = true;
	r->result = result;
	r->err = result < 0 ? (int)result : 0;
	if (a) {
		r->attr = *a;
	}
}

static void on_timeout(uv_timer_t *t)
{
	(void)t;
	FAIL("no answer within 10 s");
}

/* Runs the loop until r is answered (local nodes answer at once, remote ones over HTTP). */
static void wait_for(struct answer *r)
{
	uv_timer_t timer;
	uv_timer_init(&loop, &timer);
	uv_timer_start(&timer, on_timeout, 10000, 0);
	while (!r->done) {
		uv_run(&loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&timer, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}

static struct zr_tree_attr lookup(uint64_t parent, const char *name, int want_err)
{
	struct answer r = {0};
	zr_tree_lookup(tree, parent, name, on_attr, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, want_err);
	return r.attr;
}

static struct zr_handle *open_file(uint64_t ino, int flags)
{
	struct answer r = {0};
	zr_tree_open(tree, ino, flags, on_open, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, 0);
	return r.h;
}

/* The whole content of a file from offset 0, in one read. */
static char *read_all(uint64_t ino)
{
	struct zr_handle *h = open_file(ino, O_RDONLY);
	struct answer r = {0};
	struct zr_tree_req *req;
	zr_tree_read(tree, h, 0, 65536, on_read, &r, &req);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, 0);
	zr_tree_release(tree, h);
	ASSERT_OK(zr_buf_append(&r.buf, "", 1));
	return zr_buf_steal(&r.buf);
}

struct names {
	struct zr_buf all; /* "a b c " */
	unsigned n;
};

static bool fill(const char *name, const struct zr_tree_attr *a, uint64_t next_off, void *data)
{
	struct names *l = data;
	(void)a, (void)next_off;
	ASSERT_OK(zr_buf_printf(&l->all, "%s ", name));
	l->n++;
	return true;
}

static char *list(uint64_t ino)
{
	struct answer r = {0};
	struct names l = {0};
	zr_tree_opendir(tree, ino, on_open, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, 0);
	ASSERT_OK(zr_tree_readdir(tree, r.h, 0, 0, fill, &l));
	zr_tree_release(tree, r.h);
	ASSERT_OK(zr_buf_append(&l.all, "", 1));
	return zr_buf_steal(&l.all);
}

/* ---- set-up ---- */

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	ASSERT_TRUE(fputs(text, f) >= 0);
	ASSERT_EQ_INT(fclose(f), 0);
	ASSERT_EQ_INT(chmod(path, mode), 0);
}

static void start(void)
{
	char *why = NULL;
	char *tmpl = test_strf("%s/templates/echo/actions", data_dir);
	char *cmd = test_strf("mkdir -p %s", tmpl);
	ASSERT_EQ_INT(system(cmd), 0);
	free(cmd);
	free(tmpl);
	char *manifest = test_strf("%s/templates/echo/template.json", data_dir);
	write_file(manifest, "{\"name\": \"echo\", \"version\": \"1.0.0\", \"actions\": {\"hi\": {}}}\n", 0644);
	free(manifest);
	char *action = test_strf("%s/templates/echo/actions/hi", data_dir);
	/* Long enough for its result to be waited for; stopping the robot ends it. */
	write_file(action, "#!/bin/sh\nexec sleep 30\n", 0755);
	free(action);

	ASSERT_EQ_INT(uv_loop_init(&loop), 0);
	ASSERT_EQ_INT(zr_store_open(&loop, data_dir, &store, &why), 0);
	struct zr_robot_config cfg = {
		.store = store, .mount = "/nonexistent", .data_dir = data_dir, .name = "unit",
		.jobs = 1, .queue_max = 10, .history = 10, .result_max = 65536, .kill_grace = 1,
	};
	ASSERT_EQ_INT(zr_robot_create(&loop, &cfg, &robot), 0);
	char *dir = test_strf("%s/templates", data_dir);
	ASSERT_EQ_INT(zr_robot_load_templates(robot, dir), 1);
	free(dir);
	ASSERT_EQ_INT(zr_robot_load_store(robot), 0);
	ASSERT_EQ_INT(zr_tree_create(robot, &ops, NULL, &tree), 0);
}

static void on_stopped(struct zr_robot *r)
{
	(void)r;
	zr_store_close(store);
	zr_tree_cancel_all(tree, ENOTCONN);
	zr_remotes_destroy(remotes, ENOTCONN);
	zr_api_destroy(api);
	zr_tree_destroy(tree, ENOTCONN);
	zr_robot_destroy(robot);
}

static void stop(void)
{
	zr_robot_stop(robot, on_stopped);
	uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ_INT(uv_loop_close(&loop), 0);
}

/* ---- local nodes ---- */

TEST(lookup)
{
	struct zr_tree_attr a = lookup(ZR_TREE_ROOT_INO, "@robot", 0);
	ASSERT_TRUE(S_ISDIR(a.mode));
	a = lookup(ZR_TREE_ROOT_INO, "echo", 0);
	ASSERT_EQ_INT(a.mode, S_IFDIR | 0755);
	struct zr_tree_attr again = lookup(ZR_TREE_ROOT_INO, "echo", 0);
	ASSERT_EQ_U64(again.ino, a.ino);
	(void)lookup(ZR_TREE_ROOT_INO, "nope", -ENOENT);
	(void)lookup(a.ino, "nope", -ENOENT);
	struct zr_tree_attr info = lookup(lookup(ZR_TREE_ROOT_INO, "@robot", 0).ino, "info", 0);
	ASSERT_EQ_INT(info.mode, S_IFREG | 0444);
	(void)lookup(info.ino, "x", -ENOTDIR);
	zr_tree_forget(tree, info.ino, 1);
}

TEST(readdir)
{
	char *names = list(ZR_TREE_ROOT_INO);
	ASSERT_EQ_STR(names, "@remote @robot echo ");
	free(names);
	names = list(lookup(ZR_TREE_ROOT_INO, "@robot", 0).ino);
	ASSERT_EQ_STR(names, "blueprint blueprints events graph info log metrics remotes repos templates webhooks ");
	free(names);
}

TEST(read)
{
	struct zr_tree_attr a;
	size_t rest;
	ASSERT_EQ_INT(zr_tree_walk(tree, "@robot/templates/echo/uid", &a, &rest), 0);
	ASSERT_EQ_SIZE(rest, strlen("@robot/templates/echo/uid"));
	char *uid = read_all(a.ino);
	ASSERT_EQ_STR(uid, "local/echo/1.0.0\n");
	ASSERT_EQ_U64(a.size, strlen(uid));
	free(uid);
	zr_tree_forget(tree, a.ino, 1);
	ASSERT_EQ_INT(zr_tree_walk(tree, "@robot/info", &a, &rest), 0);
	char *info = read_all(a.ino);
	ASSERT_NOT_NULL(strstr(info, "\"name\": \"unit\""));
	free(info);
	zr_tree_forget(tree, a.ino, 1);
	ASSERT_EQ_INT(zr_tree_walk(tree, "echo/nope/state", &a, &rest), -ENOENT);
}

TEST(service)
{
	uint64_t tmpl = lookup(ZR_TREE_ROOT_INO, "echo", 0).ino;
	struct answer r = {0};
	zr_tree_mkdir(tree, tmpl, "s1", on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, 0);
	ASSERT_EQ_INT(r.attr.mode, S_IFDIR | 0755);
	uint64_t svc = r.attr.ino;
	r = (struct answer){0};
	zr_tree_mkdir(tree, tmpl, "s1", on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -EEXIST);
	r = (struct answer){0};
	zr_tree_mkdir(tree, ZR_TREE_ROOT_INO, "x", on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -EPERM);
	char *names = list(svc);
	ASSERT_EQ_STR(names, "actions children consumers ctl data events info lasterror log producers "
			     "results state tasks upgrade ");
	free(names);

	/* data: one write of a whole JSON object is validated and applied; a refusal is EINVAL
	 * from the write itself, with the reason in lasterror. */
	uint64_t data_ino = lookup(svc, "data", 0).ino;
	struct zr_handle *d = open_file(data_ino, O_WRONLY);
	r = (struct answer){0};
	zr_tree_write(tree, d, "{}", 2, 0, on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.result, 2);
	r = (struct answer){0};
	zr_tree_write(tree, d, "[1]", 3, 0, on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -EINVAL);
	zr_tree_release(tree, d);
	char *lasterror = read_all(lookup(svc, "lasterror", 0).ino);
	ASSERT_NOT_NULL(strstr(lasterror, "EINVAL"));
	free(lasterror);
	/* echo's O_TRUNC: accepted on files that take writes, refused on the others. */
	r = (struct answer){0};
	zr_tree_truncate(tree, data_ino, 0, on_attr, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, 0);
	r = (struct answer){0};
	zr_tree_truncate(tree, lookup(svc, "state", 0).ino, 0, on_attr, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -EPERM);
	/* ctl: its commands are the service's. */
	struct zr_handle *ctl = open_file(lookup(svc, "ctl", 0).ino, O_WRONLY);
	r = (struct answer){0};
	zr_tree_write(tree, ctl, "force\n", 6, 0, on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.result, 6);
	r = (struct answer){0};
	zr_tree_write(tree, ctl, "nonsense", 8, 0, on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -EINVAL);
	zr_tree_release(tree, ctl);

	/* A write to an action file queues a task; the read of the same handle waits for it. */
	uint64_t actions = lookup(svc, "actions", 0).ino;
	uint64_t hi = lookup(actions, "hi", 0).ino;
	struct zr_handle *h = open_file(hi, O_RDWR);
	r = (struct answer){0};
	zr_tree_write(tree, h, "hi\n", 3, 0, on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.result, 3);
	ASSERT_NE_U64(zr_tree_handle_task(h), 0);
	char *tasks = list(lookup(svc, "tasks", 0).ino);
	ASSERT_EQ_STR(tasks, "queue 1 ");
	free(tasks);
	r = (struct answer){0};
	zr_tree_write(tree, h, "nonsense here", 13, 0, on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -EINVAL);

	struct answer rr = {0};
	struct zr_tree_req *req;
	zr_tree_read(tree, h, 3, 4096, on_read, &rr, &req);
	ASSERT_NOT_NULL(req);
	ASSERT_FALSE(rr.done);
	ASSERT_EQ_SIZE(zr_tree_parked(tree), 1);
	uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_FALSE(rr.done);
	/* Ctrl-C: the front end cancels, the reader gets EINTR, the task goes on. */
	zr_tree_read_cancel(tree, req);
	ASSERT_TRUE(rr.done);
	ASSERT_EQ_INT(rr.err, -EINTR);
	ASSERT_EQ_SIZE(zr_tree_parked(tree), 0);
	zr_buf_done(&rr.buf);
	zr_tree_release(tree, h);

	/* The actor given with mkdir and rmdir reaches the model: a user token may not create
	 * a service of a template without "users", a secret may not delete its service. */
	struct zr_actor user, secret;
	ASSERT_OK(zr_actor_user("unit-tree-user-token", 20, &user));
	zr_actor_secret(zr_robot_service(robot, "echo", "s1")->guid, &secret);
	r = (struct answer){0};
	zr_tree_mkdir_as(tree, tmpl, "s2", &user, on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -EACCES);
	(void)lookup(tmpl, "s2", -ENOENT);
	r = (struct answer){0};
	zr_tree_rmdir_as(tree, tmpl, "s1", &secret, on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -EACCES);
	zr_tree_forget(tree, lookup(tmpl, "s1", 0).ino, 1);

	/* rmdir answers once the deletion is durable; the service leaves the tree. */
	r = (struct answer){0};
	zr_tree_rmdir(tree, tmpl, "s1", on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, 0);
	(void)lookup(tmpl, "s1", -ENOENT);
	r = (struct answer){0};
	zr_tree_getattr(tree, svc, on_attr, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -ENOENT);
	r = (struct answer){0};
	zr_tree_rmdir(tree, tmpl, "s1", on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, -ENOENT);
}

/* "." and "..": the listing has none (the front end adds them); zr_tree_parent gives "..". */
TEST(dots)
{
	uint64_t robot_dir = lookup(ZR_TREE_ROOT_INO, "@robot", 0).ino;
	uint64_t templates = lookup(robot_dir, "templates", 0).ino;
	struct zr_tree_attr info = lookup(robot_dir, "info", 0);
	ASSERT_EQ_U64(zr_tree_parent(tree, ZR_TREE_ROOT_INO), ZR_TREE_ROOT_INO);
	ASSERT_EQ_U64(zr_tree_parent(tree, robot_dir), ZR_TREE_ROOT_INO);
	ASSERT_EQ_U64(zr_tree_parent(tree, templates), robot_dir);
	ASSERT_EQ_U64(zr_tree_parent(tree, info.ino), 0);
	ASSERT_EQ_U64(zr_tree_parent(tree, 999999), 0);
	char *names = list(templates);
	ASSERT_EQ_STR(names, "echo ");
	free(names);
	zr_tree_forget(tree, info.ino, 1);
}

struct entries {
	unsigned n, counted;
	uint64_t ino[4];
};

static bool fill_inos(const char *name, const struct zr_tree_attr *a, uint64_t next_off, void *data)
{
	struct entries *l = data;
	(void)name, (void)next_off;
	if (l->n < 4) {
		l->ino[l->n] = a->ino;
	}
	l->n++;
	return true;
}

/* Directory attributes the kernel may cache (ZR_ATTR_STABLE) and their invalidation, the
 * listing a template's folder keeps, and plain readdir entries that make no node. */
TEST(cache)
{
	uint64_t tmpl = lookup(ZR_TREE_ROOT_INO, "echo", 0).ino;
	struct answer r = {0};
	zr_tree_getattr(tree, tmpl, on_attr, &r);
	wait_for(&r);
	ASSERT_TRUE(r.attr.flags & ZR_ATTR_STABLE);
	long long before = r.attr.mtime_ns;
	char *names = list(tmpl);
	ASSERT_EQ_STR(names, "");
	free(names);

	/* A service made: the template's time moves, its attributes and listing go. */
	n_attr_invalidated = 0;
	r = (struct answer){0};
	zr_tree_mkdir(tree, tmpl, "c1", on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, 0);
	uint64_t svc = r.attr.ino;
	ASSERT_TRUE(r.attr.flags & ZR_ATTR_STABLE);
	ASSERT_TRUE(attr_was_invalidated(tmpl));
	r = (struct answer){0};
	zr_tree_getattr(tree, tmpl, on_attr, &r);
	wait_for(&r);
	ASSERT_TRUE(r.attr.mtime_ns > before);
	names = list(tmpl);
	ASSERT_EQ_STR(names, "c1 ");
	free(names);
	/* Files and tasks/ change without an event: never cached. */
	struct zr_tree_attr kids[] = {lookup(svc, "state", 0), lookup(svc, "tasks", 0),
				      lookup(svc, "actions", 0)};
	ASSERT_FALSE(kids[0].flags & ZR_ATTR_STABLE);
	ASSERT_FALSE(kids[1].flags & ZR_ATTR_STABLE);
	ASSERT_TRUE(kids[2].flags & ZR_ATTR_STABLE);
	for (size_t i = 0; i < 3; i++) {
		zr_tree_forget(tree, kids[i].ino, 1);
	}

	/* Plain readdir: the kernel's node keeps its number; a node nobody holds is not made. */
	struct answer o = {0};
	struct entries l = {0};
	zr_tree_opendir(tree, tmpl, on_open, &o);
	wait_for(&o);
	ASSERT_OK(zr_tree_readdir(tree, o.h, 0, 0, fill_inos, &l));
	ASSERT_EQ_INT(l.n, 1);
	ASSERT_EQ_U64(l.ino[0], svc);
	/* Names only, of a listing still current: no lookup, so no number. */
	l = (struct entries){0};
	ASSERT_OK(zr_tree_readdir(tree, o.h, 0, ZR_TREE_READDIR_NAMES, fill_inos, &l));
	ASSERT_EQ_INT(l.n, 1);
	ASSERT_EQ_U64(l.ino[0], 0);
	zr_tree_forget(tree, svc, 1); /* mkdir's: nothing holds the node now */
	l = (struct entries){0};
	ASSERT_OK(zr_tree_readdir(tree, o.h, 0, 0, fill_inos, &l));
	ASSERT_EQ_INT(l.n, 1);
	ASSERT_EQ_U64(l.ino[0], 0);
	/* readdirplus: a node, counted once. */
	l = (struct entries){0};
	ASSERT_OK(zr_tree_readdir(tree, o.h, 0, ZR_TREE_READDIR_PLUS, fill_inos, &l));
	ASSERT_EQ_INT(l.n, 1);
	ASSERT_NE_U64(l.ino[0], 0);
	zr_tree_release(tree, o.h);
	zr_tree_forget(tree, l.ino[0], 1);

	/* A service deleted: the same, before rmdir is answered. */
	n_attr_invalidated = 0;
	before = lookup(ZR_TREE_ROOT_INO, "echo", 0).mtime_ns;
	r = (struct answer){0};
	zr_tree_rmdir(tree, tmpl, "c1", on_done, &r);
	wait_for(&r);
	ASSERT_EQ_INT(r.err, 0);
	ASSERT_TRUE(attr_was_invalidated(tmpl));
	ASSERT_TRUE(lookup(ZR_TREE_ROOT_INO, "echo", 0).mtime_ns > before);
	names = list(tmpl);
	ASSERT_EQ_STR(names, "");
	free(names);
}

/* ---- the remote provider, against our own HTTP API ---- */

TEST(remote)
{
	char *why = NULL;
	struct zr_api_config acfg = {
		.listen = "127.0.0.1:0", .data_dir = data_dir, .body_max = 1 << 20, .timeout = 30,
		.connections_max = 64, .wait_max = 60,
	};
	ASSERT_EQ_INT(zr_api_create(&loop, robot, tree, &acfg, &api, &why), 0);
	struct zr_remotes_config rcfg = {.timeout_ms = 5000};
	ASSERT_EQ_INT(zr_remotes_create(&loop, &rcfg, &remotes), 0);
	char *token = test_strf("%s/admin.token", data_dir);
	ASSERT_EQ_INT(zr_remotes_add(remotes, "self", zr_api_url(api), token, &why), 0);
	free(token);
	zr_tree_set_remotes(tree, remotes);

	char *names = list(lookup(ZR_TREE_ROOT_INO, "@remote", 0).ino);
	ASSERT_EQ_STR(names, "self ");
	free(names);
	uint64_t self = lookup(lookup(ZR_TREE_ROOT_INO, "@remote", 0).ino, "self", 0).ino;
	/* Over HTTP: the remote's listing of its root, then of @robot. */
	names = list(self);
	ASSERT_EQ_STR(names, "@remote @robot echo ");
	free(names);
	struct zr_tree_attr echo = lookup(self, "echo", 0);
	ASSERT_TRUE(S_ISDIR(echo.mode));
	(void)lookup(self, "nope", -ENOENT);
	uint64_t robot_dir = lookup(self, "@robot", 0).ino;
	struct zr_tree_attr uid = lookup(lookup(lookup(robot_dir, "templates", 0).ino, "echo", 0).ino, "uid", 0);
	char *text = read_all(uid.ino);
	ASSERT_EQ_STR(text, "local/echo/1.0.0\n");
	free(text);

	/* HTTP front ends walk local nodes only: the rest is that robot's to answer. */
	struct zr_tree_attr a;
	size_t rest;
	ASSERT_EQ_INT(zr_tree_walk(tree, "@remote/self/echo", &a, &rest), -EREMOTE);
	ASSERT_EQ_U64(a.ino, self);
	ASSERT_EQ_STR("@remote/self/echo" + rest, "echo");
	zr_tree_forget(tree, a.ino, 1);
}

int main(void)
{
	char *tmpl = test_strf("%s/test-tree-XXXXXX", test_tmp_dir());
	data_dir = mkdtemp(tmpl);
	ASSERT_NOT_NULL(data_dir);
	start();
	RUN_TEST(lookup);
	RUN_TEST(readdir);
	RUN_TEST(read);
	RUN_TEST(service);
	RUN_TEST(dots);
	RUN_TEST(cache);
	RUN_TEST(remote);
	stop();
	char *cmd = test_strf("rm -rf '%s'", data_dir);
	ASSERT_EQ_INT(system(cmd), 0);
	free(cmd);
	free(data_dir);
	return 0;
}
