/* Temporary files in a service folder, for editors that save by rename (sed -i, vim with
 * backupcopy=no, python's NamedTemporaryFile + os.replace): the FUSE front end makes them on
 * create, keeps their bytes in memory (never stored) and hands them to the tree as one data
 * write when one is renamed over the folder's `data` (fs.c). README "Writing and reading".
 *
 * A temporary is private to the uid that made it: only that uid finds it by name, and no
 * listing shows it. It goes when it is renamed (applied or refused), unlinked, or GRACE
 * seconds after its last handle closed: sed closes its file before it renames it, and the
 * kernel sends RELEASE asynchronously, so "goes at the last close" would race the rename.
 * Everything runs on the loop. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "tree.h"

struct zr_temps;
struct zr_temp;

/* Temporaries get inode numbers from here up, far above the tree's (which counts from 2). */
#define ZR_TEMP_INO_BASE (UINT64_C(1) << 62)
/* At most this many temporaries per folder and user, closed ones waiting for their rename
 * included (an editor needs one or two at a time). */
#define ZR_TEMP_PER_DIR 8

static inline bool zr_temp_is_ino(uint64_t ino) { return ino >= ZR_TEMP_INO_BASE; }

/* max: the largest temporary in bytes (the robot's data body limit). */
int zr_temps_create(uv_loop_t *loop, size_t max, struct zr_temps **ret);
/* Frees every temporary; the timer's handle closes later, on the loop. */
void zr_temps_destroy(struct zr_temps *ts);

/* Creates name in folder parent for uid: -EEXIST (a temporary of that name, anyone's),
 * -EDQUOT (uid has ZR_TEMP_PER_DIR there), -ENOMEM. The new temporary has one open handle. */
int zr_temps_add(struct zr_temps *ts, uint64_t parent, const char *name, uid_t uid,
		 struct zr_temp **ret);
/* uid's temporary name in parent, or NULL: another uid's is never found. */
struct zr_temp *zr_temps_find(struct zr_temps *ts, uint64_t parent, const char *name, uid_t uid);
/* The temporary with inode ino, even one already dropped but still open; NULL if none. */
struct zr_temp *zr_temps_get(struct zr_temps *ts, uint64_t ino);

void zr_temp_attr(const struct zr_temp *t, struct zr_tree_attr *ret);
uid_t zr_temp_uid(const struct zr_temp *t);
uint64_t zr_temp_parent(const struct zr_temp *t);
/* Its bytes, borrowed until the next write, truncate or unref. */
const char *zr_temp_data(const struct zr_temp *t, size_t *ret_len);

/* An open handle (or a rename in flight) holds it; the last unref of a dropped temporary
 * frees it, of another starts its grace period. */
void zr_temp_ref(struct zr_temp *t);
void zr_temp_unref(struct zr_temp *t);
/* Takes it out of the names (renamed or unlinked): lookups no longer find it. */
void zr_temp_drop(struct zr_temp *t);

/* Bytes written, or -EFBIG past the limit (nothing changed), -ENOMEM. */
ssize_t zr_temp_write(struct zr_temp *t, const char *buf, size_t len, uint64_t off);
int zr_temp_truncate(struct zr_temp *t, uint64_t size);
