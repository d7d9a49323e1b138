/* The built-in templates' folder, by where the running binary is (see datadir.h). */
#include <libgen.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "datadir.h"

/* PREFIX for an exe_dir of PREFIX/BINDIR (BINDIR relative, as meson keeps it under the
 * prefix), in prefix; false otherwise. */
static bool prefix_of(const char *exe_dir, char prefix[PATH_MAX])
{
	size_t n = strlen(exe_dir), b = strlen(ZR_BINDIR);
	if (ZR_BINDIR[0] == '/' || b + 1 > n || exe_dir[n - b - 1] != '/' ||
	    strcmp(exe_dir + n - b, ZR_BINDIR) != 0) {
		return false;
	}
	snprintf(prefix, PATH_MAX, "%.*s", (int)(n - b - 1), exe_dir);
	return true;
}

char *zr_datadir_templates(void)
{
	char exe[PATH_MAX], prefix[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		return strdup(ZR_BUILTIN_TEMPLATES);
	}
	exe[n] = '\0';
	const char *dir = dirname(exe);
	if (strcmp(dir, ZR_BUILD_FS_DIR) == 0) {
		return strdup(ZR_SOURCE_TEMPLATES);
	}
	char *p = NULL;
	struct stat st;
	if (prefix_of(dir, prefix) && ZR_DATADIR[0] != '/' &&
	    asprintf(&p, "%s/%s/zrobot/templates", prefix, ZR_DATADIR) >= 0) {
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			return p;
		}
		free(p);
	}
	return strdup(ZR_BUILTIN_TEMPLATES);
}
