/* Field schemas of template data and action arguments (template.json "data" and
 * "actions.<a>.args"), and validation of JSON objects against them. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct zr_schema;

enum {
	ZR_SCHEMA_COERCE = 1 << 0,  /* string values (from key=value lines) are converted to the
				       field's type: "6379" → 6379, "true"/"false" → booleans,
				       JSON text → objects/arrays */
	ZR_SCHEMA_PARTIAL = 1 << 1, /* required fields may be missing */
};

/* Parses a fields object like {"port": {"type": "integer", "default": 6379, "minimum": 1}}
 * plus an optional "required" array (NULL allowed) naming fields of it.
 * Field keys: type (string|integer|number|boolean|object|array, required), default,
 * description, secret (bool), minimum, maximum (numbers), enum (array of allowed values),
 * min_length, max_length (strings), pattern (POSIX extended regex, strings). Field names
 * match [A-Za-z_][A-Za-z0-9_]{0,62}. Any other key, a default that fails its own field, or
 * a required name that is not a field is an error.
 * fields may be NULL (no fields). Returns 0, or -EINVAL with *ret_err = "field 'port': unknown
 * type 'integr'" (malloc'd), or -ENOMEM. */
int zr_schema_parse(const json_t *fields, const json_t *required, struct zr_schema **ret,
		    char **ret_err);
struct zr_schema *zr_schema_free(struct zr_schema *s);

/* Validates obj (borrowed; must be a JSON object) and returns a new object (new reference)
 * holding obj's fields plus defaults for the ones missing. Unknown fields, wrong types,
 * values outside the constraints and (without ZR_SCHEMA_PARTIAL) missing required fields
 * with no default are errors: -EINVAL with *ret_err = "field 'port': must be <= 65535". */
int zr_schema_apply(const struct zr_schema *s, const json_t *obj, unsigned flags, json_t **ret,
		    char **ret_err);

/* What secret values are shown as. */
#define ZR_SCHEMA_REDACTED "***"

/* Returns a new reference to a copy of obj (borrowed) fit to show: each top-level field that
 * s marks "secret" is replaced by the string "***". Secrecy is a property of a field of s, so
 * a secret field of type object or array is replaced whole, and nothing inside a field that is
 * not secret is touched. Values that are not replaced may be shared with obj: the caller only
 * reads the copy. s NULL (no schema) or obj not an object: a plain copy. NULL when out of
 * memory. Every view of data or arguments other than data itself and the action's own input
 * goes through this function. */
json_t *zr_schema_redact(const struct zr_schema *s, const json_t *obj);

/* Describes v by its kind and size only, for an error text that must not quote a value:
 * "a string of 12 bytes", "an object of 2 fields", "an integer". malloc'd; NULL when out of
 * memory. */
char *zr_json_describe(const json_t *v);

/* Returns the comma-separated names of required fields that obj lacks, e.g. "password, user"
 * (malloc'd), or NULL when none is missing. */
char *zr_schema_missing(const struct zr_schema *s, const json_t *obj);

/* Introspection, fields in their manifest order. */
size_t zr_schema_count(const struct zr_schema *s);
const char *zr_schema_field(const struct zr_schema *s, size_t i);
bool zr_schema_secret(const struct zr_schema *s, const char *field);
