/* What a remote robot answers is untrusted input (README "Security"): the pure checks and
 * rewrites applied to it and to the URLs we send it, apart from the loop so that unit tests
 * and fuzzers call them directly. None of them logs. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

/* The longest name and symlink target taken from a remote's listing. */
#define ZR_UNTRUSTED_NAME_MAX 255
#define ZR_UNTRUSTED_TARGET_MAX 4095

/* Whether name (len bytes, as the remote sent it) may be an entry of a listing: 1 to 255
 * bytes, no '/', no NUL, not "." or "..". */
bool zr_untrusted_name_ok(const char *name, size_t len);

/* Whether symlink target (len bytes), listed in folder dir ("" for the remote's root,
 * "t/s/producers" below), stays inside the remote's subtree however it is resolved: not
 * empty, relative, no NUL, at most ZR_UNTRUSTED_TARGET_MAX bytes, its ".." components all
 * before any name (a ".." after a name could climb out from where another symlink led) and no
 * more of them than dir has components. */
bool zr_untrusted_target_ok(const char *dir, const char *target, size_t len);

/* Appends s (len bytes) to b percent-encoded: every byte but the RFC 3986 unreserved ones
 * (A-Z a-z 0-9 - . _ ~) as %XX. 0 or -ENOMEM. */
int zr_untrusted_encode(struct zr_buf *b, const char *s, size_t len);

/* Appends tree path ("t/s/data": components joined by '/', as our own tree names them; ""
 * for the root) to b with each component encoded as above, so the request a remote sees
 * names exactly these components whatever they hold ('%', '?', '#', '/' of a decoded %2F).
 * -EINVAL for an empty, "." or ".." component (b then holds part of it); -ENOMEM. */
int zr_untrusted_path_encode(struct zr_buf *b, const char *path);

/* A Location header a remote robot answered to the request of tree path (its URL:
 * base "/v1/" path encoded as above; base as http://HOST[:PORT][/PREFIX] with no trailing
 * '/'), rewritten as "/v1/ENCODED-PATH[?QUERY]" relative to that remote when it names a path
 * of the same remote: an absolute URL under base, an absolute path under base's, or a
 * relative reference resolved against the request (RFC 3986, dot segments removed) that
 * stays under base's /v1/. Its components are decoded and encoded again; the fragment is
 * dropped. -EINVAL when it names anything else (another host or scheme, a path outside /v1/,
 * an empty, ".", ".." or "/"-holding component once decoded, control characters, a query
 * with characters other than unreserved ones, '=', '&', '+' and %XX); -ENOMEM. *ret is
 * malloc'd. */
int zr_untrusted_location(const char *base, const char *path, const char *location, char **ret);
