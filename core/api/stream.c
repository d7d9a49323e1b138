/* Server-Sent Events: a journal (@robot/events, a service's events or log) as a stream, one
 * event per line, id = the line's number counted from 1 since the robot started (for
 * @robot/events, the event's seq); Last-Event-ID resumes after it, like ?after=. */
#include "api-internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define SSE_BLOCK (16 * 1024)
/* A comment this often keeps proxies and load balancers from closing an idle stream. */
#define HEARTBEAT_MS 15000

void zr_api__sse_start(struct zr_api_req *q)
{
	const char *last = zr_api__header(q, "Last-Event-ID");
	char *end;
	if (last && *last) {
		unsigned long long v = strtoull(last, &end, 10);
		if (!*end) {
			q->line = v;
		}
	}
	q->sse = true;
	q->sent_ms = zr_api__now_ms();
	q->status = 200;
	q->content_type = "text/event-stream";
	q->ready = true;
	zr_api__add_header(q, "X-Accel-Buffering", "no");
}

/* Formats the lines from q->line on as events. */
static void fill(struct zr_api_req *q)
{
	const struct zr_journal *j = q->journal;
	struct zr_buf *b = &q->sse_out;
	if (q->heartbeat) {
		q->heartbeat = false;
		(void)zr_buf_puts(b, ": keep-alive\n\n");
	}
	if (q->line > j->lines) {
		q->line = j->lines;
	}
	if (q->line < j->first_line) {
		(void)zr_buf_printf(b, "event: lost\ndata: %" PRIu64 "\n\n", j->first_line - q->line);
		q->line = j->first_line;
	}
	const char *p = j->ring + j->start, *e = p + (size_t)(j->end - j->base);
	for (uint64_t k = j->first_line; p < e; k++) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *le = nl ? nl : e;
		if (k >= q->line) {
			(void)zr_buf_printf(b, "id: %" PRIu64 "\ndata: ", k + 1);
			size_t start = b->len;
			(void)zr_buf_append(b, p, (size_t)(le - p));
			/* A carriage return would end the data line early for the client. */
			for (size_t i = start; i < b->len; i++) {
				if (b->data[i] == '\r') {
					b->data[i] = ' ';
				}
			}
			(void)zr_buf_puts(b, "\n\n");
		}
		p = nl ? nl + 1 : e;
	}
	q->line = j->lines;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct zr_api_req *q = cls;
	(void)pos;
	if (q->gone || q->api->closing || !q->journal) {
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (q->sse_out.len == 0) {
		fill(q);
	}
	if (q->sse_out.len == 0) {
		/* Nothing new: the connection sleeps until the journal grows (or a heartbeat). */
		zr_waitq_add(&q->journal->waitq, &q->waiter);
		q->pending = true;
		zr_api__suspend(q);
		return 0;
	}
	size_t n = q->sse_out.len < max ? q->sse_out.len : max;
	memcpy(buf, q->sse_out.data, n);
	zr_buf_consume(&q->sse_out, n);
	q->sent_ms = zr_api__now_ms();
	return (ssize_t)n;
}

struct MHD_Response *zr_api__sse_response(struct zr_api_req *q)
{
	return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK, sse_read, q, NULL);
}

void zr_api__sse_tick(struct zr_api_req *q, long long now_ms)
{
	if (q->suspended && q->ops == 0 && now_ms - q->sent_ms >= HEARTBEAT_MS) {
		q->heartbeat = true;
		zr_waiter_remove(&q->waiter);
		zr_api__wake(q);
	}
}
