/* A growable, always NUL-terminated byte buffer. */
#include "buf.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for len + extra bytes plus the NUL; leaves b untouched on failure. */
static int buf_reserve(struct zr_buf *b, size_t extra)
{
	if (extra > SIZE_MAX - 1 - b->len) {
		return -ENOMEM;
	}
	size_t need = b->len + extra + 1;
	if (b->data && need <= b->cap) {
		return 0;
	}
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			cap = need;
			break;
		}
		cap *= 2;
	}
	char *p = realloc(b->data, cap);
	if (!p) {
		return -ENOMEM;
	}
	if (!b->data) {
		p[0] = '\0';
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int zr_buf_append(struct zr_buf *b, const void *p, size_t n)
{
	int r = buf_reserve(b, n);
	if (r < 0) {
		return r;
	}
	if (n > 0) {
		memcpy(b->data + b->len, p, n);
	}
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int zr_buf_puts(struct zr_buf *b, const char *s)
{
	return zr_buf_append(b, s, strlen(s));
}

int zr_buf_vprintf(struct zr_buf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;
	/* One pass when the text fits the room left (the common case: small lines into a
	 * reused buffer); else measure, grow and format again. */
	if (b->data && b->cap > b->len) {
		size_t room = b->cap - b->len;
		va_copy(aq, ap);
		n = vsnprintf(b->data + b->len, room, fmt, aq);
		va_end(aq);
		if (n >= 0 && (size_t)n < room) {
			b->len += (size_t)n;
			return 0;
		}
		b->data[b->len] = '\0'; /* unchanged on failure */
	} else {
		va_copy(aq, ap);
		n = vsnprintf(NULL, 0, fmt, aq);
		va_end(aq);
	}
	if (n < 0) {
		return -EINVAL;
	}
	int r = buf_reserve(b, (size_t)n);
	if (r < 0) {
		return r;
	}
	va_copy(aq, ap);
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, aq);
	va_end(aq);
	b->len += (size_t)n;
	return 0;
}

int zr_buf_printf(struct zr_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int r = zr_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

int zr_buf_write_at(struct zr_buf *b, size_t off, const void *p, size_t n)
{
	/* Like pwrite(), writing nothing does not extend the buffer. */
	if (n == 0) {
		return 0;
	}
	if (off > SIZE_MAX - n) {
		return -ENOMEM;
	}
	size_t end = off + n;
	if (end > b->len) {
		int r = buf_reserve(b, end - b->len);
		if (r < 0) {
			return r;
		}
		if (off > b->len) {
			memset(b->data + b->len, 0, off - b->len);
		}
	}
	memcpy(b->data + off, p, n);
	if (end > b->len) {
		b->len = end;
		b->data[b->len] = '\0';
	}
	return 0;
}

void zr_buf_consume(struct zr_buf *b, size_t n)
{
	if (n > b->len) {
		n = b->len;
	}
	if (n == 0) {
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void zr_buf_reset(struct zr_buf *b)
{
	b->len = 0;
	if (b->data) {
		b->data[0] = '\0';
	}
}

void zr_buf_done(struct zr_buf *b)
{
	free(b->data);
	*b = (struct zr_buf){0};
}

char *zr_buf_steal(struct zr_buf *b)
{
	/* Only an empty buffer that never allocated can fail here, and only for lack of memory. */
	char *s = b->data ? b->data : strdup("");
	*b = (struct zr_buf){0};
	return s;
}
