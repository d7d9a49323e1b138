/* Request paths: %HH decoding and the split into names, refusing what is not a plain name. */
#include "api/path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/url.h"

size_t zr_api_path_unescape(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		int hi, lo;
		if (r[0] == '%' && (hi = zr_url_hexval(r[1])) >= 0 && (lo = zr_url_hexval(r[2])) >= 0 && (hi || lo)) {
			*w++ = (char)(hi * 16 + lo);
			r += 2;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* 0 when the n bytes at p are a plain name, else the refusal (see zr_api_path_split). */
static int check_name(const char *p, size_t n)
{
	if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.')) {
		return -EINVAL;
	}
	if (n > ZR_API_NAME_MAX) {
		return -ENAMETOOLONG;
	}
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f) {
			return -EILSEQ;
		}
	}
	return 0;
}

int zr_api_path_split(const char *p, struct zr_api_path *ret, size_t *ret_bad, size_t *ret_bad_len)
{
	struct zr_api_path out = {0};
	struct zr_buf path = {0};
	size_t cap = 0;
	int r = 0;
	for (const char *at = p; *at;) {
		size_t n = strcspn(at, "/");
		if ((r = check_name(at, n)) < 0) {
			*ret_bad = (size_t)(at - p);
			*ret_bad_len = n;
			goto fail;
		}
		if (out.n == cap) {
			size_t nc = cap ? cap * 2 : 8;
			char **c = realloc(out.comps, nc * sizeof(*c));
			if (!c) {
				r = -ENOMEM;
				goto fail;
			}
			out.comps = c;
			cap = nc;
		}
		if (!(out.comps[out.n] = strndup(at, n))) {
			r = -ENOMEM;
			goto fail;
		}
		out.n++;
		if ((path.len > 0 && zr_buf_append(&path, "/", 1) < 0) || zr_buf_append(&path, at, n) < 0) {
			r = -ENOMEM;
			goto fail;
		}
		at += n;
		at += *at ? 1 : 0; /* one trailing '/' names the same directory */
	}
	if (!(out.path = zr_buf_steal(&path))) {
		r = -ENOMEM;
		goto fail;
	}
	*ret = out;
	return 0;
fail:
	zr_buf_done(&path);
	zr_api_path_done(&out);
	return r;
}

void zr_api_path_done(struct zr_api_path *path)
{
	for (size_t i = 0; i < path->n; i++) {
		free(path->comps[i]);
	}
	free(path->comps);
	free(path->path);
	*path = (struct zr_api_path){0};
}
