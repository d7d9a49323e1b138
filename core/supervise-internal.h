/* The supervisor's state, shared by its files only: supervise.c (the state machine),
 * supervise-tree.c (the process tree: kill, gone, the launch), supervise-text.c (process/ files,
 * metrics) and supervise-sample.c (stats and limits). */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>
#include "supervise.h"
#include "util/list.h"

struct zr_child;
struct zr_outlog;
struct zr_ready;

#define ZR_SUP_DEATHS 20
/* Lines of output an error text ends with ("exited with code 1 before ready"). */
#define ZR_SUP_TAIL_LINES 5

struct zr_sup_death {
	long long time_ns;  /* wall time of the exit */
	int64_t code;       /* exit code; -1: unknown (an adopted process) */
	int sig;            /* killing signal, 0: exited */
	double uptime;      /* seconds the process ran */
};

/* What to do once the tree is gone (cgroup.events watched, polled every 20 ms). */
enum zr_sup_then { ZR_THEN_NONE, ZR_THEN_CLEANUP, ZR_THEN_START, ZR_THEN_STOPPED };

struct zr_sup {
	uv_loop_t *loop;
	const struct zr_process_def *def;
	char *name, *id, *cwd, *log_path, *notify_path;
	const char *cgroup_base, *launcher;
	size_t log_max;
	const struct zr_sup_hooks *hooks;
	void *data;

	enum zr_sup_state state;
	enum zr_sup_want want;
	bool failed;          /* the start budget ran out, or a start could not run */
	bool adopted;         /* the running process was found after a robot restart */
	bool spawning;        /* a zr_child_spawn is in flight (its callback will come) */
	bool held;            /* starting, its spawn held by the hold hook until zr_sup_kick */
	bool timed_out;       /* the running process was killed for not getting ready */
	bool start_after_stop; /* a start (restart) waits for the running stop */
	bool ready_reprobe;   /* an adopted process is being probed once */
	bool fail_fired;      /* on.fail ran for this budget */
	bool first_turn;      /* create's deferred work is done */
	char *ready_arg;      /* the expanded ready argument of the running process */
	bool early;           /* ready.log answered before the spawn did: early_err, early_why */
	int early_err;
	char *early_why;

	/* The running process (pid 0: none). pgid stays until the tree is gone. */
	pid_t pid, pgid;
	/* Processes carrying the marker may live outside cgroup and pgid: a server was launched
	 * without a cgroup (or an earlier robot's was) since the tree was last proven gone. Only
	 * then does telling the tree gone sweep /proc (a cost that grows with every process on
	 * the machine). */
	bool marks_possible;
	/* hrtime after which no process with the marker can have appeared unseen: the creation,
	 * then each launch without a cgroup. A /proc sweep taken since then (another supervisor's)
	 * that has none of ours proves them gone. */
	uint64_t marks_since;
	unsigned long long start_time;
	long long since_ns;   /* wall time the process started */
	uint64_t started_hr;  /* uv_hrtime at its start */
	char *cgroup;         /* its cgroup folder, or NULL */
	struct zr_child *child;
	char *argv0;          /* the command's name as the template wrote it, for messages */

	/* Readiness. */
	struct zr_ready *ready;
	int notify_fd;
	uid_t notify_uid;     /* who may send READY=1: the server's user (root and the robot too) */
	struct zr_list exec_tokens; /* outstanding hooks->ready_exec calls */
	unsigned generation;  /* counts starts: a stale ready.exec answer is ignored */

	/* The last exit and what happened. */
	bool have_exit;
	int64_t last_code;
	int last_sig;
	char *reason;
	unsigned long long restarts;
	struct zr_sup_death deaths[ZR_SUP_DEATHS];
	size_t n_deaths, deaths_next;

	/* Restarts: the next delay, the starts in the current budget window (hrtime). */
	double delay;
	uint64_t *starts;
	size_t n_starts;

	/* Waiting for the tree to go. */
	enum zr_sup_then then;
	uint64_t tree_since;  /* hrtime the wait began */
	uint64_t tree_killed; /* hrtime of the last SIGKILL round */

	struct zr_list waiters; /* struct zr_sup_waiter */

	uv_timer_t t_delay;   /* create's first turn, the backoff delay */
	uv_timer_t t_stop;    /* stop_timeout, ready.exec's ready_timeout */
	uv_timer_t t_tree;    /* polls for the tree to be gone */
	uv_fs_event_t w_tree; /* cgroup.events changed: the tree may be gone (the poll is the
				 fallback, for a change before the watch and without a cgroup) */

	struct zr_outlog *outlog;
	struct zr_journal *empty_log; /* process/log before the output file could be opened */

	/* Sampling. */
	struct zr_procstat stats;
	bool have_stats;
	double cpu_percent;
	double prev_cpu;
	uint64_t prev_hr;
	pid_t prev_pid;
	bool memory_in_cgroup; /* memory.max holds the limit: no sampled rule */
	/* Kept open between rounds for held_pid (the running process): its /proc/PID/stat and
	 * its cgroup's cgroup.procs, -1 when not open. */
	pid_t held_pid;
	int held_stat_fd, held_procs_fd;
	uint64_t over_since;   /* hrtime a limit was first seen exceeded, 0: within */
	bool over_limit;       /* the limit was exceeded `for` long (warn) */

	/* Persisted snapshot, to call hooks->persist on change only. */
	bool health_set;
	const char *last_health;
	bool persisted;
	enum zr_sup_want p_want;
	pid_t p_pid;
	bool p_failed;

