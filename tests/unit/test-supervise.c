/* The supervisor with real servers started through the launcher ($ZR_EXEC) on a real loop:
 * start, readiness (none, tcp, timeout), kill -9 and restart, a crash loop hitting the budget,
 * a double-forking setsid'ing server stopped whole, adoption and a reused pid, a missing
 * command, restart, signal, want once. Every case runs twice: in a cgroup of its own (when
 * cgroup v2 is usable here) and with the process group and marker sweep instead. */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "journal.h"
#include "procstat.h"
#include "supervise.h"
#include "test.h"
#include "util/buf.h"

static uv_loop_t loop;
static uv_timer_t tick;
static char *cgroup_base;      /* NULL in the fallback pass */
static const char *mode = "";  /* "cgroup" or "fallback", for ids */
static int case_no;
static char *ids[64]; /* every case's id, for the clean-up of a failed run */
static size_t n_ids;

/* What one supervisor reported through its hooks. */
struct sv {
	struct zr_sup *sup;
	struct zr_process_def def;
	char *cmd[8];
	char *ready_arg;
	char *id, *dir, *log, *notify;
	int events_started, events_ready, events_exited, events_restarting, events_failed;
	int events_adopted, events_limit;
	int on_start, on_ready, on_exit, on_fail;
	int persists;
	struct zr_sup_persist last;
	char *last_cgroup;
	const char *health;
	int health_calls;
	bool closed;
	/* ready.exec: the pending call's done and arg, answered by the test (or never). */
	void (*exec_done)(int err, void *arg);
	void *exec_arg;
	int exec_calls;
	char *exec_action;
	/* The last request's answer. */
	int done, err;
	char *why;
};

