/* Inputs more than one unit test builds; with test.h's assertions. */
#pragma once
#include <stdlib.h>
#include <string.h>

#include "test.h"

/* n '(' then "a" then n ')': a pattern nested n groups deep. The caller frees it. */
static inline char *nested_groups(size_t n)
{
	char *s = malloc(2 * n + 2);
	ASSERT_NOT_NULL(s);
	memset(s, '(', n);
	s[n] = 'a';
	memset(s + n + 1, ')', n);
	s[2 * n + 1] = '\0';
	return s;
}
