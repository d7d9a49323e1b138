/* The parser of an action's control lines (fd 3, DESIGN §4): "state CATEGORY TAG VALUE",
 * "data {JSON object}" and "progress DONE TOTAL". Pure: what a line asks for is applied by
 * service-action.c. */
#pragma once
#include <jansson.h>
#include <stdbool.h>

enum zr_ctl_kind { ZR_CTL_STATE, ZR_CTL_DATA, ZR_CTL_PROGRESS };

struct zr_ctl_line {
	enum zr_ctl_kind kind;
	/* state: three non-empty words without white space (not checked further: the service
	 * checks them), pointing into text. */
	const char *category, *tag, *value;
	char *text;   /* owned */
	json_t *data; /* data: a JSON object, one reference owned */
	long long done, total; /* progress: both >= 0 */
};

/* True for a category of state lines the robot writes itself: "actions NAME ok|error" when a
 * task ends, "template missing|version ...": a state line naming one is refused, so an action
 * cannot fake what the robot observed. */
bool zr_ctl_robot_category(const char *category);
/* True for "process": the robot's own (the supervisor's health, "process NAME ok|warning|
 * error") on a service whose template has a process, so the caller refuses it there; other
 * services' actions keep writing it (examples/webapp runs its server itself). */
bool zr_ctl_process_category(const char *category);

/* Longest CATEGORY and TAG, and VALUE, a state line may name. */
#define ZR_CTL_WORD_MAX 127
#define ZR_CTL_VALUE_MAX 31

/* Parses line (a C string: the line up to its first NUL byte, without its '\n'). Returns 0
 * and *ret (free its contents with zr_ctl_line_done), -EINVAL with *ret_why (a static text
 * saying what the line should be; it never quotes the line), or -ENOMEM. */
int zr_ctl_line_parse(const char *line, struct zr_ctl_line *ret, const char **ret_why);
/* Frees what c holds; c may be zeroed or already done. */
void zr_ctl_line_done(struct zr_ctl_line *c);
