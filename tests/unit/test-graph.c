/* Unit tests for core/graph.c (@robot/graph): a robot on a loop with a store in a scratch data
 * folder; services with local and remote producers and a parent; the dot text's nodes, edges,
 * clusters and quoting. */
#include "graph.h"

#include "robot.h"
#include "service.h"
#include "store.h"
#include "test-fixture.h"
#include "test.h"

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

int main(void)
{
	fixture_init("graph");
	make_template("db", "{\"name\": \"db\", \"version\": \"1.0.0\"}", NULL);
	make_template("web", "{\"name\": \"web\", \"version\": \"1.0.0\","
			     " \"consumes\": {\"db\": {\"template\": \"db\"}}}", NULL);

	/* A name dot must see quoted: '"' and '\' escaped. */
	fixture_robot("unit \"x\\", 1, 2);
	zr_robot_start(robot);

	RUN_TEST(empty);
	RUN_TEST(services_and_relations);

	fixture_stop();
	fixture_finish();
	return 0;
}
