/* The wiring of one robot: store, robot, tree, FUSE, HTTP, remotes, signals and shutdown. */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "config.h"
#include "daemon.h"
#include "datadir.h"
#include "fs.h"
#include "options.h"
#include "process.h"
#include "remote/remote.h"
#include "repos.h"
#include "robot.h"
#include "sdnotify.h"
#include "store.h"
#include "tree.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "webhook.h"

struct daemon {
	uv_loop_t loop;
	struct zr_process_stop stop;
	struct zr_robot *robot;
	struct zr_store *store;
	struct zr_tree *tree;
	struct zr_fs *fs;
	struct zr_api *api;
	struct zr_remotes *remotes;
	struct zr_webhooks *webhooks;
	int status;
};

/* Frees what exists. The store goes first: commits still in flight are answered while the
 * mount can still carry the answers. Then readers still parked, which wait for tasks that
 * will not run now, get -err, and requests to remote robots end with it. */
static void teardown(struct daemon *d, int err)
{
	/* Webhooks first: their deliveries in flight stop, and stay stored for the next run. */
	if (d->robot) {
		zr_robot_set_webhooks(d->robot, NULL);
	}
	zr_webhooks_destroy(d->webhooks);
	d->webhooks = NULL;
	zr_store_close(d->store);
	d->store = NULL;
	if (d->robot) {
		zr_robot_set_store(d->robot, NULL);
	}
	if (d->tree) {
		zr_tree_cancel_all(d->tree, err);
	}
	zr_remotes_destroy(d->remotes, err);
	d->remotes = NULL;
	zr_api_destroy(d->api);
	d->api = NULL;
	zr_fs_destroy(d->fs);
	d->fs = NULL;
	zr_tree_destroy(d->tree, err);
	d->tree = NULL;
	zr_robot_destroy(d->robot);
	d->robot = NULL;
}

/* Start-up failed before anything ran: free what exists, let the handles close. */
static int fail_start(struct daemon *d)
{
	teardown(d, ESHUTDOWN);
	uv_run(&d->loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&d->loop);
	return 1;
}

/* The robot stopped (its processes are gone): the rest goes. */
static void finish(struct daemon *d)
{
	teardown(d, ENOTCONN);
	zr_process_stop_close(&d->stop);
	log_info("Stopped");
}

/* Tells systemd (Type=notify) a state; a failure is logged and changes nothing else. */
static void notify(const char *state)
{
	int err = zr_sdnotify_send(state);
	if (err < 0) {
		log_warn("Failed to notify the service manager: %s, ignoring", strerror(-err));
	}
}

static void on_robot_stopped(struct zr_robot *r)
{
	struct daemon *d = zr_robot_loop(r)->data;
	finish(d);
}

/* The first reason to stop: the robot ends its processes, then finish frees the rest. */
static void on_stop(void *data)
{
	struct daemon *d = data;
	/* systemd then waits for the exit (TimeoutStopSec) instead of calling us hung. */
	notify("STOPPING=1");
	zr_robot_stop(d->robot, on_robot_stopped);
}

/* A start that failed once the robot exists: it stops like on a signal, with status 1 and
 * no "Stopping" line (the failure was logged). */
static void fail_running(struct daemon *d)
{
	d->stop.stopping = true;
	d->status = 1;
	on_stop(d);
}

static void on_fs_gone(void *data)
{
	struct daemon *d = data;
	zr_process_stop(&d->stop, "unmounted");
}

/* Serves the tree over HTTP. When the default address is taken (another robot, a test run
 * next door) the robot goes on without HTTP; an address that was asked for must work. */
static int start_http(struct daemon *d, const char *data)
{
	if (arg_listen && strcmp(arg_listen, "none") == 0) {
		return 0;
	}
	struct zr_api_config acfg = {
		.listen = arg_listen ? arg_listen : "127.0.0.1:6600",
		.data_dir = data,
		.token_file = arg_token_file,
		.tls_cert = arg_tls_cert,
		.tls_key = arg_tls_key,
		.body_max = (size_t)arg_http_body_max,
		.timeout = (unsigned)arg_http_timeout,
		.connections_max = (unsigned)arg_http_connections,
		.per_ip_max = (unsigned)arg_http_conns_per_ip,
		.wait_max = 3600,
	};
	char *why = NULL;
	int err = zr_api_create(&d->loop, d->robot, d->tree, &acfg, &d->api, &why);
	if (err < 0) {
		bool fatal = arg_listen || (err != -EADDRINUSE && err != -EADDRNOTAVAIL);
		if (fatal) {
			log_error("HTTP: %s", why ? why : strerror(-err));
		} else {
			log_warn("HTTP: %s, going on without HTTP", why ? why : strerror(-err));
		}
		free(why);
		return fatal ? err : 0;
	}
	log_info("HTTP API listening on %s", zr_api_url(d->api));
	return 0;
}

