/* The operator's commands (issue 15): zrobot ls, status, logs, do and tasks, reading a running
 * robot through client.h (its mount, or its HTTP API). Colours only on a terminal; --json
 * everywhere for scripts. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "cmd.h"
#include "util/cleanup.h"

void zr_cmd_ls_usage(FILE *f)
{
	fprintf(f, "Usage: zrobot ls [--json] [--mount DIR | --url URL --token-file FILE]\n");
}

void zr_cmd_status_usage(FILE *f)
{
	fprintf(f, "Usage: zrobot status [TEMPLATE/SERVICE] [--json]\n"
		   "                     [--mount DIR | --url URL --token-file FILE]\n");
}

void zr_cmd_logs_usage(FILE *f)
{
	fprintf(f, "Usage: zrobot logs [-f] TEMPLATE/SERVICE [--json]\n"
		   "                   [--mount DIR | --url URL --token-file FILE]\n");
}

void zr_cmd_do_usage(FILE *f)
{
	fprintf(f, "Usage: zrobot do TEMPLATE/SERVICE ACTION [KEY=VALUE...] [--json]\n"
		   "                 [--mount DIR | --url URL --token-file FILE]\n");
}

void zr_cmd_tasks_usage(FILE *f)
{
	fprintf(f, "Usage: zrobot tasks TEMPLATE/SERVICE [--json]\n"
		   "                    [--mount DIR | --url URL --token-file FILE]\n");
}

/* ---- shared ---- */

struct cli {
	struct zr_client c;
	bool json, follow, tty;
	char **words; /* the arguments left once the options are taken out (argv's) */
	int n_words;
};

/* The options every command takes; -f only where follow_ok. 0, or 2 for a usage error. */
static int cli_open(struct cli *x, int argc, char **argv, bool follow_ok)
{
	*x = (struct cli){.tty = isatty(STDOUT_FILENO) == 1};
	if (zr_client_open(&x->c, &argc, argv) < 0) {
		return 2;
	}
	int out = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			x->json = true;
		} else if (follow_ok && (strcmp(argv[i], "-f") == 0 ||
					 strcmp(argv[i], "--follow") == 0)) {
			x->follow = true;
		} else if (argv[i][0] == '-') {
			zr_client_close(&x->c);
			return 2;
		} else {
			argv[out++] = argv[i];
		}
	}
	x->words = argv;
	x->n_words = out;
	return 0;
}

/* "T/S": two valid-looking names, so that a path cannot wander elsewhere in the tree. */
static bool service_arg(const char *s)
{
	const char *slash = strchr(s, '/');
	return slash && slash != s && slash[1] && !strchr(slash + 1, '/') && s[0] != '.' &&
	       s[0] != '@' && slash[1] != '.' && slash[1] != '@';
}

static void fail_read(const struct cli *x, const char *path, int err)
{
	fprintf(stderr, "zrobot: cannot read %s on %s: %s\n", path, x->c.shown, strerror(-err));
}

/* A small text file, trailing newlines cut; NULL (errno set) when it cannot be read. */
static char *read_text(struct cli *x, const char *fmt, const char *a, const char *b)
{
	char path[PATH_MAX];
	struct zr_buf buf = {0};
	snprintf(path, sizeof(path), fmt, a, b);
	int err = zr_client_read(&x->c, path, &buf);
	if (err < 0) {
		zr_buf_done(&buf);
		errno = -err;
		return NULL;
	}
	char *s = buf.data ? zr_buf_steal(&buf) : strdup("");
	size_t n = s ? strlen(s) : 0;
	while (n > 0 && s[n - 1] == '\n') {
		s[--n] = '\0';
	}
	return s;
}

/* NULL (errno set) when it cannot be read or is not JSON. */
static json_t *read_json(struct cli *x, const char *fmt, const char *a, const char *b)
{
	char path[PATH_MAX];
	json_t *j = NULL;
	snprintf(path, sizeof(path), fmt, a, b);
	int err = zr_client_read_json(&x->c, path, &j);
	if (err < 0) {
		errno = -err;
	}
	return j;
}

static void print_json(json_t *j)
{
	_cleanup_free_ char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	if (s) {
		puts(s);
	}
	json_decref(j);
}

