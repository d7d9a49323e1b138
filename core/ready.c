/* Readiness probes of a supervised server on the loop: tcp and unix connect attempts every
 * 50 ms, a regex over output lines, an sd_notify datagram, a delay; one overall timeout. */
#include "ready.h"

#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PROBE_INTERVAL_MS 50
/* A name may resolve to both ::1 and 127.0.0.1; the attempts take them in turn. */
#define MAX_ADDRS 4
/* Datagrams read in one poll callback, so a flood cannot hold the loop. */
#define NOTIFY_BATCH 64

struct zr_ready {
	uv_loop_t *loop;
	enum zr_ready_kind kind;
	zr_ready_cb cb;
	void *data;
	char *arg;
	double delay, timeout;
	int notify_fd;
	uid_t notify_uid;

	/* The overall timeout; kind DELAY uses it for the delay instead. */
	uv_timer_t timer;
	/* tcp, unix: the next connect attempt. */
	uv_timer_t tick;
	uv_poll_t poll;
	union {
		uv_tcp_t tcp;
		uv_pipe_t pipe;
	} sock;
	uv_connect_t connect;
	uv_getaddrinfo_t resolve;

	struct sockaddr_storage addrs[MAX_ADDRS];
	size_t n_addrs, next_addr;
	regex_t re;
	bool re_ok;

	/* Handles (and the resolve request) still to come back before the probe can be freed. */
	unsigned pending;
	bool resolving;    /* resolve is in flight */
	bool attempting;   /* sock is initialised: a connect in flight or its close */
	bool timer_on, tick_on, poll_on;
	bool done;         /* the callback was given or the probe was cancelled */
};

static void probe_free(struct zr_ready *r)
{
	if (r->re_ok) {
		regfree(&r->re);
	}
	free(r->arg);
	free(r);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct zr_ready *r = h->data;
	if (--r->pending == 0) {
		probe_free(r);
	}
}

static void close_handle(struct zr_ready *r, uv_handle_t *h, bool *on)
{
	if (*on) {
		*on = false;
		r->pending++;
		uv_close(h, on_handle_closed);
	}
}

static void on_sock_closed(uv_handle_t *h);

/* Marks the probe done and closes what it holds; the last close callback frees it. A connect
 * in flight ends with UV_ECANCELED before its handle's close callback, a resolve in flight
 * with UV_EAI_CANCELED (or its result, which is then ignored). */
static void probe_stop(struct zr_ready *r)
{
	r->done = true;
	close_handle(r, (uv_handle_t *)&r->timer, &r->timer_on);
	close_handle(r, (uv_handle_t *)&r->tick, &r->tick_on);
	close_handle(r, (uv_handle_t *)&r->poll, &r->poll_on);
	if (r->attempting) {
		/* Counted even when a failed attempt is closing already: on_sock_closed sees done. */
		r->pending++;
		if (!uv_is_closing((uv_handle_t *)&r->sock)) {
			uv_close((uv_handle_t *)&r->sock, on_sock_closed);
		}
	}
	if (r->resolving) {
		(void)uv_cancel((uv_req_t *)&r->resolve);
	}
	if (r->pending == 0) {
		probe_free(r);
	}
}

/* Gives the one callback. The probe stays allocated until its handles are closed, so a
 * zr_ready_cancel from inside cb finds it marked done and does nothing. */
static void probe_finish(struct zr_ready *r, int err, const char *why)
{
	/* Held so that probe_stop cannot free r before cb has run (nothing to close). */
	r->pending++;
	probe_stop(r);
	r->cb(err, why, r->data);
	if (--r->pending == 0) {
		probe_free(r);
	}
}

static void on_timeout(uv_timer_t *t)
{
	struct zr_ready *r = t->data;
	if (r->kind == ZR_READY_DELAY) {
		probe_finish(r, 0, NULL);
		return;
	}
	char why[64];
	(void)snprintf(why, sizeof(why), "not ready after %g s", r->timeout);
	probe_finish(r, -ETIMEDOUT, why);
}

static void on_sock_closed(uv_handle_t *h)
{
	struct zr_ready *r = h->data;
	r->attempting = false;
	if (r->done) {
		on_handle_closed(h);
	}
}

