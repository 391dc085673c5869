/*
 * scheduler/notify.c: the bytes systemd receives on $NOTIFY_SOCKET (a path
 * and an abstract name), the sender's credentials NotifyAccess=main checks,
 * the errors, and the parsing of $WATCHDOG_USEC and $WATCHDOG_PID.
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "scheduler/notify.h"
#include "tz/tz.h"

/* A bound datagram socket standing in for systemd's notify socket. */
struct receiver {
	int fd;
	char dir[64];	/* temporary directory of a path socket, or "" */
	char name[128];	/* the $NOTIFY_SOCKET value that reaches it */
};

/* Clear every variable the protocol reads. */
static void
clear_env(void)
{
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* Start from a clean environment. */
static int
setup(void **state)
{
	(void)state;
	clear_env();
	return 0;
}

/* Leave a clean environment behind. */
static int
teardown(void **state)
{
	(void)state;
	clear_env();
	return 0;
}

/* Bind a receiver at a fresh path in a temporary directory. */
static struct receiver *
receiver_path(void)
{
	struct receiver *r = xcalloc(1, sizeof *r);
	struct sockaddr_un sun;
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || strlen(tmp) > 32)
		tmp = "/tmp";
	snprintf(r->dir, sizeof r->dir, "%s/belfry-notify.XXXXXX", tmp);
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->name, sizeof r->name, "%s/notify", r->dir);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	assert_true(strlen(r->name) < sizeof sun.sun_path);
	strcpy(sun.sun_path, r->name);
	r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(r->fd != -1);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sun, sizeof sun), 0);
	return r;
}

/* Bind a receiver at a fresh abstract name ("@..." in $NOTIFY_SOCKET). */
static struct receiver *
receiver_abstract(void)
{
	struct receiver *r = xcalloc(1, sizeof *r);
	struct sockaddr_un sun;
	size_t n;

	snprintf(r->name, sizeof r->name, "@belfry/test-notify/%ld/%d",
	    (long)getpid(), rand());
	n = strlen(r->name);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path + 1, r->name + 1, n - 1);
	r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(r->fd != -1);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sun,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)), 0);
	return r;
}

/* Close a receiver and remove its files. */
static void
receiver_free(struct receiver *r)
{
	close(r->fd);
	if (r->dir[0] != '\0') {
		unlink(r->name);
		rmdir(r->dir);
	}
	free(r);
}

/* Wait up to a second for one datagram; return its length or -1. */
static ssize_t
receiver_recv(struct receiver *r, char *buf, size_t size)
{
	struct pollfd pfd = { r->fd, POLLIN, 0 };

	if (poll(&pfd, 1, 1000) != 1)
		return -1;
	return recv(r->fd, buf, size, MSG_TRUNC);
}

