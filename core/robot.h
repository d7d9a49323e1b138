/* The robot: owns the loop's model — templates, services, the job limit, events and log. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "journal.h"
#include "metrics.h"
#include "quota.h"
#include "service.h"
#include "util/list.h"
#include "util/map.h"

struct zr_template;
struct zr_service;
struct zr_task;

struct zr_store;

/* Looks producer ("@remote/ROBOT/TEMPLATE/NAME") up on its robot and calls cb exactly once
 * (possibly before it returns) with 0, or a negative errno and why (borrowed for the call)
 * when it is no such service. data: as given to zr_robot_set_producer_check. */
typedef void (*zr_producer_check_fn)(const char *producer,
				     void (*cb)(int err, const char *why, void *cbdata), void *cbdata,
				     void *data);

#define ZR_ARGS_MAX_DEFAULT (64 * 1024)
#define ZR_DATA_MAX_DEFAULT (1024 * 1024)

struct zr_robot_config {
	struct zr_store *store; /* borrowed: outlives the robot */
	const char *mount;    /* absolute mount point, for ZR_ROOT */
	const char *data_dir; /* absolute */
	const char *name;     /* how other robots know this one (--name); NULL = the hostname */
	int jobs;             /* tasks running at once across services */
	int queue_max;        /* user-lane bound per service */
	int history;          /* finished tasks kept per service */
	size_t result_max;    /* stdout cap per task */
	size_t args_max;      /* bytes of one task's arguments as written (--max-args-bytes);
				 0 given = ZR_ARGS_MAX_DEFAULT, set by zr_robot_create */
	size_t data_max;      /* bytes of a data body written through the tree (--http-max-body);
				 0 given = ZR_DATA_MAX_DEFAULT, set by zr_robot_create */
	double kill_grace;    /* seconds between SIGTERM and SIGKILL */
	/* Per creator id (quota.h); 0 = the defaults, ZR_QUOTA_SERVICES and ZR_QUOTA_TASKS. */
	unsigned max_services_per_token, max_tasks_per_token;
	bool group_actions;   /* action files 0660 (--group-actions), else 0600 */
	/* The robot's variables every action gets (--pass-env, names checked with
	 * zr_env_name_valid); borrowed: they outlive the robot. */
	char *const *pass_env;
	size_t n_pass_env;
	/* Supervised servers (DESIGN §6). */
	bool no_cgroups;        /* --no-cgroups: process groups even where cgroup v2 works */
	bool stop_on_exit;      /* --stop-on-exit: zr_robot_stop stops the servers first */
	double sample_interval; /* --sample-interval seconds; 0 = no sampling */
	const char *launcher;   /* zrobot-exec; NULL = the one beside /proc/self/exe, else the
				   installed one (libexecdir); copied */
};

/* One template name in the tree, with its versions and its services. */
struct zr_robot_template {
	struct zr_template *t;   /* the highest version (a stand-in only when nothing else is
				    loaded): what mkdir uses; borrowed from versions */
	struct zr_template **versions; /* owned, ascending by semver; kept while the robot runs,
					  since services and tasks point into them */
	size_t n_versions;
	struct zr_map services;  /* name → struct zr_service */
	long long mtime_ns;
};

/* What the tree wants to hear about: entries that disappear without a kernel request. */
struct zr_robot_hooks {
	void (*task_removed)(struct zr_task *t, void *data);
	void (*service_removed)(struct zr_service *s, void *data);
	/* s->parent changed from old (NULL: none; borrowed for the call): its parent link and
	 * the children/ entry in the old parent's folder may be cached. */
	void (*parent_changed)(struct zr_service *s, const char *old, void *data);
	/* The data of s, which has roles, changed: producers/<role> may be another kind now. */
	void (*producers_changed)(struct zr_service *s, void *data);
	void *data;
};

