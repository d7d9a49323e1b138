/* Templates: loading and validating a template folder (template.json and actions/), and
 * semantic versions. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "template.h"
#include "env.h"
#include "process-def.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/name.h"

/* template.json comes from folders and git repositories; anything bigger is a mistake. */
#define MANIFEST_MAX (1024 * 1024)
/* Upper bound of timeouts, delays and periods, in seconds (about 31 years): keeps the
 * millisecond arithmetic of timers far from overflow. */
#define SECONDS_MAX 1e9
#define TRIES_MAX 1000

#define NAME_RULE "[a-z0-9][a-z0-9_.-]{0,62}"

/* What a load needs to report errors: "<file>: field '<path>': <reason>". */
struct loader {
	const char *file; /* absolute path of template.json */
	char **ret_err;
};

/* An invalid field of template.json: -EINVAL. */
static int field_fail(const struct loader *l, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int field_fail(const struct loader *l, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = NULL;
	int r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0) {
		return -ENOMEM;
	}
	return zr_fail(l->ret_err, -EINVAL, "%s: field '%s': %s", l->file, path, msg);
}

static int dup_string(const json_t *v, char **ret)
{
	char *s = strdup(json_string_value(v));
	if (!s) {
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

/* Seconds: a positive finite number up to SECONDS_MAX. */
static int parse_seconds(const struct loader *l, const char *path, const json_t *v, double *ret)
{
	if (!json_is_number(v) || json_number_value(v) <= 0) {
		return field_fail(l, path, "must be a positive number");
	}
	if (json_number_value(v) > SECONDS_MAX) {
		return field_fail(l, path, "must be at most %.0f seconds", SECONDS_MAX);
	}
	*ret = json_number_value(v);
	return 0;
}

static int parse_schema(const struct loader *l, const json_t *fields, const char *fields_path,
			const json_t *required, const char *required_path, struct zr_schema **ret);

/* The data schema: the "data" fields plus one field per role the template consumes, holding
 * the tree path of its producer ("node/local", "@remote/dc1/node/n1"), or with max > 1 a
 * string or a list of them. */
static int parse_data_schema(const struct loader *l, const struct zr_template *t,
			     const json_t *m, const json_t *data, struct zr_schema **ret)
{
	_cleanup_json_ json_t *fields = data ? json_deep_copy(data) : json_object();
	if (!fields) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_roles; i++) {
		const struct zr_template_role *role = &t->roles[i];
		bool list = role->max > 1;
		if (!json_object_get(fields, role->name) &&
		    json_object_set_new(fields, role->name,
					json_pack("{ss ss}", "type", list ? "producers" : "string",
						  "description",
						  list ? "producers: tree paths"
						       : "producer: a tree path")) < 0) {
			return -ENOMEM;
		}
	}
	return parse_schema(l, fields, "data", json_object_get(m, "required"), "required", ret);
}

/* Parses a schema and rewrites its error ("field 'port': ...", "required: ...") into one
 * naming the manifest and the full path ("<file>: field 'data.port': ..."). */
static int parse_schema(const struct loader *l, const json_t *fields, const char *fields_path,
			const json_t *required, const char *required_path, struct zr_schema **ret)
{
	_cleanup_free_ char *err = NULL;
	int r = zr_schema_parse(fields, required, ret, &err);
	if (r != -EINVAL) {
		return r;
	}
	if (strncmp(err, "field '", 7) == 0) {
		return zr_fail(l->ret_err, r, "%s: field '%s.%s", l->file, fields_path, err + 7);
	}
	if (strncmp(err, "required: ", 10) == 0) {
		return field_fail(l, required_path, "%s", err + 10);
	}
	return field_fail(l, fields_path, "%s", err);
}

static int parse_retry(const struct loader *l, const char *path, const json_t *v,
		       struct zr_retry *retry)
{
	if (!json_is_object(v)) {
		return field_fail(l, path, "must be an object");
	}
	const char *key;
	json_t *x;
	json_object_foreach((json_t *)v, key, x) {
		if (strcmp(key, "tries") == 0) {
			if (!json_is_integer(x) || json_integer_value(x) < 1 ||
			    json_integer_value(x) > TRIES_MAX) {
				return field_fail(l, path, "tries must be an integer from 1 to %d",
						  TRIES_MAX);
			}
			retry->tries = (int)json_integer_value(x);
		} else if (strcmp(key, "delay") == 0) {
			if (!json_is_number(x) || json_number_value(x) < 0 ||
			    json_number_value(x) > SECONDS_MAX) {
				return field_fail(l, path, "delay must be a number of seconds from 0 "
							   "to %.0f", SECONDS_MAX);
			}
			retry->delay = json_number_value(x);
		} else if (strcmp(key, "backoff") == 0) {
			/* The cap keeps delay * backoff^n finite for any realistic n. */
			if (!json_is_number(x) || json_number_value(x) < 1 ||
			    json_number_value(x) > 100) {
				return field_fail(l, path, "backoff must be a number from 1 to 100");
			}
			retry->backoff = json_number_value(x);
		} else {
			_cleanup_free_ char *p = NULL;
			if (asprintf(&p, "%s.%s", path, key) < 0) {
				return -ENOMEM;
			}
			return field_fail(l, p, "unknown key");
		}
	}
	return 0;
}

/* obj, the value of field (NULL when it is missing), must be an object. Calls fn (unless NULL)
 * for each of its members with the member's path "<field>.<key>" for its errors; stops at the
 * first failure. */
typedef int (*member_fn)(const struct loader *l, const char *path, const char *key, json_t *v,
			 void *data);
static int each_member(const struct loader *l, const char *field, const json_t *obj,
		       member_fn fn, void *data)
{
	if (obj && !json_is_object(obj)) {
		return field_fail(l, field, "must be an object");
	}
	if (!fn) {
		return 0;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s.%s", field, key) < 0) {
			return -ENOMEM;
		}
		int r = fn(l, path, key, v, data);
		if (r < 0) {
			return r;
		}
	}
	return 0;
}

