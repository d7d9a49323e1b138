/* Unit tests for core/schema.c. */
#include "schema.h"

#include "test.h"

static json_t *parse_json(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &e);
	if (!j) {
		FAIL("bad test JSON %s: %s", text, e.text);
	}
	return j;
}

/* Parses fields (and required, NULL for none) that must be valid. */
static struct zr_schema *schema(const char *fields, const char *required)
{
	json_t *f = parse_json(fields);
	json_t *r = required ? parse_json(required) : NULL;
	struct zr_schema *s = NULL;
	char *err = NULL;
	int rc = zr_schema_parse(f, r, &s, &err);
	if (rc != 0) {
		FAIL("zr_schema_parse(%s): %d %s", fields, rc, err ? err : "");
	}
	json_decref(f);
	json_decref(r);
	return s;
}

/* Asserts that parsing fails with exactly the error text want. */
static void parse_fails(const char *fields, const char *required, const char *want)
{
	json_t *f = parse_json(fields);
	json_t *r = required ? parse_json(required) : NULL;
	struct zr_schema *s = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_schema_parse(f, r, &s, &err), -EINVAL);
	ASSERT_NULL(s);
	ASSERT_EQ_STR(err, want);
	free(err);
	json_decref(f);
	json_decref(r);
}

/* Applies obj and asserts the result equals want (compared as JSON). */
static void applies(const struct zr_schema *s, const char *obj, unsigned flags, const char *want)
{
	json_t *o = parse_json(obj);
	json_t *w = parse_json(want);
	json_t *out = NULL;
	char *err = NULL;
	int rc = zr_schema_apply(s, o, flags, &out, &err);
	if (rc != 0) {
		FAIL("zr_schema_apply(%s): %d %s", obj, rc, err ? err : "");
	}
	if (!json_equal(out, w)) {
		char *got = json_dumps(out, JSON_COMPACT);
		FAIL("zr_schema_apply(%s) = %s, want %s", obj, got, want);
	}
	json_decref(out);
	json_decref(w);
	json_decref(o);
}

static void apply_fails(const struct zr_schema *s, const char *obj, unsigned flags,
			const char *want)
{
	json_t *o = parse_json(obj);
	json_t *out = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_schema_apply(s, o, flags, &out, &err), -EINVAL);
	ASSERT_NULL(out);
	ASSERT_EQ_STR(err, want);
	free(err);
	json_decref(o);
}

/* Schemas of the table below. */
static const char all_types[] = "{\"s\": {\"type\": \"string\"}, \"i\": {\"type\": \"integer\"},"
				" \"n\": {\"type\": \"number\"}, \"b\": {\"type\": \"boolean\"},"
				" \"o\": {\"type\": \"object\"}, \"a\": {\"type\": \"array\"}}";
static const char ranges[] = "{\"port\": {\"type\": \"integer\", \"minimum\": 1, "
			     "\"maximum\": 65535}, \"ratio\": {\"type\": \"number\", "
			     "\"minimum\": 0.5, \"maximum\": 2}}";
static const char enums[] = "{\"mode\": {\"type\": \"string\", \"enum\": [\"a\", \"b\"]},"
			    " \"level\": {\"type\": \"number\", \"enum\": [1, 2.5]}}";
static const char pattern[] = "{\"id\": {\"type\": \"string\", \"pattern\": \"^[a-z]+[0-9]*$\"}}";
static const char lengths[] = "{\"pw\": {\"type\": \"string\", \"min_length\": 2, "
			      "\"max_length\": 3}}";
static const char one_string[] = "{\"a\": {\"type\": \"string\"}}";
static const char coerced[] = "{\"port\": {\"type\": \"integer\", \"maximum\": 65535},"
			      " \"ratio\": {\"type\": \"number\"}, \"on\": {\"type\": \"boolean\"},"
			      " \"o\": {\"type\": \"object\"}, \"a\": {\"type\": \"array\"},"
			      " \"s\": {\"type\": \"string\"}}";

#define C ZR_SCHEMA_COERCE

/* An object applied to a schema: accepted with the result want, or (want NULL) refused with
 * the error err. */
