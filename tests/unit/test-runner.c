/* The runner and the child module with real child processes (no FUSE): exit status, signals,
 * the three output channels, cwd, env, process groups, timeouts, daemons holding the pipes,
 * failed starts, kills before the spawn ended, many spawns at once, and shutdown. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "child.h"
#include "runner.h"
#include "test.h"
#include "util/buf.h"
#include "util/cleanup.h"

static char *dir; /* a private scratch directory with the test scripts */

/* Everything one runner reported. */
struct run {
	struct zr_runner *r;
	int started, failed, exited;
	int pid;
	int err;
	int64_t status;
	int sig;
	bool timed_out;
	bool daemon_alive_at_exit; /* with daemon_pid: was it still running at `exited`? */
	int daemon_pid;
	struct zr_buf out, err_lines, ctl_lines;
};

static void on_stderr_line(const char *line, size_t n, void *data)
{
	struct run *x = data;
	(void)zr_buf_append(&x->err_lines, line, n);
	(void)zr_buf_append(&x->err_lines, "|", 1);
}

static void on_ctl_line(const char *line, size_t n, void *data)
{
	struct run *x = data;
	(void)zr_buf_append(&x->ctl_lines, line, n);
	(void)zr_buf_append(&x->ctl_lines, "|", 1);
}

static void on_stdout(const char *p, size_t n, void *data)
{
	struct run *x = data;
	(void)zr_buf_append(&x->out, p, n);
}

static void on_started(int pid, void *data)
{
	struct run *x = data;
	x->started++;
	x->pid = pid;
	ASSERT_EQ_INT(zr_runner_pid(x->r), pid);
	ASSERT_EQ_INT(x->exited + x->failed, 0);
}

static void on_failed(int err, void *data)
{
	struct run *x = data;
	x->failed++;
	x->err = err;
	x->r = NULL;
}

static void on_exited(int64_t status, int sig, bool timed_out, void *data)
{
	struct run *x = data;
	x->exited++;
	x->status = status;
	x->sig = sig;
	x->timed_out = timed_out;
	x->r = NULL;
	ASSERT_EQ_INT(x->started, 1);
	/* The daemon's pid comes through fd 3, drained at the exit at the latest. */
	if (x->ctl_lines.len > 0) {
		x->daemon_pid = atoi(x->ctl_lines.data);
		x->daemon_alive_at_exit = x->daemon_pid > 0 && kill(x->daemon_pid, 0) == 0;
	}
}

static const struct zr_runner_events events = {
	.stderr_line = on_stderr_line,
	.ctl_line = on_ctl_line,
	.stdout_data = on_stdout,
	.started = on_started,
	.failed = on_failed,
	.exited = on_exited,
};

static char *env_default[] = {"PATH=/usr/bin:/bin", "FOO=bar baz", NULL};

