/* outlog.c on a real file with real writers: lines split (a partial last line waits, a line
 * over 16 KiB is cut), timestamped in the journal, the tail, 1 MB written fast by a process, the
 * disk usage bounded while 50 MB pass through, and a reopen that continues where the last run
 * stopped. Built twice: test-outlog-trunc acts as if holes could not be punched. */
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "journal.h"
#include "outlog.h"
#include "test.h"

extern char **environ;

#define JOURNAL_MAX (256 * 1024)

struct seen {
	char **lines;
	size_t n, cap;
	size_t bytes;
	bool keep; /* false: only count (the 50 MB case) */
};

static uv_loop_t loop;
static uv_timer_t tick;

static void on_line(const char *line, size_t len, void *data)
{
	struct seen *s = data;
	ASSERT_NULL(memchr(line, '\n', len));
	s->bytes += len + 1;
	if (s->keep) {
		if (s->n == s->cap) {
			s->cap = s->cap ? 2 * s->cap : 64;
			s->lines = realloc(s->lines, s->cap * sizeof(*s->lines));
			ASSERT_NOT_NULL(s->lines);
		}
		s->lines[s->n] = strndup(line, len);
		ASSERT_NOT_NULL(s->lines[s->n]);
	}
	s->n++;
}

static void seen_clear(struct seen *s)
{
	for (size_t i = 0; s->keep && i < s->n; i++) {
		free(s->lines[i]);
	}
	free(s->lines);
	*s = (struct seen){ .keep = true };
}

static char *tmp_path(const char *name)
{
	char *p = test_strf("%s/outlog-%d-%s", test_tmp_dir(), (int)getpid(), name);
	(void)unlink(p);
	return p;
}

/* Appends text through an fd of its own, as the server's O_APPEND stdout would. */
static void append(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_GE_INT(fd, 0);
	ASSERT_EQ_INT(write(fd, text, len), (long long)len);
	ASSERT_EQ_INT(close(fd), 0);
}
#define APPEND(path, lit) append((path), (lit), sizeof(lit) - 1)

static struct zr_outlog *open_log(const char *path, struct seen *s)
{
	struct zr_outlog *o = NULL;
	ASSERT_OK(zr_outlog_open(&loop, path, JOURNAL_MAX, on_line, s, &o));
	ASSERT_NOT_NULL(o);
	return o;
}

/* Closes o and lets its handles go. */
static void close_log(struct zr_outlog *o)
{
	zr_outlog_close(o);
	ASSERT_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
}

/* The journal's text, copied. */
static char *journal_text(struct zr_outlog *o)
{
	const struct zr_journal *j = zr_outlog_journal(o);
	return strndup(j->ring ? j->ring + j->start : "", (size_t)(j->end - j->base));
}

TEST(lines_partial_and_stamps)
{
	char *path = tmp_path("lines");
	struct seen s = { .keep = true };
	struct zr_outlog *o = open_log(path, &s);
	struct stat st;
	ASSERT_EQ_INT(stat(path, &st), 0);
	ASSERT_EQ_INT(st.st_mode & 0777, 0600);

	APPEND(path, "one\ntwo\nthr");
	TEST_RUN_UNTIL(&loop, &tick, s.n == 2, "two lines: %zu", s.n);
	ASSERT_EQ_STR(s.lines[0], "one");
	ASSERT_EQ_STR(s.lines[1], "two");
	/* The partial line waits, through a fallback tick too. */
	uint64_t t0 = uv_now(&loop);
	TEST_RUN_UNTIL(&loop, &tick, uv_now(&loop) - t0 > 1100, "time");
	ASSERT_EQ_SIZE(s.n, 2);
	APPEND(path, "ee\n\n");
	TEST_RUN_UNTIL(&loop, &tick, s.n == 4, "four lines: %zu", s.n);
	ASSERT_EQ_STR(s.lines[2], "three");
	ASSERT_EQ_STR(s.lines[3], "");

	/* Each journal line is "TIME LINE". */
	char *text = journal_text(o);
	ASSERT_EQ_INT(strlen(text), 4 * 25 + strlen("one\ntwo\nthree\n\n"));
	const char *p = text;
	const char *want[] = { "one", "two", "three", "" };
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ_INT(p[4], '-');
		ASSERT_EQ_INT(p[10], 'T');
		ASSERT_EQ_INT(p[19], '.');
		ASSERT_EQ_INT(p[23], 'Z');
		ASSERT_EQ_INT(p[24], ' ');
		ASSERT_EQ_INT(strncmp(p, "20", 2), 0);
		ASSERT_EQ_INT(strncmp(p + 25, want[i], strlen(want[i])), 0);
		p = strchr(p, '\n') + 1;
	}
	free(text);

	/* The tail, without stamps, appended to what the buffer holds. */
	char *buf = strdup("exited with code 1\n");
	ASSERT_OK(zr_outlog_tail(o, 2, &buf));
	ASSERT_EQ_STR(buf, "exited with code 1\nthree\n\n");
	free(buf);
	buf = NULL;
	ASSERT_OK(zr_outlog_tail(o, 10, &buf));
	ASSERT_EQ_STR(buf, "one\ntwo\nthree\n\n");
	free(buf);
	buf = NULL;
	ASSERT_OK(zr_outlog_tail(o, 0, &buf));
	ASSERT_EQ_STR(buf, "");
	free(buf);

	/* A last line without '\n' comes in when the supervisor polls at the writer's exit. */
	APPEND(path, "no newline");
	zr_outlog_poll(o);
	ASSERT_EQ_SIZE(s.n, 5);
	ASSERT_EQ_STR(s.lines[4], "no newline");
	close_log(o);
	seen_clear(&s);
	free(path);
}

