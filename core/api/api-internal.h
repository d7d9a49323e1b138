/* The HTTP API's internals, shared by its files: server.c (libmicrohttpd on the loop,
 * connections, deadlines), auth.c (tokens and scopes), status.c (errno → HTTP status and
 * answers), request.c (the tree's operations as HTTP methods), stream.c (Server-Sent Events). */
#pragma once
#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "api.h"
#include "journal.h"
#include "tree.h"
#include "util/buf.h"
#include "util/list.h"
#include "waitq.h"

struct zr_robot;
struct zr_api_req;

enum zr_api_role { ZR_API_NOBODY, ZR_API_ADMIN, ZR_API_USER, ZR_API_SECRET };
enum zr_api_method { ZR_API_GET, ZR_API_HEAD, ZR_API_POST, ZR_API_PUT, ZR_API_DELETE, ZR_API_OTHER };

/* A user token and the principal it stands for, worked out once when the file is loaded. */
struct zr_api_user {
	char *token;
	struct zr_actor actor;
};

struct zr_api_tokens {
	char *admin;  /* 64 hex digits */
	struct zr_api_user *users;
	size_t n_users;
};

/* One TCP connection (libmicrohttpd's socket context). */
struct zr_api_conn {
	struct zr_list link; /* in api->conns */
	int fd;              /* borrowed from libmicrohttpd: shutdown(2) only, never close(2) */
	long long since_ms;  /* when it opened or its last request ended */
	bool busy;           /* a whole request arrived and is being answered */
	bool dropped;
};

struct zr_api {
	uv_loop_t *loop;
	struct zr_robot *robot;
	struct zr_tree *tree;
	struct zr_api_config cfg; /* strings owned */
	struct MHD_Daemon *daemon;
	uv_poll_t poll;     /* libmicrohttpd's epoll fd */
	uv_timer_t timer;   /* MHD_get_timeout(), or 0 ms after a resume */
	uv_timer_t tick;    /* once a second: slow and gone clients, event stream heartbeats */
	uv_timer_t expiry;  /* the earliest ?wait deadline */
	long long expiry_ms; /* when expiry fires, 0 = not armed */
	int open_handles;
	bool running;  /* inside MHD_run(): it must not be called again from a callback */
	bool kicked;   /* run libmicrohttpd again at once */
	bool closing;
	struct zr_api_tokens tokens;
	struct zr_list conns;    /* struct zr_api_conn */
	struct zr_list requests; /* struct zr_api_req, every one alive */
	struct zr_list waiting;  /* suspended requests */
	char *url;
	char *cert, *key; /* PEM text */
};

typedef void (*zr_api_step_fn)(struct zr_api_req *q);

/* The dashboard's files carry the most: Cache-Control, ETag and three security headers. */
#define ZR_API_MAX_HEADERS 6

/* One HTTP request, from its headers to the end of its answer. It moves by steps: each step
 * either prepares the answer (ready), or starts an operation that answers through a callback
 * (pending; the connection is suspended meanwhile), or sets the next step. */
struct zr_api_req {
	struct zr_api *api;
	struct MHD_Connection *conn; /* NULL once libmicrohttpd ended the request */
	struct zr_api_conn *c;       /* NULL once the request ended */
	struct zr_list link;         /* in api->requests */
	struct zr_list wait_link;    /* in api->waiting while suspended */
	enum zr_api_method method;
	char *method_name;
	char *url;
	char *path;   /* the tree path after /v1/, without a trailing '/' ("" = the root) */
	char **comps; /* its components */
	size_t n_comps;
	bool metrics; /* GET /metrics */
	enum zr_api_role role;
	struct zr_actor actor; /* who asks, for the model (set with role) */
	long long start_ns;

	struct zr_buf body;
	bool too_big;
	size_t discarded;

	zr_api_step_fn step;
	bool pending;   /* waiting for a callback */
	bool suspended;
	bool ended;     /* libmicrohttpd is done with it: freed when no operation is in flight */
	bool gone;      /* the client went away while we waited */
	bool expired;   /* the ?wait deadline passed */
	unsigned ops;   /* operations in flight that cannot be cancelled (commits) */

	uint64_t ino;   /* the node walked to, one reference counted while counted */
	bool counted;
	struct zr_tree_attr attr;
	struct zr_handle *h;
	struct zr_tree_req *treq; /* a parked read */
	struct zr_tree_fwd *fwd;  /* a request passed on to another robot */
	size_t fwd_at;            /* where in path that robot's part starts */
	uint64_t off;
	int read_err;
	bool eof;
	ssize_t result;
	bool flushed;
	long long lasterror_ns; /* the service's lasterror time before a write */

