/* The HTTP API: the tree served over HTTP (DESIGN §7) by libmicrohttpd on the robot's loop. */
#pragma once
#include <stddef.h>
#include <uv.h>

struct zr_robot;
struct zr_tree;
struct zr_api;

struct zr_api_config {
	const char *listen;      /* "ADDR:PORT" ("127.0.0.1:6600", "[::1]:0"); port 0 = any free one */
	const char *data_dir;    /* where admin.token is kept (made at first start) */
	const char *token_file;  /* user tokens, one a line; NULL = none */
	const char *tls_cert;    /* PEM certificate chain and key files; both or neither */
	const char *tls_key;
	size_t body_max;         /* request body bound in bytes (413 beyond) */
	unsigned timeout;        /* seconds a request may take to arrive, and an idle connection lives */
	unsigned connections_max;
	unsigned per_ip_max;     /* connections from one client address; 0 = no bound */
	unsigned wait_max;       /* bound on ?wait=SECONDS */
};

/* Starts serving tree (of robot r; both borrowed, they must outlive the server) on loop.
 * Reads or makes the admin token and reads the user tokens. Returns 0, or a negative errno
 * with *ret_err (malloc'd) saying what failed: -EINVAL (bad address, token file, TLS files),
 * -ENOTSUP (no TLS in libmicrohttpd), -EADDRINUSE and other bind errors, -ENOMEM. */
int zr_api_create(uv_loop_t *loop, struct zr_robot *r, struct zr_tree *tree,
		  const struct zr_api_config *cfg, struct zr_api **ret, char **ret_err);

/* The address served, "http://127.0.0.1:6600" or "https://..."; borrowed, valid until destroy. */
const char *zr_api_url(const struct zr_api *api);

/* Closes every connection (requests still waiting get no answer: call this after the tree's
 * parked reads and the store's commits were answered) and frees the server once its loop
 * handles are closed. Accepts NULL. */
void zr_api_destroy(struct zr_api *api);
