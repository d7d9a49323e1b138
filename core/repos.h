/* The robot's template repositories: cloned, fetched and checked out off the loop, their
 * templates added as versions beside the others, the list kept across restarts. */
#pragma once
#include <stddef.h>

struct zr_robot;
struct zr_repo;
struct zr_repos;

int zr_repos_create(struct zr_robot *r, struct zr_repos **ret);
/* Every repository, those added later included, fetches with the credentials of the
 * git-credential-store file at path (--git-credentials; NULL: none), read at each fetch.
 * Checked now (zr_gitcred_check): -EACCES when other users may read or write it, another
 * negative errno when it cannot be read; *ret_err says why. */
int zr_repos_set_cred_file(struct zr_repos *rs, const char *path, char **ret_err);
/* Reopens the repositories of <data>/repos.json without cloning them again and adds their
 * templates (blocking: start-up, before the loop runs). A repository that cannot be reopened
 * is logged and skipped. */
void zr_repos_open(struct zr_repos *rs);
/* Adds a repository from "URL[#REF]" and clones it in the background; its status file shows
 * the progress, then the commit and templates or the error. Returns 0 when accepted,
 * -EEXIST when that URL and ref are there already, -EINVAL (with *ret_err) for a bad spec. */
int zr_repos_add(struct zr_repos *rs, const char *spec, char **ret_err);
/* "fetch" or "checkout REF" on a repository: 0 when started, -EBUSY while another operation
 * runs, -EINVAL (with *ret_err) for anything else. */
int zr_repos_ctl(struct zr_repos *rs, struct zr_repo *repo, const char *cmd, char **ret_err);
struct zr_repo *zr_repos_find(const struct zr_repos *rs, const char *id);
/* The repositories, in the order they were added. */
size_t zr_repos_count(const struct zr_repos *rs);
struct zr_repo *zr_repos_get(const struct zr_repos *rs, size_t i);
/* Cancels what runs; the repositories are freed as their operations end. */
void zr_repos_destroy(struct zr_repos *rs);
