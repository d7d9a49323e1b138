/* The one errno ↔ HTTP status table (http.h), for the server's answers and the client's
 * reading of them. */
#include "http.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

/* to: the status an errno is answered with (the first row of an errno wins); from: the errno a
 * status means in an answer that names none (the first such row of a status wins); as: the
 * errno an answer naming this one means here (a remote's own remote refusing a connection is
 * that remote being down). */
static const struct {
	int err;
	unsigned status;
	bool to, from;
	int as;
} table[] = {
	{ENOENT, 404, true, true, 0},       /* no such node */
	{ENOTDIR, 404, true, false, 0},     /* a path through a file */
	{EISDIR, 405, true, false, 0},      /* a file operation on a directory */
	{EINVAL, 400, true, true, 0},       /* bad name, payload, arguments or data */
	{EEXIST, 409, true, true, 0},       /* the service exists */
	{ENOTEMPTY, 409, true, false, 0},
	{EBUSY, 409, true, false, 0},
	{ECANCELED, 409, true, false, 0},   /* the task was cancelled */
	{ESRCH, 409, true, false, 0},       /* a signal to a server that is not running */
	{EACCES, 403, true, true, 0},       /* not writable, or refused */
	{EACCES, 401, false, true, 0},      /* no or a bad token */
	{EACCES, 405, false, true, 0},
	{EPERM, 403, true, false, 0},       /* not allowed on this node (rmdir of a non-service...) */
	{EROFS, 403, true, false, 0},
	{EAGAIN, 429, true, true, 0},       /* a full queue, or the robot is stopping: retry later */
	{EAGAIN, 503, false, true, 0},
	{EDQUOT, 429, true, false, 0},      /* a creator's --max-services-per-token, remote consumers */
	{ENOSPC, 507, true, true, 0},       /* the store is out of room */
	{EFBIG, 413, true, true, 0},
	{E2BIG, 413, true, false, 0},
	{ENAMETOOLONG, 414, true, true, 0},
	{ETIMEDOUT, 504, true, true, 0},    /* a task's timeout, a remote robot too slow */
	{ENOTCONN, 502, true, true, 0},     /* a remote robot is down */
	{ECONNREFUSED, 502, true, false, ENOTCONN},
	{EHOSTUNREACH, 502, true, false, ENOTCONN},
	{ENOMEM, 503, true, false, 0},
	{ESHUTDOWN, 503, true, false, 0},   /* the robot is stopping */
	{EINTR, 503, true, false, 0},
	{ENOSYS, 501, true, false, 0},
	{EOPNOTSUPP, 501, true, false, 0},
	{EIO, 500, true, false, 0},         /* the store failed, or a task failed */
	{ECHILD, 500, true, false, 0},
};

#define N_ROWS (sizeof(table) / sizeof(table[0]))

unsigned zr_http_status(int err)
{
	for (size_t i = 0; i < N_ROWS; i++) {
		if (table[i].to && table[i].err == err) {
			return table[i].status;
		}
	}
	return 500;
}

const char *zr_http_errno_name(int err)
{
	const char *name = strerrorname_np(err);
	return name ? name : "EIO";
}

int zr_http_answer_errno(const struct zr_http_resp *r)
{
	if (r->status >= 200 && r->status < 300) {
		return 0;
	}
	json_t *j = r->status == 401 ? NULL : json_loadb(r->body, r->len, 0, NULL);
	const char *name = json_string_value(json_object_get(j, "error"));
	int err = 0;
	for (size_t i = 0; name && !err && i < N_ROWS; i++) {
		if (strcmp(zr_http_errno_name(table[i].err), name) == 0) {
			err = table[i].as ? table[i].as : table[i].err;
		}
	}
	json_decref(j);
	for (size_t i = 0; !err && i < N_ROWS; i++) {
		if (table[i].from && table[i].status == (unsigned)r->status) {
			err = table[i].err;
		}
	}
	return err ? -err : -EIO;
}
