/* Applying a blueprint: the plan. Each entry resolved to the template version it has or gets,
 * its data checked as a data write checks it, who may, producers and parents found among the
 * entries or in the robot, cycles refused, the dependency order, prune and the tasks. Reads
 * the robot only: nothing changes before every entry has passed. */
#include "apply-internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "schema.h"
#include "service.h"
#include "template.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/log.h"

/* Tasks the action blocks may ask for in one apply (a block without filter reaches every
 * service listed: blocks times services would be unbounded). */
#define APPLY_TASKS_MAX 10000u
/* Producers one role names that are looked at (a role's max is far below). */
#define ROLE_PATHS_MAX 64

/* ---- the outcome's lines ---- */

size_t zr_apply__item(struct apply *a, enum zr_apply_verb verb, const char *path,
		      const char *action, char *why)
{
	struct zr_apply_outcome *o = &a->out;
	if (o->n_items == a->cap_items) {
		size_t cap = a->cap_items ? 2 * a->cap_items : 16;
		struct zr_apply_item *items = realloc(o->items, cap * sizeof(*items));
		if (!items) {
			free(why);
			return (size_t)-1;
		}
		o->items = items;
		a->cap_items = cap;
	}
	struct zr_apply_item *it = &o->items[o->n_items];
	*it = (struct zr_apply_item){.verb = verb, .path = strdup(path),
				     .action = action ? strdup(action) : NULL, .why = why};
	if (!it->path || (action && !it->action)) {
		free(it->path);
		free(it->action);
		free(why);
		return (size_t)-1;
	}
	return o->n_items++;
}

int zr_apply__fail(struct apply *a, struct apply_entry *e, struct zr_bp_pos pos, const char *path,
		   int err, const char *fmt, ...)
{
	_cleanup_free_ char *reason = NULL;
	char *why = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&reason, fmt, ap);
	va_end(ap);
	if (n < 0) {
		reason = NULL;
	}
	/* A service prune would delete has no line: the blueprint no longer lists it. */
	if ((pos.line ? asprintf(&why, "line %u, column %u: %s", pos.line, pos.column,
				 reason ? reason : strerror(-err))
		      : asprintf(&why, "(pruned): %s", reason ? reason : strerror(-err))) < 0) {
		why = NULL;
	}
	if (e) {
		e->failed = true;
	}
	if (!a->out.err) {
		a->out.err = err;
		if (why && asprintf(&a->out.error, "%s %s", path, why) < 0) {
			a->out.error = NULL;
		}
	}
	if (why) {
		(void)zr_apply__item(a, ZR_APPLY_FAILED, path, NULL, why);
	}
	return err;
}

/* A failure of the plan itself (out of memory), not of one entry. */
static int plan_oom(struct apply *a)
{
	if (!a->out.err) {
		a->out.err = -ENOMEM;
	}
	return -ENOMEM;
}

/* ---- entries ---- */

static size_t lookup(const struct apply *a, const char *path)
{
	return (size_t)(uintptr_t)zr_map_get(&a->by_path, path) - 1; /* (size_t)-1: none */
}

static struct apply_entry *entry_add(struct apply *a, const char *tname, const char *name,
				     struct zr_bp_pos pos)
{
	if (a->n_entries == a->cap_entries) {
		size_t cap = a->cap_entries ? 2 * a->cap_entries : 16;
		struct apply_entry *es = realloc(a->entries, cap * sizeof(*es));
		if (!es) {
			return NULL;
		}
		a->entries = es;
		a->cap_entries = cap;
	}
	struct apply_entry *e = &a->entries[a->n_entries];
	*e = (struct apply_entry){.pos = pos, .owner = a, .order = a->n_entries};
	if (!(e->tname = strdup(tname)) || !(e->name = strdup(name)) ||
	    asprintf(&e->path, "%s/%s", tname, name) < 0) {
		e->path = NULL;
		goto fail;
	}
	if (zr_map_put(&a->by_path, e->path, (void *)(uintptr_t)(a->n_entries + 1)) < 0) {
		goto fail;
	}
	a->n_entries++;
	return e;
fail:
	free(e->tname);
	free(e->name);
	free(e->path);
	return NULL;
}

/* Splits "T/S" into its two parts in buf; false when it is not one. */
static bool split_path(const char *path, char *buf, size_t size, const char **ret_t,
		       const char **ret_s)
{
	if (snprintf(buf, size, "%s", path) >= (int)size) {
		return false;
	}
	char *slash = strchr(buf, '/');
	if (!slash || slash == buf || !slash[1] || strchr(slash + 1, '/')) {
		return false;
	}
	*slash = '\0';
	*ret_t = buf;
	*ret_s = slash + 1;
	return true;
}

static struct zr_service *robot_service(const struct apply *a, const char *path)
{
	char buf[256];
	const char *t, *s;
	return split_path(path, buf, sizeof(buf), &t, &s) ? zr_robot_service(a->r, t, s) : NULL;
}

static bool service_gone(const struct zr_service *s)
{
	return !s || s->pending || s->deleting || s->delete_requested;
}

static char *versions_loaded(const struct zr_robot_template *rt)
{
	struct zr_buf b = {0};
	for (size_t i = 0; i < rt->n_versions; i++) {
		if (!rt->versions[i]->missing) {
			(void)zr_buf_printf(&b, "%s%s", b.len ? ", " : "", rt->versions[i]->version);
		}
	}
	return zr_buf_steal(&b);
}