	bool closing;
	int open_handles;
	void (*close_done)(void *data);
	void *close_data;
};

/* supervise-tree.c */
/* Resolves name in path_list (a PATH value; NULL: the default) or, with a '/', relative to
 * cwd: 0 and *ret (malloc'd), -ENOENT, -EACCES (found but not executable), -ENOMEM. */
int zr_sup__resolve(const char *name, const char *path_list, const char *cwd, char **ret);
/* SIGKILL to everything left of the tree (cgroup.kill, else the process group and the marked
 * processes). */
void zr_sup__kill_tree(struct zr_sup *s);
/* sig to the main process and its process group. */
void zr_sup__signal_group(struct zr_sup *s, int sig);
/* True when nothing of the tree is left. */
bool zr_sup__tree_gone(struct zr_sup *s);
/* The wall time a process with that start time (clock ticks after boot) started, in ns; 0 when
 * unknown. */
long long zr_sup__start_wall_ns(unsigned long long start_time);

/* supervise.c: hooks (none is called once closing, but persist), waiters, transitions. */
void zr_sup__event(struct zr_sup *s, const char *type, json_t *detail); /* takes detail */
void zr_sup__on(struct zr_sup *s, const char *which);
/* hooks->health with the level the state says, when it changed. */
void zr_sup__health(struct zr_sup *s);
/* hooks->persist when want, pid or failed changed since the last call. */
void zr_sup__persist(struct zr_sup *s);
void zr_sup__set_state(struct zr_sup *s, enum zr_sup_state state);
/* The status's reason: the first line of text. */
void zr_sup__set_reason(struct zr_sup *s, const char *text);
/* Answers the start (stop false) or stop waiters; why borrowed. */
void zr_sup__finish(struct zr_sup *s, bool stop, int err, const char *why);
/* Answers the start waiters with "FIRST\n" and the last lines of output. */
void zr_sup__finish_start_tail(struct zr_sup *s, int err, const char *first);
/* failed: budget spent or the server cannot run; on.fail once per budget. */
void zr_sup__fail(struct zr_sup *s, int err, const char *reason);
/* Kills what is left of the tree and, once it is gone, does then. */
void zr_sup__wait_tree(struct zr_sup *s, enum zr_sup_then then);
/* The tree is gone: its cgroup removed, the process group forgotten. */
void zr_sup__tree_done(struct zr_sup *s);
/* A start once the earlier tree is gone (state starting meanwhile). */
void zr_sup__begin_start(struct zr_sup *s);
/* stop_signal to the group, SIGKILL to the tree after stop_timeout. */
void zr_sup__send_stop(struct zr_sup *s);
/* Brings the server down without changing want; zr_sup__stopped ends it. */
void zr_sup__stop_internal(struct zr_sup *s);
void zr_sup__stopped(struct zr_sup *s);
/* The watch's exit callback (data: the supervisor). */
void zr_sup__on_exit(int64_t code, int sig, void *data);
/* t_stop: stop_timeout (SIGKILL), or ready.exec's ready_timeout. */
void zr_sup__on_t_stop(uv_timer_t *t);
/* A limit's `then`: restart (keeps the budget), or stop (want down). */
void zr_sup__limit_restart(struct zr_sup *s);
void zr_sup__limit_stop(struct zr_sup *s);

/* supervise-spawn.c */
/* Spawns the server now (its tree is gone): the budget, the launch, the launcher. */
void zr_sup__spawn(struct zr_sup *s);
void zr_sup__reset_budget(struct zr_sup *s);
/* "ENOENT", "EACCES", ... for the texts the issue fixes ("ENOENT: cannot run X"). */
const char *zr_sup__errno_name(int err);
/* Follows the output file (once per supervisor; a failure is logged and tried again). */
void zr_sup__ensure_outlog(struct zr_sup *s);

/* supervise-ready.c */
/* Probes readiness per def->ready (arg: the expanded ready argument). */
void zr_sup__start_probe(struct zr_sup *s, const char *arg);
/* Stops the probe, closes NOTIFY_SOCKET, stops the ready.exec timer (not the stop's). */
void zr_sup__cancel_probe(struct zr_sup *s);
/* Not ready (err, why): the start waiters answered, the tree killed, the exit a failure. */
void zr_sup__not_ready(struct zr_sup *s, int err, const char *why);
void zr_sup__free_exec_tokens(struct zr_sup *s);
/* ready.log, started before the spawn (the server may write its line before the spawn's answer
 * reaches the loop): 0, or -errno (a malformed regex). */
int zr_sup__start_log_probe(struct zr_sup *s, const char *arg);

/* supervise-sample.c */
/* A fresh sample of s's tree with its sockets (connections, listening), which the rounds leave
 * out: what a read of process/stats shows. 0 and *ret (zr_procstat_done), or -errno. */
int zr_sup__sample_sockets(const struct zr_sup *s, struct zr_procstat *ret);
/* Every marked process, from a /proc sweep taken after since (the last one if it was, else a
 * new one; kept a while for the next caller): borrowed until the next call, NULL on ENOMEM. */
const struct zr_marks *zr_sup__marks_after(uint64_t since);
/* Closes what the rounds kept open for the process (it is gone, or the supervisor closes). */
void zr_sup__sample_drop(struct zr_sup *s);

/* supervise-life.c */
/* Closes the handles once the server is down or let go (a spawn in flight is waited for). */
void zr_sup__close_continue(struct zr_sup *s);
