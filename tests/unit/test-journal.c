/* Unit tests for core/journal.c. */
#include "journal.h"

#include "test.h"
#include "util/buf.h"

/* A reader: one open file handle with its offset. */
struct reader {
	struct zr_journal_cursor c;
	uint64_t off;
};

/* Reads until the journal says end, chunk bytes at a time, appending to out. */
static void read_all(const struct zr_journal *j, struct reader *r, size_t chunk, struct zr_buf *out)
{
	char tmp[4096];
	ASSERT_LE_SIZE(chunk, sizeof(tmp));
	for (;;) {
		bool readable = zr_journal_readable(j, &r->c, r->off);
		size_t n = zr_journal_read(j, &r->c, r->off, tmp, chunk);
		/* readable() must agree with what a read returns. */
		ASSERT_EQ_INT(readable, n > 0);
		if (n == 0) {
			return;
		}
		ASSERT_LE_SIZE(n, chunk);
		ASSERT_OK(zr_buf_append(out, tmp, n));
		r->off += n;
	}
}

/* The retained window, read through a cursor that is exactly at its start. */
static void window(const struct zr_journal *j, struct zr_buf *out)
{
	struct reader r = {.c = {.skew = j->base, .line = j->first_line}};
	zr_buf_reset(out);
	ASSERT_OK(zr_buf_append(out, "", 0));
	read_all(j, &r, 4096, out);
}

/* Structural invariants that hold after every append. */
static void check_journal(const struct zr_journal *j)
{
	ASSERT_LE_SIZE(j->end - j->base, j->max_bytes);
	ASSERT_LE_SIZE(j->start + (j->end - j->base), j->cap);
	ASSERT_LE_SIZE(j->cap, 2 * j->max_bytes);
	ASSERT_LE_INT(j->first_line, j->lines);
	if (j->end > j->base) {
		ASSERT_EQ_INT(j->ring[j->start + (j->end - j->base) - 1], '\n');
	}
}

#define ASSERT_WINDOW(j, want)                                                           \
	do {                                                                             \
		struct zr_buf _w = {0};                                                  \
		window((j), &_w);                                                        \
		ASSERT_EQ_MEM(_w.data, _w.len, (want), strlen(want));                    \
		zr_buf_done(&_w);                                                        \
	} while (0)

/* Reads what reader r has not read yet, chunk bytes at a time: exactly want. */
#define ASSERT_READS(j, r, chunk, want)                                                  \
	do {                                                                             \
		struct zr_buf _o = {0};                                                  \
		read_all((j), (r), (chunk), &_o);                                        \
		ASSERT_EQ_MEM(_o.data, _o.len, (want), strlen(want));                    \
		zr_buf_done(&_o);                                                        \
	} while (0)

/* One append and what the journal holds after it: the window, the logical offsets of its
 * start and end, the number of its first line and of all lines ever appended. */
/* A journal of max_bytes holding text, appended at once. */
static void journal_init_with(struct zr_journal *j, size_t max_bytes, const char *text)
{
	zr_journal_init(j, max_bytes);
	ASSERT_OK(zr_journal_append(j, text, strlen(text)));
}

struct step {
	const char *append;
	const char *window;
	uint64_t base, end, first_line, lines;
};

static void check_state(const struct zr_journal *j, const struct step *want)
{
	ASSERT_WINDOW(j, want->window);
	ASSERT_EQ_U64(j->base, want->base);
	ASSERT_EQ_U64(j->end, want->end);
	ASSERT_EQ_U64(j->first_line, want->first_line);
	ASSERT_EQ_U64(j->lines, want->lines);
	check_journal(j);
}

/* Appends each step's text to a new journal of max_bytes and checks the state after it. */
static void run_steps(size_t max_bytes, const struct step *steps, size_t n)
{
	struct zr_journal j;
	zr_journal_init(&j, max_bytes);
	for (size_t i = 0; i < n; i++) {
		TEST_CASE("step %zu", i);
		ASSERT_OK(zr_journal_append(&j, steps[i].append, strlen(steps[i].append)));
		check_state(&j, &steps[i]);
	}
	TEST_CASE_END();
	zr_journal_done(&j);
}

