/* core/blueprint.c: every accepted form, each refusal with its exact text and position, the
 * bounds, and the JSON and YAML forms of one blueprint giving the same struct. */
#include <time.h>

#include "blueprint.h"
#include "test.h"

static struct zr_bp *parse_ok(const char *text)
{
	struct zr_bp *bp = NULL;
	char *err = NULL;
	int r = zr_bp_parse(text, strlen(text), &bp, &err);
	if (r < 0) {
		FAIL("zr_bp_parse: %d %s\n--- text:\n%s", r, err ? err : "(no text)", text);
	}
	ASSERT_NULL(err);
	ASSERT_NOT_NULL(bp);
	return bp;
}

static void parse_fails_n(const char *text, size_t len, int want_r, const char *want_err)
{
	struct zr_bp *bp = NULL;
	char *err = NULL;
	int r = zr_bp_parse(text, len, &bp, &err);
	ASSERT_EQ_INT(r, want_r);
	ASSERT_NULL(bp);
	ASSERT_NOT_NULL(err);
	ASSERT_EQ_STR(err, want_err);
	free(err);
}

static void parse_fails(const char *text, int want_r, const char *want_err)
{
	TEST_CASE("%s", text);
	parse_fails_n(text, strlen(text), want_r, want_err);
	TEST_CASE_END();
}

static void assert_json(const json_t *j, const char *want)
{
	json_error_t e;
	json_t *w = json_loads(want, 0, &e);
	ASSERT_NOT_NULL(w);
	if (!json_equal(j, w)) {
		char *got = json_dumps(j, JSON_SORT_KEYS | JSON_ENCODE_ANY);
		FAIL("got %s, want %s", got ? got : "NULL", want);
	}
	json_decref(w);
}

static void assert_pos(struct zr_bp_pos pos, unsigned line, unsigned column)
{
	ASSERT_EQ_INT(pos.line, line);
	ASSERT_EQ_INT(pos.column, column);
}

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && !strcmp(a, b));
}

/* Equal but for positions: what the two forms of one blueprint must give. */
static void assert_bp_equal(const struct zr_bp *a, const struct zr_bp *b)
{
	ASSERT_TRUE(str_eq(a->name, b->name));
	ASSERT_EQ_INT(a->dry_run, b->dry_run);
	ASSERT_EQ_INT(a->prune, b->prune);
	ASSERT_EQ_SIZE(a->n_services, b->n_services);
	for (size_t i = 0; i < a->n_services; i++) {
		const struct zr_bp_service *x = &a->services[i], *y = &b->services[i];
		ASSERT_TRUE(str_eq(x->template, y->template));
		ASSERT_TRUE(str_eq(x->version, y->version));
		ASSERT_TRUE(str_eq(x->name, y->name));
		ASSERT_TRUE(str_eq(x->parent, y->parent));
		ASSERT_TRUE(json_equal(x->data, y->data));
	}
	ASSERT_EQ_SIZE(a->n_children, b->n_children);
	for (size_t i = 0; i < a->n_children; i++) {
		ASSERT_EQ_STR(a->children[i].parent, b->children[i].parent);
		ASSERT_EQ_STR(a->children[i].child, b->children[i].child);
	}
	ASSERT_EQ_SIZE(a->n_actions, b->n_actions);
	for (size_t i = 0; i < a->n_actions; i++) {
		const struct zr_bp_action *x = &a->actions[i], *y = &b->actions[i];
		ASSERT_TRUE(str_eq(x->template, y->template));
		ASSERT_TRUE(str_eq(x->service, y->service));
		ASSERT_EQ_SIZE(x->n_actions, y->n_actions);
		for (size_t k = 0; k < x->n_actions; k++) {
			ASSERT_EQ_STR(x->actions[k], y->actions[k]);
		}
		ASSERT_TRUE(x->args == y->args || json_equal(x->args, y->args));
	}
}

