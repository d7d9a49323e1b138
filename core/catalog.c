/* Catalogs: every template folder of a tree, checked for escaping links, loaded together. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"


/* path, once every symbolic link in it is resolved, must be root or under it (root is
 * canonical). A missing path is fine here: zr_template_load reports what it needs, broken
 * links included. */
static int check_inside(const char *root, const char *path, char **ret_err)
{
	_cleanup_free_ char *real = realpath(path, NULL);
	if (!real) {
		int r = -errno;
		return r == -ENOENT ? 0 : zr_fail(ret_err, r, "%s: %s", path, strerror(-r));
	}
	size_t n = strlen(root);
	if (strncmp(real, root, n) != 0 || (real[n] != '/' && real[n] != '\0')) {
		return zr_fail(ret_err, -EPERM, "%s: symbolic link to '%s' leaves the repository",
			    path, real);
	}
	return 0;
}

/* Everything of the template folder dir that zr_template_load opens or runs. */
static int check_template(const char *root, const char *dir, char **ret_err)
{
	_cleanup_free_ char *manifest = NULL, *actions = NULL;
	if (asprintf(&manifest, "%s/template.json", dir) < 0 ||
	    asprintf(&actions, "%s/actions", dir) < 0) {
		return -ENOMEM;
	}
	int r = check_inside(root, dir, ret_err);
	if (r == 0) {
		r = check_inside(root, manifest, ret_err);
	}
	if (r == 0) {
		r = check_inside(root, actions, ret_err);
	}
	if (r < 0) {
		return r;
	}
	DIR *d = opendir(actions);
	if (!d) {
		/* No actions/ (or not a folder): the loader decides whether that is fine. */
		return 0;
	}
	for (;;) {
		errno = 0;
		struct dirent *de = readdir(d);
		if (!de) {
			r = errno ? -errno : 0;
			r = r < 0 ? zr_fail(ret_err, r, "%s: %s", actions, strerror(-r)) : 0;
			break;
		}
		if (de->d_name[0] == '.') {
			continue;
		}
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", actions, de->d_name) < 0) {
			r = -ENOMEM;
			break;
		}
		r = check_inside(root, path, ret_err);
		if (r < 0) {
			break;
		}
	}
	(void)closedir(d);
	return r;
}

/* Errors name files by their path inside the repository ("templates/x/template.json"), which
 * is what its author knows; err starts with root's path in nearly every case. */
static void relative(char *err, const char *root)
{
	size_t n = strlen(root);
	if (!err || strncmp(err, root, n) != 0) {
		return;
	}
	if (err[n] == '/') {
		memmove(err, err + n + 1, strlen(err + n + 1) + 1);
	} else if (err[n] == ':') {
		memmove(err, err + n + 2, strlen(err + n + 2) + 1);
	}
}

static int template_cmp(const void *a, const void *b)
{
	return strcmp((*(struct zr_template *const *)a)->name,
		      (*(struct zr_template *const *)b)->name);
}

/* Loads the template folder base/name into c when it has a template.json; skips it if not. */
static int load_entry(const char *root, const char *base, const char *name, const char *source,
		      struct zr_catalog *c, size_t *cap, char **ret_err)
{
	_cleanup_free_ char *dir = NULL, *manifest = NULL;
	if (asprintf(&dir, "%s/%s", base, name) < 0 ||
	    asprintf(&manifest, "%s/template.json", dir) < 0) {
		return -ENOMEM;
	}
	/* lstat: a template.json that is a link (perhaps broken, perhaps leaving) still marks a
	 * template folder, to be checked and refused rather than skipped. */
	struct stat st;
	if (lstat(manifest, &st) < 0) {
		return 0;
	}
	int r = check_template(root, dir, ret_err);
	if (r < 0) {
		return r;
	}
	if (c->n == *cap) {
		size_t ncap = *cap ? 2 * *cap : 8;
		struct zr_template **n = reallocarray(c->templates, ncap, sizeof(*n));
		if (!n) {
			return -ENOMEM;
		}
		c->templates = n;
		*cap = ncap;
	}
	r = zr_template_load(dir, source, &c->templates[c->n], ret_err);
	if (r < 0) {
		return r;
	}
	c->n++;
	return 0;
}

/* zr_catalog_load with root canonical and the error text naming absolute paths. */
static int load(const char *real, const char *source, struct zr_catalog *ret, char **ret_err)
{
	_cleanup_free_ char *base = NULL;
	if (asprintf(&base, "%s/templates", real) < 0) {
		return -ENOMEM;
	}
	struct stat st;
	if (lstat(base, &st) == 0 && (S_ISDIR(st.st_mode) || S_ISLNK(st.st_mode))) {
		int r = check_inside(real, base, ret_err);
		if (r < 0) {
			return r;
		}
	} else {
		free(base);
		base = strdup(real);
		if (!base) {
			return -ENOMEM;
		}
	}
	struct dirent **list = NULL;
	int n = scandir(base, &list, NULL, alphasort);
	if (n < 0) {
		int r = -errno;
		return zr_fail(ret_err, r, "%s: %s", base, strerror(-r));
	}
	struct zr_catalog c = {0};
	size_t cap = 0;
	int r = 0;
	for (int i = 0; i < n; i++) {
		if (r == 0 && list[i]->d_name[0] != '.') {
			r = load_entry(real, base, list[i]->d_name, source, &c, &cap, ret_err);
		}
		free(list[i]);
	}
	free(list);
	if (r == 0 && c.n == 0) {
		r = zr_fail(ret_err, -ENOENT, "%s: no templates (no folder with a template.json)", base);
	}
	if (r < 0) {
		zr_catalog_done(&c);
		return r;
	}
	qsort(c.templates, c.n, sizeof(*c.templates), template_cmp);
	*ret = c;
	return 0;
}

int zr_catalog_load(const char *root, const char *source, struct zr_catalog *ret,
		    char **ret_err)
{
	_cleanup_free_ char *real = realpath(root, NULL);
	if (!real) {
		int r = -errno;
		return zr_fail(ret_err, r, "%s: %s", root, strerror(-r));
	}
	char *err = NULL;
	int r = load(real, source, ret, &err);
	if (err) {
		relative(err, real);
		*ret_err = err;
	}
	return r;
}

void zr_catalog_done(struct zr_catalog *c)
{
	for (size_t i = 0; i < c->n; i++) {
		zr_template_free(c->templates[i]);
	}
	free(c->templates);
	*c = (struct zr_catalog){0};
}
