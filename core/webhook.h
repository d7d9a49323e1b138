/* Webhooks (README "Webhooks"): the robot's events POSTed to HTTP receivers, signed with a
 * per-hook secret, in order per hook, retried with backoff until a 2xx, kept in the store
 * until delivered. Everything runs on the loop; requests go through one libcurl multi
 * (remote/client.h), so a dead receiver costs a socket, never a wait. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "util/buf.h"

struct zr_robot;
struct zr_store;
struct zr_webhooks;

#define ZR_WEBHOOK_MAX 64             /* hooks per robot (EDQUOT beyond) */
#define ZR_WEBHOOK_URL_MAX 2048       /* bytes */
#define ZR_WEBHOOK_TYPES_MAX 32       /* event types per hook */
#define ZR_WEBHOOK_TYPE_MAX 64        /* bytes of one type */
#define ZR_WEBHOOK_PENDING_MAX 10000  /* per hook; beyond, the oldest is dropped */
#define ZR_WEBHOOK_FAILING 5          /* failed attempts in a row that make a hook "failing" */
#define ZR_WEBHOOK_CONNECT_TIMEOUT_MS 5000
#define ZR_WEBHOOK_TIMEOUT_MS 10000

/* Answers a change (add, remove) once it is durable (0) or could not be (a negative errno). */
typedef void (*zr_webhooks_done_cb)(int err, void *data);

/* Creates the webhooks of robot r (borrowed; it outlives them; NULL: no webhook.added and
 * webhook.removed events, for tests) kept in store (borrowed; NULL: nothing is kept). The
 * robot hands them nothing until zr_robot_set_webhooks. */
int zr_webhooks_create(uv_loop_t *loop, struct zr_robot *r, struct zr_store *store,
		       struct zr_webhooks **ret);
/* Loads the stored hooks and their pending deliveries: call between zr_store_open and the
 * store's first change (store.h). Delivery starts with zr_webhooks_start. */
int zr_webhooks_load(struct zr_webhooks *wh);
/* Starts delivering what is pending (hooks added later start at once). */
void zr_webhooks_start(struct zr_webhooks *wh);
/* Drops the requests in flight (their rows stay in the store for the next run), forgets the
 * store and frees everything once the timer is closed: run the loop afterwards. NULL is fine. */
void zr_webhooks_destroy(struct zr_webhooks *wh);

/* One robot event (type "task.finished", line its compact JSON, both borrowed for the call):
 * queued for every hook whose types match, and stored with the robot's own changes. */
void zr_webhooks_event(struct zr_webhooks *wh, const char *type, const char *line);

/* The commands of @robot/webhooks/add ("URL [TYPE...]") and @robot/webhooks/ctl ("remove
 * ID"): 0 when accepted, then cb fires once the change is durable (never before this
 * returns); or a negative errno with *why (malloc'd) and cb never fires: -EINVAL (a bad line,
 * an unknown command), -EDQUOT (ZR_WEBHOOK_MAX hooks), -ENOENT (no such hook), -ENOMEM. */
int zr_webhooks_command(struct zr_webhooks *wh, bool add, const char *buf, size_t len,
			zr_webhooks_done_cb cb, void *data, char **why);
/* Removes hook id (its pending deliveries go with it), as "remove ID" does. */
int zr_webhooks_remove(struct zr_webhooks *wh, uint64_t id, zr_webhooks_done_cb cb, void *data,
		       char **why);

/* ---- what the tree shows ---- */

/* The i-th hook's id in ascending order, 0 past the last. */
uint64_t zr_webhooks_id(const struct zr_webhooks *wh, size_t i);
bool zr_webhooks_has(const struct zr_webhooks *wh, uint64_t id);
/* Appends a file of hook id to b: "url" (credentials masked), "events", "status" or "secret".
 * -ENOENT for no such hook or file, -ENOMEM. */
int zr_webhooks_file(const struct zr_webhooks *wh, uint64_t id, const char *file, struct zr_buf *b);
/* Appends the webhook metrics in Prometheus text to b; 0 or -ENOMEM. */
int zr_webhooks_metrics(const struct zr_webhooks *wh, struct zr_buf *b);

/* ---- pure helpers, for the tests ---- */

/* Parses an add line into its URL and types (both malloc'd; the types a NULL-terminated
 * array, empty for "every event"). -EINVAL with *why for a bad line. */
int zr_webhook_parse(const char *line, char **ret_url, char ***ret_types, size_t *ret_n, char **why);
/* Whether event type matches pattern: equal, "*", or "P.*" for types starting with "P.". */
bool zr_webhook_match(const char *pattern, const char *type);
/* The wait before the next attempt after fails failed attempts in a row (1 s, 2 s, 4 s, ...
 * capped at 60 s); 0 for none. */
uint64_t zr_webhook_backoff_ms(unsigned fails);
/* The GitHub-style signature of body with key: "sha256=" and 64 hex digits, into ret (at least
 * ZR_WEBHOOK_SIG_LEN + 1 bytes). 0 or a negative errno. */
#define ZR_WEBHOOK_SIG_LEN (7 + 64)
int zr_webhook_sign(const char *key, const void *body, size_t len, char *ret);
