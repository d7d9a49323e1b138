/* Listings of remote directories: fetched once for everyone who asks meanwhile, parsed and
 * checked (a remote is untrusted: what is not safe to show is left out), cached for at most
 * ZR_REMOTE_TTL_MS and dropped at every change (remote.c); and the check that a producer named
 * on a remote robot exists there. */
#include "remote-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "untrusted.h"
#include "util/cleanup.h"
#include "util/log.h"

/* A time the remote gave ("2026-11-22T10:00:00.123Z"), in ns; 0 for none, a bad one, or one
 * whose nanoseconds would not fit (before 1970 or after 2262). */
static long long parse_time(const char *s)
{
	struct tm tm = {0};
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!rest) {
		return 0;
	}
	time_t secs = timegm(&tm);
	if (secs < 0 || secs >= LLONG_MAX / 1000000000LL) {
		return 0;
	}
	long long ns = (long long)secs * 1000000000LL;
	if (*rest == '.') {
		long long scale = 100000000LL;
		for (rest++; *rest >= '0' && *rest <= '9' && scale > 0; rest++, scale /= 10) {
			ns += (*rest - '0') * scale;
		}
	}
	return ns;
}

const struct rentry *zr_listing_find(const struct listing *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->e[i].name, name) == 0) {
			return &l->e[i];
		}
	}
	return NULL;
}

/* The entry e of a listing of folder dir as ours in re, or why it is left out (a static
 * text). Only what we know how to show is taken: a plain name, a file, folder or symlink,
 * permission bits (no setuid, setgid or sticky), a symlink that stays inside the remote. */
static const char *entry_parse(const char *dir, json_t *e, struct rentry *re)
{
	json_t *jname = json_object_get(e, "name"), *jtarget = json_object_get(e, "target");
	const char *kind = json_string_value(json_object_get(e, "kind"));
	const char *mode = json_string_value(json_object_get(e, "mode"));
	json_t *jsize = json_object_get(e, "size");
	char *end = NULL;
	if (!json_is_string(jname) ||
	    !zr_untrusted_name_ok(json_string_value(jname), json_string_length(jname))) {
		return "a bad name";
	}
	if (!kind || !mode) {
		return "no kind or mode";
	}
	unsigned long perm = strtoul(mode, &end, 8);
	if (end == mode || *end || perm > 07777) {
		return "a bad mode";
	}
	*re = (struct rentry){.mode = (mode_t)perm & 0777};
	if (strcmp(kind, "dir") == 0) {
		re->mode |= S_IFDIR;
	} else if (strcmp(kind, "file") == 0) {
		re->mode |= S_IFREG;
	} else if (strcmp(kind, "symlink") == 0) {
		re->mode |= S_IFLNK;
		if (!json_is_string(jtarget) ||
		    !zr_untrusted_target_ok(dir, json_string_value(jtarget),
					    json_string_length(jtarget))) {
			return "a symlink that leaves the remote robot";
		}
	} else {
		return "a kind other than file, dir or symlink";
	}
	/* Sizes only show in stat (files are read with direct I/O): a bad one shows as 0. */
	re->size = json_is_integer(jsize) && json_integer_value(jsize) > 0
		   ? (uint64_t)json_integer_value(jsize) : 0;
	re->mtime_ns = parse_time(json_string_value(json_object_get(e, "mtime")));
	return NULL;
}

