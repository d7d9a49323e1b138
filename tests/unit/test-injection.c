/* What an action or a refused input may not do to the robot's records (issue 12, red team of
 * local users and actions): fake the robot's own "actions" lines of state through fd 3, or
 * forge lines and terminal escapes in the log and lasterror through a quoted text. */
#include "ctl-line.h"

#include "test.h"

TEST(ctl_state_robot_category)
{
	struct zr_ctl_line c = {0};
	const char *why = NULL;
	ASSERT_EQ_INT(zr_ctl_line_parse("state actions deploy ok", &c, &why), -EINVAL);
	ASSERT_EQ_STR(why, "the category 'actions' is the robot's");
	ASSERT_NULL(c.text);
	/* Only the word itself: a category that merely starts with it is the action's. */
	ASSERT_OK(zr_ctl_line_parse("state actions2 deploy ok", &c, &why));
	ASSERT_EQ_STR(c.category, "actions2");
	zr_ctl_line_done(&c);
	ASSERT_OK(zr_ctl_line_parse("state process http ok", &c, &why));
	ASSERT_EQ_STR(c.category, "process");
	zr_ctl_line_done(&c);
}

int main(void)
{
	RUN_TEST(ctl_state_robot_category);
	return 0;
}
