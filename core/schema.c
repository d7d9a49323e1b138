/* Field schemas: parsing the field definitions of template.json and validating objects
 * (service data, action arguments) against them. */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/name.h"
#include "util/pattern.h"

/* Highest zr_pattern_cost of a pattern: regcomp then takes a few MB and milliseconds. */
#define PATTERN_COST_MAX 10000

enum type {
	TYPE_STRING,
	TYPE_INTEGER,
	TYPE_NUMBER,
	TYPE_BOOLEAN,
	TYPE_OBJECT,
	TYPE_ARRAY,
	TYPE_PRODUCERS, /* a consumes role with max > 1: a tree path or a list of them */
};

#define JSON_TYPE(t) (1u << (t))

/* One row a field type: its name in template.json, the error of a value of another type, and
 * the jansson types it accepts (an integer is also a number). */
static const struct {
	const char *name;
	const char *error;
	unsigned json_types;
} types[] = {
	[TYPE_STRING] = {"string", "must be a string", JSON_TYPE(JSON_STRING)},
	[TYPE_INTEGER] = {"integer", "must be an integer", JSON_TYPE(JSON_INTEGER)},
	[TYPE_NUMBER] = {"number", "must be a number",
			 JSON_TYPE(JSON_INTEGER) | JSON_TYPE(JSON_REAL)},
	[TYPE_BOOLEAN] = {"boolean", "must be a boolean",
			  JSON_TYPE(JSON_TRUE) | JSON_TYPE(JSON_FALSE)},
	[TYPE_OBJECT] = {"object", "must be an object", JSON_TYPE(JSON_OBJECT)},
	[TYPE_ARRAY] = {"array", "must be an array", JSON_TYPE(JSON_ARRAY)},
	[TYPE_PRODUCERS] = {"producers", "must be a string or a list of strings",
			    JSON_TYPE(JSON_STRING) | JSON_TYPE(JSON_ARRAY)},
};

struct field {
	char *name;
	enum type type;
	bool secret;
	bool required;
	json_t *def;       /* NULL when the field has no default */
	json_t *minimum;   /* numbers or NULL */
	json_t *maximum;
	json_t *allowed;   /* the "enum" array or NULL */
	json_int_t min_length; /* -1 when unset */
	json_int_t max_length;
	char *pattern;     /* NULL when unset; re is compiled from it */
	regex_t re;
};

struct zr_schema {
	struct field *fields;
	size_t n;
};

static bool field_name_valid(const char *s)
{
	size_t n = strlen(s);
	return n <= 63 && zr_ident_valid(s, n);
}

static const struct field *find(const struct zr_schema *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->fields[i].name, name) == 0) {
			return &s->fields[i];
		}
	}
	return NULL;
}

static bool has_type(enum type t, const json_t *v)
{
	return v && (types[t].json_types & JSON_TYPE(json_typeof(v)));
}

/* Compares two JSON numbers: exactly when both are integers, as doubles otherwise. */
static int num_cmp(const json_t *a, const json_t *b)
{
	if (json_is_integer(a) && json_is_integer(b)) {
		json_int_t x = json_integer_value(a), y = json_integer_value(b);
		return (x > y) - (x < y);
	}
	double x = json_number_value(a), y = json_number_value(b);
	return (x > y) - (x < y);
}

/* Like json_equal, but 1 and 1.0 are the same number. */
static bool value_equal(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b)) {
		return num_cmp(a, b) == 0;
	}
	return json_equal(a, b);
}

static json_int_t utf8_length(const char *s, size_t n)
{
	json_int_t len = 0;
	for (size_t i = 0; i < n; i++) {
		len += ((unsigned char)s[i] & 0xC0) != 0x80;
	}
	return len;
}

