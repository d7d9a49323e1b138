/* The web dashboard's files at / and /assets/NAME: no token (the page asks for one and sends
 * it with every API call), and headers that let the browser run nothing but these files. */
#include "api-internal.h"
#include "api/static.h"

#include <errno.h>
#include <string.h>

#define ASSETS "/assets/"

/* The page loads its script, style and icon from /assets/ only and talks to /v1/ only: no
 * inline code (what an injected string could become), no framing (clickjacking), no other
 * origin. data: images are the SVG icon's fallback in some browsers. */
#define CSP "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " \
	    "connect-src 'self'; frame-ancestors 'none'"

const struct zr_api_asset *zr_api_asset_find(const char *name)
{
	for (size_t i = 0; i < zr_api_n_assets; i++) {
		if (strcmp(zr_api_assets[i].name, name) == 0) {
			return &zr_api_assets[i];
		}
	}
	return NULL;
}

/* Whether an If-None-Match list ("a", W/"b", *) names etag. */
static bool etag_matches(const char *list, const char *etag)
{
	size_t n = strlen(etag);
	if (!list) {
		return false;
	}
	for (const char *p = list; *p;) {
		p += strspn(p, " \t,");
		if (*p == '*') {
			return true;
		}
		if (strncmp(p, "W/", 2) == 0) {
			p += 2;
		}
		if (strncmp(p, etag, n) == 0 && (p[n] == '\0' || p[n] == ',' || p[n] == ' ')) {
			return true;
		}
		p += strcspn(p, ",");
	}
	return false;
}

bool zr_api__static(struct zr_api_req *q)
{
	const char *url = q->url, *name;
	if (strcmp(url, "/") == 0) {
		name = "index.html";
	} else if (strncmp(url, ASSETS, strlen(ASSETS)) == 0) {
		name = url + strlen(ASSETS);
	} else {
		return false;
	}
	/* index.html is the page, not an asset: one URL for it keeps its relative links right. */
	const struct zr_api_asset *a = strcmp(name, "index.html") == 0 && url[1] ? NULL
									       : zr_api_asset_find(name);
	if (!a) {
		zr_api__fail(q, 404, ENOENT, "no such file in the dashboard");
		return true;
	}
	if (q->method != ZR_API_GET && q->method != ZR_API_HEAD) {
		zr_api__add_header(q, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
		zr_api__fail(q, 405, EOPNOTSUPP, "the dashboard's files are read-only");
		return true;
	}
	zr_api__add_header(q, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	zr_api__add_header(q, MHD_HTTP_HEADER_ETAG, a->etag);
	zr_api__add_header(q, "Content-Security-Policy", CSP);
	zr_api__add_header(q, "X-Content-Type-Options", "nosniff");
	zr_api__add_header(q, "Referrer-Policy", "no-referrer");
	if (etag_matches(zr_api__header(q, MHD_HTTP_HEADER_IF_NONE_MATCH), a->etag)) {
		zr_api__answer(q, 304, NULL, NULL, 0);
		return true;
	}
	zr_api__answer(q, 200, a->type, (const char *)a->data, a->len);
	return true;
}