/* Writes an executable /bin/sh script named name; returns its path (malloc'd). */
static char *script(const char *name, const char *body, mode_t mode)
{
	char *path = test_strf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ASSERT_NOT_NULL(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	ASSERT_EQ_INT(fclose(f), 0);
	ASSERT_EQ_INT(chmod(path, mode), 0);
	return path;
}

static struct zr_runner_config config(const char *path)
{
	return (struct zr_runner_config){
		.path = path, .cwd = dir, .env = env_default, .input = "{\"a\":1}", .grace = 0.2};
}

static void run_done(struct run *x)
{
	zr_buf_done(&x->out);
	zr_buf_done(&x->err_lines);
	zr_buf_done(&x->ctl_lines);
}

static void loop_close(uv_loop_t *loop)
{
	ASSERT_EQ_INT(uv_run(loop, UV_RUN_DEFAULT), 0);
	ASSERT_EQ_INT(uv_loop_close(loop), 0);
}

/* Starts one runner, runs the loop until everything is closed. */
static void run_one(const struct zr_runner_config *cfg, struct run *x)
{
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	ASSERT_OK(zr_runner_start(&loop, cfg, &events, x, &x->r));
	loop_close(&loop);
	ASSERT_EQ_INT(x->exited + x->failed, 1);
}

/* Every child the runner started was reaped, and by the runner only. */
static void assert_no_children(void)
{
	ASSERT_EQ_INT(waitpid(-1, NULL, WNOHANG), -1);
	ASSERT_EQ_INT(errno, ECHILD);
}

/* n runners of one script on a loop of their own, for the tests of many at once. */
struct batch {
	uv_loop_t loop;
	char *path;
	struct zr_runner_config cfg;
	struct run *x;
	int n;
};

static void batch_init(struct batch *b, const char *name, const char *body, int n)
{
	b->path = script(name, body, 0755);
	b->cfg = config(b->path);
	b->x = calloc((size_t)n, sizeof(*b->x));
	ASSERT_NOT_NULL(b->x);
	b->n = n;
	ASSERT_OK(uv_loop_init(&b->loop));
}

/* Starts x[from] to x[to - 1]. */
static void batch_start(struct batch *b, int from, int to)
{
	for (int i = from; i < to; i++) {
		ASSERT_OK(zr_runner_start(&b->loop, &b->cfg, &events, &b->x[i], &b->x[i].r));
	}
}

/* After the loop was closed: frees it all, and no child is left. */
static void batch_done(struct batch *b)
{
	for (int i = 0; i < b->n; i++) {
		run_done(&b->x[i]);
	}
	free(b->x);
	free(b->path);
	assert_no_children();
}

static char *buf_str(struct zr_buf *b)
{
	(void)zr_buf_append(b, "", 1);
	return b->data;
}


/* pid is gone or a zombie waiting for whoever adopted it; waits up to 5 s for the kill. */
static bool dead(int pid)
{
	for (int i = 0; i < 500; i++) {
		char *path = test_strf("/proc/%d/stat", pid);
		FILE *f = fopen(path, "r");
		free(path);
		if (!f) {
			return true;
		}
		char state = '?';
		int n = fscanf(f, "%*d (%*[^)]) %c", &state);
		fclose(f);
		if (n == 1 && (state == 'Z' || state == 'X')) {
			return true;
		}
		usleep(10000);
	}
	return false;
}

TEST(exit_status)
{
	_cleanup_free_ char *ok = script("ok", "exit 0", 0755);
	_cleanup_free_ char *bad = script("bad", "exit 3", 0755);
	_cleanup_free_ char *sig = script("sig", "kill -USR1 $$", 0755);
	struct zr_runner_config cfg = config(ok);
	struct run a = {0}, b = {0}, c = {0};
	run_one(&cfg, &a);
	cfg.path = bad;
	run_one(&cfg, &b);
	cfg.path = sig;
	run_one(&cfg, &c);
	ASSERT_EQ_INT(a.exited, 1);
	ASSERT_EQ_INT(a.status, 0);
	ASSERT_EQ_INT(a.sig, 0);
	ASSERT_EQ_INT(b.status, 3);
	ASSERT_EQ_INT(b.sig, 0);
	ASSERT_EQ_INT(c.sig, SIGUSR1);
	ASSERT_FALSE(a.timed_out || b.timed_out || c.timed_out);
	run_done(&a);
	run_done(&b);
	run_done(&c);
	assert_no_children();
}

TEST(channels)
{
	/* stdin holds the input and then EOF; a last stderr line without \n is still a line. */
	_cleanup_free_ char *p = script("io",
					"read -r line; echo \"in:$line\"\n"
					"cat >/dev/null; echo eof\n"
					"echo err1 >&2; echo ctl1 >&3; echo 'ctl2\r' >&3\n"
					"echo out2; printf err2 >/dev/stderr",
					0755);
	struct zr_runner_config cfg = config(p);
	struct run x = {0};
	run_one(&cfg, &x);
	ASSERT_EQ_INT(x.status, 0);
	ASSERT_EQ_STR(buf_str(&x.out), "in:{\"a\":1}\neof\nout2\n");
	ASSERT_EQ_STR(buf_str(&x.err_lines), "err1|err2|");
	ASSERT_EQ_STR(buf_str(&x.ctl_lines), "ctl1|ctl2|");
	run_done(&x);
	assert_no_children();
}

TEST(cwd_env_group)
{
	_cleanup_free_ char *p = script("where",
					"pwd; echo \"$FOO|${HOME-unset}\"\n"
					"cut -d' ' -f5,6 /proc/$$/stat\n"
					"grep -E '^Sig(Blk|Ign)' /proc/$$/status | tr -d '\\t'\n"
					"ls /proc/self/fd | tr '\\n' ' '",
					0755);
	struct zr_runner_config cfg = config(p);
	/* A fd the robot forgot to make close-on-exec is not the action's business. */
	int leak = open("/dev/null", O_RDONLY);
	ASSERT_GE_INT(leak, 0);
	struct run x = {0};
	run_one(&cfg, &x);
	(void)close(leak);
	ASSERT_EQ_INT(x.status, 0);
	_cleanup_free_ char *real = realpath(dir, NULL);
	char *out = buf_str(&x.out);
	/* Nothing blocked or ignored (the robot ignores SIGPIPE). glibc's posix_spawn leaves its
	 * own two internal signals (32, 33: never used by programs, SIGRTMIN is 34) ignored. */
	char *ign = strstr(out, "SigIgn:");
	ASSERT_NOT_NULL(ign);
	ASSERT_EQ_U64(strtoull(ign + 7, NULL, 16) & ~(3ULL << 31), 0);
	memset(ign + 7, '0', 16);
	/* ls's fds are 0-3 and the one it reads /proc/self/fd with: nothing leaked. */
	_cleanup_free_ char *want = test_strf("%s\nbar baz|unset\n%d %d\n"
					      "SigBlk:0000000000000000\nSigIgn:0000000000000000\n"
					      "0 1 2 3 4 ",
					      real, x.pid, x.pid);
	ASSERT_EQ_STR(out, want);
	run_done(&x);
	assert_no_children();
}

TEST(timeout_kills_group)
{
	static const struct {
		const char *name, *body;
		double grace;
		int sig;
	} cases[] = {
		/* The shell and its grandchild ignore SIGTERM: only the SIGKILL after the grace ends
		 * them, the grandchild included. */
		{"stubborn", "trap '' TERM; sleep 60 & echo $! >&3; wait", 0.2, SIGKILL},
		/* The shell dies of the SIGTERM at once; its child that ignores it is killed with the
		 * group when the shell's exit is seen. */
		{"orphan", "(trap '' TERM; exec sleep 60) & echo $! >&3; wait", 30, SIGTERM},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TEST_CASE("%s", cases[i].name);
		_cleanup_free_ char *p = script(cases[i].name, cases[i].body, 0755);
		struct zr_runner_config cfg = config(p);
		cfg.timeout = 0.2;
		cfg.grace = cases[i].grace;
		struct run x = {0};
		run_one(&cfg, &x);
		ASSERT_TRUE(x.timed_out);
		ASSERT_EQ_INT(x.sig, cases[i].sig);
		ASSERT_GT_INT(x.daemon_pid, 0);
		ASSERT_TRUE(dead(x.daemon_pid));
		run_done(&x);
	}
	TEST_CASE_END();
	assert_no_children();
}

struct adopted {
	int calls;
	int64_t status;
	int sig;
};

static void on_adopted_exit(int64_t status, int sig, void *data)
{
	struct adopted *a = data;
	a->calls++;
	a->status = status;
	a->sig = sig;
}

TEST(daemon_keeps_pipes)
{
	/* The task ends when the process exits, not when the pipes close. */
	_cleanup_free_ char *p = script("daemon", "sleep 60 & echo $! >&3; echo started", 0755);
	struct zr_runner_config cfg = config(p);
	struct run x = {0};
	run_one(&cfg, &x);
	ASSERT_EQ_INT(x.status, 0);
	ASSERT_EQ_STR(buf_str(&x.out), "started\n");
	ASSERT_TRUE(x.daemon_alive_at_exit);

	/* The daemon is not our child (its parent exited): a watch sees its end, without the
	 * status, and reaps nothing, as for a server adopted after a restart. */
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	int pidfd = (int)syscall(SYS_pidfd_open, x.daemon_pid, 0);
	ASSERT_GE_INT(pidfd, 0);
	struct zr_child *c = NULL;
	struct adopted a = {0};
	ASSERT_OK(zr_child_watch(&loop, pidfd, on_adopted_exit, &a, &c));
	ASSERT_EQ_INT(kill(x.daemon_pid, SIGKILL), 0);
	loop_close(&loop);
	ASSERT_EQ_INT(a.calls, 1);
	ASSERT_EQ_INT(a.status, -1);
	ASSERT_EQ_INT(a.sig, 0);
	run_done(&x);
	assert_no_children();
}

TEST(start_failures)
{
	_cleanup_free_ char *missing = test_strf("%s/missing", dir);
	_cleanup_free_ char *noexec = script("noexec", "exit 0", 0644);
	_cleanup_free_ char *ok = script("ok", "exit 0", 0755);
	_cleanup_free_ char *nodir = test_strf("%s/no-such-dir", dir);
	const struct {
		const char *what, *path, *cwd;
		int err;
	} cases[] = {
		{"missing", missing, dir, -ENOENT},
		{"not executable", noexec, dir, -EACCES},
		{"no such cwd", ok, nodir, -ENOENT},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TEST_CASE("%s", cases[i].what);
		struct zr_runner_config cfg = config(cases[i].path);
		cfg.cwd = cases[i].cwd;
		struct run x = {0};
		run_one(&cfg, &x);
		ASSERT_EQ_INT(x.failed, 1);
		ASSERT_EQ_INT(x.err, cases[i].err);
		ASSERT_EQ_INT(x.started + x.exited, 0);
		run_done(&x);
	}
	TEST_CASE_END();
	assert_no_children();
}

TEST(kill_before_spawned)
{
	_cleanup_free_ char *p = script("sleeper", "exec sleep 60", 0755);
	_cleanup_free_ char *missing = test_strf("%s/missing", dir);
	struct zr_runner_config cfg = config(p);
	cfg.timeout = 60;
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	struct run x = {0}, y = {0};
	ASSERT_OK(zr_runner_start(&loop, &cfg, &events, &x, &x.r));
	/* The spawner cannot have answered yet: that needs this loop. */
	zr_runner_kill(x.r);
	ASSERT_EQ_INT(zr_runner_pid(x.r), 0);
	cfg.path = missing;
	ASSERT_OK(zr_runner_start(&loop, &cfg, &events, &y, &y.r));
	zr_runner_kill(y.r);
	loop_close(&loop);
	ASSERT_EQ_INT(x.started, 1);
	ASSERT_EQ_INT(x.exited, 1);
	ASSERT_EQ_INT(x.sig, SIGTERM);
	ASSERT_FALSE(x.timed_out);
	ASSERT_EQ_INT(y.failed, 1);
	ASSERT_EQ_INT(y.err, -ENOENT);
	ASSERT_EQ_INT(y.exited, 0);
	run_done(&x);
	run_done(&y);
	assert_no_children();
}

TEST(many_in_parallel)
{
	struct batch b;
	batch_init(&b, "echo", "echo \"$FOO\"", 500);
	batch_start(&b, 0, b.n);
	loop_close(&b.loop);
	for (int i = 0; i < b.n; i++) {
		ASSERT_EQ_INT(b.x[i].started, 1);
		ASSERT_EQ_INT(b.x[i].exited, 1);
		ASSERT_EQ_INT(b.x[i].status, 0);
		ASSERT_EQ_STR(buf_str(&b.x[i].out), "bar baz\n");
	}
	batch_done(&b);
}

/* What zr_robot_stop does: kill every runner, some still being spawned, some running. */
TEST(shutdown_in_flight)
{
	struct batch b;
	batch_init(&b, "sleeper", "exec sleep 60", 100);
	batch_start(&b, 0, b.n / 2);
	/* Let some spawns end, then queue more and kill all at once. */
	while (b.x[0].started == 0) {
		(void)uv_run(&b.loop, UV_RUN_ONCE);
	}
	batch_start(&b, b.n / 2, b.n);
	for (int i = 0; i < b.n; i++) {
		zr_runner_kill(b.x[i].r);
		zr_runner_kill(b.x[i].r);
	}
	loop_close(&b.loop);
	for (int i = 0; i < b.n; i++) {
		ASSERT_EQ_INT(b.x[i].started, 1);
		ASSERT_EQ_INT(b.x[i].exited, 1);
		ASSERT_EQ_INT(b.x[i].sig, SIGTERM);
	}
	batch_done(&b);
}

/* The runner never reaps a child it did not start. */
TEST(others_children_untouched)
{
	pid_t other = fork();
	ASSERT_GE_INT(other, 0);
	if (other == 0) {
		_exit(7);
	}
	_cleanup_free_ char *p = script("ok", "exit 0", 0755);
	struct zr_runner_config cfg = config(p);
	struct run x = {0};
	run_one(&cfg, &x);
	ASSERT_EQ_INT(x.exited, 1);
	int status = 0;
	ASSERT_EQ_INT(waitpid(other, &status, 0), other);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	run_done(&x);
	assert_no_children();
}

/* zr_child for itself: a watch closed before the exit leaves the process running and
 * unreaped (a server outliving the robot). */
struct spawned {
	uv_loop_t *loop;
	int calls;
	pid_t pid;
};

static void on_watch_exit(int64_t status, int sig, void *data)
{
	(void)status;
	(void)sig;
	(void)data;
	FAIL("a closed watch reported an exit");
}

static void on_spawned(int err, pid_t pid, int pidfd, void *data)
{
	struct spawned *s = data;
	struct zr_child *c = NULL;
	s->calls++;
	ASSERT_OK(err);
	s->pid = pid;
	ASSERT_OK(zr_child_watch(s->loop, pidfd, on_watch_exit, s, &c));
	zr_child_close(c);
}

TEST(child_watch_close)
{
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	char *argv[] = {"/bin/sleep", "60", NULL};
	const int fds[] = {-1, -1, -1};
	const struct zr_child_spawn_options o = {
		.path = "/bin/sleep", .argv = argv, .env = env_default, .fds = fds, .n_fds = 3};
	struct spawned s = {.loop = &loop};
	ASSERT_OK(zr_child_spawn(&loop, &o, on_spawned, &s));
	loop_close(&loop);
	ASSERT_EQ_INT(s.calls, 1);
	ASSERT_EQ_INT(waitpid(s.pid, NULL, WNOHANG), 0);
	ASSERT_EQ_INT(kill(s.pid, SIGKILL), 0);
	int status = 0;
	ASSERT_EQ_INT(waitpid(s.pid, &status, 0), s.pid);
	ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_no_children();
}

int main(void)
{
	/* As in the robot: a signal ignored here must not stay ignored in the actions. */
	(void)signal(SIGPIPE, SIG_IGN);
	dir = test_strf("%s/test-runner.XXXXXX", test_tmp_dir());
	ASSERT_NOT_NULL(mkdtemp(dir));
	RUN_TEST(exit_status);
	RUN_TEST(channels);
	RUN_TEST(cwd_env_group);
	RUN_TEST(timeout_kills_group);
	RUN_TEST(daemon_keeps_pipes);
	RUN_TEST(start_failures);
	RUN_TEST(kill_before_spawned);
	RUN_TEST(many_in_parallel);
	RUN_TEST(shutdown_in_flight);
	RUN_TEST(others_children_untouched);
	RUN_TEST(child_watch_close);
	_cleanup_free_ char *cmd = test_strf("rm -rf '%s'", dir);
	ASSERT_EQ_INT(system(cmd), 0);
	free(dir);
	return 0;
}
