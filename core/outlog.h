/* A supervised server's output (DESIGN §6 `log`): the server's stdout and stderr go straight
 * to a file (O_APPEND, opened by the launcher), never through a pipe to the robot, so a server
 * cannot die of SIGPIPE when the robot stops. The robot follows that file on its loop (inotify
 * through uv_fs_event, with a slow timer as a fallback), turns what it reads into timestamped
 * lines in a journal (process/log: cat ends, tail -f follows), and keeps the file bounded on
 * disk by punching out the part it has read (FALLOC_FL_PUNCH_HOLE, lossless for a writer that
 * appends) or, where that is not supported, truncating it once read. A writer faster than the
 * reader costs the robot a bounded share of its loop (5 ms reads, 10 ms apart), and unread
 * output beyond 16 MiB is skipped with a line saying so. */
#pragma once
#include <stddef.h>
#include <uv.h>

struct zr_journal;
struct zr_outlog;

/* Called for each complete line read (without its '\n', borrowed for the call). */
typedef void (*zr_outlog_line_cb)(const char *line, size_t len, void *data);

/* Opens (creating it 0600 if missing) and follows path. What the file holds already and was
 * not read by an earlier run is read first (after a robot restart). journal_max bounds the
 * lines kept in memory (whole lines dropped first). 0 and *ret, or -errno. */
int zr_outlog_open(uv_loop_t *loop, const char *path, size_t journal_max, zr_outlog_line_cb cb,
		   void *data, struct zr_outlog **ret);
/* Reads what the file holds now (never chasing a writer), a last line without '\n' included
 * (the supervisor calls it when the server exits, so the last lines are in before its exit is
 * reported). */
void zr_outlog_poll(struct zr_outlog *o);
/* The timestamped lines ("2026-12-07T12:00:00.123Z LINE"), never NULL. */
struct zr_journal *zr_outlog_journal(struct zr_outlog *o);
/* Appends up to n of the last lines (without timestamps), each ending in '\n', to buf (a
 * malloc'd string, *buf may be NULL). For error texts: "exited with code 1 before ready". */
int zr_outlog_tail(struct zr_outlog *o, size_t n, char **buf);
/* Stops following; the file stays. */
void zr_outlog_close(struct zr_outlog *o);
