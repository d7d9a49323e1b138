/* The wiring of one robot: store, robot, tree, FUSE mount, HTTP API, remote robots, signals and
 * shutdown, on one loop. */
#pragma once

/* Runs a robot configured by the arg_* options (options.h) at mount (absolute, prepared by
 * zr_mount_prepare) with its data in data (absolute, locked by the caller) until a signal,
 * an unmount or a failure stops it. Logs what goes wrong; returns the exit status. */
int zr_daemon_run(const char *mount, const char *data);
