/*
 * systemd's notification protocol, spoken directly: a datagram on the
 * AF_UNIX socket named by $NOTIFY_SOCKET, and the watchdog settings from
 * $WATCHDOG_USEC and $WATCHDOG_PID.  See notify.h for the messages.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "scheduler/notify.h"
#include "tz/tz.h"

/*
 * Fill *sun and *len from a $NOTIFY_SOCKET value: a path (sent with its
 * NUL, as systemd does) or "@name", an abstract name whose '@' becomes the
 * leading NUL and which is not NUL-terminated.
 */
static int
sch_notify_addr(const char *name, struct sockaddr_un *sun, socklen_t *len)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n = strlen(name);

	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (name[0] == '/') {
		if (n >= sizeof sun->sun_path) {
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(sun->sun_path, name, n + 1);
		*len = (socklen_t)(off + n + 1);
		return 0;
	}
	if (name[0] == '@') {
		if (n > sizeof sun->sun_path) {
			errno = ENAMETOOLONG;
			return -1;
		}
		sun->sun_path[0] = '\0';
		memcpy(sun->sun_path + 1, name + 1, n - 1);
		*len = (socklen_t)(off + n);
		return 0;
	}
	errno = EAFNOSUPPORT;
	return -1;
}

/*
 * Send len bytes of msg as one datagram to the socket named name, never
 * waiting: a receiver whose queue is full (a supervisor that stopped
 * reading) loses the message (-1, EAGAIN) instead of stopping the loop.
 */
static int
sch_notify_send(const char *name, const char *msg, size_t len)
{
	struct sockaddr_un sun;
	socklen_t sunlen;
	ssize_t n;
	int fd, saved;

	if (sch_notify_addr(name, &sun, &sunlen) != 0)
		return -1;
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	do
		n = sendto(fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT,
		    (struct sockaddr *)&sun, sunlen);
	while (n == -1 && errno == EINTR);
	saved = errno;
	close(fd);
	if (n == -1) {
		errno = saved;
		return -1;
	}
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return -1;
	}
	return 0;
}

/* Send the formatted state to $NOTIFY_SOCKET, if it is set. */
int
sch_notify(const char *fmt, ...)
{
	const char *name;
	char buf[512], *msg = buf;
	va_list ap;
	int len, rc;

	name = getenv("NOTIFY_SOCKET");
	if (name == NULL || *name == '\0')
		return 0;

	/* Most messages fit buf; a long STATUS= is formatted again. */
	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -1;
	if ((size_t)len >= sizeof buf) {
		msg = xmalloc((size_t)len + 1);
		va_start(ap, fmt);
		vsnprintf(msg, (size_t)len + 1, fmt, ap);
		va_end(ap);
	}

	rc = sch_notify_send(name, msg, (size_t)len);
	if (msg != buf)
		free(msg);
	return rc;
}

/* Announce a reload with the monotonic time systemd >= 253 expects. */
int
sch_notify_reloading(void)
{
	return sch_notify("RELOADING=1\nMONOTONIC_USEC=%" PRIu64,
	    sch_notify_monotonic_usec());
}

/* Parse a decimal unsigned integer: digits only, no sign, no overflow. */
static int
sch_notify_parse_u64(const char *s, uint64_t *v)
{
	uint64_t n = 0;
	unsigned int d;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		d = (unsigned int)(*s - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

/* Report whether systemd's watchdog watches this process, and its period. */
int
sch_notify_watchdog_usec(uint64_t *usec)
{
	const char *s;
	uint64_t v, pid;

	if (usec != NULL)
		*usec = 0;
	if ((s = getenv("WATCHDOG_PID")) != NULL) {
		if (sch_notify_parse_u64(s, &pid) != 0 ||
		    pid != (uint64_t)getpid())
			return 0;
	}
	if ((s = getenv("WATCHDOG_USEC")) == NULL ||
	    sch_notify_parse_u64(s, &v) != 0)
		return 0;
	/* systemd sends neither 0 nor its "infinity" (UINT64_MAX). */
	if (v == 0 || v == UINT64_MAX)
		return 0;
	if (usec != NULL)
		*usec = v;
	return 1;
}

/* The monotonic clock in microseconds, as systemd's MONOTONIC_USEC. */
uint64_t
sch_notify_monotonic_usec(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}
