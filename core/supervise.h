/* The supervisor of one service's server (DESIGN §6): starts it through the launcher
 * (zrobot-exec: its own session, its own cgroup, output to a file), watches it through a pidfd,
 * probes readiness, restarts it by policy with backoff and a start budget, stops the whole tree,
 * samples what it uses, and adopts it again after a robot restart. Knows nothing of services:
 * the service layer (service-process.c) gives it what it needs through hooks. Runs on the loop. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>
#include "process-def.h"
#include "procstat.h"

struct zr_buf;
struct zr_journal;
struct zr_sup;

enum zr_sup_state { ZR_SUP_DOWN, ZR_SUP_STARTING, ZR_SUP_READY, ZR_SUP_STOPPING, ZR_SUP_BACKOFF,
		    ZR_SUP_FAILED };
enum zr_sup_want { ZR_WANT_DOWN, ZR_WANT_UP, ZR_WANT_ONCE };

/* "down", "starting", ...; "up", "down", "once". */
const char *zr_sup_state_name(enum zr_sup_state s);
const char *zr_sup_want_name(enum zr_sup_want w);
/* Parses want as written to process/want ("up", "down" or "once", one trailing '\n' allowed):
 * 0 and *ret, or -EINVAL. */
int zr_sup_want_parse(const char *text, size_t len, enum zr_sup_want *ret);

/* What must survive the robot: the desired state, and who the running server is. */
struct zr_sup_persist {
	enum zr_sup_want want;
	pid_t pid;                     /* 0: none running */
	unsigned long long start_time; /* zr_proc_start_time of pid */
	const char *cgroup;            /* its cgroup folder, NULL: none (fallback) */
	bool failed;                   /* the start budget ran out */
};

/* A start's launch, made fresh by the service layer from the data of the moment. */
struct zr_sup_launch {
	char **argv;     /* expanded command, NULL-terminated; argv[0] searched in env's PATH */
	char **env;      /* the server's whole environment, NULL-terminated "K=V" */
	char *ready_arg; /* expanded ready argument (tcp, unix, log), or NULL */
};
void zr_sup_launch_done(struct zr_sup_launch *l);

struct zr_sup_hooks {
	/* Fills l for a start: 0, or a negative errno with *why (malloc'd), e.g. a ${field} the
	 * data lacks: the start fails with that reason. */
	int (*launch)(void *data, struct zr_sup_launch *l, char **why);
	/* An event: type "process.started|ready|exited|restarting|failed|adopted|limit", detail
	 * an object (taken; may be NULL). */
	void (*event)(void *data, const char *type, json_t *detail);
	/* The process's health changed: "ok" (ready), "warning" (starting, backoff, stopping,
	 * a limit exceeded) or "error" (failed), or NULL (down as wanted: no state line). */
	void (*health)(void *data, const char *level);
	/* Queue the manifest's on.<which> actions ("start", "ready", "exit", "fail"). */
	void (*on)(void *data, const char *which);
	/* The durable part changed: store it (no answer awaited; pointers borrowed). */
	void (*persist)(void *data, const struct zr_sup_persist *p);
	/* ready.exec: run the template's action name; done(0) when it exits 0, else done(-errno).
	 * done may not be called after zr_sup_close: the service layer cancels it there. */
	void (*ready_exec)(void *data, const char *action, void (*done)(int err, void *arg),
			   void *arg);
	/* Whether a start must wait (its producers' servers are not ready): true holds it in
	 * starting, with no process, until zr_sup_kick. Optional. */
	bool (*hold)(void *data);
	/* A line of the server's output (after the journal has it). Optional. */
	void (*output)(void *data, const char *line, size_t len);
};

struct zr_sup_config {
	uv_loop_t *loop;
	const struct zr_process_def *def; /* borrowed (the template outlives the service) */
	const char *name;        /* for the robot's log: "redis/cache"; copied */
	const char *id;          /* stable and unique (the service's guid): cgroup, marker; copied */
	const char *cwd;         /* the work folder; copied */
	const char *log_path;    /* the output file; copied */
	const char *notify_path; /* the NOTIFY_SOCKET path (ready notify), or "@name": abstract,
				    with a random end per start; copied */
	const char *cgroup_base; /* zr_cgroup_base, NULL: no cgroups here; borrowed */
	const char *launcher;    /* path of zrobot-exec; borrowed */
	size_t log_max;          /* bytes of output kept in memory and on disk */
	const struct zr_sup_hooks *hooks; /* borrowed */
	void *data;
};

