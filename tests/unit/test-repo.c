/* Unit tests for core/repo.c (with git.c, catalog.c and repolist.c): real git repositories
 * made with the git command line in a temporary folder, cloned through a real libuv loop.
 * No network: the one "remote" URL points at a closed port on 127.0.0.1. */
#include "repo.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "git.h"
#include "repolist.h"
#include "template.h"
#include "test.h"
#include "util/fs.h"

#define GIT "git -c user.name=zr -c user.email=zr@example.com -c commit.gpgsign=false "

static char *root; /* this run's scratch folder */

static void sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void sh(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd;
	if (vasprintf(&cmd, fmt, ap) < 0) {
		FAIL("out of memory");
	}
	va_end(ap);
	int st = system(cmd);
	if (st == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		FAIL("command failed (%d): %s", st, cmd);
	}
	free(cmd);
}

/* The first line of a command's output. */
static char *sh_out(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	ASSERT_NOT_NULL(f);
	char line[256] = "";
	ASSERT_NOT_NULL(fgets(line, sizeof(line), f));
	ASSERT_EQ_INT(pclose(f), 0);
	line[strcspn(line, "\n")] = '\0';
	return strdup(line);
}

static bool exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* A new working repository <root>/src/<name> on branch main. Returns its path. */
static char *new_source(const char *name)
{
	char *path = test_strf("%s/src/%s", root, name);
	sh("rm -rf '%s' && mkdir -p '%s' && git -C '%s' init -q -b main", path, path, path);
	/* The commands that follow must reach this repository and no other. */
	char *cmd = test_strf("git -C '%s' rev-parse --show-toplevel", path);
	char *top = sh_out(cmd);
	ASSERT_EQ_STR(top, path);
	free(top);
	free(cmd);
	return path;
}

/* git exports GIT_DIR, GIT_WORK_TREE, GIT_INDEX_FILE... to hooks and to "git rebase -x"
 * commands: inherited, they would point this test's git commands at the repository being
 * worked on. None is kept. */
static void clean_git_environment(void)
{
	extern char **environ;
	for (;;) {
		char **e = environ;
		while (*e && strncmp(*e, "GIT_", 4) != 0) {
			e++;
		}
		if (!*e) {
			break;
		}
		char *name = strndup(*e, strcspn(*e, "="));
		ASSERT_NOT_NULL(name);
		ASSERT_EQ_INT(unsetenv(name), 0);
		free(name);
	}
}

/* Writes <src>/<dir>/template.json naming name at version, and makes <src>/<dir>/actions. */
static void put_manifest(const char *src, const char *dir, const char *name, const char *version)
{
	sh("mkdir -p '%s/%s/actions' && "
	   "printf '{\"name\": \"%s\", \"version\": \"%s\"}\\n' >'%s/%s/template.json'",
	   src, dir, name, version, src, dir);
}

/* Writes <src>/templates/<name> with a manifest at version and an executable "start". */
static void put_template(const char *src, const char *name, const char *version)
{
	char *dir = test_strf("templates/%s", name);
	put_manifest(src, dir, name, version);
	sh("printf '#!/bin/sh\\necho %s\\n' >'%s/%s/actions/start' && "
	   "chmod +x '%s/%s/actions/start'",
	   version, src, dir, src, dir);
	free(dir);
}

static void commit(const char *src, const char *msg)
{
	sh("cd '%s' && git add -A && " GIT "commit -qm '%s'", src, msg);
}

/* Writes template name at version into src and commits it with the message msg. */
static void commit_template(const char *src, const char *name, const char *version,
			    const char *msg)
{
	put_template(src, name, version);
	commit(src, msg);
}

/* A new source <root>/src/<name> whose one commit, "first", holds template alpha 1.0.0. */
static char *source_alpha(const char *name)
{
	char *src = new_source(name);
	commit_template(src, "alpha", "1.0.0", "first");
	return src;
}

/* A new source <root>/src/<name> holding template alpha 1.0.0 and the manifest of template
 * other 1.0.0, uncommitted: the test spoils other, then commits. */
