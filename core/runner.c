/* One attempt of a task as a child process: pipes, fd 3, timeout and process-group kill. */
#include "runner.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "util/buf.h"
#include "util/lines.h"
#include "util/list.h"

enum { PIPE_OUT, PIPE_ERR, PIPE_CTL, N_PIPES };

/* A line longer than this is cut: a runaway action must not grow the robot without bound. */
#define LINE_MAX_BYTES (64 * 1024)

struct runner_pipe {
	uv_pipe_t handle;
	struct zr_runner *r;
	int kind;
	struct zr_lines lines; /* stderr, fd 3 */
	bool open;
};

struct zr_runner {
	uv_loop_t *loop;
	struct zr_child *child; /* from the spawn until the exit callback */
	int pid;                /* 0 until spawned */
	/* Both ends of the four pipes until the spawn ends: [0] stdin, [1..3] stdout, stderr,
	 * fd 3; the child's ends are then closed, ours go into the handles below. */
	int fds[4][2];
	uv_pipe_t in;
	uv_write_t in_req;
	char *input;
	struct runner_pipe pipes[N_PIPES];
	uv_timer_t timeout_timer;
	uv_timer_t kill_timer;
	double timeout;
	double grace;
	int pending_closes;
	bool exited, killing, timed_out;
	struct zr_runner_events ev;
	void *data;
};

/* A line of stderr or fd 3 (data: its struct runner_pipe). */
static void on_line(const char *line, size_t n, void *data)
{
	struct runner_pipe *p = data;
	if (n > 0 && line[n - 1] == '\r') {
		n--;
	}
	if (p->kind == PIPE_ERR) {
		p->r->ev.stderr_line(line, n, p->r->data);
	} else {
		p->r->ev.ctl_line(line, n, p->r->data);
	}
}

/* Splits stderr and fd 3 data into lines; stdout goes through as it is. */
static void pipe_data(struct runner_pipe *p, const char *d, size_t n)
{
	struct zr_runner *r = p->r;
	if (p->kind == PIPE_OUT) {
		r->ev.stdout_data(d, n, r->data);
		return;
	}
	zr_lines_feed(&p->lines, d, n, on_line, p);
}

static void pipe_flush_line(struct runner_pipe *p)
{
	if (p->kind != PIPE_OUT) {
		zr_lines_flush(&p->lines, on_line, p);
	}
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	buf->base = malloc(suggested);
	buf->len = buf->base ? suggested : 0;
}

static void on_close(uv_handle_t *h)
{
	struct zr_runner *r = h->data;
	if (--r->pending_closes > 0) {
		return;
	}
	for (int i = 0; i < N_PIPES; i++) {
		zr_lines_done(&r->pipes[i].lines);
	}
	free(r->input);
	free(r);
}

static void on_pipe_close(uv_handle_t *h)
{
	struct runner_pipe *p = h->data;
	h->data = p->r;
	on_close(h);
}

static void pipe_close(struct runner_pipe *p)
{
	if (!p->open) {
		return;
	}
	p->open = false;
	uv_close((uv_handle_t *)&p->handle, on_pipe_close);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct runner_pipe *p = s->data;
	if (n > 0) {
		pipe_data(p, buf->base, (size_t)n);
	} else if (n < 0) {
		/* EOF or error: whatever is left of a line is a line. The handle stays open until
		 * the process exits, so closing is done in one place. */
		pipe_flush_line(p);
		(void)uv_read_stop(s);
	}
	free(buf->base);
}

/* The process exited, but a daemon it started may keep the pipes open forever (DESIGN §4):
 * take what is already buffered in them without waiting for EOF, then close our ends. */
