/* cgroup v2 for supervised servers: where the hierarchy is, the servers' folder, and making,
 * killing, watching and removing one server's cgroup with plain file operations. */
#include "cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/log.h"

#define SERVERS_DIR "zrobot.servers"

/* ZR_CGROUP_NO_KILL_FILE (the unit test's own build) acts as if cgroup.kill were missing, as
 * on kernels before 5.14, so that the fallback is tested on this machine too. */
#ifdef ZR_CGROUP_NO_KILL_FILE
#define KILL_FILE "cgroup.kill-missing"
#else
#define KILL_FILE "cgroup.kill"
#endif

static void free_fp(FILE **f)
{
	if (*f) {
		(void)fclose(*f);
	}
}
#define _cleanup_fclose_ __attribute__((cleanup(free_fp)))

/* Undoes the octal escapes (\040 for a space, \011, \012, \134) of a mountinfo field, in
 * place. */
static void unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' && r[2] <= '7' &&
		    r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 | (r[3] - '0'));
			r += 3;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/* The first cgroup2 mount of /proc/self/mountinfo: its mount point, the root of the
 * hierarchy it shows (not "/" inside a cgroup namespace or for a bind mount of a subtree) and
 * whether it is read-only. -ENOENT when there is none. */
static int find_mount(char **ret_mnt, char **ret_root, bool *ret_ro)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	if (!f) {
		return -errno;
	}
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	while (getline(&line, &cap, f) > 0) {
		/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPER" */
		char *fields[6] = { NULL };
		char *save = NULL, *tok = strtok_r(line, " \n", &save);
		int i = 0;
		for (; tok && i < 6; i++, tok = strtok_r(NULL, " \n", &save)) {
			fields[i] = tok;
		}
		while (tok && strcmp(tok, "-") != 0) {
			tok = strtok_r(NULL, " \n", &save);
		}
		const char *fstype = tok ? strtok_r(NULL, " \n", &save) : NULL;
		if (i < 6 || !fstype || strcmp(fstype, "cgroup2") != 0) {
			continue;
		}
		unescape(fields[3]);
		unescape(fields[4]);
		char *mnt = strdup(fields[4]), *root = strdup(fields[3]);
		if (!mnt || !root) {
			free(mnt);
			free(root);
			return -ENOMEM;
		}
		/* The per-mount options come first: "ro,nosuid,..." or "rw,...". */
		*ret_ro = strncmp(fields[5], "ro", 2) == 0 && (fields[5][2] == ',' ||
								fields[5][2] == '\0');
		*ret_mnt = mnt;
		*ret_root = root;
		return 0;
	}
	return ferror(f) ? -EIO : -ENOENT;
}

/* The cgroup v2 path of pid (the "0::" line of /proc/PID/cgroup), relative to the root of the
 * reader's cgroup namespace. -ENOENT when the process has none (cgroup v1 only), -ESRCH gone. */
static int own_path(pid_t pid, char **ret)
{
	char file[64];
	if (pid == 0) {
		snprintf(file, sizeof(file), "/proc/self/cgroup");
	} else {
		snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	}
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	if (!f) {
		return errno == ENOENT ? -ESRCH : -errno;
	}
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (strncmp(line, "0::", 3) != 0) {
			continue;
		}
		if (line[n - 1] == '\n') {
			line[n - 1] = '\0';
		}
		char *p = strdup(line + 3);
		if (!p) {
			return -ENOMEM;
		}
		*ret = p;
		return 0;
	}
	return ferror(f) ? -EIO : -ENOENT;
}

/* "<mount><path>": the folder of a cgroup path seen from a mount of root. A path outside what
 * the mount shows ("/../x" across cgroup namespaces) has no folder here: -ENOENT. */
static int cgroup_dir(const char *mnt, const char *root, const char *path, char **ret)
{
	size_t rl = strcmp(root, "/") == 0 ? 0 : strlen(root);
	if (rl > 0 && (strncmp(path, root, rl) != 0 || (path[rl] != '/' && path[rl] != '\0'))) {
		return -ENOENT;
	}
	if (strncmp(path, "/..", 3) == 0) {
		return -ENOENT;
	}
	const char *rest = path + rl;
	if (strcmp(rest, "/") == 0) {
		rest = "";
	}
	char *d;
	if (asprintf(&d, "%s%s", mnt, rest) < 0) {
		return -ENOMEM;
	}
	*ret = d;
	return 0;
}

