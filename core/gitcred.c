/* git-credential-store files: the permission check and the lookup of one URL's credentials. */
#include "gitcred.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"
#include "util/url.h"

#define FILE_MAX (1024 * 1024)

/* A URL cut in parts, each pointing into the string it was parsed from (n: its length). */
struct part {
	const char *s;
	size_t n;
};

struct parsed {
	struct part scheme, user, password, host, path;
	bool has_password;
};

/* scheme://[user[:password]@]host[:port][/path]; false when there is no "://" or no host.
 * The query and fragment are not part of the path. */
static bool parse(const char *s, size_t n, struct parsed *ret)
{
	const char *end = s + n;
	const char *sep = memmem(s, n, "://", 3);
	if (!sep || sep == s) {
		return false;
	}
	struct parsed p = {.scheme = {s, (size_t)(sep - s)}};
	const char *a = sep + 3;
	const char *a_end = a;
	while (a_end < end && !strchr("/?#", *a_end)) {
		a_end++;
	}
	const char *at = memrchr(a, '@', (size_t)(a_end - a));
	if (at) {
		const char *colon = memchr(a, ':', (size_t)(at - a));
		p.user = (struct part){a, (size_t)((colon ? colon : at) - a)};
		if (colon) {
			p.password = (struct part){colon + 1, (size_t)(at - colon - 1)};
			p.has_password = true;
		}
		a = at + 1;
	}
	p.host = (struct part){a, (size_t)(a_end - a)};
	const char *q = a_end;
	while (q < end && *q != '?' && *q != '#') {
		q++;
	}
	p.path = (struct part){a_end, (size_t)(q - a_end)};
	if (p.host.n == 0) {
		return false;
	}
	*ret = p;
	return true;
}

/* The percent-decoded part, malloc'd; NULL when out of memory. */
static char *decode(struct part p)
{
	char *d = malloc(p.n + 1), *o = d;
	if (!d) {
		return NULL;
	}
	for (size_t i = 0; i < p.n; i++) {
		if (p.s[i] == '%' && i + 2 < p.n && zr_url_hexval(p.s[i + 1]) >= 0 && zr_url_hexval(p.s[i + 2]) >= 0) {
			*o++ = (char)(zr_url_hexval(p.s[i + 1]) * 16 + zr_url_hexval(p.s[i + 2]));
			i += 2;
		} else {
			*o++ = p.s[i];
		}
	}
	*o = '\0';
	return d;
}

static bool same_ci(struct part a, struct part b)
{
	return a.n == b.n && strncasecmp(a.s, b.s, a.n) == 0;
}

/* A repository path without its slashes at both ends and a ".git" suffix. */
static struct part repo_path(struct part p)
{
	while (p.n > 0 && p.s[0] == '/') {
		p.s++;
		p.n--;
	}
	while (p.n > 0 && p.s[p.n - 1] == '/') {
		p.n--;
	}
	if (p.n >= 4 && memcmp(p.s + p.n - 4, ".git", 4) == 0) {
		p.n -= 4;
	}
	return p;
}

static bool matches(const struct parsed *line, const struct parsed *want)
{
	if (!line->has_password || !same_ci(line->scheme, want->scheme) ||
	    !same_ci(line->host, want->host)) {
		return false;
	}
	if (want->user.n > 0 && (line->user.n != want->user.n ||
				 memcmp(line->user.s, want->user.s, want->user.n) != 0)) {
		return false;
	}
	struct part lp = repo_path(line->path), wp = repo_path(want->path);
	return lp.n == 0 || (lp.n == wp.n && memcmp(lp.s, wp.s, lp.n) == 0);
}

/* Opens path for reading after checking it as zr_gitcred_check says; *ret_size: its size. */
static int open_checked(const char *path, int *ret_fd, off_t *ret_size, char **ret_err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		int err = -errno;
		return zr_fail(ret_err, err, "credential file %s: %s", path, strerror(-err));
	}
	/* fstat of the open file: what is checked is what is read. */
	struct stat st;
	int err = 0;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		err = zr_fail(ret_err, err, "credential file %s: %s", path, strerror(-err));
	} else if (!S_ISREG(st.st_mode)) {
		err = zr_fail(ret_err, -EINVAL, "credential file %s: not a regular file", path);
	} else if (st.st_mode & 077) {
		err = zr_fail(ret_err, -EACCES,
			      "credential file %s is open to other users (mode %04o): chmod 600 it",
			      path, (unsigned)(st.st_mode & 07777));
	} else if (st.st_size > FILE_MAX) {
		err = zr_fail(ret_err, -EFBIG, "credential file %s: larger than %d bytes", path,
			      FILE_MAX);
	}
	if (err < 0) {
		(void)close(fd);
		return err;
	}
	*ret_fd = fd;
	*ret_size = st.st_size;
	return 0;
}

int zr_gitcred_check(const char *path, char **ret_err)
{
	int fd;
	off_t size;
	int err = open_checked(path, &fd, &size, ret_err);
	if (err == 0) {
		(void)close(fd);
	}
	return err;
}

/* Reads the whole file (at most size bytes, as fstat said). */
static int slurp(int fd, off_t size, char **ret)
{
	char *buf = malloc((size_t)size + 1);
	size_t n = 0;
	if (!buf) {
		return -ENOMEM;
	}
	while (n < (size_t)size) {
		ssize_t r = read(fd, buf + n, (size_t)size - n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			int err = r < 0 ? -errno : 0;
			if (err < 0) {
				explicit_bzero(buf, n);
				free(buf);
				return err;
			}
			break;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	*ret = buf;
	return 0;
}

int zr_gitcred_find(const char *path, const char *url, char **ret_user, char **ret_password,
		    char **ret_err)
{
	struct parsed want;
	if (!parse(url, strlen(url), &want)) {
		return 0;
	}
	int fd;
	off_t size;
	int err = open_checked(path, &fd, &size, ret_err);
	if (err < 0) {
		return err;
	}
	char *text = NULL;
	err = slurp(fd, size, &text);
	(void)close(fd);
	if (err < 0) {
		return zr_fail(ret_err, err, "credential file %s: %s", path, strerror(-err));
	}
	err = 0;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		size_t n = next ? (size_t)(next - line) : strlen(line);
		next = next ? next + 1 : NULL;
		while (n > 0 && isspace((unsigned char)line[n - 1])) {
			n--;
		}
		while (n > 0 && isspace((unsigned char)*line)) {
			line++;
			n--;
		}
		struct parsed p;
		if (n == 0 || *line == '#' || !parse(line, n, &p) || !matches(&p, &want)) {
			continue;
		}
		char *user = decode(p.user), *password = decode(p.password);
		if (!user || !password) {
			free(user);
			free(password);
			err = -ENOMEM;
			break;
		}
		*ret_user = user;
		*ret_password = password;
		err = 1;
		break;
	}
	explicit_bzero(text, (size_t)size);
	free(text);
	return err;
}
