/* Open-addressing hash maps with linear probing and tombstones, for string or integer keys. */
#include "map.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum slot_state { SLOT_EMPTY = 0, SLOT_LIVE, SLOT_DEAD };

struct zr_map_slot {
	uint64_t hash; /* of the string key or of the integer key */
	uint64_t ikey; /* the integer key; 0 in string maps */
	char *key;     /* owned copy; NULL in integer maps */
	void *value;
	unsigned char state;
};

#define MAP_MIN_CAP 8

/* The table is rebuilt once live entries plus tombstones would pass 70%, so probing always
 * meets an empty slot and ends. */
static bool map_over_load(size_t used, size_t cap)
{
	return used * 10 > cap * 7;
}

static uint64_t hash_str(const char *s)
{
	/* FNV-1a, then a final mix so the low bits used for indexing depend on every byte. */
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

static uint64_t hash_int(uint64_t x)
{
	/* splitmix64's finaliser: sequential ids must not land in sequential slots. */
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

void zr_map_done(struct zr_map *m)
{
	for (size_t i = 0; i < m->cap; i++) {
		free(m->slots[i].key);
	}
	free(m->slots);
	*m = (struct zr_map){0};
}

/* Finds the live slot for a key: key for string maps, or key == NULL and ikey. */
static struct zr_map_slot *map_find(const struct zr_map *m, const char *key, uint64_t ikey,
				    uint64_t hash)
{
	if (m->cap == 0) {
		return NULL;
	}
	size_t mask = m->cap - 1;
	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		struct zr_map_slot *s = &m->slots[i];
		if (s->state == SLOT_EMPTY) {
			return NULL;
		}
		if (s->state != SLOT_LIVE || s->hash != hash) {
			continue;
		}
		if (key ? strcmp(s->key, key) == 0 : s->ikey == ikey) {
			return s;
		}
	}
}

/* The slot a new key with this hash goes to: the first tombstone or empty slot on its probe
 * sequence. Only call after map_find said the key is absent. */
static struct zr_map_slot *map_free_slot(const struct zr_map *m, uint64_t hash)
{
	size_t mask = m->cap - 1;
	for (size_t i = (size_t)hash & mask;; i = (i + 1) & mask) {
		if (m->slots[i].state != SLOT_LIVE) {
			return &m->slots[i];
		}
	}
}

/* Rebuilds the table with room for one more entry at no more than 50% load, dropping the
 * tombstones. Keys and values move as they are; on failure m is unchanged. */
static int map_rehash(struct zr_map *m)
{
	size_t cap = MAP_MIN_CAP;
	while ((m->len + 1) * 2 > cap) {
		if (cap > SIZE_MAX / 2 / sizeof(struct zr_map_slot)) {
			return -ENOMEM;
		}
		cap *= 2;
	}
	struct zr_map_slot *slots = calloc(cap, sizeof(*slots));
	if (!slots) {
		return -ENOMEM;
	}
	struct zr_map n = {.slots = slots, .cap = cap, .len = m->len, .used = m->len};
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].state == SLOT_LIVE) {
			*map_free_slot(&n, m->slots[i].hash) = m->slots[i];
		}
	}
	free(m->slots);
	*m = n;
	return 0;
}

/* Inserts an absent key; takes ownership of key_copy (NULL in integer maps) on success only. */
static int map_insert(struct zr_map *m, char *key_copy, uint64_t ikey, uint64_t hash,
		      void *value)
{
	if (m->cap == 0 || map_over_load(m->used + 1, m->cap)) {
		int r = map_rehash(m);
		if (r < 0) {
			return r;
		}
	}
	struct zr_map_slot *s = map_free_slot(m, hash);
	if (s->state == SLOT_EMPTY) {
		m->used++;
	}
	*s = (struct zr_map_slot){
		.hash = hash, .ikey = ikey, .key = key_copy, .value = value, .state = SLOT_LIVE};
	m->len++;
	return 0;
}

static void *map_remove(struct zr_map *m, struct zr_map_slot *s)
{
	void *value = s->value;
	free(s->key);
	*s = (struct zr_map_slot){.state = SLOT_DEAD};
	m->len--;
	return value;
}

void *zr_map_get(const struct zr_map *m, const char *key)
{
	struct zr_map_slot *s = map_find(m, key, 0, hash_str(key));
	return s ? s->value : NULL;
}

int zr_map_put(struct zr_map *m, const char *key, void *value)
{
	uint64_t hash = hash_str(key);
	if (map_find(m, key, 0, hash)) {
		return -EEXIST;
	}
	char *copy = strdup(key);
	if (!copy) {
		return -ENOMEM;
	}
	int r = map_insert(m, copy, 0, hash, value);
	if (r < 0) {
		free(copy);
	}
	return r;
}

void *zr_map_del(struct zr_map *m, const char *key)
{
	struct zr_map_slot *s = map_find(m, key, 0, hash_str(key));
	return s ? map_remove(m, s) : NULL;
}

void *zr_imap_get(const struct zr_map *m, uint64_t key)
{
	struct zr_map_slot *s = map_find(m, NULL, key, hash_int(key));
	return s ? s->value : NULL;
}

int zr_imap_put(struct zr_map *m, uint64_t key, void *value)
{
	uint64_t hash = hash_int(key);
	if (map_find(m, NULL, key, hash)) {
		return -EEXIST;
	}
	return map_insert(m, NULL, key, hash, value);
}

void *zr_imap_del(struct zr_map *m, uint64_t key)
{
	struct zr_map_slot *s = map_find(m, NULL, key, hash_int(key));
	return s ? map_remove(m, s) : NULL;
}

bool zr_map_next(const struct zr_map *m, size_t *i, const char **ret_key, uint64_t *ret_ikey,
		 void **ret_value)
{
	for (; *i < m->cap; (*i)++) {
		const struct zr_map_slot *s = &m->slots[*i];
		if (s->state != SLOT_LIVE) {
			continue;
		}
		(*i)++;
		if (ret_key) {
			*ret_key = s->key;
		}
		if (ret_ikey) {
			*ret_ikey = s->ikey;
		}
		if (ret_value) {
			*ret_value = s->value;
		}
		return true;
	}
	return false;
}
