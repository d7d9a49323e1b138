/* The list of template repositories in <data>/repos.json: what is needed to reopen each one
 * at start without cloning it again. */
#pragma once
#include <stddef.h>
#include <uv.h>

struct zr_repo;

struct zr_repolist_entry {
	char *id, *url;
	char *ref;    /* NULL = the remote's HEAD */
	char *commit; /* 40 hex digits */
};

struct zr_repolist {
	struct zr_repolist_entry *entries; /* owned */
	size_t n;
};

/* Reads <data_dir>/repos.json into *ret; a missing file is an empty list. Blocking, for
 * start-up. -EINVAL (with *ret_err, malloc'd) when the file is not a list of
 * {"id", "url", "ref", "commit"} objects; entries are checked by zr_repo_open_existing. */
int zr_repolist_read(const char *data_dir, struct zr_repolist *ret, char **ret_err);
void zr_repolist_done(struct zr_repolist *l);

/* The JSON text of the repositories among repos[0..n) that have a commit (the others have
 * nothing on disk to reopen). On the loop. NULL = out of memory. */
char *zr_repolist_dump(struct zr_repo *const *repos, size_t n);

/* Replaces <data_dir>/repos.json with text atomically (tmp, fsync, rename, fsync of the
 * folder). Blocking: for workers. 0 or -errno. */
int zr_repolist_write(const char *data_dir, const char *text);

/* Fires on the loop when a save ended: 0 or a negative errno (also logged). */
typedef void (*zr_repolist_save_cb)(int status, void *data);

/* Dumps repos now and writes them off the loop; cb (may be NULL) fires once. Saves run in
 * the thread pool in any order, so start the next save from the previous one's callback.
 * 0 or -ENOMEM (cb is then not called). */
int zr_repolist_save(uv_loop_t *loop, const char *data_dir, struct zr_repo *const *repos,
		     size_t n, zr_repolist_save_cb cb, void *data);