static int hook_launch(void *data, struct zr_sup_launch *l, char **why)
{
	struct sv *v = data;
	size_t n = 0;
	while (v->cmd[n]) {
		n++;
	}
	l->argv = calloc(n + 1, sizeof(char *));
	l->env = calloc(3, sizeof(char *));
	ASSERT_TRUE(l->argv && l->env);
	for (size_t i = 0; i < n; i++) {
		l->argv[i] = strdup(v->cmd[i]);
	}
	l->env[0] = test_strf("PATH=%s", getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	l->env[1] = strdup("LANG=C");
	l->ready_arg = v->ready_arg ? strdup(v->ready_arg) : NULL;
	(void)why;
	return 0;
}

static void hook_event(void *data, const char *type, json_t *detail)
{
	struct sv *v = data;
	ASSERT_FALSE(v->closed);
	if (strcmp(type, "process.started") == 0) {
		v->events_started++;
	} else if (strcmp(type, "process.ready") == 0) {
		v->events_ready++;
	} else if (strcmp(type, "process.exited") == 0) {
		v->events_exited++;
	} else if (strcmp(type, "process.restarting") == 0) {
		v->events_restarting++;
	} else if (strcmp(type, "process.failed") == 0) {
		v->events_failed++;
	} else if (strcmp(type, "process.adopted") == 0) {
		v->events_adopted++;
	} else if (strcmp(type, "process.limit") == 0) {
		v->events_limit++;
	} else {
		FAIL("unknown event %s", type);
	}
	json_decref(detail);
}

static void hook_health(void *data, const char *level)
{
	struct sv *v = data;
	ASSERT_FALSE(v->closed);
	v->health = level;
	v->health_calls++;
}

static void hook_on(void *data, const char *which)
{
	struct sv *v = data;
	ASSERT_FALSE(v->closed);
	if (strcmp(which, "start") == 0) {
		v->on_start++;
	} else if (strcmp(which, "ready") == 0) {
		v->on_ready++;
	} else if (strcmp(which, "exit") == 0) {
		v->on_exit++;
	} else if (strcmp(which, "fail") == 0) {
		v->on_fail++;
	} else {
		FAIL("unknown on.%s", which);
	}
}

static void hook_persist(void *data, const struct zr_sup_persist *p)
{
	struct sv *v = data;
	ASSERT_FALSE(v->closed);
	v->persists++;
	v->last = *p;
	free(v->last_cgroup);
	v->last_cgroup = p->cgroup ? strdup(p->cgroup) : NULL;
	v->last.cgroup = v->last_cgroup;
}

static void hook_ready_exec(void *data, const char *action, void (*done)(int err, void *arg),
			    void *arg)
{
	struct sv *v = data;
	ASSERT_FALSE(v->closed);
	v->exec_calls++;
	free(v->exec_action);
	v->exec_action = strdup(action);
	v->exec_done = done;
	v->exec_arg = arg;
}

static const struct zr_sup_hooks hooks = {
	.ready_exec = hook_ready_exec,
	.launch = hook_launch,
	.event = hook_event,
	.health = hook_health,
	.on = hook_on,
	.persist = hook_persist,
};

static void defaults(struct zr_process_def *d)
{
	*d = (struct zr_process_def){
		.ready = ZR_READY_NONE,
		.ready_timeout = 30,
		.restart = ZR_RESTART_ON_FAILURE,
		.restart_delay = 0.01,
		.restart_delay_max = 1,
		.start_burst = 5,
		.start_interval = 60,
		.stop_signal = SIGTERM,
		.stop_timeout = 5,
		.reload_signal = SIGHUP,
	};
}

/* A fresh supervisor of cmd (a NULL-terminated list) with its own folder. */
static void sv_init(struct sv *v, const char *const *cmd)
{
	memset(v, 0, sizeof(*v));
	defaults(&v->def);
	for (size_t i = 0; cmd[i]; i++) {
		ASSERT_LT_SIZE(i, 7);
		v->cmd[i] = (char *)cmd[i];
	}
	case_no++;
	v->id = test_strf("zr-test-sup-%d-%s-%d", (int)getpid(), mode, case_no);
	ASSERT_LT_SIZE(n_ids, sizeof(ids) / sizeof(ids[0]));
	ids[n_ids++] = strdup(v->id);
	v->dir = test_strf("%s/%s", test_tmp_dir(), v->id);
	ASSERT_OK(mkdir(v->dir, 0700) < 0 ? -errno : 0);
	v->log = test_strf("%s/output", v->dir);
	v->notify = test_strf("%s/notify", v->dir);
}

static void sv_create(struct sv *v, const struct zr_sup_persist *restored)
{
	v->closed = false;
	struct zr_sup_config cfg = {
		.loop = &loop,
		.def = &v->def,
		.name = "test/sup",
		.id = v->id,
		.cwd = v->dir,
		.log_path = v->log,
		.notify_path = v->notify,
		.cgroup_base = cgroup_base,
		.launcher = getenv("ZR_EXEC"),
		.log_max = 64 * 1024,
		.hooks = &hooks,
		.data = v,
	};
	ASSERT_OK(zr_sup_create(&cfg, restored, &v->sup));
}

static void on_done(int err, const char *why, void *data)
{
	struct sv *v = data;
	v->done++;
	v->err = err;
	free(v->why);
	v->why = why ? strdup(why) : NULL;
	if (err) {
		ASSERT_NOT_NULL(why);
		ASSERT_TRUE(why[strlen(why) - 1] == '\n');
	}
}

static void on_closed(void *data)
{
	struct sv *v = data;
	v->closed = true;
}

/* Runs a request and the loop until it answers; returns its err. */
static int request(struct sv *v, void (*fn)(struct zr_sup *, zr_sup_done_cb, void *))
{
	int before = v->done;
	fn(v->sup, on_done, v);
	TEST_RUN_UNTIL(&loop, &tick, v->done > before, "no answer to the request");
	ASSERT_EQ_INT(v->done, before + 1);
	return v->err;
}
#define REQUEST(v, fn) request((v), (fn))

static void sv_close(struct sv *v, bool stop)
{
	zr_sup_close(v->sup, stop, on_closed, v);
	TEST_RUN_UNTIL(&loop, &tick, v->closed, "close never ended");
	v->sup = NULL;
}

static void sv_done(struct sv *v)
{
	if (v->sup) {
		sv_close(v, true);
	}
	free(v->why);
	free(v->last_cgroup);
	free(v->exec_action);
	char *cmd = test_strf("rm -rf '%s'", v->dir);
	ASSERT_EQ_INT(system(cmd), 0);
	free(cmd);
	free(v->id);
	free(v->dir);
	free(v->log);
	free(v->notify);
}

static size_t marked(const char *id)
{
	pid_t *pids = NULL;
	size_t n = 0;
	ASSERT_OK(zr_proc_marked(id, &pids, &n));
	free(pids);
	return n;
}

static bool alive(pid_t pid)
{
	unsigned long long st;
	return zr_proc_start_time(pid, &st) == 0;
}

/* Waits until pid runs name: the launcher has exec'd it, so it is in its cgroup and its
 * environment (the marker) is readable. Right after the spawn the launcher may still be
 * setting up (posix_spawn returns once the launcher's own exec released the parent). */
static void wait_exec(pid_t pid, const char *name)
{
	char *path = test_strf("/proc/%d/comm", (int)pid);
	char *want = test_strf("%s\n", name);
	uint64_t deadline = uv_hrtime() + 20ull * 1000 * 1000 * 1000;
	for (;;) {
		char buf[64] = "";
		FILE *f = fopen(path, "re");
		ASSERT_NOT_NULL(f);
		(void)!fgets(buf, sizeof(buf), f);
		fclose(f);
		/* The new image's name comes before its environment: both must be there. */
		char *env = test_strf("/proc/%d/environ", (int)pid);
		FILE *e = fopen(env, "re");
		int c = e ? fgetc(e) : EOF;
		if (e) {
			fclose(e);
		}
		free(env);
		if (strcmp(buf, want) == 0 && c != EOF) {
			break;
		}
		if (uv_hrtime() > deadline) {
			FAIL("%d never ran %s", (int)pid, name);
		}
		(void)uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
	free(path);
	free(want);
}

static char *status(struct sv *v)
{
	struct zr_buf b = {0};
	zr_sup_status(v->sup, &b);
	return zr_buf_steal(&b);
}

static bool contains(const char *hay, const char *needle)
{
	return strstr(hay, needle) != NULL;
}

#define ASSERT_CONTAINS(hay, needle)                                                     \
	do {                                                                             \
		const char *_h = (hay);                                                  \
		if (!contains(_h, (needle))) {                                           \
			FAIL("\"%s\" does not contain \"%s\"", _h, (needle));            \
		}                                                                        \
	} while (0)

static const char *const sleep_cmd[] = {"sleep", "1000", NULL};

TEST(start_stop)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_READY);
	pid_t pid = zr_sup_pid(v.sup);
	ASSERT_GT_INT(pid, 0);
	ASSERT_TRUE(alive(pid));
	ASSERT_EQ_STR(v.health, "ok");
	ASSERT_EQ_INT(v.events_started, 1);
	ASSERT_EQ_INT(v.events_ready, 1);
	ASSERT_EQ_INT(v.on_start, 1);
	ASSERT_EQ_INT(v.on_ready, 1);
	ASSERT_EQ_INT(v.last.want, ZR_WANT_UP);
	ASSERT_EQ_INT(v.last.pid, pid);
	ASSERT_NE_U64(v.last.start_time, 0);
	ASSERT_EQ_INT(v.last.cgroup != NULL, cgroup_base != NULL);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "state ready\n");
	char *pidline = test_strf("pid %d\n", (int)pid);
	ASSERT_CONTAINS(st, pidline);
	ASSERT_CONTAINS(st, "uptime ");
	ASSERT_CONTAINS(st, "restarts 0\n");
	ASSERT_CONTAINS(st, "adopted no\n");
	free(pidline);
	free(st);
	/* A second start while ready answers at once. */
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);

	ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_DOWN);
	ASSERT_EQ_INT(zr_sup_pid(v.sup), 0);
	ASSERT_FALSE(alive(pid));
	ASSERT_EQ_SIZE(marked(v.id), 0);
	ASSERT_NULL(v.health);
	ASSERT_EQ_INT(v.last.want, ZR_WANT_DOWN);
	ASSERT_EQ_INT(v.last.pid, 0);
	st = status(&v);
	ASSERT_CONTAINS(st, "state down\n");
	ASSERT_FALSE(contains(st, "pid "));
	ASSERT_CONTAINS(st, "last_exit signal TERM\n");
	free(st);
	ASSERT_EQ_INT(zr_sup_signal(v.sup, SIGHUP), -ESRCH);
	/* The server's cgroup goes with it. */
	if (cgroup_base) {
		char *dir = test_strf("%s/%s", cgroup_base, v.id);
		struct stat sb;
		ASSERT_EQ_INT(stat(dir, &sb), -1);
		free(dir);
	}
	sv_done(&v);
}

