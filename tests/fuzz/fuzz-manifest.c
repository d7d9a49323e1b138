/* Fuzzes the template loader (core/template.c, and through it core/schema.c): the input is
 * the text of template.json, loaded by zr_template_load from a scratch folder. The folder is
 * named after the manifest's "name" when that is a valid name (else "t", which the loader
 * must refuse), and its actions/ holds an executable for each action name the built-in
 * templates, the examples and the scaffold use, so that manifests get past the checks on
 * action files into their settings. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "process-def.h"
#include "template.h"
#include "util/name.h"

static const char *const action_names[] = {
	"exec", "info", "bump", "cleanup", "fail", "flaky", "slow", "tick", "start", "stop",
	"status", "install", "monitor", "upgrade", "a", "b",
};

/* The scratch folder, made once per process: <TMPDIR>/zr-fuzz-manifest-XXXXXX. */
static char *base;

static void remove_base(void)
{
	char *p;
	for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (asprintf(&p, "%s/.actions/%s", base, action_names[i]) >= 0) {
			(void)unlink(p);
			free(p);
		}
	}
	if (asprintf(&p, "%s/.actions", base) >= 0) {
		(void)rmdir(p);
		free(p);
	}
	(void)rmdir(base);
	free(base);
}

/* Setup failures are the machine's, not findings: they end the run with a message. */
static void die(const char *what, const char *path)
{
	fprintf(stderr, "fuzz-manifest: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object_seed(1);
	const char *tmp = getenv("TMPDIR");
	if (asprintf(&base, "%s/zr-fuzz-manifest-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0 ||
	    !mkdtemp(base)) {
		die("cannot create", "a scratch folder");
	}
	char *p;
	if (asprintf(&p, "%s/.actions", base) < 0 || mkdir(p, 0755) < 0) {
		die("cannot create", base);
	}
	free(p);
	for (size_t i = 0; i < sizeof(action_names) / sizeof(action_names[0]); i++) {
		if (asprintf(&p, "%s/.actions/%s", base, action_names[i]) < 0) {
			die("out of memory for", action_names[i]);
		}
		int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
		if (fd < 0) {
			die("cannot create", p);
		}
		(void)close(fd);
		free(p);
	}
	(void)atexit(remove_base);
	return 0;
}

/* The folder name the manifest asks for, or "t"; malloc'd. */
static char *folder_name(const char *buf, size_t len)
{
	json_t *j = json_loadb(buf, len, 0, NULL);
	const char *name = json_string_value(json_object_get(j, "name"));
	char *s = strdup(name && zr_name_valid(name) ? name : "t");
	json_decref(j);
	return s;
}

static void write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		die("cannot create", path);
	}
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			die("cannot write", path);
		}
		buf += n;
		len -= (size_t)n;
	}
	(void)close(fd);
}

/* Expands tmpl with data as the supervisor does at a start: the load checked every "${",
 * so a refusal can only be about a field (missing, or an object or array). */
static void expand(const char *tmpl, const json_t *data)
{
	char *out = NULL, *err = NULL;
	int r = zr_process_expand(tmpl, data, &out, &err);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -ENOMEM);
	FUZZ_CHECK((r == 0) == (out != NULL));
	FUZZ_CHECK(r != -EINVAL || (err && strncmp(err, "field '", 7) == 0));
	free(out);
	free(err);
}

/* A loaded process: its bounds and defaults kept, its built-in actions offered, its strings
 * expanded with no data and with some. */
static void use_process(const struct zr_template *t)
{
	const struct zr_process_def *d = t->proc;
	FUZZ_CHECK(d != NULL);
	FUZZ_CHECK(d->n_command >= 1 && d->n_command <= 256 && d->command[d->n_command] == NULL);
	FUZZ_CHECK(d->command[0][0] != '\0');
	FUZZ_CHECK(d->n_env <= 64 && d->env[d->n_env] == NULL);
	FUZZ_CHECK(d->ready_timeout > 0 && d->stop_timeout > 0 && d->start_interval > 0);
	FUZZ_CHECK(d->restart_delay >= 0 && d->restart_delay <= d->restart_delay_max);
	FUZZ_CHECK(d->start_burst >= 1);
	FUZZ_CHECK(zr_signal_name(d->stop_signal) && zr_signal_name(d->reload_signal));
	bool has_arg = d->ready == ZR_READY_TCP || d->ready == ZR_READY_UNIX ||
		       d->ready == ZR_READY_EXEC || d->ready == ZR_READY_LOG;
	FUZZ_CHECK(has_arg == (d->ready_arg != NULL));
	FUZZ_CHECK(d->ready != ZR_READY_DELAY || d->ready_delay > 0);
	if (d->ready == ZR_READY_EXEC) {
		const struct zr_action_def *a = zr_template_action(t, d->ready_arg);
		FUZZ_CHECK(a && a->path);
	}
	static const char *const builtins[] = {"start", "stop", "restart", "reload", "status"};
	for (size_t i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
		FUZZ_CHECK(zr_template_action(t, builtins[i]) != NULL);
	}
	json_t *none = json_object();
	json_t *some = json_pack("{si ss sb sf s{} s[] sn}", "port", 6379, "host", "h", "on", 1,
				 "ratio", 0.5, "obj", "list", "null");
	for (size_t i = 0; i < d->n_command; i++) {
		expand(d->command[i], none);
		expand(d->command[i], some);
	}
	for (size_t i = 0; i < d->n_env; i++) {
		expand(d->env[i], some);
	}
	if (d->ready_arg) {
		expand(d->ready_arg, some);
	}
	json_decref(some);
	json_decref(none);
}

