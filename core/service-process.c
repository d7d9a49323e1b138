/* Services: the supervised server of a service whose template has a "process" (DESIGN §6).
 * The supervisor (supervise.c) knows nothing of services; this file makes one per service and
 * answers its hooks from the service: the launch (argv, environment and ready argument from the
 * data of the moment), events, the `process` state line, on.* actions, the durable part in the
 * store, and ready.exec actions. It also runs the built-in actions and closes the supervisor
 * when the service is deleted, upgraded or the robot stops. */
#include "service.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "env.h"
#include "process-def.h"
#include "procstat.h"
#include "robot.h"
#include "runner.h"
#include "schema.h"
#include "service-internal.h"
#include "store.h"
#include "supervise.h"
#include "task.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"

/* Bytes of a server's output kept, in memory (process/log) and in its file. */
#define PROCESS_LOG_MAX (256 * 1024)

/* A ready.exec action running for the supervisor. It outlives a cancel: the runner reports
 * its end here, and p is then NULL (nobody to tell). */
struct exec_run {
	struct zr_service_process *p;
	struct zr_robot *robot;
	struct zr_runner *runner;
	void (*done)(int err, void *arg);
	void *arg;
};

struct zr_service_process {
	struct zr_service *s;
	struct zr_sup *sup;
	/* What the store held, until the supervisor is made (zr_service__process_start). */
	bool has_restored;
	struct zr_sup_persist restored;
	char *restored_cgroup;
	char *tag;           /* the state line's tag: the basename of command[0] as written */
	bool health_set;     /* a "process TAG" state line is shown */
	struct exec_run *exec;
	bool closing;        /* zr_sup_close asked, its done not called yet */
	bool shutdown;       /* counted in the robot's sups_closing */
	bool svc_closing;    /* counted in the service's closing_handles */
	void (*then)(struct zr_service *s); /* once closed (a deletion) */
};

struct zr_sup *zr_service_sup(const struct zr_service *s)
{
	return s->process && !s->process->closing ? s->process->sup : NULL;
}

bool zr_service__process_stopping(const struct zr_service *s)
{
	return s->process && s->process->closing;
}

static struct zr_service_process *process_get(struct zr_service *s)
{
	if (!s->process && (s->process = calloc(1, sizeof(*s->process)))) {
		s->process->s = s;
	}
	return s->process;
}

int zr_service__process_restore(struct zr_service *s, const struct zr_store_service *row)
{
	enum zr_sup_want want;
	if (!row->want) {
		return 0;
	}
	if (zr_sup_want_parse(row->want, strlen(row->want), &want) < 0) {
		log_warn("Service %s: stored want '%s' is not up, down or once: taken as down", s->path,
			 row->want);
		want = ZR_WANT_DOWN;
	}
	struct zr_service_process *p = process_get(s);
	if (!p || (row->cgroup && !(p->restored_cgroup = strdup(row->cgroup)))) {
		return -ENOMEM;
	}
	p->has_restored = true;
	p->restored = (struct zr_sup_persist){
		.want = want,
		.pid = (pid_t)row->pid,
		.start_time = (unsigned long long)row->start_time,
		.cgroup = p->restored_cgroup,
		.failed = row->failed,
	};
	return 0;
}

/* ---- the environment of a server ---- */

/* Sets kv ("NAME=VALUE", taken) in env (room for it is there), replacing one of the same
 * name: a later source wins, and execve would otherwise pass both. */
static void env_put(char **env, size_t *n, char *kv)
{
	size_t len = strcspn(kv, "=") + 1;
	for (size_t i = 0; i < *n; i++) {
		if (strncmp(env[i], kv, len) == 0) {
			free(env[i]);
			env[i] = kv;
			return;
		}
	}
	env[(*n)++] = kv;
}

static void strv_free(char **v)
{
	for (char **e = v; e && *e; e++) {
		free(*e);
	}
	free(v);
}

/* core/env.c's clean environment, the manifest's env, DATA_*, ZR_SERVICE, ZR_SERVICE_DIR,
 * ZR_ROOT, then the process's own env (expanded from the data) over them, and (server) the
 * marker that finds the server's tree without a cgroup (procstat.h); a ready.exec action gets
 * ZR_ACTION=action instead, so that a stop does not count it as the server's. */
