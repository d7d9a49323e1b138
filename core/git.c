/* Blocking libgit2 operations for workers: fetch into a bare cache, resolve, export. */
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git.h"
#include "gitcred.h"
#include "giturl.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/fs.h"
#include "util/url.h"

#define REMOTE_HEAD "refs/zr/head"

void zr_git_init(void)
{
	(void)git_libgit2_init();
	/* Packs and refs of the caches survive a crash; exports are synced by hand. */
	(void)git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
}

void zr_git_shutdown(void)
{
	(void)git_libgit2_shutdown();
}


/* A libgit2 failure (gerr < 0) as a negative errno, with "<what>: " (when not NULL) and
 * git_error_last()'s text (which may be NULL, and belongs to this thread) in *ret_err. */
static int git_fail(char **ret_err, int gerr, const char *what)
{
	const git_error *e = git_error_last();
	int r;
	switch (gerr) {
	case GIT_ENOTFOUND:
		r = -ENOENT;
		break;
	case GIT_EUSER:
		r = -ECANCELED;
		break;
	case GIT_EAUTH:
	case GIT_ECERTIFICATE:
		r = -EACCES;
		break;
	case GIT_EAMBIGUOUS:
	case GIT_EINVALIDSPEC:
		r = -EINVAL;
		break;
	default:
		r = -EIO;
		break;
	}
	const char *msg = r == -ECANCELED              ? "canceled"
			  : e && e->message && *e->message ? e->message
							   : "unknown libgit2 error";
	/* libgit2 may quote the URL it was given, credentials included. */
	_cleanup_free_ char *clean = zr_url_redact(msg);
	if (!clean) {
		return -ENOMEM;
	}
	return what ? zr_fail(ret_err, r, "%s: %s", what, clean) : zr_fail(ret_err, r, "%s", clean);
}

struct transfer {
	struct zr_git_progress *p;
	const char *cred_file; /* borrowed; NULL: none */
	int credential_tries;
	int cred_err;   /* why the credential file could not be used: a negative errno, or 0 */
	char *cred_why; /* its text, malloc'd */
};

static int on_transfer(const git_indexer_progress *s, void *payload)
{
	struct zr_git_progress *p = ((struct transfer *)payload)->p;
	if (!p) {
		return 0;
	}
	atomic_store(&p->received_objects, s->received_objects);
	atomic_store(&p->total_objects, s->total_objects);
	atomic_store(&p->indexed_objects, s->indexed_objects);
	atomic_store(&p->received_bytes, s->received_bytes);
	if (p->notify) {
		p->notify(p->notify_data);
	}
	return atomic_load(&p->cancel) ? GIT_EUSER : 0;
}

/* The server's "Counting objects" chatter: only a chance to notice a cancel early. */
static int on_sideband(const char *str, int len, void *payload)
{
	(void)str;
	(void)len;
	struct zr_git_progress *p = ((struct transfer *)payload)->p;
	return p && atomic_load(&p->cancel) ? GIT_EUSER : 0;
}

/* One try per fetch, so that refused credentials end the fetch (-EACCES) instead of being
 * offered again: a password from the credential file, or over ssh the keys of a running
 * ssh-agent. Anything else has no one to ask, so libgit2 reports the server's refusal. */
static int on_credentials(git_credential **ret, const char *url, const char *user,
			  unsigned int allowed, void *payload)
{
	struct transfer *t = payload;
	/* Counted when offered only: over ssh libgit2 may first ask for a user name. */
	if (t->credential_tries > 0) {
		return GIT_PASSTHROUGH;
	}
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && t->cred_file) {
		char *u = NULL, *pw = NULL;
		int err = zr_gitcred_find(t->cred_file, url, &u, &pw, &t->cred_why);
		if (err == 0) {
			return GIT_PASSTHROUGH;
		}
		if (err < 0) {
			t->cred_err = err;
			return GIT_EUSER;
		}
		t->credential_tries++;
		int g = git_credential_userpass_plaintext_new(ret, u, pw);
		explicit_bzero(pw, strlen(pw));
		free(pw);
		free(u);
		return g;
	}
	if ((allowed & GIT_CREDENTIAL_SSH_KEY) && getenv("SSH_AUTH_SOCK")) {
		t->credential_tries++;
		return git_credential_ssh_key_from_agent(ret, user ? user : "git");
	}
	return GIT_PASSTHROUGH;
}

/* A cache and an export are built in "<path>.tmp" and renamed to path once complete, so that
 * path never holds half of one. tmp_begin names the folder (*ret_tmp, malloc'd) and removes the
 * leftover of a build that crashed half-way. */
static int tmp_begin(const char *path, char **ret_tmp, char **ret_err)
{
	char *tmp;
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		return -ENOMEM;
	}
	int r = zr_rm_rf(tmp);
	if (r < 0) {
		r = zr_fail(ret_err, r, "%s: %s", tmp, strerror(-r));
		free(tmp);
		return r;
	}
	*ret_tmp = tmp;
	return 0;
}

/* Ends the build in tmp with result r: renames it to path and syncs path's parent after a
 * success, removes it after a failure. Returns r or the first new error. */
