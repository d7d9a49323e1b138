/* A service's ctl file (DESIGN §2): the commands a user or another robot writes there. */
#pragma once
#include <stddef.h>

#include "service.h"

/* One write to s's ctl, as who (borrowed; NULL: the robot), who may change s (the caller
 * checked): "force" lets the next rmdir delete a service that has consumers or children (then
 * with its children, deepest first); "parent T/S" and "parent none" set or clear its parent
 * (zr_service_set_parent); "recurse ACTION" queues ACTION on s then on each descendant
 * (zr_service__recurse); "consumer add|remove ROBOT T/S" is another robot telling that its
 * service T/S started or stopped using this one. Returns 0 and calls cb exactly once
 * (possibly before returning: at once for "force", once stored for the others), or a
 * negative errno with a malloc'd *why (-EINVAL: unknown command, bad parent, unknown action)
 * and no call of cb. */
int zr_service_ctl(struct zr_service *s, const struct zr_actor *who, const char *buf, size_t len,
		   char **why, zr_done_cb cb, void *data);
