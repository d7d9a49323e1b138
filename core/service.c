/* Services: queue, scheduling of their tasks, the action protocol's effects on the model. */
#include "service.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "robot.h"
#include "runner.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "util/buf.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/name.h"

#define SERVICE_LOG_MAX (1024 * 1024)
#define SERVICE_EVENTS_MAX (256 * 1024)
/* Error texts quote this many of the last stderr lines. */
#define ERROR_TAIL_LINES 5

extern char **environ;

static void service_finish(struct zr_service *s, struct zr_task *t, enum zr_task_state state,
			   char *error, int err);
static void service_switch(struct zr_service *s);
static int set_data(struct zr_service *s, const json_t *data, bool internal, char **ret_err,
		    zr_done_cb cb, void *cbdata);

static int make_guid(char ret[static 37])
{
	unsigned char b[16];
	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		return -EIO;
	}
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

static int mkdir_p(const char *path)
{
	_cleanup_free_ char *p = strdup(path);
	if (!p) {
		return -ENOMEM;
	}
	for (char *c = p + 1; *c; c++) {
		if (*c == '/') {
			*c = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				return -errno;
			}
			*c = '/';
		}
	}
	if (mkdir(p, 0700) < 0 && errno != EEXIST) {
		return -errno;
	}
	return 0;
}

static void on_recur(uv_timer_t *timer);
static void on_retry(uv_timer_t *timer);

static void recur_arm(struct zr_recur *rc)
{
	struct zr_service *s = rc->svc;
	if (s->deleting || s->robot->stopping) {
		return;
	}
	long long period = (long long)(rc->action->every * 1e9);
	long long due = rc->last_start_ns ? rc->last_start_ns + period : s->created_ns + period;
	long long wait = due - zr_now_ns();
	if (wait < 0) {
		wait = 0;
	}
	(void)uv_timer_start(&rc->timer, on_recur, (uint64_t)(wait / 1000000), 0);
}

static int random_hex(char *ret, size_t bytes)
{
	unsigned char b[64];
	if (bytes > sizeof(b) || getrandom(b, bytes, 0) != (ssize_t)bytes) {
		return -EIO;
	}
	for (size_t i = 0; i < bytes; i++) {
		snprintf(ret + 2 * i, 3, "%02x", b[i]);
	}
	return 0;
}

static struct zr_recur *recur_alloc(const struct zr_template *t)
{
	size_t n = 0;
	for (size_t i = 0; i < t->n_actions; i++) {
		n += t->actions[i].every > 0;
	}
	return calloc(n ? n : 1, sizeof(struct zr_recur));
}

/* One timer per recurring action of t, in recur (from recur_alloc). */
static void recur_init(struct zr_service *s, const struct zr_template *t, struct zr_recur *recur)
{
	s->recur = recur;
	s->n_recur = 0;
	for (size_t i = 0; i < t->n_actions; i++) {
		if (t->actions[i].every > 0) {
			struct zr_recur *rc = &s->recur[s->n_recur++];
			rc->svc = s;
			rc->action = &t->actions[i];
			uv_timer_init(s->robot->loop, &rc->timer);
			rc->timer.data = rc;
			s->closing_handles++;
		}
	}
}

/* Allocates a service with its handles; identity and data are the caller's to set. Once it
 * returns, only zr_service__close frees the service. */
static struct zr_service *service_new(struct zr_robot *r, const struct zr_template *t,
				      const char *name)
{
	struct zr_service *s = calloc(1, sizeof(*s));
	struct zr_recur *recur = recur_alloc(t);
	if (!s || !recur) {
		free(s);
		free(recur);
		return NULL;
	}
	s->robot = r;
	s->template = t;
	s->recur = recur;
	s->serial = ++r->next_serial;
	s->created_ns = s->mtime_ns = s->data_mtime_ns = s->state_mtime_ns = s->tasks_mtime_ns =
		s->lasterror_mtime_ns = zr_now_ns();
	zr_queue_init(&s->queue, (size_t)r->cfg.queue_max);
	zr_list_init(&s->tasks);
	zr_list_init(&s->ready_link);
	zr_list_init(&s->delete_link);
	zr_journal_init(&s->log, SERVICE_LOG_MAX);
	zr_journal_init(&s->events, SERVICE_EVENTS_MAX);
	uv_timer_init(r->loop, &s->retry_timer);
	s->retry_timer.data = s;
	s->closing_handles = 1;
	recur_init(s, t, recur);
	s->name = strdup(name);
	if (!s->name || asprintf(&s->path, "%s/%s", t->name, name) < 0) {
		s->path = NULL;
		zr_service__close(s);
		return NULL;
	}
	return s;
}

/* Sets the work folder from the guid and makes sure it exists. */
static int service_workdir(struct zr_service *s, char **ret_err)
{
	if (asprintf(&s->workdir, "%s/work/%s", s->robot->cfg.data_dir, s->guid) < 0) {
		s->workdir = NULL;
		return -ENOMEM;
	}
	int err = mkdir_p(s->workdir);
	if (err < 0 && ret_err) {
		(void)asprintf(ret_err, "cannot create work folder %s: %s", s->workdir, strerror(-err));
	}
	return err;
}

int zr_service_create(struct zr_robot *r, const struct zr_template *t, const char *name,
		      const json_t *data, struct zr_service **ret, char **ret_err)
{
	_cleanup_json_ json_t *empty = json_object();
	json_t *filled = NULL;
	char guid[37], secret[65];
	int err = zr_schema_apply(t->data, data ? data : empty, ZR_SCHEMA_PARTIAL, &filled, ret_err);
	if (err == 0) {
		err = zr_service__check_producers(r, t, NULL, filled, ret_err);
	}
	if (err < 0) {
		json_decref(filled);
		return err;
	}
	struct zr_service *s = service_new(r, t, name);
	if (!s) {
		json_decref(filled);
		return -ENOMEM;
	}
	s->data = filled;
	s->state = json_object();
	err = make_guid(guid);
	if (err == 0) {
		err = random_hex(secret, 32);
	}
	if (err == 0) {
		s->guid = strdup(guid);
		s->secret = strdup(secret);
		err = s->state && s->guid && s->secret ? service_workdir(s, ret_err) : -ENOMEM;
	}
	if (err < 0) {
		zr_service__close(s);
		return err;
	}
	*ret = s;
	return 0;
}

int zr_service_restore(struct zr_robot *r, const struct zr_template *t,
		       const struct zr_store_service *row, struct zr_service **ret, char **ret_err)
{
	json_error_t jerr;
	struct zr_service *s = service_new(r, t, row->name);
	if (!s) {
		return -ENOMEM;
	}
	s->guid = strdup(row->guid);
	s->secret = strdup(row->secret);
	s->data = json_loads(row->data, 0, &jerr);
	s->state = json_loads(row->state, 0, &jerr);
	s->created_ns = s->mtime_ns = s->data_mtime_ns = s->state_mtime_ns = row->created_ns;
	int err = -ENOMEM;
	if (s->guid && s->secret && json_is_object(s->data) && json_is_object(s->state)) {
		err = service_workdir(s, ret_err);
	} else if (ret_err) {
		(void)asprintf(ret_err, "bad data or state of %s in the store", s->path);
		err = -EIO;
	}
	if (err < 0) {
		zr_service__close(s);
		return err;
	}
	*ret = s;
	return 0;
}

