/* The robot the model tests run on without FUSE (test-service, -parent, -graph, -apply): a loop,
 * a scratch folder with templates/ and data/, a store in data/ and a robot on them. A test
 * program has one; its parts are globals under the names the tests have always used, so that a
 * test body reads `robot`, `loop` and `base` as before. The fixture owns all of them. */
#pragma once
#include <stdbool.h>
#include <uv.h>

#include "robot.h"
#include "store.h"

extern uv_loop_t loop;
extern uv_timer_t tick;          /* TEST_RUN_UNTIL's timer on loop */
extern char *base;               /* the scratch folder, removed by fixture_finish */
extern struct zr_store *store;   /* the store in <base>/data, while a robot runs */
extern struct zr_robot *robot;   /* the robot fixture_robot made, until fixture_stop */

/* Makes <ZR_TEST_TMP>/zr-<name>.XXXXXX with data/ (0700) and templates/ in it, and the loop
 * with its tick. SIGPIPE is ignored, as the daemon does: an action that never reads its stdin
 * must not kill the test. */
void fixture_init(const char *name);

/* <base>/templates/<name>/ with manifest, and each action a /bin/sh script: (name, body, ...,
 * NULL). */
void make_template(const char *name, const char *manifest, ...);

/* Opens the store in <base>/data and makes the robot called robot_name with jobs task slots on
 * it (16 queued and 16 kept tasks a service, results of 4 KiB, 1 s of kill grace), loads the
 * templates (asserting there are n_templates) and the store into it. The caller starts it
 * (zr_robot_start) when it wants tasks run. */
void fixture_robot(const char *robot_name, int jobs, int n_templates);

/* Stops the robot (waiting at most 20 s), closes its store and destroys it; another
 * fixture_robot may follow on the same folder. */
void fixture_stop(void);

/* The robot's event journal, whole (the caller frees it; "" when empty). */
char *fixture_events(void);

/* Closes the loop (asserting no handle is left) and removes the scratch folder. */
void fixture_finish(void);

/* A fake check of producers on other robots, for zr_robot_set_producer_check: only
 * "@remote/far/node/there" exists. It counts its calls in checks and, when checks_later is
 * set, answers from a timer, as a remote robot does, rather than at once. */
extern int checks;
extern bool checks_later;
void check_producer(const char *producer, void (*cb)(int err, const char *why, void *cbdata),
		    void *cbdata, void *data);
