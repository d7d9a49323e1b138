/* Credential files for private git repositories, in git-credential-store's format: one
 * "https://USER:PASSWORD@HOST[:PORT][/PATH]" a line, USER and PASSWORD percent-encoded. Read by
 * fetch workers when a server asks for a password, so that the secret never reaches the
 * store, the tree or the log. Blocking; no loop, no model. */
#pragma once

/* Checks that path can hold credentials: a regular file that neither group nor others may
 * read or write (as git-credential-store makes it, mode 0600). 0; -EACCES when it is open to
 * others; -EINVAL when not a regular file; another negative errno when it cannot be opened.
 * *ret_err (malloc'd) says why. */
int zr_gitcred_check(const char *path, char **ret_err);

/* Finds in the file at path the first line for url: the same scheme and host (with the same
 * port), the same user when url names one, and when the line has a path, the same repository
 * path (a trailing ".git" or '/' aside). Lines that are empty, start with '#' or do not parse
 * are skipped. 1 with *ret_user and *ret_password (malloc'd, decoded; the caller wipes the
 * password with explicit_bzero before freeing it); 0 when no line matches (nothing set); the
 * errors of zr_gitcred_check (a missing file is -ENOENT); -EFBIG for a file over 1 MiB.
 * *ret_err says why, never quoting a password. */
int zr_gitcred_find(const char *path, const char *url, char **ret_user, char **ret_password,
		    char **ret_err);