static char *source_alpha_and(const char *name, const char *other)
{
	char *src = new_source(name);
	put_template(src, "alpha", "1.0.0");
	char *dir = test_strf("templates/%s", other);
	put_manifest(src, dir, other, "1.0.0");
	free(dir);
	return src;
}

static void tag(const char *src, const char *name)
{
	sh("git -C '%s' tag '%s'", src, name);
}

static char *rev(const char *src, const char *ref)
{
	char *cmd = test_strf("git -C '%s' rev-parse '%s^{commit}'", src, ref);
	char *r = sh_out(cmd);
	free(cmd);
	return r;
}

/* What the callbacks of one repository saw. */
struct seen {
	int calls, status;
	char *error;
	int progress_calls;
	struct zr_repo_progress last;
	bool backwards; /* a progress callback whose counters went down */
};

static void on_done(struct zr_repo *r, int status, const char *error, void *data)
{
	struct seen *s = data;
	s->calls++;
	s->status = status;
	free(s->error);
	s->error = error ? strdup(error) : NULL;
	if (status == 0) {
		ASSERT_NULL(error);
		ASSERT_NULL(r->error);
	} else {
		ASSERT_NOT_NULL(error);
	}
}

static void on_progress(struct zr_repo *r, const struct zr_repo_progress *p, void *data)
{
	struct seen *s = data;
	(void)r;
	s->backwards |= p->received_objects < s->last.received_objects;
	s->progress_calls++;
	s->last = *p;
}

static void seen_reset(struct seen *s)
{
	free(s->error);
	*s = (struct seen){0};
}

static uv_loop_t loop;
static char *data_dir;

/* A fresh loop and data folder for one test. */
static void begin(const char *name)
{
	ASSERT_OK(uv_loop_init(&loop));
	data_dir = test_strf("%s/data-%s", root, name);
	sh("rm -rf '%s' && mkdir -p '%s'", data_dir, data_dir);
}

static void end(void)
{
	ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
	ASSERT_EQ_INT(uv_loop_close(&loop), 0);
	free(data_dir);
	data_dir = NULL;
}

/* Starts cloning spec with both callbacks recording into s. */
static struct zr_repo *clone_start(const char *spec, struct seen *s)
{
	struct zr_repo *r = NULL;
	char *err = NULL;
	int e = zr_repo_clone(&loop, data_dir, spec, on_done, s, &r, &err);
	if (e != 0) {
		FAIL("zr_repo_clone(%s): %d %s", spec, e, err ? err : "");
	}
	zr_repo_set_progress_cb(r, on_progress, s);
	ASSERT_EQ_STR(zr_repo_state(r), "cloning");
	return r;
}

/* Runs the loop until every operation ended; asserts one callback with want. */
static void wait_for(struct seen *s, int want)
{
	ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
	ASSERT_EQ_INT(s->calls, 1);
	if (s->status != want) {
		FAIL("status %d (%s), want %d", s->status, s->error ? s->error : "", want);
	}
}

/* Checks r out at ref (NULL: its ref again) and runs the loop until the checkout ended with
 * want, seen by s. While it runs the state names it: a repository never cloned clones. */
static void checkout_wait(struct zr_repo *r, const char *ref, struct seen *s, int want)
{
	const char *running = r->commit ? "checking-out" : "cloning";
	seen_reset(s);
	ASSERT_OK(zr_repo_checkout(r, ref, on_done, s));
	ASSERT_EQ_STR(zr_repo_state(r), running);
	wait_for(s, want);
}

/* The same for a fetch. */
static void fetch_wait(struct zr_repo *r, struct seen *s, int want)
{
	seen_reset(s);
	ASSERT_OK(zr_repo_fetch(r, on_done, s));
	ASSERT_EQ_STR(zr_repo_state(r), "fetching");
	wait_for(s, want);
}

