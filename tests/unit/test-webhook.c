/* Unit tests for core/webhook.c: the add line's parser, the type matcher, the signature
 * against RFC 4231's HMAC-SHA256 vectors, the backoff sequence, the status text, deliveries in
 * order with their headers to a real receiver on 127.0.0.1 (libmicrohttpd, in this process),
 * failures against a closed port, the bound on pending deliveries (oldest dropped), and pending
 * deliveries and delivery numbers kept across a store's close and reopen (schema 6 migrated). */
#include "webhook.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include "store.h"
#include "test.h"
#include "util/buf.h"

/* ---- pure helpers ---- */

TEST(parse)
{
	char *url = NULL, **types = NULL, *why = NULL;
	size_t n = 9;
	ASSERT_OK(zr_webhook_parse("http://127.0.0.1:9/h", &url, &types, &n, &why));
	ASSERT_EQ_STR(url, "http://127.0.0.1:9/h");
	ASSERT_EQ_SIZE(n, 0);
	ASSERT_NULL(types[0]);
	free(url);
	free(types);

	ASSERT_OK(zr_webhook_parse("  https://u:p@x.example/h?a=1 task.finished task.* *\n", &url, &types,
				   &n, &why));
	ASSERT_EQ_STR(url, "https://u:p@x.example/h?a=1");
	ASSERT_EQ_SIZE(n, 3);
	ASSERT_EQ_STR(types[0], "task.finished");
	ASSERT_EQ_STR(types[1], "task.*");
	ASSERT_EQ_STR(types[2], "*");
	ASSERT_NULL(types[3]);
	for (size_t i = 0; i < n; i++) {
		free(types[i]);
	}
	free(types);
	free(url);

	char long_url[ZR_WEBHOOK_URL_MAX + 32];
	memset(long_url, 'a', sizeof(long_url));
	memcpy(long_url, "http://", 7);
	long_url[ZR_WEBHOOK_URL_MAX + 1] = '\0';
	struct zr_buf many = {0};
	ASSERT_OK(zr_buf_puts(&many, "http://h/"));
	for (int i = 0; i <= ZR_WEBHOOK_TYPES_MAX; i++) {
		ASSERT_OK(zr_buf_printf(&many, " t%d", i));
	}
	const char *bad[] = {
		"", "   \n", "ftp://h/x", "file:///etc/passwd", "h/x", "http://h/ Task.finished",
		"http://h/ task finished;", "http://h/ task/x",
		"http://h/ aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
		long_url, many.data, "http://h/\x01x",
		/* Stars other than "*" and "P.*" would match nothing. */
		"http://h/ task*", "http://h/ a*b", "http://h/ **", "http://h/ *.finished", "http://h/ .*",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_CASE("bad line %zu", i);
		why = NULL;
		url = NULL;
		ASSERT_EQ_INT(zr_webhook_parse(bad[i], &url, &types, &n, &why), -EINVAL);
		ASSERT_NOT_NULL(why);
		ASSERT_NULL(url);
		free(why);
	}
	TEST_CASE_END();
	/* The limits themselves are fine: a URL of ZR_WEBHOOK_URL_MAX bytes, 32 types of 64. */
	long_url[ZR_WEBHOOK_URL_MAX] = '\0';
	ASSERT_OK(zr_webhook_parse(long_url, &url, &types, &n, &why));
	ASSERT_EQ_SIZE(strlen(url), ZR_WEBHOOK_URL_MAX);
	free(url);
	free(types);
	zr_buf_done(&many);
}

TEST(match)
{
	ASSERT_TRUE(zr_webhook_match("*", "task.finished"));
	ASSERT_TRUE(zr_webhook_match("task.finished", "task.finished"));
	ASSERT_FALSE(zr_webhook_match("task.finished", "task.started"));
	ASSERT_TRUE(zr_webhook_match("task.*", "task.finished"));
	ASSERT_TRUE(zr_webhook_match("task.*", "task.a.b"));
	ASSERT_FALSE(zr_webhook_match("task.*", "task"));
	ASSERT_FALSE(zr_webhook_match("task.*", "tasks.finished"));
	ASSERT_FALSE(zr_webhook_match("task.*", "service.created"));
	ASSERT_FALSE(zr_webhook_match("task", "task.finished"));
	/* A star elsewhere is a plain character, not a pattern. */
	ASSERT_FALSE(zr_webhook_match("t*", "task.finished"));
}

