/* Credentials in URLs: the one place that decides what of a URL may be shown or logged. Pure
 * string functions, no I/O. */
#pragma once
#include <stdbool.h>

/* A copy of text (a URL, or any text that may quote URLs: a log line, a libgit2 or libcurl
 * error) in which every credential is replaced by "***":
 *   scheme://user:password@host/...     → scheme://user:***@host/...  (the user is kept)
 *   https://TOKEN@host/...              → the same with "***" for TOKEN: a lone user is a
 *                                         token, except for ssh, ssh+git and git+ssh where it
 *                                         is a login name (git@host:path is kept too)
 *   user:password@host:path (no scheme) → user:***@host:path
 *   ...?access_token=X&ref=main         → ...?access_token=***&ref=main: query parameters whose
 *                                         name holds token, secret, passw, pwd, auth, key,
 *                                         signature or credential (any case), and "sig"
 * The userinfo ends at the last '@' of the authority, so a password holding a raw '@' is still
 * hidden; a '/' in a password must be percent-encoded (as git wants). Words are split at white
 * space and quotes. malloc'd; NULL only when out of memory. */
char *zr_url_redact(const char *text);

/* True when zr_url_redact would change text. */
bool zr_url_has_credentials(const char *text);

/* True for an "http://" URL (any case) whose host is neither "localhost" nor a loopback
 * address (127.0.0.0/8, ::1): its traffic, tokens included, crosses a network in clear. */
bool zr_url_plain_beyond_loopback(const char *url);

/* The value of one hex digit of a %HH escape, or -1: every percent-decoder shares it. */
static inline int zr_url_hexval(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}
