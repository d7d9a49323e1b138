/* Unit tests for core/queue.c. */
#include "queue.h"

#include "test.h"

struct job {
	struct zr_queue_item item;
	int id;
};

static int id_of(const struct zr_queue_item *it)
{
	return it ? container_of(it, struct job, item)->id : -1;
}

static struct job jobs[20];

/* An empty queue of cap user items, and jobs[i] (id i) not queued anywhere. */
static void setup(struct zr_queue *q, size_t cap)
{
	zr_queue_init(q, cap);
	for (int i = 0; i < 20; i++) {
		jobs[i].id = i;
		zr_queue_item_init(&jobs[i].item);
	}
}

static void push(struct zr_queue *q, int id, enum zr_lane lane)
{
	ASSERT_OK(zr_queue_push(q, &jobs[id].item, lane));
}

/* Appends ",<id>" (no comma first) to the string of ids in dst. */
static void append_id(char *dst, size_t size, size_t *n, int id)
{
	*n += (size_t)snprintf(dst + *n, size - *n, "%s%d", *n ? "," : "", id);
	ASSERT_LT_SIZE(*n, size);
}

/* The queue's service order as a string of ids, e.g. "3,1,2". */
static void order(const struct zr_queue *q, char *dst, size_t size)
{
	size_t n = 0;
	dst[0] = '\0';
	for (struct zr_queue_item *it = zr_queue_next(q, NULL); it; it = zr_queue_next(q, it)) {
		append_id(dst, size, &n, id_of(it));
	}
}

#define ASSERT_ORDER(q, want)                                                            \
	do {                                                                             \
		char _o[256];                                                            \
		order((q), _o, sizeof(_o));                                              \
		ASSERT_EQ_STR(_o, want);                                                 \
	} while (0)

TEST(empty)
{
	struct zr_queue q;
	setup(&q, 5);
	ASSERT_EQ_SIZE(zr_queue_len(&q), 0);
	ASSERT_NULL(zr_queue_peek(&q));
	ASSERT_NULL(zr_queue_pop(&q));
	ASSERT_NULL(zr_queue_next(&q, NULL));
	ASSERT_FALSE(zr_queue_contains(&jobs[0].item));
	zr_queue_remove(&q, &jobs[0].item); /* not queued: no-op */
	ASSERT_EQ_SIZE(zr_queue_len(&q), 0);
}

TEST(fifo_and_system_first)
{
	struct zr_queue q;
	setup(&q, 10);
	push(&q, 1, ZR_LANE_USER);
	push(&q, 2, ZR_LANE_USER);
	push(&q, 3, ZR_LANE_SYSTEM);
	push(&q, 4, ZR_LANE_USER);
	push(&q, 5, ZR_LANE_SYSTEM);
	ASSERT_EQ_SIZE(zr_queue_len(&q), 5);
	ASSERT_TRUE(zr_queue_contains(&jobs[3].item));
	ASSERT_EQ_INT(jobs[3].item.lane, ZR_LANE_SYSTEM);
	ASSERT_EQ_INT(jobs[1].item.lane, ZR_LANE_USER);
	ASSERT_ORDER(&q, "3,5,1,2,4");

	/* peek does not remove */
	ASSERT_EQ_INT(id_of(zr_queue_peek(&q)), 3);
	ASSERT_EQ_INT(id_of(zr_queue_peek(&q)), 3);
	ASSERT_EQ_SIZE(zr_queue_len(&q), 5);

	ASSERT_EQ_INT(id_of(zr_queue_pop(&q)), 3);
	ASSERT_FALSE(zr_queue_contains(&jobs[3].item));
	/* A system item pushed now still goes before every user item. */
	push(&q, 6, ZR_LANE_SYSTEM);
	ASSERT_ORDER(&q, "5,6,1,2,4");
	ASSERT_EQ_INT(id_of(zr_queue_pop(&q)), 5);
	ASSERT_EQ_INT(id_of(zr_queue_pop(&q)), 6);
	ASSERT_EQ_INT(id_of(zr_queue_pop(&q)), 1);
	push(&q, 1, ZR_LANE_USER); /* re-queued at the back */
	ASSERT_ORDER(&q, "2,4,1");
	ASSERT_EQ_INT(id_of(zr_queue_pop(&q)), 2);
	ASSERT_EQ_INT(id_of(zr_queue_pop(&q)), 4);
	ASSERT_EQ_INT(id_of(zr_queue_pop(&q)), 1);
	ASSERT_NULL(zr_queue_pop(&q));
	ASSERT_EQ_SIZE(zr_queue_len(&q), 0);
}

