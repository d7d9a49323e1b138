/* Unit tests for core/remote/untrusted.c and the listing parser: what a remote robot answers is
 * untrusted (README "Security"). Names, symlink targets (which must stay inside the remote),
 * the percent-encoding of the paths we send, the rewriting of a remote's Location, and the
 * entries a listing keeps or leaves out. */
#include "remote/untrusted.h"

#include <sys/stat.h>

#include "remote/remote-internal.h"
#include "test.h"

static bool target(const char *dir, const char *t)
{
	return zr_untrusted_target_ok(dir, t, strlen(t));
}

TEST(names)
{
	ASSERT_TRUE(zr_untrusted_name_ok("node", 4));
	ASSERT_TRUE(zr_untrusted_name_ok("a.b@c", 5));
	ASSERT_TRUE(zr_untrusted_name_ok("...", 3));
	ASSERT_FALSE(zr_untrusted_name_ok("", 0));
	ASSERT_FALSE(zr_untrusted_name_ok(".", 1));
	ASSERT_FALSE(zr_untrusted_name_ok("..", 2));
	ASSERT_FALSE(zr_untrusted_name_ok("a/b", 3));
	ASSERT_FALSE(zr_untrusted_name_ok("/", 1));
	ASSERT_FALSE(zr_untrusted_name_ok("a\0b", 3));
	char long_name[300];
	memset(long_name, 'x', sizeof(long_name));
	ASSERT_TRUE(zr_untrusted_name_ok(long_name, 255));
	ASSERT_FALSE(zr_untrusted_name_ok(long_name, 256));
}

TEST(targets)
{
	/* What robots list: producers/<role> and consumers/<t>.<s>[@robot], three levels down. */
	ASSERT_TRUE(target("t/s/producers", "../../../db/main"));
	ASSERT_TRUE(target("t/s/consumers", "../../../@remote/c/app/x"));
	ASSERT_TRUE(target("t/s", "data"));
	ASSERT_TRUE(target("t/s", "./data"));
	ASSERT_TRUE(target("t/s", "../s/./data"));
	ASSERT_TRUE(target("t/s", "../../t/s/"));
	ASSERT_TRUE(target("", "node/n1"));
	ASSERT_TRUE(target("", "node//n1"));
	/* out of the remote's subtree */
	ASSERT_FALSE(target("t/s/producers", "/etc/shadow"));
	ASSERT_FALSE(target("t/s/producers", "/"));
	ASSERT_FALSE(target("t/s/producers", "../../../../etc"));
	ASSERT_FALSE(target("", ".."));
	ASSERT_FALSE(target("", "../x"));
	ASSERT_FALSE(target("t", "./../../x"));
	ASSERT_FALSE(target("t/s", "../../../../../../../../etc/shadow"));
	/* a ".." after a name climbs from where that name leads, maybe a symlink: refused */
	ASSERT_FALSE(target("t/s/producers", "db/.."));
	ASSERT_FALSE(target("", "x/y/b/.."));
	ASSERT_FALSE(target("t/s", "../s/../s"));
	/* empty, NUL, too long */
	ASSERT_FALSE(target("t", ""));
	ASSERT_FALSE(zr_untrusted_target_ok("t", "a\0/../..", 8));
	char *big = malloc(ZR_UNTRUSTED_TARGET_MAX + 2);
	ASSERT_NOT_NULL(big);
	memset(big, 'a', ZR_UNTRUSTED_TARGET_MAX + 1);
	ASSERT_TRUE(zr_untrusted_target_ok("", big, ZR_UNTRUSTED_TARGET_MAX));
	ASSERT_FALSE(zr_untrusted_target_ok("", big, ZR_UNTRUSTED_TARGET_MAX + 1));
	free(big);
}

static char *encode_path(const char *path, int *ret_err)
{
	struct zr_buf b = {0};
	*ret_err = zr_untrusted_path_encode(&b, path);
	if (*ret_err < 0) {
		zr_buf_done(&b);
		return NULL;
	}
	return zr_buf_steal(&b);
}

