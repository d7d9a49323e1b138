/* The remote robots: their registry (added from the command line, @robot/remotes/add or the
 * store), the requests made to them with what those tell of their health, and the event stream
 * that invalidates cached listings. */
#include "remote-internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h" /* ZR_DATA_MAX_DEFAULT */
#include "store.h"
#include "untrusted.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/name.h"
#include "util/url.h"
#include "util/words.h"

/* Renewed event streams and long polls: how long to wait before reconnecting. */
#define SSE_RETRY_MS 500
/* An event line longer than this is not parsed. */
#define SSE_LINE_MAX (16 * 1024)

/* ---- the remote's life ---- */

void zr_remote__ref(struct zr_remote *rm)
{
	rm->refs++;
}

void zr_listing_free(struct listing *l)
{
	if (!l) {
		return;
	}
	for (size_t i = 0; i < l->n; i++) {
		free(l->e[i].name);
		free(l->e[i].target);
	}
	free(l->e);
	free(l);
}

static void listings_clear(struct zr_map *m)
{
	size_t i = 0;
	void *v;
	while (zr_map_next(m, &i, NULL, NULL, &v)) {
		zr_listing_free(v);
	}
	zr_map_done(m);
}

bool zr_remote__affected(const char *path, const char *prefix)
{
	size_t pl = prefix ? strlen(prefix) : 0;
	return !prefix || strncmp(path, "@robot", 6) == 0 ||
	       (strncmp(path, prefix, pl) == 0 && (path[pl] == '\0' || path[pl] == '/'));
}

char *zr_remote__prefix(const char *path, int n)
{
	const char *p = path;
	if (path[0] == '@') {
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		if (!*p) {
			return NULL;
		}
		p += strcspn(p, "/");
		if (i + 1 < n) {
			p += *p == '/';
		}
	}
	return strndup(path, (size_t)(p - path));
}

/* What listings an event of the remote may change: a service appearing or going changes its
 * template's folder; a task its service's tasks/; a state change no listing (sizes are not
 * trusted: files are read with direct I/O); anything else, everything. */
static void event_invalidate(struct zr_remote *rm, const char *line)
{
	json_t *ev = json_loads(line, 0, NULL);
	const char *type = json_string_value(json_object_get(ev, "event"));
	const char *svc = json_string_value(json_object_get(ev, "service"));
	char *prefix = NULL;
	if (type && svc && strncmp(type, "service.", 8) == 0) {
		prefix = zr_remote__prefix(svc, 1);
	} else if (type && svc && strncmp(type, "task.", 5) == 0) {
		(void)asprintf(&prefix, "%s/tasks", svc);
	} else if (type && strcmp(type, "state.changed") == 0) {
		json_decref(ev);
		return;
	}
	zr_remote__invalidate(rm, prefix);
	free(prefix);
	json_decref(ev);
}

void zr_remote__invalidate(struct zr_remote *rm, const char *svc)
{
	if (!svc) {
		listings_clear(&rm->listings);
	} else {
		/* Collected first: the map cannot change while it is walked. */
		struct zr_buf gone = {0};
		size_t i = 0, n = 0;
		const char *path;
		void *v;
		while (zr_map_next(&rm->listings, &i, &path, NULL, &v)) {
			if (zr_remote__affected(path, svc)) {
				(void)zr_buf_append(&gone, path, strlen(path) + 1);
				n++;
			}
		}
		for (const char *p = gone.data; n > 0; n--, p += strlen(p) + 1) {
			zr_listing_free(zr_map_del(&rm->listings, p));
		}
		zr_buf_done(&gone);
	}
	zr_remote__stale_fetches(rm, svc);
}

static void on_retry_closed(uv_handle_t *h)
{
	free(h);
}

void zr_remote__unref(struct zr_remote *rm)
{
	if (--rm->refs > 0) {
		return;
	}
	listings_clear(&rm->listings);
	zr_map_done(&rm->fetches);
	zr_map_done(&rm->refused);
	if (rm->retry) {
		uv_close((uv_handle_t *)rm->retry, on_retry_closed);
	}
	curl_slist_free_all(rm->headers);
	zr_buf_done(&rm->sse_line);
	free(rm->last_error);
	free(rm->name);
	free(rm->url);
	free(rm->token_file);
	free(rm);
}

