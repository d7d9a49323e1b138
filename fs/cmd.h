/* zrobot's subcommands. Each takes its own arguments (argv[0] is the subcommand's last word),
 * prints what goes wrong, and returns the process's exit status: 0, 1 (failed) or 2 (usage). */
#pragma once
#include <stdio.h>

/* zrobot run [OPTIONS]: the robot in the foreground (options.h). */
int zr_cmd_run(int argc, char **argv);
/* zrobot mount URL DIR: one remote robot at DIR, without a robot of its own. */
int zr_cmd_mount(int argc, char **argv);
/* zrobot repo add URL[#REF] [--mount DIR]: asks the running robot to clone (argv[0] is URL). */
int zr_cmd_repo_add(int argc, char **argv);
/* zrobot template new NAME [DIR]: writes a template to start from (argv[0] is NAME). */
int zr_cmd_template_new(int argc, char **argv);
/* zrobot apply FILE|- [--dry-run] [--prune] [--name NAME] [--mount DIR | --url URL
 * --token-file F]: sends a blueprint, prints the plan or outcome; 1 when it is refused. */
int zr_cmd_apply(int argc, char **argv);
/* zrobot export [T/S...] [--output FILE] [--mount DIR]: the robot (or those services) as a
 * blueprint that applies back to the same state. */
int zr_cmd_export(int argc, char **argv);
/* zrobot graph [--mount DIR]: @robot/graph, Graphviz dot. */
int zr_cmd_graph(int argc, char **argv);
/* The operator's commands (cmd-status.c), each with --json and [--mount DIR | --url URL
 * --token-file F] anywhere: zrobot ls (one T/S a line), status [T/S] (a table, or one service
 * in full), logs [-f] T/S, do T/S ACTION [KEY=VALUE...] (the result on stdout; 0 when the task
 * is ok, 1 otherwise) and tasks T/S. */
int zr_cmd_ls(int argc, char **argv);
int zr_cmd_status(int argc, char **argv);
int zr_cmd_logs(int argc, char **argv);
int zr_cmd_do(int argc, char **argv);
int zr_cmd_tasks(int argc, char **argv);

/* Each subcommand's usage, to f: stdout for `zrobot COMMAND --help`, stderr on a usage error.
 * (run's is zr_options_usage, options.h.) */
void zr_cmd_mount_usage(FILE *f);
void zr_cmd_repo_usage(FILE *f);
void zr_cmd_template_usage(FILE *f);
void zr_cmd_apply_usage(FILE *f);
void zr_cmd_export_usage(FILE *f);
void zr_cmd_graph_usage(FILE *f);
void zr_cmd_ls_usage(FILE *f);
void zr_cmd_status_usage(FILE *f);
void zr_cmd_logs_usage(FILE *f);
void zr_cmd_do_usage(FILE *f);
void zr_cmd_tasks_usage(FILE *f);