/* Clones spec and expects it to fail with want and an error containing both needles. */
static void clone_fails(const char *spec, int want, const char *needle, const char *needle2)
{
	struct seen s = {0};
	struct zr_repo *r = clone_start(spec, &s);
	wait_for(&s, want);
	if (!strstr(s.error, needle) || (needle2 && !strstr(s.error, needle2))) {
		FAIL("error \"%s\" lacks \"%s\"/\"%s\"", s.error, needle, needle2 ? needle2 : "");
	}
	ASSERT_EQ_STR(r->error, s.error);
	ASSERT_EQ_STR(zr_repo_state(r), "failed");
	ASSERT_NULL(r->commit);
	ASSERT_EQ_SIZE(r->catalog.n, 0);
	/* A failed first clone leaves nothing behind. */
	ASSERT_FALSE(exists(r->dir));
	char *status = zr_repo_status(r);
	ASSERT_NOT_NULL(strstr(status, "state failed\nerror Failed to clone"));
	free(status);
	zr_repo_close(r);
	seen_reset(&s);
}

static void assert_template(const struct zr_repo *r, size_t i, const char *name,
			    const char *uid)
{
	ASSERT_LT_SIZE(i, r->catalog.n);
	ASSERT_EQ_STR(r->catalog.templates[i]->name, name);
	ASSERT_EQ_STR(r->catalog.templates[i]->uid, uid);
}

/* A clone of a plain path and of the same repository as a file:// URL: the commit of HEAD,
 * the templates with their uids, progress that ends at 100%. */
static void clone_ok(const char *spec, const char *src)
{
	struct seen s = {0};
	struct zr_repo *r = clone_start(spec, &s);
	/* Only one operation at a time. */
	ASSERT_EQ_INT(zr_repo_fetch(r, on_done, &s), -EBUSY);
	wait_for(&s, 0);
	char *head = rev(src, "HEAD");
	ASSERT_EQ_STR(r->commit, head);
	ASSERT_EQ_STR(zr_repo_state(r), "ready");
	ASSERT_EQ_SIZE(r->catalog.n, 2);
	assert_template(r, 0, "alpha", "local/one/alpha/1.0.0");
	assert_template(r, 1, "beta", "local/one/beta/0.1.0");
	ASSERT_EQ_STR(r->summary, "alpha/1.0.0 beta/0.1.0");
	char *tree = test_strf("%s/repos/%s/%s", data_dir, r->id, head);
	ASSERT_EQ_STR(r->tree, tree);
	char *action = test_strf("%s/templates/alpha/actions/start", tree);
	ASSERT_EQ_STR(zr_template_action(r->catalog.templates[0], "start")->path, action);
	ASSERT_EQ_INT(access(action, X_OK), 0);
	/* Progress: at least the final counters reached the loop, and never went down. */
	ASSERT_GE_INT(s.progress_calls, 1);
	ASSERT_FALSE(s.backwards);
	ASSERT_GT_INT(s.last.total_objects, 0);
	ASSERT_EQ_INT(s.last.received_objects, s.last.total_objects);
	ASSERT_EQ_INT(s.last.percent, 100);
	struct zr_repo_progress p;
	zr_repo_get_progress(r, &p);
	ASSERT_EQ_INT(p.received_objects, s.last.received_objects);
	char *status = zr_repo_status(r);
	char *want = test_strf("state ready\ncommit %s\ntemplates alpha/1.0.0 beta/0.1.0\n", head);
	ASSERT_EQ_STR(status, want);
	free(want);
	free(status);
	free(action);
	free(tree);
	free(head);
	zr_repo_close(r);
	seen_reset(&s);
}

static char *source_one(void)
{
	char *src = new_source("one");
	put_template(src, "alpha", "1.0.0");
	put_template(src, "beta", "0.1.0");
	/* Some bulk, so that the transfer has a few objects to count. */
	sh("mkdir -p '%s/docs' && for i in $(seq 1 50); do echo \"page $i\" >'%s/docs/p'$i; done",
	   src, src);
	commit(src, "first");
	return src;
}

TEST(clone_path)
{
	begin("clone_path");
	char *src = source_one();
	clone_ok(src, src);
	end();
	free(src);
}

TEST(clone_file_url)
{
	begin("clone_file_url");
	char *src = source_one();
	char *url = test_strf("file://%s", src);
	clone_ok(url, src);
	/* A relative path becomes absolute, with the same uid prefix. */
	ASSERT_OK(chdir(root));
	clone_ok("src/one/.git", src);
	end();
	free(url);
	free(src);
}

