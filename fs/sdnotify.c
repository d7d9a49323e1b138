/* sd_notify without libsystemd: the protocol is a datagram of "NAME=VALUE" lines to the
 * AF_UNIX socket in $NOTIFY_SOCKET, an abstract one when the name starts with '@'
 * (systemd's sd_notify(3), "Notes"). One short sendto per state: it never blocks the loop
 * for long (the manager reads its socket, and a full one fails with EAGAIN). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

/* The address read at start; sun_path[0] == '\0' with len 0: none. */
static struct sockaddr_un notify_addr;
static socklen_t notify_len;

void zr_sdnotify_init(void)
{
	const char *e = getenv("NOTIFY_SOCKET");
	size_t n = e ? strlen(e) : 0;
	/* Only absolute paths and abstract names are the manager's (vsock addresses are for
	 * virtual machines: not ours to handle). */
	if (n >= 2 && n < sizeof(notify_addr.sun_path) && (e[0] == '/' || e[0] == '@')) {
		notify_addr.sun_family = AF_UNIX;
		memcpy(notify_addr.sun_path, e, n);
		if (e[0] == '@') {
			notify_addr.sun_path[0] = '\0';
		}
		/* An abstract name is exactly its bytes, without a trailing NUL. */
		notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
					 (e[0] == '/' ? 1 : 0));
	}
	(void)unsetenv("NOTIFY_SOCKET");
}

int zr_sdnotify_send(const char *state)
{
	if (notify_len == 0) {
		return 0;
	}
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		return -errno;
	}
	ssize_t n = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
			   (const struct sockaddr *)&notify_addr, notify_len);
	int err = n < 0 ? -errno : 0;
	close(fd);
	return err;
}
