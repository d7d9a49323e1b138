/* Unit tests for core/gitcred.c: the mode check and the lookup of a URL's line. */
#include "gitcred.h"

#include <fcntl.h>
#include <unistd.h>

#include "test.h"

static char *dir;

/* Writes text to a new file in dir with mode; returns its path (malloc'd). */
static char *mk_file(const char *name, const char *text, mode_t mode)
{
	char *path = test_strf("%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	ASSERT_TRUE(f != NULL);
	fputs(text, f);
	fclose(f);
	ASSERT_OK(chmod(path, mode));
	return path;
}

TEST(check)
{
	char *err = NULL;
	char *ok = mk_file("ok", "https://u:p@h\n", 0600);
	ASSERT_OK(zr_gitcred_check(ok, &err));
	ASSERT_NULL(err);
	static const mode_t open_modes[] = {0644, 0640, 0604, 0620, 0602};
	for (size_t i = 0; i < sizeof(open_modes) / sizeof(open_modes[0]); i++) {
		TEST_CASE("mode %04o", (unsigned)open_modes[i]);
		ASSERT_OK(chmod(ok, open_modes[i]));
		ASSERT_EQ_INT(zr_gitcred_check(ok, &err), -EACCES);
		ASSERT_TRUE(strstr(err, "open to other users") != NULL);
		free(err);
		err = NULL;
	}
	TEST_CASE_END();
	char *u = NULL, *p = NULL;
	ASSERT_EQ_INT(zr_gitcred_find(ok, "https://h/x.git", &u, &p, &err), -EACCES);
	ASSERT_NULL(u);
	free(err);
	err = NULL;
	char *missing = test_strf("%s/missing", dir);
	ASSERT_EQ_INT(zr_gitcred_check(missing, &err), -ENOENT);
	free(err);
	err = NULL;
	ASSERT_EQ_INT(zr_gitcred_check(dir, &err), -EINVAL);
	free(err);
	free(ok);
	free(missing);
}

TEST(find)
{
	char *path = mk_file("creds",
			     "# comment\n"
			     "\n"
			     "not a url\n"
			     "https://nopass@git.example\n"
			     "https://alice:p%40ss%2Fword@git.example/acc/private.git\n"
			     "https://bob:bobpw@git.example\n"
			     "http://carol:carolpw@127.0.0.1:8080\n"
			     "  https://dave:davepw@[::1]:8443  \n",
			     0600);
	static const struct {
		const char *url, *user, *password; /* user NULL: no line */
	} cases[] = {
		/* The path line first when the path matches (".git" and slashes aside). */
		{"https://git.example/acc/private.git", "alice", "p@ss/word"},
		{"https://git.example/acc/private", "alice", "p@ss/word"},
		{"https://GIT.example/acc/private/", "alice", "p@ss/word"},
		/* Another path: the host-wide line. */
		{"https://git.example/acc/other.git", "bob", "bobpw"},
		/* A user in the URL picks that user's line. */
		{"https://bob@git.example/acc/private.git", "bob", "bobpw"},
		{"https://eve@git.example/acc/x.git", NULL, NULL},
		/* Scheme and port must match. */
		{"http://git.example/acc/x.git", NULL, NULL},
		{"http://127.0.0.1:8080/tpl.git", "carol", "carolpw"},
		{"http://127.0.0.1:8081/tpl.git", NULL, NULL},
		{"https://[::1]:8443/x.git", "dave", "davepw"},
		{"https://other.example/x.git", NULL, NULL},
		{"/srv/local/path", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		TEST_CASE("url '%s'", cases[i].url);
		char *u = NULL, *p = NULL, *err = NULL;
		int r = zr_gitcred_find(path, cases[i].url, &u, &p, &err);
		ASSERT_EQ_INT(r, cases[i].user ? 1 : 0);
		ASSERT_EQ_STR(u, cases[i].user);
		ASSERT_EQ_STR(p, cases[i].password);
		ASSERT_NULL(err);
		free(u);
		free(p);
	}
	TEST_CASE_END();
	free(path);
}

int main(void)
{
	dir = test_strf("%s/test-gitcred.XXXXXX", test_tmp_dir());
	if (!mkdtemp(dir)) {
		FAIL("mkdtemp %s: %s", dir, strerror(errno));
	}
	RUN_TEST(check);
	RUN_TEST(find);
	char *rm = test_strf("rm -rf '%s'", dir);
	(void)system(rm);
	free(rm);
	free(dir);
	return 0;
}
