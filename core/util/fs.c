/* Blocking filesystem helpers: mkdir -p, rm -rf and atomic replacement of a file. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs.h"

int zr_mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p) {
		return -ENOMEM;
	}
	/* Each prefix ending before a '/', then the whole path; "//" gives an empty prefix. */
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0') {
			continue;
		}
		char c = *s;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST) {
			return -errno;
		}
		*s = c;
		if (c == '\0') {
			break;
		}
	}
	struct stat st;
	if (stat(path, &st) < 0) {
		return -errno;
	}
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP) {
		return rmdir(path) < 0 ? -1 : 0;
	}
	return unlink(path) < 0 ? -1 : 0;
}

int zr_rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		return unlink(path) < 0 ? -errno : 0;
	}
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0) {
		return errno == ENOENT ? 0 : -errno;
	}
	return 0;
}

int zr_fsync_parent(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	if (!dir) {
		return -ENOMEM;
	}
	char *slash = strrchr(dir, '/');
	if (!slash) {
		free(dir);
		dir = strdup(".");
		if (!dir) {
			return -ENOMEM;
		}
	} else {
		slash[slash == dir] = '\0';
	}
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) < 0) {
		return -errno;
	}
	return 0;
}

int zr_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int zr_write_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp", path) < 0) {
		return -ENOMEM;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0) {
		return -errno;
	}
	int r = zr_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0) {
		r = -errno;
	}
	if (close(fd) < 0 && r == 0) {
		r = -errno;
	}
	if (r == 0 && rename(tmp, path) < 0) {
		r = -errno;
	}
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	return zr_fsync_parent(path);
}