static const struct apply_case {
	const char *fields;
	unsigned flags;
	const char *obj;
	const char *want;
	const char *err;
} apply_cases[] = {
	{all_types, 0,
	 "{\"s\": \"x\", \"i\": -3, \"n\": 1.5, \"b\": false, \"o\": {\"k\": 1}, \"a\": [1]}",
	 "{\"s\": \"x\", \"i\": -3, \"n\": 1.5, \"b\": false, \"o\": {\"k\": 1}, \"a\": [1]}"},
	{all_types, 0, "{}", "{}"},
	/* number accepts integers too */
	{all_types, 0, "{\"n\": 7}", "{\"n\": 7}"},
	{all_types, 0, "{\"s\": 1}", NULL, "field 's': must be a string, got an integer"},
	{all_types, 0, "{\"i\": 1.5}", NULL, "field 'i': must be an integer, got a real number"},
	{all_types, 0, "{\"i\": 2.0}", NULL, "field 'i': must be an integer, got a real number"},
	{all_types, 0, "{\"i\": \"3\"}", NULL,
	 "field 'i': must be an integer, got a string of 1 byte"},
	{all_types, 0, "{\"n\": \"1\"}", NULL,
	 "field 'n': must be a number, got a string of 1 byte"},
	{all_types, 0, "{\"b\": 1}", NULL, "field 'b': must be a boolean, got an integer"},
	{all_types, 0, "{\"o\": []}", NULL,
	 "field 'o': must be an object, got an array of 0 items"},
	{all_types, 0, "{\"a\": {}}", NULL,
	 "field 'a': must be an array, got an object of 0 fields"},
	{all_types, 0, "{\"s\": null}", NULL, "field 's': must be a string, got null"},
	{all_types, 0, "[]", NULL, "must be a JSON object"},

	{ranges, 0, "{\"port\": 1}", "{\"port\": 1}"},
	{ranges, 0, "{\"port\": 65535}", "{\"port\": 65535}"},
	{ranges, 0, "{\"port\": 0}", NULL, "field 'port': must be >= 1"},
	{ranges, 0, "{\"port\": 65536}", NULL, "field 'port': must be <= 65535"},
	{ranges, 0, "{\"ratio\": 0.5}", "{\"ratio\": 0.5}"},
	{ranges, 0, "{\"ratio\": 2}", "{\"ratio\": 2}"},
	{ranges, 0, "{\"ratio\": 0.25}", NULL, "field 'ratio': must be >= 0.5"},
	{ranges, 0, "{\"ratio\": 2.5}", NULL, "field 'ratio': must be <= 2"},

	{enums, 0, "{\"mode\": \"b\"}", "{\"mode\": \"b\"}"},
	{enums, 0, "{\"mode\": \"c\"}", NULL, "field 'mode': must be one of [\"a\",\"b\"]"},
	{enums, 0, "{\"level\": 1.0}", "{\"level\": 1.0}"},
	{enums, 0, "{\"level\": 2.5}", "{\"level\": 2.5}"},
	{enums, 0, "{\"level\": 2}", NULL, "field 'level': must be one of [1,2.5]"},

	{pattern, 0, "{\"id\": \"abc12\"}", "{\"id\": \"abc12\"}"},
	{pattern, 0, "{\"id\": \"12abc\"}", NULL,
	 "field 'id': must match pattern '^[a-z]+[0-9]*$'"},
	{pattern, 0, "{\"id\": \"\"}", NULL, "field 'id': must match pattern '^[a-z]+[0-9]*$'"},

	{lengths, 0, "{\"pw\": \"ab\"}", "{\"pw\": \"ab\"}"},
	{lengths, 0, "{\"pw\": \"abc\"}", "{\"pw\": \"abc\"}"},
	/* Lengths count characters, not bytes: "éé" is 2 characters in 4 bytes. */
	{lengths, 0, "{\"pw\": \"\\u00e9\\u00e9\"}", "{\"pw\": \"\\u00e9\\u00e9\"}"},
	{lengths, 0, "{\"pw\": \"a\"}", NULL, "field 'pw': must be at least 2 characters long"},
	{lengths, 0, "{\"pw\": \"abcd\"}", NULL, "field 'pw': must be at most 3 characters long"},

	{one_string, 0, "{\"a\": \"x\", \"b\": 1}", NULL, "field 'b': unknown field"},
	{one_string, ZR_SCHEMA_PARTIAL | C, "{\"b\": 1}", NULL, "field 'b': unknown field"},

	{coerced, C, "{\"port\": \"6379\"}", "{\"port\": 6379}"},
	{coerced, C, "{\"port\": 6379}", "{\"port\": 6379}"},
	{coerced, C, "{\"ratio\": \"1.5\", \"on\": \"true\"}", "{\"ratio\": 1.5, \"on\": true}"},
	{coerced, C, "{\"ratio\": \"2\", \"on\": \"false\"}", "{\"ratio\": 2, \"on\": false}"},
	{coerced, C, "{\"o\": \"{\\\"k\\\": 1}\", \"a\": \"[1, 2]\"}",
	 "{\"o\": {\"k\": 1}, \"a\": [1, 2]}"},
	/* Strings stay strings, even when they look like numbers. */
	{coerced, C, "{\"s\": \"6379\"}", "{\"s\": \"6379\"}"},
	{coerced, C, "{\"port\": \"abc\"}", NULL,
	 "field 'port': must be an integer, got a string of 3 bytes"},
	{coerced, C, "{\"port\": \"1.5\"}", NULL,
	 "field 'port': must be an integer, got a real number"},
	{coerced, C, "{\"port\": \"99999999999999999999\"}", NULL,
	 "field 'port': must be an integer, got a string of 20 bytes"},
	{coerced, C, "{\"port\": \"70000\"}", NULL, "field 'port': must be <= 65535"},
	{coerced, C, "{\"on\": \"yes\"}", NULL,
	 "field 'on': must be a boolean, got a string of 3 bytes"},
	{coerced, C, "{\"o\": \"[1]\"}", NULL,
	 "field 'o': must be an object, got an array of 1 item"},
	{coerced, C, "{\"ratio\": \"nan\"}", NULL,
	 "field 'ratio': must be a number, got a string of 3 bytes"},
	/* Without the flag a string is just a string. */
	{coerced, 0, "{\"port\": \"6379\"}", NULL,
	 "field 'port': must be an integer, got a string of 4 bytes"},
};