/* Nothing is waiting on the receiver. */
static void
assert_nothing_pending(struct receiver *r)
{
	char buf[16];

	assert_int_equal(recv(r->fd, buf, sizeof buf, MSG_DONTWAIT), -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Receive one datagram and compare it, byte for byte, with want. */
static void
assert_received(struct receiver *r, const char *want)
{
	char buf[8192];
	ssize_t n;

	n = receiver_recv(r, buf, sizeof buf);
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, strlen(want));
}

/* Without $NOTIFY_SOCKET (outside systemd) a message is a silent no-op. */
static void
test_unset_is_silent(void **state)
{
	(void)state;
	assert_int_equal(sch_notify("READY=1"), 0);
	assert_int_equal(sch_notify_reloading(), 0);
	setenv("NOTIFY_SOCKET", "", 1);
	assert_int_equal(sch_notify("READY=1"), 0);
}

/* A path socket receives exactly the formatted text, with no NUL or LF. */
static void
test_path_socket(void **state)
{
	struct receiver *r = receiver_path();

	(void)state;
	setenv("NOTIFY_SOCKET", r->name, 1);
	assert_int_equal(sch_notify("READY=1\nSTATUS=%s", "serving"), 0);
	assert_received(r, "READY=1\nSTATUS=serving");
	assert_nothing_pending(r);
	receiver_free(r);
}

/* An abstract socket ("@name") receives exactly the formatted text. */
static void
test_abstract_socket(void **state)
{
	struct receiver *r = receiver_abstract();

	(void)state;
	setenv("NOTIFY_SOCKET", r->name, 1);
	assert_int_equal(sch_notify("STATUS=%d schedules, %s", 3, "ok"), 0);
	assert_received(r, "STATUS=3 schedules, ok");
	assert_nothing_pending(r);
	receiver_free(r);
}

/* Each call is its own datagram, in order. */
static void
test_one_datagram_per_message(void **state)
{
	struct receiver *r = receiver_abstract();

	(void)state;
	setenv("NOTIFY_SOCKET", r->name, 1);
	assert_int_equal(sch_notify("WATCHDOG=1"), 0);
	assert_int_equal(sch_notify("STOPPING=1"), 0);
	assert_int_equal(sch_notify("%s", ""), 0);
	assert_received(r, "WATCHDOG=1");
	assert_received(r, "STOPPING=1");
	assert_received(r, "");
	assert_nothing_pending(r);
	receiver_free(r);
}

/* A long status line goes out whole. */
static void
test_long_message(void **state)
{
	struct receiver *r = receiver_path();
	char status[4001], *want;

	(void)state;
	memset(status, 'x', sizeof status - 1);
	status[sizeof status - 1] = '\0';
	want = xasprintf("STATUS=%s", status);
	setenv("NOTIFY_SOCKET", r->name, 1);
	assert_int_equal(sch_notify("STATUS=%s", status), 0);
	assert_received(r, want);
	free(want);
	receiver_free(r);
}

/* RELOADING=1 carries MONOTONIC_USEC= taken between the two reads. */
static void
test_reloading_has_monotonic_usec(void **state)
{
	struct receiver *r = receiver_abstract();
	uint64_t before, after, t;
	char buf[256], tail[8];
	ssize_t n;

	(void)state;
	setenv("NOTIFY_SOCKET", r->name, 1);
	before = sch_notify_monotonic_usec();
	assert_int_equal(sch_notify_reloading(), 0);
	after = sch_notify_monotonic_usec();

	n = receiver_recv(r, buf, sizeof buf - 1);
	assert_true(n > 0 && (size_t)n < sizeof buf);
	buf[n] = '\0';
	assert_int_equal(sscanf(buf, "RELOADING=1\nMONOTONIC_USEC=%" SCNu64
	    "%7s", &t, tail), 1);
	assert_true(before <= t && t <= after);
	assert_true(strchr(buf, '\n') == strrchr(buf, '\n'));
	receiver_free(r);
}

/* The kernel stamps our pid on the datagram: what NotifyAccess=main checks. */
static void
test_sender_is_this_process(void **state)
{
	struct receiver *r = receiver_path();
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	struct ucred cred;
	char buf[64];
	int on = 1, found = 0;

	(void)state;
	assert_int_equal(setsockopt(r->fd, SOL_SOCKET, SO_PASSCRED, &on,
	    sizeof on), 0);
	setenv("NOTIFY_SOCKET", r->name, 1);
	assert_int_equal(sch_notify("READY=1"), 0);

	memset(&mh, 0, sizeof mh);
	iov.iov_base = buf;
	iov.iov_len = sizeof buf;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = control.buf;
	mh.msg_controllen = sizeof control.buf;
	assert_int_equal(recvmsg(r->fd, &mh, 0), 7);
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET ||
		    c->cmsg_type != SCM_CREDENTIALS)
			continue;
		memcpy(&cred, CMSG_DATA(c), sizeof cred);
		assert_int_equal(cred.pid, getpid());
		found = 1;
	}
	assert_true(found);
	receiver_free(r);
}

/* A receiver that never reads: sending fails at once, never blocks. */
static void
test_full_queue(void **state)
{
	struct receiver *r = receiver_path();
	int i, failed = 0;

	(void)state;
	setenv("NOTIFY_SOCKET", r->name, 1);
	for (i = 0; i < 1000 && !failed; i++)
		if (sch_notify("STATUS=%d", i) == -1) {
			assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
			failed = 1;
		}
	assert_true(failed);
	receiver_free(r);
}

