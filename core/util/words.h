/* Splitting a one-line command ("remove NAME", "consumer add ROBOT T/S") into words. */
#pragma once
#include <stddef.h>

/* Splits text in place at spaces, tabs and line ends; the first max words go to w (borrowed
 * from text). Returns how many words there are, which may be more than max. */
size_t zr_words(char *text, char **w, size_t max);
