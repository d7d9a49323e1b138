/* The supervisor's life: creating it (adopting a server still running from the last robot,
 * else starting it per want on the first loop turn) and closing it (stopping the server, or
 * leaving it running for the next robot). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cgroup.h"
#include "child.h"
#include "journal.h"
#include "outlog.h"
#include "procstat.h"
#include "supervise-internal.h"
#include "util/log.h"

/* Creating and adopting. */

static bool adopt(struct zr_sup *s, const struct zr_sup_persist *r)
{
	unsigned long long st = 0;
	if (zr_proc_start_time(r->pid, &st) < 0 || st != r->start_time) {
		return false;
	}
	if (r->cgroup) {
		char *cg = NULL;
		bool same = zr_cgroup_of(r->pid, &cg) == 0 && strcmp(cg, r->cgroup) == 0;
		free(cg);
		if (!same) {
			return false;
		}
	}
	int pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	if (pidfd < 0) {
		return false;
	}
	/* The pid could have been reused between the check and the pidfd: the pidfd now pins
	 * one process, so the start time is checked again on that one. */
	if (zr_proc_start_time(r->pid, &st) < 0 || st != r->start_time) {
		(void)close(pidfd);
		return false;
	}
	if (r->cgroup && !(s->cgroup = strdup(r->cgroup))) {
		(void)close(pidfd);
		return false;
	}
	if (zr_child_watch(s->loop, pidfd, zr_sup__on_exit, s, &s->child) < 0) {
		s->child = NULL;
		free(s->cgroup);
		s->cgroup = NULL;
		return false;
	}
	s->pid = s->pgid = r->pid;
	s->start_time = st;
	long long now = zr_now_ns();
	long long since = zr_sup__start_wall_ns(st);
	s->since_ns = since > 0 && since <= now ? since : now;
	uint64_t hr = uv_hrtime();
	uint64_t ran = (uint64_t)(now - s->since_ns);
	s->started_hr = ran < hr ? hr - ran : 0;
	s->adopted = true;
	s->state = ZR_SUP_READY;
	return true;
}

/* The first loop turn after create: hooks may run now that the caller holds the supervisor. */
static void first_turn(struct zr_sup *s)
{
	s->first_turn = true;
	if (s->adopted && s->pid > 0 && s->state == ZR_SUP_READY) {
		log_info("Adopted the server of '%s' (pid %d)", s->name, (int)s->pid);
		zr_sup__event(s, "process.adopted", json_pack("{s:i}", "pid", (int)s->pid));
		zr_sup__persist(s);
		if (s->want == ZR_WANT_DOWN) {
			/* The last robot went away during a stop: finish it. */
			zr_sup__stop_internal(s);
			return;
		}
		const struct zr_process_def *d = s->def;
		if (d->ready == ZR_READY_TCP || d->ready == ZR_READY_UNIX) {
			struct zr_sup_launch l = {0};
			char *why = NULL;
			if (s->hooks->launch(s->data, &l, &why) == 0) {
				s->ready_reprobe = true;
				free(s->ready_arg);
				s->ready_arg = l.ready_arg;
				l.ready_arg = NULL;
				zr_sup__set_state(s, ZR_SUP_STARTING);
				zr_sup__start_probe(s, s->ready_arg);
			}
			free(why);
			zr_sup_launch_done(&l);
		}
		zr_sup__health(s);
		return;
	}
	if (s->adopted || s->state != ZR_SUP_DOWN) {
		return; /* asked for something already */
	}
	if (s->want == ZR_WANT_ONCE) {
		/* It ran (and ended) while the robot was away. */
		s->want = ZR_WANT_DOWN;
	}
	if (s->want == ZR_WANT_UP) {
		zr_sup__reset_budget(s);
		zr_sup__persist(s);
		zr_sup__begin_start(s);
		return;
	}
	s->failed = false;
	zr_sup__persist(s);
	zr_sup__health(s);
}

static void on_first_turn(uv_timer_t *t)
{
	struct zr_sup *s = t->data;
	if (!s->first_turn && !s->closing) {
		first_turn(s);
	}
}

static void on_handle_closed(uv_handle_t *h)
{
	struct zr_sup *s = h->data;
	if (--s->open_handles > 0) {
		return;
	}
	void (*done)(void *) = s->close_done;
	void *data = s->close_data;
	zr_procstat_done(&s->stats);
	zr_sup__sample_drop(s);
	zr_journal_free(&s->empty_log);
	free(s->starts);
	free(s->reason);
	free(s->argv0);
	free(s->ready_arg);
	free(s->early_why);
	free(s->cgroup);
	free(s->name);
	free(s->id);
	free(s->cwd);
	free(s->log_path);
	free(s->notify_path);
	free(s);
	if (done) {
		done(data);
	}
}