static void set_error(struct zr_remote *rm, int err, const char *why)
{
	char *s = NULL;
	if (asprintf(&s, "%s: %s", zr_http_errno_name(-err), why) >= 0) {
		if (!rm->last_error || strcmp(rm->last_error, s) != 0) {
			log_warn("Remote %s (%s): %s", rm->name, rm->url, s);
		}
		free(rm->last_error);
		rm->last_error = s;
	}
}

static void set_up(struct zr_remote *rm, bool up)
{
	if (up) {
		rm->fail_err = 0;
	}
	if (up != rm->up) {
		log_info("Remote %s (%s) is %s", rm->name, rm->url, up ? "up" : "down");
		rm->up = up;
		/* What was cached may be gone or changed meanwhile. */
		zr_remote__invalidate(rm, NULL);
	}
	rm->checked_ns = zr_now_ns();
}

/* ---- requests ---- */

struct rcall {
	struct zr_remote *rm;
	struct zr_client_req *q; /* NULL: refused at once, in rs->failing */
	int err;                 /* why then, when not the remote's failure */
	struct zr_list link;
	bool waits;
	rcall_cb cb;
	void *data;
};

/* A remote that just failed to answer is not asked again for a second (unless its event
 * stream comes back first): a robot that stopped answering costs one timeout, not one per
 * operation. */
#define FAIL_FAST_MS 1000

static void on_fail_timer(uv_timer_t *t)
{
	struct zr_remotes *rs = t->data;
	while (!zr_list_empty(&rs->failing)) {
		struct rcall *c = container_of(rs->failing.next, struct rcall, link);
		struct zr_remote *rm = c->rm;
		zr_list_remove(&c->link);
		c->cb(c->err ? c->err : rm->fail_err ? rm->fail_err : -ENOTCONN, NULL, c->data);
		zr_remote__unref(rm);
		free(c);
	}
}

static void on_call_done(int err, const struct zr_http_resp *r, const char *why, void *data)
{
	struct rcall *c = data;
	struct zr_remote *rm = c->rm;
	if (rm->rs->stopping) {
		/* Ended by our own shutdown: it says nothing of the remote. */
		err = err < 0 ? err : zr_http_answer_errno(r);
	} else if (err < 0) {
		if (err == -ENOTCONN || err == -ETIMEDOUT) {
			set_up(rm, false);
			rm->fail_err = err;
			rm->fail_at = uv_now(rm->rs->loop);
		}
		set_error(rm, err, why);
	} else {
		set_up(rm, true);
		if (!c->waits) {
			double ms = r->secs * 1000.0;
			rm->latency_ms = rm->latency_ms > 0 ? 0.8 * rm->latency_ms + 0.2 * ms : ms;
		}
		err = zr_http_answer_errno(r);
		if (r->status == 401 || r->status == 403) {
			char why2[96];
			snprintf(why2, sizeof(why2), "the remote refused our token (HTTP %ld)", r->status);
			set_error(rm, -EACCES, why2);
		}
	}
	c->cb(err, r, c->data);
	zr_remote__unref(rm);
	free(c);
}

/* The URL of tree path on rm, each component percent-encoded (untrusted.h), so that what
 * a name holds ("%2F", '?', '#') cannot change the request the remote sees: 0, -EINVAL for
 * an empty, "." or ".." component, -ENOMEM. */
static int call_url(struct zr_remote *rm, const char *path, const char *query, char **ret)
{
	struct zr_buf b = {0};
	int err = zr_buf_printf(&b, "%s/v1/", rm->url) < 0 ? -ENOMEM
		  : zr_untrusted_path_encode(&b, path);
	if (!err && query && (zr_buf_append(&b, "?", 1) < 0 || zr_buf_puts(&b, query) < 0)) {
		err = -ENOMEM;
	}
	if (err < 0) {
		zr_buf_done(&b);
		return err;
	}
	*ret = zr_buf_steal(&b);
	return *ret ? 0 : -ENOMEM;
}

/* c answered on the next turn without a request: err, or the remote's last failure (0). */
static struct rcall *call_refuse(struct zr_remote *rm, struct rcall *c, int err)
{
	struct zr_remotes *rs = rm->rs;
	c->err = err;
	zr_list_push_back(&rs->failing, &c->link);
	(void)uv_timer_start(rs->fail_timer, on_fail_timer, 0, 0);
	zr_remote__ref(rm);
	return c;
}