/* The example, our short form. */
TEST(our_form)
{
	struct zr_bp *bp = parse_ok("services:\n"
				    "  - redis/cache: {port: 6380}\n"
				    "  - webapp/shop: {port: 8080, db: redis/cache}   # a comment\n"
				    "  - node/local: {}\n"
				    "  - process/worker1:\n"
				    "children:\n"
				    "  webapp/shop: [process/worker1]\n"
				    "actions:\n"
				    "  - {template: redis, service: cache, actions: [start]}\n"
				    "  - {actions: [start], args: {}}\n");
	ASSERT_NULL(bp->name);
	ASSERT_FALSE(bp->dry_run);
	ASSERT_FALSE(bp->prune);
	ASSERT_EQ_SIZE(bp->n_services, 4);
	ASSERT_EQ_STR(bp->services[0].template, "redis");
	ASSERT_EQ_STR(bp->services[0].name, "cache");
	ASSERT_NULL(bp->services[0].version);
	ASSERT_NULL(bp->services[0].parent);
	assert_json(bp->services[0].data, "{\"port\": 6380}");
	assert_pos(bp->services[0].pos, 2, 5);
	ASSERT_EQ_STR(bp->services[1].template, "webapp");
	assert_json(bp->services[1].data, "{\"port\": 8080, \"db\": \"redis/cache\"}");
	assert_pos(bp->services[1].pos, 3, 5);
	assert_json(bp->services[2].data, "{}");
	ASSERT_EQ_STR(bp->services[3].name, "worker1");
	assert_json(bp->services[3].data, "{}");
	ASSERT_EQ_SIZE(bp->n_children, 1);
	ASSERT_EQ_STR(bp->children[0].parent, "webapp/shop");
	ASSERT_EQ_STR(bp->children[0].child, "process/worker1");
	assert_pos(bp->children[0].pos, 7, 17);
	ASSERT_EQ_SIZE(bp->n_actions, 2);
	ASSERT_EQ_STR(bp->actions[0].template, "redis");
	ASSERT_EQ_STR(bp->actions[0].service, "cache");
	ASSERT_EQ_SIZE(bp->actions[0].n_actions, 1);
	ASSERT_EQ_STR(bp->actions[0].actions[0], "start");
	ASSERT_NULL(bp->actions[0].args);
	assert_pos(bp->actions[0].pos, 9, 5);
	ASSERT_NULL(bp->actions[1].template);
	ASSERT_NULL(bp->actions[1].service);
	assert_json(bp->actions[1].args, "{}");
	zr_bp_free(bp);
}

TEST(long_form)
{
	struct zr_bp *bp =
		parse_ok("services:\n"
			 "  - template: redis\n"
			 "    name: c\n"
			 "    version: 1.0.0\n"
			 "    data: {port: 1}\n"
			 "    parent: webapp/shop\n"
			 "  - {template: node, name: n, version: 1.0}\n"
			 "  - {template: github.com/zero-os/0-templates/node/0.0.1, name: x,"
			 " data: null, parent: null}\n");
	ASSERT_EQ_SIZE(bp->n_services, 3);
	ASSERT_EQ_STR(bp->services[0].template, "redis");
	ASSERT_EQ_STR(bp->services[0].name, "c");
	ASSERT_EQ_STR(bp->services[0].version, "1.0.0");
	ASSERT_EQ_STR(bp->services[0].parent, "webapp/shop");
	assert_json(bp->services[0].data, "{\"port\": 1}");
	assert_pos(bp->services[0].pos, 2, 5);
	/* A version is text, even when it reads as a number. */
	ASSERT_EQ_STR(bp->services[1].version, "1.0");
	assert_pos(bp->services[1].pos, 7, 5);
	ASSERT_EQ_STR(bp->services[2].template, "github.com/zero-os/0-templates/node/0.0.1");
	ASSERT_NULL(bp->services[2].version);
	ASSERT_NULL(bp->services[2].parent);
	assert_json(bp->services[2].data, "{}");
	zr_bp_free(bp);
}

static const char zerorobot_yaml[] = "# zrobot: name=zos dry-run\n"
				     "services:\n"
				     "  - github.com/zero-os/0-templates/node/0.0.1__n1:\n"
				     "      hostname: n1\n"
				     "      ports: [80, 443]\n"
				     "      ratio: 0.5\n"
				     "      up: true\n"
				     "      note: ~\n"
				     "  - node__local: {}\n"
				     "  - zerotier_client__zt:\n"
				     "      token: 'abc'\n"
				     "actions:\n"
				     "  - template: github.com/zero-os/0-templates/node/0.0.1\n"
				     "    service: n1\n"
				     "    actions: install\n"
				     "  - actions: ['start', 'monitor']\n"
				     "    args: {timeout: 30}\n";

/* The same, as a ZeroRobot user sends it over HTTP. */
static const char zerorobot_json[] =
	"# zrobot: name=zos dry-run\n"
	"{\"services\": [\n"
	"  {\"github.com/zero-os/0-templates/node/0.0.1__n1\": {\"hostname\": \"n1\",\n"
	"    \"ports\": [80, 443], \"ratio\": 0.5, \"up\": true, \"note\": null}},\n"
	"  {\"node__local\": {}},\n"
	"\t{\"zerotier_client__zt\":{\"token\":\"abc\"}}\n"
	"],\n"
	"\"actions\": [\n"
	"  {\"template\": \"github.com/zero-os/0-templates/node/0.0.1\", \"service\": \"n1\",\n"
	"   \"actions\": \"install\"},\n"
	"  {\"actions\": [\"start\", \"monitor\"], \"args\": {\"timeout\": 30}}\n"
	"]}\n";

