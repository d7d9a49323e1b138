/* What a supervised server's process tree uses, read from /proc: one stat read and one fd
 * listing per process, sockets matched by inode against a table read once per round. */
#include "procstat.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fields 4 .. 24 of /proc/PID/stat (ppid .. rss), after the state letter (field 3). */
#define STAT_FIRST 4
#define STAT_LAST 24
#define STAT_UTIME 14
#define STAT_STIME 15
#define STAT_THREADS 20
#define STAT_START 22
#define STAT_VSIZE 23
#define STAT_RSS 24

/* /proc/PID/stat is at most about 52 numbers and a comm of 64 bytes. */
#define STAT_BUF 1024

enum sock_kind { SOCK_LISTEN, SOCK_CONN };

struct sock {
	unsigned long long inode;
	enum sock_kind kind;
	char *addr; /* SOCK_LISTEN: "127.0.0.1:80", "[::1]:80", "/run/x.sock"; owned */
};

struct zr_sockets {
	struct sock *v; /* sorted by inode */
	size_t n, cap;
};

static int read_small(const char *path, char *buf, size_t size, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	ssize_t n = read(fd, buf, size - 1);
	int err = n < 0 ? -errno : 0;
	(void)close(fd);
	if (err < 0) {
		return err;
	}
	buf[n] = '\0';
	*ret_len = (size_t)n;
	return 0;
}

/* Parses a stat line into f[i - STAT_FIRST] for fields STAT_FIRST .. STAT_LAST. The comm
 * (field 2) may hold spaces and parens, so the fields start after its last ')'. -ESRCH for a
 * zombie. */
static int stat_parse(char *buf, unsigned long long f[STAT_LAST - STAT_FIRST + 1])
{
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ') {
		return -EIO;
	}
	p += 2;
	if (*p == 'Z' || *p == 'X') {
		return -ESRCH;
	}
	p++;
	for (int i = 0; i <= STAT_LAST - STAT_FIRST; i++) {
		char *end;
		/* ppid and a few others may be -1; they are read as is and not used. */
		f[i] = strtoull(p, &end, 10);
		if (end == p) {
			return -EIO;
		}
		p = end;
	}
	return 0;
}

/* Reads pid's stat into f. -ESRCH for a missing process or a zombie. */
static int stat_read(pid_t pid, unsigned long long f[STAT_LAST - STAT_FIRST + 1])
{
	char path[48], buf[STAT_BUF];
	size_t len;
	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int err = read_small(path, buf, sizeof(buf), &len);
	if (err < 0) {
		return err == -ENOENT ? -ESRCH : err;
	}
	return stat_parse(buf, f);
}

/* stat_read through *fd, opened on first use and kept: the fd pins the process (never one that
 * reused its pid), and a pread at 0 reads it afresh. Closed (-1) once the process is gone. */
static int stat_read_held(pid_t pid, int *fd, unsigned long long f[STAT_LAST - STAT_FIRST + 1])
{
	if (*fd < 0) {
		char path[48];
		(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0) {
			return errno == ENOENT ? -ESRCH : -errno;
		}
	}
	char buf[STAT_BUF];
	ssize_t n = pread(*fd, buf, sizeof(buf) - 1, 0);
	int err = n < 0 ? -ESRCH : 0;
	if (err == 0) {
		buf[n] = '\0';
		err = stat_parse(buf, f);
	}
	if (err < 0) {
		(void)close(*fd);
		*fd = -1;
	}
	return err;
}

int zr_proc_start_time(pid_t pid, unsigned long long *ret)
{
	unsigned long long f[STAT_LAST - STAT_FIRST + 1];
	int err = stat_read(pid, f);
	if (err < 0) {
		return err;
	}
	*ret = f[STAT_START - STAT_FIRST];
	return 0;
}