struct rcall *zr_remote__call(struct zr_remote *rm, const struct rcall_opts *o, rcall_cb cb, void *data)
{
	struct zr_remotes *rs = rm->rs;
	struct rcall *c = calloc(1, sizeof(*c));
	char *url = NULL;
	int err = c && !rs->stopping ? call_url(rm, o->path, o->query, &url) : -ENOMEM;
	if (err == -ENOMEM) {
		free(c);
		return NULL;
	}
	struct zr_client_opts co = {
		.method = o->method,
		.url = url,
		.headers = rm->headers,
		.ctype = o->ctype,
		.body = o->body,
		.len = o->len,
		.timeout_ms = rs->cfg.timeout_ms + o->wait_ms,
		.connect_timeout_ms = rs->cfg.timeout_ms,
		.max_body = o->max_body,
	};
	c->rm = rm;
	c->cb = cb;
	c->data = data;
	c->waits = o->wait_ms > 0;
	zr_list_init(&c->link);
	if (err < 0) {
		return call_refuse(rm, c, err);
	}
	if (!rm->up && rm->fail_err && uv_now(rs->loop) - rm->fail_at < FAIL_FAST_MS) {
		free(url);
		return call_refuse(rm, c, 0);
	}
	log_debug("Remote %s: %s %s", rm->name, o->method, url + strlen(rm->url));
	c->q = zr_client_start(rs->client, &co, on_call_done, c);
	free(url);
	if (!c->q) {
		free(c);
		return NULL;
	}
	zr_remote__ref(rm);
	return c;
}

void zr_remote__cancel(struct rcall *c)
{
	struct zr_remote *rm = c->rm;
	if (c->q) {
		zr_client_cancel(c->q);
	}
	zr_list_remove(&c->link);
	free(c);
	zr_remote__unref(rm);
}

/* ---- requests passed on from the HTTP API ---- */


struct rfwd {
	struct zr_tree_fwd base;
	struct zr_remote *rm;
	struct rcall *call;
	char *path;
	char method[8];
	zr_tree_fwd_cb cb;
	void *data;
};

static void on_forwarded(int err, const struct zr_http_resp *r, void *data)
{
	struct rfwd *f = data;
	struct zr_remote *rm = f->rm;
	struct zr_http_resp mine;
	_cleanup_free_ char *loc = NULL;
	if (r && r->location) {
		/* The remote's Location is passed on only where it names a path of that same
		 * remote, in our own spelling; a redirect elsewhere loses it (and the front end
		 * answers 502). */
		mine = *r;
		int lerr = zr_untrusted_location(rm->url, f->path, r->location, &loc);
		if (lerr < 0) {
			_cleanup_free_ char *shown = strndup(r->location, 200);
			for (char *p = shown; p && *p; p++) {
				*p = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
			}
			log_warn("Remote %s: answer %ld to %s /v1/%s with Location '%s' outside it, "
				 "not passed on", rm->name, r->status, f->method, f->path,
				 shown ? shown : "?");
		}
		mine.location = loc;
		r = &mine;
	}
	f->cb(r ? 0 : err, r, f->data);
	zr_remote__unref(rm);
	free(f->path);
	free(f);
}

struct zr_tree_fwd *zr_remote__forward(struct zr_remote *rm, const struct zr_tree_fwd_opts *fo,
				       zr_tree_fwd_cb cb, void *data, int *ret_err)
{
	struct rfwd *f = calloc(1, sizeof(*f));
	*ret_err = -ENOMEM;
	if (!f || !(f->path = strdup(fo->path))) {
		free(f);
		return NULL;
	}
	f->rm = rm;
	f->cb = cb;
	f->data = data;
	snprintf(f->method, sizeof(f->method), "%s", fo->method);
	struct rcall_opts o = {.method = fo->method, .path = fo->path, .query = fo->query,
			       .ctype = fo->ctype, .body = fo->body, .len = fo->len,
			       .wait_ms = fo->wait_ms};
	if (!(f->call = zr_remote__call(rm, &o, on_forwarded, f))) {
		free(f->path);
		free(f);
		return NULL;
	}
	zr_remote__ref(rm);
	if (strcmp(fo->method, "GET") != 0 && strcmp(fo->method, "HEAD") != 0) {
		/* Read your own writes through the mount too. */
		zr_remote__invalidate(rm, NULL);
	}
	return &f->base;
}

