/* A template's "process" (DESIGN §6): parsing and validating it at load, "${field}"
 * expansion, signal names and sizes. */
#include <errno.h>
#include <pwd.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "process-def.h"
#include "env.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/name.h"
#include "util/pattern.h"

/* A template is trusted-ish but comes from repositories and is fuzzed: bound what it grows. */
#define ARGV_MAX 256
#define STRING_MAX 4096
/* Seconds, as template.c bounds them: keeps the timers' millisecond arithmetic finite. */
#define SECONDS_MAX 1e9
#define BURST_MAX 1000000
/* As for the patterns of data fields (schema.c): regcomp then takes a few MB and ms. */
#define PATTERN_COST_MAX 10000
/* cpu_percent is of one core; a machine with more than 1024 cores is not our concern. */
#define CPU_PERCENT_MAX 102400

static int fail(char **ret_err, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char **ret_err, const char *field, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		return -ENOMEM;
	}
	return zr_fail(ret_err, -EINVAL, "field 'process.%s': %s", field, msg);
}

/* Whether s has a "${" that is not escaped as "$${". */
static bool has_reference(const char *s)
{
	for (const char *p = s; (p = strstr(p, "${")); p += 2) {
		if (p == s || p[-1] != '$') {
			return true;
		}
	}
	return false;
}

/* Checks the "${field}" references of s: closed, and naming a data field's shape. The
 * template's data schema may change with an upgrade, so the names themselves are checked at
 * expansion. */
static int check_template(const char *s, const char *field, char **ret_err)
{
	for (const char *p = s; *p; p++) {
		if (p[0] != '$') {
			continue;
		}
		if (p[1] == '$' && p[2] == '{') {
			p += 2;
			continue;
		}
		if (p[1] != '{') {
			continue;
		}
		const char *end = strchr(p + 2, '}');
		if (!end) {
			return fail(ret_err, field, "'${' without its '}'");
		}
		if (!zr_ident_valid(p + 2, (size_t)(end - p - 2))) {
			return fail(ret_err, field, "'${...}' must name a data field");
		}
		p = end;
	}
	return 0;
}

/* A string of at most STRING_MAX bytes without NUL, and its references checked. */
static int check_string(const json_t *v, const char *field, bool empty_ok, char **ret_err)
{
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v) ||
	    json_string_length(v) > STRING_MAX) {
		return fail(ret_err, field, "must be a string of at most %d bytes without NUL",
			    STRING_MAX);
	}
	if (!empty_ok && json_string_length(v) == 0) {
		return fail(ret_err, field, "must not be empty");
	}
	return check_template(json_string_value(v), field, ret_err);
}

