/* Unit tests for the model without FUSE: a robot on a loop with a store in a scratch data
 * folder and template folders made here; services created, tasks run by real scripts; the
 * request functions' refusals; producers on other robots looked up through a fake check; an
 * action's fd-3 data through the same checks (also an on_delete action's); job slots handed
 * out in order. */
#include "robot.h"

#include <unistd.h>

#include "service.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "test-fixture.h"
#include "test.h"

/* ---- running the loop ---- */

/* Runs the loop until *flag is set. */
static void run_until(const bool *flag)
{
	TEST_RUN_UNTIL(&loop, &tick, *flag, "nothing happened within 20 s");
}

/* What a request's callback got. */
struct answer {
	bool fired;
	int calls;
	int err;
	char *why;
	struct zr_service *s;
	struct zr_task *t;
};

static void answer_set(struct answer *a, int err, const char *why)
{
	a->fired = true;
	a->calls++;
	a->err = err;
	free(a->why);
	a->why = why ? strdup(why) : NULL;
}

static void on_service(int err, const char *why, struct zr_service *s, void *data)
{
	struct answer *a = data;
	answer_set(a, err, why);
	a->s = s;
}

static void on_done(int err, const char *why, void *data)
{
	answer_set(data, err, why);
}

static void on_task(int err, const char *why, struct zr_task *t, void *data)
{
	struct answer *a = data;
	answer_set(a, err, why);
	a->t = t;
}

static void answer_done(struct answer *a)
{
	free(a->why);
	*a = (struct answer){0};
}

static struct zr_service *create_ok(const char *tmpl, const char *name, const char *data)
{
	json_error_t e;
	json_t *j = data ? json_loads(data, 0, &e) : NULL;
	struct answer a = {0};
	zr_service_request_create(robot, NULL, tmpl, name, j, on_service, &a);
	json_decref(j);
	run_until(&a.fired);
	if (a.err < 0) {
		FAIL("create %s/%s: %s (%s)", tmpl, name, strerror(-a.err), a.why ? a.why : "");
	}
	ASSERT_EQ_INT(a.calls, 1);
	struct zr_service *s = a.s;
	ASSERT_NOT_NULL(s);
	ASSERT_FALSE(s->pending);
	ASSERT_EQ_PTR(zr_robot_service(robot, tmpl, name), s);
	answer_done(&a);
	return s;
}

/* Queues action with payload and waits for it to be queued; returns its id. */
static uint64_t queue_ok(struct zr_service *s, const char *action, const char *payload)
{
	const struct zr_action_def *def = zr_template_action(s->template, action);
	struct answer a = {0};
	ASSERT_NOT_NULL(def);
	zr_service_request_task(s, NULL, def, payload, strlen(payload), on_task, &a);
	run_until(&a.fired);
	if (a.err < 0) {
		FAIL("queue %s '%s': %s (%s)", action, payload, strerror(-a.err), a.why ? a.why : "");
	}
	ASSERT_NOT_NULL(a.t);
	uint64_t id = a.t->id;
	answer_done(&a);
	return id;
}

/* Runs the loop until task id of s ended and its end is on disk. */
/* Whether task id of s (*ret) ended and its end is on disk; it is kept until then, so gone
 * fails the test. */
static bool task_settled(struct zr_service *s, uint64_t id, struct zr_task **ret)
{
	*ret = zr_service_task(s, id);
	ASSERT_NOT_NULL(*ret);
	return (*ret)->settled;
}

static struct zr_task *wait_task(struct zr_service *s, uint64_t id)
{
	struct zr_task *t;
	TEST_RUN_UNTIL(&loop, &tick, task_settled(s, id, &t), "task %" PRIu64 " did not end within 20 s",
		       id);
	return t;
}

static void expect_result(const struct zr_task *t, const char *want)
{
	size_t n;
	const char *out = zr_task_output(t, &n);
	ASSERT_EQ_MEM(out, n, want, strlen(want));
}

/* ---- tests ---- */

