/* The robot's index of parents and producers (service-index.h): per path, the services of the
 * tree that name it, kept sorted so that a listing is the bucket as it is. */
#include "service-index.h"

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "service.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"

static int entry_cmp(const struct zr_index_entry *e, const struct zr_service *s, uint32_t role)
{
	int c = strcmp(e->s->path, s->path);
	if (c == 0 && e->s != s) {
		/* Only one service of a path is in the tree; this keeps the order total anyway. */
		c = (uintptr_t)e->s < (uintptr_t)s ? -1 : 1;
	}
	if (c == 0 && e->role != role) {
		c = e->role < role ? -1 : 1;
	}
	return c;
}

/* Where (s, role) is or would go in b; *ret_found tells which. */
static size_t bucket_find(const struct zr_index_bucket *b, const struct zr_service *s,
			  uint32_t role, bool *ret_found)
{
	size_t lo = 0, hi = b->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (entry_cmp(&b->v[mid], s, role) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	*ret_found = lo < b->n && entry_cmp(&b->v[lo], s, role) == 0;
	return lo;
}

static void bucket_free(struct zr_index_bucket *b)
{
	if (b) {
		free(b->key);
		free(b->v);
		free(b);
	}
}

/* Files (s, role) under key in m: 1 and the bucket in *ret when it was not there yet, 0 when it
 * was (a path named twice by one role), -ENOMEM. */
static int bucket_add(struct zr_map *m, const char *key, struct zr_service *s, uint32_t role,
		      struct zr_index_bucket **ret)
{
	struct zr_index_bucket *b = zr_map_get(m, key);
	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b || !(b->key = strdup(key)) || zr_map_put(m, key, b) < 0) {
			bucket_free(b);
			return -ENOMEM;
		}
	}
	bool found;
	size_t at = bucket_find(b, s, role, &found);
	if (found) {
		return 0;
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 4;
		struct zr_index_entry *v = reallocarray(b->v, cap, sizeof(*v));
		if (!v) {
			if (b->n == 0) {
				(void)zr_map_del(m, key);
				bucket_free(b);
			}
			return -ENOMEM;
		}
		b->v = v;
		b->cap = cap;
	}
	memmove(&b->v[at + 1], &b->v[at], (b->n - at) * sizeof(*b->v));
	b->v[at] = (struct zr_index_entry){.s = s, .role = role};
	b->n++;
	*ret = b;
	return 1;
}

/* Takes (s, role) out of b, and b out of m once empty. */
static void bucket_remove(struct zr_map *m, struct zr_index_bucket *b, const struct zr_service *s,
			  uint32_t role)
{
	bool found;
	size_t at = bucket_find(b, s, role, &found);
	if (found) {
		memmove(&b->v[at], &b->v[at + 1], (b->n - at - 1) * sizeof(*b->v));
		b->n--;
	}
	if (b->n == 0) {
		(void)zr_map_del(m, b->key);
		bucket_free(b);
	}
}

void zr_service__unindex(struct zr_service *s)
{
	struct zr_robot_index *ix = &s->robot->index;
	struct zr_service_index *si = &s->index;
	if (!si->filed) {
		return;
	}
	if (si->parent) {
		bucket_remove(&ix->children, si->parent, s, 0);
	}
	for (size_t i = 0; i < si->n_links; i++) {
		bucket_remove(&ix->consumers, si->links[i].b, s, si->links[i].role);
	}
	free(si->links);
	*si = (struct zr_service_index){0};
}

/* Files s under the producers of its roles: 0 or -ENOMEM (what was filed stays recorded). */
static int index_producers(struct zr_service *s)
{
	struct zr_robot_index *ix = &s->robot->index;
	struct zr_service_index *si = &s->index;
	size_t cap = 0;
	for (uint32_t i = 0; i < s->template->n_roles; i++) {
		_cleanup_free_ const char **paths = NULL;
		size_t n;
		if (zr_service__role_paths(s->data, s->template->roles[i].name, &paths, &n) < 0) {
			return -ENOMEM;
		}
		for (size_t j = 0; j < n; j++) {
			if (si->n_links == cap) {
				size_t ncap = cap ? 2 * cap : 2;
				struct zr_index_link *v = reallocarray(si->links, ncap, sizeof(*v));
				if (!v) {
					return -ENOMEM;
				}
				si->links = v;
				cap = ncap;
			}
			struct zr_index_bucket *b = NULL;
			int r = bucket_add(&ix->consumers, paths[j], s, i, &b);
			if (r < 0) {
				return r;
			}
			if (r > 0) {
				si->links[si->n_links++] = (struct zr_index_link){.b = b, .role = i};
			}
		}
	}
	return 0;
}

void zr_service__index(struct zr_service *s)
{
	zr_service__unindex(s);
	struct zr_service_index *si = &s->index;
	si->filed = true;
	int err = 0;
	if (s->parent) {
		struct zr_index_bucket *b = NULL;
		err = bucket_add(&s->robot->index.children, s->parent, s, 0, &b);
		si->parent = err > 0 ? b : NULL;
	}
	if (err >= 0) {
		err = index_producers(s);
	}
	if (err < 0) {
		log_error("Service %s: out of memory while filing its parent and producers: it may be "
			  "missing from children/ and consumers/ listings until it changes, ignoring",
			  s->path);
	}
}

