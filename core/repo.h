/* Template repositories: a git URL at a ref, fetched with libgit2 off the loop into
 * <data>/repos/<id>/, and the templates of the commit it is at.
 *
 * On disk: <dir>/git is a bare cache of the remote and <dir>/<commit>/ the files of each
 * commit the repository has been at. A checkout never changes once written, so the templates
 * of an older commit (pinned by services) keep their files while newer ones are loaded. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "catalog.h"

struct zr_repo;
struct zr_repo_op;
struct zr_repolist_entry;

struct zr_repo_progress {
	unsigned received_objects, total_objects, indexed_objects;
	uint64_t received_bytes;
	int percent; /* received_objects * 100 / total_objects; 0 while the total is unknown */
};

/* Fires on the loop once per operation: status 0, or a negative errno with error (borrowed,
 * valid during the call; r->error holds the same text until the next operation). */
typedef void (*zr_repo_cb)(struct zr_repo *r, int status, const char *error, void *data);
/* Fires on the loop while objects arrive (coalesced), and once more with the final counters
 * before the operation's zr_repo_cb. p is borrowed, valid during the call. */
typedef void (*zr_repo_progress_cb)(struct zr_repo *r, const struct zr_repo_progress *p,
				    void *data);

struct zr_repo {
	uv_loop_t *loop;
	char *id;     /* [a-z0-9][a-z0-9_.-]*, see zr_giturl_id; fixed for the repo's life */
	char *url;    /* as shown and logged: fetch_url with its credentials masked (zr_url_redact) */
	/* As given, except that a relative local path is made absolute; credentials included,
	 * so only for git and the store: never shown or logged. */
	char *fetch_url;
	char *cred_file; /* a git-credential-store file for fetches (gitcred.h), or NULL */
	char *ref;    /* branch, tag or commit; NULL = the remote's HEAD */
	char *source; /* uid prefix of its templates: "github.com/acc/repo", "local/name" */
	char *dir;    /* <data>/repos/<id> */
	char *commit; /* 40 hex digits; NULL until a first clone succeeds */
	char *tree;   /* <dir>/<commit>, the files of commit; NULL with commit */
	char *error;  /* the last operation's error on one line; NULL after a success */
	/* The templates of commit, owned until zr_repo_take_templates moves them out; empty
	 * before the first success and after an operation that failed to load them. */
	struct zr_catalog catalog;
	char *summary; /* "name/version name/version" of the templates of commit, or NULL */
	struct zr_repo_progress progress; /* counters of the last transfer */
	struct zr_repo_op *op;            /* the running operation, or NULL */
	bool closing;
	zr_repo_progress_cb progress_cb;
	void *progress_data;
};

/* Makes a repository for spec "URL[#REF]" (see zr_giturl_split), to be stored under
 * <data_dir>/repos; nothing is read or written yet. -EINVAL with *ret_err (malloc'd) for a
 * bad spec. */
int zr_repo_create(uv_loop_t *loop, const char *data_dir, const char *spec,
		   struct zr_repo **ret, char **ret_err);

/* zr_repo_create, then zr_repo_fetch: clones URL into <data_dir>/repos/<id>, moves to REF
 * (a branch, tag or commit; default the remote's HEAD) and loads its templates. cb fires as
 * for zr_repo_fetch. -EINVAL with *ret_err for a bad spec, and then nothing is returned. */
int zr_repo_clone(uv_loop_t *loop, const char *data_dir, const char *spec, zr_repo_cb cb,
		  void *data, struct zr_repo **ret, char **ret_err);

/* Fetches the remote (cloning it when it is not cached yet), moves to the tip of r->ref and
 * loads the templates there, off the loop. On success r->commit, r->tree, r->catalog and
 * r->summary describe the new commit; on failure nothing of r changes but r->error, so a
 * repository that worked keeps its commit and templates, and a first clone that failed
 * leaves nothing on disk. The outcome is logged. cb gets 0, -ENOENT (no such repository,
 * unknown ref, no templates), -EACCES (authentication), -EPERM (a link leaving the
 * repository), -EINVAL (a bad template), -EIO (network and other libgit2 errors) or
 * -ECANCELED (zr_repo_close). Returns 0, or -EBUSY while another operation runs (cb is then
 * not called). */
int zr_repo_fetch(struct zr_repo *r, zr_repo_cb cb, void *data);

/* Like zr_repo_fetch, but moves to ref (NULL: the remote's HEAD) without fetching, unless
 * the cache is missing or does not know ref; r->ref becomes ref on success. -EINVAL for a bad
 * ref, -EBUSY while another operation runs (cb is then not called). */
int zr_repo_checkout(struct zr_repo *r, const char *ref, zr_repo_cb cb, void *data);

/* Makes the repository of an entry of repos.json, at its recorded commit, without network
 * or templates: call zr_repo_load_templates next. -EINVAL with *ret_err for an entry whose
 * id, url, ref or commit is malformed. */
int zr_repo_open_existing(uv_loop_t *loop, const char *data_dir,
			  const struct zr_repolist_entry *e, struct zr_repo **ret, char **ret_err);

/* Loads the templates of r->tree into r->catalog, blocking (for start-up, before the loop
 * runs). On failure r->error says why (and is logged) and r->catalog stays empty; a missing
 * tree is -ENOENT, which zr_repo_fetch repairs. -EBUSY while an operation runs. */
int zr_repo_load_templates(struct zr_repo *r);

/* Moves r->catalog to *ret (the caller owns the templates); r->catalog becomes empty. */
void zr_repo_take_templates(struct zr_repo *r, struct zr_catalog *ret);

/* Sets the credential file of the next operations (a copy; NULL: none). 0 or -ENOMEM. */
int zr_repo_set_cred_file(struct zr_repo *r, const char *path);

/* Sets the one progress callback (NULL to remove). */
void zr_repo_set_progress_cb(struct zr_repo *r, zr_repo_progress_cb cb, void *data);

/* The counters of the running transfer, or of the last one when idle. */
void zr_repo_get_progress(const struct zr_repo *r, struct zr_repo_progress *ret);

/* "cloning", "fetching", "checking-out" while an operation runs; then "ready" (a commit and
 * no error), "failed" (an error) or "new". Static string. */
const char *zr_repo_state(const struct zr_repo *r);

/* The content of the status file, lines "KEY VALUE": state, progress (while an operation
 * runs: "R/T objects P%"), commit, templates, error. malloc'd; NULL = out of memory. */
char *zr_repo_status(const struct zr_repo *r);

/* Frees r now, or, while an operation runs, cancels it and frees r after its callback got
 * -ECANCELED. The templates still in r->catalog are freed with it; files stay on disk. */
void zr_repo_close(struct zr_repo *r);