TEST(long_line_cut)
{
	char *path = tmp_path("long");
	struct seen s = { .keep = true };
	struct zr_outlog *o = open_log(path, &s);
	size_t big = 40000;
	char *x = malloc(big + 1);
	memset(x, 'x', big);
	x[big] = '\n';
	/* In two writes, so that the cut happens across reads. */
	append(path, x, 10000);
	uint64_t t0 = uv_now(&loop);
	TEST_RUN_UNTIL(&loop, &tick, uv_now(&loop) - t0 > 50, "time");
	append(path, x + 10000, big + 1 - 10000);
	APPEND(path, "after\n");
	/* Exactly the limit is not cut. */
	append(path, x, 16384);
	APPEND(path, "\n");
	TEST_RUN_UNTIL(&loop, &tick, s.n == 3, "three lines: %zu", s.n);
	ASSERT_EQ_SIZE(strlen(s.lines[0]), 16384);
	ASSERT_EQ_INT(strspn(s.lines[0], "x"), 16384);
	ASSERT_EQ_STR(s.lines[1], "after");
	ASSERT_EQ_SIZE(strlen(s.lines[2]), 16384);
	free(x);
	close_log(o);
	seen_clear(&s);
	free(path);
}

/* Starts cmd through the launcher with its output in path. */
static pid_t launch(const char *path, const char *cmd)
{
	const char *exec = getenv("ZR_EXEC");
	ASSERT_NOT_NULL(exec);
	char *argv[] = { (char *)exec, "--log", (char *)path, "--", "sh", "-c", (char *)cmd, NULL };
	pid_t pid;
	ASSERT_OK(posix_spawn(&pid, exec, NULL, NULL, argv, environ));
	return pid;
}

static bool exited(pid_t pid)
{
	int status;
	pid_t r = waitpid(pid, &status, WNOHANG);
	ASSERT_GE_INT(r, 0);
	if (r == pid) {
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ_INT(WEXITSTATUS(status), 0);
	}
	return r == pid;
}

/* A server writing 1 MB as fast as it can (seq), then a last line without '\n'. */
TEST(writer_process_fast)
{
	char *path = tmp_path("fast");
	struct seen s = { .keep = true };
	struct zr_outlog *o = open_log(path, &s);
	pid_t pid = launch(path, "seq 1 160000; printf 'bye'");
	TEST_RUN_UNTIL(&loop, &tick, exited(pid), "the writer did not exit");
	zr_outlog_poll(o);
	ASSERT_EQ_SIZE(s.n, 160001);
	for (size_t i = 0; i < 160000; i++) {
		char want[16];
		snprintf(want, sizeof(want), "%zu", i + 1);
		TEST_CASE("line %zu", i);
		ASSERT_EQ_STR(s.lines[i], want);
	}
	TEST_CASE_END();
	ASSERT_EQ_STR(s.lines[160000], "bye");
	ASSERT_GT_SIZE(s.bytes, 1000000);
	/* The journal keeps its bound, whole lines, the newest last. */
	const struct zr_journal *j = zr_outlog_journal(o);
	ASSERT_LE_SIZE((size_t)(j->end - j->base), JOURNAL_MAX);
	ASSERT_EQ_U64(j->lines, 160001);
	char *tail = NULL;
	ASSERT_OK(zr_outlog_tail(o, 2, &tail));
	ASSERT_EQ_STR(tail, "160000\nbye\n");
	free(tail);
	close_log(o);
	seen_clear(&s);
	free(path);
}

