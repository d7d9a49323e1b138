/* A supervised server's output file, followed on the loop: new bytes become timestamped lines
 * in a journal, and what was read is punched out of the file so that it stays small on disk. */
#include "outlog.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "util/log.h"

/* A longer line is cut there (the rest up to its '\n' is dropped): one runaway line must not
 * hold the whole memory bound. */
#define LINE_MAX_BYTES (16 * 1024)
/* "2026-12-07T12:00:00.123Z ": what each journal line starts with. */
#define STAMP_LEN 25
/* Bytes read per inotify event or timer tick before the loop gets a turn; the rest is read on
 * the next turn (zr_outlog_poll reads everything at once). */
#define READ_BUDGET (1024 * 1024)
#define CHUNK (64 * 1024)
#define FALLBACK_MS 1000
/* Unread output beyond this (a writer faster than lines are parsed, or a long time without a
 * robot) is skipped rather than read: the file's disk space and the robot's time stay bounded. */
#define BACKLOG_MAX (16 * 1024 * 1024)
/* A read turn (not a poll) also ends after TURN_NS of work, and while the writer is ahead of
 * the reader the next one comes AHEAD_MS later: a server flooding its output (short lines
 * cost about a microsecond each) takes part of a core from the robot, not all of it. */
#define TURN_NS (5ull * 1000 * 1000)
#define AHEAD_MS 10

/* ZR_OUTLOG_NO_PUNCH (the unit test's own build) acts as if the file system could not punch
 * holes, so that the truncating fallback is tested too. */
#ifdef ZR_OUTLOG_NO_PUNCH
#define punch_hole(fd, off, len) (errno = EOPNOTSUPP, -1)
#else
#define punch_hole(fd, off, len)                                                         \
	fallocate((fd), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(off), (off_t)(len))
#endif

struct zr_outlog {
	uv_loop_t *loop;
	char *path;
	int fd;
	dev_t dev;
	ino_t ino;
	uv_fs_event_t event;
	bool watching;    /* event started (inotify may be out of watches: the timer alone then) */
	bool moved;       /* inotify saw the name go: look for a new file by that name */
	bool unfinished;  /* the last read stopped at its budget, not at the end */
	bool paused;      /* event stopped while the writer is ahead: the timer reads */
	uv_timer_t timer;
	int open_handles; /* closed when 0 (two-step destruction) */
	bool closing;
	struct zr_journal journal;
	zr_outlog_line_cb cb;
	void *data;

	/* File offsets: read up to off; lines are complete up to done (a partial line starts
	 * there); the file is punched out up to punched. punched <= done <= off. */
	uint64_t off, done, punched;
	bool no_punch;  /* the file system cannot punch holes: truncated once all is read */
	bool skip_nul;  /* at a fresh start: the zeroed part of the block a punch ended in */
	bool skipping;  /* dropping the rest of a line cut at LINE_MAX_BYTES */
	/* "STAMP LINE" for the journal; the partial line waits in place after the stamp. Grown on
	 * demand (a thousand quiet servers must not cost 16 KiB each), to STAMP_LEN +
	 * LINE_MAX_BYTES at most. */
	char *buf;
	size_t cap;
	size_t part_len;
};

/* Makes room for a line of len bytes after the stamp: 0 or -ENOMEM. */
static int reserve(struct zr_outlog *o, size_t len)
{
	size_t need = STAMP_LEN + len;
	if (need <= o->cap) {
		return 0;
	}
	size_t cap = o->cap ? 2 * o->cap : 256;
	cap = cap < need ? need : cap;
	cap = cap > STAMP_LEN + LINE_MAX_BYTES ? STAMP_LEN + LINE_MAX_BYTES : cap;
	char *b = realloc(o->buf, cap);
	if (!b) {
		return -ENOMEM;
	}
	o->buf = b;
	o->cap = cap;
	return 0;
}

static char *part(struct zr_outlog *o)
{
	return o->buf + STAMP_LEN;
}

/* Gives one complete line (the partial line's buffer, or bytes just read) to the journal and
 * the callback. Out of memory, the journal misses it. */
static void emit(struct zr_outlog *o, const char *line, size_t len)
{
	bool in_place = o->buf && line == part(o);
	if (in_place || reserve(o, len) == 0) {
		char ts[32];
		(void)zr_time_format(zr_now_ns(), ts);
		memcpy(o->buf, ts, STAMP_LEN - 1);
		o->buf[STAMP_LEN - 1] = ' ';
		if (!in_place) {
			memcpy(part(o), line, len);
		}
		(void)zr_journal_append(&o->journal, o->buf, STAMP_LEN + len);
	}
	if (o->cb) {
		o->cb(line, len, o->data);
	}
}