void zr_remote__forward_cancel(struct zr_tree_fwd *zf)
{
	struct rfwd *f = container_of(zf, struct rfwd, base);
	zr_remote__cancel(f->call);
	zr_remote__unref(f->rm);
	free(f->path);
	free(f);
}

/* ---- the event stream: any event may change a listing ---- */

static void sse_start(struct zr_remote *rm);

static void on_retry(uv_timer_t *t)
{
	struct zr_remote *rm = t->data;
	if (!rm->removed && !rm->rs->stopping) {
		sse_start(rm);
	}
}

static int on_sse_chunk(const char *buf, size_t len, void *data)
{
	struct zr_remote *rm = data;
	bool changed = false;
	if (!rm->up) {
		set_up(rm, true);
	}
	if (!buf) {
		/* (Re)connected: events may have been missed meanwhile. */
		zr_remote__invalidate(rm, NULL);
		zr_links__resend(rm);
	}
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n') {
			/* A line too long to keep is an event of unknown scope: everything goes. */
			if (rm->sse_line.len < SSE_LINE_MAX) {
				(void)zr_buf_append(&rm->sse_line, &buf[i], 1);
			} else {
				changed = true;
			}
			continue;
		}
		if (rm->sse_line.len >= 5 && memcmp(rm->sse_line.data, "data:", 5) == 0) {
			event_invalidate(rm, rm->sse_line.data + 5);
		}
		zr_buf_reset(&rm->sse_line);
	}
	if (changed) {
		zr_remote__invalidate(rm, NULL);
	}
	rm->checked_ns = zr_now_ns();
	return 0;
}

static void on_sse_end(int err, const struct zr_http_resp *r, const char *why, void *data)
{
	struct zr_remote *rm = data;
	rm->sse = NULL;
	if (rm->rs->stopping) {
		zr_remote__unref(rm);
		return;
	}
	if (err < 0) {
		set_up(rm, false);
		set_error(rm, err, why);
	} else {
		int aerr = zr_http_answer_errno(r);
		char why2[96];
		snprintf(why2, sizeof(why2), "event stream answered HTTP %ld", r->status);
		if (aerr < 0) {
			set_error(rm, aerr, why2);
		}
	}
	zr_remote__invalidate(rm, NULL);
	if (!rm->removed) {
		(void)uv_timer_start(rm->retry, on_retry, SSE_RETRY_MS, 0);
	}
	zr_remote__unref(rm);
}

static void sse_start(struct zr_remote *rm)
{
	struct zr_remotes *rs = rm->rs;
	char *url = NULL;
	(void)call_url(rm, "@robot/events", "after=end", &url);
	struct curl_slist *h = NULL, *n;
	for (struct curl_slist *s = rm->headers; s; s = s->next) {
		if ((n = curl_slist_append(h, s->data))) {
			h = n;
		}
	}
	if ((n = curl_slist_append(h, "Accept: text/event-stream"))) {
		h = n;
	}
	struct zr_client_opts co = {
		.url = url,
		.headers = h,
		.connect_timeout_ms = rs->cfg.timeout_ms,
		.on_chunk = on_sse_chunk,
	};
	zr_buf_reset(&rm->sse_line);
	rm->sse = url ? zr_client_start(rs->client, &co, on_sse_end, rm) : NULL;
	/* The client copied the headers. */
	curl_slist_free_all(h);
	free(url);
	if (rm->sse) {
		zr_remote__ref(rm);
	} else {
		(void)uv_timer_start(rm->retry, on_retry, SSE_RETRY_MS, 0);
	}
}

/* ---- the registry ---- */

struct zr_remote *zr_remote__find(const struct zr_remotes *rs, const char *name)
{
	for (size_t i = 0; i < rs->n; i++) {
		if (strcmp(rs->list[i]->name, name) == 0) {
			return rs->list[i];
		}
	}
	return NULL;
}

bool zr_remotes_has(const struct zr_remotes *rs, const char *name)
{
	return zr_remote__find(rs, name) != NULL;
}

const char *zr_remotes_name(const struct zr_remotes *rs, size_t i)
{
	return i < rs->n ? rs->list[i]->name : NULL;
}

