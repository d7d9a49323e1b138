/* Relations (DESIGN §8): the producers a consumes role names, min/max/auto, the check actions
 * wait on and its "relation <role> ok|error" state lines. */
#include "service.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "robot.h"
#include "service-internal.h"
#include "template.h"
#include "util/cleanup.h"
#include "util/log.h"

size_t zr_role_producers(const json_t *data, const char *role, const char **ret, size_t max)
{
	const json_t *v = json_object_get(data, role);
	if (json_is_string(v)) {
		/* An empty string is how a role is left without its producer. */
		if (!*json_string_value(v)) {
			return 0;
		}
		if (max > 0) {
			ret[0] = json_string_value(v);
		}
		return 1;
	}
	size_t n = 0, i;
	const json_t *p;
	json_array_foreach(v, i, p) {
		if (json_is_string(p) && *json_string_value(p)) {
			if (n < max) {
				ret[n] = json_string_value(p);
			}
			n++;
		}
	}
	return n;
}

int zr_service__role_paths(const json_t *data, const char *role, const char ***ret,
			   size_t *ret_n)
{
	size_t n = zr_role_producers(data, role, NULL, 0);
	const char **paths = NULL;
	if (n > 0) {
		paths = calloc(n, sizeof(*paths));
		if (!paths) {
			return -ENOMEM;
		}
		(void)zr_role_producers(data, role, paths, n);
	}
	*ret = paths;
	*ret_n = n;
	return 0;
}
