/* Shared by remote.c (the registry, requests, status, event stream) and proxy.c (inodes,
 * listings and the file operations). */
#pragma once
#include <jansson.h>

#include "client.h"
#include "remote.h"
#include "tree-provider.h"
#include "util/buf.h"
#include "util/list.h"
#include "util/map.h"

/* How long a listing may be trusted when no event said otherwise. */
#define ZR_REMOTE_TTL_MS 1000

/* One entry of a remote directory listing. */
struct rentry {
	char *name;
	char *target; /* symlinks */
	mode_t mode;
	uint64_t size;
	long long mtime_ns;
};

struct listing {
	struct rentry *e;
	size_t n;
	uint64_t at; /* uv_now when fetched */
};

struct rnode {
	struct zr_tree_node base; /* ino (0 while in no tree), nlookup */
	struct zr_remote *rm;
	char *path; /* from the remote's root: "" is the root, "node/n1/state" */
	char *key;  /* "<remote id>/<path>" in rs->by_key */
	unsigned nopen;
	mode_t mode; /* as last listed (0 until then) */
};

struct zr_remote {
	struct zr_remotes *rs;
	uint64_t id;
	char *name, *url, *token_file;
	struct curl_slist *headers; /* Authorization */
	unsigned refs;              /* the registry, each node, each request in flight */
	bool removed;
	struct rnode *root;
	struct zr_map listings; /* path → struct listing, dropped at every change */
	struct zr_map fetches;  /* path → struct fetch in flight */
	/* status */
	bool up;
	int fail_err;      /* the last transport error while down */
	uint64_t fail_at;  /* its uv_now */
	double latency_ms;
	char *last_error;
	long long checked_ns;
	/* the event stream */
	struct zr_client_req *sse;
	uv_timer_t *retry;
	struct zr_buf sse_line;
};

struct zr_remotes {
	uv_loop_t *loop;
	struct zr_remotes_config cfg;
	struct zr_client *client;
	struct zr_remote **list;
	size_t n;
	struct zr_tree *tree; /* whose inode table has our nodes; NULL: none yet */
	struct zr_map by_key; /* key → rnode */
	uint64_t next_id;
	struct zr_list handles;
	struct zr_list failing; /* calls refused without a request, answered on the next turn */
	struct zr_list links;   /* struct link: our services' producers on remotes */
	struct zr_list link_calls; /* registrations on their way */
	char *self;
	uv_timer_t *fail_timer;
	bool stopping;
};

/* A request of a remote: cb gets 0 and the answer (2xx), or a negative errno (transport, or
 * the errno of an error answer) with r possibly set. The remote is held meanwhile. */
struct rcall;
typedef void (*rcall_cb)(int err, const struct zr_http_resp *r, void *data);
struct rcall_opts {
	const char *method;
	const char *path;  /* tree path from the remote's root */
	const char *query; /* "wait=30", or NULL */
	const char *ctype;
	const char *body;
	size_t len;
	long wait_ms; /* added to the timeout for a long poll */
};
struct rcall *zr_remote__call(struct zr_remote *rm, const struct rcall_opts *o, rcall_cb cb, void *data);
void zr_remote__cancel(struct rcall *c);

void zr_remote__ref(struct zr_remote *rm);
void zr_remote__unref(struct zr_remote *rm);
/* Something changed on the remote (an event, or our own write) at or under path prefix
 * (NULL: anywhere): forget the cached listings of it, and of @robot (which counts events). */
void zr_remote__invalidate(struct zr_remote *rm, const char *prefix);
bool zr_remote__affected(const char *path, const char *prefix);
/* The first n components of path (malloc'd), or NULL when it has fewer or is under @. */
char *zr_remote__prefix(const char *path, int n);
void zr_listing_free(struct listing *l);
/* Marks listings on their way stale: they were asked for before the change. */
void zr_remote__stale_fetches(struct zr_remote *rm, const char *svc);
/* Frees every handle (shutdown). */
void zr_rhandles_free_all(struct zr_remotes *rs);

/* remote.c: the remote of that name, or NULL. */
struct zr_remote *zr_remote__find(const struct zr_remotes *rs, const char *name);

/* links.c: sends every link to rm again (its event stream connected); frees them all
 * (shutdown); keeps an unregistration loaded from the store (zr_store_unlinks). */
void zr_links__resend(struct zr_remote *rm);
void zr_links__free_all(struct zr_remotes *rs);
int zr_links__load_unlink(const char *remote, const char *producer, const char *consumer, void *data);

/* listing.c: the listing of path on rm (cached, or fetched once for every caller meanwhile);
 * cb gets it (borrowed during the call) or a negative errno. */
typedef void (*zr_listing_cb)(int err, const struct listing *l, void *data);
void zr_listing_get(struct zr_remote *rm, const char *path, zr_listing_cb cb, void *data);
const struct rentry *zr_listing_find(const struct listing *l, const char *name);
/* Parses a remote's listing (the JSON body of GET /v1/DIR, len bytes) of folder dir ("" for
 * the remote's root) into *ret (the caller frees it with zr_listing_free). Entries that are not
 * safe to show are left out and passed to refused (NULL: not told) with their name and why
 * (both borrowed during the call). -EIO for a body that is no listing, -ENOMEM. Pure but for
 * refused: fuzz-listing calls it. */
typedef void (*zr_listing_refused_cb)(const char *name, const char *why, void *data);
int zr_listing_parse(const char *dir, const char *body, size_t len, zr_listing_refused_cb refused,
		     void *data, struct listing **ret);
/* A copy the caller owns (zr_listing_free), or NULL when out of memory. */
struct listing *zr_listing_copy(const struct listing *l);

/* services.c: mkdir and rmdir of the remote provider's nodes. */
void zr_rnode__mkdir(struct zr_tree_node *parent, const char *name, zr_tree_done_cb cb, void *data);
void zr_rnode__rmdir(struct zr_tree_node *parent, const char *name, zr_tree_done_cb cb, void *data);
char *zr_rnode__path_join(const char *dir, const char *name);
struct rnode *zr_rnode__of(struct zr_tree_node *n);

/* proxy.c */
struct rnode *zr_rnode_get(struct zr_remotes *rs, struct zr_remote *rm, const char *path);
void zr_rnode_maybe_free(struct zr_remotes *rs, struct rnode *n);
/* Frees every node (shutdown). */
void zr_rnodes_free_all(struct zr_remotes *rs);
/* One HTTP request passed on as it is (the HTTP API's /v1/@remote/NAME/...). */
struct zr_tree_fwd *zr_remote__forward(struct zr_remote *rm, const struct zr_tree_fwd_opts *o,
				       zr_tree_fwd_cb cb, void *data, int *ret_err);
void zr_remote__forward_cancel(struct zr_tree_fwd *f);
