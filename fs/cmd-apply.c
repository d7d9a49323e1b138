/* zrobot apply, export and graph (DESIGN §8): a blueprint sent to the running robot, through its
 * mount (@robot/blueprint, written and read on one descriptor) or over HTTP (POST
 * /v1/@robot/blueprint); the robot read back from its mount as a blueprint; @robot/graph. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blueprint.h"
#include "client.h"
#include "cmd.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/name.h"

/* ---- small helpers ---- */

static int read_path(const char *path, struct zr_buf *b, size_t max)
{
	int fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	int err = zr_client_read_fd(fd, b, max);
	if (fd != STDIN_FILENO) {
		close(fd);
	}
	return err;
}

/* ---- zrobot apply ---- */

struct apply_args {
	const char *file;
	const char *name; /* --name, or the file's base name; NULL for stdin without --name */
	bool name_explicit; /* --name given */
	bool dry_run, prune;
	const char *mount;
	const char *url, *token_file;
	char *name_mem;
};

void zr_cmd_apply_usage(FILE *f)
{
	fprintf(f, "Usage: zrobot apply FILE|- [--dry-run] [--prune] [--name NAME]\n"
		   "                    [--mount DIR | --url URL --token-file FILE]\n");
}

void zr_cmd_export_usage(FILE *f)
{
	fprintf(f, "Usage: zrobot export [TEMPLATE/SERVICE...] [--output FILE] [--mount DIR]\n");
}

void zr_cmd_graph_usage(FILE *f)
{
	fprintf(f, "Usage: zrobot graph [--mount DIR]\n");
}

static int apply_usage(void)
{
	zr_cmd_apply_usage(stderr);
	return 2;
}

/* --name's default: the file's base name without its extension ("shop.yaml" → "shop"). */
static char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *name = strdup(slash ? slash + 1 : path);
	char *dot = name ? strrchr(name, '.') : NULL;
	if (dot && dot != name) {
		*dot = '\0';
	}
	return name;
}

/* How an outcome line shows in the plan: the verb's sign and its name in the present tense,
 * coloured on a terminal. "error: ..." goes to stderr. */
static void print_line(const char *line, bool tty)
{
	static const struct {
		const char *verb, *sign, *shown, *color;
	} verbs[] = {
		{"created", "+", "create", "\033[32m"},   {"create", "+", "create", "\033[32m"},
		{"updated", "~", "update", "\033[33m"},   {"update", "~", "update", "\033[33m"},
		{"unchanged", "=", "unchanged", "\033[2m"}, {"deleted", "-", "delete", "\033[31m"},
		{"delete", "-", "delete", "\033[31m"},    {"queued", ">", "queued", ""},
		{"queue", ">", "queue", ""},              {"failed", "!", "failed", "\033[1;31m"},
	};
	if (strncmp(line, "error: ", 7) == 0) {
		fprintf(stderr, "zrobot: blueprint refused: %s\n", line + 7);
		return;
	}
	size_t n = strcspn(line, " ");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strlen(verbs[i].verb) == n && strncmp(line, verbs[i].verb, n) == 0) {
			const char *color = tty ? verbs[i].color : "";
			printf("%s%s %s%s%s\n", color, verbs[i].sign, verbs[i].shown, line + n,
			       *color ? "\033[0m" : "");
			return;
		}
	}
	printf("%s\n", line); /* a line this zrobot does not know: as it is */
}

