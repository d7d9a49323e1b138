/* Reading a running robot for the operator's commands (zrobot ls, status, logs, do, tasks):
 * through its mount, or over its HTTP API (/v1/<path>) with a token. Paths are relative to the
 * tree's root ("t/s/info"). Every function returns 0 or a negative errno; buffers and arrays
 * they fill belong to the caller. */
#pragma once
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
void zr_client_close(struct zr_client *c);

/* All of fd into b, at most max bytes (-E2BIG past it); EINTR retried. */
int zr_client_read_fd(int fd, struct zr_buf *b, size_t max);
/* The token in file ("-": stdin): its first line (owned), or NULL when it cannot be read. */
char *zr_client_read_token(const char *file);

/* The whole file at path into out; at most 16 MiB. Over HTTP, a 4xx/5xx answer's errno. */
int zr_client_read(struct zr_client *c, const char *path, struct zr_buf *out);
/* The names in the directory at path, sorted, without "." and "..": a NULL-terminated array
 * of owned strings in *names (free with zr_client_free_names). */
int zr_client_list(struct zr_client *c, const char *path, char ***names);
void zr_client_free_names(char **names);

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
