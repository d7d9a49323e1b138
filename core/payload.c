/* Parsing of one write to an action file: empty, the action's name, a JSON object,
 * key=value words on one line (quoted as in sh) or key=value lines. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/name.h"

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Strict UTF-8 (no overlongs, surrogates or code points above U+10FFFF), so that a NULL
 * from json_stringn can only mean out of memory. */
static bool utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned char c = s[i];
		size_t more;
		unsigned cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xC2 && c <= 0xDF) {
			more = 1, cp = c & 0x1F;
		} else if (c >= 0xE0 && c <= 0xEF) {
			more = 2, cp = c & 0x0F;
		} else if (c >= 0xF0 && c <= 0xF4) {
			more = 3, cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= more) {
			return false;
		}
		for (size_t k = 1; k <= more; k++) {
			if ((s[i + k] & 0xC0) != 0x80) {
				return false;
			}
			cp = cp << 6 | (s[i + k] & 0x3F);
		}
		if ((more == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
		    (more == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
			return false;
		}
		i += more + 1;
	}
	return true;
}

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "something else";
}

static int parse_json(const char *p, size_t n, json_t **ret, char **ret_err)
{
	json_error_t e;
	json_t *j = json_loadb(p, n, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		return zr_fail(ret_err, -EINVAL, "invalid JSON: %s (line %d, column %d)",
			       zr_json_error_reason(&e), e.line, e.column);
	}
	if (!json_is_object(j)) {
		/* Cannot happen for text starting with '{', but costs nothing to check. */
		json_decref(j);
		return zr_fail(ret_err, -EINVAL, "expected a JSON object");
	}
	*ret = j;
	return 0;
}

/* The offset of the first byte of key k[0..n) that makes it no identifier (n if none). Byte
 * by byte: zr_ident_valid on each prefix would be quadratic in a long key. */
static size_t bad_key_char(const char *k, size_t n)
{
	size_t i = 0;
	while (i < n && (zr_ident_valid(k + i, 1) || (i > 0 && k[i] >= '0' && k[i] <= '9'))) {
		i++;
	}
	return i;
}

/* The column (from 1, in bytes) of at in the write that starts at buf. */
static size_t column(const char *buf, const char *at)
{
	const char *s = at;
	while (s > buf && s[-1] != '\n') {
		s--;
	}
	return (size_t)(at - s) + 1;
}

/* key=value lines of p[0..n), a part of the write buf whose first line is line number line0
 * of the write. */
/* Adds key = the string val (vlen bytes) of line to args: a key once, values UTF-8. */
static int put_arg(json_t *args, const char *key, const char *val, size_t vlen, unsigned line,
		   char **ret_err)
{
	if (json_object_get(args, key)) {
		return zr_fail(ret_err, -EINVAL, "line %u: duplicate key '%s'", line, key);
	}
	if (!utf8_valid((const unsigned char *)val, vlen)) {
		return zr_fail(ret_err, -EINVAL, "line %u: value of '%s' is not valid UTF-8", line,
			       key);
	}
	json_t *v = json_stringn(val, vlen);
	return v && json_object_set_new(args, key, v) == 0 ? 0 : -ENOMEM;
}

static int parse_lines(const char *buf, const char *p, size_t n, unsigned line0, json_t **ret,
		       char **ret_err)
{
	if (!memchr(p, '=', n)) {
		return zr_fail(ret_err, -EINVAL,
			       "expected the action's name, a JSON object or key=value lines, "
			       "got %zu bytes of text without '='", n);
	}
	_cleanup_json_ json_t *args = json_object();
	if (!args) {
		return -ENOMEM;
	}
	const char *end = p + n;
	for (unsigned line = line0; p < end; line++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *next = nl ? nl + 1 : end;
		/* CRLF line ends (a payload written from Windows or a web form). */
		if (eol > p && eol[-1] == '\r') {
			eol--;
		}
		while (p < eol && is_space(*p)) {
			p++;
		}
		if (p == eol) {
			p = next;
			continue;
		}
		const char *eq = memchr(p, '=', (size_t)(eol - p));
		size_t len = (size_t)(eol - p);
		if (!eq) {
			return zr_fail(ret_err, -EINVAL,
				       "line %u: expected key=value, got %zu bytes without '='",
				       line, len);
		}
		size_t klen = (size_t)(eq - p);
		if (klen == 0) {
			return zr_fail(ret_err, -EINVAL, "line %u: empty key before '='", line);
		}
		if (!zr_ident_valid(p, klen)) {
			/* Where, not what: a value typed without its key must not be echoed. */
			return zr_fail(ret_err, -EINVAL,
				       "line %u, column %zu: bad character in a key (keys match "
				       "[A-Za-z_][A-Za-z0-9_]*)", line,
				       column(buf, p + bad_key_char(p, klen)));
		}
		_cleanup_free_ char *key = strndup(p, klen);
		if (!key) {
			return -ENOMEM;
		}
		const char *val = eq + 1;
		int err = put_arg(args, key, val, (size_t)(eol - val), line, ret_err);
		if (err < 0) {
			return err;
		}
		p = next;
	}
	*ret = TAKE_PTR(args);
	return 0;
}

