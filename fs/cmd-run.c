/* zrobot run: finds and claims the data folder and the mount point, then runs the robot. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "daemon.h"
#include "mount.h"
#include "options.h"
#include "util/cleanup.h"
#include "util/log.h"

static int mkdir_parents(const char *path)
{
	char *p = strdup(path);
	if (!p) {
		return -ENOMEM;
	}
	for (char *c = p + 1; *c; c++) {
		if (*c == '/') {
			*c = '\0';
			/* Parents are outside the data folder: the usual 0755 despite umask 077. */
			if (mkdir(p, 0755) == 0) {
				(void)chmod(p, 0755);
			}
			*c = '/';
		}
	}
	int err = mkdir(p, 0700) < 0 && errno != EEXIST ? -errno : 0;
	free(p);
	return err;
}

/* One robot per data folder: a second one would share its work folders. */
static int lock_data_dir(const char *dir)
{
	char *path = NULL;
	if (asprintf(&path, "%s/lock", dir) < 0) {
		return -ENOMEM;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(path);
	if (fd < 0) {
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd; /* held until exit */
}

/* Tells the log when path (a data folder or a file in it) lets group or others in: the robot
 * keeps tokens and every service's data there. Only reports: the folder is the admin's. */
static void check_mode(const char *path, const char *what)
{
	struct stat st;
	/* A folder's search bit for others (0711) lets a server run as another user reach its
	 * work folder by path (service-process.c): it lists nothing. */
	if (stat(path, &st) < 0 || (st.st_mode & (S_ISDIR(st.st_mode) ? 066 : 077)) == 0) {
		return;
	}
	log_warn("The %s %s has mode %04o: group or others may %s it (tokens and services' data); "
		 "fix: chmod %s %s", what, path, (unsigned)(st.st_mode & 07777),
		 st.st_mode & 022 ? "change" : "read", S_ISDIR(st.st_mode) ? "700" : "600", path);
}

/* The data folder and its secrets, as found at start. */
static void check_modes(const char *data)
{
	static const char *const files[] = {"admin.token", "zrobot.db", "zrobot.db-wal",
					    "zrobot.db-shm"};
	check_mode(data, "data folder");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		_cleanup_free_ char *p = NULL;
		if (asprintf(&p, "%s/%s", data, files[i]) >= 0) {
			check_mode(p, "file");
		}
	}
}

/* Creates the data folder dd and locks it; data gets its absolute path. Logs what fails;
 * returns 0 or a negative errno. */
static int claim_data_dir(const char *dd, char data[PATH_MAX])
{
	int err = mkdir_parents(dd);
	if (err == 0 && !realpath(dd, data)) {
		err = -errno;
	}
	if (err < 0) {
		log_error("Failed to create data folder %s: %s", dd, strerror(-err));
		return err;
	}
	err = lock_data_dir(data);
	if (err < 0) {
		log_error("The data dir %s is in use by another robot (%s)", data, strerror(-err));
		return err;
	}
	check_modes(data);
	return 0;
}

/* Makes m an absolute mount point in mount and readies it. Logs what fails; returns 0 or a
 * negative errno. */
static int claim_mount(const char *m, char mount[PATH_MAX])
{
	if (m[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)) ||
		    snprintf(mount, PATH_MAX, "%s/%s", cwd, m) >= PATH_MAX) {
			log_error("Mount point path too long");
			return -ENAMETOOLONG;
		}
	} else {
		snprintf(mount, PATH_MAX, "%s", m);
	}
	/* Resolve symlinks and dots when the folder exists, so the mountinfo check compares
	 * like with like; a stale mount cannot be resolved and keeps its given path. */
	char resolved[PATH_MAX];
	if (realpath(mount, resolved)) {
		snprintf(mount, PATH_MAX, "%s", resolved);
	}
	int err = zr_mount_prepare(mount);
	if (err == -EBUSY) {
		log_error("%s is already mounted (another robot serves it?): refusing to mount over it",
			  mount);
	} else if (err < 0) {
		log_error("Failed to prepare the mount point %s: %s", mount, strerror(-err));
	}
	return err;
}

int zr_cmd_run(int argc, char **argv)
{
	char mount[PATH_MAX], data[PATH_MAX];

	/* Before anything is made: the data folder and all in it (the database and its -wal and
	 * -shm, tokens, work folders, clones) are the robot's alone, whatever umask it got.
	 * Actions inherit it too (README "Files and modes"). */
	umask(077);
	int err = zr_options_parse(argc, argv);
	if (err != 0) {
		return err > 0 ? 0 : 2;
	}
	_cleanup_free_ char *m = arg_mount ? strdup(arg_mount)
					   : zr_options_default_path("/zr", "zr");
	_cleanup_free_ char *dd = arg_data ? strdup(arg_data)
					   : zr_options_default_path("/var/lib/zrobot",
								     ".local/share/zrobot");
	if (!m || !dd) {
		fprintf(stderr, "zrobot: out of memory\n");
		return 1;
	}
	if (claim_data_dir(dd, data) < 0 || claim_mount(m, mount) < 0) {
		return 1;
	}
	return zr_daemon_run(mount, data);
}
