/* An append-only text log of lines with a bounded retained window: @robot/events, service
 * events and logs, task logs. Offsets are logical: the byte position in everything ever
 * appended, so `tail -f` (which polls st_size) sees a file that only grows. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "waitq.h"

struct zr_journal {
	char *ring;            /* retained bytes [base, end), stored contiguously from ring+start */
	size_t start;          /* index in ring of the byte at logical offset base */
	size_t cap;            /* allocated size of ring */
	size_t max_bytes;      /* retention bound: whole old lines are dropped beyond it */
	uint64_t base;         /* logical offset of the first retained byte */
	uint64_t end;          /* logical offset after the last byte: the file's size */
	uint64_t first_line;   /* index of the first retained line */
	uint64_t lines;        /* lines ever appended: the next line's index */
	long long mtime_ns;    /* wall time of the last append (creation time before) */
	struct zr_waitq waitq; /* woken after every append */
};

/* Per-reader state (one per open file handle), zero-initialised. */
struct zr_journal_cursor {
	uint64_t skew; /* logical offset = file offset + skew (grows when lines were lost) */
	uint64_t line; /* index of the next line this reader expects */
};

void zr_journal_init(struct zr_journal *j, size_t max_bytes);
void zr_journal_done(struct zr_journal *j);

/* Journals made on first use (most services and tasks never log anything): *jp is NULL until
 * then. zr_journal_make returns *jp, making it (mtime mtime_ns) if needed, or NULL when out of
 * memory. zr_journal_or_empty is the same for readers, but never NULL: out of memory, a shared
 * empty journal nobody appends to. zr_journal_free frees a made one (its waiters must be gone
 * or woken) and sets *jp to NULL. */
struct zr_journal *zr_journal_make(struct zr_journal **jp, size_t max_bytes, long long mtime_ns);
struct zr_journal *zr_journal_or_empty(struct zr_journal **jp, size_t max_bytes, long long mtime_ns);
void zr_journal_free(struct zr_journal **jp);

/* Appends one line (a trailing '\n' is added when missing; embedded '\n' split it into several
 * lines), drops whole lines from the front while the window exceeds max_bytes (a single line
 * longer than max_bytes is cut to max_bytes), sets mtime and wakes the waitq.
 * Returns 0 or -ENOMEM (nothing appended; also for j NULL, a journal that could not be made). */
int zr_journal_append(struct zr_journal *j, const char *line, size_t len);
int zr_journal_appendf(struct zr_journal *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Copies up to size bytes for a reader at file offset off into dst and returns the count
 * (0 = at the end). If lines this reader has not seen were dropped (its logical offset is
 * before base), it first returns the line "lost N\n" (N = lines dropped that it missed, or as
 * much of that line as fits) and moves the cursor's skew so the next read continues at base. */
size_t zr_journal_read(const struct zr_journal *j, struct zr_journal_cursor *c, uint64_t off,
		       char *dst, size_t size);

/* True when a reader at file offset off has something to read. */
int zr_journal_readable(const struct zr_journal *j, const struct zr_journal_cursor *c, uint64_t off);
