/* The kinds of local nodes, one descriptor each (tree-local-internal.h struct kind): its name,
 * mode and flags, and the functions that give its entries, content, journal, mtime, link
 * target or write. A new file is one row here and, when it shows something new, one function. */
#include "tree-local-internal.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apply.h"
#include "config.h"
#include "graph.h"
#include "metrics.h"
#include "remote/remote.h"
#include "repo.h"
#include "repos.h"
#include "robot.h"
#include "schema.h"
#include "service.h"
#include "supervise.h"
#include "task.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/url.h"
#include "webhook.h"

#define DIR_RO (S_IFDIR | 0555)
#define FILE_RO (S_IFREG | 0444)
#define FILE_WO (S_IFREG | 0200)

/* ---- helpers ---- */

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_from(struct zr_names *l, size_t first)
{
	if (l->n > first) {
		qsort(l->v + first, l->n - first, sizeof(char *), cmp_strp);
	}
}

static void put_time(struct zr_buf *b, long long ns)
{
	char ts[40];
	if (ns) {
		(void)zr_buf_printf(b, "%s\n", zr_time_format(ns, ts));
	}
}

static void put_json(struct zr_buf *b, const json_t *j, size_t flags)
{
	char *s = json_dumps(j, flags | JSON_ENCODE_ANY);
	if (s) {
		(void)zr_buf_printf(b, "%s\n", s);
		free(s);
	}
}

static bool parse_id(const char *s, uint64_t *ret)
{
	if (!*s || *s == '0' || strlen(s) > 19) {
		return false;
	}
	uint64_t v = 0;
	for (; *s; s++) {
		if (*s < '0' || *s > '9') {
			return false;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*ret = v;
	return true;
}

/* ---- the root and @robot ---- */

static int templates_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			   uint64_t *ret_serial, const struct kind *kind)
{
	(void)ret_serial;
	c->rt = zr_robot_template(t->robot, name);
	*ret = kind;
	return c->rt ? 0 : -ENOENT;
}

static int templates_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	size_t i = 0, first = l->n;
	const char *k;
	(void)c;
	while (zr_map_next(&t->robot->templates, &i, &k, NULL, NULL)) {
		if (zr_local__add_name(l, k) < 0) {
			return -ENOMEM;
		}
	}
	sort_from(l, first);
	return 0;
}

static int root_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
		      uint64_t *ret_serial)
{
	return templates_child(t, c, name, ret, ret_serial, &zr_kind_template);
}

static void c_robot_info(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	struct zr_robot *r = t->robot;
	char host[256] = "";
	size_t i = 0, n_svc = 0, queued = 0;
	void *v;
	(void)n, (void)c;
	(void)gethostname(host, sizeof(host) - 1);
	while (zr_map_next(&r->templates, &i, NULL, NULL, &v)) {
		struct zr_robot_template *rt = v;
		size_t j = 0;
		void *sv;
		while (zr_map_next(&rt->services, &j, NULL, NULL, &sv)) {
			n_svc++;
			queued += zr_queue_len(&((struct zr_service *)sv)->queue);
		}
	}
	_cleanup_json_ json_t *o = json_pack(
		"{ss ss sI sf ss ss sI sI s{sI sI} sI ss?}", "name", r->cfg.name, "version", ZR_VERSION, "pid",
		(json_int_t)getpid(), "uptime", round((double)(zr_now_ns() - r->started_ns) / 1e6) / 1e3, "mount",
		r->cfg.mount, "data_dir", r->cfg.data_dir, "templates", (json_int_t)r->templates.len,
		"services", (json_int_t)n_svc, "tasks", "queued", (json_int_t)queued, "running",
		(json_int_t)r->running_processes, "jobs", (json_int_t)r->cfg.jobs, "listen", r->http_url);
	/* Times in milliseconds (issue 15): the uptime is rounded to them, and 15 significant
	 * digits print that double as 2.087, where jansson's 17 would show 2.0870000000000002. */
	put_json(b, o, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
}

static void c_robot_metrics(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	(void)n, (void)c;
	(void)zr_metrics_render(t->robot, t->n_parked, b);
}

static struct zr_journal *j_robot_log(struct zr_local *t, const struct ctx *c)
{
	(void)c;
	return &t->robot->log;
}

static struct zr_journal *j_robot_events(struct zr_local *t, const struct ctx *c)
{
	(void)c;
	return &t->robot->events;
}

/* @robot/templates/<name>/ */
static void c_rt_manifest(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	(void)t, (void)n;
	/* Its "env" may hold a proxy's URL with a password (actions get it as it is). */
	_cleanup_free_ char *s = json_dumps(c->rt->t->manifest, JSON_INDENT(2));
	_cleanup_free_ char *shown = s ? zr_url_redact(s) : NULL;
	if (shown) {
		(void)zr_buf_printf(b, "%s\n", shown);
	}
}

static void c_rt_uid(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	(void)t, (void)n;
	(void)zr_buf_printf(b, "%s\n", c->rt->t->uid);
}

static void c_rt_versions(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	(void)t, (void)n;
	for (size_t i = 0; i < c->rt->n_versions; i++) {
		const struct zr_template *v = c->rt->versions[i];
		(void)zr_buf_printf(b, "%s %s%s\n", v->version, v->uid, v->missing ? " missing" : "");
	}
}

static void c_rt_source(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	(void)t, (void)n;
	(void)zr_buf_printf(b, "%s\n", c->rt->t->dir);
}

static const struct kind k_rt_manifest = {"manifest", FILE_RO, .content = c_rt_manifest, .time = TIME_TEMPLATE};
static const struct kind k_rt_source = {"source", FILE_RO, .content = c_rt_source, .time = TIME_TEMPLATE};
static const struct kind k_rt_uid = {"uid", FILE_RO, .content = c_rt_uid, .time = TIME_TEMPLATE};
static const struct kind k_rt_versions = {"versions", FILE_RO, .content = c_rt_versions, .time = TIME_TEMPLATE};
static const struct kind *const rtemplate_entries[] = {&k_rt_manifest, &k_rt_source, &k_rt_uid,
							&k_rt_versions, NULL};
static const struct kind k_rtemplate = {NULL, DIR_RO, .fixed = rtemplate_entries, .time = TIME_TEMPLATE};

static int rtemplates_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			    uint64_t *ret_serial)
{
	return templates_child(t, c, name, ret, ret_serial, &k_rtemplate);
}

