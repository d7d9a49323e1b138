/* The cost of compiling an extended regular expression with glibc's regcomp, estimated from
 * the text alone, and matching with a bound on the value's length by that cost. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pattern.h"

static size_t add(size_t a, size_t b)
{
	size_t r;
	return __builtin_add_overflow(a, b, &r) ? SIZE_MAX : r;
}

static size_t mul(size_t a, size_t b)
{
	size_t r;
	return __builtin_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

/* A decimal number at *s, saturating far above RE_DUP_MAX; false when there is none. */
static bool parse_count(const char **s, size_t *ret)
{
	const char *q = *s;
	size_t n = 0;
	while (*q >= '0' && *q <= '9') {
		n = n > 1000000 ? n : n * 10 + (size_t)(*q - '0');
		q++;
	}
	if (q == *s) {
		return false;
	}
	*s = q;
	*ret = n;
	return true;
}

/* Reads the interval at *s ("{m}", "{m,}", "{m,n}", and glibc's "{,n}" for "{0,n}") and moves
 * *s past it: *ret_copies is how many copies of its operand glibc makes, *ret_min is m and
 * *ret_open whether it has no upper bound. False when *s is no interval (glibc then reads '{'
 * as a plain character or refuses the pattern). */
static bool parse_interval(const char **s, size_t *ret_copies, size_t *ret_min, bool *ret_open)
{
	const char *q = *s + 1;
	size_t m = 0, n;
	bool has_m = parse_count(&q, &m), open = false;
	size_t copies = m;
	if (*q == ',') {
		q++;
		open = !parse_count(&q, &n);
		copies = open ? add(m, 1) : n;
	} else if (!has_m) {
		return false;
	}
	if (*q != '}') {
		return false;
	}
	*s = q + 1;
	*ret_copies = copies > 0 ? copies : 1;
	*ret_min = m;
	*ret_open = open;
	return true;
}

/* Moves s past the bracket expression it starts ("[a-z]", "[]x]", "[^[:alpha:]]"). */
static const char *skip_bracket(const char *s)
{
	s++;
	if (*s == '^') {
		s++;
	}
	if (*s == ']') {
		s++;
	}
	while (*s && *s != ']') {
		if (s[0] == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
			char end = s[1];
			s += 2;
			while (*s && !(s[0] == end && s[1] == ']')) {
				s++;
			}
			s += *s ? 2 : 0;
		} else {
			s++;
		}
	}
	return *s ? s + 1 : s;
}

/* An open group, or the whole pattern: what it holds so far, and its last element, which a
 * repetition that follows applies to. */
struct level {
	size_t size, loops;           /* tree nodes; loops over something that can be empty */
	size_t last_size, last_loops;
	/* Ways to match "" (saturating): of the alternatives before this one, of the branch
	 * before the last element, of the last element. */
	size_t alt_ways, prefix_ways, last_ways;
	size_t run_ways; /* of the elements before the last one, back to one that cannot */
	/* Elements that can match "" (each copy counted), and what the closures of loops over
	 * them cost: each loop, the number of such elements inside it. */
	size_t nulls, last_nulls, closure, last_closure;
	bool anchor;                  /* holds an anchor (^, $, \b...) */
	bool prefix_empty;            /* the branch before the last element can match "" */
	bool last_empty;              /* the last element can */
	bool alt_empty;               /* an earlier alternative of the group can */
};

static void level_init(struct level *l)
{
	*l = (struct level){.prefix_empty = true, .last_empty = true, .prefix_ways = 1,
			    .last_ways = 1, .run_ways = 1};
}

/* b to the power e, saturating. */
static size_t power(size_t b, size_t e)
{
	size_t r = 1;
	for (; e > 0 && b > 1 && r != SIZE_MAX; e--) {
		r = mul(r, b);
	}
	return b == 0 && e > 0 ? 0 : r;
}

