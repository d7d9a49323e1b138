/* Unit tests for core/template.c: real template folders with real executables in a temporary
 * directory, and semantic versions. */
#include "template.h"

#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "process-def.h"
#include "schema.h"
#include "service.h"
#include "test.h"

/* The temporary directory holding every template folder of this run. */
static char *root;

/* Creates <root>/<dir>/ with template.json holding manifest (none when NULL) and an empty
 * actions/ folder. Returns the folder's path (malloc'd). */
static char *make_template(const char *dir, const char *manifest)
{
	char *path = test_strf("%s/%s", root, dir);
	ASSERT_EQ_INT(mkdir(path, 0755), 0);
	if (manifest) {
		char *file = test_strf("%s/template.json", path);
		test_write_file(file, manifest, 0644);
		free(file);
	}
	char *actions = test_strf("%s/actions", path);
	ASSERT_EQ_INT(mkdir(actions, 0755), 0);
	free(actions);
	return path;
}

static void make_action(const char *dir, const char *name, mode_t mode)
{
	char *path = test_strf("%s/actions/%s", dir, name);
	test_write_file(path, "#!/bin/sh\necho ok\n", mode);
	free(path);
}

static struct zr_template *load_ok(const char *dir)
{
	struct zr_template *t = NULL;
	char *err = NULL;
	int r = zr_template_load(dir, "local", &t, &err);
	if (r != 0) {
		FAIL("zr_template_load(%s): %d %s", dir, r, err ? err : "");
	}
	ASSERT_NULL(err);
	return t;
}

/* Asserts that loading dir fails with r and exactly the error text want (freed here). */
static void load_fails(const char *dir, int r, char *want)
{
	struct zr_template *t = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_template_load(dir, "local", &t, &err), r);
	ASSERT_NULL(t);
	ASSERT_EQ_STR(err, want);
	free(err);
	free(want);
}

/* A template folder dir/ with manifest and executable actions start and stop, whose loading
 * must fail with "<dir>/template.json: field '<field>': <reason>". */
static void manifest_fails(const char *dir, const char *manifest, const char *field,
			   const char *reason)
{
	char *path = make_template(dir, manifest);
	make_action(path, "start", 0755);
	make_action(path, "stop", 0755);
	load_fails(path, -EINVAL, test_strf("%s/template.json: field '%s': %s", path, field, reason));
	free(path);
}