/* Two tags of one repository side by side: two ids, two versions of one template. */
TEST(two_tags)
{
	begin("two_tags");
	char *src = new_source("two");
	commit_template(src, "alpha", "1.0.0", "v1");
	tag(src, "v1");
	commit_template(src, "alpha", "1.10.0", "v2");
	sh("cd '%s' && " GIT "tag -a v2 -m v2", src); /* annotated: peeled to its commit */
	commit_template(src, "alpha", "2.0.0-dev", "dev");
	char *s1 = test_strf("%s#v1", src), *s2 = test_strf("%s#v2", src);
	struct seen a = {0}, b = {0};
	struct zr_repo *r1 = clone_start(s1, &a);
	struct zr_repo *r2 = clone_start(s2, &b);
	ASSERT_NE_STR(r1->id, r2->id);
	ASSERT_EQ_STR(r1->source, "local/two");
	ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
	ASSERT_EQ_INT(a.calls, 1);
	ASSERT_EQ_INT(b.calls, 1);
	ASSERT_EQ_INT(a.status, 0);
	ASSERT_EQ_INT(b.status, 0);
	char *c1 = rev(src, "v1"), *c2 = rev(src, "v2");
	ASSERT_EQ_STR(r1->commit, c1);
	ASSERT_EQ_STR(r2->commit, c2);
	ASSERT_EQ_STR(r1->ref, "v1");
	assert_template(r1, 0, "alpha", "local/two/alpha/1.0.0");
	assert_template(r2, 0, "alpha", "local/two/alpha/1.10.0");
	ASSERT_GT_INT(zr_semver_compare(r2->catalog.templates[0]->version,
					r1->catalog.templates[0]->version), 0);
	/* Templates move out to their new owner; status still names them. */
	struct zr_catalog taken;
	zr_repo_take_templates(r1, &taken);
	ASSERT_EQ_SIZE(taken.n, 1);
	ASSERT_EQ_SIZE(r1->catalog.n, 0);
	ASSERT_EQ_STR(r1->summary, "alpha/1.0.0");
	zr_repo_close(r1);
	zr_repo_close(r2);
	/* The template outlives its repository object: its files stay on disk. */
	ASSERT_EQ_INT(access(zr_template_action(taken.templates[0], "start")->path, X_OK), 0);
	zr_catalog_done(&taken);
	end();
	seen_reset(&a);
	seen_reset(&b);
	free(c1);
	free(c2);
	free(s1);
	free(s2);
	free(src);
}

/* fetch moves to the new tip; the old commit's files stay for services pinned to them. */
TEST(fetch)
{
	begin("fetch");
	char *src = source_alpha("three");
	struct seen s = {0};
	struct zr_repo *r = clone_start(src, &s);
	wait_for(&s, 0);
	char *old_tree = strdup(r->tree);
	put_template(src, "alpha", "1.1.0");
	put_template(src, "gamma", "0.0.1");
	commit(src, "second");
	/* Nothing new upstream: same commit, same tree, no error. */
	checkout_wait(r, NULL, &s, 0);
	ASSERT_EQ_STR(r->tree, old_tree);
	fetch_wait(r, &s, 0);
	char *head = rev(src, "main");
	ASSERT_EQ_STR(r->commit, head);
	ASSERT_EQ_SIZE(r->catalog.n, 2);
	assert_template(r, 0, "alpha", "local/three/alpha/1.1.0");
	assert_template(r, 1, "gamma", "local/three/gamma/0.0.1");
	ASSERT_NE_STR(r->tree, old_tree);
	ASSERT_TRUE(exists(old_tree));
	/* A template that breaks upstream: the fetch fails, the repository stays as it was and
	 * the export of the refused commit is gone. */
	commit_template(src, "alpha", "1.2", "broken");
	char *broken = rev(src, "main");
	char *broken_tree = test_strf("%s/%s", r->dir, broken);
	fetch_wait(r, &s, -EINVAL);
	ASSERT_NOT_NULL(strstr(s.error, "': templates/alpha/template.json: field 'version'"));
	ASSERT_EQ_STR(r->commit, head);
	ASSERT_EQ_SIZE(r->catalog.n, 2);
	ASSERT_EQ_STR(zr_repo_state(r), "failed");
	ASSERT_FALSE(exists(broken_tree));
	zr_repo_close(r);
	end();
	seen_reset(&s);
	free(broken_tree);
	free(broken);
	free(head);
	free(old_tree);
	free(src);
}

