/* zrobot repo add URL[#REF]: asks the running robot to clone, then shows its progress. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "giturl.h"
#include "options.h"
#include "util/cleanup.h"
#include "util/url.h"

/* The mount point the CLI talks to: --mount DIR, else the robot's default. */
static char *cli_mount(int argc, char **argv)
{
	for (int i = 0; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--mount") == 0) {
			return strdup(argv[i + 1]);
		}
	}
	return zr_options_default_path("/zr", "zr");
}

static int read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	ssize_t n = read(fd, buf, size - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return err;
}

/* Writes spec to the robot's @robot/repos/add. Returns 0, or a negative errno after telling
 * stderr. */
static int request_add(const char *mount, const char *spec)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/@robot/repos/add", mount);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, spec, strlen(spec)) < 0) {
		int e = errno;
		_cleanup_free_ char *shown = zr_url_redact(spec);
		fprintf(stderr, "zrobot: cannot add %s through %s: %s\n",
			shown ? shown : "the repository", path, strerror(e));
		if (fd >= 0) {
			close(fd);
		}
		return -e;
	}
	close(fd);
	return 0;
}

/* Polls the repository's status until it is ready or failed, with a progress bar on a
 * terminal; prints the last status. Returns the exit status. */
static int follow_status(const char *mount, const char *id)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/@robot/repos/%s/status", mount, id);
	bool tty = isatty(STDERR_FILENO);
	char st[4096];
	for (;;) {
		if (read_small(path, st, sizeof(st)) < 0) {
			fprintf(stderr, "zrobot: cannot read %s: %s\n", path, strerror(errno));
			return 1;
		}
		const char *p = strstr(st, "progress ");
		if (tty && p) {
			unsigned got = 0, total = 0;
			int pct = 0;
			(void)sscanf(p, "progress %u/%u objects %d%%", &got, &total, &pct);
			int w = pct / 4;
			fprintf(stderr, "\r[%-25.*s] %3d%% %u/%u objects", w,
				"#########################", pct, got, total);
		}
		if (strncmp(st, "state ready", 11) == 0 || strncmp(st, "state failed", 12) == 0) {
			break;
		}
		usleep(100 * 1000);
	}
	if (tty) {
		fputc('\n', stderr);
	}
	fputs(st, stdout);
	return strncmp(st, "state ready", 11) == 0 ? 0 : 1;
}

void zr_cmd_repo_usage(FILE *f)
{
	fputs("Usage: zrobot repo add URL[#REF] [--mount DIR]\n\n"
	      "Asks the robot mounted at DIR (default /zr as root, else $HOME/zr) to clone a git\n"
	      "repository of templates (REF: a branch, tag or commit; default HEAD), shows its\n"
	      "progress and exits 0 once its templates are loaded.\n\n"
	      "  --mount DIR        the running robot's mount point\n", f);
}

int zr_cmd_repo_add(int argc, char **argv)
{
	if (argc < 1 || argv[0][0] == '-') {
		zr_cmd_repo_usage(stderr);
		return 2;
	}
	_cleanup_free_ char *mount = cli_mount(argc, argv);
	_cleanup_free_ char *url = NULL, *ref = NULL, *spec = NULL, *id = NULL;
	char abs[PATH_MAX];
	if (!mount || zr_giturl_split(argv[0], &url, &ref) < 0) {
		_cleanup_free_ char *shown = zr_url_redact(argv[0]);
		fprintf(stderr, "zrobot: bad repository '%s': want URL[#REF]\n", shown ? shown : "?");
		return 2;
	}
	/* The robot runs elsewhere: a local path must not depend on our working directory. */
	if (zr_giturl_is_path(url) && url[0] != '/' && realpath(url, abs)) {
		free(url);
		url = strdup(abs);
	}
	if (!url || asprintf(&spec, "%s%s%s", url, ref ? "#" : "", ref ? ref : "") < 0 ||
	    zr_giturl_id(url, ref, &id) < 0) {
		fprintf(stderr, "zrobot: out of memory\n");
		return 1;
	}
	if (request_add(mount, spec) < 0) {
		return 1;
	}
	return follow_status(mount, id);
}