/* The whole of a /proc file whose size stat does not tell, into *buf (grown as needed). */
static int read_all(int dirfd, const char *name, char **buf, size_t *cap, size_t *ret_len)
{
	*ret_len = 0;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return -errno;
	}
	size_t len = 0;
	int err = 0;
	for (;;) {
		if (len == *cap) {
			size_t ncap = *cap ? *cap * 2 : 4096;
			char *nb = realloc(*buf, ncap);
			if (!nb) {
				err = -ENOMEM;
				break;
			}
			*buf = nb;
			*cap = ncap;
		}
		ssize_t n = read(fd, *buf + len, *cap - len);
		if (n < 0) {
			err = -errno;
			break;
		}
		if (n == 0) {
			break;
		}
		len += (size_t)n;
	}
	(void)close(fd);
	*ret_len = len;
	return err;
}

/* The value of env's entry "ZR_PROCESS_ID=..." (one of its NUL-separated strings), or NULL. */
static const char *env_marker(const char *env, size_t len, size_t *ret_len)
{
	static const char prefix[] = ZR_PROCESS_MARKER "=";
	size_t plen = sizeof(prefix) - 1;
	const char *p = env, *end = env + len;
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t n = (size_t)((nul ? nul : end) - p);
		if (n >= plen && memcmp(p, prefix, plen) == 0) {
			*ret_len = n - plen;
			return p + plen;
		}
		p += n + 1;
	}
	return NULL;
}

static bool is_pid_name(const char *s)
{
	if (!*s) {
		return false;
	}
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s)) {
			return false;
		}
	}
	return true;
}

/* Calls fn for every live process whose environment carries the marker, with the marker's
 * value (not NUL-terminated, borrowed for the call). Processes we may not read, kernel
 * threads and zombies (an empty environ) are skipped. Stops at fn's first error. */
typedef int (*marked_fn)(pid_t pid, const char *id, size_t len, void *data);

static int sweep_marked(marked_fn fn, void *data)
{
	DIR *proc = opendir("/proc");
	if (!proc) {
		return -errno;
	}
	char *buf = NULL;
	size_t cap = 0;
	int err = 0;
	struct dirent *de;
	while (err == 0 && (de = readdir(proc))) {
		if (!is_pid_name(de->d_name)) {
			continue;
		}
		char name[300];
		(void)snprintf(name, sizeof(name), "%s/environ", de->d_name);
		size_t len = 0, idlen;
		int r = read_all(dirfd(proc), name, &buf, &cap, &len);
		if (r == -ENOMEM) {
			err = r;
			break;
		}
		const char *id = r < 0 ? NULL : env_marker(buf, len, &idlen);
		if (id) {
			err = fn((pid_t)atoi(de->d_name), id, idlen, data);
		}
	}
	(void)closedir(proc);
	free(buf);
	return err;
}

struct pid_list {
	const char *id; /* zr_proc_marked: the one wanted */
	pid_t *v;
	size_t n, cap;
};

static int pid_list_add(struct pid_list *l, pid_t pid)
{
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 8;
		pid_t *nv = realloc(l->v, ncap * sizeof(*nv));
		if (!nv) {
			return -ENOMEM;
		}
		l->v = nv;
		l->cap = ncap;
	}
	l->v[l->n++] = pid;
	return 0;
}

static int marked_one(pid_t pid, const char *id, size_t len, void *data)
{
	struct pid_list *l = data;
	if (len != strlen(l->id) || memcmp(id, l->id, len) != 0) {
		return 0;
	}
	return pid_list_add(l, pid);
}

int zr_proc_marked(const char *id, pid_t **ret, size_t *n)
{
	struct pid_list l = {.id = id};
	int err = sweep_marked(marked_one, &l);
	if (err < 0) {
		free(l.v);
		return err;
	}
	*ret = l.v;
	*n = l.n;
	return 0;
}

struct mark {
	char *id; /* owned */
	pid_t pid;
};

