/* Webhooks: per hook a queue of the events it owes, delivered one at a time through the
 * webhooks' own libcurl multi, retried with backoff, each kept in the store until a 2xx. */
#include "webhook.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "config.h"
#include "remote/client.h"
#include "robot.h"
#include "store.h"
#include "util/cleanup.h"
#include "util/list.h"
#include "util/log.h"
#include "util/url.h"
#include "util/words.h"

#define BACKOFF_MAX_MS 60000

struct delivery {
	struct zr_list link;
	uint64_t seq;
	char *type;
	char *body;
};

struct hook {
	struct zr_webhooks *wh;
	uint64_t id;
	char *url;
	char **types; /* NULL-terminated; empty: every event */
	size_t n_types;
	char secret[65];
	struct zr_list queue; /* struct delivery, oldest first; the head is the one tried */
	size_t pending;
	uint64_t last_seq;
	struct zr_client_req *req; /* the attempt in flight, or NULL */
	struct curl_slist *headers; /* its headers, until it ends */
	uint64_t delivered, failures, dropped;
	unsigned fails; /* failed attempts in a row */
	long last_status; /* 0: no answer (or no attempt yet) */
	bool attempted;
	char *last_error;
	long long last_delivery_ns, next_ns; /* next_ns: when to try again, 0: not waiting */
	bool drop_logged; /* "dropped" logged for the current burst */
};

struct zr_webhooks {
	uv_loop_t *loop;
	struct zr_robot *robot;
	struct zr_store *store;
	struct zr_client *client;
	uv_timer_t timer; /* the earliest retry */
	struct hook *hooks[ZR_WEBHOOK_MAX]; /* ascending ids */
	size_t n;
	uint64_t last_id;
	bool started, closing;
};

/* A change to the store made while the robot runs: one of ours (retried by the store). */
struct persist {
	zr_webhooks_done_cb cb;
	void *data;
};

static void try_next(struct hook *h);
static void on_timer(uv_timer_t *timer);

/* ---- pure helpers ---- */

bool zr_webhook_match(const char *pattern, const char *type)
{
	size_t n = strlen(pattern);
	if (strcmp(pattern, "*") == 0 || strcmp(pattern, type) == 0) {
		return true;
	}
	/* "task.*" matches "task.finished" (and "task.x.y"), not "task" nor "tasks.x". */
	return n >= 2 && pattern[n - 1] == '*' && pattern[n - 2] == '.' && strncmp(pattern, type, n - 1) == 0;
}

uint64_t zr_webhook_backoff_ms(unsigned fails)
{
	if (fails == 0) {
		return 0;
	}
	if (fails > 7) {
		return BACKOFF_MAX_MS; /* and no shift past the width */
	}
	uint64_t ms = (uint64_t)1000 << (fails - 1);
	return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}

int zr_webhook_sign(const char *key, const void *body, size_t len, char *ret)
{
	unsigned char mac[32];
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, key, strlen(key), body, len, mac) < 0) {
		return -EIO;
	}
	memcpy(ret, "sha256=", 7);
	for (size_t i = 0; i < sizeof(mac); i++) {
		snprintf(ret + 7 + 2 * i, 3, "%02x", mac[i]);
	}
	return 0;
}

static bool type_valid(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > ZR_WEBHOOK_TYPE_MAX) {
		return false;
	}
	for (const char *p = t; *p; p++) {
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && !strchr("_.*-", *p)) {
			return false;
		}
	}
	/* A '*' is "*" alone or ends a prefix "P.*": "task*" or "a*b" would match nothing, silently. */
	const char *star = strchr(t, '*');
	return !star || strcmp(t, "*") == 0 ||
	       (star == t + n - 1 && n >= 3 && star[-1] == '.');
}

static char **types_free(char **types)
{
	for (size_t i = 0; types && types[i]; i++) {
		free(types[i]);
	}
	free(types);
	return NULL;
}

