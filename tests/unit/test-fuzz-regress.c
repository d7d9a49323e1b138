/* Inputs the fuzz harnesses (tests/fuzz/), or the review of what they found, showed to crash
 * or exhaust the robot, or to be misread, each checked to be refused or read right now. */
#include <time.h>

#include "ctl-line.h"
#include "remote/remote-internal.h"
#include "schema.h"
#include "util/lines.h"

#include "test-helpers.h"
#include "test.h"

/* 200 '|': a group of 201 empty alternatives once in parentheses. */
#define EMPTY_ALTS                                                                       \
	"||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||" \
	"||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||||" \
	"||||||||||||||||||||||||||||||||"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses {"p": {"type": "string", "pattern": pattern}} and asserts it is refused as too
 * complex, well before regcomp could have spent its time. */
static void pattern_refused(const char *pattern)
{
	json_t *fields = json_pack("{s{ss ss}}", "p", "type", "string", "pattern", pattern);
	ASSERT_NOT_NULL(fields);
	struct zr_schema *s = NULL;
	char *err = NULL;
	double t0 = now();
	ASSERT_EQ_INT(zr_schema_parse(fields, NULL, &s, &err), -EINVAL);
	ASSERT_LT_INT((long long)((now() - t0) * 1000), 1000);
	ASSERT_NULL(s);
	ASSERT_EQ_STR(err, "field 'p.pattern': too complex (nests or repeats too much)");
	free(err);
	json_decref(fields);
}

/* 30,000 nested groups: regcomp recursed once per group and overflowed the stack (SIGSEGV
 * while loading the template). */
TEST(pattern_deep_groups)
{
	char *p = nested_groups(30000);
	pattern_refused(p);
	free(p);
}

/* A 70-byte pattern whose 22 nested "+" double the tree at each level: regcomp took 3.5 GB and
 * 24 s; at 30 levels it exhausts the machine. The same through an interval and a '+' chain. */
TEST(pattern_exponential)
{
	char p[128] = "";
	for (int i = 0; i < 22; i++) {
		strcat(p, "(");
	}
	strcat(p, "a");
	for (int i = 0; i < 22; i++) {
		strcat(p, ")+");
	}
	pattern_refused(p);
	pattern_refused("a++++++++++++++++++++++++++++++");
	pattern_refused("(a{3000}){3000}");
	pattern_refused("((a{255}){255}){255}");
	/* glibc's own "{,n}" ("{0,n}"), which a first version of the estimate took for text. */
	pattern_refused("(a{,1000}){,1000}");
}

/* fuzz-schema's first finding (a timeout): 12 nested "(...)+" around an empty group, under the
 * size limit as a tree but 10 s in regcomp, which computes the epsilon closures of loops over
 * what can match "" again and again. Also such loops side by side, and over anchors, where
 * glibc's time grows exponentially with their number. */
TEST(pattern_empty_loops)
{
	pattern_refused("(((((((((((()+)+)+)+)+)+)+)+)+)+)+)+");
	pattern_refused("(()*){2000}");
	pattern_refused("((a?)+){1000}");
	pattern_refused("((a?){0,20}*){200}");
	pattern_refused("(\\b)*{14}");
	pattern_refused("(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*");
	/* Its second (a timeout too): the loops need only an anchor next to them. */
	pattern_refused("^2***********++ect");
}

/* fuzz-schema's third to fifth findings (timeouts), and what a search of the estimate's
 * blind spots found next to them: loops over something with many ways to match "" (a group
 * of empty alternatives, a chain of '?'), which glibc's epsilon closures follow one by one,
 * or over many elements that can match "": 10 s in regcomp for (|||...|)+ with 60 empty
 * alternatives nested three deep, minutes for the fourth finding, 3 s for (0*?){12}+, 8 s
 * for a?{1100}+, all under the estimate's limit then. */
