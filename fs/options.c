/* zrobot run's command line: the arg_* globals, their parser, the usage text and defaults. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "env.h"
#include "options.h"
#include "util/log.h"
#include "util/name.h"

char *arg_mount;
char *arg_data;
char **arg_templates;
size_t arg_n_templates;
char **arg_repos;
size_t arg_n_repos;
char *arg_git_credentials;
int arg_jobs;
int arg_queue_max = 1000;
int arg_history = 100;
int arg_max_services = 100;
int arg_max_tasks = 1000;
bool arg_allow_other;
bool arg_group_actions;
bool arg_auto_unmount = true;
char *arg_listen;
char *arg_name;
char *arg_token_file;
char *arg_tls_cert;
char *arg_tls_key;
int arg_http_timeout = 30;
int arg_http_body_max = 1024 * 1024;
int arg_http_connections = 4096;
int arg_args_max = 64 * 1024;
char **arg_remotes;
size_t arg_n_remotes;
double arg_remote_timeout = 10;
/* Least privilege (issue 12): environment, HTTP exposure. */
char **arg_pass_env;
size_t arg_n_pass_env;
int arg_http_conns_per_ip = 1024;
/* Supervised servers (issue 13). */
double arg_sample_interval = 2;
bool arg_stop_on_exit;
bool arg_no_cgroups;

void zr_options_usage(FILE *f)
{
	fprintf(f,
		"Usage: zrobot run [OPTIONS]\n"
		"       zrobot mount URL DIR [--token-file FILE] [--remote-timeout S]\n"
		"                    [--allow-other]\n"
		"       zrobot repo add URL[#REF] [--mount DIR]\n"
		"       zrobot template new NAME [DIR]\n"
		"       zrobot apply FILE|- [--dry-run] [--prune] [--name NAME]\n"
		"                    [--mount DIR | --url URL --token-file FILE]\n"
		"       zrobot export [TEMPLATE/SERVICE...] [--output FILE] [--mount DIR]\n"
		"       zrobot graph [--mount DIR]\n"
		"       zrobot ls [--json]\n"
		"       zrobot status [TEMPLATE/SERVICE] [--json]\n"
		"       zrobot logs [-f] TEMPLATE/SERVICE [--json]\n"
		"       zrobot do TEMPLATE/SERVICE ACTION [KEY=VALUE...] [--json]\n"
		"       zrobot tasks TEMPLATE/SERVICE [--json]\n"
		"         (ls, status, logs, do, tasks: also [--mount DIR | --url URL\n"
		"          --token-file FILE])\n"
		"       zrobot --version | --help\n\n"
		"Runs the robot in the foreground and shows it as a filesystem.\n\n"
		"  --mount DIR        mount point (default /zr as root, else $HOME/zr)\n"
		"  --data DIR         data folder (default /var/lib/zrobot as root,\n"
		"                     else $HOME/.local/share/zrobot)\n"
		"  --templates DIR    also load the templates in DIR (repeatable)\n"
		"  --repo URL[#REF]   also load the templates of a git repository (repeatable;\n"
		"                     cloned once, kept in the data folder)\n"
		"  --git-credentials FILE  passwords for private git repositories, lines\n"
		"                     https://USER:TOKEN@HOST (git-credential-store; mode 0600)\n"
		"  --jobs N           tasks running at once across services (default 4 x cores)\n"
		"  --queue-max N      tasks waiting per service (default 1000)\n"
		"  --history N        finished tasks kept per service (default 100)\n"
		"  --max-args-bytes N one task's arguments (a write to an action file, an HTTP\n"
		"                     POST to one) in bytes at most (default 65536)\n"
		"  --log-level LEVEL  error, warn, info (default) or debug\n"
		"  --allow-other      let other users use the mount\n"
		"  --group-actions    let the robot's group write action files (0660; else 0600)\n"
		"  --max-services-per-token N  live services a user token or local user may\n"
		"                     have created (default 100)\n"
		"  --max-tasks-per-token N  tasks queued or running at once on the services of\n"
		"                     one user token or local user (default 1000)\n"
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
		"  --name NAME        this robot's name for the robots it uses (default: hostname)\n"
		"  --pass-env NAME[,NAME]...  give actions these variables of the robot's\n"
		"                     environment (repeatable; they get PATH, HOME, LANG, TZ)\n"
		"  --http-max-conns-per-ip N  open HTTP connections per client address\n"
		"                     (default 1024)\n"
		"  --sample-interval S  seconds between samples of the supervised servers'\n"
		"                     memory, CPU, files and sockets (default 2; 0 = never)\n"
		"  --stop-on-exit     stop the supervised servers when the robot stops (default:\n"
		"                     leave them running, adopted again at the next start)\n"
		"  --no-cgroups       keep servers in process groups, not in cgroups of their own\n"
		"                     (for machines that forbid cgroups, and tests)\n\n"
		"zrobot mount shows one remote robot at DIR, without a robot of its own.\n"
		"zrobot COMMAND --help prints that command's usage alone.\n");
}