struct zr_marks {
	struct mark *v; /* sorted by id, then pid */
	size_t n, cap;
	pid_t *pids;    /* v's pids in the same order, for zr_marks_get */
};

static int marks_one(pid_t pid, const char *id, size_t len, void *data)
{
	struct zr_marks *m = data;
	if (m->n == m->cap) {
		size_t ncap = m->cap ? m->cap * 2 : 64;
		struct mark *nv = realloc(m->v, ncap * sizeof(*nv));
		if (!nv) {
			return -ENOMEM;
		}
		m->v = nv;
		m->cap = ncap;
	}
	char *copy = strndup(id, len);
	if (!copy) {
		return -ENOMEM;
	}
	m->v[m->n++] = (struct mark){.id = copy, .pid = pid};
	return 0;
}

static int mark_cmp(const void *a, const void *b)
{
	const struct mark *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	return c ? c : (x->pid > y->pid) - (x->pid < y->pid);
}

void zr_marks_free(struct zr_marks *m)
{
	if (!m) {
		return;
	}
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].id);
	}
	free(m->v);
	free(m->pids);
	free(m);
}

int zr_marks_read(struct zr_marks **ret)
{
	struct zr_marks *m = calloc(1, sizeof(*m));
	if (!m) {
		return -ENOMEM;
	}
	int err = sweep_marked(marks_one, m);
	if (err == 0 && m->n > 0) {
		qsort(m->v, m->n, sizeof(*m->v), mark_cmp);
		m->pids = malloc(m->n * sizeof(*m->pids));
		if (!m->pids) {
			err = -ENOMEM;
		}
		for (size_t i = 0; err == 0 && i < m->n; i++) {
			m->pids[i] = m->v[i].pid;
		}
	}
	if (err < 0) {
		zr_marks_free(m);
		return err;
	}
	*ret = m;
	return 0;
}

const pid_t *zr_marks_get(const struct zr_marks *m, const char *id, size_t *n)
{
	/* The first entry of id: a lower bound over the sorted ids. */
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(m->v[mid].id, id) < 0) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	size_t end = lo;
	while (end < m->n && strcmp(m->v[end].id, id) == 0) {
		end++;
	}
	*n = end - lo;
	return end > lo ? m->pids + lo : NULL;
}

void zr_sockets_free(struct zr_sockets *s)
{
	if (!s) {
		return;
	}
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].addr);
	}
	free(s->v);
	free(s);
}

/* Takes ownership of addr (NULL for a connection). */
static int sockets_add(struct zr_sockets *s, unsigned long long inode, enum sock_kind kind,
		       char *addr)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct sock *nv = realloc(s->v, ncap * sizeof(*nv));
		if (!nv) {
			free(addr);
			return -ENOMEM;
		}
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = (struct sock){.inode = inode, .kind = kind, .addr = addr};
	return 0;
}

/* The kernel prints an address as the %08X of each 32-bit word as it lies in memory, so
 * parsing the words back and storing them natively gives the network-order bytes. */
static int hex_addr(const char *hex, size_t nwords, unsigned char *out)
{
	for (size_t i = 0; i < nwords; i++) {
		char word[9];
		memcpy(word, hex + 8 * i, 8);
		word[8] = '\0';
		char *end;
		uint32_t w = (uint32_t)strtoul(word, &end, 16);
		if (end != word + 8) {
			return -EIO;
		}
		memcpy(out + 4 * i, &w, 4);
	}
	return 0;
}