/* A service is created, a task queued from key=value text (converted to the args' types), run
 * by its script with the protocol's environment, and its result kept. */
TEST(create_and_run)
{
	struct zr_service *s = create_ok("node", "n1", NULL);
	ASSERT_EQ_INT(json_integer_value(json_object_get(s->data, "count")), 1);
	uint64_t id = queue_ok(s, "echo", "msg=hello\nn=3\n");
	struct zr_task *t = wait_task(s, id);
	ASSERT_EQ_INT(t->state, ZR_TASK_OK);
	ASSERT_TRUE(json_is_integer(json_object_get(t->args, "n")));
	expect_result(t, "hello 3 node/n1 echo\n");

	/* A JSON object says what its values are: a string stays refused for an integer. */
	id = queue_ok(s, "echo", "{\"msg\": \"json\"}");
	expect_result(wait_task(s, id), "json 0 node/n1 echo\n");
	ASSERT_EQ_INT(s->n_finished, 2);
}

/* Refusals that need no I/O come before the request function returns, each with its errno
 * and, where the errno does not say it all, why. */
TEST(refusals)
{
	struct zr_service *s = zr_robot_service(robot, "node", "n1");
	const struct zr_action_def *echo = zr_template_action(s->template, "echo");
	struct answer a = {0};
	ASSERT_NOT_NULL(s);

	zr_service_request_create(robot, NULL, "node", "n1", NULL, on_service, &a);
	ASSERT_EQ_INT(a.calls, 1);
	ASSERT_EQ_INT(a.err, -EEXIST);
	ASSERT_NULL(a.s);
	answer_done(&a);
	zr_service_request_create(robot, NULL, "nope", "x", NULL, on_service, &a);
	ASSERT_EQ_INT(a.err, -ENOENT);
	answer_done(&a);
	zr_service_request_create(robot, NULL, "node", "Bad Name", NULL, on_service, &a);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(a.why, "invalid service name"));
	answer_done(&a);
	json_t *bad = json_pack("{ss}", "count", "many");
	zr_service_request_create(robot, NULL, "node", "n2", bad, on_service, &a);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_NOT_NULL(a.why);
	ASSERT_NULL(zr_robot_service(robot, "node", "n2"));
	answer_done(&a);

	zr_service_request_data(s, NULL, bad, on_done, &a);
	ASSERT_EQ_INT(a.calls, 1);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_NOT_NULL(a.why);
	ASSERT_EQ_INT(json_integer_value(json_object_get(s->data, "count")), 1);
	answer_done(&a);
	json_decref(bad);

	const char *payloads[] = {"msg", "n=three", "{\"n\": \"3\"}", "{\"what\": 1}"};
	for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++) {
		zr_service_request_task(s, NULL, echo, payloads[i], strlen(payloads[i]), on_task, &a);
		ASSERT_EQ_INT(a.calls, 1);
		ASSERT_EQ_INT(a.err, -EINVAL);
		ASSERT_NOT_NULL(a.why);
		ASSERT_NULL(a.t);
		answer_done(&a);
	}
}

/* The role model at the entry points: who may create, change, act on and delete (README
 * "Security"); every refusal is -EACCES with why, before anything changes. */
