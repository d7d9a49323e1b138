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

struct zr_sup_death {
	long long time_ns;  /* wall time of the exit */
	int64_t code;       /* exit code; -1: unknown (an adopted process) */
	int sig;            /* killing signal, 0: exited */
	double uptime;      /* seconds the process ran */
};

/* What to do once the tree is gone (polled every 20 ms). */
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
	bool timed_out;       /* the running process was killed for not getting ready */
	bool start_after_stop; /* a start (restart) waits for the running stop */
	bool ready_reprobe;   /* an adopted process is being probed once */
	bool fail_fired;      /* on.fail ran for this budget */
	bool first_turn;      /* create's deferred work is done */
	char *fatal;          /* set when the exit may not be retried (the command cannot run) */
	int fatal_err;
	char *ready_arg;      /* the expanded ready argument of the running process */

	/* The running process (pid 0: none). pgid stays until the tree is gone. */
	pid_t pid, pgid;
	unsigned long long start_time;
	long long since_ns;   /* wall time the process started */
	uint64_t started_hr;  /* uv_hrtime at its start */
	char *cgroup;         /* its cgroup folder, or NULL */
	struct zr_child *child;
	char *argv0;          /* the command's name as the template wrote it, for messages */

	/* Readiness. */
	struct zr_ready *ready;
	int notify_fd;
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
/* The tree's pids (cgroup.procs, else the marked processes): 0 and *ret, *n, or -errno. */
int zr_sup__tree_pids(struct zr_sup *s, pid_t **ret, size_t *n);
/* The wall time a process with that start time (clock ticks after boot) started, in ns; 0 when
 * unknown. */
long long zr_sup__start_wall_ns(unsigned long long start_time);

/* supervise.c, for supervise-sample.c */
void zr_sup__event(struct zr_sup *s, const char *type, json_t *detail);
void zr_sup__health(struct zr_sup *s);
/* A limit's `then`: restart (keeps the budget), or stop (want down). */
void zr_sup__limit_restart(struct zr_sup *s);
void zr_sup__limit_stop(struct zr_sup *s);