static int server_env(struct zr_service *s, const char *action, char ***ret, char **why)
{
	const struct zr_robot *r = s->robot;
	const struct zr_process_def *def = s->template->proc;
	size_t n = 0, extra = 6 + def->n_env + json_object_size(s->data);
	char **env = zr_env_build(r->cfg.pass_env, r->cfg.n_pass_env,
				  zr_env_values(s->template->manifest, NULL), NULL, extra, &n);
	if (!env) {
		return -ENOMEM;
	}
	const char *key;
	json_t *v;
	int err = 0;
	json_object_foreach(s->data, key, v) {
		char *kv = zr_env_var("DATA_", key, v);
		if (!kv) {
			err = -ENOMEM;
			goto out;
		}
		env_put(env, &n, kv);
	}
	char *kv[4] = {NULL};
	if (asprintf(&kv[0], "ZR_ROOT=%s", r->cfg.mount) < 0 ||
	    asprintf(&kv[1], "ZR_SERVICE=%s", s->path) < 0 ||
	    asprintf(&kv[2], "ZR_SERVICE_DIR=%s/%s", r->cfg.mount, s->path) < 0 ||
	    (action ? asprintf(&kv[3], "ZR_ACTION=%s", action)
		    : asprintf(&kv[3], "%s=%s", ZR_PROCESS_MARKER, s->guid)) < 0) {
		for (size_t i = 0; i < 4; i++) {
			free(kv[i]);
		}
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < 3; i++) {
		env_put(env, &n, kv[i]);
	}
	for (size_t i = 0; i < def->n_env && err == 0; i++) {
		char *e = NULL;
		err = zr_process_expand(def->env[i], s->data, &e, why);
		if (err == 0) {
			env_put(env, &n, e);
		}
	}
	/* Last: a manifest's env must not hide the server from its stop. */
	if (err == 0) {
		env_put(env, &n, kv[3]);
	} else {
		free(kv[3]);
	}
out:
	if (err < 0) {
		strv_free(env);
		return err;
	}
	*ret = env;
	return 0;
}

/* ---- the supervisor's hooks ---- */

static int on_launch(void *data, struct zr_sup_launch *l, char **why)
{
	struct zr_service_process *p = data;
	struct zr_service *s = p->s;
	const struct zr_process_def *def = s->template->proc;
	char **argv = calloc(def->n_command + 1, sizeof(*argv));
	char **env = NULL;
	char *ready = NULL;
	int err = argv ? 0 : -ENOMEM;
	for (size_t i = 0; err == 0 && i < def->n_command; i++) {
		err = zr_process_expand(def->command[i], s->data, &argv[i], why);
	}
	if (err == 0) {
		err = server_env(s, NULL, &env, why);
	}
	bool expand_ready = def->ready == ZR_READY_TCP || def->ready == ZR_READY_UNIX ||
			    def->ready == ZR_READY_LOG;
	if (err == 0 && expand_ready && def->ready_arg) {
		err = zr_process_expand(def->ready_arg, s->data, &ready, why);
	}
	if (err < 0) {
		strv_free(argv);
		strv_free(env);
		return err;
	}
	*l = (struct zr_sup_launch){.argv = argv, .env = env, .ready_arg = ready};
	return 0;
}

/* ---- waiting for the producers' servers (After= + Requires=, start side) ---- */

/* Whether the local producer path (not ready: *ret) has a server that is not ready. One whose
 * template runs none counts as ready; one whose supervisor is not made yet (a robot start,
 * before its turn) as not. */
static bool producer_waits(struct zr_robot *r, const char *path)
{
	if (strncmp(path, "@remote/", 8) == 0) {
		return false; /* another robot's: not waited for */
	}
	_cleanup_free_ char *tmpl = strdup(path);
	char *name = tmpl ? strchr(tmpl, '/') : NULL;
	if (!name) {
		return false;
	}
	*name++ = '\0';
	const struct zr_service *p = zr_robot_service(r, tmpl, name);
	if (!p || p->deleting || !p->template->proc || p->template->missing) {
		return false;
	}
	const struct zr_sup *sup = zr_service_sup(p);
	return !sup || zr_sup_state(sup) != ZR_SUP_READY;
}

