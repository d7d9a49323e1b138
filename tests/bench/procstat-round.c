/* What one sampling round of `stats` costs (issue 13: 1,000 servers sampled every 2 s should
 * cost < 2 % of a core): N `sleep infinity` processes, then ROUNDS rounds of one socket table
 * read and one zr_procstat_sample per process, timed in CPU and wall time; and one marked sweep
 * of /proc for one id and one for all (zr_marks_read: the tree finder where there is no cgroup).
 * Prints numbers, asserts nothing.
 *
 *     build/tests/bench/procstat-round [N=1000] [ROUNDS=5]
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"

static double now(void)
{
	struct timespec ts;
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;
	(void)getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	if (n < 1 || rounds < 1) {
		fprintf(stderr, "usage: procstat-round [N] [ROUNDS]\n");
		return 2;
	}
	pid_t *pids = calloc((size_t)n, sizeof(*pids));
	if (!pids) {
		return 1;
	}
	char marker[64];
	(void)snprintf(marker, sizeof(marker), "%s=bench-%d", ZR_PROCESS_MARKER, (int)getpid());
	pid_t parent = getpid();
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "fork: %s\n", strerror(errno));
			n = i;
			break;
		}
		if (pid == 0) {
			/* They go with the bench, even if it is killed. */
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent) {
				_exit(0);
			}
			char *args[] = {"sleep", "infinity", NULL};
			char *env[] = {"PATH=/usr/bin:/bin", marker, NULL};
			execve("/bin/sleep", args, env);
			_exit(127);
		}
		pids[i] = pid;
	}
	/* Until every child runs sleep (its exec done), so each round sees the same processes. */
	struct timespec pause = {.tv_nsec = 200 * 1000 * 1000};
	(void)nanosleep(&pause, NULL);

	double best_us = 0, sum_us = 0, sum_socks_us = 0;
	unsigned long long rss = 0;
	for (int r = 0; r < rounds; r++) {
		double c0 = cpu(), w0 = now();
		struct zr_sockets *socks;
		if (zr_sockets_read(&socks) < 0) {
			return 1;
		}
		double c1 = cpu();
		for (int i = 0; i < n; i++) {
			struct zr_procstat st;
			if (zr_procstat_sample(&pids[i], 1, socks, &st) < 0) {
				return 1;
			}
			rss += st.rss;
			zr_procstat_done(&st);
		}
		zr_sockets_free(socks);
		double c2 = cpu(), w2 = now();
		double us = (c2 - c0) * 1e6 / n;
		fprintf(stderr, "round %d: cpu %.1f ms, wall %.1f ms, socket table %.2f ms\n", r + 1,
			(c2 - c0) * 1e3, (w2 - w0) * 1e3, (c1 - c0) * 1e3);
		sum_us += us;
		sum_socks_us += (c1 - c0) * 1e6;
		best_us = r == 0 || us < best_us ? us : best_us;
	}
	double mean_us = sum_us / rounds;
	/* The parts: the stat read alone (zr_proc_start_time) and a sample without sockets. */
	double c_stat = cpu();
	for (int i = 0; i < n; i++) {
		unsigned long long t;
		(void)zr_proc_start_time(pids[i], &t);
	}
	double c_nosocks = cpu();
	for (int i = 0; i < n; i++) {
		struct zr_procstat st;
		if (zr_procstat_sample(&pids[i], 1, NULL, &st) < 0) {
			return 1;
		}
		zr_procstat_done(&st);
	}
	double stat_us = (c_nosocks - c_stat) * 1e6 / n, nosocks_us = (cpu() - c_nosocks) * 1e6 / n;
	/* What a robot's round costs per process now: no sockets, the stat fd held from the
	 * round before (the first pass opens them). */
	int *held = malloc((size_t)n * sizeof(*held));
	double held_us = 0;
	for (int pass = 0; held && pass < 2; pass++) {
		double c_held = cpu();
		for (int i = 0; i < n; i++) {
			struct zr_procstat st;
			if (pass == 0) {
				held[i] = -1;
			}
			if (zr_procstat_sample_held(&pids[i], 1, pids[i], &held[i], NULL, &st) < 0) {
				return 1;
			}
			zr_procstat_done(&st);
		}
		held_us = (cpu() - c_held) * 1e6 / n;
	}
	for (int i = 0; held && i < n; i++) {
		(void)close(held[i]);
	}
	free(held);
	double c0 = cpu();
	pid_t *found;
	size_t nfound;
	if (zr_proc_marked(marker + strlen(ZR_PROCESS_MARKER) + 1, &found, &nfound) < 0) {
		return 1;
	}
	double sweep_ms = (cpu() - c0) * 1e3;
	free(found);
	/* The one sweep for all ids, and a lookup per process as a round would do. */
	c0 = cpu();
	struct zr_marks *marks;
	if (zr_marks_read(&marks) < 0) {
		return 1;
	}
	size_t nmarks = 0;
	for (int i = 0; i < n; i++) {
		size_t k;
		(void)zr_marks_get(marks, marker + strlen(ZR_PROCESS_MARKER) + 1, &k);
		nmarks = k;
	}
	zr_marks_free(marks);
	double marks_ms = (cpu() - c0) * 1e3;
	for (int i = 0; i < n; i++) {
		(void)kill(pids[i], SIGKILL);
	}
	for (int i = 0; i < n; i++) {
		(void)waitpid(pids[i], NULL, 0);
	}
	unsigned long long rss_kib = rss / (unsigned long long)rounds / (unsigned long long)n / 1024;
	printf("processes %d rounds %d us_per_process %.2f best_us_per_process %.2f "
	       "socket_table_us %.0f core_percent_at_2s %.3f marked_sweep_ms %.2f "
	       "marked_found %zu marks_read_and_n_lookups_ms %.2f marks_found %zu "
	       "mean_rss_kib %llu stat_read_us %.2f sample_without_sockets_us %.2f "
	       "sample_held_us %.2f\n",
	       n, rounds, mean_us, best_us, sum_socks_us / rounds, mean_us * n / 2e6 * 100,
	       sweep_ms, nfound, marks_ms, nmarks, rss_kib, stat_us, nosocks_us, held_us);
	free(pids);
	return 0;
}