static void on_connect(uv_connect_t *req, int status)
{
	struct zr_ready *r = req->data;
	if (r->done) {
		/* Cancelled: probe_stop already closes the socket. */
		return;
	}
	if (status == 0) {
		probe_finish(r, 0, NULL);
		return;
	}
	/* Refused (or not there yet): the tick starts the next attempt once this one is closed. */
	uv_close((uv_handle_t *)&r->sock, on_sock_closed);
}

static void attempt_start(struct zr_ready *r)
{
	int err;
	r->connect.data = r;
	if (r->kind == ZR_READY_UNIX) {
		err = uv_pipe_init(r->loop, &r->sock.pipe, 0);
		if (err < 0) {
			return;
		}
		r->sock.pipe.data = r;
		r->attempting = true;
		/* Errors, even immediate ones (ENOENT), come through on_connect. */
		uv_pipe_connect(&r->connect, &r->sock.pipe, r->arg, on_connect);
		return;
	}
	err = uv_tcp_init(r->loop, &r->sock.tcp);
	if (err < 0) {
		return;
	}
	r->sock.tcp.data = r;
	r->attempting = true;
	const struct sockaddr *sa = (const struct sockaddr *)&r->addrs[r->next_addr];
	r->next_addr = (r->next_addr + 1) % r->n_addrs;
	err = uv_tcp_connect(&r->connect, &r->sock.tcp, sa, on_connect);
	if (err < 0) {
		/* Out of fds and the like: this attempt is lost, the next tick tries again. */
		uv_close((uv_handle_t *)&r->sock, on_sock_closed);
	}
}

static void on_tick(uv_timer_t *t)
{
	struct zr_ready *r = t->data;
	/* A connect that hangs (a filtered port) is not doubled: the next one waits for it. */
	if (!r->attempting) {
		attempt_start(r);
	}
}

static int ticks_start(struct zr_ready *r)
{
	int err = uv_timer_init(r->loop, &r->tick);
	if (err < 0) {
		return err;
	}
	r->tick.data = r;
	r->tick_on = true;
	return uv_timer_start(&r->tick, on_tick, 0, PROBE_INTERVAL_MS);
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
	struct zr_ready *r = req->data;
	r->resolving = false;
	if (r->done) {
		uv_freeaddrinfo(res);
		if (--r->pending == 0) {
			probe_free(r);
		}
		return;
	}
	r->pending--;
	for (struct addrinfo *ai = res; ai && r->n_addrs < MAX_ADDRS; ai = ai->ai_next) {
		if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
		    ai->ai_addrlen <= sizeof(r->addrs[0])) {
			memcpy(&r->addrs[r->n_addrs++], ai->ai_addr, ai->ai_addrlen);
		}
	}
	uv_freeaddrinfo(res);
	if (status < 0 || r->n_addrs == 0) {
		char why[256];
		(void)snprintf(why, sizeof(why), "cannot resolve '%s': %s", r->arg,
			       status < 0 ? uv_strerror(status) : "no address");
		probe_finish(r, status < 0 ? -EHOSTUNREACH : -EADDRNOTAVAIL, why);
		return;
	}
	int err = ticks_start(r);
	if (err < 0) {
		char why[128];
		(void)snprintf(why, sizeof(why), "cannot start the probe: %s", uv_strerror(err));
		probe_finish(r, err, why);
	}
}

/* Splits "HOST:PORT" or "[V6]:PORT" into *host (malloc'd) and *port. */
static int split_host_port(const char *arg, char **host, int *port)
{
	const char *colon, *h = arg, *h_end;
	if (arg[0] == '[') {
		h = arg + 1;
		h_end = strchr(h, ']');
		if (!h_end || h_end[1] != ':') {
			return -EINVAL;
		}
		colon = h_end + 1;
	} else {
		colon = strrchr(arg, ':');
		if (!colon || memchr(arg, ':', (size_t)(colon - arg))) {
			return -EINVAL;
		}
		h_end = colon;
	}
	if (h_end == h) {
		return -EINVAL;
	}
	char *end;
	errno = 0;
	long p = strtol(colon + 1, &end, 10);
	if (colon[1] < '0' || colon[1] > '9' || *end || errno || p < 1 || p > 65535) {
		return -EINVAL;
	}
	*host = strndup(h, (size_t)(h_end - h));
	if (!*host) {
		return -ENOMEM;
	}
	*port = (int)p;
	return 0;
}

