/* Shared by blueprint.c (the walk, its helpers, the directive) and blueprint-entries.c (the
 * services, children and actions of a blueprint): internal to core/. Every function that
 * fails sets *w->ret_err (or returns -ENOMEM) as zr_bp_parse documents. */
#pragma once
#include <string.h>

#include "blueprint.h"
#include "yaml-tree.h"

#define NAME_RULE "[a-z0-9][a-z0-9_.-]{0,62}"

/* User text as shown in an error (cut, control bytes hidden); valid in the enclosing block. */
#define SHOW(s) zr_ytree__show((s), strlen(s), (char[72]){0}, 72)

/* One parse: the tree being read and the blueprint being filled (both borrowed). */
struct zr_bp__walk {
	const struct zr_ytree *t;
	struct zr_bp *bp;
	char **ret_err;
	json_t *seen; /* "TEMPLATE-NAME/NAME" of each service → its line, for "listed twice" */
	json_t *seen_children; /* each child → its line */
	size_t cap_services, cap_children, cap_actions;
};

static inline const struct zr_ynode *zr_bp__node(const struct zr_bp__walk *w, uint32_t i)
{
	return zr_ytree__node(w->t, i);
}

/* A plain null (null, Null, NULL, ~, nothing). */
bool zr_bp__is_null(const struct zr_bp__walk *w, uint32_t i);
/* Node i's text (borrowed from the tree) when it is a scalar usable as a name, a uid or a
 * path, else NULL with the error in *ret_r ("<what> must be a string"). */
const char *zr_bp__text(struct zr_bp__walk *w, uint32_t i, const char *what, int *ret_r);
/* "T/S" into copies of T and S: -EINVAL when s is not that shape, -ENOMEM. No error text. */
int zr_bp__split_path(const char *s, char **ret_t, char **ret_s);
/* Node i as a "T/S" path: a copy in *ret, or an error at node i. */
int zr_bp__path(struct zr_bp__walk *w, uint32_t i, const char *what, char **ret);
/* tmpl is a name or a uid; *ret_name borrowed from buf. */
bool zr_bp__template_valid(const char *tmpl, char *buf, size_t size, const char **ret_name);
/* Makes room for one more item of sz bytes in *items (n used, *cap allocated). */
int zr_bp__grow(void **items, size_t n, size_t *cap, size_t sz);
/* Node i (ZR_YTREE_NONE for absent) as data: an object (a new reference); null gives {}. */
int zr_bp__data(struct zr_bp__walk *w, uint32_t i, const char *what, json_t **ret);
/* Fails with "bad WHAT 'S' (must match the name rule)" at pos. */
int zr_bp__bad_name(struct zr_bp__walk *w, struct zr_bp_pos pos, const char *what, const char *s);
/* Key node k's index in words (NULL-terminated), marking it in *seen; an error for a key
 * that is not a string, not in words ("unknown key 'x' (want WANT)") or seen before. */
int zr_bp__known_key(struct zr_bp__walk *w, uint32_t k, const char *const *words, const char *want,
		     uint32_t *seen);

/* The top-level entries (node v, a list for services and actions, checked against the bounds
 * already; a mapping for children). */
int zr_bp__services(struct zr_bp__walk *w, uint32_t v);
int zr_bp__children(struct zr_bp__walk *w, uint32_t v);
int zr_bp__actions(struct zr_bp__walk *w, uint32_t v);
