/* Fuzzes the payload of a write to an action file (core/payload.c): empty, the action's
 * name, a JSON object, key=value words on one line or key=value lines, as tree.c's
 * write_action parses it, and the check write_data makes on a data body that may be the first
 * of several writes. */
#include <errno.h>
#include <stdbool.h>
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "payload.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* A fixed hash seed: the same input takes the same path on every run. */
	json_object_seed(1);
	return 0;
}

/* The lines of buf with something else than white space in them. */
static size_t lines_with_text(const char *buf, size_t len)
{
	size_t n = 0;
	bool text = false;
	for (size_t i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			n += text;
			text = false;
		} else if (!strchr(" \t\r\v\f", buf[i])) {
			text = true;
		}
	}
	return n + text;
}

/* key=value text parsed into args. Several lines: each line with text is one argument, and
 * "key=value" is in the payload as it was written. One line: one argument or more (the
 * one-line form, quoted as in sh), "key=" is in the payload, and so is "key=value" when no
 * quote or backslash could have changed the value. Every key is an identifier. */
static void check_key_value(const char *buf, size_t len, const json_t *args)
{
	const char *key;
	json_t *v;
	size_t lines = lines_with_text(buf, len);
	bool literal = lines > 1 || (!memchr(buf, '"', len) && !memchr(buf, '\'', len) &&
				     !memchr(buf, '\\', len));
	if (lines > 1) {
		FUZZ_CHECK(json_object_size(args) == lines);
	} else {
		FUZZ_CHECK(lines == 1 && json_object_size(args) >= 1);
	}
	json_object_foreach((json_t *)args, key, v) {
		FUZZ_CHECK(json_is_string(v));
		FUZZ_CHECK(key[0] != '\0');
		FUZZ_CHECK(!(key[0] >= '0' && key[0] <= '9'));
		for (const char *k = key; *k; k++) {
			FUZZ_CHECK((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
				   (*k >= '0' && *k <= '9') || *k == '_');
		}
		size_t kl = strlen(key), vl = json_string_length(v);
		char *pair = malloc(kl + 1 + vl);
		FUZZ_CHECK(pair);
		memcpy(pair, key, kl);
		pair[kl] = '=';
		memcpy(pair + kl + 1, json_string_value(v), vl);
		FUZZ_CHECK(memmem(buf, len, pair, literal ? kl + 1 + vl : kl + 1) != NULL);
		FUZZ_CHECK(!memchr(json_string_value(v), '\n', vl));
		free(pair);
	}
}

/* Checks the contract of zr_payload_parse for one action name (NULL allowed). */
static void parse(const char *buf, size_t len, const char *action)
{
	json_t *args = NULL;
	char *err = NULL;
	int r = zr_payload_parse(buf, len, action, &args, &err);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(json_is_object(args));
		FUZZ_CHECK(err == NULL);
		size_t i = 0;
		while (i < len && strchr(" \t\n\r\v\f", buf[i])) {
			i++;
		}
		size_t e = len;
		while (e > i && strchr(" \t\n\r\v\f", buf[e - 1])) {
			e--;
		}
		bool named = action && strlen(action) == e - i && memcmp(buf + i, action, e - i) == 0;
		/* Outside a JSON object every value is text from a key=value line. */
		if (i < len && buf[i] != '{' && !named) {
			check_key_value(buf, len, args);
		}
	} else {
		FUZZ_CHECK(args == NULL);
		FUZZ_CHECK(r != -EINVAL || err != NULL);
	}
	json_decref(args);
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	parse(buf, size, "exec");
	parse(buf, size, NULL);

	json_error_t e;
	json_t *j = json_loadb(buf, size, 0, &e);
	if (!j) {
		(void)zr_json_incomplete(buf, size, &e);
	}
	json_decref(j);
	return 0;
}
