/* Mount point checks: a stale mount from a crash is cleared, a live one is refused. */
#include "mount.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"

/* True when dir is a mount point in this namespace (it has a line in mountinfo). Paths with
 * spaces are escaped there as \040; the comparison unescapes. */
static bool is_mount_point(const char *dir)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	if (!f) {
		return false;
	}
	while (!found && getline(&line, &cap, f) > 0) {
		char mp[PATH_MAX];
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1) {
			continue;
		}
		char *w = mp;
		for (const char *r = mp; *r; r++) {
			if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] && r[3]) {
				*w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
				r += 3;
			} else {
				*w++ = *r;
			}
		}
		*w = '\0';
		found = strcmp(mp, dir) == 0;
	}
	free(line);
	fclose(f);
	return found;
}

static int lazy_unmount(const char *dir)
{
	if (geteuid() == 0 && umount2(dir, MNT_DETACH) == 0) {
		return 0;
	}
	/* Not root (or umount2 refused): the setuid helper may unmount our own FUSE mounts. */
	pid_t pid = fork();
	if (pid < 0) {
		return -errno;
	}
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "-q", dir, (char *)NULL);
		_exit(127);
	}
	int status;
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		return -EIO;
	}
	return 0;
}

static int unmount_stale(const char *dir)
{
	struct stat st;
	log_warn("Found a stale mount at %s (a robot died there): unmounting it", dir);
	int err = lazy_unmount(dir);
	if (err < 0) {
		log_error("Failed to unmount the stale mount at %s: %s", dir, strerror(-err));
		return err;
	}
	return stat(dir, &st) < 0 ? -errno : 0;
}

static bool dead_errno(int err) { return err == ENOTCONN || err == ECONNABORTED; }

int zr_mount_prepare(const char *dir)
{
	struct stat st;
	struct statfs sfs;
	if (stat(dir, &st) < 0) {
		if (dead_errno(errno)) {
			return unmount_stale(dir);
		}
		if (errno != ENOENT) {
			return -errno;
		}
		if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
			return -errno;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		return -ENOTDIR;
	}
	if (is_mount_point(dir)) {
		/* stat may be answered from attributes the kernel cached before the robot died;
		 * statfs always asks the file system. */
		return statfs(dir, &sfs) < 0 && dead_errno(errno) ? unmount_stale(dir) : -EBUSY;
	}
	return 0;
}
