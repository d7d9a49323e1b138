/* Template repositories: the loop-side object, and its operations run in the thread pool. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "git.h"
#include "giturl.h"
#include "repo.h"
#include "repolist.h"
#include "template.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/list.h"
#include "util/log.h"
#include "util/name.h"
#include "util/url.h"

enum op_kind { OP_CLONE, OP_FETCH, OP_CHECKOUT };

/* One operation. The worker reads only the copies below and writes only the outputs; the
 * loop reads the outputs after the work is done. */
struct zr_repo_op {
	uv_work_t work;
	uv_async_t async; /* progress, from the worker to the loop */
	struct zr_repo *repo;
	enum op_kind kind;
	zr_repo_cb cb;
	void *data;
	/* Inputs, owned. url is the repository's fetch_url, for git only; shown and spec (the
	 * shown URL with "#ref") are for messages. */
	char *url, *shown, *ref, *dir, *source, *spec, *cred_file;
	struct zr_git_progress progress;
	/* Outputs. */
	int status;
	char *error;
	char *commit, *tree;
	struct zr_catalog catalog;
};

static const char *const op_verbs[] = {
	[OP_CLONE] = "clone", [OP_FETCH] = "fetch", [OP_CHECKOUT] = "check out"};

static char *dup_or_null(const char *s, bool *oom)
{
	if (!s) {
		return NULL;
	}
	char *d = strdup(s);
	*oom |= !d;
	return d;
}

/* Error texts go to a one-line status file: newlines (libgit2 relays server messages) become
 * spaces. */
static void one_line(char *s)
{
	for (; *s; s++) {
		if (*s == '\n' || *s == '\r') {
			*s = ' ';
		}
	}
}

static struct zr_repo *repo_free(struct zr_repo *r)
{
	if (!r) {
		return NULL;
	}
	free(r->id);
	free(r->url);
	free(r->fetch_url);
	free(r->cred_file);
	free(r->ref);
	free(r->source);
	free(r->dir);
	free(r->commit);
	free(r->tree);
	free(r->error);
	free(r->summary);
	zr_catalog_done(&r->catalog);
	free(r);
	return NULL;
}

/* A repository for url at ref with the given id (made from url and ref when NULL). */
static int repo_new(uv_loop_t *loop, const char *data_dir, const char *url, const char *ref,
		    const char *id, struct zr_repo **ret)
{
	struct zr_repo *r = calloc(1, sizeof(*r));
	if (!r) {
		return -ENOMEM;
	}
	r->loop = loop;
	bool oom = false;
	r->ref = dup_or_null(ref, &oom);
	r->id = dup_or_null(id, &oom);
	if (zr_giturl_is_path(url) && url[0] != '/') {
		_cleanup_free_ char *cwd = getcwd(NULL, 0);
		if (!cwd || asprintf(&r->fetch_url, "%s/%s", cwd, url) < 0) {
			r->fetch_url = NULL;
		}
	} else {
		r->fetch_url = strdup(url);
	}
	r->url = r->fetch_url ? zr_url_redact(r->fetch_url) : NULL;
	int err = oom || !r->url ? -ENOMEM : 0;
	/* zr_giturl_id hashes the URL without its credentials; the source drops the user. */
	if (err == 0 && !r->id) {
		err = zr_giturl_id(r->url, r->ref, &r->id);
	}
	if (err == 0) {
		err = zr_giturl_source(r->url, &r->source);
	}
	if (err == 0 && asprintf(&r->dir, "%s/repos/%s", data_dir, r->id) < 0) {
		r->dir = NULL;
		err = -ENOMEM;
	}
	if (err < 0) {
		repo_free(r);
		return err;
	}
	*ret = r;
	return 0;
}

int zr_repo_create(uv_loop_t *loop, const char *data_dir, const char *spec,
		   struct zr_repo **ret, char **ret_err)
{
	_cleanup_free_ char *url = NULL, *ref = NULL, *shown = zr_url_redact(spec);
	if (!shown) {
		return -ENOMEM;
	}
	int err = zr_giturl_split(spec, &url, &ref);
	if (err == -EINVAL) {
		return zr_fail(ret_err, err, "bad repository '%s': want URL[#REF], REF a branch, "
					     "tag or commit", shown);
	}
	if (err < 0) {
		return err;
	}
	err = repo_new(loop, data_dir, url, ref, NULL, ret);
	if (err == -EINVAL) {
		return zr_fail(ret_err, err, "bad repository URL '%s': no repository name in it",
			       shown);
	}
	return err;
}

