/* The store: services and tasks in SQLite (WAL, synchronous=FULL), written by one thread.
 * Changes submitted during one loop turn are committed in one transaction (group commit);
 * the loop never waits on disk. Checkpoints run on a second thread, beside the commits. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct zr_store;

/* The schema this build writes; a database with a newer one is refused. */
#define ZR_STORE_SCHEMA 7

/* Opens (creating or migrating) <data_dir>/zrobot.db. Runs on the caller's thread: call it
 * before the loop runs. Returns 0, or a negative errno with *ret_err (malloc'd). */
int zr_store_open(uv_loop_t *loop, const char *data_dir, struct zr_store **ret, char **ret_err);
/* Commits what is pending, stops the writer thread and closes the database. Every pending
 * zr_store_sync callback fires before this returns (with the commit's result). */
void zr_store_close(struct zr_store *st);

/* ---- loading (before the writer starts: call only between open and the first submit) ---- */

struct zr_store_service {
	int64_t rowid;
	const char *template, *name, *guid, *uid, *data, *state, *secret;
	const char *creator;    /* "admin", "user:<16 hex>" or "uid:N" (actor.h); never a token */
	const char *upgrade_to; /* the uid it moves to once its running task ends, or NULL */
	long long created_ns;
	bool deleting;
	/* Its supervised server (schema 5): want NULL when none is stored. */
	const char *want;       /* "up", "down" or "once" */
	int64_t pid, start_time;
	const char *cgroup;     /* NULL: none (process groups) */
	bool failed;
	/* Schema 6 (blueprints): its parent "T/S" and the stored apply it carries, or NULL. */
	const char *parent, *blueprint;
};

/* The durable part of a service's supervised server (supervise.h struct zr_sup_persist). */
struct zr_store_process {
	const char *guid, *want, *cgroup;
	int64_t pid, start_time;
	bool failed;
};

struct zr_store_task {
	int64_t id;
	const char *service_guid, *action, *args, *state, *error;
	const void *result;
	size_t result_len;
	int lane, err, attempt;
	long long created_ns, started_ns, finished_ns, progress_done, progress_total;
};

/* Calls fn for every service, then every task in id order. Strings are borrowed for the
 * call. A callback returning < 0 stops the walk with that error. */
int zr_store_load(struct zr_store *st,
		  int (*service_fn)(const struct zr_store_service *s, void *data),
		  int (*task_fn)(const struct zr_store_task *t, void *data), void *data);

/* Calls fn with each stored template repository, in the order they were added. */
int zr_store_repos(struct zr_store *st,
		   int (*fn)(const char *id, const char *url, const char *ref, const char *commit, void *data),
		   void *data);

/* Calls fn with each remote robot added at run time, in the order they were added. */
int zr_store_remotes(struct zr_store *st,
		     int (*fn)(const char *name, const char *url, const char *token_file, void *data),
		     void *data);

/* Calls fn with each consumer on another robot of a stored service (producer: its guid;
 * consumer: "<template>/<service>" on robot). */
int zr_store_rconsumers(struct zr_store *st,
			int (*fn)(const char *producer, const char *robot, const char *consumer, void *data),
			void *data);

/* Calls fn with each unregistration a remote robot has not taken yet (remote: its name;
 * producer: "T/S" there; consumer: ours). */
int zr_store_unlinks(struct zr_store *st,
		     int (*fn)(const char *remote, const char *producer, const char *consumer, void *data),
		     void *data);

/* Calls fn with each stored apply (apply.h; schema 6), in name order. */
int zr_store_blueprints(struct zr_store *st,
			int (*fn)(const char *name, const char *content, size_t len,
				  const char *outcome, long long applied_ns, void *data),
			void *data);

/* Calls fn with each webhook (schema 7; webhook.h) in id order: its event types as given,
 * separated by spaces ("" for every event), its secret, and the last delivery number it gave. */
int zr_store_webhooks(struct zr_store *st,
		      int (*fn)(int64_t id, const char *url, const char *types, const char *secret,
				int64_t last_seq, void *data),
		      void *data);
/* Calls fn with each webhook delivery not done yet, by hook, then by number. */
int zr_store_deliveries(struct zr_store *st,
			int (*fn)(int64_t hook, int64_t seq, const char *type, const char *body, void *data),
			void *data);
/* The highest webhook id ever given (0 for none): ids are never reused. */
int64_t zr_store_last_webhook_id(struct zr_store *st);

/* The highest task id ever given (0 for none). */
int64_t zr_store_last_task_id(struct zr_store *st);
/* Calls fn with each (template, uid, action) that stored tasks use. */
int zr_store_actions(struct zr_store *st,
		     int (*fn)(const char *tmpl, const char *uid, const char *action, void *data),
		     void *data);

