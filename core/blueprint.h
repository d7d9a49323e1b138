/* Blueprints (DESIGN §8, issue 14): the text of a whole deployment parsed into entries with
 * their positions. Pure: no robot, no I/O; templates are resolved and the plan made by apply.c.
 *
 * One parser for both forms: the text is read with libyaml (JSON is YAML flow style), so every
 * entry has a line and column, whatever the form. Accepted top-level keys: services, children,
 * actions (each optional; nothing else).
 *
 *   services:                       a list; each item one of
 *     - redis/cache: {port: 6380}       our short form: "TEMPLATE/NAME": data (object or null)
 *     - node__local: {}                 ZeroRobot's: "<template-or-uid>__<name>": data; the
 *                                       name is after the LAST "__"; the part before it is a
 *                                       template name or a uid (.../<name>/<version>)
 *     - {template: redis, name: c, version: 1.0.0, data: {...}, parent: webapp/shop}
 *                                       the long form (template and name required; version,
 *                                       data, parent optional; nothing else)
 *   children:                       {"T/S": ["T/S", ...]}: sets the parent of each listed child
 *                                   (a service of this blueprint or one the robot has)
 *   actions:                        a list of blocks {template, service, actions, args}:
 *                                   template / service filter the blueprint's services (absent:
 *                                   any); actions a name or a list of names; args an object
 *
 * Directives: a comment line "# zrobot: WORD..." (anywhere; the first one counts) with words
 * name=NAME, dry-run, prune: how the apply is stored and run, for writers that have only the
 * text (the mount); HTTP and the CLI may set the same in zr_apply_opts, which wins.
 *
 * Scalars: quoted ones are strings; plain ones are null/~, true/false, integers, numbers (YAML
 * core schema), else strings. Anchors and aliases, tags and multi-document streams are refused
 * (an alias is a way to make 10 KiB expand to gigabytes). Mapping keys must be strings; a key
 * twice in one mapping is refused. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* Bounds: refused beyond them, at once, before any work. */
#define ZR_BP_MAX_BYTES (10u * 1024 * 1024)
#define ZR_BP_MAX_SERVICES 10000u
#define ZR_BP_MAX_ACTIONS 10000u /* action blocks */
#define ZR_BP_MAX_DEPTH 64u      /* nesting of mappings and sequences */

struct zr_bp_pos {
	unsigned line, column; /* 1-based, of the entry's first character */
};

struct zr_bp_service {
	char *template; /* as written: a name ("redis") or a uid ("github.com/x/node/0.0.1") */
	char *version;  /* the long form's version, or NULL (a uid carries its own) */
	char *name;
	json_t *data;   /* an object, never NULL (null in the text = {}); owned */
	char *parent;   /* "T/S" from the long form's parent, or NULL */
	struct zr_bp_pos pos;
};

/* A parent given in `children:` (child and parent "T/S"). */
struct zr_bp_child {
	char *parent, *child;
	struct zr_bp_pos pos; /* the child's item */
};

struct zr_bp_action {
	char *template; /* filter, or NULL */
	char *service;  /* filter (a name), or NULL */
	char **actions; /* names, at least one */
	size_t n_actions;
	json_t *args;   /* an object, or NULL; owned */
	struct zr_bp_pos pos;
};

struct zr_bp {
	/* From the "# zrobot:" directive: NULL / false when absent. */
	char *name;
	bool dry_run, prune;
	struct zr_bp_service *services;
	size_t n_services;
	struct zr_bp_child *children;
	size_t n_children;
	struct zr_bp_action *actions;
	size_t n_actions;
};

/* Parses text (len bytes, not NUL-terminated, at most ZR_BP_MAX_BYTES). Checks here: syntax
 * (libyaml's own error with its line:column), shapes, unknown keys, names against the name rule
 * (templates, services, actions; a uid's last two components), two entries with one
 * TEMPLATE/NAME, the bounds. Not here (apply.c): templates, data against schemas, producers,
 * parents that exist, cycles. Returns 0 with *ret (free with zr_bp_free), or -EINVAL with
 * *ret_err (malloc'd) "line L, column C: reason", -E2BIG (beyond a bound, with *ret_err), or
 * -ENOMEM. */
int zr_bp_parse(const char *text, size_t len, struct zr_bp **ret, char **ret_err);
void zr_bp_free(struct zr_bp *bp);

/* Splits a blueprint's template (a name or a uid ".../NAME/VERSION") into its name and version
 * (NULL for a bare name); both borrowed from/into buf (size >= strlen(tmpl) + 1). false when it
 * is neither. */
bool zr_bp_template_split(const char *tmpl, char *buf, size_t size, const char **ret_name,
			  const char **ret_version);