/* What the robot does with a loaded template: look its actions up, create a service without
 * data (mkdir), validate empty arguments, rank its version. */
static void use(const struct zr_template *t, const char *name)
{
	FUZZ_CHECK(strcmp(t->name, name) == 0);
	FUZZ_CHECK(zr_semver_valid(t->version));
	FUZZ_CHECK(zr_semver_compare(t->version, t->version) == 0);
	FUZZ_CHECK(t->data != NULL);
	for (size_t i = 0; i < t->n_actions; i++) {
		const struct zr_action_def *a = &t->actions[i];
		FUZZ_CHECK(zr_template_action(t, a->name) == a);
		FUZZ_CHECK(a->args != NULL);
		FUZZ_CHECK(a->retry.tries >= 1 && a->retry.backoff >= 1 && a->retry.delay >= 0);
		FUZZ_CHECK(a->timeout >= 0 && a->every >= 0);
		/* Only a process brings built-ins, and only a built-in has no script. */
		FUZZ_CHECK(t->proc || a->builtin == ZR_BUILTIN_NONE);
		FUZZ_CHECK(a->path || a->builtin != ZR_BUILTIN_NONE);
		json_t *empty = json_object(), *out = NULL;
		char *err = NULL;
		(void)zr_schema_apply(a->args, empty, 0, &out, &err);
		json_decref(out);
		free(err);
		json_decref(empty);
	}
	FUZZ_CHECK((t->process != NULL) == (t->proc != NULL));
	FUZZ_CHECK(t->proc || !t->on);
	if (t->proc) {
		use_process(t);
	}
	const char *event;
	json_t *list;
	json_object_foreach(t->on, event, list) {
		FUZZ_CHECK(strcmp(event, "start") == 0 || strcmp(event, "ready") == 0 ||
			   strcmp(event, "exit") == 0 || strcmp(event, "fail") == 0);
		size_t i;
		json_t *x;
		json_array_foreach(list, i, x) {
			FUZZ_CHECK(zr_template_action(t, json_string_value(x)) != NULL);
		}
	}
	for (size_t i = 0; i < t->n_on_delete; i++) {
		FUZZ_CHECK(zr_template_action(t, t->on_delete[i]) != NULL);
	}
	json_t *empty = json_object(), *data = NULL;
	char *err = NULL;
	int r = zr_schema_apply(t->data, empty, ZR_SCHEMA_PARTIAL, &data, &err);
	if (r == -EINVAL) {
		fprintf(stderr, "mkdir's empty data fails: %s\n", err);
	}
	FUZZ_CHECK(r == 0 || r == -ENOMEM);
	free(zr_schema_missing(t->data, data));
	json_decref(data);
	json_decref(empty);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char *name = folder_name(buf, size);
	char *dir, *file, *actions;
	if (!name || asprintf(&dir, "%s/%s", base, name) < 0 ||
	    asprintf(&file, "%s/template.json", dir) < 0 ||
	    asprintf(&actions, "%s/actions", dir) < 0) {
		die("out of memory for", "paths");
	}
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		die("cannot create", dir);
	}
	if (symlink("../.actions", actions) < 0 && errno != EEXIST) {
		die("cannot create", actions);
	}
	write_file(file, buf, size);

	struct zr_template *t = NULL;
	char *err = NULL;
	int r = zr_template_load(dir, "local", &t, &err);
	FUZZ_CHECK(r <= 0);
	if (r == 0) {
		FUZZ_CHECK(t != NULL && err == NULL);
		use(t, name);
	} else {
		FUZZ_CHECK(t == NULL);
		FUZZ_CHECK(r == -ENOMEM || err != NULL);
	}
	zr_template_free(t);
	free(err);

	(void)unlink(file);
	(void)unlink(actions);
	(void)rmdir(dir);
	free(actions);
	free(file);
	free(dir);
	free(name);
	return 0;
}