/* checkout of a tag, of a commit id, and of a tag pushed after the clone. */
TEST(checkout)
{
	begin("checkout");
	char *src = source_alpha("four");
	tag(src, "v1");
	commit_template(src, "alpha", "2.0.0", "second");
	struct seen s = {0};
	struct zr_repo *r = clone_start(src, &s);
	wait_for(&s, 0);
	assert_template(r, 0, "alpha", "local/four/alpha/2.0.0");
	char *v1 = rev(src, "v1");
	checkout_wait(r, "v1", &s, 0);
	ASSERT_EQ_STR(r->commit, v1);
	ASSERT_EQ_STR(r->ref, "v1");
	assert_template(r, 0, "alpha", "local/four/alpha/1.0.0");
	/* An abbreviated commit id. */
	char *head = rev(src, "main");
	char *short_id = strndup(head, 10);
	checkout_wait(r, short_id, &s, 0);
	ASSERT_EQ_STR(r->commit, head);
	/* Unknown: refused, the repository stays where it was. */
	checkout_wait(r, "v9", &s, -ENOENT);
	ASSERT_NOT_NULL(strstr(s.error, "unknown ref 'v9'"));
	ASSERT_EQ_STR(r->commit, head);
	ASSERT_EQ_STR(r->ref, short_id);
	ASSERT_EQ_INT(zr_repo_checkout(r, "bad ref", on_done, &s), -EINVAL);
	/* A tag made upstream after the clone is fetched on demand. */
	commit_template(src, "alpha", "3.0.0", "third");
	tag(src, "v3");
	checkout_wait(r, "v3", &s, 0);
	assert_template(r, 0, "alpha", "local/four/alpha/3.0.0");
	zr_repo_close(r);
	/* A checkout of a repository never cloned clones it, at that ref. */
	char *err = NULL;
	ASSERT_OK(zr_repo_create(&loop, data_dir, src, &r, &err));
	ASSERT_EQ_STR(zr_repo_state(r), "new");
	checkout_wait(r, "v1", &s, 0);
	ASSERT_EQ_STR(r->commit, v1);
	ASSERT_EQ_STR(r->ref, "v1");
	zr_repo_close(r);
	end();
	seen_reset(&s);
	free(short_id);
	free(head);
	free(v1);
	free(src);
}

TEST(unknown_ref)
{
	begin("unknown_ref");
	char *src = source_alpha("five");
	char *spec = test_strf("%s#nope", src);
	clone_fails(spec, -ENOENT, "unknown ref 'nope'", spec);
	end();
	free(spec);
	free(src);
}

TEST(unreachable)
{
	begin("unreachable");
	/* Port 1 of the loopback: refused at once, no network involved. */
	clone_fails("http://127.0.0.1:1/acc/repo.git", -EIO, "Failed to clone 'http://127.0.0.1:1/",
		    NULL);
	char *missing = test_strf("%s/src/missing", root);
	clone_fails(missing, -ENOENT, "No such file or directory", NULL);
	char *url = test_strf("file://%s", missing);
	clone_fails(url, -EIO, "Failed to clone 'file://", NULL);
	/* A folder that is not a repository. */
	char *plain = test_strf("%s/src/plain", root);
	sh("mkdir -p '%s'", plain);
	clone_fails(plain, -EIO, "Failed to clone", NULL);
	end();
	free(plain);
	free(url);
	free(missing);
}

TEST(no_templates)
{
	begin("no_templates");
	char *src = new_source("six");
	sh("echo hello >'%s/README' && mkdir -p '%s/docs' && echo x >'%s/docs/x'", src, src, src);
	commit(src, "first");
	clone_fails(src, -ENOENT, "': no templates (no folder with a template.json)", NULL);
	/* A templates/ folder without a template in it is no better. */
	sh("mkdir -p '%s/templates/empty' && touch '%s/templates/empty/.keep'", src, src);
	commit(src, "second");
	clone_fails(src, -ENOENT, "': templates: no templates", NULL);
	end();
	free(src);
}

