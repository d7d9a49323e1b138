/* zrobot template new NAME [DIR]: writes a template to start from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "scaffold.h"

void zr_cmd_template_usage(FILE *f)
{
	fputs("Usage: zrobot template new NAME [DIR]\n\n"
	      "Writes a template to start from in DIR/NAME (DIR: default the current folder): a\n"
	      "template.json and an action; load it with zrobot run --templates DIR.\n"
	      "See zrobot-template(5).\n", f);
}

int zr_cmd_template_new(int argc, char **argv)
{
	if (argc < 1 || argc > 2) {
		zr_cmd_template_usage(stderr);
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
