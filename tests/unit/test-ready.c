/* Readiness probes on a real loop: listeners (tcp v4, v6, a host name, unix) that appear
 * 200 ms after the probe starts, one that never does, output lines, sd_notify datagrams from a
 * child, a delay, malformed arguments, and cancels before, during and after a connect. */
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ready.h"
#include "test.h"

extern char **environ;

/* What one probe reported. */
struct seen {
	int calls;
	int err;
	char why[128];
	uint64_t at;    /* uv_hrtime() of the callback */
	uint64_t at_ms; /* the loop's time then (uv_now) */
	uv_loop_t *loop;
	struct zr_ready *r; /* to cancel from inside the callback */
};

static void on_ready(int err, const char *why, void *data)
{
	struct seen *s = data;
	s->calls++;
	s->err = err;
	s->at = uv_hrtime();
	s->at_ms = s->loop ? uv_now(s->loop) : 0;
	(void)snprintf(s->why, sizeof(s->why), "%s", why ? why : "");
	/* Cancelling from inside the callback is harmless. */
	zr_ready_cancel(s->r);
}

/* A free TCP port on addr (bound, read back and released). */
static int free_port(int family)
{
	struct sockaddr_storage ss = {0};
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*a);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = in6addr_loopback;
		len = sizeof(*a);
	}
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE_INT(fd, 0);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		(void)close(fd);
		return -1;
	}
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&ss, &len));
	(void)close(fd);
	return ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
				       : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A listener that a timer opens after 200 ms: kind 't' tcp on addr, 'u' unix on path. */
struct later {
	uv_loop_t *loop;
	uv_timer_t timer;
	char kind;
	struct sockaddr_storage addr;
	const char *path;
	union {
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} h;
	bool listening;
	uint64_t at; /* uv_hrtime() when it listened */
	int accepted;
};

static void on_accepted_closed(uv_handle_t *h)
{
	free(h);
}

/* Takes the probe's connection and closes it, so the backlog never fills. */
static void on_conn(uv_stream_t *server, int status)
{
	struct later *l = server->data;
	ASSERT_OK(status);
	l->accepted++;
	union {
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} *c = malloc(sizeof(*c));
	ASSERT_NOT_NULL(c);
	if (server->type == UV_NAMED_PIPE) {
		ASSERT_OK(uv_pipe_init(server->loop, &c->pipe, 0));
	} else {
		ASSERT_OK(uv_tcp_init(server->loop, &c->tcp));
	}
	ASSERT_OK(uv_accept(server, (uv_stream_t *)c));
	uv_close((uv_handle_t *)c, on_accepted_closed);
}

static void on_later(uv_timer_t *t)
{
	struct later *l = t->data;
	if (l->kind == 't') {
		ASSERT_OK(uv_tcp_init(l->loop, &l->h.tcp));
		ASSERT_OK(uv_tcp_bind(&l->h.tcp, (struct sockaddr *)&l->addr, 0));
	} else {
		ASSERT_OK(uv_pipe_init(l->loop, &l->h.pipe, 0));
		ASSERT_OK(uv_pipe_bind(&l->h.pipe, l->path));
	}
	l->h.tcp.data = l;
	ASSERT_OK(uv_listen((uv_stream_t *)&l->h, 8, on_conn));
	l->listening = true;
	l->at = uv_hrtime();
}

static void later_start(struct later *l, uv_loop_t *loop, uint64_t ms)
{
	l->loop = loop;
	ASSERT_OK(uv_timer_init(loop, &l->timer));
	l->timer.data = l;
	ASSERT_OK(uv_timer_start(&l->timer, on_later, ms, 0));
}

static void later_close(struct later *l)
{
	uv_close((uv_handle_t *)&l->timer, NULL);
	if (l->listening) {
		uv_close((uv_handle_t *)&l->h, NULL);
	}
}

/* Runs the loop until it has nothing left (every probe freed, every handle closed). */
static void loop_finish(uv_loop_t *loop)
{
	ASSERT_OK(uv_run(loop, UV_RUN_DEFAULT));
	ASSERT_OK(uv_loop_close(loop));
}

