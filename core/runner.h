/* The runner: one attempt of a task as a child process (zr_spawn: started off the loop, its
 * exit seen through a pidfd) following the action protocol of DESIGN §4 — stdin JSON,
 * environment, stdout as result, stderr as log, fd 3 as control channel, timeout with SIGTERM
 * then SIGKILL to the process group. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

struct zr_runner;

/* What the runner reports while the process runs; all borrowed for the call's duration. */
struct zr_runner_events {
	void (*stderr_line)(const char *line, size_t len, void *data);
	void (*ctl_line)(const char *line, size_t len, void *data);    /* a fd 3 line */
	void (*stdout_data)(const char *p, size_t len, void *data);
	/* The process runs (optional): before any of its output is reported. */
	void (*started)(int pid, void *data);
	/* The process could not be started (a negative errno: -ENOENT, -EACCES, -ENOEXEC, a cwd
	 * that is gone...); called instead of `started` and `exited`, nothing ran. After this
	 * callback the runner is being closed and must not be used. */
	void (*failed)(int err, void *data);
	/* The process exited (term_signal 0) or was killed; pipes are drained. After this
	 * callback the runner is being closed and must not be used: do not call
	 * zr_runner_kill. timed_out says the timeout fired. */
	void (*exited)(int64_t exit_status, int term_signal, bool timed_out, void *data);
};

struct zr_runner_config {
	const char *path;  /* executable */
	const char *cwd;
	char **env;        /* NULL-terminated "K=V" list, borrowed during start */
	const char *input; /* written to stdin, then stdin is closed; borrowed during start */
	double timeout;    /* seconds, 0 = none */
	double grace;      /* seconds between SIGTERM and SIGKILL */
};

/* Starts the process in its own session and process group, off the loop: it returns before
 * the process exists. Returns 0 and *ret (owned by the runner itself: it frees itself after
 * `exited` or `failed` returns, exactly one of which is called), or a negative errno (nothing
 * started, no callback). The timeout counts from the process's start. */
int zr_runner_start(uv_loop_t *loop, const struct zr_runner_config *cfg,
		    const struct zr_runner_events *ev, void *data, struct zr_runner **ret);

/* SIGTERM to the process group, SIGKILL after the grace period. Idempotent. Before the
 * process has started, it is killed as soon as it has (it gets `exited` with its signal). */
void zr_runner_kill(struct zr_runner *r);

/* The process's pid, 0 before `started`. */
int zr_runner_pid(const struct zr_runner *r);