/* The first token line of path: no blank, no comment, at least 16 characters. */
static int read_token(const char *path, char **ret, char **why)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	if (!f) {
		return zr_fail(why, -EINVAL, "cannot read token file %s: %s", path, strerror(errno));
	}
	*ret = NULL;
	while (!*ret && fgets(line, sizeof(line), f)) {
		char *s = line, *e;
		while (*s == ' ' || *s == '\t') {
			s++;
		}
		e = s + strlen(s);
		while (e > s && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t')) {
			*--e = '\0';
		}
		if (*s && *s != '#') {
			*ret = strdup(s);
		}
	}
	fclose(f);
	if (!*ret) {
		return zr_fail(why, -EINVAL, "no token in %s", path);
	}
	return 0;
}

static bool url_valid(const char *url)
{
	if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
		return false;
	}
	const char *host = strstr(url, "://") + 3;
	if (!*host || *host == '/') {
		return false;
	}
	for (const char *p = url; *p; p++) {
		if (*p <= ' ' || *p == 0x7f || *p == '?' || *p == '#') {
			return false;
		}
	}
	return true;
}

int zr_remotes_add(struct zr_remotes *rs, const char *name, const char *url, const char *token_file,
		   char **why)
{
	char *token = NULL, *auth = NULL;
	int err;
	if (!zr_name_valid(name)) {
		return zr_fail(why, -EINVAL, "bad remote name '%s' (want [a-z0-9][a-z0-9_.-]{0,62})", name);
	}
	if (!url_valid(url)) {
		return zr_fail(why, -EINVAL, "bad remote URL '%s' (want http://HOST[:PORT] or https://...)", url);
	}
	if (zr_remote__find(rs, name)) {
		return zr_fail(why, -EEXIST, "remote '%s' exists", name);
	}
	if (rs->cfg.standalone && rs->n > 0) {
		return zr_fail(why, -EINVAL, "a mount shows one remote robot");
	}
	if (token_file && (err = read_token(token_file, &token, why)) < 0) {
		return err;
	}
	struct zr_remote *rm = calloc(1, sizeof(*rm));
	struct zr_remote **list = realloc(rs->list, (rs->n + 1) * sizeof(*list));
	if (list) {
		rs->list = list;
	}
	if (!rm || !list || !(rm->name = strdup(name)) || !(rm->url = strdup(url)) ||
	    (token_file && !(rm->token_file = strdup(token_file))) ||
	    (token && (asprintf(&auth, "Authorization: Bearer %s", token) < 0 ||
		       !(rm->headers = curl_slist_append(NULL, auth)))) ||
	    !(rm->retry = calloc(1, sizeof(*rm->retry)))) {
		if (token) {
			explicit_bzero(token, strlen(token));
		}
		free(token);
		free(auth);
		if (rm) {
			curl_slist_free_all(rm->headers);
			free(rm->name);
			free(rm->url);
			free(rm->token_file);
		}
		free(rm);
		return zr_fail(why, -ENOMEM, "out of memory");
	}
	if (token) {
		explicit_bzero(token, strlen(token));
		explicit_bzero(auth, strlen(auth));
	}
	free(token);
	free(auth);
	/* No trailing slash: paths are joined with "/v1/". */
	for (size_t l = strlen(rm->url); l > 0 && rm->url[l - 1] == '/'; l--) {
		rm->url[l - 1] = '\0';
	}
	rm->rs = rs;
	rm->id = ++rs->next_id;
	rm->refs = 1;
	(void)uv_timer_init(rs->loop, rm->retry);
	rm->retry->data = rm;
	rm->root = zr_rnode_get(rs, rm, "");
	if (!rm->root) {
		zr_remote__unref(rm);
		return zr_fail(why, -ENOMEM, "out of memory");
	}
	rs->list[rs->n++] = rm;
	log_info("Remote %s: %s%s", name, rm->url, token_file ? "" : " (no token)");
	if (zr_url_plain_beyond_loopback(rm->url)) {
		log_warn("Remote %s: plain http beyond loopback: its token and data cross the network "
			 "in clear (use https)", name);
	}
	sse_start(rm);
	if (rs->cfg.changed) {
		rs->cfg.changed(name, rs->cfg.data);
	}
	return 0;
}

