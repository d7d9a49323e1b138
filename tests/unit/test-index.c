/* Unit tests for the robot's index of parents and producers (core/service-index.c) without
 * FUSE: a robot on a loop with a store in a scratch data folder. After each kind of change
 * (create, parent set and none, a data write that changes producers, an upgrade whose roles
 * differ, delete, a forced cascade, a restart's load, an apply and its prune) the index agrees
 * exactly with a walk of every service (zr_robot__index_verify), and children and consumers
 * come in path order. Also the apply plan's refusal of a parent chain deeper than 64
 * generations, before anything changes, through entries alone and through services. */
#include "robot.h"

#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "service.h"
#include "service-ctl.h"
#include "service-index.h"
#include "store.h"
#include "template.h"
#include "util/buf.h"
#include "test.h"

static uv_loop_t loop;
static uv_timer_t tick;
static char *base, *data_dir, *templates;
static struct zr_store *store;
static struct zr_robot *robot;
static bool stopped;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* <dir>/<folder>/ with manifest and one action "x" (true). */
static void make_template(const char *dir, const char *folder, const char *manifest)
{
	char *t = test_strf("%s/%s", dir, folder);
	char *actions = test_strf("%s/actions", t);
	char *file = test_strf("%s/template.json", t);
	char *x = test_strf("%s/x", actions);
	ASSERT_OK(mkdir(t, 0755));
	ASSERT_OK(mkdir(actions, 0755));
	test_write_file(file, manifest, 0644);
	test_write_file(x, "#!/bin/sh\ntrue\n", 0755);
	free(t);
	free(actions);
	free(file);
	free(x);
}

struct answer {
	bool fired;
	int calls;
	int err;
	struct zr_service *s;
};

static void on_service(int err, const char *why, struct zr_service *s, void *data)
{
	struct answer *a = data;
	if (why) {
		fprintf(stderr, "refused: %s\n", why);
	}
	a->fired = true;
	a->calls++;
	a->err = err;
	a->s = s;
}

static void on_done(int err, void *data)
{
	struct answer *a = data;
	a->fired = true;
	a->calls++;
	a->err = err;
}

static void on_request(int err, const char *why, void *data)
{
	(void)why;
	on_done(err, data);
}

static void wait_answer(struct answer *a)
{
	TEST_RUN_UNTIL(&loop, &tick, a->fired, "no answer within 20 s");
	ASSERT_EQ_INT(a->calls, 1);
}

static struct zr_service *svc(const char *tmpl, const char *name)
{
	return zr_robot_service(robot, tmpl, name);
}

/* Creates tmpl/name with data (JSON text; NULL: none), waited for. */
static struct zr_service *create_ok(const char *tmpl, const char *name, const char *data)
{
	struct answer a = {0};
	json_t *j = data ? json_loads(data, 0, NULL) : NULL;
	ASSERT_TRUE(!data || j);
	zr_service_request_create(robot, NULL, tmpl, name, j, on_service, &a);
	json_decref(j);
	wait_answer(&a);
	ASSERT_OK(a.err);
	ASSERT_NOT_NULL(a.s);
	ASSERT_OK(zr_robot__index_verify(robot));
	return a.s;
}

static void set_parent_ok(struct zr_service *s, const char *parent)
{
	struct answer a = {0};
	char *why = NULL;
	ASSERT_OK(zr_service_set_parent(s, NULL, parent, &why, on_done, &a));
	wait_answer(&a);
	ASSERT_OK(a.err);
	ASSERT_OK(zr_robot__index_verify(robot));
}

static void set_data_ok(struct zr_service *s, const char *data)
{
	struct answer a = {0};
	json_t *j = json_loads(data, 0, NULL);
	ASSERT_NOT_NULL(j);
	zr_service_request_data(s, NULL, j, on_request, &a);
	json_decref(j);
	wait_answer(&a);
	ASSERT_OK(a.err);
	ASSERT_OK(zr_robot__index_verify(robot));
}

static int delete(struct zr_service *s, bool force)
{
	struct answer a = {0};
	char *why = NULL;
	if (force) {
		ASSERT_OK(zr_service_ctl(s, NULL, "force", 5, &why, on_done, &a));
		a = (struct answer){0};
	}
	zr_robot_delete_service(robot, s, on_done, &a);
	wait_answer(&a);
	ASSERT_OK(zr_robot__index_verify(robot));
	return a.err;
}

