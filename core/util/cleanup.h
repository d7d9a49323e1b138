/* __attribute__((cleanup)) helpers for local strings, JSON and fds; never for loop objects. */
#pragma once
#include <jansson.h>
#include <stdlib.h>
#include <unistd.h>

static inline void zr_freep(void *p) { free(*(void **)p); }
static inline void zr_closep(int *fd) { if (*fd >= 0) { (void)close(*fd); } }
static inline void zr_json_decrefp(json_t **j) { json_decref(*j); }

#define _cleanup_free_ __attribute__((cleanup(zr_freep)))
#define _cleanup_close_ __attribute__((cleanup(zr_closep)))
#define _cleanup_json_ __attribute__((cleanup(zr_json_decrefp)))

/* Returns *pp and sets it to NULL: hands ownership out of a cleanup variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _p = (p); (p) = NULL; _p; })