static int dup_value(const json_t *v, char **ret)
{
	char *s = strdup(json_string_value(v));
	if (!s) {
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

/* Seconds from min (0 or just above it when !zero_ok) to SECONDS_MAX. */
static int parse_seconds(const json_t *v, const char *field, bool zero_ok, double *ret,
			 char **ret_err)
{
	if (!json_is_number(v) || json_number_value(v) < 0 ||
	    (!zero_ok && json_number_value(v) == 0)) {
		return fail(ret_err, field, zero_ok ? "must be a number of seconds, 0 or more"
						    : "must be a positive number of seconds");
	}
	if (json_number_value(v) > SECONDS_MAX) {
		return fail(ret_err, field, "must be at most %.0f seconds", SECONDS_MAX);
	}
	*ret = json_number_value(v);
	return 0;
}

static int parse_command(struct zr_process_def *d, const json_t *v, char **ret_err)
{
	if (!json_is_array(v) || json_array_size(v) == 0) {
		return fail(ret_err, "command", "must be a non-empty array of strings");
	}
	if (json_array_size(v) > ARGV_MAX) {
		return fail(ret_err, "command", "more than %d entries", ARGV_MAX);
	}
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x) {
		_cleanup_free_ char *field = NULL;
		if (asprintf(&field, "command[%zu]", i) < 0) {
			return -ENOMEM;
		}
		/* Arguments may be empty ("" is an argument); the program's name may not. */
		int r = check_string(x, field, i > 0, ret_err);
		if (r < 0) {
			return r;
		}
	}
	d->command = calloc(json_array_size(v) + 1, sizeof(*d->command));
	if (!d->command) {
		return -ENOMEM;
	}
	json_array_foreach(v, i, x) {
		int r = dup_value(x, &d->command[i]);
		if (r < 0) {
			return r;
		}
		d->n_command++;
	}
	return 0;
}

static int parse_env(struct zr_process_def *d, const json_t *v, char **ret_err)
{
	_cleanup_free_ char *why = NULL;
	int r = zr_env_check(v, &why);
	if (r == -EINVAL) {
		return fail(ret_err, "env", "%s", why);
	}
	if (r < 0) {
		return r;
	}
	const char *name;
	json_t *x;
	json_object_foreach((json_t *)v, name, x) {
		_cleanup_free_ char *field = NULL;
		if (asprintf(&field, "env.%s", name) < 0) {
			return -ENOMEM;
		}
		r = check_template(json_string_value(x), field, ret_err);
		if (r < 0) {
			return r;
		}
	}
	d->env = calloc(json_object_size(v) + 1, sizeof(*d->env));
	if (!d->env) {
		return -ENOMEM;
	}
	json_object_foreach((json_t *)v, name, x) {
		if (asprintf(&d->env[d->n_env], "%s=%s", name, json_string_value(x)) < 0) {
			d->env[d->n_env] = NULL;
			return -ENOMEM;
		}
		d->n_env++;
	}
	return 0;
}

/* "HOST:PORT": a non-empty host (a name, an IPv4 address or "[v6]") and a port 1-65535. */
static bool tcp_shape_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s) {
		return false;
	}
	size_t hlen = (size_t)(colon - s);
	if (s[0] == '[' && (hlen < 3 || s[hlen - 1] != ']')) {
		return false;
	}
	if (s[0] != '[' && memchr(s, ':', hlen)) {
		return false; /* a bare IPv6 address: its port would be ambiguous */
	}
	const char *p = colon + 1;
	size_t n = strspn(p, "0123456789");
	if (n == 0 || n > 5 || p[n] != '\0') {
		return false;
	}
	long port = strtol(p, NULL, 10);
	return port >= 1 && port <= 65535;
}