struct zr_robot {
	uv_loop_t *loop;
	struct zr_robot_config cfg; /* strings owned */
	struct zr_map templates;    /* name → struct zr_robot_template */
	struct zr_list deleting;    /* detached services finishing their on_delete actions */
	struct zr_list ready;       /* services waiting for a job slot, FIFO */
	int running;                /* tasks holding a job slot */
	bool kicking;               /* handing out slots: a release or want meanwhile waits */
	int running_processes;      /* action processes alive */
	uint64_t next_task_id, next_serial, event_seq;
	/* While the store loads: JSON text → object, shared by the services and tasks restored
	 * with that text (zr_service__load_json). Empty otherwise. */
	struct zr_map load_json;
	struct zr_journal events, log;
	long long started_ns, mtime_ns;
	struct zr_robot_hooks hooks;
	struct zr_repos *repos;     /* template repositories; owned */
	bool stopping;
	void (*stopped_cb)(struct zr_robot *r);
	uv_timer_t stop_timer;
	char *last_event; /* the last event line, for services' journals */
	struct zr_metrics metrics;
	struct zr_quota quota;
	const char *http_url; /* the HTTP API's address while it serves, else NULL; borrowed */
	/* Looks a producer on another robot up (zr_robot_set_producer_check); fn NULL: none is. */
	struct {
		zr_producer_check_fn fn;
		void *data;
	} producer_check;
	/* Told when a service starts (add) or stops naming a producer on another robot
	 * ("@remote/ROBOT/T/S"), so that robot can list it among that producer's consumers. */
	struct {
		void (*fn)(const char *producer, const char *consumer, bool add, void *data);
		void *data;
	} links;
	/* Supervised servers: where their cgroups go (NULL: process groups; zr_cgroup_base once at
	 * create), the launcher, the --sample-interval timer, and how many supervisors are still
	 * closing while the robot stops (its stop ends once none is). */
	char *cgroup_base;
	uv_timer_t sample_timer;
	unsigned sups, sups_closing;
	unsigned parsing; /* blueprints parsed on the thread pool (apply.c): a stop waits for them */
	int timers_open; /* while destroyed: stop_timer and sample_timer not closed yet */
	/* Parent → children and producer → consumers of the services in the tree
	 * (service-index.h). */
	struct zr_robot_index index;
	/* Stored applies (apply.h): name → struct zr_apply_stored; apply.c's. */
	struct zr_map blueprints;
	struct zr_webhooks *webhooks; /* every event goes there (webhook.h); borrowed, or NULL */
};

/* Creates a robot; cfg strings are copied. */
int zr_robot_create(uv_loop_t *loop, const struct zr_robot_config *cfg, struct zr_robot **ret);
/* Frees the model; call after zr_robot_stop's callback, then run the loop until it ends. */
void zr_robot_destroy(struct zr_robot *r);

/* Loads every template folder under dir (a folder with template.json, or each subfolder that
 * has one). Broken templates are skipped with a log line; a name loaded already is skipped
 * with a warning. Returns the number loaded, or a negative errno when dir is unreadable. */
int zr_robot_load_templates(struct zr_robot *r, const char *dir);

/* Loads the services and tasks of the store (after the templates). Services whose template
 * is gone keep their place with a stand-in template and the state `template missing error`.
 * Returns 0 or a negative errno. */
int zr_robot_load_store(struct zr_robot *r);
/* Starts work: queued tasks and recurring actions (once the tree is mounted). */
void zr_robot_start(struct zr_robot *r);

struct zr_robot_template *zr_robot_template(const struct zr_robot *r, const char *name);
/* Adds a loaded template (takes ownership on success): a new name, or another version of a
 * known one. -EEXIST when that uid is loaded already (t is not taken). */
int zr_robot_add_template(struct zr_robot *r, struct zr_template *t);
/* The version of rt named by a version ("1.2.0"), a uid, or "latest"; NULL if none. Stand-ins
 * for missing templates are found by uid only. */
struct zr_template *zr_robot_template_find(const struct zr_robot_template *rt, const char *which);
struct zr_service *zr_robot_service(const struct zr_robot *r, const char *tmpl, const char *name);

typedef void (*zr_service_cb)(int err, struct zr_service *s, void *data);

/* zr_service_request_create (service.h) in the older shape, until its callers move: a
 * refusal told at once is returned (with *ret_err), a later one reaches cb without its why. */
int zr_robot_create_service(struct zr_robot *r, const char *tmpl, const char *name,
			    const json_t *data, char **ret_err, zr_service_cb cb, void *cbdata);
/* Sets how producers on other robots are looked up before data naming them is taken
 * (service.h requests); fn NULL: they are taken on their shape alone. */
void zr_robot_set_producer_check(struct zr_robot *r, zr_producer_check_fn fn, void *data);
/* The checks of a service's creation that need no I/O (template, name, stopping, data, local
 * producers): 0 with the template and the data with its defaults (new reference). version:
 * one of the template's loaded versions (a blueprint naming one), NULL = the newest (mkdir). */
int zr_robot__create_check(struct zr_robot *r, const char *tmpl, const char *version,
			   const char *name, const json_t *data, const struct zr_template **ret_t,
			   json_t **ret_data, char **ret_err);
/* Creates it once the checks pass again, with its creator id (copied; actor.h): returns their
 * refusal, or 0 and cb (why NULL) at its commit. */
int zr_robot__create(struct zr_robot *r, const char *tmpl, const char *version, const char *name,
		     const json_t *data, const char *creator, char **ret_err,
		     zr_request_service_cb cb, void *cbdata);
