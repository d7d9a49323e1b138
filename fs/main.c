/* zrobot: the daemon's entry point — wires the robot, its tree and the FUSE mount to one loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "api/api.h"
#include "config.h"
#include "fs.h"
#include "mount.h"
#include "remote/remote.h"
#include "git.h"
#include "giturl.h"
#include "repos.h"
#include "robot.h"
#include "scaffold.h"
#include "store.h"
#include "tree.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/name.h"

static char *arg_mount;
static char *arg_data;
static char **arg_templates;
static size_t arg_n_templates;
static char **arg_repos;
static size_t arg_n_repos;
static int arg_jobs;
static int arg_queue_max = 1000;
static int arg_history = 100;
static bool arg_allow_other;
static bool arg_auto_unmount = true;
static char *arg_listen;
static char *arg_name;
static char *arg_token_file;
static char *arg_tls_cert;
static char *arg_tls_key;
static int arg_http_timeout = 30;
static int arg_http_body_max = 1024 * 1024;
static int arg_http_connections = 4096;
static char **arg_remotes;
static size_t arg_n_remotes;
static double arg_remote_timeout = 10;

struct daemon {
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct zr_robot *robot;
	struct zr_store *store;
	struct zr_tree *tree;
	struct zr_fs *fs;
	struct zr_api *api;
	struct zr_remotes *remotes;
	bool stopping;
	int status;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: zrobot run [OPTIONS]\n"
		"       zrobot mount URL DIR [--token-file FILE] [--remote-timeout S]\n"
		"       zrobot repo add URL[#REF] [--mount DIR]\n"
		"       zrobot template new NAME [DIR]\n"
		"       zrobot --version | --help\n\n"
		"Runs the robot in the foreground and shows it as a filesystem.\n\n"
		"  --mount DIR        mount point (default /zr as root, else $HOME/zr)\n"
		"  --data DIR         data folder (default /var/lib/zrobot as root,\n"
		"                     else $HOME/.local/share/zrobot)\n"
		"  --templates DIR    also load the templates in DIR (repeatable)\n"
		"  --repo URL[#REF]   also load the templates of a git repository (repeatable;\n"
		"                     cloned once, kept in the data folder)\n"
		"  --jobs N           tasks running at once across services (default 4 x cores)\n"
		"  --queue-max N      tasks waiting per service (default 1000)\n"
		"  --history N        finished tasks kept per service (default 100)\n"
		"  --log-level LEVEL  error, warn, info (default) or debug\n"
		"  --allow-other      let other users use the mount\n"
		"  --no-auto-unmount  leave the mount behind if the robot is killed (for tests)\n"
		"  --listen ADDR:PORT serve the tree over HTTP there (default 127.0.0.1:6600;\n"
		"                     none = no HTTP)\n"
		"  --token-file FILE  HTTP user tokens, one a line\n"
		"  --tls-cert FILE    serve HTTPS with this PEM certificate (chain)...\n"
		"  --tls-key FILE     ...and this PEM private key\n"
		"  --http-timeout S   seconds a request may take to arrive (default 30)\n"
		"  --http-max-body N  request body bound in bytes (default 1048576)\n"
		"  --http-max-connections N  open HTTP connections at most (default 4096)\n"
		"  --remote NAME=URL[,token-file=FILE]  show that robot at @remote/NAME\n"
		"                     (repeatable)\n"
		"  --remote-timeout S seconds a remote robot may take to answer (default 10)\n"
		"  --name NAME        this robot's name for the robots it uses (default: hostname)\n\n"
		"zrobot mount shows one remote robot at DIR, without a robot of its own.\n");
}

static int parse_int(const char *s, int min, int *ret)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > INT_MAX) {
		return -EINVAL;
	}
	*ret = (int)v;
	return 0;
}

static int set_log_level(const char *name)
{
	static const char *const levels[] = {"error", "warn", "info", "debug"};
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, levels[i]) == 0) {
			zr_log_level = i;
			return 0;
		}
	}
	fprintf(stderr, "zrobot: --log-level wants error, warn, info or debug\n");
	return -EINVAL;
}

static int parse_args(int argc, char **argv)
{
	enum {
		O_MOUNT = 256, O_DATA, O_TEMPLATES, O_REPO, O_JOBS, O_QUEUE, O_HISTORY, O_LEVEL, O_ALLOW,
		O_NOAUTO, O_LISTEN, O_TOKENS, O_CERT, O_KEY, O_HTIMEOUT, O_HBODY, O_HCONN, O_REMOTE,
		O_RTIMEOUT, O_NAME,
	};
	static const struct option opts[] = {
		{"mount", required_argument, NULL, O_MOUNT},
		{"data", required_argument, NULL, O_DATA},
		{"templates", required_argument, NULL, O_TEMPLATES},
		{"repo", required_argument, NULL, O_REPO},
		{"jobs", required_argument, NULL, O_JOBS},
		{"queue-max", required_argument, NULL, O_QUEUE},
		{"history", required_argument, NULL, O_HISTORY},
		{"log-level", required_argument, NULL, O_LEVEL},
		{"allow-other", no_argument, NULL, O_ALLOW},
		{"no-auto-unmount", no_argument, NULL, O_NOAUTO},
		{"listen", required_argument, NULL, O_LISTEN},
		{"token-file", required_argument, NULL, O_TOKENS},
		{"tls-cert", required_argument, NULL, O_CERT},
		{"tls-key", required_argument, NULL, O_KEY},
		{"http-timeout", required_argument, NULL, O_HTIMEOUT},
		{"http-max-body", required_argument, NULL, O_HBODY},
		{"http-max-connections", required_argument, NULL, O_HCONN},
		{"remote", required_argument, NULL, O_REMOTE},
		{"remote-timeout", required_argument, NULL, O_RTIMEOUT},
		{"name", required_argument, NULL, O_NAME},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char **p;
		switch (c) {
		case O_MOUNT:
			arg_mount = optarg;
			break;
		case O_DATA:
			arg_data = optarg;
			break;
		case O_TEMPLATES:
			p = realloc(arg_templates, (arg_n_templates + 1) * sizeof(*p));
			if (!p) {
				return -ENOMEM;
			}
			arg_templates = p;
			arg_templates[arg_n_templates++] = optarg;
			break;
		case O_REPO:
			p = realloc(arg_repos, (arg_n_repos + 1) * sizeof(*p));
			if (!p) {
				return -ENOMEM;
			}
			arg_repos = p;
			arg_repos[arg_n_repos++] = optarg;
			break;
		case O_REMOTE:
			p = realloc(arg_remotes, (arg_n_remotes + 1) * sizeof(*p));
			if (!p) {
				return -ENOMEM;
			}
			arg_remotes = p;
			arg_remotes[arg_n_remotes++] = optarg;
			break;
		case O_RTIMEOUT: {
			char *end;
			arg_remote_timeout = strtod(optarg, &end);
			if (*end || !(arg_remote_timeout >= 0.1 && arg_remote_timeout <= 3600)) {
				fprintf(stderr, "zrobot: --remote-timeout wants seconds (0.1 to 3600), got '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		}
		case O_NAME:
			if (!zr_name_valid(optarg)) {
				fprintf(stderr, "zrobot: --name wants [a-z0-9][a-z0-9_.-]{0,62}, got '%s'\n", optarg);
				return -EINVAL;
			}
			arg_name = optarg;
			break;
		case O_JOBS:
			if (parse_int(optarg, 1, &arg_jobs) < 0) {
				fprintf(stderr, "zrobot: --jobs wants a positive number, got '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case O_QUEUE:
			if (parse_int(optarg, 1, &arg_queue_max) < 0) {
				fprintf(stderr, "zrobot: --queue-max wants a positive number, got '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case O_HISTORY:
			if (parse_int(optarg, 1, &arg_history) < 0) {
				fprintf(stderr, "zrobot: --history wants a positive number, got '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case O_LEVEL:
			if (set_log_level(optarg) < 0) {
				return -EINVAL;
			}
			break;
		case O_ALLOW:
			arg_allow_other = true;
			break;
		case O_NOAUTO:
			arg_auto_unmount = false;
			break;
		case O_LISTEN:
			arg_listen = optarg;
			break;
		case O_TOKENS:
			arg_token_file = optarg;
			break;
		case O_CERT:
			arg_tls_cert = optarg;
			break;
		case O_KEY:
			arg_tls_key = optarg;
			break;
		case O_HTIMEOUT:
		case O_HBODY:
		case O_HCONN: {
			const struct option *o = opts;
			while (o->val != c) {
				o++;
			}
			int *v = c == O_HTIMEOUT ? &arg_http_timeout : c == O_HBODY ? &arg_http_body_max
										: &arg_http_connections;
			if (parse_int(optarg, 1, v) < 0) {
				fprintf(stderr, "zrobot: --%s wants a positive number, got '%s'\n", o->name, optarg);
				return -EINVAL;
			}
			break;
		}
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "zrobot: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* Defaults by who runs us: root gets system paths, a user gets paths in $HOME. */
static char *default_path(const char *as_root, const char *in_home)
{
	char *p = NULL;
	const char *home = getenv("HOME");
	if (geteuid() == 0) {
		return strdup(as_root);
	}
	if (asprintf(&p, "%s/%s", home ? home : ".", in_home) < 0) {
		return NULL;
	}
	return p;
}