TEST(roles)
{
	struct zr_service *s = zr_robot_service(robot, "node", "n1");
	const struct zr_action_def *echo = zr_template_action(s->template, "echo");
	struct zr_actor user, secret, other;
	struct answer a = {0};
	char *why = NULL;
	ASSERT_EQ_STR(s->creator, "admin");
	ASSERT_OK(zr_actor_user("unit-user-token-0123", 20, &user));
	zr_actor_secret(s->guid, &secret);
	zr_actor_secret("not-this-service", &other);

	/* This node template has no "users": true. */
	zr_service_request_create(robot, &user, "node", "u1", NULL, on_service, &a);
	ASSERT_EQ_INT(a.err, -EACCES);
	ASSERT_NOT_NULL(strstr(a.why, "not offered to user tokens"));
	ASSERT_NULL(zr_robot_service(robot, "node", "u1"));
	answer_done(&a);
	zr_service_request_create(robot, &secret, "node", "u2", NULL, on_service, &a);
	ASSERT_EQ_INT(a.err, -EACCES);
	ASSERT_NULL(zr_robot_service(robot, "node", "u2"));
	answer_done(&a);

	json_t *d = json_pack("{si}", "count", 7);
	zr_service_request_data(s, &user, d, on_done, &a);
	ASSERT_EQ_INT(a.err, -EACCES);
	ASSERT_EQ_INT(json_integer_value(json_object_get(s->data, "count")), 1);
	answer_done(&a);
	zr_service_request_data(s, &other, d, on_done, &a);
	ASSERT_EQ_INT(a.err, -EACCES);
	answer_done(&a);
	json_decref(d);
	zr_service_request_task(s, &user, echo, "", 0, on_task, &a);
	ASSERT_EQ_INT(a.err, -EACCES);
	ASSERT_NULL(a.t);
	answer_done(&a);

	ASSERT_OK(zr_service_may_act(s, &secret, &why));
	ASSERT_OK(zr_service_may_change(s, &secret, &why));
	ASSERT_EQ_INT(zr_service_may_delete(s, &secret, &why), -EACCES);
	free(why);
	why = NULL;
	ASSERT_EQ_INT(zr_service_may_delete(s, &user, &why), -EACCES);
	free(why);
	why = NULL;
	ASSERT_OK(zr_service_may_delete(s, NULL, &why));
	ASSERT_NULL(why);
}

/* A producer on another robot is looked up before data naming it is taken, for a new
 * service (also through the older zr_robot_create_service that HTTP POST used) and for its
 * data; one named already is not looked up again. */
/* Relations: auto producers made with their consumer (or not at all), min/max and the state
 * lines, user actions refused while a role fails, list roles and their consumers. */
static void count_consumer(struct zr_service *c, const char *role, void *data)
{
	(void)c, (void)role;
	(*(int *)data)++;
}

