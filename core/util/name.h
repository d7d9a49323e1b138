/* Names of templates, services and actions. */
#pragma once
#include <stdbool.h>

/* True when s matches [a-z0-9][a-z0-9_.-]{0,62}. */
bool zr_name_valid(const char *s);
