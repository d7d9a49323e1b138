/* Fuzzes blueprint text (core/blueprint.c, core/yaml-tree.c) as @robot/blueprint, HTTP and
 * `zrobot apply` hand it to zr_bp_parse: YAML or JSON, with or without a directive. A parsed
 * blueprint must keep the header's promises (names valid, data objects, no entry twice,
 * positions inside the text) and, written back as a JSON blueprint, parse to the same. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "blueprint.h"
#include "fuzz.h"
#include "util/name.h"
#include "yaml-tree.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* A fixed hash seed: the same input takes the same path on every run. */
	json_object_seed(1);
	return 0;
}

/* Lines as libyaml counts them: "\r\n", "\r", "\n", NEL, LS, PS each end one. */
static unsigned count_lines(const char *buf, size_t len)
{
	unsigned n = 1;
	for (size_t i = 0; i < len;) {
		size_t b = zr_ytree__break(buf, len, i);
		n += b > 0;
		i += b > 0 ? b : 1;
	}
	return n;
}

static bool is_path(const char *s)
{
	const char *slash = strchr(s, '/');
	if (!slash || strchr(slash + 1, '/') || slash - s > 63) {
		return false;
	}
	char t[64];
	memcpy(t, s, (size_t)(slash - s));
	t[slash - s] = '\0';
	return zr_name_valid(t) && zr_name_valid(slash + 1);
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

static void check_pos(struct zr_bp_pos pos, unsigned lines)
{
	FUZZ_CHECK(pos.line >= 1 && pos.line <= lines);
	FUZZ_CHECK(pos.column >= 1);
}

/* The header's promises on a parsed blueprint. */
static void check_bp(const struct zr_bp *bp, unsigned lines)
{
	FUZZ_CHECK(!bp->name || zr_name_valid(bp->name));
	FUZZ_CHECK(bp->n_services <= ZR_BP_MAX_SERVICES);
	FUZZ_CHECK(bp->n_actions <= ZR_BP_MAX_ACTIONS);
	json_t *seen = json_object();
	FUZZ_CHECK(seen);
	for (size_t i = 0; i < bp->n_services; i++) {
		const struct zr_bp_service *s = &bp->services[i];
		char buf[1024];
		const char *name, *version;
		FUZZ_CHECK(zr_bp_template_split(s->template, buf, sizeof(buf), &name, &version));
		FUZZ_CHECK(zr_name_valid(s->name));
		FUZZ_CHECK(!s->version || zr_name_valid(s->version));
		FUZZ_CHECK(json_is_object(s->data));
		FUZZ_CHECK(!s->parent || is_path(s->parent));
		check_pos(s->pos, lines);
		char key[200];
		(void)snprintf(key, sizeof(key), "%s/%s", name, s->name);
		FUZZ_CHECK(!json_object_get(seen, key));
		FUZZ_CHECK(json_object_set_new(seen, key, json_true()) == 0);
	}
	json_object_clear(seen);
	for (size_t i = 0; i < bp->n_children; i++) {
		const struct zr_bp_child *c = &bp->children[i];
		FUZZ_CHECK(is_path(c->parent) && is_path(c->child));
		check_pos(c->pos, lines);
		FUZZ_CHECK(!json_object_get(seen, c->child));
		FUZZ_CHECK(json_object_set_new(seen, c->child, json_true()) == 0);
	}
	json_decref(seen);
	for (size_t i = 0; i < bp->n_actions; i++) {
		const struct zr_bp_action *a = &bp->actions[i];
		char buf[1024];
		const char *name, *version;
		FUZZ_CHECK(!a->template ||
			   zr_bp_template_split(a->template, buf, sizeof(buf), &name, &version));
		FUZZ_CHECK(!a->service || zr_name_valid(a->service));
		FUZZ_CHECK(a->n_actions >= 1);
		for (size_t k = 0; k < a->n_actions; k++) {
			FUZZ_CHECK(zr_name_valid(a->actions[k]));
		}
		FUZZ_CHECK(!a->args || json_is_object(a->args));
		check_pos(a->pos, lines);
	}
}

/* jansson writes NEL, LS and PS as they are, which the parser refuses (line breaks for YAML):
 * as \uXXXX escapes, as a writer of blueprints must. They are only ever inside strings here.
 * Takes text, returns the escaped copy. */
static char *escape_unicode_breaks(char *text)
{
	size_t len = strlen(text), o = 0;
	char *out = malloc(len * 2 + 1);
	FUZZ_CHECK(out);
	for (size_t i = 0; i < len;) {
		size_t b = zr_ytree__break(text, len, i);
		if (b >= 2 && text[i] != '\r') {
			o += (size_t)sprintf(out + o, "\\u%s",
					     b == 2                  ? "0085"
					     : text[i + 2] == '\xa8' ? "2028"
								     : "2029");
			i += b;
		} else {
			out[o++] = text[i++];
		}
	}
	out[o] = '\0';
	free(text);
	return out;
}

/* bp as a JSON blueprint in the long form, with its directive: it must parse to the same. */
static char *write_back(const struct zr_bp *bp)
{
	json_t *services = json_array(), *children = json_object(), *actions = json_array();
	FUZZ_CHECK(services && children && actions);
	for (size_t i = 0; i < bp->n_services; i++) {
		const struct zr_bp_service *s = &bp->services[i];
		json_t *o = json_pack("{s:s, s:s, s:O}", "template", s->template, "name", s->name,
				      "data", s->data);
		FUZZ_CHECK(o);
		if (s->version) {
			FUZZ_CHECK(json_object_set_new(o, "version", json_string(s->version)) == 0);
		}
		if (s->parent) {
			FUZZ_CHECK(json_object_set_new(o, "parent", json_string(s->parent)) == 0);
		}
		FUZZ_CHECK(json_array_append_new(services, o) == 0);
	}
	for (size_t i = 0; i < bp->n_children; i++) {
		json_t *list = json_object_get(children, bp->children[i].parent);
		if (!list) {
			list = json_array();
			FUZZ_CHECK(json_object_set_new(children, bp->children[i].parent, list) ==
				   0);
		}
		FUZZ_CHECK(json_array_append_new(list, json_string(bp->children[i].child)) == 0);
	}
	for (size_t i = 0; i < bp->n_actions; i++) {
		const struct zr_bp_action *a = &bp->actions[i];
		json_t *names = json_array(), *o = json_object();
		FUZZ_CHECK(names && o);
		for (size_t k = 0; k < a->n_actions; k++) {
			FUZZ_CHECK(json_array_append_new(names, json_string(a->actions[k])) == 0);
		}
		FUZZ_CHECK(json_object_set_new(o, "actions", names) == 0);
		if (a->template) {
			FUZZ_CHECK(json_object_set_new(o, "template", json_string(a->template)) ==
				   0);
		}
		if (a->service) {
			FUZZ_CHECK(json_object_set_new(o, "service", json_string(a->service)) == 0);
		}
		if (a->args) {
			FUZZ_CHECK(json_object_set(o, "args", a->args) == 0);
		}
		FUZZ_CHECK(json_array_append_new(actions, o) == 0);
	}
	json_t *doc = json_pack("{s:o, s:o, s:o}", "services", services, "children", children,
				"actions", actions);
	FUZZ_CHECK(doc);
	/* Reals as jansson writes them ("1e+300", "0.10000000000000001") read back the same. */
	char *body = json_dumps(doc, JSON_INDENT(1) | JSON_REAL_PRECISION(17));
	FUZZ_CHECK(body);
	json_decref(doc);
	char *text = NULL;
	FUZZ_CHECK(asprintf(&text, "# zrobot:%s%s%s%s\n%s", bp->name ? " name=" : "",
			    bp->name ? bp->name : "", bp->dry_run ? " dry-run" : "",
			    bp->prune ? " prune" : "", body) >= 0);
	free(body);
	return escape_unicode_breaks(text);
}

static void check_same(const struct zr_bp *a, const struct zr_bp *b)
{
	FUZZ_CHECK(str_eq(a->name, b->name) && a->dry_run == b->dry_run && a->prune == b->prune);
	FUZZ_CHECK(a->n_services == b->n_services);
	for (size_t i = 0; i < a->n_services; i++) {
		const struct zr_bp_service *x = &a->services[i], *y = &b->services[i];
		FUZZ_CHECK(str_eq(x->template, y->template) && str_eq(x->name, y->name));
		FUZZ_CHECK(str_eq(x->version, y->version) && str_eq(x->parent, y->parent));
		FUZZ_CHECK(json_equal(x->data, y->data));
	}
	FUZZ_CHECK(a->n_children == b->n_children);
	for (size_t i = 0; i < a->n_children; i++) {
		FUZZ_CHECK(str_eq(a->children[i].parent, b->children[i].parent));
		FUZZ_CHECK(str_eq(a->children[i].child, b->children[i].child));
	}
	FUZZ_CHECK(a->n_actions == b->n_actions);
	for (size_t i = 0; i < a->n_actions; i++) {
		const struct zr_bp_action *x = &a->actions[i], *y = &b->actions[i];
		FUZZ_CHECK(str_eq(x->template, y->template) && str_eq(x->service, y->service));
		FUZZ_CHECK(x->n_actions == y->n_actions);
		for (size_t k = 0; k < x->n_actions; k++) {
			FUZZ_CHECK(!strcmp(x->actions[k], y->actions[k]));
		}
		FUZZ_CHECK(x->args == y->args || json_equal(x->args, y->args));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct zr_bp *bp = NULL;
	char *err = NULL;
	int r = zr_bp_parse(buf, size, &bp, &err);
	FUZZ_CHECK(r == 0 || r == -EINVAL || r == -E2BIG || r == -ENOMEM);
	if (r < 0) {
		FUZZ_CHECK(bp == NULL);
		FUZZ_CHECK(r == -ENOMEM || (err && !strncmp(err, "line ", 5)));
		free(err);
		return 0;
	}
	FUZZ_CHECK(bp && !err);
	check_bp(bp, count_lines(buf, size));

	char *text = write_back(bp);
	struct zr_bp *again = NULL;
	r = zr_bp_parse(text, strlen(text), &again, &err);
	if (r < 0) {
		fprintf(stderr, "written back: %s\nrefused: %s\n", text, err ? err : "ENOMEM");
	}
	FUZZ_CHECK(r == 0);
	check_same(bp, again);
	zr_bp_free(again);
	free(text);
	zr_bp_free(bp);
	return 0;
}