static void drop(struct zr_remotes *rs, struct zr_remote *rm)
{
	for (size_t i = 0; i < rs->n; i++) {
		if (rs->list[i] == rm) {
			memmove(&rs->list[i], &rs->list[i + 1], (rs->n - i - 1) * sizeof(rm));
			rs->n--;
			break;
		}
	}
	rm->removed = true;
	(void)uv_timer_stop(rm->retry);
	if (rm->sse) {
		zr_client_cancel(rm->sse);
		rm->sse = NULL;
		zr_remote__unref(rm);
	}
	if (rs->cfg.changed && !rs->stopping) {
		rs->cfg.changed(rm->name, rs->cfg.data);
	}
	/* Its nodes live on, answering ENOENT, until the kernel forgets them. */
	struct rnode *root = rm->root;
	rm->root = NULL;
	zr_rnode_maybe_free(rs, root);
	zr_remote__unref(rm);
}

struct persist {
	struct zr_remotes *rs;
	char *name; /* added: dropped again when the store refuses it */
	zr_remotes_done_cb cb;
	void *data;
};

static void on_persisted(int err, void *data)
{
	struct persist *p = data;
	struct zr_remote *rm = p->name ? zr_remote__find(p->rs, p->name) : NULL;
	if (err < 0 && rm) {
		log_error("Remote %s not kept: the store failed: %s", p->name, strerror(-err));
		drop(p->rs, rm);
	}
	p->cb(err, p->data);
	free(p->name);
	free(p);
}

/* Adds a remote (persist: kept in the store, written to @robot/remotes/add); answered once the
 * store has it. */
static void add_persist(struct zr_remotes *rs, const char *name, const char *url,
			const char *token_file, zr_remotes_done_cb cb, void *data, char **why)
{
	struct persist *p = calloc(1, sizeof(*p));
	int err = p ? zr_remotes_add(rs, name, url, token_file, why) : -ENOMEM;
	if (err < 0) {
		log_warn("Refused write to /@robot/remotes/add: %s", *why ? *why : strerror(-err));
	}
	if (err < 0 || !rs->cfg.store || !(p->name = strdup(name))) {
		free(p);
		cb(err, data);
		return;
	}
	p->rs = rs;
	p->cb = cb;
	p->data = data;
	err = zr_store_remote_put(rs->cfg.store, name, url, token_file, (int64_t)zr_now_ns());
	if (err < 0) {
		on_persisted(err, p);
		return;
	}
	zr_store_sync(rs->cfg.store, on_persisted, p);
}

/* "remove NAME": -ENOENT when unknown; durable before cb. */
static void remove_persist(struct zr_remotes *rs, const char *name, zr_remotes_done_cb cb, void *data)
{
	struct zr_remote *rm = zr_remote__find(rs, name);
	struct persist *p;
	if (!rm) {
		cb(-ENOENT, data);
		return;
	}
	log_info("Remote %s removed", name);
	drop(rs, rm);
	if (!rs->cfg.store || !(p = calloc(1, sizeof(*p)))) {
		cb(0, data);
		return;
	}
	p->rs = rs;
	p->cb = cb;
	p->data = data;
	int err = zr_store_remote_delete(rs->cfg.store, name);
	if (err < 0) {
		on_persisted(err, p);
		return;
	}
	zr_store_sync(rs->cfg.store, on_persisted, p);
}

int zr_remotes_command(struct zr_remotes *rs, bool add, const char *buf, size_t len,
		       zr_remotes_done_cb cb, void *data, char **why)
{
	_cleanup_free_ char *text = strndup(buf, len);
	char *w[4] = {0};
	if (!text) {
		return -ENOMEM;
	}
	size_t n = zr_words(text, w, 4);
	if (add) {
		if (n < 2 || n > 3) {
			return zr_fail(why, -EINVAL, "want 'NAME URL [TOKEN-FILE]'");
		}
		char *ignored = NULL;
		/* add_persist logs its own refusals and answers them through cb. */
		add_persist(rs, w[0], w[1], w[2], cb, data, &ignored);
		free(ignored);
		return 0;
	}
	if (n != 2 || strcmp(w[0], "remove") != 0) {
		return zr_fail(why, -EINVAL, "want 'remove NAME'");
	}
	if (!zr_remote__find(rs, w[1])) {
		return zr_fail(why, -ENOENT, "no such remote");
	}
	remove_persist(rs, w[1], cb, data);
	return 0;
}

static int load_one(const char *name, const char *url, const char *token_file, void *data)
{
	struct zr_remotes *rs = data;
	char *why = NULL;
	if (zr_remote__find(rs, name)) {
		log_info("Remote %s: the one given with --remote replaces the stored one", name);
		return 0;
	}
	if (zr_remotes_add(rs, name, url, token_file, &why) < 0) {
		/* A token file that went away should not stop the robot: the remote is skipped. */
		log_error("Remote %s (%s) not loaded: %s", name, url, why);
	}
	free(why);
	return 0;
}

