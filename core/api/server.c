/* The HTTP server on the robot's loop: libmicrohttpd in external epoll mode (its epoll fd is a
 * uv_poll_t, its timeout a uv_timer_t), requests suspended while they wait, and a once-a-second
 * sweep that drops slow clients and notices clients that went away. */
#include "api-internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/path.h"
#include "robot.h"
#include "util/cleanup.h"
#include "util/log.h"

/* Memory per connection for its request line, headers and read buffer: a request whose
 * headers do not fit (beyond about 12 KiB) gets 431 from libmicrohttpd. */
#define CONN_MEMORY (16 * 1024)
/* Bodies that overflow without a Content-Length are read to their end and refused, up to
 * this many times the bound; then the connection is closed. */
#define DISCARD_FACTOR 8

long long zr_api__now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void run_mhd(struct zr_api *api);

static void on_timer(uv_timer_t *t)
{
	run_mhd(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct zr_api *api = p->data;
	(void)events;
	if (status < 0) {
		log_error("HTTP server: polling failed: %s", uv_strerror(status));
		return;
	}
	run_mhd(api);
}

/* Runs libmicrohttpd once, then arms the timer with the timeout it asks for. */
static void run_mhd(struct zr_api *api)
{
	MHD_UNSIGNED_LONG_LONG ms = 0;
	if (api->closing) {
		return;
	}
	api->kicked = false;
	api->running = true;
	(void)MHD_run(api->daemon);
	api->running = false;
	if (!api->kicked && MHD_get_timeout(api->daemon, &ms) != MHD_YES) {
		(void)uv_timer_stop(&api->timer);
		return;
	}
	(void)uv_timer_start(&api->timer, on_timer, api->kicked ? 0 : (uint64_t)ms, 0);
}

/* A resumed connection is only served by the next MHD_run(), which must not be nested. */
static void kick(struct zr_api *api)
{
	api->kicked = true;
	if (!api->running && !api->closing) {
		(void)uv_timer_start(&api->timer, on_timer, 0, 0);
	}
}

void zr_api__suspend(struct zr_api_req *q)
{
	struct zr_api *api = q->api;
	MHD_suspend_connection(q->conn);
	q->suspended = true;
	zr_list_push_back(&api->waiting, &q->wait_link);
	api->robot->metrics.http_waiting++;
}

void zr_api__wake(struct zr_api_req *q)
{
	struct zr_api *api = q->api;
	q->pending = false;
	if (!q->suspended) {
		return; /* answered from inside the step that started it, or ended */
	}
	q->suspended = false;
	zr_list_remove(&q->wait_link);
	api->robot->metrics.http_waiting--;
	MHD_resume_connection(q->conn);
	kick(api);
}

static void arm_expiry(struct zr_api *api);

/* A deadline passed: the read or wait it bounds is answered now. */
static void expire(struct zr_api_req *q)
{
	q->expired = true;
	if (q->treq) {
		zr_tree_read_cancel(q->api->tree, q->treq); /* answers -EINTR through the read's callback */
	} else if (q->pending) {
		zr_waiter_remove(&q->waiter);
		zr_api__wake(q);
	}
}

static void on_expiry(uv_timer_t *t)
{
	struct zr_api *api = t->data;
	struct zr_api_req *q, *tmp;
	long long now = zr_api__now_ms();
	api->expiry_ms = 0;
	zr_list_for_each_safe(q, tmp, &api->waiting, wait_link) {
		if (q->deadline_ms && q->deadline_ms <= now && !q->expired) {
			expire(q);
		}
	}
	arm_expiry(api);
}

static void arm_expiry(struct zr_api *api)
{
	long long next = 0;
	struct zr_api_req *q;
	zr_list_for_each(q, &api->waiting, wait_link) {
		if (q->deadline_ms && !q->expired && (!next || q->deadline_ms < next)) {
			next = q->deadline_ms;
		}
	}
	if (!next) {
		return;
	}
	long long now = zr_api__now_ms();
	api->expiry_ms = next;
	(void)uv_timer_start(&api->expiry, on_expiry, next > now ? (uint64_t)(next - now) : 0, 0);
}

void zr_api__deadline(struct zr_api_req *q, double secs)
{
	struct zr_api *api = q->api;
	if (q->deadline_ms) {
		return;
	}
	q->deadline_ms = zr_api__now_ms() + (long long)(secs * 1000);
	if (!api->expiry_ms || q->deadline_ms < api->expiry_ms) {
		long long now = zr_api__now_ms();
		api->expiry_ms = q->deadline_ms;
		(void)uv_timer_start(&api->expiry, on_expiry,
				     q->deadline_ms > now ? (uint64_t)(q->deadline_ms - now) : 0, 0);
	}
}

/* A suspended client that closed its end (or reset) is not coming back for the answer. */
static void sweep_gone(struct zr_api *api, long long now)
{
	size_t n = zr_list_length(&api->waiting), i = 0;
	struct zr_api_req *q, *tmp;
	if (n == 0) {
		return;
	}
	struct pollfd *fds = calloc(n, sizeof(*fds));
	if (!fds) {
		return;
	}
	zr_list_for_each(q, &api->waiting, wait_link) {
		fds[i++] = (struct pollfd){.fd = q->c ? q->c->fd : -1, .events = POLLRDHUP};
	}
	if (poll(fds, n, 0) > 0) {
		/* Waking may move requests out of the list: match them by position first. */
		struct zr_api_req **gone = calloc(n, sizeof(*gone));
		size_t g = 0;
		i = 0;
		zr_list_for_each(q, &api->waiting, wait_link) {
			if (gone && (fds[i].revents & (POLLRDHUP | POLLHUP | POLLERR))) {
				gone[g++] = q;
			}
			i++;
		}
		for (i = 0; i < g; i++) {
			q = gone[i];
			log_debug("HTTP %s %s: the client went away", q->method_name, q->url);
			q->gone = true;
			if (q->treq) {
				zr_tree_read_cancel(api->tree, q->treq);
			} else if (zr_api__cancel_forward(q)) {
				zr_api__wake(q);
			} else if (q->suspended && q->ops == 0) {
				zr_waiter_remove(&q->waiter);
				zr_api__wake(q);
			}
		}
		free(gone);
	}
	free(fds);
	zr_list_for_each_safe(q, tmp, &api->waiting, wait_link) {
		if (q->sse) {
			zr_api__sse_tick(q, now);
		}
	}
}

/* A request must arrive whole within the timeout of the connection's start (or of the end of
 * its previous request): shutting the socket down makes libmicrohttpd close it at its next
 * read, so a client sending a byte a second holds nothing for long. */
static void sweep_slow(struct zr_api *api, long long now)
{
	struct zr_api_conn *c;
	long long limit = (long long)api->cfg.timeout * 1000;
	zr_list_for_each(c, &api->conns, link) {
		if (!c->busy && !c->dropped && now - c->since_ms > limit) {
			c->dropped = true;
			log_debug("HTTP: dropping a connection that sent no whole request in %u s",
				  api->cfg.timeout);
			(void)shutdown(c->fd, SHUT_RDWR);
		}
	}
}

static void on_tick(uv_timer_t *t)
{
	struct zr_api *api = t->data;
	long long now = zr_api__now_ms();
	sweep_slow(api, now);
	sweep_gone(api, now);
}

const char *zr_api__header(const struct zr_api_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_HEADER_KIND, name);
}