/* "2026-11-22T10:00:00.123Z" as seconds since the epoch; -1 when empty or not that. */
static double iso_time(const char *s)
{
	struct tm tm = {0};
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!rest) {
		return -1;
	}
	double frac = *rest == '.' ? strtod(rest, NULL) : 0;
	return (double)timegm(&tm) + frac;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A span as people read it: 42s, 5m, 3h, 2d. */
static void span(char *out, size_t size, double s)
{
	if (s < 0) {
		snprintf(out, size, "-");
	} else if (s < 120) {
		snprintf(out, size, "%.0fs", s);
	} else if (s < 7200) {
		snprintf(out, size, "%.0fm", s / 60);
	} else if (s < 172800) {
		snprintf(out, size, "%.0fh", s / 3600);
	} else {
		snprintf(out, size, "%.0fd", s / 86400);
	}
}

static const char *color_of(const struct cli *x, const char *state)
{
	if (!x->tty || x->json || !state) {
		return "";
	}
	if (strcmp(state, "ok") == 0 || strcmp(state, "ready") == 0) {
		return "\033[32m";
	}
	if (strcmp(state, "error") == 0 || strcmp(state, "failed") == 0 ||
	    strcmp(state, "timeout") == 0 || strcmp(state, "interrupted") == 0) {
		return "\033[31m";
	}
	if (strcmp(state, "running") == 0 || strcmp(state, "starting") == 0 ||
	    strcmp(state, "backoff") == 0 || strcmp(state, "queued") == 0) {
		return "\033[33m";
	}
	return "";
}

static const char *color_end(const char *color)
{
	return *color ? "\033[0m" : "";
}

/* Every service, "t/s", sorted (templates, then services). */
static int list_services(struct cli *x, char ***out)
{
	char **tmpls = NULL, **all = calloc(1, sizeof(*all));
	size_t n = 0;
	int err = all ? zr_client_list(&x->c, "", &tmpls) : -ENOMEM;
	for (size_t i = 0; err == 0 && tmpls[i]; i++) {
		char **svcs = NULL;
		if (tmpls[i][0] == '@' || tmpls[i][0] == '.') {
			continue;
		}
		/* A template can go between the two listings: skipped, not an error. */
		if (zr_client_list(&x->c, tmpls[i], &svcs) < 0) {
			continue;
		}
		for (size_t k = 0; err == 0 && svcs[k]; k++) {
			char **more = realloc(all, (n + 2) * sizeof(*all));
			if (!more) {
				err = -ENOMEM;
				break;
			}
			all = more;
			if (asprintf(&all[n], "%s/%s", tmpls[i], svcs[k]) < 0) {
				err = -ENOMEM;
				break;
			}
			all[++n] = NULL;
		}
		zr_client_free_names(svcs);
	}
	zr_client_free_names(tmpls);
	if (err < 0) {
		zr_client_free_names(all);
		fprintf(stderr, "zrobot: cannot list the services of %s: %s\n", x->c.shown,
			strerror(-err));
		return err;
	}
	*out = all;
	return 0;
}

/* ---- zrobot ls ---- */

int zr_cmd_ls(int argc, char **argv)
{
	struct cli x;
	if (cli_open(&x, argc, argv, false) != 0 || x.n_words != 0) {
		zr_cmd_ls_usage(stderr);
		return 2;
	}
	char **svcs = NULL;
	int status = list_services(&x, &svcs) < 0 ? 1 : 0;
	json_t *arr = x.json && status == 0 ? json_array() : NULL;
	for (size_t i = 0; svcs && svcs[i]; i++) {
		if (arr) {
			(void)json_array_append_new(arr, json_string(svcs[i]));
		} else {
			puts(svcs[i]);
		}
	}
	if (arr) {
		print_json(arr);
	}
	zr_client_free_names(svcs);
	zr_client_close(&x.c);
	return status;
}

/* ---- tasks ---- */

struct task {
	long id;
	char *action, *state, *created, *started, *finished, *progress;
};

static void task_done(struct task *t)
{
	free(t->action);
	free(t->state);
	free(t->created);
	free(t->started);
	free(t->finished);
	free(t->progress);
}

