/* Fuzzes the control lines an action writes on fd 3: the stream cut into lines as the runner
 * does (core/util/lines.c, chunks as the pipe delivers them), then each line parsed as
 * service-action.c does (core/ctl-line.c).
 *
 * An input is two bytes of set-up, then the stream:
 *  - byte 0: the longest line; with its high bit set, (byte & 0x7f) + 1 bytes, so that cutting
 *    a long line is reached with short inputs; else the runner's 64 KiB;
 *  - byte 1: seeds the chunk sizes (0 to 16 bytes each) the stream is fed in a second time.
 *
 * Besides sanitizers, it checks: the lines do not depend on where the chunks were cut, and
 * are those of a plain split at '\n' (each cut to the cap, the last one only if not empty);
 * a parsed line is what it says and nothing else (rendered again, it parses to the same). */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "ctl-line.h"
#include "fuzz.h"
#include "util/lines.h"

/* The runner's cap (core/runner.c LINE_MAX_BYTES). */
#define RUNNER_LINE_MAX (64 * 1024)

struct line_list {
	char **lines;
	size_t *lens;
	size_t n, cap;
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object_seed(1);
	return 0;
}

static void on_line(const char *line, size_t len, void *data)
{
	struct line_list *ll = data;
	if (ll->n == ll->cap) {
		ll->cap = ll->cap ? ll->cap * 2 : 16;
		ll->lines = realloc(ll->lines, ll->cap * sizeof(*ll->lines));
		ll->lens = realloc(ll->lens, ll->cap * sizeof(*ll->lens));
		FUZZ_CHECK(ll->lines && ll->lens);
	}
	ll->lines[ll->n] = malloc(len ? len : 1);
	FUZZ_CHECK(ll->lines[ll->n]);
	memcpy(ll->lines[ll->n], line, len);
	ll->lens[ll->n++] = len;
}

static void list_done(struct line_list *ll)
{
	for (size_t i = 0; i < ll->n; i++) {
		free(ll->lines[i]);
	}
	free(ll->lines);
	free(ll->lens);
}

static bool list_equal(const struct line_list *a, const struct line_list *b)
{
	if (a->n != b->n) {
		return false;
	}
	for (size_t i = 0; i < a->n; i++) {
		if (a->lens[i] != b->lens[i] || memcmp(a->lines[i], b->lines[i], a->lens[i]) != 0) {
			return false;
		}
	}
	return true;
}

/* A plain split at '\n', each line cut to max; the last one only if not empty. */
static void reference(const char *d, size_t n, size_t max, struct line_list *ret)
{
	while (n > 0) {
		const char *nl = memchr(d, '\n', n);
		size_t len = nl ? (size_t)(nl - d) : n;
		on_line(d, len < max ? len : max, ret);
		d += nl ? len + 1 : n;
		n -= nl ? len + 1 : n;
	}
}

/* The words of s separated by white space (as the parser's isspace), joined by one space. */
static char *normalize(const char *s)
{
	char *out = malloc(strlen(s) + 1), *w = out;
	FUZZ_CHECK(out);
	for (;;) {
		while (*s && isspace((unsigned char)*s)) {
			s++;
		}
		if (!*s) {
			break;
		}
		if (w > out) {
			*w++ = ' ';
		}
		while (*s && !isspace((unsigned char)*s)) {
			*w++ = *s++;
		}
	}
	*w = '\0';
	return out;
}

static bool has_space(const char *s)
{
	for (; *s; s++) {
		if (isspace((unsigned char)*s)) {
			return true;
		}
	}
	return false;
}