char *zr_json_describe(const json_t *v)
{
	char *s = NULL;
	int n = -1;
	switch (json_typeof(v)) {
	case JSON_STRING:
		n = asprintf(&s, "a string of %zu byte%s", json_string_length(v),
			     json_string_length(v) == 1 ? "" : "s");
		break;
	case JSON_OBJECT:
		n = asprintf(&s, "an object of %zu field%s", json_object_size(v),
			     json_object_size(v) == 1 ? "" : "s");
		break;
	case JSON_ARRAY:
		n = asprintf(&s, "an array of %zu item%s", json_array_size(v),
			     json_array_size(v) == 1 ? "" : "s");
		break;
	case JSON_INTEGER:
		n = asprintf(&s, "an integer");
		break;
	case JSON_REAL:
		n = asprintf(&s, "a real number");
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		n = asprintf(&s, "a boolean");
		break;
	case JSON_NULL:
		n = asprintf(&s, "null");
		break;
	}
	return n < 0 ? NULL : s;
}

/* Formats a JSON value of the schema itself (a bound, the allowed values) compactly for an
 * error message, never a user's value; "?" when out of memory. */
static char *dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	return s ? s : strdup("?");
}

/* Checks v against field f (type and constraints). With coerce, a string is first read as
 * JSON text when the field is not a string. On success *ret is a new reference to the value
 * to store. On -EINVAL *ret_msg is the reason without the field name. */
static int check_value(const struct field *f, const json_t *v, bool coerce, json_t **ret,
		       char **ret_msg)
{
	_cleanup_json_ json_t *coerced = NULL;
	/* A producers field keeps a string as the one path it is, unless it is a JSON list. */
	if (coerce && f->type != TYPE_STRING && json_is_string(v) &&
	    (f->type != TYPE_PRODUCERS || json_string_value(v)[0] == '[')) {
		/* "6379" → 6379, "true" → true, "[1,2]" → [1,2]; anything unparsable stays a
		 * string and fails the type check below. */
		coerced = json_loadb(json_string_value(v), json_string_length(v),
				     JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
		if (coerced) {
			v = coerced;
		}
	}
	if (!has_type(f->type, v)) {
		/* What came instead, by its kind and size only: the value may be a secret. */
		_cleanup_free_ char *got = zr_json_describe(v);
		return zr_fail(ret_msg, -EINVAL, "%s, got %s", types[f->type].error,
			       got ? got : "something else");
	}
	if (f->type == TYPE_PRODUCERS && json_is_array(v)) {
		size_t i;
		json_t *a;
		json_array_foreach(v, i, a) {
			if (!json_is_string(a)) {
				return zr_fail(ret_msg, -EINVAL, "item %zu must be a string", i);
			}
		}
	}
	if (f->minimum && num_cmp(v, f->minimum) < 0) {
		_cleanup_free_ char *b = dump(f->minimum);
		return zr_fail(ret_msg, -EINVAL, "must be >= %s", b);
	}
	if (f->maximum && num_cmp(v, f->maximum) > 0) {
		_cleanup_free_ char *b = dump(f->maximum);
		return zr_fail(ret_msg, -EINVAL, "must be <= %s", b);
	}
	if (f->type == TYPE_STRING) {
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		json_int_t len = utf8_length(s, n);
		if (f->min_length >= 0 && len < f->min_length) {
			return zr_fail(ret_msg, -EINVAL, "must be at least %lld characters long",
				       (long long)f->min_length);
		}
		if (f->max_length >= 0 && len > f->max_length) {
			return zr_fail(ret_msg, -EINVAL, "must be at most %lld characters long",
				       (long long)f->max_length);
		}
		int m = f->pattern ? zr_pattern_match(&f->re, f->pattern, s, n) : 0;
		if (m == -EFBIG) {
			return zr_fail(ret_msg, -EINVAL, "longer than the %zu bytes a pattern checks",
				       zr_pattern_value_max(f->pattern));
		} else if (m < 0) {
			return zr_fail(ret_msg, -EINVAL, "must match pattern '%s'", f->pattern);
		}
	}
	if (f->allowed) {
		size_t i;
		json_t *a;
		bool ok = false;
		json_array_foreach(f->allowed, i, a) {
			ok = ok || value_equal(v, a);
		}
		if (!ok) {
			_cleanup_free_ char *b = dump(f->allowed);
			return zr_fail(ret_msg, -EINVAL, "must be one of %s", b);
		}
	}
	json_t *copy = json_deep_copy(v);
	if (!copy) {
		return -ENOMEM;
	}
	*ret = copy;
	return 0;
}

static void field_done(struct field *f)
{
	free(f->name);
	json_decref(f->def);
	json_decref(f->minimum);
	json_decref(f->maximum);
	json_decref(f->allowed);
	if (f->pattern) {
		regfree(&f->re);
		free(f->pattern);
	}
}

/* An invalid key of the definition of field name: "field 'port.minimum': must be a number". */
static int key_fail(char **ret_err, const char *name, const char *key, const char *why)
{
	return zr_fail(ret_err, -EINVAL, "field '%s.%s': %s", name, key, why);
}

static int parse_length(const char *name, const char *key, const json_t *v, json_int_t *ret,
			char **ret_err)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		return key_fail(ret_err, name, key, "must be a non-negative integer");
	}
	*ret = json_integer_value(v);
	return 0;
}

