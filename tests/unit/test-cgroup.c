/* cgroup.c with real processes (needs root and a writable cgroup2; skipped otherwise): the
 * servers' folder, a server's cgroup joined through the launcher ($ZR_EXEC), a double-forking
 * setsid'ing child caught in it, kill, populated, remove, and the reasons an unusable base
 * gives. Built twice: test-cgroup-sweep acts as if cgroup.kill were missing (older kernels). */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "test.h"

extern char **environ;

static char *base;

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000 };
	(void)nanosleep(&ts, NULL);
}

static bool pid_in(const pid_t *pids, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++) {
		if (pids[i] == pid) {
			return true;
		}
	}
	return false;
}

/* The session id of pid (field 6 of /proc/PID/stat), 0 if gone. */
static pid_t session_of(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f) {
		return 0;
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');
	int ppid, pgrp, sid;
	char state;
	if (!p || sscanf(p + 2, "%c %d %d %d", &state, &ppid, &pgrp, &sid) != 4) {
		return 0;
	}
	return (pid_t)sid;
}

/* Starts cmd through the launcher in cgroup dir, in a session of its own as the robot does. */
static pid_t launch(const char *dir, const char *cmd)
{
	const char *exec = getenv("ZR_EXEC");
	ASSERT_NOT_NULL(exec);
	char *argv[] = { (char *)exec, "--cgroup", (char *)dir, "--", "sh", "-c", (char *)cmd,
			 NULL };
	posix_spawnattr_t attr;
	ASSERT_OK(posix_spawnattr_init(&attr));
	ASSERT_OK(posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID));
	pid_t pid;
	ASSERT_OK(posix_spawn(&pid, exec, NULL, &attr, argv, environ));
	posix_spawnattr_destroy(&attr);
	return pid;
}

TEST(make_join_kill_remove)
{
	char *id = test_strf("zr-test-cgroup-%d", (int)getpid());
	char *dir = NULL;
	ASSERT_OK(zr_cgroup_make(base, id, &dir));
	char *want = test_strf("%s/%s", base, id);
	ASSERT_EQ_STR(dir, want);
	ASSERT_FALSE(zr_cgroup_populated(dir));
	pid_t *pids = NULL;
	size_t n = 99;
	ASSERT_OK(zr_cgroup_pids(dir, &pids, &n));
	ASSERT_EQ_SIZE(n, 0);
	ASSERT_NULL(pids);

	/* The server forks a subshell that starts a setsid'd sleep and exits: the orphan, in a
	 * session of its own and reparented away from the server, is still in the cgroup. */
	pid_t server = launch(dir, "( setsid sleep 60 & ); exec sleep 60");
	pid_t orphan = 0;
	for (int i = 0; i < 2000 && !orphan; i++) {
		free(pids);
		ASSERT_OK(zr_cgroup_pids(dir, &pids, &n));
		for (size_t k = 0; n == 2 && k < n; k++) {
			if (pids[k] != server && session_of(pids[k]) == pids[k]) {
				orphan = pids[k];
			}
		}
		if (!orphan) {
			sleep_ms(5);
		}
	}
	ASSERT_NE_INT(orphan, 0);
	ASSERT_TRUE(pid_in(pids, n, server));
	ASSERT_NE_INT(session_of(orphan), session_of(server));
	free(pids);
	/* Through a held cgroup.procs: the same pids, read afresh from the same fd. */
	int held = -1;
	for (int i = 0; i < 2; i++) {
		ASSERT_OK(zr_cgroup_pids_held(dir, &held, &pids, &n));
		ASSERT_GE_INT(held, 0);
		ASSERT_EQ_SIZE(n, 2);
		ASSERT_TRUE(pid_in(pids, n, server) && pid_in(pids, n, orphan));
		free(pids);
	}
	ASSERT_TRUE(zr_cgroup_populated(dir));
	char *of = NULL;
	ASSERT_OK(zr_cgroup_of(orphan, &of));
	ASSERT_EQ_STR(of, dir);
	free(of);
	ASSERT_EQ_INT(zr_cgroup_remove(dir), -EBUSY);

	/* The existing cgroup is adopted as it is. */
	char *again = NULL;
	ASSERT_OK(zr_cgroup_make(base, id, &again));
	ASSERT_EQ_STR(again, dir);
	free(again);

	ASSERT_OK(zr_cgroup_kill(dir));
	int status;
	ASSERT_EQ_INT(waitpid(server, &status, 0), server);
	ASSERT_TRUE(WIFSIGNALED(status));
	ASSERT_EQ_INT(WTERMSIG(status), SIGKILL);
	ASSERT_EQ_INT(zr_cgroup_of(server, &of), -ESRCH);
	for (int i = 0; i < 2000 && zr_cgroup_populated(dir); i++) {
		sleep_ms(5);
	}
	ASSERT_FALSE(zr_cgroup_populated(dir));
	/* Its reaper (init or a subreaper) collects the orphan soon after. */
	for (int i = 0; i < 2000 && kill(orphan, 0) == 0; i++) {
		sleep_ms(5);
	}
	ASSERT_EQ_INT(kill(orphan, 0), -1);
	ASSERT_OK(zr_cgroup_pids(dir, &pids, &n));
	ASSERT_EQ_SIZE(n, 0);
	ASSERT_OK(zr_cgroup_pids_held(dir, &held, &pids, &n));
	ASSERT_EQ_SIZE(n, 0);

	ASSERT_OK(zr_cgroup_remove(dir));
	/* Removed under the held fd: gone, and the fd closed. */
	ASSERT_EQ_INT(zr_cgroup_pids_held(dir, &held, &pids, &n), -ENOENT);
	ASSERT_EQ_INT(held, -1);
	ASSERT_EQ_INT(access(dir, F_OK), -1);
	ASSERT_OK(zr_cgroup_remove(dir));
	ASSERT_EQ_INT(zr_cgroup_kill(dir), -ENOENT);
	ASSERT_EQ_INT(zr_cgroup_pids(dir, &pids, &n), -ENOENT);
	ASSERT_FALSE(zr_cgroup_populated(dir));
	free(dir);
	free(want);
	free(id);
}