static uint64_t ms_since(uint64_t t0, uint64_t t)
{
	return (t - t0) / 1000000;
}

/* A probe of kind (tcp or unix) on arg, with a listener at laddr/lpath 200 ms later. */
static void probe_appears(enum zr_ready_kind kind, const char *arg, struct later *l)
{
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	uv_timer_t tick;
	ASSERT_OK(uv_timer_init(&loop, &tick));
	struct seen s = {0};
	struct zr_ready_config cfg = {.loop = &loop, .kind = kind, .arg = arg, .timeout = 10};
	uint64_t t0 = uv_hrtime();
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	later_start(l, &loop, 200);
	TEST_RUN_UNTIL(&loop, &tick, s.calls > 0, "%s never ready", arg);
	ASSERT_EQ_INT(s.calls, 1);
	ASSERT_EQ_INT(s.err, 0);
	ASSERT_TRUE(l->listening);
	ASSERT_TRUE(s.at > l->at);
	/* The attempts are 50 ms apart: ready soon after the listener (a slow machine aside). */
	ASSERT_LT_INT(ms_since(t0, s.at), 5000);
	later_close(l);
	uv_close((uv_handle_t *)&tick, NULL);
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 1);
}

TEST(tcp_v4)
{
	int port = free_port(AF_INET);
	struct later l = {.kind = 't'};
	ASSERT_OK(uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)&l.addr));
	char *arg = test_strf("127.0.0.1:%d", port);
	probe_appears(ZR_READY_TCP, arg, &l);
	free(arg);
}

TEST(tcp_v6)
{
	int port = free_port(AF_INET6);
	if (port < 0) {
		fprintf(stderr, "no ::1 here: the IPv6 case is not run\n");
		return;
	}
	struct later l = {.kind = 't'};
	ASSERT_OK(uv_ip6_addr("::1", port, (struct sockaddr_in6 *)&l.addr));
	char *arg = test_strf("[::1]:%d", port);
	probe_appears(ZR_READY_TCP, arg, &l);
	free(arg);
}

/* "localhost" is resolved once, off the loop; the listener is on 127.0.0.1 and the probe
 * takes the name's addresses in turn. */
TEST(tcp_name)
{
	int port = free_port(AF_INET);
	struct later l = {.kind = 't'};
	ASSERT_OK(uv_ip4_addr("127.0.0.1", port, (struct sockaddr_in *)&l.addr));
	char *arg = test_strf("localhost:%d", port);
	probe_appears(ZR_READY_TCP, arg, &l);
	free(arg);
}

TEST(unix_socket)
{
	char *path = test_strf("%s/ready-%d.sock", test_tmp_dir(), (int)getpid());
	(void)unlink(path);
	struct later l = {.kind = 'u', .path = path};
	probe_appears(ZR_READY_UNIX, path, &l);
	(void)unlink(path);
	free(path);
}

TEST(timeout)
{
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	uv_timer_t tick;
	ASSERT_OK(uv_timer_init(&loop, &tick));
	int port = free_port(AF_INET);
	char *arg = test_strf("127.0.0.1:%d", port);
	struct seen s = {0};
	struct zr_ready_config cfg = {
		.loop = &loop, .kind = ZR_READY_TCP, .arg = arg, .timeout = 0.3};
	s.loop = &loop;
	uv_update_time(&loop);
	uint64_t t0 = uv_now(&loop);
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	TEST_RUN_UNTIL(&loop, &tick, s.calls > 0, "no timeout");
	ASSERT_EQ_INT(s.err, -ETIMEDOUT);
	ASSERT_EQ_STR(s.why, "not ready after 0.3 s");
	/* In the loop's milliseconds, as libuv's timers count. */
	ASSERT_GE_INT(s.at_ms - t0, 300);
	uv_close((uv_handle_t *)&tick, NULL);
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 1);

	/* The same for a unix socket that never appears, with a whole number of seconds. */
	ASSERT_OK(uv_loop_init(&loop));
	free(arg);
	arg = test_strf("%s/never-%d.sock", test_tmp_dir(), (int)getpid());
	s = (struct seen){0};
	cfg = (struct zr_ready_config){.loop = &loop, .kind = ZR_READY_UNIX, .arg = arg, .timeout = 1};
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 1);
	ASSERT_EQ_INT(s.err, -ETIMEDOUT);
	ASSERT_EQ_STR(s.why, "not ready after 1 s");
	free(arg);
}

