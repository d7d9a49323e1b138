/* Splits a byte stream that arrives in chunks (a pipe) into lines at '\n', the same lines
 * wherever the chunks are cut. A line longer than its cap is cut there and the rest of it, up
 * to its '\n', is dropped, so a runaway writer cannot grow the buffer without bound. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* Called once per line, without its '\n' (borrowed for the call; it may hold NUL bytes). */
typedef void (*zr_lines_cb)(const char *line, size_t len, void *data);

struct zr_lines {
	struct zr_buf part; /* the line so far, when a chunk ended inside it */
	size_t max;         /* longest line passed on; longer ones are cut */
	bool skipping;      /* dropping the rest of a cut line up to its '\n' */
};

/* max > 0. The caller provides the memory; zr_lines_done frees what it holds. */
void zr_lines_init(struct zr_lines *l, size_t max);
/* Passes each line that ends in the n bytes of d to cb, and keeps the start of the next. When
 * out of memory, a line is passed on cut where the memory ran out. */
void zr_lines_feed(struct zr_lines *l, const char *d, size_t n, zr_lines_cb cb, void *data);
/* The stream ended: passes on the last line if it did not end with '\n' (and is not empty). */
void zr_lines_flush(struct zr_lines *l, zr_lines_cb cb, void *data);
void zr_lines_done(struct zr_lines *l);
