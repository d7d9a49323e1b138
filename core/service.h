/* Services: an instance of a template with its data, state, queue, tasks and logs. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "actor.h"
#include "journal.h"
#include "queue.h"
#include "service-index.h"
#include "util/list.h"
#include "util/map.h"

struct zr_robot;
struct zr_template;
struct zr_action_def;
struct zr_task;
struct zr_store_service;
struct zr_store_task;
struct zr_service_process;
struct zr_sup;

/* A recurring action's timer. */
struct zr_recur {
	uv_timer_t timer;
	struct zr_service *svc;
	const struct zr_action_def *action;
	long long last_start_ns;
};

struct zr_retired_recur {
	struct zr_recur *recur;
	size_t n;
	struct zr_retired_recur *next;
};

struct zr_service {
	struct zr_robot *robot;
	const struct zr_template *template; /* pinned version; borrowed from the robot */
	char *name;          /* in path, after the '/' */
	char *path;          /* "<template>/<name>", allocated with the service */
	char guid[37];
	char secret[65];     /* 64 hex digits: the HTTP token that acts on this service only */
	/* Who created it (actor.h): "admin", "user:<16 hex>" or "uid:N"; stored, in info. */
	char creator[ZR_ACTOR_ID_MAX];
	/* Here, not with the fields they describe: they fill the room the texts leave. */
	bool workdir_made; /* this run made sure the work folder exists */
	bool has_slot; /* holds one of the robot's job slots: set and cleared by robot.c only */
	bool pending;  /* created, its commit not done yet: not in the tree */
	bool delete_requested;
	bool force_delete; /* "force" was written to ctl: rmdir goes on despite consumers */
	bool quiet_delete; /* deleted without on_delete: its creation was undone, it never ran */
	bool deleting;
	bool closing;
	uint64_t serial;     /* unique in this robot run: tells a new service from an old namesake */
	json_t *data;        /* owned */
	json_t *state;       /* {"CATEGORY TAG": "VALUE"}, owned */
	char *lasterror;     /* one line, or NULL */
	long long created_ns, data_mtime_ns, state_mtime_ns, tasks_mtime_ns, lasterror_mtime_ns;
	struct zr_queue queue;
	struct zr_task *current; /* running or waiting to retry, or NULL */
	uv_timer_t *retry_timer; /* made at the first retry (zr_service__retry_timer), or at close */
	struct zr_list tasks;  /* every task kept, by id */
	size_t n_finished;
	struct zr_journal *log, *events; /* NULL until used: zr_service_log, zr_service_events */
	struct zr_recur *recur;
	struct zr_retired_recur *retired; /* timers of versions the service left, closed with it */
	const struct zr_template *upgrade_to; /* switch to it once the running task ends */
	struct zr_list ready_link; /* in robot->ready while waiting for a job slot */
	unsigned refs;  /* open files that show this service; it is freed once closed and 0 */
	int closing_handles;
	uint32_t n_recur;       /* in recur */
	uint32_t pending_tasks; /* enqueues waiting for their commit */
	/* Consumers on other robots, registered through ctl ("consumer add ROBOT T/S"):
	 * {"<t>.<s>@<robot>": "@remote/<robot>/<t>/<s>"}, owned; NULL until the first. */
	json_t *rconsumers;
	uint32_t rconsumers_adding; /* new ones waiting for their commit: counted in the cap */
	struct zr_list delete_link; /* in robot->deleting */
	/* Its supervised server (service-process.c), NULL while its template has no process;
	 * owned. */
	struct zr_service_process *process;
	/* AYS parent (DESIGN §8): "T/S" of its parent, or NULL; owned. Children are found in
	 * the robot's index (zr_robot_children). Set through zr_service_set_parent, stored
	 * (schema 6). */
	char *parent;
	/* Where the robot's index files it under its parent and producers (service-index.h). */
	struct zr_service_index index;
	/* The stored apply (apply.h) that last created or updated it, or NULL; owned, stored:
	 * `zrobot apply --prune` deletes the services that carry its name and it no longer lists. */
	char *blueprint;
};

typedef void (*zr_done_cb)(int err, void *data);
typedef void (*zr_task_cb)(int err, struct zr_task *t, void *data);

