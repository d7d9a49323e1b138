/* Unit tests for applying blueprints (apply.h) without FUSE: a robot on a loop with a real
 * store in a scratch folder; create, update, unchanged, queued, refused blueprints that leave
 * nothing behind (also when a change cannot be stored halfway: the store's fault hook),
 * cycles, versions, rights, prune, dry runs, stored applies, and a 1,000-service apply with
 * the store commits it costs. */
#include "apply.h"

#include <time.h>
#include <unistd.h>

#include "actor.h"
#include "robot.h"
#include "service.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "test-fixture.h"
#include "test.h"
#include "util/buf.h"

/* ---- applying ---- */

struct outcome {
	bool fired;
	int calls;
	int err;
	char *text;
	char *json;
};

static void on_outcome(const struct zr_apply_outcome *o, void *data)
{
	struct outcome *out = data;
	struct zr_buf b = {0};
	zr_apply_outcome_text(o, &b);
	json_t *j = zr_apply_outcome_json(o);
	ASSERT_NOT_NULL(j);
	out->fired = true;
	out->calls++;
	out->err = o->err;
	out->text = zr_buf_steal(&b);
	out->json = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
}

static void outcome_done(struct outcome *o)
{
	free(o->text);
	free(o->json);
	*o = (struct outcome){0};
}

static void apply_as(const struct zr_actor *who, const char *text,
		     const struct zr_apply_opts *opts, struct outcome *o)
{
	*o = (struct outcome){0};
	zr_apply(robot, who, text, strlen(text), opts, on_outcome, o);
	TEST_RUN_UNTIL(&loop, &tick, o->fired, "no outcome within 20 s");
	ASSERT_EQ_INT(o->calls, 1);
}

/* Applies text as the robot and checks the outcome's text. */
static void apply_expect(const char *text, const struct zr_apply_opts *opts, const char *want)
{
	struct outcome o;
	apply_as(NULL, text, opts, &o);
	ASSERT_EQ_STR(o.text, want);
	outcome_done(&o);
}

static struct zr_service *svc(const char *path)
{
	char t[64];
	snprintf(t, sizeof(t), "%s", path);
	char *slash = strchr(t, '/');
	ASSERT_NOT_NULL(slash);
	*slash = '\0';
	return zr_robot_service(robot, t, slash + 1);
}

static uint64_t commits(void)
{
	uint64_t c, n;
	zr_store_stats(store, &c, &n);
	return c;
}

/* Lets the loop run a little: tasks settle, deletions finish. */
static void settle(void)
{
	TEST_RUN_UNTIL(&loop, &tick, zr_list_empty(&robot->deleting),
		       "deleted services still deleting after 20 s");
}

/* ---- tests ---- */

/* Producers before consumers, data with defaults, the blueprint's name on each; a second
 * apply changes nothing; changed data is an update with the template's update_data. */
TEST(create_update_unchanged)
{
	const char *bp = "services:\n"
			 "  - app/a1: {db: node/n1}\n"
			 "  - node/n1: {port: 6380}\n";
	uint64_t c0 = commits();
	apply_expect(bp, NULL, "created node/n1\ncreated app/a1\n");
	/* Two waves (the producer first), one commit each, then the stored apply. */
	ASSERT_TRUE(commits() - c0 <= 4);
	struct zr_service *n1 = svc("node/n1"), *a1 = svc("app/a1");
	ASSERT_NOT_NULL(n1);
	ASSERT_NOT_NULL(a1);
	ASSERT_FALSE(a1->pending);
	ASSERT_EQ_INT(json_integer_value(json_object_get(n1->data, "port")), 6380);
	ASSERT_EQ_STR(json_string_value(json_object_get(a1->data, "db")), "node/n1");
	ASSERT_EQ_INT(json_integer_value(json_object_get(a1->data, "level")), 0);
	ASSERT_EQ_STR(n1->blueprint, "default");
	ASSERT_EQ_STR(a1->blueprint, "default");

	/* Idempotent: nothing changes, nothing is queued. */
	c0 = commits();
	apply_expect(bp, NULL, "unchanged node/n1\nunchanged app/a1\n");
	ASSERT_EQ_SIZE(a1->n_finished, 0);
	ASSERT_NULL(zr_queue_peek(&a1->queue));
	/* Only the stored apply's record is written. */
	ASSERT_TRUE(commits() - c0 <= 1);

	/* Equal after the defaults: still unchanged. */
	apply_expect("services:\n  - app/a1: {db: node/n1, level: 0}\n", NULL, "unchanged app/a1\n");

	struct outcome o;
	apply_as(NULL, "services:\n  - app/a1: {db: node/n1, level: 3}\n", NULL, &o);
	ASSERT_OK(o.err);
	ASSERT_TRUE(strncmp(o.text, "updated app/a1\nqueued app/a1 update_data task ", 46) == 0);
	ASSERT_EQ_INT(json_integer_value(json_object_get(a1->data, "level")), 3);
	ASSERT_NOT_NULL(strstr(o.json, "\"verb\":\"updated\""));
	outcome_done(&o);
	ASSERT_NOT_NULL(zr_service_newest(a1, "update_data"));
}