void zr_service__activate(struct zr_service *s)
{
	for (size_t i = 0; i < s->n_recur; i++) {
		recur_arm(&s->recur[i]);
	}
}

static void service_free(struct zr_service *s)
{
	while (!zr_list_empty(&s->tasks)) {
		struct zr_task *t = container_of(s->tasks.next, struct zr_task, link);
		zr_queue_remove(&s->queue, &t->qitem);
		zr_task_free(t);
	}
	zr_map_done(&s->task_ids);
	zr_journal_done(&s->log);
	zr_journal_done(&s->events);
	json_decref(s->data);
	json_decref(s->state);
	json_decref(s->rconsumers);
	free(s->lasterror);
	free(s->recur);
	while (s->retired) {
		struct zr_retired_recur *rr = s->retired;
		s->retired = rr->next;
		free(rr->recur);
		free(rr);
	}
	free(s->name);
	free(s->path);
	free(s->guid);
	free(s->secret);
	free(s->workdir);
	free(s);
}

static void on_service_closed(uv_handle_t *h)
{
	struct zr_service *s = h->data;
	if (h != (uv_handle_t *)&s->retry_timer) {
		s = ((struct zr_recur *)h->data)->svc;
	}
	if (--s->closing_handles == 0 && s->refs == 0) {
		service_free(s);
	}
}

void zr_service_ref(struct zr_service *s)
{
	s->refs++;
}

void zr_service_unref(struct zr_service *s)
{
	if (--s->refs == 0 && s->closing && s->closing_handles == 0) {
		service_free(s);
	}
}

void zr_service__close(struct zr_service *s)
{
	if (s->closing) {
		return;
	}
	s->closing = true;
	zr_list_remove(&s->ready_link);
	uv_close((uv_handle_t *)&s->retry_timer, on_service_closed);
	for (size_t i = 0; i < s->n_recur; i++) {
		uv_close((uv_handle_t *)&s->recur[i].timer, on_service_closed);
	}
	for (struct zr_retired_recur *rr = s->retired; rr; rr = rr->next) {
		for (size_t i = 0; i < rr->n; i++) {
			uv_close((uv_handle_t *)&rr->recur[i].timer, on_service_closed);
		}
	}
}

void zr_service__event(struct zr_service *s, const char *type, json_t *ev)
{
	if (!ev) {
		ev = json_object();
	}
	(void)json_object_set_new(ev, "service", json_string(s->path));
	const char *line = zr_robot__event(s->robot, type, ev);
	if (line) {
		(void)zr_journal_append(&s->events, line, strlen(line));
	}
}

struct zr_task *zr_service_task(const struct zr_service *s, uint64_t id)
{
	return zr_imap_get(&s->task_ids, id);
}

struct zr_task *zr_service_newest(const struct zr_service *s, const char *action)
{
	for (struct zr_list *e = s->tasks.prev; e != &s->tasks; e = e->prev) {
		struct zr_task *t = container_of(e, struct zr_task, link);
		if (strcmp(t->action->name, action) == 0) {
			return t;
		}
	}
	return NULL;
}

static void svc_log(struct zr_service *s, const struct zr_task *t, const char *text, size_t n)
{
	char ts[40];
	(void)zr_journal_appendf(&s->log, "%s task %llu %s: %.*s", zr_time_format(zr_now_ns(), ts),
				 (unsigned long long)t->id, t->action->name, (int)n, text);
}

/* The task as a store row; strings borrowed from the task. */
static void task_row(const struct zr_task *t, struct zr_store_task *row, char *args)
{
	*row = (struct zr_store_task){
		.id = (int64_t)t->id,
		.service_guid = t->svc->guid,
		.action = t->action->name,
		.args = args,
		.state = zr_task_state_name(t->state),
		.error = t->error,
		.result = t->result.data,
		.result_len = t->result.len,
		.lane = t->qitem.lane,
		.err = t->err,
		.attempt = t->attempt,
		.created_ns = t->created_ns,
		.started_ns = t->started_ns,
		.finished_ns = t->finished_ns,
		.progress_done = t->progress_done,
		.progress_total = t->progress_total,
	};
}

static void store_task(const struct zr_task *t, bool internal)
{
	_cleanup_free_ char *args = json_dumps(t->args, JSON_COMPACT);
	struct zr_store_task row;
	task_row(t, &row, args ? args : "{}");
	zr_store_task_put(t->svc->robot->cfg.store, &row, internal);
}

/* An enqueue waiting for its commit. */
struct enqueue {
	struct zr_task *t;
	zr_task_cb cb;
	void *data;
};

/* Makes a committed task part of the service: queued (on_enqueued schedules it). */
static void task_queued(struct zr_service *s, struct zr_task *t)
{
	zr_list_push_back(&s->tasks, &t->link);
	s->tasks_mtime_ns = t->created_ns;
	zr_service__event(s, "task.queued",
			  json_pack("{sI ss}", "task", (json_int_t)t->id, "action", t->action->name));
}

static void on_enqueued(int err, void *data)
{
	struct enqueue *q = data;
	struct zr_task *t = q->t;
	struct zr_service *s = t->svc;
	s->pending_tasks--;
	if (err < 0) {
		zr_queue_remove(&s->queue, &t->qitem);
		(void)zr_imap_del(&s->task_ids, t->id);
		zr_task_free(t);
		t = NULL;
	} else {
		t->pending = false;
		task_queued(s, t);
		if (s->deleting && t->qitem.lane == ZR_LANE_USER) {
			service_finish(s, t, ZR_TASK_CANCELLED, strdup("cancelled: service deleted\n"),
				       ECANCELED);
		}
	}
	if (q->cb) {
		q->cb(err, t, q->data);
	}
	/* Only after the writer has its answer: starting the task is not part of the write. */
	if (err == 0 && !s->current && zr_queue_peek(&s->queue)) {
		zr_robot__want_slot(s->robot, s);
	}
	free(q);
	zr_service_unref(s);
}