TEST(relations)
{
	struct answer a = {0};
	/* auto: node/r1 is made in the same request, before shop/r1, with the same creator. */
	struct zr_service *s = create_ok("shop", "r1", NULL);
	struct zr_service *p = zr_robot_service(robot, "node", "r1");
	ASSERT_NOT_NULL(p);
	ASSERT_FALSE(p->pending);
	ASSERT_EQ_STR(p->creator, s->creator);
	ASSERT_EQ_STR(json_string_value(json_object_get(s->data, "db")), "node/r1");
	ASSERT_TRUE(zr_role_names(s->data, "db", "node/r1"));
	ASSERT_FALSE(zr_role_names(s->data, "db", "node/n1"));

	/* caches: min 1, none named. */
	char *why = NULL;
	ASSERT_EQ_INT(zr_relations_check(s, &why), -EINVAL);
	ASSERT_EQ_STR(why, "role 'caches' needs at least 1 producer, has 0");
	free(why);
	why = NULL;
	ASSERT_EQ_STR(json_string_value(json_object_get(s->state, "relation caches")), "error");
	ASSERT_EQ_STR(json_string_value(json_object_get(s->state, "relation db")), "ok");
	const struct zr_action_def *go = zr_template_action(s->template, "go");
	zr_service_request_task(s, NULL, go, "", 0, on_task, &a);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_EQ_STR(a.why, "role 'caches' needs at least 1 producer, has 0");
	ASSERT_NULL(a.t);
	answer_done(&a);

	/* A list: each producer lists the consumer once. */
	json_t *d = json_pack("{ss s[ss]}", "db", "node/r1", "caches", "node/n1", "node/r1");
	zr_service_request_data(s, NULL, d, on_done, &a);
	run_until(&a.fired);
	ASSERT_OK(a.err);
	answer_done(&a);
	json_decref(d);
	ASSERT_OK(zr_relations_check(s, NULL));
	ASSERT_EQ_STR(json_string_value(json_object_get(s->state, "relation caches")), "ok");
	const char *paths[3];
	ASSERT_EQ_SIZE(zr_role_producers(s->data, "caches", paths, 3), 2);
	ASSERT_EQ_STR(paths[1], "node/r1");
	int n = 0;
	zr_robot_consumers(robot, p, count_consumer, &n);
	ASSERT_EQ_INT(n, 2); /* one per role that names it */
	n = 0;
	zr_robot_consumers(robot, zr_robot_service(robot, "node", "n1"), count_consumer, &n);
	ASSERT_EQ_INT(n, 1);
	zr_service_request_task(s, NULL, go, "", 0, on_task, &a);
	run_until(&a.fired);
	ASSERT_OK(a.err);
	answer_done(&a);

	/* Named twice, or past max. */
	d = json_pack("{ss s[ss]}", "db", "node/r1", "caches", "node/n1", "node/n1");
	zr_service_request_data(s, NULL, d, on_done, &a);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_EQ_STR(a.why, "producer of role 'caches': node/n1 named twice");
	answer_done(&a);
	json_decref(d);

	/* zr_relations_auto: only the missing producers are returned; data names them all. */
	json_t *data = json_object();
	char **made = NULL;
	size_t n_made = 0;
	ASSERT_OK(zr_relations_auto(robot, s->template, "r1", data, &made, &n_made));
	ASSERT_EQ_SIZE(n_made, 0);
	ASSERT_EQ_STR(json_string_value(json_object_get(data, "db")), "node/r1");
	ASSERT_OK(zr_relations_auto(robot, s->template, "r9", data, &made, &n_made));
	ASSERT_EQ_SIZE(n_made, 0); /* db is named already */
	json_object_clear(data);
	ASSERT_OK(zr_relations_auto(robot, s->template, "r9", data, &made, &n_made));
	ASSERT_EQ_SIZE(n_made, 1);
	ASSERT_EQ_STR(made[0], "node/r9");
	free(made[0]);
	free(made);
	json_decref(data);

	/* A producer that cannot be made (no such template) refuses its consumer. */
	zr_service_request_create(robot, NULL, "needy", "x", NULL, on_service, &a);
	run_until(&a.fired);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_EQ_STR(a.why, "its producer ghost/x cannot be created: no template 'ghost'");
	ASSERT_NULL(zr_robot_service(robot, "needy", "x"));
	answer_done(&a);
}

TEST(remote_producers)
{
	struct answer a = {0};
	json_t *missing = json_pack("{ss}", "host", "@remote/far/node/missing");
	json_t *there = json_pack("{ss}", "host", "@remote/far/node/there");
	zr_robot_set_producer_check(robot, check_producer, NULL);

	checks = 0;
	zr_service_request_create(robot, NULL, "app", "a1", missing, on_service, &a);
	run_until(&a.fired);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_EQ_STR(a.why, "no such service on far");
	ASSERT_NULL(zr_robot_service(robot, "app", "a1"));
	ASSERT_EQ_INT(checks, 1);
	answer_done(&a);

	struct zr_service *s = create_ok("app", "a1", "{\"host\": \"@remote/far/node/there\"}");
	ASSERT_EQ_INT(checks, 2);
	ASSERT_EQ_STR(zr_service_producer(s, "host"), "@remote/far/node/there");

	zr_service_request_data(s, NULL, there, on_done, &a);
	run_until(&a.fired);
	ASSERT_OK(a.err);
	ASSERT_EQ_INT(checks, 2);
	answer_done(&a);
	zr_service_request_data(s, NULL, missing, on_done, &a);
	run_until(&a.fired);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_EQ_STR(a.why, "no such service on far");
	ASSERT_EQ_INT(checks, 3);
	ASSERT_EQ_STR(zr_service_producer(s, "host"), "@remote/far/node/there");
	answer_done(&a);

	/* A local producer is checked here, without asking anyone. */
	json_t *local = json_pack("{ss}", "host", "node/none");
	zr_service_request_data(s, NULL, local, on_done, &a);
	ASSERT_EQ_INT(a.calls, 1);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_NOT_NULL(strstr(a.why, "no service 'node/none'"));
	ASSERT_EQ_INT(checks, 3);
	answer_done(&a);
	json_decref(local);

	/* An action's fd-3 data goes through the same checks. */
	uint64_t id = queue_ok(s, "point", "");
	ASSERT_EQ_INT(wait_task(s, id)->state, ZR_TASK_OK);
	ASSERT_EQ_INT(checks, 4);
	ASSERT_EQ_STR(zr_service_producer(s, "host"), "@remote/far/node/there");
	ASSERT_EQ_INT(json_integer_value(json_object_get(s->data, "level")), 0);
	id = queue_ok(s, "level", "");
	ASSERT_EQ_INT(wait_task(s, id)->state, ZR_TASK_OK);
	ASSERT_EQ_INT(json_integer_value(json_object_get(s->data, "level")), 7);
	ASSERT_EQ_INT(checks, 4);
	json_decref(missing);
	json_decref(there);
}