/* Worker side. */

static int set_error(struct zr_repo_op *op, int status, const char *reason)
{
	op->status = status;
	char *s = NULL;
	if (op->kind == OP_CHECKOUT) {
		(void)asprintf(&s, "Failed to check out '%s' of '%s': %s",
			       op->ref ? op->ref : "HEAD", op->shown, reason);
	} else {
		(void)asprintf(&s, "Failed to %s '%s': %s", op_verbs[op->kind], op->spec, reason);
	}
	/* The reason may come from libgit2 or a server, and quote a URL. NULL when out of
	 * memory: the callback then says strerror(status). */
	op->error = s ? zr_url_redact(s) : NULL;
	free(s);
	return status;
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Resolves op->ref to op->commit. A checkout of a tag pushed since the last fetch fetches once
 * and tries again; when that fetch fails (offline), "unknown ref" is still the better answer. */
static int op_resolve(struct zr_repo_op *op, const char *gitdir, bool fetched, char **ret_err)
{
	int err = zr_git_resolve(gitdir, op->ref, &op->commit, ret_err);
	if (err != -ENOENT || fetched || !op->ref) {
		return err;
	}
	_cleanup_free_ char *why = NULL;
	if (zr_git_fetch(gitdir, op->url, op->cred_file, &op->progress, &why) < 0) {
		return err;
	}
	free(*ret_err);
	*ret_err = NULL;
	return zr_git_resolve(gitdir, op->ref, &op->commit, ret_err);
}

/* Fetches (unless this is a checkout and there is a cache), resolves, exports the commit
 * unless it was already, and loads its catalog. */
static int op_run(struct zr_repo_op *op, const char *gitdir, bool *ret_created, char **ret_err)
{
	bool fetch = op->kind != OP_CHECKOUT || !exists(gitdir);
	int err = fetch ? zr_git_fetch(gitdir, op->url, op->cred_file, &op->progress, ret_err) : 0;
	if (err == 0) {
		err = op_resolve(op, gitdir, fetch, ret_err);
	}
	if (err < 0) {
		return err;
	}
	if (asprintf(&op->tree, "%s/%s", op->dir, op->commit) < 0) {
		op->tree = NULL;
		return -ENOMEM;
	}
	/* A commit's files never change once exported, so an existing export is reused. */
	if (!exists(op->tree)) {
		err = zr_git_export(gitdir, op->commit, op->tree, ret_err);
		if (err < 0) {
			return err;
		}
		*ret_created = true;
	}
	return zr_catalog_load(op->tree, op->source, &op->catalog, ret_err);
}

static void op_work(uv_work_t *w)
{
	struct zr_repo_op *op = container_of(w, struct zr_repo_op, work);
	_cleanup_free_ char *gitdir = NULL, *reason = NULL;
	if (asprintf(&gitdir, "%s/git", op->dir) < 0) {
		set_error(op, -ENOMEM, strerror(ENOMEM));
		return;
	}
	bool had_dir = exists(op->dir);
	int err = zr_mkdir_p(op->dir, 0755);
	if (err < 0) {
		_cleanup_free_ char *s = NULL;
		(void)asprintf(&s, "%s: %s", op->dir, strerror(-err));
		set_error(op, err, s ? s : strerror(-err));
		return;
	}
	bool created = false;
	err = op_run(op, gitdir, &created, &reason);
	if (err == 0) {
		return;
	}
	/* Nothing half-done stays: not the export of a commit whose templates were refused,
	 * not the folder of a first clone that failed. (zr_git_fetch cleans up a cache it
	 * failed to create.) */
	if (created) {
		(void)zr_rm_rf(op->tree);
	}
	if (op->kind == OP_CLONE && !had_dir) {
		(void)zr_rm_rf(op->dir);
	}
	zr_catalog_done(&op->catalog);
	set_error(op, err, reason ? reason : strerror(-err));
}

/* Loop side. */

static void progress_snapshot(struct zr_git_progress *g, struct zr_repo_progress *p)
{
	p->received_objects = atomic_load(&g->received_objects);
	p->total_objects = atomic_load(&g->total_objects);
	p->indexed_objects = atomic_load(&g->indexed_objects);
	p->received_bytes = atomic_load(&g->received_bytes);
	p->percent = p->total_objects ? (int)(p->received_objects * 100ULL / p->total_objects) : 0;
}

/* Copies the counters into r->progress and tells the callback when they moved. */
static void progress_update(struct zr_repo_op *op)
{
	struct zr_repo *r = op->repo;
	struct zr_repo_progress p;
	progress_snapshot(&op->progress, &p);
	if (p.received_objects == r->progress.received_objects &&
	    p.total_objects == r->progress.total_objects &&
	    p.indexed_objects == r->progress.indexed_objects &&
	    p.received_bytes == r->progress.received_bytes) {
		return;
	}
	r->progress = p;
	if (r->progress_cb && !r->closing) {
		r->progress_cb(r, &r->progress, r->progress_data);
	}
}

/* Worker thread: uv_async_send is the one libuv call that is safe there. */
static void progress_notify(void *data)
{
	struct zr_repo_op *op = data;
	(void)uv_async_send(&op->async);
}

static void on_progress(uv_async_t *a)
{
	progress_update(container_of(a, struct zr_repo_op, async));
}

static void op_free(struct zr_repo_op *op)
{
	free(op->url);
	free(op->shown);
	free(op->ref);
	free(op->dir);
	free(op->source);
	free(op->spec);
	free(op->cred_file);
	free(op->error);
	free(op->commit);
	free(op->tree);
	zr_catalog_done(&op->catalog);
	free(op);
}

static void op_closed(uv_handle_t *h)
{
	op_free(container_of((uv_async_t *)h, struct zr_repo_op, async));
}

static char *catalog_summary(const struct zr_catalog *c)
{
	struct zr_buf b = {0};
	for (size_t i = 0; i < c->n; i++) {
		if (zr_buf_printf(&b, "%s%s/%s", i ? " " : "", c->templates[i]->name,
				  c->templates[i]->version) < 0) {
			zr_buf_done(&b);
			return NULL;
		}
	}
	return zr_buf_steal(&b);
}

/* A successful operation: the repository moves to the new commit and templates. */
static void op_apply(struct zr_repo_op *op)
{
	struct zr_repo *r = op->repo;
	char *summary = catalog_summary(&op->catalog);
	free(r->commit);
	r->commit = TAKE_PTR(op->commit);
	free(r->tree);
	r->tree = TAKE_PTR(op->tree);
	/* A checkout (or a first clone started by one) moves the repository to its ref. */
	free(r->ref);
	r->ref = TAKE_PTR(op->ref);
	zr_catalog_done(&r->catalog);
	r->catalog = op->catalog;
	op->catalog = (struct zr_catalog){0};
	free(r->summary);
	r->summary = summary;
	free(r->error);
	r->error = NULL;
}

static void op_done(uv_work_t *w, int status)
{
	struct zr_repo_op *op = container_of(w, struct zr_repo_op, work);
	struct zr_repo *r = op->repo;
	if (status == UV_ECANCELED) {
		set_error(op, -ECANCELED, "canceled");
	}
	progress_update(op);
	r->op = NULL;
	int err = op->status;
	if (r->closing) {
		err = -ECANCELED;
	} else if (err == 0) {
		op_apply(op);
		static const char *const done[] = {
			[OP_CLONE] = "Cloned", [OP_FETCH] = "Fetched", [OP_CHECKOUT] = "Checked out"};
		log_info("%s '%s' at %.12s: %s", done[op->kind], op->spec, r->commit,
			 r->summary ? r->summary : "");
	} else {
		free(r->error);
		r->error = TAKE_PTR(op->error);
		if (r->error) {
			one_line(r->error);
		}
		log_error("%s", r->error ? r->error : strerror(-err));
	}
	zr_repo_cb cb = op->cb;
	void *data = op->data;
	uv_close((uv_handle_t *)&op->async, op_closed);
	const char *msg = NULL;
	if (err < 0) {
		msg = r->closing ? "canceled" : r->error ? r->error : strerror(-err);
	}
	/* Last: the callback may start the next operation or close r. */
	bool closing = r->closing;
	if (cb) {
		cb(r, err, msg, data);
	}
	if (closing) {
		repo_free(r);
	}
}

static int op_start(struct zr_repo *r, enum op_kind kind, const char *ref, zr_repo_cb cb,
		    void *data)
{
	if (r->op || r->closing) {
		return -EBUSY;
	}
	struct zr_repo_op *op = calloc(1, sizeof(*op));
	if (!op) {
		return -ENOMEM;
	}
	bool oom = false;
	*op = (struct zr_repo_op){
		.repo = r,
		.kind = kind,
		.cb = cb,
		.data = data,
		.url = dup_or_null(r->fetch_url, &oom),
		.shown = dup_or_null(r->url, &oom),
		.cred_file = dup_or_null(r->cred_file, &oom),
		.ref = dup_or_null(ref, &oom),
		.dir = dup_or_null(r->dir, &oom),
		.source = dup_or_null(r->source, &oom),
		.progress = {.notify = progress_notify},
	};
	op->progress.notify_data = op;
	if (ref && asprintf(&op->spec, "%s#%s", r->url, ref) < 0) {
		op->spec = NULL;
		oom = true;
	} else if (!ref) {
		op->spec = dup_or_null(r->url, &oom);
	}
	int err = oom ? -ENOMEM : uv_async_init(r->loop, &op->async, on_progress);
	if (err < 0) {
		op_free(op); /* the handle was never initialized: no uv_close */
		return err;
	}
	err = uv_queue_work(r->loop, &op->work, op_work, op_done);
	if (err < 0) {
		uv_close((uv_handle_t *)&op->async, op_closed);
		return err;
	}
	r->op = op;
	r->progress = (struct zr_repo_progress){0};
	return 0;
}

int zr_repo_fetch(struct zr_repo *r, zr_repo_cb cb, void *data)
{
	return op_start(r, r->commit ? OP_FETCH : OP_CLONE, r->ref, cb, data);
}

int zr_repo_checkout(struct zr_repo *r, const char *ref, zr_repo_cb cb, void *data)
{
	if (ref && !zr_giturl_ref_valid(ref)) {
		return -EINVAL;
	}
	return op_start(r, r->commit ? OP_CHECKOUT : OP_CLONE, ref, cb, data);
}

int zr_repo_clone(uv_loop_t *loop, const char *data_dir, const char *spec, zr_repo_cb cb,
		  void *data, struct zr_repo **ret, char **ret_err)
{
	struct zr_repo *r = NULL;
	int err = zr_repo_create(loop, data_dir, spec, &r, ret_err);
	if (err < 0) {
		return err;
	}
	err = zr_repo_fetch(r, cb, data);
	if (err < 0) {
		repo_free(r);
		return err;
	}
	*ret = r;
	return 0;
}

static bool is_commit_hex(const char *s)
{
	return s && strlen(s) == 40 && strspn(s, "0123456789abcdef") == 40;
}

int zr_repo_open_existing(uv_loop_t *loop, const char *data_dir,
			  const struct zr_repolist_entry *e, struct zr_repo **ret, char **ret_err)
{
	const char *bad = !e->id || !zr_name_valid(e->id)         ? "id"
			  : !e->url || !*e->url                      ? "url"
			  : e->ref && !zr_giturl_ref_valid(e->ref)    ? "ref"
			  : !is_commit_hex(e->commit)                 ? "commit"
								      : NULL;
	if (bad) {
		return zr_fail(ret_err, -EINVAL, "repository '%s': bad %s", e->id ? e->id : "?",
			       bad);
	}
	struct zr_repo *r = NULL;
	int err = repo_new(loop, data_dir, e->url, e->ref, e->id, &r);
	if (err == -EINVAL) {
		_cleanup_free_ char *shown = zr_url_redact(e->url);
		return shown ? zr_fail(ret_err, err, "repository '%s': bad url '%s'", e->id, shown)
			     : -ENOMEM;
	}
	if (err < 0) {
		return err;
	}
	r->commit = strdup(e->commit);
	if (!r->commit || asprintf(&r->tree, "%s/%s", r->dir, r->commit) < 0) {
		r->tree = NULL;
		repo_free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

int zr_repo_load_templates(struct zr_repo *r)
{
	if (r->op) {
		return -EBUSY;
	}
	if (!r->tree) {
		return -ENOENT;
	}
	struct zr_catalog c = {0};
	_cleanup_free_ char *reason = NULL;
	int err;
	if (!exists(r->tree)) {
		err = -ENOENT;
		(void)asprintf(&reason, "its files are missing from %s (a fetch or checkout restores "
					"them)", r->tree);
	} else {
		err = zr_catalog_load(r->tree, r->source, &c, &reason);
	}
	if (err < 0) {
		free(r->error);
		r->error = NULL;
		(void)asprintf(&r->error, "Failed to load the templates of '%s' at %.12s: %s",
			       r->url, r->commit, reason ? reason : strerror(-err));
		if (r->error) {
			one_line(r->error);
		}
		log_error("%s", r->error ? r->error : strerror(-err));
		return err;
	}
	char *summary = catalog_summary(&c);
	if (!summary) {
		zr_catalog_done(&c);
		return -ENOMEM;
	}
	zr_catalog_done(&r->catalog);
	r->catalog = c;
	free(r->summary);
	r->summary = summary;
	free(r->error);
	r->error = NULL;
	return 0;
}

void zr_repo_take_templates(struct zr_repo *r, struct zr_catalog *ret)
{
	*ret = r->catalog;
	r->catalog = (struct zr_catalog){0};
}

int zr_repo_set_cred_file(struct zr_repo *r, const char *path)
{
	char *p = NULL;
	if (path && !(p = strdup(path))) {
		return -ENOMEM;
	}
	free(r->cred_file);
	r->cred_file = p;
	return 0;
}

void zr_repo_set_progress_cb(struct zr_repo *r, zr_repo_progress_cb cb, void *data)
{
	r->progress_cb = cb;
	r->progress_data = data;
}

void zr_repo_get_progress(const struct zr_repo *r, struct zr_repo_progress *ret)
{
	if (r->op) {
		progress_snapshot(&r->op->progress, ret);
	} else {
		*ret = r->progress;
	}
}

const char *zr_repo_state(const struct zr_repo *r)
{
	if (r->op) {
		static const char *const running[] = {
			[OP_CLONE] = "cloning", [OP_FETCH] = "fetching", [OP_CHECKOUT] = "checking-out"};
		return running[r->op->kind];
	}
	return r->error ? "failed" : r->commit ? "ready" : "new";
}

char *zr_repo_status(const struct zr_repo *r)
{
	struct zr_buf b = {0};
	int err = zr_buf_printf(&b, "state %s\n", zr_repo_state(r));
	if (err == 0 && r->op) {
		struct zr_repo_progress p;
		zr_repo_get_progress(r, &p);
		err = zr_buf_printf(&b, "progress %u/%u objects %d%%\n", p.received_objects,
				    p.total_objects, p.percent);
	}
	if (err == 0 && r->commit) {
		err = zr_buf_printf(&b, "commit %s\n", r->commit);
	}
	if (err == 0 && r->summary) {
		err = zr_buf_printf(&b, "templates %s\n", r->summary);
	}
	if (err == 0 && r->error) {
		err = zr_buf_printf(&b, "error %s\n", r->error);
	}
	if (err < 0) {
		zr_buf_done(&b);
		return NULL;
	}
	return zr_buf_steal(&b);
}

void zr_repo_close(struct zr_repo *r)
{
	if (!r || r->closing) {
		return;
	}
	if (!r->op) {
		repo_free(r);
		return;
	}
	/* The work may not have started (uv_cancel then succeeds and op_done gets
	 * UV_ECANCELED) or be running (libgit2 stops at its next progress callback). */
	r->closing = true;
	atomic_store(&r->op->progress.cancel, true);
	(void)uv_cancel((uv_req_t *)&r->op->work);
}
