/* Services of remote robots made and deleted through the tree (mkdir, rmdir): one POST to
 * the template's folder or one DELETE of the service there. */
#include "remote-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "util/log.h"

/* ---- services ---- */

struct dir_change {
	struct zr_remotes *rs;
	struct zr_remote *rm;
	char *path;
	zr_tree_done_cb cb;
	void *data;
	bool mkdir;
};

static void on_dir_changed(int err, const struct zr_http_resp *r, void *data)
{
	struct dir_change *op = data;
	struct zr_tree_attr a;
	(void)r;
	if (err == 0) {
		char *tmpl = zr_remote__prefix(op->path, 1);
		zr_remote__invalidate(op->rm, tmpl);
		free(tmpl);
	}
	if (err == 0 && op->mkdir) {
		struct rnode *n = zr_rnode_get(op->rs, op->rm, op->path);
		if (!n) {
			err = -ENOMEM;
		} else {
			n->base.nlookup++;
			a = (struct zr_tree_attr){.ino = n->base.ino, .mode = S_IFDIR | 0755, .nlink = 2,
						  .mtime_ns = zr_now_ns()};
		}
	}
	op->cb(err, err == 0 && op->mkdir ? &a : NULL, op->data);
	zr_remote__unref(op->rm);
	free(op->path);
	free(op);
}

static void dir_change(struct zr_tree_node *zp, const char *name, bool mkdir, zr_tree_done_cb cb,
		       void *data)
{
	struct rnode *p = zr_rnode__of(zp);
	struct dir_change *op;
	char *body = NULL;
	if (!p) {
		cb(-ENOENT, NULL, data);
		return;
	}
	if (!(op = calloc(1, sizeof(*op))) || !(op->path = zr_rnode__path_join(p->path, name))) {
		free(op);
		cb(-ENOMEM, NULL, data);
		return;
	}
	op->rs = p->rm->rs;
	op->rm = p->rm;
	op->cb = cb;
	op->data = data;
	op->mkdir = mkdir;
	json_t *j = mkdir ? json_pack("{ss}", "name", name) : NULL;
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	struct rcall_opts o = {
		.method = mkdir ? "POST" : "DELETE",
		.path = mkdir ? p->path : op->path,
		.ctype = mkdir ? "application/json" : NULL,
		.body = body,
		.len = body ? strlen(body) : 0,
	};
	zr_remote__ref(op->rm);
	if ((mkdir && !body) || !zr_remote__call(op->rm, &o, on_dir_changed, op)) {
		zr_remote__unref(op->rm);
		free(op->path);
		free(op);
		cb(-ENOMEM, NULL, data);
	}
	free(body);
}

void zr_rnode__mkdir(struct zr_tree_node *zp, const char *name, zr_tree_done_cb cb, void *data)
{
	dir_change(zp, name, true, cb, data);
}

void zr_rnode__rmdir(struct zr_tree_node *zp, const char *name, zr_tree_done_cb cb, void *data)
{
	dir_change(zp, name, false, cb, data);
}

