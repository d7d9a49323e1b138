/* A catalog: the templates found in one folder tree, such as the checkout of a git
 * repository, loaded all or nothing. */
#pragma once
#include <stddef.h>

struct zr_template;

struct zr_catalog {
	struct zr_template **templates; /* owned, sorted by name */
	size_t n;
};

/* Loads the templates under root, with source as their uid prefix ("github.com/acc/repo").
 * They are the subfolders of root/templates when root has a templates/ folder, else the
 * subfolders of root, that hold a template.json; folders starting with '.' are skipped.
 * Refused, with *ret_err (malloc'd) naming the file by its path under root, and the reason:
 *   -EPERM  a template folder, its template.json, its actions/ folder or an action that is a
 *           symbolic link resolving outside root (checked before anything is read);
 *   any error of zr_template_load (a bad manifest name, a version that is not semver...);
 *   -ENOENT no template at all.
 * All or nothing: *ret is written only on success. Blocking: for workers and start-up. */
int zr_catalog_load(const char *root, const char *source, struct zr_catalog *ret,
		    char **ret_err);

/* Frees the templates still in c (none after they were moved out) and empties it. */
void zr_catalog_done(struct zr_catalog *c);
