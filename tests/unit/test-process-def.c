/* Unit tests for core/process-def.c: the manifest's "process" (defaults, every refusal with
 * its field and reason), "${field}" expansion, signal names and sizes. */
#include "process-def.h"

#include <signal.h>

#include "test.h"

/* The action files the template of these tests has, for ready.exec. */
static char *const actions[] = {"check", "start"};

static json_t *load_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
	if (!j) {
		FAIL("bad test JSON %s: %s", text, e.text);
	}
	return j;
}

static struct zr_process_def *parse_ok(const char *text)
{
	json_t *j = load_json(text);
	struct zr_process_def *d = NULL;
	char *err = NULL;
	int r = zr_process_def_parse(j, actions, 2, &d, &err);
	if (r != 0) {
		FAIL("zr_process_def_parse(%s): %d %s", text, r, err ? err : "");
	}
	ASSERT_NULL(err);
	json_decref(j);
	return d;
}

/* Parsing text fails with -EINVAL and "field 'process.<field>': <reason>". */
static void parse_fails(const char *text, const char *field, const char *reason)
{
	TEST_CASE("%s", text);
	json_t *j = load_json(text);
	struct zr_process_def *d = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_process_def_parse(j, actions, 2, &d, &err), -EINVAL);
	ASSERT_NULL(d);
	char *want = field ? test_strf("field 'process.%s': %s", field, reason)
			   : test_strf("field 'process': %s", reason);
	ASSERT_EQ_STR(err, want);
	free(want);
	free(err);
	json_decref(j);
	TEST_CASE_END();
}

TEST(defaults)
{
	struct zr_process_def *d = parse_ok("{\"command\": [\"sleep\", \"infinity\"]}");
	ASSERT_EQ_SIZE(d->n_command, 2);
	ASSERT_EQ_STR(d->command[0], "sleep");
	ASSERT_EQ_STR(d->command[1], "infinity");
	ASSERT_NULL(d->command[2]);
	ASSERT_EQ_SIZE(d->n_env, 0);
	ASSERT_NOT_NULL(d->env);
	ASSERT_NULL(d->env[0]);
	ASSERT_EQ_INT(d->ready, ZR_READY_NONE);
	ASSERT_NULL(d->ready_arg);
	ASSERT_EQ_DOUBLE(d->ready_delay, 0);
	ASSERT_EQ_DOUBLE(d->ready_timeout, 30);
	ASSERT_EQ_INT(d->restart, ZR_RESTART_ON_FAILURE);
	ASSERT_EQ_DOUBLE(d->restart_delay, 0.1);
	ASSERT_EQ_DOUBLE(d->restart_delay_max, 30);
	ASSERT_EQ_INT(d->start_burst, 5);
	ASSERT_EQ_DOUBLE(d->start_interval, 60);
	ASSERT_EQ_INT(d->stop_signal, SIGTERM);
	ASSERT_EQ_DOUBLE(d->stop_timeout, 10);
	ASSERT_EQ_INT(d->reload_signal, SIGHUP);
	ASSERT_NULL(d->user);
	ASSERT_EQ_U64(d->memory_max, 0);
	ASSERT_EQ_DOUBLE(d->cpu_percent, 0);
	ASSERT_EQ_DOUBLE(d->limit_for, 0);
	ASSERT_EQ_INT(d->limit_then, ZR_LIMIT_RESTART);
	zr_process_def_free(d);
	zr_process_def_free(NULL);
}

