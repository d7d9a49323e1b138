/* The path of an HTTP request, as the API reads it: %HH decoding (libmicrohttpd's unescape
 * callback) and the split of what follows /v1/ into names. Pure functions, no request. */
#pragma once
#include <stddef.h>

/* The longest name a path may hold (NAME_MAX). */
#define ZR_API_NAME_MAX 255

/* A path split into names. */
struct zr_api_path {
	char *path;   /* the names joined by '/' ("" = the root), owned */
	char **comps; /* the names, each owned, and the array */
	size_t n;
};

/* Decodes %HH in s in place, except %00: libmicrohttpd would cut the path there and
 * "/v1/t%00/x" would silently name /v1/t; kept as text, it names nothing. Returns the new
 * length (never more than the old). */
size_t zr_api_path_unescape(char *s);

/* Splits p (decoded, what follows "/v1/") at '/' into names; one trailing '/' names the same
 * folder. Returns 0 and *ret (free it with zr_api_path_done); or a refusal, with the refused
 * name at p + *ret_bad, *ret_bad_len bytes: -EINVAL for an empty name (two '/' in a row), "."
 * or "..", -EILSEQ for a name with a control character, -ENAMETOOLONG for one over
 * ZR_API_NAME_MAX bytes; or -ENOMEM. *ret is written only on success. */
int zr_api_path_split(const char *p, struct zr_api_path *ret, size_t *ret_bad, size_t *ret_bad_len);
/* Frees what path holds; path is empty again. */
void zr_api_path_done(struct zr_api_path *path);