static int tmp_end(const char *tmp, const char *path, int r, char **ret_err)
{
	if (r == 0 && rename(tmp, path) < 0) {
		r = -errno;
		r = zr_fail(ret_err, r, "Failed to rename %s: %s", tmp, strerror(-r));
	}
	if (r < 0) {
		(void)zr_rm_rf(tmp);
		return r;
	}
	r = zr_fsync_parent(path);
	return r < 0 ? zr_fail(ret_err, r, "Failed to sync %s: %s", path, strerror(-r)) : 0;
}

/* Opens gitdir, or creates a new bare repository at "<gitdir>.tmp" (*ret_tmp) to be renamed
 * once it holds something. */
static int open_or_init(const char *gitdir, git_repository **ret, char **ret_tmp, char **ret_err)
{
	int g = git_repository_open_bare(ret, gitdir);
	if (g == 0) {
		return 0;
	}
	if (g != GIT_ENOTFOUND) {
		return git_fail(ret_err, g, gitdir);
	}
	_cleanup_free_ char *tmp = NULL;
	int r = tmp_begin(gitdir, &tmp, ret_err);
	if (r < 0) {
		return r;
	}
	git_repository_init_options o = GIT_REPOSITORY_INIT_OPTIONS_INIT;
	o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
	g = git_repository_init_ext(ret, tmp, &o);
	if (g < 0) {
		return git_fail(ret_err, g, tmp);
	}
	*ret_tmp = TAKE_PTR(tmp);
	return 0;
}

static int download(git_repository *repo, const char *url, struct transfer *t, char **ret_err)
{
	static char *specs[] = {
		"+refs/heads/*:refs/remotes/origin/*",
		"+refs/tags/*:refs/tags/*",
		("+HEAD:" REMOTE_HEAD),
	};
	git_strarray refspecs = {specs, sizeof(specs) / sizeof(specs[0])};
	/* No url.<base>.insteadOf rewriting: the URL is used as given, and libgit2 1.5 leaks
	 * about 20 KiB of PCRE2 match data per config entry that the rewrite lookup does not
	 * match (libgit2 pull request #6382, fixed in 1.6). */
	git_remote_create_options ro = GIT_REMOTE_CREATE_OPTIONS_INIT;
	ro.repository = repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	git_remote *remote = NULL;
	int g = git_remote_create_with_opts(&remote, url, &ro);
	if (g < 0) {
		return git_fail(ret_err, g, NULL);
	}
	git_fetch_options fo = GIT_FETCH_OPTIONS_INIT;
	fo.callbacks.transfer_progress = on_transfer;
	fo.callbacks.sideband_progress = on_sideband;
	fo.callbacks.credentials = on_credentials;
	fo.callbacks.payload = t;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE; /* the refspec takes them all */
	fo.proxy_opts.type = GIT_PROXY_AUTO;
	/* Connecting by hand keeps the connection, and the list of the remote's refs, for the
	 * prune after the download. */
	g = git_remote_connect(remote, GIT_DIRECTION_FETCH, &fo.callbacks, &fo.proxy_opts, NULL);
	if (g == 0) {
		g = git_remote_download(remote, &refspecs, &fo);
	}
	if (g == 0) {
		g = git_remote_update_tips(remote, &fo.callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE,
					   NULL);
	}
	/* Branches and tags deleted upstream must not be resolved from the cache forever. */
	if (g == 0) {
		g = git_remote_prune(remote, &fo.callbacks);
	}
	int r = 0;
	if (g < 0 && t->cred_err < 0) {
		const char *why = t->cred_why ? t->cred_why : strerror(-t->cred_err);
		r = zr_fail(ret_err, t->cred_err, "%s", why);
	} else if (g < 0) {
		r = git_fail(ret_err, g, NULL);
	}
	(void)git_remote_disconnect(remote);
	git_remote_free(remote);
	return r;
}

int zr_git_fetch(const char *gitdir, const char *url, const char *cred_file,
		 struct zr_git_progress *p, char **ret_err)
{
	/* libgit2 says "unsupported URL protocol" for a local path that does not exist. */
	struct stat st;
	if (zr_giturl_is_path(url) && stat(url, &st) < 0) {
		int r = -errno;
		return zr_fail(ret_err, r, "%s", strerror(-r));
	}
	git_repository *repo = NULL;
	_cleanup_free_ char *tmp = NULL;
	int r = open_or_init(gitdir, &repo, &tmp, ret_err);
	if (r < 0) {
		return r;
	}
	struct transfer t = {.p = p, .cred_file = cred_file};
	r = download(repo, url, &t, ret_err);
	free(t.cred_why);
	git_repository_free(repo);
	/* An existing cache is updated in place; a new one is renamed into place. */
	return tmp ? tmp_end(tmp, gitdir, r, ret_err) : r;
}

/* The commit that refname (a full ref name) names, peeling tags; GIT_ENOTFOUND when there is
 * no such ref. */