/* An "env" object (core/env.h), read again from the manifest when an action starts. */
static int check_env(const struct loader *l, const char *path, const json_t *v)
{
	_cleanup_free_ char *why = NULL;
	int r = zr_env_check(v, &why);
	return r == -EINVAL ? field_fail(l, path, "%s", why) : r;
}

/* One key of an action's entry in "actions"; args and required are parsed together after. */
static int action_key(const struct loader *l, const char *path, const char *key, json_t *v,
		      void *data)
{
	struct zr_action_def *a = data;
	if (strcmp(key, "timeout") == 0) {
		return parse_seconds(l, path, v, &a->timeout);
	} else if (strcmp(key, "every") == 0) {
		return parse_seconds(l, path, v, &a->every);
	} else if (strcmp(key, "retry") == 0) {
		return parse_retry(l, path, v, &a->retry);
	} else if (strcmp(key, "description") == 0) {
		return json_is_string(v) ? dup_string(v, &a->description)
					 : field_fail(l, path, "must be a string");
	} else if (strcmp(key, "admin") == 0) {
		a->admin = json_is_true(v);
		return json_is_boolean(v) ? 0 : field_fail(l, path, "must be true or false");
	} else if (strcmp(key, "args") == 0) {
		return json_is_object(v) ? 0 : field_fail(l, path, "must be an object");
	} else if (strcmp(key, "required") == 0) {
		return json_is_array(v) ? 0
					: field_fail(l, path, "must be an array of argument names");
	} else if (strcmp(key, "env") == 0) {
		return check_env(l, path, v);
	}
	return field_fail(l, path, "unknown key");
}

/* Fills the manifest part of an action (everything but path) from its entry def, at path
 * "actions.<name>". */
static int parse_action(const struct loader *l, const char *path, const json_t *def,
			struct zr_action_def *a)
{
	int r = each_member(l, path, def, action_key, a);
	if (r < 0) {
		return r;
	}
	_cleanup_free_ char *args_path = NULL, *req_path = NULL;
	if (asprintf(&args_path, "%s.args", path) < 0 ||
	    asprintf(&req_path, "%s.required", path) < 0) {
		return -ENOMEM;
	}
	struct zr_schema *args = NULL;
	r = parse_schema(l, json_object_get(def, "args"), args_path, json_object_get(def, "required"),
			 req_path, &args);
	if (r < 0) {
		return r;
	}
	zr_schema_free(a->args);
	a->args = args;
	return 0;
}