TEST(every_field)
{
	/* The issue's example, with user root (every machine has it). */
	struct zr_process_def *d = parse_ok(
		"{\"command\": [\"redis-server\", \"--port\", \"${port}\", \"--dir\", \".\"],"
		" \"env\": {\"LANG\": \"C\", \"REDIS_PORT\": \"${port}\"},"
		" \"ready\": {\"tcp\": \"127.0.0.1:${port}\"}, \"ready_timeout\": 5,"
		" \"restart\": \"always\", \"restart_delay\": 0, \"restart_delay_max\": 2.5,"
		" \"start_limit\": {\"burst\": 3, \"interval\": 10},"
		" \"stop_signal\": \"INT\", \"stop_timeout\": 1.5, \"reload_signal\": \"SIGUSR1\","
		" \"user\": \"root\","
		" \"limits\": {\"memory\": \"512M\", \"cpu_percent\": 90, \"for\": 3,"
		" \"then\": \"warn\"}}");
	ASSERT_EQ_SIZE(d->n_command, 5);
	ASSERT_EQ_STR(d->command[2], "${port}");
	ASSERT_EQ_SIZE(d->n_env, 2);
	ASSERT_EQ_STR(d->env[0], "LANG=C");
	ASSERT_EQ_STR(d->env[1], "REDIS_PORT=${port}");
	ASSERT_NULL(d->env[2]);
	ASSERT_EQ_INT(d->ready, ZR_READY_TCP);
	ASSERT_EQ_STR(d->ready_arg, "127.0.0.1:${port}");
	ASSERT_EQ_DOUBLE(d->ready_timeout, 5);
	ASSERT_EQ_INT(d->restart, ZR_RESTART_ALWAYS);
	ASSERT_EQ_DOUBLE(d->restart_delay, 0);
	ASSERT_EQ_DOUBLE(d->restart_delay_max, 2.5);
	ASSERT_EQ_INT(d->start_burst, 3);
	ASSERT_EQ_DOUBLE(d->start_interval, 10);
	ASSERT_EQ_INT(d->stop_signal, SIGINT);
	ASSERT_EQ_DOUBLE(d->stop_timeout, 1.5);
	ASSERT_EQ_INT(d->reload_signal, SIGUSR1);
	ASSERT_EQ_STR(d->user, "root");
	ASSERT_EQ_U64(d->memory_max, 512ULL << 20);
	ASSERT_EQ_DOUBLE(d->cpu_percent, 90);
	ASSERT_EQ_DOUBLE(d->limit_for, 3);
	ASSERT_EQ_INT(d->limit_then, ZR_LIMIT_WARN);
	zr_process_def_free(d);

	d = parse_ok("{\"command\": [\"x\"], \"restart\": \"never\", \"limits\": "
		     "{\"memory\": 4096, \"then\": \"stop\"}}");
	ASSERT_EQ_INT(d->restart, ZR_RESTART_NEVER);
	ASSERT_EQ_U64(d->memory_max, 4096);
	ASSERT_EQ_INT(d->limit_then, ZR_LIMIT_STOP);
	zr_process_def_free(d);
}

TEST(ready_kinds)
{
	static const struct {
		const char *ready;
		enum zr_ready_kind kind;
		const char *arg;
		double delay;
	} cases[] = {
		{"{\"tcp\": \"localhost:6379\"}", ZR_READY_TCP, "localhost:6379", 0},
		{"{\"tcp\": \"[::1]:80\"}", ZR_READY_TCP, "[::1]:80", 0},
		/* With a reference the shape is only known after expansion. */
		{"{\"tcp\": \"${addr}\"}", ZR_READY_TCP, "${addr}", 0},
		{"{\"unix\": \"run/redis.sock\"}", ZR_READY_UNIX, "run/redis.sock", 0},
		{"{\"exec\": \"check\"}", ZR_READY_EXEC, "check", 0},
		{"{\"log\": \"^Ready to accept( connections)?\"}", ZR_READY_LOG,
		 "^Ready to accept( connections)?", 0},
		/* Not compiled at load: "(" may be part of the field's value. */
		{"{\"log\": \"${pattern}(\"}", ZR_READY_LOG, "${pattern}(", 0},
		{"{\"notify\": true}", ZR_READY_NOTIFY, NULL, 0},
		{"{\"delay\": 0.5}", ZR_READY_DELAY, NULL, 0.5},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = test_strf("{\"command\": [\"x\"], \"ready\": %s}", cases[i].ready);
		TEST_CASE("%s", text);
		struct zr_process_def *d = parse_ok(text);
		ASSERT_EQ_INT(d->ready, cases[i].kind);
		ASSERT_EQ_STR(d->ready_arg, cases[i].arg);
		ASSERT_EQ_DOUBLE(d->ready_delay, cases[i].delay);
		zr_process_def_free(d);
		free(text);
	}
	TEST_CASE_END();
}