/* Makes the supervisor. restored NULL: a new service (want down). Otherwise the persisted
 * state from the last run: a server still running with that pid, start time (and cgroup) is
 * adopted (watched again through a pidfd, `adopted yes`, "process.adopted"), never started
 * twice; else it is started when want is up (a failed one gets a fresh budget). 0 and *ret, or
 * -ENOMEM. */
int zr_sup_create(const struct zr_sup_config *cfg, const struct zr_sup_persist *restored,
		  struct zr_sup **ret);

/* Ends a request: 0, or a negative errno with why (borrowed for the call; ends in '\n' and may
 * hold the last lines of output), e.g. -ENOENT "ENOENT: cannot run redis-server\n", -EIO
 * "exited with code 1 before ready\n...", -ETIMEDOUT "not ready after 30 s\n...". */
typedef void (*zr_sup_done_cb)(int err, const char *why, void *data);

/* want up (persisted), a fresh start budget; done when ready (at once when it is), or when the
 * start failed. Asked again while starting: both wait for the same outcome. */
void zr_sup_start(struct zr_sup *s, zr_sup_done_cb cb, void *data);
/* want down; stop_signal, then SIGKILL to the whole tree after stop_timeout; done when the
 * tree is gone (at once when down). */
void zr_sup_stop(struct zr_sup *s, zr_sup_done_cb cb, void *data);
/* Stops then starts; done when the new process is ready. */
void zr_sup_restart(struct zr_sup *s, zr_sup_done_cb cb, void *data);
/* Sets want as written to process/want: up starts, down stops, once runs it once more
 * without restarts. No answer: the file's write was acknowledged once stored. */
void zr_sup_set_want(struct zr_sup *s, enum zr_sup_want want);
/* Sends sig to the main process (process/signal; reload sends def->reload_signal):
 * 0, -ESRCH (not running). */
int zr_sup_signal(struct zr_sup *s, int sig);
/* A start held by the hold hook asks it again, and goes on when it no longer holds. */
void zr_sup_kick(struct zr_sup *s);
/* Moves to another version's process (an upgrade): the server, if up, is restarted on it. */
void zr_sup_set_def(struct zr_sup *s, const struct zr_process_def *def);

/* The files of process/. status: "state S\npid N\nsince TIME\nuptime S\nrestarts N\n
 * last_exit code N|signal NAME|unknown\nreason TEXT\nadopted yes|no\n" (pid, since, uptime
 * only while a process runs; last_exit and reason once known). deaths: the last 20 exits, one
 * line each "TIME code N|signal NAME|unknown uptime S". stats: "rss N\nvms N\ncpu_percent F\n
 * threads N\nfds N\nconnections N\n" then "listening ADDR" lines (the last sample; empty
 * before the first). */
void zr_sup_status(const struct zr_sup *s, struct zr_buf *b);
void zr_sup_deaths(const struct zr_sup *s, struct zr_buf *b);
void zr_sup_stats(const struct zr_sup *s, struct zr_buf *b);
enum zr_sup_state zr_sup_state(const struct zr_sup *s);
enum zr_sup_want zr_sup_want(const struct zr_sup *s);
pid_t zr_sup_pid(const struct zr_sup *s);
/* The output's timestamped lines (process/log), never NULL. */
struct zr_journal *zr_sup_log(struct zr_sup *s);
/* For metrics. */
struct zr_sup_metrics {
	bool up;
	unsigned long long restarts, rss, fds;
	double cpu_seconds;
};
void zr_sup_metrics(const struct zr_sup *s, struct zr_sup_metrics *m);

/* Samples the process trees of n supervisors (the robot's --sample-interval timer calls it
 * for all of them in one round; it reads /proc/net once per round). */
void zr_sup_sample(struct zr_sup *const *sups, size_t n);

/* Closes the supervisor: stop true (the service is deleted, --stop-on-exit) stops the server
 * first; false leaves it running for the next robot to adopt. done(data) fires once nothing
 * of it is left on the loop (possibly before this returns); no hook is called after. */
void zr_sup_close(struct zr_sup *s, bool stop, void (*done)(void *data), void *data);
