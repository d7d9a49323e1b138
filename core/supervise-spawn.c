/* The supervisor's start of a server: the start budget, the launch from the service layer, the
 * command found in PATH, the cgroup, NOTIFY_SOCKET, the marker, the launcher's spawn; and the
 * server's output followed from its file. */
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/un.h>
#include <unistd.h>

#include "cgroup.h"
#include "child.h"
#include "journal.h"
#include "outlog.h"
#include "procstat.h"
#include "ready.h"
#include "supervise-internal.h"
#include "util/log.h"

/* Counts the start about to happen in the budget: true (and not counted) when start_burst
 * starts already fell within the last start_interval seconds. */
static bool budget_spent(struct zr_sup *s)
{
	const struct zr_process_def *d = s->def;
	uint64_t now = uv_hrtime();
	uint64_t window = (uint64_t)(d->start_interval * 1e9);
	size_t keep = 0;
	for (size_t i = 0; i < s->n_starts; i++) {
		if (now - s->starts[i] < window) {
			s->starts[keep++] = s->starts[i];
		}
	}
	s->n_starts = keep;
	if (d->start_burst > 0 && s->n_starts >= (size_t)d->start_burst) {
		return true;
	}
	uint64_t *n = realloc(s->starts, (s->n_starts + 1) * sizeof(*n));
	if (n) {
		s->starts = n;
		s->starts[s->n_starts++] = now;
	}
	return false;
}

void zr_sup__reset_budget(struct zr_sup *s)
{
	s->n_starts = 0;
	s->fail_fired = false;
	s->failed = false;
	s->delay = s->def->restart_delay;
}

/* errno's name for the texts the issue fixes ("ENOENT: cannot run X"). */
const char *zr_sup__errno_name(int err)
{
	switch (err) {
	case ENOENT:
		return "ENOENT";
	case EACCES:
		return "EACCES";
	case ENOEXEC:
		return "ENOEXEC";
	default:
		return "EIO";
	}
}

/* The server's environment: env's strings (borrowed) but a ZR_PROCESS_ID or NOTIFY_SOCKET the
 * data set, then the marker and NOTIFY_SOCKET=notify when not NULL (the last one or two,
 * owned). NULL: no memory. */
static char **server_env(struct zr_sup *s, char **env, const char *notify)
{
	size_t n = 0;
	while (env && env[n]) {
		n++;
	}
	char **e = calloc(n + 3, sizeof(*e));
	if (!e) {
		return NULL;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(env[i], ZR_PROCESS_MARKER "=", strlen(ZR_PROCESS_MARKER) + 1) == 0 ||
		    (notify && strncmp(env[i], "NOTIFY_SOCKET=", 14) == 0)) {
			continue;
		}
		e[k++] = env[i];
	}
	char *marker = NULL, *sock = NULL;
	if (asprintf(&marker, "%s=%s", ZR_PROCESS_MARKER, s->id) < 0) {
		free(e);
		return NULL;
	}
	e[k++] = marker;
	if (notify) {
		if (asprintf(&sock, "NOTIFY_SOCKET=%s", notify) < 0) {
			free(marker);
			free(e);
			return NULL;
		}
		e[k++] = sock;
	}
	return e;
}

static void on_spawned(int err, pid_t pid, int pidfd, void *data);

/* The parts of a spawn, freed together. */
struct spawn_parts {
	struct zr_sup_launch l;
	char *path;
	char **env;
	size_t n_own_env; /* the last ones in env are ours */
	char **argv;
};

static const char *path_of(char **env)
{
	for (size_t i = 0; env && env[i]; i++) {
		if (strncmp(env[i], "PATH=", 5) == 0) {
			return env[i] + 5;
		}
	}
	return NULL;
}

static void spawn_parts_done(struct spawn_parts *p)
{
	if (p->env) {
		size_t n = 0;
		while (p->env[n]) {
			n++;
		}
		for (size_t i = n - p->n_own_env; i < n; i++) {
			free(p->env[i]);
		}
		free(p->env);
	}
	free(p->argv);
	free(p->path);
	zr_sup_launch_done(&p->l);
}

static int make_argv(struct zr_sup *s, struct spawn_parts *p)
{
	size_t n = 0;
	while (p->l.argv[n]) {
		n++;
	}
	char **a = calloc(n + 9, sizeof(*a));
	if (!a) {
		return -ENOMEM;
	}
	size_t k = 0;
	a[k++] = (char *)s->launcher;
	if (s->cgroup) {
		a[k++] = "--cgroup";
		a[k++] = s->cgroup;
	}
	a[k++] = "--log";
	a[k++] = s->log_path;
	if (s->def->user) {
		a[k++] = "--user";
		a[k++] = s->def->user;
	}
	/* The launcher's execvp finds it again in the same PATH: the server keeps its argv[0]. */
	a[k++] = "--";
	for (size_t i = 0; i < n; i++) {
		a[k++] = p->l.argv[i];
	}
	p->argv = a;
	return 0;
}