int zr_service_enqueue(struct zr_service *s, const struct zr_action_def *action, json_t *args,
		       enum zr_lane lane, char **ret_err, zr_task_cb cb, void *data)
{
	struct zr_robot *r = s->robot;
	json_t *valid = NULL;
	int err;
	if (!args && !(args = json_object())) {
		return -ENOMEM;
	}
	if (r->stopping) {
		json_decref(args);
		(void)asprintf(ret_err, "the robot is stopping");
		return -EAGAIN;
	}
	if (s->template->missing) {
		json_decref(args);
		(void)asprintf(ret_err, "template %s is missing", s->template->uid);
		return -EINVAL;
	}
	if (lane == ZR_LANE_USER) {
		if (s->deleting) {
			json_decref(args);
			return -ENOENT;
		}
		_cleanup_free_ char *missing = zr_schema_missing(s->template->data, s->data);
		if (missing) {
			json_decref(args);
			(void)asprintf(ret_err, "missing required data: %s", missing);
			return -EINVAL;
		}
	}
	err = zr_schema_apply(action->args, args, 0, &valid, ret_err);
	json_decref(args);
	if (err < 0) {
		return err;
	}
	struct enqueue *q = calloc(1, sizeof(*q));
	struct zr_task *t = zr_task_create(s, r->next_task_id + 1, action, valid);
	if (!q || !t || zr_imap_put(&s->task_ids, t->id, t) < 0) {
		free(q);
		zr_task_free(t);
		return -ENOMEM;
	}
	/* In the queue at once, so the bound counts tasks waiting for their commit, but not
	 * visible (not in s->tasks) and not runnable before it. */
	err = zr_queue_push(&s->queue, &t->qitem, lane);
	if (err < 0) {
		(void)zr_imap_del(&s->task_ids, t->id);
		zr_task_free(t);
		free(q);
		(void)asprintf(ret_err, "queue full (%zu tasks)", s->queue.cap);
		return err;
	}
	t->pending = true;
	r->next_task_id++;
	s->pending_tasks++;
	q->t = t;
	q->cb = cb;
	q->data = data;
	zr_service_ref(s);
	store_task(t, false);
	zr_store_task_id(r->cfg.store, (int64_t)t->id);
	zr_store_sync(r->cfg.store, on_enqueued, q);
	return 0;
}

int zr_service__restore_task(struct zr_service *s, const struct zr_store_task *row, char **ret_err)
{
	const struct zr_action_def *a = zr_template_action(s->template, row->action);
	json_error_t jerr;
	json_t *args = json_loads(row->args, 0, &jerr);
	if (!args) {
		args = json_object();
	}
	if (!a) {
		/* The template lost the action: keep the record, it can no longer run. */
		(void)asprintf(ret_err, "task %lld: action %s is gone from %s", (long long)row->id,
			       row->action, s->template->uid);
		json_decref(args);
		return -ENOENT;
	}
	struct zr_task *t = zr_task_create(s, (uint64_t)row->id, a, args);
	if (!t || zr_imap_put(&s->task_ids, t->id, t) < 0) {
		zr_task_free(t);
		return -ENOMEM;
	}
	t->created_ns = row->created_ns;
	t->started_ns = row->started_ns;
	t->finished_ns = row->finished_ns;
	t->attempt = row->attempt;
	t->progress_done = row->progress_done;
	t->progress_total = row->progress_total;
	t->err = row->err;
	t->error = row->error ? strdup(row->error) : NULL;
	if (row->result_len) {
		(void)zr_buf_append(&t->result, row->result, row->result_len);
	}
	zr_list_push_back(&s->tasks, &t->link);
	t->qitem.lane = row->lane;
	bool redo = strcmp(row->state, "running") == 0 && s->deleting && row->lane == ZR_LANE_SYSTEM;
	if (redo) {
		/* An on_delete action cut short by a crash runs again before the service goes
		 * (tasks load in id order: it stays ahead of the ones queued after it). */
		log_info("Service %s: on_delete action %s (task %llu) was cut short, running it again",
			 s->path, a->name, (unsigned long long)t->id);
		t->state = ZR_TASK_QUEUED;
		t->started_ns = 0;
		store_task(t, true);
	}
	if (redo || strcmp(row->state, "queued") == 0) {
		t->state = ZR_TASK_QUEUED;
		/* Restored queues may exceed a smaller --queue-max: nothing acknowledged is dropped. */
		zr_list_push_back(&s->queue.lanes[row->lane == ZR_LANE_SYSTEM ? 0 : 1], &t->qitem.link);
		s->queue.len[row->lane == ZR_LANE_SYSTEM ? 0 : 1]++;
		return 0;
	}
	t->settled = true;
	s->n_finished++;
	for (int i = ZR_TASK_OK; i <= ZR_TASK_INTERRUPTED; i++) {
		if (strcmp(row->state, zr_task_state_name(i)) == 0) {
			t->state = i;
		}
	}
	if (strcmp(row->state, "running") == 0) {
		/* It was running when the robot died: its outcome is unknown. */
		t->state = ZR_TASK_INTERRUPTED;
		t->finished_ns = zr_now_ns();
		free(t->error);
		t->error = strdup("interrupted\n");
		t->err = EIO;
		store_task(t, true);
		(void)zr_service_set_state(s, "actions", a->name, "error");
	}
	return 0;
}

/* Keeps only the last ERROR_TAIL_LINES lines of stderr for the error text. */
static void keep_tail(struct zr_buf *b, const char *line, size_t n)
{
	(void)zr_buf_append(b, line, n);
	(void)zr_buf_append(b, "\n", 1);
	size_t lines = 0;
	for (size_t i = b->len; i > 0; i--) {
		if (b->data[i - 1] == '\n' && ++lines > ERROR_TAIL_LINES) {
			zr_buf_consume(b, i);
			break;
		}
	}
}

/* Per-attempt state the runner callbacks need. */
struct attempt {
	struct zr_task *t;
	struct zr_buf tail;
	bool truncated;
};

static void on_stderr_line(const char *line, size_t n, void *data)
{
	struct attempt *a = data;
	(void)zr_journal_append(&a->t->log, line, n);
	svc_log(a->t->svc, a->t, line, n);
	keep_tail(&a->tail, line, n);
}

static void on_stdout(const char *p, size_t n, void *data)
{
	struct attempt *a = data;
	struct zr_task *t = a->t;
	size_t max = t->svc->robot->cfg.result_max;
	if (t->result.len + n > max) {
		if (!a->truncated) {
			a->truncated = true;
			log_warn("Task %llu (%s %s): result cut at %zu bytes", (unsigned long long)t->id,
				 t->svc->path, t->action->name, max);
		}
		n = max > t->result.len ? max - t->result.len : 0;
	}
	(void)zr_buf_append(&t->result, p, n);
}

static bool word_valid(const char *w)
{
	if (!*w) {
		return false;
	}
	for (; *w; w++) {
		if (!isalnum((unsigned char)*w) && !strchr("_.:-/@", *w)) {
			return false;
		}
	}
	return true;
}