TEST(kill9_restarts)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	pid_t pid = zr_sup_pid(v.sup);
	ASSERT_OK(kill(pid, SIGKILL));
	TEST_RUN_UNTIL(&loop, &tick,
		       zr_sup_state(v.sup) == ZR_SUP_READY && zr_sup_pid(v.sup) != pid,
		       "never restarted");
	ASSERT_FALSE(alive(pid));
	wait_exec(zr_sup_pid(v.sup), "sleep");
	ASSERT_EQ_INT(v.events_exited, 1);
	ASSERT_EQ_INT(v.events_restarting, 1);
	ASSERT_EQ_INT(v.on_exit, 1);
	ASSERT_EQ_INT(v.events_started, 2);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "restarts 1\n");
	ASSERT_CONTAINS(st, "last_exit signal KILL\n");
	ASSERT_CONTAINS(st, "reason killed by signal KILL\n");
	free(st);
	struct zr_buf b = {0};
	zr_sup_deaths(v.sup, &b);
	ASSERT_NOT_NULL(b.data);
	ASSERT_CONTAINS(b.data, " signal KILL uptime ");
	ASSERT_EQ_INT(strchr(b.data, '\n') - b.data + 1, (long long)b.len);
	zr_buf_done(&b);
	/* Only one server at a time: the marker is on the new one alone. */
	ASSERT_EQ_SIZE(marked(v.id), 1);
	sv_done(&v);
}

TEST(crash_loop_fails)
{
	static const char *const cmd[] = {"sh", "-c", "echo crashing; exit 1", NULL};
	struct sv v;
	sv_init(&v, cmd);
	v.def.start_burst = 3;
	sv_create(&v, NULL);
	zr_sup_start(v.sup, NULL, NULL);
	TEST_RUN_UNTIL(&loop, &tick, zr_sup_state(v.sup) == ZR_SUP_FAILED, "never failed");
	ASSERT_EQ_INT(v.events_started, 3);
	ASSERT_EQ_INT(v.events_exited, 3);
	ASSERT_EQ_INT(v.events_failed, 1);
	ASSERT_EQ_INT(v.on_fail, 1);
	ASSERT_EQ_STR(v.health, "error");
	ASSERT_TRUE(v.last.failed);
	ASSERT_EQ_INT(v.last.want, ZR_WANT_UP);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "state failed\n");
	ASSERT_CONTAINS(st, "reason start limit: more than 3 starts in 60 s\n");
	ASSERT_CONTAINS(st, "last_exit code 1\n");
	free(st);
	/* Stays failed: nothing more happens. */
	uint64_t until = uv_hrtime() + 200 * 1000 * 1000ull;
	TEST_RUN_UNTIL(&loop, &tick, uv_hrtime() > until, "timer");
	ASSERT_EQ_INT(v.events_started, 3);
	/* A user's start is a fresh budget, and on.fail fires again at its end. */
	zr_sup_start(v.sup, NULL, NULL);
	ASSERT_FALSE(v.last.failed);
	TEST_RUN_UNTIL(&loop, &tick, v.on_fail == 2, "the second budget never ran out");
	ASSERT_EQ_INT(v.events_started, 6);
	/* The death log keeps the exits. */
	struct zr_buf b = {0};
	zr_sup_deaths(v.sup, &b);
	size_t lines = 0;
	for (size_t i = 0; i < b.len; i++) {
		lines += b.data[i] == '\n';
	}
	ASSERT_EQ_SIZE(lines, 6);
	ASSERT_CONTAINS(b.data, " code 1 uptime ");
	zr_buf_done(&b);
	/* Stopping a failed server: down as wanted. */
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_DOWN);
	ASSERT_FALSE(v.last.failed);
	ASSERT_NULL(v.health);
	sv_done(&v);
}