/* Shell blanks: what separates the words of the one-line form. */
static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* One word of a one-line payload, as sh splits it. */
struct word {
	const char *start, *end; /* the raw text, quotes included */
	size_t klen;             /* > 0: the raw text starts with a key and '=' (a pair) */
	const char *open;        /* the quote that is never closed, or NULL */
};

/* Reads the word at s (not a blank) up to the first unquoted blank or end, the way sh does:
 * '...' is literal; in "..." a backslash escapes only " \ $ and `; elsewhere a backslash
 * escapes the next byte (a last one is kept). Nothing is expanded. When out is not NULL (room
 * for end - s bytes) it gets the text without quotes, *ret_outlen its length. An unclosed
 * quote takes the rest of the line and is noted in w->open. Returns where the word ends. */
static const char *read_word(const char *s, const char *end, struct word *w, char *out,
			     size_t *ret_outlen)
{
	size_t o = 0;
	*w = (struct word){.start = s};
	size_t k = bad_key_char(s, (size_t)(end - s));
	if (k > 0 && s + k < end && s[k] == '=') {
		w->klen = k;
	}
	while (s < end && !is_blank(*s)) {
		if (*s == '\\') {
			if (s + 1 < end) {
				s++;
			}
			if (out) {
				out[o++] = *s;
			}
			s++;
		} else if (*s == '\'' || *s == '"') {
			const char *q = s + 1;
			for (; q < end && *q != *s; q++) {
				if (*s == '"' && *q == '\\' && q + 1 < end &&
				    memchr("\"\\$`", q[1], 4)) {
					q++;
				}
				if (out) {
					out[o++] = *q;
				}
			}
			if (q == end) {
				w->open = s;
				s = end;
				break;
			}
			s = q + 1;
		} else {
			if (out) {
				out[o++] = *s;
			}
			s++;
		}
	}
	w->end = s;
	if (ret_outlen) {
		*ret_outlen = o;
	}
	return s;
}

/* Whether the one line p[0..n) is the one-line form (key=value words, shell-like quoting)
 * rather than one key=value whose value is the rest of the line, as every line was before
 * the one-line form: when its first value starts with a quote, or when it has two words or
 * more and each starts with key=. So "cmd=uname -a" and "cmd=echo hello from key=value" keep
 * their meaning, while msg=yo n=2 and msg="two words" are read the shell way. */
static bool one_line_form(const char *p, size_t n)
{
	const char *end = p + n;
	unsigned words = 0;
	bool all_pairs = true;
	while (p < end) {
		if (is_blank(*p)) {
			p++;
			continue;
		}
		struct word w;
		p = read_word(p, end, &w, NULL, NULL);
		if (w.klen > 0) {
			const char *v = w.start + w.klen + 1;
			if (words == 0 && v < w.end && (*v == '"' || *v == '\'')) {
				return true;
			}
		} else {
			all_pairs = false;
		}
		words++;
	}
	return words >= 2 && all_pairs;
}

/* The words of the one line p[0..n) of the write buf (line number line) as key=value pairs.
 * Errors say where, never what: a value typed without its key must not be echoed. */
static int parse_words(const char *buf, const char *p, size_t n, unsigned line, json_t **ret,
		       char **ret_err)
{
	_cleanup_json_ json_t *args = json_object();
	_cleanup_free_ char *text = malloc(n + 1);
	if (!args || !text) {
		return -ENOMEM;
	}
	const char *end = p + n;
	unsigned nword = 0;
	while (p < end) {
		if (is_blank(*p)) {
			p++;
			continue;
		}
		struct word w;
		size_t tlen;
		p = read_word(p, end, &w, text, &tlen);
		nword++;
		if (w.open) {
			return zr_fail(ret_err, -EINVAL, "line %u, column %zu: unterminated quote",
				       line, column(buf, w.open));
		}
		size_t rlen = (size_t)(w.end - w.start);
		const char *eq = memchr(w.start, '=', rlen);
		if (!eq) {
			return zr_fail(ret_err, -EINVAL,
				       "line %u, word %u (column %zu): expected key=value, got %zu "
				       "bytes without '='", line, nword, column(buf, w.start), rlen);
		}
		if (eq == w.start) {
			return zr_fail(ret_err, -EINVAL, "line %u, word %u: empty key before '='",
				       line, nword);
		}
		if (w.klen == 0) {
			size_t bad = bad_key_char(w.start, (size_t)(eq - w.start));
			return zr_fail(ret_err, -EINVAL,
				       "line %u, column %zu: bad character in a key (keys match "
				       "[A-Za-z_][A-Za-z0-9_]*)", line, column(buf, w.start + bad));
		}
		/* The key and '=' are unquoted: the text starts with them too. */
		text[w.klen] = '\0';
		const char *key = text, *val = text + w.klen + 1;
		int err = put_arg(args, key, val, tlen - w.klen - 1, line, ret_err);
		if (err < 0) {
			return err;
		}
	}
	*ret = TAKE_PTR(args);
	return 0;
}