static void on_child(struct zr_service *c, void *data)
{
	struct zr_buf *b = data;
	ASSERT_OK(zr_buf_printf(b, "%s%s", b->len ? " " : "", c->path));
}

/* The children of path, "a/x b/y", compared with want. */
static void children_are(const char *tmpl, const char *name, const char *want)
{
	struct zr_buf b = {0};
	zr_robot_children(robot, svc(tmpl, name), on_child, &b);
	ASSERT_EQ_STR(b.data ? b.data : "", want);
	zr_buf_done(&b);
}

static void on_consumer(struct zr_service *c, const char *role, void *data)
{
	struct zr_buf *b = data;
	ASSERT_OK(zr_buf_printf(b, "%s%s:%s", b->len ? " " : "", c->path, role));
}

/* The consumers of path, "a/x:role b/y:role", compared with want. */
static void consumers_are(const char *tmpl, const char *name, const char *want)
{
	struct zr_buf b = {0};
	zr_robot_consumers(robot, svc(tmpl, name), on_consumer, &b);
	ASSERT_EQ_STR(b.data ? b.data : "", want);
	zr_buf_done(&b);
}

static void settle(void)
{
	TEST_RUN_UNTIL(&loop, &tick, zr_list_empty(&robot->deleting),
		       "deleted services still deleting after 20 s");
}

/* ---- tests ---- */

/* Children and consumers in path order, through every kind of change. */
TEST(changes)
{
	create_ok("node", "n1", NULL);
	create_ok("node", "n2", NULL);
	/* Both roles name n1: listed once per role, in the template's order (by name). */
	create_ok("app", "b", "{\"db\": [\"node/n1\"], \"cache\": \"node/n1\"}");
	create_ok("app", "a", "{\"db\": [\"node/n2\", \"node/n1\"]}");
	consumers_are("node", "n1", "app/a:db app/b:cache app/b:db");
	consumers_are("node", "n2", "app/a:db");

	set_parent_ok(svc("app", "b"), "node/n1");
	set_parent_ok(svc("app", "a"), "node/n1");
	set_parent_ok(svc("node", "n2"), "node/n1");
	children_are("node", "n1", "app/a app/b node/n2");
	set_parent_ok(svc("app", "a"), "node/n2");
	children_are("node", "n1", "app/b node/n2");
	children_are("node", "n2", "app/a");
	set_parent_ok(svc("app", "a"), NULL);
	children_are("node", "n2", "");

	/* One entry by its folder name, "<template>.<service>": a dot may be in the name. */
	create_ok("node", "d.1", NULL);
	set_parent_ok(svc("node", "d.1"), "node/n1");
	ASSERT_EQ_PTR(zr_robot__index_child(robot, "node/n1", "node.d.1"), svc("node", "d.1"));
	ASSERT_EQ_PTR(zr_robot__index_child(robot, "node/n1", "app.b"), svc("app", "b"));
	ASSERT_NULL(zr_robot__index_child(robot, "node/n1", "node.d"));
	ASSERT_NULL(zr_robot__index_child(robot, "node/n1", "node/d.1"));
	ASSERT_NULL(zr_robot__index_child(robot, "node/n2", "app.b"));
	ASSERT_EQ_PTR(zr_robot__index_consumer(robot, "node/n1", "app.a"), svc("app", "a"));
	ASSERT_NULL(zr_robot__index_consumer(robot, "node/n1", "node.n2"));
	ASSERT_OK(delete(svc("node", "d.1"), false));
	ASSERT_NULL(zr_robot__index_child(robot, "node/n1", "node.d.1"));

	/* A data write that drops one producer and adds another. */
	set_data_ok(svc("app", "a"), "{\"db\": [\"node/n2\"], \"cache\": \"node/n2\"}");
	consumers_are("node", "n1", "app/b:cache app/b:db");
	consumers_are("node", "n2", "app/a:cache app/a:db");

	/* An upgrade to a version with one more role, first in its order: the names follow. */
	const struct zr_robot_template *rt = zr_robot_template(robot, "app");
	ASSERT_EQ_INT((long long)rt->n_versions, 2);
	struct answer up = {0};
	char *why = NULL;
	ASSERT_OK(zr_service_upgrade(svc("app", "b"), rt->versions[1], &why, on_done, &up));
	wait_answer(&up);
	ASSERT_OK(up.err);
	TEST_RUN_UNTIL(&loop, &tick, svc("app", "b")->template == rt->versions[1],
		       "the upgrade did not happen");
	ASSERT_OK(zr_robot__index_verify(robot));
	consumers_are("node", "n1", "app/b:cache app/b:db");

	/* Deleting a consumer; then a parent with force takes its children. */
	ASSERT_OK(delete(svc("app", "a"), true));
	consumers_are("node", "n2", "");
	ASSERT_EQ_INT(delete(svc("node", "n1"), false), -EBUSY);
	ASSERT_OK(delete(svc("node", "n1"), true));
	ASSERT_NULL(svc("app", "b"));
	ASSERT_NULL(svc("node", "n2"));
	settle();
	ASSERT_OK(zr_robot__index_verify(robot));
}