/* Fills f (zeroed by the caller, name already set) from the definition def. On failure f
 * holds whatever was parsed so far and the caller cleans it up with field_done. */
static int parse_field(struct field *f, json_t *def, char **ret_err)
{
	const char *name = f->name;
	f->min_length = f->max_length = -1;
	if (!json_is_object(def)) {
		return zr_fail(ret_err, -EINVAL, "field '%s': must be an object", name);
	}

	const json_t *type = json_object_get(def, "type");
	if (!type) {
		return zr_fail(ret_err, -EINVAL, "field '%s.type': required", name);
	}
	if (!json_is_string(type)) {
		return zr_fail(ret_err, -EINVAL, "field '%s.type': must be a string", name);
	}
	size_t t = 0;
	while (t < sizeof(types) / sizeof(types[0]) &&
	       strcmp(types[t].name, json_string_value(type)) != 0) {
		t++;
	}
	if (t == sizeof(types) / sizeof(types[0])) {
		return zr_fail(ret_err, -EINVAL, "field '%s': unknown type '%s'", name,
			       json_string_value(type));
	}
	f->type = (enum type)t;
	bool numeric = f->type == TYPE_INTEGER || f->type == TYPE_NUMBER;
	bool string = f->type == TYPE_STRING;

	const char *key;
	json_t *v;
	int r;
	json_object_foreach(def, key, v) {
		if (strcmp(key, "type") == 0) {
			continue;
		} else if (strcmp(key, "default") == 0) {
			continue; /* checked last, against the complete field */
		} else if (strcmp(key, "description") == 0) {
			if (!json_is_string(v)) {
				return key_fail(ret_err, name, key, "must be a string");
			}
		} else if (strcmp(key, "secret") == 0) {
			if (!json_is_boolean(v)) {
				return key_fail(ret_err, name, key, "must be a boolean");
			}
			f->secret = json_is_true(v);
		} else if (strcmp(key, "minimum") == 0 || strcmp(key, "maximum") == 0) {
			if (!numeric) {
				return key_fail(ret_err, name, key,
						"only integer and number fields have it");
			}
			if (!json_is_number(v)) {
				return key_fail(ret_err, name, key, "must be a number");
			}
			*(strcmp(key, "minimum") == 0 ? &f->minimum : &f->maximum) = json_incref(v);
		} else if (strcmp(key, "min_length") == 0 || strcmp(key, "max_length") == 0) {
			if (!string) {
				return key_fail(ret_err, name, key, "only string fields have it");
			}
			bool min = strcmp(key, "min_length") == 0;
			r = parse_length(name, key, v, min ? &f->min_length : &f->max_length,
					 ret_err);
			if (r < 0) {
				return r;
			}
		} else if (strcmp(key, "pattern") == 0) {
			if (!string) {
				return key_fail(ret_err, name, key, "only string fields have it");
			}
			if (!json_is_string(v) ||
			    strlen(json_string_value(v)) != json_string_length(v)) {
				return key_fail(ret_err, name, key, "must be a string");
			}
			/* Templates come from git repositories too: regcomp must not exhaust
			 * the robot's memory or stack. */
			if (zr_pattern_cost(json_string_value(v)) > PATTERN_COST_MAX) {
				return key_fail(ret_err, name, key,
						"too complex (nests or repeats too much)");
			}
			int rc = regcomp(&f->re, json_string_value(v), REG_EXTENDED | REG_NOSUB);
			if (rc == REG_ESPACE) {
				return -ENOMEM;
			}
			if (rc != 0) {
				char msg[128]; /* regerror truncates to fit */
				(void)regerror(rc, &f->re, msg, sizeof(msg));
				return zr_fail(ret_err, -EINVAL,
					       "field '%s.%s': bad regular expression: %s", name,
					       key, msg);
			}
			f->pattern = strdup(json_string_value(v));
			if (!f->pattern) {
				regfree(&f->re);
				return -ENOMEM;
			}
		} else if (strcmp(key, "enum") == 0) {
			if (!json_is_array(v) || json_array_size(v) == 0) {
				return key_fail(ret_err, name, key, "must be a non-empty array");
			}
			size_t i;
			json_t *a;
			json_array_foreach(v, i, a) {
				if (!has_type(f->type, a)) {
					return zr_fail(ret_err, -EINVAL,
						       "field '%s.%s': value %zu %s", name, key, i,
						       types[f->type].error);
				}
			}
			f->allowed = json_incref(v);
		} else {
			return key_fail(ret_err, name, key, "unknown key");
		}
	}
	if (f->minimum && f->maximum && num_cmp(f->minimum, f->maximum) > 0) {
		return zr_fail(ret_err, -EINVAL, "field '%s': minimum is greater than maximum",
			       name);
	}
	if (f->min_length >= 0 && f->max_length >= 0 && f->min_length > f->max_length) {
		return zr_fail(ret_err, -EINVAL,
			       "field '%s': min_length is greater than max_length", name);
	}

	const json_t *d = json_object_get(def, "default");
	if (d) {
		_cleanup_free_ char *msg = NULL;
		r = check_value(f, d, false, &f->def, &msg);
		if (r == -EINVAL) {
			return zr_fail(ret_err, -EINVAL, "field '%s.default': %s", name, msg);
		}
		if (r < 0) {
			return r;
		}
	}
	return 0;
}

