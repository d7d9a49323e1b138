/* The cost of a POSIX extended regular expression, known before regcomp(3) pays it. */
#pragma once
#include <stddef.h>

/* Groups nested deeper than this make zr_pattern_size return SIZE_MAX. */
#define ZR_PATTERN_DEPTH_MAX 100

/* Estimates the size of the parse tree glibc's regcomp builds for the extended regular
 * expression p (borrowed), counting each repetition as glibc expands it: x+ as x x*,
 * x{m,n} and x{,n} as n copies of x, x{m,} as m + 1. regcomp's time and memory grow with
 * that size and its recursion with the nesting of groups, and it bounds neither: a 70-byte
 * pattern of 22 nested "(...)+" takes 3.5 GB, 30,000 nested parentheses overflow the stack.
 * Returns the estimate (saturating), or SIZE_MAX when groups nest deeper than
 * ZR_PATTERN_DEPTH_MAX. An invalid pattern gets an estimate too; regcomp rejects it. */
size_t zr_pattern_size(const char *p);