const char *zr_api__arg(const struct zr_api_req *q, const char *name)
{
	return MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- requests ---- */

static enum zr_api_method method_of(const char *m)
{
	static const struct {
		const char *name;
		enum zr_api_method m;
	} methods[] = {
		{"GET", ZR_API_GET}, {"HEAD", ZR_API_HEAD}, {"POST", ZR_API_POST},
		{"PUT", ZR_API_PUT}, {"DELETE", ZR_API_DELETE},
	};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(m, methods[i].name) == 0) {
			return methods[i].m;
		}
	}
	return ZR_API_OTHER;
}

static void on_journal_wake(struct zr_waiter *w)
{
	zr_api__wake(container_of(w, struct zr_api_req, waiter));
}

static struct zr_api_req *req_new(struct zr_api *api, struct MHD_Connection *conn, const char *url,
				  const char *method)
{
	struct zr_api_req *q = calloc(1, sizeof(*q));
	if (!q) {
		return NULL;
	}
	q->api = api;
	q->conn = conn;
	q->url = strdup(url);
	q->method_name = strdup(method);
	if (!q->url || !q->method_name) {
		free(q->url);
		free(q->method_name);
		free(q);
		return NULL;
	}
	q->method = method_of(method);
	q->start_ns = zr_now_ns();
	q->wait = -1;
	zr_list_init(&q->wait_link);
	zr_waiter_init(&q->waiter, on_journal_wake);
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	q->c = ci ? ci->socket_context : NULL;
	zr_list_push_back(&api->requests, &q->link);
	return q;
}