/* ---- requests: FUSE mkdir and writes, HTTP create and PUT, an action's fd-3 data ----
 * Each is validated completely here, once, whoever asks: the same checks in the same order,
 * the same errors. who (borrowed for the call; NULL = the robot itself, with admin rights) is
 * checked against the role model first (README "Security"): -EACCES with why when it may not.
 * Each ends in exactly one callback: err 0 or a negative errno, and why (borrowed for the
 * call) saying what was wrong, or NULL when the errno says it all. A refusal that needs no I/O
 * is told before the function returns; a producer on another robot is looked up through the
 * robot's producer check (zr_robot_set_producer_check) first. */
typedef void (*zr_request_cb)(int err, const char *why, void *data);
typedef void (*zr_request_service_cb)(int err, const char *why, struct zr_service *s, void *data);
typedef void (*zr_request_task_cb)(int err, const char *why, struct zr_task *t, void *data);

/* Creates service name of template tmpl with data (borrowed; NULL = the defaults), its creator
 * who's id. Refused with -ENOENT (no such template), -EEXIST, -EINVAL (name, data, producers,
 * a missing template), -EACCES (a template not offered to users, a secret, a producer who may
 * not act on), -EDQUOT (who has --max-services-per-token services), -EAGAIN (the robot is
 * stopping). Otherwise cb fires once the service is durable, with the service (borrowed), now
 * in the tree, or with -ENOSPC / -EIO / -ENOMEM and NULL (it never existed). */
void zr_service_request_create(struct zr_robot *r, const struct zr_actor *who, const char *tmpl,
			       const char *name, const json_t *data, zr_request_service_cb cb,
			       void *cbdata);
/* Replaces the data of s with data (borrowed): -EACCES (who may not change s, or name a new
 * producer), -EINVAL (not valid for the template, a producer that is not one, a missing
 * template), -ENOENT (s deleted meanwhile); else cb with 0 once the new data is durable (shown
 * from then on) or -ENOSPC / -EIO / -ENOMEM (the old data stays). */
void zr_service_request_data(struct zr_service *s, const struct zr_actor *who, const json_t *data,
			     zr_request_cb cb, void *cbdata);
/* Queues a task of action (of s's template) from what was written to its file (payload, len:
 * empty, the action's name, a JSON object or key=value lines; see payload.h): -EACCES (who may
 * not act on s, or the action is admin-only), -EINVAL (bad payload or args, missing required
 * data), -EAGAIN (a full queue, the creator's --max-tasks-per-token, the robot stopping),
 * -ENOENT (s being deleted); else cb once the task is durably queued, with the task
 * (borrowed; owned by s), or with -ENOSPC / -EIO / -ENOMEM and NULL (it never existed). */
void zr_service_request_task(struct zr_service *s, const struct zr_actor *who,
			     const struct zr_action_def *action, const char *payload, size_t len,
			     zr_request_task_cb cb, void *cbdata);
/* The role model's answer for the other requests on s (README "Security"): 0, or -EACCES with
 * *ret_err. may_act: actions, cancel, and reading data; may_change: data, ctl, upgrade;
 * may_delete: rmdir, HTTP DELETE. */
int zr_service_may_act(const struct zr_service *s, const struct zr_actor *who, char **ret_err);
int zr_service_may_change(const struct zr_service *s, const struct zr_actor *who, char **ret_err);
int zr_service_may_delete(const struct zr_service *s, const struct zr_actor *who, char **ret_err);

/* While the robot loads its store: text parsed, or the object parsed before from the same
 * text (a new reference; NULL if it does not parse). Restored services and tasks mostly hold
 * equal data, state and args (a template's defaults, {}): one object for all of them, never
 * changed in place (data and args are replaced whole; state is copied first, see
 * zr_service__state_del). load_done drops the table once the store is loaded. */
json_t *zr_service__load_json(struct zr_robot *r, const char *text);
void zr_service__load_done(struct zr_robot *r);
/* The service's work folder, <data>/work/<guid> (owned by the caller; NULL: out of memory).
 * Made with the service, or before its first task in this run (zr_service__workdir_make)
 * when restored. */
char *zr_service__workdir(const struct zr_service *s);
/* Removes key from the service's state in memory (the caller stores the state). */
void zr_service__state_del(struct zr_service *s, const char *key);