int zr_options_log_level(const char *name)
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

int zr_options_seconds(const char *s, double *ret)
{
	char *end;
	double v = strtod(s, &end);
	if (*end || !(v >= 0.1 && v <= 3600)) {
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

char *zr_options_default_path(const char *as_root, const char *in_home)
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

enum {
	O_MOUNT = 256, O_DATA, O_TEMPLATES, O_REPO, O_JOBS, O_QUEUE, O_HISTORY, O_LEVEL, O_ALLOW,
	O_NOAUTO, O_LISTEN, O_TOKENS, O_CERT, O_KEY, O_HTIMEOUT, O_HBODY, O_HCONN, O_REMOTE,
	O_RTIMEOUT, O_NAME, O_GROUP, O_MAXSVC, O_MAXTASK, O_ARGSMAX, O_GITCRED,
	O_PASSENV, O_HPERIP, O_SAMPLE, O_STOPEXIT, O_NOCGROUPS,
};

/* The options that take a positive number, by their getopt value; NULL for the others. */
static int *int_arg(int c)
{
	switch (c) {
	case O_JOBS:
		return &arg_jobs;
	case O_QUEUE:
		return &arg_queue_max;
	case O_HISTORY:
		return &arg_history;
	case O_HTIMEOUT:
		return &arg_http_timeout;
	case O_HBODY:
		return &arg_http_body_max;
	case O_HCONN:
		return &arg_http_connections;
	case O_MAXSVC:
		return &arg_max_services;
	case O_MAXTASK:
		return &arg_max_tasks;
	case O_ARGSMAX:
		return &arg_args_max;
	case O_HPERIP:
		return &arg_http_conns_per_ip;
	default:
		return NULL;
	}
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

/* Appends s (borrowed) to a repeatable option's array. */
static int append(char ***v, size_t *n, char *s)
{
	char **p = realloc(*v, (*n + 1) * sizeof(*p));
	if (!p) {
		return -ENOMEM;
	}
	*v = p;
	p[(*n)++] = s;
	return 0;
}

/* --pass-env NAME[,NAME]...: the names are cut out of optarg in place (argv outlives us). */
static int add_pass_env(char *list)
{
	for (char *save = NULL, *name = strtok_r(list, ",", &save); name;
	     name = strtok_r(NULL, ",", &save)) {
		const char *why = NULL;
		if (!zr_env_name_valid(name, &why)) {
			fprintf(stderr, "zrobot: --pass-env '%s': %s\n", name, why);
			return -EINVAL;
		}
		int err = append(&arg_pass_env, &arg_n_pass_env, name);
		if (err < 0) {
			return err;
		}
	}
	return 0;
}

int zr_options_parse(int argc, char **argv)
{
	static const struct option opts[] = {
		{"mount", required_argument, NULL, O_MOUNT},
		{"data", required_argument, NULL, O_DATA},
		{"templates", required_argument, NULL, O_TEMPLATES},
		{"repo", required_argument, NULL, O_REPO},
		{"git-credentials", required_argument, NULL, O_GITCRED},
		{"jobs", required_argument, NULL, O_JOBS},
		{"queue-max", required_argument, NULL, O_QUEUE},
		{"history", required_argument, NULL, O_HISTORY},
		{"log-level", required_argument, NULL, O_LEVEL},
		{"allow-other", no_argument, NULL, O_ALLOW},
		{"group-actions", no_argument, NULL, O_GROUP},
		{"max-services-per-token", required_argument, NULL, O_MAXSVC},
		{"max-tasks-per-token", required_argument, NULL, O_MAXTASK},
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
		{"max-args-bytes", required_argument, NULL, O_ARGSMAX},
		{"pass-env", required_argument, NULL, O_PASSENV},
		{"http-max-conns-per-ip", required_argument, NULL, O_HPERIP},
		{"sample-interval", required_argument, NULL, O_SAMPLE},
		{"stop-on-exit", no_argument, NULL, O_STOPEXIT},
		{"no-cgroups", no_argument, NULL, O_NOCGROUPS},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, idx, err = 0;
	while (err == 0 && (c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		switch (c) {
		case O_MOUNT:
			arg_mount = optarg;
			break;
		case O_DATA:
			arg_data = optarg;
			break;
		case O_TEMPLATES:
			err = append(&arg_templates, &arg_n_templates, optarg);
			break;
		case O_REPO:
			err = append(&arg_repos, &arg_n_repos, optarg);
			break;
		case O_REMOTE:
			err = append(&arg_remotes, &arg_n_remotes, optarg);
			break;
		case O_GITCRED:
			arg_git_credentials = optarg;
			break;
		case O_RTIMEOUT:
			err = zr_options_seconds(optarg, &arg_remote_timeout);
			if (err < 0) {
				fprintf(stderr, "zrobot: --remote-timeout wants seconds (0.1 to 3600), "
						"got '%s'\n", optarg);
			}
			break;
		case O_NAME:
			if (!zr_name_valid(optarg)) {
				fprintf(stderr, "zrobot: --name wants [a-z0-9][a-z0-9_.-]{0,62}, got '%s'\n",
					optarg);
				err = -EINVAL;
			} else {
				arg_name = optarg;
			}
			break;
		case O_JOBS:
		case O_QUEUE:
		case O_HISTORY:
		case O_HTIMEOUT:
		case O_HBODY:
		case O_HCONN:
		case O_MAXSVC:
		case O_MAXTASK:
		case O_ARGSMAX:
		case O_HPERIP:
			/* idx names the option even when the user abbreviated it. */
			err = parse_int(optarg, 1, int_arg(c));
			if (err < 0) {
				fprintf(stderr, "zrobot: --%s wants a positive number, got '%s'\n",
					opts[idx].name, optarg);
			}
			break;
		case O_LEVEL:
			err = zr_options_log_level(optarg);
			break;
		case O_ALLOW:
			arg_allow_other = true;
			break;
		case O_GROUP:
			arg_group_actions = true;
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
		case O_PASSENV:
			err = add_pass_env(optarg);
			break;
		case O_SAMPLE:
			/* 0 turns sampling off; below 0.1 s the sweeps of /proc would cost more than
			 * they tell. */
			if (strcmp(optarg, "0") == 0) {
				arg_sample_interval = 0;
			} else if ((err = zr_options_seconds(optarg, &arg_sample_interval)) < 0) {
				fprintf(stderr, "zrobot: --sample-interval wants seconds (0, or 0.1 to "
						"3600), got '%s'\n", optarg);
			}
			break;
		case O_STOPEXIT:
			arg_stop_on_exit = true;
			break;
		case O_NOCGROUPS:
			arg_no_cgroups = true;
			break;
		case 'h':
			zr_options_usage(stdout);
			return 1;
		default:
			zr_options_usage(stderr);
			return -EINVAL;
		}
	}
	if (err < 0) {
		return err;
	}
	if (optind < argc) {
		fprintf(stderr, "zrobot: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

void zr_options_free(void)
{
	free(arg_templates);
	arg_templates = NULL;
	arg_n_templates = 0;
	free(arg_repos);
	arg_repos = NULL;
	arg_n_repos = 0;
	free(arg_remotes);
	arg_remotes = NULL;
	arg_n_remotes = 0;
	free(arg_pass_env);
	arg_pass_env = NULL;
	arg_n_pass_env = 0;
}
