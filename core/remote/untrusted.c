/* Checks and rewrites of what remote robots answer (names, symlink targets, Location) and of
 * the URL paths we send them: pure functions, see untrusted.h. */
#include "untrusted.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/url.h"

bool zr_untrusted_name_ok(const char *name, size_t len)
{
	if (len == 0 || len > ZR_UNTRUSTED_NAME_MAX || memchr(name, '\0', len) ||
	    memchr(name, '/', len)) {
		return false;
	}
	return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

static size_t components(const char *path)
{
	size_t n = 0;
	for (const char *p = path; *p; p += strcspn(p, "/"), p += *p == '/') {
		n += p[0] != '/';
	}
	return n;
}

bool zr_untrusted_target_ok(const char *dir, const char *target, size_t len)
{
	if (len == 0 || len > ZR_UNTRUSTED_TARGET_MAX || memchr(target, '\0', len) ||
	    target[0] == '/') {
		return false;
	}
	size_t up = 0, depth = components(dir);
	bool named = false;
	for (const char *p = target; *p;) {
		size_t n = strcspn(p, "/");
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			/* Textual resolution is what the kernel does only while no symlink was
			 * crossed yet: after a name it would climb from wherever that led. */
			if (named || ++up > depth) {
				return false;
			}
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			named = true;
		}
		p += n;
		p += *p == '/';
	}
	return true;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int zr_untrusted_encode(struct zr_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
		if (unreserved(c) ? zr_buf_append(b, &s[i], 1) < 0 : zr_buf_append(b, esc, 3) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

static bool dot_or_empty(const char *s, size_t n)
{
	return n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

int zr_untrusted_path_encode(struct zr_buf *b, const char *path)
{
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");
		if (dot_or_empty(p, n)) {
			return -EINVAL;
		}
		if ((p != path && zr_buf_append(b, "/", 1) < 0) || zr_untrusted_encode(b, p, n) < 0) {
			return -ENOMEM;
		}
		p += n;
		/* One trailing '/' names the same folder, as in our own paths. */
		p += *p == '/';
	}
	return 0;
}

/* ---- Location ---- */

/* Appends segment s (n bytes, percent-encoded as a remote sent it) to b decoded, then encoded
 * again as ours; -EINVAL when it is not a plain name once decoded. */
static int segment_recode(struct zr_buf *b, const char *s, size_t n)
{
	struct zr_buf d = {0};
	int err = 0;
	for (size_t i = 0; i < n && !err; i++) {
		char c = s[i];
		int hi, lo;
		if (c == '%') {
			if (i + 2 >= n || (hi = zr_url_hexval(s[i + 1])) < 0 ||
			    (lo = zr_url_hexval(s[i + 2])) < 0) {
				err = -EINVAL;
				break;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if ((unsigned char)c < 0x20 || c == 0x7f || c == '/') {
			err = -EINVAL;
		} else if (zr_buf_append(&d, &c, 1) < 0) {
			err = -ENOMEM;
		}
	}
	if (!err && dot_or_empty(d.data ? d.data : "", d.len)) {
		err = -EINVAL;
	}
	if (!err && (zr_buf_append(b, "/", 1) < 0 || zr_untrusted_encode(b, d.data, d.len) < 0)) {
		err = -ENOMEM;
	}
	zr_buf_done(&d);
	return err;
}

static bool query_ok(const char *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)q[i];
		if (c == '%') {
			if (i + 2 >= n || zr_url_hexval(q[i + 1]) < 0 || zr_url_hexval(q[i + 2]) < 0) {
				return false;
			}
			i += 2;
		} else if (!unreserved(c) && c != '=' && c != '&' && c != '+') {
			return false;
		}
	}
	return true;
}

/* RFC 3986 5.2.4 on absolute path p (n bytes from its '/'): the segments left, as pointers into
 * p, in seg/len (room for as many as p has bytes). Returns their number. An empty segment
 * ("a//b") is kept, an empty last one (a trailing '/') is not. */
static size_t remove_dots(const char *p, size_t n, const char **seg, size_t *len)
{
	size_t k = 0;
	for (size_t i = 1; i <= n;) {
		size_t e = i;
		while (e < n && p[e] != '/') {
			e++;
		}
		size_t l = e - i;
		if (l == 1 && p[i] == '.') {
			/* nothing */
		} else if (l == 2 && p[i] == '.' && p[i + 1] == '.') {
			k -= k > 0;
		} else if (l > 0 || e < n) {
			seg[k] = p + i;
			len[k++] = l;
		}
		i = e + 1;
	}
	return k;
}

/* The absolute path (still percent-encoded) that location (up to its query, qat bytes) names
 * on a robot at base, in full: 0, -EINVAL for another origin, -ENOMEM. */
static int location_path(const char *base, const char *bpath, const char *path,
			 const char *location, size_t qat, struct zr_buf *full)
{
	size_t origin = (size_t)(bpath - base);
	size_t scheme = strspn(location, "abcdefghijklmnopqrstuvwxyz"
					 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
	if (scheme > 0 && location[scheme] == ':') {
		/* An absolute URL: the same scheme, host and port as base, then a path. */
		if (origin == 0 || strncasecmp(location, base, origin) != 0 ||
		    location[origin] != '/') {
			return -EINVAL;
		}
		return zr_buf_append(full, location + origin, qat - origin);
	}
	if (location[0] == '/' && location[1] == '/') {
		return -EINVAL; /* another authority, maybe the same host: never followed */
	}
	if (location[0] == '/') {
		return zr_buf_append(full, location, qat);
	}
	/* Relative to the request's URL without its last segment (RFC 3986 5.2.2), or all of it
	 * for a query alone. */
	int err = zr_buf_puts(full, bpath) < 0 || zr_buf_puts(full, "/v1/") < 0 ? -ENOMEM
		  : zr_untrusted_path_encode(full, path);
	if (err < 0) {
		return err;
	}
	while (qat > 0 && full->len > 0 && full->data[full->len - 1] != '/') {
		full->len--;
	}
	return zr_buf_append(full, location, qat);
}

int zr_untrusted_location(const char *base, const char *path, const char *location, char **ret)
{
	const char *auth = strstr(base, "://");
	/* base's own path: "" or "/PREFIX" */
	const char *bpath = auth ? auth + 3 + strcspn(auth + 3, "/") : base + strlen(base);
	struct zr_buf full = {0}, out = {0};
	const char **seg = NULL;
	size_t *len = NULL;
	for (const char *c = location; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f) {
			return -EINVAL;
		}
	}
	size_t end = strcspn(location, "#");
	size_t qat = strcspn(location, "?#");
	const char *query = qat < end ? location + qat + 1 : NULL;
	size_t qlen = query ? end - qat - 1 : 0;
	int err = location_path(base, bpath, path, location, qat, &full);
	if (!err && (!full.data || full.data[0] != '/')) {
		err = -EINVAL;
	}
	if (!err && (!(seg = calloc(full.len + 1, sizeof(*seg))) ||
		     !(len = calloc(full.len + 1, sizeof(*len))))) {
		err = -ENOMEM;
	}
	size_t n = err ? 0 : remove_dots(full.data, full.len, seg, len), k = 0;
	/* base's own path, then "v1", then a path of the remote's tree */
	for (const char *p = bpath; !err && *p; k++) {
		size_t l = strcspn(++p, "/");
		if (k >= n || l != len[k] || strncmp(p, seg[k], l) != 0) {
			err = -EINVAL;
		}
		p += l;
	}
	if (!err && (k >= n || len[k] != 2 || strncmp(seg[k], "v1", 2) != 0)) {
		err = -EINVAL;
	}
	if (!err && zr_buf_puts(&out, "/v1") < 0) {
		err = -ENOMEM;
	}
	for (k++; !err && k < n; k++) {
		err = segment_recode(&out, seg[k], len[k]);
	}
	if (!err && out.len == 3 && zr_buf_puts(&out, "/") < 0) {
		err = -ENOMEM;
	}
	if (!err && qlen > 0) {
		if (!query_ok(query, qlen)) {
			err = -EINVAL;
		} else if (zr_buf_append(&out, "?", 1) < 0 || zr_buf_append(&out, query, qlen) < 0) {
			err = -ENOMEM;
		}
	}
	if (!err) {
		*ret = zr_buf_steal(&out);
	}
	zr_buf_done(&out);
	free(seg);
	free(len);
	zr_buf_done(&full);
	return err;
}
