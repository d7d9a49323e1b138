/* A growable byte buffer, always NUL-terminated after len. */
#pragma once
#include <stdarg.h>
#include <stddef.h>

struct zr_buf {
	char *data; /* NULL until the first append */
	size_t len;
	size_t cap;
};

/* All return 0 or -ENOMEM (the buffer is unchanged on failure). */
int zr_buf_append(struct zr_buf *b, const void *p, size_t n);
int zr_buf_puts(struct zr_buf *b, const char *s);
int zr_buf_printf(struct zr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int zr_buf_vprintf(struct zr_buf *b, const char *fmt, va_list ap);
/* Writes n bytes at offset off, zero-filling any gap; grows len to cover them. */
int zr_buf_write_at(struct zr_buf *b, size_t off, const void *p, size_t n);

/* Drops the first n bytes (n <= len). */
void zr_buf_consume(struct zr_buf *b, size_t n);
void zr_buf_reset(struct zr_buf *b);        /* len = 0, keeps memory */
void zr_buf_done(struct zr_buf *b);         /* frees memory, b is empty again */
/* Hands the NUL-terminated data to the caller (never NULL: "" when empty); b is empty again. */
char *zr_buf_steal(struct zr_buf *b);