int zr_service_set_state(struct zr_service *s, const char *category, const char *tag,
			 const char *value)
{
	static const char *const values[] = {"ok", "error", "warning", "skipped"};
	bool ok = false;
	for (size_t i = 0; i < 4; i++) {
		ok |= strcmp(value, values[i]) == 0;
	}
	if (!ok || !word_valid(category) || !word_valid(tag)) {
		return -EINVAL;
	}
	_cleanup_free_ char *key = NULL;
	if (asprintf(&key, "%s %s", category, tag) < 0) {
		return -ENOMEM;
	}
	json_t *old = json_object_get(s->state, key);
	if (old && strcmp(json_string_value(old), value) == 0) {
		return 0;
	}
	if (json_object_set_new(s->state, key, json_string(value)) < 0) {
		return -ENOMEM;
	}
	s->state_mtime_ns = zr_now_ns();
	if (!s->pending) {
		_cleanup_free_ char *text = json_dumps(s->state, JSON_COMPACT);
		if (text) {
			zr_store_service_state(s->robot->cfg.store, s->guid, text);
		}
	}
	zr_service__event(s, "state.changed", json_pack("{ss ss ss}", "category", category, "tag",
							  tag, "value", value));
	return 0;
}

/* Tells the robot's link hook which producers on other robots this service stopped (add
 * false) or started (true) naming, between data old and new (NULL: none). */
void zr_service__links(struct zr_service *s, const json_t *old, const json_t *new)
{
	struct zr_robot *r = s->robot;
	const char *role;
	json_t *spec;
	if (!r->links.fn) {
		return;
	}
	json_object_foreach(s->template->consumes, role, spec) {
		const char *a = old ? json_string_value(json_object_get(old, role)) : NULL;
		const char *b = new ? json_string_value(json_object_get(new, role)) : NULL;
		if (a && b && strcmp(a, b) == 0) {
			continue;
		}
		if (a && strncmp(a, "@remote/", 8) == 0) {
			r->links.fn(a, s->path, false, r->links.data);
		}
		if (b && strncmp(b, "@remote/", 8) == 0) {
			r->links.fn(b, s->path, true, r->links.data);
		}
	}
}

static void data_apply(struct zr_service *s, json_t *valid)
{
	zr_service__links(s, s->data, valid);
	json_decref(s->data);
	s->data = valid;
	s->data_mtime_ns = zr_now_ns();
	zr_service__event(s, "data.changed", NULL);
}

struct data_write {
	struct zr_service *s;
	json_t *valid;
	zr_done_cb cb;
	void *data;
};

static void on_data_committed(int err, void *data)
{
	struct data_write *w = data;
	if (err == 0) {
		data_apply(w->s, w->valid);
	} else {
		json_decref(w->valid);
	}
	if (w->cb) {
		w->cb(err, w->data);
	}
	zr_service_unref(w->s);
	free(w);
}

int zr_service__rconsumer_apply(struct zr_service *s, const char *robot, const char *consumer, bool add)
{
	const char *slash = strchr(consumer, '/');
	char *key = NULL, *path = NULL;
	int err = 0;
	if (!slash) {
		return -EINVAL;
	}
	if (asprintf(&key, "%.*s.%s@%s", (int)(slash - consumer), consumer, slash + 1, robot) < 0) {
		return -ENOMEM;
	}
	if (!add) {
		(void)json_object_del(s->rconsumers, key);
	} else if ((!s->rconsumers && !(s->rconsumers = json_object())) ||
		   asprintf(&path, "@remote/%s/%s", robot, consumer) < 0 ||
		   json_object_set_new(s->rconsumers, key, json_string(path)) < 0) {
		err = -ENOMEM;
	}
	free(key);
	free(path);
	return err;
}

struct rconsumer_write {
	struct zr_service *s;
	char *robot, *consumer;
	bool add;
	zr_done_cb cb;
	void *data;
};

static void on_rconsumer_committed(int err, void *data)
{
	struct rconsumer_write *w = data;
	struct zr_service *s = w->s;
	if (err == 0 && zr_service__rconsumer_apply(s, w->robot, w->consumer, w->add) == 0) {
		const char *slash = strchr(w->consumer, '/');
		log_info("%s: consumer %.*s.%s@%s %s", s->path, (int)(slash - w->consumer), w->consumer,
			 slash + 1, w->robot, w->add ? "registered" : "dropped");
		s->mtime_ns = zr_now_ns();
	}
	w->cb(err, w->data);
	zr_service_unref(s);
	free(w->robot);
	free(w->consumer);
	free(w);
}

int zr_service_rconsumer(struct zr_service *s, const char *robot, const char *consumer, bool add,
			 char **why, zr_done_cb cb, void *cbdata)
{
	_cleanup_free_ char *tmpl = strdup(consumer);
	char *name = tmpl ? strchr(tmpl, '/') : NULL;
	if (!tmpl) {
		return -ENOMEM;
	}
	if (name) {
		*name++ = '\0';
	}
	if (!zr_name_valid(robot) || !name || !zr_name_valid(tmpl) || !zr_name_valid(name)) {
		return zr_fail(why, -EINVAL, "want 'consumer add|remove ROBOT TEMPLATE/SERVICE' with valid names");
	}
	struct rconsumer_write *w = calloc(1, sizeof(*w));
	if (!w || !(w->robot = strdup(robot)) || !(w->consumer = strdup(consumer))) {
		if (w) {
			free(w->robot);
		}
		free(w);
		return -ENOMEM;
	}
	w->s = s;
	w->add = add;
	w->cb = cb;
	w->data = cbdata;
	zr_service_ref(s);
	zr_store_rconsumer(s->robot->cfg.store, s->guid, robot, consumer, add);
	zr_store_sync(s->robot->cfg.store, on_rconsumer_committed, w);
	return 0;
}

const char *zr_service_producer(const struct zr_service *s, const char *role)
{
	const char *p = json_string_value(json_object_get(s->data, role));
	return p && *p && json_object_get(s->template->consumes, role) ? p : NULL;
}

/* "@remote/ROBOT/[@remote/ROBOT/...]TEMPLATE/SERVICE", with TEMPLATE the role's. */
static int check_remote_path(const char *role, const char *path, const char *want, char **ret_err)
{
	const char *p = path;
	char robot[64], tmpl[64], name[64];
	int n = 0;
	while (strncmp(p, "@remote/", 8) == 0) {
		size_t l = strcspn(p + 8, "/");
		if (l == 0 || l >= sizeof(robot) || !p[8 + l]) {
			break;
		}
		memcpy(robot, p + 8, l);
		robot[l] = '\0';
		if (!zr_name_valid(robot)) {
			break;
		}
		p += 8 + l + 1;
		n++;
	}
	size_t tl = strcspn(p, "/");
	if (n > 0 && tl > 0 && tl < sizeof(tmpl) && p[tl] == '/' && strlen(p + tl + 1) < sizeof(name)) {
		memcpy(tmpl, p, tl);
		tmpl[tl] = '\0';
		strcpy(name, p + tl + 1);
		if (zr_name_valid(tmpl) && zr_name_valid(name)) {
			if (want && strcmp(want, tmpl) != 0) {
				return zr_fail(ret_err, -EINVAL, "producer of role '%s': %s is a '%s', not a '%s'",
					       role, path, tmpl, want);
			}
			return 0;
		}
	}
	return zr_fail(ret_err, -EINVAL, "producer of role '%s': bad path '%s' (want @remote/ROBOT/TEMPLATE/NAME)",
		       role, path);
}

