/* Unit tests for core/util/pattern.c. */
#include <stdint.h>

#include "util/pattern.h"

#include "test-helpers.h"
#include "test.h"

/* "(((a)+)+)+" with n groups, or "a+++" with n pluses when groups is false. */
static char *nested_plus(size_t n, bool groups)
{
	char *s = malloc(3 * n + 2);
	ASSERT_NOT_NULL(s);
	size_t k = 0;
	for (size_t i = 0; groups && i < n; i++) {
		s[k++] = '(';
	}
	s[k++] = 'a';
	for (size_t i = 0; i < n; i++) {
		if (groups) {
			s[k++] = ')';
		}
		s[k++] = '+';
	}
	s[k] = '\0';
	return s;
}

TEST(plain)
{
	ASSERT_EQ_SIZE(zr_pattern_cost(""), 0);
	ASSERT_EQ_SIZE(zr_pattern_cost("abc"), 3);
	ASSERT_EQ_SIZE(zr_pattern_cost("[[:alpha:]_]"), 1);
	ASSERT_EQ_SIZE(zr_pattern_cost("[]{1000}]"), 1);
	ASSERT_LE_SIZE(zr_pattern_cost("a\\{1000\\}"), 10);
	ASSERT_LE_SIZE(zr_pattern_cost("a{x}"), 4);
}

TEST(repetitions)
{
	ASSERT_GE_SIZE(zr_pattern_cost("a{500}"), 500);
	ASSERT_GE_SIZE(zr_pattern_cost("a{2,500}"), 500);
	ASSERT_GE_SIZE(zr_pattern_cost("a{500,}"), 501);
	/* glibc reads "{,n}" as "{0,n}". */
	ASSERT_GE_SIZE(zr_pattern_cost("a{,500}"), 500);
	ASSERT_GE_SIZE(zr_pattern_cost("(a{,1000}){,1000}"), 1000000);
	ASSERT_LE_SIZE(zr_pattern_cost("a{,}"), 3);
	ASSERT_GE_SIZE(zr_pattern_cost("(a{100}){100}"), 10000);
	ASSERT_GE_SIZE(zr_pattern_cost("([[:digit:]]{0,100}){0,100}"), 10000);
	/* glibc reads x+ as x x*: each level doubles. */
	char *s = nested_plus(22, true);
	ASSERT_GE_SIZE(zr_pattern_cost(s), (size_t)1 << 22);
	free(s);
	s = nested_plus(22, false);
	ASSERT_GE_SIZE(zr_pattern_cost(s), (size_t)1 << 22);
	free(s);
	/* Saturates instead of wrapping around. */
	s = nested_plus(200, true);
	ASSERT_EQ_SIZE(zr_pattern_cost(s), SIZE_MAX);
	free(s);
	ASSERT_EQ_SIZE(zr_pattern_cost("((((a{32767}){32767}){32767}){32767}){32767}"), SIZE_MAX);
}

/* Loops over what can match "" count once per loop; over anchors, past a few, at all. */
TEST(loops)
{
	ASSERT_LT_SIZE(zr_pattern_cost("(a*)*"), 100);
	ASSERT_LT_SIZE(zr_pattern_cost("^(foo|bar)*$"), 100);
	ASSERT_LT_SIZE(zr_pattern_cost("([a-z]*\\.)*[a-z]+"), 100);
	ASSERT_GE_SIZE(zr_pattern_cost("(()*){100}"), 100 * 100);
	ASSERT_GE_SIZE(zr_pattern_cost("(a|)*{100}"), 100 * 100);
	ASSERT_GE_SIZE(zr_pattern_cost("((a?){0,20}*){100}"), 100 * 100);
	/* Not over what cannot match "": a{100} inside keeps each copy non-empty. */
	ASSERT_LT_SIZE(zr_pattern_cost("(a+){100}"), 1000);
	ASSERT_LT_SIZE(zr_pattern_cost("(\\ba)*{20}"), 1000);
	ASSERT_LT_SIZE(zr_pattern_cost("(\\b)*{8}"), 1000);
	ASSERT_EQ_SIZE(zr_pattern_cost("(\\b)*{9}"), SIZE_MAX);
	ASSERT_EQ_SIZE(zr_pattern_cost("(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*(^)*"), SIZE_MAX);
	ASSERT_EQ_SIZE(zr_pattern_cost("(\\<|x)*{9}"), SIZE_MAX);
	ASSERT_EQ_SIZE(zr_pattern_cost("^a**********"), SIZE_MAX);
	ASSERT_LT_SIZE(zr_pattern_cost("a**********"), 1000);
	ASSERT_LT_SIZE(zr_pattern_cost("^(a*)*$"), 100);
}

TEST(depth)
{
	char *s = nested_groups(ZR_PATTERN_DEPTH_MAX);
	ASSERT_LT_SIZE(zr_pattern_cost(s), 1000);
	free(s);
	s = nested_groups(ZR_PATTERN_DEPTH_MAX + 1);
	ASSERT_EQ_SIZE(zr_pattern_cost(s), SIZE_MAX);
	free(s);
	/* Unbalanced: regcomp refuses these; the estimate must not read past the end. */
	ASSERT_LT_SIZE(zr_pattern_cost("((a"), 10);
	ASSERT_LT_SIZE(zr_pattern_cost("a))"), 10);
	ASSERT_LT_SIZE(zr_pattern_cost("[a"), 10);
	ASSERT_LT_SIZE(zr_pattern_cost("[[:alpha"), 10);
	ASSERT_LT_SIZE(zr_pattern_cost("a\\"), 10);
	ASSERT_LT_SIZE(zr_pattern_cost("a{3,"), 10);
}

/* Patterns templates really use stay far below the limit schema.c sets (10,000). */
TEST(realistic)
{
	static const char *const patterns[] = {
		"^[a-z_][a-z0-9_-]*$",
		"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
		"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$",
		"^((25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\\.){3}(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$",
		"^(https?|ssh)://[^ ]+$",
	};
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++) {
		ASSERT_LT_SIZE(zr_pattern_cost(patterns[i]), 1000);
	}
}

int main(void)
{
	RUN_TEST(plain);
	RUN_TEST(repetitions);
	RUN_TEST(loops);
	RUN_TEST(depth);
	RUN_TEST(realistic);
	return 0;
}