static int parse_ready(struct zr_process_def *d, const json_t *v, char *const *actions,
		       size_t n_actions, char **ret_err)
{
	static const char *const kinds[] = {"tcp", "unix", "exec", "log", "notify", "delay"};
	static const enum zr_ready_kind values[] = {ZR_READY_TCP, ZR_READY_UNIX, ZR_READY_EXEC,
						    ZR_READY_LOG, ZR_READY_NOTIFY, ZR_READY_DELAY};
	const char *key = NULL;
	json_t *x = NULL;
	size_t k = 0;
	if (json_is_object(v) && json_object_size(v) == 1) {
		json_object_foreach((json_t *)v, key, x) {
			break;
		}
		while (k < sizeof(kinds) / sizeof(kinds[0]) && strcmp(kinds[k], key) != 0) {
			k++;
		}
	}
	if (!key || k == sizeof(kinds) / sizeof(kinds[0])) {
		return fail(ret_err, "ready",
			    "want exactly one of tcp, unix, exec, log, notify, delay");
	}
	_cleanup_free_ char *field = NULL;
	if (asprintf(&field, "ready.%s", key) < 0) {
		return -ENOMEM;
	}
	int r = 0;
	switch (values[k]) {
	case ZR_READY_NOTIFY:
		if (!json_is_true(x)) {
			return fail(ret_err, field, "must be true");
		}
		break;
	case ZR_READY_DELAY:
		r = parse_seconds(x, field, false, &d->ready_delay, ret_err);
		break;
	case ZR_READY_EXEC:
		if (!json_is_string(x) || !zr_name_valid(json_string_value(x))) {
			return fail(ret_err, field, "must be the name of an action");
		}
		size_t i = 0;
		while (i < n_actions && strcmp(actions[i], json_string_value(x)) != 0) {
			i++;
		}
		if (i == n_actions) {
			return fail(ret_err, field, "no action file '%s'", json_string_value(x));
		}
		break;
	default:
		r = check_string(x, field, false, ret_err);
		break;
	}
	if (r < 0) {
		return r;
	}
	const char *s = json_string_value(x);
	/* A reference is only known after expansion: the supervisor checks the result then. */
	if (values[k] == ZR_READY_TCP && !has_reference(s) && !tcp_shape_valid(s)) {
		return fail(ret_err, field, "must be HOST:PORT");
	}
	if (values[k] == ZR_READY_LOG && !has_reference(s)) {
		/* glibc's regcomp bounds neither its time nor its memory: estimate first. */
		if (zr_pattern_cost(s) > PATTERN_COST_MAX) {
			return fail(ret_err, field, "too complex (nests or repeats too much)");
		}
		regex_t re;
		int rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
		if (rc != 0) {
			char msg[128];
			(void)regerror(rc, &re, msg, sizeof(msg));
			return fail(ret_err, field, "bad regular expression: %s", msg);
		}
		regfree(&re);
	}
	d->ready = values[k];
	return s ? dup_value(x, &d->ready_arg) : 0;
}

static int parse_restart(struct zr_process_def *d, const json_t *v, char **ret_err)
{
	const char *s = json_string_value(v);
	if (s && strcmp(s, "never") == 0) {
		d->restart = ZR_RESTART_NEVER;
	} else if (s && strcmp(s, "on-failure") == 0) {
		d->restart = ZR_RESTART_ON_FAILURE;
	} else if (s && strcmp(s, "always") == 0) {
		d->restart = ZR_RESTART_ALWAYS;
	} else {
		return fail(ret_err, "restart", "must be never, on-failure or always");
	}
	return 0;
}

static int parse_start_limit(struct zr_process_def *d, const json_t *v, char **ret_err)
{
	if (!json_is_object(v)) {
		return fail(ret_err, "start_limit", "must be an object");
	}
	const char *key;
	json_t *x;
	json_object_foreach((json_t *)v, key, x) {
		if (strcmp(key, "burst") == 0) {
			if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			    json_integer_value(x) > BURST_MAX) {
				return fail(ret_err, "start_limit.burst",
					    "must be an integer from 1 to %d", BURST_MAX);
			}
			d->start_burst = (int)json_integer_value(x);
		} else if (strcmp(key, "interval") == 0) {
			int r = parse_seconds(x, "start_limit.interval", false, &d->start_interval,
					      ret_err);
			if (r < 0) {
				return r;
			}
		} else {
			return fail(ret_err, "start_limit", "unknown key '%s'", key);
		}
	}
	return 0;
}

static int parse_signal(const json_t *v, const char *field, int *ret, char **ret_err)
{
	int sig = json_is_string(v) ? zr_signal_parse(json_string_value(v)) : -EINVAL;
	if (sig < 0) {
		return fail(ret_err, field, "must be a signal name like \"TERM\" or \"HUP\"");
	}
	*ret = sig;
	return 0;
}

static int parse_user(struct zr_process_def *d, const json_t *v, char **ret_err)
{
	const char *s = json_string_value(v);
	if (!s || !*s || strlen(s) != json_string_length(v) || strlen(s) > 256) {
		return fail(ret_err, "user", "must be a user name");
	}
	errno = 0;
	if (!getpwnam(s)) {
		if (errno == ENOMEM) {
			return -ENOMEM;
		}
		/* Not quoted: the reason names the field, and the name is the template's. */
		return fail(ret_err, "user", "no such user on this machine");
	}
	return dup_value(v, &d->user);
}

