/* What a foreground zrobot process sets up around its loop: SIGPIPE, descriptors, stopping. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "process.h"
#include "util/log.h"

/* Long polls hold a socket each: let the server have as many as the hard limit allows, up to
 * a bound that programs the actions run (which inherit it) still cope with. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want = 65536;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
		rl.rlim_cur = rl.rlim_max < want ? rl.rlim_max : want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

void zr_process_prepare(void)
{
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
}

/* Actions must inherit only their pipes: not descriptors our own parent left open, and not
 * libfuse's auto_unmount socket, which would keep a dead robot's mount alive for as long as
 * an action holds it. */
void zr_process_cloexec_all(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	if (!d) {
		return;
	}
	while ((e = readdir(d))) {
		int fd = atoi(e->d_name);
		if (fd > 2 && fd != dirfd(d)) {
			int fl = fcntl(fd, F_GETFD);
			if (fl >= 0) {
				(void)fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
			}
		}
	}
	closedir(d);
}

void zr_process_stop(struct zr_process_stop *s, const char *why)
{
	if (s->stopping) {
		return;
	}
	s->stopping = true;
	log_info("Stopping (%s)", why);
	s->cb(s->data);
}

static void on_signal(uv_signal_t *h, int signum)
{
	zr_process_stop(h->data, signum == SIGINT ? "SIGINT" : "SIGTERM");
}

void zr_process_stop_init(struct zr_process_stop *s, uv_loop_t *loop, void (*cb)(void *data),
			  void *data)
{
	s->stopping = false;
	s->cb = cb;
	s->data = data;
	uv_signal_init(loop, &s->sigint);
	uv_signal_init(loop, &s->sigterm);
	s->sigint.data = s;
	s->sigterm.data = s;
	uv_signal_start(&s->sigint, on_signal, SIGINT);
	uv_signal_start(&s->sigterm, on_signal, SIGTERM);
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

void zr_process_stop_close(struct zr_process_stop *s)
{
	uv_close((uv_handle_t *)&s->sigint, on_closed);
	uv_close((uv_handle_t *)&s->sigterm, on_closed);
}