/* The template version a listed entry has (an existing service keeps its own) or gets. */
static int resolve(struct apply *a, struct apply_entry *e, const struct zr_bp_service *bs,
		   const char *version)
{
	struct zr_robot_template *rt = zr_robot_template(a->r, e->tname);
	if (!rt) {
		return zr_apply__fail(a, e, e->pos, e->path, -EINVAL, "no template %s", e->tname);
	}
	struct zr_service *s = zr_map_get(&rt->services, e->name);
	if (s && service_gone(s)) {
		return zr_apply__fail(a, e, e->pos, e->path, -EBUSY, "%s is being %s", e->path,
				      s->pending ? "created" : "deleted");
	}
	if (s) {
		if (version && strcmp(version, s->template->version) != 0) {
			return zr_apply__fail(a, e, e->pos, e->path, -EINVAL,
					      "%s is %s; upgrade it first", e->path,
					      s->template->version);
		}
		if (s->template->missing) {
			return zr_apply__fail(a, e, e->pos, e->path, -EINVAL, "template %s is missing",
					      s->template->uid);
		}
		e->s = s;
		zr_service_ref(s);
		e->t = s->template;
		e->kind = APPLY_UNCHANGED;
	} else {
		const struct zr_template *t = version ? zr_robot_template_find(rt, version) : rt->t;
		if (!t || t->missing) {
			_cleanup_free_ char *have = versions_loaded(rt);
			return zr_apply__fail(a, e, e->pos, e->path, -EINVAL,
					      "template %s %s not loaded (have %s)", e->tname,
					      version ? version : "", have && *have ? have : "none");
		}
		/* A new service gets the version named (a ZeroRobot uid carries one), else the
		 * newest, as mkdir does; so an export applies back to the same versions. */
		e->t = t;
		e->kind = APPLY_CREATE;
	}
	_cleanup_free_ char *why = NULL;
	int err = zr_schema_apply(e->t->data, bs->data, ZR_SCHEMA_PARTIAL, &e->data, &why);
	if (err < 0) {
		e->data = NULL;
		return zr_apply__fail(a, e, e->pos, e->path, err, "%s", why ? why : strerror(-err));
	}
	return 0;
}

static int plan_listed(struct apply *a, const struct zr_bp_service *bs)
{
	size_t size = strlen(bs->template) + 1;
	_cleanup_free_ char *buf = malloc(size);
	const char *tname, *version;
	if (!buf) {
		return plan_oom(a);
	}
	if (!zr_bp_template_split(bs->template, buf, size, &tname, &version)) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", bs->template, bs->name) < 0) {
			return plan_oom(a);
		}
		return zr_apply__fail(a, NULL, bs->pos, path, -EINVAL,
				      "'%s' is neither a template name nor a uid", bs->template);
	}
	if (bs->version) {
		if (version && strcmp(version, bs->version) != 0) {
			_cleanup_free_ char *path = NULL;
			if (asprintf(&path, "%s/%s", tname, bs->name) < 0) {
				return plan_oom(a);
			}
			return zr_apply__fail(a, NULL, bs->pos, path, -EINVAL,
					      "version %s and uid version %s differ", bs->version,
					      version);
		}
		version = bs->version;
	}
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/%s", tname, bs->name) < 0) {
		return plan_oom(a);
	}
	if (lookup(a, path) != (size_t)-1) {
		/* "redis/x" and ".../redis/1.0.0__x" are one service. */
		return zr_apply__fail(a, NULL, bs->pos, path, -EINVAL, "%s is listed twice", path);
	}
	struct apply_entry *e = entry_add(a, tname, bs->name, bs->pos);
	if (!e) {
		return plan_oom(a);
	}
	e->listed = true;
	if (bs->parent) {
		e->parent_said = true;
		if (!(e->parent = strdup(bs->parent))) {
			return plan_oom(a);
		}
	}
	return resolve(a, e, bs, version);
}

/* A parent given in children: for a listed service or one the robot has. */
static int plan_child(struct apply *a, const struct zr_bp_child *c)
{
	size_t i = lookup(a, c->child);
	struct apply_entry *e = i != (size_t)-1 ? &a->entries[i] : NULL;
	if (!e) {
		struct zr_service *s = robot_service(a, c->child);
		if (service_gone(s)) {
			return zr_apply__fail(a, NULL, c->pos, c->child, -EINVAL,
					      "no service %s (neither listed nor on the robot)",
					      c->child);
		}
		if (!(e = entry_add(a, s->template->name, s->name, c->pos))) {
			return plan_oom(a);
		}
		e->kind = APPLY_UNCHANGED;
		e->s = s;
		zr_service_ref(s);
		e->t = s->template;
	}
	if (e->failed) {
		return 0;
	}
	if (e->parent_said && (!e->parent || strcmp(e->parent, c->parent) != 0)) {
		return zr_apply__fail(a, e, c->pos, e->path, -EINVAL, "two parents: %s and %s",
				      e->parent ? e->parent : "none", c->parent);
	}
	e->parent_said = true;
	if (!e->parent && !(e->parent = strdup(c->parent))) {
		return plan_oom(a);
	}
	return 0;
}

/* Producers an auto role names that neither the robot nor the blueprint has: made with their
 * template's defaults, before their consumer. */