static void req_free(struct zr_api_req *q)
{
	zr_api__release(q);
	zr_list_remove(&q->link);
	if (q->suspended) {
		zr_list_remove(&q->wait_link);
		q->api->robot->metrics.http_waiting--;
	}
	for (size_t i = 0; i < q->n_comps; i++) {
		free(q->comps[i]);
	}
	free(q->comps);
	for (int i = 0; i < q->n_hdrs; i++) {
		free(q->hdr_values[i]);
	}
	zr_buf_done(&q->body);
	zr_buf_done(&q->out);
	zr_buf_done(&q->sse_out);
	free(q->path);
	free(q->url);
	free(q->method_name);
	free(q);
}

/* An operation in flight answered: a request libmicrohttpd ended meanwhile goes now. */
bool zr_api__op_done(struct zr_api_req *q)
{
	q->ops--;
	if (q->ended) {
		if (q->ops == 0) {
			req_free(q);
		}
		return false;
	}
	return true;
}

static enum MHD_Result respond(struct zr_api_req *q)
{
	struct zr_api *api = q->api;
	struct MHD_Response *r;
	if (q->sse) {
		r = zr_api__sse_response(q);
	} else {
		size_t len = q->out.len;
		r = MHD_create_response_from_buffer(len, zr_buf_steal(&q->out), MHD_RESPMEM_MUST_FREE);
	}
	if (!r) {
		return MHD_NO;
	}
	if (q->content_type) {
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, q->content_type);
	}
	bool cache_control = false;
	for (int i = 0; i < q->n_hdrs; i++) {
		(void)MHD_add_response_header(r, q->hdr_names[i], q->hdr_values[i]);
		cache_control |= strcasecmp(q->hdr_names[i], MHD_HTTP_HEADER_CACHE_CONTROL) == 0;
	}
	if (!cache_control) {
		(void)MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	}
	enum MHD_Result ret = MHD_queue_response(q->conn, q->status, r);
	MHD_destroy_response(r);
	if (q->status < 600) {
		api->robot->metrics.http_requests[q->status]++;
	}
	log_debug("HTTP %s %s %u (%.1f ms)", q->method_name, q->url, q->status,
		  (double)(zr_now_ns() - q->start_ns) / 1e6);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req_cls)
{
	struct zr_api *api = cls;
	struct zr_api_req *q = *req_cls;
	(void)version;
	if (!q) {
		q = req_new(api, conn, url, method);
		if (!q) {
			return MHD_NO;
		}
		*req_cls = q;
		if (api->closing) {
			zr_api__fail(q, 503, ESHUTDOWN, "the robot is stopping");
		} else {
			zr_api__begin(q);
		}
		return q->ready ? respond(q) : MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size, cap = zr_api__body_cap(q);
		*upload_size = 0;
		if (!q->too_big && q->body.len + n <= cap) {
			return zr_buf_append(&q->body, upload, n) < 0 ? MHD_NO : MHD_YES;
		}
		/* A body without a Content-Length, past its target's bound (an action's is
		 * --max-args-bytes): kept no further, refused now (lasterror too), answered
		 * once it ends, and the connection closed if it goes on for long. */
		if (!q->too_big && !q->ready) {
			zr_api__body_refuse(q, 0);
		}
		q->too_big = true;
		q->discarded += n;
		zr_buf_done(&q->body);
		return q->discarded > DISCARD_FACTOR * cap ? MHD_NO : MHD_YES;
	}
	if (q->c) {
		q->c->busy = true;
	}
	if (api->closing && !q->ready) {
		zr_api__fail(q, 503, ESHUTDOWN, "the robot is stopping");
	} else if (q->too_big && !q->ready) {
		zr_api__fail(q, 413, EFBIG, "the body is larger than %zu bytes", api->cfg.body_max);
	}
	while (!q->ready && !q->pending) {
		q->step(q);
	}
	if (q->ready) {
		return respond(q);
	}
	zr_api__suspend(q);
	return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct zr_api_req *q = *req_cls;
	(void)cls, (void)conn, (void)toe;
	if (!q) {
		return;
	}
	*req_cls = NULL;
	if (q->c) {
		q->c->busy = false;
		q->c->since_ms = zr_api__now_ms();
		q->c = NULL;
	}
	q->conn = NULL;
	q->ended = true;
	zr_api__release(q); /* cancels what can be cancelled; commits answer later */
	if (q->ops == 0) {
		req_free(q);
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode code)
{
	struct zr_api *api = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		struct zr_api_conn *c = calloc(1, sizeof(*c));
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		if (!c || !ci) {
			free(c);
			*socket_ctx = NULL;
			return;
		}
		c->fd = ci->connect_fd;
		c->since_ms = zr_api__now_ms();
		zr_list_push_back(&api->conns, &c->link);
		*socket_ctx = c;
		api->robot->metrics.http_connections++;
	} else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		struct zr_api_conn *c = *socket_ctx;
		if (c) {
			zr_list_remove(&c->link);
			free(c);
			*socket_ctx = NULL;
			api->robot->metrics.http_connections--;
		}
		/* At the connection limit libmicrohttpd takes the listening socket out of its epoll
		 * set, and puts it back only at its next run: without one, clients waiting in the
		 * backlog would wait for some other event. */
		kick(api);
	}
}

