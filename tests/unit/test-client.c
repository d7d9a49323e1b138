/* Unit tests for core/remote/client.c against a real HTTP server on 127.0.0.1 (libmicrohttpd,
 * a thread per connection) with the client's loop in the test thread: answers of any status
 * with their body and headers, bodies sent unchanged, transport failures as -ENOTCONN and
 * -ETIMEDOUT, redirects never followed, body caps, cancellation, streaming, many requests at
 * once over reused connections, and a destroy that answers every request in flight. */
#include "remote/client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "util/buf.h"

/* ---- the server ----
 * Endpoints:
 *   /hello          200 "hello world", text/plain; charset=utf-8
 *   /echo           200, the request's body and Content-Type ("none" when absent)
 *   /method         200, the request's method as the body
 *   /auth           200, the request's Authorization header as the body
 *   /task           202 with Zr-Task and Zr-Task-State
 *   /task-lower     200 with the same headers spelled in other cases
 *   /stream?n=&ms=  200, n chunks "chunk <i>\n", ms milliseconds apart (a chunked body)
 *   /redirect       307 to /hello; /redirect-far: 302 to http://evil.example/
 *   anything else   404 "no such thing: <url>" */

static struct MHD_Daemon *httpd;
static uint16_t port;
static atomic_int n_connections;   /* TCP connections the server accepted */
static atomic_int streams_ended;   /* stream responses freed (completed or cut) */
static atomic_int stream_chunks;   /* chunks the streams served, all together */
static atomic_int hello_hits;      /* requests of /hello */

struct upload {
	struct zr_buf body;
};

