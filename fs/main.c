/* zrobot: the entry point — picks the subcommand (cmd.h); daemon.c wires a robot to its loop. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "git.h"
#include "options.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("zrobot %s\n", ZR_VERSION);
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		zr_options_usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "run") == 0) {
		zr_git_init();
		int status = zr_cmd_run(argc - 1, argv + 1);
		zr_git_shutdown();
		zr_options_free();
		return status;
	}
	if (argc >= 2 && strcmp(argv[1], "mount") == 0) {
		return zr_cmd_mount(argc - 1, argv + 1);
	}
	if (argc >= 3 && strcmp(argv[1], "repo") == 0 && strcmp(argv[2], "add") == 0) {
		return zr_cmd_repo_add(argc - 3, argv + 3);
	}
	if (argc >= 3 && strcmp(argv[1], "template") == 0 && strcmp(argv[2], "new") == 0) {
		return zr_cmd_template_new(argc - 3, argv + 3);
	}
	if (argc >= 2 && strcmp(argv[1], "apply") == 0) {
		return zr_cmd_apply(argc - 2, argv + 2);
	}
	if (argc >= 2 && strcmp(argv[1], "export") == 0) {
		return zr_cmd_export(argc - 2, argv + 2);
	}
	if (argc >= 2 && strcmp(argv[1], "graph") == 0) {
		return zr_cmd_graph(argc - 2, argv + 2);
	}
	zr_options_usage(stderr);
	return 2;
}