/* Parses one line as service-action.c's on_ctl_line does, and checks what it got. */
static void parse_line(const char *line, size_t len)
{
	/* The runner drops one '\r' before the '\n'; on_ctl_line stops at a NUL byte. */
	if (len > 0 && line[len - 1] == '\r') {
		len--;
	}
	char *l = strndup(line, len);
	FUZZ_CHECK(l);
	struct zr_ctl_line c = {0};
	const char *why = NULL;
	int r = zr_ctl_line_parse(l, &c, &why);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(r != -EINVAL || (why && *why));
		FUZZ_CHECK(c.text == NULL && c.data == NULL);
		free(l);
		return;
	}
	char *again = NULL;
	if (c.kind == ZR_CTL_STATE) {
		FUZZ_CHECK(strncmp(l, "state ", 6) == 0);
		FUZZ_CHECK(c.category && c.tag && c.value);
		FUZZ_CHECK(*c.category && *c.tag && *c.value);
		FUZZ_CHECK(!has_space(c.category) && !has_space(c.tag) && !has_space(c.value));
		FUZZ_CHECK(strlen(c.category) <= ZR_CTL_WORD_MAX && strlen(c.tag) <= ZR_CTL_WORD_MAX);
		FUZZ_CHECK(strlen(c.value) <= ZR_CTL_VALUE_MAX);
		/* Exactly the line's three words: none cut, merged or left over. */
		char *words = normalize(l + 6);
		FUZZ_CHECK(asprintf(&again, "%s %s %s", c.category, c.tag, c.value) >= 0);
		FUZZ_CHECK(strcmp(words, again) == 0);
		free(words);
		free(again);
		FUZZ_CHECK(asprintf(&again, "state %s %s %s", c.category, c.tag, c.value) >= 0);
	} else if (c.kind == ZR_CTL_DATA) {
		FUZZ_CHECK(strncmp(l, "data ", 5) == 0);
		FUZZ_CHECK(json_is_object(c.data));
		char *text = json_dumps(c.data, JSON_COMPACT | JSON_ENCODE_ANY);
		FUZZ_CHECK(text);
		FUZZ_CHECK(asprintf(&again, "data %s", text) >= 0);
		free(text);
	} else {
		FUZZ_CHECK(c.kind == ZR_CTL_PROGRESS);
		FUZZ_CHECK(strncmp(l, "progress ", 9) == 0);
		FUZZ_CHECK(c.done >= 0 && c.total >= 0);
		FUZZ_CHECK(asprintf(&again, "progress %lld %lld", c.done, c.total) >= 0);
	}
	/* Rendered again, the command parses to the same. */
	struct zr_ctl_line c2 = {0};
	r = zr_ctl_line_parse(again, &c2, &why);
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	if (r == 0) {
		FUZZ_CHECK(c2.kind == c.kind);
		if (c.kind == ZR_CTL_STATE) {
			FUZZ_CHECK(strcmp(c.category, c2.category) == 0 && strcmp(c.tag, c2.tag) == 0 &&
				   strcmp(c.value, c2.value) == 0);
		} else if (c.kind == ZR_CTL_DATA) {
			FUZZ_CHECK(json_equal(c.data, c2.data));
		} else {
			FUZZ_CHECK(c.done == c2.done && c.total == c2.total);
		}
	}
	zr_ctl_line_done(&c2);
	zr_ctl_line_done(&c);
	FUZZ_CHECK(c.text == NULL && c.data == NULL);
	free(again);
	free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2) {
		return 0;
	}
	size_t max = data[0] & 0x80 ? (size_t)(data[0] & 0x7f) + 1 : RUNNER_LINE_MAX;
	uint32_t seed = data[1] * 2654435761u + 1;
	const char *d = (const char *)data + 2;
	size_t n = size - 2;

	struct line_list whole = {0}, chunked = {0}, ref = {0};
	struct zr_lines l;
	zr_lines_init(&l, max);
	zr_lines_feed(&l, d, n, on_line, &whole);
	zr_lines_flush(&l, on_line, &whole);
	zr_lines_done(&l);

	zr_lines_init(&l, max);
	for (size_t at = 0; at < n;) {
		seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;
		size_t take = seed % 17;
		take = take < n - at ? take : n - at;
		zr_lines_feed(&l, d + at, take, on_line, &chunked);
		at += take;
	}
	zr_lines_flush(&l, on_line, &chunked);
	zr_lines_done(&l);

	reference(d, n, max, &ref);
	FUZZ_CHECK(list_equal(&whole, &ref));
	FUZZ_CHECK(list_equal(&chunked, &ref));
	for (size_t i = 0; i < whole.n; i++) {
		FUZZ_CHECK(whole.lens[i] <= max && !memchr(whole.lines[i], '\n', whole.lens[i]));
		parse_line(whole.lines[i], whole.lens[i]);
	}
	list_done(&whole);
	list_done(&chunked);
	list_done(&ref);
	return 0;
}