/* One line of /proc/net/tcp or tcp6: "sl local rem st ... uid timeout inode ...". */
static int tcp_line(struct zr_sockets *s, const char *line, bool v6)
{
	char local[64], remote[64];
	unsigned st;
	unsigned long long inode;
	if (sscanf(line, "%*s %63s %63s %x %*s %*s %*s %*s %*s %llu", local, remote, &st,
		   &inode) != 4 || inode == 0) {
		/* The header, or a socket no process holds (TIME_WAIT). */
		return 0;
	}
	if (st != 0x0A) {
		return sockets_add(s, inode, SOCK_CONN, NULL);
	}
	size_t hexlen = v6 ? 32 : 8;
	char *colon = strchr(local, ':');
	if (!colon || (size_t)(colon - local) != hexlen) {
		return 0;
	}
	unsigned char bytes[16];
	if (hex_addr(local, hexlen / 8, bytes) < 0) {
		return 0;
	}
	unsigned port = (unsigned)strtoul(colon + 1, NULL, 16);
	char text[INET6_ADDRSTRLEN];
	if (!inet_ntop(v6 ? AF_INET6 : AF_INET, bytes, text, sizeof(text))) {
		return 0;
	}
	char *addr;
	if (asprintf(&addr, v6 ? "[%s]:%u" : "%s:%u", text, port) < 0) {
		return -ENOMEM;
	}
	return sockets_add(s, inode, SOCK_LISTEN, addr);
}

/* One line of /proc/net/unix: "Num RefCount Protocol Flags Type St Inode [Path]". Only
 * listening (__SO_ACCEPTCON) stream sockets with a path are kept. */
static int unix_line(struct zr_sockets *s, const char *line)
{
	unsigned long flags, type;
	unsigned long long inode;
	int path_at = -1;
	if (sscanf(line, "%*s %*s %*s %lx %lx %*s %llu %n", &flags, &type, &inode, &path_at) < 3 ||
	    path_at < 0) {
		return 0;
	}
	const char *path = line + path_at;
	size_t len = strcspn(path, "\n");
	if (!(flags & 0x10000) || type != 1 || len == 0) {
		return 0;
	}
	char *addr = strndup(path, len);
	if (!addr) {
		return -ENOMEM;
	}
	return sockets_add(s, inode, SOCK_LISTEN, addr);
}

static int sockets_parse(struct zr_sockets *s, const char *path, int which)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		/* No IPv6 in this kernel (tcp6 missing) is no error. */
		return errno == ENOENT ? 0 : -errno;
	}
	char *line = NULL;
	size_t cap = 0;
	int err = 0;
	while (err == 0 && getline(&line, &cap, f) > 0) {
		err = which == 2 ? unix_line(s, line) : tcp_line(s, line, which == 1);
	}
	free(line);
	(void)fclose(f);
	return err;
}

static int sock_cmp(const void *a, const void *b)
{
	const struct sock *x = a, *y = b;
	return x->inode < y->inode ? -1 : x->inode > y->inode;
}

int zr_sockets_read(struct zr_sockets **ret)
{
	struct zr_sockets *s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	static const char *const files[] = {"/proc/net/tcp", "/proc/net/tcp6", "/proc/net/unix"};
	for (int i = 0; i < 3; i++) {
		int err = sockets_parse(s, files[i], i);
		if (err < 0) {
			zr_sockets_free(s);
			return err;
		}
	}
	if (s->n > 0) {
		qsort(s->v, s->n, sizeof(*s->v), sock_cmp);
	}
	*ret = s;
	return 0;
}

static const struct sock *sockets_find(const struct zr_sockets *s, unsigned long long inode)
{
	struct sock key = {.inode = inode};
	return s->n ? bsearch(&key, s->v, s->n, sizeof(*s->v), sock_cmp) : NULL;
}

/* The listening addresses found so far (borrowed from the socket table until the end). */
struct addrs {
	const char **v;
	size_t n, cap;
};

/* Counts pid's fds and, with socks, its connections and listening sockets. A process that
 * vanished or whose fds we may not read counts none. */
