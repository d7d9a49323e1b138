/* Unit tests for core/payload.c. */
#include "payload.h"

#include "test.h"

/* Parses n bytes written to action "start" and asserts the arguments equal want (JSON). */
static void parses_n(const char *buf, size_t n, const char *want)
{
	json_t *w = json_loads(want, 0, NULL);
	ASSERT_NOT_NULL(w);
	json_t *args = NULL;
	char *err = NULL;
	int r = zr_payload_parse(buf, n, "start", &args, &err);
	if (r != 0) {
		FAIL("zr_payload_parse(\"%.*s\"): %d %s", (int)n, buf, r, err ? err : "");
	}
	if (!json_equal(args, w)) {
		char *got = json_dumps(args, JSON_COMPACT);
		FAIL("zr_payload_parse(\"%.*s\") = %s, want %s", (int)n, buf, got, want);
	}
	json_decref(args);
	json_decref(w);
}

static void parses(const char *buf, const char *want)
{
	parses_n(buf, strlen(buf), want);
}

/* Asserts -EINVAL with exactly the error text want. */
static void fails_n(const char *buf, size_t n, const char *want)
{
	json_t *args = NULL;
	char *err = NULL;
	int r = zr_payload_parse(buf, n, "start", &args, &err);
	if (r != -EINVAL) {
		char *got = args ? json_dumps(args, JSON_COMPACT) : NULL;
		FAIL("zr_payload_parse(\"%.*s\") = %d %s, want -EINVAL", (int)n, buf, r,
		     got ? got : "");
	}
	ASSERT_NULL(args);
	ASSERT_EQ_STR(err, want);
	free(err);
}

static void fails(const char *buf, const char *want)
{
	fails_n(buf, strlen(buf), want);
}

/* For jansson's messages, whose wording varies between versions: -EINVAL with an error text
 * starting with prefix and containing part. */
static void fails_like(const char *buf, const char *prefix, const char *part)
{
	json_t *args = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_payload_parse(buf, strlen(buf), "start", &args, &err), -EINVAL);
	ASSERT_NULL(args);
	ASSERT_NOT_NULL(err);
	if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, part)) {
		FAIL("error \"%s\" lacks \"%s\"...\"%s\"", err, prefix, part);
	}
	free(err);
}

TEST(empty)
{
	parses("", "{}");
	parses_n(NULL, 0, "{}");
	parses("\n", "{}");
	parses("  \t\r\n  \n", "{}");
}

TEST(action_name)
{
	parses("start", "{}");
	parses("start\n", "{}");
	parses("  start \r\n", "{}");
	fails("stop\n", "expected the action's name, a JSON object or key=value lines, got 4 "
			"bytes of text without '='");
	fails("start now", "expected the action's name, a JSON object or key=value lines, got 9 "
			   "bytes of text without '='");
	/* A payload that is no request is measured, never quoted back: it may be a secret typed
	 * without its key. */
	fails("hunter2hunter2", "expected the action's name, a JSON object or key=value lines, "
				"got 14 bytes of text without '='");

	/* Without an action name only the empty payload means no arguments. */
	json_t *args = NULL;
	char *err = NULL;
	ASSERT_OK(zr_payload_parse(" \n", 2, NULL, &args, &err));
	ASSERT_EQ_SIZE(json_object_size(args), 0);
	json_decref(args);
	ASSERT_EQ_INT(zr_payload_parse("start", 5, NULL, &args, &err), -EINVAL);
	free(err);
}

TEST(json_object)
{
	parses("{\"cmd\": \"uname -a\", \"n\": 3}", "{\"cmd\": \"uname -a\", \"n\": 3}");
	parses("\n  {\"a\": {\"b\": [1, 2]}}\n\n", "{\"a\": {\"b\": [1, 2]}}");
	parses("{}", "{}");
	fails_like("{\"a\": 1", "invalid JSON: ", "(line 1, column 7)");
	fails_like("{\"a\": 1} x", "invalid JSON: ", "(line 1, column 10)");
	fails_like("\n\n  {\"a\": x}", "invalid JSON: ", "(line 3, column 9)");
	fails_like("{\"a\": 1, \"a\": 2}", "invalid JSON: duplicate object key", "(line 1, column");
	fails_like("{\"a\": \"\\u0000\"}", "invalid JSON: \\u0000 is not allowed", "(line 1, column");
	fails_like("{\"a\": \"\xff\"}", "invalid JSON: invalid UTF-8", "(line 1, column");
}

/* jansson quotes up to 20 bytes of the input near an error ("invalid token near 'hunter2'"):
 * the reasons stored and shown never do. Each row: a broken JSON text holding "hunter" and
 * the reason wanted. */
