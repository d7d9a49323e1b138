/* Fuzzes the path of an HTTP request (core/api/path.c) the way the API reads it: the request
 * target up to '?' (libmicrohttpd keeps the query apart), %HH-decoded by our unescape
 * callback, then what follows /v1/ split into names.
 *
 * An input is the target after "/v1/", as a client sends it ("t/s/actions/run",
 * "%2e%2e/admin.token").
 *
 * Besides sanitizers, it checks the contract the tree relies on: a path is refused, or each of
 * its names is a plain name (not empty, ".", "..", no '/', no NUL or other control character,
 * at most 255 bytes), they are the decoded path's pieces between '/' in order, and joined by
 * '/' they are the path the request names. A refusal names a piece of the path that is indeed
 * not a plain name. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/path.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* The refusal the contract expects for the n bytes at p: 0 for a plain name. */
static int name_refusal(const char *p, size_t n)
{
	if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && memcmp(p, "..", 2) == 0)) {
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

/* The first refusal among the pieces of p between '/' (one trailing '/' allowed). */
static int expected(const char *p)
{
	while (*p) {
		size_t n = strcspn(p, "/");
		int r = name_refusal(p, n);
		if (r < 0) {
			return r;
		}
		p += n;
		p += *p ? 1 : 0;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A target is text: it ends at a NUL byte, and the query is not part of the path. */
	char *url = malloc(4 + size + 1);
	FUZZ_CHECK(url);
	memcpy(url, "/v1/", 4);
	memcpy(url + 4, data, size);
	url[4 + size] = '\0';
	url[4 + strcspn(url + 4, "?")] = '\0';
	size_t before = strlen(url);

	size_t after = zr_api_path_unescape(url);
	FUZZ_CHECK(after == strlen(url));
	FUZZ_CHECK(after <= before);
	FUZZ_CHECK(memcmp(url, "/v1/", 4) == 0);
	const char *p = url + 4;

	struct zr_api_path path = {0};
	size_t bad = SIZE_MAX, bad_len = SIZE_MAX;
	int r = zr_api_path_split(p, &path, &bad, &bad_len);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -EILSEQ || r == -ENAMETOOLONG || r == -ENOMEM);
	if (r == -ENOMEM) {
		free(url);
		return 0;
	}
	FUZZ_CHECK(r == expected(p));
	if (r < 0) {
		FUZZ_CHECK(path.path == NULL && path.comps == NULL && path.n == 0);
		FUZZ_CHECK(bad <= strlen(p) && bad_len <= strlen(p) - bad);
		FUZZ_CHECK(name_refusal(p + bad, bad_len) == r);
		FUZZ_CHECK(p[bad + bad_len] == '/' || p[bad + bad_len] == '\0');
		FUZZ_CHECK(bad == 0 || p[bad - 1] == '/');
		free(url);
		return 0;
	}

	FUZZ_CHECK(path.path);
	size_t at = 0, total = 0;
	for (size_t i = 0; i < path.n; i++) {
		const char *c = path.comps[i];
		size_t n = strlen(c);
		FUZZ_CHECK(name_refusal(c, n) == 0);
		FUZZ_CHECK(!strchr(c, '/'));
		FUZZ_CHECK(strcmp(c, ".") != 0 && strcmp(c, "..") != 0);
		/* The decoded path's pieces, in order. */
		FUZZ_CHECK(strncmp(p + at, c, n) == 0);
		FUZZ_CHECK(p[at + n] == '/' || p[at + n] == '\0');
		at += n + (p[at + n] == '/');
		/* Joined, the path. */
		FUZZ_CHECK(strncmp(path.path + total, c, n) == 0);
		total += n;
		FUZZ_CHECK(path.path[total] == (i + 1 < path.n ? '/' : '\0'));
		total += i + 1 < path.n;
	}
	FUZZ_CHECK(p[at] == '\0');
	FUZZ_CHECK(strlen(path.path) == total);
	zr_api_path_done(&path);
	FUZZ_CHECK(path.path == NULL && path.comps == NULL && path.n == 0);
	free(url);
	return 0;
}