static int plan_auto(struct apply *a, size_t i)
{
	char **made = NULL;
	size_t n = 0;
	struct apply_entry *e = &a->entries[i];
	if (e->failed || !e->data || e->kind == APPLY_DELETE) {
		return 0;
	}
	int err = zr_relations_auto(a->r, e->t, e->name, e->data, &made, &n);
	if (err < 0) {
		return plan_oom(a);
	}
	struct zr_bp_pos pos = e->pos;
	size_t order = e->order;
	_cleanup_free_ char *consumer = strdup(e->path);
	for (size_t k = 0; k < n && err == 0; k++) {
		char buf[256];
		const char *tname, *name;
		if (lookup(a, made[k]) != (size_t)-1) {
			continue;
		}
		struct zr_robot_template *rt = split_path(made[k], buf, sizeof(buf), &tname, &name)
					       ? zr_robot_template(a->r, tname) : NULL;
		if (!rt || rt->t->missing) {
			err = zr_apply__fail(a, &a->entries[i], pos, consumer ? consumer : made[k],
					     -EINVAL, "its producer %s (auto) has no template",
					     made[k]);
			break;
		}
		/* e may move: entry_add grows the array. */
		struct apply_entry *p = entry_add(a, tname, name, pos);
		_cleanup_json_ json_t *empty = json_object();
		if (!p || !empty) {
			err = plan_oom(a);
			break;
		}
		p->kind = APPLY_CREATE;
		p->t = rt->t;
		p->order = order;
		_cleanup_free_ char *why = NULL;
		err = zr_schema_apply(p->t->data, empty, ZR_SCHEMA_PARTIAL, &p->data, &why);
		if (err < 0) {
			p->data = NULL;
			err = zr_apply__fail(a, p, pos, p->path, err, "%s (auto producer of %s)",
					     why ? why : strerror(-err), consumer ? consumer : "");
		}
	}
	for (size_t k = 0; k < n; k++) {
		free(made[k]);
	}
	free(made);
	return err;
}

/* ---- producers and parents ---- */

/* The producers data names for role: a string or a list of strings (up to max into ret). */
static size_t role_paths(const json_t *data, const char *role, const char **ret, size_t max)
{
	json_t *v = json_object_get(data, role);
	if (json_is_string(v)) {
		ret[0] = json_string_value(v);
		return *ret[0] ? 1 : 0;
	}
	size_t n = 0, i;
	json_t *x;
	json_array_foreach(v, i, x) {
		if (json_is_string(x) && n < max) {
			ret[n++] = json_string_value(x);
		}
	}
	return n;
}

static bool role_names(const json_t *data, const char *role, const char *path)
{
	const char *paths[ROLE_PATHS_MAX];
	size_t n = role_paths(data, role, paths, ROLE_PATHS_MAX);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(paths[i], path) == 0) {
			return true;
		}
	}
	return false;
}

static bool names_producer(const struct apply_entry *e, const char *path)
{
	const char *role;
	json_t *spec;
	json_object_foreach(e->t->consumes, role, spec) {
		if (role_names(e->data, role, path)) {
			return true;
		}
	}
	return false;
}

static int dep_add(struct apply *a, struct apply_entry *e, size_t j)
{
	for (size_t k = 0; k < e->n_deps; k++) {
		if (e->deps[k] == j) {
			return 0;
		}
	}
	size_t *deps = realloc(e->deps, (e->n_deps + 1) * sizeof(*deps));
	if (!deps) {
		return plan_oom(a);
	}
	e->deps = deps;
	e->deps[e->n_deps++] = j;
	return 0;
}

/* Drops from data (a copy) the producers that are entries: the model's own check then looks
 * at the ones the robot has (and at the shape of those on other robots). */
static void strip_planned(const struct apply *a, json_t *data, const char *role)
{
	json_t *v = json_object_get(data, role);
	if (json_is_string(v)) {
		if (lookup(a, json_string_value(v)) != (size_t)-1) {
			(void)json_object_del(data, role);
		}
		return;
	}
	for (size_t i = json_array_size(v); i-- > 0;) {
		const char *p = json_string_value(json_array_get(v, i));
		if (p && lookup(a, p) != (size_t)-1) {
			(void)json_array_remove(v, i);
		}
	}
}

/* One producer p that entry i names for role (of template want, or any). */
static int check_producer(struct apply *a, size_t i, const char *role, const char *want,
			  const char *p)
{
	struct apply_entry *e = &a->entries[i];
	const bool admin = zr_actor_is_admin(&a->who);
	const bool named = e->s && role_names(e->s->data, role, p);
	if (strncmp(p, "@remote/", 8) == 0) {
		if (!admin && !named) {
			return zr_apply__fail(a, e, e->pos, e->path, -EACCES,
					      "producer of role '%s': only the admin may name a "
					      "producer on another robot", role);
		}
		return 0;
	}
	size_t j = lookup(a, p);
	const struct zr_service *ps = NULL;
	if (j != (size_t)-1) {
		const struct apply_entry *pe = &a->entries[j];
		if (pe->kind == APPLY_DELETE) {
			return zr_apply__fail(a, e, e->pos, e->path, -EINVAL,
					      "producer of role '%s': %s is pruned", role, p);
		}
		if (want && strcmp(want, pe->tname) != 0) {
			return zr_apply__fail(a, e, e->pos, e->path, -EINVAL,
					      "producer of role '%s': %s is a '%s', not a '%s'", role,
					      p, pe->tname, want);
		}
		if (j == i) {
			return zr_apply__fail(a, e, e->pos, e->path, -EINVAL,
					      "producer of role '%s': a service cannot produce for "
					      "itself", role);
		}
		if (dep_add(a, e, j) < 0) {
			return -ENOMEM;
		}
		ps = pe->kind == APPLY_CREATE ? NULL : pe->s;
	} else {
		ps = robot_service(a, p);
	}
	/* Naming a producer needs the right to act on it (as a data write). */
	if (ps && !admin && !named && !zr_actor_may_act(&a->who, ps->creator, ps->guid)) {
		return zr_apply__fail(a, e, e->pos, e->path, -EACCES,
				      "producer of role '%s': %s may not act on %s", role,
				      zr_actor_name(&a->who), ps->path);
	}
	return 0;
}

