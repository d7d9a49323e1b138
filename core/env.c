/* The clean environment of an action: a fixed base and the variables named on purpose. */
#include "env.h"

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
			*ret_why = "ZR_*, ZROBOT_*, DATA_* and ARG_* are the robot's own";
			return false;
		}
	}
	return true;
}

int zr_env_check(const json_t *v, char **ret_why)
{
	if (!json_is_array(v)) {
		return zr_fail(ret_why, -EINVAL, "must be an array of variable names");
	}
	if (json_array_size(v) > ZR_ENV_NAMES_MAX) {
		return zr_fail(ret_why, -EINVAL, "more than %d names", ZR_ENV_NAMES_MAX);
	}
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x) {
		const char *why = NULL;
		/* The length check keeps a NUL inside the name from hiding the rest of it. */
		if (!json_is_string(x) || strlen(json_string_value(x)) != json_string_length(x)) {
			return zr_fail(ret_why, -EINVAL, "entry %zu: must be a string", i);
		}
		if (!zr_env_name_valid(json_string_value(x), &why)) {
			/* The name is not quoted: a manifest from a repository is not ours to echo. */
			return zr_fail(ret_why, -EINVAL, "entry %zu: %s", i, why);
		}
	}
	return 0;
}

const json_t *zr_env_names(const json_t *m, const char *action)
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

/* Passes the robot's value of name on, when it has one. */
static int pass_on(char **env, size_t *n, const char *name)
{
	const char *value = getenv(name);
	return value ? set(env, n, name, value) : 0;
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
	size_t cap = nb + n_pass + json_array_size(tenv) + json_array_size(aenv) + extra + 1;
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
		err = pass_on(env, &n, pass[i]);
	}
	const json_t *lists[] = {tenv, aenv};
	for (size_t l = 0; err == 0 && l < 2; l++) {
		size_t i;
		json_t *x;
		json_array_foreach(lists[l], i, x) {
			if (err == 0 && json_is_string(x)) {
				err = pass_on(env, &n, json_string_value(x));
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