static int peel_ref(git_repository *repo, const char *refname, git_object **ret)
{
	git_reference *ref = NULL;
	int g = git_reference_lookup(&ref, repo, refname);
	if (g == GIT_EINVALIDSPEC) {
		return GIT_ENOTFOUND;
	}
	if (g < 0) {
		return g;
	}
	g = git_reference_peel(ret, ref, GIT_OBJECT_COMMIT);
	git_reference_free(ref);
	return g;
}

static bool is_commit_id(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");
	return s[n] == '\0' && n >= GIT_OID_MINPREFIXLEN && n <= GIT_OID_HEXSZ;
}

static int resolve(git_repository *repo, const char *ref, git_object **ret, char **ret_err)
{
	if (!ref) {
		int g = peel_ref(repo, REMOTE_HEAD, ret);
		if (g == GIT_ENOTFOUND) {
			return zr_fail(ret_err, -ENOENT, "the remote has no HEAD: give a branch or tag");
		}
		return g < 0 ? git_fail(ret_err, g, "HEAD") : 0;
	}
	const char *formats[] = {"refs/remotes/origin/%s", "refs/tags/%s", NULL, NULL};
	if (strncmp(ref, "refs/heads/", 11) == 0) {
		formats[2] = "refs/remotes/origin/%s";
		ref += 11;
	} else if (strncmp(ref, "refs/", 5) == 0) {
		formats[2] = "%s";
	}
	for (size_t i = 0; formats[i]; i++) {
		_cleanup_free_ char *name = NULL;
		if (asprintf(&name, formats[i], ref) < 0) {
			return -ENOMEM;
		}
		int g = peel_ref(repo, name, ret);
		if (g == 0) {
			return 0;
		}
		if (g != GIT_ENOTFOUND) {
			return git_fail(ret_err, g, ref);
		}
	}
	if (is_commit_id(ref)) {
		git_oid oid;
		size_t n = strlen(ref);
		int g = git_oid_fromstrn(&oid, ref, n);
		if (g == 0) {
			g = git_object_lookup_prefix(ret, repo, &oid, n, GIT_OBJECT_COMMIT);
		}
		if (g == 0) {
			return 0;
		}
		if (g != GIT_ENOTFOUND) {
			return git_fail(ret_err, g, ref);
		}
	}
	return zr_fail(ret_err, -ENOENT, "unknown ref '%s': no such branch, tag or commit", ref);
}

int zr_git_resolve(const char *gitdir, const char *ref, char **ret, char **ret_err)
{
	git_repository *repo = NULL;
	int g = git_repository_open_bare(&repo, gitdir);
	if (g < 0) {
		return git_fail(ret_err, g, gitdir);
	}
	git_object *obj = NULL;
	int r = resolve(repo, ref, &obj, ret_err);
	if (r == 0) {
		char hex[GIT_OID_HEXSZ + 1];
		(void)git_oid_tostr(hex, sizeof(hex), git_object_id(obj));
		*ret = strdup(hex);
		r = *ret ? 0 : -ENOMEM;
	}
	git_object_free(obj);
	git_repository_free(repo);
	return r;
}

/* syncfs: one call makes every file of the export durable, instead of an fsync per file. */
static int sync_tree(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0) {
		return -errno;
	}
	return 0;
}

static int checkout(git_repository *repo, const char *commit, const char *dir, char **ret_err)
{
	git_oid oid;
	git_commit *c = NULL;
	int g = git_oid_fromstr(&oid, commit);
	if (g == 0) {
		g = git_commit_lookup(&c, repo, &oid);
	}
	if (g < 0) {
		return git_fail(ret_err, g, commit);
	}
	git_checkout_options co = GIT_CHECKOUT_OPTIONS_INIT;
	/* The cache's HEAD is never born, so the baseline is empty and FORCE writes every
	 * file. Filters (CRLF, ident) are off: actions run exactly as committed. */
	co.checkout_strategy = GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX;
	co.disable_filters = 1;
	co.dir_mode = 0755;
	co.target_directory = dir;
	g = git_checkout_tree(repo, (const git_object *)c, &co);
	git_commit_free(c);
	return g < 0 ? git_fail(ret_err, g, commit) : 0;
}

int zr_git_export(const char *gitdir, const char *commit, const char *dir, char **ret_err)
{
	_cleanup_free_ char *tmp = NULL;
	int r = tmp_begin(dir, &tmp, ret_err);
	if (r < 0) {
		return r;
	}
	/* Made here, so that a commit without files still exports to a folder. */
	if (mkdir(tmp, 0755) < 0) {
		r = -errno;
		return zr_fail(ret_err, r, "%s: %s", tmp, strerror(-r));
	}
	git_repository *repo = NULL;
	int g = git_repository_open_bare(&repo, gitdir);
	if (g < 0) {
		(void)rmdir(tmp);
		return git_fail(ret_err, g, gitdir);
	}
	r = checkout(repo, commit, tmp, ret_err);
	git_repository_free(repo);
	if (r == 0) {
		r = sync_tree(tmp);
		r = r < 0 ? zr_fail(ret_err, r, "Failed to sync %s: %s", tmp, strerror(-r)) : 0;
	}
	return tmp_end(tmp, dir, r, ret_err);
}
