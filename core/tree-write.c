/* Writes to local files: one write(2) is one request, answered once its change is durable
 * (tree-local-internal.h). Each writable kind's function is here; the commands of ctl files
 * are parsed by their owners (service-ctl.c, remote/remote.c). */
#include "tree-local-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "payload.h"
#include "remote/remote.h"
#include "repos.h"
#include "robot.h"
#include "schema.h"
#include "service-ctl.h"
#include "service.h"
#include "supervise.h"
#include "process-def.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/words.h"
#include "webhook.h"

struct tree_op *zr_local__op_new(struct zr_local *t, struct handle *h, zr_tree_done_cb cb, void *data)
{
	struct tree_op *op = calloc(1, sizeof(*op));
	if (op) {
		*op = (struct tree_op){.tree = t, .h = h, .cb = cb, .data = data};
		if (h) {
			h->inflight++;
		}
	}
	return op;
}

struct tree_op *zr_local__op_start(struct zr_local *t, struct handle *h, int err, zr_tree_done_cb cb,
				   void *data)
{
	struct tree_op *op = err < 0 ? NULL : zr_local__op_new(t, h, cb, data);
	if (!op) {
		cb(err < 0 ? err : -ENOMEM, NULL, data);
	}
	return op;
}

void zr_local__op_done(struct tree_op *op, ssize_t result, const struct zr_tree_attr *attr)
{
	struct handle *h = op->h;
	op->cb(result, attr, op->data);
	if (h && --h->inflight == 0 && h->released) {
		zr_local__handle_free(op->tree, h);
	}
	free(op->name);
	free(op);
}

ssize_t zr_local__refuse(struct tree_op *op, const struct ctx *c, int err, const char *why)
{
	struct zr_buf path = {0};
	zr_local__path(op->h->node, &path);
	/* Only someone who may act on the service writes its lasterror: a refusal of another
	 * token's or user's request must not overwrite what its operators read there. */
	if (c->svc && zr_service_may_act(c->svc, &op->h->who, NULL) == 0) {
		zr_service_refuse(c->svc, path.data ? path.data : "", -err, why);
	} else {
		log_warn("Refused write to /%s: %s", path.data ? path.data : "", why ? why : strerror(-err));
	}
	zr_buf_done(&path);
	return err;
}

/* A request that failed at commit: refused like any other, with the store's errno. */
static void op_refused(struct tree_op *op, int err, const char *why)
{
	struct ctx c;
	if (zr_local__handle_ctx(op->tree, op->h, &c) == 0) {
		(void)zr_local__refuse(op, &c, err, why);
	}
	zr_local__op_done(op, err, NULL);
}

/* Answers the request with the bytes it took once its change is stored. */
static void on_stored(int err, void *data)
{
	struct tree_op *op = data;
	zr_local__op_done(op, err < 0 ? err : op->len, NULL);
}

/* ---- data ---- */

static void on_data_done(int err, const char *why, void *data)
{
	struct tree_op *op = data;
	if (err < 0) {
		op_refused(op, err, why ? why : strerror(-err));
		return;
	}
	zr_local__op_done(op, op->len, NULL);
}

/* A whole body: parsed here, validated by the model (as an HTTP PUT is), producers on other
 * robots looked up there first. */
static void apply_data(struct tree_op *op, const struct ctx *c, const char *buf, size_t len)
{
	json_error_t e;
	_cleanup_json_ json_t *j = json_loadb(buf, len, 0, &e);
	_cleanup_free_ char *why = NULL;
	op->len = (ssize_t)len;
	if (!j) {
		if (asprintf(&why, "data is not valid JSON: %s (line %d, column %d)",
			     zr_json_error_reason(&e), e.line, e.column) < 0) {
			why = NULL;
		}
	} else if (!json_is_object(j)) {
		why = strdup("data must be a JSON object");
	} else {
		zr_service_request_data(c->svc, &op->h->who, j, on_data_done, op);
		return;
	}
	zr_local__op_done(op, zr_local__refuse(op, c, -EINVAL, why), NULL);
}