/* Makes a service of template t with data (validated, defaults filled; taken, also on
 * failure). Returns 0, or -ENOMEM / -errno (work folder, with *ret_err). */
int zr_service__new(struct zr_robot *r, const struct zr_template *t, const char *name,
		    json_t *data, struct zr_service **ret, char **ret_err);


/* Makes a service from its store row (the robot's start). */
int zr_service_restore(struct zr_robot *r, const struct zr_template *t,
		       const struct zr_store_service *row, struct zr_service **ret, char **ret_err);
/* Adds a task from its store row: queued ones join the queue in id order, one that was
 * running becomes interrupted. -ENOENT (with *ret_err) when its action is gone. */
int zr_service__restore_task(struct zr_service *s, const struct zr_store_task *row, char **ret_err);
/* Drops finished tasks beyond the history bound. */
void zr_service__trim(struct zr_service *s);
/* Starts the service's timers (recurring actions) once it is durable. */
void zr_service__activate(struct zr_service *s);

/* Enqueues a task of action with args (takes ownership; NULL = none): for the robot's own
 * tasks (recurring, on_delete, upgrade); a user's write goes through zr_service_request_task.
 * Refusals come back at once as a negative errno (nothing queued, cb not called): -EINVAL
 * with *ret_err for bad args or missing required data (user lane), -EAGAIN for a full queue,
 * -ENOENT when the service is being deleted, -ENOMEM. Otherwise returns 0 and cb (may be
 * NULL) fires once the task is durably queued, with the task (borrowed; owned by the
 * service), or with -ENOSPC / -EIO and NULL when it could not be stored (then it never
 * existed). */
int zr_service_enqueue(struct zr_service *s, const struct zr_action_def *action, json_t *args,
		       enum zr_lane lane, char **ret_err, zr_task_cb cb, void *data);

/* Cancels a queued or running task; -EINVAL if it already ended. */
int zr_service_cancel(struct zr_service *s, struct zr_task *t);

/* Validates and replaces the data (borrowed), without looking producers on other robots up:
 * the older shape of zr_service_request_data, kept until tree.c moves to it. -EINVAL with
 * *ret_err when invalid, -ENOMEM (cb not called); else 0, and cb (may be NULL) fires with 0
 * once the new data is durable (it is shown from then on) or a negative errno (the old data
 * stays). */
int zr_service_set_data(struct zr_service *s, const json_t *data, char **ret_err, zr_done_cb cb,
			void *cbdata);

/* Lines of state a service holds at most: an action may write one per item it sees, and every
 * change stores the whole state again. The robot's own categories (zr_ctl_robot_category)
 * always have room. */
#define ZR_SERVICE_STATE_MAX 10000

/* Sets a state line; -EINVAL for a bad category, tag or value, -EDQUOT for a new line past
 * ZR_SERVICE_STATE_MAX. */
int zr_service_set_state(struct zr_service *s, const char *category, const char *tag,
			 const char *value);

/* Moves the service to version t of its template (-EINVAL with *ret_err if t is a stand-in):
 * the request is recorded in the store (cb then), and carried out at once when idle, else
 * when the running task ends (or at restart). Queued tasks run the new version's
 * actions (one it lacks is cancelled), the data gets the new defaults, and the new version's
 * `upgrade` action, if any, runs first. */
int zr_service_upgrade(struct zr_service *s, const struct zr_template *t, char **ret_err,
		       zr_done_cb cb, void *cbdata);
/* Moves an idle service to its upgrade_to, if any (after a restart). */
void zr_service__upgrade_if_idle(struct zr_service *s);

/* Consumers on other robots a service takes: a robot's peers are untrusted, and each one
 * costs memory, a store row and a consumers/ entry. */
#define ZR_SERVICE_RCONSUMERS_MAX 64
/* Registers (add) or drops a consumer on another robot ("consumer add|remove ROBOT T/S" on
 * ctl): validated at once (-EINVAL with why; -EDQUOT with why for a new one past
 * ZR_SERVICE_RCONSUMERS_MAX), then cb once the store has it. */
int zr_service_rconsumer(struct zr_service *s, const char *robot, const char *consumer, bool add,
			 char **why, zr_done_cb cb, void *cbdata);