static void on_link(const char *producer, const char *consumer, bool add, void *data)
{
	struct daemon *d = data;
	zr_remotes_link(d->remotes, producer, consumer, add);
}

/* The model looks producers on other robots up through the remotes. */
static void check_producer(const char *producer, void (*cb)(int err, const char *why, void *cbdata),
			   void *cbdata, void *data)
{
	struct daemon *d = data;
	if (!d->remotes) {
		cb(0, NULL, cbdata); /* shutting down: taken on its shape, as with no remotes */
		return;
	}
	zr_remotes_check(d->remotes, producer, cb, cbdata);
}

static void on_remote_changed(const char *name, void *data)
{
	struct daemon *d = data;
	if (d->tree) {
		zr_tree_remote_changed(d->tree, name);
	}
}

/* --remote NAME=URL[,token-file=FILE] */
static int add_arg_remote(struct zr_remotes *rs, const char *spec)
{
	_cleanup_free_ char *s = strdup(spec);
	char *why = NULL, *eq = s ? strchr(s, '=') : NULL;
	if (!eq) {
		log_error("--remote %s: want NAME=URL[,token-file=FILE]", spec);
		return -EINVAL;
	}
	*eq = '\0';
	char *url = eq + 1, *tok = strstr(url, ",token-file=");
	if (tok) {
		*tok = '\0';
		tok += strlen(",token-file=");
	}
	int err = zr_remotes_add(rs, s, url, tok, &why);
	if (err < 0) {
		log_error("--remote %s: %s", spec, why ? why : strerror(-err));
	}
	free(why);
	return err;
}

/* The remote robots: --remote ones, then those the store keeps. */
static int start_remotes(struct daemon *d)
{
	struct zr_remotes_config rcfg = {
		.timeout_ms = (long)(arg_remote_timeout * 1000),
		.store = d->store,
		.changed = on_remote_changed,
		.data = d,
		.self = zr_robot_name(d->robot),
		.data_max = (size_t)arg_http_body_max,
	};
	int err = zr_remotes_create(&d->loop, &rcfg, &d->remotes);
	zr_robot_set_links(d->robot, on_link, d);
	zr_robot_set_producer_check(d->robot, check_producer, d);
	for (size_t i = 0; err == 0 && i < arg_n_remotes; i++) {
		err = add_arg_remote(d->remotes, arg_remotes[i]);
	}
	if (err == 0) {
		err = zr_remotes_load(d->remotes);
	}
	return err;
}

/* The store, the robot with its templates, repositories and remotes, and what the store
 * keeps of them. Logs what fails; returns 0 or a negative errno (undo with fail_start). */