static void print_outcome(const char *text, size_t len, bool tty)
{
	_cleanup_free_ char *copy = strndup(text, len);
	char *save = NULL;
	for (char *l = copy ? strtok_r(copy, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		print_line(l, tty);
	}
}

/* The "# zrobot:" directive the robot reads for what the mount cannot carry otherwise. It goes
 * at the end, so that the positions the outcome names are the file's own. When the file has
 * one already (the first one counts), our words are added at the end of that line instead:
 * the last of two names wins, and the file's name stays unless --name was given. */
static int with_directive(const struct zr_buf *text, const struct apply_args *a, struct zr_buf *ret)
{
	char flags[32], words[256];
	snprintf(flags, sizeof(flags), "%s%s", a->dry_run ? " dry-run" : "", a->prune ? " prune" : "");
	snprintf(words, sizeof(words), "%s%s%s", a->name_explicit ? " name=" : "",
		 a->name_explicit ? a->name : "", flags);
	const char *p = text->data ? text->data : "";
	size_t len = text->len;
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(p + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - p) : len, i = at;
		while (i < end && (p[i] == ' ' || p[i] == '\t')) {
			i++;
		}
		if (i < end && p[i] == '#') {
			i++;
			while (i < end && (p[i] == ' ' || p[i] == '\t')) {
				i++;
			}
			if (end - i >= 7 && memcmp(p + i, "zrobot:", 7) == 0) {
				/* Before a '\r' that ends the line, if any. */
				size_t cut = end > at && p[end - 1] == '\r' ? end - 1 : end;
				if (zr_buf_append(ret, p, cut) < 0 || zr_buf_puts(ret, words) < 0 ||
				    zr_buf_append(ret, p + cut, len - cut) < 0) {
					return -ENOMEM;
				}
				return 0;
			}
		}
		at = nl ? end + 1 : len;
	}
	if (zr_buf_append(ret, p, len) < 0 ||
	    (len > 0 && p[len - 1] != '\n' && zr_buf_puts(ret, "\n") < 0) ||
	    zr_buf_printf(ret, "# zrobot:%s%s%s\n", a->name ? " name=" : "", a->name ? a->name : "",
			  flags) < 0) {
		return -ENOMEM;
	}
	return 0;
}

/* Through the mount: one descriptor, written then read; the read after the outcome fails with
 * the refusal's errno when the blueprint was refused. */
static int apply_mount(struct zr_client *c, const struct apply_args *a, const struct zr_buf *text,
		       bool tty)
{
	struct zr_buf body = {0}, out = {0};
	if (with_directive(text, a, &body) < 0) {
		fprintf(stderr, "zrobot: out of memory\n");
		return 1;
	}
	int read_err = 0;
	int err = zr_client_write_read(c, "@robot/blueprint", body.data, body.len, SIZE_MAX, &out,
				       &read_err);
	if (err < 0) {
		fprintf(stderr, "zrobot: cannot send the blueprint to %s/@robot/blueprint: %s\n",
			c->shown, strerror(-err));
	} else {
		print_outcome(out.data ? out.data : "", out.len, tty);
		if (read_err < 0 && out.len == 0) {
			fprintf(stderr, "zrobot: cannot apply the blueprint through "
					"%s/@robot/blueprint: %s\n", c->shown, strerror(-read_err));
		}
	}
	zr_buf_done(&body);
	zr_buf_done(&out);
	return err < 0 || read_err < 0 ? 1 : 0;
}

/* The outcome JSON as the mount's lines: "verb path", "queued path action task N", "failed
 * path why", then "error: ...". */
static void print_json_outcome(const json_t *o, bool tty)
{
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(o, "items"), i, it) {
		const char *verb = json_string_value(json_object_get(it, "verb"));
		const char *path = json_string_value(json_object_get(it, "path"));
		const char *action = json_string_value(json_object_get(it, "action"));
		const char *why = json_string_value(json_object_get(it, "why"));
		json_int_t task = json_integer_value(json_object_get(it, "task"));
		_cleanup_free_ char *line = NULL;
		int n;
		if (action && task) {
			n = asprintf(&line, "%s %s %s task %lld", verb ? verb : "?", path ? path : "?",
				     action, (long long)task);
		} else {
			n = asprintf(&line, "%s %s%s%s%s%s", verb ? verb : "?", path ? path : "?",
				     action ? " " : "", action ? action : "", why ? " " : "",
				     why ? why : "");
		}
		if (n >= 0) {
			print_line(line, tty);
		}
	}
	const char *error = json_string_value(json_object_get(o, "error"));
	if (error) {
		fprintf(stderr, "zrobot: blueprint refused: %s\n", error);
	}
}