int zr_listing_parse(const char *dir, const char *body, size_t len, zr_listing_refused_cb refused,
		     void *data, struct listing **ret)
{
	if (len > ZR_LISTING_MAX_BYTES) {
		return -EFBIG;
	}
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *entries = json_object_get(j, "entries"), *e;
	size_t i;
	struct listing *l = NULL;
	if (!json_is_array(entries)) {
		json_decref(j);
		return -EIO;
	}
	if (json_array_size(entries) > ZR_LISTING_MAX_ENTRIES) {
		json_decref(j);
		return -EFBIG;
	}
	if (!(l = calloc(1, sizeof(*l))) ||
	    !(l->e = calloc(json_array_size(entries) + 1, sizeof(*l->e)))) {
		json_decref(j);
		free(l);
		return -ENOMEM;
	}
	/* Names taken so far: a second entry of one name would show as two of one node. */
	struct zr_map seen = {0};
	json_array_foreach(entries, i, e) {
		struct rentry *re = &l->e[l->n];
		const char *why = entry_parse(dir, e, re);
		if (!why && zr_map_get(&seen, json_string_value(json_object_get(e, "name")))) {
			why = "a name listed twice";
		}
		if (why) {
			if (refused) {
				json_t *name = json_object_get(e, "name");
				refused(json_is_string(name) ? json_string_value(name) : "?", why, data);
			}
			continue;
		}
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *target = json_string_value(json_object_get(e, "target"));
		if (!(re->name = strdup(name)) ||
		    (S_ISLNK(re->mode) && !(re->target = strdup(target))) ||
		    zr_map_put(&seen, name, re) < 0) {
			free(re->name);
			free(re->target);
			zr_map_done(&seen);
			zr_listing_free(l);
			json_decref(j);
			return -ENOMEM;
		}
		l->n++;
	}
	zr_map_done(&seen);
	json_decref(j);
	*ret = l;
	return 0;
}

/* A refused entry is logged once per remote and path, not at every listing: the remote keeps
 * listing it. Remembered up to a bound, so a remote cannot grow our memory with names. */
#define REFUSED_MAX 1024

struct refused_ctx {
	struct zr_remote *rm;
	const char *dir;
};

static void on_refused(const char *name, const char *why, void *data)
{
	struct refused_ctx *c = data;
	struct zr_remote *rm = c->rm;
	_cleanup_free_ char *path = NULL;
	if (rm->refused.len >= REFUSED_MAX ||
	    asprintf(&path, "%s%s%.*s", c->dir, *c->dir ? "/" : "", ZR_UNTRUSTED_NAME_MAX, name) < 0 ||
	    zr_map_get(&rm->refused, path) || zr_map_put(&rm->refused, path, rm) < 0) {
		return;
	}
	/* The name as printable text: it is the remote's. */
	for (char *p = path; *p; p++) {
		*p = (unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p;
	}
	log_warn("Remote %s: entry /@remote/%s/%s left out of the listing: %s%s", rm->name, rm->name,
		 path, why, rm->refused.len == REFUSED_MAX ? " (further ones are not logged)" : "");
}

/* ---- listings, fetched once for everyone who asks meanwhile ---- */


struct fwaiter {
	struct zr_list link;
	zr_listing_cb cb;
	void *data;
};

struct fetch {
	struct zr_remote *rm;
	char *path;
	struct zr_list waiters;
	bool stale; /* something changed while it was on its way */
};

static void on_listing(int err, const struct zr_http_resp *r, void *data)
{
	struct fetch *f = data;
	struct zr_remote *rm = f->rm;
	struct listing *l = NULL;
	(void)zr_map_del(&rm->fetches, f->path);
	if (err == 0) {
		struct refused_ctx rc = {.rm = rm, .dir = f->path};
		err = zr_listing_parse(f->path, r->body, r->len, on_refused, &rc, &l);
	}
	if (l) {
		l->at = uv_now(rm->rs->loop);
	}
	while (!zr_list_empty(&f->waiters)) {
		struct fwaiter *w = container_of(f->waiters.next, struct fwaiter, link);
		zr_list_remove(&w->link);
		w->cb(err, l, w->data);
		free(w);
	}
	struct listing *old = zr_map_get(&rm->listings, f->path);
	if (l && !f->stale && !rm->removed && (old || zr_map_put(&rm->listings, f->path, l) == 0)) {
		if (old) {
			zr_listing_free(old);
			(void)zr_map_del(&rm->listings, f->path);
			if (zr_map_put(&rm->listings, f->path, l) < 0) {
				zr_listing_free(l);
			}
		}
	} else {
		zr_listing_free(l);
	}
	free(f->path);
	free(f);
	zr_remote__unref(rm);
}

void zr_remote__stale_fetches(struct zr_remote *rm, const char *svc)
{
	size_t i = 0;
	const char *path;
	void *v;
	while (zr_map_next(&rm->fetches, &i, &path, NULL, &v)) {
		if (zr_remote__affected(path, svc)) {
			((struct fetch *)v)->stale = true;
		}
	}
}

/* Starts the GET of the listing at path, with no waiter yet. -ENOMEM. */
static int fetch_start(struct zr_remote *rm, const char *path, struct fetch **ret)
{
	struct rcall_opts o = {.method = "GET", .path = path, .max_body = ZR_LISTING_MAX_BYTES};
	struct fetch *f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path)) || zr_map_put(&rm->fetches, path, f) < 0) {
		goto fail;
	}
	f->rm = rm;
	zr_list_init(&f->waiters);
	zr_remote__ref(rm);
	if (!zr_remote__call(rm, &o, on_listing, f)) {
		(void)zr_map_del(&rm->fetches, path);
		zr_remote__unref(rm);
		goto fail;
	}
	*ret = f;
	return 0;