TEST(good)
{
	char *dir = make_template("redis",
		"{\"name\": \"redis\", \"version\": \"1.2.0-rc.1+b5\", \"description\": \"A cache\",\n"
		" \"data\": {\"port\": {\"type\": \"integer\", \"default\": 6379, \"minimum\": 1,"
		"  \"maximum\": 65535}, \"password\": {\"type\": \"string\", \"secret\": true}},\n"
		" \"required\": [\"password\"],\n"
		" \"actions\": {\"start\": {\"timeout\": 600, \"description\": \"Starts it\","
		"    \"retry\": {\"tries\": 3, \"delay\": 0.5, \"backoff\": 3}},\n"
		"   \"ping\": {\"args\": {\"count\": {\"type\": \"integer\", \"default\": 1},"
		"    \"host\": {\"type\": \"string\"}}, \"required\": [\"host\"]},\n"
		"   \"monitor\": {\"every\": 10, \"retry\": {\"tries\": 2}}},\n"
		" \"process\": {\"command\": [\"redis-server\", \"--port\", \"${port}\"]},\n"
		" \"consumes\": {\"host\": {\"template\": \"node\"}},\n"
		" \"on_delete\": [\"stop\", \"start\"],\n"
		" \"on\": {\"fail\": [\"stop\"]}}\n");
	make_action(dir, "stop", 0755);
	make_action(dir, "start", 0700);
	make_action(dir, "ping", 0755);
	make_action(dir, "monitor", 0751);
	/* A symlink to an executable is an action; folders and dotfiles are not. */
	char *link = test_strf("%s/actions/restart", dir);
	ASSERT_EQ_INT(symlink("start", link), 0);
	free(link);
	char *sub = test_strf("%s/actions/lib", dir);
	ASSERT_EQ_INT(mkdir(sub, 0755), 0);
	free(sub);
	sub = test_strf("%s/actions/.gitkeep", dir);
	test_write_file(sub, "", 0644);
	free(sub);

	struct zr_template *t = load_ok(dir);
	ASSERT_EQ_STR(t->name, "redis");
	ASSERT_EQ_STR(t->version, "1.2.0-rc.1+b5");
	ASSERT_EQ_STR(t->uid, "local/redis/1.2.0-rc.1+b5");
	ASSERT_EQ_STR(t->dir, dir);
	ASSERT_EQ_STR(t->description, "A cache");
	ASSERT_TRUE(json_is_object(t->manifest));
	ASSERT_EQ_STR(json_string_value(json_object_get(t->manifest, "name")), "redis");

	/* port, password, and the consumed role "host" (its producer's tree path). */
	ASSERT_EQ_SIZE(zr_schema_count(t->data), 3);
	ASSERT_EQ_STR(zr_schema_field(t->data, 0), "port");
	ASSERT_EQ_STR(zr_schema_field(t->data, 2), "host");
	ASSERT_TRUE(zr_schema_secret(t->data, "password"));
	json_t *data = json_object();
	char *missing = zr_schema_missing(t->data, data);
	ASSERT_EQ_STR(missing, "password");
	free(missing);
	json_decref(data);

	/* The files, and the process's built-in reload and status (restart is a file here, so
	 * it replaces the built-in; start and stop are files run before the built-in step). */
	ASSERT_EQ_SIZE(t->n_actions, 7);
	static const struct {
		const char *name;
		bool file;
		enum zr_builtin builtin;
	} names[] = {
		{"monitor", true, ZR_BUILTIN_NONE}, {"ping", true, ZR_BUILTIN_NONE},
		{"reload", false, ZR_BUILTIN_RELOAD}, {"restart", true, ZR_BUILTIN_NONE},
		{"start", true, ZR_BUILTIN_START}, {"status", false, ZR_BUILTIN_STATUS},
		{"stop", true, ZR_BUILTIN_STOP},
	};
	for (size_t i = 0; i < 7; i++) {
		TEST_CASE("action %s", names[i].name);
		ASSERT_EQ_STR(t->actions[i].name, names[i].name);
		char *path = names[i].file ? test_strf("%s/actions/%s", dir, names[i].name) : NULL;
		ASSERT_EQ_STR(t->actions[i].path, path);
		free(path);
		ASSERT_EQ_INT(t->actions[i].builtin, names[i].builtin);
		ASSERT_NOT_NULL(t->actions[i].args);
		ASSERT_EQ_PTR(zr_template_action(t, names[i].name), &t->actions[i]);
	}
	TEST_CASE_END();
	ASSERT_NULL(zr_template_action(t, "nope"));
	ASSERT_NULL(zr_template_action(t, "lib"));

	/* stop takes every default: no timeout, one try, delay 1, backoff 2, not recurring. */
	static const struct {
		const char *name;
		double timeout;
		int tries;
		double delay, backoff, every;
		const char *description;
	} settings[] = {
		{"start", 600, 3, 0.5, 3, 0, "Starts it"},
		{"stop", 0, 1, 1, 2, 0, NULL},
		{"monitor", 0, 2, 1, 2, 10, NULL},
	};
	for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
		TEST_CASE("action %s", settings[i].name);
		const struct zr_action_def *a = zr_template_action(t, settings[i].name);
		ASSERT_EQ_DOUBLE(a->timeout, settings[i].timeout);
		ASSERT_EQ_INT(a->retry.tries, settings[i].tries);
		ASSERT_EQ_DOUBLE(a->retry.delay, settings[i].delay);
		ASSERT_EQ_DOUBLE(a->retry.backoff, settings[i].backoff);
		ASSERT_EQ_DOUBLE(a->every, settings[i].every);
		ASSERT_EQ_STR(a->description, settings[i].description);
		ASSERT_EQ_SIZE(zr_schema_count(a->args), 0);
	}
	TEST_CASE_END();

	const struct zr_action_def *a = zr_template_action(t, "ping");
	ASSERT_EQ_SIZE(zr_schema_count(a->args), 2);
	json_t *args = json_pack("{s:s}", "count", "3"), *out = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_schema_apply(a->args, args, 0, &out, &err), -EINVAL);
	ASSERT_EQ_STR(err, "field 'count': must be an integer, got a string of 1 byte");
	free(err);
	err = NULL;
	ASSERT_EQ_INT(zr_schema_apply(a->args, args, ZR_SCHEMA_COERCE, &out, &err), -EINVAL);
	ASSERT_EQ_STR(err, "field 'host': required");
	free(err);
	json_decref(args);

	ASSERT_EQ_SIZE(t->n_on_delete, 2);
	ASSERT_EQ_STR(t->on_delete[0], "stop");
	ASSERT_EQ_STR(t->on_delete[1], "start");
	ASSERT_EQ_PTR(t->on, json_object_get(t->manifest, "on"));
	ASSERT_EQ_PTR(t->process, json_object_get(t->manifest, "process"));
	ASSERT_EQ_PTR(t->consumes, json_object_get(t->manifest, "consumes"));
	ASSERT_NULL(zr_template_free(t));

	/* A relative path with a trailing slash gives the same absolute folder. */
	char *cwd = getcwd(NULL, 0);
	ASSERT_EQ_INT(chdir(root), 0);
	t = load_ok("redis/");
	ASSERT_EQ_STR(t->dir, dir);
	zr_template_free(t);
	ASSERT_EQ_INT(chdir(cwd), 0);
	free(cwd);
	free(dir);
}