static bool on_hold(void *data)
{
	struct zr_service_process *p = data;
	struct zr_service *s = p->s;
	for (size_t i = 0; i < s->template->n_roles; i++) {
		_cleanup_free_ const char **paths = NULL;
		size_t n = 0;
		if (zr_service__role_paths(s->data, s->template->roles[i].name, &paths, &n) < 0) {
			return false; /* out of memory: it starts rather than waiting for nothing */
		}
		for (size_t j = 0; j < n; j++) {
			if (producer_waits(s->robot, paths[j])) {
				/* A role may be a secret field: then its name only. */
				const char *role = s->template->roles[i].name;
				bool secret = zr_schema_secret(s->template->data, role);
				log_info("Service %s: its server is waiting for producer %s", s->path,
					 secret ? role : paths[j]);
				(void)zr_journal_appendf(zr_service__log_make(s),
							 "waiting for producer %s",
							 secret ? role : paths[j]);
				return true;
			}
		}
	}
	return false;
}

static void kick_consumer(struct zr_service *c, const char *role, void *data)
{
	struct zr_sup *sup = zr_service_sup(c);
	(void)role, (void)data;
	if (sup) {
		zr_sup_kick(sup);
	}
}

static void on_event(void *data, const char *type, json_t *detail)
{
	struct zr_service_process *p = data;
	zr_service__event(p->s, type, detail);
	/* Consumers held for this server go on (or wait for their next producer). */
	if (strcmp(type, "process.ready") == 0 || strcmp(type, "process.adopted") == 0) {
		zr_robot_consumers(p->s->robot, p->s, kick_consumer, NULL);
	}
}

/* Drops the "process TAG" line and stores the state (the robot's own change). */
static void health_clear(struct zr_service_process *p)
{
	struct zr_service *s = p->s;
	_cleanup_free_ char *key = NULL;
	if (!p->health_set || asprintf(&key, "process %s", p->tag) < 0) {
		return;
	}
	p->health_set = false;
	zr_service__state_del(s, key);
	s->state_mtime_ns = zr_now_ns();
	if (!s->pending) {
		_cleanup_free_ char *text = json_dumps(s->state, JSON_COMPACT);
		zr_service__store_failed(s, "its state", text ? zr_store_service_state(s->robot->cfg.store,
									   s->guid, text) : -ENOMEM);
	}
}

static void on_health(void *data, const char *level)
{
	struct zr_service_process *p = data;
	if (!level) {
		health_clear(p);
		return;
	}
	int err = zr_service_set_state(p->s, "process", p->tag, level);
	if (err < 0) {
		log_warn("Service %s: state 'process %s %s' not set: %s, ignoring", p->s->path, p->tag,
			 level, strerror(-err));
	}
	p->health_set = err == 0;
}

static void on_on(void *data, const char *which)
{
	struct zr_service_process *p = data;
	struct zr_service *s = p->s;
	json_t *list = json_object_get(s->template->on, which);
	size_t i;
	json_t *name;
	json_array_foreach(list, i, name) {
		const struct zr_action_def *a = zr_template_action(s->template, json_string_value(name));
		_cleanup_free_ char *why = NULL;
		int err = a ? zr_service_enqueue(s, a, NULL, ZR_LANE_SYSTEM, &why, NULL, NULL) : -ENOENT;
		if (err < 0) {
			log_error("Service %s: on.%s action %s not queued: %s, ignoring", s->path, which,
				  json_string_value(name), why ? why : strerror(-err));
		}
	}
}

static void on_persist(void *data, const struct zr_sup_persist *ps)
{
	struct zr_service_process *p = data;
	struct zr_service *s = p->s;
	struct zr_store_process row = {
		.guid = s->guid,
		.want = zr_sup_want_name(ps->want),
		.cgroup = ps->cgroup,
		.pid = ps->pid,
		.start_time = (int64_t)ps->start_time,
		.failed = ps->failed,
	};
	zr_service__store_failed(s, "its server", zr_store_process_put(s->robot->cfg.store, &row, true));
}

/* ready.exec: the action's script through the runner, not a queued task (a start task holds
 * the queue while it waits for this). */
static void exec_finish(struct exec_run *e, int err)
{
	struct zr_robot *r = e->robot;
	if (e->p) {
		e->p->exec = NULL;
		e->done(err, e->arg);
	}
	free(e);
	r->running_processes--;
	zr_robot__process_ended(r);
}

static void on_exec_stderr(const char *line, size_t len, void *data)
{
	struct exec_run *e = data;
	if (e->p) {
		(void)zr_journal_appendf(zr_service__log_make(e->p->s), "ready.exec: %.*s", (int)len, line);
	}
}

