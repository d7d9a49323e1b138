/* A service's ctl file (DESIGN §2): the commands a user or another robot writes there. */
#pragma once
#include <stddef.h>

#include "service.h"

/* One write to s's ctl: "force" lets the next rmdir delete a service that has consumers;
 * "consumer add|remove ROBOT T/S" is another robot telling that its service T/S started or
 * stopped using this one. Returns 0 and calls cb exactly once (possibly before returning: at
 * once for "force", once stored for a consumer), or a negative errno with a malloc'd *why
 * (-EINVAL: unknown command) and no call of cb. */
int zr_service_ctl(struct zr_service *s, const char *buf, size_t len, char **why, zr_done_cb cb,
		   void *data);
