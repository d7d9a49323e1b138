/* posix_spawn off the loop, exits through pidfds on the loop (see child.h). */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/list.h"

#ifndef P_PIDFD
#define P_PIDFD 3 /* Linux 5.4; glibc 2.36 has it only in <linux/wait.h> */
#endif

/* One spawn, from zr_child_spawn to its callback. The strings live in the same allocation. */
struct spawn_req {
	struct zr_list link;
	uv_async_t async;
	char *path;
	char **argv;
	char **env;
	char *cwd;
	int *fds;
	int n_fds;
	unsigned flags;
	zr_child_spawn_cb cb;
	void *data;
	/* Written by the spawner thread before uv_async_send, read on the loop after. */
	int err;
	pid_t pid;
	int pidfd;
};

/* Why a thread of our own and not uv_queue_work: the libuv pool also runs git fetches and
 * clones (repo.c) that can take minutes, and four of them would hold every task's start.
 * One thread is enough: posix_spawn blocks it only until the child has exec'd (well under a
 * millisecond, whatever the robot's size), and it runs spawns in the order they came.
 * It is process-wide like libuv's own pool, started on the first spawn and never stopped: at
 * exit it sleeps on its condition variable holding nothing. Each request carries its own
 * uv_async_t, so any loop can use it and a loop cannot close with a spawn in flight. */
static struct {
	pthread_once_t once;
	int start_err;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct zr_list queue;
} spawner = {
	.once = PTHREAD_ONCE_INIT,
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.queue = {&spawner.queue, &spawner.queue},
};

static int spawn_one(struct spawn_req *q)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t mask, def;
	int moved[q->n_fds];
	int err;

	/* A source below n_fds could be overwritten by an earlier dup2 before its own turn (or be
	 * its own target, where dup2 would keep it close-on-exec): move those out of the way. */
	for (int i = 0; i < q->n_fds; i++) {
		moved[i] = -1;
		if (q->fds[i] >= 0 && q->fds[i] < q->n_fds) {
			moved[i] = fcntl(q->fds[i], F_DUPFD_CLOEXEC, q->n_fds);
			if (moved[i] < 0) {
				err = -errno;
				goto out_moved;
			}
		}
	}
	err = -posix_spawn_file_actions_init(&fa);
	if (err < 0) {
		goto out_moved;
	}
	err = -posix_spawnattr_init(&at);
	if (err < 0) {
		goto out_fa;
	}
	if (q->cwd) {
		err = -posix_spawn_file_actions_addchdir_np(&fa, q->cwd);
	}
	for (int i = 0; i < q->n_fds && err == 0; i++) {
		int src = moved[i] >= 0 ? moved[i] : q->fds[i];
		err = src >= 0 ? -posix_spawn_file_actions_adddup2(&fa, src, i)
			       : -posix_spawn_file_actions_addopen(&fa, i, "/dev/null", O_RDWR, 0);
	}
	/* Whatever the robot left without O_CLOEXEC stays with the robot. */
	if (err == 0) {
		err = -posix_spawn_file_actions_addclosefrom_np(&fa, q->n_fds);
	}
	/* As a fork+exec from a fresh shell: no blocked signals (the spawner thread blocks them
	 * all), and none ignored (the robot ignores SIGPIPE; an ignored signal survives exec). */
	(void)sigemptyset(&mask);
	(void)sigfillset(&def);
	(void)sigdelset(&def, SIGKILL);
	(void)sigdelset(&def, SIGSTOP);
	short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	if (q->flags & ZR_CHILD_SETSID) {
		flags |= POSIX_SPAWN_SETSID;
	}
	if (err == 0) {
		err = -posix_spawnattr_setflags(&at, flags);
	}
	if (err == 0) {
		err = -posix_spawnattr_setsigmask(&at, &mask);
	}
	if (err == 0) {
		err = -posix_spawnattr_setsigdefault(&at, &def);
	}
	if (err == 0) {
		/* glibc: clone(CLONE_VM|CLONE_VFORK); returns once the child has exec'd, or with the
		 * exec's errno after reaping the child. */
		err = -posix_spawn(&q->pid, q->path, &fa, &at, q->argv, q->env);
	}
	if (err == 0) {
		/* Nobody else reaps our children (libuv only waits for the pids it spawned), so the
		 * pid cannot have been reused even if the child is already gone. */
		q->pidfd = (int)syscall(SYS_pidfd_open, q->pid, 0);
		if (q->pidfd < 0) {
			err = -errno;
			(void)kill(q->pid, SIGKILL);
			(void)waitpid(q->pid, NULL, 0);
			q->pid = 0;
		}
	}
	(void)posix_spawnattr_destroy(&at);
