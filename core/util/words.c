/* Splitting a one-line command into words (words.h). */
#include "util/words.h"

#include <string.h>

size_t zr_words(char *text, char **w, size_t max)
{
	char *save = NULL;
	size_t n = 0;
	for (char *tok = strtok_r(text, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (n < max) {
			w[n] = tok;
		}
		n++;
	}
	return n;
}
