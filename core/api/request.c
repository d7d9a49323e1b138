/* The tree's operations as HTTP methods under /v1/: GET lists a directory or reads a file
 * (long polls with ?wait), POST and PUT write a file (an action file answers with the new
 * task), POST to a template directory creates a service, DELETE removes one. */
#include "api-internal.h"
#include "api/path.h"
#include "api/static.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "apply.h"
#include "blueprint.h"
#include "metrics.h"
#include "payload.h"
#include "robot.h"
#include "schema.h"
#include "service.h"
#include "task.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"

#define READ_CHUNK (64 * 1024)

static bool is(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

static const char *last_comp(const struct zr_api_req *q)
{
	return q->n_comps ? q->comps[q->n_comps - 1] : "";
}

/* Under <template>/<service>/ (not under @robot, nor another robot's). */
static bool in_service(const struct zr_api_req *q)
{
	return q->n_comps >= 2 && q->comps[0][0] != '@';
}

static bool is_action(const struct zr_api_req *q)
{
	return in_service(q) && q->n_comps == 4 && is(q->comps[2], "actions");
}

/* Files that show a task's result: results/<a>, tasks/<id>/result, and actions/<a>. */
static bool is_result(const struct zr_api_req *q)
{
	return in_service(q) && ((q->n_comps == 4 && (is(q->comps[2], "results") || is(q->comps[2], "actions"))) ||
				 (q->n_comps == 5 && is(q->comps[2], "tasks") && is(q->comps[4], "result")));
}

static struct zr_service *req_service(const struct zr_api_req *q)
{
	return in_service(q) ? zr_robot_service(q->api->robot, q->comps[0], q->comps[1]) : NULL;
}

static const char *content_type(const struct zr_api_req *q)
{
	const char *name = last_comp(q);
	if (is(name, "data") || is(name, "info") || is(name, "manifest") || is(name, "args")) {
		return "application/json";
	}
	if (is(name, "events")) {
		return "application/x-ndjson";
	}
	if (is(name, "metrics") && q->n_comps == 2) {
		return "text/plain; version=0.0.4; charset=utf-8";
	}
	return "text/plain; charset=utf-8";
}

/* The media type of the body, lower case without parameters, or NULL when none was sent. */
static char *media_type(const struct zr_api_req *q)
{
	const char *ct = zr_api__header(q, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (!ct) {
		return NULL;
	}
	while (*ct == ' ') {
		ct++;
	}
	size_t n = strcspn(ct, "; ");
	char *m = strndup(ct, n);
	for (char *p = m; p && *p; p++) {
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	}
	return m ? m : strdup("");
}

static bool parse_u64(const char *s, uint64_t *ret)
{
	char *end;
	if (!s || *s < '0' || *s > '9') {
		return false;
	}
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end) {
		return false;
	}
	*ret = v;
	return true;
}

/* ---- URL ---- */

/* Splits the path after /v1/ into names; refuses what is not a plain name ("..", "."). */
static int split_path(struct zr_api_req *q, const char *p)
{
	struct zr_api_path path;
	size_t bad = 0, bad_len = 0;
	int err = zr_api_path_split(p, &path, &bad, &bad_len);
	if (err == -ENAMETOOLONG) {
		zr_api__fail(q, 400, ENAMETOOLONG, "a name in the path is longer than %d bytes",
			     ZR_API_NAME_MAX);
	} else if (err == -EILSEQ) {
		zr_api__fail(q, 400, EINVAL, "control characters are not allowed in a path");
	} else if (err == -EINVAL) {
		zr_api__fail(q, 400, EINVAL, "'%.*s' is not allowed in a path", (int)bad_len, p + bad);
	}
	if (err < 0) {
		return err == -ENOMEM ? err : -EINVAL;
	}
	q->path = path.path;
	q->comps = path.comps;
	q->n_comps = path.n;
	return 0;
}

static void dispatch(struct zr_api_req *q);

void zr_api__begin(struct zr_api_req *q)
{
	const char *url = q->url;
	if (is(url, "/metrics")) {
		q->metrics = true;
	} else if (strncmp(url, "/v1", 3) == 0 && (url[3] == '\0' || url[3] == '/')) {
		int err = split_path(q, url[3] ? url + 4 : "");
		if (err == -ENOMEM) {
			zr_api__fail(q, 503, ENOMEM, "out of memory");
		}
		if (err < 0) {
			return;
		}
	} else {
		/* The dashboard's page and files need no token: answered here, before authorize. */
		if (!zr_api__static(q)) {
			zr_api__fail(q, 404, ENOENT,
				     "no such endpoint: the tree is under /v1/, metrics at /metrics");
		}
		return;
	}
	zr_api__authorize(q);
	if (q->ready) {
		return;
	}
	uint64_t len;
	if (parse_u64(zr_api__header(q, MHD_HTTP_HEADER_CONTENT_LENGTH), &len) &&
	    len > zr_api__body_cap(q)) {
		zr_api__body_refuse(q, len);
		return;
	}
	q->step = dispatch;
}

/* ---- bodies over their target's bound (issue 12) ---- */

static size_t args_cap(const struct zr_api_req *q)
{
	return q->api->robot->cfg.args_max;
}

static bool writes_action(const struct zr_api_req *q)
{
	return is_action(q) && (q->method == ZR_API_POST || q->method == ZR_API_PUT);
}

/* POST or PUT /v1/@robot/blueprint: a whole deployment, applied (DESIGN §8). */
static bool writes_blueprint(const struct zr_api_req *q)
{
	return q->n_comps == 2 && is(q->comps[0], "@robot") && is(q->comps[1], "blueprint") &&
	       (q->method == ZR_API_POST || q->method == ZR_API_PUT);
}

size_t zr_api__body_cap(const struct zr_api_req *q)
{
	size_t cap = q->api->cfg.body_max;
	if (writes_action(q) && args_cap(q) < cap) {
		cap = args_cap(q);
	}
	/* A blueprint is bounded by its own limit, whatever --http-max-body says: a deployment
	 * of thousands of services is far larger than one service's data. */
	if (writes_blueprint(q)) {
		cap = ZR_BP_MAX_BYTES;
	}
	return cap;
}

void zr_api__body_refuse(struct zr_api_req *q, uint64_t len)
{
	_cleanup_free_ char *why = NULL;
	size_t cap = zr_api__body_cap(q);
	if (writes_blueprint(q)) {
		zr_api__fail(q, 413, EFBIG, "a blueprint is at most %zu bytes", cap);
		return;
	}
	if (!writes_action(q) || cap != args_cap(q)) {
		zr_api__fail(q, 413, EFBIG, "the body is larger than %zu bytes", cap);
		return;
	}
	if (len) {
		(void)zr_fail(&why, -EFBIG, "arguments of %" PRIu64 " bytes, more than %zu "
			      "(--max-args-bytes)", len, cap);
	} else {
		(void)zr_fail(&why, -EFBIG, "arguments of more than %zu bytes (--max-args-bytes)", cap);
	}
	/* The refusal goes where a write's would, for a caller who may run the action: anyone
	 * else gets the 413 but must not write into another's lasterror. */
	struct zr_service *s = req_service(q);
	const struct zr_action_def *a = s ? zr_template_action(s->template, q->comps[3]) : NULL;
	if (a && zr_service_may_act(s, &q->actor, NULL) == 0 &&
	    (!a->admin || zr_actor_is_admin(&q->actor))) {
		zr_service_refuse(s, q->path, EFBIG, why);
	}
	zr_api__fail(q, 413, EFBIG, "%s", why ? why : "arguments too large");
}

void zr_api__release(struct zr_api_req *q)
{
	struct zr_tree *t = q->api->tree;
	zr_api__cancel_forward(q);
	if (q->treq) {
		zr_tree_read_cancel(t, q->treq);
		q->treq = NULL;
	}
	zr_waiter_remove(&q->waiter);
	q->journal = NULL;
	if (q->h) {
		zr_tree_release(t, q->h);
		q->h = NULL;
	}
	if (q->counted) {
		zr_tree_forget(t, q->ino, 1);
		q->counted = false;
	}
}

/* ---- nodes reached by zr_tree_walk: local, so answered at once (tree.h) ---- */

struct now {
	int err;
	struct zr_handle *h;
	char *target;
};

static void on_open_now(int err, struct zr_handle *h, const struct zr_tree_attr *a, void *data)
{
	struct now *n = data;
	(void)a;
	n->err = err;
	n->h = h;
}

static void on_link_now(int err, const char *target, void *data)
{
	struct now *n = data;
	n->err = err;
	if (err == 0 && !(n->target = strdup(target))) {
		n->err = -ENOMEM;
	}
}

static int open_now(struct zr_tree *t, uint64_t ino, int flags, bool dir, const struct zr_actor *who,
		    struct zr_handle **ret)
{
	struct now n = {.err = -EIO};
	if (dir) {
		zr_tree_opendir(t, ino, on_open_now, &n);
	} else {
		zr_tree_open_as(t, ino, flags, who, on_open_now, &n);
	}
	if (n.err == 0) {
		*ret = n.h;
	}
	return n.err;
}

static int readlink_now(struct zr_tree *t, uint64_t ino, char **ret)
{
	struct now n = {.err = -EIO};
	zr_tree_readlink(t, ino, on_link_now, &n);
	if (n.err == 0) {
		*ret = n.target;
	}
	return n.err;
}

/* A node walked to, or an error; a walk that reached another robot is not followed here. */
static int walk_local(struct zr_tree *t, const char *path, struct zr_tree_attr *ret)
{
	size_t rest;
	int err = zr_tree_walk(t, path, ret, &rest);
	if (err == -EREMOTE) {
		zr_tree_forget(t, ret->ino, 1);
	}
	return err;
}

/* ---- GET ---- */

static void answer_json(struct zr_api_req *q, unsigned status, const json_t *o)
{
	_cleanup_free_ char *s = json_dumps(o, JSON_INDENT(2));
	if (!s) {
		zr_api__fail(q, 503, ENOMEM, "out of memory");
		return;
	}
	zr_api__answer(q, status, "application/json", s, strlen(s));
	(void)zr_buf_puts(&q->out, "\n");
}

static char *mode_text(mode_t m, char buf[8])
{
	snprintf(buf, 8, "%04o", (unsigned)(m & 07777));
	return buf;
}

struct listing {
	struct zr_tree *tree;
	json_t *entries;
};

static bool fill_entry(const char *name, const struct zr_tree_attr *a, uint64_t next_off, void *data)
{
	struct listing *l = data;
	char ts[40], mode[8];
	_cleanup_free_ char *target = NULL;
	(void)next_off;
	if (S_ISLNK(a->mode) && readlink_now(l->tree, a->ino, &target) < 0) {
		target = NULL;
	}
	(void)json_array_append_new(l->entries, json_pack("{ss ss ss sI ss ss*}", "name", name, "kind",
							  S_ISDIR(a->mode) ? "dir" : S_ISLNK(a->mode) ? "symlink" : "file",
							  "mode", mode_text(a->mode, mode), "size",
							  (json_int_t)a->size, "mtime",
							  zr_time_format(a->mtime_ns, ts), "target", target));
	return true;
}

static void list_dir(struct zr_api_req *q)
{
	struct zr_tree *t = q->api->tree;
	struct zr_handle *h = NULL;
	int err = open_now(t, q->ino, 0, true, &q->actor, &h);
	if (err < 0) {
		zr_api__fail_errno(q, -err, NULL);
		return;
	}
	_cleanup_json_ json_t *entries = json_array();
	struct listing l = {.tree = t, .entries = entries};
	err = entries ? zr_tree_readdir(t, h, 0, 0, fill_entry, &l) : -ENOMEM;
	zr_tree_release(t, h);
	if (err < 0) {
		zr_api__fail_errno(q, -err, NULL);
		return;
	}
	_cleanup_json_ json_t *o = json_pack("{s:s+ s:O}", "path", "/", q->path, "entries", entries);
	answer_json(q, 200, o);
}

/* Task headers of a result: which task it is and how it ended (or that it has not). */
static void task_headers(struct zr_api_req *q)
{
	struct zr_service *s = req_service(q);
	uint64_t id = 0;
	if (q->n_comps == 5) {
		(void)parse_u64(q->comps[3], &id);
	} else if (q->h) {
		id = zr_tree_handle_task(q->h);
	}
	struct zr_task *t = s && id ? zr_service_task(s, id) : NULL;
	char num[32];
	if (t) {
		snprintf(num, sizeof(num), "%" PRIu64, id);
		zr_api__add_header(q, "Zr-Task", num);
		zr_api__add_header(q, "Zr-Task-State", zr_task_state_name(t->state));
	}
}

static void read_answer(struct zr_api_req *q)
{
	int err = q->read_err;
	bool result = is_result(q);
	if (err == -EINTR && (q->expired || q->gone)) {
		if (q->out.len == 0) {
			if (result) {
				task_headers(q);
			}
			zr_api__answer(q, 204, NULL, NULL, 0);
			return;
		}
		err = 0; /* what came before the wait, e.g. a running task's log */
	}
	/* A failed task's result is its error text, then its errno: the text is the answer. */
	if (err < 0 && !(result && (err == -EIO || err == -ETIMEDOUT || err == -ECANCELED))) {
		zr_api__fail_errno(q, -err, NULL);
		return;
	}
	if (result) {
		task_headers(q);
	}
	q->status = 200;
	q->content_type = content_type(q);
	q->ready = true;
}

static void on_read(int err, const char *buf, size_t len, void *data)
{
	struct zr_api_req *q = data;
	q->treq = NULL;
	if (err < 0) {
		q->read_err = err;
	} else if (len == 0) {
		q->eof = true;
	} else if (zr_buf_append(&q->out, buf, len) < 0) {
		q->read_err = -ENOMEM;
	} else {
		q->off += len;
	}
	zr_api__wake(q);
}

/* Reads the file to its end; a read that waits (a result) is a long poll. */
static void read_step(struct zr_api_req *q)
{
	struct zr_tree *t = q->api->tree;
	struct zr_tree_req *treq;
	if (q->eof || q->read_err) {
		read_answer(q);
		return;
	}
	q->pending = true;
	zr_tree_read(t, q->h, q->off, READ_CHUNK, on_read, q, &treq);
	if (!treq) {
		return; /* answered already */
	}
	q->treq = treq;
	if (q->wait <= 0 || q->gone) {
		q->expired = true;
		zr_tree_read_cancel(t, treq);
		return;
	}
	zr_api__deadline(q, q->wait);
}

/* The byte offset of journal line `line` (first_line <= line <= lines). */
static uint64_t line_offset(const struct zr_journal *j, uint64_t line)
{
	const char *p = j->ring + j->start, *e = p + (size_t)(j->end - j->base);
	for (uint64_t k = j->first_line; k < line && p < e; k++) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		p = nl ? nl + 1 : e;
	}
	return j->base + (uint64_t)(p - (j->ring + j->start));
}

