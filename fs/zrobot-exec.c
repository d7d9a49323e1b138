/* zrobot-exec: the launcher every supervised server is started through (DESIGN §6). The robot
 * spawns it in a new session, in the work folder and with the server's whole environment; it
 * puts itself in the server's cgroup, points stdout and stderr at the output file, drops to the
 * server's user, clears what it inherited (fds, signal dispositions, the signal mask) and execs
 * the server. Plain libc and no robot library, so that it starts in a fraction of a millisecond.
 *
 *   zrobot-exec [--cgroup DIR] [--log FILE] [--user NAME] -- PROGRAM [ARG...]
 *
 * Exit codes when the server never ran: 127 PROGRAM not found, 126 anything else (bad usage,
 * the cgroup, the log, the user, an exec error); the reason is written to the log (or to the
 * inherited stderr before the log is open), as "zrobot-exec: cannot ...: <strerror>". */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXIT_NOT_FOUND 127
#define EXIT_CANNOT 126

/* Writes "zrobot-exec: cannot WHAT ARG: <strerror(err)>\n" to fd 2 in one write(), so that the
 * line is whole in a log others append to; stdio is avoided (nothing is flushed before exec).
 * err 0 reads "no such user". */
static void say(const char *what, const char *arg, int err)
{
	char line[1024];
	int n = snprintf(line, sizeof(line), "zrobot-exec: cannot %s %s: %s\n", what, arg,
			 err ? strerror(err) : "no such user");
	if (n < 0) {
		return;
	}
	if ((size_t)n >= sizeof(line)) {
		n = sizeof(line) - 1;
		line[n - 1] = '\n';
	}
	(void)!write(STDERR_FILENO, line, (size_t)n);
}

static _Noreturn void fail(const char *what, const char *arg, int err)
{
	say(what, arg, err);
	_exit(err == ENOENT && strcmp(what, "run") == 0 ? EXIT_NOT_FOUND : EXIT_CANNOT);
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);
		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Moves this process into dir. Done first, before anything the server could inherit runs, so
 * that every descendant it ever forks is born in the cgroup and cgroup.kill reaches it. */
static int join_cgroup(const char *dir)
{
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path)) {
		return -ENAMETOOLONG;
	}
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	/* "0" means the writing process itself. */
	int r = write_all(fd, "0", 1);
	if (close(fd) < 0 && r == 0) {
		r = -errno;
	}
	return r;
}

/* fd 0 is /dev/null, 1 and 2 the log (opened for appending: the robot punches out what it has
 * read while the server writes, which only an O_APPEND writer survives). */
static int set_stdio(const char *log)
{
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0) {
		return -errno;
	}
	if (dup2(null, STDIN_FILENO) < 0) {
		int r = -errno;
		(void)close(null);
		return r;
	}
	if (null != STDIN_FILENO) {
		(void)close(null);
	}
	if (!log) {
		return 0;
	}
	/* O_NOFOLLOW: a symlink in the log's place does not send the server's output elsewhere. */
	int fd = open(log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
	if (fd < 0) {
		return -errno;
	}
	if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) {
		int r = -errno;
		(void)close(fd);
		return r;
	}
	if (fd > STDERR_FILENO) {
		(void)close(fd);
	}
	return 0;
}

/* Nothing of the robot's (its FUSE fd, sockets, database) may leak into a server that outlives
 * it; the spawner closes what it knows of, this also closes what a library opened without
 * O_CLOEXEC. */
static void close_from_3(void)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0) {
		return;
	}
#endif
	long max = sysconf(_SC_OPEN_MAX);
	for (long fd = 3; fd < (max > 0 ? max : 65536); fd++) {
		(void)close((int)fd);
	}
}

/* initgroups, then setgid, then setuid: in that order because each needs the privilege the
 * next one drops. Refuses (rather than running as root) when any fails. */
static int become_user(const char *name)
{
	errno = 0;
	struct passwd *pw = getpwnam(name);
	if (!pw) {
		/* Not found leaves errno 0, or ENOENT with some NSS modules. */
		return errno ? -errno : -ENOENT;
	}
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (initgroups(name, gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		return -errno;
	}
	/* A setuid that left a way back to root is not a drop. */
	if (uid != 0 && (setuid(0) == 0 || geteuid() != uid || getegid() != gid)) {
		return -EPERM;
	}
	return 0;
}

/* The robot ignores SIGPIPE and blocks signals on some threads; ignored dispositions and the
 * mask survive exec, and a server that cannot get SIGPIPE or SIGTERM misbehaves. */
static void reset_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	(void)sigemptyset(&dfl.sa_mask);
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP) {
			(void)sigaction(sig, &dfl, NULL);
		}
	}
	sigset_t none;
	(void)sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

static _Noreturn void usage(void)
{
	static const char text[] = "usage: zrobot-exec [--cgroup DIR] [--log FILE] [--user NAME] "
				   "-- PROGRAM [ARG...]\n";
	(void)!write(STDERR_FILENO, text, sizeof(text) - 1);
	_exit(EXIT_CANNOT);
}

int main(int argc, char **argv)
{
	const char *cgroup = NULL, *log = NULL, *user = NULL;
	int i = 1;
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		}
		if (i + 1 >= argc) {
			usage();
		}
		if (strcmp(argv[i], "--cgroup") == 0) {
			cgroup = argv[++i];
		} else if (strcmp(argv[i], "--log") == 0) {
			log = argv[++i];
		} else if (strcmp(argv[i], "--user") == 0) {
			user = argv[++i];
		} else {
			usage();
		}
	}
	if (i >= argc || argv[i][0] == '\0') {
		usage();
	}
	char **command = argv + i;

	/* A failure to join is reported only once the log is open, where the robot looks. */
	int cgroup_err = cgroup ? join_cgroup(cgroup) : 0;
	int r = set_stdio(log);
	if (r < 0) {
		fail("open log", log ? log : "/dev/null", -r);
	}
	close_from_3();
	if (cgroup_err < 0) {
		fail("join cgroup", cgroup, -cgroup_err);
	}
	if (user) {
		r = become_user(user);
		if (r < 0) {
			fail("become user", user, r == -ENOENT ? 0 : -r);
		}
	}
	reset_signals();
	/* execvp searches the PATH of this process's environment, which is the server's own (the
	 * robot passed it whole), and runs a script without #! through /bin/sh as shells do. */
	execvp(command[0], command);
	fail("run", command[0], errno);
}
