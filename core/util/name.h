/* Names of templates, services and actions. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

/* True when s matches [a-z0-9][a-z0-9_.-]{0,62}. */
bool zr_name_valid(const char *s);

/* True when the n bytes at s match [A-Za-z_][A-Za-z0-9_]*: keys of action arguments and names
 * of data fields. */
bool zr_ident_valid(const char *s, size_t n);
