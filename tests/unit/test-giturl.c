/* Unit tests for core/giturl.c: URL[#REF] specs, uid prefixes of every URL form, ids. */
#include "giturl.h"

#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

TEST(split)
{
	/* url NULL: the spec is refused. */
	static const struct {
		const char *spec, *url, *ref;
	} cases[] = {
		{"https://github.com/acc/repo", "https://github.com/acc/repo", NULL},
		{"https://github.com/acc/repo#v1.2.0\n", "https://github.com/acc/repo", "v1.2.0"},
		{"  /srv/t.git#feature/x  ", "/srv/t.git", "feature/x"},
		{"git@host:a/b.git#0123abcd", "git@host:a/b.git", "0123abcd"},
		{""}, {"\n"}, {"#v1"}, {"/srv/t#"}, {"/srv/t#a b"}, {"/srv/t#-x"}, {"/srv/t#a..b"},
		{"/srv/t#HEAD~1"}, {"/srv/t#a#b"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		TEST_CASE("spec '%s'", cases[i].spec);
		char *u = NULL, *r = NULL;
		ASSERT_EQ_INT(zr_giturl_split(cases[i].spec, &u, &r), cases[i].url ? 0 : -EINVAL);
		ASSERT_EQ_STR(u, cases[i].url);
		ASSERT_EQ_STR(r, cases[i].ref);
		free(u);
		free(r);
	}
	TEST_CASE_END();
}

/* A yes-or-no question about a string, and the answer each case wants. */
struct yes_no {
	const char *s;
	bool yes;
};

static void check_yes_no(const char *what, bool (*ask)(const char *), const struct yes_no *cases,
			 size_t n)
{
	for (size_t i = 0; i < n; i++) {
		TEST_CASE("%s '%s'", what, cases[i].s);
		ASSERT_EQ_INT(ask(cases[i].s), cases[i].yes);
	}
	TEST_CASE_END();
}

TEST(ref_valid)
{
	static const struct yes_no cases[] = {
		{"main", true}, {"refs/tags/v1", true},
		{"0123456789abcdef0123456789abcdef01234567", true},
		{"", false}, {"/main", false}, {"a//b", false}, {"a@{1}", false}, {"a:b", false},
		{"a\tb", false},
	};
	check_yes_no("ref", zr_giturl_ref_valid, cases, N(cases));
}

TEST(source)
{
	/* want NULL: the URL is refused. */
	static const struct {
		const char *url, *want;
	} cases[] = {
		{"https://github.com/acc/repo", "github.com/acc/repo"},
		{"https://github.com/acc/repo.git", "github.com/acc/repo"},
		{"https://github.com/acc/repo.git/", "github.com/acc/repo"},
		{"https://user:pw@GitHub.com:443/acc/repo.git", "github.com/acc/repo"},
		{"http://gitlab.example/group/sub/repo", "gitlab.example/group/sub/repo"},
		{"ssh://git@host.example:2222/acc/repo.git", "host.example/acc/repo"},
		{"git@github.com:acc/repo.git", "github.com/acc/repo"},
		{"host:acc/repo", "host/acc/repo"},
		{"git://[::1]:9418/acc/repo", "[::1]/acc/repo"},
		{"file:///srv/git/templates.git", "local/templates"},
		{"file:///srv/git/templates/", "local/templates"},
		{"file://localhost/srv/x", "local/x"},
		{"/srv/git/name.git", "local/name"},
		{"/srv/git/name/.git", "local/name"},
		{"/srv/git/name", "local/name"},
		{"relative/dir/My Repo", "local/My-Repo"},
		{"https://h/acc/r%20x", "h/acc/r-20x"},
		{"https://github.com/"}, {"https://github.com"}, {"https://h/acc/../repo"},
		{"file:///"}, {"/"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		TEST_CASE("url '%s'", cases[i].url);
		char *s = NULL;
		ASSERT_EQ_INT(zr_giturl_source(cases[i].url, &s), cases[i].want ? 0 : -EINVAL);
		ASSERT_EQ_STR(s, cases[i].want);
		free(s);
	}
	TEST_CASE_END();
}

TEST(is_path)
{
	static const struct yes_no cases[] = {
		{"/srv/x", true}, {"./x:y", true}, {"x", true},
		{"file:///srv/x", false}, {"git@h:a/b", false}, {"https://h/a/b", false},
	};
	check_yes_no("path", zr_giturl_is_path, cases, N(cases));
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
	/* Credentials leave no trace: another password, the same id; none, another id. */
	ASSERT_OK(zr_giturl_id("https://u:SECRET1@h/acc/x.git", NULL, &a));
	ASSERT_OK(zr_giturl_id("https://u:SECRET2@h/acc/x.git", NULL, &b));
	ASSERT_OK(zr_giturl_id("https://h/acc/x.git", NULL, &c));
	ASSERT_EQ_STR(a, b);
	ASSERT_NE_STR(a, c);
	free(a);
	free(b);
	free(c);
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
