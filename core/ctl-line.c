/* Control lines an action writes on fd 3, parsed without touching the service. */
#include "ctl-line.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WHITE " \t\n\v\f\r"

/* Cuts s (in place) into at most n words separated by white space; returns how many it found,
 * n + 1 when there are more. */
static size_t split_words(char *s, const char **words, size_t n)
{
	size_t count = 0;
	for (;;) {
		s += strspn(s, WHITE);
		if (!*s) {
			return count;
		}
		if (count == n) {
			return n + 1;
		}
		words[count++] = s;
		s += strcspn(s, WHITE);
		if (*s) {
			*s++ = '\0';
		}
	}
}

static int parse_state(const char *args, struct zr_ctl_line *ret, const char **ret_why)
{
	const char *w[3];
	char *text = strdup(args);
	if (!text) {
		return -ENOMEM;
	}
	/* A word too long is refused, never cut: sscanf's "%127s" once read the rest of a long
	 * category as the tag. */
	if (split_words(text, w, 3) != 3 || strlen(w[0]) > ZR_CTL_WORD_MAX ||
	    strlen(w[1]) > ZR_CTL_WORD_MAX || strlen(w[2]) > ZR_CTL_VALUE_MAX) {
		free(text);
		*ret_why = "want 'state CATEGORY TAG ok|error|warning|skipped'";
		return -EINVAL;
	}
	/* "actions NAME ok|error" is the robot's record of how each action's last task ended:
	 * an action must not fake another's (or its own) outcome there, nor the template's. */
	if (zr_ctl_robot_category(w[0])) {
		free(text);
		*ret_why = "the categories 'actions', 'template' and 'relation' are the robot's";
		return -EINVAL;
	}
	*ret = (struct zr_ctl_line){.kind = ZR_CTL_STATE, .category = w[0], .tag = w[1],
				    .value = w[2], .text = text};
	return 0;
}

bool zr_ctl_robot_category(const char *category)
{
	return strcmp(category, "actions") == 0 || strcmp(category, "template") == 0 ||
	       strcmp(category, "relation") == 0;
}

bool zr_ctl_process_category(const char *category)
{
	return strcmp(category, "process") == 0;
}

int zr_ctl_line_parse(const char *line, struct zr_ctl_line *ret, const char **ret_why)
{
	if (strncmp(line, "state ", 6) == 0) {
		return parse_state(line + 6, ret, ret_why);
	}
	if (strncmp(line, "data ", 5) == 0) {
		json_error_t jerr;
		json_t *patch = json_loads(line + 5, 0, &jerr);
		if (!json_is_object(patch)) {
			json_decref(patch);
			*ret_why = "want 'data {JSON object}'";
			return -EINVAL;
		}
		*ret = (struct zr_ctl_line){.kind = ZR_CTL_DATA, .data = patch};
		return 0;
	}
	if (strncmp(line, "progress ", 9) == 0) {
		long long done, total;
		char extra;
		if (sscanf(line + 9, "%lld %lld %c", &done, &total, &extra) != 2 || done < 0 ||
		    total < 0) {
			*ret_why = "want 'progress DONE TOTAL'";
			return -EINVAL;
		}
		*ret = (struct zr_ctl_line){.kind = ZR_CTL_PROGRESS, .done = done, .total = total};
		return 0;
	}
	*ret_why = "unknown command";
	return -EINVAL;
}

void zr_ctl_line_done(struct zr_ctl_line *c)
{
	free(c->text);
	json_decref(c->data);
	*c = (struct zr_ctl_line){0};
}
