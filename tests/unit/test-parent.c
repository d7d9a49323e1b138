/* Unit tests for the parents of services (core/service-parent.c) without FUSE: a robot on a
 * loop with a store in a scratch data folder; zr_service_set_parent's checks (a missing
 * parent, itself, a cycle printed, who may), a pending parent accepted, children in name
 * order, the blueprint name, "recurse ACTION" in depth-first name order, and rmdir of a parent:
 * EBUSY with lasterror, then with force the children deleted first, in one commit. */
#include "robot.h"

#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "service.h"
#include "service-ctl.h"
#include "service-parent.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "test-fixture.h"
#include "test.h"

struct answer {
	bool fired;
	int calls;
	int err;
	struct zr_service *s;
};

static void on_service(int err, const char *why, struct zr_service *s, void *data)
{
	struct answer *a = data;
	(void)why;
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

static void wait_answer(struct answer *a)
{
	TEST_RUN_UNTIL(&loop, &tick, a->fired, "no answer within 20 s");
	ASSERT_EQ_INT(a->calls, 1);
}

static struct zr_service *create_ok(const char *tmpl, const char *name)
{
	struct answer a = {0};
	zr_service_request_create(robot, NULL, tmpl, name, NULL, on_service, &a);
	wait_answer(&a);
	ASSERT_OK(a.err);
	ASSERT_NOT_NULL(a.s);
	return a.s;
}

/* zr_service_set_parent as who, waited for: its result (the refusal's *why freed). */
static int set_parent(struct zr_service *s, const struct zr_actor *who, const char *parent,
		      char **ret_why)
{
	struct answer a = {0};
	char *why = NULL;
	int err = zr_service_set_parent(s, who, parent, &why, on_done, &a);
	if (err < 0) {
		ASSERT_FALSE(a.fired);
		if (ret_why) {
			*ret_why = why;
		} else {
			free(why);
		}
		return err;
	}
	ASSERT_NULL(why);
	wait_answer(&a);
	return a.err;
}

struct names {
	char text[512];
};

static void on_child(struct zr_service *c, void *data)
{
	struct names *n = data;
	size_t len = strlen(n->text);
	snprintf(n->text + len, sizeof(n->text) - len, "%s%s", len ? " " : "", c->path);
}

static const char *children(const struct zr_service *s, struct names *n)
{
	n->text[0] = '\0';
	zr_robot_children(robot, s, on_child, n);
	return n->text;
}

/* Where the first line of the robot's event journal holding text (and also, unless NULL,
 * text2) starts (-1: none). */
static long event_line(const char *text, const char *text2)
{
	char *all = fixture_events();
	long pos = -1;
	for (char *line = all, *end; pos < 0 && *line; line = end + (*end != '\0')) {
		end = strchrnul(line, '\n');
		char saved = *end;
		*end = '\0';
		if (strstr(line, text) && (!text2 || strstr(line, text2))) {
			pos = line - all;
		}
		*end = saved;
	}
	free(all);
	return pos;
}

static long event_pos(const char *text)
{
	return event_line(text, NULL);
}

/* A parent is set, shown, changed and cleared; children come in name order. */
TEST(set_and_children)
{
	struct zr_service *p = create_ok("node", "p");
	struct zr_service *k2 = create_ok("node", "k2");
	struct zr_service *k1 = create_ok("other", "k1");
	struct names n;
	ASSERT_EQ_STR(children(p, &n), "");
	ASSERT_OK(set_parent(k2, NULL, "node/p", NULL));
	ASSERT_OK(set_parent(k1, NULL, "node/p", NULL));
	ASSERT_EQ_STR(k1->parent, "node/p");
	ASSERT_EQ_STR(children(p, &n), "node/k2 other/k1");
	ASSERT_TRUE(event_pos("\"event\":\"parent.changed\",\"parent\":\"node/p\","
			      "\"service\":\"node/k2\"") >= 0);
	ASSERT_OK(set_parent(k2, NULL, "other/k1", NULL));
	ASSERT_EQ_STR(children(p, &n), "other/k1");
	ASSERT_EQ_STR(children(k1, &n), "node/k2");
	ASSERT_OK(set_parent(k2, NULL, NULL, NULL));
	ASSERT_NULL(k2->parent);
	ASSERT_EQ_STR(children(k1, &n), "");
	ASSERT_OK(zr_service_set_blueprint(k2, "shop"));
	ASSERT_EQ_STR(k2->blueprint, "shop");
	ASSERT_OK(zr_service_set_blueprint(k2, NULL));
	ASSERT_NULL(k2->blueprint);
}

/* Refusals: nothing changes, and why says it. */
TEST(refusals)
{
	struct zr_service *a = create_ok("node", "ra");
	struct zr_service *b = create_ok("node", "rb");
	struct zr_service *c = create_ok("node", "rc");
	char *why = NULL;
	ASSERT_OK(set_parent(b, NULL, "node/ra", NULL));
	ASSERT_OK(set_parent(c, NULL, "node/rb", NULL));

	ASSERT_EQ_INT(set_parent(a, NULL, "node/rc", &why), -EINVAL);
	ASSERT_EQ_STR(why, "cycle: node/ra -> node/rc -> node/rb -> node/ra");
	free(why);
	ASSERT_NULL(a->parent);
	ASSERT_EQ_INT(set_parent(a, NULL, "node/ra", &why), -EINVAL);
	ASSERT_TRUE(strstr(why, "own parent") != NULL);
	free(why);
	ASSERT_EQ_INT(set_parent(a, NULL, "node/none", &why), -EINVAL);
	ASSERT_TRUE(strstr(why, "no such service: node/none") != NULL);
	free(why);
	ASSERT_EQ_INT(set_parent(a, NULL, "@remote/x/node/n", NULL), -EINVAL);
	ASSERT_EQ_INT(set_parent(a, NULL, "node", NULL), -EINVAL);

	/* A user token may change neither the admin's service nor list it under another. */
	struct zr_actor user;
	ASSERT_OK(zr_actor_user("tok", 3, &user));
	ASSERT_EQ_INT(set_parent(c, &user, "node/ra", NULL), -EACCES);
	ASSERT_EQ_STR(c->parent, "node/rb");
}

/* A parent created in this loop turn (not committed yet) may be named: an apply creates a
 * parent and its children together. */
TEST(pending_parent)
{
	struct zr_service *k = create_ok("node", "pk");
	struct answer made = {0};
	zr_service_request_create(robot, NULL, "node", "pp", NULL, on_service, &made);
	struct zr_service *pp = zr_robot_service(robot, "node", "pp");
	ASSERT_NOT_NULL(pp);
	ASSERT_TRUE(pp->pending);
	struct answer a = {0};
	char *why = NULL;
	ASSERT_OK(zr_service_set_parent(k, NULL, "node/pp", &why, on_done, &a));
	/* And a pending child too: the change joins its commit group. */
	ASSERT_OK(zr_service_set_parent(pp, NULL, NULL, &why, on_done, &made));
	wait_answer(&a);
	ASSERT_OK(a.err);
	TEST_RUN_UNTIL(&loop, &tick, made.calls == 2, "the create did not end");
	ASSERT_OK(made.err);
	ASSERT_FALSE(pp->pending);
	ASSERT_EQ_STR(k->parent, "node/pp");
}

/* recurse: the parent, then each descendant depth first in name order; one lacking the action
 * is skipped; an action the parent lacks is refused. */
TEST(recurse)
{
	struct zr_service *top = create_ok("node", "top");
	struct zr_service *t2 = create_ok("node", "t2");
	struct zr_service *t1 = create_ok("node", "t1");
	struct zr_service *t11 = create_ok("node", "t11");
	struct zr_service *o = create_ok("other", "t0");
	ASSERT_OK(set_parent(t2, NULL, "node/top", NULL));
	ASSERT_OK(set_parent(t1, NULL, "node/top", NULL));
	ASSERT_OK(set_parent(t11, NULL, "node/t1", NULL));
	ASSERT_OK(set_parent(o, NULL, "node/top", NULL));
	char *why = NULL;
	struct answer a = {0};
	ASSERT_EQ_INT(zr_service__recurse(top, NULL, "nope", &why, on_done, &a), -EINVAL);
	ASSERT_TRUE(strstr(why, "no action 'nope'") != NULL);
	free(why);
	why = NULL;
	ASSERT_FALSE(a.fired);
	ASSERT_OK(zr_service__recurse(top, NULL, "echo", &why, on_done, &a));
	wait_answer(&a);
	ASSERT_OK(a.err);
	/* Queued durably when cb fires: each has its task, ids in the walk's order. */
	struct zr_service *order[] = {top, t1, t11, t2};
	uint64_t last = 0;
	for (size_t i = 0; i < 4; i++) {
		struct zr_task *t = zr_service_newest(order[i], "echo");
		ASSERT_NOT_NULL(t);
		ASSERT_GT_INT((long long)t->id, (long long)last);
		last = t->id;
	}
	ASSERT_TRUE(zr_list_empty(&o->tasks));
}

/* rmdir of a parent: EBUSY with lasterror naming the children; with force, the children are
 * deleted first (deepest first), in one commit, then the parent. */
TEST(delete_cascade)
{
	struct zr_service *d = create_ok("node", "d");
	struct zr_service *e = create_ok("node", "e");
	struct zr_service *f = create_ok("other", "f");
	struct zr_service *g = create_ok("node", "g");
	ASSERT_OK(set_parent(e, NULL, "node/d", NULL));
	ASSERT_OK(set_parent(f, NULL, "node/d", NULL));
	ASSERT_OK(set_parent(g, NULL, "node/e", NULL));
	struct answer a = {0};
	zr_robot_delete_service(robot, d, on_done, &a);
	wait_answer(&a);
	ASSERT_EQ_INT(a.err, -EBUSY);
	ASSERT_TRUE(strstr(d->lasterror, "EBUSY has children: node/e, other/f; write force to ctl "
				      "first") != NULL);
	a = (struct answer){0};
	zr_robot_delete_service(robot, e, on_done, &a);
	wait_answer(&a);
	ASSERT_EQ_INT(a.err, -EBUSY);

	/* force: one commit for the four. The tasks of the tests before (recurse's) are ended and
	 * their ends stored first, so that no commit of theirs lands in the window counted. */
	TEST_RUN_UNTIL(&loop, &tick,
		       robot->running == 0 && robot->running_processes == 0 && zr_list_empty(&robot->ready),
		       "tasks of earlier tests still running after 20 s");
	struct answer synced = {0};
	zr_store_sync(store, on_done, &synced);
	wait_answer(&synced);
	ASSERT_OK(synced.err);
	struct answer forced = {0};
	char *why = NULL;
	ASSERT_OK(zr_service_ctl(d, NULL, "force", 5, &why, on_done, &forced));
	ASSERT_OK(forced.err);
	uint64_t commits0, commits1, changes;
	zr_store_stats(store, &commits0, &changes);
	a = (struct answer){0};
	zr_robot_delete_service(robot, d, on_done, &a);
	wait_answer(&a);
	ASSERT_OK(a.err);
	zr_store_stats(store, &commits1, &changes);
	ASSERT_EQ_INT((long long)(commits1 - commits0), 1);
	ASSERT_NULL(zr_robot_service(robot, "node", "d"));
	ASSERT_NULL(zr_robot_service(robot, "node", "e"));
	ASSERT_NULL(zr_robot_service(robot, "other", "f"));
	ASSERT_NULL(zr_robot_service(robot, "node", "g"));
	long pg = event_pos("\"event\":\"service.deleted\",\"service\":\"node/g\"");
	long pe = event_pos("\"event\":\"service.deleted\",\"service\":\"node/e\"");
	long pf = event_pos("\"event\":\"service.deleted\",\"service\":\"other/f\"");
	long pd = event_pos("\"event\":\"service.deleted\",\"service\":\"node/d\"");
	ASSERT_TRUE(pg >= 0 && pg < pe && pe < pf && pf < pd);
	/* The on_delete actions: a parent's starts once its children's have ended. */
	TEST_RUN_UNTIL(&loop, &tick, zr_list_empty(&robot->deleting),
		       "the cascade is still deleting after 20 s");
	long end_g = event_line("\"event\":\"task.finished\"", "\"service\":\"node/g\"");
	long start_e = event_line("\"event\":\"task.started\"", "\"service\":\"node/e\"");
	long end_e = event_line("\"event\":\"task.finished\"", "\"service\":\"node/e\"");
	long start_d = event_line("\"event\":\"task.started\"", "\"service\":\"node/d\"");
	ASSERT_TRUE(end_g >= 0 && end_g < start_e && end_e < start_d);
}

int main(void)
{
	fixture_init("parent");
	make_template("node",
		      "{\"name\": \"node\", \"version\": \"1.0.0\","
		      " \"actions\": {\"echo\": {}, \"gone\": {}}, \"on_delete\": [\"gone\"]}",
		      "echo", "echo \"$ZR_SERVICE\"", "gone", "exit 0", NULL);
	make_template("other", "{\"name\": \"other\", \"version\": \"1.0.0\", \"actions\": {\"x\": {}}}",
		      "x", "true", NULL);

	fixture_robot("test", 2, 2);
	zr_robot_start(robot);

	RUN_TEST(set_and_children);
	RUN_TEST(refusals);
	RUN_TEST(pending_parent);
	RUN_TEST(recurse);
	RUN_TEST(delete_cascade);

	fixture_stop();
	fixture_finish();
	return 0;
}
