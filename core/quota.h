/* Quotas per creator id (README "Security"): services created and live, and tasks queued or
 * running at once, for user tokens and local uids other than root. Counters, not walks: each
 * request costs one map lookup. The admin ("admin") is never counted. */
#pragma once
#include <stdbool.h>
#include "util/map.h"

struct zr_quota_use {
	unsigned services; /* live services this id created (deleted ones freed their slot) */
	unsigned tasks;    /* user-lane tasks of those services, queued, committing or running */
};

struct zr_quota {
	struct zr_map by_id; /* creator id → struct zr_quota_use, owned */
	unsigned max_services, max_tasks;
};

#define ZR_QUOTA_SERVICES 100
#define ZR_QUOTA_TASKS 1000

/* A zeroed struct zr_quota with its maxima set is ready; zr_quota_done frees its counters. */
void zr_quota_done(struct zr_quota *q);
/* Whether services of this creator id are counted (every id but "admin"). */
bool zr_quota_counted(const char *creator);
/* 0 when creator may have one more service (or task), else -EDQUOT (-EAGAIN for a task) with
 * *ret_err saying which limit. */
int zr_quota_check_service(const struct zr_quota *q, const char *creator, char **ret_err);
int zr_quota_check_task(const struct zr_quota *q, const char *creator, char **ret_err);
/* Adds delta to creator's count (never below 0); -ENOMEM when a first count cannot be kept. */
int zr_quota_services(struct zr_quota *q, const char *creator, int delta);
int zr_quota_tasks(struct zr_quota *q, const char *creator, int delta);
/* The counts of creator (zero when none). */
struct zr_quota_use zr_quota_get(const struct zr_quota *q, const char *creator);
