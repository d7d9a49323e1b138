/* What an action or a refused input may not do to the robot's records (issue 12, red team of
 * local users and actions): fake the robot's own "actions" lines of state through fd 3, or
 * forge lines and terminal escapes in the log and lasterror through a quoted text. */
#include "ctl-line.h"
#include "util/log.h"

#include "test.h"

TEST(ctl_state_robot_category)
{
	struct zr_ctl_line c = {0};
	const char *why = NULL;
	ASSERT_EQ_INT(zr_ctl_line_parse("state actions deploy ok", &c, &why), -EINVAL);
	ASSERT_EQ_STR(why, "the categories 'actions', 'template' and 'relation' are the robot's");
	ASSERT_NULL(c.text);
	ASSERT_EQ_INT(zr_ctl_line_parse("state template version ok", &c, &why), -EINVAL);
	ASSERT_NULL(c.text);
	ASSERT_EQ_INT(zr_ctl_line_parse("state relation db ok", &c, &why), -EINVAL);
	ASSERT_NULL(c.text);
	/* Only the word itself: a category that merely starts with it is the action's. */
	ASSERT_OK(zr_ctl_line_parse("state actions2 deploy ok", &c, &why));
	ASSERT_EQ_STR(c.category, "actions2");
	zr_ctl_line_done(&c);
	ASSERT_OK(zr_ctl_line_parse("state process http ok", &c, &why));
	ASSERT_EQ_STR(c.category, "process");
	zr_ctl_line_done(&c);
}

TEST(log_escape)
{
	char *s = zr_log_escape("a\nb\rc\x1b[2J\x7f\td\xc3\xa9");
	/* Tab and UTF-8 stay; every other control character is \xHH. */
	ASSERT_EQ_STR(s, "a\\x0ab\\x0dc\\x1b[2J\\x7f\td\xc3\xa9");
	free(s);
	s = zr_log_escape("");
	ASSERT_EQ_STR(s, "");
	free(s);
}

static char seen[1024];
static size_t n_seen;

static void sink(const char *line, size_t len, void *data)
{
	(void)data;
	(void)snprintf(seen, sizeof(seen), "%.*s", (int)len, line);
	n_seen++;
}

TEST(log_one_line)
{
	zr_log_set_sink(sink, NULL);
	n_seen = 0;
	log_warn("Refused: field '%s'", "x\n2026-01-01T00:00:00.000Z info: forged\x1b]0;t\x07");
	ASSERT_EQ_SIZE(n_seen, 1);
	const char *text = strstr(seen, "warn: ");
	ASSERT_NOT_NULL(text);
	ASSERT_EQ_STR(text, "warn: Refused: field 'x\\x0a2026-01-01T00:00:00.000Z info: forged"
			    "\\x1b]0;t\\x07'");
	/* A text that ends in a newline (a task's error) is one line, without it. */
	log_info("cannot start: %s\n", "No such file");
	ASSERT_NOT_NULL(strstr(seen, "info: cannot start: No such file"));
	ASSERT_EQ_SIZE(strlen(strstr(seen, "info: ")), strlen("info: cannot start: No such file"));
	zr_log_set_sink(NULL, NULL);
}

int main(void)
{
	RUN_TEST(ctl_state_robot_category);
	RUN_TEST(log_escape);
	RUN_TEST(log_one_line);
	return 0;
}