static void pipe_drain(struct runner_pipe *p)
{
	if (!p->open) {
		return;
	}
	uv_os_fd_t fd;
	if (uv_fileno((uv_handle_t *)&p->handle, &fd) == 0 && uv_is_active((uv_handle_t *)&p->handle)) {
		char tmp[16384];
		/* Bounded: a daemon could write as fast as we read. */
		for (int i = 0; i < 256; i++) {
			ssize_t n = read(fd, tmp, sizeof(tmp));
			if (n <= 0) {
				break;
			}
			pipe_data(p, tmp, (size_t)n);
		}
	}
	pipe_flush_line(p);
}

/* Closes the handles that exist; the last close callback frees r. */
static void runner_close(struct zr_runner *r)
{
	for (int i = 0; i < N_PIPES; i++) {
		pipe_close(&r->pipes[i]);
	}
	if (r->pid > 0 && !uv_is_closing((uv_handle_t *)&r->in)) {
		uv_close((uv_handle_t *)&r->in, on_close);
	}
	uv_close((uv_handle_t *)&r->timeout_timer, on_close);
	uv_close((uv_handle_t *)&r->kill_timer, on_close);
}

static void on_child_exit(int64_t exit_status, int term_signal, void *data)
{
	struct zr_runner *r = data;
	r->exited = true;
	r->child = NULL;
	for (int i = 0; i < N_PIPES; i++) {
		pipe_drain(&r->pipes[i]);
	}
	/* The group may still hold children of a killed action: finish them off so a timeout or
	 * cancel leaves nothing behind. A daemon that called setsid() is in its own group and
	 * lives on, which is what an action that starts a daemon wants. The leader is still a
	 * zombie here, so the group's id cannot belong to anyone else. */
	if (r->killing) {
		(void)kill(-r->pid, SIGKILL);
	}
	r->ev.exited(exit_status, term_signal, r->timed_out, r->data);
	runner_close(r);
}

static void on_kill_timer(uv_timer_t *t)
{
	struct zr_runner *r = t->data;
	if (!r->exited) {
		(void)kill(-r->pid, SIGKILL);
	}
}

static void signal_group(struct zr_runner *r)
{
	(void)kill(-r->pid, SIGTERM);
	(void)uv_timer_start(&r->kill_timer, on_kill_timer, (uint64_t)(r->grace * 1000), 0);
}

void zr_runner_kill(struct zr_runner *r)
{
	if (r->exited || r->killing) {
		return;
	}
	r->killing = true;
	/* Before the spawn has ended there is no group yet: on_spawned signals it. */
	if (r->pid > 0) {
		signal_group(r);
	}
}

static void on_timeout(uv_timer_t *t)
{
	struct zr_runner *r = t->data;
	r->timed_out = true;
	zr_runner_kill(r);
}

static void on_input_written(uv_write_t *req, int status)
{
	struct zr_runner *r = req->data;
	(void)status; /* EPIPE when the action does not read its stdin: that is its right. */
	if (!uv_is_closing((uv_handle_t *)&r->in)) {
		uv_close((uv_handle_t *)&r->in, on_close);
	}
}

int zr_runner_pid(const struct zr_runner *r) { return r->pid; }

static void close_fd(int *fd)
{
	if (*fd >= 0) {
		(void)close(*fd);
		*fd = -1;
	}
}