TEST(zerorobot_form)
{
	struct zr_bp *y = parse_ok(zerorobot_yaml), *j = parse_ok(zerorobot_json);
	ASSERT_EQ_STR(y->name, "zos");
	ASSERT_TRUE(y->dry_run);
	ASSERT_FALSE(y->prune);
	ASSERT_EQ_SIZE(y->n_services, 3);
	ASSERT_EQ_STR(y->services[0].template, "github.com/zero-os/0-templates/node/0.0.1");
	ASSERT_EQ_STR(y->services[0].name, "n1");
	assert_json(y->services[0].data, "{\"hostname\": \"n1\", \"ports\": [80, 443],"
					 " \"ratio\": 0.5, \"up\": true, \"note\": null}");
	assert_pos(y->services[0].pos, 3, 5);
	ASSERT_EQ_STR(y->services[1].template, "node");
	ASSERT_EQ_STR(y->services[1].name, "local");
	ASSERT_EQ_STR(y->services[2].template, "zerotier_client");
	ASSERT_EQ_STR(y->services[2].name, "zt");
	ASSERT_EQ_SIZE(y->n_actions, 2);
	ASSERT_EQ_STR(y->actions[0].template, "github.com/zero-os/0-templates/node/0.0.1");
	ASSERT_EQ_STR(y->actions[0].service, "n1");
	ASSERT_EQ_SIZE(y->actions[0].n_actions, 1);
	ASSERT_EQ_STR(y->actions[0].actions[0], "install");
	ASSERT_EQ_SIZE(y->actions[1].n_actions, 2);
	ASSERT_EQ_STR(y->actions[1].actions[1], "monitor");
	assert_json(y->actions[1].args, "{\"timeout\": 30}");
	assert_bp_equal(y, j);
	/* Positions in JSON too: the third service's '{' after a tab. */
	assert_pos(j->services[0].pos, 3, 3);
	assert_pos(j->services[2].pos, 6, 2);
	zr_bp_free(y);
	zr_bp_free(j);
}

/* The last "__" splits: the name may hold "__" only in our form. */
TEST(zerorobot_keys)
{
	struct zr_bp *bp = parse_ok("services:\n"
				    "  - a__b__c: {}\n"
				    "  - redis/my__svc: {}\n"
				    "  - host:8080/acc/repo/tmpl_x/1.2.3__s-1: {}\n");
	ASSERT_EQ_STR(bp->services[0].template, "a__b");
	ASSERT_EQ_STR(bp->services[0].name, "c");
	ASSERT_EQ_STR(bp->services[1].template, "redis");
	ASSERT_EQ_STR(bp->services[1].name, "my__svc");
	ASSERT_EQ_STR(bp->services[2].template, "host:8080/acc/repo/tmpl_x/1.2.3");
	ASSERT_EQ_STR(bp->services[2].name, "s-1");
	zr_bp_free(bp);
}

TEST(scalars)
{
	struct zr_bp *bp = parse_ok(
		"services:\n"
		"  - t/s:\n"
		"      n1: null\n      n2: Null\n      n3: NULL\n      n4: ~\n      n5:\n"
		"      b1: true\n      b2: True\n      b3: TRUE\n"
		"      b4: false\n      b5: False\n      b6: FALSE\n"
		"      i1: 42\n      i2: -7\n      i3: +3\n      i4: 007\n"
		"      i5: 9223372036854775807\n      i6: -9223372036854775808\n"
		"      f1: 1.5\n      f2: -1e3\n      f3: .5\n      f4: 2.\n      f5: 1E+2\n"
		"      s1: \"42\"\n      s2: 'true'\n      s3: hello world\n      s4: 0x1F\n"
		"      s5: yes\n      s6: 1.2.3\n      s7: ''\n      s8: \"null\"\n      s9: nan\n"
		"      s10: |\n        two\n        lines\n"
		"      s11: \"a\\u00e9\\tb\"\n"
		"      list: [1, two, {three: 3}, [], ~]\n");
	assert_json(bp->services[0].data,
		    "{\"n1\": null, \"n2\": null, \"n3\": null, \"n4\": null, \"n5\": null,"
		    " \"b1\": true, \"b2\": true, \"b3\": true,"
		    " \"b4\": false, \"b5\": false, \"b6\": false,"
		    " \"i1\": 42, \"i2\": -7, \"i3\": 3, \"i4\": 7,"
		    " \"i5\": 9223372036854775807, \"i6\": -9223372036854775808,"
		    " \"f1\": 1.5, \"f2\": -1000.0, \"f3\": 0.5, \"f4\": 2.0, \"f5\": 100.0,"
		    " \"s1\": \"42\", \"s2\": \"true\", \"s3\": \"hello world\", \"s4\": \"0x1F\","
		    " \"s5\": \"yes\", \"s6\": \"1.2.3\", \"s7\": \"\", \"s8\": \"null\","
		    " \"s9\": \"nan\", \"s10\": \"two\\nlines\\n\", \"s11\": \"a\\u00e9\\tb\","
		    " \"list\": [1, \"two\", {\"three\": 3}, [], null]}");
	ASSERT_TRUE(json_is_integer(json_object_get(bp->services[0].data, "i1")));
	ASSERT_TRUE(json_is_real(json_object_get(bp->services[0].data, "f4")));
	zr_bp_free(bp);
}