/* Adds (add) or drops consumer "T/S" of robot in s->rconsumers, in memory only: as
 * "<t>.<s>@<robot>" → "@remote/<robot>/<t>/<s>". */
int zr_service__rconsumer_apply(struct zr_service *s, const char *robot, const char *consumer, bool add);
/* The tree path of the producer of role (from the data), or NULL when unset. Borrowed. */
const char *zr_service_producer(const struct zr_service *s, const char *role);
/* Checks the producers that data names for the roles template t consumes: a local one must
 * be a service of the template the role asks for. self = the service's own path or NULL.
 * -EINVAL with *ret_err. */
int zr_service__check_producers(struct zr_robot *r, const struct zr_template *t, const char *self,
				const json_t *data, char **ret_err);

/* ---- parents and children (AYS; DESIGN §8) ---- */

/* A service may have at most this many generations above it: the tree is for people to read.
 * zr_service_set_parent and an apply's plan refuse a deeper chain. */
#define ZR_PARENT_DEPTH_MAX 64

/* Sets (parent "T/S") or clears (NULL) the parent of s, as who (may_change on s): -EINVAL with
 * why (no such service, itself, a cycle: "cycle: a/x -> b/y -> a/x"), -EACCES; else 0 and cb
 * once durable (the parent symlink and the parent's children/ show it from then on). The
 * `ctl` command "parent T/S" and "parent none" come here. A pending service (created in this
 * loop turn, not committed yet) may be given a parent: the change joins its commit group. */
int zr_service_set_parent(struct zr_service *s, const struct zr_actor *who, const char *parent,
			  char **why, zr_done_cb cb, void *cbdata);
/* Records the blueprint name s carries (NULL: none); stored with the next group. -ENOMEM. */
int zr_service_set_blueprint(struct zr_service *s, const char *name);
/* Calls fn for each child of s (services whose parent is s->path), in name order. */
void zr_robot_children(struct zr_robot *r, const struct zr_service *s,
		       void (*fn)(struct zr_service *child, void *data), void *data);

/* ---- relations (DESIGN §8): consumes roles with min, max, auto ---- */

/* The producers data names for role: a string (one) or a list of strings (zero or more); up to
 * max paths into ret (borrowed from data). Returns how many there are (may exceed max), 0 for
 * none or a role data does not hold. */
size_t zr_role_producers(const json_t *data, const char *role, const char **ret, size_t max);
/* Whether data names path (a producer's "T/S" or "@remote/...") for role. */
bool zr_role_names(const json_t *data, const char *role, const char *path);
/* The producers data names for role (zr_role_producers) as a malloc'd array of paths borrowed
 * from data (*ret NULL when there are none). 0 or -ENOMEM. */
int zr_service__role_paths(const json_t *data, const char *role, const char ***ret,
			   size_t *ret_n);
/* Roles of t with "auto": true that data (an object, changed in place) leaves empty get the
 * producer "<role's template>/<name>" (name: the consumer's). Returns in *ret (malloc'd array of
 * malloc'd "T/S", *ret_n of them) those of these producers the robot does not have yet: the
 * caller creates them, with their template's defaults, before the consumer (mkdir and apply
 * alike). 0, or -ENOMEM. */
int zr_relations_auto(struct zr_robot *r, const struct zr_template *t, const char *name,
		      json_t *data, char ***ret, size_t *ret_n);
/* Whether the roles of s are satisfied (each names between min and max producers, each local
 * one present): 0, or -EINVAL with *why ("role 'db' needs at least 1 producer, has 0").
 * Actions of the user lane are refused while it fails; the state line "relation <role>
 * ok|error" says it. */
int zr_relations_check(const struct zr_service *s, char **why);
/* Sets the state lines "relation <role> ok|error" of s (zr_relations_check per role), and drops
 * those of roles its template no longer has: after its data changed, its creation, a robot
 * start. */
void zr_relations__update(struct zr_service *s);
/* The same for each local consumer of p, which was created or deleted (robot.c). */
void zr_relations__producer_changed(struct zr_robot *r, const struct zr_service *p);
/* Whether s's server may be stopped (process/want down, the stop and restart built-ins): 0,
 * or -EBUSY with *why ("consumers running: shop/s1; write force to ctl first") while local
 * consumers' servers run, unless force was written to s's ctl (then used up). */
