/* HTTP requests with libcurl's multi interface on the libuv loop: curl's sockets are uv_poll
 * handles and its timer a uv_timer, so a thousand requests in flight cost no thread. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "http.h"

struct zr_client;
struct zr_client_req;

/* Called exactly once (unless cancelled): err 0 and r for an answer, or a negative errno for
 * a transport failure (-ENOTCONN: no connection; -ETIMEDOUT: past the timeout) with r NULL.
 * why says what failed (borrowed during the call). */
typedef void (*zr_client_cb)(int err, const struct zr_http_resp *r, const char *why, void *data);
/* A streamed body's bytes as they come (buf NULL once, when a 200 answer's headers are in);
 * return 0 to go on, a negative errno to stop (the
 * request then ends with that error). */
typedef int (*zr_client_chunk_cb)(const char *buf, size_t len, void *data);

struct zr_client_opts {
	const char *method;  /* GET, HEAD, POST, PUT, DELETE */
	const char *url;
	const void *headers; /* struct curl_slist *, borrowed until the request ends */
	const char *ctype;   /* body's content type, or NULL */
	const char *body;    /* copied */
	size_t len;
	long timeout_ms;     /* whole request; 0 = none (streams) */
	long connect_timeout_ms;
	zr_client_chunk_cb on_chunk; /* stream the body instead of collecting it */
	size_t max_body;     /* a longer body ends the request with -EFBIG; 0: 16 MiB */
	bool status_only;    /* the answer's status is all the caller wants: its body is dropped
			      * (r->len 0), a long one not read to its end (the request ends then,
			      * as answered) */
};

int zr_client_create(uv_loop_t *loop, struct zr_client **ret);
/* Ends every request with -err (callbacks run) and frees the client once its handles are
 * closed. Not from inside an on_chunk callback (curl is running then). */
void zr_client_destroy(struct zr_client *c, int err);

/* Starts a request; the callback never runs before this returns. NULL when out of memory. */
struct zr_client_req *zr_client_start(struct zr_client *c, const struct zr_client_opts *o,
				      zr_client_cb cb, void *data);
/* Drops a request: its callback will not run. */
void zr_client_cancel(struct zr_client_req *q);
/* Requests in flight. */
size_t zr_client_pending(const struct zr_client *c);
