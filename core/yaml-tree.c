/* libyaml events → a tree of positioned nodes, and nodes → JSON values (see yaml-tree.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "yaml-tree.h"

int zr_ytree__fail(char **ret_err, int r, struct zr_bp_pos pos, const char *fmt, ...)
{
	char *reason = NULL, *err = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&reason, fmt, ap);
	va_end(ap);
	if (n < 0) {
		return -ENOMEM;
	}
	n = asprintf(&err, "line %u, column %u: %s", pos.line, pos.column, reason);
	free(reason);
	if (n < 0) {
		return -ENOMEM;
	}
	*ret_err = err;
	return r;
}

const char *zr_ytree__show(const char *s, size_t n, char *buf, size_t size)
{
	size_t max = size < 72 ? size - 8 : 64, o = 0;
	for (size_t i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)s[i];
		buf[o++] = c < 0x20 || c == 0x7f || c == '\'' || c == '"' ? '?' : (char)c;
	}
	if (n > max) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}

static struct zr_bp_pos mark_pos(yaml_mark_t m)
{
	return (struct zr_bp_pos){.line = (unsigned)m.line + 1, .column = (unsigned)m.column + 1};
}

size_t zr_ytree__break(const char *text, size_t len, size_t i)
{
	const unsigned char *s = (const unsigned char *)text + i;
	size_t left = len - i;
	if (s[0] == '\r') {
		return left >= 2 && s[1] == '\n' ? 2 : 1;
	}
	if (s[0] == '\n') {
		return 1;
	}
	if (left >= 2 && s[0] == 0xc2 && s[1] == 0x85) {
		return 2;
	}
	if (left >= 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9)) {
		return 3;
	}
	return 0;
}

/* The position of byte offset in text: libyaml gives only the offset for a reader error
 * (bad UTF-8, a control character). Lines and columns are counted as libyaml's marks are. */
static struct zr_bp_pos offset_pos(const char *text, size_t len, size_t offset)
{
	struct zr_bp_pos pos = {1, 1};
	for (size_t i = 0; i < offset && i < len;) {
		size_t b = zr_ytree__break(text, len, i);
		if (b > 0) {
			pos.line++;
			pos.column = 1;
			i += b;
			continue;
		}
		pos.column += ((unsigned char)text[i] & 0xc0) != 0x80;
		i++;
	}
	return pos;
}

static int add_node(struct zr_ytree *t, uint8_t kind, yaml_mark_t m, uint32_t *ret)
{
	if (t->n_nodes == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct zr_ynode *n = realloc(t->nodes, cap * sizeof(*n));
		if (!n) {
			return -ENOMEM;
		}
		t->nodes = n;
		t->cap = cap;
	}
	t->nodes[t->n_nodes] = (struct zr_ynode){
		.kind = kind, .pos = mark_pos(m), .first = ZR_YTREE_NONE, .next = ZR_YTREE_NONE};
	*ret = (uint32_t)t->n_nodes++;
	return 0;
}

static int add_text(struct zr_ytree *t, const unsigned char *s, size_t n, uint32_t *ret)
{
	if (t->strs_cap - t->strs_len < n + 1) {
		size_t cap = t->strs_cap ? t->strs_cap : 4096;
		while (cap - t->strs_len < n + 1) {
			cap *= 2;
		}
		char *p = realloc(t->strs, cap);
		if (!p) {
			return -ENOMEM;
		}
		t->strs = p;
		t->strs_cap = cap;
	}
	memcpy(t->strs + t->strs_len, s, n);
	t->strs[t->strs_len + n] = '\0';
	*ret = (uint32_t)t->strs_len;
	t->strs_len += n + 1;
	return 0;
}

/* Records the lines after a scalar's first that it covers. A block scalar ends at column 0
 * of the line after its text: that line is not covered. */
static int add_span(struct zr_ytree *t, yaml_mark_t start, yaml_mark_t end)
{
	struct zr_yspan span = {.first = (unsigned)start.line + 2,
				.last = (unsigned)end.line + (end.column > 0)};
	if (span.first > span.last) {
		return 0;
	}
	if (t->n_spans == t->spans_cap) {
		size_t cap = t->spans_cap ? t->spans_cap * 2 : 16;
		struct zr_yspan *p = realloc(t->spans, cap * sizeof(*p));
		if (!p) {
			return -ENOMEM;
		}
		t->spans = p;
		t->spans_cap = cap;
	}
	t->spans[t->n_spans++] = span;
	return 0;
}

