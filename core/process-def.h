/* A template's "process" (DESIGN §6): the one long-running server each of its services runs,
 * parsed and validated once when the template loads. Pure: no loop, no I/O but getpwnam. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum zr_restart { ZR_RESTART_NEVER, ZR_RESTART_ON_FAILURE, ZR_RESTART_ALWAYS };

enum zr_ready_kind {
	ZR_READY_NONE,   /* ready once started */
	ZR_READY_TCP,    /* arg: "HOST:PORT" template; a connect() succeeds */
	ZR_READY_UNIX,   /* arg: socket path template (relative: to the work folder) */
	ZR_READY_EXEC,   /* arg: an action of the template that must exit 0 */
	ZR_READY_LOG,    /* arg: POSIX extended regex a line of the server's output matches */
	ZR_READY_NOTIFY, /* sd_notify READY=1 on NOTIFY_SOCKET */
	ZR_READY_DELAY,  /* delay: seconds after the start */
};

enum zr_limit_then { ZR_LIMIT_RESTART, ZR_LIMIT_STOP, ZR_LIMIT_WARN };

struct zr_process_def {
	char **command;         /* argv templates ("${field}" anywhere inside), NULL-terminated, >= 1 */
	size_t n_command;
	char **env;             /* "NAME=VALUE" templates, NULL-terminated (names: zr_env_check) */
	size_t n_env;
	enum zr_ready_kind ready;
	char *ready_arg;        /* tcp, unix, exec, log; NULL otherwise */
	double ready_delay;     /* delay */
	double ready_timeout;   /* seconds, default 30 */
	enum zr_restart restart; /* default on-failure */
	double restart_delay;   /* default 0.1 s, doubles after each quick death */
	double restart_delay_max; /* default 30 s */
	int start_burst;        /* start_limit.burst, default 5 */
	double start_interval;  /* start_limit.interval seconds, default 60 */
	int stop_signal;        /* default SIGTERM */
	double stop_timeout;    /* default 10 s, then SIGKILL to the whole tree */
	int reload_signal;      /* default SIGHUP */
	char *user;             /* NULL: the robot's user */
	unsigned long long memory_max; /* limits.memory in bytes, 0 = none */
	double cpu_percent;     /* limits.cpu_percent of one core, 0 = none */
	double limit_for;       /* limits.for: seconds over the limit before acting, default 0 */
	enum zr_limit_then limit_then; /* limits.then, default restart */
};

/* Parses process (the manifest's "process" object) for template dir's manifest. actions and
 * n_actions: the names of the template's action files, for ready.exec. Returns 0 and *ret, or
 * -EINVAL with *ret_err (malloc'd) "field 'process.ready': REASON" (the caller prefixes the
 * file), or -ENOMEM. */
int zr_process_def_parse(const json_t *process, char *const *actions, size_t n_actions,
			 struct zr_process_def **ret, char **ret_err);
void zr_process_def_free(struct zr_process_def *d);

/* tmpl with each "${field}" replaced by data's field (a string as is, a number or boolean as
 * JSON text; "$${" is a literal "${"). -EINVAL with *ret_err naming the field when data lacks
 * it or it is an object, array or null; -ENOMEM. */
int zr_process_expand(const char *tmpl, const json_t *data, char **ret, char **ret_err);

/* Signal names as the manifest and process/signal take them: "TERM", "SIGTERM", "HUP", ...
 * (case-sensitive, upper case). Returns the number, or -EINVAL. */
int zr_signal_parse(const char *name);
/* "TERM" for SIGTERM (without "SIG"); NULL when unknown. */
const char *zr_signal_name(int sig);
/* Parses a size "512M", "1G", "4096", "64K" (powers of 1024). -EINVAL when malformed. */
int zr_size_parse(const char *text, unsigned long long *ret);
