/* Wait queues: model objects (a task, a journal) wake whoever waits for them to change. */
#pragma once
#include "util/list.h"

struct zr_waiter;
typedef void (*zr_wake_fn)(struct zr_waiter *w);

struct zr_waiter {
	struct zr_list link; /* self-linked when not queued */
	zr_wake_fn wake;
};

struct zr_waitq {
	struct zr_list waiters;
};

static inline void zr_waitq_init(struct zr_waitq *q) { zr_list_init(&q->waiters); }
static inline void zr_waiter_init(struct zr_waiter *w, zr_wake_fn wake)
{
	zr_list_init(&w->link);
	w->wake = wake;
}
static inline void zr_waitq_add(struct zr_waitq *q, struct zr_waiter *w)
{
	zr_list_remove(&w->link);
	zr_list_push_back(&q->waiters, &w->link);
}
static inline void zr_waiter_remove(struct zr_waiter *w) { zr_list_remove(&w->link); }

/* Wakes every waiter queued now. Each is unlinked before its wake runs, so a wake may free
 * its waiter or queue it again (it then waits for the next wake-up). */
static inline void zr_waitq_wake_all(struct zr_waitq *q)
{
	struct zr_list pending;
	zr_list_init(&pending);
	if (zr_list_empty(&q->waiters)) {
		return;
	}
	/* Move the whole list aside so waiters that re-queue themselves are not woken twice. */
	pending.next = q->waiters.next;
	pending.prev = q->waiters.prev;
	pending.next->prev = &pending;
	pending.prev->next = &pending;
	zr_list_init(&q->waiters);
	while (!zr_list_empty(&pending)) {
		struct zr_waiter *w = container_of(pending.next, struct zr_waiter, link);
		zr_list_remove(&w->link);
		w->wake(w);
	}
}