static bool compat_fired;
static int compat_err;

static void on_compat_created(int err, struct zr_service *s, void *data)
{
	(void)data;
	(void)s;
	compat_fired = true;
	compat_err = err;
}

/* zr_robot_create_service, until its callers move: refusals at once are returned, later
 * ones (a producer on another robot) reach its callback. */
TEST(create_compat)
{
	char *why = NULL;
	json_t *missing = json_pack("{ss}", "host", "@remote/far/node/missing");
	checks_later = true;
	ASSERT_EQ_INT(zr_robot_create_service(robot, "app", "Bad", NULL, &why, on_compat_created, NULL),
		      -EINVAL);
	ASSERT_NOT_NULL(why);
	free(why);
	why = NULL;
	ASSERT_OK(zr_robot_create_service(robot, "app", "a2", missing, &why, on_compat_created, NULL));
	run_until(&compat_fired);
	ASSERT_EQ_INT(compat_err, -EINVAL);
	ASSERT_NULL(zr_robot_service(robot, "app", "a2"));

	/* The same through the request function, with why, and a producer that is there. */
	struct answer a = {0};
	zr_service_request_create(robot, NULL, "app", "a2", missing, on_service, &a);
	ASSERT_FALSE(a.fired);
	run_until(&a.fired);
	ASSERT_EQ_INT(a.err, -EINVAL);
	ASSERT_EQ_STR(a.why, "no such service on far");
	answer_done(&a);
	create_ok("app", "a2", "{\"host\": \"@remote/far/node/there\"}");
	checks_later = false;
	json_decref(missing);
}

/* With one job slot, tasks of two services run one at a time in the order they were queued;
 * tasks whose action cannot start end at once and give their slot back. */
TEST(job_slots)
{
	struct zr_service *a = create_ok("node", "s1", NULL);
	struct zr_service *b = create_ok("node", "s2", NULL);
	char *gone = test_strf("%s/templates/node/actions/gone", base);
	ASSERT_OK(unlink(gone));
	free(gone);
	uint64_t ids[6];
	for (int i = 0; i < 6; i++) {
		struct zr_service *s = i % 2 ? b : a;
		ids[i] = queue_ok(s, i < 4 ? "gone" : "echo", i < 4 ? "" : "msg=x");
	}
	struct zr_task *last = wait_task(b, ids[5]);
	ASSERT_EQ_INT(last->state, ZR_TASK_OK);
	for (int i = 0; i < 6; i++) {
		struct zr_task *t = wait_task(i % 2 ? b : a, ids[i]);
		ASSERT_EQ_INT(t->state, i < 4 ? ZR_TASK_ERROR : ZR_TASK_OK);
		if (i > 0) {
			struct zr_task *prev = zr_service_task((i - 1) % 2 ? b : a, ids[i - 1]);
			ASSERT_LE_INT(prev->started_ns, t->started_ns);
		}
	}
	ASSERT_EQ_INT(robot->running, 0);
	ASSERT_FALSE(a->has_slot);
	ASSERT_FALSE(b->has_slot);
}

