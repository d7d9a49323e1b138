/* Fuzzes the parser of a remote robot's directory listings (core/remote/listing.c): the JSON
 * another robot answers to GET /v1/DIR, which may be hostile (README "Security").
 *
 * An input is the folder's path in the remote ("" for its root, "node/web/producers"), a
 * newline, then the body:
 *
 *     node/web
 *     {"path": "/node/web", "entries": [{"name": "data", "kind": "file", "mode": "0644",
 *      "size": 2, "mtime": "2026-11-22T10:00:00.123Z"}]}
 *
 * A first line that is not such a path stands for the root.
 *
 * Besides sanitizers (an mtime far in the future once overflowed), it checks what the remote
 * provider relies on (issue 12's decisions): every entry kept is a plain name (1 to 255 bytes,
 * no '/', not "." or ".."), a file, folder or symlink, with no more than the 0777 bits; a
 * symlink has a relative target that, resolved from the folder, stays inside the remote; each
 * entry left out is told to the caller; a copy equals the listing and every name is found. */
#include <errno.h>
#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

#include "api/path.h"
#include "fuzz.h"
#include "remote/remote-internal.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	json_object_seed(1);
	return 0;
}

static void on_refused(const char *name, const char *why, void *data)
{
	FUZZ_CHECK(name && why && *why);
	(*(size_t *)data)++;
}

/* The folders of dir ("a/b" has 2). */
static size_t depth(const char *dir)
{
	size_t n = *dir ? 1 : 0;
	for (; *dir; dir++) {
		n += *dir == '/';
	}
	return n;
}

/* Whether target, resolved lexically from a folder depth levels below the remote's root,
 * never climbs above that root. The kernel resolves a symlink component by component, so a
 * ".." after a name that is itself a symlink may climb further: the parser may refuse more
 * than this, never less. */
static bool stays_inside(const char *target, size_t level)
{
	while (*target) {
		size_t n = strcspn(target, "/");
		if (n == 2 && memcmp(target, "..", 2) == 0) {
			if (level == 0) {
				return false;
			}
			level--;
		} else if (n > 0 && !(n == 1 && target[0] == '.')) {
			level++;
		}
		target += n;
		target += *target ? 1 : 0;
	}
	return true;
}

static void check_entry(const struct rentry *e, size_t level)
{
	size_t n = strlen(e->name);
	FUZZ_CHECK(n >= 1 && n <= ZR_API_NAME_MAX);
	FUZZ_CHECK(!strchr(e->name, '/'));
	FUZZ_CHECK(strcmp(e->name, ".") != 0 && strcmp(e->name, "..") != 0);
	FUZZ_CHECK(S_ISREG(e->mode) || S_ISDIR(e->mode) || S_ISLNK(e->mode));
	FUZZ_CHECK((e->mode & ~(mode_t)(S_IFMT | 0777)) == 0);
	if (S_ISLNK(e->mode)) {
		FUZZ_CHECK(e->target && *e->target);
		FUZZ_CHECK(e->target[0] != '/');
		FUZZ_CHECK(stays_inside(e->target, level));
	} else {
		FUZZ_CHECK(e->target == NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	if (!nl) {
		return 0;
	}
	char *dir = strndup(in, (size_t)(nl - in));
	FUZZ_CHECK(dir);
	/* Only a path our own tree could hold: the provider lists nothing else. */
	struct zr_api_path p;
	size_t bad, bad_len;
	if (strlen(dir) != (size_t)(nl - in) || zr_api_path_split(dir, &p, &bad, &bad_len) < 0) {
		dir[0] = '\0';
	} else {
		free(dir);
		dir = p.path;
		p.path = NULL;
		zr_api_path_done(&p);
	}
	const char *body = nl + 1;
	size_t len = size - (size_t)(body - in);

	struct listing *l = NULL;
	size_t refused = 0;
	int r = zr_listing_parse(dir, body, len, on_refused, &refused, &l);
	FUZZ_CHECK(r == 0 || r == -EIO || r == -EFBIG || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(l == NULL);
		free(dir);
		return 0;
	}
	FUZZ_CHECK(l);
	/* Every entry is kept or told to be left out. */
	json_t *j = json_loadb(body, len, 0, NULL);
	FUZZ_CHECK(j);
	FUZZ_CHECK(l->n + refused == json_array_size(json_object_get(j, "entries")));
	json_decref(j);

	size_t level = depth(dir);
	for (size_t i = 0; i < l->n; i++) {
		check_entry(&l->e[i], level);
		const struct rentry *found = zr_listing_find(l, l->e[i].name);
		FUZZ_CHECK(found && strcmp(found->name, l->e[i].name) == 0);
	}
	struct listing *c = zr_listing_copy(l);
	if (c) {
		FUZZ_CHECK(c->n == l->n);
		for (size_t i = 0; i < l->n; i++) {
			FUZZ_CHECK(strcmp(c->e[i].name, l->e[i].name) == 0);
			FUZZ_CHECK(!c->e[i].target == !l->e[i].target);
			FUZZ_CHECK(!l->e[i].target || strcmp(c->e[i].target, l->e[i].target) == 0);
			FUZZ_CHECK(c->e[i].mode == l->e[i].mode && c->e[i].size == l->e[i].size &&
				   c->e[i].mtime_ns == l->e[i].mtime_ns);
		}
	}
	zr_listing_free(c);
	zr_listing_free(l);
	free(dir);
	return 0;
}