static void action_init(struct zr_action_def *a)
{
	*a = (struct zr_action_def){
		.retry = {.tries = 1, .delay = 1, .backoff = 2},
	};
}

static void action_done(struct zr_action_def *a)
{
	free(a->name);
	free(a->path);
	zr_schema_free(a->args);
	free(a->description);
}

static int action_cmp(const void *a, const void *b)
{
	return strcmp(((const struct zr_action_def *)a)->name,
		      ((const struct zr_action_def *)b)->name);
}

/* Adds an action for each regular file in <dir>/actions (none when the folder is missing),
 * with default settings. Files starting with '.' (.gitkeep, editor swap files) are not
 * actions, nor are directories and other non-regular files. */
static int scan_actions(struct zr_template *t, char **ret_err)
{
	_cleanup_free_ char *adir = NULL;
	if (asprintf(&adir, "%s/actions", t->dir) < 0) {
		return -ENOMEM;
	}
	DIR *d = opendir(adir);
	if (!d) {
		if (errno == ENOENT) {
			return 0;
		}
		int r = -errno;
		return zr_fail(ret_err, r, "%s: %s", adir, strerror(-r));
	}
	int r = 0;
	size_t cap = 0;
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			if (errno != 0) {
				r = -errno;
				r = zr_fail(ret_err, r, "%s: %s", adir, strerror(-r));
			}
			break;
		}
		const char *name = de->d_name;
		if (name[0] == '.') {
			continue;
		}
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", adir, name) < 0) {
			r = -ENOMEM;
			break;
		}
		/* stat follows symlinks: a link to an executable file is an action. */
		struct stat st;
		if (stat(path, &st) < 0) {
			r = -errno;
			struct stat lst;
			if (r == -ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
				r = zr_fail(ret_err, -EINVAL, "%s: broken symbolic link", path);
			} else {
				r = zr_fail(ret_err, r, "%s: %s", path, strerror(-r));
			}
			break;
		}
		if (!S_ISREG(st.st_mode)) {
			continue;
		}
		if (!zr_name_valid(name)) {
			r = zr_fail(ret_err, -EINVAL,
				    "%s: bad action name '%s' (must match " NAME_RULE ")", path,
				    name);
			break;
		}
		/* access() alone is not enough: for root it ignores the mode bits of a file
		 * that has no execute bit at all. */
		if (!(st.st_mode & 0111) || access(path, X_OK) < 0) {
			r = zr_fail(ret_err, -EINVAL, "%s: action is not executable (mode %04o)",
				    path, (unsigned)(st.st_mode & 07777));
			break;
		}
		if (t->n_actions == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			struct zr_action_def *n = reallocarray(t->actions, ncap, sizeof(*n));
			if (!n) {
				r = -ENOMEM;
				break;
			}
			t->actions = n;
			cap = ncap;
		}
		struct zr_action_def *a = &t->actions[t->n_actions];
		action_init(a);
		t->n_actions++;
		a->name = strdup(name);
		a->path = TAKE_PTR(path);
		if (!a->name) {
			r = -ENOMEM;
			break;
		}
	}
	(void)closedir(d);
	if (r < 0) {
		return r;
	}
	if (t->n_actions > 0) {
		qsort(t->actions, t->n_actions, sizeof(*t->actions), action_cmp);
	}
	return 0;
}

/* Checks that v is an array of names of actions of t; with ret, copies them out. */
static int parse_action_list(const struct loader *l, const struct zr_template *t,
			     const char *path, const json_t *v, char ***ret, size_t *ret_n)
{
	if (!json_is_array(v)) {
		return field_fail(l, path, "must be an array of action names");
	}
	size_t i;
	json_t *x;
	json_array_foreach(v, i, x) {
		if (!json_is_string(x)) {
			return field_fail(l, path, "must be an array of action names");
		}
		if (!zr_template_action(t, json_string_value(x))) {
			return field_fail(l, path, "unknown action '%s'", json_string_value(x));
		}
	}
	if (!ret) {
		return 0;
	}
	size_t n = json_array_size(v);
	char **names = calloc(n ? n : 1, sizeof(*names));
	if (!names) {
		return -ENOMEM;
	}
	json_array_foreach(v, i, x) {
		names[i] = strdup(json_string_value(x));
		if (!names[i]) {
			while (i > 0) {
				free(names[--i]);
			}
			free(names);
			return -ENOMEM;
		}
	}
	*ret = names;
	*ret_n = n;
	return 0;
}

