/* Blueprints: the positioned tree of yaml-tree.c walked into struct zr_bp, with the checks
 * blueprint.h lists (shapes, keys, names, bounds, entries given twice). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint-internal.h"
#include "util/name.h"
#include "yaml-tree.h"

bool zr_bp__is_null(const struct zr_bp__walk *w, uint32_t i)
{
	const struct zr_ynode *n = zr_bp__node(w, i);
	if (n->kind != ZR_YNODE_SCALAR || !n->plain) {
		return false;
	}
	const char *s = zr_ytree__text(w->t, n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static bool is_bool(const struct zr_bp__walk *w, uint32_t i)
{
	static const char *const words[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
	const struct zr_ynode *n = zr_bp__node(w, i);
	if (n->kind != ZR_YNODE_SCALAR || !n->plain) {
		return false;
	}
	for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++) {
		if (!strcmp(zr_ytree__text(w->t, n), words[k])) {
			return true;
		}
	}
	return false;
}

/* The text of a scalar used as a name, uid or path: numbers are taken as written (a version
 * 1.0 is the text "1.0"), null, booleans, NUL bytes, mappings and sequences are refused. */
const char *zr_bp__text(struct zr_bp__walk *w, uint32_t i, const char *what, int *ret_r)
{
	const struct zr_ynode *n = zr_bp__node(w, i);
	if (n->kind != ZR_YNODE_SCALAR || zr_bp__is_null(w, i) || is_bool(w, i) ||
	    strlen(zr_ytree__text(w->t, n)) != n->len) {
		*ret_r = zr_ytree__fail(w->ret_err, -EINVAL, n->pos, "%s must be a string", what);
		return NULL;
	}
	return zr_ytree__text(w->t, n);
}

/* Splits "T/S" (exactly one '/', both names) into copies. 0, -EINVAL (not that shape), or
 * -ENOMEM. */
int zr_bp__split_path(const char *s, char **ret_t, char **ret_s)
{
	const char *slash = strchr(s, '/');
	if (!slash || strchr(slash + 1, '/')) {
		return -EINVAL;
	}
	char *t = strndup(s, (size_t)(slash - s)), *n = strdup(slash + 1);
	if (!t || !n) {
		free(t);
		free(n);
		return -ENOMEM;
	}
	if (!zr_name_valid(t) || !zr_name_valid(n)) {
		free(t);
		free(n);
		return -EINVAL;
	}
	*ret_t = t;
	*ret_s = n;
	return 0;
}

/* A "T/S" reference (parent, child): a copy of s, or an error at pos. */
int zr_bp__path(struct zr_bp__walk *w, uint32_t i, const char *what, char **ret)
{
	int r = 0;
	const char *s = zr_bp__text(w, i, what, &r);
	if (!s) {
		return r;
	}
	char *t, *n;
	r = zr_bp__split_path(s, &t, &n);
	if (r == -EINVAL) {
		return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, i)->pos,
				      "want TEMPLATE/NAME, got '%s'", SHOW(s));
	}
	if (r < 0) {
		return r;
	}
	free(t);
	free(n);
	char *copy = strdup(s);
	if (!copy) {
		return -ENOMEM;
	}
	*ret = copy;
	return 0;
}

/* A uid's components before NAME/VERSION: a path of plain words (a host, an account, a
 * repository), nothing that could climb or hide. */
static bool uid_prefix_valid(const char *s, size_t n)
{
	if (n == 0) {
		return false;
	}
	size_t comp = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '/') {
			if (comp == 0 || (comp == 1 && s[i - 1] == '.') ||
			    (comp == 2 && s[i - 1] == '.' && s[i - 2] == '.')) {
				return false;
			}
			comp = 0;
			continue;
		}
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("._~:-", c))) {
			return false;
		}
		comp++;
	}
	return true;
}

bool zr_bp_template_split(const char *tmpl, char *buf, size_t size, const char **ret_name,
			  const char **ret_version)
{
	size_t len = strlen(tmpl);
	if (size < len + 1) {
		return false;
	}
	if (zr_name_valid(tmpl)) {
		memcpy(buf, tmpl, len + 1);
		*ret_name = buf;
		*ret_version = NULL;
		return true;
	}
	const char *v = strrchr(tmpl, '/');
	if (!v || v == tmpl) {
		return false;
	}
	const char *nm = v - 1;
	while (nm > tmpl && *nm != '/') {
		nm--;
	}
	if (*nm != '/' || !uid_prefix_valid(tmpl, (size_t)(nm - tmpl))) {
		return false;
	}
	memcpy(buf, tmpl, len + 1);
	buf[v - tmpl] = '\0';
	const char *name = buf + (nm - tmpl) + 1, *version = buf + (v - tmpl) + 1;
	if (!zr_name_valid(name) || !zr_name_valid(version)) {
		return false;
	}
	*ret_name = name;
	*ret_version = version;
	return true;
}