/* Over HTTP: POST /v1/@robot/blueprint, the options as query parameters. */
static int apply_http(struct zr_client *c, const struct apply_args *a, const struct zr_buf *text,
		      bool tty)
{
	_cleanup_free_ char *query = NULL;
	if (asprintf(&query, "?dry_run=%d&prune=%d%s%s", a->dry_run, a->prune,
		     a->name ? "&name=" : "", a->name ? a->name : "") < 0) {
		fprintf(stderr, "zrobot: out of memory\n");
		return 1;
	}
	struct zr_buf resp = {0};
	long code = 0;
	int err = zr_client_post(c, "@robot/blueprint", query, "application/yaml",
				 text->data ? text->data : "", text->len, &resp, &code);
	if (err == -ENOMEM) {
		fprintf(stderr, "zrobot: out of memory\n");
	}
	if (err < 0) {
		return 1;
	}
	int status = 1;
	json_error_t e;
	json_t *o = json_loadb(resp.data ? resp.data : "", resp.len, 0, &e);
	if (o && json_object_get(o, "items")) {
		print_json_outcome(o, tty);
		status = code == 200 ? 0 : 1;
	} else {
		/* Not an outcome: an error answer {"error","errno","detail"} (401, 413...). */
		const char *detail = json_string_value(json_object_get(o, "detail"));
		fprintf(stderr, "zrobot: %s answered %ld: %s\n", c->shown, code,
			detail ? detail : resp.data ? resp.data : "");
	}
	json_decref(o);
	zr_buf_done(&resp);
	return status;
}

int zr_cmd_apply(int argc, char **argv)
{
	struct apply_args a = {0};
	for (int i = 0; i < argc; i++) {
		const char *o = argv[i];
		bool has_value = i + 1 < argc;
		if (strcmp(o, "--dry-run") == 0) {
			a.dry_run = true;
		} else if (strcmp(o, "--prune") == 0) {
			a.prune = true;
		} else if (strcmp(o, "--name") == 0 && has_value) {
			a.name = argv[++i];
			a.name_explicit = true;
		} else if (strcmp(o, "--mount") == 0 && has_value) {
			a.mount = argv[++i];
		} else if (strcmp(o, "--url") == 0 && has_value) {
			a.url = argv[++i];
		} else if (strcmp(o, "--token-file") == 0 && has_value) {
			a.token_file = argv[++i];
		} else if ((o[0] != '-' || strcmp(o, "-") == 0) && !a.file) {
			a.file = o;
		} else {
			return apply_usage();
		}
	}
	if (!a.file || (a.url && !a.token_file) || (!a.url && a.token_file) || (a.url && a.mount)) {
		return apply_usage();
	}
	if (!a.name && strcmp(a.file, "-") != 0) {
		a.name = a.name_mem = base_name(a.file);
	}
	if (a.name && !zr_name_valid(a.name)) {
		fprintf(stderr, "zrobot: '%s' is not a blueprint name ([a-z0-9][a-z0-9_.-]*): "
				"give one with --name\n", a.name);
		free(a.name_mem);
		return 2;
	}
	struct zr_buf text = {0};
	int err = read_path(a.file, &text, ZR_BP_MAX_BYTES);
	int status = 1;
	if (err == -E2BIG) {
		fprintf(stderr, "zrobot: %s: a blueprint is at most %u bytes\n", a.file, ZR_BP_MAX_BYTES);
	} else if (err < 0) {
		fprintf(stderr, "zrobot: cannot read %s: %s\n", a.file, strerror(-err));
	} else {
		struct zr_client c;
		bool tty = isatty(STDOUT_FILENO);
		err = zr_client_init(&c, a.mount, a.url, a.token_file);
		if (err == -ENOMEM) {
			fprintf(stderr, "zrobot: out of memory\n");
		} else if (err == 0) {
			status = a.url ? apply_http(&c, &a, &text, tty) : apply_mount(&c, &a, &text, tty);
			zr_client_close(&c);
		}
	}
	zr_buf_done(&text);
	free(a.name_mem);
	return status;
}

/* ---- zrobot export ---- */