/* Appends the journal's lines from q->line on, after a "lost N" line when lines this reader
 * asked for were dropped. */
static void collect(struct zr_api_req *q)
{
	const struct zr_journal *j = q->journal;
	if (q->line > j->lines) {
		q->line = j->lines;
	}
	if (q->line < j->first_line) {
		(void)zr_buf_printf(&q->out, "lost %" PRIu64 "\n", j->first_line - q->line);
		q->line = j->first_line;
	}
	uint64_t off = line_offset(j, q->line);
	if (off < j->end) {
		(void)zr_buf_append(&q->out, j->ring + j->start + (size_t)(off - j->base), (size_t)(j->end - off));
	}
	q->line = j->lines;
}

static void on_probe(int err, const char *buf, size_t len, void *data)
{
	struct zr_api_req *q = data;
	(void)buf;
	q->treq = NULL;
	if (err == 0 && len == 0) {
		q->eof = true; /* the task ended: its log will not grow */
	}
	zr_api__wake(q);
}

/* Lines of a log or events file after ?after=N; with ?wait, waits for the next line. */
static void journal_step(struct zr_api_req *q)
{
	struct zr_journal *j = q->journal;
	char next[32];
	if (!q->gone) {
		collect(q);
	}
	if (q->out.len > 0 || q->wait <= 0 || q->expired || q->eof || q->gone) {
		snprintf(next, sizeof(next), "%" PRIu64, q->line);
		zr_api__add_header(q, "Zr-Lines", next);
		if (q->out.len == 0 && q->wait > 0) {
			zr_api__answer(q, 204, NULL, NULL, 0);
			return;
		}
		q->status = 200;
		q->content_type = content_type(q);
		q->ready = true;
		return;
	}
	q->pending = true;
	zr_api__deadline(q, q->wait);
	if (q->attr.flags & ZR_ATTR_BLOCKING) {
		/* A task's log: the tree knows when it ends. Reading at its end waits for a line
		 * or for the end; the byte it returns is read again with the rest. */
		struct zr_tree_req *treq;
		zr_tree_read(q->api->tree, q->h, j->end, 1, on_probe, q, &treq);
		q->treq = treq;
	} else {
		zr_waitq_add(&j->waitq, &q->waiter);
	}
}