void zr_local__write_data(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			  uint64_t off)
{
	struct handle *h = op->h;
	size_t max = op->tree->robot->cfg.data_max;
	int now = zr_tree__data_write(&h->wbuf, buf, len, off, max);
	if (now == -EFBIG) {
		_cleanup_free_ char *why = NULL;
		if (asprintf(&why, "data larger than %zu bytes (--http-max-body): a write of %zu "
			     "bytes at offset %llu", max, len, (unsigned long long)off) < 0) {
			why = NULL;
		}
		h->wpending = false;
		zr_local__op_done(op, zr_local__refuse(op, c, -EFBIG, why), NULL);
		return;
	}
	if (now < 0) {
		zr_local__op_done(op, now, NULL);
		return;
	}
	h->wpending = !now;
	if (now) {
		apply_data(op, c, buf, len);
	} else {
		zr_local__op_done(op, (ssize_t)len, NULL);
	}
}

/* ---- actions ---- */

static void on_task_queued(int err, const char *why, struct zr_task *task, void *data)
{
	struct tree_op *op = data;
	if (err < 0) {
		op_refused(op, err, why ? why : strerror(-err));
		return;
	}
	op->h->task_id = task->id;
	op->h->result_base_set = false;
	zr_local__op_done(op, op->len, NULL);
}

/* The payload is parsed and validated by the model (as an HTTP POST's is). */
void zr_local__write_action(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			    uint64_t off)
{
	(void)off;
	op->len = (ssize_t)len;
	zr_service_request_task(c->svc, &op->h->who, c->action, buf, len, on_task_queued, op);
}

/* ---- repositories, remotes, commands ---- */

/* @robot/repos/add takes "URL[#REF]"; a repository's ctl takes "fetch" or "checkout REF".
 * The write returns once the work started: its status file tells how it goes. */
void zr_local__write_repos(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			   uint64_t off)
{
	struct zr_local *t = op->tree;
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *text = strndup(buf, len);
	(void)off;
	if (!text || memchr(buf, '\0', len)) {
		ssize_t err = text ? zr_local__refuse(op, c, -EINVAL, "NUL byte in the request") : -ENOMEM;
		zr_local__op_done(op, err, NULL);
		return;
	}
	char *w = text + strspn(text, " \t\r\n");
	size_t n = strlen(w);
	while (n > 0 && strchr(" \t\r\n", w[n - 1])) {
		w[--n] = '\0';
	}
	int err = c->repo ? zr_repos_ctl(t->robot->repos, c->repo, w, &why)
			  : zr_repos_add(t->robot->repos, w, &why);
	if (err == -EBUSY && !why) {
		why = strdup("another operation on this repository is running");
	}
	zr_local__op_done(op, err < 0 ? zr_local__refuse(op, c, err, why) : (ssize_t)len, NULL);
}

/* @robot/remotes/add and @robot/remotes/ctl: their commands are the remote registry's; the
 * write returns once the store has the change. */
void zr_local__write_remotes(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			     uint64_t off)
{
	struct zr_remotes *rs = zr_tree__remotes(op->tree->tree);
	_cleanup_free_ char *why = NULL;
	(void)off;
	op->len = (ssize_t)len;
	bool add = strcmp(op->h->node->name, "add") == 0;
	int err = rs ? zr_remotes_command(rs, add, buf, len, on_stored, op, &why)
		     : zr_fail(&why, -EINVAL, "this robot has no remote support");
	if (err < 0) {
		zr_local__op_done(op, zr_local__refuse(op, c, err, why), NULL);
	}
}

/* @robot/webhooks/add, @robot/webhooks/ctl and @robot/webhooks/<id>/ctl: their commands are
 * the webhooks' (webhook.c); the write returns once the store has the change. */
