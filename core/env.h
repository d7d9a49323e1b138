/* The environment of an action (DESIGN §9): a clean one, never the robot's own. An action gets
 * PATH, HOME, LANG and TZ, the robot's variables that --pass-env and its manifest's "env" name,
 * then the action protocol's ZR_*, DATA_* and ARG_* (added by the caller). */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* PATH of an action unless PATH is passed on by name: the robot's own may hold anything. */
#define ZR_ENV_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
/* Names a manifest's "env" may list, at most. */
#define ZR_ENV_NAMES_MAX 64

/* Whether name may be passed on to actions: [A-Z_][A-Z0-9_]* of at most 128 characters, and
 * none of the robot's own (ZR_*, ZROBOT_*) or the protocol's (DATA_*, ARG_*). On false,
 * *ret_why (a static string) says why. */
bool zr_env_name_valid(const char *name, const char **ret_why);

/* Checks a manifest's "env" value v (borrowed): an array of at most ZR_ENV_NAMES_MAX valid
 * names. Returns 0, or -EINVAL with *ret_why (malloc'd) saying which entry and why, or
 * -ENOMEM. */
int zr_env_check(const json_t *v, char **ret_why);

/* The "env" array of a manifest m (borrowed; may be NULL): the template's when action is NULL,
 * else that action's entry's. Borrowed from m; NULL when there is none. */
const json_t *zr_env_names(const json_t *m, const char *action);

/* The base environment of an action. Each names list (may be NULL) holds variable names:
 * pass (n_pass of them, from --pass-env), then tenv and aenv (the template's and the action's
 * "env" arrays as zr_env_check accepted them). A named variable the robot has is passed on with
 * its value; PATH, HOME, LANG and TZ are always there: a named one replaces the default.
 * Defaults: PATH ZR_ENV_PATH; HOME, LANG and TZ the robot's, else "/", "C.UTF-8" and
 * ":/etc/localtime" (the machine's zone, as with no TZ).
 * Returns a NULL-terminated array of malloc'd "NAME=VALUE" strings (the caller frees both) with
 * room for extra more entries after the *ret_n filled ones (all NULL), or NULL when out of
 * memory. */
char **zr_env_build(char *const *pass, size_t n_pass, const json_t *tenv, const json_t *aenv,
		    size_t extra, size_t *ret_n);