TEST(minimal)
{
	/* No actions folder, no optional key: a template with nothing to run. */
	char *dir = test_strf("%s/empty", root);
	ASSERT_EQ_INT(mkdir(dir, 0755), 0);
	char *file = test_strf("%s/template.json", dir);
	test_write_file(file, "{\"name\": \"empty\", \"version\": \"0.0.1\"}", 0644);
	free(file);
	struct zr_template *t = zr_template_free(NULL);
	char *err = NULL;
	ASSERT_OK(zr_template_load(dir, "github.com/acme/repo", &t, &err));
	ASSERT_EQ_STR(t->uid, "github.com/acme/repo/empty/0.0.1");
	ASSERT_EQ_SIZE(t->n_actions, 0);
	ASSERT_NULL(t->actions);
	ASSERT_NULL(zr_template_action(t, "start"));
	ASSERT_EQ_SIZE(zr_schema_count(t->data), 0);
	ASSERT_NULL(t->description);
	ASSERT_NULL(t->on);
	ASSERT_NULL(t->process);
	ASSERT_NULL(t->consumes);
	ASSERT_EQ_SIZE(t->n_on_delete, 0);
	ASSERT_FALSE(t->users); /* not offered to user tokens unless it says so */
	zr_template_free(t);
	free(dir);
}

TEST(users_key)
{
	char *dir = test_strf("%s/offered", root);
	ASSERT_EQ_INT(mkdir(dir, 0755), 0);
	char *file = test_strf("%s/template.json", dir);
	test_write_file(file, "{\"name\": \"offered\", \"version\": \"1.0.0\", \"users\": true}", 0644);
	struct zr_template *t = load_ok(dir);
	ASSERT_TRUE(t->users);
	zr_template_free(t);
	test_write_file(file, "{\"name\": \"offered\", \"version\": \"1.0.0\", \"users\": false}", 0644);
	t = load_ok(dir);
	ASSERT_FALSE(t->users);
	zr_template_free(t);
	free(file);
	free(dir);
}

TEST(builtin_node)
{
	/* The shipped node template loads (tests run from the build tree or the source). */
	const char *candidates[] = {"../../../templates/node", "../../templates/node",
				    "../templates/node", "templates/node"};
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		char *file = test_strf("%s/template.json", candidates[i]);
		bool exists = access(file, R_OK) == 0;
		free(file);
		if (exists) {
			struct zr_template *t = load_ok(candidates[i]);
			ASSERT_EQ_STR(t->name, "node");
			ASSERT_NOT_NULL(zr_template_action(t, "exec"));
			/* sh -c as the robot: the admin's only, and node is not offered to users. */
			ASSERT_TRUE(zr_template_action(t, "exec")->admin);
			ASSERT_FALSE(zr_template_action(t, "info")->admin);
			ASSERT_FALSE(t->users);
			zr_template_free(t);
			return;
		}
	}
	fprintf(stderr, "note: templates/node not found from here, not checked\n");
}

TEST(bad_json)
{
	char *dir = make_template("badjson", "{\"name\": \"badjson\",\n \"version\": }");
	char *want = test_strf("%s/template.json: invalid JSON: ", dir);
	struct zr_template *t = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_template_load(dir, "local", &t, &err), -EINVAL);
	ASSERT_EQ_INT(strncmp(err, want, strlen(want)), 0);
	ASSERT_NOT_NULL(strstr(err, "(line 2, column"));
	free(err);
	free(want);
	free(dir);

	dir = make_template("dupkey", "{\"name\": \"dupkey\", \"name\": \"dupkey\", \"version\": \"1.0.0\"}");
	want = test_strf("%s/template.json: invalid JSON: duplicate object key", dir);
	ASSERT_EQ_INT(zr_template_load(dir, "local", &t, &err), -EINVAL);
	ASSERT_EQ_INT(strncmp(err, want, strlen(want)), 0);
	free(err);
	free(want);
	free(dir);
}

TEST(not_an_object)
{
	char *dir = make_template("notobj", "[\"notobj\"]");
	load_fails(dir, -EINVAL, test_strf("%s/template.json: must hold a JSON object", dir));
	free(dir);
}

TEST(missing_manifest)
{
	char *dir = make_template("nomanifest", NULL);
	load_fails(dir, -ENOENT, test_strf("%s/template.json: No such file or directory", dir));
	free(dir);
	char *missing = test_strf("%s/does-not-exist", root);
	load_fails(missing, -ENOENT, test_strf("%s/template.json: No such file or directory", missing));
	free(missing);
}

TEST(unknown_field_type)
{
	manifest_fails("type1",
		       "{\"name\": \"type1\", \"version\": \"1.0.0\", \"data\": {\"port\": {\"type\": "
		       "\"integr\"}}}",
		       "data.port", "unknown type 'integr'");
	manifest_fails("type2",
		       "{\"name\": \"type2\", \"version\": \"1.0.0\", \"actions\": {\"start\": "
		       "{\"args\": {\"n\": {\"type\": \"int\"}}}}}",
		       "actions.start.args.n", "unknown type 'int'");
	manifest_fails("type3",
		       "{\"name\": \"type3\", \"version\": \"1.0.0\", \"data\": {\"port\": {\"type\": "
		       "\"integer\", \"default\": 70000, \"maximum\": 65535}}}",
		       "data.port.default", "must be <= 65535");
	manifest_fails("type4",
		       "{\"name\": \"type4\", \"version\": \"1.0.0\", \"data\": {\"port\": {\"type\": "
		       "\"integer\", \"maximun\": 1}}}",
		       "data.port.maximun", "unknown key");
	manifest_fails("req1",
		       "{\"name\": \"req1\", \"version\": \"1.0.0\", \"data\": {\"a\": {\"type\": "
		       "\"string\"}}, \"required\": [\"b\"]}",
		       "required", "'b' is not a field");
	manifest_fails("req2",
		       "{\"name\": \"req2\", \"version\": \"1.0.0\", \"actions\": {\"start\": "
		       "{\"required\": [\"x\"]}}}",
		       "actions.start.required", "'x' is not a field");
	manifest_fails("data1", "{\"name\": \"data1\", \"version\": \"1.0.0\", \"data\": []}", "data",
		       "must be an object");
}

