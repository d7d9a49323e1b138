/* Journals: append-only line logs that keep a bounded window of whole lines, read through
 * logical offsets so files only grow, with a "lost N" line for readers that fell behind. */
#include "journal.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/log.h"

void zr_journal_init(struct zr_journal *j, size_t max_bytes)
{
	assert(max_bytes > 0);
	*j = (struct zr_journal){.max_bytes = max_bytes, .mtime_ns = zr_now_ns()};
	zr_waitq_init(&j->waitq);
}

void zr_journal_done(struct zr_journal *j)
{
	/* The owner should have woken or removed its waiters; unlink any left so that their later
	 * zr_waiter_remove() does not write into freed memory. */
	while (!zr_list_empty(&j->waitq.waiters)) {
		zr_list_remove(j->waitq.waiters.next);
	}
	free(j->ring);
	*j = (struct zr_journal){0};
	zr_waitq_init(&j->waitq);
}

struct zr_journal *zr_journal_make(struct zr_journal **jp, size_t max_bytes, long long mtime_ns)
{
	if (!*jp && (*jp = malloc(sizeof(**jp)))) {
		zr_journal_init(*jp, max_bytes);
		(*jp)->mtime_ns = mtime_ns;
	}
	return *jp;
}

struct zr_journal *zr_journal_or_empty(struct zr_journal **jp, size_t max_bytes, long long mtime_ns)
{
	static struct zr_journal empty;
	if (zr_journal_make(jp, max_bytes, mtime_ns)) {
		return *jp;
	}
	if (empty.max_bytes == 0) {
		zr_journal_init(&empty, 1);
	}
	return &empty;
}

void zr_journal_free(struct zr_journal **jp)
{
	if (*jp) {
		zr_journal_done(*jp);
		free(*jp);
		*jp = NULL;
	}
}

static size_t journal_retained(const struct zr_journal *j)
{
	return (size_t)(j->end - j->base);
}

/* Bytes a line of n content bytes takes in the window: its text, the '\n', cut to max_bytes. */
static size_t journal_line_size(const struct zr_journal *j, size_t n)
{
	return n < j->max_bytes ? n + 1 : j->max_bytes;
}

/* Reallocates the buffer to hold at least need bytes from its start, growing geometrically up
 * to twice the bound. On failure j is unchanged. */
static int journal_grow(struct zr_journal *j, size_t need)
{
	size_t cap = j->cap ? j->cap * 2 : 256;
	if (cap > 2 * j->max_bytes) {
		cap = 2 * j->max_bytes;
	}
	if (cap < need) {
		cap = need;
	}
	char *ring = realloc(j->ring, cap);
	if (!ring) {
		return -ENOMEM;
	}
	j->ring = ring;
	j->cap = cap;
	return 0;
}

/* Drops whole lines from the front until a new line of n bytes fits within max_bytes. Every
 * retained line ends in '\n', so each drop finds one. */
static void journal_drop_for(struct zr_journal *j, size_t n)
{
	size_t retained = journal_retained(j);
	while (retained > 0 && retained + n > j->max_bytes) {
		const char *first = j->ring + j->start;
		const char *nl = memchr(first, '\n', retained);
		assert(nl);
		size_t k = (size_t)(nl - first) + 1;
		j->start += k;
		j->base += k;
		j->first_line++;
		retained -= k;
	}
	if (retained == 0) {
		j->start = 0;
	}
}

/* Makes n bytes free after the window. zr_journal_append reserved cap >= retained + n, so
 * compacting to the front always works; growing first (while the window fills more than half
 * the buffer) means each compaction moves no more bytes than were appended since the last. */
static void journal_make_room(struct zr_journal *j, size_t n)
{
	size_t retained = journal_retained(j);
	if (j->start + retained + n <= j->cap) {
		return;
	}
	if (2 * (retained + n) > j->cap && j->cap < 2 * j->max_bytes) {
		(void)journal_grow(j, retained + n); /* on failure compacting still fits */
	}
	if (j->start + retained + n > j->cap) {
		memmove(j->ring, j->ring + j->start, retained);
		j->start = 0;
	}
	assert(j->start + retained + n <= j->cap);
}

/* Splits text into lines: every '\n' ends one, and a last line without '\n' (or an empty
 * text) counts as one more. Returns false after the last line. */
