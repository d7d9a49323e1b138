/* HTTP requests with libcurl's multi interface on the libuv loop. curl tells us which sockets
 * to watch (a uv_poll each) and when to call it back (one uv_timer); completions are collected
 * first and their callbacks run after curl returns, so a callback may start or cancel any
 * request. */
#include "client.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/list.h"
#include "util/log.h"

/* A remote file bigger than this is refused (results are capped at 1 MiB by the robot). */
#define MAX_BODY (16u << 20)
/* status_only: the body read and dropped, past which the request ends (as answered). */
#define STATUS_ONLY_SKIP (64u << 10)

struct zr_client {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	struct zr_list reqs; /* in flight */
	struct zr_list done; /* finished, callbacks not run yet */
	struct zr_list dead; /* cancelled while curl was running: removed once it returns */
	struct zr_list adding; /* started while curl was running: added once it returns */
	bool in_curl;
	size_t n;
};

struct zr_client_req {
	struct zr_client *c;
	CURL *easy;
	struct curl_slist *headers;
	struct zr_list link;
	struct zr_buf body;
	struct zr_buf ctype;
	struct zr_buf task_state;
	struct zr_buf location;
	uint64_t task;
	int64_t lines;
	zr_client_chunk_cb on_chunk;
	size_t max_body;
	zr_client_cb cb;
	void *data;
	CURLcode result;
	int stop_err; /* why the body was refused */
	uint64_t started;
	bool cancelled;
	bool finishing; /* its callback runs: a cancel from there only marks it */
	bool status_only, answered; /* answered: ended past STATUS_ONLY_SKIP bytes of body */
	size_t skipped; /* status_only: the body's bytes thrown away */
	char err[CURL_ERROR_SIZE];
};

struct sock {
	uv_poll_t poll;
	struct zr_client *c;
	curl_socket_t fd;
};

static void req_free(struct zr_client_req *q)
{
	curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->headers);
	zr_buf_done(&q->body);
	zr_buf_done(&q->ctype);
	zr_buf_done(&q->task_state);
	zr_buf_done(&q->location);
	free(q);
}

/* Detaches q from curl (never while curl runs). */
static void req_remove(struct zr_client_req *q)
{
	zr_list_remove(&q->link);
	(void)curl_multi_remove_handle(q->c->multi, q->easy);
	q->c->n--;
}

static int curl_errno(CURLcode rc)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PARTIAL_FILE:
		return -ENOTCONN;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static void finish(struct zr_client_req *q)
{
	struct zr_http_resp r = {0};
	long status = 0;
	int err = 0;
	if (q->stop_err) {
		err = q->stop_err;
	} else if (q->result != CURLE_OK && !q->answered) {
		err = curl_errno(q->result);
	}
	(void)curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	r.status = status;
	r.body = q->body.data ? q->body.data : "";
	r.len = q->body.len;
	r.content_type = q->ctype.data;
	r.task = q->task;
	r.task_state = q->task_state.data;
	r.location = q->location.data;
	r.lines = q->lines;
	r.secs = (double)(uv_hrtime() - q->started) / 1e9;
	const char *why = q->err[0] ? q->err : curl_easy_strerror(q->result);
	if (q->stop_err) {
		why = strerror(-q->stop_err);
	}
	q->cb(err, err ? NULL : &r, why, q->data);
}

/* Runs the callbacks of finished requests, after curl returned. */
static void dispatch(struct zr_client *c)
{
	CURLMsg *msg;
	int left;
	while (!c->in_curl && (msg = curl_multi_info_read(c->multi, &left))) {
		if (msg->msg != CURLMSG_DONE) {
			continue;
		}
		struct zr_client_req *q = NULL;
		(void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&q);
		q->result = msg->data.result;
		req_remove(q);
		zr_list_push_back(&c->done, &q->link);
	}
	while (!zr_list_empty(&c->done)) {
		struct zr_client_req *q = container_of(c->done.next, struct zr_client_req, link);
		zr_list_remove(&q->link);
		if (!q->cancelled) {
			q->finishing = true;
			finish(q);
		}
		req_free(q);
	}
}

static void reap_dead(struct zr_client *c)
{
	while (!zr_list_empty(&c->dead)) {
		struct zr_client_req *q = container_of(c->dead.next, struct zr_client_req, link);
		req_remove(q);
		req_free(q);
	}
}

static void add_pending(struct zr_client *c);

static void socket_action(struct zr_client *c, curl_socket_t fd, int flags)
{
	int running;
	c->in_curl = true;
	(void)curl_multi_socket_action(c->multi, fd, flags, &running);
	c->in_curl = false;
	reap_dead(c);
	add_pending(c);
	dispatch(c);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct sock *k = p->data;
	int flags = 0;
	if (status < 0) {
		flags = CURL_CSELECT_ERR;
	} else {
		flags |= (events & UV_READABLE) ? CURL_CSELECT_IN : 0;
		flags |= (events & UV_WRITABLE) ? CURL_CSELECT_OUT : 0;
	}
	/* k may be closed by curl during the call: only its copies are used after. */
	socket_action(k->c, k->fd, flags);
}

