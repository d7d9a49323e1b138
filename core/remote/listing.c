/* Listings of remote directories: fetched once for everyone who asks meanwhile, parsed, cached
 * for at most ZR_REMOTE_TTL_MS and dropped at every change (remote.c); and the check that a
 * producer named on a remote robot exists there. */
#include "remote-internal.h"

#include <errno.h>
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
	long long ns = (long long)timegm(&tm) * 1000000000LL;
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

static int listing_parse(const struct zr_http_resp *r, struct listing **ret)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
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
		if (!name || !kind || !mode || strchr(name, '/') || !*name) {
			continue;
		}
		struct rentry *re = &l->e[l->n];
		mode_t perm = (mode_t)strtoul(mode, NULL, 8) & 07777;
		re->mode = perm | (strcmp(kind, "dir") == 0 ? S_IFDIR : strcmp(kind, "symlink") == 0 ? S_IFLNK : S_IFREG);
		re->size = (uint64_t)json_integer_value(json_object_get(e, "size"));
		re->mtime_ns = parse_time(json_string_value(json_object_get(e, "mtime")));
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
		err = listing_parse(r, &l);
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

