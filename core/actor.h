/* Who asks: the principal a front end passes down with each request that changes the robot
 * (README "Security"), and the rules of the role model that need no lookup. The model's entry
 * points (service.h) take one; NULL there means the robot itself (admin rights). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum zr_role {
	ZR_ROLE_ADMIN,  /* the admin token, local root or the robot's own uid */
	ZR_ROLE_USER,   /* an HTTP user token (--token-file) */
	ZR_ROLE_SECRET, /* a service's secret: that service only */
	ZR_ROLE_LOCAL,  /* another local uid (a mount with --allow-other): the mode bits rule */
};

/* "user:" + 16 hex digits, "uid:" + a 32-bit number, "admin", or a guid (36): with room. */
#define ZR_ACTOR_ID_MAX 40

struct zr_actor {
	enum zr_role role;
	/* Admin, user and local: the creator id a service it makes keeps ("admin",
	 * "user:<first 16 hex digits of SHA-256(token)>", "uid:N"); never the token itself.
	 * Secret: the guid of its service. */
	char id[ZR_ACTOR_ID_MAX];
};

/* The admin (also what NULL stands for). */
void zr_actor_admin(struct zr_actor *ret);
/* A user token (len bytes, not logged, not kept): -EIO when hashing fails. */
int zr_actor_user(const char *token, size_t len, struct zr_actor *ret);
/* A local uid: root and the robot's own uid are the admin. */
void zr_actor_local(uid_t uid, uid_t robot_uid, struct zr_actor *ret);
/* The secret of the service whose guid is given. */
void zr_actor_secret(const char *guid, struct zr_actor *ret);

/* The actor a creator id stands for ("admin", "user:...", "uid:N"): an action's own requests
 * (fd 3) are its service's creator's. */
void zr_actor_from_creator(const char *creator, struct zr_actor *ret);

/* Quotas apply to user tokens and local uids other than root (README "Security"). */
bool zr_actor_limited(const struct zr_actor *a);
/* The creator id a service made by a gets: "admin" for the admin (and NULL). A secret makes
 * no services: NULL. */
const char *zr_actor_creator(const struct zr_actor *a);
/* Whether a may act on (run actions, cancel tasks), change (data, ctl, upgrade) and read the
 * data of the service with this creator id and guid: the admin, its creator, its secret; a
 * local user as the mode bits say (the kernel checked them). */
bool zr_actor_may_act(const struct zr_actor *a, const char *creator, const char *guid);
/* Whether a may delete that service: as zr_actor_may_act, but never a secret. */
bool zr_actor_may_delete(const struct zr_actor *a, const char *creator, const char *guid);
/* Whether a may run an action marked "admin": true. */
bool zr_actor_is_admin(const struct zr_actor *a);
/* Words for a refusal: "the admin", "a user token", "a service's secret", "a local user". */
const char *zr_actor_name(const struct zr_actor *a);