static int read_manifest(const char *file, json_t **ret, char **ret_err)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		return zr_fail(ret_err, r, "%s: %s", file, strerror(-r));
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		return zr_fail(ret_err, r, "%s: %s", file, strerror(-r));
	}
	if (!S_ISREG(st.st_mode)) {
		return zr_fail(ret_err, -EINVAL, "%s: not a regular file", file);
	}
	if (st.st_size > MANIFEST_MAX) {
		return zr_fail(ret_err, -EFBIG, "%s: larger than %d bytes", file, MANIFEST_MAX);
	}
	_cleanup_free_ char *data = malloc((size_t)st.st_size + 1);
	if (!data) {
		return -ENOMEM;
	}
	/* The file may change under us: read at most one byte more than its size, so that
	 * growth past the limit is noticed rather than read without bound. */
	size_t len = 0;
	for (;;) {
		ssize_t n = read(fd, data + len, (size_t)st.st_size + 1 - len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			int r = -errno;
			return zr_fail(ret_err, r, "%s: %s", file, strerror(-r));
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
		if (len > (size_t)st.st_size) {
			return zr_fail(ret_err, -EIO, "%s: changed while being read", file);
		}
	}
	json_error_t e;
	json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		return zr_fail(ret_err, -EINVAL, "%s: invalid JSON: %s (line %d, column %d)", file,
			       e.text, e.line, e.column);
	}
	if (!json_is_object(j)) {
		json_decref(j);
		return zr_fail(ret_err, -EINVAL, "%s: must hold a JSON object", file);
	}
	*ret = j;
	return 0;
}

/* The absolute form of dir without trailing slashes; symlinks are kept, so the folder's
 * name is the one it was found under. */
static char *absolute_dir(const char *dir)
{
	char *abs;
	if (dir[0] == '/') {
		abs = strdup(dir);
	} else {
		_cleanup_free_ char *cwd = getcwd(NULL, 0);
		if (!cwd || asprintf(&abs, "%s/%s", cwd, dir) < 0) {
			return NULL;
		}
	}
	if (!abs) {
		return NULL;
	}
	size_t n = strlen(abs);
	while (n > 1 && abs[n - 1] == '/') {
		abs[--n] = '\0';
	}
	return abs;
}

/* The string member key of the manifest m, copied to *ret (left alone when it is missing and
 * not required); valid, when given, says whether its value is right, and rule how. */
static int parse_string(const struct loader *l, const json_t *m, const char *key, bool required,
			bool (*valid)(const char *s), const char *rule, char **ret)
{
	const json_t *v = json_object_get(m, key);
	if (!v) {
		return required ? field_fail(l, key, "required") : 0;
	}
	if (!json_is_string(v) || (valid && !valid(json_string_value(v)))) {
		return field_fail(l, key, "must be %s", rule);
	}
	return dup_string(v, ret);
}

/* The member key of the manifest m (NULL when it is missing), checked by each_member. */
static int parse_object(const struct loader *l, const json_t *m, const char *key, member_fn fn,
			void *data, json_t **ret)
{
	json_t *v = json_object_get(m, key);
	int r = each_member(l, key, v, fn, data);
	if (r == 0) {
		*ret = v;
	}
	return r;
}

/* "actions.<name>": the manifest part of an action, which must have its file. */
static int manifest_action(const struct loader *l, const char *path, const char *key, json_t *v,
			   void *data)
{
	struct zr_template *t = data;
	if (!zr_name_valid(key)) {
		return field_fail(l, path, "bad action name (must match " NAME_RULE ")");
	}
	/* The array is ours; zr_template_action only hands it out as const. */
	struct zr_action_def *a = (struct zr_action_def *)zr_template_action(t, key);
	if (!a) {
		return field_fail(l, path, "no executable file %s/actions/%s", t->dir, key);
	}
	return parse_action(l, path, v, a);
}

