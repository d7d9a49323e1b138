/* The entries of a blueprint: services in our short form, ZeroRobot's and the long form,
 * children, action blocks (see blueprint.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "blueprint-internal.h"
#include "util/name.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* Takes ownership of s's members: adds it, unless its TEMPLATE-NAME/NAME came before. */
static int add_service(struct zr_bp__walk *w, struct zr_bp_service *s)
{
	char buf[512];
	const char *tname = NULL;
	int r = 0;
	char *key = NULL;
	if (!zr_bp__template_valid(s->template, buf, sizeof(buf), &tname) ||
	    asprintf(&key, "%s/%s", tname, s->name) < 0) {
		key = NULL;
		r = -ENOMEM;
		goto fail;
	}
	json_t *first = json_object_get(w->seen, key);
	if (first) {
		r = zr_ytree__fail(w->ret_err, -EINVAL, s->pos,
				   "%s listed twice (first at line %lld)", key,
				   (long long)json_integer_value(first));
		goto fail;
	}
	if (json_object_set_new(w->seen, key, json_integer(s->pos.line)) < 0) {
		r = -ENOMEM;
		goto fail;
	}
	struct zr_bp *bp = w->bp;
	r = zr_bp__grow((void **)&bp->services, bp->n_services, &w->cap_services, sizeof(*s));
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

/* "TEMPLATE/NAME" (ours) or "<template-or-uid>__NAME" (ZeroRobot's) → copies. */
static int service_key(struct zr_bp__walk *w, const char *key, struct zr_bp_pos pos, char **ret_t,
		       char **ret_n)
{
	int r = zr_bp__split_path(key, ret_t, ret_n);
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
		if (strlen(tmpl) >= sizeof(buf) ||
		    !zr_bp__template_valid(tmpl, buf, sizeof(buf), &tname)) {
			r = zr_ytree__fail(
				w->ret_err, -EINVAL, pos,
				"bad template '%s' (want a name or a uid .../NAME/VERSION)",
				SHOW(tmpl));
			free(tmpl);
			return r;
		}
		if (!zr_name_valid(us + 2)) {
			free(tmpl);
			return zr_bp__bad_name(w, pos, "service name", us + 2);
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
		r = zr_name_valid(t) ? zr_bp__bad_name(w, pos, "service name", slash + 1)
				     : zr_bp__bad_name(w, pos, "template name", t);
		free(t);
		return r;
	}
	return zr_ytree__fail(w->ret_err, -EINVAL, pos,
			      "want TEMPLATE/NAME or TEMPLATE__NAME, got '%s'", SHOW(key));
}

/* - "TEMPLATE/NAME": data */
static int short_service(struct zr_bp__walk *w, uint32_t item)
{
	uint32_t k = zr_bp__node(w, item)->first, v = zr_bp__node(w, k)->next;
	int r = 0;
	const char *key = zr_ytree__key(w->t, k, &r, w->ret_err);
	if (!key) {
		return r;
	}
	struct zr_bp_service s = {.pos = zr_bp__node(w, item)->pos};
	r = service_key(w, key, s.pos, &s.template, &s.name);
	if (r < 0) {
		return r;
	}
	char what[160];
	(void)snprintf(what, sizeof(what), "the data of %s", SHOW(key));
	r = zr_bp__data(w, v, what, &s.data);
	if (r < 0) {
		free(s.template);
		free(s.name);
		return r;
	}
	return add_service(w, &s);
}

/* - {template, name, version, data, parent} */
static int long_service(struct zr_bp__walk *w, uint32_t item)
{
	static const char *const keys[] = {"template", "name", "version", "data", "parent", NULL};
	uint32_t val[5] = {ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE,
			   ZR_YTREE_NONE};
	uint32_t seen = 0;
	for (uint32_t k = zr_bp__node(w, item)->first; k != ZR_YTREE_NONE;
	     k = zr_bp__node(w, zr_bp__node(w, k)->next)->next) {
		int i = zr_bp__known_key(w, k, keys, "template, name, version, data, parent",
					 &seen);
		if (i < 0) {
			return i;
		}
		val[i] = zr_bp__node(w, k)->next;
	}
	struct zr_bp_pos pos = zr_bp__node(w, item)->pos;
	if (val[0] == ZR_YTREE_NONE || val[1] == ZR_YTREE_NONE) {
		return zr_ytree__fail(w->ret_err, -EINVAL, pos, "a service without '%s'",
				      val[0] == ZR_YTREE_NONE ? "template" : "name");
	}
	int r = 0;
	const char *tmpl = zr_bp__text(w, val[0], "template", &r), *name, *version = NULL;
	if (!tmpl) {
		return r;
	}
	char buf[512];
	const char *tname;
	if (strlen(tmpl) >= sizeof(buf) || !zr_bp__template_valid(tmpl, buf, sizeof(buf), &tname)) {
		return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, val[0])->pos,
				      "bad template '%s' (want a name or a uid .../NAME/VERSION)",
				      SHOW(tmpl));
	}
	name = zr_bp__text(w, val[1], "name", &r);
	if (!name) {
		return r;
	}
	if (!zr_name_valid(name)) {
		return zr_bp__bad_name(w, zr_bp__node(w, val[1])->pos, "service name", name);
	}
	if (val[2] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[2])) {
		version = zr_bp__text(w, val[2], "version", &r);
		if (!version) {
			return r;
		}
		if (!zr_name_valid(version)) {
			return zr_bp__bad_name(w, zr_bp__node(w, val[2])->pos, "version", version);
		}
	}
	struct zr_bp_service s = {.pos = pos};
	if (val[4] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[4])) {
		r = zr_bp__path(w, val[4], "parent", &s.parent);
		if (r < 0) {
			return r;
		}
	}
	char what[160];
	(void)snprintf(what, sizeof(what), "the data of %s/%s", SHOW(tname), name);
	r = zr_bp__data(w, val[3], what, &s.data);
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

