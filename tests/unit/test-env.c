/* Unit tests for core/env.c: the clean environment of actions. */
#include "env.h"

#include "test.h"

/* The value of name in env (n entries), or NULL. */
static const char *find(char **env, size_t n, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++) {
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') {
			return env[i] + len + 1;
		}
	}
	return NULL;
}

static void free_env(char **env, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(env[i]);
	}
	free(env);
}

TEST(names)
{
	const char *why = NULL;
	static const char *const good[] = {"HTTP_PROXY", "_X", "A1", "PATH", "ZRX", "LC_ALL"};
	static const char *const bad[] = {"", "1A", "lower", "A-B", "A=B", "ZR_ROOT", "ZR_",
					  "ZROBOT_X", "DATA_PORT", "ARG_CMD", "A B"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		TEST_CASE("%s", good[i]);
		ASSERT_TRUE(zr_env_name_valid(good[i], &why));
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_CASE("%s", bad[i]);
		why = NULL;
		ASSERT_FALSE(zr_env_name_valid(bad[i], &why));
		ASSERT_NOT_NULL(why);
	}
	TEST_CASE_END();
	char longname[200];
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ASSERT_FALSE(zr_env_name_valid(longname, &why));
}

TEST(check)
{
	static const char *const good[] = {"{}", "{\"HTTP_PROXY\": \"http://p:3128\", \"PATH\": \"/x\"}",
					   "{\"EMPTY\": \"\"}"};
	static const char *const bad[] = {"[]", "[\"PATH\"]", "\"PATH\"", "{\"A\": 1}",
					  "{\"ZR_ROOT\": \"/\"}", "{\"ZROBOT_X\": \"1\"}",
					  "{\"DATA_PORT\": \"1\"}", "{\"ARG_CMD\": \"x\"}",
					  "{\"ssh\": \"x\"}", "{\"A B\": \"x\"}",
					  "{\"A\": \"x\\u0000y\"}", "null"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		TEST_CASE("%s", good[i]);
		json_t *v = json_loads(good[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		ASSERT_NOT_NULL(v);
		ASSERT_OK(zr_env_check(v, NULL));
		json_decref(v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		TEST_CASE("%s", bad[i]);
		json_t *v = json_loads(bad[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		ASSERT_NOT_NULL(v);
		char *why = NULL;
		ASSERT_EQ_INT(zr_env_check(v, &why), -EINVAL);
		ASSERT_NOT_NULL(why);
		free(why);
		json_decref(v);
	}
	TEST_CASE_END();
	json_t *many = json_object();
	for (int i = 0; i <= ZR_ENV_NAMES_MAX; i++) {
		char name[16];
		snprintf(name, sizeof(name), "V%d", i);
		json_object_set_new(many, name, json_string("x"));
	}
	ASSERT_EQ_INT(zr_env_check(many, NULL), -EINVAL);
	json_decref(many);
	char *big = malloc(ZR_ENV_VALUE_MAX + 2);
	ASSERT_NOT_NULL(big);
	memset(big, 'x', ZR_ENV_VALUE_MAX + 1);
	big[ZR_ENV_VALUE_MAX + 1] = '\0';
	json_t *v = json_pack("{ss}", "BIG", big);
	ASSERT_EQ_INT(zr_env_check(v, NULL), -EINVAL);
	json_decref(v);
	big[ZR_ENV_VALUE_MAX] = '\0';
	v = json_pack("{ss}", "BIG", big);
	ASSERT_OK(zr_env_check(v, NULL));
	json_decref(v);
	free(big);
}

/* Only the base, what the admin passes on and the manifest's values: the robot's other
 * variables stay with it. */
TEST(build)
{
	ASSERT_OK(setenv("SSH_AUTH_SOCK", "/tmp/agent", 1));
	ASSERT_OK(setenv("ZROBOT_TOKEN", "secret", 1));
	ASSERT_OK(setenv("PASSED", "p", 1));
	ASSERT_OK(setenv("PATH", "/robot/bin", 1));
	ASSERT_OK(setenv("LANG", "de_DE.UTF-8", 1));
	ASSERT_OK(unsetenv("TZ"));
	ASSERT_OK(unsetenv("HOME"));
	ASSERT_OK(unsetenv("UNSET_ONE"));

	size_t n = 0;
	char **env = zr_env_build(NULL, 0, NULL, NULL, 3, &n);
	ASSERT_NOT_NULL(env);
	ASSERT_EQ_SIZE(n, 4);
	ASSERT_EQ_STR(find(env, n, "PATH"), ZR_ENV_PATH);
	ASSERT_EQ_STR(find(env, n, "HOME"), "/");
	ASSERT_EQ_STR(find(env, n, "LANG"), "de_DE.UTF-8");
	ASSERT_EQ_STR(find(env, n, "TZ"), ":/etc/localtime");
	for (size_t i = n; i < n + 4; i++) {
		ASSERT_NULL(env[i]); /* room for 3 more and the end */
	}
	free_env(env, n);

	char *pass[] = {"PASSED", "UNSET_ONE", "PATH"};
	json_t *tenv = json_pack("{ss ss}", "FROM_TEMPLATE", "t", "BOTH", "template");
	json_t *aenv = json_pack("{ss ss ss}", "FROM_ACTION", "a", "BOTH", "action", "PASSED",
				 "manifest");
	env = zr_env_build(pass, 3, tenv, aenv, 0, &n);
	ASSERT_NOT_NULL(env);
	ASSERT_EQ_SIZE(n, 8);
	ASSERT_NULL(env[n]);
	ASSERT_EQ_STR(find(env, n, "PATH"), "/robot/bin");
	ASSERT_EQ_STR(find(env, n, "PASSED"), "manifest");
	ASSERT_EQ_STR(find(env, n, "FROM_TEMPLATE"), "t");
	ASSERT_EQ_STR(find(env, n, "FROM_ACTION"), "a");
	ASSERT_EQ_STR(find(env, n, "BOTH"), "action");
	ASSERT_NULL(find(env, n, "UNSET_ONE"));
	ASSERT_NULL(find(env, n, "SSH_AUTH_SOCK"));
	ASSERT_NULL(find(env, n, "ZROBOT_TOKEN"));
	free_env(env, n);
	json_decref(tenv);
	json_decref(aenv);
}

TEST(values_in_manifest)
{
	json_t *m = json_pack("{s{ss} s{s{s{ss}} s{}}}", "env", "A", "1", "actions", "x", "env",
			      "B", "2", "y");
	ASSERT_NOT_NULL(m);
	ASSERT_EQ_STR(json_string_value(json_object_get(zr_env_values(m, NULL), "A")), "1");
	ASSERT_EQ_STR(json_string_value(json_object_get(zr_env_values(m, "x"), "B")), "2");
	ASSERT_NULL(zr_env_values(m, "y"));
	ASSERT_NULL(zr_env_values(m, "z"));
	ASSERT_NULL(zr_env_values(NULL, NULL));
	json_decref(m);
}

int main(void)
{
	RUN_TEST(names);
	RUN_TEST(check);
	RUN_TEST(build);
	RUN_TEST(values_in_manifest);
	return 0;
}
