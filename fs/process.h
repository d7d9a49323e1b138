/* What a foreground zrobot process sets up around its loop: SIGPIPE, descriptors, and the
 * signals that ask it to stop. */
#pragma once
#include <uv.h>

/* Ignores SIGPIPE (a peer that hangs up is an error return, not a death) and raises the
 * descriptor limit for the sockets long polls hold. */
void zr_process_prepare(void);

/* Marks every descriptor above 2 close-on-exec, so actions inherit only their pipes. */
void zr_process_cloexec_all(void);

/* SIGINT and SIGTERM on a loop. Embedded in its owner, which must outlive the handles' close
 * (the loop's end). */
struct zr_process_signals {
	uv_signal_t sigint, sigterm;
	/* Fires for each signal with "SIGINT" or "SIGTERM" (static text). */
	void (*cb)(const char *why, void *data);
	void *data;
};

void zr_process_signals_start(struct zr_process_signals *s, uv_loop_t *loop,
			      void (*cb)(const char *why, void *data), void *data);
/* Closes both handles; cb does not fire after this. */
void zr_process_signals_close(struct zr_process_signals *s);
