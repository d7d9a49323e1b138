/* Template scaffolding: the skeleton's files, written into a temporary folder then renamed. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scaffold.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/name.h"

/* %1$s is the template's name. */
static const char manifest[] =
	"{\n"
	"\t\"name\": \"%1$s\",\n"
	"\t\"version\": \"0.1.0\",\n"
	"\t\"description\": \"%1$s: describe what this template runs.\",\n"
	"\t\"data\": {\n"
	"\t\t\"port\": {\"type\": \"integer\", \"default\": 8080, \"minimum\": 1, \"maximum\": 65535,\n"
	"\t\t\t\"description\": \"TCP port the service listens on.\"}\n"
	"\t},\n"
	"\t\"actions\": {\n"
	"\t\t\"install\": {\"description\": \"Prepare the service's files.\", \"timeout\": 600,\n"
	"\t\t\t\"retry\": {\"tries\": 3, \"delay\": 1, \"backoff\": 2}},\n"
	"\t\t\"start\": {\"description\": \"Start the service's process.\", \"timeout\": 60},\n"
	"\t\t\"stop\": {\"description\": \"Stop the service's process.\", \"timeout\": 60},\n"
	"\t\t\"monitor\": {\"description\": \"Check that the process runs.\", \"every\": 30,\n"
	"\t\t\t\"timeout\": 10}\n"
	"\t},\n"
	"\t\"on_delete\": [\"stop\"]\n"
	"}\n";

/* Shared by every action, after its first lines: run by hand (no fd 3), the reports go
 * nowhere. */
#define PREAMBLE                                                                          \
	"set -eu\n"                                                                       \
	"# fd 3 is the robot's channel: \"state CATEGORY TAG VALUE\", \"progress DONE TOTAL\",\n" \
	"# \"data JSON\". Run by hand, without it, the reports go nowhere.\n"               \
	"{ true >&3; } 2>/dev/null || exec 3>/dev/null\n"                                   \
	"port=${DATA_PORT:-8080}\n"

/* The placeholder process is a shell that sleeps; replace it with your program. */
static const char install[] = "#!/bin/sh\n"
	"# %1$s/install: prepares the service's files. It runs in the service's own work folder\n"
	"# (cwd): fetch, build or configure here.\n" PREAMBLE
	"echo \"progress 0 2\" >&3\n"
	"printf 'port=%%s\\n' \"$port\" >config\n"
	"echo \"progress 1 2\" >&3\n"
	"mkdir -p log\n"
	"echo \"progress 2 2\" >&3\n"
	"echo \"state service installed ok\" >&3\n"
	"echo \"installed %1$s, port $port\"\n";

static const char start[] = "#!/bin/sh\n"
	"# %1$s/start: starts the service's process in the background and records its pid.\n"
	PREAMBLE
	"if [ -f pid ] && kill -0 \"$(cat pid)\" 2>/dev/null; then\n"
	"\techo \"already running, pid $(cat pid)\"\n"
	"\techo \"state service running ok\" >&3\n"
	"\texit 0\n"
	"fi\n"
	"mkdir -p log\n"
	"# Replace this placeholder with the real program, e.g. my-server --port \"$port\".\n"
	"# setsid and closed std fds: the process outlives this action and holds none of its pipes.\n"
	"setsid sh -c 'trap \"exit 0\" TERM; while :; do sleep 1; done' \\\n"
	"\t</dev/null >log/%1$s.log 2>&1 3>&- &\n"
	"echo $! >pid\n"
	"echo \"state service running ok\" >&3\n"
	"echo \"started %1$s, pid $!, port $port\"\n";

static const char stop[] = "#!/bin/sh\n"
	"# %1$s/stop: stops the process that start recorded; also run before a delete.\n" PREAMBLE
	"if [ -f pid ]; then\n"
	"\tkill \"$(cat pid)\" 2>/dev/null || true\n"
	"\trm -f pid\n"
	"fi\n"
	"echo \"state service running skipped\" >&3\n"
	"echo \"stopped %1$s\"\n";

/* Not started (no pid file) is not an error; a pid file whose process is gone is one. */
static const char monitor[] = "#!/bin/sh\n"
	"# %1$s/monitor: checks, every 30 seconds, that the process runs.\n" PREAMBLE
	"if [ ! -f pid ]; then\n"
	"\techo \"state service running skipped\" >&3\n"
	"\techo \"not started\"\n"
	"elif kill -0 \"$(cat pid)\" 2>/dev/null; then\n"
	"\techo \"state service running ok\" >&3\n"
	"\techo \"running, pid $(cat pid), port $port\"\n"
	"else\n"
	"\techo \"state service running error\" >&3\n"
	"\techo \"%1$s (pid $(cat pid)) is gone\" >&2\n"
	"\texit 1\n"
	"fi\n";

static const struct {
	const char *path;
	const char *fmt;
	mode_t mode;
} files[] = {
	{"template.json", manifest, 0644},
	{"actions/install", install, 0755},
	{"actions/start", start, 0755},
	{"actions/stop", stop, 0755},
	{"actions/monitor", monitor, 0755},
};

static int write_file(const char *path, const char *fmt, const char *name, mode_t mode)
{
	_cleanup_free_ char *text = NULL;
	/* Every format takes the name as its only argument, by position. */
	int n = asprintf(&text, fmt, name);
	if (n < 0) {
		return -ENOMEM;
	}
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		return -errno;
	}
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w = write(fd, text + off, (size_t)n - off);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			return -errno;
		}
		off += (size_t)w;
	}
	/* open() applied the umask; an action must be executable whatever it is. */
	return fchmod(fd, mode) < 0 ? -errno : 0;
}

static int write_skeleton(const char *tmp, const char *name, char **ret_err)
{
	_cleanup_free_ char *actions = NULL;
	if (asprintf(&actions, "%s/actions", tmp) < 0) {
		return -ENOMEM;
	}
	if (mkdir(tmp, 0755) < 0 || mkdir(actions, 0755) < 0) {
		int err = -errno;
		return zr_fail(ret_err, err, "%s: %s", tmp, strerror(-err));
	}
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", tmp, files[i].path) < 0) {
			return -ENOMEM;
		}
		int err = write_file(path, files[i].fmt, name, files[i].mode);
		if (err < 0) {
			return zr_fail(ret_err, err, "%s: %s", path, strerror(-err));
		}
	}
	return 0;
}

int zr_scaffold_template(const char *name, const char *dir, char **ret_err)
{
	if (!zr_name_valid(name)) {
		return zr_fail(ret_err, -EINVAL,
			       "bad template name '%s': must match [a-z0-9][a-z0-9_.-]{0,62}", name);
	}
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0 ||
	    asprintf(&tmp, "%s/.%s.tmp-%d", dir, name, (int)getpid()) < 0) {
		return -ENOMEM;
	}
	int err = zr_mkdir_p(dir, 0755);
	if (err < 0) {
		return zr_fail(ret_err, err, "%s: %s", dir, strerror(-err));
	}
	struct stat st;
	if (lstat(path, &st) == 0) {
		return zr_fail(ret_err, -EEXIST, "%s: already exists", path);
	}
	(void)zr_rm_rf(tmp);
	err = write_skeleton(tmp, name, ret_err);
	/* rename() onto an empty folder made meanwhile would succeed: RENAME_NOREPLACE refuses. */
	if (err == 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) < 0) {
		err = -errno;
		err = zr_fail(ret_err, err, "%s: %s", path, strerror(-err));
	}
	if (err < 0) {
		(void)zr_rm_rf(tmp);
	}
	return err;
}
