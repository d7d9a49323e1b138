/* A service's task queue: two FIFO lanes, the system lane served before the user lane. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "util/list.h"

enum zr_lane { ZR_LANE_SYSTEM = 0, ZR_LANE_USER = 1 };

struct zr_queue_item {
	struct zr_list link; /* self-linked when not queued */
	int lane;
};

struct zr_queue {
	struct zr_list lanes[2];
	size_t len[2];
	size_t cap; /* bound on the user lane; the system lane is never refused */
};

void zr_queue_init(struct zr_queue *q, size_t cap);
void zr_queue_item_init(struct zr_queue_item *it);
/* Returns 0, or -EAGAIN when lane is ZR_LANE_USER and it holds cap items already. */
int zr_queue_push(struct zr_queue *q, struct zr_queue_item *it, enum zr_lane lane);
/* The next item to run (system lane first), or NULL. */
struct zr_queue_item *zr_queue_peek(const struct zr_queue *q);
struct zr_queue_item *zr_queue_pop(struct zr_queue *q);
/* Removes a queued item (no-op when it is not queued). */
void zr_queue_remove(struct zr_queue *q, struct zr_queue_item *it);
bool zr_queue_contains(const struct zr_queue_item *it);
size_t zr_queue_len(const struct zr_queue *q);
/* Iterates in service order: pass NULL for the first; returns NULL after the last. */
struct zr_queue_item *zr_queue_next(const struct zr_queue *q, const struct zr_queue_item *it);
