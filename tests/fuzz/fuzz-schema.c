/* Fuzzes the data validation (core/schema.c): a schema, then a value to validate against it
 * the ways the robot does (mkdir's data and data writes with ZR_SCHEMA_PARTIAL, key=value
 * arguments with ZR_SCHEMA_COERCE, JSON arguments with neither).
 *
 * An input is a schema text, a line "----", and the value's text:
 *
 *     {"data": {"port": {"type": "integer", "maximum": 65535}}, "required": ["port"]}
 *     ----
 *     port=6379
 *
 * The schema text is a JSON object whose "data" and "required" are the fields and the
 * required names, so a template.json is a schema text as it is. The value is parsed as an
 * action payload (JSON object or key=value lines) or else as any JSON (a data file's body);
 * without the "----" line it is empty. */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "payload.h"
#include "schema.h"

#define SEPARATOR "\n----\n"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object_seed(1);
	return 0;
}

/* Validates obj with flags and checks what a caller relies on: a valid result validates
 * again to itself (a task's arguments, data re-read at start), also after a trip through
 * JSON text (the store keeps data as text). */
static void apply(const struct zr_schema *s, const json_t *obj, unsigned flags)
{
	json_t *out = NULL;
	char *err = NULL;
	int r = zr_schema_apply(s, obj, flags, &out, &err);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(out == NULL);
		FUZZ_CHECK(r != -EINVAL || err != NULL);
		free(err);
		return;
	}
	FUZZ_CHECK(err == NULL);
	FUZZ_CHECK(json_is_object(out));
	const char *key;
	json_t *v;
	json_object_foreach(out, key, v) {
		size_t i = 0;
		while (i < zr_schema_count(s) && strcmp(zr_schema_field(s, i), key) != 0) {
			i++;
		}
		FUZZ_CHECK(i < zr_schema_count(s));
	}
	if (!(flags & ZR_SCHEMA_PARTIAL)) {
		char *missing = zr_schema_missing(s, out);
		FUZZ_CHECK(missing == NULL);
	}

	unsigned again = flags & ~(unsigned)ZR_SCHEMA_COERCE;
	json_t *out2 = NULL;
	r = zr_schema_apply(s, out, again, &out2, &err);
	if (r == -EINVAL) {
		fprintf(stderr, "valid output fails again: %s\n", err);
	}
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	FUZZ_CHECK(r < 0 || json_equal(out, out2));
	json_decref(out2);

	char *text = json_dumps(out, JSON_COMPACT);
	json_t *back = text ? json_loads(text, 0, NULL) : NULL;
	FUZZ_CHECK(!text || back);
	if (back) {
		json_t *out3 = NULL;
		r = zr_schema_apply(s, back, again, &out3, &err);
		if (r == -EINVAL) {
			fprintf(stderr, "valid output fails after %s: %s\n", text, err);
		}
		FUZZ_CHECK(r == 0 || r == -ENOMEM);
		FUZZ_CHECK(r < 0 || json_equal(out, out3));
		json_decref(out3);
	}
	json_decref(back);
	free(text);
	json_decref(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	const char *sep = memmem(buf, size, SEPARATOR, strlen(SEPARATOR));
	size_t schema_len = sep ? (size_t)(sep - buf) : size;
	const char *value = sep ? sep + strlen(SEPARATOR) : "";
	size_t value_len = sep ? size - schema_len - strlen(SEPARATOR) : 0;

	json_t *spec = json_loadb(buf, schema_len, JSON_REJECT_DUPLICATES, NULL);
	if (!spec) {
		return 0;
	}
	struct zr_schema *s = NULL;
	char *err = NULL;
	int r = zr_schema_parse(json_object_get(spec, "data"), json_object_get(spec, "required"),
				&s, &err);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(s == NULL);
		FUZZ_CHECK(r != -EINVAL || err != NULL);
		free(err);
		json_decref(spec);
		return 0;
	}
	FUZZ_CHECK(err == NULL);
	for (size_t i = 0; i < zr_schema_count(s); i++) {
		(void)zr_schema_secret(s, zr_schema_field(s, i));
	}
	FUZZ_CHECK(zr_schema_field(s, zr_schema_count(s)) == NULL);

	/* Every valid schema accepts a service created without data (mkdir). */
	json_t *empty = json_object();
	json_t *filled = NULL;
	r = zr_schema_apply(s, empty, ZR_SCHEMA_PARTIAL, &filled, &err);
	if (r == -EINVAL) {
		fprintf(stderr, "mkdir's empty data fails: %s\n", err);
	}
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	json_decref(filled);
	json_decref(empty);

	json_t *obj = NULL;
	if (zr_payload_parse(value, value_len, "x", &obj, NULL) < 0) {
		obj = json_loadb(value, value_len, JSON_DECODE_ANY, NULL);
	}
	if (obj) {
		if (json_is_object(obj)) {
			free(zr_schema_missing(s, obj));
		}
		for (unsigned flags = 0; flags < 4; flags++) {
			apply(s, obj, flags);
		}
	}
	json_decref(obj);
	zr_schema_free(s);
	json_decref(spec);
	return 0;
}
