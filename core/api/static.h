/* The web dashboard's files, built into the binary (core/api/embed-web.py makes their C source
 * from core/api/web/ at build time) and served at / and /assets/NAME without a token. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct zr_api_req;

/* One embedded file; every string and byte is static, owned by the binary. */
struct zr_api_asset {
	const char *name;  /* base name: "index.html", "app.js" */
	const char *type;  /* Content-Type */
	const char *etag;  /* quoted, strong */
	const unsigned char *data;
	size_t len;
};

extern const struct zr_api_asset zr_api_assets[];
extern const size_t zr_api_n_assets;

/* The embedded file called name, or NULL. */
const struct zr_api_asset *zr_api_asset_find(const char *name);

/* Answers q when its URL is the dashboard's (`/`, `/assets/NAME`) and returns true: the file
 * with its security headers, 304 for a matching If-None-Match, 404 for an unknown asset, 405
 * for a method other than GET and HEAD. Returns false, leaving q alone, for any other URL. */
bool zr_api__static(struct zr_api_req *q);