struct outcome {
	bool fired;
	int err;
	char *text;
};

static void on_outcome(const struct zr_apply_outcome *o, void *data)
{
	struct outcome *out = data;
	struct zr_buf b = {0};
	zr_apply_outcome_text(o, &b);
	out->fired = true;
	out->err = o->err;
	out->text = zr_buf_steal(&b);
}

static void apply(const char *text, struct outcome *o)
{
	*o = (struct outcome){0};
	zr_apply(robot, NULL, text, strlen(text), NULL, on_outcome, o);
	TEST_RUN_UNTIL(&loop, &tick, o->fired, "no outcome within 20 s");
	ASSERT_OK(zr_robot__index_verify(robot));
}

/* "services:" with node/<prefix>0 .. <prefix><n-1>, each the child of the one before (the
 * first of parent, when given). */
static char *chain_blueprint(const char *prefix, unsigned n, const char *parent)
{
	struct zr_buf b = {0};
	ASSERT_OK(zr_buf_puts(&b, "services:\n"));
	for (unsigned i = 0; i < n; i++) {
		if (i == 0 && !parent) {
			ASSERT_OK(zr_buf_printf(&b, "  - node/%s0: {}\n", prefix));
		} else if (i == 0) {
			ASSERT_OK(zr_buf_printf(&b, "  - {template: node, name: %s0, parent: %s}\n",
						prefix, parent));
		} else {
			ASSERT_OK(zr_buf_printf(&b, "  - {template: node, name: %s%u, parent: node/%s%u}"
						"\n", prefix, i, prefix, i - 1));
		}
	}
	return zr_buf_steal(&b);
}

/* An apply files what it creates and prunes; a chain of 65 services (64 generations below its
 * root) is fine, 66 are refused by the plan, naming the entry, with nothing created. */
