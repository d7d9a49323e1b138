/* The notifier thread: kernel cache invalidations that may wait on kernel locks, sent off the
 * loop (DESIGN §1, FUSE rules). */
#pragma once
#include <stdint.h>

struct fuse_session;
struct zr_notifier;

/* Starts the thread for session se (borrowed: must outlive zr_notifier_stop). */
int zr_notifier_start(struct fuse_session *se, struct zr_notifier **ret);
/* Queues notify_inval_entry(parent, name); never blocks the caller for long. */
void zr_notifier_inval_entry(struct zr_notifier *n, uint64_t parent, const char *name);
/* Drops what is queued, joins the thread and frees n. Call after the session's fd is closed
 * (unmount), so a notification stuck on a kernel lock returns. */
void zr_notifier_stop(struct zr_notifier *n);