bool zr_bp__template_valid(const char *tmpl, char *buf, size_t size, const char **ret_name)
{
	const char *version;
	return zr_bp_template_split(tmpl, buf, size, ret_name, &version);
}

/* Grows an array of n used items of size sz to hold one more. */
int zr_bp__grow(void **items, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap) {
		return 0;
	}
	size_t c = *cap ? *cap * 2 : 16;
	void *p = realloc(*items, c * sz);
	if (!p) {
		return -ENOMEM;
	}
	*items = p;
	*cap = c;
	return 0;
}

/* data: an object, or null for {}. */
int zr_bp__data(struct zr_bp__walk *w, uint32_t i, const char *what, json_t **ret)
{
	if (i == ZR_YTREE_NONE || zr_bp__is_null(w, i)) {
		json_t *o = json_object();
		if (!o) {
			return -ENOMEM;
		}
		*ret = o;
		return 0;
	}
	if (zr_bp__node(w, i)->kind != ZR_YNODE_MAP) {
		return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, i)->pos,
				      "%s must be an object", what);
	}
	return zr_ytree__json(w->t, i, ret, w->ret_err);
}

int zr_bp__bad_name(struct zr_bp__walk *w, struct zr_bp_pos pos, const char *what, const char *s)
{
	return zr_ytree__fail(w->ret_err, -EINVAL, pos, "bad %s '%s' (must match " NAME_RULE ")",
			      what, SHOW(s));
}

/* Finds key's index in words (NULL-terminated), or fails with "unknown key" listing them. */
int zr_bp__known_key(struct zr_bp__walk *w, uint32_t k, const char *const *words, const char *want,
		     uint32_t *seen)
{
	int r = 0;
	const char *key = zr_ytree__key(w->t, k, &r, w->ret_err);
	if (!key) {
		return r;
	}
	for (int i = 0; words[i]; i++) {
		if (!strcmp(key, words[i])) {
			if (*seen & (1u << i)) {
				return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, k)->pos,
						      "key '%s' given twice", key);
			}
			*seen |= 1u << i;
			return i;
		}
	}
	return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, k)->pos,
			      "unknown key '%s' (want %s)", SHOW(key), want);
}

/* The item of a list at index at (for the position of the first one beyond a bound). */
static uint32_t nth(const struct zr_bp__walk *w, uint32_t seq, size_t at)
{
	uint32_t c = zr_bp__node(w, seq)->first;
	for (size_t i = 0; i < at; i++) {
		c = zr_bp__node(w, c)->next;
	}
	return c;
}

static int list_of(struct zr_bp__walk *w, uint32_t v, const char *what, size_t max,
		   const char *unit)
{
	if (zr_bp__node(w, v)->kind != ZR_YNODE_SEQ) {
		return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, v)->pos,
				      "%s must be a list", what);
	}
	if (zr_bp__node(w, v)->n > max) {
		return zr_ytree__fail(w->ret_err, -E2BIG, zr_bp__node(w, nth(w, v, max))->pos,
				      "more than %zu %s", max, unit);
	}
	return 0;
}

/* "# zrobot: name=NAME dry-run prune" on a line of its own; the first such line counts. A
 * comment for YAML, and for JSON too: libyaml skips '#' comments in flow context. A line
 * inside a multi-line scalar (a script in a block scalar) is text, not a directive. */
static int directive(const char *text, size_t len, const struct zr_ytree *tree, struct zr_bp *bp,
		     char **ret_err)
{
	static const char tag[] = "zrobot:";
	unsigned line = 1;
	for (size_t at = 0; at < len; line++) {
		size_t end = at, b = 0;
		while (end < len && (b = zr_ytree__break(text, len, end)) == 0) {
			end++;
		}
		size_t next = end + b, i = at;
		while (i < end && (text[i] == ' ' || text[i] == '\t')) {
			i++;
		}
		if (i == end || text[i] != '#') {
			at = next;
			continue;
		}
		i++;
		while (i < end && (text[i] == ' ' || text[i] == '\t')) {
			i++;
		}
		if (end - i < sizeof(tag) - 1 || memcmp(text + i, tag, sizeof(tag) - 1) != 0 ||
		    zr_ytree__in_scalar(tree, line)) {
			at = next;
			continue;
		}
		for (i += sizeof(tag) - 1; i < end;) {
			while (i < end && strchr(" \t\r", text[i])) {
				i++;
			}
			size_t w = i;
			while (i < end && !strchr(" \t\r", text[i])) {
				i++;
			}
			if (w == i) {
				break;
			}
			struct zr_bp_pos pos = {.line = line, .column = 1};
			for (size_t c = at; c < w; c++) {
				pos.column += ((unsigned char)text[c] & 0xc0) != 0x80;
			}
			size_t n = i - w;
			const char *word = text + w;
			char show[72];
			if (n == 7 && !memcmp(word, "dry-run", 7)) {
				bp->dry_run = true;
			} else if (n == 5 && !memcmp(word, "prune", 5)) {
				bp->prune = true;
			} else if (n > 5 && !memcmp(word, "name=", 5)) {
				char *name = strndup(word + 5, n - 5);
				if (!name) {
					return -ENOMEM;
				}
				if (!zr_name_valid(name)) {
					free(name);
					return zr_ytree__fail(
						ret_err, -EINVAL, pos,
						"bad blueprint name '%s' (must match " NAME_RULE
						")",
						zr_ytree__show(word + 5, n - 5, show,
							       sizeof(show)));
				}
				free(bp->name);
				bp->name = name;
			} else {
				return zr_ytree__fail(ret_err, -EINVAL, pos,
						      "unknown directive '%s' (want name=NAME, "
						      "dry-run, prune)",
						      zr_ytree__show(word, n, show, sizeof(show)));
			}
		}
		return 0;
	}
	return 0;
}