	double wait;    /* ?wait=SECONDS, < 0 = not given */
	long long deadline_ms;
	struct zr_journal *journal; /* borrowed from the model while h is open */
	struct zr_waiter waiter;    /* on journal->waitq */
	uint64_t line;              /* the next journal line to deliver */

	/* The answer. */
	bool ready;
	unsigned status;
	const char *content_type;
	struct zr_buf out;
	const char *hdr_names[ZR_API_MAX_HEADERS];
	char *hdr_values[ZR_API_MAX_HEADERS];
	int n_hdrs;

	/* Server-Sent Events. */
	bool sse;
	bool heartbeat;
	long long sent_ms;
	struct zr_buf sse_out;
};

/* server.c */
long long zr_api__now_ms(void);
/* An operation the request waited for answered: run its next step (resumes the connection). */
void zr_api__wake(struct zr_api_req *q);
/* Gives a waiting request a deadline secs from now (the first deadline given stays). */
void zr_api__deadline(struct zr_api_req *q, double secs);
/* An operation counted in q->ops answered. Returns false when the request ended meanwhile
 * (it is freed now if that was its last operation): the caller must not touch it. */
bool zr_api__op_done(struct zr_api_req *q);
/* Suspends the connection until zr_api__wake; only from libmicrohttpd's callbacks. */
void zr_api__suspend(struct zr_api_req *q);
const char *zr_api__header(const struct zr_api_req *q, const char *name);
const char *zr_api__arg(const struct zr_api_req *q, const char *name);

/* forward.c: passes q on to the robot whose root the walk stopped at (q->ino, the rest of the
 * path at q->fwd_at). */
void zr_api__proxy(struct zr_api_req *q);
/* forward.c: drops a request passed on to another robot (the client went away); false when
 * there is none. */
bool zr_api__cancel_forward(struct zr_api_req *q);

/* auth.c */
int zr_api__tokens_load(struct zr_api *api, char **ret_err);
void zr_api__tokens_done(struct zr_api_tokens *t);
/* Decides who asks (q->role) and whether they may do this; answers 401 or 403 when not. */
void zr_api__authorize(struct zr_api_req *q);
/* Whether q's role may still do q by its path; else answers 403 and returns false. Asked
 * again when the request is served, since its body may arrive long after its headers: a
 * service named then may have been deleted and made again by someone else meanwhile. */
bool zr_api__in_scope(struct zr_api_req *q);

/* request.c: the most bytes of body q's target takes: --http-max-body, and for a write to an
 * action file --max-args-bytes, which the model would check only once the body is whole. */
size_t zr_api__body_cap(const struct zr_api_req *q);
/* Answers q 413 for a body over that bound, len its Content-Length (0: unknown, chunked). For
 * an action file the reason also goes to the service's lasterror, as a write's would, when
 * the caller may run that action. */
void zr_api__body_refuse(struct zr_api_req *q, uint64_t len);

/* status.c */
/* The HTTP status for a positive errno, and its name ("ENOENT"). */
unsigned zr_api__status(int err);
const char *zr_api__errno_name(int err);
/* Prepares the answer: status with body (copied) of content type ctype. */
void zr_api__answer(struct zr_api_req *q, unsigned status, const char *ctype, const char *body,
		    size_t len);
/* Prepares a JSON error answer {"error","errno","detail"} (err positive; detail NULL =
 * strerror). zr_api__fail_errno takes the status from the table. */
void zr_api__fail(struct zr_api_req *q, unsigned status, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void zr_api__fail_errno(struct zr_api_req *q, int err, const char *detail);
/* Adds a header to the answer (value copied). */
void zr_api__add_header(struct zr_api_req *q, const char *name, const char *value);

/* request.c */
/* Looks at a request whose headers arrived: URL, auth, size. Answers at once or sets the step. */
void zr_api__begin(struct zr_api_req *q);
/* Drops what the request holds in the tree (parked read, journal wait, handle, node). */
void zr_api__release(struct zr_api_req *q);

/* stream.c */
/* Starts an event stream of q->journal from q->line: the answer is ready. */
void zr_api__sse_start(struct zr_api_req *q);
/* The libmicrohttpd response of an event stream. */
struct MHD_Response *zr_api__sse_response(struct zr_api_req *q);
/* Once a second: a stream idle for long sends a comment, so proxies keep it open. */
void zr_api__sse_tick(struct zr_api_req *q, long long now_ms);