int zr_service__check_producers(struct zr_robot *r, const struct zr_template *t, const char *self,
				const json_t *data, char **ret_err)
{
	const char *role;
	json_t *spec;
	json_object_foreach(t->consumes, role, spec) {
		const char *path = json_string_value(json_object_get(data, role));
		const char *want = json_string_value(json_object_get(spec, "template"));
		if (!path || !*path) {
			continue;
		}
		if (strncmp(path, "@remote/", 8) == 0) {
			/* Another robot's: its shape here, its existence by the tree (over HTTP). */
			int err = check_remote_path(role, path, want, ret_err);
			if (err < 0) {
				return err;
			}
			continue;
		}
		_cleanup_free_ char *tmpl = strdup(path);
		char *name = tmpl ? strchr(tmpl, '/') : NULL;
		if (!tmpl) {
			return -ENOMEM;
		}
		if (name) {
			*name++ = '\0';
		}
		struct zr_service *p = name && !strchr(name, '/') ? zr_robot_service(r, tmpl, name) : NULL;
		if (!p || p->pending || p->deleting) {
			return zr_fail(ret_err, -EINVAL, "producer of role '%s': no service '%s' (want TEMPLATE/NAME or @remote/ROBOT/TEMPLATE/NAME)",
				       role, path);
		}
		if (want && strcmp(want, p->template->name) != 0) {
			return zr_fail(ret_err, -EINVAL, "producer of role '%s': %s is a '%s', not a '%s'", role, path,
				       p->template->name, want);
		}
		if (self && strcmp(self, p->path) == 0) {
			return zr_fail(ret_err, -EINVAL, "producer of role '%s': a service cannot produce for itself", role);
		}
	}
	return 0;
}

/* Validates data; internal changes (from an action) apply at once, requests on commit. */
static int set_data(struct zr_service *s, const json_t *data, bool internal, char **ret_err,
		    zr_done_cb cb, void *cbdata)
{
	json_t *valid = NULL;
	if (s->template->missing) {
		(void)asprintf(ret_err, "template %s is missing", s->template->uid);
		return -EINVAL;
	}
	int err = zr_schema_apply(s->template->data, data, ZR_SCHEMA_PARTIAL, &valid, ret_err);
	if (err == 0) {
		err = zr_service__check_producers(s->robot, s->template, s->path, valid, ret_err);
		if (err < 0) {
			json_decref(valid);
		}
	}
	if (err < 0) {
		return err;
	}
	_cleanup_free_ char *text = json_dumps(valid, JSON_COMPACT);
	if (!text) {
		json_decref(valid);
		return -ENOMEM;
	}
	zr_store_service_data(s->robot->cfg.store, s->guid, text, internal);
	if (internal) {
		data_apply(s, valid);
		return 0;
	}
	struct data_write *w = calloc(1, sizeof(*w));
	if (!w) {
		json_decref(valid);
		return -ENOMEM;
	}
	*w = (struct data_write){.s = s, .valid = valid, .cb = cb, .data = cbdata};
	zr_service_ref(s);
	zr_store_sync(s->robot->cfg.store, on_data_committed, w);
	return 0;
}

int zr_service_set_data(struct zr_service *s, const json_t *data, char **ret_err, zr_done_cb cb,
			void *cbdata)
{
	return set_data(s, data, false, ret_err, cb, cbdata);
}

/* A line on fd 3: "state CAT TAG VALUE", "data {json}" or "progress DONE TOTAL". */
static void on_ctl_line(const char *line, size_t n, void *data)
{
	struct attempt *a = data;
	struct zr_task *t = a->t;
	struct zr_service *s = t->svc;
	_cleanup_free_ char *l = strndup(line, n);
	_cleanup_free_ char *why = NULL;
	if (!l) {
		return;
	}
	char cat[128], tag[128], val[32];
	long long done, total;
	char extra;
	if (strncmp(l, "state ", 6) == 0) {
		if (sscanf(l + 6, "%127s %127s %31s %c", cat, tag, val, &extra) == 3 &&
		    zr_service_set_state(s, cat, tag, val) == 0) {
			return;
		}
		why = strdup("want 'state CATEGORY TAG ok|error|warning|skipped'");
	} else if (strncmp(l, "data ", 5) == 0) {
		json_error_t jerr;
		_cleanup_json_ json_t *patch = json_loads(l + 5, 0, &jerr);
		_cleanup_json_ json_t *merged = json_deep_copy(s->data);
		if (!patch || !json_is_object(patch)) {
			why = strdup("want 'data {JSON object}'");
		} else if (merged && json_object_update(merged, patch) == 0 &&
			   set_data(s, merged, true, &why, NULL, NULL) == 0) {
			return;
		}
	} else if (strncmp(l, "progress ", 9) == 0) {
		if (sscanf(l + 9, "%lld %lld %c", &done, &total, &extra) == 2 && done >= 0 &&
		    total >= 0) {
			t->progress_done = done;
			t->progress_total = total;
			return;
		}
		why = strdup("want 'progress DONE TOTAL'");
	} else {
		why = strdup("unknown command");
	}
	log_warn("Task %llu (%s %s): ignoring fd 3 line '%s': %s", (unsigned long long)t->id, s->path,
		 t->action->name, l, why ? why : "out of memory");
	(void)zr_journal_appendf(&t->log, "zrobot: ignored fd 3 line '%s': %s", l, why ? why : "");
}

static char *signal_text(int sig)
{
	char *s = NULL;
	const char *abbrev = sigabbrev_np(sig);
	if (asprintf(&s, "killed by signal %d%s%s\n", sig, abbrev ? " SIG" : "", abbrev ? abbrev : "") < 0) {
		return NULL;
	}
	return s;
}

static void start_attempt(struct zr_service *s, struct zr_task *t);

static void on_exited(int64_t status, int sig, bool timed_out, void *data)
{
	struct attempt *a = data;
	struct zr_task *t = a->t;
	struct zr_service *s = t->svc;
	struct zr_robot *r = s->robot;
	char *error = NULL;
	enum zr_task_state state = ZR_TASK_OK;
	int err = 0;

	t->runner = NULL;
	r->running_processes--;
	if (t->cancel_requested) {
		state = ZR_TASK_CANCELLED;
		error = strdup("cancelled\n");
		err = ECANCELED;
	} else if (r->stopping) {
		state = ZR_TASK_INTERRUPTED;
		error = strdup("interrupted\n");
		err = EIO;
	} else if (timed_out) {
		state = ZR_TASK_TIMEOUT;
		(void)asprintf(&error, "timeout after %gs\n", t->action->timeout);
		err = ETIMEDOUT;
	} else if (sig != 0) {
		state = ZR_TASK_ERROR;
		error = signal_text(sig);
		err = EIO;
	} else if (status != 0) {
		state = ZR_TASK_ERROR;
		(void)asprintf(&error, "exit status %lld\n%s", (long long)status,
			       a->tail.data ? a->tail.data : "");
		err = EIO;
	}
	zr_buf_done(&a->tail);
	free(a);
	if (state != ZR_TASK_OK && !error) {
		error = strdup("failed\n");
	}

	bool retryable = state == ZR_TASK_ERROR || state == ZR_TASK_TIMEOUT;
	if (retryable && t->attempt < t->action->retry.tries) {
		double delay = t->action->retry.delay * pow(t->action->retry.backoff, t->attempt - 1);
		size_t el = strcspn(error, "\n");
		(void)zr_journal_appendf(&t->log, "zrobot: attempt %d of %d failed (%.*s), retrying in %gs",
					 t->attempt, t->action->retry.tries, (int)el, error, delay);
		svc_log(s, t, "retrying", 8);
		free(error);
		zr_buf_reset(&t->result);
		t->attempt++;
		t->timed_out = false;
		/* The slot goes back while we wait: a backoff must not starve other services. */
		zr_robot__release_slot(r);
		s->has_slot = false;
		(void)uv_timer_start(&s->retry_timer, on_retry, (uint64_t)(delay * 1000), 0);
		zr_robot__process_ended(r);
		return;
	}
	service_finish(s, t, state, error, err);
	zr_robot__process_ended(r);
}

