/* Hash maps with open addressing: string keys (copied) or 64-bit integer keys. Values are
 * borrowed pointers; the map never frees them. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct zr_map_slot;

struct zr_map {
	struct zr_map_slot *slots;
	size_t cap;   /* power of two or 0 */
	size_t len;   /* live entries */
	size_t used;  /* live + tombstones */
};

/* A zeroed struct zr_map is an empty map; zr_map_done frees it (not the values). */
void zr_map_done(struct zr_map *m);

/* String keys: the map keeps its own copy of the key. */
void *zr_map_get(const struct zr_map *m, const char *key);
int zr_map_put(struct zr_map *m, const char *key, void *value); /* 0, -EEXIST, -ENOMEM */
void *zr_map_del(struct zr_map *m, const char *key);            /* returns the value or NULL */

/* Integer keys: a separate map; do not mix key kinds in one map. */
void *zr_imap_get(const struct zr_map *m, uint64_t key);
int zr_imap_put(struct zr_map *m, uint64_t key, void *value);   /* 0, -EEXIST, -ENOMEM */
void *zr_imap_del(struct zr_map *m, uint64_t key);

/* Iteration: i starts at 0; returns false at the end. Do not put or del while iterating.
 * ret_key is the string key (string maps) and ret_ikey the integer key (integer maps);
 * either may be NULL. */
bool zr_map_next(const struct zr_map *m, size_t *i, const char **ret_key, uint64_t *ret_ikey,
		 void **ret_value);