/* The ids in T/S/tasks, ascending ("queue" is not one). */
static long *task_ids(struct cli *x, const char *svc, size_t *n)
{
	char path[PATH_MAX], **names = NULL;
	snprintf(path, sizeof(path), "%s/tasks", svc);
	*n = 0;
	if (zr_client_list(&x->c, path, &names) < 0) {
		return NULL;
	}
	size_t count = 0;
	while (names[count]) {
		count++;
	}
	long *ids = calloc(count + 1, sizeof(*ids));
	for (size_t i = 0; ids && names[i]; i++) {
		char *end;
		long id = strtol(names[i], &end, 10);
		if (*end == '\0' && id > 0) {
			ids[(*n)++] = id;
		}
	}
	zr_client_free_names(names);
	for (size_t i = 1; ids && i < *n; i++) { /* few: an insertion sort */
		long v = ids[i];
		size_t k = i;
		for (; k > 0 && ids[k - 1] > v; k--) {
			ids[k] = ids[k - 1];
		}
		ids[k] = v;
	}
	return ids;
}

/* A task's files; false when it is gone (history trimmed) between the listing and now. */
static bool task_read(struct cli *x, const char *svc, long id, struct task *t)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/tasks/%ld", svc, id);
	*t = (struct task){.id = id};
	t->action = read_text(x, "%s/%s", dir, "action");
	t->state = read_text(x, "%s/%s", dir, "state");
	t->created = read_text(x, "%s/%s", dir, "created");
	t->started = read_text(x, "%s/%s", dir, "started");
	t->finished = read_text(x, "%s/%s", dir, "finished");
	t->progress = read_text(x, "%s/%s", dir, "progress");
	if (!t->action || !t->state) {
		task_done(t);
		return false;
	}
	return true;
}

/* Seconds from start to end, or to now while it runs; -1 before it started. */
static double task_duration(const struct task *t)
{
	double s = iso_time(t->started), f = iso_time(t->finished);
	return s < 0 ? -1 : (f >= 0 ? f : now_s()) - s;
}

static json_t *task_json(const struct task *t)
{
	double d = task_duration(t);
	json_t *o = json_pack("{s:I,s:s,s:s,s:s?,s:s?,s:s?}", "id", (json_int_t)t->id, "action",
			      t->action, "state", t->state, "created",
			      t->created && *t->created ? t->created : NULL, "started",
			      t->started && *t->started ? t->started : NULL, "finished",
			      t->finished && *t->finished ? t->finished : NULL);
	if (o) {
		/* Rounded to milliseconds, as @robot/info's times are. */
		json_t *ms = d < 0 ? json_null() : json_real((double)(long)(d * 1000) / 1000);
		(void)json_object_set_new(o, "duration", ms);
	}
	return o;
}

static void task_line(const struct cli *x, const struct task *t)
{
	char dur[32];
	double d = task_duration(t);
	if (d < 0) {
		snprintf(dur, sizeof(dur), "-");
	} else {
		snprintf(dur, sizeof(dur), "%.3fs", d);
	}
	const char *col = color_of(x, t->state);
	printf("%-6ld %-16s %s%-11s%s %-24s %s\n", t->id, t->action, col, t->state, color_end(col),
	       t->created && *t->created ? t->created : "-", dur);
}

int zr_cmd_tasks(int argc, char **argv)
{
	struct cli x;
	if (cli_open(&x, argc, argv, false) != 0 || x.n_words != 1 || !service_arg(x.words[0])) {
		zr_cmd_tasks_usage(stderr);
		return 2;
	}
	const char *svc = x.words[0];
	size_t n = 0;
	long *ids = task_ids(&x, svc, &n);
	if (!ids) {
		fprintf(stderr, "zrobot: no service %s on %s\n", svc, x.c.shown);
		zr_client_close(&x.c);
		return 1;
	}
	json_t *arr = x.json ? json_array() : NULL;
	if (!x.json) {
		printf("%-6s %-16s %-11s %-24s %s\n", "ID", "ACTION", "STATE", "CREATED", "DURATION");
	}
	for (size_t i = 0; i < n; i++) {
		struct task t;
		if (!task_read(&x, svc, ids[i], &t)) {
			continue;
		}
		if (arr) {
			(void)json_array_append_new(arr, task_json(&t));
		} else {
			task_line(&x, &t);
		}
		task_done(&t);
	}
	if (arr) {
		print_json(arr);
	}
	free(ids);
	zr_client_close(&x.c);
	return 0;
}