#undef C

TEST(apply_cases)
{
	for (size_t i = 0; i < sizeof(apply_cases) / sizeof(apply_cases[0]); i++) {
		const struct apply_case *c = &apply_cases[i];
		TEST_CASE("apply_cases[%zu] %s", i, c->obj);
		struct zr_schema *s = schema(c->fields, NULL);
		if (c->want) {
			applies(s, c->obj, c->flags, c->want);
		} else {
			apply_fails(s, c->obj, c->flags, c->err);
		}
		zr_schema_free(s);
	}
	TEST_CASE_END();
}

TEST(introspection)
{
	struct zr_schema *s = schema(all_types, NULL);
	ASSERT_EQ_SIZE(zr_schema_count(s), 6);
	ASSERT_EQ_STR(zr_schema_field(s, 0), "s");
	ASSERT_EQ_STR(zr_schema_field(s, 5), "a");
	ASSERT_NULL(zr_schema_field(s, 6));
	zr_schema_free(s);
}

TEST(defaults)
{
	struct zr_schema *s = schema("{\"port\": {\"type\": \"integer\", \"default\": 6379},"
				     " \"host\": {\"type\": \"string\", \"default\": \"localhost\"},"
				     " \"tags\": {\"type\": \"array\", \"default\": [\"a\"]},"
				     " \"user\": {\"type\": \"string\"}}",
				     NULL);
	applies(s, "{}", 0, "{\"port\": 6379, \"host\": \"localhost\", \"tags\": [\"a\"]}");
	applies(s, "{\"port\": 1, \"user\": \"u\"}", 0,
		"{\"port\": 1, \"host\": \"localhost\", \"tags\": [\"a\"], \"user\": \"u\"}");

	/* The result owns its values: changing it leaves the schema's default alone. */
	json_t *o = json_object(), *out = NULL;
	char *err = NULL;
	ASSERT_OK(zr_schema_apply(s, o, 0, &out, &err));
	ASSERT_OK(json_array_append_new(json_object_get(out, "tags"), json_string("b")));
	json_decref(out);
	applies(s, "{}", 0, "{\"port\": 6379, \"host\": \"localhost\", \"tags\": [\"a\"]}");
	json_decref(o);
	zr_schema_free(s);
}

