/* <data>/repos.json: reading it at start, and saving it atomically off the loop. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "repo.h"
#include "repolist.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/list.h"
#include "util/log.h"

/* A few hundred bytes per repository: anything near this is not ours. */
#define REPOLIST_MAX (4 * 1024 * 1024)

static int entry_string(const json_t *o, const char *key, bool optional, char **ret)
{
	const json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v)) {
		*ret = NULL;
		return optional ? 0 : -EINVAL;
	}
	if (!json_is_string(v)) {
		return -EINVAL;
	}
	*ret = strdup(json_string_value(v));
	return *ret ? 0 : -ENOMEM;
}

static void entry_done(struct zr_repolist_entry *e)
{
	free(e->id);
	free(e->url);
	free(e->ref);
	free(e->commit);
}

int zr_repolist_read(const char *data_dir, struct zr_repolist *ret, char **ret_err)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/repos.json", data_dir) < 0) {
		return -ENOMEM;
	}
	struct stat st;
	if (stat(path, &st) < 0) {
		int err = -errno;
		if (err == -ENOENT) {
			*ret = (struct zr_repolist){0};
			return 0;
		}
		return zr_fail(ret_err, err, "%s: %s", path, strerror(-err));
	}
	if (st.st_size > REPOLIST_MAX) {
		return zr_fail(ret_err, -EFBIG, "%s: larger than %d bytes", path, REPOLIST_MAX);
	}
	json_error_t je;
	_cleanup_json_ json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		return zr_fail(ret_err, -EINVAL, "%s: %s (line %d)", path, je.text, je.line);
	}
	if (!json_is_array(j)) {
		return zr_fail(ret_err, -EINVAL, "%s: must hold a JSON array", path);
	}
	struct zr_repolist l = {.entries = calloc(json_array_size(j) + 1, sizeof(*l.entries))};
	if (!l.entries) {
		return -ENOMEM;
	}
	size_t i;
	json_t *o;
	int err = 0;
	json_array_foreach(j, i, o) {
		struct zr_repolist_entry *e = &l.entries[l.n++];
		err = json_is_object(o) ? 0 : -EINVAL;
		if (err == 0) {
			err = entry_string(o, "id", false, &e->id);
		}
		if (err == 0) {
			err = entry_string(o, "url", false, &e->url);
		}
		if (err == 0) {
			err = entry_string(o, "ref", true, &e->ref);
		}
		if (err == 0) {
			err = entry_string(o, "commit", false, &e->commit);
		}
		if (err < 0) {
			break;
		}
	}
	if (err < 0) {
		zr_repolist_done(&l);
		if (err == -EINVAL) {
			err = zr_fail(ret_err, err, "%s: entry %zu: want {\"id\", \"url\", \"ref\", "
					       "\"commit\"} with string values", path, i);
		}
		return err;
	}
	*ret = l;
	return 0;
}

void zr_repolist_done(struct zr_repolist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		entry_done(&l->entries[i]);
	}
	free(l->entries);
	*l = (struct zr_repolist){0};
}

char *zr_repolist_dump(struct zr_repo *const *repos, size_t n)
{
	_cleanup_json_ json_t *list = json_array();
	if (!list) {
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct zr_repo *r = repos[i];
		if (!r->commit) {
			continue;
		}
		json_t *o = json_pack("{s:s, s:s, s:s?, s:s}", "id", r->id, "url", r->fetch_url, "ref",
				      r->ref, "commit", r->commit);
		if (!o || json_array_append_new(list, o) < 0) {
			return NULL;
		}
	}
	return json_dumps(list, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
}

int zr_repolist_write(const char *data_dir, const char *text)
{
	_cleanup_free_ char *path = NULL;
	if (asprintf(&path, "%s/repos.json", data_dir) < 0) {
		return -ENOMEM;
	}
	return zr_write_atomic(path, text, strlen(text), 0644);
}

struct save {
	uv_work_t work;
	char *data_dir, *text;
	int status;
	zr_repolist_save_cb cb;
	void *data;
};

static void save_work(uv_work_t *w)
{
	struct save *s = container_of(w, struct save, work);
	s->status = zr_repolist_write(s->data_dir, s->text);
}

static void save_done(uv_work_t *w, int status)
{
	struct save *s = container_of(w, struct save, work);
	int err = status == UV_ECANCELED ? -ECANCELED : s->status;
	if (err < 0) {
		log_error("Failed to save %s/repos.json: %s", s->data_dir, strerror(-err));
	}
	if (s->cb) {
		s->cb(err, s->data);
	}
	free(s->data_dir);
	free(s->text);
	free(s);
}

int zr_repolist_save(uv_loop_t *loop, const char *data_dir, struct zr_repo *const *repos,
		     size_t n, zr_repolist_save_cb cb, void *data)
{
	struct save *s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->data_dir = strdup(data_dir);
	s->text = zr_repolist_dump(repos, n);
	s->cb = cb;
	s->data = data;
	int err = s->data_dir && s->text ? uv_queue_work(loop, &s->work, save_work, save_done)
					 : -ENOMEM;
	if (err < 0) {
		free(s->data_dir);
		free(s->text);
		free(s);
	}
	return err;
}
