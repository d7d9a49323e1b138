/* The payload of one write to an action file, parsed into an arguments object. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Accepted forms (leading/trailing whitespace ignored):
 *  - empty, or exactly the action's name            → {}
 *  - a JSON object                                   → that object
 *  - one line of key=value words split and quoted as in sh, without expansions ('...' literal;
 *    in "..." a backslash escapes " \ $ `; elsewhere it escapes the next byte): msg=yo n=2,
 *    msg="two words" → {"msg": "two words"}. A line is read so when its first value starts
 *    with a quote, or when it has two words or more and each starts with key=; then every
 *    word must be key=value and every quote closed.
 *  - "key=value" lines (blank lines ignored; key matches [A-Za-z_][A-Za-z0-9_]*; the value is
 *    the rest of the line, kept as a string, quotes and all; a repeated key is an error) →
 *    {"key": "value"}. This is how every line of several is read, and a single line that is
 *    not the form above ("cmd=echo hi x=1" → {"cmd": "echo hi x=1"}), as before the one-line
 *    form: only a line of key= words alone or with a quoted first value changed meaning.
 * Values are strings either way. Anything else (other JSON, bare words, a line without '=',
 * NUL bytes) is -EINVAL with *ret_err (malloc'd) saying why and where, never quoting a value.
 * Returns 0 with *ret a new reference, -EINVAL or -ENOMEM. */
int zr_payload_parse(const char *buf, size_t len, const char *action, json_t **ret,
		     char **ret_err);

/* Whether jansson's error e for buf says a JSON object stopped early (the first of several
 * writes, as an editor saving does) rather than that it is wrong. */
bool zr_json_incomplete(const char *buf, size_t len, const json_error_t *e);

/* What jansson's error e says went wrong, without the piece of the input jansson quotes
 * ("invalid token near 'hunter2'" → "invalid token"), for error texts that are stored or
 * shown: the input may be a secret. Callers add e->line and e->column. A static string. */
const char *zr_json_error_reason(const json_error_t *e);