TEST(lines_and_newlines)
{
	struct zr_journal j;
	zr_journal_init(&j, 1000);
	ASSERT_EQ_U64(j.end, 0);
	ASSERT_EQ_U64(j.lines, 0);

	ASSERT_OK(zr_journal_append(&j, "a", 1));       /* newline added */
	ASSERT_OK(zr_journal_append(&j, "b\n", 2));     /* newline kept, not doubled */
	ASSERT_OK(zr_journal_append(&j, "c\nd", 3));    /* split in two lines */
	ASSERT_OK(zr_journal_append(&j, "", 0));        /* an empty line */
	ASSERT_OK(zr_journal_append(&j, "e\n\nf\n", 5)); /* three lines, one empty */
	ASSERT_OK(zr_journal_append(&j, "\n", 1));      /* one empty line */
	ASSERT_OK(zr_journal_appendf(&j, "n=%d", 7));
	check_state(&j, &(struct step){.window = "a\nb\nc\nd\n\ne\n\nf\n\nn=7\n",
					.base = 0, .end = 19, .first_line = 0, .lines = 10});
	zr_journal_done(&j);
}

TEST(read_from_start)
{
	struct zr_journal j;
	zr_journal_init(&j, 1000);
	struct reader r = {0};
	char tmp[64];
	ASSERT_FALSE(zr_journal_readable(&j, &r.c, 0));
	ASSERT_EQ_SIZE(zr_journal_read(&j, &r.c, 0, tmp, sizeof(tmp)), 0);

	ASSERT_OK(zr_journal_append(&j, "hello", 5));
	ASSERT_TRUE(zr_journal_readable(&j, &r.c, 0));
	ASSERT_EQ_SIZE(zr_journal_read(&j, &r.c, 0, tmp, 0), 0);
	ASSERT_EQ_SIZE(zr_journal_read(&j, &r.c, 0, tmp, sizeof(tmp)), 6);
	ASSERT_EQ_MEM(tmp, 6, "hello\n", 6);
	ASSERT_EQ_U64(r.c.line, 1);
	ASSERT_FALSE(zr_journal_readable(&j, &r.c, 6));
	ASSERT_EQ_SIZE(zr_journal_read(&j, &r.c, 6, tmp, sizeof(tmp)), 0);
	/* Past the end (a stale offset) reads nothing. */
	ASSERT_FALSE(zr_journal_readable(&j, &r.c, 100));
	ASSERT_EQ_SIZE(zr_journal_read(&j, &r.c, 100, tmp, sizeof(tmp)), 0);

	/* Re-reading from the middle works as for a file. */
	ASSERT_EQ_SIZE(zr_journal_read(&j, &r.c, 2, tmp, 2), 2);
	ASSERT_EQ_MEM(tmp, 2, "ll", 2);

	ASSERT_OK(zr_journal_append(&j, "world", 5));
	ASSERT_TRUE(zr_journal_readable(&j, &r.c, 6));
	ASSERT_EQ_SIZE(zr_journal_read(&j, &r.c, 6, tmp, sizeof(tmp)), 6);
	ASSERT_EQ_MEM(tmp, 6, "world\n", 6);
	ASSERT_EQ_U64(r.c.skew, 0);
	zr_journal_done(&j);
}

TEST(drops_whole_lines_at_bound)
{
	static const struct step steps[] = {
		{"aaaa", "aaaa\n", 0, 5, 0, 1},
		/* Exactly at the bound: nothing dropped. */
		{"bbbb", "aaaa\nbbbb\n", 0, 10, 0, 2},
		{"c", "bbbb\nc\n", 5, 12, 1, 3},
		/* Only as many old lines go as needed. */
		{"ddddddd", "c\nddddddd\n", 10, 20, 2, 4},
		/* One line that needs two old lines gone. */
		{"eeeeeeee", "eeeeeeee\n", 20, 29, 4, 5},
		/* Several lines in one append drop each other. */
		{"1\n22\n333\n4444\n", "333\n4444\n", 34, 43, 7, 9},
	};
	run_steps(10, steps, sizeof(steps) / sizeof(steps[0]));
}

TEST(line_longer_than_bound)
{
	static const struct step steps[] = {
		{"ab", "ab\n", 0, 3, 0, 1},
		/* Cut to max_bytes, still a whole line, and it pushed out everything before it. */
		{"0123456789abcdef", "0123456\n", 3, 3 + 8, 1, 2},
		/* Exactly max_bytes with its newline is not cut. */
		{"ABCDEFG", "ABCDEFG\n", 11, 19, 2, 3},
		/* A long line in the middle of a multi-line append. */
		{"x\nyyyyyyyyyyyyyyyy\nz", "z\n", 29, 31, 5, 6},
	};
	run_steps(8, steps, sizeof(steps) / sizeof(steps[0]));

	/* The smallest bound: every line is just its newline. */
	run_steps(1, &(struct step){"abc\nd", "\n", 1, 2, 1, 2}, 1);
}

