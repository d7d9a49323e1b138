/* The clean environment of an action: a fixed base, the robot's variables the admin passes
 * on, and the manifest's fixed values. */
#include "env.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define NAME_LEN_MAX 128

bool zr_env_name_valid(const char *name, const char **ret_why)
{
	size_t n = strlen(name);
	if (n == 0 || n > NAME_LEN_MAX || (name[0] >= '0' && name[0] <= '9') ||
	    strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != n) {
		*ret_why = "must match [A-Z_][A-Z0-9_]* (at most 128 characters)";
		return false;
	}
	/* The robot's own variables stay with the robot (tokens, paths of its data), and the
	 * protocol's are set by the robot alone: an action must be able to trust them. */
	static const char *const reserved[] = {"ZR_", "ZROBOT_", "DATA_", "ARG_"};
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strncmp(name, reserved[i], strlen(reserved[i])) == 0) {
			*ret_why = "must not start with ZR_, ZROBOT_, DATA_ or ARG_ (the robot's own)";
			return false;
		}
	}
	return true;
}

int zr_env_check(const json_t *v, char **ret_why)
{
	if (!json_is_object(v)) {
		return zr_fail(ret_why, -EINVAL, "must be an object of \"NAME\": \"value\"");
	}
	if (json_object_size(v) > ZR_ENV_NAMES_MAX) {
		return zr_fail(ret_why, -EINVAL, "more than %d variables", ZR_ENV_NAMES_MAX);
	}
	const char *name;
	json_t *x;
	json_object_foreach((json_t *)v, name, x) {
		const char *why = NULL;
		/* The name is not quoted: a manifest from a repository is not ours to echo. */
		if (!zr_env_name_valid(name, &why)) {
			return zr_fail(ret_why, -EINVAL, "a variable name %s", why);
		}
		/* A NUL inside a value would cut it short without a word. */
		if (!json_is_string(x) || strlen(json_string_value(x)) != json_string_length(x) ||
		    json_string_length(x) > ZR_ENV_VALUE_MAX) {
			return zr_fail(ret_why, -EINVAL,
				       "'%s': must be a string of at most %d bytes without NUL", name,
				       ZR_ENV_VALUE_MAX);
		}
	}
	return 0;
}

const json_t *zr_env_values(const json_t *m, const char *action)
{
	if (action) {
		m = json_object_get(json_object_get(m, "actions"), action);
	}
	return json_object_get(m, "env");
}

/* Sets name=value in env[0..*n), replacing an entry of that name. */
static int set(char **env, size_t *n, const char *name, const char *value)
{
	char *kv = NULL;
	if (asprintf(&kv, "%s=%s", name, value) < 0) {
		return -ENOMEM;
	}
	size_t len = strlen(name);
	for (size_t i = 0; i < *n; i++) {
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') {
			free(env[i]);
			env[i] = kv;
			return 0;
		}
	}
	env[(*n)++] = kv;
	return 0;
}


static void free_all(char **env, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(env[i]);
	}
	free(env);
}

char **zr_env_build(char *const *pass, size_t n_pass, const json_t *tenv, const json_t *aenv,
		    size_t extra, size_t *ret_n)
{
	static const struct {
		const char *name, *fallback;
		bool robot; /* the robot's value first */
	} base[] = {
		{"PATH", ZR_ENV_PATH, false},
		{"HOME", "/", true},
		{"LANG", "C.UTF-8", true},
		{"TZ", ":/etc/localtime", true},
	};
	size_t nb = sizeof(base) / sizeof(base[0]);
	size_t cap = nb + n_pass + json_object_size(tenv) + json_object_size(aenv) + extra + 1;
	char **env = calloc(cap, sizeof(*env));
	size_t n = 0;
	if (!env) {
		return NULL;
	}
	int err = 0;
	for (size_t i = 0; err == 0 && i < nb; i++) {
		const char *v = base[i].robot ? getenv(base[i].name) : NULL;
		err = set(env, &n, base[i].name, v ? v : base[i].fallback);
	}
	for (size_t i = 0; err == 0 && i < n_pass; i++) {
		const char *v = getenv(pass[i]);
		err = v ? set(env, &n, pass[i], v) : 0;
	}
	const json_t *objs[] = {tenv, aenv};
	for (size_t o = 0; err == 0 && o < 2; o++) {
		const char *name;
		json_t *x;
		json_object_foreach((json_t *)objs[o], name, x) {
			if (err == 0 && json_is_string(x)) {
				err = set(env, &n, name, json_string_value(x));
			}
		}
	}
	if (err < 0) {
		free_all(env, n);
		return NULL;
	}
	*ret_n = n;
	return env;
}

char *zr_env_var(const char *prefix, const char *key, const json_t *v)
{
	char *text = json_is_string(v) ? strdup(json_string_value(v))
				       : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	char *kv = NULL;
	if (!text || asprintf(&kv, "%s%s=%s", prefix, key, text) < 0) {
		free(text);
		return NULL;
	}
	free(text);
	char *end = kv + strlen(prefix) + strlen(key);
	for (char *c = kv + strlen(prefix); c < end; c++) {
		*c = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
	}
	return kv;
}