static void on_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct zr_client *c = userp;
	struct sock *k = socketp;
	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (k) {
			(void)uv_poll_stop(&k->poll);
			uv_close((uv_handle_t *)&k->poll, on_sock_closed);
			(void)curl_multi_assign(c->multi, fd, NULL);
		}
		return 0;
	}
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k) {
			return -1;
		}
		int err = uv_poll_init_socket(c->loop, &k->poll, fd);
		if (err < 0) {
			log_error("Cannot watch an HTTP client socket: %s", uv_strerror(err));
			free(k);
			return -1;
		}
		k->c = c;
		k->fd = fd;
		k->poll.data = k;
		(void)curl_multi_assign(c->multi, fd, k);
	}
	int events = ((what & CURL_POLL_IN) ? UV_READABLE : 0) | ((what & CURL_POLL_OUT) ? UV_WRITABLE : 0);
	return uv_poll_start(&k->poll, events, on_poll) < 0 ? -1 : 0;
}

static void on_timeout(uv_timer_t *t)
{
	socket_action(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct zr_client *c = userp;
	(void)multi;
	if (timeout_ms < 0) {
		(void)uv_timer_stop(&c->timer);
	} else {
		/* Never call curl from here: the timer fires on the next loop turn at the earliest. */
		(void)uv_timer_start(&c->timer, on_timeout, (uint64_t)timeout_ms, 0);
	}
	return 0;
}

static size_t on_write(char *ptr, size_t size, size_t n, void *data)
{
	struct zr_client_req *q = data;
	size_t len = size * n;
	long status = 0;
	if (q->cancelled) {
		return 0;
	}
	if (q->status_only) {
		/* A short body is read and dropped, so the connection serves the next request; past
		 * that, stop (curl ends with a write error, which is ours: the status is in). */
		q->skipped += len;
		q->answered = q->skipped > STATUS_ONLY_SKIP;
		return q->answered ? 0 : len;
	}
	(void)curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
	if (q->on_chunk && status == 200) {
		int err = q->on_chunk(ptr, len, q->data);
		if (err < 0) {
			q->stop_err = err;
			return 0;
		}
		return len;
	}
	if (q->body.len + len > q->max_body) {
		q->stop_err = -EFBIG;
		return 0;
	}
	if (zr_buf_append(&q->body, ptr, len) < 0) {
		q->stop_err = -ENOMEM;
		return 0;
	}
	return len;
}

/* Value of header line "Name: value" when name matches, trimmed, else NULL. */
static bool header_value(const char *line, size_t len, const char *name, struct zr_buf *out)
{
	size_t nl = strlen(name);
	if (len <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':') {
		return false;
	}
	const char *v = line + nl + 1, *end = line + len;
	while (v < end && (*v == ' ' || *v == '\t')) {
		v++;
	}
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) {
		end--;
	}
	zr_buf_reset(out);
	return zr_buf_append(out, v, (size_t)(end - v)) == 0;
}

static size_t on_header(char *line, size_t size, size_t n, void *data)
{
	struct zr_client_req *q = data;
	size_t len = size * n;
	struct zr_buf v = {0};
	if (len <= 2 && q->on_chunk && !q->cancelled) {
		/* The end of the headers: a stream that answered 200 is connected. */
		long status = 0;
		(void)curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &status);
		int err = status == 200 ? q->on_chunk(NULL, 0, q->data) : 0;
		if (err < 0) {
			q->stop_err = err;
			return 0;
		}
		return len;
	}
	if (header_value(line, len, "Content-Type", &q->ctype)) {
		return len;
	}
	if (header_value(line, len, "Zr-Task-State", &q->task_state) ||
	    header_value(line, len, "Location", &q->location)) {
		return len;
	}
	if (header_value(line, len, "Zr-Task", &v)) {
		q->task = strtoull(v.data, NULL, 10);
	} else if (header_value(line, len, "Zr-Lines", &v)) {
		q->lines = strtoll(v.data, NULL, 10);
	}
	zr_buf_done(&v);
	return len;
}