/* The ways x{m,n} matches "" when x has w of them: m copies of x, then n - m of x?. */
static size_t ways_repeated(size_t w, size_t m, size_t n)
{
	return mul(power(w, m), power(add(w, 1), n - m));
}

/* Appends to l an element: a character, an anchor or a group g. */
static void push(struct level *l, const struct level *g, bool empty, bool anchor)
{
	l->prefix_ways = mul(l->prefix_ways, l->last_ways);
	l->run_ways = l->last_ways ? mul(l->run_ways, l->last_ways) : 1;
	l->last_ways = g ? add(g->alt_ways, mul(g->prefix_ways, g->last_ways)) : empty;
	l->last_nulls = add(g ? g->nulls : 0, empty);
	l->nulls = add(l->nulls, l->last_nulls);
	l->last_closure = g ? g->closure : 0;
	l->closure = add(l->closure, l->last_closure);
	l->prefix_empty = l->prefix_empty && l->last_empty;
	l->last_size = g ? add(g->size, 1) : 1;
	l->last_loops = g ? g->loops : 0;
	l->last_empty = empty;
	l->size = add(l->size, l->last_size);
	l->loops = add(l->loops, l->last_loops);
	l->anchor = l->anchor || anchor;
}

/* Repeats the last element of l: copies of it in all, and a loop back when unbounded; the
 * last copies (from min on) optional. False when glibc would follow too many ways to match ""
 * through the loop. */
static bool repeat(struct level *l, size_t copies, size_t min, bool open, size_t before)
{
	/* glibc's epsilon closures follow every way through a loop to match "", and into it
	 * from what comes before, the copies before the loop included: (0*?){12}+ has 4096, 3 s
	 * in regcomp; 0*? then 68 '?' then +++, minutes; a?{19}b?{10}c?{100}(d?{29})+, 2 s
	 * (fuzz-schema); 1??{22,}, 2 s. */
	if (open && mul(before, power(l->last_ways, copies)) > ZR_PATTERN_EMPTY_WAYS_MAX) {
		return false;
	}
	l->last_ways = ways_repeated(l->last_ways, open ? copies - 1 : min, copies);
	l->nulls = add(l->nulls, mul(l->last_nulls, copies - 1));
	l->last_nulls = mul(l->last_nulls, copies);
	l->closure = add(l->closure, mul(l->last_closure, copies - 1));
	l->last_closure = mul(l->last_closure, copies);
	if (min == 0 && !l->last_empty) {
		l->nulls = add(l->nulls, 1);
		l->last_nulls = add(l->last_nulls, 1);
	}
	l->size = add(l->size, mul(l->last_size, copies - 1));
	l->loops = add(l->loops, mul(l->last_loops, copies - 1));
	l->last_size = mul(l->last_size, copies);
	l->last_loops = mul(l->last_loops, copies);
	/* glibc computes epsilon closures through such a loop over and over. */
	if (open && l->last_empty) {
		l->loops = add(l->loops, 1);
		l->last_loops = add(l->last_loops, 1);
		/* ... through each element inside that can match "": a?{1100}+ took 8 s. */
		l->closure = add(l->closure, l->last_nulls);
		l->last_closure = add(l->last_closure, l->last_nulls);
	}
	l->size = add(l->size, 1);
	l->last_size = add(l->last_size, 1);
	return true;
}

/* The ways to match "" that lead into the last element of level d: the runs of elements
 * that can before it, at its level and the enclosing ones. */
static size_t ways_before(const struct level *st, size_t d)
{
	size_t w = st[d].run_ways;
	for (size_t k = 0; k < d; k++) {
		w = mul(w, st[k].last_ways ? mul(st[k].run_ways, st[k].last_ways) : 1);
	}
	return w;
}