/* @robot/repos/ */
static void c_repo(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	const struct zr_repo *rp = c->repo;
	const char *field = n->kind->name;
	(void)t;
	if (strcmp(field, "status") == 0) {
		_cleanup_free_ char *st = zr_repo_status(rp);
		(void)zr_buf_puts(b, st ? st : "");
		return;
	}
	const char *v = strcmp(field, "url") == 0   ? rp->url
			: strcmp(field, "ref") == 0 ? rp->ref
						    : rp->commit;
	if (v || strcmp(field, "ref") == 0) {
		(void)zr_buf_printf(b, "%s\n", v ? v : "HEAD");
	}
}

static const struct kind k_rp_commit = {"commit", FILE_RO, .content = c_repo};
static const struct kind k_rp_ctl = {"ctl", FILE_WO, .write = zr_local__write_repos};
static const struct kind k_rp_ref = {"ref", FILE_RO, .content = c_repo};
static const struct kind k_rp_status = {"status", FILE_RO, .content = c_repo};
static const struct kind k_rp_url = {"url", FILE_RO, .content = c_repo};
static const struct kind *const repo_entries[] = {&k_rp_commit, &k_rp_ctl, &k_rp_ref, &k_rp_status,
						   &k_rp_url, NULL};
static const struct kind k_repo = {NULL, DIR_RO, .fixed = repo_entries};

static int repos_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
		       uint64_t *ret_serial)
{
	(void)ret_serial;
	c->repo = zr_repos_find(t->robot->repos, name);
	*ret = &k_repo;
	return c->repo ? 0 : -ENOENT;
}

