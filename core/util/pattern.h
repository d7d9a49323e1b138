/* The cost of a POSIX extended regular expression, known before regcomp(3) pays it. */
#pragma once
#include <stddef.h>

/* Groups nested deeper than this make zr_pattern_cost return SIZE_MAX. */
#define ZR_PATTERN_DEPTH_MAX 100
/* So do more loops than this over what can match "" in a pattern with an anchor. */
#define ZR_PATTERN_ANCHOR_LOOPS_MAX 8
/* So does a loop over something with more ways than this to match "" ((a|)+ has 2). */
#define ZR_PATTERN_EMPTY_WAYS_MAX 64

/* Estimates what glibc's regcomp spends on the extended regular expression p (borrowed),
 * which it bounds in no way: the size of its parse tree, counting each repetition as glibc
 * copies it (x+ as x x*, x{m,n} and x{,n} as n copies of x, x{m,} as m + 1), times one plus
 * the number of loops (*, +, {m,}) over something that can match the empty string, whose
 * epsilon closures glibc computes again and again, plus for each such loop the elements
 * inside it that can match "" (a?{1100}+ took 8 s). A loop over something with more than
 * ZR_PATTERN_EMPTY_WAYS_MAX ways to match "" is refused outright ((0*?){12}+ has 4096).
 * Measured: a 70-byte pattern of 22 nested "(...)+" takes 3.5 GB, (()*){2000} 16 s, (\b)*{14}
 * over 10 s (exponential in such loops when the pattern has an anchor), 30,000 nested
 * parentheses overflow the stack.
 * Returns the estimate (saturating), or SIZE_MAX past ZR_PATTERN_DEPTH_MAX,
 * ZR_PATTERN_ANCHOR_LOOPS_MAX or ZR_PATTERN_EMPTY_WAYS_MAX. An invalid pattern gets an
 * estimate too; regcomp rejects it. */
size_t zr_pattern_cost(const char *p);
