/* Temporary files of editors that save by rename: see temp.h. */
#include "temp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/list.h"
#include "util/log.h"

/* Seconds a closed temporary waits for its rename (sed renames right after its close). */
#define GRACE_NS (5 * 1000000000LL)
/* How often closed temporaries are looked at. */
#define SWEEP_MS 1000

struct zr_temp {
	struct zr_temps *ts;
	struct zr_list link; /* in ts->all */
	uint64_t ino, parent;
	char *name;
	uid_t uid;
	bool dropped;
	unsigned refs;
	long long closed_ns; /* when refs fell to 0 (not dropped): the grace period starts */
	long long mtime_ns;
	char *buf;
	size_t len, cap;
};

struct zr_temps {
	uv_timer_t timer; /* first: the handle's close frees the whole struct */
	bool timing;
	struct zr_list all;
	uint64_t next_ino;
	size_t max;
};

int zr_temps_create(uv_loop_t *loop, size_t max, struct zr_temps **ret)
{
	struct zr_temps *ts = calloc(1, sizeof(*ts));
	if (!ts) {
		return -ENOMEM;
	}
	int err = uv_timer_init(loop, &ts->timer);
	if (err < 0) {
		free(ts);
		return err;
	}
	/* The sweep never keeps the loop alive on its own. */
	uv_unref((uv_handle_t *)&ts->timer);
	ts->timer.data = ts;
	zr_list_init(&ts->all);
	ts->next_ino = ZR_TEMP_INO_BASE;
	ts->max = max;
	*ret = ts;
	return 0;
}

static void temp_free(struct zr_temp *t)
{
	zr_list_remove(&t->link);
	free(t->name);
	free(t->buf);
	free(t);
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void zr_temps_destroy(struct zr_temps *ts)
{
	if (!ts) {
		return;
	}
	while (!zr_list_empty(&ts->all)) {
		temp_free(container_of(ts->all.next, struct zr_temp, link));
	}
	uv_close((uv_handle_t *)&ts->timer, on_timer_closed);
}

/* Drops the closed temporaries whose grace period is over; stops when none wait. */
static void on_sweep(uv_timer_t *timer)
{
	struct zr_temps *ts = timer->data;
	struct zr_temp *t, *tmp;
	long long now = zr_now_ns();
	bool waiting = false;
	zr_list_for_each_safe(t, tmp, &ts->all, link) {
		if (t->refs) {
			continue;
		}
		if (now - t->closed_ns >= GRACE_NS) {
			temp_free(t);
		} else {
			waiting = true;
		}
	}
	if (!waiting) {
		(void)uv_timer_stop(&ts->timer);
		ts->timing = false;
	}
}

int zr_temps_add(struct zr_temps *ts, uint64_t parent, const char *name, uid_t uid,
		 struct zr_temp **ret)
{
	struct zr_temp *t;
	size_t n = 0;
	zr_list_for_each(t, &ts->all, link) {
		if (t->dropped || t->parent != parent) {
			continue;
		}
		if (strcmp(t->name, name) == 0) {
			return -EEXIST;
		}
		/* Per user: another's temporaries never make this one's editor fail. */
		n += t->uid == uid;
	}
	if (n >= ZR_TEMP_PER_DIR) {
		return -EDQUOT;
	}
	t = calloc(1, sizeof(*t));
	if (!t || !(t->name = strdup(name))) {
		free(t);
		return -ENOMEM;
	}
	t->ts = ts;
	t->ino = ts->next_ino++;
	t->parent = parent;
	t->uid = uid;
	t->refs = 1;
	t->mtime_ns = zr_now_ns();
	zr_list_push_back(&ts->all, &t->link);
	*ret = t;
	return 0;
}

struct zr_temp *zr_temps_find(struct zr_temps *ts, uint64_t parent, const char *name, uid_t uid)
{
	struct zr_temp *t;
	zr_list_for_each(t, &ts->all, link) {
		if (!t->dropped && t->parent == parent && t->uid == uid && strcmp(t->name, name) == 0) {
			return t;
		}
	}
	return NULL;
}

struct zr_temp *zr_temps_get(struct zr_temps *ts, uint64_t ino)
{
	struct zr_temp *t;
	zr_list_for_each(t, &ts->all, link) {
		if (t->ino == ino) {
			return t;
		}
	}
	return NULL;
}

void zr_temp_attr(const struct zr_temp *t, struct zr_tree_attr *ret)
{
	*ret = (struct zr_tree_attr){
		.ino = t->ino,
		.mode = S_IFREG | 0600,
		.size = t->len,
		.mtime_ns = t->mtime_ns,
		.nlink = t->dropped ? 0 : 1,
		.flags = ZR_ATTR_DIRECT_IO,
	};
}

uid_t zr_temp_uid(const struct zr_temp *t) { return t->uid; }

uint64_t zr_temp_parent(const struct zr_temp *t) { return t->parent; }

const char *zr_temp_data(const struct zr_temp *t, size_t *ret_len)
{
	*ret_len = t->len;
	return t->buf ? t->buf : "";
}

void zr_temp_ref(struct zr_temp *t)
{
	t->refs++;
}

void zr_temp_unref(struct zr_temp *t)
{
	struct zr_temps *ts = t->ts;
	if (--t->refs > 0) {
		return;
	}
	if (t->dropped) {
		temp_free(t);
		return;
	}
	t->closed_ns = zr_now_ns();
	if (!ts->timing) {
		ts->timing = uv_timer_start(&ts->timer, on_sweep, SWEEP_MS, SWEEP_MS) == 0;
	}
}

void zr_temp_drop(struct zr_temp *t)
{
	t->dropped = true;
	if (t->refs == 0) {
		temp_free(t);
	}
}

/* Grows the buffer to hold size bytes, zero-filling what is new. */
static int temp_reserve(struct zr_temp *t, size_t size)
{
	if (size > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < size) {
			cap *= 2;
		}
		char *b = realloc(t->buf, cap);
		if (!b) {
			return -ENOMEM;
		}
		t->buf = b;
		t->cap = cap;
	}
	if (size > t->len) {
		memset(t->buf + t->len, 0, size - t->len);
	}
	return 0;
}

ssize_t zr_temp_write(struct zr_temp *t, const char *buf, size_t len, uint64_t off)
{
	/* Checked before anything grows, as a data write is (tree.c zr_tree__data_write). */
	if (off > t->ts->max || len > t->ts->max - off) {
		return -EFBIG;
	}
	int err = temp_reserve(t, (size_t)off + len);
	if (err < 0) {
		return err;
	}
	memcpy(t->buf + off, buf, len);
	if (off + len > t->len) {
		t->len = (size_t)off + len;
	}
	t->mtime_ns = zr_now_ns();
	return (ssize_t)len;
}

int zr_temp_truncate(struct zr_temp *t, uint64_t size)
{
	if (size > t->ts->max) {
		return -EFBIG;
	}
	int err = temp_reserve(t, (size_t)size);
	if (err < 0) {
		return err;
	}
	t->len = (size_t)size;
	t->mtime_ns = zr_now_ns();
	return 0;
}