TEST(hmac)
{
	char sig[ZR_WEBHOOK_SIG_LEN + 1];
	/* RFC 4231 test case 2. */
	const char *data = "what do ya want for nothing?";
	ASSERT_OK(zr_webhook_sign("Jefe", data, strlen(data), sig));
	ASSERT_EQ_STR(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* RFC 4231 test case 1: key 20 bytes of 0x0b, "Hi There". */
	char key[21];
	memset(key, 0x0b, 20);
	key[20] = '\0';
	ASSERT_OK(zr_webhook_sign(key, "Hi There", 8, sig));
	ASSERT_EQ_STR(sig, "sha256=b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

TEST(backoff)
{
	const uint64_t want[] = {0, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		TEST_CASE("fails %u", i);
		ASSERT_EQ_U64(zr_webhook_backoff_ms(i), want[i]);
	}
	TEST_CASE_END();
	ASSERT_EQ_U64(zr_webhook_backoff_ms(1000000), 60000);
}

/* ---- a receiver on 127.0.0.1 ---- */

#define MAX_GOT 16
struct got {
	char event[80], delivery[80], signature[120], ctype[80], agent[80];
	char body[512];
};
static pthread_mutex_t got_lock = PTHREAD_MUTEX_INITIALIZER;
static struct got got[MAX_GOT];
static int n_got;
static unsigned answer_status = 200;
static struct MHD_Daemon *httpd;
static uint16_t port;

static void copy_header(struct MHD_Connection *c, const char *name, char *dst, size_t n)
{
	const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
	snprintf(dst, n, "%s", v ? v : "");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	(void)cls, (void)url, (void)version;
	struct zr_buf *b = *con_cls;
	if (!b) {
		b = calloc(1, sizeof(*b));
		*con_cls = b;
		return b ? MHD_YES : MHD_NO;
	}
	if (*upload_size > 0) {
		(void)zr_buf_append(b, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&got_lock);
	if (n_got < MAX_GOT && strcmp(method, "POST") == 0) {
		struct got *g = &got[n_got++];
		copy_header(conn, "X-Zrobot-Event", g->event, sizeof(g->event));
		copy_header(conn, "X-Zrobot-Delivery", g->delivery, sizeof(g->delivery));
		copy_header(conn, "X-Zrobot-Signature", g->signature, sizeof(g->signature));
		copy_header(conn, "Content-Type", g->ctype, sizeof(g->ctype));
		copy_header(conn, "User-Agent", g->agent, sizeof(g->agent));
		snprintf(g->body, sizeof(g->body), "%.*s", (int)b->len, b->data ? b->data : "");
	}
	unsigned status = answer_status;
	pthread_mutex_unlock(&got_lock);
	struct MHD_Response *r = MHD_create_response_from_buffer(2, (void *)"ok", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	(void)cls, (void)c, (void)toe;
	struct zr_buf *b = *con_cls;
	if (b) {
		zr_buf_done(b);
		free(b);
	}
}

static void server_start(void)
{
	httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
				 MHD_USE_AUTO | MHD_USE_ERROR_LOG,
				 0, NULL, NULL, on_request, NULL,
				 MHD_OPTION_SOCK_ADDR, &(struct sockaddr_in){
					 .sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				 },
				 MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
	if (!httpd) {
		TEST_SKIP("cannot start an HTTP server on 127.0.0.1");
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(httpd, MHD_DAEMON_INFO_BIND_PORT);
	ASSERT_NOT_NULL(info);
	port = info->port;
}

/* A port on 127.0.0.1 nobody listens on (bound, then closed). */
static uint16_t closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	ASSERT_GE_INT(fd, 0);
	ASSERT_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_OK(getsockname(fd, (struct sockaddr *)&a, &len));
	close(fd);
	return ntohs(a.sin_port);
}

/* ---- the loop ---- */

static uv_loop_t loop;

static void on_done(int err, void *data)
{
	int *res = data;
	*res = err == 0 ? 1 : err;
}

static void on_sync(int err, void *data)
{
	*(int *)data = err == 0 ? 1 : err;
}

static int received(void)
{
	pthread_mutex_lock(&got_lock);
	int n = n_got;
	pthread_mutex_unlock(&got_lock);
	return n;
}

/* Runs the loop until cond() or 10 s. */
static void run_until(bool (*cond)(void *), void *data)
{
	uint64_t end = uv_hrtime() + 10ull * 1000000000;
	while (!cond(data)) {
		ASSERT_TRUE(uv_hrtime() < end);
		(void)uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

static bool has_n(void *data)
{
	return received() >= *(int *)data;
}

static bool flag_set(void *data)
{
	return *(int *)data != 0;
}

static char *file_of(struct zr_webhooks *wh, uint64_t id, const char *f)
{
	struct zr_buf b = {0};
	ASSERT_OK(zr_webhooks_file(wh, id, f, &b));
	return b.data ? b.data : strdup("");
}

/* The status line "name value" of hook id. */
static char *status_field(struct zr_webhooks *wh, uint64_t id, const char *name)
{
	char *text = file_of(wh, id, "status");
	char *res = NULL;
	size_t n = strlen(name);
	for (char *l = text; l && *l;) {
		char *nl = strchr(l, '\n');
		if (nl) {
			*nl = '\0';
		}
		if (strncmp(l, name, n) == 0 && l[n] == ' ') {
			res = strdup(l + n + 1);
			break;
		}
		l = nl ? nl + 1 : NULL;
	}
	free(text);
	ASSERT_NOT_NULL(res);
	return res;
}

/* Runs the loop until hook id's status line name says value (10 s at most). */
static void wait_status(struct zr_webhooks *wh, uint64_t id, const char *name, const char *value)
{
	uint64_t end = uv_hrtime() + 10ull * 1000000000;
	for (;;) {
		char *v = status_field(wh, id, name);
		bool same = strcmp(v, value) == 0;
		if (!same && uv_hrtime() > end) {
			FAIL("webhook %" PRIu64 ": %s is '%s', not '%s', after 10 s", id, name, v, value);
		}
		free(v);
		if (same) {
			return;
		}
		(void)uv_run(&loop, UV_RUN_NOWAIT);
		usleep(1000);
	}
}

static void add(struct zr_webhooks *wh, const char *line)
{
	int done = 0;
	char *why = NULL;
	ASSERT_OK(zr_webhooks_command(wh, true, line, strlen(line), on_done, &done, &why));
	run_until(flag_set, &done);
	ASSERT_EQ_INT(done, 1);
}

/* Destroys wh and closes st (may be NULL), then runs the loop until their handles are closed. */
static void destroy(struct zr_webhooks *wh, struct zr_store *st)
{
	zr_webhooks_destroy(wh);
	if (st) {
		zr_store_close(st);
	}
	(void)uv_run(&loop, UV_RUN_DEFAULT);
}

TEST(deliver)
{
	struct zr_webhooks *wh;
	char line[128];
	ASSERT_OK(zr_webhooks_create(&loop, NULL, NULL, &wh));
	zr_webhooks_start(wh);
	snprintf(line, sizeof(line), "http://127.0.0.1:%u/hook task.*\n", port);
	add(wh, line);
	ASSERT_EQ_U64(zr_webhooks_id(wh, 0), 1);
	ASSERT_EQ_U64(zr_webhooks_id(wh, 1), 0);
	char *s = file_of(wh, 1, "events");
	ASSERT_EQ_STR(s, "task.*\n");
	free(s);
	s = file_of(wh, 1, "status");
	ASSERT_EQ_STR(s, "state ok\npending 0\ndelivered 0\nfailures 0\nlast_status none\nlast_error none\n"
			 "last_delivery never\nnext_attempt none\ndropped 0\n");
	free(s);
	char *secret = file_of(wh, 1, "secret");
	ASSERT_EQ_SIZE(strlen(secret), 65);
	ASSERT_EQ_SIZE(strspn(secret, "0123456789abcdef"), 64);
	secret[64] = '\0';

	const char *bodies[] = {"{\"seq\":1,\"event\":\"task.queued\"}",
				"{\"seq\":2,\"event\":\"service.created\"}",
				"{\"seq\":3,\"event\":\"task.started\"}",
				"{\"seq\":4,\"event\":\"task.finished\"}"};
	const char *types[] = {"task.queued", "service.created", "task.started", "task.finished"};
	for (int i = 0; i < 4; i++) {
		zr_webhooks_event(wh, types[i], bodies[i]);
	}
	int want = 3;
	run_until(has_n, &want);
	/* The three task events, in order, numbered 1.1 to 1.3 (service.created did not match). */
	const int idx[] = {0, 2, 3};
	for (int i = 0; i < 3; i++) {
		char d[16], sig[ZR_WEBHOOK_SIG_LEN + 1];
		const char *body = bodies[idx[i]];
		TEST_CASE("delivery %d", i);
		snprintf(d, sizeof(d), "1.%d", i + 1);
		ASSERT_EQ_STR(got[i].delivery, d);
		ASSERT_EQ_STR(got[i].event, types[idx[i]]);
		ASSERT_EQ_STR(got[i].body, body);
		ASSERT_EQ_STR(got[i].ctype, "application/json");
		ASSERT_EQ_INT(strncmp(got[i].agent, "zrobot/", 7), 0);
		ASSERT_OK(zr_webhook_sign(secret, body, strlen(body), sig));
		ASSERT_EQ_STR(got[i].signature, sig);
	}
	TEST_CASE_END();
	wait_status(wh, 1, "delivered", "3");
	s = status_field(wh, 1, "last_status");
	ASSERT_EQ_STR(s, "200");
	free(s);
	s = status_field(wh, 1, "pending");
	ASSERT_EQ_STR(s, "0");
	free(s);

	/* A 500 is a failure: retried (after 1 s), then delivered once the receiver says 2xx. */
	pthread_mutex_lock(&got_lock);
	answer_status = 500;
	pthread_mutex_unlock(&got_lock);
	zr_webhooks_event(wh, "task.failed", "{\"seq\":5}");
	want = 4;
	run_until(has_n, &want);
	pthread_mutex_lock(&got_lock);
	answer_status = 200;
	pthread_mutex_unlock(&got_lock);
	wait_status(wh, 1, "last_status", "500");
	s = file_of(wh, 1, "status");
	ASSERT_NOT_NULL(strstr(s, "state retrying\npending 1\ndelivered 3\nfailures 1\nlast_status 500\n"
				  "last_error HTTP status 500\n"));
	ASSERT_NULL(strstr(s, "next_attempt none"));
	free(s);
	want = 5;
	run_until(has_n, &want);
	wait_status(wh, 1, "delivered", "4");
	ASSERT_EQ_STR(got[4].delivery, "1.4");
	ASSERT_EQ_STR(got[3].delivery, "1.4");

	struct zr_buf m = {0};
	ASSERT_OK(zr_webhooks_metrics(wh, &m));
	ASSERT_NOT_NULL(strstr(m.data, "zrobot_webhook_deliveries_total{hook=\"1\",result=\"failed\"} 1\n"));
	ASSERT_NOT_NULL(strstr(m.data, "zrobot_webhook_pending{hook=\"1\"} "));
	zr_buf_done(&m);

	/* remove: unknown ids, bad commands. */
	char *why = NULL;
	int done = 0;
	ASSERT_EQ_INT(zr_webhooks_command(wh, false, "remove 7", 8, on_done, &done, &why), -ENOENT);
	free(why);
	why = NULL;
	ASSERT_EQ_INT(zr_webhooks_command(wh, false, "drop 1", 6, on_done, &done, &why), -EINVAL);
	free(why);
	why = NULL;
	ASSERT_OK(zr_webhooks_command(wh, false, "remove 1\n", 9, on_done, &done, &why));
	run_until(flag_set, &done);
	ASSERT_FALSE(zr_webhooks_has(wh, 1));
	ASSERT_EQ_U64(zr_webhooks_id(wh, 0), 0);
	ASSERT_EQ_INT(zr_webhooks_file(wh, 1, "url", &m), -ENOENT);
	free(secret);
	destroy(wh, NULL);
}

TEST(failing_and_bound)
{
	struct zr_webhooks *wh;
	char line[128];
	ASSERT_OK(zr_webhooks_create(&loop, NULL, NULL, &wh));
	zr_webhooks_start(wh);
	snprintf(line, sizeof(line), "http://user:pw@127.0.0.1:%u/x", closed_port());
	add(wh, line);
	char *s = file_of(wh, 1, "url");
	ASSERT_NULL(strstr(s, "pw"));
	ASSERT_NOT_NULL(strstr(s, "user:***@127.0.0.1:"));
	free(s);
	s = file_of(wh, 1, "events");
	ASSERT_EQ_STR(s, "*\n");
	free(s);
	zr_webhooks_event(wh, "a.b", "{}");
	wait_status(wh, 1, "failures", "1");
	s = file_of(wh, 1, "status");
	ASSERT_NOT_NULL(strstr(s, "state retrying\npending 1\ndelivered 0\nfailures 1\nlast_status none\n"));
	ASSERT_NULL(strstr(s, "last_error none"));
	ASSERT_NULL(strstr(s, "next_attempt none"));
	free(s);
	/* The oldest go past the bound; the count says how many. */
	for (int i = 0; i < ZR_WEBHOOK_PENDING_MAX + 4; i++) {
		char body[32];
		snprintf(body, sizeof(body), "{\"n\":%d}", i);
		zr_webhooks_event(wh, "a.b", body);
	}
	s = status_field(wh, 1, "pending");
	ASSERT_EQ_STR(s, "10000");
	free(s);
	s = status_field(wh, 1, "dropped");
	ASSERT_EQ_STR(s, "5");
	free(s);
	destroy(wh, NULL);
}

/* ---- durability ---- */

static char *tmp_dir(void)
{
	const char *base = getenv("ZR_TEST_TMP");
	char *d = NULL;
	ASSERT_TRUE(asprintf(&d, "%s/webhook.XXXXXX", base ? base : "/tmp") > 0);
	ASSERT_NOT_NULL(mkdtemp(d));
	return d;
}

static void sync_store(struct zr_store *st)
{
	int done = 0;
	zr_store_sync(st, on_sync, &done);
	run_until(flag_set, &done);
	ASSERT_EQ_INT(done, 1);
}

TEST(durable)
{
	char *dir = tmp_dir();
	char *why = NULL, line[128];
	struct zr_store *st;
	struct zr_webhooks *wh;
	uint16_t dead = closed_port();

	ASSERT_OK(zr_store_open(&loop, dir, &st, &why));
	ASSERT_OK(zr_webhooks_create(&loop, NULL, st, &wh));
	ASSERT_OK(zr_webhooks_load(wh));
	zr_webhooks_start(wh);
	snprintf(line, sizeof(line), "http://127.0.0.1:%u/a x.*", dead);
	add(wh, line);
	snprintf(line, sizeof(line), "http://127.0.0.1:%u/b", dead);
	add(wh, line);
	int done = 0;
	ASSERT_OK(zr_webhooks_command(wh, false, "remove 2", 8, on_done, &done, &why));
	run_until(flag_set, &done);
	snprintf(line, sizeof(line), "http://127.0.0.1:%u/c", port);
	add(wh, line); /* id 3: 2 is not reused */
	ASSERT_EQ_U64(zr_webhooks_id(wh, 1), 3);
	char *secret1 = file_of(wh, 1, "secret");
	zr_webhooks_event(wh, "x.one", "{\"n\":1}");
	zr_webhooks_event(wh, "y.skip", "{\"n\":2}");
	zr_webhooks_event(wh, "x.two", "{\"n\":3}");
	wait_status(wh, 3, "delivered", "3");
	sync_store(st);
	destroy(wh, st);

	/* Back to schema 6, as a store made before webhooks would be, minus its rows: reopening
	 * migrates it and keeps the other rows. */
	char *path = NULL;
	sqlite3 *db;
	ASSERT_TRUE(asprintf(&path, "%s/zrobot.db", dir) > 0);
	ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_exec(db, "CREATE TABLE keep AS SELECT * FROM webhooks;"
				       "CREATE TABLE keep_d AS SELECT * FROM webhook_deliveries;"
				       "DROP TABLE webhooks; DROP TABLE webhook_deliveries;"
				       "UPDATE meta SET value = '6' WHERE key = 'schema';",
				   NULL, NULL, NULL), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_close(db), SQLITE_OK);
	ASSERT_OK(zr_store_open(&loop, dir, &st, &why));
	zr_store_close(st);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_exec(db, "INSERT INTO webhooks SELECT * FROM keep;"
				       "INSERT INTO webhook_deliveries SELECT * FROM keep_d;"
				       "DROP TABLE keep; DROP TABLE keep_d;",
				   NULL, NULL, NULL), SQLITE_OK);
	sqlite3_stmt *q;
	ASSERT_EQ_INT(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema'", -1, &q, NULL),
		      SQLITE_OK);
	ASSERT_EQ_INT(sqlite3_step(q), SQLITE_ROW);
	ASSERT_EQ_STR((const char *)sqlite3_column_text(q, 0), "7");
	sqlite3_finalize(q);
	ASSERT_EQ_INT(sqlite3_close(db), SQLITE_OK);
	free(path);

	/* Reloaded: hook 1 still owes x.one and x.two, hook 3 got its three already; the next
	 * event continues hook 3's numbers (3.4), though no row of it was left. */
	ASSERT_OK(zr_store_open(&loop, dir, &st, &why));
	ASSERT_OK(zr_webhooks_create(&loop, NULL, st, &wh));
	ASSERT_OK(zr_webhooks_load(wh));
	ASSERT_EQ_U64(zr_webhooks_id(wh, 0), 1);
	ASSERT_EQ_U64(zr_webhooks_id(wh, 1), 3);
	ASSERT_EQ_U64(zr_webhooks_id(wh, 2), 0);
	char *s = file_of(wh, 1, "secret");
	ASSERT_EQ_STR(s, secret1);
	free(s);
	s = file_of(wh, 1, "events");
	ASSERT_EQ_STR(s, "x.*\n");
	free(s);
	s = status_field(wh, 1, "pending");
	ASSERT_EQ_STR(s, "2");
	free(s);
	s = status_field(wh, 3, "pending");
	ASSERT_EQ_STR(s, "0");
	free(s);
	int before = received();
	zr_webhooks_start(wh);
	zr_webhooks_event(wh, "x.three", "{\"n\":4}");
	int want = before + 1;
	run_until(has_n, &want);
	ASSERT_EQ_STR(got[want - 1].delivery, "3.4");
	ASSERT_EQ_STR(got[want - 1].body, "{\"n\":4}");
	/* A new hook after the reload: id 4 (ids never reused, not even 2). */
	snprintf(line, sizeof(line), "http://127.0.0.1:%u/d", dead);
	add(wh, line);
	ASSERT_EQ_U64(zr_webhooks_id(wh, 2), 4);
	/* Every hook removed: the next run still goes on from 4 (no row gives the last id). */
	const char *const rm[] = {"remove 1", "remove 3", "remove 4"};
	for (size_t i = 0; i < 3; i++) {
		done = 0;
		ASSERT_OK(zr_webhooks_command(wh, false, rm[i], strlen(rm[i]), on_done, &done, &why));
		run_until(flag_set, &done);
	}
	sync_store(st);
	destroy(wh, st);
	ASSERT_OK(zr_store_open(&loop, dir, &st, &why));
	ASSERT_OK(zr_webhooks_create(&loop, NULL, st, &wh));
	ASSERT_OK(zr_webhooks_load(wh));
	ASSERT_EQ_U64(zr_webhooks_id(wh, 0), 0);
	add(wh, line);
	ASSERT_EQ_U64(zr_webhooks_id(wh, 0), 5);
	sync_store(st);
	destroy(wh, st);
	free(secret1);
	const char *files[] = {"zrobot.db", "zrobot.db-wal", "zrobot.db-shm"};
	for (size_t i = 0; i < 3; i++) {
		char *f = NULL;
		ASSERT_TRUE(asprintf(&f, "%s/%s", dir, files[i]) > 0);
		(void)unlink(f);
		free(f);
	}
	ASSERT_OK(rmdir(dir));
	free(dir);
}

int main(void)
{
	server_start();
	ASSERT_OK(uv_loop_init(&loop));
	RUN_TEST(parse);
	RUN_TEST(match);
	RUN_TEST(hmac);
	RUN_TEST(backoff);
	RUN_TEST(deliver);
	RUN_TEST(failing_and_bound);
	RUN_TEST(durable);
	(void)uv_run(&loop, UV_RUN_DEFAULT);
	ASSERT_OK(uv_loop_close(&loop));
	MHD_stop_daemon(httpd);
	curl_global_cleanup();
	return 0;
}
