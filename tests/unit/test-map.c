/* Unit tests for core/util/map.c. */
#include "util/map.h"

#include "test.h"

/* Distinct non-NULL values to store: the address of an element of this array. */
static char values[20000];
#define VAL(i) ((void *)&values[(i)])

/* The load bound the map promises: live entries plus tombstones stay within 70%. */
static void check_load(const struct zr_map *m)
{
	ASSERT_LE_SIZE(m->len, m->used);
	if (m->cap > 0) {
		ASSERT_EQ_SIZE(m->cap & (m->cap - 1), 0);
		ASSERT_LE_SIZE(m->used * 10, m->cap * 7);
	}
}

/* The key "<prefix><i>", in a buffer the next call overwrites. */
static const char *key(const char *prefix, size_t i)
{
	static char buf[32];
	snprintf(buf, sizeof(buf), "%s%zu", prefix, i);
	return buf;
}

/* Puts key(prefix, i) = VAL(i) for i in 0..n-1 into m, empty before: each put succeeds, counts
 * and keeps the load bound. */
static void put_keys(struct zr_map *m, const char *prefix, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ASSERT_OK(zr_map_put(m, key(prefix, i), VAL(i)));
		ASSERT_EQ_SIZE(m->len, i + 1);
		check_load(m);
	}
}

/* Deletes key(prefix, i) for every step-th i below n, each holding VAL(i). */
static void del_keys(struct zr_map *m, const char *prefix, size_t n, size_t step)
{
	for (size_t i = 0; i < n; i += step) {
		ASSERT_EQ_PTR(zr_map_del(m, key(prefix, i)), VAL(i));
	}
}

TEST(empty)
{
	struct zr_map m = {0};
	ASSERT_NULL(zr_map_get(&m, "x"));
	ASSERT_NULL(zr_map_del(&m, "x"));
	ASSERT_NULL(zr_imap_get(&m, 1));
	size_t i = 0;
	ASSERT_FALSE(zr_map_next(&m, &i, NULL, NULL, NULL));
	zr_map_done(&m);
}

TEST(put_get_del)
{
	struct zr_map m = {0};
	ASSERT_OK(zr_map_put(&m, "alpha", VAL(1)));
	ASSERT_OK(zr_map_put(&m, "beta", VAL(2)));
	ASSERT_OK(zr_map_put(&m, "", VAL(3)));
	ASSERT_EQ_SIZE(m.len, 3);
	ASSERT_EQ_PTR(zr_map_get(&m, "alpha"), VAL(1));
	ASSERT_EQ_PTR(zr_map_get(&m, "beta"), VAL(2));
	ASSERT_EQ_PTR(zr_map_get(&m, ""), VAL(3));
	ASSERT_NULL(zr_map_get(&m, "gamma"));
	ASSERT_NULL(zr_map_get(&m, "alph"));

	ASSERT_EQ_INT(zr_map_put(&m, "alpha", VAL(9)), -EEXIST);
	ASSERT_EQ_PTR(zr_map_get(&m, "alpha"), VAL(1));
	ASSERT_EQ_SIZE(m.len, 3);

	ASSERT_EQ_PTR(zr_map_del(&m, "alpha"), VAL(1));
	ASSERT_NULL(zr_map_get(&m, "alpha"));
	ASSERT_NULL(zr_map_del(&m, "alpha"));
	ASSERT_EQ_SIZE(m.len, 2);
	ASSERT_OK(zr_map_put(&m, "alpha", VAL(4)));
	ASSERT_EQ_PTR(zr_map_get(&m, "alpha"), VAL(4));
	check_load(&m);
	zr_map_done(&m);
	ASSERT_NULL(m.slots);
	ASSERT_EQ_SIZE(m.len, 0);
}

TEST(key_is_copied)
{
	struct zr_map m = {0};
	char key[] = "service";
	ASSERT_OK(zr_map_put(&m, key, VAL(1)));
	key[0] = 'X';
	ASSERT_NULL(zr_map_get(&m, key));
	ASSERT_EQ_PTR(zr_map_get(&m, "service"), VAL(1));
	size_t i = 0;
	const char *k = NULL;
	ASSERT_TRUE(zr_map_next(&m, &i, &k, NULL, NULL));
	ASSERT_NE_PTR(k, key);
	ASSERT_EQ_STR(k, "service");
	zr_map_done(&m);
}

TEST(growth_thousands)
{
	struct zr_map m = {0};
	const size_t n = 10000;
	put_keys(&m, "key-", n);
	ASSERT_GE_SIZE(m.cap, n);
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ_PTR(zr_map_get(&m, key("key-", i)), VAL(i));
		ASSERT_EQ_INT(zr_map_put(&m, key("key-", i), VAL(0)), -EEXIST);
	}
	ASSERT_NULL(zr_map_get(&m, "key-10000"));
	zr_map_done(&m);
}

TEST(tombstones_then_reput)
{
	struct zr_map m = {0};
	const size_t n = 5000;
	put_keys(&m, "k", n);
	/* Delete the even keys: the odd ones must still be found across the tombstones. */
	del_keys(&m, "k", n, 2);
	ASSERT_EQ_SIZE(m.len, n / 2);
	ASSERT_GT_SIZE(m.used, m.len);
	check_load(&m);
	for (size_t i = 0; i < n; i++) {
		if (i % 2 == 0) {
			ASSERT_NULL(zr_map_get(&m, key("k", i)));
		} else {
			ASSERT_EQ_PTR(zr_map_get(&m, key("k", i)), VAL(i));
		}
	}
	/* Re-put the deleted keys with new values; no duplicates may appear. */
	for (size_t i = 0; i < n; i += 2) {
		ASSERT_OK(zr_map_put(&m, key("k", i), VAL(i + n)));
		check_load(&m);
	}
	ASSERT_EQ_SIZE(m.len, n);
	for (size_t i = 0; i < n; i++) {
		ASSERT_EQ_PTR(zr_map_get(&m, key("k", i)), VAL(i % 2 == 0 ? i + n : i));
		ASSERT_EQ_INT(zr_map_put(&m, key("k", i), NULL), -EEXIST);
	}
	size_t seen = 0, i = 0;
	while (zr_map_next(&m, &i, NULL, NULL, NULL)) {
		seen++;
	}
	ASSERT_EQ_SIZE(seen, n);
	zr_map_done(&m);
}

