/* zrobot: the entry point — picks the subcommand (cmd.h); daemon.c wires a robot to its loop. */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "config.h"
#include "git.h"
#include "options.h"

/* `zrobot COMMAND --help`, the option anywhere after COMMAND: that command's usage alone, on
 * stdout, exit 0 (run's own parser does the same for run). */
static int command_help(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*usage)(FILE *f);
	} commands[] = {
		{"mount", zr_cmd_mount_usage},
		{"repo", zr_cmd_repo_usage},
		{"template", zr_cmd_template_usage},
		{"apply", zr_cmd_apply_usage},
		{"export", zr_cmd_export_usage},
		{"graph", zr_cmd_graph_usage},
		{"ls", zr_cmd_ls_usage},
		{"status", zr_cmd_status_usage},
		{"logs", zr_cmd_logs_usage},
		{"do", zr_cmd_do_usage},
		{"tasks", zr_cmd_tasks_usage},
	};
	for (size_t c = 0; argc >= 3 && c < sizeof(commands) / sizeof(commands[0]); c++) {
		if (strcmp(argv[1], commands[c].name) != 0) {
			continue;
		}
		for (int i = 2; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
				commands[c].usage(stdout);
				return 1;
			}
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (command_help(argc, argv)) {
		return 0;
	}
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
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} clients[] = {
		{"ls", zr_cmd_ls},     {"status", zr_cmd_status}, {"logs", zr_cmd_logs},
		{"do", zr_cmd_do},     {"tasks", zr_cmd_tasks},
	};
	/* Their options may come before the command too (zrobot --mount DIR ls): the command
	 * word is taken out and the rest passed on. */
	int at = 1;
	while (at + 1 < argc &&
	       (strcmp(argv[at], "--mount") == 0 || strcmp(argv[at], "--url") == 0 ||
		strcmp(argv[at], "--token-file") == 0)) {
		at += 2;
	}
	for (size_t c = 0; at < argc && c < sizeof(clients) / sizeof(clients[0]); c++) {
		if (strcmp(argv[at], clients[c].name) == 0) {
			memmove(argv + at, argv + at + 1, (size_t)(argc - at) * sizeof(*argv));
			return clients[c].run(argc - 2, argv + 1);
		}
	}
	zr_options_usage(stderr);
	return 2;
}