static int start_model(struct daemon *d, const char *mount, const char *data, int *ret_jobs)
{
	char *why = NULL;
	int err = zr_store_open(&d->loop, data, &d->store, &why);
	if (err < 0) {
		log_error("Failed to open the store: %s", why ? why : strerror(-err));
		free(why);
		return err;
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct zr_robot_config cfg = {
		.store = d->store,
		.mount = mount,
		.data_dir = data,
		.name = arg_name,
		.jobs = arg_jobs > 0 ? arg_jobs : 4 * (int)(cores > 0 ? cores : 1),
		.queue_max = arg_queue_max,
		.history = arg_history,
		.max_services_per_token = (unsigned)arg_max_services,
		.max_tasks_per_token = (unsigned)arg_max_tasks,
		.group_actions = arg_group_actions,
		.result_max = 1024 * 1024,
		.args_max = (size_t)arg_args_max,
		.data_max = (size_t)arg_http_body_max,
		.kill_grace = 5,
		.pass_env = arg_pass_env,
		.n_pass_env = arg_n_pass_env,
		.no_cgroups = arg_no_cgroups,
		.stop_on_exit = arg_stop_on_exit,
		.sample_interval = arg_sample_interval,
	};
	err = zr_robot_create(&d->loop, &cfg, &d->robot);
	if (err < 0) {
		log_error("Failed to create the robot: %s", strerror(-err));
		return err;
	}
	*ret_jobs = cfg.jobs;
	_cleanup_free_ char *builtin = zr_datadir_templates();
	if (!builtin) {
		log_error("Out of memory");
		return -ENOMEM;
	}
	(void)zr_robot_load_templates(d->robot, builtin);
	for (size_t i = 0; i < arg_n_templates; i++) {
		char dir[PATH_MAX];
		if (!realpath(arg_templates[i], dir)) {
			log_error("Skipping template folder %s: %s", arg_templates[i], strerror(errno));
			continue;
		}
		(void)zr_robot_load_templates(d->robot, dir);
	}
	err = zr_repos_set_cred_file(zr_robot_repos(d->robot), arg_git_credentials, &why);
	if (err < 0) {
		log_error("--git-credentials: %s", why ? why : strerror(-err));
		free(why);
		return err;
	}
	/* Repositories before the store: stored services find the versions they are pinned to. */
	zr_repos_open(zr_robot_repos(d->robot));
	err = start_remotes(d);
	if (err < 0) {
		return err;
	}
	/* Before the robot's store: loading it makes changes, and webhooks read the store first. */
	err = zr_webhooks_create(&d->loop, d->robot, d->store, &d->webhooks);
	if (err == 0) {
		err = zr_webhooks_load(d->webhooks);
	}
	if (err < 0) {
		log_error("Failed to load the webhooks: %s", strerror(-err));
		return err;
	}
	zr_robot_set_webhooks(d->robot, d->webhooks);
	err = zr_robot_load_store(d->robot);
	if (err < 0) {
		log_error("Failed to load the store: %s", strerror(-err));
	}
	return err;
}

/* The robot is up and mounted: start its work and add the --repo repositories. */
static void start_work(struct daemon *d)
{
	zr_process_cloexec_all();
	zr_robot_start(d->robot);
	zr_webhooks_start(d->webhooks);
	for (size_t i = 0; i < arg_n_repos; i++) {
		char *why = NULL;
		int e = zr_repos_add(zr_robot_repos(d->robot), arg_repos[i], &why);
		if (e < 0 && e != -EEXIST) {
			log_error("Failed to add repository %s: %s", arg_repos[i],
				  why ? why : strerror(-e));
		}
		free(why);
	}
}

int zr_daemon_run(const char *mount, const char *data)
{
	struct daemon d = {0};
	int jobs = 0;

	zr_sdnotify_init();
	zr_process_prepare();
	uv_loop_init(&d.loop);
	d.loop.data = &d;
	if (start_model(&d, mount, data, &jobs) < 0) {
		return fail_start(&d);
	}
	struct zr_fs_config fcfg = {
		.mount = mount,
		.allow_other = arg_allow_other,
		.auto_unmount = arg_auto_unmount,
		.data_max = (size_t)arg_http_body_max,
		.requests = zr_robot_fuse_requests(d.robot),
	};
	if (zr_fs_create(&d.loop, &fcfg, &d.fs) < 0 ||
	    zr_tree_create(d.robot, &zr_fs_tree_ops, d.fs, &d.tree) < 0) {
		log_error("Out of memory");
		return fail_start(&d);
	}
	zr_tree_set_remotes(d.tree, d.remotes);
	zr_process_stop_init(&d.stop, &d.loop, on_stop, &d);
	int err = zr_fs_start(d.fs, d.tree, on_fs_gone, &d);
	if (err < 0) {
		log_error("Failed to mount %s: %s", mount, strerror(-err));
		fail_running(&d);
	} else if (start_http(&d, data) < 0) {
		fail_running(&d);
	} else {
		log_info("zrobot %s mounted at %s (data %s, %d jobs)", ZR_VERSION, mount, data, jobs);
		start_work(&d);
		/* Mounted and started: a unit ordered after zrobot.service finds the tree (the
		 * kernel holds its first requests until the loop below answers them). */
		char state[PATH_MAX + 64];
		snprintf(state, sizeof(state), "READY=1\nSTATUS=Mounted at %s", mount);
		notify(state);
	}
	uv_run(&d.loop, UV_RUN_DEFAULT);
	err = uv_loop_close(&d.loop);
	if (err < 0) {
		log_error("Loop closed with handles open: %s", uv_strerror(err));
		return 1;
	}
	return d.status;
}