static void on_spawned(int err, pid_t pid, int pidfd, void *data)
{
	struct zr_runner *r = data;
	close_fd(&r->fds[0][0]);
	for (int i = 1; i < 4; i++) {
		close_fd(&r->fds[i][1]);
	}
	if (err == 0) {
		err = zr_child_watch(r->loop, pidfd, on_child_exit, r, &r->child);
		if (err < 0) {
			/* Out of memory: without a watch its end would go unseen, so it ends now. */
			(void)kill(-pid, SIGKILL);
			(void)waitpid(pid, NULL, 0);
		}
	}
	if (err < 0) {
		close_fd(&r->fds[0][1]);
		for (int i = 1; i < 4; i++) {
			close_fd(&r->fds[i][0]);
		}
		r->exited = true;
		r->ev.failed(err, r->data);
		runner_close(r);
		return;
	}
	r->pid = pid;
	if (r->ev.started) {
		r->ev.started(pid, r->data);
	}
	/* From here on the process exists: every failure below still ends in on_child_exit. */
	uv_pipe_init(r->loop, &r->in, 0);
	r->in.data = r;
	r->pending_closes++;
	(void)uv_pipe_open(&r->in, r->fds[0][1]);
	r->fds[0][1] = -1;
	for (int i = 0; i < N_PIPES; i++) {
		struct runner_pipe *p = &r->pipes[i];
		uv_pipe_init(r->loop, &p->handle, 0);
		p->handle.data = p;
		p->open = true;
		r->pending_closes++;
		if (uv_pipe_open(&p->handle, r->fds[i + 1][0]) == 0) {
			(void)uv_read_start((uv_stream_t *)&p->handle, on_alloc, on_read);
		}
		r->fds[i + 1][0] = -1;
	}
	uv_buf_t b = uv_buf_init(r->input, (unsigned)strlen(r->input));
	r->in_req.data = r;
	if (uv_write(&r->in_req, (uv_stream_t *)&r->in, &b, 1, on_input_written) < 0) {
		uv_close((uv_handle_t *)&r->in, on_close);
	}
	if (r->killing) {
		signal_group(r);
	} else if (r->timeout > 0) {
		(void)uv_timer_start(&r->timeout_timer, on_timeout, (uint64_t)(r->timeout * 1000), 0);
	}
}

int zr_runner_start(uv_loop_t *loop, const struct zr_runner_config *cfg,
		    const struct zr_runner_events *ev, void *data, struct zr_runner **ret)
{
	struct zr_runner *r = calloc(1, sizeof(*r));
	int err = -ENOMEM;
	if (!r) {
		return -ENOMEM;
	}
	memset(r->fds, -1, sizeof(r->fds));
	r->loop = loop;
	r->ev = *ev;
	r->data = data;
	r->timeout = cfg->timeout;
	r->grace = cfg->grace;
	for (int i = 0; i < N_PIPES; i++) {
		r->pipes[i].r = r;
		r->pipes[i].kind = i;
		zr_lines_init(&r->pipes[i].lines, LINE_MAX_BYTES);
	}
	r->input = strdup(cfg->input ? cfg->input : "");
	if (!r->input) {
		goto fail;
	}
	/* Real pipes, not socketpairs: scripts write to /dev/stderr, which cannot be opened on a
	 * socket. All CLOEXEC: the child gets its ends through the spawn's fd map, and no other
	 * child ever inherits any. */
	for (int i = 0; i < 4; i++) {
		if (pipe2(r->fds[i], O_CLOEXEC) < 0) {
			err = -errno;
			goto fail;
		}
	}
	/* The child's stdin reads fds[0][0]; stdout, stderr and fd 3 write fds[1..3][1]. */
	const int child_fds[4] = {r->fds[0][0], r->fds[1][1], r->fds[2][1], r->fds[3][1]};
	const struct zr_child_spawn_options opt = {
		.path = cfg->path,
		.env = cfg->env,
		.cwd = cfg->cwd,
		.fds = child_fds,
		.n_fds = 4,
		/* The action leads its own process group, so a timeout or a cancel can signal the
		 * whole group. */
		.flags = ZR_CHILD_SETSID,
	};
	err = zr_child_spawn(loop, &opt, on_spawned, r);
	if (err < 0) {
		goto fail;
	}
	uv_timer_init(loop, &r->timeout_timer);
	uv_timer_init(loop, &r->kill_timer);
	r->timeout_timer.data = r->kill_timer.data = r;
	r->pending_closes = 2;
	*ret = r;
	return 0;

fail:
	for (int i = 0; i < 4; i++) {
		close_fd(&r->fds[i][0]);
		close_fd(&r->fds[i][1]);
	}
	free(r->input);
	free(r);
	return err;
}