static void on_retry(uv_timer_t *timer)
{
	struct zr_service *s = timer->data;
	zr_robot__want_slot(s->robot, s);
}

static char *env_name(const char *prefix, const char *key)
{
	char *e = NULL;
	if (asprintf(&e, "%s%s", prefix, key) < 0) {
		return NULL;
	}
	for (char *c = e + strlen(prefix); *c; c++) {
		*c = isalnum((unsigned char)*c) ? (char)toupper((unsigned char)*c) : '_';
	}
	return e;
}

static int env_add_json(char ***env, size_t *n, const char *prefix, const json_t *obj)
{
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)obj, key, v) {
		_cleanup_free_ char *name = env_name(prefix, key);
		_cleanup_free_ char *text = json_is_string(v) ? strdup(json_string_value(v))
							      : json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		char *kv = NULL;
		if (!name || !text || asprintf(&kv, "%s=%s", name, text) < 0) {
			return -ENOMEM;
		}
		(*env)[(*n)++] = kv;
	}
	return 0;
}

/* The robot's environment plus the action protocol's variables (DESIGN §4). */
static char **build_env(const struct zr_service *s, const struct zr_task *t)
{
	size_t base = 0;
	while (environ[base]) {
		base++;
	}
	size_t cap = base + 6 + json_object_size(s->data) + json_object_size(t->args) + 1;
	char **env = calloc(cap, sizeof(*env));
	size_t n = 0;
	if (!env) {
		return NULL;
	}
	for (size_t i = 0; i < base; i++) {
		/* Our own variables must not leak in from a robot started by an action. */
		if (strncmp(environ[i], "ZR_", 3) == 0 || strncmp(environ[i], "DATA_", 5) == 0 ||
		    strncmp(environ[i], "ARG_", 4) == 0) {
			continue;
		}
		if (!(env[n++] = strdup(environ[i]))) {
			goto fail;
		}
	}
	const struct zr_robot *r = s->robot;
	if (asprintf(&env[n++], "ZR_ROOT=%s", r->cfg.mount) < 0 ||
	    asprintf(&env[n++], "ZR_SERVICE=%s", s->path) < 0 ||
	    asprintf(&env[n++], "ZR_SERVICE_DIR=%s/%s", r->cfg.mount, s->path) < 0 ||
	    asprintf(&env[n++], "ZR_TASK=%llu", (unsigned long long)t->id) < 0 ||
	    asprintf(&env[n++], "ZR_ACTION=%s", t->action->name) < 0) {
		env[--n] = NULL;
		goto fail;
	}
	if (env_add_json(&env, &n, "DATA_", s->data) < 0 || env_add_json(&env, &n, "ARG_", t->args) < 0) {
		goto fail;
	}
	return env;
fail:
	for (size_t i = 0; i < cap; i++) {
		free(env[i]);
	}
	free(env);
	return NULL;
}

static void free_env(char **env)
{
	for (char **e = env; e && *e; e++) {
		free(*e);
	}
	free(env);
}

static void start_failed(struct zr_service *s, struct zr_task *t, int err)
{
	char *error = NULL;
	(void)asprintf(&error, "cannot start %s: %s\n", t->action->path, strerror(-err));
	log_error("Task %llu (%s %s): %s", (unsigned long long)t->id, s->path, t->action->name,
		  error ? error : "cannot start");
	service_finish(s, t, ZR_TASK_ERROR, error, EIO);
}

static void on_started(int pid, void *data)
{
	struct attempt *a = data;
	(void)zr_journal_appendf(&a->t->log, "zrobot: attempt %d started, pid %d", a->t->attempt, pid);
}

/* The spawn, off the loop, found the executable missing or not executable. */
static void on_start_failed(int err, void *data)
{
	struct attempt *a = data;
	struct zr_task *t = a->t;
	struct zr_robot *r = t->svc->robot;
	t->runner = NULL;
	r->running_processes--;
	zr_buf_done(&a->tail);
	free(a);
	start_failed(t->svc, t, err);
	zr_robot__process_ended(r);
}

static void start_attempt(struct zr_service *s, struct zr_task *t)
{
	struct zr_robot *r = s->robot;
	static const struct zr_runner_events ev = {
		.stderr_line = on_stderr_line,
		.ctl_line = on_ctl_line,
		.stdout_data = on_stdout,
		.started = on_started,
		.failed = on_start_failed,
		.exited = on_exited,
	};
	struct attempt *a = calloc(1, sizeof(*a));
	_cleanup_json_ json_t *in = json_pack("{ss ss ss sI sO sO}", "service", s->path, "template",
					      s->template->name, "action", t->action->name, "task",
					      (json_int_t)t->id, "data", s->data, "args", t->args);
	_cleanup_free_ char *input = in ? json_dumps(in, JSON_COMPACT) : NULL;
	char **env = build_env(s, t);
	int err = -ENOMEM;
	if (a && input && env) {
		a->t = t;
		struct zr_runner_config cfg = {
			.path = t->action->path,
			.cwd = s->workdir,
			.env = env,
			.input = input,
			.timeout = t->action->timeout,
			.grace = r->cfg.kill_grace,
		};
		err = zr_runner_start(r->loop, &cfg, &ev, a, &t->runner);
	}
	free_env(env);
	if (err == 0) {
		r->running_processes++;
		return;
	}
	free(a);
	start_failed(s, t, err);
}

