/* Applying a blueprint: what apply-plan.c (resolution, checks, order, cycles) and apply.c (the
 * run, the outcome, the stored applies) share, and nobody else. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "actor.h"
#include "apply.h"
#include "blueprint.h"
#include "queue.h"
#include "util/map.h"

struct zr_robot;
struct zr_service;
struct zr_template;
struct zr_action_def;

enum apply_kind {
	APPLY_CREATE,
	APPLY_UPDATE,    /* other data, or another parent */
	APPLY_UNCHANGED,
	APPLY_DELETE,    /* prune */
};

/* One service the apply touches: listed, made by an auto role, a child named in children:, or
 * one prune deletes. */
struct apply_entry {
	enum apply_kind kind;
	char *path;                      /* "T/S", owned */
	char *tname, *name;              /* the template's name and the service's, owned */
	const struct zr_template *t;     /* the version it has or gets; borrowed (robot's) */
	json_t *data;                    /* create/update: the data with its defaults; owned */
	struct zr_service *s;            /* the existing one (a reference), or the created one
					    (borrowed, after its wave) */
	struct zr_bp_pos pos;
	char *parent;                    /* the parent it gets ("T/S") when parent_said */
	bool parent_said;                /* the blueprint says its parent (NULL: none) */
	bool parent_changes;             /* an existing service whose parent moves */
	bool listed;                     /* in services: (action blocks without filter reach it) */
	bool failed;                     /* a failed line was written for it */
	unsigned level;                  /* dependency depth among the entries: its wave */
	size_t order;                    /* listed order; auto entries right before their user */
	size_t *deps;                    /* indices of the entries it needs first (producers,
					    parent); owned */
	size_t n_deps;
	bool created;                    /* its creation committed (rolled back on a failure) */
	struct apply *owner;
};

/* One task the actions: blocks (and update_data) ask for, in queuing order. */
struct apply_task {
	size_t entry;
	const struct zr_action_def *def;
	json_t *args;        /* owned; NULL: none */
	enum zr_lane lane;   /* update_data: the system lane; the blocks' actions: the user's */
	struct zr_bp_pos pos; /* the block's (update_data: the entry's) */
	size_t item;         /* its line in the outcome */
	struct apply *owner;
};

struct apply {
	struct zr_robot *r;
	struct zr_actor who;     /* a copy (admin when NULL was given) */
	bool who_is_robot;       /* NULL was given: the robot itself */
	char *text;              /* a copy of the blueprint, for the stored apply */
	size_t len;
	struct zr_bp *bp;
	struct zr_apply_opts opts; /* resolved: name (owned copy), dry_run, prune */
	char *name;
	struct apply_entry *entries;
	size_t n_entries, cap_entries;
	struct zr_map by_path;   /* path → index + 1 (as a pointer) */
	size_t *order;           /* entry indices in dependency order (level, then listed) */
	struct apply_task *tasks;
	size_t n_tasks;
	struct zr_apply_outcome out;
	size_t cap_items;
	/* The run. */
	unsigned wave, waves;    /* the wave being created, and how many */
	unsigned waiting;        /* callbacks still to come for this step */
	int step_err;            /* the first failure of this step */
	char *step_why;
	size_t remote_next;      /* the next entry whose remote producers are asked */
	bool remote_asked;       /* some were: the plan is made again afterwards */
	bool remote_sync, remote_done; /* an answer came before the check returned */
	void (*cb)(const struct zr_apply_outcome *o, void *data);
	void *cbdata;
	long long applied_ns; /* the stored apply's time: the same in memory as in the store */
};

/* Adds an item to the outcome (path and action copied; why taken). Returns its index, or
 * (size_t)-1 when out of memory (the outcome then says so). */
size_t zr_apply__item(struct apply *a, enum zr_apply_verb verb, const char *path,
		      const char *action, char *why);
/* Marks entry e failed: a "failed" line with its position and the reason (printf). err is
 * the refusal's errno; the first one is the blueprint's. Returns err. */
int zr_apply__fail(struct apply *a, struct apply_entry *e, struct zr_bp_pos pos, const char *path,
		   int err, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/* Makes the plan from a->bp: entries, their checks, order and tasks; every failure has its
 * line. 0, or the first refusal's errno (a->out.err/error set). Only reads the robot. */
int zr_apply__plan(struct apply *a);
/* Frees what the plan holds (a new plan may be made). */
void zr_apply__plan_done(struct apply *a);
