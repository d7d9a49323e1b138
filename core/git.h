/* Blocking libgit2 operations on the robot's repository caches, for uv_queue_work workers:
 * fetch a URL into a bare repository, resolve a ref to a commit, export a commit's files.
 * Nothing here touches the loop or the model. */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Transfer counters that a worker updates and any thread may read at any time. */
struct zr_git_progress {
	atomic_uint received_objects;
	atomic_uint total_objects;
	atomic_uint indexed_objects;
	atomic_uint_fast64_t received_bytes;
	/* Set from any thread: the transfer stops at its next callback with -ECANCELED. */
	atomic_bool cancel;
	/* Called on the worker after each update of the counters; may be NULL. */
	void (*notify)(void *data);
	void *notify_data;
};

/* Initializes libgit2 (and turns on fsync of its object files). Call once before any other
 * zr_git_ function, and zr_git_shutdown once when no worker uses git any more. */
void zr_git_init(void);
void zr_git_shutdown(void);

/* Fetches url into the bare repository gitdir (an absolute path), creating it when missing:
 * branches go to refs/remotes/origin/, tags to refs/tags/, the remote's HEAD to refs/zr/head.
 * A new repository appears whole or not at all. p (may be NULL) gets the counters.
 * Credentials: those in url first; then, when a server asks for a password, the line of
 * cred_file (a git-credential-store file, see gitcred.h; NULL: none) for the URL it asks
 * about; over ssh, one try with the keys of a running ssh-agent.
 * 0, or a negative errno with *ret_err (malloc'd) saying why, without repeating url (and
 * with any URL libgit2 quotes redacted): -ENOENT (no such repository), -EACCES
 * (authentication or certificate refused, or cred_file open to other users), -ECANCELED
 * (p->cancel), -EIO otherwise (libgit2's message, e.g. an unreachable host). */
int zr_git_fetch(const char *gitdir, const char *url, const char *cred_file,
		 struct zr_git_progress *p, char **ret_err);

/* Resolves ref in the repository gitdir to a commit, as 40 hex digits in *ret (malloc'd). ref
 * is a branch, a tag, "refs/heads/X", "refs/tags/X" or a commit id of 4 to 40 hex digits, in
 * that order of precedence; NULL is the remote's HEAD. -ENOENT "unknown ref", -EINVAL (an
 * ambiguous id or a tag of something other than a commit), with *ret_err. */
int zr_git_resolve(const char *gitdir, const char *ref, char **ret, char **ret_err);

/* Writes the files of commit (40 hex) of gitdir into dir (an absolute path that must not
 * exist), whole or not at all: into "<dir>.tmp", synced, then renamed. 0 or a negative errno
 * with *ret_err. */
int zr_git_export(const char *gitdir, const char *commit, const char *dir, char **ret_err);