void zr_service__refile(struct zr_service *s)
{
	if (s->index.filed) {
		zr_service__index(s);
	}
}

static void map_free(struct zr_map *m)
{
	size_t i = 0;
	void *v;
	while (zr_map_next(m, &i, NULL, NULL, &v)) {
		bucket_free(v);
	}
	zr_map_done(m);
}

void zr_robot__index_done(struct zr_robot *r)
{
	map_free(&r->index.children);
	map_free(&r->index.consumers);
}

static const struct zr_index_entry *bucket_at(const struct zr_map *m, const char *path,
					      size_t *ret_n)
{
	const struct zr_index_bucket *b = path ? zr_map_get(m, path) : NULL;
	*ret_n = b ? b->n : 0;
	return b ? b->v : NULL;
}

const struct zr_index_entry *zr_robot__index_children(const struct zr_robot *r, const char *path,
						      size_t *ret_n)
{
	return bucket_at(&r->index.children, path, ret_n);
}

const struct zr_index_entry *zr_robot__index_consumers(const struct zr_robot *r, const char *path,
						       size_t *ret_n)
{
	return bucket_at(&r->index.consumers, path, ret_n);
}

/* The entry of b whose service is "<template>.<service>" name, or NULL. Each '.' may be the
 * one between the two (both may hold dots): each split is looked up. */
static struct zr_service *bucket_named(const struct zr_index_bucket *b, const char *name)
{
	char path[256];
	if (!b || snprintf(path, sizeof(path), "%s", name) >= (int)sizeof(path)) {
		return NULL;
	}
	for (char *dot = strchr(path, '.'); dot; dot = strchr(dot + 1, '.')) {
		*dot = '/';
		size_t lo = 0, hi = b->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (strcmp(b->v[mid].s->path, path) < 0) {
				lo = mid + 1;
			} else {
				hi = mid;
			}
		}
		struct zr_service *s = lo < b->n ? b->v[lo].s : NULL;
		/* The path alone could be another split of the same text ("a.b/c" vs "a/b.c"). */
		if (s && strcmp(s->path, path) == 0 &&
		    strlen(s->template->name) == (size_t)(dot - path)) {
			return s;
		}
		*dot = '.';
	}
	return NULL;
}

struct zr_service *zr_robot__index_child(const struct zr_robot *r, const char *path,
					 const char *name)
{
	return path ? bucket_named(zr_map_get(&r->index.children, path), name) : NULL;
}

struct zr_service *zr_robot__index_consumer(const struct zr_robot *r, const char *path,
					    const char *name)
{
	return path ? bucket_named(zr_map_get(&r->index.consumers, path), name) : NULL;
}

static bool filed_under(const struct zr_map *m, const char *path, const struct zr_service *s,
			uint32_t role)
{
	const struct zr_index_bucket *b = zr_map_get(m, path);
	bool found = false;
	if (b) {
		(void)bucket_find(b, s, role, &found);
	}
	return found;
}

static size_t entries(const struct zr_map *m)
{
	size_t i = 0, n = 0;
	void *v;
	while (zr_map_next(m, &i, NULL, NULL, &v)) {
		n += ((const struct zr_index_bucket *)v)->n;
	}
	return n;
}

int zr_robot__index_verify(struct zr_robot *r)
{
	size_t kids = 0, consumers = 0;
	struct zr_robot_iter it = {0};
	for (struct zr_service *s; (s = zr_robot_next_service(r, &it));) {
		if (!s->index.filed) {
			log_error("Index: %s is not filed", s->path);
			return -EBADMSG;
		}
		if (s->parent && !filed_under(&r->index.children, s->parent, s, 0)) {
			log_error("Index: %s is not among the children of %s", s->path, s->parent);
			return -EBADMSG;
		}
		kids += s->parent != NULL;
		for (uint32_t i = 0; i < s->template->n_roles; i++) {
			_cleanup_free_ const char **paths = NULL;
			size_t n;
			if (zr_service__role_paths(s->data, s->template->roles[i].name, &paths, &n) < 0) {
				return -ENOMEM;
			}
			for (size_t j = 0; j < n; j++) {
				if (!filed_under(&r->index.consumers, paths[j], s, i)) {
					log_error("Index: %s is not among the consumers of %s", s->path,
						  paths[j]);
					return -EBADMSG;
				}
				size_t k = 0;
				while (k < j && strcmp(paths[k], paths[j]) != 0) {
					k++;
				}
				consumers += k == j; /* a path a role names twice is filed once */
			}
		}
	}
	/* Every expected entry is there: more entries than expected are stale ones. */
	if (entries(&r->index.children) != kids || entries(&r->index.consumers) != consumers) {
		log_error("Index: %zu children and %zu consumers filed, %zu and %zu expected",
			  entries(&r->index.children), entries(&r->index.consumers), kids, consumers);
		return -EBADMSG;
	}
	return 0;
}
