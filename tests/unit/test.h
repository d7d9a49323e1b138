/* Assertions shared by the unit tests: on failure they print where, the expression and both
 * values, then exit 1. Exit 77 (TEST_SKIP) tells meson the test was skipped. */
#pragma once
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define TEST_EXIT_SKIP 77

/* Declares a test case: TEST(foo) { ... } and later RUN_TEST(foo) from main. */
#define TEST(name) static void test_##name(void)
#define RUN_TEST(name)                                                                   \
	do {                                                                             \
		test_##name();                                                           \
		fprintf(stderr, "ok %s\n", #name);                                       \
	} while (0)

/* Prints the reason and exits 77 (meson reports the test as skipped). */
#define TEST_SKIP(...)                                                                   \
	do {                                                                             \
		fprintf(stderr, "skip: ");                                               \
		fprintf(stderr, __VA_ARGS__);                                            \
		fprintf(stderr, "\n");                                                   \
		exit(TEST_EXIT_SKIP);                                                    \
	} while (0)

/* The case a table-driven loop is at ("row 3: {\"port\": 0}"), printed with every failure;
 * empty outside such a loop. Set it with TEST_CASE(fmt, ...), clear it with TEST_CASE_END(). */
#define TEST_CASE_MAX 256
static inline char *test_case(void)
{
	static char name[TEST_CASE_MAX];
	return name;
}
#define TEST_CASE(...) (void)snprintf(test_case(), TEST_CASE_MAX, __VA_ARGS__)
#define TEST_CASE_END() (void)(test_case()[0] = '\0')

static inline void test_print_where(const char *file, int line, const char *func)
{
	fprintf(stderr, "%s:%d: %s: ", file, line, func);
	if (test_case()[0]) {
		fprintf(stderr, "[%s] ", test_case());
	}
}

#define TEST_FAIL_AT(...)                                                                \
	do {                                                                             \
		test_print_where(__FILE__, __LINE__, __func__);                          \
		fprintf(stderr, __VA_ARGS__);                                            \
		fprintf(stderr, "\n");                                                   \
		exit(1);                                                                 \
	} while (0)

/* Fails unconditionally with a printf-style message. */
#define FAIL(...) TEST_FAIL_AT(__VA_ARGS__)

#define ASSERT_TRUE(expr)                                                                \
	do {                                                                             \
		if (!(expr)) {                                                           \
			TEST_FAIL_AT("ASSERT_TRUE(%s) failed", #expr);                   \
		}                                                                        \
	} while (0)

#define ASSERT_FALSE(expr)                                                               \
	do {                                                                             \
		if (expr) {                                                              \
			TEST_FAIL_AT("ASSERT_FALSE(%s) failed", #expr);                  \
		}                                                                        \
	} while (0)

/* Both operands are evaluated once, converted to the given type and compared with op. */
#define TEST_CMP(name, type, fmt, a, op, b)                                              \
	do {                                                                             \
		type _ta = (type)(a);                                                    \
		type _tb = (type)(b);                                                    \
		if (!(_ta op _tb)) {                                                     \
			TEST_FAIL_AT("%s(%s, %s) failed: " fmt " " #op " " fmt " is false", \
				     name, #a, #b, _ta, _tb);                            \
		}                                                                        \
	} while (0)

/* Signed integers (int, long, ssize_t, negative errnos...) as long long. */
#define ASSERT_EQ_INT(a, b) TEST_CMP("ASSERT_EQ_INT", long long, "%lld", a, ==, b)
#define ASSERT_NE_INT(a, b) TEST_CMP("ASSERT_NE_INT", long long, "%lld", a, !=, b)
#define ASSERT_LT_INT(a, b) TEST_CMP("ASSERT_LT_INT", long long, "%lld", a, <, b)
#define ASSERT_LE_INT(a, b) TEST_CMP("ASSERT_LE_INT", long long, "%lld", a, <=, b)
#define ASSERT_GT_INT(a, b) TEST_CMP("ASSERT_GT_INT", long long, "%lld", a, >, b)
#define ASSERT_GE_INT(a, b) TEST_CMP("ASSERT_GE_INT", long long, "%lld", a, >=, b)

/* Unsigned 64-bit values (uint64_t offsets, ids). */
#define ASSERT_EQ_U64(a, b) TEST_CMP("ASSERT_EQ_U64", uint64_t, "%" PRIu64, a, ==, b)
#define ASSERT_NE_U64(a, b) TEST_CMP("ASSERT_NE_U64", uint64_t, "%" PRIu64, a, !=, b)

/* Sizes and counts. */
#define ASSERT_EQ_SIZE(a, b) TEST_CMP("ASSERT_EQ_SIZE", size_t, "%zu", a, ==, b)
#define ASSERT_NE_SIZE(a, b) TEST_CMP("ASSERT_NE_SIZE", size_t, "%zu", a, !=, b)
#define ASSERT_LT_SIZE(a, b) TEST_CMP("ASSERT_LT_SIZE", size_t, "%zu", a, <, b)
#define ASSERT_LE_SIZE(a, b) TEST_CMP("ASSERT_LE_SIZE", size_t, "%zu", a, <=, b)
#define ASSERT_GT_SIZE(a, b) TEST_CMP("ASSERT_GT_SIZE", size_t, "%zu", a, >, b)
#define ASSERT_GE_SIZE(a, b) TEST_CMP("ASSERT_GE_SIZE", size_t, "%zu", a, >=, b)

/* Doubles compared exactly (use for values that are exactly representable). */
#define ASSERT_EQ_DOUBLE(a, b) TEST_CMP("ASSERT_EQ_DOUBLE", double, "%.17g", a, ==, b)

/* Pointers. */
#define ASSERT_EQ_PTR(a, b) TEST_CMP("ASSERT_EQ_PTR", const void *, "%p", a, ==, b)
#define ASSERT_NE_PTR(a, b) TEST_CMP("ASSERT_NE_PTR", const void *, "%p", a, !=, b)
#define ASSERT_NULL(a) ASSERT_EQ_PTR(a, NULL)
#define ASSERT_NOT_NULL(a) ASSERT_NE_PTR(a, NULL)

/* A function returning 0 or a negative errno: prints the errno name on failure. */
#define ASSERT_OK(expr)                                                                  \
	do {                                                                             \
		long long _tr = (long long)(expr);                                       \
		if (_tr != 0) {                                                          \
			TEST_FAIL_AT("ASSERT_OK(%s) failed: %lld (%s)", #expr, _tr,      \
				     _tr < 0 ? strerror((int)-_tr) : "positive");        \
		}                                                                        \
	} while (0)

/* NUL-terminated strings; either may be NULL (equal only when both are). */
static inline bool test_str_eq(const char *a, const char *b)
{
	if (a == NULL || b == NULL) {
		return a == b;
	}
	return strcmp(a, b) == 0;
}

#define TEST_STR_CMP(name, a, want_equal, b)                                             \
	do {                                                                             \
		const char *_sa = (a);                                                   \
		const char *_sb = (b);                                                   \
		if (test_str_eq(_sa, _sb) != (want_equal)) {                             \
			TEST_FAIL_AT("%s(%s, %s) failed: \"%s\" vs \"%s\"", name, #a, #b, \
				     _sa ? _sa : "(null)", _sb ? _sb : "(null)");        \
		}                                                                        \
	} while (0)

#define ASSERT_EQ_STR(a, b) TEST_STR_CMP("ASSERT_EQ_STR", a, true, b)
#define ASSERT_NE_STR(a, b) TEST_STR_CMP("ASSERT_NE_STR", a, false, b)

/* Prints n bytes with C escapes so binary and newlines are visible in failure messages. */
static inline void test_print_escaped(const void *p, size_t n)
{
	const unsigned char *s = p;
	fputc('"', stderr);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			fputs("\\n", stderr);
		} else if (s[i] == '"' || s[i] == '\\') {
			fprintf(stderr, "\\%c", s[i]);
		} else if (s[i] < 0x20 || s[i] >= 0x7f) {
			fprintf(stderr, "\\x%02x", s[i]);
		} else {
			fputc(s[i], stderr);
		}
	}
	fputc('"', stderr);
}

/* Two byte ranges of lengths na and nb are equal. */
#define ASSERT_EQ_MEM(a, na, b, nb)                                                      \
	do {                                                                             \
		const void *_ma = (a);                                                   \
		const void *_mb = (b);                                                   \
		size_t _na = (na);                                                       \
		size_t _nb = (nb);                                                       \
		if (_na != _nb || (_na > 0 && memcmp(_ma, _mb, _na) != 0)) {             \
			test_print_where(__FILE__, __LINE__, __func__);                  \
			fprintf(stderr, "ASSERT_EQ_MEM(%s, %s) failed: ", #a, #b);       \
			test_print_escaped(_ma, _na);                                    \
			fprintf(stderr, " (%zu bytes) vs ", _na);                        \
			test_print_escaped(_mb, _nb);                                    \
			fprintf(stderr, " (%zu bytes)\n", _nb);                          \
			exit(1);                                                         \
		}                                                                        \
	} while (0)

/* A scratch directory for tests: $ZR_TEST_TMP (set by meson) or /tmp. Borrowed. */
static inline const char *test_tmp_dir(void)
{
	const char *d = getenv("ZR_TEST_TMP");
	return d && *d ? d : "/tmp";
}

/* A malloc'd printf (fails the test when out of memory). */
static inline char *test_strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline char *test_strf(const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		FAIL("out of memory");
	}
	va_end(ap);
	return s;
}

/* Writes content to path (created or truncated) and gives it mode. */
static inline void test_write_file(const char *path, const char *content, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		FAIL("fopen %s: %s", path, strerror(errno));
	}
	ASSERT_EQ_SIZE(fwrite(content, 1, strlen(content), f), strlen(content));
	ASSERT_EQ_INT(fclose(f), 0);
	ASSERT_EQ_INT(chmod(path, mode), 0);
}

static inline void test_on_tick(uv_timer_t *t)
{
	(void)t;
}

/* Runs loop until cond holds, failing with the printf-style message after 20 s (these take
 * milliseconds). tick, a timer of loop's the caller made, ticks every 5 ms meanwhile: a
 * callback that makes cond true from the start of a loop turn (a timer's) would otherwise
 * leave that turn waiting for the next event. */
#define TEST_RUN_UNTIL(loop, tick, cond, ...)                                            \
	do {                                                                             \
		uint64_t _deadline = uv_hrtime() + 20ull * 1000 * 1000 * 1000;          \
		ASSERT_OK(uv_timer_start((tick), test_on_tick, 5, 5));                  \
		while (!(cond)) {                                                        \
			if (uv_hrtime() > _deadline) {                                   \
				FAIL(__VA_ARGS__);                                       \
			}                                                                \
			(void)uv_run((loop), UV_RUN_ONCE);                               \
		}                                                                        \
		ASSERT_OK(uv_timer_stop(tick));                                          \
	} while (0)
