/* Services: the lifecycle of one service: made, restored, deleted, closed and freed; its
 * state lines, events and refusals. Running tasks, data and upgrades live in service-*.c. */
#include "service.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "ctl-line.h"
#include "robot.h"
#include "service-internal.h"
#include "store.h"
#include "task.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/log.h"
#include "util/name.h"

#define SERVICE_LOG_MAX (1024 * 1024)
#define SERVICE_EVENTS_MAX (256 * 1024)

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

/* Allocates a service with its handles; identity and data are the caller's to set. Once it
 * returns, only zr_service__close frees the service. */
static struct zr_service *service_new(struct zr_robot *r, const struct zr_template *t,
				      const char *name)
{
	size_t path_size = strlen(t->name) + 1 + strlen(name) + 1;
	struct zr_service *s = calloc(1, sizeof(*s) + path_size);
	struct zr_recur *recur;
	int err = zr_service__recur_alloc(t, &recur);
	if (!s || err < 0) {
		free(s);
		free(recur);
		return NULL;
	}
	s->robot = r;
	s->template = t;
	s->recur = recur;
	s->serial = ++r->next_serial;
	s->created_ns = s->data_mtime_ns = s->state_mtime_ns = s->tasks_mtime_ns =
		s->lasterror_mtime_ns = zr_now_ns();
	zr_queue_init(&s->queue, (size_t)r->cfg.queue_max);
	zr_list_init(&s->tasks);
	zr_list_init(&s->ready_link);
	zr_list_init(&s->delete_link);
	zr_service__recur_init(s, t, recur);
	s->path = (char *)(s + 1);
	snprintf(s->path, path_size, "%s/%s", t->name, name);
	s->name = s->path + strlen(t->name) + 1;
	return s;
}

/* Sets the identity; NULL or too long (not from this robot) is refused. */
static int service_identity(struct zr_service *s, const char *guid, const char *secret)
{
	if (!guid || !secret || strlen(guid) >= sizeof(s->guid) ||
	    strlen(secret) >= sizeof(s->secret)) {
		return -EIO;
	}
	strcpy(s->guid, guid);
	strcpy(s->secret, secret);
	return 0;
}

uv_timer_t *zr_service__retry_timer(struct zr_service *s)
{
	if (!s->retry_timer && (s->retry_timer = malloc(sizeof(*s->retry_timer)))) {
		uv_timer_init(s->robot->loop, s->retry_timer);
		s->retry_timer->data = s;
		s->closing_handles++;
	}
	return s->retry_timer;
}

char *zr_service__workdir(const struct zr_service *s)
{
	char *p;
	return asprintf(&p, "%s/work/%s", s->robot->cfg.data_dir, s->guid) < 0 ? NULL : p;
}

int zr_service__workdir_make(struct zr_service *s, char **ret_err)
{
	if (s->workdir_made) {
		return 0;
	}
	_cleanup_free_ char *dir = zr_service__workdir(s);
	int err = dir ? zr_mkdir_p(dir, 0700) : -ENOMEM;
	if (err < 0 && ret_err) {
		(void)asprintf(ret_err, "cannot create work folder %s: %s", dir ? dir : s->guid,
			       strerror(-err));
	}
	s->workdir_made = err == 0;
	return err;
}

