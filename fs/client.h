/* Reading a running robot for the operator's commands (zrobot ls, status, logs, do, tasks,
 * apply, export, graph): through its mount, or over its HTTP API (/v1/<path>) with a token.
 * Paths are relative to the tree's root ("t/s/info"). Every function returns 0 or a negative
 * errno; buffers and arrays they fill belong to the caller. */
#pragma once
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/buf.h"

struct zr_client {
	char *mount;  /* the mount point (owned), or NULL over HTTP */
	char *url;    /* the base URL without a trailing '/' (owned), or NULL through the mount */
	char *token;  /* the bearer token (owned) over HTTP */
	char *shown;  /* what messages name: the mount, or the URL with credentials masked */
};

/* Takes --mount DIR, --url URL and --token-file F out of argv (anywhere on the line), shifting
 * the rest down and updating *argc; then opens the client: the default mount when neither is
 * given, the token read from F. -EINVAL for a wrong combination (a message said), else 0. */
int zr_client_open(struct zr_client *c, int *argc, char **argv);
/* Opens the client without a command line, for commands that parse their own: over HTTP when
 * url is set (then token_file is read: -EINVAL with a message when it cannot be), else through
 * mount (NULL: the default one). The strings are copied. -ENOMEM, else 0. */
int zr_client_init(struct zr_client *c, const char *mount, const char *url, const char *token_file);
/* Frees what open or init made; c may then be opened again. */
void zr_client_close(struct zr_client *c);

/* All of fd into b, at most max bytes (-E2BIG past it); EINTR retried. */
int zr_client_read_fd(int fd, struct zr_buf *b, size_t max);
/* The token in file ("-": stdin): its first line (owned), or NULL when it cannot be read. */
char *zr_client_read_token(const char *file);

/* The whole file at path into out; at most 16 MiB. Over HTTP, a 4xx/5xx answer's errno. */
int zr_client_read(struct zr_client *c, const char *path, struct zr_buf *out);
/* The JSON document in the file at path, a new reference in *ret; -EINVAL when the file is not
 * JSON, else as zr_client_read. */
int zr_client_read_json(struct zr_client *c, const char *path, json_t **ret);
/* The names in the directory at path, sorted, without "." and "..": a NULL-terminated array
 * of owned strings in *names (free with zr_client_free_names). */
int zr_client_list(struct zr_client *c, const char *path, char ***names);
void zr_client_free_names(char **names);

/* Through the mount only (c->mount set): writes len bytes of body to the file at path and reads
 * the answer the robot gives on the same descriptor (@robot/blueprint's outcome), at most max
 * bytes, into out (the caller's, appended to). Returns a negative errno when the file cannot be
 * opened or written, out untouched; else 0, with the read's own result in *ret_read: 0, or the
 * errno the robot answered with after what out holds (a refused blueprint). */
int zr_client_write_read(struct zr_client *c, const char *path, const char *body, size_t len,
			 size_t max, struct zr_buf *out, int *ret_read);
/* Over HTTP only (c->url set): POSTs len bytes of body as Content-Type type to
 * /v1/<path><query> (query NULL or "?..."). 0 once the robot answered, whatever the status: the
 * status in *ret_code, the answer's body in out (an empty buffer of the caller's, which then
 * owns it). -EHOSTUNREACH (a message said) when the robot cannot be reached; -ENOMEM. */
int zr_client_post(struct zr_client *c, const char *path, const char *query, const char *type,
		   const char *body, size_t len, struct zr_buf *out, long *ret_code);

/* Queues the action at "T/S/actions/A" with payload (one line, may be empty) and waits for its
 * end: the result (or the error text of a failed task) in out, the task's state ("ok",
 * "error", "timeout", "cancelled"...) in *state (owned). on_queued (may be NULL) gets the id of
 * the task over HTTP, where the answer names it. 0 once the task ended; a negative errno when
 * it could not be queued. */
int zr_client_act(struct zr_client *c, const char *path, const char *payload,
		  void (*on_queued)(long id, void *data), void *data, struct zr_buf *out,
		  char **state);

/* Follows the journal at path (a log): calls on_text with what is there, then with every new
 * piece as it comes, until on_text returns false or an error. */
int zr_client_follow(struct zr_client *c, const char *path,
		     bool (*on_text)(const char *p, size_t n, void *data), void *data);
