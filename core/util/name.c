/* Validation of template, service and action names. */
#include "name.h"

#include <stddef.h>

static bool name_first_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool zr_name_valid(const char *s)
{
	if (!s || !name_first_char(s[0])) {
		return false;
	}
	size_t n = 1;
	for (const char *p = s + 1; *p; p++, n++) {
		if (n >= 63) {
			return false;
		}
		if (!name_first_char(*p) && *p != '_' && *p != '.' && *p != '-') {
			return false;
		}
	}
	return true;
}