static int plan_producers(struct apply *a, size_t i)
{
	struct apply_entry *e = &a->entries[i];
	const char *role;
	json_t *spec;
	if (e->failed || !e->data || e->kind == APPLY_DELETE) {
		return 0;
	}
	json_object_foreach(e->t->consumes, role, spec) {
		const char *want = json_string_value(json_object_get(spec, "template"));
		const char *paths[ROLE_PATHS_MAX];
		size_t n = role_paths(e->data, role, paths, ROLE_PATHS_MAX);
		for (size_t k = 0; k < n; k++) {
			int err = check_producer(a, i, role, want, paths[k]);
			if (err < 0) {
				return err;
			}
		}
	}
	_cleanup_json_ json_t *rest = json_deep_copy(e->data);
	_cleanup_free_ char *why = NULL;
	if (!rest) {
		return plan_oom(a);
	}
	json_object_foreach(e->t->consumes, role, spec) {
		strip_planned(a, rest, role);
	}
	int err = zr_service__check_producers(a->r, e->t, e->s ? e->s->path : NULL, rest, &why);
	if (err < 0) {
		return zr_apply__fail(a, e, e->pos, e->path, err, "%s", why ? why : strerror(-err));
	}
	return 0;
}

static int plan_parent(struct apply *a, size_t i)
{
	struct apply_entry *e = &a->entries[i];
	if (e->failed || !e->parent_said || !e->parent || e->kind == APPLY_DELETE) {
		return 0;
	}
	if (strcmp(e->parent, e->path) == 0) {
		return zr_apply__fail(a, e, e->pos, e->path, -EINVAL,
				      "a service cannot be its own parent");
	}
	size_t j = lookup(a, e->parent);
	if (j != (size_t)-1) {
		if (a->entries[j].kind == APPLY_DELETE) {
			return zr_apply__fail(a, e, e->pos, e->path, -EINVAL, "parent %s is pruned",
					      e->parent);
		}
		return dep_add(a, e, j);
	}
	if (service_gone(robot_service(a, e->parent))) {
		return zr_apply__fail(a, e, e->pos, e->path, -EINVAL, "parent %s: no such service",
				      e->parent);
	}
	return 0;
}

/* Whether an existing service changes, and whether who may change it. */
static int plan_kind(struct apply *a, struct apply_entry *e)
{
	if (e->failed || !e->s || e->kind == APPLY_DELETE) {
		return 0;
	}
	bool data = e->data && !json_equal(e->data, e->s->data);
	const char *now = e->s->parent;
	e->parent_changes = e->parent_said && (e->parent ? !now || strcmp(now, e->parent) != 0
							 : now != NULL);
	e->kind = data || e->parent_changes ? APPLY_UPDATE : APPLY_UNCHANGED;
	_cleanup_free_ char *why = NULL;
	if (e->kind == APPLY_UPDATE && zr_service_may_change(e->s, &a->who, &why) < 0) {
		return zr_apply__fail(a, e, e->pos, e->path, -EACCES, "%s", why ? why : "");
	}
	return 0;
}

/* ---- prune ---- */

struct prune_walk {
	struct apply *a;
	struct apply_entry *e;
	const char *what;
	const char *other;
};

static void prune_consumer(struct zr_service *c, const char *role, void *data)
{
	struct prune_walk *w = data;
	size_t j = lookup(w->a, c->path);
	const struct apply_entry *ce = j != (size_t)-1 ? &w->a->entries[j] : NULL;
	/* Fine when it goes too, or when its new data no longer names it. */
	if (ce && (ce->kind == APPLY_DELETE || (ce->data && !names_producer(ce, w->e->path)))) {
		return;
	}
	if (!w->other) {
		w->what = "consumer";
		w->other = c->path;
	}
	(void)role;
}

static void prune_child(struct zr_service *c, void *data)
{
	struct prune_walk *w = data;
	size_t j = lookup(w->a, c->path);
	/* Only a child pruned too: a parent deleted with force takes its children with it, even
	 * one this blueprint moves elsewhere (its move is committed with the deletion). */
	if (j != (size_t)-1 && w->a->entries[j].kind == APPLY_DELETE) {
		return;
	}
	if (!w->other) {
		w->what = "child";
		w->other = c->path;
	}
}

static void prune_dependent(struct zr_service *c, const char *role, void *data)
{
	struct prune_walk *w = data;
	size_t j = lookup(w->a, c->path);
	if (j != (size_t)-1 && w->a->entries[j].kind == APPLY_DELETE) {
		(void)dep_add(w->a, w->e, j);
	}
	(void)role;
}

static void prune_dependent_child(struct zr_service *c, void *data)
{
	prune_dependent(c, NULL, data);
}

/* The services the entries name as producers or parents: kept by prune even when not listed
 * (an auto producer never is). */
static int named_paths(const struct apply *a, struct zr_map *ret)
{
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct apply_entry *e = &a->entries[i];
		const char *paths[ROLE_PATHS_MAX + 1];
		size_t m = 0;
		const char *role;
		json_t *spec;
		json_object_foreach(e->data ? e->t->consumes : NULL, role, spec) {
			m += role_paths(e->data, role, paths + m, ROLE_PATHS_MAX - m);
			if (m >= ROLE_PATHS_MAX) {
				break;
			}
		}
		if (e->parent) {
			paths[m++] = e->parent;
		}
		for (size_t k = 0; k < m; k++) {
			if (zr_map_put(ret, paths[k], (void *)1) == -ENOMEM) {
				return -ENOMEM;
			}
		}
	}
	return 0;
}