TEST(log_regex)
{
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	struct seen s = {0};
	struct zr_ready_config cfg = {.loop = &loop,
				      .kind = ZR_READY_LOG,
				      .arg = "Ready to accept connections( tcp)?$",
				      .timeout = 5};
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	const char *no = "* Server initialized\n";
	zr_ready_log_line(s.r, no, strlen(no));
	const char *almost = "Ready to accept connections later";
	zr_ready_log_line(s.r, almost, strlen(almost));
	ASSERT_EQ_INT(s.calls, 0);
	/* The line's newline is not part of what the regex sees ($ matches before it). */
	const char *yes = "1:M 07 Dec * Ready to accept connections tcp\r\n";
	zr_ready_log_line(s.r, yes, strlen(yes));
	ASSERT_EQ_INT(s.calls, 1);
	ASSERT_EQ_INT(s.err, 0);
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 1);

	/* A malformed regex is refused at start, without a callback. */
	ASSERT_OK(uv_loop_init(&loop));
	struct zr_ready *r = NULL;
	cfg = (struct zr_ready_config){.loop = &loop, .kind = ZR_READY_LOG, .arg = "(unclosed"};
	ASSERT_EQ_INT(zr_ready_start(&cfg, on_ready, &s, &r), -EINVAL);
	ASSERT_NULL(r);
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 1);
}

/* Starts argv with NOTIFY_SOCKET=path; the caller waits for it. */
static pid_t spawn_notifier(const char *path, char *const argv[])
{
	char *var = test_strf("NOTIFY_SOCKET=%s", path);
	char *envp[] = {var, "PATH=/usr/bin:/bin", NULL};
	pid_t pid;
	ASSERT_OK(posix_spawnp(&pid, argv[0], NULL, NULL, argv, envp));
	free(var);
	return pid;
}

/* A child that sends one datagram to NOTIFY_SOCKET (the tiny sender where systemd-notify is
 * missing, and the non-ready messages). */
static void send_from_child(const char *path, const char *msg)
{
	pid_t pid = fork();
	ASSERT_GE_INT(pid, 0);
	if (pid == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		(void)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
		ssize_t n = sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, sizeof(sa));
		_exit(n == (ssize_t)strlen(msg) ? 0 : 1);
	}
	int status;
	ASSERT_EQ_INT(waitpid(pid, &status, 0), pid);
	ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static bool have_systemd_notify(void)
{
	return access("/usr/bin/systemd-notify", X_OK) == 0 ||
	       access("/bin/systemd-notify", X_OK) == 0;
}