static bool deleted;

static void on_deleted(int err, void *data)
{
	(void)data;
	ASSERT_OK(err);
	deleted = true;
}

/* Whether the robot's event journal holds text. */
static bool event_seen(const char *text)
{
	char *all = fixture_events();
	bool seen = strstr(all, text) != NULL;
	free(all);
	return seen;
}

/* Services restored with the same texts share their data and state objects (one object for
 * 100,000 services); a change to one service's state never shows in another's. */
TEST(shared_restore)
{
	const struct zr_template *t = create_ok("node", "cow0", NULL)->template;
	struct zr_store_service row = {
		.template = "node", .name = "cow1", .guid = "00000000-0000-4000-8000-00000000c001",
		.uid = t->uid, .data = "{\"count\": 5}", .state = "{\"template missing\": \"error\"}",
		.secret = "00", .created_ns = 1,
	};
	struct zr_service *a, *b;
	char *why = NULL;
	ASSERT_OK(zr_service_restore(robot, t, &row, &a, &why));
	row.name = "cow2";
	row.guid = "00000000-0000-4000-8000-00000000c002";
	ASSERT_OK(zr_service_restore(robot, t, &row, &b, &why));
	ASSERT_TRUE(a->data == b->data);
	ASSERT_TRUE(a->state == b->state);
	ASSERT_EQ_INT(json_integer_value(json_object_get(b->data, "count")), 5);

	ASSERT_OK(zr_service_set_state(a, "check", "one", "ok"));
	ASSERT_NOT_NULL(json_object_get(a->state, "check one"));
	ASSERT_NULL(json_object_get(b->state, "check one"));
	zr_service__state_del(b, "template missing");
	ASSERT_NULL(json_object_get(b->state, "template missing"));
	ASSERT_NOT_NULL(json_object_get(a->state, "template missing"));

	/* A text not seen before is parsed anew, and bad texts refuse the restore. */
	row.name = "cow3";
	row.guid = "00000000-0000-4000-8000-00000000c003";
	row.state = "{}";
	struct zr_service *c;
	ASSERT_OK(zr_service_restore(robot, t, &row, &c, &why));
	ASSERT_EQ_SIZE(json_object_size(c->state), 0);
	row.state = "[";
	struct zr_service *bad = NULL;
	ASSERT_EQ_INT(zr_service_restore(robot, t, &row, &bad, &why), -EIO);
	ASSERT_NOT_NULL(why);
	free(why);
	ASSERT_NULL(bad);
	zr_service__load_done(robot);
	zr_service__close(a);
	zr_service__close(b);
	zr_service__close(c);
}

/* A service holds at most ZR_SERVICE_STATE_MAX lines of state: an action writing one per item
 * it sees cannot grow it (and each stored copy) forever; the robot's own lines have room. */
TEST(state_cap)
{
	const struct zr_template *t = create_ok("node", "cap0", NULL)->template;
	struct zr_buf text = {0};
	ASSERT_OK(zr_buf_append(&text, "{", 1));
	for (int i = 0; i < ZR_SERVICE_STATE_MAX; i++) {
		ASSERT_OK(zr_buf_printf(&text, "%s\"item i%d\": \"ok\"", i ? ", " : "", i));
	}
	ASSERT_OK(zr_buf_append(&text, "}", 1));
	struct zr_store_service row = {
		.template = "node", .name = "cap1", .guid = "00000000-0000-4000-8000-0000000ca901",
		.uid = t->uid, .data = "{}", .state = text.data, .secret = "00", .created_ns = 1,
	};
	struct zr_service *s;
	char *why = NULL;
	ASSERT_OK(zr_service_restore(robot, t, &row, &s, &why));
	zr_service__load_done(robot);
	ASSERT_EQ_SIZE(json_object_size(s->state), ZR_SERVICE_STATE_MAX);
	s->pending = true; /* no store row behind it: what is kept in memory is the point here */
	ASSERT_EQ_INT(zr_service_set_state(s, "item", "one-more", "ok"), -EDQUOT);
	ASSERT_NULL(json_object_get(s->state, "item one-more"));
	ASSERT_OK(zr_service_set_state(s, "item", "i7", "error"));
	ASSERT_EQ_STR(json_string_value(json_object_get(s->state, "item i7")), "error");
	ASSERT_OK(zr_service_set_state(s, "actions", "deploy", "ok"));
	ASSERT_OK(zr_service_set_state(s, "template", "version", "ok"));
	ASSERT_EQ_SIZE(json_object_size(s->state), ZR_SERVICE_STATE_MAX + 2);
	s->pending = false;
	zr_buf_done(&text);
	zr_service__close(s);
}