TEST(missing_action_file)
{
	char *dir = make_template("noaction", "{\"name\": \"noaction\", \"version\": \"1.0.0\", "
					      "\"actions\": {\"start\": {}, \"stop\": {}}}");
	make_action(dir, "start", 0755);
	load_fails(dir, -EINVAL, test_strf("%s/template.json: field 'actions.stop': no executable file "
				     "%s/actions/stop", dir, dir));
	free(dir);

	/* A folder is not an action file. */
	dir = make_template("diraction", "{\"name\": \"diraction\", \"version\": \"1.0.0\", "
					 "\"actions\": {\"start\": {}}}");
	char *sub = test_strf("%s/actions/start", dir);
	ASSERT_EQ_INT(mkdir(sub, 0755), 0);
	free(sub);
	load_fails(dir, -EINVAL, test_strf("%s/template.json: field 'actions.start': no executable file "
				     "%s/actions/start", dir, dir));
	free(dir);
}

TEST(not_executable)
{
	char *dir = make_template("noexec", "{\"name\": \"noexec\", \"version\": \"1.0.0\"}");
	make_action(dir, "start", 0644);
	load_fails(dir, -EINVAL, test_strf("%s/actions/start: action is not executable (mode 0644)", dir));
	free(dir);

	/* A symlink counts by its target. */
	dir = make_template("linknoexec", "{\"name\": \"linknoexec\", \"version\": \"1.0.0\"}");
	char *target = test_strf("%s/target", dir);
	test_write_file(target, "data\n", 0600);
	char *link = test_strf("%s/actions/start", dir);
	ASSERT_EQ_INT(symlink(target, link), 0);
	load_fails(dir, -EINVAL, test_strf("%s: action is not executable (mode 0600)", link));
	free(target);
	free(link);
	free(dir);

	dir = make_template("brokenlink", "{\"name\": \"brokenlink\", \"version\": \"1.0.0\"}");
	link = test_strf("%s/actions/start", dir);
	ASSERT_EQ_INT(symlink("nowhere", link), 0);
	load_fails(dir, -EINVAL, test_strf("%s: broken symbolic link", link));
	free(link);
	free(dir);
}

TEST(bad_names)
{
	manifest_fails("Redis", "{\"name\": \"Redis\", \"version\": \"1.0.0\"}", "name",
		       "must be a name matching [a-z0-9][a-z0-9_.-]{0,62}");
	manifest_fails("noname", "{\"version\": \"1.0.0\"}", "name", "required");
	manifest_fails("numname", "{\"name\": 5, \"version\": \"1.0.0\"}", "name",
		       "must be a name matching [a-z0-9][a-z0-9_.-]{0,62}");
	manifest_fails("badkey",
		       "{\"name\": \"badkey\", \"version\": \"1.0.0\", \"actions\": {\"Start\": {}}}",
		       "actions.Start", "bad action name (must match [a-z0-9][a-z0-9_.-]{0,62})");

	char *dir = make_template("badfile", "{\"name\": \"badfile\", \"version\": \"1.0.0\"}");
	make_action(dir, "Start", 0755);
	load_fails(dir, -EINVAL, test_strf("%s/actions/Start: bad action name 'Start' (must match "
				     "[a-z0-9][a-z0-9_.-]{0,62})", dir));
	free(dir);
}

TEST(folder_name)
{
	manifest_fails("redis2", "{\"name\": \"redis\", \"version\": \"1.0.0\"}", "name",
		       "'redis' differs from the folder's name 'redis2'");
}

TEST(bad_version)
{
	const char *bad[] = {"1.2", "v1.2.0", "01.2.0", "1.2.0-01", "1.2.0-", "1.2.0+", "1.2.0-a..b",
			     "1.2.0 ", ""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *name = test_strf("ver%zu", i);
		char *m = test_strf("{\"name\": \"%s\", \"version\": \"%s\"}", name, bad[i]);
		manifest_fails(name, m, "version", "must be a semantic version like \"1.2.0\"");
		free(m);
		free(name);
	}
	manifest_fails("vernum", "{\"name\": \"vernum\", \"version\": 1}", "version",
		       "must be a semantic version like \"1.2.0\"");
	manifest_fails("vernone", "{\"name\": \"vernone\"}", "version", "required");
}

/* The smallest "process" member, followed by a comma, for manifests that need one. */
#define PROC "\"process\": {\"command\": [\"sleep\", \"1\"]}, "