/* An apply name is its services' label (prune deletes by it) and its stored apply's key: who
 * may not change a service that carries it may not apply under it, or it could take over
 * another's stored apply and make that one's prune refuse. */
static int plan_name(struct apply *a)
{
	struct zr_robot_iter it = {0};
	for (struct zr_service *s; (s = zr_robot_next_service(a->r, &it));) {
		_cleanup_free_ char *why = NULL;
		if (s->blueprint && strcmp(s->blueprint, a->name) == 0 && !service_gone(s) &&
		    zr_service_may_change(s, &a->who, &why) < 0) {
			a->out.err = -EACCES;
			return zr_fail(&a->out.error, -EACCES,
				       "apply name '%s' is carried by %s, which %s may not change: "
				       "choose another name", a->name, s->path,
				       zr_actor_name(&a->who));
		}
	}
	return 0;
}

static int plan_prune(struct apply *a)
{
	struct zr_robot_iter it = {0};
	struct zr_map named = {0};
	if (named_paths(a, &named) < 0) {
		zr_map_done(&named);
		return plan_oom(a);
	}
	for (struct zr_service *s; (s = zr_robot_next_service(a->r, &it));) {
		if (!s->blueprint || strcmp(s->blueprint, a->name) != 0 || service_gone(s) ||
		    lookup(a, s->path) != (size_t)-1 || zr_map_get(&named, s->path)) {
			continue;
		}
		struct zr_bp_pos none = {0, 0};
		struct apply_entry *e = entry_add(a, s->template->name, s->name, none);
		if (!e) {
			zr_map_done(&named);
			return plan_oom(a);
		}
		e->kind = APPLY_DELETE;
		e->s = s;
		zr_service_ref(s);
		e->t = s->template;
		e->order = (size_t)-1 / 2; /* after the listed ones */
	}
	zr_map_done(&named);
	int err = 0;
	for (size_t i = 0; i < a->n_entries; i++) {
		struct apply_entry *e = &a->entries[i];
		_cleanup_free_ char *why = NULL;
		if (e->kind != APPLY_DELETE) {
			continue;
		}
		if (zr_service_may_delete(e->s, &a->who, &why) < 0) {
			err = zr_apply__fail(a, e, e->pos, e->path, -EACCES, "%s", why ? why : "");
			continue;
		}
		struct prune_walk w = {.a = a, .e = e};
		zr_robot_consumers(a->r, e->s, prune_consumer, &w);
		zr_robot_children(a->r, e->s, prune_child, &w);
		if (w.other) {
			err = zr_apply__fail(a, e, e->pos, e->path, -EBUSY, "its %s %s stays: prune "
					     "cannot delete it", w.what, w.other);
			continue;
		}
		/* Consumers and children that go too go first. */
		zr_robot_consumers(a->r, e->s, prune_dependent, &w);
		zr_robot_children(a->r, e->s, prune_dependent_child, &w);
	}
	return err;
}

/* ---- cycles and order ---- */

/* The paths a node needs first: an entry's producers and parent (entries' as planned), a
 * service of the robot's as it is. Into *ret (malloc'd; borrowed strings). */
static int node_edges(const struct apply *a, const char *path, const char ***ret, size_t *ret_n)
{
	size_t j = lookup(a, path);
	const struct apply_entry *e = j != (size_t)-1 ? &a->entries[j] : NULL;
	const struct zr_service *s = e ? NULL : robot_service(a, path);
	/* An entry from children: only keeps its data. */
	const json_t *data = e ? (e->data ? e->data : e->s ? e->s->data : NULL) : s ? s->data : NULL;
	const struct zr_template *t = e ? e->t : s ? s->template : NULL;
	const char *parent = e ? (e->parent_said ? e->parent : e->s ? e->s->parent : NULL)
			       : s ? s->parent : NULL;
	const char **out = NULL;
	size_t n = 0, cap = 0;
	*ret = NULL;
	*ret_n = 0;
	if (e && e->kind == APPLY_DELETE) {
		/* Pruned ones are ordered among themselves: their consumers and children first. */
		if (e->n_deps && !(out = calloc(e->n_deps, sizeof(*out)))) {
			return -ENOMEM;
		}
		for (size_t k = 0; k < e->n_deps; k++) {
			out[k] = a->entries[e->deps[k]].path;
		}
		*ret = out;
		*ret_n = e->n_deps;
		return 0;
	}
	const char *role;
	json_t *spec;
	const char *paths[ROLE_PATHS_MAX + 1];
	size_t m = 0;
	if (t && data) {
		json_object_foreach(t->consumes, role, spec) {
			m += role_paths(data, role, paths + m, ROLE_PATHS_MAX - m);
			if (m >= ROLE_PATHS_MAX) {
				break;
			}
		}
	}
	if (parent) {
		paths[m++] = parent;
	}
	for (size_t k = 0; k < m; k++) {
		size_t pj = lookup(a, paths[k]);
		if (strncmp(paths[k], "@remote/", 8) == 0 ||
		    (pj != (size_t)-1 && a->entries[pj].kind == APPLY_DELETE)) {
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 4;
			const char **o = realloc(out, cap * sizeof(*o));
			if (!o) {
				free(out);
				return -ENOMEM;
			}
			out = o;
		}
		out[n++] = paths[k];
	}
	*ret = out;
	*ret_n = n;
	return 0;
}