/* ---- changes: copied at once, committed with the current group ----
 * Each returns 0 once the change is queued, or -ENOMEM when it could not be (then nothing of
 * it is committed: a request must fail rather than be acknowledged by its next sync).
 * internal: a change the robot made itself (not a reply to a request). If its group fails,
 * it is tried again with the next group; a request's change is dropped with its group. */

int zr_store_service_insert(struct zr_store *st, const struct zr_store_service *s);
int zr_store_service_data(struct zr_store *st, const char *guid, const char *data, bool internal);
int zr_store_service_uid(struct zr_store *st, const char *guid, const char *uid);
int zr_store_service_state(struct zr_store *st, const char *guid, const char *state);
int zr_store_service_deleting(struct zr_store *st, const char *guid);
/* zr_store_service_deleting for n services at once, all or none (a force-cascade). */
int zr_store_services_deleting(struct zr_store *st, const char *const *guids, size_t n);
/* The service's parent "T/S" (NULL: none) and the stored apply it carries (NULL: none). */
int zr_store_service_parent(struct zr_store *st, const char *guid, const char *parent);
int zr_store_service_blueprint(struct zr_store *st, const char *guid, const char *name);
/* Records a stored apply (replacing one of that name), or forgets it (content NULL). */
int zr_store_blueprint_put(struct zr_store *st, const char *name, const char *content, size_t len,
			   const char *outcome, long long applied_ns);
/* The version (uid) a service moves to once its running task ends; NULL once it has. */
int zr_store_service_upgrade_to(struct zr_store *st, const char *guid, const char *uid, bool internal);
/* Deletes the service, its tasks, its remote consumers and its server's row (all or none). */
int zr_store_service_delete(struct zr_store *st, const char *guid);
int zr_store_task_put(struct zr_store *st, const struct zr_store_task *t, bool internal);
/* Records the service's supervised server (one row per service, replaced). */
int zr_store_process_put(struct zr_store *st, const struct zr_store_process *p, bool internal);
int zr_store_task_delete(struct zr_store *st, int64_t id);
/* Records a template repository at its commit (pos: its place in the list). */
int zr_store_repo_put(struct zr_store *st, const char *id, const char *url, const char *ref,
		      const char *commit, int64_t pos);
/* Records a remote robot (pos: its place in the list) or forgets one. */
int zr_store_remote_put(struct zr_store *st, const char *name, const char *url,
			const char *token_file, int64_t pos);
int zr_store_remote_delete(struct zr_store *st, const char *name);
/* Records (add) or forgets a consumer on another robot of service producer (a guid); they go
 * with the service too. */
int zr_store_rconsumer(struct zr_store *st, const char *producer, const char *robot,
		       const char *consumer, bool add);
/* Records (pending) or forgets an unregistration remote has not taken yet (the robot's own
 * change: retried until it lands). */
int zr_store_unlink(struct zr_store *st, const char *remote, const char *producer,
		    const char *consumer, bool pending);
/* Records a webhook, and that ids up to its own are taken (a request's change). */
int zr_store_webhook_put(struct zr_store *st, int64_t id, const char *url, const char *types,
			 const char *secret);
/* Forgets a webhook and its pending deliveries (a request's change). */
int zr_store_webhook_delete(struct zr_store *st, int64_t id);
/* Records a delivery hook owes (number seq, its event's type and JSON line), and that the
 * hook's numbers up to seq are taken; or forgets one (delivered, or dropped). The robot's own
 * changes: retried until they land. */
int zr_store_delivery_put(struct zr_store *st, int64_t hook, int64_t seq, const char *type,
			  const char *body);
int zr_store_delivery_delete(struct zr_store *st, int64_t hook, int64_t seq);
/* Records that ids up to id are taken (with the request that took it). */
int zr_store_task_id(struct zr_store *st, int64_t id);

#ifdef ZR_STORE_FAULTS
/* Tests only (store.c built with ZR_STORE_FAULTS): the nth allocation a change makes from now
 * on fails, as malloc would when memory runs out; 0 turns it off. */
void zr_store__fail_alloc(unsigned nth);
#endif

/* Closes the current group: cb fires on the loop once everything submitted before this call
 * is committed (0) or its group failed (-ENOSPC, -EIO). */
void zr_store_sync(struct zr_store *st, void (*cb)(int err, void *data), void *data);

/* Groups committed and their total changes, for the benchmark and metrics. */
void zr_store_stats(const struct zr_store *st, uint64_t *ret_commits, uint64_t *ret_changes);