int zr_schema_parse(const json_t *fields, const json_t *required, struct zr_schema **ret,
		    char **ret_err)
{
	if (fields && !json_is_object(fields)) {
		return zr_fail(ret_err, -EINVAL, "fields: must be an object");
	}
	if (required && !json_is_array(required)) {
		return zr_fail(ret_err, -EINVAL, "required: must be an array of field names");
	}
	struct zr_schema *s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	int r = 0;
	size_t n = fields ? json_object_size(fields) : 0;
	if (n > 0) {
		s->fields = calloc(n, sizeof(*s->fields));
		if (!s->fields) {
			r = -ENOMEM;
			goto fail;
		}
		const char *key;
		json_t *def;
		/* jansson's iteration API takes non-const objects; nothing here modifies them. */
		json_object_foreach((json_t *)fields, key, def) {
			if (!field_name_valid(key)) {
				r = zr_fail(ret_err, -EINVAL,
					    "field '%s': bad field name (must match "
					    "[A-Za-z_][A-Za-z0-9_]{0,62})", key);
				goto fail;
			}
			struct field *f = &s->fields[s->n];
			f->name = strdup(key);
			if (!f->name) {
				r = -ENOMEM;
				goto fail;
			}
			/* Counted before parsing so that field_done cleans up a half-parsed field. */
			s->n++;
			r = parse_field(f, def, ret_err);
			if (r < 0) {
				goto fail;
			}
		}
	}

	size_t i;
	json_t *name;
	json_array_foreach(required, i, name) {
		if (!json_is_string(name)) {
			r = zr_fail(ret_err, -EINVAL, "required: must be an array of field names");
			goto fail;
		}
		struct field *f = (struct field *)find(s, json_string_value(name));
		if (!f) {
			r = zr_fail(ret_err, -EINVAL, "required: '%s' is not a field",
				    json_string_value(name));
			goto fail;
		}
		f->required = true;
	}
	*ret = s;
	return 0;

fail:
	zr_schema_free(s);
	return r;
}

