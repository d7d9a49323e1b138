/* Templates: a folder with template.json and actions/<name> executables, parsed and validated
 * at load time. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include "schema.h"

struct zr_process_def;

struct zr_retry {
	int tries;      /* total attempts, >= 1 (1 = no retry) */
	double delay;   /* seconds before the 2nd attempt */
	double backoff; /* factor applied to the delay for each further attempt, >= 1 */
};

/* The supervisor's own actions (DESIGN §6), offered when the template has a "process". */
enum zr_builtin {
	ZR_BUILTIN_NONE,    /* a script */
	ZR_BUILTIN_START,   /* want up; ends when ready. A template's own start script runs first */
	ZR_BUILTIN_STOP,    /* want down; ends when the tree is gone. Its own stop script first */
	ZR_BUILTIN_RESTART, /* ends when the new process is ready */
	ZR_BUILTIN_RELOAD,  /* reload_signal to the main process */
	ZR_BUILTIN_STATUS,  /* prints process/status */
};

struct zr_action_def {
	char *name;
	char *path;       /* absolute path of the executable; NULL for a built-in without a script */
	enum zr_builtin builtin; /* what the supervisor does (after the script, if any) */
	double timeout;   /* seconds; 0 = none */
	struct zr_retry retry;
	double every;     /* seconds between runs of a recurring action; 0 = not recurring */
	struct zr_schema *args; /* never NULL (may have no fields) */
	char *description; /* may be NULL */
	bool admin;       /* "admin": true: only the admin token or local root may run it */
};

/* A "consumes" role (DESIGN §8): {"template": T, "min": N, "max": N, "auto": bool}. Its data
 * field holds a producer path ("T/S", "@remote/R/T/S") or, when max > 1, a list of them. */
struct zr_template_role {
	char *name;     /* the role, also its data field */
	char *template; /* the producers' template, or NULL (any) */
	unsigned min;   /* default 0 */
	unsigned max;   /* default 1; >= min, >= 1 */
	bool auto_create; /* "auto": true (needs template, min <= 1): create a missing producer */
};

struct zr_template {
	char *name;
	char *version;     /* semantic version, e.g. "1.2.0" */
	char *uid;         /* "<source>/<name>/<version>", e.g. "local/redis/1.2.0" */
	char *dir;         /* absolute path of the template folder */
	char *description; /* may be NULL */
	json_t *manifest;  /* the parsed template.json, owned */
	struct zr_schema *data; /* never NULL */
	struct zr_action_def *actions; /* sorted by name */
	size_t n_actions;
	char **on_delete; /* action names run before a service is deleted */
	size_t n_on_delete;
	json_t *on;       /* "on" object or NULL; borrowed from manifest */
	json_t *process;  /* "process" object or NULL; borrowed from manifest */
	struct zr_process_def *proc; /* process parsed (process-def.h), or NULL; owned */
	json_t *consumes; /* "consumes" object or NULL; borrowed from manifest */
	struct zr_template_role *roles; /* parsed from consumes, sorted by name; owned */
	size_t n_roles;
	bool missing;     /* a stand-in for a template that is gone: services keep their place */
	bool users;       /* "users": true: offered to HTTP user tokens (they may create services) */
};

/* Loads the template in folder dir. source is the uid prefix ("local").
 * Manifest keys: name (valid name, equal to the folder's name), version (semver), description,
 * users (boolean: offered to HTTP user tokens), data (schema fields), required, actions
 * ({name: {timeout, retry: {tries, delay, backoff}, every, args, required, description,
 * admin (boolean: admin token or local root only), env}}), process, consumes, on_delete
 * (array of action names), on (object of arrays of action names), env (an object of fixed
 * variables for every action, checked with zr_env_check; an action's own env adds to it and
 * wins; both are read again from manifest when an action starts, env.h). Every regular file
 * in actions/ is an action
 * (its name must be valid and it must be executable); an action named in the manifest must
 * have its file, one in on_delete or on must exist. process is parsed into proc
 * (process-def.h); a template with one also has the built-in actions start, stop, restart,
 * reload and status (enum zr_builtin: path NULL, no arguments, no timeout) where it has no
 * file of that name, and its own start or stop file gets builtin START or STOP. on needs
 * process; its keys are start, ready, exit and fail. Unknown keys are errors.
 * Returns 0, or a negative errno with *ret_err (malloc'd) naming the file and the field, e.g.
 * "/t/redis/template.json: field 'actions.start.timeout': must be a positive number". */
int zr_template_load(const char *dir, const char *source, struct zr_template **ret,
		     char **ret_err);
struct zr_template *zr_template_free(struct zr_template *t);

/* The action named name, or NULL. */
const struct zr_action_def *zr_template_action(const struct zr_template *t, const char *name);
/* The role called name of t's consumes, or NULL (borrowed, valid as long as t). */
const struct zr_template_role *zr_template_role(const struct zr_template *t, const char *name);

/* True when s is a semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]. */
bool zr_semver_valid(const char *s);
/* <0, 0, >0 like strcmp, by semver precedence (both must be valid). */
int zr_semver_compare(const char *a, const char *b);
