/* What a foreground zrobot process sets up around its loop: SIGPIPE, descriptors, and the
 * signals that ask it to stop. */
#pragma once
#include <stdbool.h>
#include <uv.h>

/* Ignores SIGPIPE (a peer that hangs up is an error return, not a death) and raises the
 * descriptor limit for the sockets long polls hold. */
void zr_process_prepare(void);

/* Marks every descriptor above 2 close-on-exec, so actions inherit only their pipes. */
void zr_process_cloexec_all(void);

/* Stopping once, for the first reason: SIGINT, SIGTERM, or whatever the owner reports
 * (an unmount, a failure). Embedded in its owner, which must outlive the signal handles'
 * close (the loop's end). */
struct zr_process_stop {
	uv_signal_t sigint, sigterm;
	bool stopping; /* the owner may set it to stop without a log line */
	void (*cb)(void *data);
	void *data;
};

/* Starts watching SIGINT and SIGTERM. cb(data) fires once, at the first zr_process_stop. */
void zr_process_stop_init(struct zr_process_stop *s, uv_loop_t *loop, void (*cb)(void *data),
			  void *data);
/* Logs "Stopping (why)" and calls cb, the first time only. */
void zr_process_stop(struct zr_process_stop *s, const char *why);
/* Closes the signal handles (once the owner has stopped): no signal reaches cb after this. */
void zr_process_stop_close(struct zr_process_stop *s);
