/* The service manager's readiness protocol (sd_notify(3), without libsystemd): one datagram
 * per state to the socket systemd names in $NOTIFY_SOCKET for a Type=notify unit. */
#pragma once

/* Reads $NOTIFY_SOCKET once and removes it from the environment, so that nothing the robot
 * starts (actions, --pass-env, supervised servers) can speak for the robot. Call before any
 * thread or child exists (unsetenv). Without the variable the sends below do nothing. */
void zr_sdnotify_init(void);

/* Sends state ("READY=1", "STOPPING=1") to the socket read by zr_sdnotify_init. Returns 0,
 * also when no socket was named; a negative errno when the send failed (the caller logs). */
int zr_sdnotify_send(const char *state);