TEST(empty)
{
	const char *texts[] = {"",
			       "# nothing\n",
			       "~\n",
			       "{}",
			       "services:\n",
			       "services: []\n"
			       "children: {}\nactions: []\n",
			       "---\nservices:\n...\n"};
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		TEST_CASE("%s", texts[i]);
		struct zr_bp *bp = parse_ok(texts[i]);
		ASSERT_EQ_SIZE(bp->n_services + bp->n_children + bp->n_actions, 0);
		zr_bp_free(bp);
	}
	TEST_CASE_END();
}

TEST(children)
{
	struct zr_bp *bp = parse_ok("children:\n"
				    "  a/p: [b/c1, b/c2]\n"
				    "  a/q: b/c3\n"
				    "  a/r: []\n"
				    "  a/s:\n"
				    "    - b/c4\n");
	ASSERT_EQ_SIZE(bp->n_children, 4);
	ASSERT_EQ_STR(bp->children[1].parent, "a/p");
	ASSERT_EQ_STR(bp->children[1].child, "b/c2");
	assert_pos(bp->children[1].pos, 2, 15);
	ASSERT_EQ_STR(bp->children[2].parent, "a/q");
	ASSERT_EQ_STR(bp->children[2].child, "b/c3");
	assert_pos(bp->children[2].pos, 3, 8);
	ASSERT_EQ_STR(bp->children[3].parent, "a/s");
	assert_pos(bp->children[3].pos, 6, 7);
	zr_bp_free(bp);
}

TEST(directive)
{
	struct zr_bp *bp = parse_ok("services: []\n  #   zrobot:  prune\tname=web-1 \r\n"
				    "# zrobot: dry-run\n");
	ASSERT_EQ_STR(bp->name, "web-1");
	ASSERT_TRUE(bp->prune);
	ASSERT_FALSE(bp->dry_run); /* only the first directive line counts */
	zr_bp_free(bp);
	/* Inside JSON, on a line of its own. */
	bp = parse_ok("{\n# zrobot: prune\n\"services\": []}");
	ASSERT_TRUE(bp->prune);
	zr_bp_free(bp);
	/* Not a directive: not the first thing on its line, or another word than zrobot:. */
	bp = parse_ok("services: [] # zrobot: prune\n# zrobots: prune\n# robot: x\n");
	ASSERT_FALSE(bp->prune);
	zr_bp_free(bp);
	/* Text in a scalar of several lines is not a comment. */
	bp = parse_ok("services:\n"
		      "  - a/b:\n"
		      "      script: |\n"
		      "        # zrobot: prune\n"
		      "        echo\n"
		      "      quoted: \"x\n"
		      "        # zrobot: prune\"\n"
		      "# zrobot: dry-run\n");
	ASSERT_FALSE(bp->prune);
	ASSERT_TRUE(bp->dry_run);
	assert_json(bp->services[0].data, "{\"script\": \"# zrobot: prune\\necho\\n\","
					  " \"quoted\": \"x # zrobot: prune\"}");
	zr_bp_free(bp);
	parse_fails("services: []\n# zrobot: name=web dryrun\n", -EINVAL,
		    "line 2, column 20: unknown directive 'dryrun' (want name=NAME, dry-run, "
		    "prune)");
	parse_fails("# zrobot: name=Web\n", -EINVAL,
		    "line 1, column 11: bad blueprint name 'Web' (must match "
		    "[a-z0-9][a-z0-9_.-]{0,62})");
	/* Lines end as libyaml ends them: at \r, \r\n and \n; columns count characters. */
	parse_fails("services: []\r# x\r\n# y\r\xc3\xa9: 1\n# zrobot: prune \xc3\xa9\n", -EINVAL,
		    "line 5, column 17: unknown directive '\xc3\xa9' (want name=NAME, dry-run, "
		    "prune)");
	/* NEL, LS and PS are line breaks for libyaml, folded to a space even in a quoted string:
	 * refused rather than changed; escaped, they are kept. */
	parse_fails("{\"services\": [{\"a/b\": {\"x\": \"1\xe2\x80\xa8\"}}]}", -EINVAL,
		    "line 1, column 31: U+2028, a line break for YAML, is not allowed (in a "
		    "double-quoted string, write \\u2028)");
	parse_fails("services:\r\n  - \xc3\xa9\xc2\x85\n", -EINVAL,
		    "line 2, column 6: U+0085, a line break for YAML, is not allowed (in a "
		    "double-quoted string, write \\u0085)");
	parse_fails("# \xe2\x80\xa9\n", -EINVAL,
		    "line 1, column 3: U+2029, a line break for YAML, is not allowed (in a "
		    "double-quoted string, write \\u2029)");
	bp = parse_ok("{\"services\": [{\"a/b\": {\"x\": \"1\\u2028\\u0085\\u2029\"}}]}");
	assert_json(bp->services[0].data, "{\"x\": \"1\\u2028\\u0085\\u2029\"}");
	zr_bp_free(bp);
	parse_fails("services:\r  - a/b: {}\r  - a/b: {}\n", -EINVAL,
		    "line 3, column 5: a/b listed twice (first at line 2)");
	parse_fails("services:\r\n  - \xc3\xa9\xc3\xa9\x01\n", -EINVAL,
		    "line 2, column 7: control characters are not allowed");
	parse_fails("# zrobot: name=\n", -EINVAL,
		    "line 1, column 11: unknown directive 'name=' (want name=NAME, dry-run, "
		    "prune)");
}