/* Splits n bytes read at file offset at into lines; advances done past each line ended (or
 * cut, or dropped), so that only a partial line is ever left unpunched. */
static void feed(struct zr_outlog *o, const char *p, size_t n, uint64_t at)
{
	const char *e = p + n;
	if (o->skip_nul) {
		while (p < e && *p == '\0') {
			p++;
		}
		o->skip_nul = p == e;
		o->done = at + (uint64_t)(n - (size_t)(e - p));
	}
	while (p < e && !o->closing) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		size_t seg = nl ? (size_t)(nl - p) : (size_t)(e - p);
		if (o->skipping) {
			p += seg + (nl ? 1 : 0);
			o->skipping = !nl;
		} else if (o->part_len + seg > LINE_MAX_BYTES) {
			size_t take = LINE_MAX_BYTES - o->part_len;
			bool room = reserve(o, LINE_MAX_BYTES) == 0;
			if (room) {
				memcpy(part(o) + o->part_len, p, take);
			}
			p += take;
			o->part_len = 0;
			o->skipping = true;
			if (room) {
				emit(o, part(o), LINE_MAX_BYTES);
			}
		} else if (nl) {
			const char *line = p;
			if (o->part_len > 0) {
				if (reserve(o, o->part_len + seg) == 0) {
					memcpy(part(o) + o->part_len, p, seg);
					line = part(o);
					seg += o->part_len;
				}
				o->part_len = 0;
			}
			p = nl + 1;
			emit(o, line, seg);
		} else {
			if (reserve(o, o->part_len + seg) == 0) {
				memcpy(part(o) + o->part_len, p, seg);
				o->part_len += seg;
			} else {
				/* Out of memory: this line is lost rather than half of it shown. */
				o->part_len = 0;
				o->skipping = true;
			}
			p += seg;
			continue;
		}
		o->done = at + (uint64_t)(n - (size_t)(e - p));
	}
}

/* Frees the disk space of what has been read. A hole punched under a writer that appends
 * loses nothing: its next write still goes to the end. */
static void release(struct zr_outlog *o, bool at_end)
{
	if (!o->no_punch && o->done > o->punched) {
		if (punch_hole(o->fd, o->punched, o->done - o->punched) == 0) {
			o->punched = o->done;
		} else if (errno == EOPNOTSUPP || errno == ENOSYS) {
			o->no_punch = true;
		}
	}
	/* Without holes: truncate once everything is read and no partial line is pending. A
	 * write landing between the size check and the truncation is lost; the window is a few
	 * microseconds, and only on file systems that cannot punch. */
	struct stat st;
	if (o->no_punch && at_end && o->done == o->off && o->off > 0 &&
	    fstat(o->fd, &st) == 0 && (uint64_t)st.st_size == o->off &&
	    ftruncate(o->fd, 0) == 0) {
		o->off = o->done = o->punched = 0;
	}
}

/* Skips the unread output up to end, a line saying so in its place; the rest of the line
 * found at end is dropped. What was skipped is punched out with what was read. */
static void skip_to(struct zr_outlog *o, uint64_t end)
{
	char line[128];
	int n = snprintf(line, sizeof(line),
			 "zrobot: %llu bytes of output skipped (written faster than read)",
			 (unsigned long long)(end - o->off));
	o->part_len = 0;
	o->skip_nul = false;
	o->skipping = true;
	o->off = o->done = end;
	emit(o, line, (size_t)n);
	release(o, false);
}

/* Reads up to budget bytes (for TURN_NS at most), 0: what the file holds now, never more (a writer appending faster
 * than lines are parsed would otherwise keep the loop here for good). Returns true when it
 * stopped at the end. */