/* %HH decoding of paths and query values (api/path.h: all but %00). */
static size_t on_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	(void)cls, (void)conn;
	return zr_api_path_unescape(s);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[512];
	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("libmicrohttpd: %s", line);
}

/* ---- start and stop ---- */

static int read_file(const char *path, char **ret)
{
	FILE *f = fopen(path, "re");
	struct zr_buf b = {0};
	char chunk[4096];
	size_t n;
	if (!f) {
		return -errno;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (zr_buf_append(&b, chunk, n) < 0) {
			fclose(f);
			zr_buf_done(&b);
			return -ENOMEM;
		}
	}
	int err = ferror(f) ? -EIO : 0;
	fclose(f);
	if (err < 0) {
		zr_buf_done(&b);
		return err;
	}
	*ret = zr_buf_steal(&b);
	return 0;
}

/* Whether a bound address reaches this machine only: 127.0.0.0/8, ::1, ::ffff:127.x.x.x. */
static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* Binds ADDR:PORT ("127.0.0.1:6600", "[::1]:0", "localhost:6600") and sets api->url. */
static int listen_on(struct zr_api *api, const char *spec, char **ret_err)
{
	_cleanup_free_ char *host = NULL;
	const char *port;
	if (spec[0] == '[') {
		const char *e = strchr(spec, ']');
		if (!e || e[1] != ':') {
			(void)asprintf(ret_err, "--listen '%s': want [ADDR]:PORT", spec);
			return -EINVAL;
		}
		host = strndup(spec + 1, (size_t)(e - spec - 1));
		port = e + 2;
	} else {
		const char *e = strrchr(spec, ':');
		if (!e) {
			(void)asprintf(ret_err, "--listen '%s': want ADDR:PORT", spec);
			return -EINVAL;
		}
		host = strndup(spec, (size_t)(e - spec));
		port = e + 1;
	}
	if (!host) {
		return -ENOMEM;
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &ai);
	if (rc != 0) {
		(void)asprintf(ret_err, "--listen '%s': %s", spec, gai_strerror(rc));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, err = 0;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
		err = -errno;
		(void)asprintf(ret_err, "Failed to listen on %s: %s", spec, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		freeaddrinfo(ai);
		return err;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char h[NI_MAXHOST], p[NI_MAXSERV];
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0 ||
	    getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), p, sizeof(p), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
		close(fd);
		return -EIO;
	}
	const char *scheme = api->cert ? "https" : "http";
	if (!api->cert && !is_loopback(&ss)) {
		/* Tokens travel in every request's header: beyond this machine, in clear. */
		log_warn("HTTP API on %s (%s) is reachable beyond this machine without TLS: tokens "
			 "and data cross the network in clear; give --tls-cert and --tls-key, or "
			 "--listen 127.0.0.1:PORT", spec, h);
	}
	if (asprintf(&api->url, ss.ss_family == AF_INET6 ? "%s://[%s]:%s" : "%s://%s:%s", scheme, h, p) < 0) {
		api->url = NULL;
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

static char *dup_opt(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void on_handle_closed(uv_handle_t *h)
{
	struct zr_api *api = h->data;
	if (--api->open_handles == 0) {
		free(api);
	}
}

/* Frees what the server owns but its struct, which its loop handles may still point to. */
static void api_done(struct zr_api *api)
{
	zr_api__tokens_done(&api->tokens);
	free((char *)api->cfg.listen);
	free((char *)api->cfg.data_dir);
	free((char *)api->cfg.token_file);
	free((char *)api->cfg.tls_cert);
	free((char *)api->cfg.tls_key);
	free(api->url);
	free(api->cert);
	free(api->key);
}

int zr_api_create(uv_loop_t *loop, struct zr_robot *r, struct zr_tree *tree,
		  const struct zr_api_config *cfg, struct zr_api **ret, char **ret_err)
{
	struct zr_api *api = calloc(1, sizeof(*api));
	int err, fd = -1;
	if (!api) {
		return -ENOMEM;
	}
	api->loop = loop;
	api->robot = r;
	api->tree = tree;
	api->cfg = *cfg;
	api->cfg.listen = dup_opt(cfg->listen);
	api->cfg.data_dir = dup_opt(cfg->data_dir);
	api->cfg.token_file = dup_opt(cfg->token_file);
	api->cfg.tls_cert = dup_opt(cfg->tls_cert);
	api->cfg.tls_key = dup_opt(cfg->tls_key);
	zr_list_init(&api->conns);
	zr_list_init(&api->requests);
	zr_list_init(&api->waiting);
	if (!api->cfg.listen || !api->cfg.data_dir || (cfg->token_file && !api->cfg.token_file) ||
	    (cfg->tls_cert && !api->cfg.tls_cert) || (cfg->tls_key && !api->cfg.tls_key)) {
		err = -ENOMEM;
		goto fail;
	}
	if (!cfg->tls_cert != !cfg->tls_key) {
		(void)asprintf(ret_err, "--tls-cert and --tls-key go together");
		err = -EINVAL;
		goto fail;
	}
	if (cfg->tls_cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			(void)asprintf(ret_err, "this libmicrohttpd has no TLS support");
			err = -ENOTSUP;
			goto fail;
		}
		if ((err = read_file(cfg->tls_cert, &api->cert)) < 0 || (err = read_file(cfg->tls_key, &api->key)) < 0) {
			(void)asprintf(ret_err, "Failed to read %s: %s", api->cert ? cfg->tls_key : cfg->tls_cert,
				       strerror(-err));
			err = -EINVAL;
			goto fail;
		}
	}
	err = zr_api__tokens_load(api, ret_err);
	if (err < 0) {
		goto fail;
	}
	fd = listen_on(api, cfg->listen, ret_err);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (api->cert) {
		flags |= MHD_USE_TLS;
	}
	/* The TLS options must not be given at all without TLS: libmicrohttpd refuses them. */
	api->daemon = MHD_start_daemon(
		flags, 0, NULL, NULL, on_request, api,
		MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, api,
		MHD_OPTION_LISTEN_SOCKET, fd,
		MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connections_max,
		/* One client must not take every connection: beyond this many from its address
		 * a new one is accepted and closed at once. */
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->per_ip_max,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->timeout,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, api,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, api,
		MHD_OPTION_UNESCAPE_CALLBACK, on_unescape, api,
		api->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, api->cert,
		MHD_OPTION_HTTPS_MEM_KEY, api->key,
		MHD_OPTION_END);
	if (!api->daemon) {
		close(fd);
		(void)asprintf(ret_err, "Failed to start the HTTP server on %s%s", cfg->listen,
			       api->cert ? " (is the TLS certificate or key invalid?)" : "");
		err = -EINVAL;
		goto fail;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(api->daemon, MHD_DAEMON_INFO_EPOLL_FD);
	if (!di || (err = uv_poll_init(loop, &api->poll, di->epoll_fd)) < 0) {
		MHD_stop_daemon(api->daemon);
		(void)asprintf(ret_err, "Failed to watch the HTTP server's epoll fd");
		err = -EIO;
		goto fail;
	}
	api->open_handles = 4;
	api->poll.data = api;
	uv_timer_init(loop, &api->timer);
	uv_timer_init(loop, &api->tick);
	uv_timer_init(loop, &api->expiry);
	api->timer.data = api->tick.data = api->expiry.data = api;
	(void)uv_poll_start(&api->poll, UV_READABLE, on_poll);
	(void)uv_timer_start(&api->tick, on_tick, 1000, 1000);
	r->http_url = api->url;
	run_mhd(api);
	*ret = api;
	return 0;
fail:
	api_done(api);
	free(api);
	return err;
}

const char *zr_api_url(const struct zr_api *api)
{
	return api->url;
}

void zr_api_destroy(struct zr_api *api)
{
	struct zr_api_req *q, *tmp;
	if (!api) {
		return;
	}
	api->robot->http_url = NULL;
	/* libmicrohttpd must not be stopped with suspended connections: wake them, let their
	 * handlers refuse them (api->closing), then stop. */
	api->closing = true;
	zr_list_for_each_safe(q, tmp, &api->waiting, wait_link) {
		q->gone = true;
		if (q->treq) {
			zr_tree_read_cancel(api->tree, q->treq);
		} else {
			zr_waiter_remove(&q->waiter);
			zr_api__wake(q);
		}
	}
	(void)MHD_run(api->daemon);
	/* Closing the poll handle takes the epoll fd out of the loop at once, before
	 * libmicrohttpd closes it and the number can be reused. */
	uv_close((uv_handle_t *)&api->poll, on_handle_closed);
	uv_close((uv_handle_t *)&api->timer, on_handle_closed);
	uv_close((uv_handle_t *)&api->tick, on_handle_closed);
	uv_close((uv_handle_t *)&api->expiry, on_handle_closed);
	MHD_stop_daemon(api->daemon);
	api->daemon = NULL;
	/* A request whose commit is still in flight cannot be freed under the callback to come.
	 * The store answers every commit before the server is destroyed, so this is a check. */
	zr_list_for_each_safe(q, tmp, &api->requests, link) {
		log_warn("HTTP %s %s still in flight at shutdown, leaking it", q->method_name, q->url);
		zr_list_remove(&q->link);
	}
	api_done(api);
}