TEST(lost_for_reader_at_zero)
{
	struct zr_journal j;
	zr_journal_init(&j, 9);
	for (int i = 0; i < 7; i++) {
		ASSERT_OK(zr_journal_appendf(&j, "L%d", i)); /* 3 bytes each */
	}
	ASSERT_EQ_U64(j.first_line, 4);
	ASSERT_EQ_U64(j.base, 12);

	struct reader r = {0};
	ASSERT_TRUE(zr_journal_readable(&j, &r.c, 0));
	ASSERT_READS(&j, &r, 4096, "lost 4\nL4\nL5\nL6\n");
	ASSERT_EQ_U64(r.off, 16);
	/* The file offset maps onto the logical end after the jump. */
	ASSERT_EQ_U64(r.off + r.c.skew, j.end);
	ASSERT_EQ_U64(r.c.line, 7);

	/* Keeping up afterwards: no further "lost" line, only new lines. */
	ASSERT_OK(zr_journal_append(&j, "L7", 2));
	ASSERT_READS(&j, &r, 4096, "L7\n");
	zr_journal_done(&j);
}

TEST(lost_for_slow_reader)
{
	struct zr_journal j;
	journal_init_with(&j, 12, "a0\na1\na2"); /* 9 bytes, nothing dropped */
	struct reader r = {0};
	char tmp[64];
	/* Read the first line and half the second. */
	ASSERT_EQ_SIZE(zr_journal_read(&j, &r.c, r.off, tmp, 4), 4);
	ASSERT_EQ_MEM(tmp, 4, "a0\na", 4);
	r.off += 4;
	ASSERT_EQ_U64(r.c.line, 1);

	/* Now a1..a2 and b0..b2 go: the reader saw a0 only (a1 only partly). */
	for (int i = 0; i < 7; i++) {
		ASSERT_OK(zr_journal_appendf(&j, "b%d", i));
	}
	ASSERT_EQ_U64(j.first_line, 6);
	ASSERT_TRUE(zr_journal_readable(&j, &r.c, r.off));

	/* Small reads, the first just big enough for the whole "lost" line. */
	ASSERT_READS(&j, &r, 7, "lost 5\nb3\nb4\nb5\nb6\n");
	zr_journal_done(&j);
}

TEST(lost_line_cut_when_it_does_not_fit)
{
	struct zr_journal j;
	zr_journal_init(&j, 6);
	for (int i = 0; i < 12; i++) {
		ASSERT_OK(zr_journal_appendf(&j, "%c%c", 'a' + i, 'a' + i));
	}
	ASSERT_EQ_U64(j.first_line, 10);
	struct reader r = {0};
	char tmp[8];
	ASSERT_EQ_SIZE(zr_journal_read(&j, &r.c, 0, tmp, 3), 3);
	ASSERT_EQ_MEM(tmp, 3, "los", 3);
	r.off = 3;
	/* The rest of the line is skipped: the next read continues at the retained window. */
	ASSERT_READS(&j, &r, 1, "kk\nll\n");
	zr_journal_done(&j);
}

TEST(no_lost_when_only_seen_lines_dropped)
{
	struct zr_journal j;
	journal_init_with(&j, 9, "x1\nx2\nx3");
	struct reader r = {0};
	ASSERT_READS(&j, &r, 2, "x1\nx2\nx3\n");
	/* Drops exactly the three seen lines. */
	ASSERT_OK(zr_journal_append(&j, "y1\ny2\ny3", 8));
	ASSERT_EQ_U64(j.base, 9);
	ASSERT_READS(&j, &r, 2, "y1\ny2\ny3\n");
	/* And now one unseen line is dropped with two seen ones. */
	ASSERT_OK(zr_journal_append(&j, "z1\nz2\nz3\nz4", 11));
	ASSERT_READS(&j, &r, 8, "lost 1\nz2\nz3\nz4\n");
	zr_journal_done(&j);
}