int zr_webhook_parse(const char *line, char **ret_url, char ***ret_types, size_t *ret_n, char **why)
{
	_cleanup_free_ char *text = strdup(line);
	char *w[1 + ZR_WEBHOOK_TYPES_MAX];
	if (!text) {
		return -ENOMEM;
	}
	size_t n = zr_words(text, w, 1 + ZR_WEBHOOK_TYPES_MAX);
	if (n == 0) {
		return zr_fail(why, -EINVAL, "want 'URL [EVENT-TYPE...]'");
	}
	if (n > 1 + ZR_WEBHOOK_TYPES_MAX) {
		return zr_fail(why, -EINVAL, "more than %d event types", ZR_WEBHOOK_TYPES_MAX);
	}
	if (strlen(w[0]) > ZR_WEBHOOK_URL_MAX) {
		return zr_fail(why, -EINVAL, "URL longer than %d bytes", ZR_WEBHOOK_URL_MAX);
	}
	if (strncasecmp(w[0], "http://", 7) != 0 && strncasecmp(w[0], "https://", 8) != 0) {
		return zr_fail(why, -EINVAL, "the URL must start with http:// or https://");
	}
	for (const char *p = w[0]; *p; p++) {
		if ((unsigned char)*p < 0x21 || *p == 0x7f) {
			return zr_fail(why, -EINVAL, "control character in the URL");
		}
	}
	for (size_t i = 1; i < n; i++) {
		if (!type_valid(w[i])) {
			return zr_fail(why, -EINVAL,
				       "bad event type (want a type, 'PREFIX.*' or '*' of [a-z0-9_.*-], "
				       "at most %d bytes)", ZR_WEBHOOK_TYPE_MAX);
		}
	}
	char *url = strdup(w[0]);
	char **types = calloc(n, sizeof(*types));
	bool ok = url && types;
	for (size_t i = 1; ok && i < n; i++) {
		ok = (types[i - 1] = strdup(w[i])) != NULL;
	}
	if (!ok) {
		free(url);
		types_free(types);
		return -ENOMEM;
	}
	*ret_url = url;
	*ret_types = types;
	*ret_n = n - 1;
	return 0;
}

/* ---- hooks ---- */

static struct delivery *delivery_free(struct delivery *d)
{
	if (d) {
		free(d->type);
		free(d->body);
		free(d);
	}
	return NULL;
}

static struct hook *hook_free(struct hook *h)
{
	if (!h) {
		return NULL;
	}
	if (h->req) {
		zr_client_cancel(h->req);
	}
	curl_slist_free_all(h->headers);
	while (!zr_list_empty(&h->queue)) {
		struct delivery *d = container_of(h->queue.next, struct delivery, link);
		zr_list_remove(&d->link);
		delivery_free(d);
	}
	free(h->url);
	types_free(h->types);
	free(h->last_error);
	free(h);
	return NULL;
}

/* A hook with its own copies of url and types (taken over: freed on failure too). */
static struct hook *hook_new(struct zr_webhooks *wh, uint64_t id, char *url, char **types,
			     size_t n_types, const char *secret)
{
	struct hook *h = calloc(1, sizeof(*h));
	if (!h) {
		free(url);
		types_free(types);
		return NULL;
	}
	h->wh = wh;
	h->id = id;
	h->url = url;
	h->types = types;
	h->n_types = n_types;
	snprintf(h->secret, sizeof(h->secret), "%s", secret);
	zr_list_init(&h->queue);
	return h;
}

static struct hook *find(const struct zr_webhooks *wh, uint64_t id, size_t *ret_i)
{
	for (size_t i = 0; i < wh->n; i++) {
		if (wh->hooks[i]->id == id) {
			if (ret_i) {
				*ret_i = i;
			}
			return wh->hooks[i];
		}
	}
	return NULL;
}

static bool hook_wants(const struct hook *h, const char *type)
{
	if (h->n_types == 0) {
		return true;
	}
	for (size_t i = 0; i < h->n_types; i++) {
		if (zr_webhook_match(h->types[i], type)) {
			return true;
		}
	}
	return false;
}