/* A numeric address goes straight into addrs; a name is resolved once, off the loop (libuv's
 * thread pool), and the attempts start when it is. */
static int tcp_prepare(struct zr_ready *r)
{
	char *host;
	int port;
	int err = split_host_port(r->arg, &host, &port);
	if (err < 0) {
		return err;
	}
	struct sockaddr_in *v4 = (struct sockaddr_in *)&r->addrs[0];
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&r->addrs[0];
	if (uv_ip4_addr(host, port, v4) == 0 || uv_ip6_addr(host, port, v6) == 0) {
		free(host);
		r->n_addrs = 1;
		return ticks_start(r);
	}
	char service[8];
	(void)snprintf(service, sizeof(service), "%d", port);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	r->resolve.data = r;
	err = uv_getaddrinfo(r->loop, &r->resolve, on_resolved, host, service, &hints);
	free(host);
	if (err < 0) {
		return err == UV_ENOMEM ? -ENOMEM : -EINVAL;
	}
	r->resolving = true;
	r->pending++;
	return 0;
}

/* One datagram: ready when one of its lines is exactly "READY=1" (sd_notify(3)). */
static bool notify_ready(const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		if (n == 7 && memcmp(p, "READY=1", 7) == 0) {
			return true;
		}
		p += n + 1;
	}
	return false;
}

/* Whether a datagram comes from the server: root, the robot's uid or the server's
 * (SCM_CREDENTIALS, which SO_PASSCRED has the kernel fill in whatever the sender sent). Any
 * fd passed along is closed. An abstract socket's name is visible to every local user, so
 * this is what keeps another user from faking the server's readiness. */
static bool notify_from_server(const struct zr_ready *r, struct msghdr *m)
{
	bool ok = false;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(m); c; c = CMSG_NXTHDR(m, c)) {
		if (c->cmsg_level != SOL_SOCKET) {
			continue;
		}
		if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(struct ucred))) {
			struct ucred cr;
			memcpy(&cr, CMSG_DATA(c), sizeof(cr));
			ok = cr.uid == 0 || cr.uid == geteuid() || cr.uid == r->notify_uid;
		} else if (c->cmsg_type == SCM_RIGHTS) {
			size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < n; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				(void)close(fd);
			}
		}
	}
	return ok;
}

static void on_notify(uv_poll_t *h, int status, int events)
{
	struct zr_ready *r = h->data;
	if (r->done || status < 0) {
		return;
	}
	for (int i = 0; i < NOTIFY_BATCH; i++) {
		/* The real size first, so that a long datagram is read whole. */
		char probe;
		ssize_t size = recv(r->notify_fd, &probe, 1, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
		if (size < 0) {
			return;
		}
		char *buf = malloc(size > 0 ? (size_t)size : 1);
		if (!buf) {
			/* Dropped: a server that says READY=1 again is still seen. */
			(void)recv(r->notify_fd, &probe, 1, MSG_DONTWAIT);
			continue;
		}
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(struct ucred))];
		} ctl;
		struct iovec iov = {.iov_base = buf, .iov_len = size > 0 ? (size_t)size : 1};
		struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				   .msg_controllen = sizeof(ctl.buf)};
		ssize_t n = recvmsg(r->notify_fd, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		bool ready = n > 0 && notify_from_server(r, &m) && notify_ready(buf, (size_t)n);
		free(buf);
		if (ready) {
			probe_finish(r, 0, NULL);
			return;
		}
		if (n < 0) {
			return;
		}
	}
}

