/* Applying a blueprint (DESIGN §8, issue 14): the plan (create, update, unchanged, delete),
 * all-or-nothing creation in dependency order, the actions queued, the outcome, and the stored
 * applies (@robot/blueprints/<name>/{content,outcome,applied}).
 *
 * One entry point for the tree (@robot/blueprint), HTTP (POST /v1/@robot/blueprint) and, through
 * them, `zrobot apply`. Runs on the loop; its only I/O is the store (group commit: a whole
 * apply's creations are committed in a few groups, not one per service) and the producer check
 * of producers on other robots. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct zr_robot;
struct zr_actor;

enum zr_apply_verb {
	ZR_APPLY_CREATED,   /* "created T/S"   (dry run: "create T/S")   CLI "+ create" */
	ZR_APPLY_UPDATED,   /* "updated T/S"   (dry run: "update T/S")   CLI "~ update" */
	ZR_APPLY_UNCHANGED, /* "unchanged T/S" (dry run: the same)      CLI "= unchanged" */
	ZR_APPLY_DELETED,   /* "deleted T/S"   (dry run: "delete T/S")   CLI "- delete" (prune) */
	ZR_APPLY_QUEUED,    /* "queued T/S ACTION task ID" (dry run: "queue T/S ACTION") */
	ZR_APPLY_FAILED,    /* "failed T/S line L, column C: reason" */
};

struct zr_apply_item {
	enum zr_apply_verb verb;
	char *path;   /* "T/S" */
	char *action; /* QUEUED: the action; else NULL */
	uint64_t task; /* QUEUED and not a dry run: the task id */
	char *why;    /* FAILED: "line L, column C: reason"; else NULL */
};

struct zr_apply_outcome {
	struct zr_apply_item *items; /* in the order they happened */
	size_t n_items;
	char *name;   /* the stored apply's name */
	bool dry_run;
	/* 0, or the negative errno of a refused blueprint (-EINVAL bad input, -EACCES a service
	 * who may not touch, -E2BIG beyond a bound, -ENOSPC/-EIO the store) with its reason:
	 * nothing of the blueprint stays applied. */
	int err;
	char *error;
};

struct zr_apply_opts {
	const char *name; /* stored apply's name; NULL = the directive's, else "default" */
	bool dry_run;     /* or the directive's */
	bool prune;       /* or the directive's: delete the services that carry this name and
			     that the blueprint no longer lists */
};

/* Applies text (len bytes) as who (borrowed for the call; NULL = the robot, admin rights). cb
 * fires exactly once, possibly before this returns, with the outcome (borrowed for the call).
 * Services are created or updated in dependency order (producers and parents first); a service
 * the blueprint applies carries its name (info "blueprint"); actions are queued after every
 * service is durable, block by block, each block's targets in dependency order. A stored apply
 * (content, outcome, applied time) is kept under its name unless it is a dry run. */
void zr_apply(struct zr_robot *r, const struct zr_actor *who, const char *text, size_t len,
	      const struct zr_apply_opts *opts,
	      void (*cb)(const struct zr_apply_outcome *o, void *data), void *data);

/* The outcome as the tree shows it: one line per item, then "error: <reason>" when refused. */
void zr_apply_outcome_text(const struct zr_apply_outcome *o, struct zr_buf *b);
/* The outcome as HTTP answers it: {"name","dry_run","items":[{"verb","path","action","task",
 * "why"}...],"error"} (new reference, NULL on ENOMEM). */
json_t *zr_apply_outcome_json(const struct zr_apply_outcome *o);

/* ---- stored applies (robot-owned, in memory and in the store's blueprints table) ---- */

#define ZR_APPLY_STORED_MAX 256 /* names kept; a new name past it is refused with -EDQUOT */

struct zr_apply_stored {
	char *name;
	char *content;   /* the text applied */
	size_t len;
	char *outcome;   /* zr_apply_outcome_text's */
	long long applied_ns;
};

/* The stored apply called name, or NULL (borrowed; valid until the next apply or forget). */
const struct zr_apply_stored *zr_apply_stored(const struct zr_robot *r, const char *name);
/* The names of the stored applies, sorted, through fn. */
void zr_apply_stored_each(const struct zr_robot *r, void (*fn)(const char *name, void *data),
			  void *data);
/* Loads the stored applies from the store (zr_robot_load_store calls it). 0 or -errno. */
int zr_apply_load(struct zr_robot *r);
/* Frees them (zr_robot_destroy calls it). */
void zr_apply_free_all(struct zr_robot *r);