bool zr_ytree__in_scalar(const struct zr_ytree *t, unsigned line)
{
	/* Scalars come in document order and do not overlap: a binary search. */
	size_t lo = 0, hi = t->n_spans;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->spans[mid].last < line) {
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	return lo < t->n_spans && t->spans[lo].first <= line;
}

/* The open containers while reading: each with its last child, to link the next one. */
struct open {
	uint32_t node, last;
};

static void link_child(struct zr_ytree *t, struct open *o, uint32_t child)
{
	if (o->last == ZR_YTREE_NONE) {
		t->nodes[o->node].first = child;
	} else {
		t->nodes[o->last].next = child;
	}
	o->last = child;
	t->nodes[o->node].n++;
}

/* libyaml's own error, at its problem mark (or offset, for the reader). */
static int syntax_error(const yaml_parser_t *p, const char *text, size_t len, char **ret_err)
{
	if (p->error == YAML_MEMORY_ERROR) {
		return -ENOMEM;
	}
	struct zr_bp_pos pos = p->error == YAML_READER_ERROR
				       ? offset_pos(text, len, p->problem_offset)
				       : mark_pos(p->problem_mark);
	return zr_ytree__fail(ret_err, -EINVAL, pos, "%s",
			      p->problem ? p->problem : "not YAML or JSON");
}

/* Refuses what would let a small text stand for a large or surprising one. */
static int check_props(const yaml_char_t *anchor, const yaml_char_t *tag, yaml_mark_t m,
		       char **ret_err)
{
	char buf[72];
	if (anchor) {
		return zr_ytree__fail(
			ret_err, -EINVAL, mark_pos(m), "anchors (&%s) are not allowed",
			zr_ytree__show((const char *)anchor, strlen((const char *)anchor), buf,
				       sizeof(buf)));
	}
	if (tag) {
		return zr_ytree__fail(ret_err, -EINVAL, mark_pos(m), "tags (%s) are not allowed",
				      zr_ytree__show((const char *)tag, strlen((const char *)tag),
						     buf, sizeof(buf)));
	}
	return 0;
}

static int on_event(struct zr_ytree *t, const yaml_event_t *e, struct open *stack, size_t *depth,
		    unsigned *docs, char **ret_err)
{
	uint32_t node;
	int r;
	switch (e->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++*docs > 1) {
			return zr_ytree__fail(ret_err, -EINVAL, mark_pos(e->start_mark),
					      "more than one document");
		}
		return 0;
	case YAML_ALIAS_EVENT: {
		const char *a = (const char *)e->data.alias.anchor;
		char buf[72];
		return zr_ytree__fail(ret_err, -EINVAL, mark_pos(e->start_mark),
				      "aliases (*%s) are not allowed",
				      zr_ytree__show(a, strlen(a), buf, sizeof(buf)));
	}
	case YAML_SCALAR_EVENT:
		r = check_props(e->data.scalar.anchor, e->data.scalar.tag, e->start_mark, ret_err);
		if (r < 0) {
			return r;
		}
		r = add_node(t, ZR_YNODE_SCALAR, e->start_mark, &node);
		if (r < 0) {
			return r;
		}
		t->nodes[node].plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		t->nodes[node].len = (uint32_t)e->data.scalar.length;
		r = add_text(t, e->data.scalar.value, e->data.scalar.length, &t->nodes[node].str);
		if (r < 0) {
			return r;
		}
		r = add_span(t, e->start_mark, e->end_mark);
		if (r < 0) {
			return r;
		}
		break;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		r = e->type == YAML_MAPPING_START_EVENT
			    ? check_props(e->data.mapping_start.anchor, e->data.mapping_start.tag,
					  e->start_mark, ret_err)
			    : check_props(e->data.sequence_start.anchor, e->data.sequence_start.tag,
					  e->start_mark, ret_err);
		if (r < 0) {
			return r;
		}
		if (*depth >= ZR_BP_MAX_DEPTH) {
			return zr_ytree__fail(ret_err, -E2BIG, mark_pos(e->start_mark),
					      "nested deeper than %u", ZR_BP_MAX_DEPTH);
		}
		r = add_node(t, e->type == YAML_MAPPING_START_EVENT ? ZR_YNODE_MAP : ZR_YNODE_SEQ,
			     e->start_mark, &node);
		if (r < 0) {
			return r;
		}
		break;
	case YAML_MAPPING_END_EVENT:
	case YAML_SEQUENCE_END_EVENT:
		(*depth)--;
		return 0;
	default:
		return 0;
	}
	if (*depth > 0) {
		link_child(t, &stack[*depth - 1], node);
	}
	if (t->nodes[node].kind != ZR_YNODE_SCALAR) {
		stack[(*depth)++] = (struct open){.node = node, .last = ZR_YTREE_NONE};
	}
	return 0;
}