TEST(double_fork_stopped_whole)
{
	/* The server starts a child that leaves its session (setsid) and its parent (&): only
	 * the cgroup, or the marker in its environment, still finds it. */
	static const char *const cmd[] = {
		"sh", "-c", "setsid sh -c 'sleep 1000 & sleep 1000' & exec sleep 1000", NULL};
	struct sv v;
	sv_init(&v, cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	TEST_RUN_UNTIL(&loop, &tick, marked(v.id) >= 4, "the tree never grew");
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	ASSERT_EQ_SIZE(marked(v.id), 0);
	sv_done(&v);
}

TEST(stop_timeout_kills)
{
	/* Ready once it says it ignores TERM (a ready.log probe), so the stop finds it so. */
	static const char *const cmd[] = {
		"sh", "-c", "trap '' TERM; echo ignoring TERM; while :; do sleep 0.05; done", NULL};
	struct sv v;
	sv_init(&v, cmd);
	v.def.stop_timeout = 0.2;
	v.def.ready = ZR_READY_LOG;
	v.ready_arg = strdup("^ignoring T[A-Z]+$");
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	uint64_t t0 = uv_hrtime();
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	ASSERT_GE_INT((long long)(uv_hrtime() - t0), 200 * 1000 * 1000LL);
	ASSERT_EQ_SIZE(marked(v.id), 0);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "last_exit signal KILL\n");
	free(st);
	free(v.ready_arg);
	sv_done(&v);
}

TEST(adopt_after_close)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	pid_t pid = zr_sup_pid(v.sup);
	wait_exec(pid, "sleep");
	/* The robot goes away and leaves its server running. */
	sv_close(&v, false);
	ASSERT_TRUE(alive(pid));
	struct zr_sup_persist p = v.last;
	p.cgroup = v.last_cgroup ? strdup(v.last_cgroup) : NULL;
	ASSERT_EQ_INT(p.pid, pid);
	v.events_started = 0;
	sv_create(&v, &p);
	TEST_RUN_UNTIL(&loop, &tick, v.events_adopted == 1, "never adopted");
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_READY);
	ASSERT_EQ_INT(zr_sup_pid(v.sup), pid);
	ASSERT_EQ_INT(v.events_started, 0);
	ASSERT_EQ_STR(v.health, "ok");
	wait_exec(pid, "sleep");
	char *st = status(&v);
	ASSERT_CONTAINS(st, "adopted yes\n");
	ASSERT_CONTAINS(st, "since ");
	free(st);
	ASSERT_EQ_SIZE(marked(v.id), 1);
	/* This process is still its parent, so the exit status is known here (after a real
	 * robot restart it reads "unknown"). */
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	ASSERT_FALSE(alive(pid));
	ASSERT_EQ_SIZE(marked(v.id), 0);
	st = status(&v);
	ASSERT_CONTAINS(st, "last_exit signal TERM\n");
	ASSERT_CONTAINS(st, "adopted no\n");
	free(st);
	free((char *)p.cgroup);
	sv_done(&v);
}

TEST(reused_pid_not_adopted)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	pid_t pid = zr_sup_pid(v.sup);
	wait_exec(pid, "sleep");
	sv_close(&v, false);
	/* Another start time: the pid is someone else's now as far as the robot can tell. */
	struct zr_sup_persist p = v.last;
	p.start_time++;
	p.cgroup = v.last_cgroup ? strdup(v.last_cgroup) : NULL;
	sv_create(&v, &p);
	TEST_RUN_UNTIL(&loop, &tick, zr_sup_state(v.sup) == ZR_SUP_READY, "never started");
	ASSERT_EQ_INT(v.events_adopted, 0);
	ASSERT_NE_INT(zr_sup_pid(v.sup), pid);
	/* What was left under its cgroup or marker went first: one server, never two. */
	ASSERT_FALSE(alive(pid));
	wait_exec(zr_sup_pid(v.sup), "sleep");
	ASSERT_EQ_SIZE(marked(v.id), 1);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "adopted no\n");
	free(st);
	free((char *)p.cgroup);
	sv_done(&v);
}

TEST(leftover_killed_before_first_start)
{
	/* The last robot died before it stored the pid: nothing to adopt, but its server still
	 * runs, found without a sweep of /proc in the service's cgroup, else by the marker. */
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	pid_t pid = zr_sup_pid(v.sup);
	wait_exec(pid, "sleep");
	sv_close(&v, false);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	ASSERT_NE_INT(zr_sup_pid(v.sup), pid);
	ASSERT_FALSE(alive(pid));
	wait_exec(zr_sup_pid(v.sup), "sleep");
	ASSERT_EQ_SIZE(marked(v.id), 1);
	sv_done(&v);
}