struct zr_schema *zr_schema_free(struct zr_schema *s)
{
	if (!s) {
		return NULL;
	}
	for (size_t i = 0; i < s->n; i++) {
		field_done(&s->fields[i]);
	}
	free(s->fields);
	free(s);
	return NULL;
}

int zr_schema_apply(const struct zr_schema *s, const json_t *obj, unsigned flags, json_t **ret,
		    char **ret_err)
{
	if (!json_is_object(obj)) {
		return zr_fail(ret_err, -EINVAL, "must be a JSON object");
	}
	const char *key;
	json_t *v;
	/* Unknown fields are reported first, in the order the caller wrote them. */
	json_object_foreach((json_t *)obj, key, v) {
		if (!find(s, key)) {
			return zr_fail(ret_err, -EINVAL, "field '%s': unknown field", key);
		}
	}

	_cleanup_json_ json_t *out = json_object();
	if (!out) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct field *f = &s->fields[i];
		json_t *nv = NULL;
		v = json_object_get(obj, f->name);
		if (v) {
			_cleanup_free_ char *msg = NULL;
			int r = check_value(f, v, flags & ZR_SCHEMA_COERCE, &nv, &msg);
			if (r == -EINVAL) {
				return zr_fail(ret_err, -EINVAL, "field '%s': %s", f->name, msg);
			}
			if (r < 0) {
				return r;
			}
		} else if (f->def) {
			nv = json_deep_copy(f->def);
			if (!nv) {
				return -ENOMEM;
			}
		} else if (f->required && !(flags & ZR_SCHEMA_PARTIAL)) {
			return zr_fail(ret_err, -EINVAL, "field '%s': required", f->name);
		} else {
			continue;
		}
		if (json_object_set_new(out, f->name, nv) < 0) {
			return -ENOMEM;
		}
	}
	*ret = TAKE_PTR(out);
	return 0;
}

char *zr_schema_missing(const struct zr_schema *s, const json_t *obj)
{
	struct zr_buf b = {0};
	for (size_t i = 0; i < s->n; i++) {
		const struct field *f = &s->fields[i];
		if (!f->required || json_object_get(obj, f->name)) {
			continue;
		}
		if ((b.len > 0 && zr_buf_puts(&b, ", ") < 0) || zr_buf_puts(&b, f->name) < 0) {
			zr_buf_done(&b);
			return NULL;
		}
	}
	if (b.len == 0) {
		zr_buf_done(&b);
		return NULL;
	}
	return zr_buf_steal(&b);
}

size_t zr_schema_count(const struct zr_schema *s)
{
	return s->n;
}

const char *zr_schema_field(const struct zr_schema *s, size_t i)
{
	return i < s->n ? s->fields[i].name : NULL;
}

bool zr_schema_secret(const struct zr_schema *s, const char *field)
{
	const struct field *f = find(s, field);
	return f && f->secret;
}

json_t *zr_schema_redact(const struct zr_schema *s, const json_t *obj)
{
	if (!json_is_object(obj)) {
		return json_deep_copy(obj);
	}
	/* A shallow copy: only top-level values are replaced, the others stay shared. */
	json_t *out = json_copy((json_t *)obj);
	if (!out) {
		return NULL;
	}
	for (size_t i = 0; s && i < s->n; i++) {
		const struct field *f = &s->fields[i];
		if (f->secret && json_object_get(out, f->name) &&
		    json_object_set_new(out, f->name, json_string(ZR_SCHEMA_REDACTED)) < 0) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}