static bool read_some(struct zr_outlog *o, size_t budget)
{
	struct stat st;
	bool sized = fstat(o->fd, &st) == 0;
	/* Someone truncated the file (logrotate's copytruncate, an admin): start over at 0. */
	if (sized && (uint64_t)st.st_size < o->off) {
		o->off = o->done = o->punched = 0;
		o->part_len = 0;
		o->skipping = false;
	}
	uint64_t until = budget ? o->off + budget : sized ? (uint64_t)st.st_size : UINT64_MAX;
	char buf[CHUNK];
	bool at_end = false;
	uint64_t t0 = uv_hrtime();
	while (!o->closing && o->off < until && (!budget || uv_hrtime() - t0 < TURN_NS)) {
		if (fstat(o->fd, &st) == 0 && (uint64_t)st.st_size > o->off + BACKLOG_MAX) {
			skip_to(o, (uint64_t)st.st_size);
			until = budget ? o->off + budget : until;
			continue;
		}
		size_t want = until - o->off < sizeof(buf) ? (size_t)(until - o->off) : sizeof(buf);
		ssize_t n = pread(o->fd, buf, want, (off_t)o->off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			at_end = true;
			break;
		}
		uint64_t at = o->off;
		o->off += (uint64_t)n;
		feed(o, buf, (size_t)n, at);
	}
	/* All the file held when asked, or all it holds now: the end as far as this read goes. */
	if (!at_end && ((!budget && o->off >= until) ||
			(fstat(o->fd, &st) == 0 && (uint64_t)st.st_size == o->off))) {
		at_end = true;
	}
	if (!o->closing) {
		release(o, at_end);
	}
	return at_end;
}

/* Opens path and finds where the output not yet read starts: the first data after the holes
 * an earlier run punched (SEEK_DATA), then past the zeroes of the block that punch ended in
 * (skip_nul; this also drops NUL bytes a server wrote first thing, a price worth the exact
 * restart). A file that is all holes was read to its end. */
static int attach(struct zr_outlog *o)
{
	/* O_NOFOLLOW: the file is punched and truncated; a symlink put in its place must not
	 * carry that to another file. */
	int fd = open(o->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW, 0600);
	if (fd < 0) {
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		(void)close(fd);
		return r;
	}
	off_t start = lseek(fd, 0, SEEK_DATA);
	if (start < 0) {
		start = errno == ENXIO ? st.st_size : 0;
	}
	if (o->fd >= 0) {
		(void)close(o->fd);
	}
	o->fd = fd;
	o->dev = st.st_dev;
	o->ino = st.st_ino;
	o->off = o->done = o->punched = (uint64_t)start;
	o->part_len = 0;
	o->skipping = false;
	o->skip_nul = true;
	return 0;
}

static void on_event(uv_fs_event_t *h, const char *filename, int events, int status);
static void on_timer(uv_timer_t *t);

/* inotify follows the inode, not the name: after the file was deleted or renamed (and the
 * launcher made a new one at the next start), finish the old one and follow the new. */
static void follow_replacement(struct zr_outlog *o)
{
	struct stat st;
	if (stat(o->path, &st) < 0 || (st.st_dev == o->dev && st.st_ino == o->ino)) {
		return;
	}
	(void)read_some(o, 0);
	if (o->part_len > 0 && !o->closing) {
		size_t len = o->part_len;
		o->part_len = 0;
		emit(o, part(o), len);
	}
	if (o->closing || attach(o) < 0) {
		return;
	}
	o->moved = false;
	if (o->watching) {
		(void)uv_fs_event_stop(&o->event);
	}
	o->watching = uv_fs_event_start(&o->event, on_event, o->path, 0) == 0;
}

/* Reads a budget's worth; if more is waiting, the timer fires again at once rather than the
 * loop waiting on one read. */
static void read_turn(struct zr_outlog *o)
{
	o->unfinished = !read_some(o, READ_BUDGET);
	if (o->closing) {
		return;
	}
	if (o->unfinished) {
		/* While the writer is ahead, inotify is off: libuv reads its events until there
		 * are none, and a writer that never stops makes one per write, so the loop would
		 * never get out of that read (nor answer anything else). The timer reads. */
		if (o->watching) {
			(void)uv_fs_event_stop(&o->event);
			o->watching = false;
			o->paused = true;
		}
		/* Not 0: libuv runs a timer started at 0 from a timer's callback again in the
		 * same turn, and this one would never let the loop go on. */
		(void)uv_timer_start(&o->timer, on_timer, AHEAD_MS, FALLBACK_MS);
	} else if (o->paused) {
		o->paused = false;
		if (!o->watching) {
			o->watching = uv_fs_event_start(&o->event, on_event, o->path, 0) == 0;
		}
	}
}

static void on_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct zr_outlog *o = h->data;
	if (o->closing) {
		return;
	}
	if (events & UV_RENAME) {
		o->moved = true;
	}
	read_turn(o);
}