void zr_sup__spawn(struct zr_sup *s)
{
	const struct zr_process_def *d = s->def;
	struct spawn_parts p = {0};
	char *why = NULL;
	char msg[512];
	int err;

	/* Before the budget: a start that waits has not started. */
	s->held = s->hooks->hold && s->hooks->hold(s->data);
	if (s->held) {
		return;
	}
	if (budget_spent(s)) {
		(void)snprintf(msg, sizeof(msg), "start limit: more than %d starts in %g s",
			       d->start_burst, d->start_interval);
		zr_sup__fail(s, -EAGAIN, msg);
		return;
	}
	err = s->hooks->launch(s->data, &p.l, &why);
	if (err < 0) {
		(void)snprintf(msg, sizeof(msg), "%s", why ? why : strerror(-err));
		free(why);
		zr_sup__fail(s, err, msg);
		return;
	}
	/* Messages name the program as the template wrote it: expanded, a "${program}" would
	 * quote the data (maybe a secret, maybe a newline that forges a status line). A def
	 * without a command (its launch hook gives the argv) is named by that argv. */
	free(s->argv0);
	s->argv0 = NULL;
	if (p.l.argv && p.l.argv[0]) {
		s->argv0 = strdup(d->command && d->command[0] ? d->command[0] : p.l.argv[0]);
	}
	if (!s->argv0) {
		err = -EINVAL;
		(void)snprintf(msg, sizeof(msg), "no command");
		goto fail;
	}
	err = zr_sup__resolve(p.l.argv[0], path_of(p.l.env), s->cwd, &p.path);
	if (err < 0) {
		(void)snprintf(msg, sizeof(msg), "%s: cannot run %s", zr_sup__errno_name(-err),
			       s->argv0);
		goto fail;
	}
	if (s->cgroup_base) {
		free(s->cgroup);
		s->cgroup = NULL;
		err = zr_cgroup_make(s->cgroup_base, s->id, &s->cgroup);
		if (err < 0) {
			/* The process group and the marker still find the tree. */
			log_warn("Failed to make the cgroup of '%s': %s, using a process group",
				 s->name, strerror(-err));
		}
	}
	if (!s->cgroup) {
		/* Only the marker finds a setsid'd descendant now, until the tree is gone. */
		s->marks_possible = true;
		s->marks_since = uv_hrtime();
	}
	s->memory_in_cgroup = false;
	if (s->cgroup && d->memory_max) {
		s->memory_in_cgroup = zr_cgroup_set_memory_max(s->cgroup, d->memory_max) == 0;
	}
	char notify[sizeof(((struct sockaddr_un *)0)->sun_path)] = "";
	if (d->ready == ZR_READY_NOTIFY) {
		/* An abstract name gets a fresh random end at each start: names are listed in
		 * /proc/net/unix, and another user who bound the last one must not block this
		 * start. */
		uint64_t rnd = 0;
		if (s->notify_path[0] == '@' && getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			rnd = uv_hrtime() ^ (uint64_t)getpid();
		}
		if (s->notify_path[0] == '@') {
			(void)snprintf(notify, sizeof(notify), "%s/%016llx", s->notify_path,
				       (unsigned long long)rnd);
		} else {
			(void)snprintf(notify, sizeof(notify), "%s", s->notify_path);
		}
		err = zr_ready_notify_open(notify, &s->notify_fd);
		if (err < 0) {
			(void)snprintf(msg, sizeof(msg), "cannot open NOTIFY_SOCKET %s: %s", notify,
				       strerror(-err));
			goto fail;
		}
		struct passwd *pw = d->user ? getpwnam(d->user) : NULL;
		s->notify_uid = pw ? pw->pw_uid : geteuid();
		if (pw && notify[0] != '@' && chown(notify, pw->pw_uid, pw->pw_gid) < 0) {
			log_warn("Failed to chown '%s': %s, ignoring", notify, strerror(errno));
		}
	}
	p.env = server_env(s, p.l.env, d->ready == ZR_READY_NOTIFY ? notify : NULL);
	p.n_own_env = d->ready == ZR_READY_NOTIFY ? 2 : 1;
	if (!p.env || make_argv(s, &p) < 0) {
		err = -ENOMEM;
		(void)snprintf(msg, sizeof(msg), "out of memory");
		goto fail;
	}
	zr_sup__ensure_outlog(s);
	if (d->ready == ZR_READY_LOG) {
		/* The server may write its line before the spawn's answer reaches the loop: the
		 * probe listens from now on, once what earlier runs wrote has been read. */
		if (s->outlog) {
			zr_outlog_poll(s->outlog);
		}
		err = zr_sup__start_log_probe(s, p.l.ready_arg);
		if (err < 0) {
			(void)snprintf(msg, sizeof(msg), "cannot probe readiness: %s", strerror(-err));
			goto fail;
		}
	}
	const int fds[3] = {-1, -1, -1};
	struct zr_child_spawn_options o = {
		.path = s->launcher,
		.argv = p.argv,
		.env = p.env,
		.cwd = s->cwd,
		.fds = fds,
		.n_fds = 3,
		.flags = ZR_CHILD_SETSID,
	};
	err = zr_child_spawn(s->loop, &o, on_spawned, s);
	if (err < 0) {
		(void)snprintf(msg, sizeof(msg), "cannot run %s: %s", s->launcher, strerror(-err));
		goto fail;
	}
	s->spawning = true;
	s->generation++;
	free(s->ready_arg);
	s->ready_arg = p.l.ready_arg;
	p.l.ready_arg = NULL;
	spawn_parts_done(&p);
	return;
fail:
	spawn_parts_done(&p);
	zr_sup__cancel_probe(s);
	zr_sup__tree_done(s);
	zr_sup__fail(s, err, msg);
}

