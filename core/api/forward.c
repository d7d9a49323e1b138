/* Requests at or under another robot's root (/v1/@remote/NAME/...), passed on to that robot
 * through the tree's node for it (zr_tree_forward) and answered with what it says. */
#include "api-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote/untrusted.h"
#include "util/buf.h"
#include "util/cleanup.h"

/* ---- another robot's paths (a remote robot's root and below): passed on to it ---- */

/* The remote's content type as one of ours (the answer keeps a pointer to it). */
static const char *known_type(const char *ct)
{
	if (!ct) {
		return NULL;
	}
	if (strncmp(ct, "application/json", 16) == 0) {
		return "application/json";
	}
	if (strncmp(ct, "application/x-ndjson", 20) == 0) {
		return "application/x-ndjson";
	}
	if (strncmp(ct, "text/plain", 10) == 0) {
		return strstr(ct, "version=0.0.4") ? "text/plain; version=0.0.4; charset=utf-8"
						   : "text/plain; charset=utf-8";
	}
	return "application/octet-stream";
}

static void proxied_step(struct zr_api_req *q)
{
	(void)q; /* answered by on_proxied */
}

bool zr_api__cancel_forward(struct zr_api_req *q)
{
	if (!q->fwd) {
		return false;
	}
	/* The client went: so does the request passed on (a long poll there, maybe). */
	zr_tree_forward_cancel(q->api->tree, q->fwd);
	q->fwd = NULL;
	q->ops--;
	zr_api__fail(q, 503, EINTR, "the client went away");
	return true;
}

static void on_proxied(int err, const struct zr_http_resp *r, void *data)
{
	struct zr_api_req *q = data;
	q->fwd = NULL;
	if (!zr_api__op_done(q)) {
		return;
	}
	_cleanup_free_ char *loc = NULL;
	size_t at = q->fwd_at;
	while (at > 0 && q->path[at - 1] == '/') {
		at--;
	}
	/* r->location is the remote provider's rewrite, "/v1/..." of that same remote, or NULL
	 * when the remote named anything else: as seen from here, under our path to it. */
	if (r && r->location && strncmp(r->location, "/v1/", 4) == 0 &&
	    asprintf(&loc, "/v1/%.*s/%s", (int)at, q->path, r->location + 4) < 0) {
		loc = NULL;
	}
	if (!r) {
		zr_api__fail(q, zr_api__status(-err), -err, "/%.*s: %s", (int)q->fwd_at, q->path, strerror(-err));
	} else if (r->status < 200 || r->status > 599) {
		/* Not a final status HTTP defines (libcurl takes any three digits, and a 101 it was
		 * not asked for): passed on, it would reach our client as ours. */
		zr_api__fail(q, 502, EIO, "/%.*s: the remote robot answered HTTP %ld", (int)at,
			     q->path, r->status);
	} else if (r->status == 401) {
		/* The remote refused our robot's token, not our client's: a 401 here says that the
		 * client's own token is unknown (and would ask it for another). */
		zr_api__fail(q, 403, EACCES, "/%.*s: the remote robot refused our token (HTTP 401)",
			     (int)at, q->path);
	} else if (r->status >= 300 && r->status < 400 && !loc) {
		/* A remote robot is untrusted: its redirect is followed by our client only to a
		 * path of that same remote, through us. */
		zr_api__fail(q, 502, EIO, "/%.*s: the remote robot answered %ld to a place outside itself",
			     (int)at, q->path, r->status);
	} else {
		char num[32];
		zr_api__answer(q, (unsigned)r->status, known_type(r->content_type), r->body, r->len);
		if (r->task) {
			snprintf(num, sizeof(num), "%" PRIu64, r->task);
			zr_api__add_header(q, "Zr-Task", num);
		}
		if (r->task_state) {
			zr_api__add_header(q, "Zr-Task-State", r->task_state);
		}
		if (loc) {
			zr_api__add_header(q, MHD_HTTP_HEADER_LOCATION, loc);
		}
	}
	zr_api__wake(q);
}

/* A query value as the remote must see it: percent-encoded, so that a decoded '&' or '#' in
 * ours cannot add to its query. */
static int query_add(struct zr_buf *b, const char *key, const char *value)
{
	if (!value) {
		return 0;
	}
	if ((b->len > 0 && zr_buf_append(b, "&", 1) < 0) || zr_buf_printf(b, "%s=", key) < 0) {
		return -ENOMEM;
	}
	return zr_untrusted_encode(b, value, strlen(value));
}

/* GET, HEAD, POST, PUT and DELETE at or under a remote robot's root (the walk stopped there,
 * at q->ino, with the rest of the path at q->fwd_at) go to that robot with our token for it,
 * so only our admin may send them; its answer comes back as it is, but for Location (only a
 * path of that remote, under ours to it) and redirects elsewhere (502). Event streams do not
 * cross (501). */
void zr_api__proxy(struct zr_api_req *q)
{
	const char *accept = zr_api__header(q, MHD_HTTP_HEADER_ACCEPT);
	if (q->role != ZR_API_ADMIN) {
		zr_api__fail(q, 403, EACCES, "remote robots are reached with the admin token");
		return;
	}
	if (accept && strstr(accept, "text/event-stream")) {
		zr_api__fail(q, 501, ENOSYS, "event streams of remote robots are not passed on");
		return;
	}
	if (q->method == ZR_API_OTHER) {
		zr_api__fail(q, 405, EISDIR, "/%s: not here", q->path);
		return;
	}
	const char *rest = q->path + q->fwd_at;
	const char *wait = zr_api__arg(q, "wait"), *after = zr_api__arg(q, "after");
	struct zr_buf qb = {0};
	if (query_add(&qb, "wait", wait) < 0 || query_add(&qb, "after", after) < 0) {
		zr_buf_done(&qb);
		zr_api__fail(q, 503, ENOMEM, "out of memory");
		return;
	}
	_cleanup_free_ char *query = qb.data;
	double secs = wait ? strtod(wait, NULL) : 0;
	long wait_ms = secs > 0 && secs <= 3600 ? (long)(secs * 1000) : 0;
	int err;
	q->ops++;
	q->pending = true;
	q->step = proxied_step;
	struct zr_tree_fwd_opts o = {
		.method = q->method_name,
		.path = rest,
		.query = query,
		.ctype = zr_api__header(q, MHD_HTTP_HEADER_CONTENT_TYPE),
		.body = q->body.data,
		.len = q->body.len,
		.wait_ms = wait_ms,
	};
	q->fwd = zr_tree_forward(q->api->tree, q->ino, &o, on_proxied, q, &err);
	if (!q->fwd) {
		q->ops--;
		q->pending = false;
		zr_api__fail(q, zr_api__status(-err), -err, "/%s: %s", q->path, strerror(-err));
	}
}