/* Templates may sit at the top of the repository, and may link inside it. */
TEST(top_level)
{
	begin("top_level");
	char *src = new_source("seven");
	put_manifest(src, "alpha", "alpha", "1.0.0");
	sh("mkdir -p '%s/lib' '%s/.hidden' && "
	   "printf '#!/bin/sh\\necho shared\\n' >'%s/lib/start' && chmod +x '%s/lib/start' && "
	   "ln -s ../../lib/start '%s/alpha/actions/start' && "
	   "echo '{\"name\": \"Hidden\"}' >'%s/.hidden/template.json'",
	   src, src, src, src, src, src);
	commit(src, "first");
	struct seen s = {0};
	struct zr_repo *r = clone_start(src, &s);
	wait_for(&s, 0);
	ASSERT_EQ_SIZE(r->catalog.n, 1);
	assert_template(r, 0, "alpha", "local/seven/alpha/1.0.0");
	zr_repo_close(r);
	end();
	seen_reset(&s);
	free(src);
}

/* A link that leaves the repository: refused by name, and nothing of the repository loaded,
 * not even its good templates. */
TEST(escaping_symlink)
{
	begin("escaping_symlink");
	char *src = source_alpha_and("eight", "evil");
	sh("ln -s /bin/true '%s/templates/evil/actions/start'", src);
	commit(src, "first");
	clone_fails(src, -EPERM, "': templates/evil/actions/start: symbolic link to '",
		    "' leaves the repository");
	/* A template folder that is itself a link out, and a relative link climbing out. */
	char *outside = test_strf("%s/outside", root);
	put_template(outside, "beta", "1.0.0");
	sh("cd '%s' && git rm -rq templates/evil && ln -s '%s/templates/beta' templates/beta",
	   src, outside);
	commit(src, "second");
	clone_fails(src, -EPERM, "': templates/beta: symbolic link to", NULL);
	sh("cd '%s' && git rm -q templates/beta", src);
	put_manifest(src, "templates/gamma", "gamma", "1.0.0");
	sh("cd '%s' && "
	   "ln -s \"$(printf '../%%.0s' $(seq 40))bin/true\" templates/gamma/actions/start",
	   src);
	commit(src, "third");
	clone_fails(src, -EPERM, "': templates/gamma/actions/start: symbolic link", NULL);
	end();
	free(outside);
	free(src);
}

TEST(bad_manifest_name)
{
	begin("bad_manifest_name");
	char *src = source_alpha_and("nine", "Bad");
	commit(src, "first");
	clone_fails(src, -EINVAL, "': templates/Bad/template.json: field 'name': must be a name",
		    NULL);
	end();
	free(src);
}

static int saves;

static void on_saved(int status, void *data)
{
	(void)data;
	ASSERT_OK(status);
	saves++;
}

/* repos.json keeps the list; a restart reopens each repository from disk, without the
 * network (the source is gone) and without touching the clone. */