/* "on.<event>": the actions an event of the process runs (built-ins included). */
static int manifest_on(const struct loader *l, const char *path, const char *key, json_t *v,
		       void *data)
{
	static const char *const events[] = {"start", "ready", "exit", "fail"};
	size_t i = 0;
	while (i < sizeof(events) / sizeof(events[0]) && strcmp(events[i], key) != 0) {
		i++;
	}
	if (i == sizeof(events) / sizeof(events[0])) {
		return field_fail(l, path, "unknown event (want start, ready, exit or fail)");
	}
	return parse_action_list(l, data, path, v, NULL, NULL);
}

/* The supervisor's actions, offered when the template has a process (DESIGN §6). */
static const struct {
	const char *name;
	enum zr_builtin builtin;
	const char *description;
} builtins[] = {
	{"reload", ZR_BUILTIN_RELOAD, "Send the reload signal to the server"},
	{"restart", ZR_BUILTIN_RESTART, "Restart the server and wait until the new one is ready"},
	{"start", ZR_BUILTIN_START, "Start the server and wait until it is ready"},
	{"status", ZR_BUILTIN_STATUS, "Show the server's process status"},
	{"stop", ZR_BUILTIN_STOP, "Stop the server and wait until its whole process tree is gone"},
};

/* Adds the built-in actions the template does not have as files. A template's own start or
 * stop script stays and runs before the supervisor's step (start: to write the server's
 * configuration from data; stop: to save state); its own restart, reload or status replaces
 * the built-in. */
static int add_builtins(struct zr_template *t, char **ret_err)
{
	size_t n = sizeof(builtins) / sizeof(builtins[0]);
	struct zr_action_def *all = reallocarray(t->actions, t->n_actions + n, sizeof(*all));
	if (!all) {
		return -ENOMEM;
	}
	t->actions = all;
	size_t n_files = t->n_actions;
	for (size_t i = 0; i < n; i++) {
		/* The array is only sorted up to n_files while built-ins are appended. */
		struct zr_action_def key = {.name = (char *)builtins[i].name};
		struct zr_action_def *own =
			n_files == 0 ? NULL
				     : bsearch(&key, t->actions, n_files, sizeof(*t->actions),
					       action_cmp);
		if (own) {
			if (builtins[i].builtin == ZR_BUILTIN_START ||
			    builtins[i].builtin == ZR_BUILTIN_STOP) {
				own->builtin = builtins[i].builtin;
			}
			continue;
		}
		struct zr_action_def *a = &t->actions[t->n_actions];
		action_init(a);
		t->n_actions++;
		a->builtin = builtins[i].builtin;
		a->name = strdup(builtins[i].name);
		a->description = strdup(builtins[i].description);
		if (!a->name || !a->description) {
			return -ENOMEM;
		}
		int r = zr_schema_parse(NULL, NULL, &a->args, ret_err);
		if (r < 0) {
			return r;
		}
	}
	qsort(t->actions, t->n_actions, sizeof(*t->actions), action_cmp);
	return 0;
}

/* "process": parsed by process-def.c, whose error gets the file in front; then the built-in
 * actions. ready.exec may only name an action file, not a built-in. */
static int load_process(struct zr_template *t, const struct loader *l)
{
	_cleanup_free_ char **names = calloc(t->n_actions + 1, sizeof(*names));
	if (!names) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < t->n_actions; i++) {
		names[i] = t->actions[i].name;
	}
	_cleanup_free_ char *err = NULL;
	int r = zr_process_def_parse(t->process, names, t->n_actions, &t->proc, &err);
	if (r == -EINVAL) {
		return zr_fail(l->ret_err, r, "%s: %s", l->file, err);
	}
	if (r < 0) {
		return r;
	}
	return add_builtins(t, l->ret_err);
}

/* Producers a role may name at most: a list role's paths are checked one by one, and some of
 * them by a request to another robot. */
#define ROLE_MAX 1000