TEST(dead_server_restarted_when_wanted)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	pid_t pid = zr_sup_pid(v.sup);
	sv_close(&v, false);
	ASSERT_OK(kill(pid, SIGKILL));
	while (alive(pid)) {
		(void)uv_run(&loop, UV_RUN_NOWAIT);
	}
	struct zr_sup_persist p = v.last;
	p.failed = true; /* a failed one with want up gets a fresh budget at the robot's start */
	p.cgroup = v.last_cgroup ? strdup(v.last_cgroup) : NULL;
	sv_create(&v, &p);
	TEST_RUN_UNTIL(&loop, &tick, zr_sup_state(v.sup) == ZR_SUP_READY, "never started");
	ASSERT_NE_INT(zr_sup_pid(v.sup), pid);
	ASSERT_FALSE(v.last.failed);
	free((char *)p.cgroup);
	sv_done(&v);
}

TEST(missing_command)
{
	static const char *const cmd[] = {"zr-no-such-command", "x", NULL};
	struct sv v;
	sv_init(&v, cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), -ENOENT);
	ASSERT_EQ_STR(v.why, "ENOENT: cannot run zr-no-such-command\n");
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_FAILED);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "reason ENOENT: cannot run zr-no-such-command\n");
	free(st);
	ASSERT_EQ_INT(v.events_started, 0);
	ASSERT_EQ_INT(v.on_fail, 1);
	/* Not executable: EACCES. */
	char *path = test_strf("%s/not-exec", v.dir);
	test_write_file(path, "#!/bin/sh\n", 0600);
	v.cmd[0] = path;
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), -EACCES);
	char *want = test_strf("EACCES: cannot run %s\n", path);
	ASSERT_EQ_STR(v.why, want);
	free(want);
	free(path);
	sv_done(&v);
}

/* A TCP port nobody listens on right now. */
static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_GE_INT(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	socklen_t len = sizeof(a);
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	close(fd);
	return ntohs(a.sin_port);
}

TEST(ready_timeout)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	v.def.ready = ZR_READY_TCP;
	v.def.ready_timeout = 0.3;
	v.def.restart = ZR_RESTART_NEVER;
	v.ready_arg = test_strf("127.0.0.1:%d", free_port());
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), -ETIMEDOUT);
	ASSERT_TRUE(strncmp(v.why, "not ready after 0.3 s\n", 22) == 0);
	TEST_RUN_UNTIL(&loop, &tick, zr_sup_state(v.sup) == ZR_SUP_FAILED, "never failed");
	ASSERT_EQ_SIZE(marked(v.id), 0);
	ASSERT_EQ_INT(v.events_ready, 0);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "reason not ready after 0.3 s\n");
	free(st);
	free(v.ready_arg);
	sv_done(&v);
}

TEST(exit_before_ready)
{
	static const char *const cmd[] = {"sh", "-c", "echo one; echo two >&2; exit 3", NULL};
	struct sv v;
	sv_init(&v, cmd);
	v.def.ready = ZR_READY_TCP;
	v.def.restart = ZR_RESTART_NEVER;
	v.ready_arg = test_strf("127.0.0.1:%d", free_port());
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), -EIO);
	ASSERT_EQ_STR(v.why, "exited with code 3 before ready\none\ntwo\n");
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_FAILED);
	free(v.ready_arg);
	sv_done(&v);
}

TEST(ready_tcp)
{
	if (system("python3 -c '' 2>/dev/null") != 0) {
		fprintf(stderr, "ready_tcp: no python3, skipped\n");
		return;
	}
	int port = free_port();
	char *ports = test_strf("%d", port);
	const char *cmd[] = {"python3", "-m", "http.server", ports, "--bind", "127.0.0.1", NULL};
	struct sv v;
	sv_init(&v, cmd);
	v.def.ready = ZR_READY_TCP;
	v.def.ready_timeout = 15;
	v.ready_arg = test_strf("127.0.0.1:%d", port);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_READY);
	/* It listens for real by now. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_OK(connect(fd, (struct sockaddr *)&a, sizeof(a)));
	close(fd);
	/* The sample sees the tree and its listening socket. */
	struct zr_sup *sups[] = {v.sup};
	zr_sup_sample(sups, 1);
	struct zr_buf b = {0};
	zr_sup_stats(v.sup, &b);
	ASSERT_NOT_NULL(b.data);
	ASSERT_CONTAINS(b.data, "rss ");
	char *listen = test_strf("listening 127.0.0.1:%d\n", port);
	ASSERT_CONTAINS(b.data, listen);
	free(listen);
	zr_buf_done(&b);
	struct zr_sup_metrics m;
	zr_sup_metrics(v.sup, &m);
	ASSERT_TRUE(m.up);
	ASSERT_GT_INT((long long)m.rss, 0);
	free(v.ready_arg);
	free(ports);
	sv_done(&v);
}

TEST(restart_and_signal)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	pid_t pid = zr_sup_pid(v.sup);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_restart), 0);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_READY);
	pid_t pid2 = zr_sup_pid(v.sup);
	ASSERT_NE_INT(pid2, pid);
	ASSERT_FALSE(alive(pid));
	wait_exec(pid2, "sleep");
	ASSERT_EQ_SIZE(marked(v.id), 1);
	/* A signal reaches the main process: sleep dies of it and is restarted (on-failure). */
	ASSERT_OK(zr_sup_signal(v.sup, SIGUSR1));
	TEST_RUN_UNTIL(&loop, &tick,
		       zr_sup_state(v.sup) == ZR_SUP_READY && zr_sup_pid(v.sup) != pid2,
		       "never restarted after the signal");
	char *st = status(&v);
	ASSERT_CONTAINS(st, "last_exit signal USR1\n");
	ASSERT_CONTAINS(st, "restarts 1\n");
	free(st);
	sv_done(&v);
}

