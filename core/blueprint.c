/* Blueprints: the positioned tree of yaml-tree.c walked into struct zr_bp, with the checks
 * blueprint.h lists (shapes, keys, names, bounds, entries given twice). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint.h"
#include "util/name.h"
#include "yaml-tree.h"

#define NAME_RULE "[a-z0-9][a-z0-9_.-]{0,62}"

struct walk {
	const struct zr_ytree *t;
	struct zr_bp *bp;
	char **ret_err;
	json_t *seen; /* "TEMPLATE-NAME/NAME" of each service → its line, for "listed twice" */
	json_t *seen_children;
	size_t cap_services, cap_children, cap_actions;
};

static const struct zr_ynode *node(const struct walk *w, uint32_t i)
{
	return zr_ytree__node(w->t, i);
}

static bool is_null(const struct walk *w, uint32_t i)
{
	const struct zr_ynode *n = node(w, i);
	if (n->kind != ZR_YNODE_SCALAR || !n->plain) {
		return false;
	}
	const char *s = zr_ytree__text(w->t, n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") ||
	       !strcmp(s, "NULL");
}

static bool is_bool(const struct walk *w, uint32_t i)
{
	static const char *const words[] = {"true", "True", "TRUE", "false", "False", "FALSE"};
	const struct zr_ynode *n = node(w, i);
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

#define SHOW(s) zr_ytree__show((s), strlen(s), (char[72]){0}, 72)

/* The text of a scalar used as a name, uid or path: numbers are taken as written (a version
 * 1.0 is the text "1.0"), null, booleans, NUL bytes, mappings and sequences are refused. */
static const char *text_of(struct walk *w, uint32_t i, const char *what, int *ret_r)
{
	const struct zr_ynode *n = node(w, i);
	if (n->kind != ZR_YNODE_SCALAR || is_null(w, i) || is_bool(w, i) ||
	    strlen(zr_ytree__text(w->t, n)) != n->len) {
		*ret_r = zr_ytree__fail(w->ret_err, -EINVAL, n->pos, "%s must be a string", what);
		return NULL;
	}
	return zr_ytree__text(w->t, n);
}

/* Splits "T/S" (exactly one '/', both names) into copies. 0, -EINVAL (not that shape), or
 * -ENOMEM. */
static int split_ts(const char *s, char **ret_t, char **ret_s)
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
static int path_of(struct walk *w, uint32_t i, const char *what, char **ret)
{
	int r = 0;
	const char *s = text_of(w, i, what, &r);
	if (!s) {
		return r;
	}
	char *t, *n;
	r = split_ts(s, &t, &n);
	if (r == -EINVAL) {
		return zr_ytree__fail(w->ret_err, -EINVAL, node(w, i)->pos,
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

static bool template_valid(const char *tmpl, char *buf, size_t size, const char **ret_name)
{
	const char *version;
	return zr_bp_template_split(tmpl, buf, size, ret_name, &version);
}

/* Grows an array of n used items of size sz to hold one more. */
static int grow(void **items, size_t n, size_t *cap, size_t sz)
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
static int data_of(struct walk *w, uint32_t i, const char *what, json_t **ret)
{
	if (i == ZR_YTREE_NONE || is_null(w, i)) {
		json_t *o = json_object();
		if (!o) {
			return -ENOMEM;
		}
		*ret = o;
		return 0;
	}
	if (node(w, i)->kind != ZR_YNODE_MAP) {
		return zr_ytree__fail(w->ret_err, -EINVAL, node(w, i)->pos,
				      "%s must be an object", what);
	}
	return zr_ytree__json(w->t, i, ret, w->ret_err);
}

/* Takes ownership of s's members: adds it, unless its TEMPLATE-NAME/NAME came before. */
static int add_service(struct walk *w, struct zr_bp_service *s)
{
	char buf[512];
	const char *tname = NULL;
	int r = 0;
	char *key = NULL;
	if (!template_valid(s->template, buf, sizeof(buf), &tname) ||
	    asprintf(&key, "%s/%s", tname, s->name) < 0) {
		key = NULL;
		r = -ENOMEM;
		goto fail;
	}
	json_t *first = json_object_get(w->seen, key);
	if (first) {
		r = zr_ytree__fail(w->ret_err, -EINVAL, s->pos, "%s listed twice (first at line %lld)",
				   key, (long long)json_integer_value(first));
		goto fail;
	}
	if (json_object_set_new(w->seen, key, json_integer(s->pos.line)) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	struct zr_bp *bp = w->bp;
	r = grow((void **)&bp->services, bp->n_services, &w->cap_services, sizeof(*s));
	if (r < 0) {
		goto fail;
	}
	bp->services[bp->n_services++] = *s;
	free(key);
	return 0;
fail:
	free(key);
	free(s->template);
	free(s->version);
	free(s->name);
	free(s->parent);
	json_decref(s->data);
	return r;
}

static int bad_name(struct walk *w, struct zr_bp_pos pos, const char *what, const char *s)
{
	return zr_ytree__fail(w->ret_err, -EINVAL, pos, "bad %s '%s' (must match " NAME_RULE ")",
			      what, SHOW(s));
}

/* "TEMPLATE/NAME" (ours) or "<template-or-uid>__NAME" (ZeroRobot's) → copies. */
static int service_key(struct walk *w, const char *key, struct zr_bp_pos pos, char **ret_t,
		       char **ret_n)
{
	int r = split_ts(key, ret_t, ret_n);
	if (r != -EINVAL) {
		return r;
	}
	const char *us = NULL;
	for (const char *p = strstr(key, "__"); p; p = strstr(p + 1, "__")) {
		us = p;
	}
	const char *slash = strchr(key, '/');
	if (us && us > key && !strchr(us, '/')) {
		char *tmpl = strndup(key, (size_t)(us - key));
		if (!tmpl) {
			return -ENOMEM;
		}
		char buf[512];
		const char *tname;
		if (strlen(tmpl) >= sizeof(buf) || !template_valid(tmpl, buf, sizeof(buf), &tname)) {
			r = zr_ytree__fail(w->ret_err, -EINVAL, pos,
					   "bad template '%s' (want a name or a uid .../NAME/VERSION)",
					   SHOW(tmpl));
			free(tmpl);
			return r;
		}
		if (!zr_name_valid(us + 2)) {
			free(tmpl);
			return bad_name(w, pos, "service name", us + 2);
		}
		char *name = strdup(us + 2);
		if (!name) {
			free(tmpl);
			return -ENOMEM;
		}
		*ret_t = tmpl;
		*ret_n = name;
		return 0;
	}
	if (slash && !strchr(slash + 1, '/')) {
		char *t = strndup(key, (size_t)(slash - key));
		if (!t) {
			return -ENOMEM;
		}
		r = zr_name_valid(t) ? bad_name(w, pos, "service name", slash + 1)
				     : bad_name(w, pos, "template name", t);
		free(t);
		return r;
	}
	return zr_ytree__fail(w->ret_err, -EINVAL, pos,
			      "want TEMPLATE/NAME or TEMPLATE__NAME, got '%s'", SHOW(key));
}

/* - "TEMPLATE/NAME": data */
static int short_service(struct walk *w, uint32_t item)
{
	uint32_t k = node(w, item)->first, v = node(w, k)->next;
	int r = 0;
	const char *key = zr_ytree__key(w->t, k, &r, w->ret_err);
	if (!key) {
		return r;
	}
	struct zr_bp_service s = {.pos = node(w, item)->pos};
	r = service_key(w, key, s.pos, &s.template, &s.name);
	if (r < 0) {
		return r;
	}
	char what[160];
	(void)snprintf(what, sizeof(what), "the data of %s", SHOW(key));
	r = data_of(w, v, what, &s.data);
	if (r < 0) {
		free(s.template);
		free(s.name);
		return r;
	}
	return add_service(w, &s);
}

/* Finds key's index in words (NULL-terminated), or fails with "unknown key" listing them. */
static int known_key(struct walk *w, uint32_t k, const char *const *words, const char *want,
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
				return zr_ytree__fail(w->ret_err, -EINVAL, node(w, k)->pos,
						      "key '%s' given twice", key);
			}
			*seen |= 1u << i;
			return i;
		}
	}
	return zr_ytree__fail(w->ret_err, -EINVAL, node(w, k)->pos, "unknown key '%s' (want %s)",
			      SHOW(key), want);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* - {template, name, version, data, parent} */
static int long_service(struct walk *w, uint32_t item)
{
	static const char *const keys[] = {"template", "name", "version", "data", "parent", NULL};
	uint32_t val[5] = {ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE,
			   ZR_YTREE_NONE};
	uint32_t seen = 0;
	for (uint32_t k = node(w, item)->first; k != ZR_YTREE_NONE;
	     k = node(w, node(w, k)->next)->next) {
		int i = known_key(w, k, keys, "template, name, version, data, parent", &seen);
		if (i < 0) {
			return i;
		}
		val[i] = node(w, k)->next;
	}
	struct zr_bp_pos pos = node(w, item)->pos;
	if (val[1] == ZR_YTREE_NONE) {
		return zr_ytree__fail(w->ret_err, -EINVAL, pos, "a service without 'name'");
	}
	int r = 0;
	const char *tmpl = text_of(w, val[0], "template", &r), *name, *version = NULL;
	if (!tmpl) {
		return r;
	}
	char buf[512];
	const char *tname;
	if (strlen(tmpl) >= sizeof(buf) || !template_valid(tmpl, buf, sizeof(buf), &tname)) {
		return zr_ytree__fail(w->ret_err, -EINVAL, node(w, val[0])->pos,
				      "bad template '%s' (want a name or a uid .../NAME/VERSION)",
				      SHOW(tmpl));
	}
	name = text_of(w, val[1], "name", &r);
	if (!name) {
		return r;
	}
	if (!zr_name_valid(name)) {
		return bad_name(w, node(w, val[1])->pos, "service name", name);
	}
	if (val[2] != ZR_YTREE_NONE && !is_null(w, val[2])) {
		version = text_of(w, val[2], "version", &r);
		if (!version) {
			return r;
		}
		if (!zr_name_valid(version)) {
			return bad_name(w, node(w, val[2])->pos, "version", version);
		}
	}
	struct zr_bp_service s = {.pos = pos};
	if (val[4] != ZR_YTREE_NONE && !is_null(w, val[4])) {
		r = path_of(w, val[4], "parent", &s.parent);
		if (r < 0) {
			return r;
		}
	}
	char what[160];
	(void)snprintf(what, sizeof(what), "the data of %s/%s", SHOW(tname), name);
	r = data_of(w, val[3], what, &s.data);
	s.template = strdup(tmpl);
	s.name = strdup(name);
	s.version = dup_or_null(version);
	if (r == 0 && (!s.template || !s.name || (version && !s.version))) {
		r = -ENOMEM;
	}
	if (r < 0) {
		free(s.template);
		free(s.name);
		free(s.version);
		free(s.parent);
		json_decref(s.data);
		return r;
	}
	return add_service(w, &s);
}

/* The item of a list at index at (for the position of the first one beyond a bound). */
static uint32_t nth(const struct walk *w, uint32_t seq, size_t at)
{
	uint32_t c = node(w, seq)->first;
	for (size_t i = 0; i < at; i++) {
		c = node(w, c)->next;
	}
	return c;
}

static int list_of(struct walk *w, uint32_t v, const char *what, size_t max, const char *unit)
{
	if (node(w, v)->kind != ZR_YNODE_SEQ) {
		return zr_ytree__fail(w->ret_err, -EINVAL, node(w, v)->pos, "%s must be a list",
				      what);
	}
	if (node(w, v)->n > max) {
		return zr_ytree__fail(w->ret_err, -E2BIG, node(w, nth(w, v, max))->pos,
				      "more than %zu %s", max, unit);
	}
	return 0;
}

static int services(struct walk *w, uint32_t v)
{
	int r = list_of(w, v, "services", ZR_BP_MAX_SERVICES, "services");
	if (r < 0) {
		return r;
	}
	for (uint32_t item = node(w, v)->first; item != ZR_YTREE_NONE && r == 0;
	     item = node(w, item)->next) {
		const struct zr_ynode *n = node(w, item);
		bool long_form = false;
		if (n->kind == ZR_YNODE_MAP) {
			for (uint32_t k = n->first; k != ZR_YTREE_NONE;
			     k = node(w, node(w, k)->next)->next) {
				const struct zr_ynode *kn = node(w, k);
				long_form |= kn->kind == ZR_YNODE_SCALAR &&
					     !strcmp(zr_ytree__text(w->t, kn), "template");
			}
		}
		if (long_form) {
			r = long_service(w, item);
		} else if (n->kind == ZR_YNODE_MAP && n->n == 2) {
			r = short_service(w, item);
		} else {
			r = zr_ytree__fail(w->ret_err, -EINVAL, n->pos,
					   "want TEMPLATE/NAME: DATA, or {template, name, ...}");
		}
	}
	return r;
}

static int add_child(struct walk *w, const char *parent, uint32_t item)
{
	struct zr_bp_child c = {.pos = node(w, item)->pos};
	int r = path_of(w, item, "a child", &c.child);
	if (r < 0) {
		return r;
	}
	json_t *first = json_object_get(w->seen_children, c.child);
	if (first) {
		r = zr_ytree__fail(w->ret_err, -EINVAL, c.pos, "%s listed twice (first at line %lld)",
				   c.child, (long long)json_integer_value(first));
		free(c.child);
		return r;
	}
	struct zr_bp *bp = w->bp;
	c.parent = strdup(parent);
	if (!c.parent ||
	    json_object_set_new(w->seen_children, c.child, json_integer(c.pos.line)) < 0 ||
	    grow((void **)&bp->children, bp->n_children, &w->cap_children, sizeof(c)) < 0) {
		free(c.parent);
		free(c.child);
		return -ENOMEM;
	}
	bp->children[bp->n_children++] = c;
	return 0;
}

/* children: {"T/S": ["T/S", ...] or "T/S"} */
static int children(struct walk *w, uint32_t v)
{
	if (node(w, v)->kind != ZR_YNODE_MAP) {
		return zr_ytree__fail(w->ret_err, -EINVAL, node(w, v)->pos,
				      "children must be a mapping of TEMPLATE/NAME: [TEMPLATE/NAME]");
	}
	json_t *parents = json_object();
	if (!parents) {
		return -ENOMEM;
	}
	int r = 0;
	for (uint32_t k = node(w, v)->first; k != ZR_YTREE_NONE && r == 0;) {
		uint32_t list = node(w, k)->next;
		char *parent = NULL;
		r = path_of(w, k, "a parent", &parent);
		if (r < 0) {
			break;
		}
		if (json_object_get(parents, parent)) {
			r = zr_ytree__fail(w->ret_err, -EINVAL, node(w, k)->pos,
					   "key '%s' given twice", parent);
		} else if (json_object_set_new(parents, parent, json_true()) < 0) {
			r = -ENOMEM;
		} else if (node(w, list)->kind == ZR_YNODE_SEQ) {
			for (uint32_t c = node(w, list)->first; c != ZR_YTREE_NONE && r == 0;
			     c = node(w, c)->next) {
				r = add_child(w, parent, c);
			}
		} else if (!is_null(w, list)) {
			r = add_child(w, parent, list);
		}
		free(parent);
		k = node(w, list)->next;
	}
	json_decref(parents);
	return r;
}

static int action_block(struct walk *w, uint32_t item)
{
	static const char *const keys[] = {"template", "service", "actions", "args", NULL};
	const struct zr_ynode *n = node(w, item);
	if (n->kind != ZR_YNODE_MAP) {
		return zr_ytree__fail(w->ret_err, -EINVAL, n->pos,
				      "want an action block {template, service, actions, args}");
	}
	uint32_t val[4] = {ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE};
	uint32_t seen = 0;
	for (uint32_t k = n->first; k != ZR_YTREE_NONE; k = node(w, node(w, k)->next)->next) {
		int i = known_key(w, k, keys, "template, service, actions, args", &seen);
		if (i < 0) {
			return i;
		}
		val[i] = node(w, k)->next;
	}
	if (val[2] == ZR_YTREE_NONE || is_null(w, val[2])) {
		return zr_ytree__fail(w->ret_err, -EINVAL, n->pos, "an action block without 'actions'");
	}
	int r = 0;
	const char *tmpl = NULL, *service = NULL;
	if (val[0] != ZR_YTREE_NONE && !is_null(w, val[0])) {
		tmpl = text_of(w, val[0], "template", &r);
		if (!tmpl) {
			return r;
		}
		char buf[512];
		const char *tname;
		if (strlen(tmpl) >= sizeof(buf) || !template_valid(tmpl, buf, sizeof(buf), &tname)) {
			return zr_ytree__fail(w->ret_err, -EINVAL, node(w, val[0])->pos,
					      "bad template '%s' (want a name or a uid "
					      ".../NAME/VERSION)",
					      SHOW(tmpl));
		}
	}
	if (val[1] != ZR_YTREE_NONE && !is_null(w, val[1])) {
		service = text_of(w, val[1], "service", &r);
		if (!service) {
			return r;
		}
		if (!zr_name_valid(service)) {
			return bad_name(w, node(w, val[1])->pos, "service name", service);
		}
	}
	/* actions: a name or a list of names */
	uint32_t first = val[2];
	size_t count = 1;
	if (node(w, val[2])->kind == ZR_YNODE_SEQ) {
		first = node(w, val[2])->first;
		count = node(w, val[2])->n;
		if (count == 0) {
			return zr_ytree__fail(w->ret_err, -EINVAL, node(w, val[2])->pos,
					      "want at least one action");
		}
	}
	for (uint32_t a = first, i = 0; i < count; a = node(w, a)->next, i++) {
		const char *name = text_of(w, a, "an action", &r);
		if (!name) {
			return r;
		}
		if (!zr_name_valid(name)) {
			return bad_name(w, node(w, a)->pos, "action name", name);
		}
	}
	struct zr_bp_action b = {.pos = n->pos};
	if (val[3] != ZR_YTREE_NONE && !is_null(w, val[3])) {
		if (node(w, val[3])->kind != ZR_YNODE_MAP) {
			return zr_ytree__fail(w->ret_err, -EINVAL, node(w, val[3])->pos,
					      "args must be an object");
		}
		r = zr_ytree__json(w->t, val[3], &b.args, w->ret_err);
		if (r < 0) {
			return r;
		}
	}
	b.template = dup_or_null(tmpl);
	b.service = dup_or_null(service);
	b.actions = calloc(count, sizeof(*b.actions));
	bool ok = (!tmpl || b.template) && (!service || b.service) && b.actions;
	for (uint32_t a = first, i = 0; ok && i < count; a = node(w, a)->next, i++) {
		b.actions[i] = strdup(zr_ytree__text(w->t, node(w, a)));
		ok = b.actions[i] != NULL;
		b.n_actions = i + 1;
	}
	struct zr_bp *bp = w->bp;
	if (ok && grow((void **)&bp->actions, bp->n_actions, &w->cap_actions, sizeof(b)) == 0) {
		bp->actions[bp->n_actions++] = b;
		return 0;
	}
	free(b.template);
	free(b.service);
	for (size_t i = 0; i < b.n_actions; i++) {
		free(b.actions[i]);
	}
	free(b.actions);
	json_decref(b.args);
	return -ENOMEM;
}

static int actions(struct walk *w, uint32_t v)
{
	int r = list_of(w, v, "actions", ZR_BP_MAX_ACTIONS, "action blocks");
	for (uint32_t item = node(w, v)->first; item != ZR_YTREE_NONE && r == 0;
	     item = node(w, item)->next) {
		r = action_block(w, item);
	}
	return r;
}

/* "# zrobot: name=NAME dry-run prune" on a line of its own; the first such line counts. A
 * comment for YAML, and for JSON too: libyaml skips '#' comments in flow context. */
static int directive(const char *text, size_t len, struct zr_bp *bp, char **ret_err)
{
	static const char tag[] = "zrobot:";
	unsigned line = 1;
	for (size_t at = 0; at < len; line++) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t end = nl ? (size_t)(nl - text) : len, i = at;
		size_t next = nl ? end + 1 : len;
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
		if (end - i < sizeof(tag) - 1 || memcmp(text + i, tag, sizeof(tag) - 1) != 0) {
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
			struct zr_bp_pos pos = {.line = line, .column = (unsigned)(w - at) + 1};
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
						"bad blueprint name '%s' (must match " NAME_RULE ")",
						zr_ytree__show(word + 5, n - 5, show, sizeof(show)));
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

static int walk_root(struct walk *w)
{
	static const char *const keys[] = {"services", "children", "actions", NULL};
	const struct zr_ytree *t = w->t;
	if (t->n_nodes == 0 || is_null(w, 0)) {
		return 0;
	}
	if (node(w, 0)->kind != ZR_YNODE_MAP) {
		return zr_ytree__fail(w->ret_err, -EINVAL, node(w, 0)->pos,
				      "want a mapping with services, children, actions");
	}
	uint32_t val[3] = {ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE};
	uint32_t seen = 0;
	for (uint32_t k = node(w, 0)->first; k != ZR_YTREE_NONE;
	     k = node(w, node(w, k)->next)->next) {
		int i = known_key(w, k, keys, "services, children, actions", &seen);
		if (i < 0) {
			return i;
		}
		val[i] = node(w, k)->next;
	}
	/* Bounds first, before any work on the entries. */
	int r = 0;
	if (val[0] != ZR_YTREE_NONE && !is_null(w, val[0])) {
		r = list_of(w, val[0], "services", ZR_BP_MAX_SERVICES, "services");
	}
	if (r == 0 && val[2] != ZR_YTREE_NONE && !is_null(w, val[2])) {
		r = list_of(w, val[2], "actions", ZR_BP_MAX_ACTIONS, "action blocks");
	}
	if (r == 0 && val[0] != ZR_YTREE_NONE && !is_null(w, val[0])) {
		r = services(w, val[0]);
	}
	if (r == 0 && val[1] != ZR_YTREE_NONE && !is_null(w, val[1])) {
		r = children(w, val[1]);
	}
	if (r == 0 && val[2] != ZR_YTREE_NONE && !is_null(w, val[2])) {
		r = actions(w, val[2]);
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
	struct walk w = {.t = &tree, .bp = bp, .ret_err = ret_err};
	char *err = NULL;
	int r = directive(text, len, bp, &err);
	if (r == 0) {
		r = zr_ytree__parse(&tree, text, len, &err);
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