fail:
	if (f) {
		free(f->path);
	}
	free(f);
	return -ENOMEM;
}

void zr_listing_get(struct zr_remote *rm, const char *path, zr_listing_cb cb, void *data)
{
	struct listing *l = zr_map_get(&rm->listings, path);
	if (l && uv_now(rm->rs->loop) - l->at < ZR_REMOTE_TTL_MS) {
		cb(0, l, data);
		return;
	}
	struct fetch *f = zr_map_get(&rm->fetches, path);
	struct fwaiter *w = calloc(1, sizeof(*w));
	if (!w || (!f && fetch_start(rm, path, &f) < 0)) {
		free(w);
		cb(-ENOMEM, NULL, data);
		return;
	}
	w->cb = cb;
	w->data = data;
	zr_list_push_back(&f->waiters, &w->link);
}

/* ---- does a remote producer exist ---- */

struct check_op {
	char *name; /* the service's name, last in the listing's folder */
	char *what; /* the producer, for the reason */
	zr_remotes_check_cb cb;
	void *data;
};

static void on_check_listing(int err, const struct listing *l, void *data)
{
	struct check_op *op = data;
	const struct rentry *e = err ? NULL : zr_listing_find(l, op->name);
	char *why = NULL;
	if (err == -ENOENT || (!err && (!e || !S_ISDIR(e->mode)))) {
		err = zr_fail(&why, -EINVAL, "no service %s", op->what);
	} else if (err < 0) {
		err = zr_fail(&why, err, "%s: %s", op->what, strerror(-err));
	}
	op->cb(err, why, op->data);
	free(why);
	free(op->name);
	free(op->what);
	free(op);
}

void zr_remotes_check(struct zr_remotes *rs, const char *producer, zr_remotes_check_cb cb, void *data)
{
	const char *name = producer + 8, *rest = strchr(name, '/');
	struct zr_remote *rm = NULL;
	for (size_t i = 0; rest && i < rs->n; i++) {
		if (strlen(rs->list[i]->name) == (size_t)(rest - name) &&
		    strncmp(rs->list[i]->name, name, (size_t)(rest - name)) == 0) {
			rm = rs->list[i];
		}
	}
	if (!rm) {
		char *why = NULL;
		int err = zr_fail(&why, -EINVAL, "no remote robot named in %s (see @robot/remotes)", producer);
		cb(err, why, data);
		free(why);
		return;
	}
	rest++;
	const char *slash = strrchr(rest, '/');
	if (rest[0] == '@' || !slash) {
		cb(0, NULL, data);
		return;
	}
	struct check_op *op = calloc(1, sizeof(*op));
	char *dir = strndup(rest, (size_t)(slash - rest));
	if (!op || !dir || !(op->name = strdup(slash + 1)) || !(op->what = strdup(producer))) {
		if (op) {
			free(op->name);
		}
		free(op);
		free(dir);
		cb(-ENOMEM, NULL, data);
		return;
	}
	op->cb = cb;
	op->data = data;
	zr_listing_get(rm, dir, on_check_listing, op);
	free(dir);
}

struct listing *zr_listing_copy(const struct listing *l)
{
	struct listing *c = calloc(1, sizeof(*c));
	if (!c || !(c->e = calloc(l->n + 1, sizeof(*c->e)))) {
		free(c);
		return NULL;
	}
	for (size_t i = 0; i < l->n; i++, c->n++) {
		c->e[i] = l->e[i];
		c->e[i].name = strdup(l->e[i].name);
		c->e[i].target = l->e[i].target ? strdup(l->e[i].target) : NULL;
		if (!c->e[i].name || (l->e[i].target && !c->e[i].target)) {
			c->n++;
			zr_listing_free(c);
			return NULL;
		}
	}
	return c;
}