/* 50 MB in 1 MB writes: once each is read, the file takes next to nothing on disk. */
TEST(disk_bounded)
{
	char *path = tmp_path("bounded");
	struct seen s = { .keep = false };
	struct zr_outlog *o = open_log(path, &s);
	size_t mb = 1 << 20;
	char *chunk = malloc(mb);
	for (size_t i = 0; i < mb; i += 128) {
		memset(chunk + i, 'a' + (int)(i / 128 % 26), 127);
		chunk[i + 127] = '\n';
	}
	unsigned long long worst = 0;
	for (int round = 1; round <= 50; round++) {
		append(path, chunk, mb);
		TEST_RUN_UNTIL(&loop, &tick, s.bytes == (size_t)round * mb, "round %d: %zu bytes",
			       round, s.bytes);
		struct stat st;
		ASSERT_EQ_INT(stat(path, &st), 0);
		unsigned long long used = (unsigned long long)st.st_blocks * 512;
		worst = used > worst ? used : worst;
		TEST_CASE("round %d", round);
		ASSERT_LE_INT(used, 64 * 1024);
	}
	TEST_CASE_END();
	ASSERT_EQ_SIZE(s.n, 50 * mb / 128);
	fprintf(stderr, "50 MB through: at most %llu bytes on disk after each read\n", worst);
	free(chunk);
	close_log(o);
	seen_clear(&s);
	free(path);
}

/* Four runs over one file, with output written while no robot reads it: every line once. */
TEST(reopen_continues)
{
	char *path = tmp_path("reopen");
	struct seen s = { .keep = true };
	/* 64 lines of 64 bytes fill exactly one 4 KiB block, then a partial line. */
	for (int i = 0; i < 64; i++) {
		char line[65];
		snprintf(line, sizeof(line), "%063d\n", i);
		append(path, line, 64);
	}
#ifndef ZR_OUTLOG_NO_PUNCH
	APPEND(path, "par");
#endif
	struct zr_outlog *o = open_log(path, &s);
	TEST_RUN_UNTIL(&loop, &tick, s.n == 64, "64 lines: %zu", s.n);
	close_log(o);

	/* Without holes a partial line left at close cannot be told from what was read (the file
	 * is only truncated once whole lines are read), so that build has none pending here. */
#ifndef ZR_OUTLOG_NO_PUNCH
	APPEND(path, "tial\nsecond run\nmid");
#else
	APPEND(path, "partial\nsecond run\nmid");
#endif
	o = open_log(path, &s);
	TEST_RUN_UNTIL(&loop, &tick, s.n == 66, "66 lines: %zu", s.n);
	ASSERT_EQ_STR(s.lines[64], "partial");
	ASSERT_EQ_STR(s.lines[65], "second run");
	APPEND(path, "dle\n");
	TEST_RUN_UNTIL(&loop, &tick, s.n == 67, "67 lines: %zu", s.n);
	ASSERT_EQ_STR(s.lines[66], "middle");
	uint64_t t0;
	/* This time the partial line starts inside a block the punch ends in. */
#ifndef ZR_OUTLOG_NO_PUNCH
	APPEND(path, "pending");
	t0 = uv_now(&loop);
	TEST_RUN_UNTIL(&loop, &tick, uv_now(&loop) - t0 > 50, "time");
	close_log(o);
	APPEND(path, " line\nthird run\n");
#else
	close_log(o);
	APPEND(path, "pending line\nthird run\n");
#endif
	o = open_log(path, &s);
	TEST_RUN_UNTIL(&loop, &tick, s.n == 69, "69 lines: %zu", s.n);
	ASSERT_EQ_STR(s.lines[67], "pending line");
	ASSERT_EQ_STR(s.lines[68], "third run");
	/* Everything was read: nothing comes again. */
	close_log(o);
	o = open_log(path, &s);
	t0 = uv_now(&loop);
	TEST_RUN_UNTIL(&loop, &tick, uv_now(&loop) - t0 > 1100, "time");
	ASSERT_EQ_SIZE(s.n, 69);
	for (int i = 0; i < 64; i++) {
		char want[65];
		snprintf(want, sizeof(want), "%063d", i);
		ASSERT_EQ_STR(s.lines[i], want);
	}
	close_log(o);
	seen_clear(&s);
	free(path);
}