TEST(want_once)
{
	static const char *const cmd[] = {"sh", "-c", "sleep 0.1; exit 1", NULL};
	struct sv v;
	sv_init(&v, cmd);
	sv_create(&v, NULL);
	zr_sup_set_want(v.sup, ZR_WANT_ONCE);
	ASSERT_EQ_INT(v.last.want, ZR_WANT_ONCE);
	TEST_RUN_UNTIL(&loop, &tick, v.events_exited == 1, "never ran");
	TEST_RUN_UNTIL(&loop, &tick, zr_sup_state(v.sup) == ZR_SUP_DOWN, "never down");
	uint64_t until = uv_hrtime() + 200 * 1000 * 1000ull;
	TEST_RUN_UNTIL(&loop, &tick, uv_hrtime() > until, "timer");
	ASSERT_EQ_INT(v.events_started, 1);
	ASSERT_EQ_INT(v.events_restarting, 0);
	ASSERT_EQ_INT(zr_sup_want(v.sup), ZR_WANT_DOWN);
	ASSERT_EQ_INT(v.last.want, ZR_WANT_DOWN);
	ASSERT_NULL(v.health);
	sv_done(&v);
}

TEST(close_stops_when_asked)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	pid_t pid = zr_sup_pid(v.sup);
	/* A close while a start is asked: the request is answered, the server stopped. */
	sv_close(&v, true);
	ASSERT_FALSE(alive(pid));
	ASSERT_EQ_SIZE(marked(v.id), 0);
	/* want stays up for the next robot (--stop-on-exit), with no pid. */
	ASSERT_EQ_INT(v.last.want, ZR_WANT_UP);
	ASSERT_EQ_INT(v.last.pid, 0);
	sv_done(&v);
}

TEST(cpu_limit)
{
	static const char *const cmd[] = {"sh", "-c", "while :; do :; done", NULL};
	struct sv v;
	sv_init(&v, cmd);
	v.def.cpu_percent = 10;
	v.def.limit_then = ZR_LIMIT_WARN;
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	wait_exec(zr_sup_pid(v.sup), "sh");
	struct zr_sup *sups[] = {v.sup};
	/* Two samples 200 ms apart: a busy loop uses far more than 10 % of a core. */
	zr_sup_sample(sups, 1);
	uint64_t until = uv_hrtime() + 200 * 1000 * 1000ull;
	TEST_RUN_UNTIL(&loop, &tick, uv_hrtime() > until, "timer");
	zr_sup_sample(sups, 1);
	ASSERT_EQ_INT(v.events_limit, 1);
	ASSERT_EQ_STR(v.health, "warning");
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_READY);
	struct zr_buf b = {0};
	zr_sup_stats(v.sup, &b);
	ASSERT_NOT_NULL(b.data);
	double cpu = -1;
	const char *line = strstr(b.data, "cpu_percent ");
	ASSERT_NOT_NULL(line);
	ASSERT_EQ_INT(sscanf(line, "cpu_percent %lf", &cpu), 1);
	ASSERT_TRUE(cpu > 10);
	zr_buf_done(&b);
	/* A warning is given once while it stays over. */
	until = uv_hrtime() + 100 * 1000 * 1000ull;
	TEST_RUN_UNTIL(&loop, &tick, uv_hrtime() > until, "timer");
	zr_sup_sample(sups, 1);
	ASSERT_EQ_INT(v.events_limit, 1);
	/* then restart: over the limit again, it is restarted. */
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	v.def.limit_then = ZR_LIMIT_RESTART;
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	ASSERT_EQ_STR(v.health, "ok");
	pid_t pid = zr_sup_pid(v.sup);
	wait_exec(pid, "sh");
	zr_sup_sample(sups, 1);
	until = uv_hrtime() + 200 * 1000 * 1000ull;
	TEST_RUN_UNTIL(&loop, &tick, uv_hrtime() > until, "timer");
	zr_sup_sample(sups, 1);
	TEST_RUN_UNTIL(&loop, &tick,
		       zr_sup_state(v.sup) == ZR_SUP_READY && zr_sup_pid(v.sup) != pid,
		       "never restarted for the limit");
	ASSERT_FALSE(alive(pid));
	ASSERT_EQ_INT(v.events_limit, 2);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "restarts 1\n");
	free(st);
	sv_done(&v);
}

TEST(set_def_restarts)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	pid_t pid = zr_sup_pid(v.sup);
	struct zr_process_def def2 = v.def;
	def2.stop_signal = SIGINT;
	zr_sup_set_def(v.sup, &def2);
	TEST_RUN_UNTIL(&loop, &tick,
		       zr_sup_state(v.sup) == ZR_SUP_READY && zr_sup_pid(v.sup) != pid,
		       "never restarted on the new version");
	/* The new definition's stop_signal stops it now. */
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "last_exit signal INT\n");
	free(st);
	sv_close(&v, true);
	sv_done(&v);
}