static int role_cmp(const void *a, const void *b)
{
	return strcmp(((const struct zr_template_role *)a)->name, ((const struct zr_template_role *)b)->name);
}

/* "consumes.<role>.min|max": an integer in [lo, ROLE_MAX]. */
static int parse_count(const struct loader *l, const char *path, const json_t *v, unsigned lo,
		       unsigned *ret)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo ||
	    json_integer_value(v) > ROLE_MAX) {
		return field_fail(l, path, "must be an integer from %u to %u", lo, ROLE_MAX);
	}
	*ret = (unsigned)json_integer_value(v);
	return 0;
}

/* "consumes.<role>": {"template", "min", "max", "auto"} into t->roles (sorted afterwards by
 * load); whether the producers exist is the data's business, checked at each change. */
static int manifest_role(const struct loader *l, const char *path, const char *key, json_t *v,
			 void *data)
{
	struct zr_template *t = data;
	if (!zr_name_valid(key)) {
		return field_fail(l, path, "bad role name (must match " NAME_RULE ")");
	}
	if (!json_is_object(v)) {
		return field_fail(l, path, "must be an object");
	}
	struct zr_template_role *all = reallocarray(t->roles, t->n_roles + 1, sizeof(*all));
	if (!all) {
		return -ENOMEM;
	}
	t->roles = all;
	struct zr_template_role *role = &t->roles[t->n_roles];
	*role = (struct zr_template_role){.min = 0, .max = 1};
	if (!(role->name = strdup(key))) {
		return -ENOMEM;
	}
	t->n_roles++;
	const char *k;
	json_t *x;
	json_object_foreach(v, k, x) {
		_cleanup_free_ char *sub = NULL;
		if (asprintf(&sub, "%s.%s", path, k) < 0) {
			return -ENOMEM;
		}
		int r = 0;
		if (strcmp(k, "template") == 0) {
			if (!json_is_string(x) || !zr_name_valid(json_string_value(x))) {
				return field_fail(l, sub, "must be a template name matching " NAME_RULE);
			}
			r = dup_string(x, &role->template);
		} else if (strcmp(k, "min") == 0) {
			r = parse_count(l, sub, x, 0, &role->min);
		} else if (strcmp(k, "max") == 0) {
			r = parse_count(l, sub, x, 1, &role->max);
		} else if (strcmp(k, "auto") == 0) {
			if (!json_is_boolean(x)) {
				return field_fail(l, sub, "must be true or false");
			}
			role->auto_create = json_is_true(x);
		} else {
			return field_fail(l, sub, "unknown key");
		}
		if (r < 0) {
			return r;
		}
	}
	if (role->min > role->max) {
		return field_fail(l, path, "min %u is more than max %u", role->min, role->max);
	}
	/* auto makes one producer, with the template's defaults: it needs to know which
	 * template, and cannot make up several. */
	if (role->auto_create && !role->template) {
		return field_fail(l, path, "auto needs template");
	}
	if (role->auto_create && role->min > 1) {
		return field_fail(l, path, "auto cannot satisfy min %u (it creates one producer)",
				  role->min);
	}
	return 0;
}

const struct zr_template_role *zr_template_role(const struct zr_template *t, const char *name)
{
	if (t->n_roles == 0) {
		return NULL;
	}
	struct zr_template_role key = {.name = (char *)name};
	/* bsearch may not be given a NULL base, even for no element. */
	return t->n_roles ? bsearch(&key, t->roles, t->n_roles, sizeof(*t->roles), role_cmp)
			  : NULL;
}

/* Fills t, whose dir is set, from l->file. On failure t holds what was parsed so far and the
 * caller frees it. */
