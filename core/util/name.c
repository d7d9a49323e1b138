/* Validation of template, service and action names, and of identifiers. */
#include "name.h"

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

bool zr_ident_valid(const char *s, size_t n)
{
	if (n == 0 || (s[0] >= '0' && s[0] <= '9')) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_')) {
			return false;
		}
	}
	return true;
}