/* A NUL byte must not hide the rest of the string from the pattern. */
TEST(pattern_nul)
{
	struct zr_schema *s = schema(pattern, NULL);
	json_t *o = json_object(), *out = NULL;
	char *err = NULL;
	ASSERT_OK(json_object_set_new(o, "id", json_stringn("abc\0;x", 6)));
	ASSERT_EQ_INT(zr_schema_apply(s, o, 0, &out, &err), -EINVAL);
	ASSERT_EQ_STR(err, "field 'id': must match pattern '^[a-z]+[0-9]*$'");
	free(err);
	json_decref(o);
	zr_schema_free(s);
}

/* The regerror text varies by libc: only its prefix is checked. */
TEST(bad_pattern)
{
	json_t *f = parse_json("{\"id\": {\"type\": \"string\", \"pattern\": \"([a-z\"}}");
	struct zr_schema *s = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_schema_parse(f, NULL, &s, &err), -EINVAL);
	const char *want = "field 'id.pattern': bad regular expression: ";
	ASSERT_EQ_INT(strncmp(err, want, strlen(want)), 0);
	free(err);
	json_decref(f);
}

TEST(required)
{
	struct zr_schema *s = schema("{\"user\": {\"type\": \"string\"}, \"password\": {\"type\": "
				     "\"string\", \"secret\": true}, \"port\": {\"type\": "
				     "\"integer\", \"default\": 1}}",
				     "[\"password\", \"user\", \"port\"]");
	apply_fails(s, "{}", 0, "field 'user': required");
	apply_fails(s, "{\"user\": \"u\"}", 0, "field 'password': required");
	applies(s, "{\"user\": \"u\", \"password\": \"p\"}", 0,
		"{\"user\": \"u\", \"password\": \"p\", \"port\": 1}");
	/* PARTIAL lets required fields be missing but still checks the others. */
	applies(s, "{}", ZR_SCHEMA_PARTIAL, "{\"port\": 1}");
	apply_fails(s, "{\"user\": 5}", ZR_SCHEMA_PARTIAL,
		    "field 'user': must be a string, got an integer");

	json_t *o = parse_json("{\"port\": 2}");
	char *missing = zr_schema_missing(s, o);
	ASSERT_EQ_STR(missing, "user, password");
	free(missing);
	json_decref(o);
	o = parse_json("{\"user\": \"u\", \"password\": \"p\", \"port\": 2}");
	ASSERT_NULL(zr_schema_missing(s, o));
	json_decref(o);

	ASSERT_TRUE(zr_schema_secret(s, "password"));
	ASSERT_FALSE(zr_schema_secret(s, "user"));
	ASSERT_FALSE(zr_schema_secret(s, "nope"));
	zr_schema_free(s);
}