TEST(cap_on_user_lane_only)
{
	struct zr_queue q;
	setup(&q, 3);
	for (int i = 0; i < 3; i++) {
		push(&q, i, ZR_LANE_USER);
	}
	ASSERT_EQ_INT(zr_queue_push(&q, &jobs[3].item, ZR_LANE_USER), -EAGAIN);
	ASSERT_FALSE(zr_queue_contains(&jobs[3].item));
	ASSERT_EQ_SIZE(zr_queue_len(&q), 3);
	/* The system lane is never refused, and does not use up the user lane's room. */
	for (int i = 10; i < 15; i++) {
		push(&q, i, ZR_LANE_SYSTEM);
	}
	ASSERT_EQ_SIZE(zr_queue_len(&q), 8);
	ASSERT_EQ_INT(zr_queue_push(&q, &jobs[3].item, ZR_LANE_USER), -EAGAIN);
	/* Popping system items does not make room in the user lane... */
	ASSERT_EQ_INT(id_of(zr_queue_pop(&q)), 10);
	ASSERT_EQ_INT(zr_queue_push(&q, &jobs[3].item, ZR_LANE_USER), -EAGAIN);
	/* ...removing a user item does. */
	zr_queue_remove(&q, &jobs[1].item);
	push(&q, 3, ZR_LANE_USER);
	ASSERT_ORDER(&q, "11,12,13,14,0,2,3");

	struct zr_queue z;
	zr_queue_init(&z, 0);
	ASSERT_EQ_INT(zr_queue_push(&z, &jobs[4].item, ZR_LANE_USER), -EAGAIN);
	push(&z, 5, ZR_LANE_SYSTEM);
}

TEST(remove)
{
	struct zr_queue q;
	setup(&q, 10);
	for (int i = 0; i < 5; i++) {
		push(&q, i, ZR_LANE_USER);
	}
	push(&q, 5, ZR_LANE_SYSTEM);
	push(&q, 6, ZR_LANE_SYSTEM);

	zr_queue_remove(&q, &jobs[2].item); /* middle of the user lane */
	ASSERT_ORDER(&q, "5,6,0,1,3,4");
	zr_queue_remove(&q, &jobs[0].item); /* head of the user lane */
	zr_queue_remove(&q, &jobs[4].item); /* tail */
	zr_queue_remove(&q, &jobs[5].item); /* head of the system lane */
	ASSERT_ORDER(&q, "6,1,3");
	ASSERT_EQ_SIZE(zr_queue_len(&q), 3);
	ASSERT_FALSE(zr_queue_contains(&jobs[2].item));

	/* Removing twice, or an item never queued, changes nothing. */
	zr_queue_remove(&q, &jobs[2].item);
	zr_queue_remove(&q, &jobs[9].item);
	ASSERT_EQ_SIZE(zr_queue_len(&q), 3);
	ASSERT_EQ_SIZE(q.len[ZR_LANE_SYSTEM], 1);
	ASSERT_EQ_SIZE(q.len[ZR_LANE_USER], 2);

	zr_queue_remove(&q, &jobs[6].item);
	ASSERT_EQ_INT(id_of(zr_queue_peek(&q)), 1);
	zr_queue_remove(&q, &jobs[1].item);
	zr_queue_remove(&q, &jobs[3].item);
	ASSERT_NULL(zr_queue_peek(&q));
	ASSERT_EQ_SIZE(zr_queue_len(&q), 0);
	ASSERT_ORDER(&q, "");
}

TEST(iteration_order)
{
	struct zr_queue q;
	setup(&q, 10);
	/* Only user items, then only system items, then both. */
	push(&q, 1, ZR_LANE_USER);
	push(&q, 2, ZR_LANE_USER);
	ASSERT_ORDER(&q, "1,2");
	ASSERT_EQ_INT(id_of(zr_queue_next(&q, &jobs[2].item)), -1);
	zr_queue_remove(&q, &jobs[1].item);
	zr_queue_remove(&q, &jobs[2].item);

	push(&q, 7, ZR_LANE_SYSTEM);
	push(&q, 8, ZR_LANE_SYSTEM);
	ASSERT_ORDER(&q, "7,8");
	ASSERT_NULL(zr_queue_next(&q, &jobs[8].item));

	push(&q, 3, ZR_LANE_USER);
	push(&q, 4, ZR_LANE_USER);
	/* The last system item continues with the first user item. */
	ASSERT_EQ_INT(id_of(zr_queue_next(&q, &jobs[8].item)), 3);
	ASSERT_EQ_INT(id_of(zr_queue_next(&q, &jobs[3].item)), 4);
	ASSERT_ORDER(&q, "7,8,3,4");

	/* The iteration order is the pop order. */
	char want[256];
	order(&q, want, sizeof(want));
	char got[256];
	size_t n = 0;
	got[0] = '\0';
	struct zr_queue_item *it;
	while ((it = zr_queue_pop(&q))) {
		append_id(got, sizeof(got), &n, id_of(it));
	}
	ASSERT_EQ_STR(got, want);
}

int main(void)
{
	RUN_TEST(empty);
	RUN_TEST(fifo_and_system_first);
	RUN_TEST(cap_on_user_lane_only);
	RUN_TEST(remove);
	RUN_TEST(iteration_order);
	return 0;
}
