/* Logging: formats "<time> <level>: <text>" lines for stderr and the optional sink. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "url.h"

int zr_log_level = ZR_LOG_INFO;

static zr_log_sink_fn sink_fn;
static void *sink_data;
/* A sink that logs (directly or through a helper) must not recurse into itself. */
static bool in_sink;

static const char *const level_names[] = {
	[ZR_LOG_ERR] = "error",
	[ZR_LOG_WARN] = "warn",
	[ZR_LOG_INFO] = "info",
	[ZR_LOG_DEBUG] = "debug",
};

void zr_log_set_sink(zr_log_sink_fn fn, void *data)
{
	sink_fn = fn;
	sink_data = fn ? data : NULL;
}

static bool is_control(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

char *zr_log_escape(const char *s)
{
	struct zr_buf b = {0};
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		int r = is_control(c) ? zr_buf_printf(&b, "\\x%02x", c) : zr_buf_append(&b, p, 1);
		if (r < 0) {
			zr_buf_done(&b);
			return NULL;
		}
	}
	return zr_buf_steal(&b);
}

long long zr_now_ns(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

char *zr_time_format(long long ns, char *dst)
{
	/* Floor division, so times before the epoch still get a 0..999 millisecond field. */
	long long sec = ns / 1000000000LL;
	long long rem = ns % 1000000000LL;
	if (rem < 0) {
		rem += 1000000000LL;
		sec--;
	}
	time_t t = (time_t)sec;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL) {
		(void)snprintf(dst, 32, "?");
		return dst;
	}
	size_t n = strftime(dst, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	(void)snprintf(dst + n, 32 - n, ".%03dZ", (int)(rem / 1000000));
	return dst;
}

/* Puts clean (malloc'd, taken; NULL when out of memory) in place of line's text. Out of memory
 * frees the line and returns -ENOMEM: better no line than one with a secret or a forged one. */
static int replace_line(struct zr_buf *line, char *clean)
{
	zr_buf_reset(line);
	int err = clean ? zr_buf_puts(line, clean) : -ENOMEM;
	free(clean);
	if (err < 0) {
		zr_buf_done(line);
		return -ENOMEM;
	}
	return 0;
}

void zr_log(int level, const char *fmt, ...)
{
	if (level > zr_log_level) {
		return;
	}
	if (level < ZR_LOG_ERR) {
		level = ZR_LOG_ERR;
	}
	if (level > ZR_LOG_DEBUG) {
		level = ZR_LOG_DEBUG;
	}

	char when[32];
	(void)zr_time_format(zr_now_ns(), when);

	struct zr_buf line = {0};
	va_list ap;
	va_start(ap, fmt);
	int r = zr_buf_printf(&line, "%s %s: ", when, level_names[level]);
	if (r == 0) {
		r = zr_buf_vprintf(&line, fmt, ap);
	}
	va_end(ap);
	if (r < 0) {
		/* Out of memory: still say something, straight to stderr. */
		va_start(ap, fmt);
		fprintf(stderr, "%s %s: ", when, level_names[level]);
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		va_end(ap);
		zr_buf_done(&line);
		return;
	}

	/* The last guard for credentials in URLs: error texts of libgit2 and libcurl, and
	 * options echoed back, may quote a URL that a caller did not redact. */
	if (strpbrk(line.data, "@?") && zr_url_has_credentials(line.data) &&
	    replace_line(&line, zr_url_redact(line.data)) < 0) {
		return;
	}

	/* One entry, one line: a newline or escape sequence that a caller quoted (an error text
	 * ending in '\n', a refused input) must not forge a line of its own. */
	while (line.len > 0 && line.data[line.len - 1] == '\n') {
		line.data[--line.len] = '\0';
	}
	for (size_t i = 0; i < line.len; i++) {
		if (is_control((unsigned char)line.data[i])) {
			if (replace_line(&line, zr_log_escape(line.data)) < 0) {
				return;
			}
			break;
		}
	}

	/* One fwrite per line keeps lines whole when several processes share stderr. */
	if (zr_buf_append(&line, "\n", 1) == 0) {
		(void)fwrite(line.data, 1, line.len, stderr);
		line.len--;
		line.data[line.len] = '\0';
	} else {
		fprintf(stderr, "%s\n", line.data);
	}

	if (sink_fn && !in_sink) {
		in_sink = true;
		sink_fn(line.data, line.len, sink_data);
		in_sink = false;
	}
	zr_buf_done(&line);
}

int zr_fail(char **ret_err, int err, const char *fmt, ...)
{
	/* The text is made even when ret_err is NULL, so the result never depends on it. */
	va_list ap;
	char *s;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return -ENOMEM;
	}
	if (ret_err) {
		*ret_err = s;
	} else {
		free(s);
	}
	return err;
}