/* Arms the timer for the earliest retry among the hooks waiting for one. */
static void arm_timer(struct zr_webhooks *wh)
{
	long long first = 0;
	for (size_t i = 0; i < wh->n; i++) {
		long long t = wh->hooks[i]->next_ns;
		if (t && (!first || t < first)) {
			first = t;
		}
	}
	if (!first) {
		(void)uv_timer_stop(&wh->timer);
		return;
	}
	long long now = zr_now_ns();
	uint64_t ms = first > now ? (uint64_t)((first - now + 999999) / 1000000) : 0;
	(void)uv_timer_start(&wh->timer, on_timer, ms, 0);
}

static void on_timer(uv_timer_t *timer)
{
	struct zr_webhooks *wh = container_of(timer, struct zr_webhooks, timer);
	long long now = zr_now_ns();
	for (size_t i = 0; i < wh->n; i++) {
		struct hook *h = wh->hooks[i];
		if (h->next_ns && h->next_ns <= now) {
			h->next_ns = 0;
			try_next(h);
		}
	}
	arm_timer(wh);
}

static void set_error(struct hook *h, const char *why)
{
	free(h->last_error);
	h->last_error = why ? zr_url_redact(why) : NULL;
}

static void on_answer(int err, const struct zr_http_resp *r, const char *why, void *data)
{
	struct hook *h = data;
	struct zr_webhooks *wh = h->wh;
	struct delivery *d = container_of(h->queue.next, struct delivery, link);
	h->req = NULL;
	curl_slist_free_all(h->headers);
	h->headers = NULL;
	h->attempted = true;
	h->last_status = err == 0 ? r->status : 0;
	if (err == 0 && r->status >= 200 && r->status < 300) {
		zr_list_remove(&d->link);
		h->pending--;
		h->delivered++;
		h->fails = 0;
		h->drop_logged = false;
		h->last_delivery_ns = zr_now_ns();
		set_error(h, NULL);
		if (wh->store) {
			(void)zr_store_delivery_delete(wh->store, (int64_t)h->id, (int64_t)d->seq);
		}
		delivery_free(d);
		try_next(h);
		return;
	}
	char text[160];
	if (err == 0) {
		snprintf(text, sizeof(text), "HTTP status %ld", r->status);
		why = text;
	}
	set_error(h, why);
	h->failures++;
	h->fails++;
	if (h->fails == ZR_WEBHOOK_FAILING) {
		log_warn("Webhook %" PRIu64 ": %u deliveries failed in a row (%s), retrying",
			 h->id, h->fails, h->last_error ? h->last_error : "?");
	}
	h->next_ns = zr_now_ns() + (long long)zr_webhook_backoff_ms(h->fails) * 1000000;
	arm_timer(wh);
}

/* Starts the attempt at the head of h's queue, unless one is in flight or waits to retry. */
static void try_next(struct hook *h)
{
	struct zr_webhooks *wh = h->wh;
	if (!wh->started || wh->closing || h->req || h->next_ns || zr_list_empty(&h->queue)) {
		return;
	}
	struct delivery *d = container_of(h->queue.next, struct delivery, link);
	char sig[ZR_WEBHOOK_SIG_LEN + 1];
	char event[32 + ZR_WEBHOOK_TYPE_MAX], delivery[64], signature[32 + ZR_WEBHOOK_SIG_LEN];
	bool ok = zr_webhook_sign(h->secret, d->body, strlen(d->body), sig) == 0;
	/* Types are checked at add and come from the robot's own events: never longer. */
	snprintf(event, sizeof(event), "X-Zrobot-Event: %s", d->type);
	snprintf(delivery, sizeof(delivery), "X-Zrobot-Delivery: %" PRIu64 ".%" PRIu64, h->id, d->seq);
	snprintf(signature, sizeof(signature), "X-Zrobot-Signature: %s", sig);
	const char *const lines[] = {"User-Agent: zrobot/" ZR_VERSION, event, delivery, signature};
	struct curl_slist *hd = NULL;
	for (size_t i = 0; ok && i < sizeof(lines) / sizeof(lines[0]); i++) {
		struct curl_slist *n = curl_slist_append(hd, lines[i]);
		ok = n != NULL;
		hd = n ? n : hd;
	}
	struct zr_client_opts o = {
		.method = "POST",
		.url = h->url,
		.headers = hd,
		.ctype = "application/json",
		.body = d->body,
		.len = strlen(d->body),
		.timeout_ms = ZR_WEBHOOK_TIMEOUT_MS,
		.connect_timeout_ms = ZR_WEBHOOK_CONNECT_TIMEOUT_MS,
		/* Any 2xx delivers (README): a receiver's body, however long, is never read. */
		.status_only = true,
	};
	h->headers = hd;
	h->req = ok ? zr_client_start(wh->client, &o, on_answer, h) : NULL;
	if (!h->req) {
		/* Out of memory: tried again like any failed attempt. */
		curl_slist_free_all(h->headers);
		h->headers = NULL;
		h->fails++;
		h->failures++;
		set_error(h, "out of memory");
		h->next_ns = zr_now_ns() + (long long)zr_webhook_backoff_ms(h->fails) * 1000000;
		arm_timer(wh);
	}
}