void zr_local__write_webhooks(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			      uint64_t off)
{
	struct zr_webhooks *wh = op->tree->robot->webhooks;
	struct node *n = op->h->node;
	_cleanup_free_ char *why = NULL;
	(void)off;
	op->len = (ssize_t)len;
	int err;
	if (!wh) {
		err = zr_fail(&why, -EINVAL, "this robot has no webhooks");
	} else if (strcmp(n->parent->name, "webhooks") == 0) {
		err = zr_webhooks_command(wh, strcmp(n->name, "add") == 0, buf, len, on_stored, op, &why);
	} else {
		/* A hook's own ctl takes "remove" alone. */
		_cleanup_free_ char *text = strndup(buf, len);
		char *w[2];
		uint64_t id = strtoull(n->parent->name, NULL, 10);
		err = !text ? -ENOMEM
		      : zr_words(text, w, 2) != 1 || strcmp(w[0], "remove") != 0
			      ? zr_fail(&why, -EINVAL, "want 'remove'")
			      : zr_webhooks_remove(wh, id, on_stored, op, &why);
	}
	if (err < 0) {
		zr_local__op_done(op, zr_local__refuse(op, c, err, why), NULL);
	}
}

/* A service's ctl: its commands are the service's (service-ctl.c). */
void zr_local__write_ctl(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			 uint64_t off)
{
	_cleanup_free_ char *why = NULL;
	(void)off;
	op->len = (ssize_t)len;
	int err = zr_service_may_change(c->svc, &op->h->who, &why);
	if (err == 0) {
		err = zr_service_ctl(c->svc, &op->h->who, buf, len, &why, on_stored, op);
	}
	if (err < 0) {
		zr_local__op_done(op, zr_local__refuse(op, c, err, why), NULL);
	}
}

void zr_local__write_cancel(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			    uint64_t off)
{
	_cleanup_free_ char *why = NULL;
	(void)buf, (void)off;
	int err = zr_service_may_act(c->svc, &op->h->who, &why);
	if (err == 0 && (err = zr_service_cancel(c->svc, c->task)) < 0) {
		why = strdup("task already ended");
	}
	ssize_t result = err < 0 ? zr_local__refuse(op, c, err, why) : (ssize_t)len;
	zr_local__op_done(op, result, NULL);
}

/* "1.2.0", a uid or "latest": move the service to that version of its template; answered
 * once the request is stored. */
void zr_local__write_upgrade(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			     uint64_t off)
{
	(void)off;
	struct zr_local *t = op->tree;
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *want = strndup(buf, len);
	if (!want) {
		zr_local__op_done(op, -ENOMEM, NULL);
		return;
	}
	char *w = want + strspn(want, " \t\r\n");
	w[strcspn(w, " \t\r\n")] = '\0';
	int err = zr_service_may_change(c->svc, &op->h->who, &why);
	if (err < 0) {
		zr_local__op_done(op, zr_local__refuse(op, c, err, why), NULL);
		return;
	}
	struct zr_robot_template *rt = zr_robot_template(t->robot, c->svc->template->name);
	const struct zr_template *to = rt && *w ? zr_robot_template_find(rt, w) : NULL;
	if (!to) {
		if (asprintf(&why, "no version '%s' of template %s is loaded", w, c->svc->template->name) < 0) {
			why = NULL;
		}
		zr_local__op_done(op, zr_local__refuse(op, c, -EINVAL, why), NULL);
		return;
	}
	/* A user token may not move its service to a version that is not offered to users. */
	if (op->h->who.role == ZR_ROLE_USER && !to->users) {
		(void)zr_fail(&why, -EACCES, "version %s of %s is not offered to user tokens", to->version,
			      to->name);
		zr_local__op_done(op, zr_local__refuse(op, c, -EACCES, why), NULL);
		return;
	}
	op->len = (ssize_t)len;
	err = zr_service_upgrade(c->svc, to, &why, on_stored, op);
	if (err < 0) {
		zr_local__op_done(op, zr_local__refuse(op, c, err, why), NULL);
	}
}

/* ---- process/: the supervised server ---- */