struct export {
	struct zr_client *c; /* through the mount */
	bool admin;      /* local root or the robot's user: secret values as they are */
	bool redacted;   /* a secret value was written as "***" */
	char **only;     /* T/S to export, or none: all */
	size_t n_only;
	FILE *out;
	int status;
};

/* A YAML double-quoted scalar: JSON's string syntax is a subset of it. */
static void put_scalar(FILE *f, const char *s)
{
	json_t *j = json_string(s);
	_cleanup_free_ char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	fputs(text ? text : "\"\"", f);
}

/* Replaces the values of the fields the template's manifest marks secret by "***". */
static void redact(struct export *x, const char *tmpl, json_t *data)
{
	char path[PATH_MAX];
	_cleanup_json_ json_t *m = NULL;
	snprintf(path, sizeof(path), "@robot/templates/%s/manifest", tmpl);
	/* Without a manifest nothing is known to be secret. */
	(void)zr_client_read_json(x->c, path, &m);
	const char *field;
	json_t *spec;
	json_object_foreach(json_object_get(m, "data"), field, spec) {
		if (json_is_true(json_object_get(spec, "secret")) && json_object_get(data, field)) {
			(void)json_object_set_new(data, field, json_string("***"));
			x->redacted = true;
		}
	}
}

static bool wanted(const struct export *x, const char *path)
{
	if (x->n_only == 0) {
		return true;
	}
	for (size_t i = 0; i < x->n_only; i++) {
		if (strcmp(x->only[i], path) == 0) {
			return true;
		}
	}
	return false;
}

/* One long-form entry: template, name, version, parent where set, data in JSON's flow form
 * (valid YAML, so that every value comes back with its type). */
static void export_service(struct export *x, const char *tmpl, const char *name)
{
	char path[PATH_MAX];
	_cleanup_json_ json_t *info = NULL, *data = NULL;
	snprintf(path, sizeof(path), "%s/%s/info", tmpl, name);
	int err = zr_client_read_json(x->c, path, &info);
	/* The message names data even when info failed, as it always did. */
	snprintf(path, sizeof(path), "%s/%s/data", tmpl, name);
	if (err == 0) {
		err = zr_client_read_json(x->c, path, &data);
	}
	if (err < 0) {
		fprintf(stderr, "zrobot: cannot read %s/%s: %s\n", x->c->shown, path, strerror(-err));
		x->status = 1;
		return;
	}
	if (!x->admin) {
		redact(x, tmpl, data);
	}
	/* "T/S", as the parent symlink names it (README "Parents and children"). */
	const char *parent = json_string_value(json_object_get(info, "parent"));
	const char *version = json_string_value(json_object_get(info, "version"));
	_cleanup_free_ char *d = json_dumps(data, JSON_PRESERVE_ORDER);
	fputs("  - template: ", x->out);
	put_scalar(x->out, tmpl);
	fputs("\n    name: ", x->out);
	put_scalar(x->out, name);
	if (version) {
		fputs("\n    version: ", x->out);
		put_scalar(x->out, version);
	}
	if (parent) {
		fputs("\n    parent: ", x->out);
		put_scalar(x->out, parent);
	}
	fprintf(x->out, "\n    data: %s\n", d ? d : "{}");
}

static void export_all(struct export *x)
{
	char **tmpls = NULL;
	int err = zr_client_list(x->c, "", &tmpls);
	bool any = false;
	if (err < 0) {
		fprintf(stderr, "zrobot: cannot list %s: %s\n", x->c->shown, strerror(-err));
		x->status = 1;
		return;
	}
	for (size_t i = 0; tmpls[i]; i++) {
		char **svcs = NULL;
		/* Neither hidden names nor @robot and @remote. */
		if (tmpls[i][0] == '.' || tmpls[i][0] == '@' ||
		    zr_client_list(x->c, tmpls[i], &svcs) < 0) {
			continue;
		}
		for (size_t k = 0; svcs[k]; k++) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/%s", tmpls[i], svcs[k]);
			if (svcs[k][0] != '.' && wanted(x, p)) {
				if (!any) {
					fputs("services:\n", x->out);
					any = true;
				}
				export_service(x, tmpls[i], svcs[k]);
			}
		}
		zr_client_free_names(svcs);
	}
	zr_client_free_names(tmpls);
	if (!any) {
		fputs("services: []\n", x->out);
	}
}