static int repos_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	(void)c;
	for (size_t i = 0; i < zr_repos_count(t->robot->repos); i++) {
		if (zr_local__add_name(l, zr_repos_get(t->robot->repos, i)->id) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

static const struct kind k_repos_add = {"add", FILE_WO, .write = zr_local__write_repos};
static const struct kind *const repos_entries[] = {&k_repos_add, NULL};

/* @robot/remotes/ and @remote/ */
static void c_remote(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	struct zr_remotes *rs = zr_tree__remotes(t->tree);
	_cleanup_free_ char *text = NULL;
	(void)c;
	int err = !rs ? -ENOENT
		: strcmp(n->kind->name, "url") == 0 ? zr_remotes_url(rs, n->parent->name, &text)
						    : zr_remotes_status(rs, n->parent->name, &text);
	if (err == 0) {
		(void)zr_buf_puts(b, text);
	}
}

static const struct kind k_rm_status = {"status", FILE_RO, .content = c_remote};
static const struct kind k_rm_url = {"url", FILE_RO, .content = c_remote};
static const struct kind *const rremote_entries[] = {&k_rm_status, &k_rm_url, NULL};
static const struct kind k_rremote = {NULL, DIR_RO, .fixed = rremote_entries};

static int rremotes_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			  uint64_t *ret_serial)
{
	struct zr_remotes *rs = zr_tree__remotes(t->tree);
	(void)c, (void)ret_serial;
	*ret = &k_rremote;
	return rs && zr_remotes_has(rs, name) ? 0 : -ENOENT;
}

static int remotes_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	struct zr_remotes *rs = zr_tree__remotes(t->tree);
	(void)c;
	for (size_t i = 0; rs && zr_remotes_name(rs, i); i++) {
		if (zr_local__add_name(l, zr_remotes_name(rs, i)) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

static const struct kind k_rremotes_add = {"add", FILE_WO, .write = zr_local__write_remotes};
static const struct kind k_rremotes_ctl = {"ctl", FILE_WO, .write = zr_local__write_remotes};
static const struct kind *const rremotes_entries[] = {&k_rremotes_add, &k_rremotes_ctl, NULL};

/* @robot/webhooks/ (README "Webhooks"): a folder per hook, named by its id. */
static void c_webhook(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	uint64_t id;
	(void)c;
	if (parse_id(n->parent->name, &id) && zr_webhooks_file(t->robot->webhooks, id, n->kind->name, b) < 0) {
		zr_buf_reset(b); /* out of memory, or gone: no half file */
	}
}

static const struct kind k_wh_ctl = {"ctl", FILE_WO, .write = zr_local__write_webhooks};
static const struct kind k_wh_events = {"events", FILE_RO, .content = c_webhook};
/* The key receivers check signatures with: the robot's user alone (api/auth.c: admin only). */
static const struct kind k_wh_secret = {"secret", S_IFREG | 0400, .content = c_webhook};
static const struct kind k_wh_status = {"status", FILE_RO, .content = c_webhook};
static const struct kind k_wh_url = {"url", FILE_RO, .content = c_webhook};
static const struct kind *const webhook_entries[] = {&k_wh_ctl, &k_wh_events, &k_wh_secret,
						     &k_wh_status, &k_wh_url, NULL};
static const struct kind k_webhook = {NULL, DIR_RO, .fixed = webhook_entries};

static int webhooks_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			  uint64_t *ret_serial)
{
	uint64_t id;
	(void)c;
	*ret = &k_webhook;
	*ret_serial = 0;
	return parse_id(name, &id) && zr_webhooks_has(t->robot->webhooks, id) ? 0 : -ENOENT;
}

static int webhooks_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	char name[24];
	uint64_t id;
	(void)c;
	for (size_t i = 0; (id = zr_webhooks_id(t->robot->webhooks, i)); i++) {
		snprintf(name, sizeof(name), "%llu", (unsigned long long)id);
		if (zr_local__add_name(l, name) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

static const struct kind k_webhooks_add = {"add", FILE_WO, .write = zr_local__write_webhooks};
static const struct kind k_webhooks_ctl = {"ctl", FILE_WO, .write = zr_local__write_webhooks};
static const struct kind *const webhooks_entries[] = {&k_webhooks_add, &k_webhooks_ctl, NULL};

/* @robot/blueprint, @robot/blueprints/<name>/ (stored applies) and @robot/graph (DESIGN §8). */
static void c_robot_graph(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	(void)n, (void)c;
	if (zr_graph_dot(t->robot, b) < 0) {
		zr_buf_reset(b); /* out of memory: no half graph */
	}
}

/* The stored apply a node under blueprints/<name>/ stands for (resolve() checked it is
 * there). */
static const struct zr_apply_stored *stored_of(struct zr_local *t, const struct node *n)
{
	return zr_apply_stored(t->robot, n->parent->name);
}

static void c_stored(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	const struct zr_apply_stored *st = stored_of(t, n);
	const char *f = n->kind->name;
	(void)c;
	if (!st) {
		return;
	}
	if (strcmp(f, "content") == 0) {
		(void)zr_buf_append(b, st->content, st->len);
	} else if (strcmp(f, "outcome") == 0) {
		(void)zr_buf_puts(b, st->outcome ? st->outcome : "");
	} else if (strcmp(f, "applied") == 0) {
		put_time(b, st->applied_ns);
	}
}

/* content is the text as written: its data may hold secret values (0400, like data). */
static const struct kind k_bp_applied = {"applied", FILE_RO, .content = c_stored, .time = TIME_APPLIED};
static const struct kind k_bp_content = {"content", S_IFREG | 0400, .content = c_stored,
					 .time = TIME_APPLIED};
static const struct kind k_bp_outcome = {"outcome", FILE_RO, .content = c_stored, .time = TIME_APPLIED};
static const struct kind *const stored_entries[] = {&k_bp_applied, &k_bp_content, &k_bp_outcome, NULL};
static const struct kind k_stored = {NULL, DIR_RO, .fixed = stored_entries, .time = TIME_APPLIED};

static int blueprints_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			    uint64_t *ret_serial)
{
	(void)c, (void)ret_serial;
	*ret = &k_stored;
	return zr_apply_stored(t->robot, name) ? 0 : -ENOENT;
}

struct stored_walk {
	struct zr_names *l;
	int err;
};

static void on_stored_name(const char *name, void *data)
{
	struct stored_walk *w = data;
	if (w->err == 0) {
		w->err = zr_local__add_name(w->l, name);
	}
}

static int blueprints_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	struct stored_walk w = {.l = l};
	(void)c;
	zr_apply_stored_each(t->robot, on_stored_name, &w); /* sorted */
	return w.err;
}

/* 0600: a blueprint creates and changes services as its writer, whose rights the model checks
 * service by service; over the mount that is the robot's user. */
static const struct kind k_robot_blueprint = {"blueprint", S_IFREG | 0600, KIND_BLOCKING | KIND_BLUEPRINT,
					      .time = TIME_NOW, .write = zr_local__write_blueprint};
static const struct kind k_robot_blueprints = {"blueprints", DIR_RO, .child = blueprints_child,
					       .list = blueprints_list, .time = TIME_NOW};
static const struct kind k_robot_graph = {"graph", FILE_RO, .content = c_robot_graph, .time = TIME_NOW};

static const struct kind k_robot_events = {"events", FILE_RO, .journal = j_robot_events};
static const struct kind k_robot_info = {"info", FILE_RO, .content = c_robot_info, .time = TIME_NOW};
/* Owner-only: the robot's log names every creator's services, errors and paths (a user token
 * may not read it over HTTP either, api/auth.c). */
static const struct kind k_robot_log = {"log", S_IFREG | 0400, .journal = j_robot_log};
static const struct kind k_robot_metrics = {"metrics", FILE_RO, .content = c_robot_metrics, .time = TIME_NOW};
static const struct kind k_rremotes = {"remotes", DIR_RO, .fixed = rremotes_entries,
				       .child = rremotes_child, .list = remotes_list};
static const struct kind k_repos = {"repos", DIR_RO, .fixed = repos_entries, .child = repos_child,
				    .list = repos_list};
static const struct kind k_rtemplates = {"templates", DIR_RO, .child = rtemplates_child,
					 .list = templates_list, .time = TIME_ROBOT};
/* TIME_NOW: its entries come and go without an event the tree watches, so no cached times. */
static const struct kind k_webhooks = {"webhooks", DIR_RO, .fixed = webhooks_entries,
				       .child = webhooks_child, .list = webhooks_list, .time = TIME_NOW};
static const struct kind *const robot_entries[] = {&k_robot_blueprint, &k_robot_blueprints,
						    &k_robot_events, &k_robot_graph, &k_robot_info,
						    &k_robot_log, &k_robot_metrics, &k_rremotes, &k_repos,
						    &k_rtemplates, &k_webhooks, NULL};
static const struct kind k_robot = {"@robot", DIR_RO, .fixed = robot_entries, .time = TIME_NOW};

/* Remote robots' roots are the remote provider's nodes (tree-local.c looks them up there). */
const struct kind zr_kind_remotes = {"@remote", DIR_RO, .list = remotes_list};

static const struct kind *const root_entries[] = {&zr_kind_remotes, &k_robot, NULL};
const struct kind zr_kind_root = {NULL, DIR_RO, .fixed = root_entries, .child = root_child,
				  .list = templates_list, .time = TIME_ROBOT};

/* ---- a service ---- */

static struct zr_task *newest(const struct ctx *c)
{
	return zr_service_newest(c->svc, c->action->name);
}

/* Owner-only by default: with --allow-other, a local user runs actions only when the robot
 * was told to let its group do so (--group-actions; zr_kind__mode). */
static const struct kind k_action = {NULL, S_IFREG | 0600, KIND_BLOCKING | KIND_RESULT | KIND_ACTION,
				     .time = TIME_ACTION, .write = zr_local__write_action};
static const struct kind k_result = {NULL, FILE_RO, KIND_BLOCKING | KIND_RESULT | KIND_ACTION,
				     .task = newest, .time = TIME_RESULT};

static int action_child(struct ctx *c, const char *name, const struct kind **ret, const struct kind *kind)
{
	c->action = zr_template_action(c->svc->template, name);
	*ret = kind;
	return c->action ? 0 : -ENOENT;
}

static int actions_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			 uint64_t *ret_serial)
{
	(void)t, (void)ret_serial;
	return action_child(c, name, ret, &k_action);
}

static int results_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			 uint64_t *ret_serial)
{
	(void)t, (void)ret_serial;
	return action_child(c, name, ret, &k_result);
}

