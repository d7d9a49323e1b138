/* The robot's template repositories: glue between repo.c (git, off the loop) and the robot. */
#include "repos.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "gitcred.h"
#include "repo.h"
#include "repolist.h"
#include "robot.h"
#include "store.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/url.h"

struct zr_repos {
	struct zr_robot *robot;
	struct zr_repo **list;
	size_t n;
	bool import;     /* the list came from repos.json: store it */
	char *cred_file; /* --git-credentials, or NULL */
};

int zr_repos_create(struct zr_robot *r, struct zr_repos **ret)
{
	struct zr_repos *rs = calloc(1, sizeof(*rs));
	if (!rs) {
		return -ENOMEM;
	}
	rs->robot = r;
	*ret = rs;
	return 0;
}

int zr_repos_set_cred_file(struct zr_repos *rs, const char *path, char **ret_err)
{
	char *p = NULL;
	int err = path ? zr_gitcred_check(path, ret_err) : 0;
	if (err < 0) {
		return err;
	}
	if (path && !(p = strdup(path))) {
		return -ENOMEM;
	}
	free(rs->cred_file);
	rs->cred_file = p;
	for (size_t i = 0; i < rs->n; i++) {
		if (zr_repo_set_cred_file(rs->list[i], p) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* Adds repo to the list, with the robot's credential file. */
static int push(struct zr_repos *rs, struct zr_repo *repo)
{
	if (zr_repo_set_cred_file(repo, rs->cred_file) < 0) {
		return -ENOMEM;
	}
	struct zr_repo **l = realloc(rs->list, (rs->n + 1) * sizeof(*l));
	if (!l) {
		return -ENOMEM;
	}
	rs->list = l;
	rs->list[rs->n++] = repo;
	return 0;
}

/* Adds a catalog's templates as versions and frees the rest (a uid known already). Versions
 * loaded before stay: services pinned to them keep running on their own exported tree. */
static void adopt_catalog(struct zr_repos *rs, struct zr_catalog *cat, const char *from)
{
	size_t k = 0;
	for (size_t i = 0; i < cat->n; i++) {
		struct zr_template *t = cat->templates[i];
		int err = zr_robot_add_template(rs->robot, t);
		if (err == 0) {
			log_info("Loaded template %s from %s", t->uid, from);
			continue;
		}
		if (err != -EEXIST) {
			log_error("Failed to add template %s: %s", t->uid, strerror(-err));
		}
		cat->templates[k++] = t;
	}
	cat->n = k;
	zr_catalog_done(cat);
}

static void adopt_templates(struct zr_repos *rs, struct zr_repo *repo)
{
	struct zr_catalog cat = {0};
	zr_repo_take_templates(repo, &cat);
	adopt_catalog(rs, &cat, repo->tree);
}

/* The list follows the repositories into the store (with the commit each is at). */
static void save(struct zr_repos *rs)
{
	struct zr_store *st = rs->robot->cfg.store;
	for (size_t i = 0; st && i < rs->n; i++) {
		const struct zr_repo *rp = rs->list[i];
		if (rp->commit) {
			/* The URL as given, credentials included: a restart must fetch with it. */
			zr_store_repo_put(st, rp->id, rp->fetch_url, rp->ref, rp->commit, (int64_t)i);
		}
	}
}

static void on_repo_done(struct zr_repo *repo, int status, const char *error, void *data)
{
	struct zr_repos *rs = data;
	if (status == -ECANCELED) {
		return;
	}
	if (status < 0) {
		/* repo.c logged it. */
		(void)zr_robot__event(rs->robot, "repo.failed",
				      json_pack("{ss ss}", "repo", repo->id, "error", error ? error : strerror(-status)));
		return;
	}
	log_info("Repository %s (%s) at %s: %s", repo->id, repo->url, repo->commit,
		 repo->summary ? repo->summary : "");
	adopt_templates(rs, repo);
	(void)zr_robot__event(rs->robot, "repo.ready",
			      json_pack("{ss ss}", "repo", repo->id, "commit", repo->commit));
	save(rs);
}

/* Services may be pinned to versions of commits the repository has left: their exports stay
 * on disk, and are loaded again (after the current commit's, which wins for a shared uid). */
static void adopt_old_exports(struct zr_repos *rs, struct zr_repo *repo)
{
	DIR *d = opendir(repo->dir);
	struct dirent *e;
	if (!d) {
		return;
	}
	while ((e = readdir(d))) {
		if (strlen(e->d_name) != 40 || strspn(e->d_name, "0123456789abcdef") != 40 ||
		    (repo->commit && strcmp(e->d_name, repo->commit) == 0)) {
			continue;
		}
		_cleanup_free_ char *path = NULL;
		_cleanup_free_ char *why = NULL;
		struct zr_catalog cat = {0};
		if (asprintf(&path, "%s/%s", repo->dir, e->d_name) < 0) {
			break;
		}
		if (zr_catalog_load(path, repo->source, &cat, &why) < 0) {
			log_warn("Skipping old export %s: %s", path, why ? why : "cannot load");
			continue;
		}
		adopt_catalog(rs, &cat, path);
	}
	closedir(d);
}

static int stored_repo(const char *id, const char *url, const char *ref, const char *commit, void *data)
{
	struct zr_repolist *l = data;
	struct zr_repolist_entry *e = realloc(l->entries, (l->n + 1) * sizeof(*e));
	if (!e) {
		return -ENOMEM;
	}
	l->entries = e;
	e = &l->entries[l->n];
	*e = (struct zr_repolist_entry){.id = strdup(id), .url = strdup(url),
					.ref = ref ? strdup(ref) : NULL, .commit = strdup(commit)};
	l->n++;
	if (!e->id || !e->url || !e->commit || (ref && !e->ref)) {
		return -ENOMEM;
	}
	return 0;
}

void zr_repos_open(struct zr_repos *rs)
{
	struct zr_repolist l = {0};
	_cleanup_free_ char *why = NULL;
	int err = zr_store_repos(rs->robot->cfg.store, stored_repo, &l);
	if (err == 0 && l.n == 0) {
		/* An older robot kept the list in repos.json. */
		err = zr_repolist_read(rs->robot->cfg.data_dir, &l, &why);
		if (err == 0 && l.n > 0) {
			log_info("Moving %zu repositories from repos.json into the store", l.n);
			rs->import = true;
		}
	}
	if (err < 0) {
		log_error("Failed to read the repository list: %s, ignoring", why ? why : strerror(-err));
		zr_repolist_done(&l);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct zr_repo *repo = NULL;
		_cleanup_free_ char *e = NULL;
		err = zr_repo_open_existing(rs->robot->loop, rs->robot->cfg.data_dir, &l.entries[i], &repo, &e);
		if (err == 0) {
			err = zr_repo_load_templates(repo);
		}
		if (err == 0) {
			err = push(rs, repo);
		}
		if (err < 0) {
			_cleanup_free_ char *shown = zr_url_redact(l.entries[i].url);
			log_error("Failed to reopen repository %s: %s, ignoring", shown ? shown : "?",
				  e ? e : repo && repo->error ? repo->error : strerror(-err));
			zr_repo_close(repo);
			continue;
		}
		adopt_templates(rs, repo);
		adopt_old_exports(rs, repo);
		log_info("Reopened repository %s (%s) at %s", repo->id, repo->url, repo->commit);
	}
	zr_repolist_done(&l);
	if (rs->import) {
		save(rs);
	}
}

struct zr_repo *zr_repos_find(const struct zr_repos *rs, const char *id)
{
	for (size_t i = 0; i < rs->n; i++) {
		if (strcmp(rs->list[i]->id, id) == 0) {
			return rs->list[i];
		}
	}
	return NULL;
}

size_t zr_repos_count(const struct zr_repos *rs) { return rs->n; }
struct zr_repo *zr_repos_get(const struct zr_repos *rs, size_t i) { return rs->list[i]; }

int zr_repos_add(struct zr_repos *rs, const char *spec, char **ret_err)
{
	struct zr_repo *repo = NULL;
	int err = zr_repo_create(rs->robot->loop, rs->robot->cfg.data_dir, spec, &repo, ret_err);
	if (err < 0) {
		return err;
	}
	if (zr_repos_find(rs, repo->id)) {
		err = zr_fail(ret_err, -EEXIST, "repository %s is there already (%s%s%s)", repo->id,
			      repo->url, repo->ref ? "#" : "", repo->ref ? repo->ref : "");
		zr_repo_close(repo);
		return err;
	}
	err = push(rs, repo);
	if (err == 0) {
		err = zr_repo_fetch(repo, on_repo_done, rs); /* a first fetch clones */
		if (err < 0) {
			rs->n--;
		}
	}
	if (err < 0) {
		zr_repo_close(repo);
		return err;
	}
	log_info("Cloning %s%s%s into repository %s", repo->url, repo->ref ? "#" : "",
		 repo->ref ? repo->ref : "", repo->id);
	return 0;
}

int zr_repos_ctl(struct zr_repos *rs, struct zr_repo *repo, const char *cmd, char **ret_err)
{
	_cleanup_free_ char *c = strdup(cmd);
	if (!c) {
		return -ENOMEM;
	}
	char *w = c + strspn(c, " \t\r\n");
	size_t n = strlen(w);
	while (n > 0 && strchr(" \t\r\n", w[n - 1])) {
		w[--n] = '\0';
	}
	if (strcmp(w, "fetch") == 0) {
		return zr_repo_fetch(repo, on_repo_done, rs);
	}
	if (strncmp(w, "checkout ", 9) == 0) {
		const char *ref = w + 9 + strspn(w + 9, " \t");
		return zr_repo_checkout(repo, ref, on_repo_done, rs);
	}
	return zr_fail(ret_err, -EINVAL, "unknown command '%s': want 'fetch' or 'checkout REF'", w);
}

void zr_repos_destroy(struct zr_repos *rs)
{
	if (!rs) {
		return;
	}
	for (size_t i = 0; i < rs->n; i++) {
		zr_repo_close(rs->list[i]);
	}
	free(rs->list);
	free(rs->cred_file);
	free(rs);
}