TEST(notify)
{
	char *path = test_strf("%s/notify-%d.sock", test_tmp_dir(), (int)getpid());
	/* An earlier socket file there is replaced. */
	int fd, fd0;
	ASSERT_OK(zr_ready_notify_open(path, &fd0));
	ASSERT_OK(zr_ready_notify_open(path, &fd));
	(void)close(fd0);
	struct stat st;
	ASSERT_OK(stat(path, &st));
	ASSERT_EQ_INT(st.st_mode & 0777, 0600);

	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	uv_timer_t tick;
	ASSERT_OK(uv_timer_init(&loop, &tick));

	/* A first probe cancelled: a second one on the same fd watches it again. */
	struct seen s = {0};
	struct zr_ready_config cfg = {
		.loop = &loop, .kind = ZR_READY_NOTIFY, .notify_fd = fd, .timeout = 10};
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	zr_ready_cancel(s.r);
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));

	send_from_child(path, "STATUS=loading\nREADY=0\n");
	send_from_child(path, "MAINPID=1\nXREADY=1");
	uv_timer_t wait;
	ASSERT_OK(uv_timer_init(&loop, &wait));
	ASSERT_OK(uv_timer_start(&wait, test_on_tick, 100, 0));
	TEST_RUN_UNTIL(&loop, &tick, !uv_is_active((uv_handle_t *)&wait), "no wait");
	ASSERT_EQ_INT(s.calls, 0);

	pid_t notifier = -1;
	if (have_systemd_notify()) {
		char *argv[] = {"systemd-notify", "--ready", "--status=up", NULL};
		notifier = spawn_notifier(path, argv);
	} else {
		fprintf(stderr, "no systemd-notify: a tiny sender instead\n");
		send_from_child(path, "STATUS=up\nREADY=1\n");
	}
	TEST_RUN_UNTIL(&loop, &tick, s.calls > 0, "READY=1 not seen");
	ASSERT_EQ_INT(s.err, 0);
	ASSERT_EQ_INT(s.calls, 1);
	if (notifier > 0) {
		/* After READY=1, systemd-notify sends BARRIER=1 with a pipe's end and waits up to
		 * 5 s for it to be released. A probe reads and drops that datagram (and with it the
		 * fd), so a second one, as a supervisor keeping the socket read would run, lets the
		 * notifier end at once and well. */
		struct seen s2 = {0};
		cfg.timeout = 0;
		ASSERT_OK(zr_ready_start(&cfg, on_ready, &s2, &s2.r));
		uint64_t t0 = uv_hrtime();
		int status = 0;
		pid_t w = 0;
		TEST_RUN_UNTIL(&loop, &tick, (w = waitpid(notifier, &status, WNOHANG)) != 0,
			       "systemd-notify never ended");
		ASSERT_EQ_INT(w, notifier);
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		ASSERT_LT_INT(ms_since(t0, uv_hrtime()), 4000);
		ASSERT_EQ_INT(s2.calls, 0);
		zr_ready_cancel(s2.r);
	}
	uv_close((uv_handle_t *)&tick, NULL);
	uv_close((uv_handle_t *)&wait, NULL);
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 1);
	(void)close(fd);
	(void)unlink(path);
	free(path);
}

TEST(delay)
{
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	struct seen s = {0};
	/* The timeout does not apply to a delay. */
	struct zr_ready_config cfg = {
		.loop = &loop, .kind = ZR_READY_DELAY, .delay = 0.2, .timeout = 0.05};
	s.loop = &loop;
	uv_update_time(&loop);
	uint64_t t0 = uv_now(&loop);
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 1);
	ASSERT_EQ_INT(s.err, 0);
	ASSERT_GE_INT(s.at_ms - t0, 200);

	ASSERT_OK(uv_loop_init(&loop));
	s = (struct seen){0};
	cfg = (struct zr_ready_config){.loop = &loop, .kind = ZR_READY_DELAY, .delay = 0};
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	/* Never before the loop runs. */
	ASSERT_EQ_INT(s.calls, 0);
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 1);
}

TEST(malformed)
{
	static const char *const bad_tcp[] = {
		"", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80x",
		":80", "::1:80", "[::1:80", "[::1]80", "[]:80", "127.0.0.1:-1", "127.0.0.1: 80",
	};
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	struct seen s = {0};
	for (size_t i = 0; i < sizeof(bad_tcp) / sizeof(bad_tcp[0]); i++) {
		TEST_CASE("tcp '%s'", bad_tcp[i]);
		struct zr_ready *r = NULL;
		struct zr_ready_config cfg = {.loop = &loop, .kind = ZR_READY_TCP, .arg = bad_tcp[i]};
		ASSERT_EQ_INT(zr_ready_start(&cfg, on_ready, &s, &r), -EINVAL);
		ASSERT_NULL(r);
	}
	TEST_CASE_END();
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[sizeof(longpath) - 1] = '\0';
	struct zr_ready *r = NULL;
	struct zr_ready_config cfg = {.loop = &loop, .kind = ZR_READY_UNIX, .arg = longpath};
	ASSERT_EQ_INT(zr_ready_start(&cfg, on_ready, &s, &r), -EINVAL);
	cfg = (struct zr_ready_config){.loop = &loop, .kind = ZR_READY_UNIX, .arg = ""};
	ASSERT_EQ_INT(zr_ready_start(&cfg, on_ready, &s, &r), -EINVAL);
	cfg = (struct zr_ready_config){.loop = &loop, .kind = ZR_READY_EXEC, .arg = "check"};
	ASSERT_EQ_INT(zr_ready_start(&cfg, on_ready, &s, &r), -EINVAL);
	cfg = (struct zr_ready_config){.loop = &loop, .kind = ZR_READY_NOTIFY, .notify_fd = -1};
	ASSERT_EQ_INT(zr_ready_start(&cfg, on_ready, &s, &r), -EINVAL);
	ASSERT_NULL(r);
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 0);
	ASSERT_EQ_INT(zr_ready_notify_open("", &s.calls), -EINVAL);
}