static int actions_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	(void)t;
	for (size_t i = 0; i < c->svc->template->n_actions; i++) {
		if (zr_local__add_name(l, c->svc->template->actions[i].name) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* tasks/<id>/ */
static struct zr_task *own_task(const struct ctx *c)
{
	return c->task;
}

static struct zr_journal *j_task_log(struct zr_local *t, const struct ctx *c)
{
	(void)t;
	return zr_task_log(c->task);
}

static void c_task(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	const struct zr_task *task = c->task;
	const char *f = n->kind->name;
	(void)t;
	if (strcmp(f, "action") == 0) {
		(void)zr_buf_printf(b, "%s\n", task->action->name);
	} else if (strcmp(f, "args") == 0) {
		_cleanup_json_ json_t *shown = zr_schema_redact(task->action->args, task->args);
		put_json(b, shown, JSON_COMPACT);
	} else if (strcmp(f, "state") == 0) {
		(void)zr_buf_printf(b, "%s\n", zr_task_state_name(task->state));
	} else if (strcmp(f, "created") == 0) {
		put_time(b, task->created_ns);
	} else if (strcmp(f, "started") == 0) {
		put_time(b, task->started_ns);
	} else if (strcmp(f, "finished") == 0) {
		put_time(b, task->finished_ns);
	} else if (strcmp(f, "error") == 0) {
		(void)zr_buf_puts(b, task->error ? task->error : "");
	} else if (strcmp(f, "progress") == 0 && task->progress_total >= 0) {
		(void)zr_buf_printf(b, "%lld %lld\n", task->progress_done, task->progress_total);
	}
}

#define TASK_FILE(n) {n, FILE_RO, KIND_IN_TASK, .content = c_task, .time = TIME_TASK}
static const struct kind k_tf_action = TASK_FILE("action");
static const struct kind k_tf_args = TASK_FILE("args");
static const struct kind k_tf_cancel = {"cancel", FILE_WO, KIND_IN_TASK, .time = TIME_TASK,
					.write = zr_local__write_cancel};
static const struct kind k_tf_created = TASK_FILE("created");
static const struct kind k_tf_error = TASK_FILE("error");
static const struct kind k_tf_finished = TASK_FILE("finished");
static const struct kind k_tf_log = {"log", FILE_RO, KIND_IN_TASK | KIND_BLOCKING, .journal = j_task_log,
				     .time = TIME_TASK};
static const struct kind k_tf_progress = TASK_FILE("progress");
static const struct kind k_tf_result = {"result", FILE_RO, KIND_IN_TASK | KIND_BLOCKING | KIND_RESULT,
					.task = own_task, .time = TIME_TASK};
static const struct kind k_tf_started = TASK_FILE("started");
static const struct kind k_tf_state = TASK_FILE("state");
#undef TASK_FILE
static const struct kind *const task_entries[] = {
	&k_tf_action, &k_tf_args, &k_tf_cancel, &k_tf_created, &k_tf_error, &k_tf_finished,
	&k_tf_log, &k_tf_progress, &k_tf_result, &k_tf_started, &k_tf_state, NULL,
};
static const struct kind k_task = {NULL, DIR_RO, .fixed = task_entries, .time = TIME_TASK};

static void c_queue(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	const struct zr_queue *q = &c->svc->queue;
	(void)t, (void)n;
	for (struct zr_queue_item *it = zr_queue_next(q, NULL); it; it = zr_queue_next(q, it)) {
		const struct zr_task *task = container_of(it, struct zr_task, qitem);
		(void)zr_buf_printf(b, "%llu\n", (unsigned long long)task->id);
	}
}

static const struct kind k_queue = {"queue", FILE_RO, .content = c_queue, .time = TIME_TASKS};
static const struct kind *const tasks_entries[] = {&k_queue, NULL};

static int tasks_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
		       uint64_t *ret_serial)
{
	uint64_t id;
	(void)t;
	if (!parse_id(name, &id) || !(c->task = zr_service_task(c->svc, id)) || c->task->pending) {
		return -ENOENT;
	}
	*ret = &k_task;
	*ret_serial = id;
	return 0;
}

static int tasks_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	char num[32];
	struct zr_task *tk;
	(void)t;
	zr_list_for_each(tk, &c->svc->tasks, link) {
		snprintf(num, sizeof(num), "%llu", (unsigned long long)tk->id);
		if (zr_local__add_name(l, num) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* producers/<role> and consumers/<t>.<s>: symbolic links, relative to the link's folder
 * (<template>/<service>/producers), so they work whatever the mount point. */
static int l_producer(struct zr_local *t, const struct node *n, const struct ctx *c, char **ret)
{
	const char *target = zr_service_producer(c->svc, n->name);
	(void)t;
	if (!target) {
		return -ENOENT;
	}
	return asprintf(ret, "../../../%s", target) < 0 ? -ENOMEM : 0;
}

static int l_consumer(struct zr_local *t, const struct node *n, const struct ctx *c, char **ret)
{
	struct zr_service *cons = zr_kind__consumer(t, c->svc, n->name);
	/* A consumer on another robot: "@remote/<robot>/<t>/<s>", a path that resolves where that
	 * robot is mounted under the name it gave. */
	const char *target = cons ? cons->path
				  : json_string_value(json_object_get(c->svc->rconsumers, n->name));
	if (!target) {
		return -ENOENT;
	}
	return asprintf(ret, "../../../%s", target) < 0 ? -ENOMEM : 0;
}

/* The name of a list role's producer in producers/<role>/: "<t>.<s>", and for one on other
 * robots "<t>.<s>@<robot>" like consumers/ ("@" between each robot of a chain). NULL when
 * out of memory or the path has no such shape. */
static char *producer_link_name(const char *path)
{
	struct zr_buf robots = {0};
	while (strncmp(path, "@remote/", 8) == 0) {
		const char *end = strchr(path + 8, '/');
		if (!end) {
			zr_buf_done(&robots);
			return NULL;
		}
		(void)zr_buf_printf(&robots, "@%.*s", (int)(end - path - 8), path + 8);
		path = end + 1;
	}
	const char *slash = strchr(path, '/');
	char *name = NULL;
	if (slash && asprintf(&name, "%.*s.%s%s", (int)(slash - path), path, slash + 1,
			      robots.data ? robots.data : "") < 0) {
		name = NULL;
	}
	zr_buf_done(&robots);
	return name;
}

/* The producer of c->role called name (producer_link_name), borrowed from the data; NULL. */
static const char *role_producer(const struct ctx *c, const char *name)
{
	_cleanup_free_ const char **paths = NULL;
	size_t n;
	if (!c->role || zr_service__role_paths(c->svc->data, c->role, &paths, &n) < 0) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *link = producer_link_name(paths[i]);
		if (link && strcmp(link, name) == 0) {
			return paths[i];
		}
	}
	return NULL;
}

static int l_role_producer(struct zr_local *t, const struct node *n, const struct ctx *c,
			   char **ret)
{
	const char *target = role_producer(c, n->name);
	(void)t;
	if (!target) {
		return -ENOENT;
	}
	return asprintf(ret, "../../../../%s", target) < 0 ? -ENOMEM : 0;
}

static const struct kind k_producer = {NULL, S_IFLNK | 0777, .readlink = l_producer};
static const struct kind k_role_producer = {NULL, S_IFLNK | 0777, .readlink = l_role_producer};
static const struct kind k_consumer = {NULL, S_IFLNK | 0777, .readlink = l_consumer};

static int role_child(struct zr_local *t, struct ctx *c, const char *name,
		      const struct kind **ret, uint64_t *ret_serial)
{
	(void)t, (void)ret_serial;
	*ret = &k_role_producer;
	return role_producer(c, name) ? 0 : -ENOENT;
}

static int role_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	_cleanup_free_ const char **paths = NULL;
	size_t n;
	(void)t;
	if (zr_service__role_paths(c->svc->data, c->role, &paths, &n) < 0) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *link = producer_link_name(paths[i]);
		if (link && zr_local__add_name(l, link) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* producers/<role>/ of a role whose data is a list. */
static const struct kind k_producers_role = {NULL, DIR_RO, .child = role_child, .list = role_list};

/* producers/<role>: a link for a string, a folder of links for a list (max > 1). */
static int producers_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			   uint64_t *ret_serial)
{
	const struct zr_template_role *role = zr_template_role(c->svc->template, name);
	(void)t, (void)ret_serial;
	if (!role) {
		return -ENOENT;
	}
	if (json_is_array(json_object_get(c->svc->data, name))) {
		c->role = role->name;
		*ret = &k_producers_role;
		return zr_role_producers(c->svc->data, name, NULL, 0) > 0 ? 0 : -ENOENT;
	}
	*ret = &k_producer;
	return zr_service_producer(c->svc, name) ? 0 : -ENOENT;
}

static int producers_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	(void)t;
	for (size_t i = 0; i < c->svc->template->n_roles; i++) {
		const char *role = c->svc->template->roles[i].name;
		if (zr_role_producers(c->svc->data, role, NULL, 0) > 0 &&
		    zr_local__add_name(l, role) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

struct consumer_walk {
	struct zr_names *l;
	int err;
};

static void on_consumer(struct zr_service *c, const char *role, void *data)
{
	struct consumer_walk *w = data;
	char name[256];
	(void)role;
	snprintf(name, sizeof(name), "%s.%s", c->template->name, c->name);
	if (w->err == 0 && !(w->l->n > 0 && strcmp(w->l->v[w->l->n - 1], name) == 0)) {
		/* A consumer through two roles is listed once. */
		w->err = zr_local__add_name(w->l, name);
	}
}

struct zr_service *zr_kind__consumer(struct zr_local *t, const struct zr_service *p, const char *name)
{
	return zr_robot__index_consumer(t->robot, p->path, name);
}

static int consumers_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			   uint64_t *ret_serial)
{
	(void)ret_serial;
	*ret = &k_consumer;
	return zr_kind__consumer(t, c->svc, name) || json_object_get(c->svc->rconsumers, name) ? 0 : -ENOENT;
}

static int consumers_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	struct consumer_walk w = {.l = l};
	const char *key;
	json_t *v;
	zr_robot_consumers(t->robot, c->svc, on_consumer, &w);
	json_object_foreach(c->svc->rconsumers, key, v) {
		if (w.err == 0) {
			w.err = zr_local__add_name(l, key);
		}
	}
	return w.err;
}

/* parent (in the service's folder: "../../T/S") and children/<t>.<s> ("../../../T/S"): the
 * AYS tree (DESIGN §8). A parent that is gone keeps its name: the link dangles. */
static int l_parent(struct zr_local *t, const struct node *n, const struct ctx *c, char **ret)
{
	(void)t, (void)n;
	if (!c->svc->parent) {
		return -ENOENT;
	}
	return asprintf(ret, "../../%s", c->svc->parent) < 0 ? -ENOMEM : 0;
}

struct child_walk {
	struct zr_names *l;
	int err;
};

static void on_child(struct zr_service *child, void *data)
{
	struct child_walk *w = data;
	char name[256];
	if (child->pending) {
		return; /* not in the tree yet */
	}
	snprintf(name, sizeof(name), "%s.%s", child->template->name, child->name);
	if (w->err == 0) {
		w->err = zr_local__add_name(w->l, name);
	}
}

/* The child of c's service named name, not pending (not in the tree yet), or NULL. */
static const struct zr_service *child_named(struct zr_local *t, const struct ctx *c,
					    const char *name)
{
	const struct zr_service *k = zr_robot__index_child(t->robot, c->svc->path, name);
	return k && !k->pending ? k : NULL;
}

static int l_child(struct zr_local *t, const struct node *n, const struct ctx *c, char **ret)
{
	const struct zr_service *k = child_named(t, c, n->name);
	if (!k) {
		return -ENOENT;
	}
	return asprintf(ret, "../../../%s", k->path) < 0 ? -ENOMEM : 0;
}

static const struct kind k_parent = {"parent", S_IFLNK | 0777, .readlink = l_parent};
static const struct kind k_child = {NULL, S_IFLNK | 0777, .readlink = l_child};

static int children_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			  uint64_t *ret_serial)
{
	(void)ret_serial;
	*ret = &k_child;
	return child_named(t, c, name) ? 0 : -ENOENT;
}

static int children_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	struct child_walk w = {.l = l};
	zr_robot_children(t->robot, c->svc, on_child, &w);
	return w.err;
}