static bool next_line(const char **p, const char *e, bool *first, const char **ret, size_t *ret_n)
{
	if (*p >= e && !*first) {
		return false;
	}
	*first = false;
	const char *nl = *p < e ? memchr(*p, '\n', (size_t)(e - *p)) : NULL;
	size_t n = nl ? (size_t)(nl - *p) : (size_t)(e - *p);
	*ret = *p;
	*ret_n = n;
	*p += n + (nl ? 1 : 0);
	return true;
}

int zr_journal_append(struct zr_journal *j, const char *line, size_t len)
{
	if (!j) {
		return -ENOMEM;
	}
	assert(line || len == 0);
	if (!line) {
		line = "";
	}
	const char *e = line + len;

	/* Reserve all the room up front so that running out of memory appends nothing. Old lines
	 * are dropped before a new one is copied, so the window never needs more than max_bytes. */
	size_t add = 0;
	const char *p = line, *seg;
	size_t n;
	bool first = true;
	while (add < j->max_bytes && next_line(&p, e, &first, &seg, &n)) {
		add += journal_line_size(j, n);
	}
	size_t need = journal_retained(j) + (add < j->max_bytes ? add : j->max_bytes);
	if (need > j->max_bytes) {
		need = j->max_bytes;
	}
	if (need > j->cap) {
		int r = journal_grow(j, need);
		if (r < 0) {
			return r;
		}
	}

	p = line;
	first = true;
	while (next_line(&p, e, &first, &seg, &n)) {
		size_t size = journal_line_size(j, n);
		journal_drop_for(j, size);
		journal_make_room(j, size);
		char *dst = j->ring + j->start + journal_retained(j);
		if (size > 1) {
			memcpy(dst, seg, size - 1);
		}
		dst[size - 1] = '\n';
		j->end += size;
		j->lines++;
	}

	j->mtime_ns = zr_now_ns();
	zr_waitq_wake_all(&j->waitq);
	return 0;
}

int zr_journal_appendf(struct zr_journal *j, const char *fmt, ...)
{
	if (!j) {
		return -ENOMEM;
	}
	struct zr_buf b = {0};
	va_list ap;
	va_start(ap, fmt);
	int r = zr_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == 0) {
		r = zr_journal_append(j, b.data, b.len);
	}
	zr_buf_done(&b);
	return r;
}

/* The reader's logical offset. The skew is used modulo 2^64: after a "lost N" line longer than
 * the bytes it replaced, it is "negative". A result past INT64_MAX means before offset 0. */
static bool cursor_pos(const struct zr_journal *j, const struct zr_journal_cursor *c, uint64_t off,
		       uint64_t *ret)
{
	uint64_t pos = off + c->skew;
	if (pos > (uint64_t)INT64_MAX || pos < j->base) {
		return false;
	}
	*ret = pos;
	return true;
}

/* Index of the line holding logical offset pos (base <= pos <= end). */
static uint64_t journal_line_at(const struct zr_journal *j, uint64_t pos)
{
	uint64_t line = j->first_line;
	const char *p = j->ring + j->start;
	const char *e = p + (size_t)(pos - j->base);
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		if (!nl) {
			break;
		}
		line++;
		p = nl + 1;
	}
	return line;
}

size_t zr_journal_read(const struct zr_journal *j, struct zr_journal_cursor *c, uint64_t off,
		       char *dst, size_t size)
{
	if (size == 0) {
		return 0;
	}
	uint64_t pos;
	if (!cursor_pos(j, c, off, &pos)) {
		if (c->line < j->first_line) {
			char lost[32];
			int k = snprintf(lost, sizeof(lost), "lost %" PRIu64 "\n",
					 j->first_line - c->line);
			size_t n = (size_t)k < size ? (size_t)k : size;
			memcpy(dst, lost, n);
			/* Whatever part of the line did not fit is skipped, like the lost lines. */
			c->skew = j->base - (off + n);
			c->line = j->first_line;
			return n;
		}
		/* The reader went back over lines it has seen that are gone now: resume at base. */
		c->skew = j->base - off;
		pos = j->base;
	}
	if (pos >= j->end) {
		return 0;
	}
	uint64_t avail = j->end - pos;
	size_t n = avail < size ? (size_t)avail : size;
	memcpy(dst, j->ring + j->start + (size_t)(pos - j->base), n);
	c->line = journal_line_at(j, pos + n);
	return n;
}

int zr_journal_readable(const struct zr_journal *j, const struct zr_journal_cursor *c, uint64_t off)
{
	uint64_t pos;
	if (!cursor_pos(j, c, off, &pos)) {
		return c->line < j->first_line || j->end > j->base;
	}
	return pos < j->end;
}