/* Reads a small cgroup file whole (they are at most a few pages): 0 and *ret, or -errno. */
/* The whole of fd from offset 0 (pread: a held fd is read afresh each time). */
static int read_fd(int fd, char **ret)
{
	size_t cap = 4096, len = 0;
	_cleanup_free_ char *buf = malloc(cap);
	if (!buf) {
		return -ENOMEM;
	}
	for (;;) {
		if (cap - len < 2) {
			char *b = realloc(buf, cap * 2);
			if (!b) {
				return -ENOMEM;
			}
			buf = b;
			cap *= 2;
		}
		ssize_t n = pread(fd, buf + len, cap - len - 1, (off_t)len);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return -errno;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

static int read_file(const char *dir, const char *name, char **ret)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		return -ENOMEM;
	}
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	return read_fd(fd, ret);
}

static int write_file(const char *dir, const char *name, const char *text)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", dir, name) < 0) {
		return -ENOMEM;
	}
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	size_t len = strlen(text);
	ssize_t n = write(fd, text, len);
	if (n < 0) {
		return -errno;
	}
	return (size_t)n == len ? 0 : -EIO;
}

static bool dir_exists(const char *dir)
{
	struct stat st;
	return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

int zr_cgroup_base(char **ret, char **why)
{
	_cleanup_free_ char *mnt = NULL, *root = NULL, *path = NULL, *own = NULL, *base = NULL;
	bool ro = false;
	int r = find_mount(&mnt, &root, &ro);
	if (r == -ENOENT) {
		return zr_fail(why, r, "no cgroup2 file system is mounted");
	}
	if (r < 0) {
		return zr_fail(why, r, "cannot read /proc/self/mountinfo: %s", strerror(-r));
	}
	if (ro) {
		return zr_fail(why, -EROFS, "cgroup2 at %s is mounted read-only", mnt);
	}
	r = own_path(0, &path);
	if (r < 0) {
		return zr_fail(why, r, "cannot find the robot's cgroup v2 in /proc/self/cgroup: %s",
			       strerror(-r));
	}
	r = cgroup_dir(mnt, root, path, &own);
	if (r < 0) {
		return zr_fail(why, r, "the robot's cgroup %s is outside cgroup2 at %s (root %s)", path,
			       mnt, root);
	}
	/* Moving a server into its cgroup writes the common ancestor's cgroup.procs: the robot's
	 * own cgroup must be ours to write (delegated to us, or we are root). */
	_cleanup_free_ char *procs = NULL;
	if (asprintf(&procs, "%s/cgroup.procs", own) < 0 || asprintf(&base, "%s/" SERVERS_DIR,
								     own) < 0) {
		return -ENOMEM;
	}
	if (access(procs, W_OK) < 0) {
		r = -errno;
		return zr_fail(why, r, "cannot write %s (the robot's cgroup is not delegated to it): %s",
			       procs, strerror(-r));
	}
	/* The servers go in a folder beside the robot, never in its own cgroup: a cgroup.kill
	 * there would kill the robot. The robot itself is not moved, even where its cgroup has
	 * controllers enabled in cgroup.subtree_control while holding processes (only the root
	 * cgroup may: "no internal processes" refuses it elsewhere): its cgroup belongs to whoever
	 * started it (systemd's unit, a container runtime), which accounts and stops the robot
	 * through it, and moving the robot would hide it from them. The price is only that
	 * memory.max may be unavailable in zrobot.servers; zr_cgroup_set_memory_max says so. */
	if (mkdir(base, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		return zr_fail(why, r, "cannot make %s: %s", base, strerror(-r));
	}
	if (!dir_exists(base)) {
		return zr_fail(why, -ENOTDIR, "%s is not a cgroup folder", base);
	}
	*ret = TAKE_PTR(base);
	return 0;
}

int zr_cgroup_make(const char *base, const char *id, char **ret_dir)
{
	if (!*id || strchr(id, '/') || strcmp(id, ".") == 0 || strcmp(id, "..") == 0) {
		return -EINVAL;
	}
	char *dir;
	if (asprintf(&dir, "%s/%s", base, id) < 0) {
		return -ENOMEM;
	}
	/* An existing one is a server's from before a robot restart: adopted as it is. */
	if (mkdir(dir, 0755) < 0 && (errno != EEXIST || !dir_exists(dir))) {
		int r = errno == EEXIST ? -ENOTDIR : -errno;
		free(dir);
		return r;
	}
	*ret_dir = dir;
	return 0;
}

static int pids_parse(char *text, pid_t **ret, size_t *n)
{
	size_t count = 0, cap = 0;
	_cleanup_free_ pid_t *pids = NULL;
	for (char *p = text; *p;) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p) {
			break;
		}
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			pid_t *np = realloc(pids, cap * sizeof(*np));
			if (!np) {
				return -ENOMEM;
			}
			pids = np;
		}
		pids[count++] = (pid_t)v;
		p = end + strspn(end, "\n");
	}
	*ret = count ? TAKE_PTR(pids) : NULL;
	*n = count;
	return 0;
}

