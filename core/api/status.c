/* Answers: statuses (from the one errno table, http.c), JSON error bodies, headers. */
#include "api-internal.h"

#include "http.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"

unsigned zr_api__status(int err)
{
	return zr_http_status(err);
}

const char *zr_api__errno_name(int err)
{
	return zr_http_errno_name(err);
}

void zr_api__answer(struct zr_api_req *q, unsigned status, const char *ctype, const char *body, size_t len)
{
	zr_buf_reset(&q->out);
	if (len > 0 && zr_buf_append(&q->out, body, len) < 0) {
		status = 503;
		ctype = NULL;
	}
	q->status = status;
	q->content_type = ctype;
	q->ready = true;
}

static void fail_v(struct zr_api_req *q, unsigned status, int err, const char *fmt, va_list ap)
{
	_cleanup_free_ char *detail = NULL;
	if (vasprintf(&detail, fmt, ap) < 0) {
		detail = NULL;
	}
	_cleanup_json_ json_t *o = json_pack("{ss si ss}", "error", zr_api__errno_name(err), "errno", err,
					     "detail", detail ? detail : strerror(err));
	_cleanup_free_ char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	zr_buf_reset(&q->out);
	if (text) {
		(void)zr_buf_printf(&q->out, "%s\n", text);
	}
	q->status = status;
	q->content_type = "application/json";
	q->ready = true;
	if (status == 401) {
		zr_api__add_header(q, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"zrobot\"");
	}
}

void zr_api__fail(struct zr_api_req *q, unsigned status, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(q, status, err, fmt, ap);
	va_end(ap);
}

void zr_api__fail_errno(struct zr_api_req *q, int err, const char *detail)
{
	zr_api__fail(q, zr_api__status(err), err, "%s", detail ? detail : strerror(err));
}

void zr_api__add_header(struct zr_api_req *q, const char *name, const char *value)
{
	char *v = strdup(value);
	if (!v || q->n_hdrs == ZR_API_MAX_HEADERS) {
		free(v);
		return;
	}
	q->hdr_names[q->n_hdrs] = name;
	q->hdr_values[q->n_hdrs++] = v;
}