struct frame {
	const char *path;
	const char **edges;
	size_t n, i;
};

/* Depth first over producers and parents, without recursion (a chain may be 10,000 long).
 * Records the entries in post order (each after what it needs) into a->order. */
static int plan_cycles(struct apply *a)
{
	struct zr_map state = {0}; /* path → 1 on the stack, 2 done */
	struct frame *stack = NULL;
	size_t depth = 0, cap = 0, n_order = 0;
	int err = 0;
	for (size_t i = 0; i < a->n_entries && err == 0; i++) {
		struct apply_entry *root = &a->entries[i];
		if (zr_map_get(&state, root->path)) {
			continue;
		}
		const char *next = root->path;
		while (err == 0) {
			if (next) {
				if (depth == cap) {
					cap = cap ? 2 * cap : 64;
					struct frame *st = realloc(stack, cap * sizeof(*st));
					if (!st) {
						err = plan_oom(a);
						break;
					}
					stack = st;
				}
				struct frame *f = &stack[depth++];
				*f = (struct frame){.path = next};
				if (zr_map_put(&state, next, (void *)1) < 0 ||
				    node_edges(a, next, &f->edges, &f->n) < 0) {
					depth--;
					err = plan_oom(a);
					break;
				}
				next = NULL;
			}
			struct frame *f = &stack[depth - 1];
			if (f->i < f->n) {
				const char *to = f->edges[f->i++];
				uintptr_t st = (uintptr_t)zr_map_get(&state, to);
				if (st == 0) {
					next = to;
				} else if (st == 1) {
					/* It closes here: "cycle: a -> b -> a" from where it began. */
					struct zr_buf b = {0};
					size_t k = depth;
					while (k > 0 && strcmp(stack[k - 1].path, to) != 0) {
						k--;
					}
					(void)zr_buf_puts(&b, "cycle: ");
					for (size_t m = k - 1; m < depth; m++) {
						(void)zr_buf_printf(&b, "%s -> ", stack[m].path);
					}
					(void)zr_buf_puts(&b, to);
					size_t w = depth;
					while (w > 0 && lookup(a, stack[w - 1].path) == (size_t)-1) {
						w--;
					}
					size_t at = lookup(a, stack[w - 1].path);
					struct apply_entry *e = &a->entries[at];
					err = zr_apply__fail(a, e, e->pos, e->path, -EINVAL, "%s",
							     b.data ? b.data : "cycle");
					zr_buf_done(&b);
				}
				continue;
			}
			size_t j = lookup(a, f->path);
			if (j != (size_t)-1) {
				a->order[n_order++] = j;
			}
			free(f->edges);
			(void)zr_map_del(&state, f->path);
			if (zr_map_put(&state, f->path, (void *)2) < 0) {
				err = plan_oom(a);
			}
			depth--;
			if (depth == 0) {
				break;
			}
		}
	}
	while (depth > 0) {
		free(stack[--depth].edges);
	}
	free(stack);
	zr_map_done(&state);
	return err;
}

/* ---- parent depth ---- */

/* Whether path is a service once the apply is done: an entry not pruned, or a service of the
 * robot's that stays. */
static bool planned_exists(const struct apply *a, const char *path)
{
	size_t j = lookup(a, path);
	if (j != (size_t)-1) {
		return a->entries[j].kind != APPLY_DELETE;
	}
	const struct zr_service *s = robot_service(a, path);
	return s && !service_gone(s);
}

/* The parent path has once the apply is done: an entry's as planned, else the service's. */
static const char *planned_parent(const struct apply *a, const char *path)
{
	size_t j = lookup(a, path);
	if (j != (size_t)-1) {
		const struct apply_entry *e = &a->entries[j];
		return e->parent_said ? e->parent : e->s ? e->s->parent : NULL;
	}
	const struct zr_service *s = robot_service(a, path);
	return s ? s->parent : NULL;
}

/* The generations below path among the robot's services that are not entries (an entry is
 * checked on its own, with the parent it gets), up to limit + 1. */
static unsigned kept_height(const struct apply *a, const char *path, unsigned limit)
{
	size_t n;
	const struct zr_index_entry *kids = zr_robot__index_children(a->r, path, &n);
	unsigned h = 0;
	for (size_t i = 0; i < n && h <= limit; i++) {
		const struct zr_service *c = kids[i].s;
		if (lookup(a, c->path) != (size_t)-1 || service_gone(c)) {
			continue;
		}
		unsigned below = limit > 0 ? 1 + kept_height(a, c->path, limit - 1) : 1;
		h = below > h ? below : h;
	}
	return h;
}

/* Refuses an entry that would end up more than ZR_PARENT_DEPTH_MAX generations below its root,
 * or would put a service it keeps as a child that deep: the run's zr_service_set_parent would
 * refuse it after the entries before it changed. The chains are the planned ones (an entry's
 * parent as the blueprint says, else as it is), through entries and services alike; cycles
 * were refused already, one among services the apply does not touch ends at the bound. */
static int plan_depth(struct apply *a, struct apply_entry *e)
{
	if (e->failed || e->kind == APPLY_DELETE) {
		return 0;
	}
	unsigned depth = 0;
	for (const char *p = planned_parent(a, e->path);
	     p && planned_exists(a, p) && depth <= ZR_PARENT_DEPTH_MAX; p = planned_parent(a, p)) {
		depth++;
	}
	/* A service being created has no children yet: one naming a parent that is gone waits
	 * for it under its name, as zr_service_set_parent counts it. */
	if (depth <= ZR_PARENT_DEPTH_MAX && e->s) {
		depth += kept_height(a, e->path, ZR_PARENT_DEPTH_MAX - depth);
	}
	if (depth > ZR_PARENT_DEPTH_MAX) {
		return zr_apply__fail(a, e, e->pos, e->path, -EINVAL, "parent chain deeper than %d",
				      ZR_PARENT_DEPTH_MAX);
	}
	return 0;
}