static void on_exec_ignore(const char *p, size_t len, void *data)
{
	(void)p, (void)len, (void)data;
}

static void on_exec_failed(int err, void *data)
{
	exec_finish(data, err);
}

static void on_exec_exited(int64_t status, int sig, bool timed_out, void *data)
{
	exec_finish(data, status == 0 && sig == 0 && !timed_out ? 0 : timed_out ? -ETIMEDOUT : -EIO);
}

static void on_ready_exec(void *data, const char *action, void (*done)(int err, void *arg), void *arg)
{
	static const struct zr_runner_events ev = {
		.stderr_line = on_exec_stderr,
		.ctl_line = on_exec_ignore,
		.stdout_data = on_exec_ignore,
		.failed = on_exec_failed,
		.exited = on_exec_exited,
	};
	struct zr_service_process *p = data;
	struct zr_service *s = p->s;
	struct zr_robot *r = s->robot;
	const struct zr_action_def *a = zr_template_action(s->template, action);
	_cleanup_free_ char *cwd = zr_service__workdir(s), *why = NULL;
	_cleanup_json_ json_t *in = json_pack("{ss ss ss sO s{}}", "service", s->path, "template",
					      s->template->name, "action", action, "data", s->data,
					      "args");
	_cleanup_free_ char *input = in ? json_dumps(in, JSON_COMPACT) : NULL;
	char **env = NULL;
	struct exec_run *e = calloc(1, sizeof(*e));
	int err = !a || !a->path ? -ENOENT : !e || !cwd || !input ? -ENOMEM : server_env(s, action, &env, &why);
	if (err == 0) {
		*e = (struct exec_run){.p = p, .robot = r, .done = done, .arg = arg};
		struct zr_runner_config cfg = {
			.path = a->path,
			.cwd = cwd,
			.env = env,
			.input = input,
			.timeout = a->timeout,
			.grace = r->cfg.kill_grace,
		};
		err = zr_runner_start(r->loop, &cfg, &ev, e, &e->runner);
	}
	strv_free(env);
	if (err < 0) {
		free(e);
		done(err, arg);
		return;
	}
	p->exec = e;
	r->running_processes++;
}

static const struct zr_sup_hooks hooks = {
	.launch = on_launch,
	.event = on_event,
	.health = on_health,
	.on = on_on,
	.persist = on_persist,
	.ready_exec = on_ready_exec,
	.hold = on_hold,
};

/* ---- making and closing the supervisor ---- */

/* The tag of the state line: the command's basename as the manifest writes it, or "server"
 * when that is not a word a state line takes (a "${field}" command). */
static char *state_tag(const struct zr_process_def *def)
{
	const char *slash = strrchr(def->command[0], '/');
	const char *base = slash ? slash + 1 : def->command[0];
	bool ok = *base != '\0';
	for (const char *c = base; *c; c++) {
		ok = ok && (isalnum((unsigned char)*c) || strchr("_.:-@", *c));
	}
	return strdup(ok ? base : "server");
}

/* A server run as another user must reach its work folder by path (redis makes its config
 * path absolute, postgres checks its data folder's): the data folder and <data>/work get the
 * search bit for others (0711), never the read bit. They list nothing, and everything in them
 * is 0600 or a 0700 folder of its own, so the path is all another user gains; cmd-run.c's
 * mode check accepts it. */
static void workdir_reachable(const struct zr_service *s, const char *dir)
{
	_cleanup_free_ char *path = strdup(dir);
	for (int up = 0; path && up < 2; up++) {
		char *slash = strrchr(path, '/');
		struct stat st;
		if (!slash || slash == path) {
			return;
		}
		*slash = '\0';
		if (stat(path, &st) == 0 && (st.st_mode & 0011) != 0011 &&
		    chmod(path, (st.st_mode & 07777) | 0011) < 0) {
			log_warn("Service %s: cannot let its server's user through %s: %s", s->path, path,
				 strerror(errno));
		}
	}
}

/* The work folder belongs to the server's user: it writes its data there. */
static void workdir_chown(struct zr_service *s, const char *dir, const char *user)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		log_warn("Service %s: user %s not found, its work folder stays the robot's", s->path, user);
	} else if (chown(dir, pw->pw_uid, pw->pw_gid) < 0) {
		log_warn("Service %s: cannot give its work folder to %s: %s, ignoring", s->path, user,
			 strerror(errno));
	} else {
		workdir_reachable(s, dir);
	}
}

