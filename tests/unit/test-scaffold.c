/* Unit tests for core/scaffold.c: the skeleton loads as a template, and its actions run as
 * they are, reporting through fd 3. */
#include "scaffold.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "template.h"
#include "test.h"
#include "util/fs.h"

static char *root;

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		FAIL("fopen %s: %s", path, strerror(errno));
	}
	char *buf = calloc(1, 65536);
	ASSERT_NOT_NULL(buf);
	size_t n = fread(buf, 1, 65535, f);
	(void)n;
	ASSERT_EQ_INT(fclose(f), 0);
	return buf;
}

/* Runs action in cwd with DATA_PORT set, stdout and fd 3 to files in cwd; returns the exit
 * status. */
static int run_action(const struct zr_template *t, const char *name, const char *cwd)
{
	const struct zr_action_def *a = zr_template_action(t, name);
	ASSERT_NOT_NULL(a);
	char *cmd = test_strf("cd '%s' && DATA_PORT=9090 '%s' </dev/null >%s.out 3>%s.fd3", cwd, a->path,
			name, name);
	int st = system(cmd);
	free(cmd);
	ASSERT_TRUE(WIFEXITED(st));
	return WEXITSTATUS(st);
}

static void assert_file_is(const char *dir, const char *name, const char *want)
{
	char *path = test_strf("%s/%s", dir, name);
	char *got = slurp(path);
	ASSERT_EQ_STR(got, want);
	free(got);
	free(path);
}

TEST(loads_and_runs)
{
	char *dir = test_strf("%s/new/folder", root);
	char *err = NULL;
	ASSERT_OK(zr_scaffold_template("hello", dir, &err));
	ASSERT_NULL(err);
	char *tdir = test_strf("%s/hello", dir);
	struct zr_template *t = NULL;
	int r = zr_template_load(tdir, "local", &t, &err);
	if (r != 0) {
		FAIL("zr_template_load: %d %s", r, err);
	}
	ASSERT_EQ_STR(t->uid, "local/hello/0.1.0");
	ASSERT_EQ_SIZE(t->n_actions, 4);
	const char *names[] = {"install", "monitor", "start", "stop"};
	for (size_t i = 0; i < 4; i++) {
		ASSERT_EQ_STR(t->actions[i].name, names[i]);
		ASSERT_EQ_INT(access(t->actions[i].path, X_OK), 0);
	}
	ASSERT_EQ_DOUBLE(zr_template_action(t, "monitor")->every, 30);
	ASSERT_EQ_SIZE(t->n_on_delete, 1);
	json_t *port = json_object_get(json_object_get(t->manifest, "data"), "port");
	ASSERT_EQ_INT(json_integer_value(json_object_get(port, "default")), 8080);

	/* Each action, run by hand the way the runner does: cwd is the work folder. */
	char *work = test_strf("%s/work", root);
	ASSERT_OK(zr_mkdir_p(work, 0755));
	ASSERT_EQ_INT(run_action(t, "install", work), 0);
	assert_file_is(work, "install.out", "installed hello, port 9090\n");
	assert_file_is(work, "install.fd3",
		       "progress 0 2\nprogress 1 2\nprogress 2 2\nstate service installed ok\n");
	assert_file_is(work, "config", "port=9090\n");
	ASSERT_EQ_INT(run_action(t, "monitor", work), 0);
	assert_file_is(work, "monitor.fd3", "state service running skipped\n");
	ASSERT_EQ_INT(run_action(t, "start", work), 0);
	assert_file_is(work, "start.fd3", "state service running ok\n");
	ASSERT_EQ_INT(run_action(t, "monitor", work), 0);
	assert_file_is(work, "monitor.fd3", "state service running ok\n");
	ASSERT_EQ_INT(run_action(t, "stop", work), 0);
	assert_file_is(work, "stop.fd3", "state service running skipped\n");
	/* Without fd 3 (by hand in a terminal), the reports go nowhere. */
	char *cmd = test_strf("cd '%s' && '%s' >/dev/null 3>&-", work,
			zr_template_action(t, "install")->path);
	ASSERT_EQ_INT(system(cmd), 0);
	free(cmd);
	zr_template_free(t);

	/* Never over an existing template; names are checked. */
	ASSERT_EQ_INT(zr_scaffold_template("hello", dir, &err), -EEXIST);
	ASSERT_NOT_NULL(strstr(err, "already exists"));
	free(err);
	err = NULL;
	ASSERT_EQ_INT(zr_scaffold_template("Hello", dir, &err), -EINVAL);
	ASSERT_NOT_NULL(strstr(err, "bad template name 'Hello'"));
	free(err);
	free(work);
	free(tdir);
	free(dir);
}

int main(void)
{
	root = test_strf("%s/test-scaffold.XXXXXX", test_tmp_dir());
	if (!mkdtemp(root)) {
		FAIL("mkdtemp %s: %s", root, strerror(errno));
	}
	RUN_TEST(loads_and_runs);
	ASSERT_OK(zr_rm_rf(root));
	free(root);
	return 0;
}
