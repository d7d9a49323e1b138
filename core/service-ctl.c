/* A service's ctl file: its commands parsed here, run by the service's own functions. */
#include "service-ctl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "service-parent.h"
#include "util/cleanup.h"
#include "util/log.h"
#include "util/words.h"

int zr_service_ctl(struct zr_service *s, const struct zr_actor *who, const char *buf, size_t len,
		   char **why, zr_done_cb cb, void *data)
{
	_cleanup_free_ char *text = strndup(buf, len);
	char *w[5] = {0};
	if (!text) {
		return -ENOMEM;
	}
	size_t n = zr_words(text, w, 5);
	if (n == 1 && strcmp(w[0], "force") == 0) {
		s->force_delete = true;
		cb(0, data);
		return 0;
	}
	bool add = n == 4 && strcmp(w[1], "add") == 0;
	if (n == 4 && strcmp(w[0], "consumer") == 0 && (add || strcmp(w[1], "remove") == 0)) {
		return zr_service_rconsumer(s, w[2], w[3], add, why, cb, data);
	}
	if (n == 2 && strcmp(w[0], "parent") == 0) {
		return zr_service_set_parent(s, who, strcmp(w[1], "none") == 0 ? NULL : w[1], why, cb,
					     data);
	}
	if (n == 2 && strcmp(w[0], "recurse") == 0) {
		return zr_service__recurse(s, who, w[1], why, cb, data);
	}
	return zr_fail(why, -EINVAL, "unknown command: want 'force', 'parent TEMPLATE/SERVICE|none', "
		       "'recurse ACTION' or 'consumer add|remove ROBOT TEMPLATE/SERVICE'");
}