static int parse_limits(struct zr_process_def *d, const json_t *v, char **ret_err)
{
	if (!json_is_object(v)) {
		return fail(ret_err, "limits", "must be an object");
	}
	const char *key;
	json_t *x;
	json_object_foreach((json_t *)v, key, x) {
		int r = 0;
		if (strcmp(key, "memory") == 0) {
			unsigned long long n = 0;
			if (json_is_integer(x) && json_integer_value(x) > 0) {
				n = (unsigned long long)json_integer_value(x);
			} else if (!json_is_string(x) ||
				   zr_size_parse(json_string_value(x), &n) < 0) {
				n = 0;
			}
			if (n == 0) {
				return fail(ret_err, "limits.memory", "must be a size like "
					    "\"512M\" (K, M, G, T: powers of 1024)");
			}
			d->memory_max = n;
		} else if (strcmp(key, "cpu_percent") == 0) {
			if (!json_is_number(x) || json_number_value(x) <= 0 ||
			    json_number_value(x) > CPU_PERCENT_MAX) {
				return fail(ret_err, "limits.cpu_percent",
					    "must be a positive number up to %d", CPU_PERCENT_MAX);
			}
			d->cpu_percent = json_number_value(x);
		} else if (strcmp(key, "for") == 0) {
			r = parse_seconds(x, "limits.for", true, &d->limit_for, ret_err);
		} else if (strcmp(key, "then") == 0) {
			const char *s = json_string_value(x);
			if (s && strcmp(s, "restart") == 0) {
				d->limit_then = ZR_LIMIT_RESTART;
			} else if (s && strcmp(s, "stop") == 0) {
				d->limit_then = ZR_LIMIT_STOP;
			} else if (s && strcmp(s, "warn") == 0) {
				d->limit_then = ZR_LIMIT_WARN;
			} else {
				return fail(ret_err, "limits.then",
					    "must be restart, stop or warn");
			}
		} else {
			return fail(ret_err, "limits", "unknown key '%s'", key);
		}
		if (r < 0) {
			return r;
		}
	}
	return 0;
}

/* One member of "process"; command is parsed before, by the caller. */
static int parse_key(struct zr_process_def *d, const char *key, const json_t *x,
		     char *const *actions, size_t n_actions, char **ret_err)
{
	if (strcmp(key, "command") == 0) {
		return 0;
	} else if (strcmp(key, "env") == 0) {
		return parse_env(d, x, ret_err);
	} else if (strcmp(key, "ready") == 0) {
		return parse_ready(d, x, actions, n_actions, ret_err);
	} else if (strcmp(key, "ready_timeout") == 0) {
		return parse_seconds(x, key, false, &d->ready_timeout, ret_err);
	} else if (strcmp(key, "restart") == 0) {
		return parse_restart(d, x, ret_err);
	} else if (strcmp(key, "restart_delay") == 0) {
		return parse_seconds(x, key, true, &d->restart_delay, ret_err);
	} else if (strcmp(key, "restart_delay_max") == 0) {
		return parse_seconds(x, key, true, &d->restart_delay_max, ret_err);
	} else if (strcmp(key, "start_limit") == 0) {
		return parse_start_limit(d, x, ret_err);
	} else if (strcmp(key, "stop_signal") == 0) {
		return parse_signal(x, key, &d->stop_signal, ret_err);
	} else if (strcmp(key, "stop_timeout") == 0) {
		return parse_seconds(x, key, false, &d->stop_timeout, ret_err);
	} else if (strcmp(key, "reload_signal") == 0) {
		return parse_signal(x, key, &d->reload_signal, ret_err);
	} else if (strcmp(key, "user") == 0) {
		return parse_user(d, x, ret_err);
	} else if (strcmp(key, "limits") == 0) {
		return parse_limits(d, x, ret_err);
	}
	return fail(ret_err, key, "unknown key");
}