static int cmp_order(const void *x, const void *y, void *data)
{
	const struct apply *a = data;
	const struct apply_entry *p = &a->entries[*(const size_t *)x];
	const struct apply_entry *q = &a->entries[*(const size_t *)y];
	if (p->level != q->level) {
		return p->level < q->level ? -1 : 1;
	}
	if (p->order != q->order) {
		return p->order < q->order ? -1 : 1;
	}
	/* Pruned ones (found in the robot's hash order) and auto ones (their consumer's place)
	 * go by name, so that an outcome reads the same each time. */
	int c = strcmp(p->path, q->path);
	if (c != 0) {
		return c;
	}
	return *(const size_t *)x < *(const size_t *)y ? -1 : 1;
}

/* Levels in post order (what an entry needs is done before it), then the order they give. */
static void plan_levels(struct apply *a)
{
	a->waves = 0;
	for (size_t k = 0; k < a->n_entries; k++) {
		struct apply_entry *e = &a->entries[a->order[k]];
		e->level = 0;
		for (size_t d = 0; d < e->n_deps; d++) {
			unsigned l = a->entries[e->deps[d]].level + 1;
			e->level = l > e->level ? l : e->level;
		}
		if (e->kind == APPLY_CREATE && e->level + 1 > a->waves) {
			a->waves = e->level + 1;
		}
	}
	if (a->n_entries > 1) { /* the base may be NULL for none, which qsort may not get */
		qsort_r(a->order, a->n_entries, sizeof(*a->order), cmp_order, a);
	}
}

/* ---- who may, across entries ---- */

static int plan_rights(struct apply *a)
{
	const char *creator = zr_actor_creator(&a->who);
	size_t creates = 0;
	int err = 0;
	for (size_t k = 0; k < a->n_entries; k++) {
		struct apply_entry *e = &a->entries[a->order[k]];
		if (e->kind != APPLY_CREATE || e->failed) {
			continue;
		}
		creates++;
		if (!creator) {
			return zr_apply__fail(a, e, e->pos, e->path, -EACCES,
					      "%s may not create services", zr_actor_name(&a->who));
		}
		if (a->who.role == ZR_ROLE_USER && !e->t->users) {
			err = zr_apply__fail(a, e, e->pos, e->path, -EACCES,
					     "template %s is not offered to user tokens (its manifest "
					     "has no \"users\": true)", e->tname);
			continue;
		}
		unsigned have = zr_quota_get(&a->r->quota, creator).services;
		if (zr_quota_counted(creator) && have + creates > a->r->quota.max_services) {
			return zr_apply__fail(a, e, e->pos, e->path, -EDQUOT,
					      "%s would have more than %u services "
					      "(--max-services-per-token)", zr_actor_name(&a->who),
					      a->r->quota.max_services);
		}
	}
	return err;
}

/* ---- tasks ---- */

static int task_add(struct apply *a, size_t entry, const struct zr_action_def *def,
		    const json_t *args, enum zr_lane lane, struct zr_bp_pos pos)
{
	if (a->n_tasks % 64 == 0) {
		struct apply_task *ts = realloc(a->tasks, (a->n_tasks + 64) * sizeof(*ts));
		if (!ts) {
			return plan_oom(a);
		}
		a->tasks = ts;
	}
	a->tasks[a->n_tasks++] = (struct apply_task){.entry = entry, .def = def, .lane = lane,
						     .pos = pos, .owner = a,
						     .args = json_incref((json_t *)args)};
	return 0;
}

/* A block's filter, its template split once (a uid names a version too). */
struct filter {
	const char *service, *tname, *version;
	char *buf;
	bool bad;
};

static bool block_matches(const struct filter *f, const struct apply_entry *e)
{
	return !f->bad && (!f->service || strcmp(f->service, e->name) == 0) &&
	       (!f->tname || strcmp(f->tname, e->tname) == 0) &&
	       (!f->version || strcmp(f->version, e->t->version) == 0);
}