static int load(struct zr_template *t, const struct loader *l, const char *source)
{
	int r = read_manifest(l->file, &t->manifest, l->ret_err);
	if (r < 0) {
		return r;
	}
	json_t *m = t->manifest;

	/* Every top-level key first, so a typo is reported before its consequences. */
	static const char *const keys[] = {"name", "version", "description", "users", "data",
					   "required", "actions", "process", "consumes", "on_delete",
					   "on", "env"};
	const char *key;
	json_t *v;
	json_object_foreach(m, key, v) {
		size_t i = 0;
		while (i < sizeof(keys) / sizeof(keys[0]) && strcmp(keys[i], key) != 0) {
			i++;
		}
		if (i == sizeof(keys) / sizeof(keys[0])) {
			return field_fail(l, key, "unknown key");
		}
	}

	r = parse_string(l, m, "name", true, zr_name_valid, "a name matching " NAME_RULE,
			 &t->name);
	if (r < 0) {
		return r;
	}
	const char *base = strrchr(t->dir, '/') + 1;
	if (strcmp(base, t->name) != 0) {
		return field_fail(l, "name", "'%s' differs from the folder's name '%s'", t->name,
				  base);
	}
	r = parse_string(l, m, "version", true, zr_semver_valid,
			 "a semantic version like \"1.2.0\"", &t->version);
	if (r < 0) {
		return r;
	}
	if (asprintf(&t->uid, "%s/%s/%s", source, t->name, t->version) < 0) {
		t->uid = NULL;
		return -ENOMEM;
	}
	r = parse_string(l, m, "description", false, NULL, "a string", &t->description);
	if (r == 0 && json_object_get(m, "env")) {
		r = check_env(l, "env", json_object_get(m, "env"));
	}
	if (r < 0) {
		return r;
	}
	/* Not offered to user tokens unless the template says so: least privilege. */
	json_t *users = json_object_get(m, "users");
	if (users && !json_is_boolean(users)) {
		return field_fail(l, "users", "must be true or false");
	}
	t->users = json_is_true(users);

	/* The roles first: a role that takes a list of producers is such a field of the data. */
	r = parse_object(l, m, "consumes", manifest_role, t, &t->consumes);
	if (r < 0) {
		return r;
	}
	if (t->n_roles > 1) {
		qsort(t->roles, t->n_roles, sizeof(*t->roles), role_cmp);
	}
	json_t *data = NULL;
	r = parse_object(l, m, "data", NULL, NULL, &data);
	if (r == 0) {
		r = parse_data_schema(l, t, m, data, &t->data);
	}
	if (r < 0) {
		return r;
	}

	r = scan_actions(t, l->ret_err);
	json_t *actions;
	if (r == 0) {
		r = parse_object(l, m, "actions", manifest_action, t, &actions);
	}
	if (r < 0) {
		return r;
	}
	/* Actions that only exist as files take every default, including an empty schema. */
	for (size_t i = 0; i < t->n_actions; i++) {
		if (!t->actions[i].args) {
			r = zr_schema_parse(NULL, NULL, &t->actions[i].args, l->ret_err);
			if (r < 0) {
				return r;
			}
		}
	}

	t->process = json_object_get(m, "process");
	if (t->process) {
		r = load_process(t, l);
		if (r < 0) {
			return r;
		}
	}

	v = json_object_get(m, "on_delete");
	if (v) {
		r = parse_action_list(l, t, "on_delete", v, &t->on_delete, &t->n_on_delete);
		if (r < 0) {
			return r;
		}
	}
	/* The events of "on" are the process's: without one, nothing would ever fire them. */
	if (json_object_get(m, "on") && !t->process) {
		return field_fail(l, "on", "needs 'process'");
	}
	return parse_object(l, m, "on", manifest_on, t, &t->on);
}