/* Unusable addresses and a missing peer are errors with errno set. */
static void
test_send_errors(void **state)
{
	struct receiver *r = receiver_path();
	char *gone, *longname;

	(void)state;
	gone = xasprintf("%s/absent", r->dir);
	setenv("NOTIFY_SOCKET", gone, 1);
	errno = 0;
	assert_int_equal(sch_notify("READY=1"), -1);
	assert_int_equal(errno, ENOENT);

	setenv("NOTIFY_SOCKET", "relative/notify", 1);
	errno = 0;
	assert_int_equal(sch_notify("READY=1"), -1);
	assert_int_equal(errno, EAFNOSUPPORT);

	longname = xmalloc(200);
	memset(longname, 'a', 199);
	longname[0] = '/';
	longname[199] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	errno = 0;
	assert_int_equal(sch_notify("READY=1"), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	longname[0] = '@';
	setenv("NOTIFY_SOCKET", longname, 1);
	errno = 0;
	assert_int_equal(sch_notify("READY=1"), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	/* The longest path that fits (107 bytes and the NUL) is tried. */
	longname[0] = '/';
	longname[107] = '\0';
	setenv("NOTIFY_SOCKET", longname, 1);
	errno = 0;
	assert_int_equal(sch_notify("READY=1"), -1);
	assert_int_equal(errno, ENOENT);

	/* An abstract name nobody bound. */
	setenv("NOTIFY_SOCKET", "@belfry/test-notify/nobody", 1);
	errno = 0;
	assert_int_equal(sch_notify("READY=1"), -1);
	assert_int_equal(errno, ECONNREFUSED);

	free(gone);
	free(longname);
	assert_nothing_pending(r);
	receiver_free(r);
}

/* One case of the watchdog table. */
struct wd_case {
	const char *usec;	/* $WATCHDOG_USEC, NULL: unset */
	const char *pid;	/* $WATCHDOG_PID, NULL: unset, "self": ours */
	int enabled;
	uint64_t want;
};

/* $WATCHDOG_USEC and $WATCHDOG_PID, valid and not. */
static void
test_watchdog(void **state)
{
	static const struct wd_case cases[] = {
		{ NULL, NULL, 0, 0 },
		{ "30000000", NULL, 1, 30000000 },
		{ "30000000", "self", 1, 30000000 },
		{ "1", "self", 1, 1 },
		{ "18446744073709551614", NULL, 1, UINT64_MAX - 1 },
		{ "30000000", "1", 0, 0 },	/* another process's */
		{ "30000000", "", 0, 0 },
		{ "30000000", "12ab", 0, 0 },
		{ "30000000", "-1", 0, 0 },
		{ NULL, "self", 0, 0 },
		{ "", NULL, 0, 0 },
		{ "0", NULL, 0, 0 },
		{ "-30000000", NULL, 0, 0 },
		{ "+30000000", NULL, 0, 0 },
		{ " 30000000", NULL, 0, 0 },
		{ "30000000 ", NULL, 0, 0 },
		{ "30s", NULL, 0, 0 },
		{ "0x10", NULL, 0, 0 },
		{ "18446744073709551615", NULL, 0, 0 },	/* infinity */
		{ "18446744073709551616", NULL, 0, 0 },	/* overflows */
		{ "99999999999999999999999", NULL, 0, 0 },
	};
	char self[32];
	uint64_t usec;
	size_t i;

	(void)state;
	snprintf(self, sizeof self, "%ld", (long)getpid());
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct wd_case *c = &cases[i];

		clear_env();
		if (c->usec != NULL)
			setenv("WATCHDOG_USEC", c->usec, 1);
		if (c->pid != NULL)
			setenv("WATCHDOG_PID", strcmp(c->pid, "self") == 0 ?
			    self : c->pid, 1);
		usec = 12345;
		if (sch_notify_watchdog_usec(&usec) != c->enabled ||
		    usec != c->want)
			fail_msg("case %zu (usec %s, pid %s): got %" PRIu64,
			    i, c->usec ? c->usec : "unset",
			    c->pid ? c->pid : "unset", usec);
		assert_int_equal(sch_notify_watchdog_usec(NULL), c->enabled);
	}
}

/* The longest abstract name (107 bytes after the NUL) is sent in full. */
static void
test_abstract_longest_name(void **state)
{
	struct receiver *r = xcalloc(1, sizeof *r);
	struct sockaddr_un sun;

	(void)state;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path + 1, sizeof sun.sun_path - 1,
	    "belfry/test-notify/%ld/%d/", (long)getpid(), rand());
	memset(sun.sun_path + 1 + strlen(sun.sun_path + 1), 'z',
	    sizeof sun.sun_path - 1 - strlen(sun.sun_path + 1));
	r->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	assert_true(r->fd != -1);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&sun, sizeof sun), 0);
	r->name[0] = '@';
	memcpy(r->name + 1, sun.sun_path + 1, sizeof sun.sun_path - 1);
	assert_int_equal(strlen(r->name), sizeof sun.sun_path);

	setenv("NOTIFY_SOCKET", r->name, 1);
	assert_int_equal(sch_notify("READY=1"), 0);
	assert_received(r, "READY=1");
	receiver_free(r);
}

/* The monotonic clock is in microseconds and does not go back. */
static void
test_monotonic_usec(void **state)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	uint64_t a, b;

	(void)state;
	a = sch_notify_monotonic_usec();
	nanosleep(&ts, NULL);
	b = sch_notify_monotonic_usec();
	assert_true(a > 0);
	assert_true(b - a >= 20000);
	assert_true(b - a < 20000000);
}

/* Runs the tests. */
int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unset_is_silent,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_socket,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_abstract_socket,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_datagram_per_message,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_message,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_reloading_has_monotonic_usec, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sender_is_this_process,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_queue, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_send_errors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_abstract_longest_name,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_watchdog,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_monotonic_usec,
		    setup, teardown),
	};

	srand((unsigned int)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