struct zr_client_req *zr_client_start(struct zr_client *c, const struct zr_client_opts *o,
				      zr_client_cb cb, void *data)
{
	struct zr_client_req *q = calloc(1, sizeof(*q));
	if (!q || !(q->easy = curl_easy_init())) {
		free(q);
		return NULL;
	}
	q->c = c;
	q->cb = cb;
	q->data = data;
	q->lines = -1;
	q->on_chunk = o->on_chunk;
	q->status_only = o->status_only;
	q->max_body = o->max_body && o->max_body < MAX_BODY ? o->max_body : MAX_BODY;
	zr_list_init(&q->link);
	CURL *e = q->easy;
	bool ok = true;
	for (const struct curl_slist *h = o->headers; h; h = h->next) {
		struct curl_slist *n = curl_slist_append(q->headers, h->data);
		ok = ok && n;
		q->headers = n ? n : q->headers;
	}
	if (o->ctype) {
		char *ct = NULL;
		struct curl_slist *n = NULL;
		if (asprintf(&ct, "Content-Type: %s", o->ctype) >= 0) {
			n = curl_slist_append(q->headers, ct);
			free(ct);
		}
		ok = ok && n;
		q->headers = n ? n : q->headers;
	}
	/* No "Expect: 100-continue" round trip before a body. */
	struct curl_slist *n = curl_slist_append(q->headers, "Expect:");
	ok = ok && n;
	q->headers = n ? n : q->headers;
	ok = ok && curl_easy_setopt(e, CURLOPT_URL, o->url) == CURLE_OK;
	(void)curl_easy_setopt(e, CURLOPT_PRIVATE, q);
	(void)curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(e, CURLOPT_HTTPHEADER, q->headers);
	(void)curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
	(void)curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
	(void)curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	(void)curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
	(void)curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->err);
	(void)curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	(void)curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	(void)curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/* A remote's redirect is its answer, never followed (README "Security"): curl's default,
	 * spelled out, and no other protocol than ours even so. */
	(void)curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	(void)curl_easy_setopt(e, CURLOPT_MAXREDIRS, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	ok = ok && curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK;
#else
	long protos = CURLPROTO_HTTP | CURLPROTO_HTTPS;
	ok = ok && curl_easy_setopt(e, CURLOPT_PROTOCOLS, protos) == CURLE_OK;
	ok = ok && curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, protos) == CURLE_OK;
#endif
	const char *m = o->method ? o->method : "GET";
	if (strcmp(m, "HEAD") == 0) {
		(void)curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(m, "GET") != 0) {
		(void)curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m);
		if (strcmp(m, "DELETE") != 0) {
			(void)curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)o->len);
			ok = ok && curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, o->body ? o->body : "") == CURLE_OK;
		}
	}
	if (!ok) {
		req_free(q);
		return NULL;
	}
	q->started = uv_hrtime();
	c->n++;
	if (c->in_curl) {
		/* Started from a stream's callback: curl takes no new handle until it returns. */
		zr_list_push_back(&c->adding, &q->link);
		return q;
	}
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		c->n--;
		req_free(q);
		return NULL;
	}
	zr_list_push_back(&c->reqs, &q->link);
	return q;
}

static void add_pending(struct zr_client *c)
{
	while (!zr_list_empty(&c->adding)) {
		struct zr_client_req *q = container_of(c->adding.next, struct zr_client_req, link);
		zr_list_remove(&q->link);
		if (curl_multi_add_handle(c->multi, q->easy) != CURLM_OK) {
			/* Ends like a transfer that could not start, after this turn's others. */
			q->result = CURLE_OUT_OF_MEMORY;
			zr_list_push_back(&c->done, &q->link);
			c->n--;
			continue;
		}
		zr_list_push_back(&c->reqs, &q->link);
	}
}

void zr_client_cancel(struct zr_client_req *q)
{
	struct zr_client *c = q->c;
	if (q->cancelled || q->finishing) {
		q->cancelled = true;
		return;
	}
	q->cancelled = true;
	/* A finished request waits in c->done, where dispatch frees it. */
	for (struct zr_list *l = c->done.next; l != &c->done; l = l->next) {
		if (l == &q->link) {
			return;
		}
	}
	if (c->in_curl) {
		/* curl forbids removing a handle from inside its callbacks: after it returns. */
		zr_list_remove(&q->link);
		zr_list_push_back(&c->dead, &q->link);
		return;
	}
	req_remove(q);
	req_free(q);
}

size_t zr_client_pending(const struct zr_client *c)
{
	return c->n;
}

int zr_client_create(uv_loop_t *loop, struct zr_client **ret)
{
	static bool global_done;
	if (!global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			return -EIO;
		}
		global_done = true;
	}
	struct zr_client *c = calloc(1, sizeof(*c));
	if (!c || !(c->multi = curl_multi_init())) {
		free(c);
		return -ENOMEM;
	}
	c->loop = loop;
	zr_list_init(&c->reqs);
	zr_list_init(&c->done);
	zr_list_init(&c->dead);
	zr_list_init(&c->adding);
	(void)curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	(void)curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	(void)curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	(void)curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	/* Keep-alive connections kept for reuse, per client. */
	(void)curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, 64L);
	(void)uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	*ret = c;
	return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct zr_client *c = h->data;
	(void)curl_multi_cleanup(c->multi);
	free(c);
}

void zr_client_destroy(struct zr_client *c, int err)
{
	if (!c) {
		return;
	}
	while (!zr_list_empty(&c->reqs)) {
		struct zr_client_req *q = container_of(c->reqs.next, struct zr_client_req, link);
		req_remove(q);
		q->stop_err = -err;
		finish(q);
		req_free(q);
	}
	(void)uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, on_timer_closed);
}