/* ---- zrobot status ---- */

/* The newest task of svc, or false when it has none. */
static bool last_task(struct cli *x, const char *svc, struct task *t)
{
	size_t n = 0;
	_cleanup_free_ long *ids = task_ids(x, svc, &n);
	for (size_t i = n; ids && i > 0; i--) {
		if (task_read(x, svc, ids[i - 1], t)) {
			return true;
		}
	}
	return false;
}

static const char *process_state(json_t *info)
{
	const char *s = json_string_value(json_object_get(json_object_get(info, "process"), "state"));
	return s ? s : "-";
}

static int status_all(struct cli *x)
{
	char **svcs = NULL;
	if (list_services(x, &svcs) < 0) {
		return 1;
	}
	json_t *arr = x->json ? json_array() : NULL;
	if (!x->json) {
		printf("%-28s %-20s %-10s %-16s %-11s %s\n", "SERVICE", "TEMPLATE", "PROCESS",
		       "LAST TASK", "STATE", "AGE");
	}
	for (size_t i = 0; svcs[i]; i++) {
		json_t *info = read_json(x, "%s/%s", svcs[i], "info");
		if (!info) {
			continue; /* deleted since the listing */
		}
		const char *tmpl = json_string_value(json_object_get(info, "template"));
		const char *version = json_string_value(json_object_get(info, "version"));
		double created = iso_time(json_string_value(json_object_get(info, "created")));
		struct task t;
		bool has_task = last_task(x, svcs[i], &t);
		if (arr) {
			json_t *o = json_pack("{s:s,s:s?,s:s?,s:s,s:s?}", "service", svcs[i],
					      "template", tmpl, "version", version, "process",
					      process_state(info), "created",
					      json_string_value(json_object_get(info, "created")));
			if (o) {
				(void)json_object_set_new(o, "last_task",
							  has_task ? task_json(&t) : json_null());
				(void)json_array_append_new(arr, o);
			}
		} else {
			char tv[128], age[32];
			snprintf(tv, sizeof(tv), "%s@%s", tmpl ? tmpl : "?", version ? version : "?");
			span(age, sizeof(age), created < 0 ? -1 : now_s() - created);
			const char *pc = color_of(x, process_state(info));
			const char *ts = has_task ? t.state : "-";
			const char *tc = color_of(x, ts);
			printf("%-28s %-20s %s%-10s%s %-16s %s%-11s%s %s\n", svcs[i], tv, pc,
			       process_state(info), color_end(pc), has_task ? t.action : "-", tc, ts,
			       color_end(tc), age);
		}
		if (has_task) {
			task_done(&t);
		}
		json_decref(info);
	}
	if (arr) {
		print_json(arr);
	}
	zr_client_free_names(svcs);
	return 0;
}

/* The last n lines of text (all of it when fewer). */
static const char *tail_lines(const char *text, int n)
{
	size_t len = strlen(text);
	const char *p = text + len;
	if (p > text && p[-1] == '\n') {
		p--;
	}
	while (p > text) {
		if (p[-1] == '\n' && --n == 0) {
			break;
		}
		p--;
	}
	return p;
}

static json_t *lines_json(const char *text)
{
	json_t *arr = json_array();
	const char *p = text;
	while (arr && p && *p) {
		size_t n = strcspn(p, "\n");
		(void)json_array_append_new(arr, json_stringn(p, n));
		p += n + (p[n] == '\n');
	}
	return arr;
}