TEST(rereading_from_zero_after_drops)
{
	/* A reader that saw everything and then seeks back to 0 resumes at the window without a
	 * "lost" line: it already saw the dropped lines. */
	struct zr_journal j;
	zr_journal_init(&j, 6);
	struct reader r = {0};
	struct zr_buf out = {0};
	for (int i = 0; i < 5; i++) {
		ASSERT_OK(zr_journal_appendf(&j, "%d%d", i, i));
		read_all(&j, &r, 64, &out);
	}
	ASSERT_EQ_STR(out.data, "00\n11\n22\n33\n44\n");
	zr_buf_done(&out);
	r.off = 0;
	ASSERT_READS(&j, &r, 64, "33\n44\n");
	zr_journal_done(&j);
}

/* A deterministic line generator: lengths 0..40, varied content. */
static size_t make_line(unsigned i, char *dst)
{
	size_t n = (i * 7919u) % 41u;
	for (size_t k = 0; k < n; k++) {
		dst[k] = (char)('!' + (i + k * 3) % 90);
	}
	return n;
}

TEST(small_chunks_reassemble_without_drops)
{
	struct zr_journal j;
	zr_journal_init(&j, 1 << 20);
	struct zr_buf want = {0};
	char line[64];
	for (unsigned i = 0; i < 2000; i++) {
		size_t n = make_line(i, line);
		ASSERT_OK(zr_journal_append(&j, line, n));
		ASSERT_OK(zr_buf_append(&want, line, n));
		ASSERT_OK(zr_buf_append(&want, "\n", 1));
		check_journal(&j);
	}
	ASSERT_EQ_U64(j.end, want.len);
	for (size_t chunk = 1; chunk <= 7; chunk++) {
		struct reader r = {0};
		struct zr_buf got = {0};
		read_all(&j, &r, chunk, &got);
		ASSERT_EQ_MEM(got.data, got.len, want.data, want.len);
		ASSERT_EQ_U64(r.c.line, 2000);
		ASSERT_EQ_U64(r.c.skew, 0);
		zr_buf_done(&got);
	}
	zr_buf_done(&want);
	zr_journal_done(&j);
}

TEST(follower_across_compaction)
{
	/* Far more bytes than the bound go through: the window is dropped from and compacted many
	 * times. A reader that reads (in small chunks) after every append never loses anything
	 * and sees exactly the appended stream; the window always equals the stream's tail. */
	struct zr_journal j;
	zr_journal_init(&j, 100);
	struct zr_buf want = {0}, got = {0}, win = {0};
	struct reader r = {0};
	char line[128];
	size_t compactions = 0;
	for (unsigned i = 0; i < 5000; i++) {
		size_t before = j.start;
		size_t n = make_line(i, line);
		/* Every fifth append carries two lines at once. */
		if (i % 5 == 0) {
			line[n++] = '\n';
			n += make_line(i + 1, line + n);
		}
		ASSERT_OK(zr_journal_append(&j, line, n));
		ASSERT_OK(zr_buf_append(&want, line, n));
		/* A text that already ends in '\n' (second line empty) gets no other. */
		if (n == 0 || line[n - 1] != '\n') {
			ASSERT_OK(zr_buf_append(&want, "\n", 1));
		}
		check_journal(&j);
		if (j.start < before && j.end > j.base) {
			compactions++;
		}
		read_all(&j, &r, 1 + i % 4, &got);
		window(&j, &win);
		ASSERT_EQ_MEM(win.data, win.len, want.data + want.len - win.len, win.len);
	}
	ASSERT_EQ_MEM(got.data, got.len, want.data, want.len);
	ASSERT_EQ_U64(r.c.skew, 0);
	ASSERT_EQ_U64(j.end, want.len);
	ASSERT_GT_SIZE(compactions, 10);
	ASSERT_GT_INT(j.first_line, 1000);
	zr_buf_done(&want);
	zr_buf_done(&got);
	zr_buf_done(&win);
	zr_journal_done(&j);
}

/* Consumes the complete lines in text: "lost N" lines add N to *lost (a line cut by a drop
 * may come first on the same line), "line K" lines count as read. */