/* The fallback, once a second for each server: one fstat when nothing happened, so that a
 * thousand idle servers cost the robot next to nothing. */
static void on_timer(uv_timer_t *t)
{
	struct zr_outlog *o = t->data;
	if (o->closing) {
		return;
	}
	struct stat st;
	bool gone = fstat(o->fd, &st) < 0 || st.st_nlink == 0;
	if (gone || o->moved || !o->watching) {
		follow_replacement(o);
	} else if (!o->unfinished && (uint64_t)st.st_size == o->off) {
		return;
	}
	read_turn(o);
}

static void outlog_free(struct zr_outlog *o)
{
	if (o->fd >= 0) {
		(void)close(o->fd);
	}
	zr_journal_done(&o->journal);
	free(o->buf);
	free(o->path);
	free(o);
}

int zr_outlog_open(uv_loop_t *loop, const char *path, size_t journal_max, zr_outlog_line_cb cb,
		   void *data, struct zr_outlog **ret)
{
	struct zr_outlog *o = calloc(1, sizeof(*o));
	if (!o) {
		return -ENOMEM;
	}
	o->loop = loop;
	o->fd = -1;
	o->cb = cb;
	o->data = data;
	zr_journal_init(&o->journal, journal_max);
	o->path = strdup(path);
	if (!o->path) {
		outlog_free(o);
		return -ENOMEM;
	}
	int r = attach(o);
	if (r < 0) {
		outlog_free(o);
		return r;
	}
	(void)uv_timer_init(loop, &o->timer);
	(void)uv_fs_event_init(loop, &o->event);
	o->timer.data = o;
	o->event.data = o;
	o->open_handles = 2;
	/* Without an inotify watch (the user's limit reached) the timer alone follows the file. */
	o->watching = uv_fs_event_start(&o->event, on_event, path, 0) == 0;
	/* What an earlier run left unread is read on the loop's next turn, so that no callback
	 * runs before the caller has *ret. */
	(void)uv_timer_start(&o->timer, on_timer, 0, FALLBACK_MS);
	*ret = o;
	return 0;
}

void zr_outlog_poll(struct zr_outlog *o)
{
	if (o->closing) {
		return;
	}
	(void)read_some(o, 0);
	o->unfinished = false;
	/* The writer is gone: a last line without '\n' will not be finished. */
	if (o->part_len > 0 && !o->closing) {
		size_t len = o->part_len;
		o->part_len = 0;
		o->done = o->off;
		emit(o, part(o), len);
		release(o, true);
	}
	o->skipping = false;
}

struct zr_journal *zr_outlog_journal(struct zr_outlog *o)
{
	return &o->journal;
}

int zr_outlog_tail(struct zr_outlog *o, size_t n, char **buf)
{
	const struct zr_journal *j = &o->journal;
	const char *text = j->ring ? j->ring + j->start : "";
	size_t len = (size_t)(j->end - j->base);
	/* Back from the end over n lines (each retained line ends in '\n'). */
	size_t from = len;
	for (size_t lines = 0; from > 0 && lines < n; lines++) {
		from--;
		while (from > 0 && text[from - 1] != '\n') {
			from--;
		}
	}
	size_t have = *buf ? strlen(*buf) : 0;
	char *b = realloc(*buf, have + (len - from) + 1);
	if (!b) {
		return -ENOMEM;
	}
	size_t w = have;
	for (size_t p = from; p < len;) {
		const char *line = text + p;
		size_t k = (size_t)((const char *)memchr(line, '\n', len - p) - line) + 1;
		size_t skip = k > STAMP_LEN && line[STAMP_LEN - 2] == 'Z' &&
				      line[STAMP_LEN - 1] == ' ' ? STAMP_LEN : 0;
		memcpy(b + w, line + skip, k - skip);
		w += k - skip;
		p += k;
	}
	b[w] = '\0';
	*buf = b;
	return 0;
}

static void on_close(uv_handle_t *h)
{
	struct zr_outlog *o = h->data;
	if (--o->open_handles == 0) {
		outlog_free(o);
	}
}

void zr_outlog_close(struct zr_outlog *o)
{
	if (!o || o->closing) {
		return;
	}
	o->closing = true;
	uv_close((uv_handle_t *)&o->event, on_close);
	uv_close((uv_handle_t *)&o->timer, on_close);
}