/* The service's own files. */
static void c_state(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	const struct zr_service *s = c->svc;
	size_t count = json_object_size(s->state), i = 0;
	const char **keys = calloc(count ? count : 1, sizeof(*keys));
	const char *k;
	json_t *v;
	(void)t, (void)n;
	if (!keys) {
		return;
	}
	json_object_foreach(s->state, k, v) {
		keys[i++] = k;
	}
	qsort(keys, count, sizeof(*keys), cmp_strp);
	for (i = 0; i < count; i++) {
		const char *value = json_string_value(json_object_get(s->state, keys[i]));
		(void)zr_buf_printf(b, "%s %s\n", keys[i], value);
	}
	free(keys);
}

static void c_data(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	(void)t, (void)n;
	put_json(b, c->svc->data, JSON_INDENT(2));
}

static void c_info(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	const struct zr_service *s = c->svc;
	char ts[40];
	(void)t, (void)n;
	_cleanup_json_ json_t *o = json_pack("{ss ss ss ss ss ss ss s{} sn ss? ss?}", "name", s->name,
					     "template", s->template->name, "uid", s->template->uid,
					     "version", s->template->version, "guid", s->guid, "created",
					     zr_time_format(s->created_ns, ts), "creator", s->creator,
					     "producers", "process", "parent", s->parent, "blueprint",
					     s->blueprint);
	const struct zr_sup *sup = zr_service_sup(s);
	if (o && sup) {
		pid_t pid = zr_sup_pid(sup);
		(void)json_object_set_new(o, "process",
					  json_pack("{ss ss sI}", "want", zr_sup_want_name(zr_sup_want(sup)),
						    "state", zr_sup_state_name(zr_sup_state(sup)), "pid",
						    (json_int_t)pid));
	}
	for (size_t i = 0; o && i < s->template->n_roles; i++) {
		const char *role = s->template->roles[i].name;
		const json_t *v = json_object_get(s->data, role);
		if (zr_role_producers(s->data, role, NULL, 0) == 0) {
			continue;
		}
		/* A producer is a data field like any other: a template may call it secret. A
		 * list role shows its list, as the data has it. */
		json_t *shown = zr_schema_secret(s->template->data, role)
					? json_string(ZR_SCHEMA_REDACTED)
					: json_deep_copy(v);
		(void)json_object_set_new(json_object_get(o, "producers"), role, shown);
	}
	put_json(b, o, JSON_INDENT(2));
}

