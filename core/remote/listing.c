/* Listings of remote directories: fetched once for everyone who asks meanwhile, parsed, cached
 * for at most ZR_REMOTE_TTL_MS and dropped at every change (remote.c); and the check that a
 * producer named on a remote robot exists there. */
#include "remote-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "util/log.h"

static long long parse_time(const char *s)
{
	struct tm tm = {0};
	const char *rest = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (!rest) {
		return 0;
	}
	time_t secs = timegm(&tm);
	/* A time whose nanoseconds do not fit (after 2262) overflowed: shown as none. */
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

/* Whether a symlink listed in folder dir ("" for the remote's root) stays inside the remote
 * however the kernel resolves it: relative, and its ".." all before any name (a ".." after a
 * name climbs from wherever that name, maybe a symlink, led) and no more than dir's folders. */
static bool target_inside(const char *dir, const char *target)
{
	size_t up = *dir ? 1 : 0;
	for (const char *p = dir; *p; p++) {
		up += *p == '/';
	}
	if (!*target || target[0] == '/') {
		return false;
	}
	bool named = false;
	for (const char *p = target; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (named || up == 0) {
				return false;
			}
			up--;
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			named = true;
		}
		p += n;
		p += *p ? 1 : 0;
	}
	return true;
}

/* Why entry e of a listing of folder dir is not safe to show (a static text), or NULL. */
static const char *entry_refusal(const char *dir, const char *name, const char *kind,
				 const char *mode, const char *target)
{
	if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0 || strlen(name) > NAME_MAX) {
		return "a bad name";
	}
	if (!kind || !mode) {
		return "no kind or mode";
	}
	if (strcmp(kind, "symlink") == 0 && (!target || !target_inside(dir, target))) {
		return "a symlink that leaves the remote robot";
	}
	return NULL;
}

int zr_listing_parse(const char *dir, const char *body, size_t len, zr_listing_refused_cb refused,
		     void *data, struct listing **ret)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	json_t *entries = json_object_get(j, "entries"), *e;
	size_t i;
	struct listing *l = calloc(1, sizeof(*l));
	if (!json_is_array(entries) || !l || !(l->e = calloc(json_array_size(entries) + 1, sizeof(*l->e)))) {
		json_decref(j);
		free(l);
		return -EIO;
	}
	json_array_foreach(entries, i, e) {
		const char *name = json_string_value(json_object_get(e, "name"));
		const char *kind = json_string_value(json_object_get(e, "kind"));
		const char *mode = json_string_value(json_object_get(e, "mode"));
		const char *target = json_string_value(json_object_get(e, "target"));
		const char *why = entry_refusal(dir, name, kind, mode, target);
		if (why) {
			if (refused) {
				refused(name ? name : "?", why, data);
			}
			continue;
		}
		struct rentry *re = &l->e[l->n];
		/* No setuid, setgid or sticky bit from a remote. */
		mode_t perm = (mode_t)strtoul(mode, NULL, 8) & 0777;
		re->mode = perm | (strcmp(kind, "dir") == 0 ? S_IFDIR : strcmp(kind, "symlink") == 0 ? S_IFLNK : S_IFREG);
		re->size = (uint64_t)json_integer_value(json_object_get(e, "size"));
		re->mtime_ns = parse_time(json_string_value(json_object_get(e, "mtime")));
		target = S_ISLNK(re->mode) ? target : NULL;
		if (!(re->name = strdup(name)) || (target && !(re->target = strdup(target)))) {
			free(re->name);
			zr_listing_free(l);
			json_decref(j);
			return -ENOMEM;
		}
		l->n++;
	}
	json_decref(j);
	*ret = l;
	return 0;
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
		err = zr_listing_parse(f->path, r->body, r->len, NULL, NULL, &l);
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
	struct rcall_opts o = {.method = "GET", .path = path};
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