TEST(refusals)
{
	parse_fails("servics: []\n", -EINVAL,
		    "line 1, column 1: unknown key 'servics' (want services, children, actions)");
	parse_fails("services: []\nservices: []\n", -EINVAL,
		    "line 2, column 1: key 'services' given twice");
	parse_fails("[]\n", -EINVAL,
		    "line 1, column 1: want a mapping with services, children, actions");
	parse_fails("services: {a/b: {}}\n", -EINVAL, "line 1, column 11: services must be a list");
	parse_fails("services:\n  - redis/cache: {}\n  - redis/Cache: {}\n", -EINVAL,
		    "line 3, column 5: bad service name 'Cache' (must match "
		    "[a-z0-9][a-z0-9_.-]{0,62})");
	parse_fails("services:\n  - Redis/cache: {}\n", -EINVAL,
		    "line 2, column 5: bad template name 'Redis' (must match "
		    "[a-z0-9][a-z0-9_.-]{0,62})");
	parse_fails("services:\n  - x: {}\n", -EINVAL,
		    "line 2, column 5: want TEMPLATE/NAME or TEMPLATE__NAME, got 'x'");
	parse_fails("services:\n  - a/b/c: {}\n", -EINVAL,
		    "line 2, column 5: want TEMPLATE/NAME or TEMPLATE__NAME, got 'a/b/c'");
	parse_fails("services:\n  - node__Bad: {}\n", -EINVAL,
		    "line 2, column 5: bad service name 'Bad' (must match "
		    "[a-z0-9][a-z0-9_.-]{0,62})");
	parse_fails("services:\n  - /node/1.0__n: {}\n", -EINVAL,
		    "line 2, column 5: bad template '/node/1.0' (want a name or a uid "
		    ".../NAME/VERSION)");
	parse_fails("services:\n  - x/../node/1.0__n: {}\n", -EINVAL,
		    "line 2, column 5: bad template 'x/../node/1.0' (want a name or a uid "
		    ".../NAME/VERSION)");
	parse_fails("services:\n"
		    "  - redis/cache: {}\n"
		    "  - node/local: {}\n"
		    "  - redis/cache: {port: 1}\n",
		    -EINVAL, "line 4, column 5: redis/cache listed twice (first at line 2)");
	/* One service, written as a uid and as a name. */
	parse_fails("services:\n"
		    "  - github.com/zero-os/0-templates/node/0.0.1__n1: {}\n"
		    "  - {template: node, name: n1}\n",
		    -EINVAL, "line 3, column 5: node/n1 listed twice (first at line 2)");
	parse_fails("services:\n  - redis/cache: 5\n", -EINVAL,
		    "line 2, column 18: the data of redis/cache must be an object");
	parse_fails("services:\n  - redis/cache: [a]\n", -EINVAL,
		    "line 2, column 18: the data of redis/cache must be an object");
	parse_fails("services:\n  - a/b: {}\n    c/d: {}\n", -EINVAL,
		    "line 2, column 5: want TEMPLATE/NAME: DATA, or {template, name, ...}");
	parse_fails("services:\n  - a/b\n", -EINVAL,
		    "line 2, column 5: want TEMPLATE/NAME: DATA, or {template, name, ...}");
	parse_fails("services:\n  - {template: redis, nam: x}\n", -EINVAL,
		    "line 2, column 23: unknown key 'nam' (want template, name, version, data, "
		    "parent)");
	parse_fails("services:\n  - {template: redis}\n", -EINVAL,
		    "line 2, column 5: a service without 'name'");
	parse_fails("services:\n  - {name: c, data: {}}\n", -EINVAL,
		    "line 2, column 5: a service without 'template'");
	parse_fails("services:\n  - name: c\n", -EINVAL,
		    "line 2, column 5: a service without 'template'");
	parse_fails("services:\n  - template: redis\n    name: Cache\n", -EINVAL,
		    "line 3, column 11: bad service name 'Cache' (must match "
		    "[a-z0-9][a-z0-9_.-]{0,62})");
	parse_fails("services:\n  - {template: redis, name: c, parent: shop}\n", -EINVAL,
		    "line 2, column 40: want TEMPLATE/NAME, got 'shop'");
	parse_fails("services:\n  - {template: [redis], name: c}\n", -EINVAL,
		    "line 2, column 16: template must be a string");
	parse_fails("services:\n  - {template: redis, name: true}\n", -EINVAL,
		    "line 2, column 29: name must be a string");
	parse_fails("services:\n  - {template: redis, name: c, data: x}\n", -EINVAL,
		    "line 2, column 38: the data of redis/c must be an object");
	parse_fails("services:\n  - {template: redis, name: c, version: 1 0}\n", -EINVAL,
		    "line 2, column 41: bad version '1 0' (must match [a-z0-9][a-z0-9_.-]{0,62})");
	parse_fails("children:\n  a/p: [b/c, shop]\n", -EINVAL,
		    "line 2, column 14: want TEMPLATE/NAME, got 'shop'");
	parse_fails("children:\n  p: [b/c]\n", -EINVAL,
		    "line 2, column 3: want TEMPLATE/NAME, got 'p'");
	parse_fails("children:\n  a/p: [b/c]\n  a/q: [b/d, b/c]\n", -EINVAL,
		    "line 3, column 14: b/c listed twice (first at line 2)");
	parse_fails("children:\n  a/p: [b/c]\n  a/p: [b/d]\n", -EINVAL,
		    "line 3, column 3: key 'a/p' given twice");
	parse_fails("children: [a/b]\n", -EINVAL,
		    "line 1, column 11: children must be a mapping of TEMPLATE/NAME: "
		    "[TEMPLATE/NAME]");
	parse_fails("actions:\n  - {template: redis, service: cache}\n", -EINVAL,
		    "line 2, column 5: an action block without 'actions'");
	parse_fails("actions:\n  - {actions: []}\n", -EINVAL,
		    "line 2, column 15: want at least one action");
	parse_fails("actions:\n  - {actions: [start, Stop]}\n", -EINVAL,
		    "line 2, column 23: bad action name 'Stop' (must match "
		    "[a-z0-9][a-z0-9_.-]{0,62})");
	parse_fails("actions:\n  - {actions: start, force: true}\n", -EINVAL,
		    "line 2, column 22: unknown key 'force' (want template, service, actions, "
		    "args)");
	parse_fails("actions:\n  - {actions: start, args: [1]}\n", -EINVAL,
		    "line 2, column 28: args must be an object");
	parse_fails("actions:\n  - {actions: start, service: Cache}\n", -EINVAL,
		    "line 2, column 31: bad service name 'Cache' (must match "
		    "[a-z0-9][a-z0-9_.-]{0,62})");
	parse_fails("actions:\n  - start\n", -EINVAL,
		    "line 2, column 5: want an action block {template, service, actions, args}");
}

