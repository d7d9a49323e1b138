/* Logging: one line per event to stderr, mirrored to a sink (the robot's @robot/log). */
#pragma once
#include <stddef.h>

enum zr_log_level { ZR_LOG_ERR = 0, ZR_LOG_WARN = 1, ZR_LOG_INFO = 2, ZR_LOG_DEBUG = 3 };

/* The one global besides arg_*: lines above this level are dropped. Default ZR_LOG_INFO. */
extern int zr_log_level;

/* Called with each formatted line ("2026-11-22T10:00:00.123Z info: text", no newline).
 * Borrowed; valid during the call only. */
typedef void (*zr_log_sink_fn)(const char *line, size_t len, void *data);

/* Installs (or with fn == NULL removes) the one sink. */
void zr_log_set_sink(zr_log_sink_fn fn, void *data);

void zr_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) zr_log(ZR_LOG_ERR, __VA_ARGS__)
#define log_warn(...) zr_log(ZR_LOG_WARN, __VA_ARGS__)
#define log_info(...) zr_log(ZR_LOG_INFO, __VA_ARGS__)
#define log_debug(...) zr_log(ZR_LOG_DEBUG, __VA_ARGS__)

/* A copy of s (malloc'd, NULL when out of memory) with each control character but tab (bytes
 * below 0x20, and 0x7f) written as "\xHH": a text quoted into a log line or lasterror (a
 * refused input, an action's fd-3 line) can then neither start a line of its own nor send
 * escape sequences to the terminal of whoever reads the log. zr_log applies it to every line. */
char *zr_log_escape(const char *s);

/* Formats a UTC wall-clock time in ns since the epoch as "2026-11-22T10:00:00.123Z" into
 * dst (at least 32 bytes). Returns dst. */
char *zr_time_format(long long ns, char *dst);

/* Wall-clock time in ns since the epoch. */
long long zr_now_ns(void);

/* Sets *ret_err to the formatted reason (malloc'd) and returns err: for "return
 * zr_fail(ret_err, -EINVAL, ...)" in functions that report why they refused. ret_err may be
 * NULL (the caller does not want the reason). -ENOMEM when the text cannot be made. */
int zr_fail(char **ret_err, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