/* A server that forks as fast as it can is still killed whole (for the sweep: it may fork
 * between reading cgroup.procs and the kills). */
TEST(kill_fork_storm)
{
	char *id = test_strf("zr-test-storm-%d", (int)getpid());
	char *dir = NULL;
	ASSERT_OK(zr_cgroup_make(base, id, &dir));
	pid_t server = launch(dir, "i=0; while [ $i -lt 5000 ]; do sleep 30 & i=$((i+1)); done; wait");
	pid_t *pids = NULL;
	size_t n = 0;
	for (int i = 0; i < 2000 && n < 20; i++) {
		free(pids);
		ASSERT_OK(zr_cgroup_pids(dir, &pids, &n));
		sleep_ms(1);
	}
	free(pids);
	ASSERT_GE_SIZE(n, 20);
	ASSERT_OK(zr_cgroup_kill(dir));
	int status;
	ASSERT_EQ_INT(waitpid(server, &status, 0), server);
	for (int i = 0; i < 2000 && zr_cgroup_populated(dir); i++) {
		sleep_ms(5);
	}
	ASSERT_FALSE(zr_cgroup_populated(dir));
	ASSERT_OK(zr_cgroup_remove(dir));
	free(dir);
	free(id);
}

TEST(make_refuses_bad_ids)
{
	char *dir = NULL;
	ASSERT_EQ_INT(zr_cgroup_make(base, "", &dir), -EINVAL);
	ASSERT_EQ_INT(zr_cgroup_make(base, "..", &dir), -EINVAL);
	ASSERT_EQ_INT(zr_cgroup_make(base, "a/b", &dir), -EINVAL);
	ASSERT_NULL(dir);
}

/* memory.max where the memory controller reaches the servers' folder, else -ENOTSUP (as here,
 * where memory is on cgroup v1). */
TEST(memory_max)
{
	char *id = test_strf("zr-test-mem-%d", (int)getpid());
	char *dir = NULL;
	ASSERT_OK(zr_cgroup_make(base, id, &dir));
	int r = zr_cgroup_set_memory_max(dir, 512ull << 20);
	if (r == 0) {
		char *path = test_strf("%s/memory.max", dir);
		FILE *f = fopen(path, "re");
		ASSERT_NOT_NULL(f);
		unsigned long long v = 0;
		ASSERT_EQ_INT(fscanf(f, "%llu", &v), 1);
		fclose(f);
		ASSERT_EQ_U64(v, 512ull << 20);
		free(path);
	} else {
		ASSERT_EQ_INT(r, -ENOTSUP);
	}
	ASSERT_OK(zr_cgroup_remove(dir));
	free(dir);
	free(id);
}