void zr_service__process_start(struct zr_service *s)
{
	struct zr_robot *r = s->robot;
	const struct zr_process_def *def = s->template->proc;
	if (!def || s->template->missing || r->stopping || (s->process && s->process->sup)) {
		return;
	}
	struct zr_service_process *p = process_get(s);
	_cleanup_free_ char *cwd = zr_service__workdir(s), *why = NULL;
	_cleanup_free_ char *dir = NULL, *log_path = NULL, *notify_path = NULL;
	int err = !p || !cwd ? -ENOMEM : zr_service__workdir_make(s, &why);
	if (err == 0 && (asprintf(&dir, "%s/process", r->cfg.data_dir) < 0 ||
			 asprintf(&log_path, "%s/%s.log", dir, s->guid) < 0 ||
			 asprintf(&notify_path, "@zrobot/%s", s->guid) < 0)) {
		err = -ENOMEM;
	}
	/* NOTIFY_SOCKET is abstract: a server run as another user could not reach a path in the
	 * data folder (0700), and who may send to it is checked by uid (ready.c). */
	if (err == 0 && (err = zr_mkdir_p(dir, 0700)) < 0) {
		(void)asprintf(&why, "cannot create %s: %s", dir, strerror(-err));
	}
	if (err == 0 && !p->tag && !(p->tag = state_tag(def))) {
		err = -ENOMEM;
	}
	if (err < 0) {
		log_error("Service %s: its server cannot be supervised: %s", s->path,
			  why ? why : strerror(-err));
		return;
	}
	if (def->user) {
		workdir_chown(s, cwd, def->user);
	}
	/* A service being deleted gets its server found to be stopped, never started. */
	if (s->deleting && p->has_restored) {
		p->restored.want = ZR_WANT_DOWN;
	}
	struct zr_sup_config cfg = {
		.loop = r->loop,
		.def = def,
		.name = s->path,
		.id = s->guid,
		.cwd = cwd,
		.log_path = log_path,
		.notify_path = notify_path,
		.cgroup_base = r->cgroup_base,
		.launcher = r->cfg.launcher,
		.log_max = PROCESS_LOG_MAX,
		.hooks = &hooks,
		.data = p,
	};
	err = zr_sup_create(&cfg, p->has_restored ? &p->restored : NULL, &p->sup);
	p->has_restored = false;
	free(p->restored_cgroup);
	p->restored_cgroup = NULL;
	if (err < 0) {
		log_error("Service %s: its server cannot be supervised: %s", s->path, strerror(-err));
		return;
	}
	r->sups++;
}

static void on_sup_closed(void *data)
{
	struct zr_service_process *p = data;
	struct zr_service *s = p->s;
	struct zr_robot *r = s->robot;
	void (*then)(struct zr_service *) = p->then;
	p->sup = NULL;
	p->closing = false;
	p->then = NULL;
	r->sups--;
	if (p->shutdown) {
		p->shutdown = false;
		r->sups_closing--;
		zr_robot__process_ended(r);
	}
	if (then) {
		then(s);
	} else if (!s->current && zr_queue_peek(&s->queue)) {
		/* Tasks that waited for the stop (zr_service__run_next) go on. */
		zr_robot__want_slot(r, s);
	}
	/* Last: the service may be freed here. */
	if (p->svc_closing) {
		p->svc_closing = false;
		zr_service__handle_closed(s);
	}
}

/* Closes the supervisor (stop: its server first). Its done may come before this returns. */
static void sup_close(struct zr_service_process *p, bool stop)
{
	if (!p->sup || p->closing) {
		return;
	}
	p->closing = true;
	if (p->exec) {
		/* The supervisor calls no hook after its close: the exec's end tells nobody. */
		p->exec->p = NULL;
		zr_runner_kill(p->exec->runner);
		p->exec = NULL;
	}
	zr_sup_close(p->sup, stop, on_sup_closed, p);
}

void zr_service__process_shutdown(struct zr_service *s)
{
	struct zr_service_process *p = s->process;
	if (!p || !p->sup || p->shutdown) {
		return;
	}
	p->shutdown = true;
	s->robot->sups_closing++;
	sup_close(p, s->robot->cfg.stop_on_exit);
}

