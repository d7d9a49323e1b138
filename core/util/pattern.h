/* The cost of a POSIX extended regular expression, known before regcomp(3) pays it, and
 * bounded matching with regexec(3). */
#pragma once
#include <regex.h>
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
 * ZR_PATTERN_ANCHOR_LOOPS_MAX or ZR_PATTERN_EMPTY_WAYS_MAX, and for a backreference (\1 to \9:
 * matching one is NP-hard, and glibc backtracks exponentially on some). An invalid pattern
 * gets an estimate too; regcomp rejects it. */
size_t zr_pattern_cost(const char *p);

/* Values longer than this many bytes are never checked against a pattern. */
#define ZR_PATTERN_VALUE_MAX 4096
/* Nor are values whose length times the pattern's cost exceeds this: regexec takes about that
 * many steps of ~15 ns (measured: "(a|b)*a(a|b){3000}c", cost 9000, over 4 KiB took 2.3 s, over
 * 1 KiB 0.16 s; "(a|b)*a(a|b){300}c" over 100 KB 17 s), and it runs on the loop. */
#define ZR_PATTERN_WORK_MAX 2000000

/* The longest value, in bytes, checked against pattern p (borrowed): ZR_PATTERN_VALUE_MAX, less
 * for a costly pattern (ZR_PATTERN_WORK_MAX / cost; at least 1). */
size_t zr_pattern_value_max(const char *p);

/* Matches the n bytes at s (NUL-terminated after them) against re, compiled from pattern p
 * (borrowed; its cost bounds the value's length). Returns 0 when s matches; -EFBIG when n is
 * over zr_pattern_value_max(p) (nothing is run); -EINVAL when s does not match or holds a NUL
 * byte (regexec would stop there, so anything after it would pass an anchored pattern). */
int zr_pattern_match(const regex_t *re, const char *p, const char *s, size_t n);