TEST(stop_while_spawning)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	/* The start is answered as cancelled at once, the stop once the tree is gone. */
	struct sv starter = {0};
	zr_sup_start(v.sup, on_done, &starter);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_STARTING);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	ASSERT_EQ_INT(starter.done, 1);
	ASSERT_EQ_INT(starter.err, -ECANCELED);
	ASSERT_EQ_STR(starter.why, "stopped before ready\n");
	free(starter.why);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_DOWN);
	ASSERT_EQ_SIZE(marked(v.id), 0);
	ASSERT_EQ_INT(zr_sup_pid(v.sup), 0);
	sv_done(&v);
}

TEST(launcher_refuses)
{
	/* The launcher cannot become that user: it says so in the log and exits 126 at once;
	 * trying again cannot help, so the start fails without restarts. */
	struct sv v;
	sv_init(&v, sleep_cmd);
	v.def.user = "zr-no-such-user";
	sv_create(&v, NULL);
	zr_sup_start(v.sup, NULL, NULL);
	TEST_RUN_UNTIL(&loop, &tick, zr_sup_state(v.sup) == ZR_SUP_FAILED, "never failed");
	ASSERT_EQ_INT(v.events_restarting, 0);
	char *st = status(&v);
	ASSERT_CONTAINS(st, "reason cannot become user zr-no-such-user: no such user\n");
	free(st);
	sv_done(&v);
}

TEST(ready_notify)
{
	if (system("python3 -c '' 2>/dev/null") != 0) {
		fprintf(stderr, "ready_notify: no python3, skipped\n");
		return;
	}
	static const char *const cmd[] = {
		"python3", "-c",
		"import os, socket, time\n"
		"time.sleep(0.2)\n"
		"s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
		"s.sendto(b'STATUS=warming', os.environ['NOTIFY_SOCKET'])\n"
		"s.sendto(b'MAINPID=1\\nREADY=1', os.environ['NOTIFY_SOCKET'])\n"
		"time.sleep(1000)\n",
		NULL};
	struct sv v;
	sv_init(&v, cmd);
	v.def.ready = ZR_READY_NOTIFY;
	v.def.ready_timeout = 15;
	sv_create(&v, NULL);
	uint64_t t0 = uv_hrtime();
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	ASSERT_GE_INT((long long)(uv_hrtime() - t0), 200 * 1000 * 1000LL);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_READY);
	sv_done(&v);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	ASSERT_NOT_NULL(d);
	int n = 0;
	while (readdir(d)) {
		n++;
	}
	(void)closedir(d);
	return n;
}

/* 30 starts and stops of a server ready by notify: every pidfd, NOTIFY_SOCKET and probe of a
 * run is closed by its end (the robot runs for months). */
TEST(no_fd_leak)
{
	if (system("python3 -c '' 2>/dev/null") != 0) {
		fprintf(stderr, "no_fd_leak: no python3, skipped\n");
		return;
	}
	static const char *const cmd[] = {
		"python3", "-c",
		"import os, socket, time\n"
		"s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
		"s.sendto(b'READY=1', os.environ['NOTIFY_SOCKET'])\n"
		"time.sleep(1000)\n",
		NULL};
	struct sv v;
	sv_init(&v, cmd);
	v.def.ready = ZR_READY_NOTIFY;
	v.def.ready_timeout = 15;
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	int before = count_fds();
	for (int i = 0; i < 30; i++) {
		TEST_CASE("cycle %d", i);
		ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
		ASSERT_EQ_INT(REQUEST(&v, zr_sup_stop), 0);
	}
	TEST_CASE_END();
	ASSERT_EQ_INT(count_fds(), before);
	sv_done(&v);
}

TEST(ready_exec)
{
	struct sv v;
	sv_init(&v, sleep_cmd);
	v.def.ready = ZR_READY_EXEC;
	v.def.ready_arg = "check";
	v.def.ready_timeout = 0.3;
	v.def.restart = ZR_RESTART_NEVER;
	sv_create(&v, NULL);
	int before = v.done;
	zr_sup_start(v.sup, on_done, &v);
	TEST_RUN_UNTIL(&loop, &tick, v.exec_calls == 1, "ready.exec never asked");
	ASSERT_EQ_STR(v.exec_action, "check");
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_STARTING);
	ASSERT_EQ_INT(v.done, before);
	/* A failed check runs again (a server is seldom ready at the first one). */
	v.exec_done(-EIO, v.exec_arg);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_STARTING);
	TEST_RUN_UNTIL(&loop, &tick, v.exec_calls == 2, "ready.exec never asked again");
	ASSERT_EQ_INT(v.done, before);
	v.exec_done(0, v.exec_arg);
	ASSERT_EQ_INT(v.done, before + 1);
	ASSERT_EQ_INT(v.err, 0);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_READY);
	/* A check that never answers: not ready after ready_timeout, the tree killed. */
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_restart), -ETIMEDOUT);
	ASSERT_EQ_INT(v.exec_calls, 3);
	ASSERT_TRUE(strncmp(v.why, "not ready after 0.3 s\n", 22) == 0);
	TEST_RUN_UNTIL(&loop, &tick, zr_sup_state(v.sup) == ZR_SUP_FAILED, "never failed");
	ASSERT_EQ_SIZE(marked(v.id), 0);
	/* The late answer of the old check changes nothing. */
	v.exec_done(0, v.exec_arg);
	ASSERT_EQ_INT(zr_sup_state(v.sup), ZR_SUP_FAILED);
	sv_done(&v);
}

