/* Unit tests for core/giturl.c: URL[#REF] specs, uid prefixes of every URL form, ids. */
#include "giturl.h"

#include "test.h"

static void split_ok(const char *spec, const char *url, const char *ref)
{
	char *u = NULL, *r = NULL;
	ASSERT_OK(zr_giturl_split(spec, &u, &r));
	ASSERT_EQ_STR(u, url);
	ASSERT_EQ_STR(r, ref);
	free(u);
	free(r);
}

static void split_fails(const char *spec)
{
	char *u = NULL, *r = NULL;
	ASSERT_EQ_INT(zr_giturl_split(spec, &u, &r), -EINVAL);
	ASSERT_NULL(u);
	ASSERT_NULL(r);
}

TEST(split)
{
	split_ok("https://github.com/acc/repo", "https://github.com/acc/repo", NULL);
	split_ok("https://github.com/acc/repo#v1.2.0\n", "https://github.com/acc/repo", "v1.2.0");
	split_ok("  /srv/t.git#feature/x  ", "/srv/t.git", "feature/x");
	split_ok("git@host:a/b.git#0123abcd", "git@host:a/b.git", "0123abcd");
	split_fails("");
	split_fails("\n");
	split_fails("#v1");
	split_fails("/srv/t#");
	split_fails("/srv/t#a b");
	split_fails("/srv/t#-x");
	split_fails("/srv/t#a..b");
	split_fails("/srv/t#HEAD~1");
	split_fails("/srv/t#a#b");
}

TEST(ref_valid)
{
	ASSERT_TRUE(zr_giturl_ref_valid("main"));
	ASSERT_TRUE(zr_giturl_ref_valid("refs/tags/v1"));
	ASSERT_TRUE(zr_giturl_ref_valid("0123456789abcdef0123456789abcdef01234567"));
	ASSERT_FALSE(zr_giturl_ref_valid(""));
	ASSERT_FALSE(zr_giturl_ref_valid("/main"));
	ASSERT_FALSE(zr_giturl_ref_valid("a//b"));
	ASSERT_FALSE(zr_giturl_ref_valid("a@{1}"));
	ASSERT_FALSE(zr_giturl_ref_valid("a:b"));
	ASSERT_FALSE(zr_giturl_ref_valid("a\tb"));
}

static void source_is(const char *url, const char *want)
{
	char *s = NULL;
	int r = zr_giturl_source(url, &s);
	if (r != 0) {
		FAIL("zr_giturl_source(%s): %d", url, r);
	}
	ASSERT_EQ_STR(s, want);
	free(s);
}

static void source_fails(const char *url)
{
	char *s = NULL;
	ASSERT_EQ_INT(zr_giturl_source(url, &s), -EINVAL);
	ASSERT_NULL(s);
}

TEST(source)
{
	source_is("https://github.com/acc/repo", "github.com/acc/repo");
	source_is("https://github.com/acc/repo.git", "github.com/acc/repo");
	source_is("https://github.com/acc/repo.git/", "github.com/acc/repo");
	source_is("https://user:pw@GitHub.com:443/acc/repo.git", "github.com/acc/repo");
	source_is("http://gitlab.example/group/sub/repo", "gitlab.example/group/sub/repo");
	source_is("ssh://git@host.example:2222/acc/repo.git", "host.example/acc/repo");
	source_is("git@github.com:acc/repo.git", "github.com/acc/repo");
	source_is("host:acc/repo", "host/acc/repo");
	source_is("git://[::1]:9418/acc/repo", "[::1]/acc/repo");
	source_is("file:///srv/git/templates.git", "local/templates");
	source_is("file:///srv/git/templates/", "local/templates");
	source_is("file://localhost/srv/x", "local/x");
	source_is("/srv/git/name.git", "local/name");
	source_is("/srv/git/name/.git", "local/name");
	source_is("/srv/git/name", "local/name");
	source_is("relative/dir/My Repo", "local/My-Repo");
	source_is("https://h/acc/r%20x", "h/acc/r-20x");
	source_fails("https://github.com/");
	source_fails("https://github.com");
	source_fails("https://h/acc/../repo");
	source_fails("file:///");
	source_fails("/");
}

TEST(is_path)
{
	ASSERT_TRUE(zr_giturl_is_path("/srv/x"));
	ASSERT_TRUE(zr_giturl_is_path("./x:y"));
	ASSERT_TRUE(zr_giturl_is_path("x"));
	ASSERT_FALSE(zr_giturl_is_path("file:///srv/x"));
	ASSERT_FALSE(zr_giturl_is_path("git@h:a/b"));
	ASSERT_FALSE(zr_giturl_is_path("https://h/a/b"));
}

TEST(id)
{
	char *a = NULL, *b = NULL, *c = NULL, *d = NULL;
	ASSERT_OK(zr_giturl_id("https://github.com/acc/Repo.git", NULL, &a));
	ASSERT_OK(zr_giturl_id("https://github.com/acc/Repo.git", "v1", &b));
	ASSERT_OK(zr_giturl_id("https://github.com/acc/Repo.git", "v2", &c));
	ASSERT_OK(zr_giturl_id("https://github.com/acc/Repo.git", "v1", &d));
	ASSERT_EQ_INT(strncmp(a, "repo-", 5), 0);
	ASSERT_EQ_SIZE(strlen(a), 13);
	ASSERT_NE_STR(a, b);
	ASSERT_NE_STR(b, c);
	ASSERT_EQ_STR(b, d);
	free(a);
	free(b);
	free(c);
	free(d);
	/* A name that would not start a valid id, and one longer than 40 characters. */
	ASSERT_OK(zr_giturl_id("/srv/_x", NULL, &a));
	ASSERT_EQ_INT(a[0], 'r');
	ASSERT_OK(zr_giturl_id("/srv/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL,
			       &b));
	ASSERT_EQ_SIZE(strlen(b), 49);
	free(a);
	free(b);
}

int main(void)
{
	RUN_TEST(split);
	RUN_TEST(ref_valid);
	RUN_TEST(source);
	RUN_TEST(is_path);
	RUN_TEST(id);
	return 0;
}
