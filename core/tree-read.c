/* Reads of local files: what a read can answer now (content, a journal's lines, a task's
 * result), reads parked until a task ends or a journal grows (answered EINTR when interrupted),
 * and poll(2). */
#include "tree-local-internal.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "service.h"
#include "task.h"
#include "template.h"
#include "util/log.h"

void zr_local__req_finish(struct parked *q, int err, const char *buf, size_t len)
{
	struct zr_local *t = q->tree;
	zr_waiter_remove(&q->w);
	zr_list_remove(&q->link);
	t->n_parked--;
	zr_tree_read_cb cb = q->cb;
	void *data = q->data;
	free(q);
	cb(err, buf, len, data);
}

/* What a read can answer now, or where it waits. */
struct outcome {
	int err;            /* negative errno, or 0 */
	const char *buf;
	size_t len;
	struct zr_waitq *wait;
};

static void answer_slice(const char *p, size_t plen, uint64_t off, size_t size, struct outcome *o)
{
	if (off >= plen) {
		o->len = 0;
		return;
	}
	o->buf = p + off;
	o->len = plen - off < size ? plen - off : size;
}

/* The result of a task for a reader: output, then the task's errno for a failed task. */
static void answer_task(struct zr_task *task, uint64_t off, size_t size, struct outcome *o)
{
	if (!task->settled) {
		o->wait = &task->done;
		return;
	}
	size_t len;
	const char *p = zr_task_output(task, &len);
	if (off >= len && task->error) {
		o->err = -task->err;
		return;
	}
	answer_slice(p, len, off, size, o);
}

static void read_journal(struct zr_local *t, struct handle *h, struct zr_journal *j, const struct ctx *c,
			 uint64_t off, size_t size, struct outcome *o)
{
	if (size > t->read_cap) {
		char *p = realloc(t->read_mem, size);
		if (!p) {
			o->err = -ENOMEM;
			return;
		}
		t->read_mem = p;
		t->read_cap = size;
	}
	o->len = zr_journal_read(j, &h->cursor, off, t->read_mem, size);
	o->buf = t->read_mem;
	/* A running task's log waits for more; other journals end at their current end. */
	if (o->len == 0 && (h->node->kind->flags & KIND_BLOCKING) && !zr_task_ended(c->task)) {
		o->wait = &j->waitq;
	}
}

/* The task whose result a result-like file delivers: results/<a> and actions/<a> the one of
 * the handle (chosen at open, or queued by its last write), tasks/<id>/result its own. */
static struct zr_task *handle_task(const struct handle *h, const struct ctx *c)
{
	if (h->node->kind->flags & KIND_ACTION) {
		return h->task_id ? zr_service_task(c->svc, h->task_id) : NULL;
	}
	return h->node->kind->task(c);
}

static void try_read(struct zr_local *t, struct handle *h, uint64_t off, size_t size, struct outcome *o)
{
	const struct kind *k = h->node->kind;
	struct ctx c;
	*o = (struct outcome){0};
	int err = zr_local__handle_ctx(t, h, &c);
	struct zr_journal *j = err == 0 ? zr_local__journal(t, h->node, &c) : NULL;
	if (err < 0) {
		o->err = err;
	} else if (j) {
		read_journal(t, h, j, &c, off, size, o);
	} else if (k->flags & KIND_BLUEPRINT) {
		o->err = zr_local__bp_read(h, off, size, &o->buf, &o->len, &o->wait);
	} else if (k->flags & KIND_RESULT) {
		if ((k->flags & KIND_ACTION) && !h->task_id) {
			return; /* nothing ran: EOF */
		}
		if (k->write) {
			/* The result of the handle's own write starts where reading began. */
			if (!h->result_base_set) {
				h->result_base = off;
				h->result_base_set = true;
			}
			off = off >= h->result_base ? off - h->result_base : 0;
		}
		struct zr_task *task = handle_task(h, &c);
		if (!task) {
			o->err = -ENOENT;
			return;
		}
		answer_task(task, off, size, o);
	} else if (k->content) {
		if (off == 0) {
			/* A read from the start sees the file as it is now (like sysfs). */
			zr_local__content(t, h->node, &c, &h->content);
		}
		answer_slice(h->content.data, h->content.len, off, size, o);
	}
}