/* Drops the oldest delivery not in flight, to make room (ZR_WEBHOOK_PENDING_MAX). */
static void drop_oldest(struct hook *h)
{
	struct zr_list *e = h->queue.next;
	if (h->req) {
		e = e->next; /* the head is being tried: the next one goes */
	}
	if (e == &h->queue) {
		return;
	}
	struct delivery *d = container_of(e, struct delivery, link);
	zr_list_remove(&d->link);
	h->pending--;
	h->dropped++;
	if (!h->drop_logged) {
		log_warn("Webhook %" PRIu64 ": %d deliveries pending, dropping the oldest ones", h->id,
			 ZR_WEBHOOK_PENDING_MAX);
		h->drop_logged = true;
	}
	if (h->wh->store) {
		(void)zr_store_delivery_delete(h->wh->store, (int64_t)h->id, (int64_t)d->seq);
	}
	delivery_free(d);
}

/* Appends a delivery to h's queue (type and body copied); bound: drop the oldest past
 * ZR_WEBHOOK_PENDING_MAX (not while loading: the store is read then, and holds no more). */
static int enqueue(struct hook *h, uint64_t seq, const char *type, const char *body, bool bound)
{
	struct delivery *d = calloc(1, sizeof(*d));
	if (!d || !(d->type = strdup(type)) || !(d->body = strdup(body))) {
		delivery_free(d);
		return -ENOMEM;
	}
	d->seq = seq;
	if (bound && h->pending >= ZR_WEBHOOK_PENDING_MAX) {
		drop_oldest(h);
	}
	zr_list_push_back(&h->queue, &d->link);
	h->pending++;
	if (seq > h->last_seq) {
		h->last_seq = seq;
	}
	return 0;
}

void zr_webhooks_event(struct zr_webhooks *wh, const char *type, const char *line)
{
	if (!wh || wh->closing) {
		return;
	}
	for (size_t i = 0; i < wh->n; i++) {
		struct hook *h = wh->hooks[i];
		if (!hook_wants(h, type)) {
			continue;
		}
		uint64_t seq = h->last_seq + 1;
		int err = enqueue(h, seq, type, line, true);
		if (err == 0 && wh->store) {
			err = zr_store_delivery_put(wh->store, (int64_t)h->id, (int64_t)seq, type, line);
		}
		if (err < 0) {
			log_error("Webhook %" PRIu64 ": failed to queue event %s: %s, ignoring", h->id, type,
				  strerror(-err));
			continue;
		}
		try_next(h);
	}
}

/* ---- life ---- */

int zr_webhooks_create(uv_loop_t *loop, struct zr_robot *r, struct zr_store *store,
		       struct zr_webhooks **ret)
{
	struct zr_webhooks *wh = calloc(1, sizeof(*wh));
	if (!wh) {
		return -ENOMEM;
	}
	int err = zr_client_create(loop, &wh->client);
	if (err < 0) {
		free(wh);
		return err;
	}
	wh->loop = loop;
	wh->robot = r;
	wh->store = store;
	(void)uv_timer_init(loop, &wh->timer);
	wh->timer.data = wh;
	*ret = wh;
	return 0;
}

static void on_timer_closed(uv_handle_t *handle)
{
	struct zr_webhooks *wh = container_of((uv_timer_t *)handle, struct zr_webhooks, timer);
	free(wh);
}

