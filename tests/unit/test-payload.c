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
	ASSERT_EQ_INT(zr_payload_parse(buf, n, "start", &args, &err), -EINVAL);
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
	RUN_TEST(nul_bytes);
	return 0;
}
