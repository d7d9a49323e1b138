/* The size of the tree glibc's regcomp would build for an extended regular expression. */
#include <stdbool.h>
#include <stdint.h>

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

/* How many copies of its operand the interval at s ("{m}", "{m,}", "{m,n}", and glibc's
 * "{,n}" for "{0,n}") makes, moving s past it; 0 when s is not an interval (then glibc reads
 * '{' as a plain character or refuses the pattern). */
static size_t interval_copies(const char **s)
{
	const char *q = *s + 1;
	size_t m = 0, n;
	bool has_m = parse_count(&q, &m);
	size_t copies = m;
	if (*q == ',') {
		q++;
		copies = parse_count(&q, &n) ? n : add(m, 1);
	} else if (!has_m) {
		return 0;
	}
	if (*q != '}') {
		return 0;
	}
	*s = q + 1;
	return copies > 0 ? copies : 1;
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

size_t zr_pattern_size(const char *p)
{
	/* Per open group: the size of what it holds so far, and of its last element, which a
	 * repetition that follows copies. */
	struct {
		size_t sum, last;
	} st[ZR_PATTERN_DEPTH_MAX + 1] = {{0, 0}};
	size_t d = 0;
	const char *s = p;
	while (*s) {
		size_t copies, atom = 1;
		switch (*s) {
		case '(':
			if (d == ZR_PATTERN_DEPTH_MAX) {
				return SIZE_MAX;
			}
			d++;
			st[d].sum = st[d].last = 0;
			s++;
			continue;
		case ')':
			if (d == 0) {
				break; /* a plain character */
			}
			atom = add(st[d].sum, 1);
			d--;
			s++;
			st[d].sum = add(st[d].sum, atom);
			st[d].last = atom;
			continue;
		case '+':
			st[d].sum = add(st[d].sum, st[d].last);
			st[d].last = mul(st[d].last, 2);
			s++;
			continue;
		case '*':
		case '?':
		case '|':
			st[d].sum = add(st[d].sum, 1);
			st[d].last = *s == '|' ? 0 : add(st[d].last, 1);
			s++;
			continue;
		case '{':
			copies = interval_copies(&s);
			if (copies == 0) {
				break;
			}
			st[d].sum = add(st[d].sum, mul(st[d].last, copies - 1));
			st[d].last = mul(st[d].last, copies);
			continue;
		case '[':
			s = skip_bracket(s);
			st[d].sum = add(st[d].sum, 1);
			st[d].last = 1;
			continue;
		case '\\':
			s += s[1] ? 1 : 0;
			break;
		default:
			break;
		}
		s++;
		st[d].sum = add(st[d].sum, atom);
		st[d].last = atom;
	}
	/* Groups left open: regcomp refuses them, but they still count. */
	while (d > 0) {
		d--;
		st[d].sum = add(st[d].sum, st[d + 1].sum);
	}
	return st[0].sum;
}