/* Deletes a service (rmdir; HTTP DELETE): once the deletion is durable it leaves the tree and
 * cb gets 0; it then finishes its task and on_delete actions detached and is freed. On a
 * commit failure cb gets -ENOSPC / -EIO and the service stays. -EBUSY while it has consumers
 * (the log names them) or children (lasterror names them) and "force" was not written to its
 * ctl; with force, its descendants are deleted with it in the same commit, deepest first, and
 * its server and on_delete actions wait until they are gone. */
void zr_robot_delete_service(struct zr_robot *r, struct zr_service *s, void (*cb)(int err, void *data),
			     void *cbdata);

/* A walk over the services in the tree (pending ones included), template by template:
 *	struct zr_robot_iter it = {0};
 *	for (struct zr_service *s; (s = zr_robot_next_service(r, &it));) { ... }
 * The services returned are borrowed; none may be added to or removed from the tree while
 * the walk goes on (closing one is fine). */
struct zr_robot_iter {
	size_t template, service;
	const struct zr_robot_template *rt;
};
struct zr_service *zr_robot_next_service(const struct zr_robot *r, struct zr_robot_iter *it);

/* Calls fn for each service whose data names s as a producer (local paths), once per role
 * that names it, in path order then role order: from the robot's index (service-index.h), so
 * O(consumers). fn may change what services name (it walks a copy). */
void zr_robot_consumers(struct zr_robot *r, const struct zr_service *s,
			void (*fn)(struct zr_service *consumer, const char *role, void *data), void *data);

/* Stops: no new tasks, running ones get SIGTERM (SIGKILL after the grace), supervisors close
 * (their servers are left running for the next robot, or stopped with --stop-on-exit); cb
 * fires when no action process and no supervisor is left. */
void zr_robot_stop(struct zr_robot *r, void (*cb)(struct zr_robot *r));

/* Appends a robot event {"seq","time","event":type,...ev}; takes ownership of ev (may be
 * NULL). Returns the JSON line appended (borrowed until the next event) for services. */
const char *zr_robot__event(struct zr_robot *r, const char *type, json_t *ev);
/* Job slots, owned here alone: a service asks for one (want; nothing when it holds one or
 * waits already), the robot calls zr_service__run_next once it has one (s->has_slot), and
 * the service gives it back (release; nothing when it holds none) when its task ends or
 * waits to retry, or when it had nothing to run. */
void zr_robot__want_slot(struct zr_robot *r, struct zr_service *s);
void zr_robot__release_slot(struct zr_robot *r, struct zr_service *s);
/* An action process ended, or a supervisor closed: finish a stop when it was the last. */
void zr_robot__process_ended(struct zr_robot *r);
/* A detached service became idle: free it. */
void zr_robot__service_idle(struct zr_robot *r, struct zr_service *s);

/* ---- Wiring: what the composition root (fs/daemon.c) sets and reads ----
 * The robot's fields stay the model's business; whoever puts a robot together with its store,
 * tree and remotes goes through these. */

/* Told when a service starts (add) or stops naming a producer on another robot
 * ("@remote/ROBOT/T/S"), with the local service's path as consumer ("T/S"). Runs on the loop. */
typedef void (*zr_robot_link_cb)(const char *producer, const char *consumer, bool add, void *data);

/* Replaces the store the robot keeps its changes in (borrowed; outlives its use). Set NULL
 * once zr_store_close has run: the robot stops reaching a closed store. */
void zr_robot_set_store(struct zr_robot *r, struct zr_store *store);
/* Sets who hears of links to producers on other robots (fn NULL = nobody); data is borrowed. */
void zr_robot_set_links(struct zr_robot *r, zr_robot_link_cb fn, void *data);
/* Sets what the tree hears about entries that go without a kernel request (copied). */
void zr_robot_set_hooks(struct zr_robot *r, const struct zr_robot_hooks *hooks);
/* Sets the webhooks every event is handed to (borrowed; NULL before they are destroyed). */
void zr_robot_set_webhooks(struct zr_robot *r, struct zr_webhooks *wh);
/* Sets the HTTP API's address while it serves (borrowed; NULL when it stops). */
void zr_robot_set_http_url(struct zr_robot *r, const char *url);

/* This robot's name for other robots (--name, else the hostname); valid until destroy. */
const char *zr_robot_name(const struct zr_robot *r);
/* The template repositories (owned by the robot; valid until destroy). */
struct zr_repos *zr_robot_repos(const struct zr_robot *r);
/* The counter a FUSE front end bumps once per request (metrics); valid until destroy. */
uint64_t *zr_robot_fuse_requests(struct zr_robot *r);
/* The loop the robot was created on (borrowed). */
uv_loop_t *zr_robot_loop(const struct zr_robot *r);