/* A new file in the old one's place (deleted, then made again by the next start) is followed. */
TEST(replaced_file)
{
	char *path = tmp_path("replaced");
	struct seen s = { .keep = true };
	struct zr_outlog *o = open_log(path, &s);
	APPEND(path, "old\nold end");
	TEST_RUN_UNTIL(&loop, &tick, s.n == 1, "one line: %zu", s.n);
	ASSERT_EQ_INT(unlink(path), 0);
	APPEND(path, "new\n");
	TEST_RUN_UNTIL(&loop, &tick, s.n == 3, "three lines: %zu", s.n);
	ASSERT_EQ_STR(s.lines[1], "old end");
	ASSERT_EQ_STR(s.lines[2], "new");
	close_log(o);
	seen_clear(&s);
	free(path);
}

/* A writer that appends short lines faster than they can be parsed and never stops (a
 * double-forked child of a server that just exited): zr_outlog_poll reads what the file held
 * when it was called and returns, rather than chasing the writer for good. */
TEST(poll_bounded_under_flood)
{
	char *path = tmp_path("flood");
	struct seen s = { .keep = false };
	struct zr_outlog *o = open_log(path, &s);
	pid_t pid = fork();
	ASSERT_GE_INT(pid, 0);
	if (pid == 0) {
		/* The writer goes with the test, even one SIGALRM ended. */
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* 64 KiB of "y\n" every 4 ms: 16 MB/s, 8 million lines a second. */
		static char buf[64 * 1024];
		for (size_t i = 0; i < sizeof(buf); i += 2) {
			buf[i] = 'y';
			buf[i + 1] = '\n';
		}
		int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
		for (;;) {
			if (fd < 0 || write(fd, buf, sizeof(buf)) < 0) {
				_exit(1);
			}
			(void)usleep(4000);
		}
	}
	(void)usleep(100 * 1000);
	/* A poll that chases the writer never returns: SIGALRM ends the test as a failure. */
	(void)alarm(20);
	zr_outlog_poll(o);
	(void)alarm(0);
	ASSERT_EQ_INT(kill(pid, SIGKILL), 0);
	ASSERT_EQ_INT(waitpid(pid, NULL, 0), pid);
	ASSERT_GT_SIZE(s.bytes, 0);
	close_log(o);
	seen_clear(&s);
	free(path);
}

/* 40 MB left unread (written while no robot ran, or faster than lines parse): beyond 16 MiB
 * unread, the output is skipped with a line saying so; the disk and the robot's time stay
 * bounded, and what comes after is read as usual. */
TEST(backlog_skipped)
{
	char *path = tmp_path("backlog");
	size_t mb = 1 << 20;
	char *chunk = malloc(mb);
	ASSERT_NOT_NULL(chunk);
	for (size_t i = 0; i < mb; i += 128) {
		memset(chunk + i, 'a', 127);
		chunk[i + 127] = '\n';
	}
	for (int i = 0; i < 40; i++) {
		append(path, chunk, mb);
	}
	struct seen s = { .keep = true };
	struct zr_outlog *o = open_log(path, &s);
	zr_outlog_poll(o);
	ASSERT_EQ_SIZE(s.n, 1);
	ASSERT_EQ_STR(s.lines[0], "zrobot: 41943040 bytes of output skipped (written faster than read)");
	struct stat st;
	ASSERT_EQ_INT(stat(path, &st), 0);
	ASSERT_LE_INT((long long)st.st_blocks * 512, 64 * 1024);
	APPEND(path, "after\n");
	TEST_RUN_UNTIL(&loop, &tick, s.n == 2, "the line after: %zu", s.n);
	ASSERT_EQ_STR(s.lines[1], "after");
	char *j = journal_text(o);
	ASSERT_NOT_NULL(strstr(j, "bytes of output skipped"));
	free(j);
	free(chunk);
	close_log(o);
	seen_clear(&s);
	free(path);
}

int main(void)
{
	ASSERT_OK(uv_loop_init(&loop));
	ASSERT_OK(uv_timer_init(&loop, &tick));
	RUN_TEST(lines_partial_and_stamps);
	RUN_TEST(long_line_cut);
	RUN_TEST(writer_process_fast);
	RUN_TEST(disk_bounded);
	RUN_TEST(reopen_continues);
	RUN_TEST(replaced_file);
	RUN_TEST(poll_bounded_under_flood);
	RUN_TEST(backlog_skipped);
	uv_close((uv_handle_t *)&tick, NULL);
	ASSERT_EQ_INT(uv_run(&loop, UV_RUN_DEFAULT), 0);
	ASSERT_OK(uv_loop_close(&loop));
	return 0;
}