TEST(json_errors_never_quote)
{
	static const struct {
		const char *text, *reason;
	} rows[] = {
		{"{\"pw\": hunter2}", "invalid token"},
		{"{\"pw\": \"hunter2\" \"x\"}", "'}' expected"},
		{"{\"pw\" \"hunter2\"}", "':' expected"},
		{"{hunter2: 1}", "string or '}' expected"},
		{"{\"pw\": \"hunter2\"} hunter", "end of file expected"},
		{"{\"pw\": \"hunter2\\q\"}", "invalid escape"},
		{"{\"pw\": \"hunter2\\uD800\"}", "invalid Unicode escape"},
		{"{\"pw\": \"hunter2\n\"}", "unexpected newline"},
		{"{\"pw\": \"hunter2\t\"}", "control character in a string"},
		{"{\"hunter2\": 1, \"hunter2\": 2}", "duplicate object key"},
		{"{\"pw\": [\"hunter2\", }", "unexpected token"},
		{"{\"pw\": \"hunter2", "premature end of input"},
		{"{\"pw\": 99999999999999999999999, \"x\": \"hunter\"}", "too big integer"},
		{"{\"pw\": -99999999999999999999999, \"x\": \"hunter\"}", "too big negative integer"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		TEST_CASE("%s", rows[i].text);
		json_error_t e;
		json_t *j = json_loads(rows[i].text, JSON_REJECT_DUPLICATES, &e);
		ASSERT_NULL(j);
		ASSERT_EQ_STR(zr_json_error_reason(&e), rows[i].reason);

		json_t *args = NULL;
		char *err = NULL;
		ASSERT_EQ_INT(zr_payload_parse(rows[i].text, strlen(rows[i].text), "start", &args,
					       &err),
			      -EINVAL);
		ASSERT_NOT_NULL(err);
		ASSERT_NULL(strstr(err, "hunter"));
		free(err);
	}
	TEST_CASE_END();
}

TEST(other_json)
{
	fails("[1, 2]", "expected a JSON object, got an array");
	fails("\"start\"", "expected a JSON object, got a string");
	fails("42", "expected a JSON object, got a number");
	fails("true\n", "expected a JSON object, got a boolean");
	fails("null", "expected a JSON object, got null");
}

TEST(key_value)
{
	parses("cmd=uname -a\n", "{\"cmd\": \"uname -a\"}");
	parses("a=1\nb=two words\n\nc=\n", "{\"a\": \"1\", \"b\": \"two words\", \"c\": \"\"}");
	/* The value is the rest of the line: '=' and spaces kept, CR of CRLF dropped. */
	parses("url=http://x/?a=b&c=d \nn=1\r\n", "{\"url\": \"http://x/?a=b&c=d \", \"n\": \"1\"}");
	parses("  a=1\n\t b=2", "{\"a\": \"1\", \"b\": \"2\"}");
	parses("_x9=\xc3\xa9", "{\"_x9\": \"\\u00e9\"}");
	parses("Key=v", "{\"Key\": \"v\"}");
}

TEST(key_value_errors)
{
	fails("a=1\nb\n", "line 2: expected key=value, got 1 bytes without '='");
	fails("\n\na=1\n  junk here\n", "line 4: expected key=value, got 9 bytes without '='");
	fails("a b=1", "line 1, column 2: bad character in a key (keys match "
		       "[A-Za-z_][A-Za-z0-9_]*)");
	fails("=1", "line 1: empty key before '='");
	fails("1a=1", "line 1, column 1: bad character in a key (keys match "
		      "[A-Za-z_][A-Za-z0-9_]*)");
	fails("a-b=1", "line 1, column 2: bad character in a key (keys match "
		       "[A-Za-z_][A-Za-z0-9_]*)");
	fails("a =1", "line 1, column 2: bad character in a key (keys match "
		      "[A-Za-z_][A-Za-z0-9_]*)");
	/* Columns count from the start of the line in the write, leading blanks included. */
	fails("  x=1\n  pass word=1", "line 2, column 7: bad character in a key (keys match "
				     "[A-Za-z_][A-Za-z0-9_]*)");
	fails("  pass word=1", "line 1, column 7: bad character in a key (keys match "
			       "[A-Za-z_][A-Za-z0-9_]*)");
	fails("a=1\nb=2\na=3", "line 3: duplicate key 'a'");
	fails("a=\xff\xfe", "line 1: value of 'a' is not valid UTF-8");
	fails("a=\xc0\x80", "line 1: value of 'a' is not valid UTF-8");     /* overlong NUL */
	fails("a=\xed\xa0\x80", "line 1: value of 'a' is not valid UTF-8"); /* surrogate */
	fails("a=\xe2\x82", "line 1: value of 'a' is not valid UTF-8");     /* truncated */
}

/* One line of key=value words, split and quoted as in sh (DESIGN.md §2): bash's echo and
 * printf write a line per write(2), so this is the form a shell user gets one task from. */
TEST(one_line)
{
	parses("msg=yo n=2", "{\"msg\": \"yo\", \"n\": \"2\"}");
	parses("msg=yo n=2\n", "{\"msg\": \"yo\", \"n\": \"2\"}");
	parses("  msg=yo \t n=2 \r\n", "{\"msg\": \"yo\", \"n\": \"2\"}");
	parses("\n\nmsg=yo n=2\n\n", "{\"msg\": \"yo\", \"n\": \"2\"}");
	parses("msg=\"two words\" n=2", "{\"msg\": \"two words\", \"n\": \"2\"}");
	parses("msg='two  words' n=2", "{\"msg\": \"two  words\", \"n\": \"2\"}");
	parses("a=1 b=2 c=3 _d9=4", "{\"a\": \"1\", \"b\": \"2\", \"c\": \"3\", \"_d9\": \"4\"}");
	/* A first value that starts with a quote is enough: one word. */
	parses("msg=\"two words\"", "{\"msg\": \"two words\"}");
	parses("msg='two words'\n", "{\"msg\": \"two words\"}");
	/* Adjacent pieces join, as in sh: 'it''s' is "its", "it's" keeps the apostrophe. */
	parses("msg='it''s' n=1", "{\"msg\": \"its\", \"n\": \"1\"}");
	parses("msg=\"it's\" n=1", "{\"msg\": \"it's\", \"n\": \"1\"}");
	parses("msg=a\"b c\"'d e'f n=1", "{\"msg\": \"ab cd ef\", \"n\": \"1\"}");
	/* Empty values. */
	parses("a= b=2", "{\"a\": \"\", \"b\": \"2\"}");
	parses("a=\"\" b=''", "{\"a\": \"\", \"b\": \"\"}");
	/* '=' in a value, quoted or not. */
	parses("url=\"http://x/?a=b&c=d\" n=1", "{\"url\": \"http://x/?a=b&c=d\", \"n\": \"1\"}");
	parses("f=a=b g=c", "{\"f\": \"a=b\", \"g\": \"c\"}");
	/* In double quotes a backslash escapes only " \ $ and `; elsewhere it stays. */
	parses("a=\"say \\\"hi\\\" \\\\ \\$HOME \\` \\n\" b=1",
	       "{\"a\": \"say \\\"hi\\\" \\\\ $HOME ` \\\\n\", \"b\": \"1\"}");
	/* In single quotes everything is literal, backslashes and double quotes too. */
	parses("a='\\\"$x\\\\' b=1", "{\"a\": \"\\\\\\\"$x\\\\\\\\\", \"b\": \"1\"}");
	/* Outside quotes a backslash escapes the next byte (a blank, a quote); a last one stays. */
	parses("a=two\\ words b=\\'x\\\" c=\\\\ d=\\", "{\"a\": \"two words\", \"b\": \"'x\\\"\", "
						    "\"c\": \"\\\\\", \"d\": \"\\\\\"}");
	/* Nothing is expanded. */
	parses("a=$HOME b=`id` c=$(id) d=~ e=*",
	       "{\"a\": \"$HOME\", \"b\": \"`id`\", \"c\": \"$(id)\", \"d\": \"~\", \"e\": \"*\"}");
	parses("a=\"\xc3\xa9 \xe2\x82\xac\" b=1", "{\"a\": \"\\u00e9 \\u20ac\", \"b\": \"1\"}");
}

/* A line that is not all key= words, and whose first value starts with no quote, is read as
 * before the one-line form: the value is the rest of the line, quotes and all. Templates and
 * scripts send commands and queries that way. */
TEST(one_line_rest_of_line)
{
	parses("cmd=uname -a", "{\"cmd\": \"uname -a\"}");
	parses("cmd=echo from $(hostname)\n", "{\"cmd\": \"echo from $(hostname)\"}");
	parses("query=create table t (n int); insert into t values (42)",
	       "{\"query\": \"create table t (n int); insert into t values (42)\"}");
	parses("cmd=echo \"a b\" 'c'", "{\"cmd\": \"echo \\\"a b\\\" 'c'\"}");
	parses("cmd=echo \"x=1\"", "{\"cmd\": \"echo \\\"x=1\\\"\"}");
	parses("cmd=echo it's", "{\"cmd\": \"echo it's\"}");
	parses("cmd=echo 'n=2", "{\"cmd\": \"echo 'n=2\"}");
	parses("path=C:\\dir\\x", "{\"path\": \"C:\\\\dir\\\\x\"}");
	/* A word that is not key=value among key= words: the line is one value, as before. */
	parses("cmd=echo hello from key=value", "{\"cmd\": \"echo hello from key=value\"}");
	parses("query=update t set a=1", "{\"query\": \"update t set a=1\"}");
	parses("msg=yo there n=2", "{\"msg\": \"yo there n=2\"}");
	parses("a=1 b-c=2 d=3", "{\"a\": \"1 b-c=2 d=3\"}");
	parses("cmd=ls \"a b\" x=1", "{\"cmd\": \"ls \\\"a b\\\" x=1\"}");
	parses("msg=a=b", "{\"msg\": \"a=b\"}");
	/* Several lines: each line is one key=value, read literally, as before. */
	parses("msg=\"two words\"\nn=2", "{\"msg\": \"\\\"two words\\\"\", \"n\": \"2\"}");
	parses("a=1 b=2\nc=3", "{\"a\": \"1 b=2\", \"c\": \"3\"}");
}

TEST(one_line_errors)
{
	fails("msg=\"two words n=2", "line 1, column 5: unterminated quote");
	fails("msg='two words n=2\n", "line 1, column 5: unterminated quote");
	fails("msg=yo n=\"2", "line 1, column 10: unterminated quote");
	fails("  a=1 b=\"x\\\" c=2", "line 1, column 9: unterminated quote");
	parses("  a=1 b='x\\' c=2", "{\"a\": \"1\", \"b\": \"x\\\\\", \"c\": \"2\"}");
	fails("\na=1 b=\"x", "line 2, column 7: unterminated quote");
	/* A word without '=' is named by its place, never quoted: it may be a secret. */
	fails("msg=\"yo\" there n=2", "line 1, word 2 (column 10): expected key=value, got 5 "
				   "bytes without '='");
	fails("pw=\"hunter2\" hunter3", "line 1, word 2 (column 14): expected key=value, got 7 "
				       "bytes without '='");
	fails("n='1' msg=hi '' ", "line 1, word 3 (column 14): expected key=value, got 2 bytes "
				 "without '='");
	fails("msg='yo' n=2 =3", "line 1, word 3: empty key before '='");
	fails("a='1' b-c=2", "line 1, column 8: bad character in a key (keys match "
			   "[A-Za-z_][A-Za-z0-9_]*)");
	fails("a='1' 9b=2", "line 1, column 7: bad character in a key (keys match "
			  "[A-Za-z_][A-Za-z0-9_]*)");
	fails("a='1' \"b\"=2", "line 1, column 7: bad character in a key (keys match "
			     "[A-Za-z_][A-Za-z0-9_]*)");
	fails("a=1 b=2 a=3", "line 1: duplicate key 'a'");
	fails("a=1 b=\"\xff\"", "line 1: value of 'b' is not valid UTF-8");
	fails("a=1 b=\xc3", "line 1: value of 'b' is not valid UTF-8");
	/* Lines that are not the one-line form keep the messages of key=value lines. */
	fails("yo msg=1", "line 1, column 3: bad character in a key (keys match "
			  "[A-Za-z_][A-Za-z0-9_]*)");
	fails("yo msg=1 n=2", "line 1, column 3: bad character in a key (keys match "
			      "[A-Za-z_][A-Za-z0-9_]*)");
	fails_n("a=1 b=\"x\0\" c=2", 14, "payload contains a NUL byte");
}

TEST(nul_bytes)
{
	fails_n("a=1\0b=2", 7, "payload contains a NUL byte");
	fails_n("start\0", 6, "payload contains a NUL byte");
	fails_n("\0", 1, "payload contains a NUL byte");
	fails_n("{\"a\": 1}\0", 9, "payload contains a NUL byte");
}

int main(void)
{
	RUN_TEST(empty);
	RUN_TEST(action_name);
	RUN_TEST(json_object);
	RUN_TEST(json_errors_never_quote);
	RUN_TEST(other_json);
	RUN_TEST(key_value);
	RUN_TEST(key_value_errors);
	RUN_TEST(one_line);
	RUN_TEST(one_line_rest_of_line);
	RUN_TEST(one_line_errors);
	RUN_TEST(nul_bytes);
	return 0;
}