out_fa:
	(void)posix_spawn_file_actions_destroy(&fa);
out_moved:
	for (int i = 0; i < q->n_fds; i++) {
		if (moved[i] >= 0) {
			(void)close(moved[i]);
		}
	}
	return err;
}

static void *spawner_main(void *arg)
{
	(void)arg;
	for (;;) {
		(void)pthread_mutex_lock(&spawner.lock);
		while (zr_list_empty(&spawner.queue)) {
			(void)pthread_cond_wait(&spawner.cond, &spawner.lock);
		}
		struct spawn_req *q = container_of(spawner.queue.next, struct spawn_req, link);
		zr_list_remove(&q->link);
		(void)pthread_mutex_unlock(&spawner.lock);
		q->err = spawn_one(q);
		/* q belongs to the loop again from here on. */
		(void)uv_async_send(&q->async);
	}
	return NULL;
}

static void spawner_start(void)
{
	pthread_attr_t attr;
	pthread_t th;
	sigset_t all, old;
	int err = pthread_attr_init(&attr);
	if (err == 0) {
		(void)pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		/* posix_spawn gives the child a stack of its own; this thread needs little. */
		(void)pthread_attr_setstacksize(&attr, 256 * 1024);
		/* Signals are for the loop thread (libuv's signal handling), never for this one. */
		(void)sigfillset(&all);
		(void)pthread_sigmask(SIG_SETMASK, &all, &old);
		err = pthread_create(&th, &attr, spawner_main, NULL);
		(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
		(void)pthread_attr_destroy(&attr);
	}
	spawner.start_err = -err;
}

static void on_req_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_spawned(uv_async_t *a)
{
	struct spawn_req *q = a->data;
	q->cb(q->err, q->err == 0 ? q->pid : 0, q->err == 0 ? q->pidfd : -1, q->data);
	uv_close((uv_handle_t *)&q->async, on_req_closed);
}

/* Number of entries of a NULL-terminated list, and the size of its strings. */
static size_t strv_count(char *const *v, size_t *ret_size)
{
	size_t n = 0, size = 0;
	for (; v[n]; n++) {
		size += strlen(v[n]) + 1;
	}
	*ret_size = size;
	return n;
}

/* Copies the n strings of v to *ps (advanced past them) and their pointers to out. */
static char **strv_copy(char *const *v, size_t n, char **out, char **ps)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;
		out[i] = memcpy(*ps, v[i], len);
		*ps += len;
	}
	out[n] = NULL;
	return out;
}

