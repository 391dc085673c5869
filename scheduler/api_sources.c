/*
 * Source routes: Segment's HTTP tracking API under each source's prefix,
 * POST /sources/{key}/v1/batch|track|identify|group|page|screen|alias,
 * as Segment's and RudderStack's libraries send it; and the views of what
 * sources sent, GET /v1/sources and GET /v1/sources/{key}/events.
 *
 * The tracking routes carry SCH_ROUTE_SOURCE: they are authenticated by
 * one of the source's write keys, sent as HTTP Basic's user name (the
 * password is ignored, as Segment ignores it), not by an API key; server.c
 * asks api_sources_admit on the request's head and hands the body to
 * api_sources_body, which undoes a gzip Content-Encoding (RudderStack's
 * library compresses by default), applies Segment's limits (32 KB per
 * event, 500 KB per batch: 400 beyond them, as Segment answers) and parses
 * the JSON.  The events then run in the group commit like any request.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <zlib.h>

#include "scheduler/scheduler.h"

/* Segment's tracking API limits. */
#define API_SRC_EVENT_MAX (32 * 1024)
#define API_SRC_BATCH_MAX (500 * 1024)

/*
 * Decode standard base64 text s (padding optional) into out (len bytes,
 * NUL-terminated); -1 if it is not base64 or does not fit.
 */
static int
api_sources_b64(const char *s, char *out, size_t len)
{
	static const char set[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
	    "qrstuvwxyz0123456789+/";
	const char *p;
	uint32_t acc = 0;
	size_t n = 0;
	int bits = 0;

	for (; *s != '\0' && *s != '='; s++) {
		if ((p = strchr(set, *s)) == NULL)
			return -1;
		acc = (acc << 6) | (uint32_t)(p - set);
		if ((bits += 6) >= 8) {
			bits -= 8;
			if (n + 1 >= len)
				return -1;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	while (*s == '=')
		s++;
	if (*s != '\0')
		return -1;
	out[n] = '\0';
	return memchr(out, '\0', n) != NULL ? -1 : 0;
}

/* See scheduler.h: the write-key check of a source route's head. */
int
api_sources_admit(struct sch_req *r, int *status, const char **code,
    char **cause)
{
	const struct eng_config *c = eng_config(r->s->eng);
	const char *h = api_header(r, "Authorization"), *key = r->param[0];
	char user[512], *colon;

	*status = 401;
	*code = "authentication_required";
	if (h != NULL && strncasecmp(h, "Basic ", 6) == 0) {
		h += 6;
		while (*h == ' ')
			h++;
		if (api_sources_b64(h, user, sizeof user) == 0) {
			if ((colon = strchr(user, ':')) != NULL)
				*colon = '\0';
			if (eng_source_authorized(c, key, user))
				return 0;
		}
	}
	*cause = xasprintf("a write key of source \"%.128s\" is required: "
	    "Authorization: Basic base64(WRITE_KEY:)", key);
	return -1;
}

/* Inflate gzip data into *out (at most max + 1 bytes); its length or -1. */
static long
api_sources_gunzip(const char *data, size_t len, size_t max, char **out)
{
	z_stream z;
	int rc;

	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return -1;
	*out = xmalloc(max + 1);
	z.next_in = (Bytef *)(uintptr_t)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)*out;
	z.avail_out = (uInt)(max + 1);
	rc = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if (rc == Z_STREAM_END || (rc == Z_BUF_ERROR && z.avail_out == 0))
		return (long)z.total_out;
	free(*out);
	*out = NULL;
	return -1;
}

/* See scheduler.h: decode, limit and parse a source route's body. */
int
api_sources_body(struct sch_req *r, const char *data, size_t len,
    int *status, const char **code, char **cause)
{
	const char *enc = api_header(r, "Content-Encoding");
	int batch = strcmp(r->route->arg, "batch") == 0;
	size_t max = batch ? API_SRC_BATCH_MAX : API_SRC_EVENT_MAX, i, n;
	char *plain = NULL, one[1];
	json_error_t jerr;
	json_t *v;
	long got;

	*status = 400;
	*code = "invalid_request";
	if (enc != NULL && strcasecmp(enc, "gzip") == 0) {
		if ((got = api_sources_gunzip(data, len, max, &plain)) < 0) {
			*cause = xstrdup("the body is not valid gzip data");
			return -1;
		}
		data = plain;
		len = (size_t)got;
	} else if (enc != NULL && strcasecmp(enc, "identity") != 0) {
		*cause = xasprintf("Content-Encoding \"%.32s\" is not supported "
		    "(gzip or none)", enc);
		return -1;
	}
	*code = "request_too_large";
	if (len > max) {
		*cause = xasprintf("the %s is larger than %zu KB, the limit of "
		    "Segment's tracking API", batch ? "batch" : "event",
		    max / 1024);
		free(plain);
		return -1;
	}
	r->body = json_loadb(data, len, 0, &jerr);
	free(plain);
	*code = "invalid_json";
	if (r->body == NULL) {
		*cause = xasprintf("invalid JSON at line %d, column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		return -1;
	}
	if (!json_is_object(r->body)) {
		*cause = xstrdup("the body must be a JSON object");
		return -1;
	}
	*code = "request_too_large";
	json_array_foreach(batch ? json_object_get(r->body, "batch") : NULL, i,
	    v) {
		n = json_dumpb(v, one, 0, JSON_COMPACT | JSON_ENCODE_ANY);
		if (n > API_SRC_EVENT_MAX) {
			*cause = xasprintf("event %zu of the batch is larger "
			    "than %d KB, the limit of Segment's tracking API",
			    i, API_SRC_EVENT_MAX / 1024);
			return -1;
		}
	}
	return 0;
}

/* POST /sources/{key}/v1/{call}: the events, in the group commit. */
enum eng_status
api_sources_receive(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_source_receive(r->s->eng, r->param[0], r->route->arg,
	    r->body, r->now, reply, cause);
}

/* GET /v1/sources. */
enum eng_status
api_sources_list(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_sources_list(r->s->eng, reply, cause);
}

/* GET /v1/sources/{key}/events. */
enum eng_status
api_sources_events(struct sch_req *r, json_t **reply, char **cause)
{
	return eng_source_events(r->s->eng, r->param[0], r->query, reply,
	    cause);
}
