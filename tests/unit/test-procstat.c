/* Process statistics from /proc with real processes: a child that, on command, allocates
 * 50 MB, spins, opens 100 fds, listens on TCP and unix sockets and holds a connection; start
 * times (also behind a comm with spaces and parens); the marked sweep finding a double-forked,
 * setsid'd grandchild. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"
#include "test.h"

#define MB (1024ull * 1024)

/* The child at the other end of two pipes: it reads one command byte, acts, answers. */
struct kid {
	pid_t pid;
	int cmd, reply;
};

static void write_all(int fd, const void *p, size_t n)
{
	ASSERT_EQ_INT(write(fd, p, n), (long long)n);
}

static void read_all(int fd, void *p, size_t n)
{
	ASSERT_EQ_INT(read(fd, p, n), (long long)n);
}

static void spin(double secs)
{
	struct timespec t0, t;
	ASSERT_OK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0));
	do {
		ASSERT_OK(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t));
	} while ((double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
}

/* The child's side: never returns. */
static void kid_main(int cmd, int reply, const char *sock_path)
{
	int lfd = -1;
	for (;;) {
		char c;
		if (read(cmd, &c, 1) != 1) {
			_exit(0);
		}
		int port = 0;
		switch (c) {
		case 'm': {
			char *p = malloc(50 * MB);
			ASSERT_NOT_NULL(p);
			memset(p, 1, 50 * MB); /* touched, so resident */
			break;
		}
		case 's':
			spin(0.3);
			break;
		case 'f':
			for (int i = 0; i < 100; i++) {
				ASSERT_GE_INT(open("/dev/null", O_RDONLY | O_CLOEXEC), 0);
			}
			break;
		case 'l': {
			lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			struct sockaddr_in sa = {.sin_family = AF_INET,
						 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
			socklen_t len = sizeof(sa);
			ASSERT_OK(bind(lfd, (struct sockaddr *)&sa, len));
			ASSERT_OK(listen(lfd, 4));
			ASSERT_OK(getsockname(lfd, (struct sockaddr *)&sa, &len));
			port = ntohs(sa.sin_port);
			int ufd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			struct sockaddr_un su = {.sun_family = AF_UNIX};
			(void)snprintf(su.sun_path, sizeof(su.sun_path), "%s", sock_path);
			ASSERT_OK(bind(ufd, (struct sockaddr *)&su, sizeof(su)));
			ASSERT_OK(listen(ufd, 4));
			break;
		}
		case 'a':
			ASSERT_GE_INT(accept4(lfd, NULL, NULL, SOCK_CLOEXEC), 0);
			break;
		case 'n':
			ASSERT_OK(prctl(PR_SET_NAME, "a) (b c)", 0, 0, 0));
			break;
		}
		write_all(reply, &port, sizeof(port));
	}
}

static struct kid kid_start(const char *sock_path)
{
	int to[2], from[2];
	ASSERT_OK(pipe2(to, O_CLOEXEC));
	ASSERT_OK(pipe2(from, O_CLOEXEC));
	pid_t pid = fork();
	ASSERT_GE_INT(pid, 0);
	if (pid == 0) {
		(void)close(to[1]);
		(void)close(from[0]);
		kid_main(to[0], from[1], sock_path);
	}
	(void)close(to[0]);
	(void)close(from[1]);
	return (struct kid){.pid = pid, .cmd = to[1], .reply = from[0]};
}

static int kid_do(struct kid *k, char c)
{
	int port;
	write_all(k->cmd, &c, 1);
	read_all(k->reply, &port, sizeof(port));
	return port;
}

static void kid_stop(struct kid *k)
{
	(void)close(k->cmd);
	(void)close(k->reply);
	int status;
	ASSERT_EQ_INT(waitpid(k->pid, &status, 0), k->pid);
}

static struct zr_procstat sample(pid_t pid)
{
	struct zr_sockets *socks;
	ASSERT_OK(zr_sockets_read(&socks));
	struct zr_procstat st;
	ASSERT_OK(zr_procstat_sample(&pid, 1, socks, &st));
	zr_sockets_free(socks);
	return st;
}

TEST(sample_child)
{
	char *path = test_strf("%s/procstat-%d.sock", test_tmp_dir(), (int)getpid());
	(void)unlink(path);
	struct kid k = kid_start(path);
	kid_do(&k, '?');
	struct zr_procstat st0 = sample(k.pid);
	ASSERT_EQ_INT(st0.nprocs, 1);
	ASSERT_EQ_INT(st0.threads, 1);
	ASSERT_GT_INT(st0.rss, 0);
	ASSERT_GE_INT(st0.vms, st0.rss);
	/* stdin, stdout, stderr (as the test runner gave them) and the two pipe ends. */
	ASSERT_GE_INT(st0.fds, 2);
	ASSERT_EQ_INT(st0.connections, 0);
	ASSERT_EQ_SIZE(st0.n_listening, 0);
	ASSERT_NOT_NULL(st0.listening);
	ASSERT_NULL(st0.listening[0]);

	kid_do(&k, 'm');
	struct zr_procstat st = sample(k.pid);
	ASSERT_GE_INT(st.rss, st0.rss + 45 * MB);
	ASSERT_GE_INT(st.vms, st0.vms + 50 * MB);
	zr_procstat_done(&st);

	kid_do(&k, 's');
	st = sample(k.pid);
	ASSERT_TRUE(st.cpu_seconds >= st0.cpu_seconds + 0.25);
	zr_procstat_done(&st);

	kid_do(&k, 'f');
	st = sample(k.pid);
	ASSERT_EQ_INT(st.fds, st0.fds + 100);
	zr_procstat_done(&st);

	int port = kid_do(&k, 'l');
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	ASSERT_OK(connect(c, (struct sockaddr *)&sa, sizeof(sa)));
	kid_do(&k, 'a');
	st = sample(k.pid);
	/* Our end of the connection is not the child's: one connection, two listeners. */
	ASSERT_EQ_INT(st.connections, 1);
	ASSERT_EQ_SIZE(st.n_listening, 2);
	char *want = test_strf("127.0.0.1:%d", port);
	/* Sorted: "/..." before "1...". */
	ASSERT_EQ_STR(st.listening[0], path);
	ASSERT_EQ_STR(st.listening[1], want);
	ASSERT_NULL(st.listening[2]);
	ASSERT_EQ_INT(st.fds, st0.fds + 100 + 3);
	zr_procstat_done(&st);
	ASSERT_NULL(st.listening);

	/* Without the socket table: counts only. */
	ASSERT_OK(zr_procstat_sample(&k.pid, 1, NULL, &st));
	ASSERT_EQ_INT(st.connections, 0);
	ASSERT_EQ_SIZE(st.n_listening, 0);
	ASSERT_EQ_INT(st.fds, st0.fds + 103);
	zr_procstat_done(&st);

	/* The child twice and a pid that is gone: the tree's sums, the vanished one skipped. */
	pid_t pids[] = {k.pid, k.pid, 999999999};
	struct zr_sockets *socks;
	ASSERT_OK(zr_sockets_read(&socks));
	ASSERT_OK(zr_procstat_sample(pids, 3, socks, &st));
	zr_sockets_free(socks);
	ASSERT_EQ_INT(st.nprocs, 2);
	ASSERT_EQ_INT(st.connections, 2);
	ASSERT_EQ_SIZE(st.n_listening, 2); /* unique */
	zr_procstat_done(&st);
	unsigned fds = st0.fds + 103;
	zr_procstat_done(&st0);

	/* The main process's stat through a held fd: kept open, read afresh each time (the spin
	 * above shows in the cpu time of both), closed once the process is gone. */
	int held = -1;
	ASSERT_OK(zr_procstat_sample_held(&k.pid, 1, k.pid, &held, NULL, &st));
	ASSERT_GE_INT(held, 0);
	ASSERT_EQ_INT(st.nprocs, 1);
	ASSERT_EQ_INT(st.fds, fds);
	double cpu = st.cpu_seconds;
	zr_procstat_done(&st);
	kid_do(&k, 's');
	ASSERT_OK(zr_procstat_sample_held(&k.pid, 1, k.pid, &held, NULL, &st));
	ASSERT_GE_INT(held, 0);
	ASSERT_TRUE(st.cpu_seconds >= cpu + 0.25);
	zr_procstat_done(&st);

	(void)close(c);
	pid_t gone = k.pid;
	kid_stop(&k);
	ASSERT_OK(zr_procstat_sample_held(&gone, 1, gone, &held, NULL, &st));
	ASSERT_EQ_INT(st.nprocs, 0);
	ASSERT_EQ_INT(held, -1);
	zr_procstat_done(&st);
	(void)unlink(path);
	free(path);
	free(want);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};
	(void)nanosleep(&ts, NULL);
}

TEST(start_time)
{
	struct kid k = kid_start("/nonexistent");
	kid_do(&k, '?');
	unsigned long long t1, t2, t3;
	ASSERT_OK(zr_proc_start_time(k.pid, &t1));
	ASSERT_GT_INT(t1, 0);
	/* A comm with spaces and parens does not shift the fields. */
	kid_do(&k, 'n');
	char comm[64];
	char *stat_path = test_strf("/proc/%d/comm", (int)k.pid);
	FILE *f = fopen(stat_path, "r");
	ASSERT_NOT_NULL(f);
	ASSERT_NOT_NULL(fgets(comm, sizeof(comm), f));
	(void)fclose(f);
	ASSERT_EQ_STR(comm, "a) (b c)\n");
	ASSERT_OK(zr_proc_start_time(k.pid, &t2));
	ASSERT_EQ_U64(t1, t2);
	struct zr_procstat st;
	ASSERT_OK(zr_procstat_sample(&k.pid, 1, NULL, &st));
	ASSERT_EQ_INT(st.nprocs, 1);
	ASSERT_EQ_INT(st.threads, 1);
	zr_procstat_done(&st);

	/* Start times count clock ticks (1/100 s): a process started later differs. */
	sleep_ms(50);
	struct kid k2 = kid_start("/nonexistent");
	kid_do(&k2, '?');
	ASSERT_OK(zr_proc_start_time(k2.pid, &t3));
	ASSERT_GT_INT(t3, t1);
	kid_stop(&k2);

	/* A zombie is no process; neither is a reaped one. */
	pid_t pid = k.pid;
	(void)close(k.cmd);
	(void)close(k.reply);
	siginfo_t si;
	ASSERT_OK(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT));
	ASSERT_EQ_INT(zr_proc_start_time(pid, &t2), -ESRCH);
	ASSERT_OK(zr_procstat_sample(&pid, 1, NULL, &st));
	ASSERT_EQ_INT(st.nprocs, 0);
	zr_procstat_done(&st);
	ASSERT_EQ_INT(waitpid(pid, NULL, 0), pid);
	ASSERT_EQ_INT(zr_proc_start_time(pid, &t2), -ESRCH);
	free(stat_path);
}