static void on_cancel_timer(uv_timer_t *t)
{
	zr_ready_cancel(t->data);
}

/* Cancels: before the loop ran, and from a timer that fires right after the probe's first
 * attempt started (same due time, started later), while that connect is in flight to a
 * listener that would accept it. Neither gives a callback; the loop ends clean. */
TEST(cancel)
{
	uv_loop_t loop;
	ASSERT_OK(uv_loop_init(&loop));
	struct sockaddr_in sa;
	int port = free_port(AF_INET);
	ASSERT_OK(uv_ip4_addr("127.0.0.1", port, &sa));
	uv_tcp_t server;
	ASSERT_OK(uv_tcp_init(&loop, &server));
	ASSERT_OK(uv_tcp_bind(&server, (struct sockaddr *)&sa, 0));
	ASSERT_OK(uv_listen((uv_stream_t *)&server, 8, on_conn));
	struct later l = {0};
	server.data = &l;
	char *arg = test_strf("127.0.0.1:%d", port);
	struct seen s = {0};
	struct zr_ready_config cfg = {.loop = &loop, .kind = ZR_READY_TCP, .arg = arg, .timeout = 5};

	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	zr_ready_cancel(s.r);

	uv_timer_t t;
	for (int i = 0; i < 20; i++) {
		ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
		ASSERT_OK(uv_timer_init(&loop, &t));
		t.data = s.r;
		ASSERT_OK(uv_timer_start(&t, on_cancel_timer, 0, 0));
		(void)uv_run(&loop, UV_RUN_ONCE);
		ASSERT_FALSE(uv_is_active((uv_handle_t *)&t));
		uv_close((uv_handle_t *)&t, NULL);
		/* One more turn runs t's close callback before t is initialised again. */
		(void)uv_run(&loop, UV_RUN_NOWAIT);
	}
	ASSERT_EQ_INT(s.calls, 0);
	/* The same by a name being resolved: the resolve is cancelled or its result ignored. */
	char *named = test_strf("localhost:%d", port);
	cfg.arg = named;
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	zr_ready_cancel(s.r);

	/* A probe that ends normally, to show the listener works at all. */
	cfg.arg = arg;
	ASSERT_OK(zr_ready_start(&cfg, on_ready, &s, &s.r));
	uv_timer_t tick;
	ASSERT_OK(uv_timer_init(&loop, &tick));
	TEST_RUN_UNTIL(&loop, &tick, s.calls > 0, "never ready");
	ASSERT_EQ_INT(s.err, 0);
	uv_close((uv_handle_t *)&tick, NULL);
	uv_close((uv_handle_t *)&server, NULL);
	loop_finish(&loop);
	ASSERT_EQ_INT(s.calls, 1);
	free(arg);
	free(named);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	RUN_TEST(tcp_v4);
	RUN_TEST(tcp_v6);
	RUN_TEST(tcp_name);
	RUN_TEST(unix_socket);
	RUN_TEST(timeout);
	RUN_TEST(log_regex);
	RUN_TEST(notify);
	RUN_TEST(delay);
	RUN_TEST(malformed);
	RUN_TEST(cancel);
	return 0;
}