void zr_service__process_delete(struct zr_service *s, void (*done)(struct zr_service *s))
{
	struct zr_service_process *p = s->process;
	if (!p || !p->sup || p->closing) {
		done(s);
		return;
	}
	log_info("Service %s: stopping its server before it is deleted", s->path);
	p->then = done;
	sup_close(p, true);
}

void zr_service__process_switch(struct zr_service *s)
{
	struct zr_service_process *p = s->process;
	if (!p || !p->sup || p->closing) {
		return;
	}
	if (s->template->proc) {
		zr_sup_set_def(p->sup, s->template->proc);
		return;
	}
	/* The new version runs no server: the old one's goes with its state line. */
	health_clear(p);
	sup_close(p, true);
}

void zr_service__process_close(struct zr_service *s)
{
	struct zr_service_process *p = s->process;
	if (!p || !p->sup || p->svc_closing) {
		return;
	}
	p->svc_closing = true;
	s->closing_handles++;
	sup_close(p, false);
}

void zr_service__process_free(struct zr_service *s)
{
	struct zr_service_process *p = s->process;
	if (!p) {
		return;
	}
	free(p->restored_cgroup);
	free(p->tag);
	free(p);
	s->process = NULL;
}

/* ---- built-in actions ---- */

struct builtin_req {
	struct zr_service *s; /* a reference */
	uint64_t task;
};

static void builtin_end(struct zr_service *s, struct zr_task *t, int err, const char *why)
{
	if (err == 0) {
		zr_service__finish(s, t, ZR_TASK_OK, NULL, 0);
		return;
	}
	char *error = NULL;
	if (asprintf(&error, "%s%s", why ? why : strerror(-err), why && strchr(why, '\n') ? "" : "\n") < 0) {
		error = NULL;
	}
	enum zr_task_state state = err == -ETIMEDOUT ? ZR_TASK_TIMEOUT
				   : err == -ECANCELED ? ZR_TASK_CANCELLED : ZR_TASK_ERROR;
	zr_service__finish(s, t, state, error, err == -ETIMEDOUT || err == -ECANCELED ? -err : EIO);
}

static void on_builtin_done(int err, const char *why, void *data)
{
	struct builtin_req *q = data;
	struct zr_task *t = zr_service_task(q->s, q->task);
	/* A task cancelled or interrupted meanwhile ended already: the supervisor's outcome
	 * stays in process/status (a cancelled start keeps want up). */
	if (t && q->s->current == t && !zr_task_ended(t) && !t->runner) {
		/* The supervisor was closed under it: say why, as a queued task is told. */
		if (err == -ECANCELED && q->s->delete_requested) {
			why = "cancelled: service deleted";
		}
		builtin_end(q->s, t, err, why);
	}
	zr_service_unref(q->s);
	free(q);
}

void zr_service__process_builtin(struct zr_service *s, struct zr_task *t)
{
	struct zr_sup *sup = zr_service_sup(s);
	struct builtin_req *q = NULL;
	if (!sup) {
		builtin_end(s, t, -EIO, "the service's server is not supervised (see the robot's log)");
		return;
	}
	switch (t->action->builtin) {
	case ZR_BUILTIN_STATUS:
		zr_buf_reset(&t->result);
		zr_sup_status(sup, &t->result);
		builtin_end(s, t, 0, NULL);
		return;
	case ZR_BUILTIN_RELOAD: {
		int err = zr_sup_signal(sup, s->template->proc->reload_signal);
		builtin_end(s, t, err, err == -ESRCH ? "not running" : NULL);
		return;
	}
	case ZR_BUILTIN_START:
	case ZR_BUILTIN_STOP:
	case ZR_BUILTIN_RESTART:
		break;
	case ZR_BUILTIN_NONE:
		builtin_end(s, t, -EINVAL, "not a built-in action");
		return;
	}
	if (!(q = malloc(sizeof(*q)))) {
		builtin_end(s, t, -ENOMEM, NULL);
		return;
	}
	*q = (struct builtin_req){.s = s, .task = t->id};
	zr_service_ref(s);
	if (t->action->builtin == ZR_BUILTIN_START) {
		zr_sup_start(sup, on_builtin_done, q);
	} else if (t->action->builtin == ZR_BUILTIN_STOP) {
		zr_sup_stop(sup, on_builtin_done, q);
	} else {
		zr_sup_restart(sup, on_builtin_done, q);
	}
}
