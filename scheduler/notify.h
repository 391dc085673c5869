/*
 * scheduler/notify.c: systemd's service notification protocol (sd_notify(3)
 * and sd_watchdog_enabled(3)) without libsystemd.
 *
 * The protocol: when systemd starts a Type=notify service it sets
 * $NOTIFY_SOCKET to the address of an AF_UNIX datagram socket, either a
 * file system path ("/run/systemd/notify") or an abstract name ("@..."
 * with the '@' standing for the leading NUL byte).  The service sends
 * newline-separated VAR=value assignments, one datagram per message.
 * Outside systemd the variable is unset and every message is dropped.
 *
 * Messages belfryd sends, and when (see the unit, configs/belfry.service):
 *	READY=1			start-up is done: the admin socket listens
 *	RELOADING=1		a reload starts; always with MONOTONIC_USEC=,
 *	MONOTONIC_USEC=N	which systemd >= 253 requires for notify-reload;
 *				READY=1 again when the reload is over, even
 *				when the new config was refused
 *	STOPPING=1		shutdown starts
 *	STATUS=text		a one-line human status for systemctl status
 *	WATCHDOG=1		keep-alive, at least every half WATCHDOG_USEC
 *
 * Nothing here keeps state: each message opens, uses and closes a socket.
 */
#ifndef BELFRY_SCHEDULER_NOTIFY_H
#define BELFRY_SCHEDULER_NOTIFY_H

#include <stdint.h>

/*
 * Send the formatted text as one datagram to $NOTIFY_SOCKET.  Returns 0
 * when sent or when $NOTIFY_SOCKET is unset or empty, -1 with errno set
 * when the address is unusable (EAFNOSUPPORT: neither '/' nor '@';
 * ENAMETOOLONG) or the socket or the send fails.
 */
int sch_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Send "RELOADING=1" with MONOTONIC_USEC= set to now, as sch_notify(). */
int sch_notify_reloading(void);

/*
 * Whether systemd expects WATCHDOG=1 pings from this process: 1 with
 * *usec (when usec is not NULL) set to $WATCHDOG_USEC, a positive count
 * of microseconds, if $WATCHDOG_USEC is set and valid and $WATCHDOG_PID is
 * either unset or this process's pid; otherwise 0 and *usec set to 0.
 * Ping at least every *usec / 2.
 */
int sch_notify_watchdog_usec(uint64_t *usec);

/* CLOCK_MONOTONIC now, in microseconds (systemd's MONOTONIC_USEC). */
uint64_t sch_notify_monotonic_usec(void);

#endif /* BELFRY_SCHEDULER_NOTIFY_H */