TEST(pattern_empty_ways)
{
	char p[4096];
	pattern_refused("(((|||||||||)+)+)++)+");
	pattern_refused("()+++0*????????????????????????????????????????????????????????????????????"
			"+++1++iii+");
	pattern_refused("0*?{12}+");
	pattern_refused("a?{1100}+");
	/* The fifth, 35 s: what can match "" before a loop leads into it. Also through copies. */
	pattern_refused("()+++0++++???????????????????`??????????\x21?????????????????????????????"
			"?????????????????????????????????????????????`????????????????????????"
			"?????+");
	pattern_refused("1??{22,}");
	snprintf(p, sizeof(p), "(((%.60s)+)+)+", EMPTY_ALTS);
	pattern_refused(p);
	snprintf(p, sizeof(p), "((%.200s)+)+", EMPTY_ALTS);
	pattern_refused(p);
	p[0] = '(';
	memset(p + 1, '|', 1000);
	strcpy(p + 1001, ")+");
	pattern_refused(p);
	strcpy(p, "(((a?");
	for (int i = 0; i < 60; i++) {
		strcat(p, "|a?");
	}
	strcat(p, ")+)+)+");
	pattern_refused(p);
}

/* Patterns of real size still load and match. */
TEST(pattern_accepted)
{
	json_t *fields = json_pack("{s{ss ss}}", "host", "type", "string", "pattern",
				   "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$");
	ASSERT_NOT_NULL(fields);
	struct zr_schema *s = NULL;
	ASSERT_OK(zr_schema_parse(fields, NULL, &s, NULL));
	json_t *ok = json_pack("{ss}", "host", "db-1"), *bad = json_pack("{ss}", "host", "-db");
	json_t *out = NULL;
	ASSERT_OK(zr_schema_apply(s, ok, 0, &out, NULL));
	json_decref(out);
	ASSERT_EQ_INT(zr_schema_apply(s, bad, 0, &out, NULL), -EINVAL);
	json_decref(ok);
	json_decref(bad);
	zr_schema_free(s);
	json_decref(fields);
}

struct lines_seen {
	char text[256]; /* the lines, each followed by '|' */
	size_t n;
};

static void on_line(const char *line, size_t len, void *data)
{
	struct lines_seen *ls = data;
	ASSERT_LT_SIZE(strlen(ls->text) + len + 1, sizeof(ls->text));
	strncat(ls->text, line, len);
	strcat(ls->text, "|");
	ls->n++;
}

/* fuzz-ctl: a line cut at the cap in one chunk of a pipe read had the rest of it, in the next
 * chunk, taken for a line of its own (an fd 3 command, a log line). */
TEST(lines_cut_across_chunks)
{
	struct lines_seen seen = {0};
	struct zr_lines l;
	zr_lines_init(&l, 8);
	zr_lines_feed(&l, "0123456789", 10, on_line, &seen);
	zr_lines_feed(&l, "progress 1 2\nok\n", 16, on_line, &seen);
	zr_lines_flush(&l, on_line, &seen);
	zr_lines_done(&l);
	ASSERT_EQ_STR(seen.text, "01234567|ok|");
	ASSERT_EQ_SIZE(seen.n, 2);
}

/* fuzz-ctl: sscanf's "%127s" read a 130-byte category as its first 127 bytes, and the rest as
 * the tag, so "state CCC...C ok" set a state the action never named. */
TEST(ctl_state_long_word)
{
	char line[256] = "state ";
	memset(line + 6, 'c', 130);
	strcpy(line + 136, " ok");
	struct zr_ctl_line c = {0};
	const char *why = NULL;
	ASSERT_EQ_INT(zr_ctl_line_parse(line, &c, &why), -EINVAL);
	ASSERT_EQ_STR(why, "want 'state CATEGORY TAG ok|error|warning|skipped'");
	ASSERT_NULL(c.text);
	/* At the limit, it is three words as written. */
	line[6 + ZR_CTL_WORD_MAX] = ' ';
	strcpy(line + 7 + ZR_CTL_WORD_MAX, "t ok");
	ASSERT_OK(zr_ctl_line_parse(line, &c, &why));
	ASSERT_EQ_SIZE(strlen(c.category), ZR_CTL_WORD_MAX);
	ASSERT_EQ_STR(c.tag, "t");
	ASSERT_EQ_STR(c.value, "ok");
	zr_ctl_line_done(&c);
}

