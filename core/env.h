/* The environment of an action (DESIGN §9): a clean one, never the robot's own. An action gets
 * PATH, HOME, LANG and TZ, the robot's variables the admin names with --pass-env, the fixed
 * values of its manifest's "env", then the protocol's ZR_*, DATA_* and ARG_* (added by the
 * caller). A manifest cannot name a variable of the robot's: templates come from repositories,
 * and "SSH_AUTH_SOCK" or "AWS_SECRET_ACCESS_KEY" would hand them the admin's credentials. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* PATH of an action unless --pass-env or its manifest gives one: the robot's may hold anything. */
#define ZR_ENV_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Variables a manifest's "env" may set, at most, and the longest value in bytes. */
#define ZR_ENV_NAMES_MAX 64
#define ZR_ENV_VALUE_MAX 4096

/* Whether name may be given to actions (--pass-env, a manifest's "env"): [A-Z_][A-Z0-9_]* of at most 128 characters, and
 * none of the robot's own (ZR_*, ZROBOT_*) or the protocol's (DATA_*, ARG_*). On false,
 * *ret_why (a static string) says why. */
bool zr_env_name_valid(const char *name, const char **ret_why);

/* Checks a manifest's "env" value v (borrowed): an object of at most ZR_ENV_NAMES_MAX members
 * "NAME": "value", valid names, string values of at most ZR_ENV_VALUE_MAX bytes without a NUL.
 * Returns 0, or -EINVAL with *ret_why (malloc'd) saying which entry and why, or -ENOMEM. */
int zr_env_check(const json_t *v, char **ret_why);

/* The "env" object of a manifest m (borrowed; may be NULL): the template's when action is NULL,
 * else that action's entry's. Borrowed from m; NULL when there is none. */
const json_t *zr_env_values(const json_t *m, const char *action);

/* The base environment of an action: PATH, HOME, LANG and TZ; then each of the n_pass names
 * in pass (--pass-env) that the robot's environment has, with the robot's value; then the
 * members of tenv and aenv (the template's and the action's "env" objects as zr_env_check
 * accepted them; may be NULL). A later one replaces an earlier one of the same name.
 * Defaults: PATH ZR_ENV_PATH; HOME, LANG and TZ the robot's, else "/", "C.UTF-8" and
 * ":/etc/localtime" (the machine's zone, as with no TZ).
 * Returns a NULL-terminated array of malloc'd "NAME=VALUE" strings (the caller frees both) with
 * room for extra more entries after the *ret_n filled ones (all NULL), or NULL when out of
 * memory. */
char **zr_env_build(char *const *pass, size_t n_pass, const json_t *tenv, const json_t *aenv,
		    size_t extra, size_t *ret_n);

/* One variable of the action protocol from a JSON member (DESIGN §4): prefix ("DATA_", "ARG_")
 * + key in upper case, other characters '_', "=" + the value (a string as it is, anything else
 * as compact JSON). Returns the malloc'd "NAME=VALUE", or NULL when out of memory. */
char *zr_env_var(const char *prefix, const char *key, const json_t *v);