/* The version in use, and the one it moves to once its task ends. */
static void c_upgrade(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	const struct zr_service *s = c->svc;
	(void)t, (void)n;
	(void)zr_buf_printf(b, "%s%s%s\n", s->template->missing ? s->template->uid : s->template->version,
			    s->upgrade_to ? " -> " : "", s->upgrade_to ? s->upgrade_to->version : "");
}

static void c_lasterror(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	(void)t, (void)n;
	if (c->svc->lasterror) {
		(void)zr_buf_printf(b, "%s\n", c->svc->lasterror);
	}
}

static struct zr_journal *j_svc_log(struct zr_local *t, const struct ctx *c)
{
	(void)t;
	return zr_service_log(c->svc);
}

static struct zr_journal *j_svc_events(struct zr_local *t, const struct ctx *c)
{
	(void)t;
	return zr_service_events(c->svc);
}

/* process/: the supervised server (DESIGN §6), resolved only while the service has a
 * supervisor (service_child), so these never see it NULL. */
static void c_process(struct zr_local *t, const struct node *n, const struct ctx *c, struct zr_buf *b)
{
	const struct zr_sup *sup = zr_service_sup(c->svc);
	const char *f = n->kind->name;
	(void)t;
	if (strcmp(f, "want") == 0) {
		(void)zr_buf_printf(b, "%s\n", zr_sup_want_name(zr_sup_want(sup)));
	} else if (strcmp(f, "status") == 0) {
		zr_sup_status(sup, b);
	} else if (strcmp(f, "pid") == 0) {
		pid_t pid = zr_sup_pid(sup);
		if (pid > 0) {
			(void)zr_buf_printf(b, "%d\n", (int)pid);
		}
	} else if (strcmp(f, "deaths") == 0) {
		zr_sup_deaths(sup, b);
	} else if (strcmp(f, "stats") == 0) {
		zr_sup_stats(sup, b);
	}
}

