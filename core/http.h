/* An HTTP answer as a peer gave it: made by the client (remote/client.h) and passed on as it
 * is by the tree's passthrough to a remote robot (tree.h zr_tree_forward). */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct zr_http_resp {
	long status;
	const char *body; /* NUL-terminated; "" for none */
	size_t len;
	const char *content_type; /* NULL when none */
	uint64_t task;            /* Zr-Task, 0 when absent */
	const char *task_state;   /* Zr-Task-State, NULL when absent */
	const char *location;     /* Location, NULL when absent */
	int64_t lines;            /* Zr-Lines (a journal's lines so far), -1 when absent */
	double secs;              /* from the start of the request to the answer */
};

/* The one errno table of the HTTP edges (README "HTTP API"): the server answers an errno with
 * a status (api/status.c), the client reads an error answer back into an errno (remote/). */

/* The status for a positive errno; 500 for one the table does not know. */
unsigned zr_http_status(int err);
/* The name of a positive errno ("ENOENT"), as error bodies carry it; "EIO" when unknown. */
const char *zr_http_errno_name(int err);
/* 0 for a 2xx answer, else its negative errno: the one its JSON body names ("error"), else the
 * one its status stands for (-EIO for others). */
int zr_http_answer_errno(const struct zr_http_resp *r);