TEST(churn_reuses_tombstones)
{
	/* Many distinct keys put and deleted with few live at a time: tombstones must be cleaned
	 * up by rehashing in place, not by growing forever. */
	struct zr_map m = {0};
	for (size_t i = 0; i < 100000; i++) {
		ASSERT_OK(zr_map_put(&m, key("churn-", i), VAL(i % 20000)));
		if (i >= 10) {
			ASSERT_EQ_PTR(zr_map_del(&m, key("churn-", i - 10)), VAL((i - 10) % 20000));
		}
		check_load(&m);
	}
	ASSERT_EQ_SIZE(m.len, 10);
	ASSERT_LE_SIZE(m.cap, 64);
	for (size_t i = 100000 - 10; i < 100000; i++) {
		ASSERT_EQ_PTR(zr_map_get(&m, key("churn-", i)), VAL(i % 20000));
	}
	zr_map_done(&m);
}

TEST(iteration)
{
	struct zr_map m = {0};
	enum { N = 3000 };
	put_keys(&m, "it", N);
	del_keys(&m, "it", N, 3);
	static bool seen[N];
	size_t count = 0, i = 0;
	const char *k;
	void *v;
	uint64_t ik = 12345;
	while (zr_map_next(&m, &i, &k, &ik, &v)) {
		size_t idx = (size_t)((char *)v - values);
		ASSERT_LT_SIZE(idx, N);
		ASSERT_TRUE(idx % 3 != 0);
		ASSERT_FALSE(seen[idx]);
		seen[idx] = true;
		ASSERT_EQ_STR(k, key("it", idx));
		ASSERT_EQ_U64(ik, 0);
		count++;
	}
	ASSERT_EQ_SIZE(count, m.len);
	ASSERT_EQ_SIZE(count, N - N / 3);
	/* Past the end it stays at the end. */
	ASSERT_FALSE(zr_map_next(&m, &i, &k, NULL, &v));
	zr_map_done(&m);
}

TEST(imap)
{
	struct zr_map m = {0};
	const uint64_t n = 10000;
	for (uint64_t id = 1; id <= n; id++) {
		ASSERT_OK(zr_imap_put(&m, id, VAL(id)));
		check_load(&m);
	}
	ASSERT_OK(zr_imap_put(&m, 0, VAL(0)));
	ASSERT_OK(zr_imap_put(&m, UINT64_MAX, VAL(19999)));
	ASSERT_EQ_INT(zr_imap_put(&m, 5, VAL(0)), -EEXIST);
	ASSERT_EQ_INT(zr_imap_put(&m, UINT64_MAX, VAL(0)), -EEXIST);
	ASSERT_EQ_SIZE(m.len, n + 2);
	ASSERT_EQ_PTR(zr_imap_get(&m, 0), VAL(0));
	ASSERT_EQ_PTR(zr_imap_get(&m, UINT64_MAX), VAL(19999));
	ASSERT_NULL(zr_imap_get(&m, n + 1));
	for (uint64_t id = 1; id <= n; id++) {
		ASSERT_EQ_PTR(zr_imap_get(&m, id), VAL(id));
	}
	for (uint64_t id = 1; id <= n; id += 2) {
		ASSERT_EQ_PTR(zr_imap_del(&m, id), VAL(id));
	}
	ASSERT_NULL(zr_imap_del(&m, 1));
	for (uint64_t id = 1; id <= n; id++) {
		if (id % 2) {
			ASSERT_NULL(zr_imap_get(&m, id));
		} else {
			ASSERT_EQ_PTR(zr_imap_get(&m, id), VAL(id));
		}
	}
	ASSERT_OK(zr_imap_put(&m, 1, VAL(7)));
	ASSERT_EQ_PTR(zr_imap_get(&m, 1), VAL(7));

	/* Iteration hands back the integer keys and no string key. */
	size_t i = 0, count = 0;
	uint64_t ik;
	const char *k = "unset";
	void *v;
	while (zr_map_next(&m, &i, &k, &ik, &v)) {
		ASSERT_NULL(k);
		ASSERT_EQ_PTR(zr_imap_get(&m, ik), v);
		if (ik == UINT64_MAX) {
			ASSERT_EQ_PTR(v, VAL(19999));
		} else if (ik == 1) {
			ASSERT_EQ_PTR(v, VAL(7));
		} else {
			ASSERT_EQ_PTR(v, VAL(ik));
		}
		count++;
	}
	ASSERT_EQ_SIZE(count, m.len);
	ASSERT_EQ_SIZE(count, n / 2 + 3);
	zr_map_done(&m);
}

int main(void)
{
	RUN_TEST(empty);
	RUN_TEST(put_get_del);
	RUN_TEST(key_is_copied);
	RUN_TEST(growth_thousands);
	RUN_TEST(tombstones_then_reput);
	RUN_TEST(churn_reuses_tombstones);
	RUN_TEST(iteration);
	RUN_TEST(imap);
	return 0;
}
