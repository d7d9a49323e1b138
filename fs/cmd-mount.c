/* zrobot mount: one remote robot at a mount point, nothing else. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cmd.h"
#include "config.h"
#include "fs.h"
#include "mount.h"
#include "options.h"
#include "process.h"
#include "remote/remote.h"
#include "tree.h"
#include "util/log.h"

void zr_cmd_mount_usage(FILE *f)
{
	fputs("Usage: zrobot mount URL DIR [--token-file FILE] [--remote-timeout S] [--allow-other]\n\n"
	      "Shows the robot serving HTTP at URL at the mount point DIR, without a robot of its\n"
	      "own; runs in the foreground and unmounts on SIGINT or SIGTERM.\n\n"
	      "  --token-file FILE  the token to send (one line)\n"
	      "  --remote-timeout S seconds the robot may take to answer (default 10)\n"
	      "  --allow-other      let other users use the mount\n", f);
}

struct mounter {
	uv_loop_t loop;
	struct zr_process_stop stop;
	struct zr_remotes *remotes;
	struct zr_tree *tree; /* no robot: its root is the remote's */
	struct zr_fs *fs;
};

struct mount_options {
	const char *token_file;
	double timeout;
	bool allow_other;
};

static void on_mount_stop(void *data)
{
	struct mounter *m = data;
	/* Readers still waiting are answered while the mount can carry the answers. */
	zr_remotes_destroy(m->remotes, ENOTCONN);
	m->remotes = NULL;
	zr_fs_destroy(m->fs);
	m->fs = NULL;
	zr_tree_destroy(m->tree, ENOTCONN);
	m->tree = NULL;
	zr_process_stop_close(&m->stop);
}

static void on_mount_gone(void *data)
{
	struct mounter *m = data;
	zr_process_stop(&m->stop, "unmounted");
}

/* Parses the options (argv[0] is "mount"); optind then points at URL. Returns 0, or -EINVAL
 * after telling stderr. */
static int parse_mount_options(int argc, char **argv, struct mount_options *o)
{
	static const struct option opts[] = {
		{"token-file", required_argument, NULL, 't'},
		{"remote-timeout", required_argument, NULL, 'T'},
		{"log-level", required_argument, NULL, 'l'},
		{"allow-other", no_argument, NULL, 'a'},
		{NULL, 0, NULL, 0},
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			o->token_file = optarg;
			break;
		case 'T':
			if (zr_options_seconds(optarg, &o->timeout) < 0) {
				fprintf(stderr, "zrobot: --remote-timeout wants seconds (0.1 to 3600)\n");
				return -EINVAL;
			}
			break;
		case 'l':
			if (zr_options_log_level(optarg) < 0) {
				return -EINVAL;
			}
			break;
		case 'a':
			o->allow_other = true;
			break;
		default:
			zr_cmd_mount_usage(stderr);
			return -EINVAL;
		}
	}
	if (argc - optind != 2) {
		zr_cmd_mount_usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int zr_cmd_mount(int argc, char **argv)
{
	struct mount_options o = {.timeout = 10};
	if (parse_mount_options(argc, argv, &o) < 0) {
		return 2;
	}
	const char *url = argv[optind];
	char dir[PATH_MAX];
	if (!realpath(argv[optind + 1], dir)) {
		log_error("Mount point %s: %s", argv[optind + 1], strerror(errno));
		return 1;
	}
	int err = zr_mount_prepare(dir);
	if (err < 0) {
		log_error("%s: %s", dir,
			  err == -EBUSY ? "already mounted: refusing to mount over it" : strerror(-err));
		return 1;
	}
	struct mounter m = {0};
	char *why = NULL;
	zr_process_prepare();
	uv_loop_init(&m.loop);
	m.loop.data = &m;
	struct zr_remotes_config rcfg = {
		.timeout_ms = (long)(o.timeout * 1000),
		.standalone = true,
	};
	struct zr_fs_config fcfg = {.mount = dir, .allow_other = o.allow_other, .auto_unmount = true};
	if ((err = zr_remotes_create(&m.loop, &rcfg, &m.remotes)) < 0 ||
	    (err = zr_remotes_add(m.remotes, "mount", url, o.token_file, &why)) < 0 ||
	    (err = zr_fs_create(&m.loop, &fcfg, &m.fs)) < 0 ||
	    (err = zr_tree_create(NULL, &zr_fs_tree_ops, m.fs, &m.tree)) < 0) {
		log_error("Cannot mount %s: %s", url, why ? why : strerror(-err));
		free(why);
		zr_remotes_destroy(m.remotes, ESHUTDOWN);
		zr_fs_destroy(m.fs);
		uv_run(&m.loop, UV_RUN_DEFAULT);
		(void)uv_loop_close(&m.loop);
		return 1;
	}
	zr_tree_set_remotes(m.tree, m.remotes);
	zr_process_stop_init(&m.stop, &m.loop, on_mount_stop, &m);
	err = zr_fs_start(m.fs, m.tree, on_mount_gone, &m);
	int status = 0;
	if (err < 0) {
		log_error("Failed to mount %s: %s", dir, strerror(-err));
		status = 1;
		zr_process_stop(&m.stop, "mount failed");
	} else {
		log_info("zrobot %s: %s mounted at %s", ZR_VERSION, url, dir);
	}
	uv_run(&m.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&m.loop) < 0) {
		log_error("Loop closed with handles open");
		return 1;
	}
	return status;
}