int zr_cgroup_pids(const char *dir, pid_t **ret, size_t *n)
{
	_cleanup_free_ char *text = NULL;
	int r = read_file(dir, "cgroup.procs", &text);
	if (r < 0) {
		return r;
	}
	return pids_parse(text, ret, n);
}

int zr_cgroup_pids_held(const char *dir, int *fd, pid_t **ret, size_t *n)
{
	if (*fd < 0) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/cgroup.procs", dir) < 0) {
			return -ENOMEM;
		}
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0) {
			return -errno;
		}
	}
	_cleanup_free_ char *text = NULL;
	int r = read_fd(*fd, &text);
	if (r < 0) {
		(void)close(*fd);
		*fd = -1;
		return r == -ENODEV ? -ENOENT : r;
	}
	return pids_parse(text, ret, n);
}

/* Kernels before 5.14: freeze the cgroup so that nothing in it can fork while it is swept
 * (the v2 freezer lets SIGKILL through), SIGKILL each pid, thaw, and sweep again until a
 * round finds no pid it has not signalled already (the rest are dying). Without cgroup.freeze
 * (before 5.2) the repeated sweeps alone catch what forked meanwhile. */
static int kill_by_sweep(const char *dir)
{
	bool frozen = write_file(dir, "cgroup.freeze", "1") == 0;
	pid_t *seen = NULL;
	size_t n_seen = 0;
	int r = 0;
	for (int round = 0; round < 1000; round++) {
		pid_t *pids;
		size_t n;
		r = zr_cgroup_pids(dir, &pids, &n);
		if (r < 0) {
			break;
		}
		size_t fresh = 0;
		for (size_t i = 0; i < n; i++) {
			bool known = false;
			for (size_t k = 0; k < n_seen && !known; k++) {
				known = seen[k] == pids[i];
			}
			if (!known) {
				(void)kill(pids[i], SIGKILL);
				pids[fresh++] = pids[i];
			}
		}
		if (fresh == 0) {
			free(pids);
			break;
		}
		pid_t *ns = realloc(seen, (n_seen + fresh) * sizeof(*ns));
		if (!ns) {
			free(pids);
			r = -ENOMEM;
			break;
		}
		seen = ns;
		memcpy(seen + n_seen, pids, fresh * sizeof(*pids));
		n_seen += fresh;
		free(pids);
	}
	if (frozen) {
		(void)write_file(dir, "cgroup.freeze", "0");
	}
	free(seen);
	return r;
}

int zr_cgroup_kill(const char *dir)
{
	if (!dir_exists(dir)) {
		return -ENOENT;
	}
	int r = write_file(dir, KILL_FILE, "1");
	if (r != -ENOENT) {
		return r;
	}
	return kill_by_sweep(dir);
}

bool zr_cgroup_populated(const char *dir)
{
	_cleanup_free_ char *text = NULL;
	if (read_file(dir, "cgroup.events", &text) < 0) {
		return false;
	}
	for (char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, "populated ", 10) == 0) {
			return p[10] == '1';
		}
	}
	return false;
}

int zr_cgroup_remove(const char *dir)
{
	if (rmdir(dir) == 0 || errno == ENOENT) {
		return 0;
	}
	return -errno;
}

int zr_cgroup_set_memory_max(const char *dir, unsigned long long bytes)
{
	char text[32];
	snprintf(text, sizeof(text), "%llu", bytes);
	int r = write_file(dir, "memory.max", text);
	if (r != -ENOENT) {
		return r;
	}
	/* memory.max appears once the parent (zrobot.servers, which holds no process) passes the
	 * controller down; that works only where the robot's cgroup passes it to zrobot.servers
	 * in turn, which we do not arrange (see zr_cgroup_base). */
	_cleanup_free_ char *parent = strdup(dir);
	char *slash = parent ? strrchr(parent, '/') : NULL;
	if (!parent) {
		return -ENOMEM;
	}
	if (!slash || slash == parent) {
		return -ENOTSUP;
	}
	*slash = '\0';
	if (write_file(parent, "cgroup.subtree_control", "+memory") < 0) {
		return -ENOTSUP;
	}
	r = write_file(dir, "memory.max", text);
	return r == -ENOENT ? -ENOTSUP : r;
}

int zr_cgroup_of(pid_t pid, char **ret)
{
	_cleanup_free_ char *mnt = NULL, *root = NULL, *path = NULL;
	bool ro;
	int r = find_mount(&mnt, &root, &ro);
	if (r < 0) {
		return r;
	}
	r = own_path(pid, &path);
	if (r < 0) {
		return r;
	}
	return cgroup_dir(mnt, root, path, ret);
}
