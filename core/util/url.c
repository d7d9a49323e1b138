/* Credentials in URLs: redaction for display and logs, and the plain-http check. */
#include "url.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

#define MASK "***"

static bool is_delim(char c)
{
	return isspace((unsigned char)c) || strchr("'\"`<>", c);
}

static bool is_scheme_char(char c)
{
	return isalnum((unsigned char)c) || c == '+' || c == '-' || c == '.';
}

static const char *find_n(const char *s, const char *end, const char *what)
{
	size_t n = strlen(what);
	for (; s + n <= end; s++) {
		if (memcmp(s, what, n) == 0) {
			return s;
		}
	}
	return NULL;
}

static const char *last_of(const char *s, const char *end, char c)
{
	return memrchr(s, c, (size_t)(end - s));
}

/* The first of any of chars in [s, end), or end. */
static const char *first_of(const char *s, const char *end, const char *chars)
{
	for (; s < end; s++) {
		if (strchr(chars, *s)) {
			return s;
		}
	}
	return end;
}

/* ssh-family schemes take a login name as the user, which is not a secret. */
static bool user_is_login(const char *scheme, size_t n)
{
	static const char *const ssh[] = {"ssh", "ssh+git", "git+ssh"};
	for (size_t i = 0; i < sizeof(ssh) / sizeof(ssh[0]); i++) {
		if (n == strlen(ssh[i]) && strncasecmp(scheme, ssh[i], n) == 0) {
			return true;
		}
	}
	return false;
}

static bool contains_ci(const char *s, size_t n, const char *what)
{
	size_t w = strlen(what);
	for (size_t i = 0; i + w <= n; i++) {
		if (strncasecmp(s + i, what, w) == 0) {
			return true;
		}
	}
	return false;
}

static bool secret_param(const char *name, size_t n)
{
	static const char *const parts[] = {"token", "secret", "passw", "pwd", "auth", "key",
					    "signature", "credential"};
	if (n == 3 && strncasecmp(name, "sig", 3) == 0) {
		return true;
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		if (contains_ci(name, n, parts[i])) {
			return true;
		}
	}
	return false;
}

/* Appends [s, end) to b with the values of secret query parameters masked. A query starts
 * at '?' and ends at '#'. */
static int put_masking_query(struct zr_buf *b, const char *s, const char *end)
{
	bool query = false;
	while (s < end) {
		char c = *s;
		if (c == '#') {
			query = false;
		}
		bool starts = c == '?' || (query && (c == '&' || c == ';'));
		if (c == '?') {
			query = true;
		}
		if (zr_buf_append(b, s, 1) < 0) {
			return -ENOMEM;
		}
		s++;
		if (!starts) {
			continue;
		}
		const char *stop = first_of(s, end, "&;#?");
		const char *eq = first_of(s, stop, "=");
		if (eq == stop || eq + 1 == stop || !secret_param(s, (size_t)(eq - s))) {
			continue;
		}
		if (zr_buf_append(b, s, (size_t)(eq + 1 - s)) < 0 || zr_buf_puts(b, MASK) < 0) {
			return -ENOMEM;
		}
		s = stop;
	}
	return 0;
}

/* Appends the userinfo [s, at) masked: "user:***" keeps the user, a lone user becomes "***". */
static int put_userinfo(struct zr_buf *b, const char *s, const char *at)
{
	const char *colon = memchr(s, ':', (size_t)(at - s));
	if (colon && zr_buf_append(b, s, (size_t)(colon + 1 - s)) < 0) {
		return -ENOMEM;
	}
	return zr_buf_puts(b, MASK);
}

/* Appends the redacted word [w, end) to b. */
static int put_word(struct zr_buf *b, const char *w, const char *end)
{
	const char *p = w;
	bool any_scheme = false;
	const char *sep;
	while ((sep = find_n(p, end, "://"))) {
		const char *scheme = sep;
		while (scheme > w && is_scheme_char(scheme[-1])) {
			scheme--;
		}
		const char *auth = sep + 3;
		const char *auth_end = first_of(auth, end, "/?#");
		const char *at = last_of(auth, auth_end, '@');
		any_scheme = true;
		if (put_masking_query(b, p, auth) < 0) {
			return -ENOMEM;
		}
		p = auth;
		if (!at) {
			continue;
		}
		if (!memchr(auth, ':', (size_t)(at - auth)) &&
		    user_is_login(scheme, (size_t)(sep - scheme))) {
			continue;
		}
		if (put_userinfo(b, auth, at) < 0) {
			return -ENOMEM;
		}
		p = at;
	}
	if (!any_scheme) {
		/* scp-like "user:password@host:path": a ':' before the last '@' of the part before
		 * the first '/'. ("git@host:path" has its ':' after the '@'.) */
		const char *slash = first_of(w, end, "/");
		const char *at = last_of(w, slash, '@');
		const char *colon = at ? memchr(w, ':', (size_t)(at - w)) : NULL;
		if (colon) {
			if (put_userinfo(b, w, at) < 0) {
				return -ENOMEM;
			}
				p = at;
		}
	}
	return put_masking_query(b, p, end);
}

/* Appends text to b redacted. 0 or -ENOMEM. */
static int redact(const char *text, struct zr_buf *b)
{
	const char *s = text;
	while (*s) {
		const char *w = s;
		while (*s && !is_delim(*s)) {
			s++;
		}
		if (w < s && put_word(b, w, s) < 0) {
			return -ENOMEM;
		}
		const char *d = s;
		while (*s && is_delim(*s)) {
			s++;
		}
		if (s > d && zr_buf_append(b, d, (size_t)(s - d)) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

char *zr_url_redact(const char *text)
{
	struct zr_buf b = {0};
	if (redact(text, &b) < 0) {
		zr_buf_done(&b);
		return NULL;
	}
	return zr_buf_steal(&b);
}

bool zr_url_has_credentials(const char *text)
{
	struct zr_buf b = {0};
	/* Out of memory counts as "has": the caller then redacts, and fails there. */
	bool has = redact(text, &b) < 0 || strcmp(b.data ? b.data : "", text) != 0;
	zr_buf_done(&b);
	return has;
}

bool zr_url_plain_beyond_loopback(const char *url)
{
	if (strncasecmp(url, "http://", 7) != 0) {
		return false;
	}
	const char *host = url + 7;
	const char *end = first_of(host, host + strlen(host), "/?#");
	const char *at = last_of(host, end, '@');
	if (at) {
		host = at + 1;
	}
	size_t n;
	if (*host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));
		n = close ? (size_t)(close + 1 - host) : (size_t)(end - host);
	} else {
		n = (size_t)(first_of(host, end, ":") - host);
	}
	if ((n == 9 && strncasecmp(host, "localhost", 9) == 0) ||
	    (n == 5 && memcmp(host, "[::1]", 5) == 0)) {
		return false;
	}
	/* 127.0.0.0/8 written as a dotted quad. */
	if (n >= 4 && memcmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") >= n) {
		return false;
	}
	return true;
}
