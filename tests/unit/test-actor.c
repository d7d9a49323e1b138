/* The role model's pure rules (core/actor.c) and the quota counters (core/quota.c). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actor.h"
#include "quota.h"
#include "test.h"

TEST(ids)
{
	struct zr_actor a;
	zr_actor_admin(&a);
	ASSERT_EQ_INT(a.role, ZR_ROLE_ADMIN);
	ASSERT_EQ_STR(a.id, "admin");
	/* SHA-256("user-token-0123456789abcdef") starts with these 16 hex digits (sha256sum). */
	const char *tok = "user-token-0123456789abcdef";
	ASSERT_OK(zr_actor_user(tok, strlen(tok), &a));
	ASSERT_EQ_INT(a.role, ZR_ROLE_USER);
	ASSERT_EQ_STR(a.id, "user:6f56f59e53494b5b");
	ASSERT_TRUE(strstr(a.id, tok) == NULL);
	zr_actor_local(0, 1000, &a);
	ASSERT_EQ_INT(a.role, ZR_ROLE_ADMIN);
	zr_actor_local(1000, 1000, &a);
	ASSERT_EQ_INT(a.role, ZR_ROLE_ADMIN); /* the robot's own user */
	zr_actor_local(4294967294u, 0, &a);
	ASSERT_EQ_INT(a.role, ZR_ROLE_LOCAL);
	ASSERT_EQ_STR(a.id, "uid:4294967294");
	zr_actor_from_creator("user:6f56f59e53494b5b", &a);
	ASSERT_EQ_INT(a.role, ZR_ROLE_USER);
	ASSERT_EQ_STR(a.id, "user:6f56f59e53494b5b");
	zr_actor_from_creator("uid:7", &a);
	ASSERT_EQ_INT(a.role, ZR_ROLE_LOCAL);
	zr_actor_from_creator("admin", &a);
	ASSERT_EQ_INT(a.role, ZR_ROLE_ADMIN);
	zr_actor_secret("0b7e5c7a-0000-4000-8000-000000000001", &a);
	ASSERT_EQ_INT(a.role, ZR_ROLE_SECRET);
	ASSERT_EQ_STR(a.id, "0b7e5c7a-0000-4000-8000-000000000001");
}

TEST(rules)
{
	const char *guid = "0b7e5c7a-0000-4000-8000-000000000001";
	struct zr_actor admin, u1, u2, sec, other_sec, local;
	zr_actor_admin(&admin);
	ASSERT_OK(zr_actor_user("token-one-0123456789", 20, &u1));
	ASSERT_OK(zr_actor_user("token-two-0123456789", 20, &u2));
	zr_actor_secret(guid, &sec);
	zr_actor_secret("0b7e5c7a-0000-4000-8000-000000000002", &other_sec);
	zr_actor_local(1234, 0, &local);
	/* A service made by u1. */
	ASSERT_TRUE(zr_actor_may_act(NULL, u1.id, guid));
	ASSERT_TRUE(zr_actor_may_act(&admin, u1.id, guid));
	ASSERT_TRUE(zr_actor_may_act(&u1, u1.id, guid));
	ASSERT_FALSE(zr_actor_may_act(&u2, u1.id, guid));
	ASSERT_TRUE(zr_actor_may_act(&sec, u1.id, guid));
	ASSERT_FALSE(zr_actor_may_act(&other_sec, u1.id, guid));
	ASSERT_TRUE(zr_actor_may_act(&local, u1.id, guid)); /* the mode bits decide */
	ASSERT_TRUE(zr_actor_may_delete(&u1, u1.id, guid));
	ASSERT_FALSE(zr_actor_may_delete(&u2, u1.id, guid));
	ASSERT_FALSE(zr_actor_may_delete(&sec, u1.id, guid));
	ASSERT_TRUE(zr_actor_may_delete(&admin, u1.id, guid));
	/* A service made by the admin: no user token acts on it. */
	ASSERT_FALSE(zr_actor_may_act(&u1, "admin", guid));
	/* Admin-only actions. */
	ASSERT_TRUE(zr_actor_is_admin(NULL));
	ASSERT_TRUE(zr_actor_is_admin(&admin));
	ASSERT_FALSE(zr_actor_is_admin(&u1));
	ASSERT_FALSE(zr_actor_is_admin(&sec));
	ASSERT_FALSE(zr_actor_is_admin(&local));
	/* Creators and limits. */
	ASSERT_EQ_STR(zr_actor_creator(NULL), "admin");
	ASSERT_EQ_STR(zr_actor_creator(&u1), u1.id);
	ASSERT_EQ_STR(zr_actor_creator(&local), "uid:1234");
	ASSERT_NULL(zr_actor_creator(&sec));
	ASSERT_TRUE(zr_actor_limited(&u1));
	ASSERT_TRUE(zr_actor_limited(&local));
	ASSERT_FALSE(zr_actor_limited(&admin));
	ASSERT_FALSE(zr_actor_limited(NULL));
}

TEST(quota)
{
	struct zr_quota q = {.max_services = 2, .max_tasks = 3};
	char *why = NULL;
	ASSERT_OK(zr_quota_check_service(&q, "user:aa", &why));
	ASSERT_OK(zr_quota_services(&q, "user:aa", 1));
	ASSERT_OK(zr_quota_services(&q, "user:aa", 1));
	ASSERT_EQ_INT(zr_quota_check_service(&q, "user:aa", &why), -EDQUOT);
	ASSERT_NOT_NULL(why);
	ASSERT_TRUE(strstr(why, "--max-services-per-token") != NULL);
	free(why);
	why = NULL;
	/* Another creator has its own count; the admin none. */
	ASSERT_OK(zr_quota_check_service(&q, "uid:7", &why));
	for (int i = 0; i < 10; i++) {
		ASSERT_OK(zr_quota_services(&q, "admin", 1));
	}
	ASSERT_OK(zr_quota_check_service(&q, "admin", &why));
	ASSERT_EQ_INT(zr_quota_get(&q, "admin").services, 0);
	/* A deletion frees a slot; counts never go below 0. */
	ASSERT_OK(zr_quota_services(&q, "user:aa", -1));
	ASSERT_OK(zr_quota_check_service(&q, "user:aa", &why));
	ASSERT_OK(zr_quota_services(&q, "user:aa", -5));
	ASSERT_EQ_INT(zr_quota_get(&q, "user:aa").services, 0);
	ASSERT_OK(zr_quota_services(&q, "user:new", -1));
	ASSERT_EQ_INT(zr_quota_get(&q, "user:new").services, 0);
	/* Tasks: EAGAIN at the limit. */
	for (int i = 0; i < 3; i++) {
		ASSERT_OK(zr_quota_check_task(&q, "user:aa", &why));
		ASSERT_OK(zr_quota_tasks(&q, "user:aa", 1));
	}
	ASSERT_EQ_INT(zr_quota_check_task(&q, "user:aa", &why), -EAGAIN);
	ASSERT_TRUE(strstr(why, "--max-tasks-per-token") != NULL);
	free(why);
	why = NULL;
	ASSERT_OK(zr_quota_tasks(&q, "user:aa", -1));
	ASSERT_OK(zr_quota_check_task(&q, "user:aa", &why));
	ASSERT_EQ_INT(zr_quota_get(&q, "user:aa").tasks, 2);
	zr_quota_done(&q);
}

int main(void)
{
	RUN_TEST(ids);
	RUN_TEST(rules);
	RUN_TEST(quota);
	return 0;
}
