/* Mount point checks before mounting. */
#pragma once

/* Makes dir usable as a mount point: creates it if missing, lazily unmounts a stale mount
 * left by a crashed robot (with a log line). Returns 0, -EBUSY when a live filesystem is
 * mounted there (another robot), or another negative errno. */
int zr_mount_prepare(const char *dir);