TEST(yaml_refusals)
{
	/* libyaml's own errors, at its problem mark. */
	parse_fails("services:\n  - redis/cache: {port: 1}\n  - a: b: c\n", -EINVAL,
		    "line 3, column 9: mapping values are not allowed in this context");
	parse_fails("{\"services\": [}", -EINVAL,
		    "line 1, column 15: did not find expected node content");
	parse_fails("services:\n  - \"a\xff\"\n", -EINVAL,
		    "line 2, column 7: invalid leading UTF-8 octet");
	parse_fails("services:\n  - a/b: &x {}\n  - a/c: *x\n", -EINVAL,
		    "line 2, column 10: anchors (&x) are not allowed");
	parse_fails("services:\n  - a/c: *x\n", -EINVAL,
		    "line 2, column 10: aliases (*x) are not allowed");
	parse_fails("services:\n  - a/b: !!map {}\n", -EINVAL,
		    "line 2, column 10: tags (tag:yaml.org,2002:map) are not allowed");
	parse_fails("services:\n  - a/b: {port: !x 1}\n", -EINVAL,
		    "line 2, column 17: tags (!x) are not allowed");
	parse_fails("services: []\n---\nactions: []\n", -EINVAL,
		    "line 2, column 1: more than one document");
	parse_fails("services:\n  - a/b: {1: x}\n", -EINVAL,
		    "line 2, column 11: key '1' is not a string (quote it)");
	parse_fails("services:\n  - a/b: {~: x}\n", -EINVAL,
		    "line 2, column 11: key '~' is not a string (quote it)");
	parse_fails("services:\n  - a/b: {[1]: x}\n", -EINVAL,
		    "line 2, column 11: a key must be a string");
	parse_fails("services:\n  - a/b: {\"a\\0b\": x}\n", -EINVAL,
		    "line 2, column 11: a key must not hold a NUL byte");
	parse_fails("services:\n  - a/b:\n      port: 1\n      port: 2\n", -EINVAL,
		    "line 4, column 7: key 'port' given twice");
	parse_fails("services:\n  - a/b: {x: .inf}\n", -EINVAL,
		    "line 2, column 14: .inf is not a number JSON can carry");
	parse_fails("services:\n  - a/b: {x: -.NaN}\n", -EINVAL,
		    "line 2, column 14: -.NaN is not a number JSON can carry");
	parse_fails("services:\n  - a/b: {x: 9223372036854775808}\n", -EINVAL,
		    "line 2, column 14: integer 9223372036854775808 out of range");
	parse_fails("services:\n  - a/b: {x: 1e999}\n", -EINVAL,
		    "line 2, column 14: number 1e999 out of range");
	/* Quoted, they are strings. */
	struct zr_bp *bp =
		parse_ok("services:\n  - a/b: {x: '.inf', \"1\": \"9223372036854775808\"}\n");
	assert_json(bp->services[0].data, "{\"x\": \".inf\", \"1\": \"9223372036854775808\"}");
	zr_bp_free(bp);
}