TEST(parse_errors)
{
	parse_fails("{\"port\": {\"type\": \"integr\"}}", NULL, "field 'port': unknown type 'integr'");
	parse_fails("{\"port\": {}}", NULL, "field 'port.type': required");
	parse_fails("{\"port\": {\"type\": 1}}", NULL, "field 'port.type': must be a string");
	parse_fails("{\"port\": 1}", NULL, "field 'port': must be an object");
	parse_fails("{\"port\": {\"type\": \"integer\", \"maximun\": 1}}", NULL,
		    "field 'port.maximun': unknown key");
	parse_fails("{\"port\": {\"type\": \"integer\", \"default\": 70000, \"maximum\": 65535}}", NULL,
		    "field 'port.default': must be <= 65535");
	parse_fails("{\"port\": {\"type\": \"integer\", \"default\": \"1\"}}", NULL,
		    "field 'port.default': must be an integer, got a string of 1 byte");
	parse_fails("{\"m\": {\"type\": \"string\", \"enum\": [\"a\"], \"default\": \"b\"}}", NULL,
		    "field 'm.default': must be one of [\"a\"]");
	parse_fails("{\"m\": {\"type\": \"string\", \"pattern\": \"^a$\", \"default\": \"b\"}}", NULL,
		    "field 'm.default': must match pattern '^a$'");
	parse_fails("{\"m\": {\"type\": \"string\", \"minimum\": 1}}", NULL,
		    "field 'm.minimum': only integer and number fields have it");
	parse_fails("{\"m\": {\"type\": \"integer\", \"min_length\": 1}}", NULL,
		    "field 'm.min_length': only string fields have it");
	parse_fails("{\"m\": {\"type\": \"integer\", \"minimum\": \"1\"}}", NULL,
		    "field 'm.minimum': must be a number");
	parse_fails("{\"m\": {\"type\": \"integer\", \"minimum\": 2, \"maximum\": 1}}", NULL,
		    "field 'm': minimum is greater than maximum");
	parse_fails("{\"m\": {\"type\": \"string\", \"max_length\": -1}}", NULL,
		    "field 'm.max_length': must be a non-negative integer");
	parse_fails("{\"m\": {\"type\": \"string\", \"min_length\": 3, \"max_length\": 2}}", NULL,
		    "field 'm': min_length is greater than max_length");
	parse_fails("{\"m\": {\"type\": \"string\", \"enum\": []}}", NULL,
		    "field 'm.enum': must be a non-empty array");
	parse_fails("{\"m\": {\"type\": \"string\", \"enum\": [\"a\", 1]}}", NULL,
		    "field 'm.enum': value 1 must be a string");
	parse_fails("{\"m\": {\"type\": \"string\", \"secret\": 1}}", NULL,
		    "field 'm.secret': must be a boolean");
	parse_fails("{\"m\": {\"type\": \"string\", \"description\": 1}}", NULL,
		    "field 'm.description': must be a string");
	parse_fails("{\"1m\": {\"type\": \"string\"}}", NULL,
		    "field '1m': bad field name (must match [A-Za-z_][A-Za-z0-9_]{0,62})");
	parse_fails("{\"a-b\": {\"type\": \"string\"}}", NULL,
		    "field 'a-b': bad field name (must match [A-Za-z_][A-Za-z0-9_]{0,62})");
	parse_fails("{\"a\": {\"type\": \"string\"}}", "[\"b\"]", "required: 'b' is not a field");
	parse_fails("{\"a\": {\"type\": \"string\"}}", "[1]",
		    "required: must be an array of field names");
	parse_fails("{\"a\": {\"type\": \"string\"}}", "\"a\"",
		    "required: must be an array of field names");
	parse_fails("[]", NULL, "fields: must be an object");
}

TEST(empty)
{
	struct zr_schema *s = NULL;
	char *err = NULL;
	ASSERT_OK(zr_schema_parse(NULL, NULL, &s, &err));
	ASSERT_EQ_SIZE(zr_schema_count(s), 0);
	applies(s, "{}", 0, "{}");
	apply_fails(s, "{\"x\": 1}", 0, "field 'x': unknown field");
	ASSERT_NULL(zr_schema_missing(s, NULL));
	ASSERT_NULL(zr_schema_free(s));
	ASSERT_NULL(zr_schema_free(NULL));
}

TEST(field_names)
{
	struct zr_schema *s = schema("{\"_x\": {\"type\": \"string\"}, \"Ab_9\": {\"type\": "
				     "\"string\", \"description\": \"d\"}}",
				     NULL);
	ASSERT_EQ_STR(zr_schema_field(s, 0), "_x");
	ASSERT_EQ_STR(zr_schema_field(s, 1), "Ab_9");
	zr_schema_free(s);
	/* 63 characters is the longest name, 64 is too long. */
	char name[65];
	memset(name, 'a', 63);
	name[63] = '\0';
	json_t *f = json_pack("{s:{s:s}}", name, "type", "string");
	char *err = NULL;
	ASSERT_OK(zr_schema_parse(f, NULL, &s, &err));
	ASSERT_EQ_STR(zr_schema_field(s, 0), name);
	zr_schema_free(s);
	json_decref(f);
	strcpy(name + 63, "a");
	f = json_pack("{s:{s:s}}", name, "type", "string");
	ASSERT_EQ_INT(zr_schema_parse(f, NULL, &s, &err), -EINVAL);
	free(err);
	json_decref(f);
}

/* Asserts that zr_schema_redact(s, obj) is want (compared as JSON) and left obj as it was. */
static void redacts(const struct zr_schema *s, const char *obj, const char *want)
{
	json_t *o = parse_json(obj);
	json_t *before = json_deep_copy(o);
	json_t *w = parse_json(want);
	json_t *out = zr_schema_redact(s, o);
	ASSERT_NOT_NULL(out);
	if (!json_equal(out, w)) {
		char *got = json_dumps(out, JSON_COMPACT | JSON_ENCODE_ANY);
		FAIL("zr_schema_redact(%s) = %s, want %s", obj, got, want);
	}
	ASSERT_TRUE(json_equal(o, before));
	json_decref(out);
	json_decref(w);
	json_decref(before);
	json_decref(o);
}