int zr_relations__may_stop(struct zr_service *s, char **why);

/* Records a refused write: sets lasterror and logs it. path is relative to the mount. */
void zr_service_refuse(struct zr_service *s, const char *path, int err, const char *reason);

/* The service's log and events journals (borrowed), made on first use (see
 * zr_journal_or_empty). */
struct zr_journal *zr_service_log(struct zr_service *s);
struct zr_journal *zr_service_events(struct zr_service *s);

/* Task id of s (borrowed), or NULL; a task whose enqueue is not committed yet is not found. */
struct zr_task *zr_service_task(const struct zr_service *s, uint64_t id);
/* The newest task of an action, or NULL. */
struct zr_task *zr_service_newest(const struct zr_service *s, const char *action);

/* Open files keep a deleted service readable: its tasks' readers still get their results. */
void zr_service_ref(struct zr_service *s);
void zr_service_unref(struct zr_service *s);

/* Starts the service's next step (called by the robot when it got a job slot). */
void zr_service__run_next(struct zr_service *s);
/* Begins deletion: cancel queued user tasks, stop timers, queue on_delete actions; the robot
 * frees the service when it is idle. */
void zr_service__begin_delete(struct zr_service *s);
/* True when nothing runs or waits (a deleted service's server being stopped included). */
bool zr_service__idle(const struct zr_service *s);
/* Closes the service's handles and frees it in the last close callback; tasks must have no
 * runner. */
void zr_service__close(struct zr_service *s);
/* Kills the running task's process (shutdown). */
void zr_service__kill(struct zr_service *s);
/* Appends an event to the service's and the robot's journals; takes ownership of ev. */
void zr_service__event(struct zr_service *s, const char *type, json_t *ev);
/* Tells the robot's link hook which producers on other robots s stopped naming (in old, not
 * in new) and started naming (in new, not in old); NULL is no data. */
void zr_service__links(struct zr_service *s, const json_t *old, const json_t *new);

/* ---- service-process.c: the supervised server (DESIGN §6) ----
 * A service whose template has a process gets a supervisor (supervise.h) once it is active
 * (zr_service__process_start), fed by the hooks of service-process.c. */

/* The service's supervisor (borrowed), or NULL: no process in its template, not started yet,
 * or closed (deleted, robot stopping). */
struct zr_sup *zr_service_sup(const struct zr_service *s);
/* Keeps what the store holds of the service's server (row->want NULL: nothing) until the
 * supervisor is made. -ENOMEM. */
int zr_service__process_restore(struct zr_service *s, const struct zr_store_service *row);
/* Makes the supervisor when the template has a process and it has none: at a new service's
 * commit, and at the robot's start for a restored one, which adopts its running server or
 * starts it per its want. Logs what fails. */
void zr_service__process_start(struct zr_service *s);
/* The robot stops: closes the supervisor, leaving its server running for the next robot
 * (stopped first with --stop-on-exit). The robot counts it in sups_closing until it is. */
void zr_service__process_shutdown(struct zr_service *s);
/* The service is deleted: stops its server and closes the supervisor, then done(s) (possibly
 * before this returns; at once when it has none). */
void zr_service__process_delete(struct zr_service *s, void (*done)(struct zr_service *s));
/* The service moved to another version (service-upgrade.c): its server moves to the new
 * process, starts with one the old version lacked, or stops with one the new version lacks. */
void zr_service__process_switch(struct zr_service *s);
/* True while the supervisor closes (a deleted service's server being stopped): its on_delete
 * actions wait for it (zr_service__run_next, zr_service__idle). */
bool zr_service__process_stopping(const struct zr_service *s);
/* Runs a built-in action (template.h enum zr_builtin) of the current task t on the
 * supervisor; the task ends through zr_service__finish with the supervisor's reason. */
void zr_service__process_builtin(struct zr_service *s, struct zr_task *t);
/* Closes what the service's server part holds on the loop (zr_service__close): the
 * supervisor (its server left running) and a ready.exec in flight; the service's
 * closing_handles counts it until it is gone. */
void zr_service__process_close(struct zr_service *s);
/* Frees the server part once closed (service_free). */
void zr_service__process_free(struct zr_service *s);