TEST(reopen)
{
	begin("reopen");
	char *src = source_alpha("ten");
	tag(src, "v1");
	struct seen a = {0}, b = {0};
	char *spec = test_strf("%s#v1", src);
	struct zr_repo *repos[3];
	repos[0] = clone_start(src, &a);
	repos[1] = clone_start(spec, &b);
	/* Never cloned: not saved. */
	char *err = NULL;
	ASSERT_OK(zr_repo_create(&loop, data_dir, "/nonexistent/x", &repos[2], &err));
	ASSERT_EQ_STR(zr_repo_state(repos[2]), "new");
	ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
	ASSERT_EQ_INT(a.status, 0);
	ASSERT_EQ_INT(b.status, 0);
	ASSERT_OK(zr_repolist_save(&loop, data_dir, repos, 3, on_saved, NULL));
	ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
	ASSERT_EQ_INT(saves, 1);
	char *ids[2] = {strdup(repos[0]->id), strdup(repos[1]->id)};
	char *commits[2] = {strdup(repos[0]->commit), strdup(repos[1]->commit)};
	for (int i = 0; i < 3; i++) {
		zr_repo_close(repos[i]);
	}
	char *marker = test_strf("%s/repos/%s/git/zr-marker", data_dir, ids[0]);
	sh("touch '%s'", marker);
	struct stat before, after;
	char *gitdir = test_strf("%s/repos/%s/git", data_dir, ids[0]);
	ASSERT_EQ_INT(stat(gitdir, &before), 0);
	sh("rm -rf '%s'", src);

	struct zr_repolist l = {0};
	ASSERT_OK(zr_repolist_read(data_dir, &l, &err));
	ASSERT_EQ_SIZE(l.n, 2);
	ASSERT_NULL(l.entries[0].ref);
	ASSERT_EQ_STR(l.entries[1].ref, "v1");
	for (size_t i = 0; i < l.n; i++) {
		struct zr_repo *r = NULL;
		ASSERT_OK(zr_repo_open_existing(&loop, data_dir, &l.entries[i], &r, &err));
		ASSERT_EQ_STR(r->id, ids[i]);
		ASSERT_EQ_STR(r->commit, commits[i]);
		ASSERT_EQ_STR(r->url, src);
		ASSERT_OK(zr_repo_load_templates(r));
		ASSERT_EQ_STR(zr_repo_state(r), "ready");
		assert_template(r, 0, "alpha", "local/ten/alpha/1.0.0");
		zr_repo_close(r);
	}
	ASSERT_EQ_INT(stat(gitdir, &after), 0);
	ASSERT_EQ_INT(after.st_mtim.tv_sec, before.st_mtim.tv_sec);
	ASSERT_EQ_INT(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	ASSERT_TRUE(exists(marker));

	/* An export that disappeared: a clear error, repaired by a fetch (here impossible). */
	sh("rm -rf '%s/repos/%s/%s'", data_dir, ids[0], commits[0]);
	struct zr_repo *r = NULL;
	ASSERT_OK(zr_repo_open_existing(&loop, data_dir, &l.entries[0], &r, &err));
	ASSERT_EQ_INT(zr_repo_load_templates(r), -ENOENT);
	ASSERT_EQ_STR(zr_repo_state(r), "failed");
	ASSERT_NOT_NULL(strstr(r->error, "its files are missing from"));
	zr_repo_close(r);

	/* Entries that do not describe a repository are refused. */
	struct zr_repolist_entry bad = {.id = "../x", .url = "/x", .commit = commits[0]};
	ASSERT_EQ_INT(zr_repo_open_existing(&loop, data_dir, &bad, &r, &err), -EINVAL);
	ASSERT_EQ_STR(err, "repository '../x': bad id");
	free(err);
	err = NULL;
	bad = (struct zr_repolist_entry){.id = "x", .url = "/x", .commit = "abc"};
	ASSERT_EQ_INT(zr_repo_open_existing(&loop, data_dir, &bad, &r, &err), -EINVAL);
	free(err);
	err = NULL;
	zr_repolist_done(&l);

	/* A missing list is empty; a broken one is an error. */
	char *other = test_strf("%s/empty", data_dir);
	sh("mkdir -p '%s' && echo '{\"x\": 1}' >'%s/repos.json'", other, data_dir);
	ASSERT_OK(zr_repolist_read(other, &l, &err));
	ASSERT_EQ_SIZE(l.n, 0);
	ASSERT_EQ_INT(zr_repolist_read(data_dir, &l, &err), -EINVAL);
	ASSERT_NOT_NULL(strstr(err, "must hold a JSON array"));
	free(err);
	end();
	seen_reset(&a);
	seen_reset(&b);
	free(other);
	free(gitdir);
	free(marker);
	for (int i = 0; i < 2; i++) {
		free(ids[i]);
		free(commits[i]);
	}
	free(spec);
	free(src);
}

/* Closing a repository that is cloning: one callback, -ECANCELED, then it is freed. */
TEST(close_while_cloning)
{
	begin("close_while_cloning");
	char *src = source_one();
	struct seen s = {0};
	struct zr_repo *r = clone_start(src, &s);
	zr_repo_close(r);
	ASSERT_OK(uv_run(&loop, UV_RUN_DEFAULT));
	ASSERT_EQ_INT(s.calls, 1);
	ASSERT_EQ_INT(s.status, -ECANCELED);
	ASSERT_EQ_STR(s.error, "canceled");
	end();
	seen_reset(&s);
	free(src);
}

TEST(bad_spec)
{
	begin("bad_spec");
	struct zr_repo *r = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_repo_clone(&loop, data_dir, "https://h/a/b#", on_done, NULL, &r, &err),
		      -EINVAL);
	ASSERT_NULL(r);
	ASSERT_EQ_STR(err, "bad repository 'https://h/a/b#': want URL[#REF], REF a branch, tag or "
			   "commit");
	free(err);
	err = NULL;
	ASSERT_EQ_INT(zr_repo_create(&loop, data_dir, "https://github.com/", &r, &err), -EINVAL);
	ASSERT_EQ_STR(err, "bad repository URL 'https://github.com/': no repository name in it");
	free(err);
	end();
}