int zr_sup_create(const struct zr_sup_config *cfg, const struct zr_sup_persist *restored,
		  struct zr_sup **ret)
{
	struct zr_sup *s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->loop = cfg->loop;
	s->def = cfg->def;
	s->cgroup_base = cfg->cgroup_base;
	s->launcher = cfg->launcher;
	s->log_max = cfg->log_max;
	s->hooks = cfg->hooks;
	s->data = cfg->data;
	s->notify_fd = -1;
	s->held_stat_fd = s->held_procs_fd = -1;
	zr_list_init(&s->waiters);
	zr_list_init(&s->exec_tokens);
	s->name = strdup(cfg->name);
	s->id = strdup(cfg->id);
	s->cwd = strdup(cfg->cwd);
	s->log_path = strdup(cfg->log_path);
	s->notify_path = strdup(cfg->notify_path ? cfg->notify_path : "");
	if (!s->name || !s->id || !s->cwd || !s->log_path || !s->notify_path) {
		free(s->name);
		free(s->id);
		free(s->cwd);
		free(s->log_path);
		free(s->notify_path);
		free(s);
		return -ENOMEM;
	}
	uv_timer_t *timers[] = {&s->t_delay, &s->t_stop, &s->t_tree};
	for (size_t i = 0; i < 3; i++) {
		(void)uv_timer_init(s->loop, timers[i]);
		timers[i]->data = s;
	}
	(void)uv_fs_event_init(s->loop, &s->w_tree);
	s->w_tree.data = s;
	s->open_handles = 4;
	s->delay = s->def->restart_delay;
	/* Without cgroups, what an earlier robot launched for this service is found only by its
	 * marker; with them, in the service's cgroup, unless the last robot ran its server
	 * without one. */
	s->marks_since = uv_hrtime();
	s->marks_possible = !s->cgroup_base ||
			    (restored && restored->pid > 0 && !restored->cgroup);
	s->state = ZR_SUP_DOWN;
	s->want = restored ? restored->want : ZR_WANT_DOWN;
	s->failed = restored && restored->failed;
	/* What the last run stored is what the store holds: no need to store it again. */
	if (restored) {
		s->persisted = true;
		s->p_want = restored->want;
		s->p_pid = restored->pid;
		s->p_failed = restored->failed;
	}
	zr_sup__ensure_outlog(s);
	if (restored && restored->pid > 0 && !adopt(s, restored)) {
		/* Gone, or the pid is someone else's now: only what is left in its cgroup, or
		 * carries its marker, is ours to kill (never the pid or its group). The marker
		 * too, cgroup or not: a server moved out of its cgroup (which is why it was not
		 * adopted) would otherwise hold its port against the new one. */
		s->marks_possible = true;
		if (restored->cgroup) {
			s->cgroup = strdup(restored->cgroup);
		}
		zr_sup__kill_tree(s);
		if (!zr_sup__tree_gone(s)) {
			zr_sup__wait_tree(s, ZR_THEN_CLEANUP);
		} else {
			zr_sup__tree_done(s);
		}
	}
	(void)uv_timer_start(&s->t_delay, on_first_turn, 0, 0);
	*ret = s;
	return 0;
}

/* Closing. */

void zr_sup_close(struct zr_sup *s, bool stop, void (*done)(void *data), void *data)
{
	if (s->closing) {
		return;
	}
	s->closing = true;
	s->close_done = done;
	s->close_data = data;
	s->start_after_stop = false;
	zr_sup__finish(s, false, -ECANCELED, "closed\n");
	if (stop && (s->pid > 0 || s->spawning || s->then != ZR_THEN_NONE)) {
		zr_sup__stop_internal(s);
		return;
	}
	zr_sup__close_continue(s);
}

/* Runs once the server is down (a stopping close) or at once: lets go of the process and
 * closes the handles. A spawn in flight is waited for (its callback stops what it made). */
void zr_sup__close_continue(struct zr_sup *s)
{
	if (s->spawning || s->open_handles == 0 || uv_is_closing((uv_handle_t *)&s->t_tree)) {
		return;
	}
	zr_sup__cancel_probe(s);
	zr_sup__free_exec_tokens(s);
	if (s->child) {
		zr_child_close(s->child);
		s->child = NULL;
	}
	if (s->outlog) {
		zr_outlog_close(s->outlog);
		s->outlog = NULL;
	}
	zr_sup__finish(s, false, -ECANCELED, "closed\n");
	zr_sup__finish(s, true, -ECANCELED, "closed\n");
	uv_close((uv_handle_t *)&s->t_delay, on_handle_closed);
	uv_close((uv_handle_t *)&s->t_stop, on_handle_closed);
	uv_close((uv_handle_t *)&s->t_tree, on_handle_closed);
	uv_close((uv_handle_t *)&s->w_tree, on_handle_closed);
}

