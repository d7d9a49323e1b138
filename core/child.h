/* Child processes that cost the same whatever the robot's size and never make the loop wait:
 * posix_spawn (vfork-like, no page tables copied) on a spawner thread, the exit seen through a
 * pidfd watched on the loop. Used by the runner (tasks) and meant for supervised servers too:
 * zr_child_watch also takes a pidfd opened on a process adopted after a restart. */
#pragma once
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

enum {
	/* The child calls setsid(): it leads a new session and process group, so kill(-pid)
	 * reaches it and whatever it starts, and a terminal's signals never do. */
	ZR_CHILD_SETSID = 1 << 0,
};

struct zr_child_spawn_options {
	const char *path;  /* executable; not searched in PATH; relative to cwd if relative */
	char *const *argv; /* NULL-terminated; NULL means { path, NULL } */
	char *const *env;  /* NULL-terminated "K=V" list: the child's whole environment */
	const char *cwd;   /* NULL: the robot's */
	/* fds[i] (one of the caller's, or -1 for /dev/null) becomes the child's fd i; every other
	 * fd is closed in the child. Borrowed until the callback: the caller closes its copies
	 * there. */
	const int *fds;
	int n_fds;
	unsigned flags; /* ZR_CHILD_* */
};

/* The spawn finished: err 0 with the child's pid and a pidfd (CLOEXEC, now the callee's: pass
 * it to zr_child_watch or close it), or a negative errno (-ENOENT, -EACCES, -ENOEXEC, a failed
 * chdir...) with pid 0 and pidfd -1, and no process left behind. Runs on the loop. */
typedef void (*zr_child_spawn_cb)(int err, pid_t pid, int pidfd, void *data);

/* Queues the spawn for the spawner thread and returns at once. Everything in o but fds is
 * copied. Returns 0 (cb will run exactly once, on loop; the loop stays alive until then) or a
 * negative errno (nothing queued, no callback). */
int zr_child_spawn(uv_loop_t *loop, const struct zr_child_spawn_options *o, zr_child_spawn_cb cb,
		   void *data);

struct zr_child;

/* The process exited: exit_status with term_signal 0, or the killing signal. exit_status is
 * -1 when the process was not our child (adopted: its status is lost to us). During the call
 * the process is still an unreaped zombie, so its pid and process group id cannot be reused:
 * kill(-pid, ...) reaches only what is left of its group. Afterwards it is reaped and the
 * watch frees itself. */
typedef void (*zr_child_exit_cb)(int64_t exit_status, int term_signal, void *data);

/* Watches pidfd (takes ownership, also on failure) for its process's exit. Returns 0 and *ret
 * (owned by the watch itself until the callback or zr_child_close) or a negative errno. */
int zr_child_watch(uv_loop_t *loop, int pidfd, zr_child_exit_cb cb, void *data,
		   struct zr_child **ret);

/* Stops watching without a callback and without reaping (a server that outlives the robot);
 * c is freed once its handle is closed. Must not be called from or after the exit callback. */
void zr_child_close(struct zr_child *c);