static void count_lines(struct zr_buf *text, uint64_t *read, uint64_t *lost, uint64_t *losts)
{
	char *nl;
	while (text->len > 0 && (nl = memchr(text->data, '\n', text->len))) {
		*nl = '\0';
		const char *l = strstr(text->data, "lost ");
		unsigned long long k;
		unsigned u;
		if (l) {
			ASSERT_EQ_INT(sscanf(l, "lost %llu", &k), 1);
			*lost += k;
			(*losts)++;
		} else {
			ASSERT_EQ_INT(sscanf(text->data, "line %u", &u), 1);
			(*read)++;
		}
		zr_buf_consume(text, (size_t)(nl - text->data) + 1);
	}
}

TEST(lagging_reader_counts_lost_lines)
{
	/* A reader that reads one chunk every few appends: whenever it falls behind it gets
	 * "lost N", and the lines it gets plus the N add up to every line ever appended. */
	struct zr_journal j;
	zr_journal_init(&j, 50);
	struct reader r = {0};
	char line[64];
	uint64_t lines_read = 0, lost = 0, losts = 0;
	struct zr_buf text = {0};
	for (unsigned i = 0; i < 3000; i++) {
		size_t n = (size_t)snprintf(line, sizeof(line), "line %u", i);
		ASSERT_OK(zr_journal_append(&j, line, n));
		if (i % 7 != 0) {
			continue;
		}
		char tmp[16];
		size_t got = zr_journal_read(&j, &r.c, r.off, tmp, sizeof(tmp));
		r.off += got;
		ASSERT_OK(zr_buf_append(&text, tmp, got));
		count_lines(&text, &lines_read, &lost, &losts);
	}
	ASSERT_GT_INT(losts, 10);
	read_all(&j, &r, 16, &text);
	count_lines(&text, &lines_read, &lost, &losts);
	ASSERT_EQ_SIZE(text.len, 0);
	/* A line the reader was in the middle of when it was dropped is counted as lost, and its
	 * start was read: at most one such line per "lost". */
	ASSERT_GE_INT(lines_read + lost, 3000);
	ASSERT_LE_INT(lines_read + lost, 3000 + losts);
	ASSERT_EQ_U64(r.c.line, 3000);
	zr_buf_done(&text);
	zr_journal_done(&j);
}

struct wake_count {
	struct zr_waiter w;
	int woken;
};

static void on_wake(struct zr_waiter *w)
{
	container_of(w, struct wake_count, w)->woken++;
}

TEST(waitq_and_mtime)
{
	struct zr_journal j;
	zr_journal_init(&j, 100);
	ASSERT_GT_INT(j.mtime_ns, 0);
	j.mtime_ns = 1; /* so the append's update is visible */
	struct wake_count a = {0}, b = {0};
	zr_waiter_init(&a.w, on_wake);
	zr_waiter_init(&b.w, on_wake);
	zr_waitq_add(&j.waitq, &a.w);
	zr_waitq_add(&j.waitq, &b.w);
	ASSERT_OK(zr_journal_append(&j, "x", 1));
	ASSERT_EQ_INT(a.woken, 1);
	ASSERT_EQ_INT(b.woken, 1);
	ASSERT_GT_INT(j.mtime_ns, 1);
	/* Waiters are one-shot: the next append wakes only those queued again. */
	zr_waitq_add(&j.waitq, &a.w);
	ASSERT_OK(zr_journal_appendf(&j, "%s", "y"));
	ASSERT_EQ_INT(a.woken, 2);
	ASSERT_EQ_INT(b.woken, 1);
	/* done() leaves a still-queued waiter unlinked, so removing it later is safe. */
	zr_waitq_add(&j.waitq, &b.w);
	zr_journal_done(&j);
	zr_waiter_remove(&b.w);
	ASSERT_TRUE(zr_list_empty(&b.w.link));
}

int main(void)
{
	RUN_TEST(lines_and_newlines);
	RUN_TEST(read_from_start);
	RUN_TEST(drops_whole_lines_at_bound);
	RUN_TEST(line_longer_than_bound);
	RUN_TEST(lost_for_reader_at_zero);
	RUN_TEST(lost_for_slow_reader);
	RUN_TEST(lost_line_cut_when_it_does_not_fit);
	RUN_TEST(no_lost_when_only_seen_lines_dropped);
	RUN_TEST(rereading_from_zero_after_drops);
	RUN_TEST(small_chunks_reassemble_without_drops);
	RUN_TEST(follower_across_compaction);
	RUN_TEST(lagging_reader_counts_lost_lines);
	RUN_TEST(waitq_and_mtime);
	return 0;
}