/* A URL with credentials: fetched as given, shown and named without them. */
TEST(credentials_in_url)
{
	begin("credentials_in_url");
	struct zr_repo *a = NULL, *b = NULL, *plain = NULL;
	char *err = NULL;
	ASSERT_OK(zr_repo_create(&loop, data_dir, "https://zr:SECRET1@git.example/acc/tpl.git#v1",
				 &a, &err));
	ASSERT_EQ_STR(a->url, "https://zr:***@git.example/acc/tpl.git");
	ASSERT_EQ_STR(a->fetch_url, "https://zr:SECRET1@git.example/acc/tpl.git");
	ASSERT_EQ_STR(a->source, "git.example/acc/tpl");
	ASSERT_NULL(strstr(a->id, "SECRET"));
	/* A new password for the same repository is the same repository. */
	ASSERT_OK(zr_repo_create(&loop, data_dir, "https://zr:SECRET2@git.example/acc/tpl.git#v1",
				 &b, &err));
	ASSERT_EQ_STR(b->id, a->id);
	ASSERT_OK(zr_repo_create(&loop, data_dir, "https://git.example/acc/tpl.git#v1", &plain,
				 &err));
	ASSERT_EQ_STR(plain->url, plain->fetch_url);
	ASSERT_NE_STR(plain->id, a->id);
	/* A refused spec does not quote the password back. */
	ASSERT_EQ_INT(zr_repo_create(&loop, data_dir, "https://zr:SECRET3@h/a/b#a..b", &b, &err),
		      -EINVAL);
	ASSERT_NULL(strstr(err, "SECRET3"));
	ASSERT_TRUE(strstr(err, "zr:***@h/a/b") != NULL);
	free(err);
	zr_repo_close(a);
	zr_repo_close(b);
	zr_repo_close(plain);
	end();
}

int main(void)
{
	root = test_strf("%s/test-repo.XXXXXX", test_tmp_dir());
	if (!mkdtemp(root)) {
		FAIL("mkdtemp %s: %s", root, strerror(errno));
	}
	if (system("git --version >/dev/null 2>&1") != 0) {
		TEST_SKIP("no git command");
	}
	/* The tests' git commands must not see the user's configuration, nor look for a
	 * repository above the scratch folder. */
	clean_git_environment();
	setenv("HOME", root, 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("GIT_CEILING_DIRECTORIES", root, 1);
	zr_git_init();
	RUN_TEST(clone_path);
	RUN_TEST(clone_file_url);
	RUN_TEST(two_tags);
	RUN_TEST(fetch);
	RUN_TEST(checkout);
	RUN_TEST(unknown_ref);
	RUN_TEST(unreachable);
	RUN_TEST(no_templates);
	RUN_TEST(top_level);
	RUN_TEST(escaping_symlink);
	RUN_TEST(bad_manifest_name);
	RUN_TEST(reopen);
	RUN_TEST(close_while_cloning);
	RUN_TEST(bad_spec);
	RUN_TEST(credentials_in_url);
	zr_git_shutdown();
	ASSERT_OK(zr_rm_rf(root));
	free(root);
	return 0;
}