int zr_child_spawn(uv_loop_t *loop, const struct zr_child_spawn_options *o, zr_child_spawn_cb cb,
		   void *data)
{
	char *const default_argv[] = {(char *)o->path, NULL};
	char *const *argv = o->argv ? o->argv : default_argv;
	char *const empty_env[] = {NULL};
	char *const *env = o->env ? o->env : empty_env;
	size_t argv_size, env_size;
	size_t n_argv = strv_count(argv, &argv_size);
	size_t n_env = strv_count(env, &env_size);
	size_t path_len = strlen(o->path) + 1;
	size_t cwd_len = o->cwd ? strlen(o->cwd) + 1 : 0;
	/* One allocation: the request, the pointer lists, the fds, then the bytes of the strings,
	 * so that everything stays aligned. */
	size_t n_ptrs = n_argv + 1 + n_env + 1;
	size_t size = sizeof(struct spawn_req) + n_ptrs * sizeof(char *) +
		      (size_t)o->n_fds * sizeof(int) + argv_size + env_size + path_len + cwd_len;

	(void)pthread_once(&spawner.once, spawner_start);
	if (spawner.start_err < 0) {
		return spawner.start_err;
	}
	struct spawn_req *q = calloc(1, size);
	if (!q) {
		return -ENOMEM;
	}
	char **ptrs = (char **)(void *)(q + 1);
	q->fds = (int *)(void *)(ptrs + n_ptrs);
	char *p = (char *)(q->fds + o->n_fds);
	q->argv = strv_copy(argv, n_argv, ptrs, &p);
	q->env = strv_copy(env, n_env, ptrs + n_argv + 1, &p);
	memcpy(q->fds, o->fds, (size_t)o->n_fds * sizeof(int));
	q->n_fds = o->n_fds;
	q->path = memcpy(p, o->path, path_len);
	p += path_len;
	q->cwd = o->cwd ? memcpy(p, o->cwd, cwd_len) : NULL;
	q->flags = o->flags;
	q->cb = cb;
	q->data = data;
	q->pidfd = -1;
	int err = uv_async_init(loop, &q->async, on_spawned);
	if (err < 0) {
		free(q);
		return err;
	}
	q->async.data = q;
	(void)pthread_mutex_lock(&spawner.lock);
	zr_list_push_back(&spawner.queue, &q->link);
	(void)pthread_cond_signal(&spawner.cond);
	(void)pthread_mutex_unlock(&spawner.lock);
	return 0;
}

struct zr_child {
	uv_poll_t poll;
	int pidfd;
	zr_child_exit_cb cb;
	void *data;
};

static void on_child_closed(uv_handle_t *h)
{
	struct zr_child *c = h->data;
	(void)close(c->pidfd);
	free(c);
}

static void on_pidfd(uv_poll_t *p, int status, int events)
{
	struct zr_child *c = p->data;
	siginfo_t si = {0};
	(void)events;
	/* WNOWAIT: learn the status but leave the zombie, so the pid stays ours during cb. */
	int r = waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG | WNOWAIT);
	if (r == 0 && si.si_pid == 0 && status == 0) {
		return; /* not exited yet: a spurious wakeup */
	}
	int64_t exit_status = -1;
	int term_signal = 0;
	if (r == 0 && si.si_pid != 0) {
		if (si.si_code == CLD_EXITED) {
			exit_status = si.si_status;
		} else {
			exit_status = 0;
			term_signal = si.si_status;
		}
	}
	(void)uv_poll_stop(p);
	c->cb(exit_status, term_signal, c->data);
	if (r == 0 && si.si_pid != 0) {
		(void)waitid((idtype_t)P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG);
	}
	uv_close((uv_handle_t *)&c->poll, on_child_closed);
}

int zr_child_watch(uv_loop_t *loop, int pidfd, zr_child_exit_cb cb, void *data,
		   struct zr_child **ret)
{
	struct zr_child *c = calloc(1, sizeof(*c));
	if (!c) {
		(void)close(pidfd);
		return -ENOMEM;
	}
	c->pidfd = pidfd;
	c->cb = cb;
	c->data = data;
	int err = uv_poll_init(loop, &c->poll, pidfd);
	if (err < 0) {
		(void)close(pidfd);
		free(c);
		return err;
	}
	c->poll.data = c;
	/* A pidfd turns readable when the process exits (also if it already has). */
	err = uv_poll_start(&c->poll, UV_READABLE, on_pidfd);
	if (err < 0) {
		uv_close((uv_handle_t *)&c->poll, on_child_closed);
		return err;
	}
	*ret = c;
	return 0;
}

void zr_child_close(struct zr_child *c)
{
	if (!c || uv_is_closing((uv_handle_t *)&c->poll)) {
		return;
	}
	uv_close((uv_handle_t *)&c->poll, on_child_closed);
}
