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
	static const char *const good[] = {"[]", "[\"HTTP_PROXY\", \"PATH\"]"};
	static const char *const bad[] = {"{}", "\"PATH\"", "[1]", "[\"ZR_ROOT\"]",
					  "[\"SSH AUTH\"]", "[\"A\\u0000B\"]", "null"};
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
	json_t *many = json_array();
	for (int i = 0; i <= ZR_ENV_NAMES_MAX; i++) {
		json_array_append_new(many, json_string("X"));
	}
	ASSERT_EQ_INT(zr_env_check(many, NULL), -EINVAL);
	json_decref(many);
}

/* Only the base and what is named: the robot's other variables stay with it. */
TEST(build)
{
	ASSERT_OK(setenv("SSH_AUTH_SOCK", "/tmp/agent", 1));
	ASSERT_OK(setenv("ZROBOT_TOKEN", "secret", 1));
	ASSERT_OK(setenv("PASSED", "p", 1));
	ASSERT_OK(setenv("FROM_TEMPLATE", "t", 1));
	ASSERT_OK(setenv("FROM_ACTION", "a", 1));
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

	char *pass[] = {"PASSED", "UNSET_ONE"};
	json_t *tenv = json_pack("[ss]", "FROM_TEMPLATE", "PATH");
	json_t *aenv = json_pack("[ss]", "FROM_ACTION", "PASSED");
	env = zr_env_build(pass, 2, tenv, aenv, 0, &n);
	ASSERT_NOT_NULL(env);
	ASSERT_EQ_SIZE(n, 7);
	ASSERT_NULL(env[n]);
	ASSERT_EQ_STR(find(env, n, "PATH"), "/robot/bin");
	ASSERT_EQ_STR(find(env, n, "PASSED"), "p");
	ASSERT_EQ_STR(find(env, n, "FROM_TEMPLATE"), "t");
	ASSERT_EQ_STR(find(env, n, "FROM_ACTION"), "a");
	ASSERT_NULL(find(env, n, "UNSET_ONE"));
	ASSERT_NULL(find(env, n, "SSH_AUTH_SOCK"));
	ASSERT_NULL(find(env, n, "ZROBOT_TOKEN"));
	free_env(env, n);
	json_decref(tenv);
	json_decref(aenv);
}

TEST(names_in_manifest)
{
	json_t *m = json_pack("{s[s] s{s{s[s]} s{}}}", "env", "A", "actions", "x", "env", "B",
			      "y");
	ASSERT_NOT_NULL(m);
	ASSERT_EQ_STR(json_string_value(json_array_get(zr_env_names(m, NULL), 0)), "A");
	ASSERT_EQ_STR(json_string_value(json_array_get(zr_env_names(m, "x"), 0)), "B");
	ASSERT_NULL(zr_env_names(m, "y"));
	ASSERT_NULL(zr_env_names(m, "z"));
	ASSERT_NULL(zr_env_names(NULL, NULL));
	json_decref(m);
}

int main(void)
{
	RUN_TEST(names);
	RUN_TEST(check);
	RUN_TEST(build);
	RUN_TEST(names_in_manifest);
	return 0;
}