TEST(path_encoding)
{
	static const struct {
		const char *in, *out;
	} rows[] = {
		{"", ""},
		{"node/n1/data", "node/n1/data"},
		{"@robot/events", "%40robot/events"},
		{"t/a%2Fb", "t/a%252Fb"},
		{"t/s/data?wait=1", "t/s/data%3Fwait%3D1"},
		{"t/x#y", "t/x%23y"},
		{"t/a b", "t/a%20b"},
		{"t/~x_y-z.1", "t/~x_y-z.1"},
		{"t/\xc3\xa9", "t/%C3%A9"},
		{"t/s/", "t/s"},
	};
	int err;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		TEST_CASE("row %zu: %s", i, rows[i].in);
		char *got = encode_path(rows[i].in, &err);
		ASSERT_EQ_INT(err, 0);
		ASSERT_EQ_STR(got, rows[i].out);
		free(got);
	}
	TEST_CASE_END();
	static const char *bad[] = {"..", "t/..", "t/../x", ".", "t/./x", "t//x", "/t"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_CASE("bad %s", bad[i]);
		ASSERT_NULL(encode_path(bad[i], &err));
		ASSERT_EQ_INT(err, -EINVAL);
	}
	TEST_CASE_END();
}

TEST(locations)
{
	static const struct {
		const char *base, *path, *loc, *want; /* want NULL: -EINVAL */
	} rows[] = {
		/* what our own robots answer: a symlink followed, a task, a service */
		{"http://127.0.0.1:6600", "app/c/producers/host", "/v1/t/a", "/v1/t/a"},
		{"http://127.0.0.1:6600", "t/a/actions/go", "/v1/t/a/tasks/12", "/v1/t/a/tasks/12"},
		{"http://127.0.0.1:6600", "t", "/v1/t/a?wait=30", "/v1/t/a?wait=30"},
		{"http://127.0.0.1:6600", "t", "/v1", "/v1/"},
		{"http://127.0.0.1:6600", "t", "/v1/", "/v1/"},
		{"http://127.0.0.1:6600", "t", "/v1/@remote/x/t/s", "/v1/%40remote/x/t/s"},
		/* absolute URLs: the same origin only */
		{"http://127.0.0.1:6600", "t", "http://127.0.0.1:6600/v1/t/b", "/v1/t/b"},
		{"http://127.0.0.1:6600", "t", "HTTP://127.0.0.1:6600/v1/t/b", "/v1/t/b"},
		{"http://127.0.0.1:6600", "t", "http://evil.example/", NULL},
		{"http://127.0.0.1:6600", "t", "http://evil.example/v1/t/b", NULL},
		{"http://127.0.0.1:6600", "t", "http://127.0.0.1:66001/v1/t/b", NULL},
		{"http://127.0.0.1:6600", "t", "http://127.0.0.1:6600@evil.example/v1/t", NULL},
		{"http://127.0.0.1:6600", "t", "https://127.0.0.1:6600/v1/t/b", NULL},
		{"http://127.0.0.1:6600", "t", "//evil.example/v1/t", NULL},
		{"http://127.0.0.1:6600", "t", "//127.0.0.1:6600/v1/t", NULL},
		{"http://127.0.0.1:6600", "t", "file:///etc/shadow", NULL},
		{"http://127.0.0.1:6600", "t", "javascript:alert(1)", NULL},
		/* relative references, against /v1/<path> */
		{"http://127.0.0.1:6600", "t/s/producers/db", "../../x", "/v1/t/x"},
		{"http://127.0.0.1:6600", "x", "../../x", NULL},
		{"http://127.0.0.1:6600", "t/s", "../../x", NULL},
		{"http://127.0.0.1:6600", "t/s", "../../../../../etc/passwd", NULL},
		{"http://127.0.0.1:6600", "t/s", "data", "/v1/t/data"},
		{"http://127.0.0.1:6600", "t/s/", "data", "/v1/t/data"}, /* our paths end in no '/' */
		{"http://127.0.0.1:6600", "t/s", "./", "/v1/t"},
		{"http://127.0.0.1:6600", "t/s", "?wait=1", "/v1/t/s?wait=1"},
		/* paths outside /v1/ */
		{"http://127.0.0.1:6600", "t", "/metrics", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/../etc", NULL},
		{"http://127.0.0.1:6600", "t", "/v2/t", NULL},
		{"http://127.0.0.1:6600", "t", "/v1x/t", NULL},
		{"http://127.0.0.1:6600", "t", "/", NULL},
		/* components that are no names once decoded */
		{"http://127.0.0.1:6600", "t", "/v1/t/%2e%2e/x", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/a%2Fb", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/a%00b", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/a%0ab", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/a%zzb", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/a%2", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/t//s", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/t/s\r\nSet-Cookie: x", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/a%20b", "/v1/a%20b"},
		{"http://127.0.0.1:6600", "t", "/v1/%61", "/v1/a"},
		/* queries: plain ones only; the fragment goes */
		{"http://127.0.0.1:6600", "t", "/v1/t?a=<b>", NULL},
		{"http://127.0.0.1:6600", "t", "/v1/t?a=%2F&b=c+d", "/v1/t?a=%2F&b=c+d"},
		{"http://127.0.0.1:6600", "t", "/v1/t#frag", "/v1/t"},
		{"http://127.0.0.1:6600", "t", "/v1/t?", "/v1/t"},
		/* a base with a path of its own */
		{"https://h.example/zr", "t/s", "/zr/v1/t/b", "/v1/t/b"},
		{"https://h.example/zr", "t/s", "/v1/t/b", NULL},
		{"https://h.example/zr", "t/s", "../../x", NULL},
		{"https://h.example/zr", "t/s/a", "../../x", "/v1/x"},
		{"https://h.example/zr", "t", "https://h.example/zr/v1/t", "/v1/t"},
		{"https://h.example/zr", "t", "https://h.example/zrx/v1/t", NULL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		TEST_CASE("row %zu: %s + %s", i, rows[i].path, rows[i].loc);
		char *got = NULL;
		int err = zr_untrusted_location(rows[i].base, rows[i].path, rows[i].loc, &got);
		if (rows[i].want) {
			ASSERT_EQ_INT(err, 0);
			ASSERT_EQ_STR(got, rows[i].want);
		} else {
			ASSERT_EQ_INT(err, -EINVAL);
			ASSERT_NULL(got);
		}
		free(got);
	}
	TEST_CASE_END();
}

/* ---- the listing parser ---- */

static int n_refused;
static char refused_names[16][64];

static void on_refused(const char *name, const char *why, void *data)
{
	(void)why, (void)data;
	if (n_refused < 16) {
		snprintf(refused_names[n_refused], sizeof(refused_names[0]), "%s", name);
	}
	n_refused++;
}

static struct listing *parse(const char *dir, const char *body, int *ret_err)
{
	struct listing *l = NULL;
	n_refused = 0;
	*ret_err = zr_listing_parse(dir, body, strlen(body), on_refused, NULL, &l);
	return l;
}

TEST(listing)
{
	int err;
	struct listing *l = parse("t/s/producers",
		"{\"entries\": ["
		"{\"name\":\"ok\",\"kind\":\"file\",\"mode\":\"0644\",\"size\":12,"
		"\"mtime\":\"2026-11-22T10:00:00.250Z\"},"
		"{\"name\":\"dir\",\"kind\":\"dir\",\"mode\":\"0755\"},"
		"{\"name\":\"db\",\"kind\":\"symlink\",\"mode\":\"0777\",\"target\":\"../../../db/main\"},"
		"{\"name\":\"shadow\",\"kind\":\"symlink\",\"mode\":\"0777\",\"target\":\"/etc/shadow\"},"
		"{\"name\":\"up\",\"kind\":\"symlink\",\"mode\":\"0777\",\"target\":\"../../../../etc\"},"
		"{\"name\":\"notarget\",\"kind\":\"symlink\",\"mode\":\"0777\"},"
		"{\"name\":\"suid\",\"kind\":\"file\",\"mode\":\"6755\",\"size\":-5,\"mtime\":\"9999-01-01T00:00:00Z\"},"
		"{\"name\":\"sticky\",\"kind\":\"dir\",\"mode\":\"1777\"},"
		"{\"name\":\"a/b\",\"kind\":\"file\",\"mode\":\"0644\"},"
		"{\"name\":\"..\",\"kind\":\"dir\",\"mode\":\"0755\"},"
		"{\"name\":\"dev\",\"kind\":\"chardev\",\"mode\":\"0666\"},"
		"{\"name\":\"badmode\",\"kind\":\"file\",\"mode\":\"rwx\"},"
		"{\"name\":\"bigmode\",\"kind\":\"file\",\"mode\":\"177777\"},"
		"{\"name\":7,\"kind\":\"file\",\"mode\":\"0644\"},"
		"{\"name\":\"file-target\",\"kind\":\"file\",\"mode\":\"0644\",\"target\":\"/etc\"},"
		"{\"name\":\"ok\",\"kind\":\"symlink\",\"mode\":\"0777\",\"target\":\"dir\"}"
		"]}", &err);
	ASSERT_EQ_INT(err, 0);
	ASSERT_NOT_NULL(l);
	ASSERT_EQ_SIZE(l->n, 6);
	const struct rentry *e = zr_listing_find(l, "ok");
	ASSERT_NOT_NULL(e);
	ASSERT_EQ_INT(e->mode, S_IFREG | 0644);
	ASSERT_EQ_U64(e->size, 12);
	ASSERT_EQ_INT(e->mtime_ns, 1795341600250000000LL);
	ASSERT_EQ_INT(zr_listing_find(l, "dir")->mode, S_IFDIR | 0755);
	e = zr_listing_find(l, "db");
	ASSERT_EQ_INT(e->mode, S_IFLNK | 0777);
	ASSERT_EQ_STR(e->target, "../../../db/main");
	e = zr_listing_find(l, "suid");
	ASSERT_EQ_INT(e->mode, S_IFREG | 0755);
	ASSERT_EQ_U64(e->size, 0);
	ASSERT_EQ_INT(e->mtime_ns, 0);
	ASSERT_EQ_INT(zr_listing_find(l, "sticky")->mode, S_IFDIR | 0777);
	e = zr_listing_find(l, "file-target");
	ASSERT_EQ_INT(e->mode, S_IFREG | 0644);
	ASSERT_NULL(e->target);
	ASSERT_NULL(zr_listing_find(l, "shadow"));
	ASSERT_NULL(zr_listing_find(l, "up"));
	ASSERT_EQ_INT(n_refused, 10);
	ASSERT_EQ_STR(refused_names[0], "shadow");
	ASSERT_EQ_STR(refused_names[1], "up");
	ASSERT_EQ_STR(refused_names[2], "notarget");
	ASSERT_EQ_STR(refused_names[8], "?");
	ASSERT_EQ_STR(refused_names[9], "ok"); /* listed twice: the first one stays */
	zr_listing_free(l);

	/* The same symlink is fine one level deeper, where it stays inside. */
	l = parse("t/s/producers/x", "{\"entries\": [{\"name\":\"up\",\"kind\":\"symlink\","
				     "\"mode\":\"0777\",\"target\":\"../../../../etc\"}]}", &err);
	ASSERT_EQ_INT(err, 0);
	ASSERT_EQ_SIZE(l->n, 1);
	zr_listing_free(l);

	/* not a listing; jansson refuses a NUL in a string (\u0000) and so the whole listing */
	ASSERT_NULL(parse("", "{\"entries\": [{\"name\":\"a\\u0000b\",\"kind\":\"file\",\"mode\":\"0644\"}]}", &err));
	ASSERT_EQ_INT(err, -EIO);
	ASSERT_NULL(parse("", "[]", &err));
	ASSERT_EQ_INT(err, -EIO);
	ASSERT_NULL(parse("", "{\"entries\": {}}", &err));
	ASSERT_EQ_INT(err, -EIO);
	ASSERT_NULL(parse("", "{\"entries\": [", &err));
	ASSERT_EQ_INT(err, -EIO);
	l = parse("", "{\"entries\": [1, null, [], \"x\"]}", &err);
	ASSERT_EQ_INT(err, 0);
	ASSERT_EQ_SIZE(l->n, 0);
	ASSERT_EQ_INT(n_refused, 4);
	zr_listing_free(l);
}

TEST(listing_caps)
{
	/* ZR_LISTING_MAX_ENTRIES entries pass, one more is EFBIG, whatever they hold. */
	struct zr_buf b = {0};
	ASSERT_OK(zr_buf_puts(&b, "{\"entries\": ["));
	for (int i = 0; i < ZR_LISTING_MAX_ENTRIES; i++) {
		ASSERT_OK(zr_buf_puts(&b, i ? ",{}" : "{}"));
	}
	ASSERT_OK(zr_buf_puts(&b, "]}"));
	struct listing *l = NULL;
	ASSERT_EQ_INT(zr_listing_parse("", b.data, b.len, NULL, NULL, &l), 0);
	ASSERT_EQ_SIZE(l->n, 0);
	zr_listing_free(l);
	l = NULL;
	b.len -= 2;
	ASSERT_OK(zr_buf_puts(&b, ",{}]}"));
	ASSERT_EQ_INT(zr_listing_parse("", b.data, b.len, NULL, NULL, &l), -EFBIG);
	ASSERT_NULL(l);
	/* and a body past ZR_LISTING_MAX_BYTES, before it is parsed */
	ASSERT_EQ_INT(zr_listing_parse("", b.data, ZR_LISTING_MAX_BYTES + 1, NULL, NULL, &l), -EFBIG);
	zr_buf_done(&b);
}

int main(void)
{
	RUN_TEST(names);
	RUN_TEST(targets);
	RUN_TEST(path_encoding);
	RUN_TEST(locations);
	RUN_TEST(listing);
	RUN_TEST(listing_caps);
	return 0;
}