TEST(unknown_actions_in_lists)
{
	manifest_fails("ondel",
		       "{\"name\": \"ondel\", \"version\": \"1.0.0\", \"on_delete\": [\"stop\", \"nope\"]}",
		       "on_delete", "unknown action 'nope'");
	manifest_fails("ondel2", "{\"name\": \"ondel2\", \"version\": \"1.0.0\", \"on_delete\": \"stop\"}",
		       "on_delete", "must be an array of action names");
	/* "on" lists the process's events, so these templates have one. */
	manifest_fails("on1",
		       "{\"name\": \"on1\", \"version\": \"1.0.0\", " PROC
		       "\"on\": {\"fail\": [\"nope\"]}}",
		       "on.fail", "unknown action 'nope'");
	manifest_fails("on2", "{\"name\": \"on2\", \"version\": \"1.0.0\", " PROC
		       "\"on\": {\"fail\": 1}}",
		       "on.fail", "must be an array of action names");
	manifest_fails("on3", "{\"name\": \"on3\", \"version\": \"1.0.0\", " PROC "\"on\": []}",
		       "on", "must be an object");
}

TEST(process_builtins)
{
	/* No action files: every built-in is the supervisor's alone. */
	char *dir = make_template("srv", "{\"name\": \"srv\", \"version\": \"1.0.0\", "
					 "\"data\": {\"port\": {\"type\": \"integer\"}},"
					 " \"process\": {\"command\": [\"sleep\", \"${port}\"],"
					 " \"stop_signal\": \"INT\"},"
					 " \"on\": {\"start\": [], \"ready\": [\"status\"],"
					 " \"exit\": [\"restart\"], \"fail\": [\"stop\", \"reload\"]},"
					 " \"on_delete\": [\"stop\"]}");
	struct zr_template *t = load_ok(dir);
	ASSERT_NOT_NULL(t->proc);
	ASSERT_EQ_STR(t->proc->command[1], "${port}");
	ASSERT_EQ_INT(t->proc->stop_signal, SIGINT);
	ASSERT_EQ_PTR(t->on, json_object_get(t->manifest, "on"));
	static const struct {
		const char *name;
		enum zr_builtin builtin;
		const char *description;
	} want[] = {
		{"reload", ZR_BUILTIN_RELOAD, "Send the reload signal to the server"},
		{"restart", ZR_BUILTIN_RESTART,
		 "Restart the server and wait until the new one is ready"},
		{"start", ZR_BUILTIN_START, "Start the server and wait until it is ready"},
		{"status", ZR_BUILTIN_STATUS, "Show the server's process status"},
		{"stop", ZR_BUILTIN_STOP,
		 "Stop the server and wait until its whole process tree is gone"},
	};
	ASSERT_EQ_SIZE(t->n_actions, 5);
	for (size_t i = 0; i < 5; i++) {
		TEST_CASE("%s", want[i].name);
		const struct zr_action_def *a = &t->actions[i];
		ASSERT_EQ_STR(a->name, want[i].name);
		ASSERT_EQ_PTR(zr_template_action(t, want[i].name), a);
		ASSERT_NULL(a->path);
		ASSERT_EQ_INT(a->builtin, want[i].builtin);
		ASSERT_EQ_STR(a->description, want[i].description);
		ASSERT_EQ_DOUBLE(a->timeout, 0);
		ASSERT_EQ_DOUBLE(a->every, 0);
		ASSERT_EQ_INT(a->retry.tries, 1);
		ASSERT_FALSE(a->admin);
		ASSERT_NOT_NULL(a->args);
		ASSERT_EQ_SIZE(zr_schema_count(a->args), 0);
	}
	TEST_CASE_END();
	zr_template_free(t);

	/* Own files: start and stop run first and keep the built-in step; status replaces the
	 * built-in; a file sorting between the built-ins keeps the order. */
	make_action(dir, "start", 0755);
	make_action(dir, "stop", 0755);
	make_action(dir, "status", 0755);
	make_action(dir, "ping", 0755);
	t = load_ok(dir);
	static const struct {
		const char *name;
		bool file;
		enum zr_builtin builtin;
	} mixed[] = {
		{"ping", true, ZR_BUILTIN_NONE},     {"reload", false, ZR_BUILTIN_RELOAD},
		{"restart", false, ZR_BUILTIN_RESTART}, {"start", true, ZR_BUILTIN_START},
		{"status", true, ZR_BUILTIN_NONE},   {"stop", true, ZR_BUILTIN_STOP},
	};
	ASSERT_EQ_SIZE(t->n_actions, 6);
	for (size_t i = 0; i < 6; i++) {
		TEST_CASE("%s", mixed[i].name);
		const struct zr_action_def *a = &t->actions[i];
		ASSERT_EQ_STR(a->name, mixed[i].name);
		ASSERT_EQ_PTR(zr_template_action(t, mixed[i].name), a);
		char *path = mixed[i].file ? test_strf("%s/actions/%s", dir, mixed[i].name) : NULL;
		ASSERT_EQ_STR(a->path, path);
		free(path);
		ASSERT_EQ_INT(a->builtin, mixed[i].builtin);
	}
	TEST_CASE_END();
	/* A script keeps its own (absent) description: it is not the built-in. */
	ASSERT_NULL(zr_template_action(t, "start")->description);
	zr_template_free(t);
	free(dir);

	/* Without a process: no built-ins, no proc. */
	dir = make_template("noproc", "{\"name\": \"noproc\", \"version\": \"1.0.0\"}");
	make_action(dir, "stop", 0755);
	t = load_ok(dir);
	ASSERT_NULL(t->proc);
	ASSERT_EQ_SIZE(t->n_actions, 1);
	ASSERT_EQ_INT(t->actions[0].builtin, ZR_BUILTIN_NONE);
	ASSERT_NULL(zr_template_action(t, "start"));
	zr_template_free(t);
	free(dir);
}