static int walk_root(struct zr_bp__walk *w)
{
	static const char *const keys[] = {"services", "children", "actions", NULL};
	const struct zr_ytree *t = w->t;
	if (t->n_nodes == 0 || zr_bp__is_null(w, 0)) {
		return 0;
	}
	if (zr_bp__node(w, 0)->kind != ZR_YNODE_MAP) {
		return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, 0)->pos,
				      "want a mapping with services, children, actions");
	}
	uint32_t val[3] = {ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE};
	uint32_t seen = 0;
	for (uint32_t k = zr_bp__node(w, 0)->first; k != ZR_YTREE_NONE;
	     k = zr_bp__node(w, zr_bp__node(w, k)->next)->next) {
		int i = zr_bp__known_key(w, k, keys, "services, children, actions", &seen);
		if (i < 0) {
			return i;
		}
		val[i] = zr_bp__node(w, k)->next;
	}
	/* Bounds first, before any work on the entries. */
	int r = 0;
	if (val[0] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[0])) {
		r = list_of(w, val[0], "services", ZR_BP_MAX_SERVICES, "services");
	}
	if (r == 0 && val[2] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[2])) {
		r = list_of(w, val[2], "actions", ZR_BP_MAX_ACTIONS, "action blocks");
	}
	if (r == 0 && val[0] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[0])) {
		r = zr_bp__services(w, val[0]);
	}
	if (r == 0 && val[1] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[1])) {
		r = zr_bp__children(w, val[1]);
	}
	if (r == 0 && val[2] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[2])) {
		r = zr_bp__actions(w, val[2]);
	}
	return r;
}

int zr_bp_parse(const char *text, size_t len, struct zr_bp **ret, char **ret_err)
{
	if (len > ZR_BP_MAX_BYTES) {
		return zr_ytree__fail(ret_err, -E2BIG, (struct zr_bp_pos){1, 1},
				      "%zu bytes, more than %u", len, ZR_BP_MAX_BYTES);
	}
	struct zr_bp *bp = calloc(1, sizeof(*bp));
	if (!bp) {
		return -ENOMEM;
	}
	struct zr_ytree tree = {0};
	struct zr_bp__walk w = {.t = &tree, .bp = bp, .ret_err = ret_err};
	char *err = NULL;
	int r = zr_ytree__parse(&tree, text, len, &err);
	if (r == 0) {
		r = directive(text, len, &tree, bp, &err);
	}
	if (r == 0) {
		w.ret_err = &err;
		w.seen = json_object();
		w.seen_children = json_object();
		r = w.seen && w.seen_children ? walk_root(&w) : -ENOMEM;
	}
	json_decref(w.seen);
	json_decref(w.seen_children);
	zr_ytree__done(&tree);
	if (r < 0) {
		zr_bp_free(bp);
		if (err) {
			*ret_err = err;
		}
		return r;
	}
	*ret = bp;
	return 0;
}

void zr_bp_free(struct zr_bp *bp)
{
	if (!bp) {
		return;
	}
	for (size_t i = 0; i < bp->n_services; i++) {
		struct zr_bp_service *s = &bp->services[i];
		free(s->template);
		free(s->version);
		free(s->name);
		free(s->parent);
		json_decref(s->data);
	}
	free(bp->services);
	for (size_t i = 0; i < bp->n_children; i++) {
		free(bp->children[i].parent);
		free(bp->children[i].child);
	}
	free(bp->children);
	for (size_t i = 0; i < bp->n_actions; i++) {
		struct zr_bp_action *a = &bp->actions[i];
		free(a->template);
		free(a->service);
		for (size_t k = 0; k < a->n_actions; k++) {
			free(a->actions[k]);
		}
		free(a->actions);
		json_decref(a->args);
	}
	free(bp->actions);
	free(bp->name);
	free(bp);
}