static void get_file(struct zr_api_req *q)
{
	struct zr_api *api = q->api;
	int err = open_now(api->tree, q->ino, O_RDONLY, false, &q->actor, &q->h);
	if (err < 0) {
		zr_api__fail_errno(q, -err, NULL);
		return;
	}
	const char *w = zr_api__arg(q, "wait");
	if (w) {
		char *end;
		double v = strtod(w, &end);
		if (end == w || *end || !(v >= 0)) {
			zr_api__fail(q, 400, EINVAL, "wait wants a number of seconds, got '%s'", w);
			return;
		}
		q->wait = v > api->cfg.wait_max ? api->cfg.wait_max : v;
	}
	if (q->method == ZR_API_HEAD) {
		q->wait = -1; /* a HEAD never waits */
	}
	q->journal = zr_tree_handle_journal(api->tree, q->h);
	if (!q->journal) {
		q->step = read_step;
		return;
	}
	/* ?after=N skips the first N lines ever written (the Zr-Lines of an earlier answer).
	 * Without it, a plain read shows the whole window and a waiting one the next line. */
	const char *after = zr_api__arg(q, "after");
	if (after && is(after, "end")) {
		q->line = q->journal->lines;
	} else if (after && !parse_u64(after, &q->line)) {
		zr_api__fail(q, 400, EINVAL, "after wants a number of lines or 'end', got '%s'", after);
		return;
	} else if (!after) {
		q->line = q->wait > 0 ? q->journal->lines : 0;
	}
	const char *accept = zr_api__header(q, MHD_HTTP_HEADER_ACCEPT);
	if (q->method == ZR_API_GET && accept && strstr(accept, "text/event-stream") &&
	    !(q->attr.flags & ZR_ATTR_BLOCKING)) {
		zr_api__sse_start(q);
		return;
	}
	q->step = journal_step;
}

