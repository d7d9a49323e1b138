/* Unit tests for core/graph.c (@robot/graph): a robot on a loop with a store in a scratch data
 * folder; services with local and remote producers and a parent; the dot text's nodes, edges,
 * clusters and quoting. */
#include "graph.h"

#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include "robot.h"
#include "service.h"
#include "store.h"
#include "test.h"

static uv_loop_t loop;
static uv_timer_t tick;
static char *base;
static struct zr_store *store;
static struct zr_robot *robot;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void make_template(const char *name, const char *manifest)
{
	char *dir = test_strf("%s/templates/%s", base, name);
	char *file = test_strf("%s/template.json", dir);
	ASSERT_OK(mkdir(dir, 0755));
	test_write_file(file, manifest, 0644);
	free(dir);
	free(file);
}

struct answer {
	bool fired;
	int err;
	char *why;
};

static void on_service(int err, const char *why, struct zr_service *s, void *data)
{
	struct answer *a = data;
	(void)s;
	a->fired = true;
	a->err = err;
	a->why = why ? strdup(why) : NULL;
}

static struct zr_service *create_ok(const char *tmpl, const char *name, const char *data)
{
	json_t *j = data ? json_loads(data, 0, NULL) : NULL;
	struct answer a = {0};
	zr_service_request_create(robot, NULL, tmpl, name, j, on_service, &a);
	json_decref(j);
	TEST_RUN_UNTIL(&loop, &tick, a.fired, "create %s/%s: no answer within 20 s", tmpl, name);
	if (a.err < 0) {
		FAIL("create %s/%s: %s (%s)", tmpl, name, strerror(-a.err), a.why ? a.why : "");
	}
	free(a.why);
	struct zr_service *s = zr_robot_service(robot, tmpl, name);
	ASSERT_NOT_NULL(s);
	return s;
}

static char *graph(void)
{
	struct zr_buf b = {0};
	ASSERT_OK(zr_graph_dot(robot, &b));
	ASSERT_NOT_NULL(b.data);
	return zr_buf_steal(&b);
}

#define ASSERT_HAS(text, needle)                                                                 \
	do {                                                                                     \
		if (!strstr((text), (needle))) {                                                 \
			FAIL("'%s' not in:\n%s", (needle), (text));                              \
		}                                                                                \
	} while (0)

TEST(empty)
{
	char *g = graph();
	ASSERT_EQ_STR(g, "digraph \"unit \\\"x\\\\\" {\n\tnode [shape=box, style=rounded];\n}\n");
	free(g);
}

TEST(services_and_relations)
{
	create_ok("db", "main", NULL);
	create_ok("web", "shop", "{\"db\": \"db/main\"}");
	create_ok("web", "far", "{\"db\": \"@remote/peer/db/x\"}");
	create_ok("web", "far2", "{\"db\": \"@remote/peer/db/y\"}");
	create_ok("web", "other", "{\"db\": \"@remote/aaa/db/z\"}");
	struct zr_service *child = create_ok("db", "kid", NULL);
	/* The parents module sets it (zr_service_set_parent); the graph only reads it. */
	child->parent = strdup("web/shop");

	char *g = graph();
	/* Nodes in path order, each once. */
	const char *a = strstr(g, "\t\"db/kid\";\n"), *b = strstr(g, "\t\"db/main\";\n");
	const char *c = strstr(g, "\t\"web/far\";\n"), *d = strstr(g, "\t\"web/shop\";\n");
	ASSERT_TRUE(a && b && c && d && a < b && b < c && c < d);
	ASSERT_HAS(g, "\t\"web/shop\" -> \"db/main\" [label=\"db\"];\n");
	ASSERT_HAS(g, "\t\"web/far\" -> \"@remote/peer/db/x\" [label=\"db\"];\n");
	ASSERT_HAS(g, "\t\"web/shop\" -> \"db/kid\" [style=dashed");
	/* One cluster per remote robot, sorted, its producers inside. */
	const char *ca = strstr(g, "\tsubgraph \"cluster_aaa\" {\n\t\tlabel=\"@remote/aaa\";\n");
	const char *cp = strstr(g, "\tsubgraph \"cluster_peer\" {\n\t\tlabel=\"@remote/peer\";\n");
	ASSERT_TRUE(ca && cp && ca < cp);
	ASSERT_HAS(cp, "\t\t\"@remote/peer/db/x\" [shape=box];\n"
		       "\t\t\"@remote/peer/db/y\" [shape=box];\n\t}\n");
	ASSERT_TRUE(strstr(ca, "@remote/peer/db/x") > cp);
	ASSERT_EQ_STR(g + strlen(g) - 5, "\t}\n}\n");
	free(g);
	free(child->parent);
	child->parent = NULL;
}

static bool stopped;

static void on_stopped(struct zr_robot *r)
{
	(void)r;
	stopped = true;
}

int main(void)
{
	ASSERT_TRUE(asprintf(&base, "%s/zr-graph.XXXXXX", test_tmp_dir()) > 0);
	ASSERT_NOT_NULL(mkdtemp(base));
	char *data = test_strf("%s/data", base);
	char *templates = test_strf("%s/templates", base);
	ASSERT_OK(mkdir(data, 0700));
	ASSERT_OK(mkdir(templates, 0755));
	make_template("db", "{\"name\": \"db\", \"version\": \"1.0.0\"}");
	make_template("web", "{\"name\": \"web\", \"version\": \"1.0.0\","
			     " \"consumes\": {\"db\": {\"template\": \"db\"}}}");

	ASSERT_OK(uv_loop_init(&loop));
	ASSERT_OK(uv_timer_init(&loop, &tick));
	char *why = NULL;
	int err = zr_store_open(&loop, data, &store, &why);
	if (err < 0) {
		FAIL("zr_store_open: %s", why ? why : strerror(-err));
	}
	/* A name dot must see quoted: '"' and '\' escaped. */
	struct zr_robot_config cfg = {
		.store = store, .mount = "/nonexistent", .data_dir = data, .name = "unit \"x\\",
		.jobs = 1, .queue_max = 16, .history = 16, .result_max = 4096, .kill_grace = 1,
	};
	ASSERT_OK(zr_robot_create(&loop, &cfg, &robot));
	ASSERT_EQ_INT(zr_robot_load_templates(robot, templates), 2);
	ASSERT_OK(zr_robot_load_store(robot));
	zr_robot_start(robot);

	RUN_TEST(empty);
	RUN_TEST(services_and_relations);

	zr_robot_stop(robot, on_stopped);
	TEST_RUN_UNTIL(&loop, &tick, stopped, "the robot did not stop within 20 s");
	zr_store_close(store);
	robot->cfg.store = NULL;
	zr_robot_destroy(robot);
	uv_close((uv_handle_t *)&tick, NULL);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_OK(uv_loop_close(&loop));
	(void)nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(data);
	free(templates);
	free(base);
	return 0;
}