TEST(process_refusals)
{
	/* process-def.c's reason, behind the file like every other field. */
	manifest_fails("p1", "{\"name\": \"p1\", \"version\": \"1.0.0\", \"process\": "
			     "{\"command\": [\"x\"], \"ready\": {\"tcp\": 1, \"unix\": \"s\"}}}",
		       "process.ready", "want exactly one of tcp, unix, exec, log, notify, delay");
	manifest_fails("p2", "{\"name\": \"p2\", \"version\": \"1.0.0\", \"process\": []}",
		       "process", "must be an object");
	manifest_fails("p3", "{\"name\": \"p3\", \"version\": \"1.0.0\", \"process\": {}}",
		       "process.command", "required");
	/* ready.exec runs a script: a built-in (here status) is not one. */
	manifest_fails("p4", "{\"name\": \"p4\", \"version\": \"1.0.0\", \"process\": "
			     "{\"command\": [\"x\"], \"ready\": {\"exec\": \"status\"}}}",
		       "process.ready.exec", "no action file 'status'");
	char *dir = make_template("p5", "{\"name\": \"p5\", \"version\": \"1.0.0\", \"process\": "
					"{\"command\": [\"x\"], \"ready\": {\"exec\": \"check\"}}}");
	make_action(dir, "check", 0755);
	struct zr_template *t = load_ok(dir);
	ASSERT_EQ_INT(t->proc->ready, ZR_READY_EXEC);
	ASSERT_EQ_STR(t->proc->ready_arg, "check");
	zr_template_free(t);
	free(dir);

	manifest_fails("on4", "{\"name\": \"on4\", \"version\": \"1.0.0\", \"on\": {}}", "on",
		       "needs 'process'");
	manifest_fails("on5", "{\"name\": \"on5\", \"version\": \"1.0.0\", "
			      "\"on\": {\"fail\": [\"stop\"]}}",
		       "on", "needs 'process'");
	manifest_fails("on6", "{\"name\": \"on6\", \"version\": \"1.0.0\", " PROC
			      "\"on\": {\"stop\": [\"stop\"]}}",
		       "on.stop", "unknown event (want start, ready, exit or fail)");
	manifest_fails("on7", "{\"name\": \"on7\", \"version\": \"1.0.0\", " PROC
			      "\"on\": {\"ready\": [\"status\", \"nope\"]}}",
		       "on.ready", "unknown action 'nope'");
}

TEST(unknown_keys)
{
	manifest_fails("top", "{\"name\": \"top\", \"version\": \"1.0.0\", \"foo\": 1}", "foo",
		       "unknown key");
	manifest_fails("act",
		       "{\"name\": \"act\", \"version\": \"1.0.0\", \"actions\": {\"start\": "
		       "{\"timeuot\": 1}}}",
		       "actions.start.timeuot", "unknown key");
	manifest_fails("retry",
		       "{\"name\": \"retry\", \"version\": \"1.0.0\", \"actions\": {\"start\": "
		       "{\"retry\": {\"tries\": 2, \"dealy\": 1}}}}",
		       "actions.start.retry.dealy", "unknown key");
}

