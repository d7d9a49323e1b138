/* Readiness probes of a supervised server (DESIGN §6 `ready`): tcp, unix, log, notify and delay
 * on the loop; exec (an action) is the supervisor's, since it queues a task. */
#pragma once
#include <stddef.h>
#include <sys/types.h>
#include <uv.h>
#include "process-def.h"

struct zr_ready;

/* 0: ready. Otherwise the probe gave up: -ETIMEDOUT with why "not ready after 30 s". why is
 * borrowed for the call. After the callback the probe frees itself. */
typedef void (*zr_ready_cb)(int err, const char *why, void *data);

struct zr_ready_config {
	uv_loop_t *loop;
	enum zr_ready_kind kind;  /* not NONE or EXEC */
	const char *arg;          /* expanded: tcp "HOST:PORT" ("[::1]:80" for IPv6), unix path,
				     log regex; copied */
	double delay;             /* kind DELAY */
	double timeout;           /* seconds; 0 = none */
	int notify_fd;            /* kind NOTIFY: from zr_ready_notify_open; borrowed */
	uid_t notify_uid;         /* kind NOTIFY: the server's uid; datagrams from another uid
				     than it, root and the robot's are dropped */
};

/* Starts probing (tcp and unix: a connect every 50 ms, non-blocking, on the loop). 0 and
 * *ret, or -EINVAL (a malformed address or regex), -ENOMEM: then no callback. */
int zr_ready_start(const struct zr_ready_config *cfg, zr_ready_cb cb, void *data,
		   struct zr_ready **ret);
/* A line of the server's output (kind LOG: ready when it matches; others ignore it). The
 * callback may run before this returns. */
void zr_ready_log_line(struct zr_ready *r, const char *line, size_t len);
/* Stops without a callback (the server died, a stop was asked). */
void zr_ready_cancel(struct zr_ready *r);

/* The datagram socket a server's NOTIFY_SOCKET names (sd_notify): bound at path, or in the
 * abstract namespace when path starts with '@' (as sd_notify reads NOTIFY_SOCKET); a path's
 * existing socket file is replaced, and the new one is mode 0600 (chown'd by the caller when
 * the server runs as another user). Non-blocking, CLOEXEC, SO_PASSCRED. 0 and *fd, or -errno
 * (-EADDRINUSE: an abstract name taken). A probe of kind NOTIFY watches it (uv_poll) and is
 * ready at a datagram from an allowed uid (notify_uid) holding a "READY=1" line; other
 * datagrams are read and dropped, with the fds they pass. */
int zr_ready_notify_open(const char *path, int *fd);
