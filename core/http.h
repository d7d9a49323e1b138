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