int zr_process_def_parse(const json_t *process, char *const *actions, size_t n_actions,
			 struct zr_process_def **ret, char **ret_err)
{
	if (!json_is_object(process)) {
		return zr_fail(ret_err, -EINVAL, "field 'process': must be an object");
	}
	struct zr_process_def *d = calloc(1, sizeof(*d));
	if (!d) {
		return -ENOMEM;
	}
	d->ready = ZR_READY_NONE;
	d->ready_timeout = 30;
	d->restart = ZR_RESTART_ON_FAILURE;
	d->restart_delay = 0.1;
	d->restart_delay_max = 30;
	d->start_burst = 5;
	d->start_interval = 60;
	d->stop_signal = SIGTERM;
	d->stop_timeout = 10;
	d->reload_signal = SIGHUP;
	d->limit_then = ZR_LIMIT_RESTART;

	const json_t *command = json_object_get(process, "command");
	int r = command ? parse_command(d, command, ret_err)
			: zr_fail(ret_err, -EINVAL, "field 'process.command': required");
	const char *key;
	json_t *x;
	json_object_foreach((json_t *)process, key, x) {
		if (r < 0) {
			break;
		}
		r = parse_key(d, key, x, actions, n_actions, ret_err);
	}
	if (r == 0 && d->restart_delay > d->restart_delay_max) {
		r = fail(ret_err, "restart_delay", "must be at most restart_delay_max (%g)",
			 d->restart_delay_max);
	}
	if (r == 0 && !d->env) {
		d->env = calloc(1, sizeof(*d->env));
		r = d->env ? 0 : -ENOMEM;
	}
	if (r < 0) {
		zr_process_def_free(d);
		return r;
	}
	*ret = d;
	return 0;
}

void zr_process_def_free(struct zr_process_def *d)
{
	if (!d) {
		return;
	}
	for (size_t i = 0; d->command && d->command[i]; i++) {
		free(d->command[i]);
	}
	free(d->command);
	for (size_t i = 0; d->env && d->env[i]; i++) {
		free(d->env[i]);
	}
	free(d->env);
	free(d->ready_arg);
	free(d->user);
	free(d);
}

/* Appends n bytes of s to the growing string *buf (length *len, capacity *cap). */
static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap ? *cap : 64;
		while (ncap < *len + n + 1) {
			ncap *= 2;
		}
		char *b = realloc(*buf, ncap);
		if (!b) {
			return -ENOMEM;
		}
		*buf = b;
		*cap = ncap;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* The text a data value takes in a command: never quoted in errors (it may be a secret). */