TEST(depth)
{
	char text[512];
	/* The top mapping, services, the item, its data: 4 levels, then 60 more: 64, allowed. */
	size_t n = (size_t)sprintf(text, "{services: [{a/b: {x: ");
	memset(text + n, '[', 60);
	memset(text + n + 60, ']', 60);
	n += 120;
	(void)sprintf(text + n, "}}]}");
	struct zr_bp *bp = parse_ok(text);
	zr_bp_free(bp);

	n = 0;
	n += (size_t)sprintf(text + n, "{services: [{a/b: {x: ");
	for (int i = 0; i < 61; i++) {
		text[n++] = '[';
	}
	text[n] = '\0';
	/* Level 65 is the 61st '[' (column 23 + 60). */
	parse_fails(text, -E2BIG, "line 1, column 83: nested deeper than 64");

	/* Deep enough to hurt a recursive parser: refused at level 65 all the same. */
	size_t big = 1000000;
	char *deep = malloc(big);
	ASSERT_NOT_NULL(deep);
	memset(deep, '[', big);
	parse_fails_n(deep, big, -E2BIG, "line 1, column 65: nested deeper than 64");
	free(deep);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A list of n items "  - <fmt %u>\n" under key, after prefix. */
static char *make_list(const char *prefix, const char *key, const char *fmt, unsigned n,
		       size_t *ret_len)
{
	size_t cap = strlen(prefix) + strlen(key) + 16 + (size_t)n * (strlen(fmt) + 32);
	char *s = malloc(cap);
	ASSERT_NOT_NULL(s);
	size_t len = (size_t)sprintf(s, "%s%s:\n", prefix, key);
	for (unsigned i = 0; i < n; i++) {
		len += (size_t)sprintf(s + len, "  - ");
		len += (size_t)sprintf(s + len, fmt, i);
		s[len++] = '\n';
	}
	s[len] = '\0';
	*ret_len = len;
	return s;
}

TEST(bounds)
{
	/* Bytes: refused before any parsing. */
	size_t big = ZR_BP_MAX_BYTES + 1;
	char *text = malloc(big);
	ASSERT_NOT_NULL(text);
	memset(text, ' ', big);
	parse_fails_n(text, big, -E2BIG, "line 1, column 1: 10485761 bytes, more than 10485760");
	/* Exactly the bound is read (and is empty). */
	struct zr_bp *bp = NULL;
	char *err = NULL;
	ASSERT_EQ_INT(zr_bp_parse(text, ZR_BP_MAX_BYTES, &bp, &err), 0);
	zr_bp_free(bp);
	free(text);

	/* 10,000 services are accepted; in well under a second (printed, not asserted). */
	size_t len;
	text = make_list("", "services", "t/s%u: {port: 1}", ZR_BP_MAX_SERVICES, &len);
	double t0 = now();
	bp = NULL;
	ASSERT_EQ_INT(zr_bp_parse(text, len, &bp, &err), 0);
	fprintf(stderr, "# 10000 services (%zu bytes) parsed in %.3f s\n", len, now() - t0);
	ASSERT_EQ_SIZE(bp->n_services, ZR_BP_MAX_SERVICES);
	ASSERT_EQ_STR(bp->services[9999].name, "s9999");
	assert_pos(bp->services[9999].pos, 10001, 5);
	zr_bp_free(bp);
	free(text);
	/* One more is refused at the one beyond. */
	text = make_list("", "services", "t/s%u: {}", ZR_BP_MAX_SERVICES + 1, &len);
	parse_fails_n(text, len, -E2BIG, "line 10002, column 5: more than 10000 services");
	free(text);
	/* The bounds come before the entries: a bad one further on is not what is reported. */
	text = make_list("actions: [{actions: Bad}]\n", "services", "t/s%u: {}",
			 ZR_BP_MAX_SERVICES + 1, &len);
	parse_fails_n(text, len, -E2BIG, "line 10003, column 5: more than 10000 services");
	free(text);
	text = make_list("", "actions", "{actions: a%u}", ZR_BP_MAX_ACTIONS + 1, &len);
	parse_fails_n(text, len, -E2BIG, "line 10002, column 5: more than 10000 action blocks");
	free(text);
}

/* The billion laughs: a few hundred bytes that would expand to gigabytes. */
TEST(alias_bomb)
{
	const char *bomb =
		"a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
		"b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
		"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
		"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
		"e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
		"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
		"g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
		"h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
		"i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
	double t0 = now();
	parse_fails(bomb, -EINVAL, "line 1, column 4: anchors (&a) are not allowed");
	ASSERT_TRUE(now() - t0 < 5);
}

TEST(template_split)
{
	char buf[128];
	const char *name, *version;
	ASSERT_TRUE(zr_bp_template_split("github.com/zero-os/0-templates/node/0.0.1", buf,
					 sizeof(buf), &name, &version));
	ASSERT_EQ_STR(name, "node");
	ASSERT_EQ_STR(version, "0.0.1");
	ASSERT_TRUE(zr_bp_template_split("node", buf, sizeof(buf), &name, &version));
	ASSERT_EQ_STR(name, "node");
	ASSERT_NULL(version);
	ASSERT_TRUE(zr_bp_template_split("x/node/1", buf, sizeof(buf), &name, &version));
	ASSERT_EQ_STR(name, "node");
	ASSERT_EQ_STR(version, "1");
	const char *bad[] = {"",
			     "Node",
			     "node/1.0",
			     "/node/1.0",
			     "x//node/1.0",
			     "x/node/",
			     "x/Node/1.0",
			     "x/node/1 0",
			     "./node/1.0",
			     "a/../node/1.0",
			     "x y/node/1.0",
			     "x/node/1.0/"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_CASE("%s", bad[i]);
		ASSERT_FALSE(zr_bp_template_split(bad[i], buf, sizeof(buf), &name, &version));
	}
	TEST_CASE_END();
	/* buf too small for the copy */
	ASSERT_FALSE(zr_bp_template_split("node", buf, 4, &name, &version));
	ASSERT_TRUE(zr_bp_template_split("node", buf, 5, &name, &version));
}

int main(void)
{
	RUN_TEST(our_form);
	RUN_TEST(long_form);
	RUN_TEST(zerorobot_form);
	RUN_TEST(zerorobot_keys);
	RUN_TEST(scalars);
	RUN_TEST(empty);
	RUN_TEST(children);
	RUN_TEST(directive);
	RUN_TEST(refusals);
	RUN_TEST(yaml_refusals);
	RUN_TEST(depth);
	RUN_TEST(bounds);
	RUN_TEST(alias_bomb);
	RUN_TEST(template_split);
	return 0;
}
