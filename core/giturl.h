/* Git repository addresses: "URL[#REF]" specs, the uid prefix of a repository's templates and
 * the short id of a repository in the data dir. Pure string functions, no I/O. */
#pragma once
#include <stdbool.h>

/* Splits "URL[#REF]" at the first '#', ignoring white space around the whole spec (a line
 * written with echo). *ret_ref is NULL without '#'. -EINVAL for an empty URL, an empty REF
 * after '#' or a REF that zr_giturl_ref_valid refuses. Outputs malloc'd. */
int zr_giturl_split(const char *spec, char **ret_url, char **ret_ref);

/* True when ref can name a branch, tag or commit: 1 to 255 printable ASCII characters, no
 * white space, none of ~^:?*[\#, no "..", "@{" or "//", not starting with '-' or '/'. */
bool zr_giturl_ref_valid(const char *ref);

/* True when url is a plain local path rather than "scheme://..." or scp-like "host:path". */
bool zr_giturl_is_path(const char *url);

/* The uid prefix of the templates of url:
 *   https://github.com/acc/repo(.git)     → github.com/acc/repo (user, port and ".git" dropped)
 *   git@host:acc/repo.git, ssh://git@host/acc/repo → host/acc/repo
 *   file:///path/to/name(.git), /path/to/name, /path/to/name/.git → local/name
 * Characters other than [A-Za-z0-9._~+-] in a path segment become '-'; the host is lowercased.
 * -EINVAL when a segment is empty, "." or "..", or there is no repository name. */
int zr_giturl_source(const char *url, char **ret);

/* A stable short id for url at ref (NULL: the default branch), usable as a file name and a
 * tree name ([a-z0-9][a-z0-9_.-]*): the repository's name, lowercased and cut to 40
 * characters, '-', and 8 hex digits of a hash of url and ref. The hash is of url with its
 * credentials masked (zr_url_redact): no bit of a secret in the id, and a new token for the
 * same repository keeps its id. */
int zr_giturl_id(const char *url, const char *ref, char **ret);