static int mkdir_parents(const char *path)
{
	char *p = strdup(path);
	if (!p) {
		return -ENOMEM;
	}
	for (char *c = p + 1; *c; c++) {
		if (*c == '/') {
			*c = '\0';
			(void)mkdir(p, 0755);
			*c = '/';
		}
	}
	int err = mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
	free(p);
	return err;
}

/* One robot per data folder: a second one would share its work folders. */
static int lock_data_dir(const char *dir)
{
	char *path = NULL;
	if (asprintf(&path, "%s/lock", dir) < 0) {
		return -ENOMEM;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0) {
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd; /* held until exit */
}

/* Actions must inherit only their pipes: not descriptors our own parent left open, and not
 * libfuse's auto_unmount socket, which would keep a dead robot's mount alive for as long as
 * an action holds it. */
static void cloexec_all(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d) {
		return;
	}
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != dirfd(d)) {
			int fl = fcntl(fd, F_GETFD);
			if (fl >= 0) {
				(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
			}
		}
	}
	closedir(d);
}

static void on_handle_closed(uv_handle_t *h) { (void)h; }

/* Start-up failed after the loop was made: free what exists, let the handles close. */
static int fail_start(struct daemon *d)
{
	zr_remotes_destroy(d->remotes, ESHUTDOWN);
	d->remotes = NULL;
	zr_robot_destroy(d->robot);
	d->robot = NULL;
	zr_store_close(d->store);
	d->store = NULL;
	uv_run(&d->loop, UV_RUN_DEFAULT);
	(void)uv_loop_close(&d->loop);
	return 1;
}