static void on_req_wake(struct zr_waiter *w)
{
	struct parked *q = container_of(w, struct parked, w);
	struct outcome o;
	try_read(q->tree, q->h, q->off, q->size, &o);
	if (o.wait) {
		zr_waitq_add(o.wait, &q->w);
		return;
	}
	if (o.err == 0) {
		q->h->pos = q->off + o.len;
	}
	zr_local__req_finish(q, o.err, o.buf, o.len);
}

void zr_local__read(struct zr_handle *zh, uint64_t off, size_t size, zr_tree_read_cb cb, void *data,
		       struct zr_tree_req **ret_req)
{
	struct handle *h = zr_local__handle_of(zh);
	struct zr_local *t = h->tree;
	struct outcome o;
	*ret_req = NULL;
	try_read(t, h, off, size, &o);
	if (!o.wait) {
		if (o.err == 0) {
			h->pos = off + o.len;
		}
		cb(o.err, o.buf, o.len, data);
		return;
	}
	struct parked *q = calloc(1, sizeof(*q));
	if (!q) {
		cb(-ENOMEM, NULL, 0, data);
		return;
	}
	*q = (struct parked){.base.prov = h->base.prov, .tree = t, .h = h, .off = off, .size = size,
			     .cb = cb, .data = data};
	zr_waiter_init(&q->w, on_req_wake);
	zr_waitq_add(o.wait, &q->w);
	zr_list_push_back(&t->parked, &q->link);
	t->n_parked++;
	*ret_req = &q->base;
}

void zr_local__read_cancel(struct zr_tree_req *req)
{
	zr_local__req_finish(container_of(req, struct parked, base), -EINTR, NULL, 0);
}

void zr_local__on_poll_wake(struct zr_waiter *w)
{
	struct handle *h = container_of(w, struct handle, poll_waiter);
	if (h->ph) {
		void *ph = h->ph;
		h->ph = NULL;
		zr_tree__poll_notify(h->tree->tree, ph);
	}
}

unsigned zr_local__poll(struct zr_handle *zh, void *ph)
{
	struct handle *h = zr_local__handle_of(zh);
	struct zr_local *t = h->tree;
	const struct kind *k = h->node->kind;
	struct ctx c;
	unsigned ev = POLLIN;
	struct zr_waitq *wait = NULL;
	if (ph) {
		if (h->ph) {
			zr_tree__poll_destroy(t->tree, h->ph);
		}
		h->ph = ph;
	}
	if (zr_local__handle_ctx(t, h, &c) < 0) {
		ev = POLLERR;
	} else {
		struct zr_journal *j = zr_local__journal(t, h->node, &c);
		struct zr_task *task = !j && (k->flags & KIND_RESULT) ? handle_task(h, &c) : NULL;
		if (j && !zr_journal_readable(j, &h->cursor, h->pos) &&
		    !((k->flags & KIND_BLOCKING) && zr_task_ended(c.task))) {
			wait = &j->waitq;
		}
		if (task && !task->settled) {
			wait = &task->done;
		}
		if (k->flags & KIND_BLUEPRINT) {
			wait = zr_local__bp_waiting(h);
		}
		if (k->write) {
			ev |= POLLOUT;
		}
	}
	if (wait) {
		ev &= ~(unsigned)POLLIN;
		if (h->ph) {
			zr_waitq_add(wait, &h->poll_waiter);
		}
	} else if (h->ph) {
		zr_waiter_remove(&h->poll_waiter);
		zr_tree__poll_destroy(t->tree, h->ph);
		h->ph = NULL;
	}
	return ev;
}
