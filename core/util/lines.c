/* Lines out of a chunked byte stream (the stderr and fd 3 pipes of an action). */
#include "util/lines.h"

#include <string.h>

void zr_lines_init(struct zr_lines *l, size_t max)
{
	*l = (struct zr_lines){.max = max};
}

void zr_lines_feed(struct zr_lines *l, const char *d, size_t n, zr_lines_cb cb, void *data)
{
	while (n > 0) {
		const char *nl = memchr(d, '\n', n);
		size_t take = nl ? (size_t)(nl - d) : n;
		/* The tail of a line cut in an earlier chunk is dropped, not taken for a new line. */
		if (l->skipping) {
			l->skipping = !nl;
			d += nl ? take + 1 : n;
			n -= nl ? take + 1 : n;
			continue;
		}
		if (l->part.len + take > l->max) {
			take = l->max > l->part.len ? l->max - l->part.len : 0;
			(void)zr_buf_append(&l->part, d, take);
			cb(l->part.data, l->part.len, data);
			zr_buf_reset(&l->part);
			l->skipping = true;
			continue;
		}
		if (!nl) {
			(void)zr_buf_append(&l->part, d, n);
			return;
		}
		if (l->part.len > 0) {
			(void)zr_buf_append(&l->part, d, take);
			cb(l->part.data, l->part.len, data);
			zr_buf_reset(&l->part);
		} else {
			cb(d, take, data);
		}
		d += take + 1;
		n -= take + 1;
	}
}

void zr_lines_flush(struct zr_lines *l, zr_lines_cb cb, void *data)
{
	if (l->part.len > 0) {
		cb(l->part.data, l->part.len, data);
		zr_buf_reset(&l->part);
	}
	l->skipping = false;
}

void zr_lines_done(struct zr_lines *l)
{
	zr_buf_done(&l->part);
}