int zr_cmd_export(int argc, char **argv)
{
	struct export x = {0};
	const char *output = NULL, *mount = NULL;
	struct zr_client c;
	x.only = calloc((size_t)argc + 1, sizeof(*x.only));
	if (!x.only) {
		return 1;
	}
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--output") == 0 && i + 1 < argc) {
			output = argv[++i];
		} else if (strcmp(argv[i], "--mount") == 0 && i + 1 < argc) {
			mount = argv[++i];
		} else if (argv[i][0] != '-' && strchr(argv[i], '/')) {
			x.only[x.n_only++] = argv[i];
		} else {
			zr_cmd_export_usage(stderr);
			free(x.only);
			return 2;
		}
	}
	if (zr_client_init(&c, mount, NULL, NULL) < 0) {
		fprintf(stderr, "zrobot: out of memory\n");
		free(x.only);
		return 1;
	}
	struct stat st;
	if (stat(c.mount, &st) < 0) {
		fprintf(stderr, "zrobot: cannot reach the robot at %s: %s\n", c.mount,
			strerror(errno));
		zr_client_close(&c);
		free(x.only);
		return 1;
	}
	x.c = &c;
	/* The robot's own user and root read every secret value; anyone else gets "***". */
	x.admin = geteuid() == 0 || geteuid() == st.st_uid;
	x.out = stdout;
	if (output) {
		int fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, x.admin ? 0600 : 0666);
		/* An existing file keeps its mode through O_CREAT: one with secrets in it is made
		 * owner-only here. */
		if (fd >= 0 && x.admin && fchmod(fd, 0600) < 0) {
			close(fd);
			fd = -1;
		}
		if (fd < 0 || !(x.out = fdopen(fd, "w"))) {
			fprintf(stderr, "zrobot: cannot write %s: %s\n", output, strerror(errno));
			if (fd >= 0) {
				close(fd);
			}
			zr_client_close(&c);
			free(x.only);
			return 1;
		}
	}
	export_all(&x);
	if (x.n_only > 0) {
		/* A service asked for and not found: said, not skipped quietly. */
		for (size_t i = 0; i < x.n_only; i++) {
			char p[PATH_MAX];
			snprintf(p, sizeof(p), "%s/%s", c.mount, x.only[i]);
			if (access(p, F_OK) < 0) {
				fprintf(stderr, "zrobot: no service %s\n", x.only[i]);
				x.status = 1;
			}
		}
	}
	if (x.redacted) {
		fprintf(stderr, "zrobot: secret values are written as \"***\": only the robot's user "
				"or root may export them\n");
	}
	if ((output && fclose(x.out) != 0) || (!output && fflush(stdout) != 0)) {
		fprintf(stderr, "zrobot: cannot write %s: %s\n", output ? output : "the output",
			strerror(errno));
		x.status = 1;
	}
	zr_client_close(&c);
	free(x.only);
	return x.status;
}

/* ---- zrobot graph ---- */

int zr_cmd_graph(int argc, char **argv)
{
	struct zr_client c;
	if (!(argc == 2 && strcmp(argv[0], "--mount") == 0) && argc != 0) {
		zr_cmd_graph_usage(stderr);
		return 2;
	}
	if (zr_client_init(&c, argc == 2 ? argv[1] : NULL, NULL, NULL) < 0) {
		fprintf(stderr, "zrobot: out of memory\n");
		return 1;
	}
	struct zr_buf b = {0};
	int err = zr_client_read(&c, "@robot/graph", &b);
	if (err < 0) {
		fprintf(stderr, "zrobot: cannot read %s/@robot/graph: %s\n", c.shown, strerror(-err));
	} else if (b.len > 0 && fwrite(b.data, 1, b.len, stdout) != b.len) {
		err = -EIO;
	}
	zr_buf_done(&b);
	zr_client_close(&c);
	return err < 0 ? 1 : 0;
}