TEST(refusals)
{
	static const char *const want_one = "want exactly one of tcp, unix, exec, log, notify, delay";
	static const struct {
		const char *process, *field, *reason;
	} cases[] = {
		{"[]", NULL, "must be an object"},
		{"{}", "command", "required"},
		{"{\"command\": [\"x\"], \"comand\": 1}", "comand", "unknown key"},
		{"{\"command\": []}", "command", "must be a non-empty array of strings"},
		{"{\"command\": \"redis-server\"}", "command", "must be a non-empty array of strings"},
		{"{\"command\": [\"x\", 1]}", "command[1]",
		 "must be a string of at most 4096 bytes without NUL"},
		{"{\"command\": [\"x\", \"a\\u0000b\"]}", "command[1]",
		 "must be a string of at most 4096 bytes without NUL"},
		{"{\"command\": [\"\"]}", "command[0]", "must not be empty"},
		{"{\"command\": [\"x\", \"${port\"]}", "command[1]", "'${' without its '}'"},
		{"{\"command\": [\"x\", \"${}\"]}", "command[1]", "'${...}' must name a data field"},
		{"{\"command\": [\"x\", \"${a-b}\"]}", "command[1]", "'${...}' must name a data field"},
		{"{\"command\": [\"x\"], \"env\": []}", "env", "must be an object of \"NAME\": \"value\""},
		{"{\"command\": [\"x\"], \"env\": {\"lower\": \"x\"}}", "env",
		 "a variable name must match [A-Z_][A-Z0-9_]* (at most 128 characters)"},
		{"{\"command\": [\"x\"], \"env\": {\"ZR_ROOT\": \"x\"}}", "env",
		 "a variable name must not start with ZR_, ZROBOT_, DATA_ or ARG_ (the robot's own)"},
		{"{\"command\": [\"x\"], \"env\": {\"A\": 1}}", "env",
		 "'A': must be a string of at most 4096 bytes without NUL"},
		{"{\"command\": [\"x\"], \"env\": {\"A\": \"${x\"}}", "env.A", "'${' without its '}'"},
		{"{\"command\": [\"x\"], \"ready\": {}}", "ready", want_one},
		{"{\"command\": [\"x\"], \"ready\": \"tcp\"}", "ready", want_one},
		{"{\"command\": [\"x\"], \"ready\": {\"http\": \"x\"}}", "ready", want_one},
		{"{\"command\": [\"x\"], \"ready\": {\"tcp\": \"a:1\", \"delay\": 1}}", "ready",
		 want_one},
		{"{\"command\": [\"x\"], \"ready\": {\"tcp\": \"localhost\"}}", "ready.tcp",
		 "must be HOST:PORT"},
		{"{\"command\": [\"x\"], \"ready\": {\"tcp\": \":80\"}}", "ready.tcp",
		 "must be HOST:PORT"},
		{"{\"command\": [\"x\"], \"ready\": {\"tcp\": \"h:0\"}}", "ready.tcp",
		 "must be HOST:PORT"},
		{"{\"command\": [\"x\"], \"ready\": {\"tcp\": \"h:65536\"}}", "ready.tcp",
		 "must be HOST:PORT"},
		{"{\"command\": [\"x\"], \"ready\": {\"tcp\": \"::1:80\"}}", "ready.tcp",
		 "must be HOST:PORT"},
		{"{\"command\": [\"x\"], \"ready\": {\"tcp\": \"\"}}", "ready.tcp", "must not be empty"},
		{"{\"command\": [\"x\"], \"ready\": {\"unix\": 1}}", "ready.unix",
		 "must be a string of at most 4096 bytes without NUL"},
		{"{\"command\": [\"x\"], \"ready\": {\"exec\": \"nope\"}}", "ready.exec",
		 "no action file 'nope'"},
		{"{\"command\": [\"x\"], \"ready\": {\"exec\": \"../x\"}}", "ready.exec",
		 "must be the name of an action"},
		{"{\"command\": [\"x\"], \"ready\": {\"log\": \"a(\"}}", "ready.log",
		 "bad regular expression: Unmatched ( or \\("},
		{"{\"command\": [\"x\"], \"ready\": {\"log\": \"(()*){2000}\"}}", "ready.log",
		 "too complex (nests or repeats too much)"},
		{"{\"command\": [\"x\"], \"ready\": {\"log\": \"(a)\\\\1\"}}", "ready.log",
		 "too complex (nests or repeats too much)"},
		{"{\"command\": [\"x\"], \"ready\": {\"notify\": false}}", "ready.notify",
		 "must be true"},
		{"{\"command\": [\"x\"], \"ready\": {\"delay\": 0}}", "ready.delay",
		 "must be a positive number of seconds"},
		{"{\"command\": [\"x\"], \"ready_timeout\": 0}", "ready_timeout",
		 "must be a positive number of seconds"},
		{"{\"command\": [\"x\"], \"ready_timeout\": \"30\"}", "ready_timeout",
		 "must be a positive number of seconds"},
		{"{\"command\": [\"x\"], \"ready_timeout\": 1e10}", "ready_timeout",
		 "must be at most 1000000000 seconds"},
		{"{\"command\": [\"x\"], \"restart\": \"sometimes\"}", "restart",
		 "must be never, on-failure or always"},
		{"{\"command\": [\"x\"], \"restart_delay\": -1}", "restart_delay",
		 "must be a number of seconds, 0 or more"},
		{"{\"command\": [\"x\"], \"restart_delay\": 31}", "restart_delay",
		 "must be at most restart_delay_max (30)"},
		{"{\"command\": [\"x\"], \"restart_delay\": 2, \"restart_delay_max\": 1}",
		 "restart_delay", "must be at most restart_delay_max (1)"},
		{"{\"command\": [\"x\"], \"start_limit\": 5}", "start_limit", "must be an object"},
		{"{\"command\": [\"x\"], \"start_limit\": {\"burst\": 0}}", "start_limit.burst",
		 "must be an integer from 1 to 1000000"},
		{"{\"command\": [\"x\"], \"start_limit\": {\"burst\": 1.5}}", "start_limit.burst",
		 "must be an integer from 1 to 1000000"},
		{"{\"command\": [\"x\"], \"start_limit\": {\"interval\": 0}}", "start_limit.interval",
		 "must be a positive number of seconds"},
		{"{\"command\": [\"x\"], \"start_limit\": {\"brust\": 1}}", "start_limit",
		 "unknown key 'brust'"},
		{"{\"command\": [\"x\"], \"stop_signal\": \"term\"}", "stop_signal",
		 "must be a signal name like \"TERM\" or \"HUP\""},
		{"{\"command\": [\"x\"], \"stop_signal\": 15}", "stop_signal",
		 "must be a signal name like \"TERM\" or \"HUP\""},
		{"{\"command\": [\"x\"], \"reload_signal\": \"SIG\"}", "reload_signal",
		 "must be a signal name like \"TERM\" or \"HUP\""},
		{"{\"command\": [\"x\"], \"stop_timeout\": 0}", "stop_timeout",
		 "must be a positive number of seconds"},
		{"{\"command\": [\"x\"], \"user\": \"\"}", "user", "must be a user name"},
		{"{\"command\": [\"x\"], \"user\": 0}", "user", "must be a user name"},
		{"{\"command\": [\"x\"], \"user\": \"zr-no-such-user\"}", "user",
		 "no such user on this machine"},
		{"{\"command\": [\"x\"], \"limits\": []}", "limits", "must be an object"},
		{"{\"command\": [\"x\"], \"limits\": {\"memroy\": \"1G\"}}", "limits",
		 "unknown key 'memroy'"},
		{"{\"command\": [\"x\"], \"limits\": {\"memory\": \"512MB\"}}", "limits.memory",
		 "must be a size like \"512M\" (K, M, G, T: powers of 1024)"},
		{"{\"command\": [\"x\"], \"limits\": {\"memory\": \"0\"}}", "limits.memory",
		 "must be a size like \"512M\" (K, M, G, T: powers of 1024)"},
		{"{\"command\": [\"x\"], \"limits\": {\"memory\": -1}}", "limits.memory",
		 "must be a size like \"512M\" (K, M, G, T: powers of 1024)"},
		{"{\"command\": [\"x\"], \"limits\": {\"cpu_percent\": 0}}", "limits.cpu_percent",
		 "must be a positive number up to 102400"},
		{"{\"command\": [\"x\"], \"limits\": {\"for\": -1}}", "limits.for",
		 "must be a number of seconds, 0 or more"},
		{"{\"command\": [\"x\"], \"limits\": {\"then\": \"kill\"}}", "limits.then",
		 "must be restart, stop or warn"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_fails(cases[i].process, cases[i].field, cases[i].reason);
	}
}

/* At most 256 argv entries, 64 variables and 4 KiB per string. */
TEST(bounds)
{
	json_t *argv = json_array();
	for (int i = 0; i < 256; i++) {
		json_array_append_new(argv, json_string("a"));
	}
	json_t *p = json_pack("{sO}", "command", argv);
	struct zr_process_def *d = NULL;
	char *err = NULL;
	ASSERT_OK(zr_process_def_parse(p, actions, 2, &d, &err));
	ASSERT_EQ_SIZE(d->n_command, 256);
	zr_process_def_free(d);
	json_array_append_new(argv, json_string("a"));
	ASSERT_EQ_INT(zr_process_def_parse(p, actions, 2, &d, &err), -EINVAL);
	ASSERT_EQ_STR(err, "field 'process.command': more than 256 entries");
	free(err);
	err = NULL;
	json_decref(p);
	json_decref(argv);

	char *big = malloc(4098);
	memset(big, 'a', 4097);
	big[4097] = '\0';
	p = json_pack("{s[ss]}", "command", "x", big + 1);
	ASSERT_OK(zr_process_def_parse(p, actions, 2, &d, &err));
	zr_process_def_free(d);
	json_decref(p);
	p = json_pack("{s[ss]}", "command", "x", big);
	ASSERT_EQ_INT(zr_process_def_parse(p, actions, 2, &d, &err), -EINVAL);
	ASSERT_EQ_STR(err, "field 'process.command[1]': must be a string of at most 4096 bytes "
			   "without NUL");
	free(err);
	err = NULL;
	json_decref(p);
	free(big);

	json_t *env = json_object();
	for (int i = 0; i < 65; i++) {
		char name[16];
		snprintf(name, sizeof(name), "V%d", i);
		json_object_set_new(env, name, json_string("x"));
	}
	p = json_pack("{s[s] sO}", "command", "x", "env", env);
	ASSERT_EQ_INT(zr_process_def_parse(p, actions, 2, &d, &err), -EINVAL);
	ASSERT_EQ_STR(err, "field 'process.env': more than 64 variables");
	free(err);
	err = NULL;
	json_object_del(env, "V0");
	ASSERT_OK(zr_process_def_parse(p, actions, 2, &d, &err));
	ASSERT_EQ_SIZE(d->n_env, 64);
	zr_process_def_free(d);
	json_decref(p);
	json_decref(env);
}

/* Expands tmpl with data (JSON text) and asserts the result. */
static void expands(const char *tmpl, const char *data, const char *want)
{
	TEST_CASE("%s", tmpl);
	json_t *j = load_json(data);
	char *out = NULL, *err = NULL;
	ASSERT_OK(zr_process_expand(tmpl, j, &out, &err));
	ASSERT_NULL(err);
	ASSERT_EQ_STR(out, want);
	free(out);
	json_decref(j);
	TEST_CASE_END();
}

static void expand_fails(const char *tmpl, const char *data, const char *want)
{
	TEST_CASE("%s", tmpl);
	json_t *j = load_json(data);
	char *out = NULL, *err = NULL;
	ASSERT_EQ_INT(zr_process_expand(tmpl, j, &out, &err), -EINVAL);
	ASSERT_NULL(out);
	ASSERT_EQ_STR(err, want);
	free(err);
	json_decref(j);
	TEST_CASE_END();
}

TEST(expand)
{
	const char *data = "{\"port\": 6379, \"host\": \"db.local\", \"ratio\": 0.5, \"on\": true,"
			   " \"off\": false, \"empty\": \"\", \"neg\": -3, \"password\": \"hunter2\","
			   " \"tenth\": 0.1, \"two\": 2.0, \"third\": 0.333333333333333333, \"big\": 1e300,"
			   " \"obj\": {\"a\": 1}, \"list\": [1], \"none\": null, \"nul\": \"a\\u0000b\"}";
	expands("redis-server", data, "redis-server");
	expands("", data, "");
	expands("${port}", data, "6379");
	expands("--port=${port}", data, "--port=6379");
	expands("${host}:${port}", data, "db.local:6379");
	expands("x${empty}y", data, "xy");
	expands("${ratio} ${on} ${off} ${neg}", data, "0.5 true false -3");
	expands("${tenth} ${two} ${third} ${big}", data, "0.1 2.0 0.3333333333333333 1e300");
	expands("$${port}", data, "${port}");
	expands("a$${port}b${port}", data, "a${port}b6379");
	expands("$$ $x $ {port} $", data, "$$ $x $ {port} $");
	expands("${password}", data, "hunter2");
	expands("${port}${port}", data, "63796379");

	expand_fails("${nope}", data, "field 'nope' is not set");
	expand_fails("${none}", data, "field 'none' is not set");
	expand_fails("a${port", data, "'${' without its '}'");
	expand_fails("${obj}", data,
		     "field 'obj' is an object or array, not a string, number or boolean");
	expand_fails("${list}", data,
		     "field 'list' is an object or array, not a string, number or boolean");
	expand_fails("${nul}", data, "field 'nul' holds a NUL byte");

	/* A secret's value never shows in a reason, whatever goes wrong after it. */
	json_t *j = load_json(data);
	char *out = NULL, *err = NULL;
	ASSERT_EQ_INT(zr_process_expand("${password}${nope}", j, &out, &err), -EINVAL);
	ASSERT_NULL(strstr(err, "hunter2"));
	ASSERT_EQ_STR(err, "field 'nope' is not set");
	free(err);
	json_decref(j);
}

TEST(signals)
{
	static const struct {
		const char *name;
		int sig;
	} good[] = {
		{"TERM", SIGTERM}, {"SIGTERM", SIGTERM}, {"HUP", SIGHUP}, {"SIGHUP", SIGHUP},
		{"USR1", SIGUSR1}, {"USR2", SIGUSR2},    {"INT", SIGINT}, {"KILL", SIGKILL},
		{"QUIT", SIGQUIT}, {"WINCH", SIGWINCH},  {"CONT", SIGCONT},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		TEST_CASE("%s", good[i].name);
		ASSERT_EQ_INT(zr_signal_parse(good[i].name), good[i].sig);
		const char *bare = strncmp(good[i].name, "SIG", 3) == 0 ? good[i].name + 3
									: good[i].name;
		ASSERT_EQ_STR(zr_signal_name(good[i].sig), bare);
	}
	TEST_CASE_END();
	static const char *const bad[] = {"", "term", "SIG", "SIGterm", "15", "TERM ", "SIGSIGTERM",
					  "RTMIN"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_CASE("%s", bad[i]);
		ASSERT_EQ_INT(zr_signal_parse(bad[i]), -EINVAL);
	}
	TEST_CASE_END();
	ASSERT_EQ_INT(zr_signal_parse(NULL), -EINVAL);
	ASSERT_NULL(zr_signal_name(0));
	ASSERT_NULL(zr_signal_name(SIGRTMIN));
}

TEST(sizes)
{
	static const struct {
		const char *text;
		unsigned long long value;
	} good[] = {
		{"0", 0},
		{"4096", 4096},
		{"64K", 64ULL << 10},
		{"512M", 512ULL << 20},
		{"1G", 1ULL << 30},
		{"2T", 2ULL << 40},
		{"18446744073709551615", 18446744073709551615ULL},
		{"16777215T", 16777215ULL << 40},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		TEST_CASE("%s", good[i].text);
		unsigned long long v = 1;
		ASSERT_OK(zr_size_parse(good[i].text, &v));
		ASSERT_EQ_U64(v, good[i].value);
	}
	TEST_CASE_END();
	static const char *const bad[] = {"", "M", "1.5G", "-1", "1 G", "1g", "1MB", "1KiB", "1P",
					  "18446744073709551616", "16777216T", "99999999999999999999",
					  "0x10", " 1"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_CASE("%s", bad[i]);
		unsigned long long v = 7;
		ASSERT_EQ_INT(zr_size_parse(bad[i], &v), -EINVAL);
		ASSERT_EQ_U64(v, 7);
	}
	TEST_CASE_END();
	unsigned long long v = 0;
	ASSERT_EQ_INT(zr_size_parse(NULL, &v), -EINVAL);
}

int main(void)
{
	RUN_TEST(defaults);
	RUN_TEST(every_field);
	RUN_TEST(ready_kinds);
	RUN_TEST(refusals);
	RUN_TEST(bounds);
	RUN_TEST(expand);
	RUN_TEST(signals);
	RUN_TEST(sizes);
	return 0;
}