/* services: a list, its length checked by walk_root */
int zr_bp__services(struct zr_bp__walk *w, uint32_t v)
{
	static const char *const long_keys[] = {"template", "name",   "version",
						"data",     "parent", NULL};
	int r = 0;
	for (uint32_t item = zr_bp__node(w, v)->first; item != ZR_YTREE_NONE && r == 0;
	     item = zr_bp__node(w, item)->next) {
		const struct zr_ynode *n = zr_bp__node(w, item);
		bool long_form = false;
		if (n->kind == ZR_YNODE_MAP) {
			for (uint32_t k = n->first; k != ZR_YTREE_NONE;
			     k = zr_bp__node(w, zr_bp__node(w, k)->next)->next) {
				const struct zr_ynode *kn = zr_bp__node(w, k);
				for (size_t i = 0; kn->kind == ZR_YNODE_SCALAR && long_keys[i];
				     i++) {
					long_form |=
						!strcmp(zr_ytree__text(w->t, kn), long_keys[i]);
				}
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

static int add_child(struct zr_bp__walk *w, const char *parent, uint32_t item)
{
	struct zr_bp_child c = {.pos = zr_bp__node(w, item)->pos};
	int r = zr_bp__path(w, item, "a child", &c.child);
	if (r < 0) {
		return r;
	}
	json_t *first = json_object_get(w->seen_children, c.child);
	if (first) {
		r = zr_ytree__fail(w->ret_err, -EINVAL, c.pos,
				   "%s listed twice (first at line %lld)", c.child,
				   (long long)json_integer_value(first));
		free(c.child);
		return r;
	}
	struct zr_bp *bp = w->bp;
	c.parent = strdup(parent);
	if (!c.parent ||
	    json_object_set_new(w->seen_children, c.child, json_integer(c.pos.line)) < 0 ||
	    zr_bp__grow((void **)&bp->children, bp->n_children, &w->cap_children, sizeof(c)) < 0) {
		free(c.parent);
		free(c.child);
		return -ENOMEM;
	}
	bp->children[bp->n_children++] = c;
	return 0;
}

/* children: {"T/S": ["T/S", ...] or "T/S"} */
int zr_bp__children(struct zr_bp__walk *w, uint32_t v)
{
	if (zr_bp__node(w, v)->kind != ZR_YNODE_MAP) {
		return zr_ytree__fail(
			w->ret_err, -EINVAL, zr_bp__node(w, v)->pos,
			"children must be a mapping of TEMPLATE/NAME: [TEMPLATE/NAME]");
	}
	json_t *parents = json_object();
	if (!parents) {
		return -ENOMEM;
	}
	int r = 0;
	for (uint32_t k = zr_bp__node(w, v)->first; k != ZR_YTREE_NONE && r == 0;) {
		uint32_t list = zr_bp__node(w, k)->next;
		char *parent = NULL;
		r = zr_bp__path(w, k, "a parent", &parent);
		if (r < 0) {
			break;
		}
		if (json_object_get(parents, parent)) {
			r = zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, k)->pos,
					   "key '%s' given twice", parent);
		} else if (json_object_set_new(parents, parent, json_true()) < 0) {
			r = -ENOMEM;
		} else if (zr_bp__node(w, list)->kind == ZR_YNODE_SEQ) {
			for (uint32_t c = zr_bp__node(w, list)->first; c != ZR_YTREE_NONE && r == 0;
			     c = zr_bp__node(w, c)->next) {
				r = add_child(w, parent, c);
			}
		} else if (!zr_bp__is_null(w, list)) {
			r = add_child(w, parent, list);
		}
		free(parent);
		k = zr_bp__node(w, list)->next;
	}
	json_decref(parents);
	return r;
}

static int action_block(struct zr_bp__walk *w, uint32_t item)
{
	static const char *const keys[] = {"template", "service", "actions", "args", NULL};
	const struct zr_ynode *n = zr_bp__node(w, item);
	if (n->kind != ZR_YNODE_MAP) {
		return zr_ytree__fail(w->ret_err, -EINVAL, n->pos,
				      "want an action block {template, service, actions, args}");
	}
	uint32_t val[4] = {ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE, ZR_YTREE_NONE};
	uint32_t seen = 0;
	for (uint32_t k = n->first; k != ZR_YTREE_NONE;
	     k = zr_bp__node(w, zr_bp__node(w, k)->next)->next) {
		int i = zr_bp__known_key(w, k, keys, "template, service, actions, args", &seen);
		if (i < 0) {
			return i;
		}
		val[i] = zr_bp__node(w, k)->next;
	}
	if (val[2] == ZR_YTREE_NONE || zr_bp__is_null(w, val[2])) {
		return zr_ytree__fail(w->ret_err, -EINVAL, n->pos,
				      "an action block without 'actions'");
	}
	int r = 0;
	const char *tmpl = NULL, *service = NULL;
	if (val[0] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[0])) {
		tmpl = zr_bp__text(w, val[0], "template", &r);
		if (!tmpl) {
			return r;
		}
		char buf[512];
		const char *tname;
		if (strlen(tmpl) >= sizeof(buf) ||
		    !zr_bp__template_valid(tmpl, buf, sizeof(buf), &tname)) {
			return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, val[0])->pos,
					      "bad template '%s' (want a name or a uid "
					      ".../NAME/VERSION)",
					      SHOW(tmpl));
		}
	}
	if (val[1] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[1])) {
		service = zr_bp__text(w, val[1], "service", &r);
		if (!service) {
			return r;
		}
		if (!zr_name_valid(service)) {
			return zr_bp__bad_name(w, zr_bp__node(w, val[1])->pos, "service name",
					       service);
		}
	}
	/* actions: a name or a list of names */
	uint32_t first = val[2];
	size_t count = 1;
	if (zr_bp__node(w, val[2])->kind == ZR_YNODE_SEQ) {
		first = zr_bp__node(w, val[2])->first;
		count = zr_bp__node(w, val[2])->n;
		if (count == 0) {
			return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, val[2])->pos,
					      "want at least one action");
		}
	}
	for (uint32_t a = first, i = 0; i < count; a = zr_bp__node(w, a)->next, i++) {
		const char *name = zr_bp__text(w, a, "an action", &r);
		if (!name) {
			return r;
		}
		if (!zr_name_valid(name)) {
			return zr_bp__bad_name(w, zr_bp__node(w, a)->pos, "action name", name);
		}
	}
	struct zr_bp_action b = {.pos = n->pos};
	if (val[3] != ZR_YTREE_NONE && !zr_bp__is_null(w, val[3])) {
		if (zr_bp__node(w, val[3])->kind != ZR_YNODE_MAP) {
			return zr_ytree__fail(w->ret_err, -EINVAL, zr_bp__node(w, val[3])->pos,
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
	for (uint32_t a = first, i = 0; ok && i < count; a = zr_bp__node(w, a)->next, i++) {
		b.actions[i] = strdup(zr_ytree__text(w->t, zr_bp__node(w, a)));
		ok = b.actions[i] != NULL;
		b.n_actions = i + 1;
	}
	struct zr_bp *bp = w->bp;
	if (ok &&
	    zr_bp__grow((void **)&bp->actions, bp->n_actions, &w->cap_actions, sizeof(b)) == 0) {
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

/* actions: a list, its length checked by walk_root */
int zr_bp__actions(struct zr_bp__walk *w, uint32_t v)
{
	int r = 0;
	for (uint32_t item = zr_bp__node(w, v)->first; item != ZR_YTREE_NONE && r == 0;
	     item = zr_bp__node(w, item)->next) {
		r = action_block(w, item);
	}
	return r;
}