static void finish(struct daemon *d)
{
	/* Commits still in flight are answered while the mount can still carry the answers. */
	zr_store_close(d->store);
	d->store = NULL;
	d->robot->cfg.store = NULL;
	/* Readers still parked wait for tasks that will not run now: the robot went away. */
	zr_tree_cancel_all(d->tree, ENOTCONN);
	zr_remotes_destroy(d->remotes, ENOTCONN);
	d->remotes = NULL;
	zr_api_destroy(d->api);
	d->api = NULL;
	zr_fs_destroy(d->fs);
	d->fs = NULL;
	zr_tree_destroy(d->tree, ENOTCONN);
	d->tree = NULL;
	zr_robot_destroy(d->robot);
	d->robot = NULL;
	uv_close((uv_handle_t *)&d->sigint, on_handle_closed);
	uv_close((uv_handle_t *)&d->sigterm, on_handle_closed);
	log_info("Stopped");
}

static void on_robot_stopped(struct zr_robot *r)
{
	struct daemon *d = r->loop->data;
	finish(d);
}

static void stop(struct daemon *d, const char *why)
{
	if (d->stopping) {
		return;
	}
	d->stopping = true;
	log_info("Stopping (%s)", why);
	zr_robot_stop(d->robot, on_robot_stopped);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct daemon *d = s->loop->data;
	stop(d, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_fs_gone(void *data)
{
	struct daemon *d = data;
	stop(d, "unmounted");
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

/* Long polls hold a socket each: let the server have as many as the hard limit allows, up to
 * a bound that programs the actions run (which inherit it) still cope with. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int cmd_run(int argc, char **argv)
{
	struct daemon d = {0};
	char mount[PATH_MAX], data[PATH_MAX];
	int err;

	if (parse_args(argc, argv) < 0) {
		return 2;
	}
	_cleanup_free_ char *m = arg_mount ? strdup(arg_mount) : default_path("/zr", "zr");
	_cleanup_free_ char *dd = arg_data ? strdup(arg_data) : default_path("/var/lib/zrobot", ".local/share/zrobot");
	if (!m || !dd) {
		fprintf(stderr, "zrobot: out of memory\n");
		return 1;
	}
	err = mkdir_parents(dd);
	if (err < 0 || !realpath(dd, data)) {
		log_error("Failed to create data folder %s: %s", dd, strerror(err < 0 ? -err : errno));
		return 1;
	}
	err = lock_data_dir(data);
	if (err < 0) {
		log_error("The data dir %s is in use by another robot (%s)", data, strerror(-err));
		return 1;
	}
	if (m[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)) || snprintf(mount, sizeof(mount), "%s/%s", cwd, m) >= (int)sizeof(mount)) {
			log_error("Mount point path too long");
			return 1;
		}
	} else {
		snprintf(mount, sizeof(mount), "%s", m);
	}
	/* Resolve symlinks and dots when the folder exists, so the mountinfo check compares
	 * like with like; a stale mount cannot be resolved and keeps its given path. */
	char resolved[PATH_MAX];
	if (realpath(mount, resolved)) {
		snprintf(mount, sizeof(mount), "%s", resolved);
	}
	err = zr_mount_prepare(mount);
	if (err == -EBUSY) {
		log_error("%s is already mounted (another robot serves it?): refusing to mount over it", mount);
		return 1;
	}
	if (err < 0) {
		log_error("Failed to prepare the mount point %s: %s", mount, strerror(-err));
		return 1;
	}

	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	uv_loop_init(&d.loop);
	d.loop.data = &d;
	char *why = NULL;
	err = zr_store_open(&d.loop, data, &d.store, &why);
	if (err < 0) {
		log_error("Failed to open the store: %s", why ? why : strerror(-err));
		free(why);
		return fail_start(&d);
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	struct zr_robot_config cfg = {
		.store = d.store,
		.mount = mount,
		.data_dir = data,
		.name = arg_name,
		.jobs = arg_jobs > 0 ? arg_jobs : 4 * (int)(cores > 0 ? cores : 1),
		.queue_max = arg_queue_max,
		.history = arg_history,
		.result_max = 1024 * 1024,
		.kill_grace = 5,
	};
	err = zr_robot_create(&d.loop, &cfg, &d.robot);
	if (err < 0) {
		log_error("Failed to create the robot: %s", strerror(-err));
		return fail_start(&d);
	}
	(void)zr_robot_load_templates(d.robot, ZR_BUILTIN_TEMPLATES);
	for (size_t i = 0; i < arg_n_templates; i++) {
		char dir[PATH_MAX];
		if (!realpath(arg_templates[i], dir)) {
			log_error("Skipping template folder %s: %s", arg_templates[i], strerror(errno));
			continue;
		}
		(void)zr_robot_load_templates(d.robot, dir);
	}
	/* Repositories before the store: stored services find the versions they are pinned to. */
	zr_repos_open(d.robot->repos);
	struct zr_remotes_config rcfg = {
		.timeout_ms = (long)(arg_remote_timeout * 1000),
		.store = d.store,
		.changed = on_remote_changed,
		.data = &d,
		.self = d.robot->cfg.name,
	};
	err = zr_remotes_create(&d.loop, &rcfg, &d.remotes);
	d.robot->links.fn = on_link;
	d.robot->links.data = &d;
	for (size_t i = 0; err == 0 && i < arg_n_remotes; i++) {
		err = add_arg_remote(d.remotes, arg_remotes[i]);
	}
	if (err == 0) {
		err = zr_remotes_load(d.remotes);
	}
	if (err < 0) {
		return fail_start(&d);
	}
	err = zr_robot_load_store(d.robot);
	if (err < 0) {
		log_error("Failed to load the store: %s", strerror(-err));
		return fail_start(&d);
	}

	struct zr_fs_config fcfg = {.mount = mount, .allow_other = arg_allow_other, .auto_unmount = arg_auto_unmount};
	fcfg.requests = &d.robot->metrics.fuse_requests;
	if (zr_fs_create(&d.loop, &fcfg, &d.fs) < 0 ||
	    zr_tree_create(d.robot, &zr_fs_tree_ops, d.fs, &d.tree) < 0) {
		log_error("Out of memory");
		return 1;
	}
	zr_tree_set_remotes(d.tree, d.remotes);
	uv_signal_init(&d.loop, &d.sigint);
	uv_signal_init(&d.loop, &d.sigterm);
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	err = zr_fs_start(d.fs, d.tree, on_fs_gone, &d);
	if (err < 0) {
		log_error("Failed to mount %s: %s", mount, strerror(-err));
		d.stopping = true;
		d.status = 1;
		zr_robot_stop(d.robot, on_robot_stopped);
	} else if (start_http(&d, data) < 0) {
		d.stopping = true;
		d.status = 1;
		zr_robot_stop(d.robot, on_robot_stopped);
	} else {
		log_info("zrobot %s mounted at %s (data %s, %d jobs)", ZR_VERSION, mount, data, cfg.jobs);
		cloexec_all();
		zr_robot_start(d.robot);
		for (size_t i = 0; i < arg_n_repos; i++) {
			char *rwhy = NULL;
			int e = zr_repos_add(d.robot->repos, arg_repos[i], &rwhy);
			if (e < 0 && e != -EEXIST) {
				log_error("Failed to add repository %s: %s", arg_repos[i], rwhy ? rwhy : strerror(-e));
			}
			free(rwhy);
		}
	}
	uv_run(&d.loop, UV_RUN_DEFAULT);
	err = uv_loop_close(&d.loop);
	if (err < 0) {
		log_error("Loop closed with handles open: %s", uv_strerror(err));
		return 1;
	}
	return d.status;
}

/* The mount point the CLI talks to: --mount DIR, else the robot's default. */
static char *cli_mount(int argc, char **argv)
{
	for (int i = 0; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--mount") == 0) {
			return strdup(argv[i + 1]);
		}
	}
	return default_path("/zr", "zr");
}

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	ssize_t n = read(fd, buf, size - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return err;
}

/* zrobot repo add URL[#REF]: asks the running robot to clone, then shows its progress. */
static int cmd_repo_add(int argc, char **argv)
{
	if (argc < 1 || argv[0][0] == '-') {
		fprintf(stderr, "Usage: zrobot repo add URL[#REF] [--mount DIR]\n");
		return 2;
	}
	_cleanup_free_ char *mount = cli_mount(argc, argv);
	_cleanup_free_ char *url = NULL, *ref = NULL, *spec = NULL, *id = NULL;
	char abs[PATH_MAX];
	if (!mount || zr_giturl_split(argv[0], &url, &ref) < 0) {
		fprintf(stderr, "zrobot: bad repository '%s': want URL[#REF]\n", argv[0]);
		return 2;
	}
	/* The robot runs elsewhere: a local path must not depend on our working directory. */
	if (zr_giturl_is_path(url) && url[0] != '/' && realpath(url, abs)) {
		free(url);
		url = strdup(abs);
	}
	if (!url || asprintf(&spec, "%s%s%s", url, ref ? "#" : "", ref ? ref : "") < 0 ||
	    zr_giturl_id(url, ref, &id) < 0) {
		fprintf(stderr, "zrobot: out of memory\n");
		return 1;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/@robot/repos/add", mount);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, spec, strlen(spec)) < 0) {
		int e = errno;
		fprintf(stderr, "zrobot: cannot add %s through %s: %s\n", spec, path, strerror(e));
		if (fd >= 0) {
			close(fd);
		}
		return 1;
	}
	close(fd);
	snprintf(path, sizeof(path), "%s/@robot/repos/%s/status", mount, id);
	bool tty = isatty(STDERR_FILENO);
	char st[4096];
	for (;;) {
		if (read_small(path, st, sizeof(st)) < 0) {
			fprintf(stderr, "zrobot: cannot read %s: %s\n", path, strerror(errno));
			return 1;
		}
		const char *p = strstr(st, "progress ");
		if (tty && p) {
			unsigned got = 0, total = 0;
			int pct = 0;
			(void)sscanf(p, "progress %u/%u objects %d%%", &got, &total, &pct);
			int w = pct / 4;
			fprintf(stderr, "\r[%-25.*s] %3d%% %u/%u objects", w, "#########################", pct, got, total);
		}
		if (strncmp(st, "state ready", 11) == 0 || strncmp(st, "state failed", 12) == 0) {
			break;
		}
		usleep(100 * 1000);
	}
	if (tty) {
		fputc('\n', stderr);
	}
	fputs(st, stdout);
	return strncmp(st, "state ready", 11) == 0 ? 0 : 1;
}

static int cmd_template_new(int argc, char **argv)
{
	if (argc < 1 || argc > 2) {
		fprintf(stderr, "Usage: zrobot template new NAME [DIR]\n");
		return 2;
	}
	char *why = NULL;
	const char *dir = argc == 2 ? argv[1] : ".";
	int err = zr_scaffold_template(argv[0], dir, &why);
	if (err < 0) {
		fprintf(stderr, "zrobot: %s\n", why ? why : strerror(-err));
		free(why);
		return 1;
	}
	printf("%s/%s: template %s, load it with: zrobot run --templates %s\n", dir, argv[0], argv[0], dir);
	return 0;
}

/* zrobot mount: one remote robot at a mount point, nothing else. */
struct mounter {
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct zr_remotes *remotes;
	struct zr_tree *tree; /* no robot: its root is the remote's */
	struct zr_fs *fs;
	bool stopping;
};

static void mount_stop(struct mounter *m, const char *why)
{
	if (m->stopping) {
		return;
	}
	m->stopping = true;
	log_info("Stopping (%s)", why);
	/* Readers still waiting are answered while the mount can carry the answers. */
	zr_remotes_destroy(m->remotes, ENOTCONN);
	m->remotes = NULL;
	zr_fs_destroy(m->fs);
	m->fs = NULL;
	zr_tree_destroy(m->tree, ENOTCONN);
	m->tree = NULL;
	uv_close((uv_handle_t *)&m->sigint, on_handle_closed);
	uv_close((uv_handle_t *)&m->sigterm, on_handle_closed);
}

static void on_mount_signal(uv_signal_t *s, int signum)
{
	mount_stop(s->loop->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

static void on_mount_gone(void *data)
{
	mount_stop(data, "unmounted");
}

static int cmd_mount(int argc, char **argv)
{
	static const struct option opts[] = {
		{"token-file", required_argument, NULL, 't'},
		{"remote-timeout", required_argument, NULL, 'T'},
		{"log-level", required_argument, NULL, 'l'},
		{"allow-other", no_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	const char *token_file = NULL;
	double timeout = 10;
	bool allow_other = false;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		switch (c) {
		case 't':
			token_file = optarg;
			break;
		case 'T':
			timeout = strtod(optarg, &end);
			if (*end || !(timeout >= 0.1 && timeout <= 3600)) {
				fprintf(stderr, "zrobot: --remote-timeout wants seconds (0.1 to 3600)\n");
				return 2;
			}
			break;
		case 'l':
			if (set_log_level(optarg) < 0) {
				return 2;
			}
			break;
		case 'a':
			allow_other = true;
			break;
		default:
			fprintf(stderr, "Usage: zrobot mount URL DIR [--token-file FILE] [--remote-timeout S]\n");
			return 2;
		}
	}
	if (argc - optind != 2) {
		fprintf(stderr, "Usage: zrobot mount URL DIR [--token-file FILE] [--remote-timeout S]\n");
		return 2;
	}
	const char *url = argv[optind];
	char dir[PATH_MAX];
	if (!realpath(argv[optind + 1], dir)) {
		log_error("Mount point %s: %s", argv[optind + 1], strerror(errno));
		return 1;
	}
	int err = zr_mount_prepare(dir);
	if (err < 0) {
		log_error("%s: %s", dir, err == -EBUSY ? "already mounted: refusing to mount over it" : strerror(-err));
		return 1;
	}
	struct mounter m = {0};
	char *why = NULL;
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	uv_loop_init(&m.loop);
	m.loop.data = &m;
	struct zr_remotes_config rcfg = {.timeout_ms = (long)(timeout * 1000), .standalone = true};
	struct zr_fs_config fcfg = {.mount = dir, .allow_other = allow_other, .auto_unmount = true};
	if ((err = zr_remotes_create(&m.loop, &rcfg, &m.remotes)) < 0 ||
	    (err = zr_remotes_add(m.remotes, "mount", url, token_file, &why)) < 0 ||
	    (err = zr_fs_create(&m.loop, &fcfg, &m.fs)) < 0 ||
	    (err = zr_tree_create(NULL, &zr_fs_tree_ops, m.fs, &m.tree)) < 0) {
		log_error("Cannot mount %s: %s", url, why ? why : strerror(-err));
		free(why);
		zr_remotes_destroy(m.remotes, ESHUTDOWN);
		zr_fs_destroy(m.fs);
		uv_run(&m.loop, UV_RUN_DEFAULT);
		(void)uv_loop_close(&m.loop);
		return 1;
	}
	zr_tree_set_remotes(m.tree, m.remotes);
	uv_signal_init(&m.loop, &m.sigint);
	uv_signal_init(&m.loop, &m.sigterm);
	uv_signal_start(&m.sigint, on_mount_signal, SIGINT);
	uv_signal_start(&m.sigterm, on_mount_signal, SIGTERM);
	err = zr_fs_start(m.fs, m.tree, on_mount_gone, &m);
	int status = 0;
	if (err < 0) {
		log_error("Failed to mount %s: %s", dir, strerror(-err));
		status = 1;
		mount_stop(&m, "mount failed");
	} else {
		log_info("zrobot %s: %s mounted at %s", ZR_VERSION, url, dir);
	}
	uv_run(&m.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&m.loop) < 0) {
		log_error("Loop closed with handles open");
		return 1;
	}
	return status;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("zrobot %s\n", ZR_VERSION);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "run") == 0) {
		zr_git_init();
		int status = cmd_run(argc - 1, argv + 1);
		zr_git_shutdown();
		free(arg_templates);
		free(arg_repos);
		free(arg_remotes);
		return status;
	}
	if (argc >= 2 && strcmp(argv[1], "mount") == 0) {
		return cmd_mount(argc - 1, argv + 1);
	}
	if (argc >= 3 && strcmp(argv[1], "repo") == 0 && strcmp(argv[2], "add") == 0) {
		return cmd_repo_add(argc - 3, argv + 3);
	}
	if (argc >= 3 && strcmp(argv[1], "template") == 0 && strcmp(argv[2], "new") == 0) {
		return cmd_template_new(argc - 3, argv + 3);
	}
	usage(stderr);
	return 2;
}