static void on_spawned(int err, pid_t pid, int pidfd, void *data)
{
	struct zr_sup *s = data;
	s->spawning = false;
	if (err < 0) {
		char msg[512];
		(void)snprintf(msg, sizeof(msg), "cannot run %s: %s", s->launcher, strerror(-err));
		zr_sup__cancel_probe(s);
		zr_sup__tree_done(s);
		if (s->state == ZR_SUP_STOPPING || s->closing) {
			zr_sup__stopped(s);
			return;
		}
		zr_sup__fail(s, err, msg);
		return;
	}
	s->pid = s->pgid = pid;
	if (zr_proc_start_time(pid, &s->start_time) < 0) {
		s->start_time = 0;
	}
	s->since_ns = zr_now_ns();
	s->started_hr = uv_hrtime();
	s->adopted = false;
	s->have_stats = false;
	s->over_since = 0;
	s->over_limit = false;
	err = zr_child_watch(s->loop, pidfd, zr_sup__on_exit, s, &s->child);
	if (err < 0) {
		/* Without a watch its exit would go unseen: it may not run. */
		s->child = NULL;
		zr_sup__kill_tree(s);
		s->pid = 0;
		char msg[256];
		(void)snprintf(msg, sizeof(msg), "cannot watch the process: %s", strerror(-err));
		zr_sup__fail(s, err, msg);
		zr_sup__wait_tree(s, ZR_THEN_CLEANUP);
		return;
	}
	zr_sup__persist(s);
	log_info("Started the server of '%s' (pid %d)", s->name, (int)pid);
	if (s->state == ZR_SUP_STOPPING || s->closing) {
		/* A stop (or the robot closing) came while it spawned: it never got going. */
		zr_sup__send_stop(s);
		return;
	}
	zr_sup__event(s, "process.started", json_pack("{s:i}", "pid", (int)pid));
	zr_sup__on(s, "start");
	zr_sup__start_probe(s, s->ready_arg);
}

/* Output. */

static void on_output_line(const char *line, size_t len, void *data)
{
	struct zr_sup *s = data;
	if (s->ready) {
		zr_ready_log_line(s->ready, line, len);
	}
	if (!s->closing && s->hooks->output) {
		s->hooks->output(s->data, line, len);
	}
}

void zr_sup__ensure_outlog(struct zr_sup *s)
{
	if (s->outlog) {
		return;
	}
	int err = zr_outlog_open(s->loop, s->log_path, s->log_max, on_output_line, s, &s->outlog);
	if (err < 0) {
		s->outlog = NULL;
		log_warn("Failed to follow the output of '%s' in '%s': %s, ignoring", s->name,
			 s->log_path, strerror(-err));
	}
}

struct zr_journal *zr_sup_log(struct zr_sup *s)
{
	if (s->outlog) {
		return zr_outlog_journal(s->outlog);
	}
	return zr_journal_or_empty(&s->empty_log, s->log_max, zr_now_ns());
}

