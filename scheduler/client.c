/*
 * belfryctl's client: one blocking HTTP/1.1 request over the admin socket
 * (AF_UNIX), "Connection: close", the reply read to end of file.  No
 * libevent: belfryctl stays a small synchronous program.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "scheduler/scheduler.h"

/* Write all of buf to fd; 0 or -1. */
static int
client_write(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read fd to end of file into a NUL-terminated buffer; its length in *len. */
static char *
client_read_all(int fd, size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = xmalloc(cap);
	ssize_t r;

	for (;;) {
		if (cap - n < 4096) {
			cap *= 2;
			buf = xreallocarray(buf, cap, 1);
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Decode a chunked body in place; its new length, or -1 if malformed. */
static long
client_unchunk(char *body, size_t len)
{
	char *in = body, *out = body, *end = body + len, *eol;
	unsigned long n;

	for (;;) {
		eol = memmem(in, (size_t)(end - in), "\r\n", 2);
		if (eol == NULL)
			return -1;
		n = strtoul(in, NULL, 16);
		in = eol + 2;
		if (n == 0)
			break;
		if ((size_t)(end - in) < n)
			return -1;
		memmove(out, in, n);
		out += n;
		in += n + 2;
		if (in > end)
			return -1;
	}
	*out = '\0';
	return out - body;
}

/* The value of header name in the header block hdrs (NUL-terminated). */
static const char *
client_header(const char *hdrs, const char *name, size_t *vlen)
{
	const char *p = hdrs, *eol;
	size_t nl = strlen(name);

	while ((eol = strstr(p, "\r\n")) != NULL && eol != p) {
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			p += nl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			*vlen = (size_t)(eol - p);
			return p;
		}
		p = eol + 2;
	}
	return NULL;
}

/*
 * Send method path (with body, may be NULL) to the daemon on sock.  On 0,
 * *status is the HTTP status and *reply the body (caller frees); -1 with
 * *cause when the daemon cannot be reached or the reply is not HTTP.
 */
int
client_request(const char *sock, const char *method, const char *path,
    const char *body, int *status, char **reply, char **cause)
{
	struct sockaddr_un sun;
	char *req, *buf, *hdr_end, *hdrs, *data;
	const char *v;
	size_t len, blen = body != NULL ? strlen(body) : 0, vlen;
	long n;
	int fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(sock) >= sizeof sun.sun_path) {
		*cause = xasprintf("socket path %s is too long", sock);
		return -1;
	}
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		*cause = xasprintf("cannot connect to %s: %s (is belfryd "
		    "running?)", sock, strerror(errno));
		close(fd);
		return -1;
	}
	if (body != NULL)
		req = xasprintf("%s %s HTTP/1.1\r\nHost: belfry\r\n"
		    "User-Agent: belfryctl/%s\r\nConnection: close\r\n"
		    "Content-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n", method, path,
		    BELFRY_VERSION, blen);
	else
		req = xasprintf("%s %s HTTP/1.1\r\nHost: belfry\r\n"
		    "User-Agent: belfryctl/%s\r\nConnection: close\r\n"
		    "\r\n", method, path, BELFRY_VERSION);
	if (client_write(fd, req, strlen(req)) != 0 ||
	    (blen > 0 && client_write(fd, body, blen) != 0)) {
		*cause = xasprintf("write to %s: %s", sock, strerror(errno));
		free(req);
		close(fd);
		return -1;
	}
	free(req);
	buf = client_read_all(fd, &len);
	close(fd);

	if (sscanf(buf, "HTTP/1.%*d %d", status) != 1 ||
	    (hdr_end = strstr(buf, "\r\n\r\n")) == NULL) {
		*cause = xasprintf("%s: not an HTTP reply", sock);
		free(buf);
		return -1;
	}
	hdrs = strstr(buf, "\r\n") + 2;
	hdr_end[2] = '\0';
	data = hdr_end + 4;
	len -= (size_t)(data - buf);
	if ((v = client_header(hdrs, "Transfer-Encoding", &vlen)) != NULL &&
	    strncasecmp(v, "chunked", 7) == 0) {
		if ((n = client_unchunk(data, len)) < 0) {
			*cause = xasprintf("%s: bad chunked reply", sock);
			free(buf);
			return -1;
		}
		len = (size_t)n;
	} else if ((v = client_header(hdrs, "Content-Length", &vlen)) !=
	    NULL) {
		n = strtol(v, NULL, 10);
		if (n >= 0 && (size_t)n < len)
			len = (size_t)n;
	}
	*reply = xmalloc(len + 1);
	memcpy(*reply, data, len);
	(*reply)[len] = '\0';
	free(buf);
	return 0;
}

/* Percent-encode s for one path segment (RFC 3986 unreserved kept). */
char *
client_path_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = xmalloc(strlen(s) * 3 + 1), *o = out;
	unsigned char c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			*o++ = (char)c;
		else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	*o = '\0';
	return out;
}