/* libyaml (YAML 1.1) takes NEL, LS and PS for line breaks, also inside a quoted string, where
 * it folds them to a space: the JSON string "a<LS>b" would silently become "a b". Refused
 * instead, with the escape that keeps them. */
static int check_unicode_breaks(const char *text, size_t len, char **ret_err)
{
	for (size_t i = 0; i + 1 < len; i++) {
		size_t b = (unsigned char)text[i] >= 0xc2 ? zr_ytree__break(text, len, i) : 0;
		if (b > 0) {
			const char *esc = b == 2                  ? "\\u0085"
					  : text[i + 2] == '\xa8' ? "\\u2028"
								  : "\\u2029";
			return zr_ytree__fail(ret_err, -EINVAL, offset_pos(text, len, i),
					      "U+%s, a line break for YAML, is not allowed (in a "
					      "double-quoted string, write %s)",
					      esc + 2, esc);
		}
	}
	return 0;
}

int zr_ytree__parse(struct zr_ytree *t, const char *text, size_t len, char **ret_err)
{
	int r = check_unicode_breaks(text, len, ret_err);
	if (r < 0) {
		return r;
	}
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p)) {
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
	struct open stack[ZR_BP_MAX_DEPTH];
	size_t depth = 0;
	unsigned docs = 0;
	for (bool end = false; !end && r == 0;) {
		yaml_event_t e;
		if (!yaml_parser_parse(&p, &e)) {
			r = syntax_error(&p, text, len, ret_err);
			break;
		}
		end = e.type == YAML_STREAM_END_EVENT;
		r = on_event(t, &e, stack, &depth, &docs, ret_err);
		yaml_event_delete(&e);
	}
	yaml_parser_delete(&p);
	return r;
}

void zr_ytree__done(struct zr_ytree *t)
{
	free(t->nodes);
	free(t->strs);
	free(t->spans);
	*t = (struct zr_ytree){0};
}

static bool is_digits(const char *s, const char **ret_end)
{
	const char *p = s;
	while (*p >= '0' && *p <= '9') {
		p++;
	}
	*ret_end = p;
	return p > s;
}

/* YAML 1.2 core: [-+]? ( \. [0-9]+ | [0-9]+ ( \. [0-9]* )? ) ( [eE] [-+]? [0-9]+ )? */
static bool is_float(const char *s)
{
	const char *p = s + (*s == '-' || *s == '+');
	if (*p == '.') {
		if (!is_digits(p + 1, &p)) {
			return false;
		}
	} else {
		if (!is_digits(p, &p)) {
			return false;
		}
		if (*p == '.') {
			(void)is_digits(p + 1, &p);
		}
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		p += *p == '-' || *p == '+';
		if (!is_digits(p, &p)) {
			return false;
		}
	}
	return *p == '\0';
}

static bool is_one_of(const char *s, const char *const *words)
{
	for (; *words; words++) {
		if (strcmp(s, *words) == 0) {
			return true;
		}
	}
	return false;
}