/* The tasks of block b on entry i, each action checked as a write to its file would be. */
static int plan_target(struct apply *a, const struct zr_bp_action *b, size_t i, bool admin)
{
	struct apply_entry *e = &a->entries[i];
	for (size_t n = 0; n < b->n_actions; n++) {
		const struct zr_action_def *def = zr_template_action(e->t, b->actions[n]);
		_cleanup_free_ char *why = NULL;
		_cleanup_json_ json_t *valid = NULL;
		_cleanup_json_ json_t *empty = b->args ? NULL : json_object();
		if (!def) {
			return zr_apply__fail(a, e, b->pos, e->path, -EINVAL,
					      "no action %s in template %s", b->actions[n], e->t->uid);
		}
		if (def->admin && !admin) {
			return zr_apply__fail(a, e, b->pos, e->path, -EACCES,
					      "action %s is admin-only: %s may not run it", def->name,
					      zr_actor_name(&a->who));
		}
		if (e->kind != APPLY_CREATE && zr_service_may_act(e->s, &a->who, &why) < 0) {
			return zr_apply__fail(a, e, b->pos, e->path, -EACCES, "%s", why ? why : "");
		}
		if (!b->args && !empty) {
			return plan_oom(a);
		}
		int err = zr_schema_apply(def->args, b->args ? b->args : empty, 0, &valid, &why);
		if (err < 0) {
			valid = NULL;
			return zr_apply__fail(a, e, b->pos, e->path, err, "action %s: %s", def->name,
					      why ? why : strerror(-err));
		}
		if (a->n_tasks >= APPLY_TASKS_MAX) {
			return zr_apply__fail(a, e, b->pos, e->path, -E2BIG, "more than %u tasks",
					      APPLY_TASKS_MAX);
		}
		if (task_add(a, i, def, b->args, ZR_LANE_USER, b->pos) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

static int plan_block(struct apply *a, const struct zr_bp_action *b)
{
	const bool admin = zr_actor_is_admin(&a->who);
	size_t targets = 0;
	struct filter f = {.service = b->service};
	if (b->template) {
		size_t size = strlen(b->template) + 1;
		if (!(f.buf = malloc(size))) {
			return plan_oom(a);
		}
		f.bad = !zr_bp_template_split(b->template, f.buf, size, &f.tname, &f.version);
	}
	/* Both filters name one service: no walk (10,000 blocks over 10,000 services). */
	size_t only = (size_t)-1;
	if (f.tname && f.service) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", f.tname, f.service) < 0) {
			free(f.buf);
			return plan_oom(a);
		}
		only = lookup(a, path);
	}
	int err = 0;
	for (size_t k = 0; k < a->n_entries && err == 0; k++) {
		size_t i = a->order[k];
		if (f.tname && f.service) {
			if (k > 0 || only == (size_t)-1) {
				break;
			}
			i = only;
		}
		struct apply_entry *e = &a->entries[i];
		if (!e->listed || e->failed || !block_matches(&f, e)) {
			continue;
		}
		err = plan_target(a, b, i, admin);
		targets++;
	}
	free(f.buf);
	if (err < 0) {
		return err;
	}
	if (targets == 0) {
		_cleanup_free_ char *path = NULL;
		if (asprintf(&path, "%s/%s", b->template ? b->template : "*",
			     b->service ? b->service : "*") < 0) {
			return plan_oom(a);
		}
		return zr_apply__fail(a, NULL, b->pos, path, -EINVAL,
				      "no service of this blueprint matches this actions block");
	}
	return 0;
}

static int plan_tasks(struct apply *a)
{
	/* A template's update_data hears of new data first, in the system lane. */
	for (size_t k = 0; k < a->n_entries; k++) {
		size_t i = a->order[k];
		struct apply_entry *e = &a->entries[i];
		const struct zr_action_def *def = zr_template_action(e->t, "update_data");
		if (e->kind == APPLY_UPDATE && def && !json_equal(e->data, e->s->data) &&
		    task_add(a, i, def, NULL, ZR_LANE_SYSTEM, e->pos) < 0) {
			return -ENOMEM;
		}
	}
	for (size_t n = 0; n < a->bp->n_actions; n++) {
		int err = plan_block(a, &a->bp->actions[n]);
		if (err < 0) {
			return err;
		}
	}
	return 0;
}

/* ---- the plan ---- */

void zr_apply__plan_done(struct apply *a)
{
	for (size_t i = 0; i < a->n_entries; i++) {
		struct apply_entry *e = &a->entries[i];
		free(e->path);
		free(e->tname);
		free(e->name);
		free(e->parent);
		free(e->deps);
		json_decref(e->data);
		if (e->s && (e->kind != APPLY_CREATE || e->created)) {
			zr_service_unref(e->s);
		}
	}
	free(a->entries);
	a->entries = NULL;
	a->n_entries = a->cap_entries = 0;
	for (size_t i = 0; i < a->n_tasks; i++) {
		json_decref(a->tasks[i].args);
	}
	free(a->tasks);
	a->tasks = NULL;
	a->n_tasks = 0;
	free(a->order);
	a->order = NULL;
	zr_map_done(&a->by_path);
}

int zr_apply__plan(struct apply *a)
{
	const struct zr_bp *bp = a->bp;
	int err = 0;
	/* Every entry is looked at, so the outcome names each wrong one, not only the first. */
	for (size_t i = 0; i < bp->n_services && err != -ENOMEM; i++) {
		err = plan_listed(a, &bp->services[i]);
	}
	for (size_t i = 0; i < bp->n_children && err != -ENOMEM; i++) {
		err = plan_child(a, &bp->children[i]);
	}
	for (size_t i = 0; i < a->n_entries && err != -ENOMEM; i++) {
		err = plan_auto(a, i);
	}
	if (a->out.err) {
		return a->out.err;
	}
	if (plan_name(a) < 0) {
		return a->out.err;
	}
	if (a->opts.prune && plan_prune(a) < 0) {
		return a->out.err;
	}
	for (size_t i = 0; i < a->n_entries && err != -ENOMEM; i++) {
		err = plan_producers(a, i);
		if (err != -ENOMEM) {
			err = plan_parent(a, i);
		}
		if (err != -ENOMEM) {
			err = plan_kind(a, &a->entries[i]);
		}
	}
	if (a->out.err) {
		return a->out.err;
	}
	if (!(a->order = calloc(a->n_entries + 1, sizeof(*a->order)))) {
		return plan_oom(a);
	}
	if (plan_cycles(a) < 0) {
		return a->out.err;
	}
	for (size_t i = 0; i < a->n_entries && err != -ENOMEM; i++) {
		err = plan_depth(a, &a->entries[i]);
	}
	if (a->out.err) {
		return a->out.err;
	}
	plan_levels(a);
	if (plan_rights(a) < 0 || plan_tasks(a) < 0) {
		return a->out.err;
	}
	return a->out.err;
}
