/* Quotas per creator id: one counter pair per id in a map (quota.h). */
#include "quota.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

void zr_quota_done(struct zr_quota *q)
{
	size_t i = 0;
	void *v;
	while (zr_map_next(&q->by_id, &i, NULL, NULL, &v)) {
		free(v);
	}
	zr_map_done(&q->by_id);
}

bool zr_quota_counted(const char *creator)
{
	return creator && strcmp(creator, "admin") != 0;
}

struct zr_quota_use zr_quota_get(const struct zr_quota *q, const char *creator)
{
	const struct zr_quota_use *u = zr_quota_counted(creator) ? zr_map_get(&q->by_id, creator) : NULL;
	return u ? *u : (struct zr_quota_use){0};
}

int zr_quota_check_service(const struct zr_quota *q, const char *creator, char **ret_err)
{
	if (!zr_quota_counted(creator) || zr_quota_get(q, creator).services < q->max_services) {
		return 0;
	}
	return zr_fail(ret_err, -EDQUOT, "%s has %u services, the most a creator may have "
		       "(--max-services-per-token)", creator, q->max_services);
}

int zr_quota_check_task(const struct zr_quota *q, const char *creator, char **ret_err)
{
	if (!zr_quota_counted(creator) || zr_quota_get(q, creator).tasks < q->max_tasks) {
		return 0;
	}
	return zr_fail(ret_err, -EAGAIN, "the services of %s have %u tasks queued or running, the "
		       "most at once (--max-tasks-per-token)", creator, q->max_tasks);
}

static int add(struct zr_quota *q, const char *creator, bool services, int delta)
{
	if (!zr_quota_counted(creator)) {
		return 0;
	}
	struct zr_quota_use *u = zr_map_get(&q->by_id, creator);
	if (!u) {
		if (delta <= 0) {
			return 0;
		}
		if (!(u = calloc(1, sizeof(*u)))) {
			return -ENOMEM;
		}
		if (zr_map_put(&q->by_id, creator, u) < 0) {
			free(u);
			return -ENOMEM;
		}
	}
	unsigned *n = services ? &u->services : &u->tasks;
	*n = delta < 0 && (unsigned)-delta > *n ? 0 : (unsigned)((int)*n + delta);
	return 0;
}

int zr_quota_services(struct zr_quota *q, const char *creator, int delta)
{
	return add(q, creator, true, delta);
}

int zr_quota_tasks(struct zr_quota *q, const char *creator, int delta)
{
	return add(q, creator, false, delta);
}
