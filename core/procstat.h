/* What a supervised server's whole process tree uses, read from /proc (DESIGN §6 `stats`), and
 * the identity of a process across robot restarts (pid + start time). Synchronous and without
 * the loop: the supervisor calls it off the loop or in small batches. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* The environment variable every server and its descendants carry, "ZR_PROCESS_ID=<id>": finds
 * the tree where there is no cgroup (and a double-forked, setsid'd child with it). */
#define ZR_PROCESS_MARKER "ZR_PROCESS_ID"

/* Start time of pid: field 22 of /proc/PID/stat (clock ticks since boot). 0, or -ESRCH when
 * there is no such process (or it is a zombie), -errno. */
int zr_proc_start_time(pid_t pid, unsigned long long *ret);

/* Every live process whose environment holds ZR_PROCESS_MARKER=id (a /proc sweep; processes we
 * may not read are skipped). 0 and *ret (malloc'd, NULL when *n is 0), or -ENOMEM. */
int zr_proc_marked(const char *id, pid_t **ret, size_t *n);

/* The same for every id at once, in one /proc sweep: what a sampling round over many servers
 * without cgroups uses (zr_proc_marked per server would sweep /proc once each). */
struct zr_marks;
int zr_marks_read(struct zr_marks **ret);
/* The pids marked id, sorted (borrowed from m until zr_marks_free); *n is 0 (and NULL
 * returned) when none. */
const pid_t *zr_marks_get(const struct zr_marks *m, const char *id, size_t *n);
void zr_marks_free(struct zr_marks *m);

struct zr_procstat {
	unsigned long long rss;         /* bytes, summed over the tree */
	unsigned long long vms;         /* bytes */
	double cpu_seconds;             /* user + system time of the live processes, seconds */
	unsigned nprocs, threads, fds;
	unsigned connections;           /* TCP sockets of the tree that are not listening */
	char **listening;               /* "127.0.0.1:6379", "[::1]:6379", "/path.sock" (unix),
					   sorted, unique; NULL-terminated; owned */
	size_t n_listening;
};

/* The sockets of the network namespace (/proc/net/tcp, tcp6, unix), read once and used for
 * every server of a sampling round. */
struct zr_sockets;
int zr_sockets_read(struct zr_sockets **ret);
void zr_sockets_free(struct zr_sockets *s);

/* Samples pids (a tree: cgroup.procs or zr_proc_marked) into *ret (zeroed first). Processes
 * that vanished meanwhile are skipped. socks may be NULL (connections and listening left 0).
 * 0 or -ENOMEM. */
int zr_procstat_sample(const pid_t *pids, size_t n, const struct zr_sockets *socks,
		       struct zr_procstat *ret);
/* The same, with main's /proc/PID/stat read through *main_fd: opened on first use (*main_fd
 * -1) and kept for the next sample, which reads it afresh (a sampler of the same server every
 * round saves that open); closed and -1 again once main is gone. The caller closes it when
 * done (or main changes). */
int zr_procstat_sample_held(const pid_t *pids, size_t n, pid_t main, int *main_fd,
			    const struct zr_sockets *socks, struct zr_procstat *ret);
void zr_procstat_done(struct zr_procstat *s);