int zr_template_load(const char *dir, const char *source, struct zr_template **ret,
		     char **ret_err)
{
	struct zr_template *t = calloc(1, sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	int r = -ENOMEM;
	char *file = NULL;
	t->dir = absolute_dir(dir);
	if (t->dir && asprintf(&file, "%s/template.json", t->dir) >= 0) {
		struct loader l = {.file = file, .ret_err = ret_err};
		r = load(t, &l, source);
		free(file);
	}
	if (r < 0) {
		zr_template_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

struct zr_template *zr_template_free(struct zr_template *t)
{
	if (!t) {
		return NULL;
	}
	free(t->name);
	free(t->version);
	free(t->uid);
	free(t->dir);
	free(t->description);
	json_decref(t->manifest);
	zr_schema_free(t->data);
	for (size_t i = 0; i < t->n_actions; i++) {
		action_done(&t->actions[i]);
	}
	free(t->actions);
	for (size_t i = 0; i < t->n_on_delete; i++) {
		free(t->on_delete[i]);
	}
	free(t->on_delete);
	zr_process_def_free(t->proc);
	for (size_t i = 0; i < t->n_roles; i++) {
		free(t->roles[i].name);
		free(t->roles[i].template);
	}
	free(t->roles);
	free(t);
	return NULL;
}

const struct zr_action_def *zr_template_action(const struct zr_template *t, const char *name)
{
	if (t->n_actions == 0) {
		return NULL;
	}
	struct zr_action_def key = {.name = (char *)name};
	return bsearch(&key, t->actions, t->n_actions, sizeof(*t->actions), action_cmp);
}

/* Semantic versions, https://semver.org/ 2.0.0. */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ident_char(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!is_digit(s[i])) {
			return false;
		}
	}
	return true;
}

/* A numeric identifier: "0" or digits without a leading zero. Returns the end or NULL. */
static const char *parse_number(const char *s)
{
	size_t n = 0;
	while (is_digit(s[n])) {
		n++;
	}
	if (n == 0 || (n > 1 && s[0] == '0')) {
		return NULL;
	}
	return s + n;
}

/* Dot-separated non-empty identifiers; in a prerelease, numeric ones have no leading zero. */
static const char *parse_identifiers(const char *s, bool prerelease)
{
	for (;;) {
		size_t n = 0;
		while (is_ident_char(s[n])) {
			n++;
		}
		if (n == 0 || (prerelease && n > 1 && s[0] == '0' && all_digits(s, n))) {
			return NULL;
		}
		s += n;
		if (*s != '.') {
			return s;
		}
		s++;
	}
}

bool zr_semver_valid(const char *s)
{
	if (!s) {
		return false;
	}
	for (int i = 0; i < 3; i++) {
		s = parse_number(s);
		if (!s) {
			return false;
		}
		if (i < 2) {
			if (*s != '.') {
				return false;
			}
			s++;
		}
	}
	if (*s == '-') {
		s = parse_identifiers(s + 1, true);
		if (!s) {
			return false;
		}
	}
	if (*s == '+') {
		s = parse_identifiers(s + 1, false);
		if (!s) {
			return false;
		}
	}
	return *s == '\0';
}

/* Numbers without leading zeros compare by length, then digit by digit: no overflow. */
static int cmp_numeric(const char *a, size_t an, const char *b, size_t bn)
{
	if (an != bn) {
		return an < bn ? -1 : 1;
	}
	int c = memcmp(a, b, an);
	return (c > 0) - (c < 0);
}

int zr_semver_compare(const char *a, const char *b)
{
	for (int i = 0; i < 3; i++) {
		size_t an = strspn(a, "0123456789"), bn = strspn(b, "0123456789");
		int c = cmp_numeric(a, an, b, bn);
		if (c != 0) {
			return c;
		}
		a += an + (i < 2);
		b += bn + (i < 2);
	}
	/* A version without a prerelease ranks above any with one; build metadata is
	 * ignored. */
	bool apre = *a == '-', bpre = *b == '-';
	if (!apre || !bpre) {
		return apre == bpre ? 0 : apre ? -1 : 1;
	}
	a++;
	b++;
	for (;;) {
		size_t an = strcspn(a, ".+"), bn = strcspn(b, ".+");
		bool anum = all_digits(a, an), bnum = all_digits(b, bn);
		int c;
		if (anum && bnum) {
			c = cmp_numeric(a, an, b, bn);
		} else if (anum != bnum) {
			c = anum ? -1 : 1; /* numeric identifiers rank below alphanumeric ones */
		} else {
			c = memcmp(a, b, an < bn ? an : bn);
			c = c != 0 ? c : (an > bn) - (an < bn);
			c = (c > 0) - (c < 0);
		}
		if (c != 0) {
			return c;
		}
		a += an;
		b += bn;
		bool amore = *a == '.', bmore = *b == '.';
		if (!amore || !bmore) {
			/* A larger set of identifiers ranks higher when all before are equal. */
			return amore == bmore ? 0 : amore ? 1 : -1;
		}
		a++;
		b++;
	}
}