/* ZeroRobot's own form: "<uid-or-name>__<name>", action blocks with template, service and a
 * single action; tasks queued in listed order with their ids. */
TEST(zerorobot_form)
{
	const char *bp = "services:\n"
			 "  - github.com/zero-os/0-templates/node/1.0.0__z1: {port: 1}\n"
			 "  - node__z2: {}\n"
			 "actions:\n"
			 "  - template: github.com/zero-os/0-templates/node/1.0.0\n"
			 "    service: z1\n"
			 "    actions: echo\n"
			 "    args: {msg: hi}\n"
			 "  - {template: node, actions: [start]}\n";
	struct outcome o;
	apply_as(NULL, bp, NULL, &o);
	ASSERT_OK(o.err);
	struct zr_service *z1 = svc("node/z1"), *z2 = svc("node/z2");
	ASSERT_NOT_NULL(z1);
	ASSERT_NOT_NULL(z2);
	struct zr_task *echo = zr_service_newest(z1, "echo");
	struct zr_task *s1 = zr_service_newest(z1, "start");
	struct zr_task *s2 = zr_service_newest(z2, "start");
	ASSERT_NOT_NULL(echo);
	ASSERT_NOT_NULL(s1);
	ASSERT_NOT_NULL(s2);
	ASSERT_EQ_STR(json_string_value(json_object_get(echo->args, "msg")), "hi");
	char *want = test_strf("created node/z1\ncreated node/z2\n"
			       "queued node/z1 echo task %" PRIu64 "\n"
			       "queued node/z1 start task %" PRIu64 "\n"
			       "queued node/z2 start task %" PRIu64 "\n",
			       echo->id, s1->id, s2->id);
	ASSERT_EQ_STR(o.text, want);
	ASSERT_TRUE(echo->id < s1->id && s1->id < s2->id);
	free(want);
	outcome_done(&o);

	/* Applied again: unchanged, and only the listed actions queued again. */
	apply_as(NULL, bp, NULL, &o);
	ASSERT_OK(o.err);
	ASSERT_TRUE(strncmp(o.text, "unchanged node/z1\nunchanged node/z2\nqueued node/z1 echo",
			    55) == 0);
	outcome_done(&o);
}

/* A refused blueprint: the failed lines with their positions, then the error; nothing of it
 * is applied. */