void zr_webhooks_destroy(struct zr_webhooks *wh)
{
	if (!wh) {
		return;
	}
	wh->closing = true;
	/* Cancelled first: the client's destroy then has no callback to run into freed hooks. */
	for (size_t i = 0; i < wh->n; i++) {
		wh->hooks[i] = hook_free(wh->hooks[i]);
	}
	wh->n = 0;
	zr_client_destroy(wh->client, ECANCELED);
	wh->client = NULL;
	(void)uv_timer_stop(&wh->timer);
	uv_close((uv_handle_t *)&wh->timer, on_timer_closed);
}

static int load_hook(int64_t id, const char *url, const char *types, const char *secret,
		     int64_t last_seq, void *data)
{
	struct zr_webhooks *wh = data;
	_cleanup_free_ char *line = NULL;
	char *u = NULL, *why = NULL;
	char **t = NULL;
	size_t n = 0;
	if (asprintf(&line, "%s %s", url, types) < 0) {
		return -ENOMEM;
	}
	int err = zr_webhook_parse(line, &u, &t, &n, &why);
	if (err == 0 && (wh->n >= ZR_WEBHOOK_MAX || id <= 0)) {
		free(u);
		types_free(t);
		err = -EINVAL;
	}
	if (err < 0) {
		/* Only this zrobot wrote it: a row that does not parse is skipped, not fatal. */
		log_error("Webhook %" PRId64 " not loaded: %s", id, why ? why : "bad row");
		free(why);
		return err == -ENOMEM ? err : 0;
	}
	struct hook *h = hook_new(wh, (uint64_t)id, u, t, n, secret);
	if (!h) {
		return -ENOMEM;
	}
	h->last_seq = last_seq > 0 ? (uint64_t)last_seq : 0;
	wh->hooks[wh->n++] = h;
	return 0;
}

static int load_delivery(int64_t hook, int64_t seq, const char *type, const char *body, void *data)
{
	struct zr_webhooks *wh = data;
	struct hook *h = find(wh, (uint64_t)hook, NULL);
	if (!h) {
		return 0; /* its hook did not load */
	}
	return enqueue(h, (uint64_t)seq, type, body, false);
}

int zr_webhooks_load(struct zr_webhooks *wh)
{
	if (!wh->store) {
		return 0;
	}
	int64_t last = zr_store_last_webhook_id(wh->store);
	wh->last_id = last > 0 ? (uint64_t)last : 0;
	int err = zr_store_webhooks(wh->store, load_hook, wh);
	if (err == 0) {
		err = zr_store_deliveries(wh->store, load_delivery, wh);
	}
	for (size_t i = 0; i < wh->n; i++) {
		struct hook *h = wh->hooks[i];
		if (h->pending) {
			log_info("Webhook %" PRIu64 ": %zu deliveries pending", h->id, h->pending);
		}
	}
	return err;
}

void zr_webhooks_start(struct zr_webhooks *wh)
{
	wh->started = true;
	for (size_t i = 0; i < wh->n; i++) {
		try_next(wh->hooks[i]);
	}
}

/* ---- commands ---- */

static void on_persisted(int err, void *data)
{
	struct persist *p = data;
	p->cb(err, p->data);
	free(p);
}

/* Answers cb once what was submitted is committed (at once without a store). */
static void persist(struct zr_webhooks *wh, int err, zr_webhooks_done_cb cb, void *data)
{
	struct persist *p = calloc(1, sizeof(*p));
	if (!p) {
		err = -ENOMEM;
	}
	if (err < 0 || !wh->store) {
		free(p);
		cb(err, data);
		return;
	}
	p->cb = cb;
	p->data = data;
	zr_store_sync(wh->store, on_persisted, p);
}

static int make_secret(char ret[65])
{
	unsigned char b[32];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		return -EIO;
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		snprintf(ret + 2 * i, 3, "%02x", b[i]);
	}
	return 0;
}