void zr_service__run_next(struct zr_service *s)
{
	s->has_slot = true;
	struct zr_task *t = s->current;
	if (!t) {
		/* A task waiting for its commit is not runnable yet; its commit asks again. Tasks
		 * of a missing template wait for an upgrade. */
		struct zr_queue_item *it = zr_queue_peek(&s->queue);
		if (!it || container_of(it, struct zr_task, qitem)->pending || s->template->missing) {
			s->has_slot = false;
			zr_robot__release_slot(s->robot);
			return;
		}
		(void)zr_queue_pop(&s->queue);
		t = container_of(it, struct zr_task, qitem);
		s->current = t;
		t->state = ZR_TASK_RUNNING;
		t->started_ns = zr_now_ns();
		t->attempt = 1;
		s->tasks_mtime_ns = t->started_ns;
		for (size_t i = 0; i < s->n_recur; i++) {
			if (s->recur[i].action == t->action) {
				s->recur[i].last_start_ns = t->started_ns;
			}
		}
		store_task(t, true);
		zr_service__event(s, "task.started", json_pack("{sI ss}", "task", (json_int_t)t->id,
								 "action", t->action->name));
	}
	start_attempt(s, t);
}

/* Drops the oldest finished tasks beyond the history bound. */
static void trim_history(struct zr_service *s)
{
	struct zr_task *t, *tmp;
	zr_list_for_each_safe(t, tmp, &s->tasks, link) {
		if (s->n_finished <= (size_t)s->robot->cfg.history) {
			break;
		}
		if (!zr_task_ended(t)) {
			continue;
		}
		s->n_finished--;
		(void)zr_imap_del(&s->task_ids, t->id);
		zr_store_task_delete(s->robot->cfg.store, (int64_t)t->id);
		if (s->robot->hooks.task_removed) {
			s->robot->hooks.task_removed(t, s->robot->hooks.data);
		}
		zr_task_free(t);
	}
}

struct settle {
	struct zr_service *s;
	uint64_t id;
};

static void on_settled(int err, void *data)
{
	struct settle *st = data;
	struct zr_task *t = zr_service_task(st->s, st->id);
	if (err < 0) {
		/* The store retries the change in the background; the reader is not held hostage
		 * to a full disk. */
		log_warn("Task %llu of %s: its end is not on disk yet (%s)", (unsigned long long)st->id,
			 st->s->path, strerror(-err));
	}
	if (t) {
		t->settled = true;
		zr_waitq_wake_all(&t->done);
	}
	zr_service_unref(st->s);
	free(st);
}

/* Moves an idle service to s->upgrade_to. */
static void service_switch(struct zr_service *s)
{
	const struct zr_template *t = s->upgrade_to, *old = s->template;
	struct zr_recur *recur = recur_alloc(t);
	struct zr_retired_recur *rr = calloc(1, sizeof(*rr));
	s->upgrade_to = NULL;
	if (!recur || !rr) {
		free(recur);
		free(rr);
		log_error("Failed to upgrade %s to %s: out of memory", s->path, t->uid);
		return;
	}
	for (size_t i = 0; i < s->n_recur; i++) {
		(void)uv_timer_stop(&s->recur[i].timer);
	}
	*rr = (struct zr_retired_recur){.recur = s->recur, .n = s->n_recur, .next = s->retired};
	s->retired = rr;
	s->template = t;
	recur_init(s, t, recur);
	/* Queued tasks run the new version's action of the same name. */
	struct zr_queue_item *it = zr_queue_next(&s->queue, NULL);
	while (it) {
		struct zr_task *task = container_of(it, struct zr_task, qitem);
		it = zr_queue_next(&s->queue, it);
		const struct zr_action_def *a = zr_template_action(t, task->action->name);
		if (a) {
			task->action = a;
		} else if (!task->pending) {
			service_finish(s, task, ZR_TASK_CANCELLED,
				       strdup("cancelled: the action is gone from the new version\n"), ECANCELED);
		}
	}
	json_t *data = NULL;
	_cleanup_free_ char *why = NULL;
	if (zr_schema_apply(t->data, s->data, ZR_SCHEMA_PARTIAL, &data, &why) == 0) {
		(void)set_data(s, data, true, NULL, NULL, NULL);
		json_decref(data);
	} else {
		log_warn("Service %s: its data does not fit %s (%s), keeping it as it is", s->path, t->uid, why);
	}
	if (json_object_get(s->state, "template missing")) {
		(void)json_object_del(s->state, "template missing");
		(void)zr_service_set_state(s, "template", "version", "ok");
	}
	zr_store_service_uid(s->robot->cfg.store, s->guid, t->uid);
	zr_store_service_upgrade_to(s->robot->cfg.store, s->guid, NULL, true);
	log_info("Upgraded service %s from %s to %s", s->path, old->uid, t->uid);
	zr_service__event(s, "service.upgraded", json_pack("{ss ss}", "from", old->uid, "to", t->uid));
	const struct zr_action_def *up = zr_template_action(t, "upgrade");
	if (up) {
		_cleanup_free_ char *e = NULL;
		if (zr_service_enqueue(s, up, NULL, ZR_LANE_SYSTEM, &e, NULL, NULL) < 0) {
			log_error("Service %s: upgrade action not queued: %s", s->path, e ? e : "");
		}
	}
	if (!s->deleting && !s->pending) {
		zr_service__activate(s);
	}
}

/* Switches an idle service that has somewhere to go. */
void zr_service__upgrade_if_idle(struct zr_service *s)
{
	if (s->current || !s->upgrade_to || s->deleting) {
		return;
	}
	service_switch(s);
	if (zr_queue_peek(&s->queue)) {
		zr_robot__want_slot(s->robot, s);
	}
}

struct upgrade_write {
	struct zr_service *s;
	const struct zr_template *t; /* NULL: stay */
	zr_done_cb cb;
	void *data;
};

static void on_upgrade_committed(int err, void *data)
{
	struct upgrade_write *w = data;
	if (err == 0) {
		w->s->upgrade_to = w->t;
		zr_service__upgrade_if_idle(w->s);
	}
	w->cb(err, w->data);
	zr_service_unref(w->s);
	free(w);
}

int zr_service_upgrade(struct zr_service *s, const struct zr_template *t, char **ret_err,
		       zr_done_cb cb, void *cbdata)
{
	if (t->missing) {
		(void)asprintf(ret_err, "version %s is not loaded", t->uid);
		return -EINVAL;
	}
	if (s->deleting) {
		return -ENOENT;
	}
	struct upgrade_write *w = calloc(1, sizeof(*w));
	if (!w) {
		return -ENOMEM;
	}
	/* Recorded before it is answered, so a crash before the running task ends does not lose
	 * it (the switch happens at restart then). */
	*w = (struct upgrade_write){.s = s, .t = t == s->template ? NULL : t, .cb = cb, .data = cbdata};
	zr_service_ref(s);
	zr_store_service_upgrade_to(s->robot->cfg.store, s->guid, w->t ? w->t->uid : NULL, false);
	zr_store_sync(s->robot->cfg.store, on_upgrade_committed, w);
	return 0;
}

void zr_service__trim(struct zr_service *s)
{
	trim_history(s);
}

/* Ends a task: takes ownership of error. The task is current (running or waiting to retry)
 * or queued. */
