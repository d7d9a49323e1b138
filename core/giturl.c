/* Git repository addresses: specs, uid prefixes and ids. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "giturl.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/url.h"

#define REF_MAX 255
#define ID_NAME_MAX 40

int zr_giturl_split(const char *spec, char **ret_url, char **ret_ref)
{
	while (isspace((unsigned char)*spec)) {
		spec++;
	}
	size_t len = strlen(spec);
	while (len > 0 && isspace((unsigned char)spec[len - 1])) {
		len--;
	}
	const char *hash = memchr(spec, '#', len);
	size_t url_len = hash ? (size_t)(hash - spec) : len;
	if (url_len == 0) {
		return -EINVAL;
	}
	_cleanup_free_ char *url = strndup(spec, url_len);
	_cleanup_free_ char *ref = NULL;
	if (!url) {
		return -ENOMEM;
	}
	if (hash) {
		ref = strndup(hash + 1, len - url_len - 1);
		if (!ref) {
			return -ENOMEM;
		}
		if (!zr_giturl_ref_valid(ref)) {
			return -EINVAL;
		}
	}
	*ret_url = TAKE_PTR(url);
	*ret_ref = TAKE_PTR(ref);
	return 0;
}

bool zr_giturl_ref_valid(const char *ref)
{
	size_t n = strlen(ref);
	if (n == 0 || n > REF_MAX || ref[0] == '-' || ref[0] == '/') {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)ref[i];
		if (c <= ' ' || c >= 0x7f || strchr("~^:?*[\\#", c)) {
			return false;
		}
	}
	return !strstr(ref, "..") && !strstr(ref, "@{") && !strstr(ref, "//");
}

/* "scheme://", with a scheme of letters, digits, '+', '-' and '.' starting with a letter. */
static const char *after_scheme(const char *url)
{
	if (!isalpha((unsigned char)url[0])) {
		return NULL;
	}
	size_t n = strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
	return strncmp(url + n, "://", 3) == 0 ? url + n + 3 : NULL;
}

/* scp-like "[user@]host:path": a ':' before any '/', as git itself decides. */
static const char *scp_colon(const char *url)
{
	const char *colon = strchr(url, ':');
	const char *slash = strchr(url, '/');
	if (!colon || colon == url || (slash && slash < colon)) {
		return NULL;
	}
	return colon;
}

bool zr_giturl_is_path(const char *url)
{
	return !after_scheme(url) && !scp_colon(url);
}

/* Appends the '/'-separated segments of path (n bytes) to b, each sanitized; drops empty
 * segments (repeated slashes), a trailing "/.git" and a ".git" suffix of the last one. */
static int append_path(struct zr_buf *b, const char *path, size_t n)
{
	while (n > 0 && path[n - 1] == '/') {
		n--;
	}
	if (n >= 5 && memcmp(path + n - 5, "/.git", 5) == 0) {
		n -= 5;
	} else if (n >= 4 && memcmp(path + n - 4, ".git", 4) == 0) {
		n -= 4;
	}
	bool any = false;
	size_t i = 0;
	while (i < n) {
		size_t len = 0;
		while (i + len < n && path[i + len] != '/') {
			len++;
		}
		if (len == 0) {
			i++;
			continue;
		}
		if ((len == 1 && path[i] == '.') || (len == 2 && memcmp(path + i, "..", 2) == 0)) {
			return -EINVAL;
		}
		if (zr_buf_append(b, "/", 1) < 0) {
			return -ENOMEM;
		}
		for (size_t k = 0; k < len; k++) {
			char c = path[i + k];
			if (!isalnum((unsigned char)c) && !strchr("._~+-", c)) {
				c = '-';
			}
			if (zr_buf_append(b, &c, 1) < 0) {
				return -ENOMEM;
			}
		}
		any = true;
		i += len;
	}
	return any ? 0 : -EINVAL;
}

/* The last segment of a local path, as "local/<name>". */
static int local_source(const char *path, struct zr_buf *b)
{
	size_t n = strlen(path);
	while (n > 0 && path[n - 1] == '/') {
		n--;
	}
	if (n >= 5 && memcmp(path + n - 5, "/.git", 5) == 0) {
		n -= 5;
	}
	size_t start = n;
	while (start > 0 && path[start - 1] != '/') {
		start--;
	}
	if (zr_buf_append(b, "local", 5) < 0) {
		return -ENOMEM;
	}
	return append_path(b, path + start, n - start);
}

/* Host without user and port, lowercased; a bracketed IPv6 address keeps its brackets. */
static int append_host(struct zr_buf *b, const char *host, size_t n)
{
	const char *at = memrchr(host, '@', n);
	if (at) {
		n -= (size_t)(at + 1 - host);
		host = at + 1;
	}
	const char *end = host[0] == '[' ? memchr(host, ']', n) : NULL;
	const char *colon = memchr(end ? end : host, ':', n - (size_t)((end ? end : host) - host));
	if (colon) {
		n = (size_t)(colon - host);
	}
	if (n == 0) {
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)host[i]);
		if (!isalnum((unsigned char)c) && !strchr(".-[]:", c)) {
			c = '-';
		}
		if (zr_buf_append(b, &c, 1) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

int zr_giturl_source(const char *url, char **ret)
{
	struct zr_buf b = {0};
	int r;
	const char *rest = after_scheme(url);
	const char *colon = rest ? NULL : scp_colon(url);
	if (rest && (size_t)(rest - url) == 7 && strncmp(url, "file", 4) == 0) {
		/* file:///path, or file://host/path whose host is ignored. */
		const char *path = strchr(rest, '/');
		r = path ? local_source(path, &b) : -EINVAL;
	} else if (rest) {
		const char *slash = strchr(rest, '/');
		r = slash ? append_host(&b, rest, (size_t)(slash - rest)) : -EINVAL;
		if (r == 0) {
			r = append_path(&b, slash, strlen(slash));
		}
	} else if (colon) {
		r = append_host(&b, url, (size_t)(colon - url));
		if (r == 0) {
			r = append_path(&b, colon + 1, strlen(colon + 1));
		}
	} else {
		r = local_source(url, &b);
	}
	if (r < 0) {
		zr_buf_done(&b);
		return r;
	}
	/* Not empty: every branch that succeeded appended something. */
	*ret = zr_buf_steal(&b);
	return 0;
}

/* FNV-1a, 64 bits: stable across runs and machines, which is all an id needs. */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

int zr_giturl_id(const char *url, const char *ref, char **ret)
{
	_cleanup_free_ char *source = NULL;
	int r = zr_giturl_source(url, &source);
	if (r < 0) {
		return r;
	}
	const char *name = strrchr(source, '/') + 1;
	char clean[ID_NAME_MAX + 1];
	size_t n = 0;
	for (; name[n] && n < ID_NAME_MAX; n++) {
		char c = (char)tolower((unsigned char)name[n]);
		clean[n] = isalnum((unsigned char)c) || c == '.' || c == '_' ? c : '-';
	}
	clean[n] = '\0';
	if (!isalnum((unsigned char)clean[0])) {
		clean[0] = 'r';
	}
	_cleanup_free_ char *shown = zr_url_redact(url);
	if (!shown) {
		return -ENOMEM;
	}
	/* The NUL between url and ref keeps "a#bc" and "ab#c" apart. */
	uint64_t h = fnv1a(0xcbf29ce484222325ULL, shown, strlen(shown) + 1);
	if (ref) {
		h = fnv1a(h, ref, strlen(ref));
	}
	return asprintf(ret, "%s-%08x", clean, (unsigned)(h >> 32)) < 0 ? -ENOMEM : 0;
}