TEST(adopted_with_want_down_stopped)
{
	/* The last robot died during a stop: want down was stored, the server still runs. */
	struct sv v;
	sv_init(&v, sleep_cmd);
	sv_create(&v, NULL);
	ASSERT_EQ_INT(REQUEST(&v, zr_sup_start), 0);
	pid_t pid = zr_sup_pid(v.sup);
	wait_exec(pid, "sleep");
	sv_close(&v, false);
	struct zr_sup_persist p = v.last;
	p.want = ZR_WANT_DOWN;
	p.cgroup = v.last_cgroup ? strdup(v.last_cgroup) : NULL;
	sv_create(&v, &p);
	TEST_RUN_UNTIL(&loop, &tick, v.events_adopted == 1 && zr_sup_state(v.sup) == ZR_SUP_DOWN,
		       "never stopped");
	ASSERT_FALSE(alive(pid));
	ASSERT_EQ_SIZE(marked(v.id), 0);
	ASSERT_EQ_INT(v.last.pid, 0);
	free((char *)p.cgroup);
	sv_done(&v);
}

TEST(want_parse)
{
	enum zr_sup_want w;
	ASSERT_OK(zr_sup_want_parse("up\n", 3, &w));
	ASSERT_EQ_INT(w, ZR_WANT_UP);
	ASSERT_OK(zr_sup_want_parse("once", 4, &w));
	ASSERT_EQ_INT(w, ZR_WANT_ONCE);
	ASSERT_OK(zr_sup_want_parse("down", 4, &w));
	ASSERT_EQ_INT(w, ZR_WANT_DOWN);
	ASSERT_EQ_INT(zr_sup_want_parse("up\n\n", 4, &w), -EINVAL);
	ASSERT_EQ_INT(zr_sup_want_parse("UP", 2, &w), -EINVAL);
	ASSERT_EQ_INT(zr_sup_want_parse("", 0, &w), -EINVAL);
	ASSERT_EQ_STR(zr_sup_state_name(ZR_SUP_BACKOFF), "backoff");
	ASSERT_EQ_STR(zr_sup_want_name(ZR_WANT_ONCE), "once");
}

static void run_all(void)
{
	RUN_TEST(start_stop);
	RUN_TEST(kill9_restarts);
	RUN_TEST(crash_loop_fails);
	RUN_TEST(double_fork_stopped_whole);
	RUN_TEST(stop_timeout_kills);
	RUN_TEST(adopt_after_close);
	RUN_TEST(reused_pid_not_adopted);
	RUN_TEST(leftover_killed_before_first_start);
	RUN_TEST(dead_server_restarted_when_wanted);
	RUN_TEST(missing_command);
	RUN_TEST(ready_timeout);
	RUN_TEST(exit_before_ready);
	RUN_TEST(ready_tcp);
	RUN_TEST(restart_and_signal);
	RUN_TEST(want_once);
	RUN_TEST(close_stops_when_asked);
	RUN_TEST(cpu_limit);
	RUN_TEST(set_def_restarts);
	RUN_TEST(stop_while_spawning);
	RUN_TEST(launcher_refuses);
	RUN_TEST(ready_notify);
	RUN_TEST(no_fd_leak);
	RUN_TEST(ready_exec);
	RUN_TEST(adopted_with_want_down_stopped);
}

/* A failed assertion exits with servers still running: kill what carries a case's marker. */
static void kill_leftovers(void)
{
	for (size_t i = 0; i < n_ids; i++) {
		pid_t *pids = NULL;
		size_t n = 0;
		if (zr_proc_marked(ids[i], &pids, &n) == 0) {
			for (size_t k = 0; k < n; k++) {
				(void)kill(pids[k], SIGKILL);
			}
		}
		free(pids);
		if (cgroup_base) {
			char *dir = test_strf("%s/%s", cgroup_base, ids[i]);
			for (int t = 0; t < 100 && rmdir(dir) < 0 && errno == EBUSY; t++) {
				usleep(10000);
			}
			free(dir);
		}
		free(ids[i]);
	}
	n_ids = 0;
}

int main(void)
{
	if (!getenv("ZR_EXEC")) {
		TEST_SKIP("ZR_EXEC (the launcher) not set");
	}
	ASSERT_OK(atexit(kill_leftovers));
	ASSERT_OK(uv_loop_init(&loop));
	ASSERT_OK(uv_timer_init(&loop, &tick));
	RUN_TEST(want_parse);

	char *why = NULL;
	if (geteuid() == 0 && zr_cgroup_base(&cgroup_base, &why) == 0) {
		mode = "cgroup";
		fprintf(stderr, "# with cgroups under %s\n", cgroup_base);
		run_all();
		kill_leftovers();
		free(cgroup_base);
		cgroup_base = NULL;
	} else {
		fprintf(stderr, "# no cgroup pass: %s\n", why ? why : "not root");
	}
	free(why);
	mode = "fallback";
	fprintf(stderr, "# without cgroups\n");
	run_all();

	uv_close((uv_handle_t *)&tick, NULL);
	ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
	ASSERT_OK(uv_loop_close(&loop));
	return 0;
}