static int add(struct zr_webhooks *wh, const char *line, zr_webhooks_done_cb cb, void *data, char **why)
{
	char *url = NULL, **types = NULL;
	size_t n = 0;
	char secret[65];
	int err = zr_webhook_parse(line, &url, &types, &n, why);
	if (err < 0) {
		return err;
	}
	if (wh->n >= ZR_WEBHOOK_MAX) {
		free(url);
		types_free(types);
		return zr_fail(why, -EDQUOT, "at most %d webhooks", ZR_WEBHOOK_MAX);
	}
	err = make_secret(secret);
	struct zr_buf joined = {0};
	for (size_t i = 0; err == 0 && i < n; i++) {
		err = zr_buf_printf(&joined, "%s%s", i ? " " : "", types[i]);
	}
	struct hook *h = err == 0 ? hook_new(wh, wh->last_id + 1, url, types, n, secret) : NULL;
	if (!h) {
		if (err == 0) {
			err = -ENOMEM;
		} else {
			free(url);
			types_free(types);
		}
		zr_buf_done(&joined);
		return zr_fail(why, err, "cannot add the webhook: %s", strerror(-err));
	}
	if (wh->store) {
		err = zr_store_webhook_put(wh->store, (int64_t)h->id, h->url, joined.data ? joined.data : "",
					   h->secret);
	}
	zr_buf_done(&joined);
	if (err < 0) {
		hook_free(h);
		return zr_fail(why, err, "cannot store the webhook: %s", strerror(-err));
	}
	wh->last_id = h->id;
	wh->hooks[wh->n++] = h;
	_cleanup_free_ char *shown = zr_url_redact(h->url);
	log_info("Webhook %" PRIu64 " added: %s", h->id, shown ? shown : "?");
	if (wh->robot) {
		(void)zr_robot__event(wh->robot, "webhook.added", json_pack("{sI}", "id", (json_int_t)h->id));
	}
	persist(wh, 0, cb, data);
	return 0;
}

int zr_webhooks_remove(struct zr_webhooks *wh, uint64_t id, zr_webhooks_done_cb cb, void *data,
		       char **why)
{
	size_t i;
	struct hook *h = find(wh, id, &i);
	if (!h) {
		return zr_fail(why, -ENOENT, "no webhook %" PRIu64, id);
	}
	int err = wh->store ? zr_store_webhook_delete(wh->store, (int64_t)id) : 0;
	if (err < 0) {
		return zr_fail(why, err, "cannot store the removal: %s", strerror(-err));
	}
	memmove(&wh->hooks[i], &wh->hooks[i + 1], (wh->n - i - 1) * sizeof(wh->hooks[0]));
	wh->n--;
	hook_free(h);
	arm_timer(wh);
	log_info("Webhook %" PRIu64 " removed", id);
	if (wh->robot) {
		(void)zr_robot__event(wh->robot, "webhook.removed", json_pack("{sI}", "id", (json_int_t)id));
	}
	persist(wh, 0, cb, data);
	return 0;
}

static bool parse_id(const char *s, uint64_t *ret)
{
	if (!*s || *s == '0' || strlen(s) > 19 || strspn(s, "0123456789") != strlen(s)) {
		return false;
	}
	*ret = strtoull(s, NULL, 10);
	return true;
}

int zr_webhooks_command(struct zr_webhooks *wh, bool add_, const char *buf, size_t len,
			zr_webhooks_done_cb cb, void *data, char **why)
{
	if (memchr(buf, '\0', len)) {
		return zr_fail(why, -EINVAL, "NUL byte in the request");
	}
	_cleanup_free_ char *text = strndup(buf, len);
	if (!text) {
		return -ENOMEM;
	}
	/* One line: a second one would be a second request mixed into the first. */
	size_t n = strlen(text);
	while (n > 0 && strchr(" \t\r\n", text[n - 1])) {
		text[--n] = '\0';
	}
	if (strchr(text, '\n')) {
		return zr_fail(why, -EINVAL, "one line only");
	}
	if (add_) {
		return add(wh, text, cb, data, why);
	}
	char *w[3];
	uint64_t id;
	size_t nw = zr_words(text, w, 3);
	if (nw != 2 || strcmp(w[0], "remove") != 0) {
		return zr_fail(why, -EINVAL, "want 'remove ID'");
	}
	if (!parse_id(w[1], &id)) {
		return zr_fail(why, -ENOENT, "no webhook %s", w[1]);
	}
	return zr_webhooks_remove(wh, id, cb, data, why);
}

