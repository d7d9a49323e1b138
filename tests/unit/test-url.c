/* Unit tests for core/util/url.c: what of a URL (or of a text quoting one) may be shown. */
#include "util/url.h"

#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

TEST(redact)
{
	/* want NULL: the text is shown as it is. */
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"https://user:SECRET@github.com/acc/repo.git", "https://user:***@github.com/acc/repo.git"},
		{"http://user:SECRET@127.0.0.1:8080/x.git#v1", "http://user:***@127.0.0.1:8080/x.git#v1"},
		{"ssh://user:SECRET@host/acc/repo", "ssh://user:***@host/acc/repo"},
		/* A percent-encoded '@' in the password, and a raw one (the last '@' ends it). */
		{"https://user:p%40SECRET@host/x", "https://user:***@host/x"},
		{"https://user:p@SECRET@host/x", "https://user:***@host/x"},
		/* A lone user: a token over https, a login name over ssh. */
		{"https://ghp_SECRET@github.com/a/b", "https://***@github.com/a/b"},
		{"ssh://git@github.com/a/b", NULL},
		{"git+ssh://git@github.com/a/b", NULL},
		{"git@github.com:a/b.git", NULL},
		{"https://:SECRET@host/x", "https://:***@host/x"},
		/* IPv6 hosts, with and without a port and credentials. */
		{"https://user:SECRET@[::1]:8443/x.git", "https://user:***@[::1]:8443/x.git"},
		{"http://[fe80::1%25eth0]:80/x", NULL},
		/* No scheme: scp-like with a password, a local path, a plain word. */
		{"user:SECRET@host:acc/repo.git", "user:***@host:acc/repo.git"},
		{"/srv/repos/x.git", NULL},
		{"./a@b/c", NULL},
		{"t.s@robot", NULL},
		/* Tokens in the query; other parameters, the fragment and the path are kept. */
		{"https://gitlab.com/a/b.git?private_token=SECRET&ref=main#v1",
		 "https://gitlab.com/a/b.git?private_token=***&ref=main#v1"},
		{"https://h/x?Access_Token=SECRET", "https://h/x?Access_Token=***"},
		{"https://h/x?X-Amz-Signature=SECRET&sig=SECRET2", "https://h/x?X-Amz-Signature=***&sig=***"},
		{"https://h/x?wait=5&after=end", NULL},
		{"https://h/x#token=notaquery", NULL},
		{"https://h/a@b/c", NULL},
		/* Texts that quote URLs: log lines, libgit2 errors, JSON. */
		{"Failed to clone 'https://u:SECRET@h/x.git#main': too many redirects",
		 "Failed to clone 'https://u:***@h/x.git#main': too many redirects"},
		{"{\"url\":\"https://u:SECRET@h/x\",\"n\":1}", "{\"url\":\"https://u:***@h/x\",\"n\":1}"},
		{"a https://u:S1@h/x and http://S2@k/y end", "a https://u:***@h/x and http://***@k/y end"},
		{"(https://u:SECRET@h)", "(https://u:***@h)"},
		{"at 10:00:00.123Z info: Remote dc1: http://10.0.0.2:6600", NULL},
		{"", NULL},
		{"https://", NULL},
		{"@:://@", "@:://***@"},
	};
	for (size_t i = 0; i < N(cases); i++) {
		TEST_CASE("text '%s'", cases[i].text);
		char *s = zr_url_redact(cases[i].text);
		ASSERT_TRUE(s != NULL);
		const char *want = cases[i].want ? cases[i].want : cases[i].text;
		ASSERT_EQ_STR(s, want);
		ASSERT_EQ_INT(zr_url_has_credentials(cases[i].text), cases[i].want != NULL);
		ASSERT_TRUE(strstr(s, "SECRET") == NULL);
		/* Redacting twice changes nothing more. */
		char *again = zr_url_redact(s);
		ASSERT_EQ_STR(again, s);
		free(again);
		free(s);
	}
	TEST_CASE_END();
}

/* Random texts of URL-significant characters: the result never changes on a second pass, is
 * never reported as holding credentials, and keeps every byte outside a masked part (checked
 * as: the result is never longer than the text plus three bytes per '@', '=' or ':'). */
TEST(random_texts)
{
	static const char alphabet[] = "ab:/@?=&#;%_ '\"sshttpkeytoken.[]1";
	uint64_t seed = 0x2545f4914f6cdd1dULL;
	char text[48];
	int masked = 0;
	for (int i = 0; i < 200000; i++) {
		size_t n = (size_t)(i % (int)(sizeof(text) - 1));
		size_t marks = 0;
		for (size_t k = 0; k < n; k++) {
			seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
			text[k] = alphabet[seed % (sizeof(alphabet) - 1)];
			marks += text[k] == '@' || text[k] == '=' || text[k] == ':';
		}
		text[n] = '\0';
		TEST_CASE("text '%s'", text);
		char *s = zr_url_redact(text);
		ASSERT_TRUE(s != NULL);
		char *again = zr_url_redact(s);
		ASSERT_EQ_STR(again, s);
		ASSERT_FALSE(zr_url_has_credentials(s));
		ASSERT_LE_INT(strlen(s), n + 3 * marks);
		masked += strcmp(s, text) != 0;
		free(again);
		free(s);
	}
	TEST_CASE_END();
	/* The alphabet makes credentials often enough for the checks above to mean something. */
	ASSERT_GT_INT(masked, 10000);
}

TEST(plain_beyond_loopback)
{
	static const struct {
		const char *url;
		bool yes;
	} cases[] = {
		{"http://10.0.0.2:6600", true},
		{"HTTP://robot.example.com", true},
		{"http://user:pw@10.0.0.2/", true},
		{"http://[2001:db8::1]:6600", true},
		{"http://127.0.0.1:6600", false},
		{"http://127.1.2.3", false},
		{"http://localhost:6600/", false},
		{"http://user:pw@localhost", false},
		{"http://[::1]:6600", false},
		{"http://127.0.0.1.evil.com", true},
		{"http://localhost.evil.com", true},
		{"https://10.0.0.2:6600", false},
	};
	for (size_t i = 0; i < N(cases); i++) {
		TEST_CASE("url '%s'", cases[i].url);
		ASSERT_EQ_INT(zr_url_plain_beyond_loopback(cases[i].url), cases[i].yes);
	}
	TEST_CASE_END();
}

int main(void)
{
	RUN_TEST(redact);
	RUN_TEST(random_texts);
	RUN_TEST(plain_beyond_loopback);
	return 0;
}
