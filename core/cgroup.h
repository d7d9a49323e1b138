/* cgroup v2 for supervised servers (DESIGN §6): one cgroup per server, so stopping it kills the
 * whole tree (cgroup.kill), however it forked or setsid'd. Plain file operations, no loop. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

/* The folder servers' cgroups are made in: "<cgroup2 mount><the robot's cgroup>/zrobot.servers"
 * (made if missing; the mount found in /proc/self/mountinfo, the robot's cgroup in the "0::"
 * line of /proc/self/cgroup). Returns 0 and *ret (malloc'd), or a negative errno with *why
 * (malloc'd) when cgroup v2 is not usable here (no cgroup2 mount, read-only, not delegated):
 * the caller then falls back to process groups (procstat.h zr_proc_marked). */
int zr_cgroup_base(char **ret, char **why);

/* Makes base/id (an existing one is fine: adopted). 0 and *ret_dir (malloc'd), or -errno. */
int zr_cgroup_make(const char *base, const char *id, char **ret_dir);
/* Kills every process in dir: cgroup.kill (Linux 5.14), else SIGKILL to each pid of
 * cgroup.procs until it is empty. 0 or -errno (-ENOENT: dir gone, nothing to kill). */
int zr_cgroup_kill(const char *dir);
/* True while dir holds a process (cgroup.events "populated 1"); false when gone or empty. */
bool zr_cgroup_populated(const char *dir);
/* Removes dir once empty: 0, -EBUSY (still populated), -errno. -ENOENT counts as done (0). */
int zr_cgroup_remove(const char *dir);
/* The pids in dir (cgroup.procs): 0 and *ret (malloc'd, may be NULL when *n is 0), -errno. */
int zr_cgroup_pids(const char *dir, pid_t **ret, size_t *n);
/* The same through *fd, dir's cgroup.procs opened on first use (*fd -1) and kept open for the
 * next call, which reads it afresh (what a sampler saves the open of, every round); closed
 * and -1 again on an error (-ENOENT: dir gone). The caller closes it when done. */
int zr_cgroup_pids_held(const char *dir, int *fd, pid_t **ret, size_t *n);
/* memory.max of dir: 0, or -ENOTSUP when the memory controller is not available there (the
 * caller then applies the limit from samples). */
int zr_cgroup_set_memory_max(const char *dir, unsigned long long bytes);
/* The absolute cgroup folder pid is in ("<mount><path>"), for adoption; -errno. */
int zr_cgroup_of(pid_t pid, char **ret);