/* ---- what the tree shows ---- */

uint64_t zr_webhooks_id(const struct zr_webhooks *wh, size_t i)
{
	return wh && i < wh->n ? wh->hooks[i]->id : 0;
}

bool zr_webhooks_has(const struct zr_webhooks *wh, uint64_t id)
{
	return wh && find(wh, id, NULL);
}

static const char *state_of(const struct hook *h)
{
	if (h->pending == 0 || h->fails == 0) {
		return "ok";
	}
	return h->fails >= ZR_WEBHOOK_FAILING ? "failing" : "retrying";
}

static int put_status(const struct hook *h, struct zr_buf *b)
{
	char ts[40], ts2[40], code[24];
	snprintf(code, sizeof(code), "%ld", h->last_status);
	return zr_buf_printf(b,
			     "state %s\npending %zu\ndelivered %" PRIu64 "\nfailures %" PRIu64
			     "\nlast_status %s\nlast_error %s\nlast_delivery %s\nnext_attempt %s\n"
			     "dropped %" PRIu64 "\n",
			     state_of(h), h->pending, h->delivered, h->failures,
			     h->attempted && h->last_status ? code : "none",
			     h->last_error ? h->last_error : "none",
			     h->last_delivery_ns ? zr_time_format(h->last_delivery_ns, ts) : "never",
			     h->next_ns ? zr_time_format(h->next_ns, ts2) : "none", h->dropped);
}

int zr_webhooks_file(const struct zr_webhooks *wh, uint64_t id, const char *file, struct zr_buf *b)
{
	const struct hook *h = wh ? find(wh, id, NULL) : NULL;
	if (!h) {
		return -ENOENT;
	}
	if (strcmp(file, "url") == 0) {
		_cleanup_free_ char *shown = zr_url_redact(h->url);
		return shown ? zr_buf_printf(b, "%s\n", shown) : -ENOMEM;
	}
	if (strcmp(file, "events") == 0) {
		int err = h->n_types ? 0 : zr_buf_puts(b, "*\n");
		for (size_t i = 0; err == 0 && i < h->n_types; i++) {
			err = zr_buf_printf(b, "%s\n", h->types[i]);
		}
		return err;
	}
	if (strcmp(file, "status") == 0) {
		return put_status(h, b);
	}
	if (strcmp(file, "secret") == 0) {
		return zr_buf_printf(b, "%s\n", h->secret);
	}
	return -ENOENT;
}

int zr_webhooks_metrics(const struct zr_webhooks *wh, struct zr_buf *b)
{
	int err = 0;
	if (!wh || wh->n == 0) {
		return 0;
	}
	err = zr_buf_puts(b, "# HELP zrobot_webhook_deliveries_total Webhook delivery attempts since the"
			     " robot started, by hook and result.\n"
			     "# TYPE zrobot_webhook_deliveries_total counter\n");
	for (size_t i = 0; err == 0 && i < wh->n; i++) {
		const struct hook *h = wh->hooks[i];
		err = zr_buf_printf(b,
				    "zrobot_webhook_deliveries_total{hook=\"%" PRIu64 "\",result=\"ok\"} %" PRIu64 "\n"
				    "zrobot_webhook_deliveries_total{hook=\"%" PRIu64 "\",result=\"failed\"} %" PRIu64 "\n",
				    h->id, h->delivered, h->id, h->failures);
	}
	if (err == 0) {
		err = zr_buf_puts(b, "# HELP zrobot_webhook_pending Events waiting for delivery, by hook.\n"
				     "# TYPE zrobot_webhook_pending gauge\n");
	}
	for (size_t i = 0; err == 0 && i < wh->n; i++) {
		err = zr_buf_printf(b, "zrobot_webhook_pending{hook=\"%" PRIu64 "\"} %zu\n", wh->hooks[i]->id,
				    wh->hooks[i]->pending);
	}
	return err;
}