static struct zr_journal *j_process_log(struct zr_local *t, const struct ctx *c)
{
	(void)t;
	return zr_sup_log(zr_service_sup(c->svc));
}

#define PROCESS_FILE(n) {n, FILE_RO, .content = c_process, .time = TIME_NOW}
static const struct kind k_pr_deaths = PROCESS_FILE("deaths");
/* 0400, like data: a server may print its secrets (a generated password, a URL with one). */
static const struct kind k_pr_log = {"log", S_IFREG | 0400, .journal = j_process_log};
static const struct kind k_pr_pid = PROCESS_FILE("pid");
static const struct kind k_pr_signal = {"signal", FILE_WO, .time = TIME_CREATED,
					.write = zr_local__write_signal};
static const struct kind k_pr_stats = PROCESS_FILE("stats");
static const struct kind k_pr_status = PROCESS_FILE("status");
static const struct kind k_pr_want = {"want", S_IFREG | 0644, .content = c_process, .time = TIME_NOW,
				      .write = zr_local__write_want};
#undef PROCESS_FILE
static const struct kind *const process_entries[] = {
	&k_pr_deaths, &k_pr_log, &k_pr_pid, &k_pr_signal, &k_pr_stats, &k_pr_status, &k_pr_want, NULL,
};
static const struct kind k_process = {"process", DIR_RO, .fixed = process_entries, .time = TIME_CREATED};

static const struct kind k_actions = {"actions", DIR_RO, .child = actions_child, .list = actions_list,
				      .time = TIME_CREATED};
static const struct kind k_children = {"children", DIR_RO, .child = children_child,
				       .list = children_list};
static const struct kind k_consumers = {"consumers", DIR_RO, .child = consumers_child,
					.list = consumers_list};
static const struct kind k_ctl = {"ctl", FILE_WO, .time = TIME_CREATED, .write = zr_local__write_ctl};
static const struct kind k_data = {"data", S_IFREG | 0600, .content = c_data, .time = TIME_DATA,
				   .write = zr_local__write_data};
static const struct kind k_events = {"events", FILE_RO, .journal = j_svc_events};
static const struct kind k_info = {"info", FILE_RO, .content = c_info, .time = TIME_CREATED};
static const struct kind k_lasterror = {"lasterror", FILE_RO, .content = c_lasterror, .time = TIME_LASTERROR};
static const struct kind k_log = {"log", FILE_RO, .journal = j_svc_log};
static const struct kind k_producers = {"producers", DIR_RO, .child = producers_child,
					.list = producers_list};
static const struct kind k_results = {"results", DIR_RO, .child = results_child, .list = actions_list,
				      .time = TIME_CREATED};
static const struct kind k_state = {"state", FILE_RO, .content = c_state, .time = TIME_STATE};
static const struct kind k_tasks = {"tasks", DIR_RO, .fixed = tasks_entries, .child = tasks_child,
				    .list = tasks_list, .time = TIME_TASKS};
static const struct kind k_upgrade = {"upgrade", S_IFREG | 0600, .content = c_upgrade, .time = TIME_CREATED,
				      .write = zr_local__write_upgrade};
static const struct kind *const service_entries[] = {
	&k_actions, &k_children, &k_consumers, &k_ctl, &k_data, &k_events, &k_info, &k_lasterror,
	&k_log, &k_producers, &k_results, &k_state, &k_tasks, &k_upgrade, NULL,
};
/* process/ is there while the service's server is supervised (its template has a process);
 * parent while it has one. */