/* An on_delete action's fd-3 data is taken while its service finishes its deletion, through
 * the same checks as any data. */
TEST(on_delete_data)
{
	struct zr_service *s = create_ok("app", "d1", NULL);
	zr_robot_delete_service(robot, s, on_deleted, NULL);
	run_until(&deleted);
	TEST_RUN_UNTIL(&loop, &tick, zr_list_empty(&robot->deleting),
		       "the deleted service is still deleting after 20 s");
	ASSERT_TRUE(event_seen("\"event\":\"data.changed\",\"service\":\"app/d1\""));
	ASSERT_TRUE(event_seen("\"event\":\"service.deleted\",\"service\":\"app/d1\""));
}

int main(void)
{
	fixture_init("service");
	make_template("node",
		      "{\"name\": \"node\", \"version\": \"1.0.0\","
		      " \"data\": {\"count\": {\"type\": \"integer\", \"default\": 1}},"
		      " \"actions\": {\"echo\": {\"args\": {\"msg\": {\"type\": \"string\"},"
		      " \"n\": {\"type\": \"integer\", \"default\": 0}}}, \"gone\": {}}}",
		      "echo", "echo \"$ARG_MSG $ARG_N $ZR_SERVICE $ZR_ACTION\"", "gone", "exit 0", NULL);
	make_template("app",
		      "{\"name\": \"app\", \"version\": \"1.0.0\","
		      " \"data\": {\"level\": {\"type\": \"integer\", \"default\": 0}},"
		      " \"consumes\": {\"host\": {\"template\": \"node\"}},"
		      " \"actions\": {\"point\": {}, \"level\": {}, \"bye\": {}},"
		      " \"on_delete\": [\"bye\"]}",
		      "point", "echo 'data {\"host\": \"@remote/far/node/elsewhere\"}' >&3",
		      "level", "echo 'data {\"level\": 7}' >&3",
		      "bye", "echo 'data {\"level\": 9}' >&3", NULL);

	make_template("shop",
		      "{\"name\": \"shop\", \"version\": \"1.0.0\","
		      " \"consumes\": {\"db\": {\"template\": \"node\", \"auto\": true},"
		      " \"caches\": {\"template\": \"node\", \"min\": 1, \"max\": 3}},"
		      " \"actions\": {\"go\": {}}}",
		      "go", "exit 0", NULL);
	make_template("needy",
		      "{\"name\": \"needy\", \"version\": \"1.0.0\","
		      " \"consumes\": {\"s\": {\"template\": \"ghost\", \"auto\": true}}}",
		      NULL);
	fixture_robot("test", 1, 4);
	zr_robot_start(robot);

	RUN_TEST(create_and_run);
	RUN_TEST(refusals);
	RUN_TEST(roles);
	RUN_TEST(relations);
	RUN_TEST(remote_producers);
	RUN_TEST(create_compat);
	RUN_TEST(job_slots);
	RUN_TEST(on_delete_data);
	RUN_TEST(shared_restore);
	RUN_TEST(state_cap);

	fixture_stop();
	fixture_finish();
	return 0;
}