TEST(refused)
{
	struct outcome o;
	apply_as(NULL, "services:\n"
		       "  - node/r1: {}\n"
		       "  - node/r2: {port: many}\n"
		       "  - nope/r3: {}\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(o.text, "failed node/r2 line 3, column 5: "));
	ASSERT_NOT_NULL(strstr(o.text, "failed nope/r3 line 4, column 5: no template nope\n"));
	ASSERT_NOT_NULL(strstr(o.text, "\nerror: node/r2 line 3, column 5: "));
	ASSERT_NULL(strstr(o.text, "created"));
	ASSERT_NULL(svc("node/r1"));
	ASSERT_NOT_NULL(strstr(o.json, "\"error\":\"node/r2 line 3"));
	outcome_done(&o);

	/* A producer that is neither listed nor on the robot, or of the wrong template. */
	apply_as(NULL, "services:\n  - app/r4: {db: node/none}\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(o.text, "failed app/r4 line 2, column 5: producer of role 'db'"));
	outcome_done(&o);
	apply_as(NULL, "services:\n  - app/r5: {db: app/r6}\n  - app/r6: {}\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(o.text, "is a 'app', not a 'node'"));
	ASSERT_NULL(svc("app/r6"));
	outcome_done(&o);

	/* Versions: a uid resolves by name and version; an existing service keeps its own. */
	apply_as(NULL, "services:\n  - github.com/x/node/0.0.1__r7: {}\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(o.text, "template node 0.0.1 not loaded (have 1.0.0)"));
	outcome_done(&o);
	apply_as(NULL, "services:\n  - {template: node, name: n1, version: 2.0.0}\n", NULL, &o);
	ASSERT_NOT_NULL(strstr(o.text, "node/n1 is 1.0.0; upgrade it first"));
	outcome_done(&o);

	/* An action a template does not have, and bad args. */
	apply_as(NULL, "services:\n  - node/r8: {}\nactions:\n  - {actions: [nope]}\n", NULL, &o);
	ASSERT_NOT_NULL(strstr(o.text, "failed node/r8 line 4, column 5: no action nope"));
	outcome_done(&o);
	apply_as(NULL, "services:\n  - node/r8: {}\nactions:\n  - {actions: echo, args: {n: x}}\n",
		 NULL, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(o.text, "action echo: "));
	outcome_done(&o);
	ASSERT_NULL(svc("node/r8"));

	/* Syntax: the parser's line and column, nothing else. */
	apply_as(NULL, "services: [\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_TRUE(strncmp(o.text, "error: line ", 12) == 0);
	outcome_done(&o);
}

/* A cycle of producers is printed on the entry that closes it; parents count too. */
TEST(cycles)
{
	struct outcome o;
	apply_as(NULL, "services:\n"
		       "  - ring/a: {next: ring/b}\n"
		       "  - ring/b: {next: ring/c}\n"
		       "  - ring/c: {next: ring/a}\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(o.text, "cycle: ring/a -> ring/b -> ring/c -> ring/a"));
	ASSERT_NULL(svc("ring/a"));
	outcome_done(&o);

	apply_as(NULL, "services:\n"
		       "  - {template: node, name: p1, parent: node/p2}\n"
		       "  - {template: node, name: p2, parent: node/p1}\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(o.text, "cycle: node/p1 -> node/p2 -> node/p1"));
	outcome_done(&o);
}

/* Parents from the long form and children:, set with the creation (parents first). */
TEST(parents)
{
	struct outcome o;
	apply_as(NULL, "services:\n"
		       "  - {template: node, name: kid, parent: node/top}\n"
		       "  - node/top: {}\n"
		       "  - node/kid2: {}\n"
		       "children:\n"
		       "  node/top: [node/kid2]\n", NULL, &o);
	ASSERT_OK(o.err);
	ASSERT_EQ_STR(o.text, "created node/top\ncreated node/kid\ncreated node/kid2\n");
	ASSERT_EQ_STR(svc("node/kid")->parent, "node/top");
	ASSERT_EQ_STR(svc("node/kid2")->parent, "node/top");
	outcome_done(&o);
	/* A parent that moves is an update. */
	apply_as(NULL, "services:\n  - {template: node, name: kid2, parent: node/kid}\n", NULL, &o);
	ASSERT_OK(o.err);
	ASSERT_EQ_STR(o.text, "updated node/kid2\n");
	ASSERT_EQ_STR(svc("node/kid2")->parent, "node/kid");
	outcome_done(&o);
}

/* A dry run says what would happen and changes nothing; prune deletes what the name no
 * longer lists (consumers first); a stored apply keeps the text and its outcome. */
TEST(dry_run_prune_stored)
{
	struct zr_apply_opts opts = {.name = "shop"};
	apply_expect("services:\n  - node/s1: {}\n  - app/s2: {db: node/s1}\n  - node/s3: {}\n",
		     &opts, "created node/s1\ncreated node/s3\ncreated app/s2\n");
	const struct zr_apply_stored *st = zr_apply_stored(robot, "shop");
	ASSERT_NOT_NULL(st);
	ASSERT_EQ_STR(st->outcome, "created node/s1\ncreated node/s3\ncreated app/s2\n");
	ASSERT_TRUE(strstr(st->content, "app/s2") != NULL);

	const char *less = "# zrobot: name=shop prune\nservices:\n  - node/s3: {}\n"
			   "actions:\n  - {actions: [start]}\n";
	struct zr_apply_opts dry = {.dry_run = true};
	apply_expect(less, &dry, "unchanged node/s3\ndelete app/s2\ndelete node/s1\n"
				 "queue node/s3 start\n");
	ASSERT_NOT_NULL(svc("app/s2"));
	ASSERT_NULL(zr_service_newest(svc("node/s3"), "start"));
	/* Dry runs are not stored. */
	ASSERT_EQ_STR(zr_apply_stored(robot, "shop")->outcome,
		      "created node/s1\ncreated node/s3\ncreated app/s2\n");

	struct outcome o;
	apply_as(NULL, less, NULL, &o);
	ASSERT_OK(o.err);
	ASSERT_TRUE(strncmp(o.text, "unchanged node/s3\ndeleted app/s2\ndeleted node/s1\n"
				    "queued node/s3 start task ", 75) == 0);
	outcome_done(&o);
	settle();
	ASSERT_NULL(svc("app/s2"));
	ASSERT_NULL(svc("node/s1"));
	ASSERT_NOT_NULL(svc("node/s3"));
	/* Without prune, other names are left alone. */
	ASSERT_NOT_NULL(svc("node/n1"));
}

/* Prune takes a parent with its children (deepest first, each with its on_delete); a child
 * that would stay refuses it. */
TEST(prune_parents)
{
	struct zr_apply_opts opts = {.name = "fam"};
	apply_expect("services:\n  - node/fa: {}\n  - {template: node, name: fb, parent: node/fa}\n"
		     "  - {template: node, name: fc, parent: node/fb}\n  - node/fd: {}\n", &opts,
		     "created node/fa\ncreated node/fd\ncreated node/fb\ncreated node/fc\n");
	struct zr_apply_opts prune = {.name = "fam", .prune = true};
	struct outcome o;
	apply_as(NULL, "services:\n  - node/fb: {}\n", &prune, &o);
	ASSERT_EQ_INT(o.err, -EBUSY);
	ASSERT_NOT_NULL(strstr(o.text, "failed node/fa (pruned): its child node/fb stays"));
	outcome_done(&o);
	ASSERT_NOT_NULL(svc("node/fa"));
	apply_expect("services:\n  - node/fd: {}\n", &prune,
		     "unchanged node/fd\ndeleted node/fc\ndeleted node/fb\ndeleted node/fa\n");
	settle();
	ASSERT_NULL(svc("node/fa"));
	ASSERT_NULL(svc("node/fb"));
	ASSERT_NULL(svc("node/fc"));
	ASSERT_NOT_NULL(svc("node/fd"));
}

/* An auto role left empty gets a producer of the role's template named like its consumer,
 * created before it; one the blueprint lists is taken as it is. */
TEST(auto_producers)
{
	struct zr_apply_opts opts = {.name = "auto"};
	apply_expect("services:\n  - web/w1: {}\n", &opts, "created node/w1\ncreated web/w1\n");
	ASSERT_EQ_STR(json_string_value(json_object_get(svc("web/w1")->data, "cache")), "node/w1");
	ASSERT_NULL(svc("node/w1")->parent);
	/* Applied again with prune: the auto producer, never listed, stays. */
	struct zr_apply_opts prune = {.name = "auto", .prune = true};
	apply_expect("services:\n  - web/w1: {}\n", &prune, "unchanged web/w1\n");
	ASSERT_NOT_NULL(svc("node/w1"));
	apply_expect("services:\n  - web/w2: {cache: node/w9}\n  - node/w9: {port: 9}\n", NULL,
		     "created node/w9\ncreated web/w2\n");
	ASSERT_NULL(svc("node/w2"));
}

/* Producers on other robots are looked up before anything changes, one entry at a time,
 * whether the answer comes at once or later; one that is not there refuses the blueprint. */
TEST(remote_producers)
{
	zr_robot_set_producer_check(robot, check_producer, NULL);
	for (int later = 0; later < 2; later++) {
		checks_later = later;
		checks = 0;
		struct outcome o;
		char *bp = test_strf("services:\n  - app/x%d: {db: \"@remote/far/node/there\"}\n"
				     "  - app/y%d: {db: \"@remote/far/node/gone\"}\n"
				     "  - node/rz%d: {}\n", later, later, later);
		apply_as(NULL, bp, NULL, &o);
		ASSERT_EQ_INT(o.err, -EINVAL);
		ASSERT_NOT_NULL(strstr(o.text, "failed app/y"));
		ASSERT_NOT_NULL(strstr(o.text, "no such service on far"));
		ASSERT_EQ_INT(checks, 2);
		outcome_done(&o);
		char *path = test_strf("node/rz%d", later);
		ASSERT_NULL(svc(path));
		free(path);
		free(bp);

		bp = test_strf("services:\n  - app/x%d: {db: \"@remote/far/node/there\"}\n", later);
		char *want = test_strf("created app/x%d\n", later);
		apply_expect(bp, NULL, want);
		free(bp);
		free(want);
	}
	checks_later = false;
	zr_robot_set_producer_check(robot, NULL, NULL);
}

/* A task the queue refuses once the services are applied gets its failed line; the services
 * stay. */
TEST(queue_full)
{
	struct zr_buf b = {0};
	ASSERT_OK(zr_buf_puts(&b, "services:\n  - node/q1: {}\nactions:\n  - actions: ["));
	for (int i = 0; i < 20; i++) {
		ASSERT_OK(zr_buf_printf(&b, "%secho", i ? ", " : ""));
	}
	ASSERT_OK(zr_buf_puts(&b, "]\n"));
	struct outcome o;
	apply_as(NULL, b.data, NULL, &o);
	ASSERT_OK(o.err);
	ASSERT_NOT_NULL(strstr(o.text, "created node/q1\nqueued node/q1 echo task "));
	ASSERT_NOT_NULL(strstr(o.text, "\nfailed node/q1 echo line 4, column 5: queue full"));
	ASSERT_NULL(strstr(o.text, "error:"));
	ASSERT_NOT_NULL(svc("node/q1"));
	outcome_done(&o);
	zr_buf_done(&b);
}

/* Who may: a user token only with templates offered to users, not on another's service. */
TEST(rights)
{
	struct zr_actor user;
	ASSERT_OK(zr_actor_user("tok-1", 5, &user));
	struct outcome o;
	apply_as(&user, "services:\n  - node/u1: {}\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EACCES);
	ASSERT_NOT_NULL(strstr(o.text, "not offered to user tokens"));
	ASSERT_NULL(svc("node/u1"));
	outcome_done(&o);

	apply_as(&user, "services:\n  - pub/u2: {}\n", NULL, &o);
	ASSERT_OK(o.err);
	ASSERT_EQ_STR(svc("pub/u2")->creator, user.id);
	outcome_done(&o);

	/* An admin's service: the user may not change it, nor act on it. */
	apply_as(&user, "services:\n  - node/n1: {port: 9}\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EACCES);
	outcome_done(&o);
	apply_as(&user, "services:\n  - pub/u2: {}\n  - node/n1: {port: 6380}\n"
			"actions:\n  - {template: node, actions: [start]}\n", NULL, &o);
	ASSERT_EQ_INT(o.err, -EACCES);
	ASSERT_NULL(zr_service_newest(svc("node/n1"), "start"));
	outcome_done(&o);
}

/* A change that cannot be stored halfway through (here: the store's allocation fault hook,
 * at each point in turn: a creation, a parent, a name, the update in the last group) leaves
 * nothing of the blueprint, and what it had created is removed without its on_delete
 * actions, a child with its parent. */
TEST(rollback)
{
	const char *bp = "services:\n  - node/f1: {}\n  - app/f2: {db: node/f1}\n"
			 "  - {template: node, name: f3, parent: node/f1}\n"
			 "  - node/n1: {port: 7000}\n";
	char *marker = test_strf("%s/on_delete_ran", base);
	struct zr_apply_opts opts = {.name = "rb"};
	struct zr_apply_opts undo = {.name = "rb", .prune = true};
	unsigned failed = 0, applied = 0;
	bool last_group = false;
	for (unsigned nth = 1; nth < 90; nth++) {
		struct outcome o;
		(void)unlink(marker);
		zr_store__fail_alloc(nth);
		apply_as(NULL, bp, &opts, &o);
		zr_store__fail_alloc(0);
		settle();
		if (o.err) {
			failed++;
			/* The update is in the last group, after every creation committed. */
			last_group = last_group || strstr(o.text, "failed node/n1 ") != NULL;
			ASSERT_NOT_NULL(strstr(o.text, "error: "));
			ASSERT_NULL(strstr(o.text, "created"));
			ASSERT_NULL(svc("node/f1"));
			ASSERT_NULL(svc("app/f2"));
			ASSERT_NULL(svc("node/f3"));
			ASSERT_EQ_INT(json_integer_value(json_object_get(svc("node/n1")->data, "port")),
				      6380);
			ASSERT_NE_INT(access(marker, F_OK), 0);
		} else {
			applied++;
			ASSERT_NOT_NULL(svc("app/f2"));
			ASSERT_EQ_STR(svc("node/f3")->parent, "node/f1");
			ASSERT_EQ_INT(json_integer_value(json_object_get(svc("node/n1")->data, "port")),
				      7000);
			/* Back to where it started, for the next fault. */
			apply_expect("services:\n  - node/n1: {port: 6380}\n", &undo,
				     "updated node/n1\ndeleted app/f2\ndeleted node/f3\n"
				     "deleted node/f1\n");
			settle();
		}
		outcome_done(&o);
	}
	ASSERT_TRUE(failed > 10);
	ASSERT_TRUE(applied > 0);
	ASSERT_TRUE(last_group);
	free(marker);
}

/* 1,000 services in one apply: created in a few groups, not one commit per service. */
TEST(thousand)
{
	struct zr_buf b = {0};
	ASSERT_OK(zr_buf_puts(&b, "# zrobot: name=big\nservices:\n  - node/big0: {}\n"));
	for (int i = 1; i < 1000; i++) {
		/* Every tenth consumes the first: two waves. */
		if (i % 10 == 0) {
			ASSERT_OK(zr_buf_printf(&b, "  - app/big%d: {db: node/big0}\n", i));
		} else {
			ASSERT_OK(zr_buf_printf(&b, "  - node/big%d: {port: %d}\n", i, i));
		}
	}
	uint64_t c0 = commits();
	uint64_t t0 = uv_hrtime();
	struct outcome o;
	apply_as(NULL, b.data, NULL, &o);
	uint64_t t1 = uv_hrtime();
	ASSERT_OK(o.err);
	uint64_t used = commits() - c0;
	fprintf(stderr, "apply of 1000 services: %.1f ms, %" PRIu64 " store commits\n",
		(double)(t1 - t0) / 1e6, used);
	ASSERT_TRUE(used < 100);
	ASSERT_NOT_NULL(svc("app/big990"));
	outcome_done(&o);

	c0 = commits();
	t0 = uv_hrtime();
	apply_as(NULL, b.data, NULL, &o);
	t1 = uv_hrtime();
	ASSERT_OK(o.err);
	ASSERT_NULL(strstr(o.text, "created"));
	ASSERT_NULL(strstr(o.text, "updated"));
	fprintf(stderr, "re-apply of 1000 unchanged services: %.1f ms, %" PRIu64 " store commits\n",
		(double)(t1 - t0) / 1e6, commits() - c0);
	outcome_done(&o);
	zr_buf_done(&b);
}

/* The bounds: 10,000 services with 10,000 action blocks are planned (a dry run: nothing is
 * made) in bounded time; one more task, or one more service, is refused (E2BIG). */
TEST(bounds)
{
	struct zr_buf b = {0};
	ASSERT_OK(zr_buf_puts(&b, "services:\n"));
	for (int i = 0; i < 10000; i++) {
		ASSERT_OK(zr_buf_printf(&b, "  - node/b%d: {}\n", i));
	}
	size_t services_len = b.len;
	ASSERT_OK(zr_buf_puts(&b, "actions:\n"));
	for (int i = 0; i < 10000; i++) {
		ASSERT_OK(zr_buf_printf(&b, "  - {template: node, service: b%d, actions: start}\n", i));
	}
	struct zr_apply_opts dry = {.dry_run = true};
	uint64_t t0 = uv_hrtime();
	struct outcome o;
	apply_as(NULL, b.data, &dry, &o);
	fprintf(stderr, "dry run of 10000 services and 10000 blocks: %.1f ms\n",
		(double)(uv_hrtime() - t0) / 1e6);
	ASSERT_OK(o.err);
	ASSERT_NOT_NULL(strstr(o.text, "\nqueue node/b9999 start\n"));
	outcome_done(&o);
	ASSERT_NULL(svc("node/b0"));

	/* Two blocks without filter: 20,000 tasks. */
	b.len = services_len;
	ASSERT_OK(zr_buf_puts(&b, "actions:\n  - {actions: start}\n  - {actions: start}\n"));
	apply_as(NULL, b.data, &dry, &o);
	ASSERT_EQ_INT(o.err, -E2BIG);
	ASSERT_NOT_NULL(strstr(o.text, "more than 10000 tasks"));
	outcome_done(&o);
	zr_buf_done(&b);

	ASSERT_OK(zr_buf_puts(&b, "services:\n"));
	for (int i = 0; i <= 10000; i++) {
		ASSERT_OK(zr_buf_printf(&b, "  - node/b%d: {}\n", i));
	}
	apply_as(NULL, b.data, &dry, &o);
	ASSERT_EQ_INT(o.err, -E2BIG);
	outcome_done(&o);
	zr_buf_done(&b);
}

int main(void)
{
	fixture_init("apply");
	char *marker = test_strf("touch %s/on_delete_ran", base);
	make_template("node",
		      "{\"name\": \"node\", \"version\": \"1.0.0\","
		      " \"data\": {\"port\": {\"type\": \"integer\", \"default\": 0}},"
		      " \"actions\": {\"start\": {}, \"bye\": {},"
		      " \"echo\": {\"args\": {\"msg\": {\"type\": \"string\"},"
		      " \"n\": {\"type\": \"integer\", \"default\": 0}}}},"
		      " \"on_delete\": [\"bye\"]}",
		      "start", "exit 0", "echo", "echo \"$ARG_MSG\"", "bye", marker, NULL);
	make_template("app",
		      "{\"name\": \"app\", \"version\": \"1.0.0\","
		      " \"data\": {\"level\": {\"type\": \"integer\", \"default\": 0}},"
		      " \"consumes\": {\"db\": {\"template\": \"node\"}},"
		      " \"actions\": {\"start\": {}, \"update_data\": {}}}",
		      "start", "exit 0", "update_data", "exit 0", NULL);
	make_template("ring",
		      "{\"name\": \"ring\", \"version\": \"1.0.0\","
		      " \"consumes\": {\"next\": {\"template\": \"ring\"}}, \"actions\": {}}", NULL);
	make_template("web",
		      "{\"name\": \"web\", \"version\": \"1.0.0\","
		      " \"consumes\": {\"cache\": {\"template\": \"node\", \"auto\": true}},"
		      " \"actions\": {}}", NULL);
	make_template("pub",
		      "{\"name\": \"pub\", \"version\": \"1.0.0\", \"users\": true,"
		      " \"actions\": {\"start\": {}}}", "start", "exit 0", NULL);

	fixture_robot("test", 4, 5);
	zr_robot_start(robot);

	RUN_TEST(create_update_unchanged);
	RUN_TEST(zerorobot_form);
	RUN_TEST(refused);
	RUN_TEST(cycles);
	RUN_TEST(parents);
	RUN_TEST(dry_run_prune_stored);
	RUN_TEST(prune_parents);
	RUN_TEST(auto_producers);
	RUN_TEST(remote_producers);
	RUN_TEST(queue_full);
	RUN_TEST(rights);
	RUN_TEST(rollback);
	RUN_TEST(thousand);
	RUN_TEST(bounds);

	fixture_stop();

	/* The stored applies come back with the store. */
	fixture_robot("test", 4, 5);
	const struct zr_apply_stored *st = zr_apply_stored(robot, "shop");
	ASSERT_NOT_NULL(st);
	ASSERT_NOT_NULL(strstr(st->outcome, "deleted app/s2"));
	ASSERT_NOT_NULL(zr_apply_stored(robot, "big"));
	fixture_stop();
	fixture_finish();
	free(marker);
	return 0;
}