static int service_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			 uint64_t *ret_serial)
{
	(void)t, (void)ret_serial;
	if (strcmp(name, "parent") == 0) {
		*ret = &k_parent;
		return c->svc->parent ? 0 : -ENOENT;
	}
	*ret = &k_process;
	return strcmp(name, "process") == 0 && zr_service_sup(c->svc) ? 0 : -ENOENT;
}

static int service_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	(void)t;
	if (c->svc->parent && zr_local__add_name(l, "parent") < 0) {
		return -ENOMEM;
	}
	return zr_service_sup(c->svc) ? zr_local__add_name(l, "process") : 0;
}

/* 0755: mkdir and rmdir of services. */
static const struct kind k_service = {NULL, S_IFDIR | 0755, .fixed = service_entries,
				      .child = service_child, .list = service_list, .time = TIME_CREATED};

static int template_child(struct zr_local *t, struct ctx *c, const char *name, const struct kind **ret,
			  uint64_t *ret_serial)
{
	(void)t;
	c->svc = zr_map_get(&c->rt->services, name);
	if (!c->svc || c->svc->pending) {
		return -ENOENT;
	}
	*ret = &k_service;
	*ret_serial = c->svc->serial;
	return 0;
}

static int template_list(struct zr_local *t, const struct ctx *c, struct zr_names *l)
{
	size_t i = 0, first = l->n;
	const char *k;
	void *v;
	(void)t;
	while (zr_map_next(&c->rt->services, &i, &k, NULL, &v)) {
		if (!((struct zr_service *)v)->pending && zr_local__add_name(l, k) < 0) {
			return -ENOMEM;
		}
	}
	sort_from(l, first);
	return 0;
}

const struct kind zr_kind_template = {NULL, S_IFDIR | 0755, .child = template_child,
				      .list = template_list, .time = TIME_TEMPLATE};

/* ---- the descriptors' users ---- */

int zr_kind__child(struct zr_local *t, const struct kind *dir, struct ctx *c, const char *name,
		   const struct kind **ret, uint64_t *ret_serial)
{
	*ret_serial = 0;
	if (!S_ISDIR(dir->mode)) {
		return -ENOTDIR;
	}
	for (const struct kind *const *f = dir->fixed; f && *f; f++) {
		if (strcmp((*f)->name, name) == 0) {
			*ret = *f;
			return 0;
		}
	}
	return dir->child ? dir->child(t, c, name, ret, ret_serial) : -ENOENT;
}

int zr_kind__list(struct zr_local *t, const struct kind *dir, const struct ctx *c, struct zr_names *l)
{
	for (const struct kind *const *f = dir->fixed; f && *f; f++) {
		if (zr_local__add_name(l, (*f)->name) < 0) {
			return -ENOMEM;
		}
	}
	l->n_fixed = l->n;
	return dir->list ? dir->list(t, c, l) : 0;
}

enum zr_kind_attrs zr_kind__attrs(const struct kind *k)
{
	if (!S_ISDIR(k->mode)) {
		return ZR_KIND_ATTRS_CHANGE;
	}
	switch (k->time) {
	case TIME_START:
		/* A folder named by the model (a repo, a remote robot) may go without node_gone. */
		return k->name ? ZR_KIND_ATTRS_FIXED : ZR_KIND_ATTRS_CHANGE;
	case TIME_CREATED:
		/* A service's folders: they go with it, through node_gone. */
		return ZR_KIND_ATTRS_FIXED;
	case TIME_ROBOT:
	case TIME_TEMPLATE:
		/* Their changes come with an event (tree-local.c watches them). What they list
		 * besides their fixed entries are folders: templates, services. */
		return ZR_KIND_ATTRS_WATCHED;
	default:
		return ZR_KIND_ATTRS_CHANGE;
	}
}

long long zr_kind__mtime(struct zr_local *t, const struct node *n, const struct ctx *c)
{
	struct zr_journal *j = n->kind->journal ? n->kind->journal(t, c) : NULL;
	const struct zr_task *tk;
	if (j) {
		return j->mtime_ns;
	}
	switch (n->kind->time) {
	case TIME_START:
		break;
	case TIME_NOW:
		return zr_now_ns();
	case TIME_ROBOT:
		return t->robot->mtime_ns;
	case TIME_TEMPLATE:
		return c->rt->mtime_ns;
	case TIME_CREATED:
		return c->svc->created_ns;
	case TIME_TASKS:
		return c->svc->tasks_mtime_ns;
	case TIME_STATE:
		return c->svc->state_mtime_ns;
	case TIME_DATA:
		return c->svc->data_mtime_ns;
	case TIME_LASTERROR:
		return c->svc->lasterror_mtime_ns;
	case TIME_TASK:
		tk = c->task;
		return tk->finished_ns ? tk->finished_ns : tk->started_ns ? tk->started_ns : tk->created_ns;
	case TIME_ACTION:
		tk = newest(c);
		return tk ? tk->created_ns : c->svc->created_ns;
	case TIME_RESULT:
		tk = newest(c);
		return !tk ? c->svc->created_ns : tk->finished_ns ? tk->finished_ns : tk->created_ns;
	case TIME_APPLIED: {
		/* blueprints/<name>/ or a file in it */
		const struct zr_apply_stored *st =
			zr_apply_stored(t->robot, n->kind == &k_stored ? n->name : n->parent->name);
		return st ? st->applied_ns : t->robot->started_ns;
	}
	}
	return t->robot->started_ns;
}

mode_t zr_kind__mode(const struct zr_local *t, const struct kind *k)
{
	if (k == &k_action && t->robot->cfg.group_actions) {
		return S_IFREG | 0660;
	}
	return k->mode;
}