/* "up", "down" or "once": the desired state, answered once the store has it. */
void zr_local__write_want(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			  uint64_t off)
{
	_cleanup_free_ char *why = NULL;
	enum zr_sup_want want;
	(void)off;
	op->len = (ssize_t)len;
	int err = zr_service_may_act(c->svc, &op->h->who, &why);
	if (err == 0 && zr_sup_want_parse(buf, len, &want) < 0) {
		err = zr_fail(&why, -EINVAL, "want: expected up, down or once");
	}
	struct zr_sup *sup = zr_service_sup(c->svc);
	if (err == 0 && !sup) {
		err = zr_fail(&why, -ENOENT, "the service's server is not supervised");
	}
	if (err == 0 && want == ZR_WANT_DOWN) {
		err = zr_relations__may_stop(c->svc, &why);
	}
	if (err < 0) {
		zr_local__op_done(op, zr_local__refuse(op, c, err, why), NULL);
		return;
	}
	/* The supervisor stores its new want (its persist hook) in this group. */
	zr_sup_set_want(sup, want);
	zr_store_sync(op->tree->robot->cfg.store, on_stored, op);
}

/* A signal name ("HUP", "SIGUSR1") for the main process. KILL and STOP are refused: the one
 * would skip the server's own shutdown the supervisor gives it (stop_signal, then KILL to the
 * whole tree after stop_timeout), the other would freeze a server the supervisor calls ready. */
void zr_local__write_signal(struct tree_op *op, const struct ctx *c, const char *buf, size_t len,
			    uint64_t off)
{
	_cleanup_free_ char *why = NULL;
	_cleanup_free_ char *name = strndup(buf, len);
	(void)off;
	if (!name) {
		zr_local__op_done(op, -ENOMEM, NULL);
		return;
	}
	name[strcspn(name, "\r\n")] = '\0';
	int err = zr_service_may_act(c->svc, &op->h->who, &why);
	int sig = err == 0 ? zr_signal_parse(name) : 0;
	struct zr_sup *sup = zr_service_sup(c->svc);
	if (err == 0 && (sig < 0 || sig == SIGKILL || sig == SIGSTOP)) {
		err = zr_fail(&why, -EINVAL, "signal: expected a signal name such as HUP, USR1 or "
			      "TERM (not KILL or STOP)");
	} else if (err == 0 && !sup) {
		err = zr_fail(&why, -ESRCH, "the service's server is not supervised");
	} else if (err == 0 && (err = zr_sup_signal(sup, sig)) == -ESRCH) {
		why = strdup("signal: the server is not running");
	}
	zr_local__op_done(op, err < 0 ? zr_local__refuse(op, c, err, why) : (ssize_t)len, NULL);
}

/* ---- dispatch ---- */

void zr_local__write(struct handle *h, const char *buf, size_t len, uint64_t off, zr_tree_done_cb cb,
		     void *data)
{
	struct zr_local *t = h->tree;
	struct ctx c;
	struct tree_op *op = zr_local__op_start(t, h, zr_local__handle_ctx(t, h, &c), cb, data);
	if (!op) {
		return;
	}
	if (!h->node->kind->write) {
		zr_local__op_done(op, -EACCES, NULL);
		return;
	}
	h->node->kind->write(op, &c, buf, len, off);
}

void zr_local__flush(struct handle *h, zr_tree_done_cb cb, void *data)
{
	struct zr_local *t = h->tree;
	struct ctx c;
	if (zr_local__bp_flush(h, cb, data)) {
		return; /* @robot/blueprint (tree-blueprint.c) */
	}
	if (!h->wpending) {
		cb(0, NULL, data);
		return;
	}
	h->wpending = false;
	struct tree_op *op = zr_local__op_start(t, h, zr_local__handle_ctx(t, h, &c), cb, data);
	if (!op) {
		return;
	}
	apply_data(op, &c, h->wbuf.data ? h->wbuf.data : "", h->wbuf.len);
}