TEST(action_settings)
{
	const char *m = "{\"name\": \"%s\", \"version\": \"1.0.0\", \"actions\": {\"start\": %s}}";
	struct {
		const char *def, *field, *reason;
	} cases[] = {
		{"{\"timeout\": -1}", "actions.start.timeout", "must be a positive number"},
		{"{\"timeout\": 0}", "actions.start.timeout", "must be a positive number"},
		{"{\"timeout\": \"10\"}", "actions.start.timeout", "must be a positive number"},
		{"{\"timeout\": 1e10}", "actions.start.timeout", "must be at most 1000000000 seconds"},
		{"{\"every\": 0}", "actions.start.every", "must be a positive number"},
		{"{\"retry\": 3}", "actions.start.retry", "must be an object"},
		{"{\"retry\": {\"tries\": 0}}", "actions.start.retry",
		 "tries must be an integer from 1 to 1000"},
		{"{\"retry\": {\"tries\": 1.5}}", "actions.start.retry",
		 "tries must be an integer from 1 to 1000"},
		{"{\"retry\": {\"delay\": -1}}", "actions.start.retry",
		 "delay must be a number of seconds from 0 to 1000000000"},
		{"{\"retry\": {\"backoff\": 0.5}}", "actions.start.retry",
		 "backoff must be a number from 1 to 100"},
		{"{\"description\": 1}", "actions.start.description", "must be a string"},
		{"{\"admin\": 1}", "actions.start.admin", "must be true or false"},
		{"{\"admin\": \"yes\"}", "actions.start.admin", "must be true or false"},
		{"{\"args\": []}", "actions.start.args", "must be an object"},
		{"{\"required\": {}}", "actions.start.required", "must be an array of argument names"},
		{"[]", "actions.start", "must be an object"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *name = test_strf("set%zu", i);
		char *manifest = test_strf(m, name, cases[i].def);
		manifest_fails(name, manifest, cases[i].field, cases[i].reason);
		free(manifest);
		free(name);
	}
	manifest_fails("acts", "{\"name\": \"acts\", \"version\": \"1.0.0\", \"actions\": []}",
		       "actions", "must be an object");
	manifest_fails("desc", "{\"name\": \"desc\", \"version\": \"1.0.0\", \"description\": 1}",
		       "description", "must be a string");
	manifest_fails("usr", "{\"name\": \"usr\", \"version\": \"1.0.0\", \"users\": \"yes\"}",
		       "users", "must be true or false");
	manifest_fails("usr1", "{\"name\": \"usr1\", \"version\": \"1.0.0\", \"users\": 1}",
		       "users", "must be true or false");
	manifest_fails("proc", "{\"name\": \"proc\", \"version\": \"1.0.0\", \"process\": []}",
		       "process", "must be an object");
	manifest_fails("cons", "{\"name\": \"cons\", \"version\": \"1.0.0\", \"consumes\": "
			       "{\"host\": 1}}",
		       "consumes.host", "must be an object");
}

TEST(roles)
{
	/* Sorted by name, defaults filled in; a list role's field takes a string or a list. */
	char *dir = make_template("shop",
		"{\"name\": \"shop\", \"version\": \"1.0.0\", \"consumes\": {"
		" \"db\": {\"template\": \"redis\", \"min\": 1, \"auto\": true},"
		" \"caches\": {\"template\": \"redis\", \"max\": 3},"
		" \"any\": {}}}");
	struct zr_template *t = load_ok(dir);
	ASSERT_EQ_SIZE(t->n_roles, 3);
	ASSERT_EQ_STR(t->roles[0].name, "any");
	ASSERT_NULL(t->roles[0].template);
	ASSERT_EQ_INT(t->roles[0].min, 0);
	ASSERT_EQ_INT(t->roles[0].max, 1);
	ASSERT_FALSE(t->roles[0].auto_create);
	ASSERT_EQ_STR(t->roles[1].name, "caches");
	ASSERT_EQ_INT(t->roles[1].max, 3);
	ASSERT_EQ_STR(t->roles[2].name, "db");
	ASSERT_EQ_STR(t->roles[2].template, "redis");
	ASSERT_EQ_INT(t->roles[2].min, 1);
	ASSERT_TRUE(t->roles[2].auto_create);
	ASSERT_EQ_PTR(zr_template_role(t, "db"), &t->roles[2]);
	ASSERT_NULL(zr_template_role(t, "nope"));

	json_t *out = NULL;
	char *err = NULL;
	json_t *in = json_pack("{s:[s,s], s:s}", "caches", "redis/a", "redis/b", "db", "redis/c");
	ASSERT_OK(zr_schema_apply(t->data, in, 0, &out, &err));
	const char *paths[4];
	ASSERT_EQ_SIZE(zr_role_producers(out, "caches", paths, 4), 2);
	ASSERT_EQ_STR(paths[0], "redis/a");
	ASSERT_EQ_STR(paths[1], "redis/b");
	ASSERT_EQ_SIZE(zr_role_producers(out, "caches", paths, 1), 2); /* counts past max */
	ASSERT_EQ_SIZE(zr_role_producers(out, "db", paths, 4), 1);
	ASSERT_EQ_STR(paths[0], "redis/c");
	ASSERT_EQ_SIZE(zr_role_producers(out, "any", paths, 4), 0);
	json_decref(out);
	json_decref(in);
	/* A role of max 1 is one string; a list role's items are strings. */
	in = json_pack("{s:[s]}", "db", "redis/a");
	ASSERT_EQ_INT(zr_schema_apply(t->data, in, 0, &out, &err), -EINVAL);
	ASSERT_EQ_STR(err, "field 'db': must be a string, got an array of 1 item");
	free(err);
	err = NULL;
	json_decref(in);
	in = json_pack("{s:[s,i]}", "caches", "redis/a", 1);
	ASSERT_EQ_INT(zr_schema_apply(t->data, in, 0, &out, &err), -EINVAL);
	ASSERT_EQ_STR(err, "field 'caches': item 1 must be a string");
	free(err);
	err = NULL;
	json_decref(in);
	/* From a key=value line: a path stays a string, a JSON list becomes a list. */
	in = json_pack("{s:s}", "caches", "redis/a");
	ASSERT_OK(zr_schema_apply(t->data, in, ZR_SCHEMA_COERCE, &out, &err));
	ASSERT_TRUE(json_is_string(json_object_get(out, "caches")));
	json_decref(out);
	json_decref(in);
	in = json_pack("{s:s}", "caches", "[\"redis/a\", \"redis/b\"]");
	ASSERT_OK(zr_schema_apply(t->data, in, ZR_SCHEMA_COERCE, &out, &err));
	ASSERT_EQ_SIZE(json_array_size(json_object_get(out, "caches")), 2);
	json_decref(out);
	json_decref(in);
	zr_template_free(t);
	free(dir);

	struct {
		const char *def, *field, *reason;
	} cases[] = {
		{"{\"mx\": 1}", "consumes.db.mx", "unknown key"},
		{"{\"template\": 1}", "consumes.db.template",
		 "must be a template name matching [a-z0-9][a-z0-9_.-]{0,62}"},
		{"{\"min\": -1}", "consumes.db.min", "must be an integer from 0 to 1000"},
		{"{\"min\": 1.5}", "consumes.db.min", "must be an integer from 0 to 1000"},
		{"{\"max\": 0}", "consumes.db.max", "must be an integer from 1 to 1000"},
		{"{\"max\": \"2\"}", "consumes.db.max", "must be an integer from 1 to 1000"},
		{"{\"min\": 3, \"max\": 2}", "consumes.db", "min 3 is more than max 2"},
		{"{\"min\": 2}", "consumes.db", "min 2 is more than max 1"},
		{"{\"auto\": 1}", "consumes.db.auto", "must be true or false"},
		{"{\"auto\": true}", "consumes.db", "auto needs template"},
		{"{\"template\": \"r\", \"auto\": true, \"min\": 2, \"max\": 2}", "consumes.db",
		 "auto cannot satisfy min 2 (it creates one producer)"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *name = test_strf("role%zu", i);
		char *manifest = test_strf("{\"name\": \"%s\", \"version\": \"1.0.0\", "
					   "\"consumes\": {\"db\": %s}}", name, cases[i].def);
		manifest_fails(name, manifest, cases[i].field, cases[i].reason);
		free(manifest);
		free(name);
	}
}

TEST(semver_valid)
{
	const char *good[] = {"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1",
			      "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0-x-y-z.--", "1.0.0+20130313144700",
			      "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3----117B344092BD",
			      "1.0.0+001", "99999999999999999999999.0.0"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (!zr_semver_valid(good[i])) {
			FAIL("'%s' should be valid", good[i]);
		}
	}
	const char *bad[] = {"", "1", "1.2", "1.2.3.4", "01.1.1", "1.01.1", "1.1.01", "1.2.3-0123",
			     "1.2.3-", "1.2.3+", "1.2.3-a.", "1.2.3-.a", "1.2.3-a+b+c", "1.2.3-a_b",
			     "+1.2.3", "1.2.3 ", " 1.2.3", "v1.2.3", "1.2.-3", "a.b.c", "1.2.3-é"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (zr_semver_valid(bad[i])) {
			FAIL("'%s' should be invalid", bad[i]);
		}
	}
	ASSERT_FALSE(zr_semver_valid(NULL));
}

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

TEST(semver_compare)
{
	/* Increasing precedence, from semver.org item 11, plus a few more. */
	const char *order[] = {"0.9.9", "1.0.0-0", "1.0.0-2", "1.0.0-10", "1.0.0-alpha",
			       "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
			       "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.2.0", "1.10.0",
			       "2.0.0", "10.0.0", "99999999999999999999.0.0"};
	size_t n = sizeof(order) / sizeof(order[0]);
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int want = (i > j) - (i < j);
			int got = sign(zr_semver_compare(order[i], order[j]));
			if (got != want) {
				FAIL("compare(%s, %s) = %d, want %d", order[i], order[j], got, want);
			}
		}
	}
	ASSERT_EQ_INT(zr_semver_compare("1.0.0+a", "1.0.0+b"), 0);
	ASSERT_EQ_INT(zr_semver_compare("1.0.0-rc.1+a", "1.0.0-rc.1"), 0);
	ASSERT_LT_INT(zr_semver_compare("1.0.0-rc.1+zzz", "1.0.0"), 0);
	ASSERT_LT_INT(zr_semver_compare("1.0.0-a", "1.0.0-a.0"), 0);
	ASSERT_LT_INT(zr_semver_compare("1.0.0-A", "1.0.0-a"), 0);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

int main(void)
{
	char *tmpl = test_strf("%s/test-template.XXXXXX", test_tmp_dir());
	root = mkdtemp(tmpl);
	if (!root) {
		FAIL("mkdtemp %s: %s", tmpl, strerror(errno));
	}
	RUN_TEST(good);
	RUN_TEST(minimal);
	RUN_TEST(users_key);
	RUN_TEST(builtin_node);
	RUN_TEST(bad_json);
	RUN_TEST(not_an_object);
	RUN_TEST(missing_manifest);
	RUN_TEST(unknown_field_type);
	RUN_TEST(missing_action_file);
	RUN_TEST(not_executable);
	RUN_TEST(bad_names);
	RUN_TEST(folder_name);
	RUN_TEST(bad_version);
	RUN_TEST(unknown_actions_in_lists);
	RUN_TEST(process_builtins);
	RUN_TEST(process_refusals);
	RUN_TEST(unknown_keys);
	RUN_TEST(action_settings);
	RUN_TEST(roles);
	RUN_TEST(semver_valid);
	RUN_TEST(semver_compare);
	ASSERT_EQ_INT(nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(tmpl);
	return 0;
}