size_t zr_pattern_cost(const char *p)
{
	struct level st[ZR_PATTERN_DEPTH_MAX + 1];
	size_t d = 0, copies, min;
	bool open;
	level_init(&st[0]);
	const char *s = p;
	while (*s) {
		struct level *l = &st[d];
		switch (*s) {
		case '(':
			if (d == ZR_PATTERN_DEPTH_MAX) {
				return SIZE_MAX;
			}
			level_init(&st[++d]);
			s++;
			continue;
		case ')':
			if (d == 0) {
				break; /* a plain character */
			}
			d--;
			push(&st[d], l, l->alt_empty || (l->prefix_empty && l->last_empty),
			     l->anchor);
			s++;
			continue;
		case '|':
			l->alt_ways = add(l->alt_ways, mul(l->prefix_ways, l->last_ways));
			l->prefix_ways = l->last_ways = l->run_ways = 1;
			l->alt_empty = l->alt_empty || (l->prefix_empty && l->last_empty);
			l->prefix_empty = l->last_empty = true;
			l->last_size = l->last_loops = 0;
			l->size = add(l->size, 1);
			s++;
			continue;
		case '*':
			if (!repeat(l, 1, 0, true, ways_before(st, d))) {
				return SIZE_MAX;
			}
			l->last_empty = true;
			s++;
			continue;
		case '+':
			if (!repeat(l, 2, 1, true, ways_before(st, d))) { /* x+ is x x* */
				return SIZE_MAX;
			}
			s++;
			continue;
		case '?':
			(void)repeat(l, 1, 0, false, ways_before(st, d));
			l->last_empty = true;
			s++;
			continue;
		case '{':
			if (!parse_interval(&s, &copies, &min, &open)) {
				break;
			}
			if (!repeat(l, copies, min, open, ways_before(st, d))) {
				return SIZE_MAX;
			}
			l->last_empty = l->last_empty || min == 0;
			continue;
		case '^':
		case '$':
			push(l, NULL, true, true);
			s++;
			continue;
		case '[':
			s = skip_bracket(s);
			push(l, NULL, false, false);
			continue;
		case '\\':
			if (s[1] && strchr("bB<>`'", s[1])) {
				push(l, NULL, true, true); /* GNU's word and buffer anchors */
				s += 2;
				continue;
			}
			if (s[1] >= '1' && s[1] <= '9') {
				return SIZE_MAX; /* a backreference */
			}
			s += s[1] ? 1 : 0;
			break;
		default:
			break;
		}
		s++;
		push(l, NULL, false, false);
	}
	/* Groups left open: regcomp refuses them, but they still count. */
	for (; d > 0; d--) {
		st[d - 1].size = add(st[d - 1].size, st[d].size);
		st[d - 1].loops = add(st[d - 1].loops, st[d].loops);
		st[d - 1].closure = add(st[d - 1].closure, st[d].closure);
		st[d - 1].anchor = st[d - 1].anchor || st[d].anchor;
	}
	/* With an anchor next to or inside them, glibc follows such loops once per combination
	 * of contexts: exponentially in their number (^2*******++ect takes 0.5 s, with four
	 * more stars 20 s). */
	if (st[0].anchor && st[0].loops > ZR_PATTERN_ANCHOR_LOOPS_MAX) {
		return SIZE_MAX;
	}
	return mul(st[0].size, add(add(st[0].loops, st[0].closure), 1));
}

size_t zr_pattern_value_max(const char *p)
{
	size_t cost = zr_pattern_cost(p);
	size_t max = ZR_PATTERN_WORK_MAX / (cost > 0 ? cost : 1);
	if (max > ZR_PATTERN_VALUE_MAX) {
		return ZR_PATTERN_VALUE_MAX;
	}
	return max > 0 ? max : 1;
}

int zr_pattern_match(const regex_t *re, const char *p, const char *s, size_t n)
{
	if (n > zr_pattern_value_max(p)) {
		return -EFBIG;
	}
	if (strlen(s) != n || regexec(re, s, 0, NULL, 0) != 0) {
		return -EINVAL;
	}
	return 0;
}
