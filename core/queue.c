/* A service's task queue: a system lane that is always served first, then a bounded user lane. */
#include "queue.h"

#include <assert.h>
#include <errno.h>

void zr_queue_init(struct zr_queue *q, size_t cap)
{
	zr_list_init(&q->lanes[ZR_LANE_SYSTEM]);
	zr_list_init(&q->lanes[ZR_LANE_USER]);
	q->len[ZR_LANE_SYSTEM] = 0;
	q->len[ZR_LANE_USER] = 0;
	q->cap = cap;
}

void zr_queue_item_init(struct zr_queue_item *it)
{
	zr_list_init(&it->link);
	it->lane = ZR_LANE_USER;
}

int zr_queue_push(struct zr_queue *q, struct zr_queue_item *it, enum zr_lane lane)
{
	assert(lane == ZR_LANE_SYSTEM || lane == ZR_LANE_USER);
	assert(!zr_queue_contains(it));
	if (lane == ZR_LANE_USER && q->len[ZR_LANE_USER] >= q->cap) {
		return -EAGAIN;
	}
	it->lane = lane;
	zr_list_push_back(&q->lanes[lane], &it->link);
	q->len[lane]++;
	return 0;
}

static struct zr_queue_item *lane_first(const struct zr_queue *q, int lane)
{
	const struct zr_list *head = &q->lanes[lane];
	return zr_list_empty(head) ? NULL : container_of(head->next, struct zr_queue_item, link);
}

struct zr_queue_item *zr_queue_peek(const struct zr_queue *q)
{
	struct zr_queue_item *it = lane_first(q, ZR_LANE_SYSTEM);
	return it ? it : lane_first(q, ZR_LANE_USER);
}

struct zr_queue_item *zr_queue_pop(struct zr_queue *q)
{
	struct zr_queue_item *it = zr_queue_peek(q);
	if (it) {
		zr_queue_remove(q, it);
	}
	return it;
}

void zr_queue_remove(struct zr_queue *q, struct zr_queue_item *it)
{
	if (!zr_queue_contains(it)) {
		return;
	}
	assert(q->len[it->lane] > 0);
	zr_list_remove(&it->link);
	q->len[it->lane]--;
}

bool zr_queue_contains(const struct zr_queue_item *it)
{
	return !zr_list_empty(&it->link);
}

size_t zr_queue_len(const struct zr_queue *q)
{
	return q->len[ZR_LANE_SYSTEM] + q->len[ZR_LANE_USER];
}

struct zr_queue_item *zr_queue_next(const struct zr_queue *q, const struct zr_queue_item *it)
{
	if (!it) {
		return zr_queue_peek(q);
	}
	assert(zr_queue_contains(it));
	const struct zr_list *next = it->link.next;
	if (next != &q->lanes[it->lane]) {
		return container_of(next, struct zr_queue_item, link);
	}
	/* The end of the system lane continues with the user lane; the end of that is the end. */
	return it->lane == ZR_LANE_SYSTEM ? lane_first(q, ZR_LANE_USER) : NULL;
}
