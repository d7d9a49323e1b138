/* libyaml's events as a small tree of nodes that keep their positions, for blueprint.c: the
 * parser gives positions only while it streams, and a blueprint's checks want them after.
 * Internal to core/ (zr_ytree__). Refused while reading: aliases, anchors, tags, a second
 * document, nesting deeper than ZR_BP_MAX_DEPTH (-E2BIG). Scalars are kept as text with their
 * style; zr_ytree__scalar resolves them (YAML core schema, JSON's values only). */
#pragma once
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "blueprint.h"

#define ZR_YTREE_NONE UINT32_MAX

enum zr_ynode_kind { ZR_YNODE_SCALAR, ZR_YNODE_MAP, ZR_YNODE_SEQ };

/* One node. A mapping's children alternate key, value; children are linked by next. */
struct zr_ynode {
	uint8_t kind;  /* enum zr_ynode_kind */
	uint8_t plain; /* a plain (unquoted, not block) scalar: resolved by its text */
	struct zr_bp_pos pos;
	uint32_t str, len; /* scalar: offset of its text in tree->strs (NUL-terminated), length */
	uint32_t first, next; /* first child, next sibling, or ZR_YTREE_NONE */
	uint32_t n;           /* children */
};

/* Lines (1-based, first..last) that are inside a scalar spanning several lines: a block
 * scalar's "# ..." line is text, not a comment. */
struct zr_yspan {
	unsigned first, last;
};

/* Nodes in document order: nodes[0] is the root (none for an empty stream). */
struct zr_ytree {
	struct zr_ynode *nodes;
	size_t n_nodes, cap;
	char *strs;
	size_t strs_len, strs_cap;
	struct zr_yspan *spans; /* in line order */
	size_t n_spans, spans_cap;
};

/* The length of the line break at text[i] (i < len), or 0: libyaml counts "\r\n", "\r",
 * "\n", NEL, LS and PS as one break each, and so must whatever gives positions beside it. */
size_t zr_ytree__break(const char *text, size_t len, size_t i);

/* True when line (1-based) is inside a multi-line scalar (not a comment, whatever its text). */
bool zr_ytree__in_scalar(const struct zr_ytree *t, unsigned line);

/* Reads text (len bytes) into *tree (zeroed by the caller; zr_ytree__done frees it, also after a
 * failure). Returns 0, -EINVAL or -E2BIG with *ret_err ("line L, column C: reason", malloc'd),
 * or -ENOMEM. */
int zr_ytree__parse(struct zr_ytree *tree, const char *text, size_t len, char **ret_err);
void zr_ytree__done(struct zr_ytree *tree);

static inline const struct zr_ynode *zr_ytree__node(const struct zr_ytree *t, uint32_t i)
{
	return &t->nodes[i];
}

static inline const char *zr_ytree__text(const struct zr_ytree *t, const struct zr_ynode *n)
{
	return t->strs + n->str;
}

/* The JSON value of a scalar node (a new reference): null, true/false, an integer, a real or
 * a string. -EINVAL with *ret_err for an integer out of range or .inf/.nan; -ENOMEM. */
int zr_ytree__scalar(const struct zr_ytree *t, uint32_t i, json_t **ret, char **ret_err);

/* The JSON value of any node (a new reference). Mapping keys must be strings without NUL
 * bytes, each once. Same errors as zr_ytree__scalar. */
int zr_ytree__json(const struct zr_ytree *t, uint32_t i, json_t **ret, char **ret_err);

/* The text of a mapping key, or NULL (with *ret_err, -EINVAL in *ret_r) when the key is not a
 * string: a mapping or sequence, or a plain scalar that resolves to something else. */
const char *zr_ytree__key(const struct zr_ytree *t, uint32_t i, int *ret_r, char **ret_err);

/* Sets *ret_err to "line L, column C: " and the formatted reason; returns r (or -ENOMEM when
 * the text cannot be made). */
int zr_ytree__fail(char **ret_err, int r, struct zr_bp_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* s (n bytes) as it may be shown in an error: at most 64 bytes, with "..." when cut,
 * control bytes and quotes as '?'. Written into buf (size >= 72). */
const char *zr_ytree__show(const char *s, size_t n, char *buf, size_t size);
