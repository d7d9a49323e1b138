/* The model tests' robot in a scratch folder (test-fixture.h). */
#include "test-fixture.h"

#include <ftw.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "test.h"

uv_loop_t loop;
uv_timer_t tick;
char *base;
struct zr_store *store;
struct zr_robot *robot;
int checks;
bool checks_later;

static char *data_dir, *templates_dir;

void fixture_init(const char *name)
{
	(void)signal(SIGPIPE, SIG_IGN);
	ASSERT_TRUE(asprintf(&base, "%s/zr-%s.XXXXXX", test_tmp_dir(), name) > 0);
	ASSERT_NOT_NULL(mkdtemp(base));
	data_dir = test_strf("%s/data", base);
	templates_dir = test_strf("%s/templates", base);
	ASSERT_OK(mkdir(data_dir, 0700));
	ASSERT_OK(mkdir(templates_dir, 0755));
	ASSERT_OK(uv_loop_init(&loop));
	ASSERT_OK(uv_timer_init(&loop, &tick));
}

void make_template(const char *name, const char *manifest, ...)
{
	char *dir = test_strf("%s/%s", templates_dir, name);
	char *actions = test_strf("%s/actions", dir);
	char *file = test_strf("%s/template.json", dir);
	ASSERT_OK(mkdir(dir, 0755));
	ASSERT_OK(mkdir(actions, 0755));
	test_write_file(file, manifest, 0644);
	va_list ap;
	va_start(ap, manifest);
	for (const char *a; (a = va_arg(ap, const char *));) {
		char *path = test_strf("%s/%s", actions, a);
		char *body = test_strf("#!/bin/sh\n%s\n", va_arg(ap, const char *));
		test_write_file(path, body, 0755);
		free(path);
		free(body);
	}
	va_end(ap);
	free(dir);
	free(actions);
	free(file);
}

void fixture_robot(const char *robot_name, int jobs, int n_templates)
{
	char *why = NULL;
	int err = zr_store_open(&loop, data_dir, &store, &why);
	if (err < 0) {
		FAIL("zr_store_open: %s", why ? why : strerror(-err));
	}
	/* The robot keeps the strings: data_dir lives until fixture_finish, the name is the
	 * caller's literal. */
	struct zr_robot_config cfg = {
		.store = store, .mount = "/nonexistent", .data_dir = data_dir, .name = robot_name,
		.jobs = jobs, .queue_max = 16, .history = 16, .result_max = 4096, .kill_grace = 1,
	};
	ASSERT_OK(zr_robot_create(&loop, &cfg, &robot));
	ASSERT_EQ_INT(zr_robot_load_templates(robot, templates_dir), n_templates);
	ASSERT_OK(zr_robot_load_store(robot));
}

static bool stopped;

static void on_stopped(struct zr_robot *r)
{
	(void)r;
	stopped = true;
}

void fixture_stop(void)
{
	stopped = false;
	zr_robot_stop(robot, on_stopped);
	TEST_RUN_UNTIL(&loop, &tick, stopped, "the robot did not stop within 20 s");
	zr_store_close(store);
	store = NULL;
	robot->cfg.store = NULL;
	zr_robot_destroy(robot);
	robot = NULL;
}

char *fixture_events(void)
{
	struct zr_journal_cursor c = {0};
	char buf[4096];
	size_t n, len = 0;
	char *all = calloc(1, 1);
	ASSERT_NOT_NULL(all);
	while ((n = zr_journal_read(&robot->events, &c, len, buf, sizeof(buf))) > 0) {
		all = realloc(all, len + n + 1);
		ASSERT_NOT_NULL(all);
		memcpy(all + len, buf, n);
		len += n;
		all[len] = '\0';
	}
	return all;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

void fixture_finish(void)
{
	uv_close((uv_handle_t *)&tick, NULL);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_OK(uv_loop_close(&loop));
	(void)nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(data_dir);
	free(templates_dir);
	free(base);
	data_dir = templates_dir = base = NULL;
}

/* ---- a fake check of producers on other robots ---- */

struct later {
	uv_timer_t timer;
	int err;
	void (*cb)(int err, const char *why, void *cbdata);
	void *cbdata;
};

static void on_later_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_later(uv_timer_t *timer)
{
	struct later *l = timer->data;
	l->cb(l->err, l->err ? "no such service on far" : NULL, l->cbdata);
	uv_close((uv_handle_t *)timer, on_later_closed);
}

void check_producer(const char *producer, void (*cb)(int err, const char *why, void *cbdata),
		    void *cbdata, void *data)
{
	(void)data;
	checks++;
	int err = strcmp(producer, "@remote/far/node/there") == 0 ? 0 : -EINVAL;
	if (checks_later) {
		struct later *l = calloc(1, sizeof(*l));
		ASSERT_NOT_NULL(l);
		*l = (struct later){.err = err, .cb = cb, .cbdata = cbdata};
		ASSERT_OK(uv_timer_init(&loop, &l->timer));
		l->timer.data = l;
		ASSERT_OK(uv_timer_start(&l->timer, on_later, 1, 0));
		return;
	}
	cb(err, err ? "no such service on far" : NULL, cbdata);
}
