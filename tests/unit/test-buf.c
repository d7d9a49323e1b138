/* Unit tests for core/util/buf.c. */
#include "util/buf.h"

#include "test.h"

/* Every buffer with data must hold a NUL right after len. */
static void check_terminated(const struct zr_buf *b)
{
	ASSERT_NOT_NULL(b->data);
	ASSERT_LT_SIZE(b->len, b->cap);
	ASSERT_EQ_INT(b->data[b->len], '\0');
}

TEST(append)
{
	struct zr_buf b = {0};
	ASSERT_OK(zr_buf_append(&b, "abc", 3));
	check_terminated(&b);
	ASSERT_EQ_STR(b.data, "abc");
	ASSERT_OK(zr_buf_append(&b, "", 0));
	ASSERT_EQ_SIZE(b.len, 3);
	ASSERT_OK(zr_buf_append(&b, "d\0e", 3));
	ASSERT_EQ_MEM(b.data, b.len, "abcd\0e", 6);
	check_terminated(&b);
	ASSERT_OK(zr_buf_puts(&b, "xyz"));
	ASSERT_EQ_MEM(b.data, b.len, "abcd\0exyz", 9);
	zr_buf_done(&b);
	ASSERT_NULL(b.data);
	ASSERT_EQ_SIZE(b.len, 0);
	ASSERT_EQ_SIZE(b.cap, 0);
}

TEST(append_empty_allocates_terminator)
{
	struct zr_buf b = {0};
	ASSERT_OK(zr_buf_append(&b, NULL, 0));
	check_terminated(&b);
	ASSERT_EQ_STR(b.data, "");
	zr_buf_done(&b);
}

TEST(grow_large)
{
	struct zr_buf b = {0};
	char expect[100000];
	for (size_t i = 0; i < sizeof(expect); i++) {
		char c = (char)('a' + i % 26);
		expect[i] = c;
		ASSERT_OK(zr_buf_append(&b, &c, 1));
	}
	ASSERT_EQ_MEM(b.data, b.len, expect, sizeof(expect));
	check_terminated(&b);
	zr_buf_done(&b);
}

TEST(printf)
{
	struct zr_buf b = {0};
	ASSERT_OK(zr_buf_printf(&b, "%d-%s", 42, "x"));
	ASSERT_EQ_STR(b.data, "42-x");
	/* Longer than any initial capacity, so the second formatting pass must be used. */
	ASSERT_OK(zr_buf_printf(&b, "%05000d|", 7));
	ASSERT_EQ_SIZE(b.len, 4 + 5001);
	ASSERT_EQ_INT(b.data[4], '0');
	ASSERT_EQ_INT(b.data[4 + 4999], '7');
	ASSERT_EQ_INT(b.data[4 + 5000], '|');
	check_terminated(&b);
	ASSERT_OK(zr_buf_printf(&b, "%s", ""));
	ASSERT_EQ_SIZE(b.len, 5005);
	zr_buf_done(&b);
}

TEST(write_at)
{
	struct zr_buf b = {0};
	/* A write past the end zero-fills the gap. */
	ASSERT_OK(zr_buf_write_at(&b, 3, "xy", 2));
	ASSERT_EQ_MEM(b.data, b.len, "\0\0\0xy", 5);
	check_terminated(&b);
	/* Inside: overwrites without changing len. */
	ASSERT_OK(zr_buf_write_at(&b, 0, "ab", 2));
	ASSERT_EQ_MEM(b.data, b.len, "ab\0xy", 5);
	/* Straddling the end: extends. */
	ASSERT_OK(zr_buf_write_at(&b, 4, "ZZZ", 3));
	ASSERT_EQ_MEM(b.data, b.len, "ab\0xZZZ", 7);
	check_terminated(&b);
	/* Exactly at the end: appends. */
	ASSERT_OK(zr_buf_write_at(&b, 7, "!", 1));
	ASSERT_EQ_MEM(b.data, b.len, "ab\0xZZZ!", 8);
	/* Nothing to write: like pwrite(), len does not move. */
	ASSERT_OK(zr_buf_write_at(&b, 100, "", 0));
	ASSERT_EQ_SIZE(b.len, 8);
	/* A big gap. */
	ASSERT_OK(zr_buf_write_at(&b, 10000, "e", 1));
	ASSERT_EQ_SIZE(b.len, 10001);
	for (size_t i = 8; i < 10000; i++) {
		if (b.data[i] != '\0') {
			FAIL("byte %zu of the gap is %d, not 0", i, b.data[i]);
		}
	}
	ASSERT_EQ_INT(b.data[10000], 'e');
	check_terminated(&b);
	zr_buf_done(&b);
}

TEST(write_at_overflow)
{
	struct zr_buf b = {0};
	ASSERT_EQ_INT(zr_buf_write_at(&b, SIZE_MAX, "a", 1), -ENOMEM);
	ASSERT_NULL(b.data);
	ASSERT_EQ_SIZE(b.len, 0);
}

TEST(consume)
{
	struct zr_buf b = {0};
	zr_buf_consume(&b, 0);
	ASSERT_OK(zr_buf_puts(&b, "hello world"));
	zr_buf_consume(&b, 0);
	ASSERT_EQ_STR(b.data, "hello world");
	zr_buf_consume(&b, 6);
	ASSERT_EQ_STR(b.data, "world");
	ASSERT_EQ_SIZE(b.len, 5);
	check_terminated(&b);
	zr_buf_consume(&b, 5);
	ASSERT_EQ_STR(b.data, "");
	ASSERT_EQ_SIZE(b.len, 0);
	check_terminated(&b);
	ASSERT_OK(zr_buf_puts(&b, "again"));
	ASSERT_EQ_STR(b.data, "again");
	zr_buf_done(&b);
}

TEST(reset_keeps_memory)
{
	struct zr_buf b = {0};
	zr_buf_reset(&b);
	ASSERT_NULL(b.data);
	ASSERT_OK(zr_buf_puts(&b, "some text"));
	size_t cap = b.cap;
	zr_buf_reset(&b);
	ASSERT_EQ_SIZE(b.len, 0);
	ASSERT_EQ_SIZE(b.cap, cap);
	ASSERT_EQ_STR(b.data, "");
	ASSERT_OK(zr_buf_puts(&b, "x"));
	ASSERT_EQ_STR(b.data, "x");
	zr_buf_done(&b);
	zr_buf_done(&b); /* done on an empty buffer is harmless */
}

TEST(steal)
{
	struct zr_buf b = {0};
	char *s = zr_buf_steal(&b);
	ASSERT_NOT_NULL(s);
	ASSERT_EQ_STR(s, "");
	free(s);

	ASSERT_OK(zr_buf_printf(&b, "n=%d", 5));
	s = zr_buf_steal(&b);
	ASSERT_EQ_STR(s, "n=5");
	ASSERT_NULL(b.data);
	ASSERT_EQ_SIZE(b.len, 0);
	ASSERT_EQ_SIZE(b.cap, 0);
	free(s);

	/* The buffer is usable again after a steal. */
	ASSERT_OK(zr_buf_puts(&b, "next"));
	ASSERT_EQ_STR(b.data, "next");
	zr_buf_done(&b);
}

int main(void)
{
	RUN_TEST(append);
	RUN_TEST(append_empty_allocates_terminator);
	RUN_TEST(grow_large);
	RUN_TEST(printf);
	RUN_TEST(write_at);
	RUN_TEST(write_at_overflow);
	RUN_TEST(consume);
	RUN_TEST(reset_keeps_memory);
	RUN_TEST(steal);
	return 0;
}