static void get_metrics(struct zr_api_req *q)
{
	struct zr_buf b = {0};
	if (q->method != ZR_API_GET && q->method != ZR_API_HEAD) {
		zr_api__add_header(q, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
		zr_api__fail(q, 405, EOPNOTSUPP, "/metrics is read-only");
		return;
	}
	if (zr_metrics_render(q->api->robot, zr_tree_parked(q->api->tree), &b) < 0) {
		zr_buf_done(&b);
		zr_api__fail(q, 503, ENOMEM, "out of memory");
		return;
	}
	zr_api__answer(q, 200, "text/plain; version=0.0.4; charset=utf-8", b.data, b.len);
	zr_buf_done(&b);
}

/* ---- POST and PUT ---- */

/* The reason a refused write left in the service's lasterror ("<time> <path> <ERRNO> why"). */
static const char *refusal(const struct zr_api_req *q)
{
	struct zr_service *s = req_service(q);
	const char *p;
	if (!s || !s->lasterror || s->lasterror_mtime_ns == q->lasterror_ns) {
		return NULL;
	}
	p = s->lasterror;
	for (int i = 0; i < 3 && p; i++) {
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	return p;
}

static void task_created(struct zr_api_req *q)
{
	uint64_t id = zr_tree_handle_task(q->h);
	struct zr_service *s = req_service(q);
	struct zr_task *t = s && id ? zr_service_task(s, id) : NULL;
	_cleanup_free_ char *loc = NULL;
	char ts[40];
	if (!t || asprintf(&loc, "/v1/%s/%s/tasks/%" PRIu64, q->comps[0], q->comps[1], id) < 0) {
		zr_api__answer(q, 204, NULL, NULL, 0);
		return;
	}
	_cleanup_json_ json_t *args = t->args ? zr_schema_redact(t->action->args, t->args) : NULL;
	_cleanup_json_ json_t *o = json_pack("{sI ss ss sO ss ss ss}", "id", (json_int_t)id, "service",
					     s->path, "action", t->action->name, "args",
					     args ? args : json_null(), "state",
					     zr_task_state_name(t->state), "created",
					     zr_time_format(t->created_ns, ts), "url", loc);
	zr_api__add_header(q, MHD_HTTP_HEADER_LOCATION, loc);
	answer_json(q, 201, o);
}

static void on_written(ssize_t result, const struct zr_tree_attr *a, void *data)
{
	struct zr_api_req *q = data;
	(void)a;
	if (!zr_api__op_done(q)) {
		return;
	}
	q->result = result;
	zr_api__wake(q);
}

/* After the write: a data body written whole was applied already; the flush applies one
 * that was not (and refuses it if invalid), like close(2) after an editor's writes. */
static void written_step(struct zr_api_req *q)
{
	if (q->result < 0) {
		zr_api__fail_errno(q, (int)-q->result, refusal(q));
		return;
	}
	if (!q->flushed) {
		q->flushed = true;
		q->ops++;
		q->pending = true;
		zr_tree_flush(q->api->tree, q->h, on_written, q);
		return;
	}
	if (is_action(q)) {
		task_created(q);
		return;
	}
	zr_api__answer(q, 204, NULL, NULL, 0);
}

/* A JSON body: an object, or a 400 that says where it broke. */
static json_t *json_body(struct zr_api_req *q)
{
	json_error_t e;
	json_t *j = json_loadb(q->body.data ? q->body.data : "", q->body.len, 0, &e);
	if (!j) {
		zr_api__fail(q, 400, EINVAL, "malformed JSON at line %d column %d: %s", e.line, e.column,
			     zr_json_error_reason(&e));
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		zr_api__fail(q, 400, EINVAL, "the body must be a JSON object");
		return NULL;
	}
	return j;
}

static void write_file(struct zr_api_req *q)
{
	struct zr_api *api = q->api;
	_cleanup_free_ char *mt = media_type(q);
	bool data = in_service(q) && q->n_comps == 3 && is(q->comps[2], "data");
	bool json = mt && is(mt, "application/json");
	if (data && !json) {
		zr_api__fail(q, 415, EINVAL, "data takes a JSON object: send Content-Type: application/json");
		return;
	}
	if (is_action(q) && mt && !json && !is(mt, "text/plain")) {
		zr_api__fail(q, 415, EINVAL, "an action takes application/json or text/plain (key=value lines), not %s", mt);
		return;
	}
	if (json && (data || q->body.len > 0)) {
		json_t *j = json_body(q);
		if (!j) {
			return;
		}
		json_decref(j);
	}
	int err = open_now(api->tree, q->ino, O_WRONLY, false, &q->actor, &q->h);
	if (err < 0) {
		zr_api__fail_errno(q, -err, NULL);
		return;
	}
	struct zr_service *s = req_service(q);
	q->lasterror_ns = s ? s->lasterror_mtime_ns : 0;
	q->ops++;
	q->pending = true;
	q->step = written_step;
	zr_tree_write(api->tree, q->h, q->body.data ? q->body.data : "", q->body.len, 0, on_written, q);
}

static void on_created(int err, const char *why, struct zr_service *s, void *data)
{
	struct zr_api_req *q = data;
	if (!zr_api__op_done(q)) {
		return;
	}
	if (err < 0) {
		/* No service holds a lasterror for a create: the robot's log has the reason. */
		if (err == -EACCES || err == -EDQUOT) {
			log_warn("Refused POST /v1/%s: %s", q->path, why ? why : strerror(-err));
		}
		zr_api__fail_errno(q, -err, why ? why : err == -EEXIST ? "the service exists" : NULL);
	} else {
		_cleanup_free_ char *loc = NULL;
		if (asprintf(&loc, "/v1/%s", s->path) < 0) {
			loc = NULL;
		}
		_cleanup_json_ json_t *o = json_pack("{ss ss ss ss ss ss ss?}", "template", s->template->name,
						     "name", s->name, "path", s->path, "uid", s->template->uid,
						     "guid", s->guid, "secret", s->secret, "url", loc);
		if (loc) {
			zr_api__add_header(q, MHD_HTTP_HEADER_LOCATION, loc);
		}
		answer_json(q, 201, o);
	}
	zr_api__wake(q);
}

static void refuse_step(struct zr_api_req *q)
{
	zr_api__fail(q, 500, EIO, "internal error: no answer");
}

/* POST {"name": NAME, "data": {...}} to a template's directory. */
static void create_service(struct zr_api_req *q)
{
	struct zr_api *api = q->api;
	_cleanup_free_ char *mt = media_type(q);
	if (!mt || !is(mt, "application/json")) {
		zr_api__fail(q, 415, EINVAL, "a new service is a JSON object {\"name\", \"data\"}: send "
			     "Content-Type: application/json");
		return;
	}
	_cleanup_json_ json_t *body = json_body(q);
	if (!body) {
		return;
	}
	const char *k;
	json_t *v, *name = json_object_get(body, "name"), *data = json_object_get(body, "data");
	json_object_foreach(body, k, v) {
		if (!is(k, "name") && !is(k, "data")) {
			zr_api__fail(q, 400, EINVAL, "unknown key '%s': a new service takes name and data", k);
			return;
		}
	}
	if (!json_is_string(name)) {
		zr_api__fail(q, 400, EINVAL, "name (a string) is required");
		return;
	}
	if (data && !json_is_object(data) && !json_is_null(data)) {
		zr_api__fail(q, 400, EINVAL, "data must be a JSON object");
		return;
	}
	q->ops++;
	q->pending = true;
	q->step = refuse_step;
	/* Validated by the model, as a mkdir is; a refusal may be answered before this returns. */
	zr_service_request_create(api->robot, &q->actor, q->comps[0], json_string_value(name),
				  json_is_object(data) ? data : NULL, on_created, q);
}

/* ---- POST /v1/@robot/blueprint ---- */

/* A boolean query parameter: absent, "0"/"false" or "1"/"true". false when it is neither. */
static bool query_flag(const struct zr_api_req *q, const char *name, bool *ret)
{
	const char *v = zr_api__arg(q, name);
	if (!v || is(v, "0") || is(v, "false")) {
		*ret = false;
	} else if (is(v, "1") || is(v, "true") || !*v) {
		*ret = true;
	} else {
		return false;
	}
	return true;
}

static void on_applied(const struct zr_apply_outcome *o, void *data)
{
	struct zr_api_req *q = data;
	if (!zr_api__op_done(q)) {
		return;
	}
	_cleanup_json_ json_t *j = zr_apply_outcome_json(o);
	/* A blueprint refused for what it says is 422 (issue 14's Decision: the request was well
	 * formed, its content is not: bad input, a bound, a service the caller may not touch, one
	 * in use, a quota); the store's errors and a stopping robot keep their status (507, 500,
	 * 503). The body is the outcome either way. */
	int e = -o->err;
	bool content = e == EINVAL || e == E2BIG || e == EACCES || e == EBUSY || e == EDQUOT;
	unsigned status = o->err == 0 ? 200 : content ? 422 : zr_api__status(-o->err);
	if (!j) {
		zr_api__fail(q, 503, ENOMEM, "out of memory");
	} else {
		answer_json(q, status, j);
	}
	zr_api__wake(q);
}

/* The body is the blueprint's text (YAML or JSON); ?name=, ?dry_run=1 and ?prune=1 win over
 * its "# zrobot:" directive. The model checks the caller's rights service by service. */
static void apply_blueprint(struct zr_api_req *q)
{
	struct zr_apply_opts opts = {.name = zr_api__arg(q, "name")};
	if (!query_flag(q, "dry_run", &opts.dry_run) || !query_flag(q, "prune", &opts.prune)) {
		zr_api__fail(q, 400, EINVAL, "dry_run and prune take 1 or 0");
		return;
	}
	if (opts.name && !*opts.name) {
		opts.name = NULL;
	}
	q->ops++;
	q->pending = true;
	q->step = refuse_step;
	zr_apply(q->api->robot, &q->actor, q->body.data ? q->body.data : "", q->body.len, &opts,
		 on_applied, q);
}

/* ---- DELETE ---- */

static void on_deleted(ssize_t result, const struct zr_tree_attr *a, void *data)
{
	struct zr_api_req *q = data;
	(void)a;
	if (!zr_api__op_done(q)) {
		return;
	}
	if (result < 0) {
		zr_api__fail_errno(q, (int)-result, NULL);
	} else {
		zr_api__answer(q, 204, NULL, NULL, 0);
	}
	zr_api__wake(q);
}

static void delete_service(struct zr_api_req *q)
{
	struct zr_tree *t = q->api->tree;
	struct zr_tree_attr pa;
	/* The model refuses it again in rmdir; asked here too, so the answer says why. */
	struct zr_service *s = req_service(q);
	_cleanup_free_ char *why = NULL;
	if (s && zr_service_may_delete(s, &q->actor, &why) < 0) {
		zr_api__fail(q, 403, EACCES, "%s", why ? why : "not allowed");
		return;
	}
	int err = walk_local(t, q->comps[0], &pa);
	if (err < 0) {
		zr_api__fail_errno(q, -err, NULL);
		return;
	}
	q->ops++;
	q->pending = true;
	q->step = refuse_step;
	zr_tree_rmdir_as(t, pa.ino, q->comps[1], &q->actor, on_deleted, q);
	zr_tree_forget(t, pa.ino, 1);
}

/* ---- symbolic links ---- */

/* Appends "/" and name to a Location, percent-encoding what would not stay one path segment
 * of the same name when the client sends it back: '%' (a decoded %252e%252e would come back
 * as "..", which clients resolve), '?' and '#' (a decoded %3F would start a query), spaces,
 * controls and bytes past ASCII. Our own names (RFC 3986 pchar) stay as they are. */
static void location_add(struct zr_buf *loc, const char *name)
{
	static const char keep[] = "-._~!$&'()*+,;=:@";
	(void)zr_buf_puts(loc, "/");
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || strchr(keep, *p);
		(void)(plain ? zr_buf_append(loc, (const char *)p, 1)
			     : zr_buf_printf(loc, "%%%02X", *p));
	}
}

/* A path through a symbolic link (producers/<role>, consumers/<t>.<s>) is answered with a
 * redirect to where the link points, never followed here: the client asks again for the real
 * path, and its token is checked against that path. Returns true when it answered. */
static bool redirect_link(struct zr_api_req *q)
{
	struct zr_tree *t = q->api->tree;
	struct zr_buf prefix = {0};
	bool done = false;
	for (size_t i = 0; i < q->n_comps && !done; i++) {
		struct zr_tree_attr a;
		(void)zr_buf_printf(&prefix, "%s%s", i ? "/" : "", q->comps[i]);
		if (walk_local(t, prefix.data, &a) < 0) {
			break;
		}
		_cleanup_free_ char *target = NULL;
		int err = S_ISLNK(a.mode) ? readlink_now(t, a.ino, &target) : 0;
		zr_tree_forget(t, a.ino, 1);
		if (!target || err < 0) {
			continue;
		}
		/* The target is relative to the link's folder: comps[0..i). */
		char **stack = calloc(i + strlen(target) + 1, sizeof(*stack));
		size_t n = 0;
		char *save = NULL;
		bool bad = !stack;
		for (size_t k = 0; k < i && stack; k++) {
			stack[n++] = q->comps[k];
		}
		for (char *seg = stack ? strtok_r(target, "/", &save) : NULL; seg; seg = strtok_r(NULL, "/", &save)) {
			if (is(seg, "..")) {
				bad |= n == 0;
				n -= n > 0;
			} else if (!is(seg, ".")) {
				stack[n++] = seg;
			}
		}
		struct zr_buf loc = {0};
		(void)zr_buf_puts(&loc, "/v1");
		for (size_t k = 0; k < n; k++) {
			location_add(&loc, stack[k]);
		}
		for (size_t k = i + 1; k < q->n_comps; k++) {
			location_add(&loc, q->comps[k]);
		}
		free(stack);
		if (bad || !loc.data) {
			zr_api__fail(q, 404, ENOENT, "/%s points outside the tree", prefix.data);
		} else {
			zr_api__add_header(q, MHD_HTTP_HEADER_LOCATION, loc.data);
			_cleanup_json_ json_t *o = json_pack("{ss ss}", "link", prefix.data, "location", loc.data);
			answer_json(q, 307, o);
		}
		zr_buf_done(&loc);
		done = true;
	}
	zr_buf_done(&prefix);
	return done;
}

/* ---- dispatch ---- */

static void dispatch(struct zr_api_req *q)
{
	struct zr_api *api = q->api;
	if (q->metrics) {
		get_metrics(q);
		return;
	}
	/* Decided at the headers, but the body may have taken long: decided again now, on the
	 * services as they are (the walk and a local open follow at once). */
	if (!zr_api__in_scope(q)) {
		return;
	}
	int err = zr_tree_walk(api->tree, q->path, &q->attr, &q->fwd_at);
	if (err == -EREMOTE) {
		q->ino = q->attr.ino;
		q->counted = true;
		zr_api__proxy(q);
		return;
	}
	if (err == -ENOTDIR && redirect_link(q)) {
		return;
	}
	if (err < 0) {
		zr_api__fail(q, zr_api__status(-err), -err, "/%s: %s", q->path, strerror(-err));
		return;
	}
	q->ino = q->attr.ino;
	q->counted = true;
	if (S_ISLNK(q->attr.mode) && redirect_link(q)) {
		return;
	}
	bool dir = S_ISDIR(q->attr.mode);
	bool writable = !dir && (q->attr.mode & 0222);
	bool tmpl = dir && q->n_comps == 1 && q->comps[0][0] != '@';
	bool service = dir && q->n_comps == 2 && q->comps[0][0] != '@';
	if (writes_blueprint(q)) {
		apply_blueprint(q);
		return;
	}
	switch (q->method) {
	case ZR_API_GET:
	case ZR_API_HEAD:
		if (dir) {
			list_dir(q);
		} else if (!(q->attr.mode & 0444)) {
			/* The mode bits the kernel enforces on the mount (a cancel file is 0200). */
			zr_api__fail(q, 403, EACCES, "/%s is not readable", q->path);
		} else {
			get_file(q);
		}
		return;
	case ZR_API_POST:
		if (tmpl) {
			create_service(q);
			return;
		}
		/* Other files take a POST like a PUT: one write. */
		__attribute__((fallthrough));
	case ZR_API_PUT:
		if (writable) {
			write_file(q);
			return;
		}
		break;
	case ZR_API_DELETE:
		if (service) {
			delete_service(q);
			return;
		}
		break;
	default:
		break;
	}
	char allow[64];
	snprintf(allow, sizeof(allow), "GET, HEAD%s%s%s", tmpl ? ", POST" : "", writable ? ", POST, PUT" : "",
		 service ? ", DELETE" : "");
	zr_api__add_header(q, MHD_HTTP_HEADER_ALLOW, allow);
	zr_api__fail(q, 405, EOPNOTSUPP, "%s is not allowed on /%s", q->method_name, q->path);
}
