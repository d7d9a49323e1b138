/* The FUSE front end: serves a zr_tree at a mount point from the libuv loop. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct zr_tree;
struct zr_tree_ops;
struct zr_fs;

struct zr_fs_config {
	const char *mount;
	bool allow_other;
	bool auto_unmount;
	size_t data_max;    /* the largest editor's temporary (temp.h); 0: --http-max-body's default */
	uint64_t *requests; /* bumped once per FUSE request (metrics); may be NULL */
};

/* The tree operations this front end implements; give them to zr_tree_create with the fs as
 * their data. */
extern const struct zr_tree_ops zr_fs_tree_ops;

/* Allocates the front end (nothing mounted yet). */
int zr_fs_create(uv_loop_t *loop, const struct zr_fs_config *cfg, struct zr_fs **ret);
/* Mounts and starts serving tree (borrowed, must outlive the mount). on_gone fires once if the
 * mount goes away (fusermount -u) or the session fails. Returns 0 or a negative errno. */
int zr_fs_start(struct zr_fs *fs, struct zr_tree *tree, void (*on_gone)(void *data), void *data);
/* Stops serving, unmounts, joins the notifier and frees fs (its uv handle closes later). */
void zr_fs_destroy(struct zr_fs *fs);