int zr_remotes_load(struct zr_remotes *rs)
{
	int err = rs->cfg.store ? zr_store_remotes(rs->cfg.store, load_one, rs) : 0;
	return err < 0 ? err : rs->cfg.store ? zr_store_unlinks(rs->cfg.store, zr_links__load_unlink, rs) : 0;
}

int zr_remotes_url(const struct zr_remotes *rs, const char *name, char **ret)
{
	struct zr_remote *rm = zr_remote__find(rs, name);
	if (!rm) {
		return -ENOENT;
	}
	_cleanup_free_ char *shown = zr_url_redact(rm->url);
	return !shown || asprintf(ret, "%s\n", shown) < 0 ? -ENOMEM : 0;
}

int zr_remotes_status(const struct zr_remotes *rs, const char *name, char **ret)
{
	struct zr_remote *rm = zr_remote__find(rs, name);
	char when[32] = "-";
	if (!rm) {
		return -ENOENT;
	}
	if (rm->checked_ns) {
		zr_time_format(rm->checked_ns, when);
	}
	char latency[32] = "-";
	if (rm->latency_ms > 0) {
		snprintf(latency, sizeof(latency), "%.3f", rm->latency_ms);
	}
	/* libcurl's error texts may quote the URL. */
	_cleanup_free_ char *error = rm->last_error ? zr_url_redact(rm->last_error) : NULL;
	return asprintf(ret, "state %s\nlatency_ms %s\nlast_error %s\nchecked %s\nevents %s\n",
			rm->up ? "up" : "down", latency, error ? error : "-", when,
			rm->sse && rm->up ? "connected" : "disconnected") < 0 ? -ENOMEM : 0;
}

int zr_remotes_create(uv_loop_t *loop, const struct zr_remotes_config *cfg, struct zr_remotes **ret)
{
	struct zr_remotes *rs = calloc(1, sizeof(*rs));
	int err = -ENOMEM;
	if (!rs) {
		return err;
	}
	rs->loop = loop;
	rs->cfg = *cfg;
	if (rs->cfg.timeout_ms <= 0) {
		rs->cfg.timeout_ms = 10000;
	}
	if (!rs->cfg.data_max) {
		rs->cfg.data_max = ZR_DATA_MAX_DEFAULT;
	}
	zr_list_init(&rs->handles);
	zr_list_init(&rs->failing);
	zr_list_init(&rs->links);
	zr_list_init(&rs->link_calls);
	if (cfg->self && !(rs->self = strdup(cfg->self))) {
		goto fail;
	}
	if (!(rs->fail_timer = calloc(1, sizeof(*rs->fail_timer)))) {
		goto fail;
	}
	(void)uv_timer_init(loop, rs->fail_timer);
	rs->fail_timer->data = rs;
	if ((err = zr_client_create(loop, &rs->client)) < 0) {
		uv_close((uv_handle_t *)rs->fail_timer, on_retry_closed);
		goto fail;
	}
	*ret = rs;
	return 0;
fail:
	free(rs->self);
	free(rs);
	return err;
}

void zr_remotes_destroy(struct zr_remotes *rs, int err)
{
	if (!rs) {
		return;
	}
	rs->stopping = true;
	while (rs->n > 0) {
		drop(rs, rs->list[rs->n - 1]);
	}
	/* Parked reads and requests in flight end now (-ESHUTDOWN); no new ones start. */
	zr_client_destroy(rs->client, err);
	while (!zr_list_empty(&rs->failing)) {
		struct rcall *c = container_of(rs->failing.next, struct rcall, link);
		zr_list_remove(&c->link);
		c->cb(-err, NULL, c->data);
		zr_remote__unref(c->rm);
		free(c);
	}
	uv_close((uv_handle_t *)rs->fail_timer, on_retry_closed);
	zr_rhandles_free_all(rs);
	/* Out of the tree's inode table before the nodes go. */
	if (rs->tree) {
		zr_tree_set_remotes(rs->tree, NULL);
	}
	zr_rnodes_free_all(rs);
	zr_map_done(&rs->by_key);
	zr_links__free_all(rs);
	free(rs->self);
	free(rs->list);
	free(rs);
}