static int probe_begin(struct zr_ready *r)
{
	int err;
	switch (r->kind) {
	case ZR_READY_TCP:
		return tcp_prepare(r);
	case ZR_READY_UNIX:
		if (!r->arg[0] || strlen(r->arg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			return -EINVAL;
		}
		return ticks_start(r);
	case ZR_READY_LOG:
		err = regcomp(&r->re, r->arg, REG_EXTENDED | REG_NOSUB);
		if (err != 0) {
			return err == REG_ESPACE ? -ENOMEM : -EINVAL;
		}
		r->re_ok = true;
		return 0;
	case ZR_READY_NOTIFY:
		if (r->notify_fd < 0) {
			return -EINVAL;
		}
		err = uv_poll_init(r->loop, &r->poll, r->notify_fd);
		if (err < 0) {
			return err;
		}
		r->poll.data = r;
		r->poll_on = true;
		return uv_poll_start(&r->poll, UV_READABLE, on_notify);
	case ZR_READY_DELAY:
		if (!(r->delay >= 0)) {
			return -EINVAL;
		}
		return 0;
	default:
		return -EINVAL;
	}
}

int zr_ready_start(const struct zr_ready_config *cfg, zr_ready_cb cb, void *data,
		   struct zr_ready **ret)
{
	bool needs_arg = cfg->kind == ZR_READY_TCP || cfg->kind == ZR_READY_UNIX ||
			 cfg->kind == ZR_READY_LOG;
	if (needs_arg && !cfg->arg) {
		return -EINVAL;
	}
	if (!(cfg->timeout >= 0)) {
		return -EINVAL;
	}
	struct zr_ready *r = calloc(1, sizeof(*r));
	if (!r) {
		return -ENOMEM;
	}
	*r = (struct zr_ready){
		.loop = cfg->loop,
		.kind = cfg->kind,
		.cb = cb,
		.data = data,
		.delay = cfg->delay,
		.timeout = cfg->timeout,
		.notify_fd = cfg->notify_fd,
		.notify_uid = cfg->notify_uid,
	};
	if (needs_arg && !(r->arg = strdup(cfg->arg))) {
		free(r);
		return -ENOMEM;
	}
	int err = uv_timer_init(r->loop, &r->timer);
	if (err < 0) {
		probe_free(r);
		return err;
	}
	r->timer.data = r;
	r->timer_on = true;
	err = probe_begin(r);
	/* A delay is not a check that can fail: the timeout does not apply to it. */
	double secs = r->kind == ZR_READY_DELAY ? r->delay : r->timeout;
	if (err == 0 && (secs > 0 || r->kind == ZR_READY_DELAY)) {
		err = uv_timer_start(&r->timer, on_timeout, (uint64_t)(secs * 1000 + 0.5), 0);
	}
	if (err < 0) {
		/* No callback: the half-built probe goes as a cancelled one does. */
		probe_stop(r);
		return err;
	}
	*ret = r;
	return 0;
}

void zr_ready_log_line(struct zr_ready *r, const char *line, size_t len)
{
	if (r->done || r->kind != ZR_READY_LOG) {
		return;
	}
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
		len--;
	}
	char *s = strndup(line, len);
	if (!s) {
		return;
	}
	bool match = regexec(&r->re, s, 0, NULL, 0) == 0;
	free(s);
	if (match) {
		probe_finish(r, 0, NULL);
	}
}

void zr_ready_cancel(struct zr_ready *r)
{
	if (r && !r->done) {
		probe_stop(r);
	}
}

int zr_ready_notify_open(const char *path, int *fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t len = strlen(path);
	bool abstract = path[0] == '@';
	if (len == 0 || len >= sizeof(sa.sun_path)) {
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, len);
	if (abstract) {
		sa.sun_path[0] = '\0';
	}
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s < 0) {
		return -errno;
	}
	int on = 1;
	if (setsockopt(s, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)) < 0) {
		int err = -errno;
		(void)close(s);
		return err;
	}
	/* A socket file left by an earlier robot (or server) would make bind fail. */
	struct stat st;
	if (!abstract && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode)) {
		(void)unlink(path);
	}
	socklen_t sl = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 0 : 1));
	if (bind(s, (struct sockaddr *)&sa, sl) < 0 || (!abstract && chmod(path, 0600) < 0)) {
		int err = -errno;
		(void)close(s);
		return err;
	}
	*fd = s;
	return 0;
}