struct stream {
	int n, i;
	unsigned ms;
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	(void)pos;
	if (s->i > 0 && s->ms > 0) {
		/* A thread per connection: blocking here delays only this answer. */
		struct timespec ts = {.tv_sec = s->ms / 1000, .tv_nsec = (long)(s->ms % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
	if (s->i >= s->n) {
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	int len = snprintf(buf, max, "chunk %d\n", s->i);
	s->i++;
	atomic_fetch_add(&stream_chunks, 1);
	return len;
}

static void stream_free(void *cls)
{
	free(cls);
	atomic_fetch_add(&streams_ended, 1);
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const void *body,
			     size_t len, const char *ctype)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	if (!r) {
		return MHD_NO;
	}
	if (ctype) {
		(void)MHD_add_response_header(r, "Content-Type", ctype);
	}
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	(void)cls;
	(void)version;
	struct upload *u = *con_cls;
	if (!u) {
		/* The first call only announces the request: its body comes in the next ones. */
		u = calloc(1, sizeof(*u));
		if (!u) {
			return MHD_NO;
		}
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_data_size > 0) {
		if (zr_buf_append(&u->body, upload_data, *upload_data_size) < 0) {
			return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/hello") == 0) {
		atomic_fetch_add(&hello_hits, 1);
		return reply(conn, 200, "hello world", 11, "text/plain; charset=utf-8");
	}
	if (strcmp(url, "/echo") == 0) {
		const char *ct = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
		return reply(conn, 200, u->body.data ? u->body.data : "", u->body.len,
			     ct ? ct : "none");
	}
	if (strcmp(url, "/method") == 0) {
		return reply(conn, 200, method, strlen(method), "text/plain");
	}
	if (strcmp(url, "/auth") == 0) {
		const char *a = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
		a = a ? a : "(none)";
		return reply(conn, 200, a, strlen(a), "text/plain");
	}
	if (strcmp(url, "/task") == 0 || strcmp(url, "/task-lower") == 0) {
		bool lower = strcmp(url, "/task-lower") == 0;
		struct MHD_Response *r = MHD_create_response_from_buffer(8, (void *)"accepted",
									 MHD_RESPMEM_PERSISTENT);
		if (!r) {
			return MHD_NO;
		}
		(void)MHD_add_response_header(r, lower ? "zr-task" : "Zr-Task",
					      lower ? "7" : "12345678901");
		(void)MHD_add_response_header(r, lower ? "ZR-TASK-STATE" : "Zr-Task-State",
					      lower ? "done" : "running");
		enum MHD_Result ret = MHD_queue_response(conn, lower ? 200 : 202, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(url, "/redirect") == 0 || strcmp(url, "/redirect-far") == 0) {
		bool far = strcmp(url, "/redirect-far") == 0;
		struct MHD_Response *r = MHD_create_response_from_buffer(5, (void *)"moved",
									 MHD_RESPMEM_PERSISTENT);
		if (!r) {
			return MHD_NO;
		}
		(void)MHD_add_response_header(r, "Location", far ? "http://evil.example/" : "/hello");
		enum MHD_Result ret = MHD_queue_response(conn, far ? 302 : 307, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (strcmp(url, "/stream") == 0) {
		const char *n = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "n");
		const char *ms = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ms");
		struct stream *s = calloc(1, sizeof(*s));
		if (!s) {
			return MHD_NO;
		}
		s->n = n ? atoi(n) : 3;
		s->ms = ms ? (unsigned)atoi(ms) : 0;
		struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64,
									   stream_read, s, stream_free);
		if (!r) {
			free(s);
			return MHD_NO;
		}
		(void)MHD_add_response_header(r, "Content-Type", "text/event-stream");
		enum MHD_Result ret = MHD_queue_response(conn, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	char msg[512];
	int len = snprintf(msg, sizeof(msg), "no such thing: %s", url);
	return reply(conn, 404, msg, (size_t)len, "text/plain");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (u) {
		zr_buf_done(&u->body);
		free(u);
		*con_cls = NULL;
	}
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)conn;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		atomic_fetch_add(&n_connections, 1);
	}
}

static void server_start(void)
{
	httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				 MHD_USE_AUTO | MHD_USE_ERROR_LOG,
				 0, NULL, NULL, on_request, NULL,
				 MHD_OPTION_SOCK_ADDR, &(struct sockaddr_in){
					 .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 },
				 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
				 MHD_OPTION_NOTIFY_CONNECTION, on_connection, NULL,
				 MHD_OPTION_END);
	if (!httpd) {
		TEST_SKIP("cannot start an HTTP server on 127.0.0.1");
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(httpd, MHD_DAEMON_INFO_BIND_PORT);
	ASSERT_NOT_NULL(info);
	port = info->port;
	ASSERT_GT_INT(port, 0);
}

/* http://127.0.0.1:<port><path> in a static buffer (each call overwrites it; the client copies
 * the URL). */
static const char *url_at(uint16_t p, const char *path)
{
	static char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", p, path);
	return url;
}

static const char *url(const char *path)
{
	return url_at(port, path);
}

/* ---- ports with nobody answering ---- */

static int listen_local(int backlog, uint16_t *ret_port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ASSERT_GE_INT(fd, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &alen));
	if (backlog >= 0) {
		ASSERT_OK(listen(fd, backlog));
	}
	*ret_port = ntohs(a.sin_port);
	return fd;
}

/* A port that was free a moment ago and that nobody listens on. */
static uint16_t refused_port(void)
{
	uint16_t p;
	int fd = listen_local(-1, &p);
	ASSERT_OK(close(fd));
	return p;
}

/* ---- the loop ---- */

static uv_loop_t loop;
static uv_timer_t watchdog, tick;
static const char *current_test;

static void on_watchdog(uv_timer_t *t)
{
	(void)t;
	FAIL("%s: the loop still runs after 20 s (a request never ended?)", current_test);
}

/* Runs the loop until nothing keeps it alive. The watchdog does not keep it alive (unref'd)
 * but fails the test if it has to fire. */
static void run_loop(void)
{
	ASSERT_OK(uv_timer_start(&watchdog, on_watchdog, 20000, 0));
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_OK(uv_timer_stop(&watchdog));
}

/* Runs the loop until *flag is set (a 20 s bound), whatever else keeps it alive. */
static void run_until(const int *flag)
{
	TEST_RUN_UNTIL(&loop, &tick, *flag, "%s: still waiting after 20 s", current_test);
}

/* Destroys a client with no request in flight and lets it close. */
static void client_free(struct zr_client *c)
{
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	zr_client_destroy(c, ECANCELED);
	run_loop();
}

static struct zr_client *client_new(void)
{
	struct zr_client *c = NULL;
	ASSERT_OK(zr_client_create(&loop, &c));
	ASSERT_NOT_NULL(c);
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	return c;
}

/* ---- answers, copied out of the callback ---- */

struct answer {
	int calls;
	int err;
	bool has_resp;
	long status;
	struct zr_buf body;
	char *ctype, *task_state, *location, *why;
	uint64_t task;
	double secs;
	uint64_t at; /* uv_hrtime() when the callback ran */
};

static void on_answer(int err, const struct zr_http_resp *r, const char *why, void *data)
{
	struct answer *a = data;
	a->calls++;
	a->err = err;
	a->at = uv_hrtime();
	a->has_resp = r != NULL;
	free(a->why);
	a->why = why ? strdup(why) : NULL;
	if (!r) {
		return;
	}
	ASSERT_NOT_NULL(r->body);
	ASSERT_EQ_INT(r->body[r->len], '\0');
	a->status = r->status;
	zr_buf_reset(&a->body);
	ASSERT_OK(zr_buf_append(&a->body, r->body, r->len));
	free(a->ctype);
	free(a->task_state);
	free(a->location);
	a->location = r->location ? strdup(r->location) : NULL;
	a->ctype = r->content_type ? strdup(r->content_type) : NULL;
	a->task_state = r->task_state ? strdup(r->task_state) : NULL;
	a->task = r->task;
	a->secs = r->secs;
}

static void answer_done(struct answer *a)
{
	zr_buf_done(&a->body);
	free(a->ctype);
	free(a->task_state);
	free(a->location);
	free(a->why);
	*a = (struct answer){0};
}

#define ASSERT_BODY(a, s) ASSERT_EQ_MEM((a)->body.data, (a)->body.len, s, strlen(s))

/* One request, run to its end. */
static void fetch(struct zr_client *c, const struct zr_client_opts *o, struct answer *a)
{
	ASSERT_NOT_NULL(zr_client_start(c, o, on_answer, a));
	ASSERT_EQ_INT(a->calls, 0);
	run_until(&a->calls);
	ASSERT_EQ_INT(a->calls, 1);
}

/* ---- tests ---- */

/* A GET answered 200: status, body, Content-Type, no task headers, a duration. */
TEST(get_200)
{
	struct zr_client *c = client_new();
	struct answer a = {0};
	fetch(c, &(struct zr_client_opts){.method = "GET", .url = url("/hello"), .timeout_ms = 5000},
	      &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_TRUE(a.has_resp);
	ASSERT_EQ_INT(a.status, 200);
	ASSERT_BODY(&a, "hello world");
	ASSERT_EQ_STR(a.ctype, "text/plain; charset=utf-8");
	ASSERT_EQ_U64(a.task, 0);
	ASSERT_NULL(a.task_state);
	ASSERT_TRUE(a.secs > 0 && a.secs < 20);
	answer_done(&a);

	/* No method means GET; extra headers reach the server. */
	struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer t0ken");
	ASSERT_NOT_NULL(h);
	fetch(c, &(struct zr_client_opts){.url = url("/method")}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_BODY(&a, "GET");
	answer_done(&a);
	fetch(c, &(struct zr_client_opts){.url = url("/auth"), .headers = h}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_BODY(&a, "Bearer t0ken");
	answer_done(&a);
	curl_slist_free_all(h);
	client_free(c);
}

/* POST and PUT bodies (binary, large, empty) and their Content-Type reach the server
 * unchanged; DELETE and HEAD are sent as such. */
TEST(post_echo)
{
	struct zr_client *c = client_new();
	struct answer a = {0};
	static const char bin[] = "line 1\n\0binary\xff\r\n{\"x\":1}";
	fetch(c, &(struct zr_client_opts){.method = "POST", .url = url("/echo"),
					   .ctype = "application/json", .body = bin,
					   .len = sizeof(bin) - 1, .timeout_ms = 5000},
	      &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_EQ_INT(a.status, 200);
	ASSERT_EQ_MEM(a.body.data, a.body.len, bin, sizeof(bin) - 1);
	ASSERT_EQ_STR(a.ctype, "application/json");
	answer_done(&a);

	/* 3 MiB: many reads and writes on both sides. */
	size_t big = 3u << 20;
	char *blob = malloc(big);
	ASSERT_NOT_NULL(blob);
	for (size_t i = 0; i < big; i++) {
		blob[i] = (char)(i * 7 + i / 4096);
	}
	fetch(c, &(struct zr_client_opts){.method = "PUT", .url = url("/echo"),
					   .ctype = "application/octet-stream", .body = blob,
					   .len = big, .timeout_ms = 10000},
	      &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_EQ_INT(a.status, 200);
	ASSERT_EQ_SIZE(a.body.len, big);
	ASSERT_TRUE(memcmp(a.body.data, blob, big) == 0);
	ASSERT_EQ_STR(a.ctype, "application/octet-stream");
	answer_done(&a);
	free(blob);

	/* An empty POST without a content type. */
	fetch(c, &(struct zr_client_opts){.method = "POST", .url = url("/echo")}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_EQ_INT(a.status, 200);
	ASSERT_EQ_SIZE(a.body.len, 0);
	answer_done(&a);

	static const char *const methods[] = {"POST", "PUT", "DELETE"};
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		fetch(c, &(struct zr_client_opts){.method = methods[i], .url = url("/method"),
						   .body = "x", .len = 1},
		      &a);
		ASSERT_EQ_INT(a.err, 0);
		ASSERT_BODY(&a, methods[i]);
		answer_done(&a);
	}
	fetch(c, &(struct zr_client_opts){.method = "HEAD", .url = url("/hello")}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_EQ_INT(a.status, 200);
	ASSERT_EQ_SIZE(a.body.len, 0);
	ASSERT_EQ_STR(a.ctype, "text/plain; charset=utf-8");
	answer_done(&a);
	client_free(c);
}

/* Any status is an answer: err 0, the status and the body. */
TEST(status_404)
{
	struct zr_client *c = client_new();
	struct answer a = {0};
	fetch(c, &(struct zr_client_opts){.url = url("/nope/x"), .timeout_ms = 5000}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_TRUE(a.has_resp);
	ASSERT_EQ_INT(a.status, 404);
	ASSERT_BODY(&a, "no such thing: /nope/x");
	ASSERT_EQ_STR(a.ctype, "text/plain");
	answer_done(&a);
	client_free(c);
}

/* A redirect is an answer like any other (a remote robot's is untrusted): never followed, its
 * Location handed over; no protocol but http(s); a body past max_body is -EFBIG. */
TEST(redirects_and_caps)
{
	struct zr_client *c = client_new();
	struct answer a = {0};
	int hits = atomic_load(&hello_hits);
	fetch(c, &(struct zr_client_opts){.url = url("/redirect"), .timeout_ms = 5000}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_EQ_INT(a.status, 307);
	ASSERT_BODY(&a, "moved");
	ASSERT_EQ_STR(a.location, "/hello");
	answer_done(&a);
	fetch(c, &(struct zr_client_opts){.url = url("/redirect-far"), .timeout_ms = 5000}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_EQ_INT(a.status, 302);
	ASSERT_EQ_STR(a.location, "http://evil.example/");
	answer_done(&a);
	ASSERT_EQ_INT(atomic_load(&hello_hits), hits);

	fetch(c, &(struct zr_client_opts){.url = "file:///etc/hostname", .timeout_ms = 5000}, &a);
	ASSERT_EQ_INT(a.err, -EIO);
	ASSERT_FALSE(a.has_resp);
	answer_done(&a);

	fetch(c, &(struct zr_client_opts){.url = url("/hello"), .max_body = 5}, &a);
	ASSERT_EQ_INT(a.err, -EFBIG);
	answer_done(&a);
	fetch(c, &(struct zr_client_opts){.url = url("/hello"), .max_body = 11}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_BODY(&a, "hello world");
	answer_done(&a);
	client_free(c);
}

/* Zr-Task and Zr-Task-State, whatever the case of their names. */
TEST(task_headers)
{
	struct zr_client *c = client_new();
	struct answer a = {0};
	fetch(c, &(struct zr_client_opts){.method = "POST", .url = url("/task"), .body = "{}",
					   .len = 2, .ctype = "application/json"},
	      &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_EQ_INT(a.status, 202);
	ASSERT_EQ_U64(a.task, 12345678901ull);
	ASSERT_EQ_STR(a.task_state, "running");
	ASSERT_BODY(&a, "accepted");
	answer_done(&a);
	fetch(c, &(struct zr_client_opts){.url = url("/task-lower")}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_EQ_INT(a.status, 200);
	ASSERT_EQ_U64(a.task, 7);
	ASSERT_EQ_STR(a.task_state, "done");
	answer_done(&a);
	/* The next answer on the same connection has none. */
	fetch(c, &(struct zr_client_opts){.url = url("/hello")}, &a);
	ASSERT_EQ_U64(a.task, 0);
	ASSERT_NULL(a.task_state);
	answer_done(&a);
	client_free(c);
}

/* Nobody listens: -ENOTCONN, no response, a reason. */
TEST(connection_refused)
{
	struct zr_client *c = client_new();
	struct answer a = {0};
	fetch(c, &(struct zr_client_opts){.url = url_at(refused_port(), "/hello"),
					   .timeout_ms = 5000},
	      &a);
	ASSERT_EQ_INT(a.err, -ENOTCONN);
	ASSERT_FALSE(a.has_resp);
	ASSERT_NOT_NULL(a.why);
	ASSERT_GT_SIZE(strlen(a.why), 0);
	fprintf(stderr, "refused: %s\n", a.why);
	answer_done(&a);
	client_free(c);
}

/* The connection is accepted by the kernel but nobody ever answers: -ETIMEDOUT, not before
 * the timeout. */
TEST(timeout)
{
	uint16_t p;
	int fd = listen_local(16, &p);
	struct zr_client *c = client_new();
	struct answer a = {0};
	uint64_t t0 = uv_hrtime();
	fetch(c, &(struct zr_client_opts){.url = url_at(p, "/hello"), .timeout_ms = 300}, &a);
	double secs = (double)(a.at - t0) / 1e9;
	fprintf(stderr, "timed out after %.3f s: %s\n", secs, a.why ? a.why : "(null)");
	ASSERT_EQ_INT(a.err, -ETIMEDOUT);
	ASSERT_FALSE(a.has_resp);
	ASSERT_TRUE(secs >= 0.25);
	answer_done(&a);
	client_free(c);
	ASSERT_OK(close(fd));
}

static int on_chunk_never(const char *buf, size_t len, void *data)
{
	(void)buf;
	(void)len;
	(void)data;
	return 0;
}

struct nudge {
	uv_timer_t timer;
	int fired;
};

static void on_nudge(uv_timer_t *t)
{
	struct nudge *n = t->data;
	n->fired = 1;
}

/* Runs the loop for about ms milliseconds. */
static void run_for(unsigned ms)
{
	struct nudge n = {0};
	n.timer.data = &n;
	ASSERT_OK(uv_timer_init(&loop, &n.timer));
	ASSERT_OK(uv_timer_start(&n.timer, on_nudge, ms, 0));
	run_until(&n.fired);
	uv_close((uv_handle_t *)&n.timer, NULL);
	(void)uv_run(&loop, UV_RUN_NOWAIT);
}

/* A cancelled request's callback never runs, and nothing of it keeps the loop alive: before
 * the loop ever ran, while connected and waiting, and while the answer streams in. */
TEST(cancel)
{
	uint16_t p;
	int fd = listen_local(16, &p);
	struct zr_client *c = client_new();
	struct answer a = {0}, b = {0}, s = {0};

	/* Before the loop ever ran. */
	struct zr_client_req *q = zr_client_start(c, &(struct zr_client_opts){.url = url("/hello")},
						  on_answer, &a);
	ASSERT_NOT_NULL(q);
	ASSERT_EQ_SIZE(zr_client_pending(c), 1);
	zr_client_cancel(q);
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	run_loop();
	ASSERT_EQ_INT(a.calls, 0);

	/* Connected, waiting for an answer that never comes; a slow stream mid-way. */
	q = zr_client_start(c, &(struct zr_client_opts){.url = url_at(p, "/x")}, on_answer, &b);
	ASSERT_NOT_NULL(q);
	int ended = atomic_load(&streams_ended);
	struct zr_client_req *qs = zr_client_start(
		c, &(struct zr_client_opts){.url = url("/stream?n=100000&ms=20"),
					    .on_chunk = on_chunk_never},
		on_answer, &s);
	ASSERT_NOT_NULL(qs);
	run_for(200);
	ASSERT_EQ_INT(b.calls, 0);
	ASSERT_EQ_INT(s.calls, 0);
	ASSERT_EQ_SIZE(zr_client_pending(c), 2);
	zr_client_cancel(q);
	zr_client_cancel(qs);
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	run_loop();
	ASSERT_EQ_INT(b.calls, 0);
	ASSERT_EQ_INT(s.calls, 0);
	/* The server sees the stream's connection go. */
	uint64_t deadline = uv_hrtime() + 10ull * 1000 * 1000 * 1000;
	while (atomic_load(&streams_ended) == ended) {
		if (uv_hrtime() > deadline) {
			FAIL("the server still streams 10 s after the cancel");
		}
		usleep(10000);
	}

	/* The client still works. */
	fetch(c, &(struct zr_client_opts){.url = url("/hello")}, &a);
	ASSERT_EQ_INT(a.err, 0);
	ASSERT_BODY(&a, "hello world");
	answer_done(&a);
	client_free(c);
	ASSERT_OK(close(fd));
}


/* ---- streaming ---- */

struct streamed {
	struct answer a; /* first: on_answer gets the same data pointer as on_chunk */
	int connected;   /* on_chunk(NULL, 0) calls */
	int data_before; /* data calls before the connected one */
	int data_calls;
	int after_stop;  /* calls after on_chunk asked to stop */
	bool stopped;
	int stop_connected;           /* < 0: returned by on_chunk(NULL, 0) */
	size_t stop_at;               /* > 0: return -ECANCELED once this many bytes came */
	int server_chunks_at_first;   /* stream_chunks when the first data came */
	struct zr_client_req *cancel; /* cancelled at the first data call */
	struct zr_client *start_in;   /* a GET /hello is started there when connected */
	struct answer started;
	struct zr_buf got;
};

static int on_chunk(const char *buf, size_t len, void *data)
{
	struct streamed *k = data;
	if (k->stopped) {
		k->after_stop++;
		return -ECANCELED;
	}
	if (!buf) {
		ASSERT_EQ_SIZE(len, 0);
		k->connected++;
		if (k->start_in) {
			/* From inside curl's callback: the client must defer it, not lose it. */
			ASSERT_NOT_NULL(zr_client_start(k->start_in, &(struct zr_client_opts){.url = url("/hello")},
							on_answer, &k->started));
		}
		if (k->stop_connected < 0) {
			k->stopped = true;
			return k->stop_connected;
		}
		return 0;
	}
	ASSERT_GT_SIZE(len, 0);
	if (!k->connected) {
		k->data_before++;
	}
	if (k->data_calls++ == 0) {
		k->server_chunks_at_first = atomic_load(&stream_chunks);
	}
	ASSERT_OK(zr_buf_append(&k->got, buf, len));
	if (k->cancel) {
		struct zr_client_req *q = k->cancel;
		k->cancel = NULL;
		zr_client_cancel(q);
	}
	if (k->stop_at > 0 && k->got.len >= k->stop_at) {
		k->stopped = true;
		return -ECANCELED;
	}
	return 0;
}

static void streamed_done(struct streamed *k)
{
	answer_done(&k->a);
	answer_done(&k->started);
	zr_buf_done(&k->got);
	*k = (struct streamed){0};
}

static struct zr_client_req *stream_start(struct zr_client *c, const char *path,
					  struct streamed *k)
{
	struct zr_client_req *q = zr_client_start(
		c, &(struct zr_client_opts){.url = url(path), .on_chunk = on_chunk}, on_answer, k);
	ASSERT_NOT_NULL(q);
	return q;
}

/* Waits until the server has freed more than `ended` stream responses. */
static void wait_server_stream_end(int ended)
{
	uint64_t deadline = uv_hrtime() + 10ull * 1000 * 1000 * 1000;
	while (atomic_load(&streams_ended) <= ended) {
		if (uv_hrtime() > deadline) {
			FAIL("%s: the server still streams 10 s later", current_test);
		}
		usleep(10000);
	}
}

/* The headers first (buf NULL, once), then the body's bytes in order while the server still
 * sends them; the answer itself carries no body (it was streamed). */
TEST(stream)
{
	struct zr_client *c = client_new();
	struct streamed k = {0};
	int chunks0 = atomic_load(&stream_chunks);
	stream_start(c, "/stream?n=8&ms=50", &k);
	run_until(&k.a.calls);
	ASSERT_EQ_INT(k.a.calls, 1);
	ASSERT_EQ_INT(k.a.err, 0);
	ASSERT_EQ_INT(k.a.status, 200);
	ASSERT_EQ_STR(k.a.ctype, "text/event-stream");
	ASSERT_EQ_SIZE(k.a.body.len, 0);
	ASSERT_EQ_INT(k.connected, 1);
	ASSERT_EQ_INT(k.data_before, 0);
	static const char want[] = "chunk 0\nchunk 1\nchunk 2\nchunk 3\nchunk 4\nchunk 5\n"
				   "chunk 6\nchunk 7\n";
	ASSERT_EQ_MEM(k.got.data, k.got.len, want, sizeof(want) - 1);
	/* The first bytes came while the server was still producing (it sleeps 50 ms between
	 * chunks): streamed, not collected. */
	ASSERT_LT_INT(k.server_chunks_at_first - chunks0, 8);
	ASSERT_GT_INT(k.data_calls, 1);
	streamed_done(&k);
	client_free(c);
}

/* on_chunk returning -ECANCELED ends the request with -ECANCELED, once, with no more chunks;
 * the server sees the connection close. */
TEST(stream_stop)
{
	struct zr_client *c = client_new();
	struct streamed k = {.stop_at = 20};
	int ended = atomic_load(&streams_ended);
	stream_start(c, "/stream?n=100000&ms=10", &k);
	run_until(&k.a.calls);
	run_loop();
	ASSERT_EQ_INT(k.a.calls, 1);
	ASSERT_EQ_INT(k.a.err, -ECANCELED);
	ASSERT_FALSE(k.a.has_resp);
	ASSERT_EQ_INT(k.connected, 1);
	ASSERT_EQ_INT(k.after_stop, 0);
	ASSERT_GE_SIZE(k.got.len, 20);
	ASSERT_EQ_MEM(k.got.data, 20, "chunk 0\nchunk 1\nchun", 20);
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	streamed_done(&k);
	wait_server_stream_end(ended);
	client_free(c);
}

/* on_chunk(NULL, 0) refusing the stream: the request ends with that error (client.h: "a
 * negative errno to stop (the request then ends with that error)"). */
TEST(stream_stop_at_headers)
{
	struct zr_client *c = client_new();
	struct streamed k = {.stop_connected = -EPERM};
	stream_start(c, "/stream?n=100000&ms=10", &k);
	run_until(&k.a.calls);
	run_loop();
	ASSERT_EQ_INT(k.a.calls, 1);
	ASSERT_EQ_INT(k.connected, 1);
	ASSERT_EQ_INT(k.data_calls, 0);
	ASSERT_EQ_INT(k.after_stop, 0);
	ASSERT_FALSE(k.a.has_resp);
	if (k.a.err != -EPERM) {
		FAIL("on_chunk(NULL, 0) returned -EPERM: the request ended with %d (%s), why \"%s\"",
		     k.a.err, strerror(-k.a.err), k.a.why ? k.a.why : "(null)");
	}
	streamed_done(&k);
	client_free(c);
}

/* A stream answered with another status than 200 is an ordinary answer: no on_chunk call,
 * the body collected. */
TEST(stream_404)
{
	struct zr_client *c = client_new();
	struct streamed k = {0};
	stream_start(c, "/gone", &k);
	run_until(&k.a.calls);
	ASSERT_EQ_INT(k.a.err, 0);
	ASSERT_EQ_INT(k.a.status, 404);
	ASSERT_BODY(&k.a, "no such thing: /gone");
	ASSERT_EQ_INT(k.connected, 0);
	ASSERT_EQ_INT(k.data_calls, 0);
	streamed_done(&k);
	client_free(c);
}

/* Cancels from inside on_chunk (while curl runs): another request, then the streaming request
 * itself. Neither callback runs; the loop ends. */
TEST(cancel_in_chunk)
{
	uint16_t p;
	int fd = listen_local(16, &p);
	struct zr_client *c = client_new();
	struct answer other = {0};
	struct zr_client_req *q = zr_client_start(
		c, &(struct zr_client_opts){.url = url_at(p, "/x")}, on_answer, &other);
	ASSERT_NOT_NULL(q);
	struct streamed k = {.cancel = q};
	stream_start(c, "/stream?n=5&ms=20", &k);
	run_until(&k.a.calls);
	ASSERT_EQ_INT(k.a.err, 0);
	ASSERT_EQ_INT(other.calls, 0);
	run_loop();
	ASSERT_EQ_INT(other.calls, 0);
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	streamed_done(&k);

	int ended = atomic_load(&streams_ended);
	k = (struct streamed){0};
	k.cancel = stream_start(c, "/stream?n=100000&ms=10", &k);
	run_loop();
	ASSERT_EQ_INT(k.a.calls, 0);
	ASSERT_GE_INT(k.data_calls, 1);
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	streamed_done(&k);
	wait_server_stream_end(ended);
	client_free(c);
	ASSERT_OK(close(fd));
}

/* A request started from inside on_chunk (curl is running then) is sent once curl returns and
 * answered like any other. */
TEST(start_in_chunk)
{
	struct zr_client *c = client_new();
	struct streamed k = {.start_in = c};
	stream_start(c, "/stream?n=3&ms=20", &k);
	run_until(&k.a.calls);
	run_until(&k.started.calls);
	ASSERT_EQ_INT(k.a.err, 0);
	ASSERT_EQ_INT(k.started.calls, 1);
	ASSERT_EQ_INT(k.started.err, 0);
	ASSERT_EQ_INT(k.started.status, 200);
	ASSERT_BODY(&k.started, "hello world");
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	streamed_done(&k);
	client_free(c);
}

/* ---- many at once ---- */

#define N_PARALLEL 200

struct chain {
	struct zr_client *c;
	int left, done, failed;
};

static void on_chain(int err, const struct zr_http_resp *r, const char *why, void *data);

static void chain_next(struct chain *ch)
{
	ASSERT_NOT_NULL(zr_client_start(ch->c, &(struct zr_client_opts){.url = url("/hello")},
					on_chain, ch));
}

static void on_chain(int err, const struct zr_http_resp *r, const char *why, void *data)
{
	struct chain *ch = data;
	if (err < 0 || r->status != 200 || strcmp(r->body, "hello world") != 0) {
		fprintf(stderr, "chained request failed: %d %s\n", err, why ? why : "");
		ch->failed++;
	}
	if (--ch->left > 0) {
		chain_next(ch);
	} else {
		ch->done = 1;
	}
}

/* 200 requests in flight at once, each answered with its own body; then requests one after
 * the other reuse a kept-alive connection rather than opening new ones. */
TEST(parallel)
{
	struct zr_client *c = client_new();
	static struct answer a[N_PARALLEL];
	static char bodies[N_PARALLEL][32];
	for (int i = 0; i < N_PARALLEL; i++) {
		int len = snprintf(bodies[i], sizeof(bodies[i]), "request %d", i);
		ASSERT_NOT_NULL(zr_client_start(c, &(struct zr_client_opts){
							   .method = "POST", .url = url("/echo"),
							   .body = bodies[i], .len = (size_t)len,
							   .ctype = "text/plain", .timeout_ms = 15000},
						on_answer, &a[i]));
	}
	ASSERT_EQ_SIZE(zr_client_pending(c), N_PARALLEL);
	run_loop();
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	for (int i = 0; i < N_PARALLEL; i++) {
		if (a[i].calls != 1 || a[i].err != 0) {
			FAIL("request %d: %d calls, err %d (%s)", i, a[i].calls, a[i].err,
			     a[i].why ? a[i].why : "");
		}
		ASSERT_EQ_INT(a[i].status, 200);
		ASSERT_BODY(&a[i], bodies[i]);
		answer_done(&a[i]);
	}

	int conns0 = atomic_load(&n_connections);
	struct chain ch = {.c = c, .left = 20};
	chain_next(&ch);
	run_until(&ch.done);
	ASSERT_EQ_INT(ch.failed, 0);
	ASSERT_EQ_SIZE(zr_client_pending(c), 0);
	int opened = atomic_load(&n_connections) - conns0;
	fprintf(stderr, "20 requests in a row opened %d connection(s)\n", opened);
	ASSERT_LE_INT(opened, 1);
	client_free(c);
}

/* ---- destroy ---- */

/* Requests in flight when the client is destroyed (waiting for an answer, mid-stream, just
 * started) each get one callback with -err and no response; the client then frees itself. */
TEST(destroy_in_flight)
{
	uint16_t p;
	int fd = listen_local(16, &p);
	struct zr_client *c = client_new();
	struct answer a[3] = {0}, late = {0};
	for (int i = 0; i < 3; i++) {
		ASSERT_NOT_NULL(zr_client_start(c, &(struct zr_client_opts){.url = url_at(p, "/x")},
						on_answer, &a[i]));
	}
	struct streamed k = {0};
	int ended = atomic_load(&streams_ended);
	stream_start(c, "/stream?n=100000&ms=10", &k);
	uint64_t deadline = uv_hrtime() + 20ull * 1000 * 1000 * 1000;
	while (k.data_calls == 0) {
		if (uv_hrtime() > deadline) {
			FAIL("no streamed data after 20 s");
		}
		run_for(10);
	}
	ASSERT_NOT_NULL(zr_client_start(c, &(struct zr_client_opts){.url = url("/hello")},
					on_answer, &late));
	ASSERT_EQ_SIZE(zr_client_pending(c), 5);
	int chunks = k.data_calls;
	zr_client_destroy(c, ENOTCONN);
	run_loop();
	struct answer *all[] = {&a[0], &a[1], &a[2], &k.a, &late};
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (all[i]->calls != 1 || all[i]->err != -ENOTCONN) {
			FAIL("request %zu: %d calls, last err %d, want 1 call with %d", i, all[i]->calls,
			     all[i]->err, -ENOTCONN);
		}
		ASSERT_FALSE(all[i]->has_resp);
		answer_done(all[i]);
	}
	ASSERT_EQ_INT(k.data_calls, chunks);
	streamed_done(&k);
	wait_server_stream_end(ended);
	ASSERT_OK(close(fd));
}

/* A callback that destroys its client (the robot stopping on an answer): the others still in
 * flight get -err once. */
struct stopper {
	struct answer a;
	struct zr_client *c;
};

static void on_answer_destroy(int err, const struct zr_http_resp *r, const char *why, void *data)
{
	struct stopper *s = data;
	on_answer(err, r, why, &s->a);
	zr_client_destroy(s->c, ESHUTDOWN);
}

TEST(destroy_in_callback)
{
	uint16_t p;
	int fd = listen_local(16, &p);
	struct zr_client *c = client_new();
	struct answer waiting[2] = {0};
	for (int i = 0; i < 2; i++) {
		ASSERT_NOT_NULL(zr_client_start(c, &(struct zr_client_opts){.url = url_at(p, "/x")},
						on_answer, &waiting[i]));
	}
	struct stopper s = {.c = c};
	ASSERT_NOT_NULL(zr_client_start(c, &(struct zr_client_opts){.url = url("/hello")},
					on_answer_destroy, &s));
	run_loop();
	ASSERT_EQ_INT(s.a.calls, 1);
	ASSERT_EQ_INT(s.a.err, 0);
	ASSERT_BODY(&s.a, "hello world");
	answer_done(&s.a);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ_INT(waiting[i].calls, 1);
		ASSERT_EQ_INT(waiting[i].err, -ESHUTDOWN);
		answer_done(&waiting[i]);
	}
	ASSERT_OK(close(fd));
}

#define RUN(name)                                                                        \
	do {                                                                             \
		current_test = #name;                                                    \
		RUN_TEST(name);                                                          \
	} while (0)

int main(void)
{
	server_start();
	ASSERT_OK(uv_loop_init(&loop));
	ASSERT_OK(uv_timer_init(&loop, &watchdog));
	uv_unref((uv_handle_t *)&watchdog);
	ASSERT_OK(uv_timer_init(&loop, &tick));

	RUN(get_200);
	RUN(post_echo);
	RUN(status_404);
	RUN(task_headers);
	RUN(redirects_and_caps);
	RUN(connection_refused);
	RUN(timeout);
	RUN(cancel);
	RUN(stream);
	RUN(stream_stop);
	RUN(stream_404);
	RUN(cancel_in_chunk);
	RUN(start_in_chunk);
	RUN(parallel);
	RUN(destroy_in_flight);
	RUN(destroy_in_callback);
	RUN(stream_stop_at_headers);

	uv_close((uv_handle_t *)&watchdog, NULL);
	uv_close((uv_handle_t *)&tick, NULL);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_OK(uv_loop_close(&loop));
	MHD_stop_daemon(httpd);
	curl_global_cleanup();
	return 0;
}
