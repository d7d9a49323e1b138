/* zrobot run's command line: the arg_* globals, their parser and the defaults they fall back on. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Set by zr_options_parse; strings borrowed from argv. The arrays are owned by this module
 * (zr_options_free), their strings by argv. */
extern char *arg_mount;
extern char *arg_data;
extern char **arg_templates;
extern size_t arg_n_templates;
extern char **arg_repos;
extern size_t arg_n_repos;
extern char *arg_git_credentials; /* NULL: none */
extern int arg_jobs; /* 0 = 4 x cores */
extern int arg_queue_max;
extern int arg_history;
extern int arg_max_services; /* --max-services-per-token */
extern int arg_max_tasks;    /* --max-tasks-per-token */
extern bool arg_allow_other;
extern bool arg_group_actions;
extern bool arg_auto_unmount;
extern char *arg_listen; /* NULL = the default address, "none" = no HTTP */
extern char *arg_name;
extern char *arg_token_file;
extern char *arg_tls_cert;
extern char *arg_tls_key;
extern int arg_http_timeout;
extern int arg_http_body_max;
extern int arg_http_connections;
extern int arg_args_max; /* --max-args-bytes */
extern char **arg_remotes;
extern size_t arg_n_remotes;
extern double arg_remote_timeout;
/* Least privilege (issue 12): environment, HTTP exposure. */
extern char **arg_pass_env; /* --pass-env names, checked with zr_env_name_valid */
extern size_t arg_n_pass_env;
extern int arg_http_conns_per_ip;
/* Supervised servers (issue 13). */
extern double arg_sample_interval; /* --sample-interval seconds, 0 = no sampling */
extern bool arg_stop_on_exit;      /* --stop-on-exit: stop the servers when the robot stops */
extern bool arg_no_cgroups;        /* --no-cgroups: process groups even where cgroup v2 works */

/* Prints the usage of every subcommand and of run's options to f. */
void zr_options_usage(FILE *f);

/* Parses `zrobot run`'s options (argv[0] is "run") into the arg_* globals. Returns 0; 1 when
 * --help printed the usage (nothing left to do); -EINVAL after telling stderr what is wrong;
 * -ENOMEM. */
int zr_options_parse(int argc, char **argv);
/* Frees the repeatable options' arrays. */
void zr_options_free(void);

/* Sets the log level from its name (--log-level). -EINVAL after telling stderr. */
int zr_options_log_level(const char *name);
/* Seconds a remote robot may take (--remote-timeout): 0.1 to 3600. -EINVAL otherwise. */
int zr_options_seconds(const char *s, double *ret);

/* A default path by who runs us: as_root for root, else $HOME/in_home. malloc'd; NULL when
 * out of memory. */
char *zr_options_default_path(const char *as_root, const char *in_home);
