/* Fuzzes the payload of a write to an action file (core/payload.c): empty, the action's
 * name, a JSON object or key=value lines, as tree.c's write_action parses it, and the check
 * write_data makes on a data body that may be the first of several writes. */
#include <errno.h>
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
		/* Outside a JSON object every value is text from a key=value line. */
		if (i < len && buf[i] != '{') {
			const char *key;
			json_t *v;
			json_object_foreach(args, key, v) {
				FUZZ_CHECK(json_is_string(v));
				FUZZ_CHECK(key[0] != '\0');
			}
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