static int fds_scan(pid_t pid, const struct zr_sockets *socks, struct zr_procstat *st,
		    struct addrs *listening)
{
	char path[48];
	(void)snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	if (!socks) {
		/* Since Linux 6.2 the folder's size is its count of fds: one stat instead of a
		 * listing. 0 (an older kernel, or really none) is told by the listing. */
		struct stat sb;
		if (stat(path, &sb) == 0 && sb.st_size > 0) {
			st->fds += (unsigned)sb.st_size;
			return 0;
		}
	}
	DIR *d = opendir(path);
	if (!d) {
		return 0;
	}
	int err = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.') {
			continue;
		}
		st->fds++;
		if (!socks) {
			continue;
		}
		char link[64];
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 8 || memcmp(link, "socket:[", 8) != 0) {
			continue;
		}
		link[n] = '\0';
		const struct sock *sk = sockets_find(socks, strtoull(link + 8, NULL, 10));
		if (!sk) {
			continue;
		}
		if (sk->kind == SOCK_CONN) {
			st->connections++;
			continue;
		}
		if (listening->n == listening->cap) {
			size_t ncap = listening->cap ? listening->cap * 2 : 8;
			const char **nv = realloc(listening->v, ncap * sizeof(*nv));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			listening->v = nv;
			listening->cap = ncap;
		}
		listening->v[listening->n++] = sk->addr;
	}
	(void)closedir(d);
	return err;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted, unique copies of l's addresses into st->listening. */
static int listening_set(struct addrs *l, struct zr_procstat *st)
{
	if (l->n > 0) {
		qsort(l->v, l->n, sizeof(*l->v), str_cmp);
	}
	char **v = calloc(l->n + 1, sizeof(*v));
	if (!v) {
		return -ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (n > 0 && strcmp(v[n - 1], l->v[i]) == 0) {
			continue;
		}
		if (!(v[n] = strdup(l->v[i]))) {
			for (size_t j = 0; j < n; j++) {
				free(v[j]);
			}
			free(v);
			return -ENOMEM;
		}
		n++;
	}
	st->listening = v;
	st->n_listening = n;
	return 0;
}

int zr_procstat_sample(const pid_t *pids, size_t n, const struct zr_sockets *socks,
		       struct zr_procstat *ret)
{
	return zr_procstat_sample_held(pids, n, 0, NULL, socks, ret);
}

int zr_procstat_sample_held(const pid_t *pids, size_t n, pid_t main, int *main_fd,
			    const struct zr_sockets *socks, struct zr_procstat *ret)
{
	long page = sysconf(_SC_PAGESIZE), ticks = sysconf(_SC_CLK_TCK);
	struct zr_procstat st = {0};
	struct addrs listening = {0};
	unsigned long long cpu_ticks = 0;
	int err = 0;
	for (size_t i = 0; i < n && err == 0; i++) {
		unsigned long long f[STAT_LAST - STAT_FIRST + 1];
		int r = main > 0 && pids[i] == main && main_fd ? stat_read_held(main, main_fd, f)
							      : stat_read(pids[i], f);
		if (r < 0) {
			continue;
		}
		st.nprocs++;
		st.rss += f[STAT_RSS - STAT_FIRST] * (unsigned long long)page;
		st.vms += f[STAT_VSIZE - STAT_FIRST];
		cpu_ticks += f[STAT_UTIME - STAT_FIRST] + f[STAT_STIME - STAT_FIRST];
		st.threads += (unsigned)f[STAT_THREADS - STAT_FIRST];
		err = fds_scan(pids[i], socks, &st, &listening);
	}
	st.cpu_seconds = (double)cpu_ticks / (double)ticks;
	if (err == 0) {
		err = listening_set(&listening, &st);
	}
	free(listening.v);
	if (err < 0) {
		*ret = (struct zr_procstat){0};
		return err;
	}
	*ret = st;
	return 0;
}

void zr_procstat_done(struct zr_procstat *s)
{
	if (!s) {
		return;
	}
	for (size_t i = 0; i < s->n_listening; i++) {
		free(s->listening[i]);
	}
	free(s->listening);
	*s = (struct zr_procstat){0};
}