TEST(redact)
{
	struct zr_schema *s = schema("{\"user\": {\"type\": \"string\"}, \"password\": {\"type\": "
				     "\"string\", \"secret\": true}, \"keys\": {\"type\": "
				     "\"object\", \"secret\": true}, \"pins\": {\"type\": "
				     "\"array\", \"secret\": true}, \"opts\": {\"type\": "
				     "\"object\"}, \"n\": {\"type\": \"integer\", "
				     "\"secret\": true}}", NULL);
	redacts(s, "{\"user\": \"u\", \"password\": \"hunter2\"}",
		"{\"user\": \"u\", \"password\": \"***\"}");
	/* Every type of a secret field, objects and arrays as a whole. */
	redacts(s, "{\"keys\": {\"a\": \"k1\"}, \"pins\": [1, 2], \"n\": 42}",
		"{\"keys\": \"***\", \"pins\": \"***\", \"n\": \"***\"}");
	/* Nothing inside a field that is not secret is touched, even a key named like one. */
	redacts(s, "{\"opts\": {\"password\": \"x\"}}", "{\"opts\": {\"password\": \"x\"}}");
	/* Missing secret fields stay missing; empty and null values are hidden too. */
	redacts(s, "{\"user\": \"u\"}", "{\"user\": \"u\"}");
	redacts(s, "{\"password\": \"\", \"keys\": null}",
		"{\"password\": \"***\", \"keys\": \"***\"}");
	redacts(s, "{}", "{}");
	/* Not an object, or no schema: a plain copy. */
	redacts(s, "[1]", "[1]");
	redacts(NULL, "{\"password\": \"p\"}", "{\"password\": \"p\"}");
	zr_schema_free(s);
}

/* A value of the wrong type is described, never quoted: a secret must not reach lasterror. */
TEST(errors_never_quote)
{
	struct zr_schema *s = schema("{\"port\": {\"type\": \"integer\", \"secret\": true},"
				     " \"pw\": {\"type\": \"string\", \"max_length\": 3,"
				     " \"pattern\": \"^[a-z]*$\"}}", NULL);
	static const char *const bad[] = {
		"{\"port\": \"hunter2hunter2\"}",
		"{\"port\": [\"hunter2hunter2\"]}",
		"{\"port\": {\"hunter2hunter2\": 1}}",
		"{\"pw\": \"hunter2hunter2\"}",
		"{\"pw\": \"HUNTER\"}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_CASE("%s", bad[i]);
		for (unsigned flags = 0; flags <= ZR_SCHEMA_COERCE; flags += ZR_SCHEMA_COERCE) {
			json_t *o = parse_json(bad[i]);
			json_t *out = NULL;
			char *err = NULL;
			ASSERT_EQ_INT(zr_schema_apply(s, o, flags, &out, &err), -EINVAL);
			ASSERT_NOT_NULL(err);
			ASSERT_NULL(strstr(err, "hunter"));
			ASSERT_NULL(strstr(err, "HUNTER"));
			free(err);
			json_decref(o);
		}
	}
	TEST_CASE_END();
	apply_fails(s, "{\"port\": \"hunter2hunter2\"}", ZR_SCHEMA_COERCE,
		    "field 'port': must be an integer, got a string of 14 bytes");
	apply_fails(s, "{\"port\": {\"hunter2hunter2\": 1}}", 0,
		    "field 'port': must be an integer, got an object of 1 field");
	zr_schema_free(s);
}

int main(void)
{
	RUN_TEST(apply_cases);
	RUN_TEST(introspection);
	RUN_TEST(defaults);
	RUN_TEST(pattern_nul);
	RUN_TEST(bad_pattern);
	RUN_TEST(required);
	RUN_TEST(parse_errors);
	RUN_TEST(empty);
	RUN_TEST(field_names);
	RUN_TEST(redact);
	RUN_TEST(errors_never_quote);
	return 0;
}