/* Runs zr_cgroup_base in a child after setup(), and returns what it said ("usable BASE" or
 * "ERRNO WHY"), or NULL when setup was not possible here (no mount namespaces). */
static char *base_why_after(void (*setup)(void))
{
	int p[2];
	ASSERT_OK(pipe(p));
	pid_t pid = fork();
	ASSERT_GE_INT(pid, 0);
	if (pid == 0) {
		close(p[0]);
		setup();
		char *b = NULL, *why = NULL;
		int r = zr_cgroup_base(&b, &why);
		if (r == 0) {
			dprintf(p[1], "usable %s", b);
		} else {
			dprintf(p[1], "%d %s", r, why ? why : "(null)");
		}
		_exit(0);
	}
	close(p[1]);
	char buf[1024];
	ssize_t len = 0, got;
	while ((got = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0) {
		len += got;
	}
	buf[len] = '\0';
	close(p[0]);
	int status;
	ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		return NULL;
	}
	ASSERT_EQ_INT(WEXITSTATUS(status), 0);
	return strdup(buf);
}

/* The cgroup2 mount point: base minus the robot's cgroup and "/zrobot.servers". */
static char *mount_point(void)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	ASSERT_NOT_NULL(f);
	char line[4096], own[4096] = "";
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(own, sizeof(own), "%s", line + 3);
			own[strcspn(own, "\n")] = '\0';
		}
	}
	fclose(f);
	size_t cut = strlen("/zrobot.servers") + (strcmp(own, "/") == 0 ? 0 : strlen(own));
	ASSERT_GT_SIZE(strlen(base), cut);
	return strndup(base, strlen(base) - cut);
}

static char *mnt;

static void private_mounts(void)
{
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		_exit(77);
	}
}

static void setup_unmounted(void)
{
	private_mounts();
	if (umount2(mnt, MNT_DETACH) < 0) {
		_exit(77);
	}
}

static void setup_read_only(void)
{
	private_mounts();
	if (mount(NULL, mnt, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0) {
		_exit(77);
	}
}

static void setup_not_root(void)
{
	if (setgid(65534) < 0 || setuid(65534) < 0) {
		_exit(77);
	}
}

TEST(unusable_base_says_why)
{
	mnt = mount_point();
	char *why = base_why_after(setup_unmounted);
	if (why) {
		ASSERT_EQ_STR(why, "-2 no cgroup2 file system is mounted");
		free(why);
		why = base_why_after(setup_read_only);
		char *want = test_strf("-30 cgroup2 at %s is mounted read-only", mnt);
		ASSERT_EQ_STR(why, want);
		free(want);
		free(why);
	} else {
		fprintf(stderr, "skip: no private mount namespace here (unmounted, read-only)\n");
	}
	/* Not root and not delegated: the robot's own cgroup.procs is not ours to write. */
	why = base_why_after(setup_not_root);
	ASSERT_NOT_NULL(why);
	ASSERT_EQ_INT(strncmp(why, "-13 cannot write ", 17), 0);
	ASSERT_TRUE(strstr(why, "(the robot's cgroup is not delegated to it): Permission denied"));
	free(why);
	free(mnt);
}

int main(void)
{
	if (geteuid() != 0) {
		TEST_SKIP("cgroups need root");
	}
	char *why = NULL;
	int r = zr_cgroup_base(&base, &why);
	if (r < 0) {
		TEST_SKIP("no usable cgroup v2: %s", why);
	}
	/* Twice: the folder exists the second time. */
	char *again = NULL;
	ASSERT_OK(zr_cgroup_base(&again, &why));
	ASSERT_EQ_STR(again, base);
	ASSERT_EQ_INT(strcmp(base + strlen(base) - strlen("/zrobot.servers"), "/zrobot.servers"),
		      0);
	free(again);
	RUN_TEST(make_refuses_bad_ids);
	RUN_TEST(make_join_kill_remove);
	RUN_TEST(kill_fork_storm);
	RUN_TEST(memory_max);
	RUN_TEST(unusable_base_says_why);
	free(base);
	return 0;
}
