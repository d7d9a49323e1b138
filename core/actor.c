/* Principals and the rules of the role model that are pure functions of them (actor.h). */
#include "actor.h"

#include <errno.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdio.h>
#include <string.h>

void zr_actor_admin(struct zr_actor *ret)
{
	*ret = (struct zr_actor){.role = ZR_ROLE_ADMIN};
	strcpy(ret->id, "admin");
}

int zr_actor_user(const char *token, size_t len, struct zr_actor *ret)
{
	unsigned char digest[32];
	/* A hash, so the store and info name the token without holding anything that opens
	 * the robot; 64 bits tell the tokens of one robot apart. */
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, token, len, digest) < 0) {
		return -EIO;
	}
	struct zr_actor a = {.role = ZR_ROLE_USER};
	int n = snprintf(a.id, sizeof(a.id), "user:");
	for (size_t i = 0; i < 8; i++) {
		n += snprintf(a.id + n, sizeof(a.id) - (size_t)n, "%02x", digest[i]);
	}
	*ret = a;
	return 0;
}

void zr_actor_local(uid_t uid, uid_t robot_uid, struct zr_actor *ret)
{
	if (uid == 0 || uid == robot_uid) {
		zr_actor_admin(ret);
		return;
	}
	*ret = (struct zr_actor){.role = ZR_ROLE_LOCAL};
	snprintf(ret->id, sizeof(ret->id), "uid:%u", (unsigned)uid);
}

void zr_actor_secret(const char *guid, struct zr_actor *ret)
{
	*ret = (struct zr_actor){.role = ZR_ROLE_SECRET};
	snprintf(ret->id, sizeof(ret->id), "%s", guid);
}

void zr_actor_from_creator(const char *creator, struct zr_actor *ret)
{
	if (!creator || strcmp(creator, "admin") == 0) {
		zr_actor_admin(ret);
		return;
	}
	*ret = (struct zr_actor){.role = strncmp(creator, "uid:", 4) == 0 ? ZR_ROLE_LOCAL : ZR_ROLE_USER};
	snprintf(ret->id, sizeof(ret->id), "%s", creator);
}

bool zr_actor_limited(const struct zr_actor *a)
{
	return a && (a->role == ZR_ROLE_USER || a->role == ZR_ROLE_LOCAL);
}

const char *zr_actor_creator(const struct zr_actor *a)
{
	if (!a) {
		return "admin";
	}
	return a->role == ZR_ROLE_SECRET ? NULL : a->id;
}

bool zr_actor_may_act(const struct zr_actor *a, const char *creator, const char *guid)
{
	if (!a) {
		return true;
	}
	switch (a->role) {
	case ZR_ROLE_ADMIN:
	case ZR_ROLE_LOCAL:
		return true;
	case ZR_ROLE_USER:
		return creator && strcmp(creator, a->id) == 0;
	case ZR_ROLE_SECRET:
		return guid && strcmp(guid, a->id) == 0;
	}
	return false;
}

bool zr_actor_may_delete(const struct zr_actor *a, const char *creator, const char *guid)
{
	return !(a && a->role == ZR_ROLE_SECRET) && zr_actor_may_act(a, creator, guid);
}

bool zr_actor_is_admin(const struct zr_actor *a)
{
	return !a || a->role == ZR_ROLE_ADMIN;
}

const char *zr_actor_name(const struct zr_actor *a)
{
	switch (a ? a->role : ZR_ROLE_ADMIN) {
	case ZR_ROLE_ADMIN:
		return "the admin";
	case ZR_ROLE_USER:
		return "a user token";
	case ZR_ROLE_SECRET:
		return "a service's secret";
	case ZR_ROLE_LOCAL:
		return "a local user";
	}
	return "someone";
}