static int value_text(const json_t *v, const char *name, char **ret, char **ret_err)
{
	char *s = NULL;
	if (json_is_string(v)) {
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			return zr_fail(ret_err, -EINVAL, "field '%s' holds a NUL byte", name);
		}
		s = strdup(json_string_value(v));
	} else if (json_is_integer(v)) {
		if (asprintf(&s, "%lld", (long long)json_integer_value(v)) < 0) {
			s = NULL;
		}
	} else if (json_is_real(v)) {
		/* The shortest JSON text that reads back as the same double: "0.1" on a
		 * command line, not jansson's default "0.10000000000000001". */
		for (int prec = 1; prec <= 17; prec++) {
			free(s);
			s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(prec));
			if (!s || strtod(s, NULL) == json_real_value(v)) {
				break;
			}
		}
	} else if (json_is_boolean(v)) {
		s = strdup(json_is_true(v) ? "true" : "false");
	} else if (!v || json_is_null(v)) {
		return zr_fail(ret_err, -EINVAL, "field '%s' is not set", name);
	} else {
		return zr_fail(ret_err, -EINVAL,
			       "field '%s' is an object or array, not a string, number or boolean",
			       name);
	}
	if (!s) {
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

int zr_process_expand(const char *tmpl, const json_t *data, char **ret, char **ret_err)
{
	_cleanup_free_ char *out = NULL;
	size_t len = 0, cap = 0;
	int r = append(&out, &len, &cap, "", 0);
	const char *p = tmpl;
	while (r == 0 && *p) {
		const char *dollar = strchr(p, '$');
		if (!dollar) {
			r = append(&out, &len, &cap, p, strlen(p));
			break;
		}
		r = append(&out, &len, &cap, p, (size_t)(dollar - p));
		if (r < 0) {
			break;
		}
		if (dollar[1] == '$' && dollar[2] == '{') {
			r = append(&out, &len, &cap, "${", 2);
			p = dollar + 3;
			continue;
		}
		if (dollar[1] != '{') {
			r = append(&out, &len, &cap, "$", 1);
			p = dollar + 1;
			continue;
		}
		const char *end = strchr(dollar + 2, '}');
		if (!end) {
			return zr_fail(ret_err, -EINVAL, "'${' without its '}'");
		}
		_cleanup_free_ char *name = strndup(dollar + 2, (size_t)(end - dollar - 2));
		_cleanup_free_ char *text = NULL;
		if (!name) {
			return -ENOMEM;
		}
		r = value_text(json_object_get(data, name), name, &text, ret_err);
		if (r == 0) {
			r = append(&out, &len, &cap, text, strlen(text));
		}
		p = end + 1;
	}
	if (r < 0) {
		return r;
	}
	*ret = TAKE_PTR(out);
	return 0;
}

static const struct {
	const char *name;
	int sig;
} signals[] = {
	{"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
	{"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"BUS", SIGBUS},     {"FPE", SIGFPE},
	{"KILL", SIGKILL},   {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},   {"USR2", SIGUSR2},
	{"PIPE", SIGPIPE},   {"ALRM", SIGALRM},     {"TERM", SIGTERM},   {"STKFLT", SIGSTKFLT},
	{"CHLD", SIGCHLD},   {"CONT", SIGCONT},     {"STOP", SIGSTOP},   {"TSTP", SIGTSTP},
	{"TTIN", SIGTTIN},   {"TTOU", SIGTTOU},     {"URG", SIGURG},     {"XCPU", SIGXCPU},
	{"XFSZ", SIGXFSZ},   {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},   {"WINCH", SIGWINCH},
	{"IO", SIGIO},       {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int zr_signal_parse(const char *name)
{
	if (!name) {
		return -EINVAL;
	}
	if (strncmp(name, "SIG", 3) == 0) {
		name += 3;
	}
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (strcmp(signals[i].name, name) == 0) {
			return signals[i].sig;
		}
	}
	return -EINVAL;
}

const char *zr_signal_name(int sig)
{
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++) {
		if (signals[i].sig == sig) {
			return signals[i].name;
		}
	}
	return NULL;
}

int zr_size_parse(const char *text, unsigned long long *ret)
{
	if (!text) {
		return -EINVAL;
	}
	size_t n = strspn(text, "0123456789");
	/* 20 digits overflow 64 bits for many values; the check below catches the rest. */
	if (n == 0 || n > 20) {
		return -EINVAL;
	}
	unsigned long long v = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned digit = (unsigned)(text[i] - '0');
		if (v > (~0ULL - digit) / 10) {
			return -EINVAL;
		}
		v = v * 10 + digit;
	}
	static const char units[] = "KMGT";
	int shift = 0;
	if (text[n] != '\0') {
		const char *u = strchr(units, text[n]);
		if (!u || text[n + 1] != '\0') {
			return -EINVAL;
		}
		shift = 10 * (int)(u - units + 1);
	}
	if (shift > 0 && v > (~0ULL >> shift)) {
		return -EINVAL;
	}
	*ret = v << shift;
	return 0;
}
