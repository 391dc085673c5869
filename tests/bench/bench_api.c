/*
 * Benchmark client for a running belfryd: requests per second over the
 * admin Unix socket from several connections at once (each sends a
 * request, waits for the whole reply, sends the next).
 *
 *   bench_api SOCKET CONNS SECONDS METHOD PATH [BODY]
 *
 * Prints "ok=N errors=M seconds=S rate=R" (R = ok replies per second).
 * BODY (up to 1 MiB once filled in) may contain "%d", replaced by a
 * per-request counter (modulo BENCH_API_MOD when that is set: the same
 * recipients over and over).  BENCH_API_HEADER, when set, is one more
 * header line sent with each request ("Authorization: Basic ...").
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN 256

struct conn {
	int fd;
	char buf[1 << 16];
	size_t len;
};

#define BODYMAX (1 << 20)

static const char *method, *path, *bodyfmt, *header;
static long counter, modulo;

/* Monotonic seconds. */
static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Connect to the Unix socket at p. */
static int
dial(const char *p)
{
	struct sockaddr_un sun;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", p);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

/* Copy fmt into out with each "%d" replaced by n; returns the length. */
static int
fill(char *out, size_t len, const char *fmt, long n)
{
	size_t o = 0;
	int k;

	for (; *fmt != '\0' && o + 24 < len; fmt++) {
		if (fmt[0] == '%' && fmt[1] == 'd') {
			k = snprintf(out + o, len - o, "%ld", n);
			o += (size_t)k;
			fmt++;
		} else
			out[o++] = *fmt;
	}
	out[o] = '\0';
	return (int)o;
}

/* Send one request on c. */
static void
send_req(struct conn *c)
{
	static char body[BODYMAX], req[BODYMAX + 4096];
	int n, b = 0;

	if (bodyfmt != NULL)
		b = fill(body, sizeof body, bodyfmt, modulo > 0 ?
		    counter++ % modulo : counter++);
	n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: belfry\r\n"
	    "%s%sContent-Type: application/json\r\nContent-Length: %d\r\n"
	    "\r\n%s", method, path, header ? header : "", header ? "\r\n" :
	    "", b, b ? body : "");
	if (write(c->fd, req, (size_t)n) != n) {
		perror("write");
		exit(1);
	}
	c->len = 0;
}

/* Whether c holds a whole reply; sets *ok from its status. */
static int
reply_done(struct conn *c, int *ok)
{
	char *hdr_end, *cl;
	size_t need;

	c->buf[c->len] = '\0';
	if ((hdr_end = strstr(c->buf, "\r\n\r\n")) == NULL)
		return 0;
	cl = strcasestr(c->buf, "content-length:");
	need = (size_t)(hdr_end + 4 - c->buf) + (cl ? strtoul(cl + 15, NULL,
	    10) : 0);
	if (c->len < need)
		return 0;
	*ok = strncmp(c->buf + 9, "2", 1) == 0;
	return 1;
}

/* Run the load and print the figures. */
int
main(int argc, char **argv)
{
	struct conn *cs;
	struct pollfd pfd[MAXCONN];
	long okn = 0, errn = 0;
	double t0, secs;
	ssize_t r;
	int n, i, ok;

	if (argc < 6) {
		fprintf(stderr, "usage: bench_api SOCKET CONNS SECONDS METHOD "
		    "PATH [BODY]\n");
		return 2;
	}
	n = atoi(argv[2]);
	if (n < 1 || n > MAXCONN)
		n = 1;
	secs = atof(argv[3]);
	method = argv[4];
	path = argv[5];
	bodyfmt = argc > 6 ? argv[6] : NULL;
	if (getenv("BENCH_API_MOD") != NULL)
		modulo = atol(getenv("BENCH_API_MOD"));
	header = getenv("BENCH_API_HEADER");
	cs = calloc((size_t)n, sizeof *cs);
	for (i = 0; i < n; i++) {
		cs[i].fd = dial(argv[1]);
		pfd[i].fd = cs[i].fd;
		pfd[i].events = POLLIN;
		send_req(&cs[i]);
	}
	t0 = now();
	while (now() - t0 < secs) {
		if (poll(pfd, (nfds_t)n, 1000) < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			if (!(pfd[i].revents & (POLLIN | POLLHUP)))
				continue;
			r = read(cs[i].fd, cs[i].buf + cs[i].len,
			    sizeof cs[i].buf - 1 - cs[i].len);
			if (r <= 0) {
				fprintf(stderr, "connection closed\n");
				return 1;
			}
			cs[i].len += (size_t)r;
			if (reply_done(&cs[i], &ok)) {
				ok ? okn++ : errn++;
				send_req(&cs[i]);
			}
		}
	}
	secs = now() - t0;
	printf("ok=%ld errors=%ld seconds=%.2f rate=%.0f\n", okn, errn, secs,
	    okn / secs);
	return errn > 0 ? 1 : 0;
}