static void count_refused(const char *name, const char *why, void *data)
{
	ASSERT_NOT_NULL(name);
	ASSERT_NOT_NULL(why);
	(*(int *)data)++;
}

/* fuzz-listing's seeds of a hostile remote: entries the remote provider showed as they came,
 * now left out (and told) or masked. */
TEST(listing_hostile_entries)
{
	static const char body[] =
		"{\"entries\": ["
		"{\"name\": \"run\", \"kind\": \"file\", \"mode\": \"4755\"},"
		"{\"name\": \"tmp\", \"kind\": \"dir\", \"mode\": \"1777\"},"
		"{\"name\": \"..\", \"kind\": \"dir\", \"mode\": \"0755\"},"
		"{\"name\": \".\", \"kind\": \"dir\", \"mode\": \"0755\"},"
		"{\"name\": \"shadow\", \"kind\": \"symlink\", \"mode\": \"0777\","
		" \"target\": \"/etc/shadow\"},"
		"{\"name\": \"etc\", \"kind\": \"symlink\", \"mode\": \"0777\","
		" \"target\": \"../../../../etc\"},"
		"{\"name\": \"via\", \"kind\": \"symlink\", \"mode\": \"0777\","
		" \"target\": \"a/../../../..\"},"
		"{\"name\": \"none\", \"kind\": \"symlink\", \"mode\": \"0777\"},"
		"{\"name\": \"db\", \"kind\": \"symlink\", \"mode\": \"0777\","
		" \"target\": \"../../../node/db\"}]}";
	struct listing *l = NULL;
	int refused = 0;
	ASSERT_OK(zr_listing_parse("node/web/producers", body, strlen(body), count_refused,
				   &refused, &l));
	ASSERT_EQ_INT(refused, 6);
	ASSERT_EQ_SIZE(l->n, 3);
	ASSERT_EQ_STR(l->e[0].name, "run");
	ASSERT_EQ_INT(l->e[0].mode, S_IFREG | 0755);
	ASSERT_EQ_STR(l->e[1].name, "tmp");
	ASSERT_EQ_INT(l->e[1].mode, S_IFDIR | 0777);
	ASSERT_EQ_STR(l->e[2].name, "db");
	ASSERT_EQ_STR(l->e[2].target, "../../../node/db");
	zr_listing_free(l);
	/* The same link one folder higher would climb out. */
	refused = 0;
	ASSERT_OK(zr_listing_parse("node/web", body, strlen(body), count_refused, &refused, &l));
	ASSERT_EQ_INT(refused, 7);
	zr_listing_free(l);
}

/* fuzz-listing: a listed mtime after 2262 overflowed its nanoseconds (UBSan: signed overflow). */
TEST(listing_mtime_far)
{
	static const char body[] =
		"{\"entries\": [{\"name\": \"a\", \"kind\": \"file\", \"mode\": \"0644\","
		" \"mtime\": \"9999-12-31T23:59:59.5Z\"}]}";
	struct listing *l = NULL;
	ASSERT_OK(zr_listing_parse("", body, strlen(body), NULL, NULL, &l));
	ASSERT_EQ_SIZE(l->n, 1);
	ASSERT_EQ_INT(l->e[0].mtime_ns, 0);
	zr_listing_free(l);
}

int main(void)
{
	RUN_TEST(pattern_deep_groups);
	RUN_TEST(pattern_exponential);
	RUN_TEST(pattern_empty_loops);
	RUN_TEST(pattern_empty_ways);
	RUN_TEST(pattern_accepted);
	RUN_TEST(lines_cut_across_chunks);
	RUN_TEST(ctl_state_long_word);
	RUN_TEST(listing_hostile_entries);
	RUN_TEST(listing_mtime_far);
	return 0;
}