int zr_ytree__scalar(const struct zr_ytree *t, uint32_t i, json_t **ret, char **ret_err)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
	static const char *const trues[] = {"true", "True", "TRUE", NULL};
	static const char *const falses[] = {"false", "False", "FALSE", NULL};
	static const char *const infs[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", NULL};
	const struct zr_ynode *n = &t->nodes[i];
	const char *s = t->strs + n->str;
	json_t *v = NULL;
	if (!n->plain) {
		v = json_stringn(s, n->len);
	} else if (is_one_of(s, nulls)) {
		v = json_null();
	} else if (is_one_of(s, trues)) {
		v = json_true();
	} else if (is_one_of(s, falses)) {
		v = json_false();
	} else if (is_one_of(s + (*s == '-' || *s == '+'), infs)) {
		return zr_ytree__fail(ret_err, -EINVAL, n->pos, "%s is not a number JSON can carry",
				      s);
	} else {
		const char *p = s + (*s == '-' || *s == '+'), *end;
		if (is_digits(p, &end) && *end == '\0') {
			errno = 0;
			long long x = strtoll(s, NULL, 10);
			if (errno == ERANGE) {
				char buf[72];
				return zr_ytree__fail(ret_err, -EINVAL, n->pos,
						      "integer %s out of range",
						      zr_ytree__show(s, n->len, buf, sizeof(buf)));
			}
			v = json_integer(x);
		} else if (is_float(s)) {
			double x = strtod(s, NULL);
			if (!isfinite(x)) {
				char buf[72];
				return zr_ytree__fail(ret_err, -EINVAL, n->pos,
						      "number %s out of range",
						      zr_ytree__show(s, n->len, buf, sizeof(buf)));
			}
			v = json_real(x);
		} else {
			v = json_stringn(s, n->len);
		}
	}
	if (!v) {
		return -ENOMEM;
	}
	*ret = v;
	return 0;
}

const char *zr_ytree__key(const struct zr_ytree *t, uint32_t i, int *ret_r, char **ret_err)
{
	const struct zr_ynode *n = &t->nodes[i];
	if (n->kind != ZR_YNODE_SCALAR) {
		*ret_r = zr_ytree__fail(ret_err, -EINVAL, n->pos, "a key must be a string");
		return NULL;
	}
	const char *s = t->strs + n->str;
	if (strlen(s) != n->len) {
		*ret_r = zr_ytree__fail(ret_err, -EINVAL, n->pos, "a key must not hold a NUL byte");
		return NULL;
	}
	if (n->plain) {
		json_t *v = NULL;
		int r = zr_ytree__scalar(t, i, &v, ret_err);
		if (r < 0) {
			*ret_r = r;
			return NULL;
		}
		bool str = json_is_string(v);
		json_decref(v);
		if (!str) {
			char buf[72];
			*ret_r = zr_ytree__fail(ret_err, -EINVAL, n->pos,
						"key '%s' is not a string (quote it)",
						zr_ytree__show(s, n->len, buf, sizeof(buf)));
			return NULL;
		}
	}
	return s;
}

static int map_json(const struct zr_ytree *t, uint32_t i, json_t **ret, char **ret_err)
{
	json_t *o = json_object();
	if (!o) {
		return -ENOMEM;
	}
	int r = 0;
	for (uint32_t k = t->nodes[i].first; k != ZR_YTREE_NONE && r == 0;) {
		uint32_t v = t->nodes[k].next;
		const char *key = zr_ytree__key(t, k, &r, ret_err);
		if (!key) {
			break;
		}
		json_t *x = NULL;
		r = zr_ytree__json(t, v, &x, ret_err);
		if (r < 0) {
			break;
		}
		/* A key given twice replaces the first: seen by the size, with one lookup. */
		size_t before = json_object_size(o);
		if (json_object_set_new(o, key, x) < 0) {
			r = -ENOMEM;
		} else if (json_object_size(o) == before) {
			char buf[72];
			r = zr_ytree__fail(ret_err, -EINVAL, t->nodes[k].pos,
					   "key '%s' given twice",
					   zr_ytree__show(key, strlen(key), buf, sizeof(buf)));
		}
		k = t->nodes[v].next;
	}
	if (r < 0) {
		json_decref(o);
		return r;
	}
	*ret = o;
	return 0;
}

int zr_ytree__json(const struct zr_ytree *t, uint32_t i, json_t **ret, char **ret_err)
{
	const struct zr_ynode *n = &t->nodes[i];
	if (n->kind == ZR_YNODE_SCALAR) {
		return zr_ytree__scalar(t, i, ret, ret_err);
	}
	if (n->kind == ZR_YNODE_MAP) {
		return map_json(t, i, ret, ret_err);
	}
	json_t *a = json_array();
	if (!a) {
		return -ENOMEM;
	}
	for (uint32_t c = n->first; c != ZR_YTREE_NONE; c = t->nodes[c].next) {
		json_t *x = NULL;
		int r = zr_ytree__json(t, c, &x, ret_err);
		if (r == 0 && json_array_append_new(a, x) < 0) {
			r = -ENOMEM;
		}
		if (r < 0) {
			json_decref(a);
			return r;
		}
	}
	*ret = a;
	return 0;
}
