/* The supervisor's view of a server's process tree: finding the command, killing what is left,
 * telling when it is gone. With a cgroup the kernel knows the tree; without one it is the
 * process group plus every process carrying the marker (a double-forked, setsid'd child left
 * the group but kept the environment). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "procstat.h"
#include "supervise-internal.h"

static int check_exec(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		int e = errno;
		return e == ENOTDIR ? -ENOENT : -e;
	}
	if (!S_ISREG(st.st_mode)) {
		return -EACCES;
	}
	return access(path, X_OK) < 0 ? -EACCES : 0;
}

int zr_sup__resolve(const char *name, const char *path_list, const char *cwd, char **ret)
{
	char *p = NULL;
	if (!*name) {
		return -ENOENT;
	}
	if (strchr(name, '/')) {
		if (name[0] == '/' || !cwd) {
			p = strdup(name);
		} else if (asprintf(&p, "%s/%s", cwd, name) < 0) {
			p = NULL;
		}
		if (!p) {
			return -ENOMEM;
		}
		int err = check_exec(p);
		if (err < 0) {
			free(p);
			return err;
		}
		*ret = p;
		return 0;
	}
	/* As execvp: the first executable match wins; one that exists but may not be run is
	 * remembered, so the answer is EACCES rather than ENOENT when nothing better is found. */
	const char *dirs = path_list ? path_list : "/usr/local/sbin:/usr/local/bin:/usr/sbin:"
						   "/usr/bin:/sbin:/bin";
	int best = -ENOENT;
	for (const char *d = dirs;; d++) {
		const char *end = strchrnul(d, ':');
		int n = (int)(end - d);
		/* An empty entry means the current folder, here the work folder. */
		int r = n == 0 ? asprintf(&p, "%s/%s", cwd ? cwd : ".", name)
			       : asprintf(&p, "%.*s/%s", n, d, name);
		if (r < 0) {
			return -ENOMEM;
		}
		int err = check_exec(p);
		if (err == 0) {
			*ret = p;
			return 0;
		}
		free(p);
		if (err == -EACCES) {
			best = err;
		}
		d = end;
		if (!*d) {
			break;
		}
	}
	return best;
}

static void kill_marked(struct zr_sup *s, int sig)
{
	pid_t *pids = NULL;
	size_t n = 0;
	if (zr_proc_marked(s->id, &pids, &n) < 0) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		(void)kill(pids[i], sig);
	}
	free(pids);
}

/* Without a cgroup of its own yet (a first start, after a robot restart), the service's
 * cgroup base/id may still hold what an earlier robot launched there: it becomes the tree's,
 * so that it is killed and removed like one this robot made. */
static void find_cgroup(struct zr_sup *s)
{
	if (s->cgroup || !s->cgroup_base) {
		return;
	}
	char *dir;
	if (asprintf(&dir, "%s/%s", s->cgroup_base, s->id) < 0) {
		return;
	}
	if (zr_cgroup_populated(dir)) {
		s->cgroup = dir;
		return;
	}
	free(dir);
}

void zr_sup__kill_tree(struct zr_sup *s)
{
	find_cgroup(s);
	if (s->cgroup && !s->marks_possible) {
		int err = zr_cgroup_kill(s->cgroup);
		if (err == 0 || err == -ENOENT) {
			return;
		}
	} else if (s->cgroup) {
		(void)zr_cgroup_kill(s->cgroup);
	}
	if (s->pgid > 0) {
		(void)kill(-s->pgid, SIGKILL);
	}
	if (s->pid > 0) {
		(void)kill(s->pid, SIGKILL);
	}
	if (s->marks_possible) {
		kill_marked(s, SIGKILL);
	}
}

void zr_sup__signal_group(struct zr_sup *s, int sig)
{
	if (s->pid > 0) {
		(void)kill(s->pid, sig);
	}
	if (s->pgid > 0) {
		(void)kill(-s->pgid, sig);
	}
}

bool zr_sup__tree_gone(struct zr_sup *s)
{
	if (s->pid > 0) {
		return false;
	}
	find_cgroup(s);
	if (s->cgroup && zr_cgroup_populated(s->cgroup)) {
		return false;
	}
	/* A cgroup holds the whole tree; the group and the sweep are for when there is none
	 * (or it could not be made). */
	if (s->cgroup && !s->marks_possible) {
		return true;
	}
	if (s->pgid > 0 && kill(-s->pgid, 0) == 0) {
		return false;
	}
	if (!s->marks_possible) {
		return true;
	}
	/* One sweep serves every supervisor that launched nothing since it was taken (the first
	 * starts of many servers at once); one that finds ours is taken again, fresh. */
	const struct zr_marks *m = zr_sup__marks_after(s->marks_since);
	size_t n = 0;
	if (m && !zr_marks_get(m, s->id, &n)) {
		return true;
	}
	m = zr_sup__marks_after(uv_hrtime());
	if (!m) {
		return false;
	}
	(void)zr_marks_get(m, s->id, &n);
	return n == 0;
}

long long zr_sup__start_wall_ns(unsigned long long start_time)
{
	FILE *f = fopen("/proc/stat", "re");
	if (!f) {
		return 0;
	}
	char line[256];
	long long btime = -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "btime %lld", &btime) == 1) {
			break;
		}
	}
	(void)fclose(f);
	long hz = sysconf(_SC_CLK_TCK);
	if (btime < 0 || hz <= 0) {
		return 0;
	}
	return btime * 1000000000LL + (long long)(start_time * 1000000000ULL / (unsigned long)hz);
}