int zr_service__new(struct zr_robot *r, const struct zr_template *t, const char *name,
		    json_t *data, struct zr_service **ret, char **ret_err)
{
	char guid[37], secret[65];
	struct zr_service *s = service_new(r, t, name);
	if (!s) {
		json_decref(data);
		return -ENOMEM;
	}
	s->data = data;
	s->state = json_object();
	int err = make_guid(guid);
	if (err == 0) {
		err = random_hex(secret, 32);
	}
	if (err == 0) {
		err = s->state ? service_identity(s, guid, secret) : -ENOMEM;
	}
	if (err == 0) {
		err = zr_service__workdir_make(s, ret_err);
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
	struct zr_service *s = service_new(r, t, row->name);
	if (!s) {
		return -ENOMEM;
	}
	s->data = zr_service__load_json(r, row->data);
	s->state = zr_service__load_json(r, row->state);
	s->created_ns = s->data_mtime_ns = s->state_mtime_ns = row->created_ns;
	/* Its work folder is made before its first task (zr_service__workdir_make): most have it
	 * already, and a mkdir per service would dominate the restart. */
	const char *bad = NULL;
	snprintf(s->creator, sizeof(s->creator), "%s", row->creator ? row->creator : "admin");
	/* A parent that is gone (or not loaded yet) keeps its name: zr_robot_load_store tells. */
	if ((row->parent && !(s->parent = strdup(row->parent))) ||
	    (row->blueprint && !(s->blueprint = strdup(row->blueprint)))) {
		zr_service__close(s);
		return -ENOMEM;
	}
	if (service_identity(s, row->guid, row->secret) < 0) {
		bad = "guid or secret";
	} else if (!json_is_object(s->data) || !json_is_object(s->state)) {
		bad = "data or state";
	}
	if (bad) {
		if (ret_err) {
			(void)asprintf(ret_err, "bad %s of %s in the store", bad, s->path);
		}
		zr_service__close(s);
		return -EIO;
	}
	if (zr_service__process_restore(s, row) < 0) {
		zr_service__close(s);
		return -ENOMEM;
	}
	/* One still being deleted freed its creator's slot already. */
	if (!row->deleting) {
		(void)zr_quota_services(&r->quota, s->creator, 1);
	}
	*ret = s;
	return 0;
}

static void service_free(struct zr_service *s)
{
	while (!zr_list_empty(&s->tasks)) {
		struct zr_task *t = container_of(s->tasks.next, struct zr_task, link);
		zr_queue_remove(&s->queue, &t->qitem);
		zr_task_free(t);
	}
	zr_journal_free(&s->log);
	zr_journal_free(&s->events);
	json_decref(s->data);
	json_decref(s->state);
	json_decref(s->rconsumers);
	free(s->parent);
	free(s->blueprint);
	free(s->lasterror);
	free(s->recur);
	while (s->retired) {
		struct zr_retired_recur *rr = s->retired;
		s->retired = rr->next;
		free(rr->recur);
		free(rr);
	}
	free(s->retry_timer);
	zr_service__process_free(s);
	free(s);
}

void zr_service__handle_closed(struct zr_service *s)
{
	if (--s->closing_handles == 0 && s->refs == 0) {
		service_free(s);
	}
}

static void on_retry_closed(uv_handle_t *h)
{
	zr_service__handle_closed(h->data);
}

static void on_recur_closed(uv_handle_t *h)
{
	zr_service__handle_closed(((struct zr_recur *)h->data)->svc);
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
	/* The index borrows it: no listing may find it once it is going. */
	zr_service__unindex(s);
	/* The service is freed from a close callback, never inside this call: it needs one handle
	 * to close, and most services have made none. Out of memory, it stays (a leak, not a
	 * service freed under its caller). */
	if (zr_service__retry_timer(s)) {
		uv_close((uv_handle_t *)s->retry_timer, on_retry_closed);
	} else {
		log_error("Service %s: out of memory while closing it, not freed", s->path);
	}
	for (size_t i = 0; i < s->n_recur; i++) {
		uv_close((uv_handle_t *)&s->recur[i].timer, on_recur_closed);
	}
	for (struct zr_retired_recur *rr = s->retired; rr; rr = rr->next) {
		for (size_t i = 0; i < rr->n; i++) {
			uv_close((uv_handle_t *)&rr->recur[i].timer, on_recur_closed);
		}
	}
	/* Its server, if any, stays running for the next robot: only a deletion or
	 * --stop-on-exit stops it, before this. */
	zr_service__process_close(s);
}

void zr_service__event(struct zr_service *s, const char *type, json_t *ev)
{
	if (!ev) {
		ev = json_object();
	}
	(void)json_object_set_new(ev, "service", json_string(s->path));
	const char *line = zr_robot__event(s->robot, type, ev);
	if (line) {
		(void)zr_journal_append(zr_journal_make(&s->events, SERVICE_EVENTS_MAX, s->created_ns),
					line, strlen(line));
	}
}

struct zr_journal *zr_service_log(struct zr_service *s)
{
	return zr_journal_or_empty(&s->log, SERVICE_LOG_MAX, s->created_ns);
}

struct zr_journal *zr_service_events(struct zr_service *s)
{
	return zr_journal_or_empty(&s->events, SERVICE_EVENTS_MAX, s->created_ns);
}

struct zr_journal *zr_service__log_make(struct zr_service *s)
{
	return zr_journal_make(&s->log, SERVICE_LOG_MAX, s->created_ns);
}

struct zr_task *zr_service_task(const struct zr_service *s, uint64_t id)
{
	/* No index: a service keeps a bounded list (its history and queue), and an index of a
	 * robot's tasks costs more than the tasks themselves at 100,000 services. The list is in
	 * id order: start from the nearer end (a reader wants a recent task, the store's answer
	 * an old one), but look at every task, so the order only decides the speed. */
	if (zr_list_empty(&s->tasks)) {
		return NULL;
	}
	uint64_t first = container_of(s->tasks.next, struct zr_task, link)->id;
	uint64_t last = container_of(s->tasks.prev, struct zr_task, link)->id;
	bool forward = id <= first || (id < last && id - first < last - id);
	for (struct zr_list *e = forward ? s->tasks.next : s->tasks.prev; e != &s->tasks;
	     e = forward ? e->next : e->prev) {
		struct zr_task *t = container_of(e, struct zr_task, link);
		if (t->id == id) {
			return t;
		}
	}
	return NULL;
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

int zr_service__restore_task(struct zr_service *s, const struct zr_store_task *row, char **ret_err)
{
	const struct zr_action_def *a = zr_template_action(s->template, row->action);
	json_t *args = zr_service__load_json(s->robot, row->args);
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
	if (!t) {
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
		/* Sized to fit (the buffer grows from its cap): a finished task's result never
		 * grows, and 100,000 of them would otherwise take 64 bytes at least each. */
		t->result.cap = row->result_len + 1;
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
		zr_service__store_failed(s, "a task's restart", zr_service__store_task(t, true));
	}
	if (redo || strcmp(row->state, "queued") == 0) {
		t->state = ZR_TASK_QUEUED;
		/* Restored queues may exceed a smaller --queue-max: nothing acknowledged is dropped. */
		zr_list_push_back(&s->queue.lanes[row->lane == ZR_LANE_SYSTEM ? 0 : 1], &t->qitem.link);
		s->queue.len[row->lane == ZR_LANE_SYSTEM ? 0 : 1]++;
		if (row->lane == ZR_LANE_USER) {
			(void)zr_quota_tasks(&s->robot->quota, s->creator, 1);
		}
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
		zr_service__store_failed(s, "a task's interruption", zr_service__store_task(t, true));
		(void)zr_service_set_state(s, "actions", a->name, "error");
	}
	return 0;
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

/* Makes s->state the service's own before a change in place: restored states are shared
 * (zr_service__load_json). */
static int state_own(struct zr_service *s)
{
	if (s->state->refcount == 1) {
		return 0;
	}
	/* The values are strings, replaced and never changed: a shallow copy is enough. */
	json_t *copy = json_copy(s->state);
	if (!copy) {
		return -ENOMEM;
	}
	json_decref(s->state);
	s->state = copy;
	return 0;
}

void zr_service__state_del(struct zr_service *s, const char *key)
{
	if (json_object_get(s->state, key) && state_own(s) == 0) {
		(void)json_object_del(s->state, key);
	}
}

#define LOAD_JSON_TEXT_MAX 512
#define LOAD_JSON_MAX 64

json_t *zr_service__load_json(struct zr_robot *r, const char *text)
{
	json_t *v = text ? zr_map_get(&r->load_json, text) : NULL;
	if (v) {
		return json_incref(v);
	}
	json_error_t jerr;
	v = text ? json_loads(text, 0, &jerr) : NULL;
	/* Bounded: texts that differ from service to service are not worth keeping. */
	if (v && strlen(text) <= LOAD_JSON_TEXT_MAX && r->load_json.len < LOAD_JSON_MAX &&
	    zr_map_put(&r->load_json, text, v) == 0) {
		json_incref(v);
	}
	return v;
}

void zr_service__load_done(struct zr_robot *r)
{
	size_t i = 0;
	void *v;
	while (zr_map_next(&r->load_json, &i, NULL, NULL, &v)) {
		json_decref(v);
	}
	zr_map_done(&r->load_json);
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
	if (!old && json_object_size(s->state) >= ZR_SERVICE_STATE_MAX &&
	    !zr_ctl_robot_category(category)) {
		return -EDQUOT;
	}
	if (state_own(s) < 0 || json_object_set_new(s->state, key, json_string(value)) < 0) {
		return -ENOMEM;
	}
	s->state_mtime_ns = zr_now_ns();
	if (!s->pending) {
		_cleanup_free_ char *text = json_dumps(s->state, JSON_COMPACT);
		zr_service__store_failed(s, "its state", text ? zr_store_service_state(s->robot->cfg.store,
									   s->guid, text) : -ENOMEM);
	}
	zr_service__event(s, "state.changed", json_pack("{ss ss ss}", "category", category, "tag",
							  tag, "value", value));
	return 0;
}

bool zr_service__idle(const struct zr_service *s)
{
	return !s->current && !zr_queue_peek(&s->queue) && !zr_service__process_stopping(s);
}

void zr_service__begin_delete(struct zr_service *s)
{
	/* A deleted service frees its creator's slot at once, as its name. */
	if (!s->deleting) {
		(void)zr_quota_services(&s->robot->quota, s->creator, -1);
	}
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
			zr_service__finish(s, t, ZR_TASK_CANCELLED, strdup("cancelled: service deleted\n"),
				       ECANCELED);
		}
	}
	for (size_t i = 0; !s->quiet_delete && i < s->template->n_on_delete; i++) {
		const struct zr_action_def *a = zr_template_action(s->template, s->template->on_delete[i]);
		_cleanup_free_ char *why = NULL;
		if (!a || zr_service_enqueue(s, a, NULL, ZR_LANE_SYSTEM, &why, NULL, NULL) < 0) {
			log_error("Service %s: on_delete action %s not queued: %s, ignoring", s->path,
				  s->template->on_delete[i], why ? why : "unknown action");
		}
	}
}

void zr_service_refuse(struct zr_service *s, const char *path, int err, const char *reason)
{
	char ts[40];
	char *line = NULL;
	const char *name = strerrorname_np(err);
	/* lasterror is one line: a reason quoting input (a field name) is escaped (util/log.h). */
	_cleanup_free_ char *why = zr_log_escape(reason ? reason : strerror(err));
	if (!why || asprintf(&line, "%s /%s %s %s", zr_time_format(zr_now_ns(), ts), path,
			     name ? name : "EIO", why) < 0) {
		return;
	}
	free(s->lasterror);
	s->lasterror = line;
	s->lasterror_mtime_ns = zr_now_ns();
	log_warn("Refused write to /%s: %s: %s", path, name ? name : "EIO", why);
}