static void indent(const char *text)
{
	const char *p = text;
	while (p && *p) {
		size_t n = strcspn(p, "\n");
		printf("    %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/* Everything about one service, like systemctl status: info, state, its server, the last
 * tasks and the last 10 lines of its log. */
static int status_one(struct cli *x, const char *svc)
{
	json_t *info = read_json(x, "%s/%s", svc, "info");
	if (!info) {
		fprintf(stderr, "zrobot: no service %s on %s: %s\n", svc, x->c.shown,
			strerror(errno ? errno : EINVAL));
		return 1;
	}
	_cleanup_free_ char *state = read_text(x, "%s/%s", svc, "state");
	_cleanup_free_ char *proc = read_text(x, "%s/%s", svc, "process/status");
	_cleanup_free_ char *lasterror = read_text(x, "%s/%s", svc, "lasterror");
	/* A user token may not read every log: the rest is still shown. */
	_cleanup_free_ char *log = read_text(x, "%s/%s", svc, "log");
	size_t n = 0;
	_cleanup_free_ long *ids = task_ids(x, svc, &n);
	size_t first = n > 5 ? n - 5 : 0;
	const char *tail = log ? tail_lines(log, 10) : NULL;
	if (x->json) {
		json_t *o = json_pack("{s:s,s:O}", "service", svc, "info", info);
		json_t *tasks = json_array();
		for (size_t i = first; ids && i < n; i++) {
			struct task t;
			if (task_read(x, svc, ids[i], &t)) {
				(void)json_array_append_new(tasks, task_json(&t));
				task_done(&t);
			}
		}
		if (o) {
			(void)json_object_set_new(o, "state",
						  state ? lines_json(state) : json_null());
			(void)json_object_set_new(o, "process_status",
						  proc ? lines_json(proc) : json_null());
			(void)json_object_set_new(o, "lasterror", lasterror && *lasterror
									 ? json_string(lasterror)
									 : json_null());
			(void)json_object_set_new(o, "tasks", tasks);
			(void)json_object_set_new(o, "log", tail ? lines_json(tail) : json_null());
		} else {
			json_decref(tasks);
		}
		print_json(o);
		json_decref(info);
		return 0;
	}
	const char *tmpl = json_string_value(json_object_get(info, "template"));
	const char *version = json_string_value(json_object_get(info, "version"));
	const char *created = json_string_value(json_object_get(info, "created"));
	const char *parent = json_string_value(json_object_get(info, "parent"));
	const char *ps = process_state(info);
	const char *pc = color_of(x, ps);
	double c = iso_time(created);
	char age[32];
	span(age, sizeof(age), c < 0 ? -1 : now_s() - c);
	printf("%s%s%s %s - %s@%s\n", pc, x->tty ? "\u25cf" : "*", color_end(pc), svc,
	       tmpl ? tmpl : "?", version ? version : "?");
	printf("    created: %s (%s ago)\n", created ? created : "-", age);
	printf("     parent: %s\n", parent ? parent : "-");
	printf("    process: %s%s%s\n", pc, ps, color_end(pc));
	if (lasterror && *lasterror) {
		printf("  lasterror: %s\n", lasterror);
	}
	if (proc && *proc) {
		printf("\n  process/status:\n");
		indent(proc);
	}
	if (state && *state) {
		printf("\n  state:\n");
		indent(state);
	}
	if (n > 0) {
		printf("\n  tasks:\n");
		for (size_t i = first; ids && i < n; i++) {
			struct task t;
			if (task_read(x, svc, ids[i], &t)) {
				printf("    ");
				task_line(x, &t);
				task_done(&t);
			}
		}
	}
	if (tail && *tail) {
		printf("\n  log:\n");
		indent(tail);
	}
	json_decref(info);
	return 0;
}

int zr_cmd_status(int argc, char **argv)
{
	struct cli x;
	if (cli_open(&x, argc, argv, false) != 0 || x.n_words > 1 ||
	    (x.n_words == 1 && !service_arg(x.words[0]))) {
		zr_cmd_status_usage(stderr);
		return 2;
	}
	int status = x.n_words == 1 ? status_one(&x, x.words[0]) : status_all(&x);
	zr_client_close(&x.c);
	return status;
}

/* ---- zrobot logs ---- */

static bool print_text(const char *p, size_t n, void *data)
{
	(void)data;
	return fwrite(p, 1, n, stdout) == n && fflush(stdout) == 0;
}

/* --json: one JSON string per line (NDJSON), for the pieces may split a line. */
struct json_lines {
	struct zr_buf pending;
};

static bool print_json_lines(const char *p, size_t n, void *data)
{
	struct json_lines *j = data;
	if (zr_buf_append(&j->pending, p, n) < 0) {
		return false;
	}
	for (;;) {
		char *nl = j->pending.len ? memchr(j->pending.data, '\n', j->pending.len) : NULL;
		if (!nl) {
			return true;
		}
		size_t len = (size_t)(nl - j->pending.data);
		json_t *s = json_stringn(j->pending.data, len);
		_cleanup_free_ char *out = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
		json_decref(s);
		if (out) {
			puts(out);
		}
		zr_buf_consume(&j->pending, len + 1);
		if (fflush(stdout) != 0) {
			return false;
		}
	}
}

int zr_cmd_logs(int argc, char **argv)
{
	struct cli x;
	if (cli_open(&x, argc, argv, true) != 0 || x.n_words != 1 || !service_arg(x.words[0])) {
		zr_cmd_logs_usage(stderr);
		return 2;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/log", x.words[0]);
	struct json_lines jl = {0};
	int err;
	if (x.follow) {
		err = zr_client_follow(&x.c, path, x.json ? print_json_lines : print_text,
				       x.json ? (void *)&jl : NULL);
	} else {
		struct zr_buf b = {0};
		err = zr_client_read(&x.c, path, &b);
		if (err == 0 && b.len > 0) {
			(void)(x.json ? print_json_lines(b.data, b.len, &jl)
				      : print_text(b.data, b.len, NULL));
		}
		zr_buf_done(&b);
	}
	if (err < 0) {
		fail_read(&x, path, err);
	}
	zr_buf_done(&jl.pending);
	zr_client_close(&x.c);
	return err < 0 ? 1 : 0;
}

/* ---- zrobot do ---- */

/* A progress bar on stderr while the task runs, from tasks/<id>/progress ("DONE TOTAL"):
 * a thread, for the result is read by a blocking read (or a long poll). */
struct progress {
	struct cli *x;
	const char *svc, *action;
	long before;        /* the newest id before the write (through the mount) */
	_Atomic long id;    /* the task's, once known */
	_Atomic bool done;
	bool drawn;
	char last[64];      /* the progress drawn last: redrawn only when it changes */
	pthread_t thread;
};

static void on_queued(long id, void *data)
{
	struct progress *p = data;
	if (id > 0) {
		p->id = id;
	}
}

/* Through the mount the write does not say the task's id: the first newer one of the same
 * action is taken (another operator's can come between; the bar is only a hint). */
static long find_task(struct progress *p)
{
	size_t n = 0;
	_cleanup_free_ long *ids = task_ids(p->x, p->svc, &n);
	for (size_t i = 0; ids && i < n; i++) {
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/tasks/%ld", p->svc, ids[i]);
		_cleanup_free_ char *action = ids[i] > p->before ? read_text(p->x, "%s/%s", dir,
									     "action")
								 : NULL;
		if (action && strcmp(action, p->action) == 0) {
			return ids[i];
		}
	}
	return 0;
}

static void *progress_main(void *data)
{
	struct progress *p = data;
	while (!p->done) {
		struct timespec ts = {0, 200 * 1000 * 1000};
		nanosleep(&ts, NULL);
		if (p->id == 0 && p->x->c.mount) {
			p->id = find_task(p);
		}
		char dir[PATH_MAX];
		snprintf(dir, sizeof(dir), "%s/tasks/%ld", p->svc, (long)p->id);
		_cleanup_free_ char *text = p->id ? read_text(p->x, "%s/%s", dir, "progress") : NULL;
		double done, total;
		if (!p->done && text && strcmp(text, p->last) != 0 &&
		    sscanf(text, "%lf %lf", &done, &total) == 2 && total > 0) {
			snprintf(p->last, sizeof(p->last), "%s", text);
			int width = 30, fill = (int)(done / total * width);
			fill = fill < 0 ? 0 : fill > width ? width : fill;
			fprintf(stderr, "\r[%.*s%*s] %3.0f%%", fill, "##############################",
				width - fill, "", done / total * 100);
			p->drawn = true;
		}
	}
	return NULL;
}

/* KEY=VALUE words as one line the robot splits like sh: each value single-quoted. */
static int payload_line(char **words, int n, struct zr_buf *out)
{
	for (int i = 0; i < n; i++) {
		const char *eq = strchr(words[i], '=');
		if (!eq || eq == words[i]) {
			fprintf(stderr, "zrobot: '%s' is not KEY=VALUE\n", words[i]);
			return -EINVAL;
		}
		int key_len = (int)(eq - words[i] + 1); /* with its '=' */
		if (zr_buf_printf(out, "%s%.*s'", i ? " " : "", key_len, words[i]) < 0) {
			return -ENOMEM;
		}
		for (const char *v = eq + 1; *v; v++) {
			if (*v == '\n') {
				fprintf(stderr, "zrobot: a value cannot hold a newline (%.*s)\n",
					(int)(eq - words[i]), words[i]);
				return -EINVAL;
			}
			int r = *v == '\'' ? zr_buf_puts(out, "'\\''") : zr_buf_append(out, v, 1);
			if (r < 0) {
				return -ENOMEM;
			}
		}
		if (zr_buf_puts(out, "'") < 0) {
			return -ENOMEM;
		}
	}
	return zr_buf_puts(out, "\n") < 0 ? -ENOMEM : 0;
}

int zr_cmd_do(int argc, char **argv)
{
	struct cli x;
	if (cli_open(&x, argc, argv, false) != 0 || x.n_words < 2 || !service_arg(x.words[0]) ||
	    x.words[1][0] == '.' || strchr(x.words[1], '/')) {
		zr_cmd_do_usage(stderr);
		return 2;
	}
	const char *svc = x.words[0], *action = x.words[1];
	struct zr_buf payload = {0}, result = {0};
	if (x.n_words > 2 && payload_line(x.words + 2, x.n_words - 2, &payload) < 0) {
		zr_buf_done(&payload);
		zr_client_close(&x.c);
		return 2;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/actions/%s", svc, action);
	struct progress p = {.x = &x, .svc = svc, .action = action};
	bool bar = isatty(STDERR_FILENO) == 1 && !x.json;
	if (bar) {
		size_t n = 0;
		_cleanup_free_ long *ids = task_ids(&x, svc, &n);
		p.before = ids && n ? ids[n - 1] : 0;
		/* curl's global state, before a second thread may use it. */
		(void)curl_global_init(CURL_GLOBAL_DEFAULT);
		bar = pthread_create(&p.thread, NULL, progress_main, &p) == 0;
	}
	char *state = NULL;
	int err = zr_client_act(&x.c, path, payload.data, on_queued, &p, &result, &state);
	if (bar) {
		p.done = true;
		(void)pthread_join(p.thread, NULL);
		if (p.drawn) {
			fputs("\r\033[K", stderr);
		}
	}
	int status = 1;
	if (err < 0) {
		fprintf(stderr, "zrobot: cannot queue %s on %s: %s\n", action, svc, strerror(-err));
		/* The robot's reason, when the mount gave only an errno. */
		_cleanup_free_ char *why =
			x.c.mount ? read_text(&x, "%s/%s", svc, "lasterror") : NULL;
		if (why && *why && err != -ENOENT) {
			fprintf(stderr, "zrobot: %s\n", why);
		}
	} else if (x.json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s%}", "service", svc, "action", action, "state",
				      state, "result", result.data ? result.data : "", result.len);
		if (o && p.id > 0) {
			(void)json_object_set_new(o, "task", json_integer(p.id));
		}
		print_json(o);
		status = strcmp(state, "ok") == 0 ? 0 : 1;
	} else if (strcmp(state, "ok") == 0) {
		if (result.len > 0) {
			(void)fwrite(result.data, 1, result.len, stdout);
		}
		status = 0;
	} else {
		const char *col = isatty(STDERR_FILENO) == 1 ? "\033[31m" : "";
		fprintf(stderr, "zrobot: %s on %s: %s%s%s\n", action, svc, col, state,
			color_end(col));
		if (result.len > 0) {
			(void)fwrite(result.data, 1, result.len, stderr);
		}
	}
	free(state);
	zr_buf_done(&payload);
	zr_buf_done(&result);
	zr_client_close(&x.c);
	return status;
}