static char *comm_of(pid_t pid)
{
	char *path = test_strf("/proc/%d/comm", (int)pid);
	char buf[64] = "";
	FILE *f = fopen(path, "r");
	if (f) {
		(void)!fgets(buf, sizeof(buf), f);
		(void)fclose(f);
	}
	free(path);
	buf[strcspn(buf, "\n")] = '\0';
	return test_strf("%s", buf);
}

TEST(marked)
{
	/* A shell that double-forks a setsid'd sleep and exits: the grandchild is an orphan in its
	 * own session, found only by the marker its environment carries. */
	char *id = test_strf("test-%d", (int)getpid());
	char *marker = test_strf("%s=%s", ZR_PROCESS_MARKER, id);
	char *other = test_strf("%s=%sx", ZR_PROCESS_MARKER, id);
	char *argv[] = {"sh", "-c", "(setsid sleep 60 </dev/null >/dev/null 2>&1 &)", NULL};
	char *envp[] = {"PATH=/usr/bin:/bin", marker, NULL};
	char *envp_other[] = {"PATH=/usr/bin:/bin", other, NULL};
	pid_t sh, sh2;
	ASSERT_OK(posix_spawnp(&sh, "sh", NULL, NULL, argv, envp));
	ASSERT_OK(posix_spawnp(&sh2, "sh", NULL, NULL, argv, envp_other));
	ASSERT_EQ_INT(waitpid(sh, NULL, 0), sh);
	ASSERT_EQ_INT(waitpid(sh2, NULL, 0), sh2);

	pid_t *pids = NULL;
	size_t n = 0;
	char *comm = NULL;
	/* Until the grandchild is past setsid and runs sleep. */
	for (int i = 0; i < 200; i++) {
		ASSERT_OK(zr_proc_marked(id, &pids, &n));
		comm = n == 1 ? comm_of(pids[0]) : NULL;
		if (comm && strcmp(comm, "sleep") == 0) {
			break;
		}
		free(comm);
		free(pids);
		sleep_ms(25);
	}
	ASSERT_EQ_SIZE(n, 1);
	ASSERT_EQ_STR(comm, "sleep");
	ASSERT_NE_INT(pids[0], sh);
	ASSERT_NE_INT(getsid(pids[0]), getsid(0));
	unsigned long long t;
	ASSERT_OK(zr_proc_start_time(pids[0], &t));

	/* One sweep for every id: the same pid under id, the other under its own id only. */
	struct zr_marks *marks;
	ASSERT_OK(zr_marks_read(&marks));
	size_t nm;
	const pid_t *m = zr_marks_get(marks, id, &nm);
	ASSERT_EQ_SIZE(nm, 1);
	ASSERT_EQ_INT(m[0], pids[0]);
	char *id2 = test_strf("%sx", id);
	m = zr_marks_get(marks, id2, &nm);
	ASSERT_EQ_SIZE(nm, 1);
	ASSERT_NE_INT(m[0], pids[0]);
	ASSERT_NULL(zr_marks_get(marks, "no-such-id", &nm));
	ASSERT_EQ_SIZE(nm, 0);
	ASSERT_NULL(zr_marks_get(marks, "", &nm));
	zr_marks_free(marks);

	ASSERT_OK(kill(pids[0], SIGKILL));
	free(pids);
	free(comm);

	/* The other id's sleep ("...x") is found by its own id only. */
	ASSERT_OK(zr_proc_marked(id2, &pids, &n));
	ASSERT_EQ_SIZE(n, 1);
	ASSERT_OK(kill(pids[0], SIGKILL));
	free(pids);

	/* Gone (the orphans are reaped by init or a subreaper): none left. */
	for (int i = 0; i < 200; i++) {
		ASSERT_OK(zr_proc_marked(id, &pids, &n));
		free(pids);
		if (n == 0) {
			break;
		}
		sleep_ms(25);
	}
	ASSERT_EQ_SIZE(n, 0);
	ASSERT_OK(zr_proc_marked("no-such-id", &pids, &n));
	ASSERT_EQ_SIZE(n, 0);
	ASSERT_NULL(pids);
	free(id);
	free(id2);
	free(marker);
	free(other);
}

TEST(sockets_table)
{
	/* A listener of our own on [::1] (where there is IPv6) shows in a sample of ourselves. */
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_addr = in6addr_loopback};
	socklen_t len = sizeof(sa);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len) < 0) {
		fprintf(stderr, "no ::1 here: the IPv6 listener is not checked\n");
		if (fd >= 0) {
			(void)close(fd);
		}
		return;
	}
	ASSERT_OK(listen(fd, 4));
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&sa, &len));
	pid_t self = getpid();
	struct zr_procstat st = sample(self);
	char *want = test_strf("[::1]:%d", ntohs(sa.sin6_port));
	bool found = false;
	for (size_t i = 0; i < st.n_listening; i++) {
		found = found || strcmp(st.listening[i], want) == 0;
	}
	ASSERT_TRUE(found);
	zr_procstat_done(&st);
	(void)close(fd);
	free(want);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN_TEST(sample_child);
	RUN_TEST(start_time);
	RUN_TEST(marked);
	RUN_TEST(sockets_table);
	return 0;
}