TEST(apply_depth)
{
	struct outcome o;
	char *bp = chain_blueprint("c", 65, NULL);
	apply(bp, &o);
	ASSERT_OK(o.err);
	free(o.text);
	free(bp);
	ASSERT_NOT_NULL(svc("node", "c64"));
	children_are("node", "c63", "node/c64");

	bp = chain_blueprint("d", 66, NULL);
	apply(bp, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	/* The 66th entry, on line 67. */
	ASSERT_NOT_NULL(strstr(o.text, "node/d65 line 67, column 5: parent chain deeper than 64"));
	free(o.text);
	free(bp);
	ASSERT_NULL(svc("node", "d0"));

	/* Through services: two more below c64, or c0 moved under a new one. */
	bp = chain_blueprint("e", 2, "node/c64");
	apply(bp, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(o.text, "node/e0 line 2, column 5: parent chain deeper than 64"));
	free(o.text);
	free(bp);
	ASSERT_NULL(svc("node", "e0"));
	apply("services:\n  - node/top: {}\n  - {template: node, name: c0, parent: node/top}\n", &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(o.text, "node/c0 line 3, column 5: parent chain deeper than 64"));
	free(o.text);
	ASSERT_NULL(svc("node", "top"));
	ASSERT_NULL(svc("node", "c0")->parent);

	/* One generation freed below: c0 may move then. */
	ASSERT_OK(delete(svc("node", "c64"), false));
	apply("services:\n  - node/top: {}\n  - {template: node, name: c0, parent: node/top}\n", &o);
	ASSERT_OK(o.err);
	free(o.text);
	ASSERT_EQ_STR(svc("node", "c0")->parent, "node/top");
	settle();
}

static void on_stopped(struct zr_robot *r)
{
	(void)r;
	stopped = true;
}

/* Opens the store and starts a robot on it; robot_down stops both. */
static void robot_up(void)
{
	char *why = NULL;
	int err = zr_store_open(&loop, data_dir, &store, &why);
	if (err < 0) {
		FAIL("zr_store_open: %s", why ? why : strerror(-err));
	}
	struct zr_robot_config cfg = {
		.store = store, .mount = "/nonexistent", .data_dir = data_dir, .name = "test",
		.jobs = 2, .queue_max = 16, .history = 16, .result_max = 4096, .kill_grace = 1,
	};
	char *v2 = test_strf("%s-2", templates);
	ASSERT_OK(zr_robot_create(&loop, &cfg, &robot));
	ASSERT_EQ_INT(zr_robot_load_templates(robot, templates), 2);
	ASSERT_EQ_INT(zr_robot_load_templates(robot, v2), 1);
	ASSERT_OK(zr_robot_load_store(robot));
	zr_robot_start(robot);
	free(v2);
}

static void robot_down(void)
{
	stopped = false;
	zr_robot_stop(robot, on_stopped);
	TEST_RUN_UNTIL(&loop, &tick, stopped, "the robot did not stop");
	zr_store_close(store);
	robot->cfg.store = NULL;
	zr_robot_destroy(robot);
	robot = NULL;
	store = NULL;
}

/* A restart files what the store holds. */
TEST(load)
{
	create_ok("node", "l1", NULL);
	create_ok("app", "l2", "{\"db\": \"node/l1\"}");
	set_parent_ok(svc("app", "l2"), "node/l1");
	robot_down();
	robot_up();
	ASSERT_OK(zr_robot__index_verify(robot));
	children_are("node", "l1", "app/l2");
	consumers_are("node", "l1", "app/l2:db");
}

int main(void)
{
	(void)signal(SIGPIPE, SIG_IGN);
	ASSERT_TRUE(asprintf(&base, "%s/zr-index.XXXXXX", test_tmp_dir()) > 0);
	ASSERT_NOT_NULL(mkdtemp(base));
	data_dir = test_strf("%s/data", base);
	templates = test_strf("%s/templates", base);
	char *v2 = test_strf("%s-2", templates);
	ASSERT_OK(mkdir(data_dir, 0700));
	ASSERT_OK(mkdir(templates, 0755));
	ASSERT_OK(mkdir(v2, 0755));
	make_template(templates, "node", "{\"name\": \"node\", \"version\": \"1.0.0\","
		      " \"actions\": {\"x\": {}}}");
	make_template(templates, "app", "{\"name\": \"app\", \"version\": \"1.0.0\","
		      " \"actions\": {\"x\": {}}, \"consumes\": {"
		      "\"db\": {\"template\": \"node\", \"min\": 0, \"max\": 3},"
		      " \"cache\": {\"template\": \"node\", \"min\": 0}}}");
	make_template(v2, "app", "{\"name\": \"app\", \"version\": \"2.0.0\","
		      " \"actions\": {\"x\": {}}, \"consumes\": {"
		      "\"a0\": {\"template\": \"node\", \"min\": 0},"
		      " \"cache\": {\"template\": \"node\", \"min\": 0},"
		      " \"db\": {\"template\": \"node\", \"min\": 0, \"max\": 3}}}");

	ASSERT_OK(uv_loop_init(&loop));
	ASSERT_OK(uv_timer_init(&loop, &tick));
	robot_up();

	RUN_TEST(changes);
	RUN_TEST(apply_depth);
	RUN_TEST(load);

	robot_down();
	uv_close((uv_handle_t *)&tick, NULL);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_OK(uv_loop_close(&loop));
	(void)nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(v2);
	free(data_dir);
	free(templates);
	free(base);
	return 0;
}
