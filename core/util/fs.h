/* Blocking filesystem helpers for workers and start-up: folders, removal, atomic files. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* Creates path and its missing parents with mode (existing folders are fine). 0 or -errno. */
int zr_mkdir_p(const char *path, mode_t mode);

/* Removes path and everything under it, without following symbolic links; a missing path is
 * fine. 0 or the -errno of the first failure. */
int zr_rm_rf(const char *path);

/* Replaces path with len bytes of data, all or nothing even across a crash: writes
 * "<path>.tmp", fsyncs it, renames it over path and fsyncs the folder. 0 or -errno. */
int zr_write_atomic(const char *path, const void *data, size_t len, mode_t mode);

/* Writes all len bytes of p to fd, again after EINTR and short writes. 0 or -errno. */
int zr_write_all(int fd, const char *p, size_t len);

/* fsyncs the folder that holds path, so that a rename or creation in it is durable. */
int zr_fsync_parent(const char *path);
