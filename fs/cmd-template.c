/* zrobot template new NAME [DIR]: writes a template to start from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "scaffold.h"

int zr_cmd_template_new(int argc, char **argv)
{
	if (argc < 1 || argc > 2) {
		fprintf(stderr, "Usage: zrobot template new NAME [DIR]\n");
		return 2;
	}
	char *why = NULL;
	const char *dir = argc == 2 ? argv[1] : ".";
	int err = zr_scaffold_template(argv[0], dir, &why);
	if (err < 0) {
		fprintf(stderr, "zrobot: %s\n", why ? why : strerror(-err));
		free(why);
		return 1;
	}
	printf("%s/%s: template %s, load it with: zrobot run --templates %s\n", dir, argv[0],
	       argv[0], dir);
	return 0;
}