static void service_finish(struct zr_service *s, struct zr_task *t, enum zr_task_state state,
			   char *error, int err)
{
	struct zr_robot *r = s->robot;
	t->state = state;
	t->error = error;
	t->err = err;
	t->finished_ns = zr_now_ns();
	s->tasks_mtime_ns = t->finished_ns;
	zr_metrics_task_ended(&r->metrics, t);
	zr_queue_remove(&s->queue, &t->qitem);
	if (s->current == t) {
		s->current = NULL;
		(void)uv_timer_stop(&s->retry_timer);
		if (s->has_slot) {
			s->has_slot = false;
			zr_robot__release_slot(r);
		}
	}
	const char *value = state == ZR_TASK_OK ? "ok" : state == ZR_TASK_CANCELLED ? "skipped" : "error";
	(void)zr_service_set_state(s, "actions", t->action->name, value);
	if (state == ZR_TASK_OK) {
		svc_log(s, t, "ok", 2);
	} else {
		_cleanup_free_ char *msg = NULL;
		size_t el = error ? strcspn(error, "\n") : 0;
		if (asprintf(&msg, "%s: %.*s", zr_task_state_name(state), (int)el, error ? error : "") >= 0) {
			svc_log(s, t, msg, strlen(msg));
		}
		if (s->deleting && t->qitem.lane == ZR_LANE_SYSTEM) {
			log_warn("Service %s: on_delete action %s (task %llu) ended %.*s, deleting anyway",
				 s->path, t->action->name, (unsigned long long)t->id, (int)el, error ? error : "");
		} else {
			log_info("Task %llu (%s %s) ended %s: %.*s", (unsigned long long)t->id, s->path,
				 t->action->name, zr_task_state_name(state), (int)el, error ? error : "");
		}
	}
	zr_service__event(s, "task.finished", json_pack("{sI ss ss}", "task", (json_int_t)t->id, "action",
							  t->action->name, "state", zr_task_state_name(state)));
	/* The task log ends now; result readers are answered once the end is on disk. */
	zr_waitq_wake_all(&t->log.waitq);
	store_task(t, true);
	struct settle *st = malloc(sizeof(*st));
	if (st) {
		*st = (struct settle){.s = s, .id = t->id};
		zr_service_ref(s);
		zr_store_sync(r->cfg.store, on_settled, st);
	} else {
		t->settled = true;
		zr_waitq_wake_all(&t->done);
	}
	s->n_finished++;
	for (size_t i = 0; i < s->n_recur; i++) {
		if (s->recur[i].action == t->action) {
			recur_arm(&s->recur[i]);
		}
	}
	trim_history(s);
	if (!s->current && s->upgrade_to) {
		service_switch(s);
	}
	if (!s->current && zr_queue_peek(&s->queue)) {
		zr_robot__want_slot(r, s);
	} else if (s->deleting && zr_service__idle(s)) {
		zr_robot__service_idle(r, s);
	}
}

int zr_service_cancel(struct zr_service *s, struct zr_task *t)
{
	if (zr_task_ended(t)) {
		return -EINVAL;
	}
	if (t->runner) {
		t->cancel_requested = true;
		zr_runner_kill(t->runner);
		return 0;
	}
	service_finish(s, t, ZR_TASK_CANCELLED, strdup("cancelled\n"), ECANCELED);
	return 0;
}

static bool recur_active(const struct zr_service *s, const struct zr_action_def *a)
{
	if (s->current && s->current->action == a) {
		return true;
	}
	for (struct zr_queue_item *it = zr_queue_next(&s->queue, NULL); it;
	     it = zr_queue_next(&s->queue, it)) {
		if (container_of(it, struct zr_task, qitem)->action == a) {
			return true;
		}
	}
	return false;
}

static void on_recur(uv_timer_t *timer)
{
	struct zr_recur *rc = timer->data;
	struct zr_service *s = rc->svc;
	/* Never queued twice: the end of the running one re-arms the timer. */
	if (recur_active(s, rc->action)) {
		return;
	}
	long long period = (long long)(rc->action->every * 1e9);
	if (rc->last_start_ns && zr_now_ns() - rc->last_start_ns < period) {
		recur_arm(rc);
		return;
	}
	_cleanup_free_ char *why = NULL;
	int err = zr_service_enqueue(s, rc->action, NULL, ZR_LANE_USER, &why, NULL, NULL);
	if (err < 0) {
		log_warn("Recurring action %s of %s not queued: %s, retrying in %gs", rc->action->name,
			 s->path, why ? why : strerror(-err), rc->action->every);
		/* Try again a period from now. */
		rc->last_start_ns = zr_now_ns();
		recur_arm(rc);
	}
}

bool zr_service__idle(const struct zr_service *s)
{
	return !s->current && !zr_queue_peek(&s->queue);
}

void zr_service__begin_delete(struct zr_service *s)
{
	s->deleting = true;
	for (size_t i = 0; i < s->n_recur; i++) {
		(void)uv_timer_stop(&s->recur[i].timer);
	}
	/* Queued user tasks will never run: their readers learn it now. Tasks still waiting for
	 * their commit are cancelled when it comes. */
	struct zr_queue_item *it = zr_queue_next(&s->queue, NULL);
	while (it) {
		struct zr_task *t = container_of(it, struct zr_task, qitem);
		it = zr_queue_next(&s->queue, it);
		if (!t->pending && t->qitem.lane == ZR_LANE_USER) {
			service_finish(s, t, ZR_TASK_CANCELLED, strdup("cancelled: service deleted\n"),
				       ECANCELED);
		}
	}
	for (size_t i = 0; i < s->template->n_on_delete; i++) {
		const struct zr_action_def *a = zr_template_action(s->template, s->template->on_delete[i]);
		_cleanup_free_ char *why = NULL;
		if (!a || zr_service_enqueue(s, a, NULL, ZR_LANE_SYSTEM, &why, NULL, NULL) < 0) {
			log_error("Service %s: on_delete action %s not queued: %s, ignoring", s->path,
				  s->template->on_delete[i], why ? why : "unknown action");
		}
	}
}

void zr_service__kill(struct zr_service *s)
{
	for (size_t i = 0; i < s->n_recur; i++) {
		(void)uv_timer_stop(&s->recur[i].timer);
	}
	if (!s->current) {
		return;
	}
	if (s->current->runner) {
		zr_runner_kill(s->current->runner);
	} else {
		service_finish(s, s->current, ZR_TASK_INTERRUPTED, strdup("interrupted\n"), EIO);
	}
}

void zr_service_refuse(struct zr_service *s, const char *path, int err, const char *reason)
{
	char ts[40];
	char *line = NULL;
	const char *name = strerrorname_np(err);
	if (asprintf(&line, "%s /%s %s %s", zr_time_format(zr_now_ns(), ts), path,
		     name ? name : "EIO", reason ? reason : strerror(err)) < 0) {
		return;
	}
	free(s->lasterror);
	s->lasterror = line;
	s->lasterror_mtime_ns = zr_now_ns();
	log_warn("Refused write to /%s: %s: %s", path, name ? name : "EIO", reason ? reason : strerror(err));
}