int zr_payload_parse(const char *buf, size_t len, const char *action, json_t **ret,
		     char **ret_err)
{
	if (len == 0) {
		buf = ""; /* a zero-length write may come without a buffer */
	}
	/* Checked first: everything below may treat the payload as C text. */
	if (memchr(buf, '\0', len)) {
		return zr_fail(ret_err, -EINVAL, "payload contains a NUL byte");
	}
	size_t b = 0, e = len;
	while (b < e && is_space(buf[b])) {
		b++;
	}
	while (e > b && is_space(buf[e - 1])) {
		e--;
	}
	const char *p = buf + b;
	size_t n = e - b;
	if (n == 0 || (action && strlen(action) == n && memcmp(p, action, n) == 0)) {
		json_t *j = json_object();
		if (!j) {
			return -ENOMEM;
		}
		*ret = j;
		return 0;
	}
	if (p[0] == '{') {
		/* The whole write, so that jansson's line numbers are those of the write. */
		return parse_json(buf, len, ret, ret_err);
	}
	/* Other JSON values get a precise message; key=value text never parses as JSON. */
	json_t *other = json_loadb(p, n, JSON_DECODE_ANY, NULL);
	if (other) {
		const char *kind = json_kind(other);
		json_decref(other);
		return zr_fail(ret_err, -EINVAL, "expected a JSON object, got %s", kind);
	}
	unsigned line0 = 1;
	for (size_t i = 0; i < b; i++) {
		line0 += buf[i] == '\n';
	}
	if (!memchr(p, '\n', n) && one_line_form(p, n)) {
		return parse_words(buf, p, n, line0, ret, ret_err);
	}
	return parse_lines(buf, p, n, line0, ret, ret_err);
}

/* jansson says "premature end of input" for '{"a": 1', and "... near end of file" for
 * '{"a": ' (not to be confused with "end of file expected": text after the object). */
bool zr_json_incomplete(const char *buf, size_t len, const json_error_t *e)
{
	size_t i = 0;
	while (i < len && strchr(" \t\r\n", buf[i])) {
		i++;
	}
	if (i == len || buf[i] != '{') {
		return false;
	}
	size_t tl = strlen(e->text);
	return strncmp(e->text, "premature end of input", 22) == 0 ||
	       (tl >= 16 && strcmp(e->text + tl - 16, "near end of file") == 0 &&
		strncmp(e->text, "end of file expected", 20) != 0);
}

/* jansson's texts without their context: error_set() in jansson's load.c appends "near
 * '<the token>'" (up to 20 bytes of the input) to most of them, and a few quote the input in
 * the message itself; those are matched by their start. */
static const struct {
	const char *text;
	const char *reason; /* NULL: the text itself */
} json_reasons[] = {
	{"premature end of input", NULL},
	{"unexpected newline", NULL},
	{"invalid escape", NULL},
	{"invalid Unicode", "invalid Unicode escape"},
	{"control character", "control character in a string"},
	{"unable to decode byte", "invalid UTF-8"},
	{"string or '}' expected", NULL},
	{"':' expected", NULL},
	{"'}' expected", NULL},
	{"']' expected", NULL},
	{"'[' or '{' expected", NULL},
	{"end of file expected", NULL},
	{"invalid token", NULL},
	{"unexpected token", NULL},
	{"duplicate object key", NULL},
	{"NUL byte in object key not supported", NULL},
	{"\\u0000 is not allowed", "\\u0000 is not allowed in a string"},
	{"maximum parsing depth reached", NULL},
	{"too big integer", NULL},
	{"too big negative integer", NULL},
	{"real number overflow", NULL},
};

const char *zr_json_error_reason(const json_error_t *e)
{
	for (size_t i = 0; i < sizeof(json_reasons) / sizeof(json_reasons[0]); i++) {
		const char *t = json_reasons[i].text;
		size_t n = strlen(t);
		if (strncmp(e->text, t, n) == 0) {
			/* Only the texts that quote input in the message itself are matched by
			 * their start; for the others a longer text is one this table lacks. */
			bool whole = e->text[n] == '\0' || strncmp(e->text + n, " near ", 6) == 0;
			if (whole || json_reasons[i].reason) {
				return json_reasons[i].reason ? json_reasons[i].reason : t;
			}
		}
	}
	/* A text of a newer jansson: its kind only. */
	switch (json_error_code(e)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "premature end of input";
	case json_error_end_of_input_expected:
		return "end of file expected";
	case json_error_duplicate_key:
		return "duplicate object key";
	case json_error_numeric_overflow:
		return "number out of range";
	default:
		return "invalid syntax";
	}
}
