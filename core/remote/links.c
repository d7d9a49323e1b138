/* Our consumers of producers on remote robots, registered with those robots: each link is
 * sent ("consumer add|remove SELF T/S" to the producer's ctl) now or once that robot's event
 * stream connects, and again at every reconnection; a removal is kept (in the store too)
 * until the remote took it. */
#include "remote-internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "util/log.h"


struct link {
	struct zr_list link;
	char *remote;   /* the remote's name */
	char *path;     /* the producer's path there: "T/S" */
	char *consumer; /* ours: "T/S" */
	/* Dropped here, not yet there: kept until the remote took the "remove" (sent again at
	 * each reconnection), so a remote that was down when the data changed hears of it. */
	bool removing;
};

struct link_call {
	struct zr_remotes *rs;
	struct zr_remote *rm;
	struct link *l; /* NULL once the link is gone */
	struct zr_list link; /* in rs->link_calls */
	bool add;
};

static void link_free(struct link *l)
{
	zr_list_remove(&l->link);
	free(l->remote);
	free(l->path);
	free(l->consumer);
	free(l);
}

static void on_link_sent(int err, const struct zr_http_resp *r, void *data)
{
	struct link_call *lc = data;
	struct link *l = lc->l;
	(void)r;
	zr_list_remove(&lc->link);
	if (l && err < 0) {
		log_warn("Remote %s: %s %s as a consumer of %s failed: %s", lc->rm->name,
			 lc->add ? "registering" : "dropping", l->consumer, l->path, strerror(-err));
	} else if (l && !lc->add && l->removing) {
		if (lc->rs->cfg.store) {
			zr_store_unlink(lc->rs->cfg.store, l->remote, l->path, l->consumer, false);
		}
		link_free(l);
	}
	free(lc);
}

static void link_send(struct zr_remote *rm, struct link *l, bool add)
{
	struct zr_remotes *rs = rm->rs;
	char *body = NULL, *ctl = NULL;
	struct link_call *lc = calloc(1, sizeof(*lc));
	if (!lc || asprintf(&body, "consumer %s %s %s\n", add ? "add" : "remove", rs->self, l->consumer) < 0 ||
	    asprintf(&ctl, "%s/ctl", l->path) < 0) {
		free(body);
		free(lc);
		return;
	}
	*lc = (struct link_call){.rs = rs, .rm = rm, .l = l, .add = add};
	zr_list_push_back(&rs->link_calls, &lc->link);
	struct rcall_opts o = {.method = "PUT", .path = ctl, .ctype = "text/plain", .body = body, .len = strlen(body)};
	if (!zr_remote__call(rm, &o, on_link_sent, lc)) {
		zr_list_remove(&lc->link);
		free(lc);
	}
	free(body);
	free(ctl);
}

/* A link about to be freed or changed: the answers on their way no longer concern it. */
static void link_forget_calls(struct zr_remotes *rs, struct link *l)
{
	struct link_call *lc;
	zr_list_for_each(lc, &rs->link_calls, link) {
		if (lc->l == l) {
			lc->l = NULL;
		}
	}
}

void zr_remotes_link(struct zr_remotes *rs, const char *producer, const char *consumer, bool add)
{
	const char *name = producer + strlen("@remote/");
	const char *slash = strchr(name, '/');
	struct link *l;
	if (strncmp(producer, "@remote/", 8) != 0 || !slash || slash[1] == '@' || !rs->self) {
		log_warn("%s: its producer %s cannot be told about it (a producer on a robot's own "
			 "remote is not followed)", consumer, producer);
		return;
	}
	size_t nl = (size_t)(slash - name);
	zr_list_for_each(l, &rs->links, link) {
		if (strlen(l->remote) == nl && strncmp(l->remote, name, nl) == 0 &&
		    strcmp(l->path, slash + 1) == 0 && strcmp(l->consumer, consumer) == 0) {
			break;
		}
	}
	bool found = &l->link != &rs->links;
	if (!add && !found) {
		return;
	}
	if (add && !found) {
		l = calloc(1, sizeof(*l));
		if (!l || !(l->remote = strndup(name, nl)) || !(l->path = strdup(slash + 1)) ||
		    !(l->consumer = strdup(consumer))) {
			if (l) {
				free(l->remote);
				free(l->path);
			}
			free(l);
			return;
		}
		zr_list_push_back(&rs->links, &l->link);
	}
	/* An answer to the opposite request must not undo this one. */
	link_forget_calls(rs, l);
	if (rs->cfg.store && (l->removing || !add)) {
		/* Kept until the remote takes it, so a restart of ours in between loses nothing. */
		zr_store_unlink(rs->cfg.store, l->remote, l->path, l->consumer, !add);
	}
	l->removing = !add;
	struct zr_remote *rm = zr_remote__find(rs, l->remote);
	/* A remote that is not connected hears of it when its event stream connects. */
	if (rm && rm->up) {
		link_send(rm, l, add);
	} else if (!rm && !add) {
		/* No such remote any more: nobody to tell. */
		if (rs->cfg.store) {
			zr_store_unlink(rs->cfg.store, l->remote, l->path, l->consumer, false);
		}
		link_free(l);
	}
}

/* The remote's event stream (re)connected: it may have lost or missed registrations. */
void zr_links__resend(struct zr_remote *rm)
{
	struct link *l;
	zr_list_for_each(l, &rm->rs->links, link) {
		if (strcmp(l->remote, rm->name) == 0) {
			link_send(rm, l, !l->removing);
		}
	}
}

int zr_links__load_unlink(const char *remote, const char *producer, const char *consumer, void *data)
{
	struct zr_remotes *rs = data;
	struct link *l = calloc(1, sizeof(*l));
	if (!l || !(l->remote = strdup(remote)) || !(l->path = strdup(producer)) ||
	    !(l->consumer = strdup(consumer))) {
		if (l) {
			free(l->remote);
			free(l->path);
		}
		free(l);
		return -ENOMEM;
	}
	/* Sent when that remote's event stream connects. */
	l->removing = true;
	zr_list_push_back(&rs->links, &l->link);
	return 0;
}


void zr_links__free_all(struct zr_remotes *rs)
{
	while (!zr_list_empty(&rs->links)) {
		struct link *l = container_of(rs->links.next, struct link, link);
		link_forget_calls(rs, l);
		link_free(l);
	}
}
