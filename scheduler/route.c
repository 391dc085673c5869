/*
 * Routing without a transport: match a method and path against the route
 * table (api.c), decode path parameters and the query string.  Nothing
 * here reads a socket, so the HTTP server and the fuzz harnesses share it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "engine/json.h"
#include "scheduler/scheduler.h"

/* The value of hex digit c, or -1. */
static int
route_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode the len bytes at p (and '+' as a space when plus is
 * set); a '%' not followed by two hex digits stays as it is.  NULL when
 * the result would hold a NUL byte, else a string the caller frees.
 */
char *
route_decode(const char *p, size_t len, int plus)
{
	char *out = xmalloc(len + 1), *o = out;
	size_t i;
	int hi, lo;

	for (i = 0; i < len; i++, o++) {
		if (p[i] == '%' && i + 2 < len &&
		    (hi = route_hex((unsigned char)p[i + 1])) >= 0 &&
		    (lo = route_hex((unsigned char)p[i + 2])) >= 0) {
			*o = (char)(hi << 4 | lo);
			i += 2;
		} else if (p[i] == '+' && plus)
			*o = ' ';
		else
			*o = p[i];
		if (*o == '\0') {
			free(out);
			return NULL;
		}
	}
	*o = '\0';
	return out;
}

/* The length of the path segment starting at p. */
static size_t
route_seglen(const char *p)
{
	const char *slash = strchr(p, '/');

	return slash != NULL ? (size_t)(slash - p) : strlen(p);
}

/*
 * Match path against a route pattern; on a match fill r's parameters
 * (percent-decoded) and return 1.  0 when it does not match, -1 when it
 * matches but a parameter does not decode to UTF-8 text without NULs.
 */
static int
route_match(const char *pattern, const char *path, struct sch_req *r)
{
	const char *p = pattern, *q = path;
	char *seg[SCH_MAX_PARAMS], *d;
	size_t n = 0, lp, lq, i;

	while (*p == '/' && *q == '/') {
		p++;
		q++;
		lp = route_seglen(p);
		lq = route_seglen(q);
		if (lp > 1 && p[0] == '{' && p[lp - 1] == '}') {
			if (lq == 0)
				goto nomatch;
			if (r != NULL) {
				if (n == SCH_MAX_PARAMS ||
				    (d = route_decode(q, lq, 0)) == NULL ||
				    !eng_utf8_valid(d, strlen(d))) {
					free(n < SCH_MAX_PARAMS ? d : NULL);
					for (i = 0; i < n; i++)
						free(seg[i]);
					return -1;
				}
				seg[n] = d;
			}
			n++;
		} else if (lp != lq || memcmp(p, q, lp) != 0)
			goto nomatch;
		p += lp;
		q += lq;
	}
	if (*p != '\0' || *q != '\0')
		goto nomatch;
	if (r != NULL) {
		for (i = 0; i < n; i++)
			r->param[i] = seg[i];
		r->nparam = n;
	}
	return 1;
nomatch:
	if (r != NULL)
		for (i = 0; i < n; i++)
			free(seg[i]);
	return 0;
}

/*
 * The element of array a that field f of element index idx (-1: "[]",
 * no index) goes into: with an index, the element that index named
 * first; without, the last element unless it already has f.
 */
static json_t *
route_query_elem(json_t *a, json_t *idx, long n, const char *f)
{
	size_t i, len = json_array_size(a);
	json_t *el;

	if (n >= 0) {
		for (i = 0; i < len; i++)
			if (json_integer_value(json_array_get(idx, i)) == n &&
			    json_is_object(json_array_get(a, i)))
				return json_array_get(a, i);
	} else if (len > 0) {
		el = json_array_get(a, len - 1);
		if (json_is_object(el) && json_object_get(el, f) == NULL &&
		    json_integer_value(json_array_get(idx, len - 1)) == -1)
			return el;
	}
	el = json_object();
	json_array_append_new(a, el);
	json_array_append_new(idx, json_integer(n));
	return el;
}

/*
 * Add parameter k = v (taking v) to query object o, normalised as qs
 * (Knock's SDK) writes arrays and objects: "k[]" and "k[N]" append v to
 * the array "k[]", "k[][f]" and "k[N][f]" set f of an element of it (a
 * repeated f starts a new element, an index names one), "k[f]" and "k.f"
 * set f of the object "k"; any other name keeps its last value.  idx
 * holds, per "k[]" array, the index each element came with (-1: none).
 */
static void
route_query_add(json_t *o, json_t *idx, const char *k, json_t *v)
{
	const char *br = strchr(k, '['), *dot = strchr(k, '.'), *f, *end;
	char *base, *name, *field;
	json_t *a, *ix, *el;
	long n = -1;

	if (br == NULL && dot == NULL) {
		json_object_set_new(o, k, v);
		return;
	}
	if (br == NULL || (dot != NULL && dot < br)) {
		if (dot == k || dot[1] == '\0') {
			json_object_set_new(o, k, v);
			return;
		}
		base = xstrndup(k, (size_t)(dot - k));
		if (!json_is_object(el = json_object_get(o, base))) {
			el = json_object();
			json_object_set_new(o, base, el);
		}
		json_object_set_new(el, dot + 1, v);
		free(base);
		return;
	}
	end = strchr(br, ']');
	if (br == k || end == NULL || (end[1] != '\0' && end[1] != '[')) {
		json_object_set_new(o, k, v);
		return;
	}
	base = xstrndup(k, (size_t)(br - k));
	field = xstrndup(br + 1, (size_t)(end - br - 1));
	for (f = field; *f >= '0' && *f <= '9'; f++)
		;
	if (*f == '\0' && f - field <= 6)
		n = *field != '\0' ? atol(field) : -1;
	else {
		/* k[f]: one level of object */
		if (end[1] == '\0') {
			if (!json_is_object(el = json_object_get(o, base))) {
				el = json_object();
				json_object_set_new(o, base, el);
			}
			json_object_set_new(el, field, v);
		} else
			json_object_set_new(o, k, v);
		free(base);
		free(field);
		return;
	}
	name = xasprintf("%s[]", base);
	if (!json_is_array(a = json_object_get(o, name))) {
		a = json_array();
		json_object_set_new(o, name, a);
	}
	if (!json_is_array(ix = json_object_get(idx, name))) {
		ix = json_array();
		json_object_set_new(idx, name, ix);
	}
	free(field);
	field = NULL;
	if (end[1] == '[' && (f = strchr(end + 2, ']')) != NULL &&
	    f[1] == '\0' && f > end + 2) {
		field = xstrndup(end + 2, (size_t)(f - end - 2));
		el = route_query_elem(a, ix, n, field);
		json_object_set_new(el, field, v);
	} else if (end[1] == '\0') {
		json_array_append_new(a, v);
		json_array_append_new(ix, json_integer(-2));
	} else
		json_object_set_new(o, k, v);
	free(field);
	free(name);
	free(base);
}

/*
 * The query string q (NULL: none) as a JSON object (route_query_add);
 * NULL when a name or value does not decode to UTF-8 text without NULs.
 */
json_t *
route_query(const char *q)
{
	json_t *o = json_object(), *idx = json_object(), *v;
	const char *part, *end, *eq;
	char *k, *val;

	for (part = q; part != NULL && *part != '\0'; part = end) {
		if ((end = strchr(part, '&')) == NULL)
			end = part + strlen(part);
		eq = memchr(part, '=', (size_t)(end - part));
		k = route_decode(part, (size_t)((eq != NULL ? eq : end) -
		    part), 1);
		val = eq != NULL ? route_decode(eq + 1, (size_t)(end - eq -
		    1), 1) : xstrdup("");
		v = k != NULL && val != NULL ? json_string(val) : NULL;
		if (v == NULL) {
			free(k);
			free(val);
			json_decref(o);
			json_decref(idx);
			return NULL;
		}
		if (*k != '\0')
			route_query_add(o, idx, k, v);
		else
			json_decref(v);
		free(k);
		free(val);
		if (*end == '&')
			end++;
	}
	json_decref(idx);
	return o;
}

/* The name of a method (EVHTTP_REQ_*), for the Allow header. */
const char *
route_method_name(int m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_PATCH: return "PATCH";
	case EVHTTP_REQ_HEAD: return "HEAD";
	case EVHTTP_REQ_OPTIONS: return "OPTIONS";
	case EVHTTP_REQ_TRACE: return "TRACE";
	case EVHTTP_REQ_CONNECT: return "CONNECT";
	}
	return "?";
}

/*
 * Find the route for method and path (tcp: as seen from the TCP
 * listener), filling r's parameters.  NULL with *status 404 or 405 (and
 * allow filled with the methods the path has).
 */
const struct sch_route *
route_find(struct sch_req *r, int method, const char *path, int tcp,
    int *status, char *allow, size_t allowlen)
{
	const struct sch_route *rt;
	size_t i, len;
	int m;

	*status = 404;
	allow[0] = '\0';
	for (i = 0; i < sch_nroutes; i++) {
		rt = &sch_routes[i];
		if (tcp && (rt->flags & SCH_ROUTE_LOCAL))
			continue;
		if (rt->method != method) {
			if (route_match(rt->pattern, path, NULL) == 1) {
				*status = 405;
				len = strlen(allow);
				snprintf(allow + len, allowlen - len, "%s%s",
				    len > 0 ? ", " : "",
				    route_method_name(rt->method));
			}
			continue;
		}
		m = route_match(rt->pattern, path, r);
		if (m == 1)
			return rt;
		if (m == -1) {
			*status = 404;
			return NULL;
		}
	}
	return NULL;
}

/*
 * Free a request record and what it holds: the parameters route_find
 * decoded, the body, query and answer (not a transport's request).
 */
void
route_req_free(struct sch_req *r)
{
	size_t i;

	for (i = 0; i < r->nparam; i++)
		free(r->param[i]);
	free(r->user);
	json_decref(r->body);
	json_decref(r->query);
	json_decref(r->reply);
	free(r->raw);
	free(r);
}

/*
 * Check that every parameter of query is one rt accepts: a word of
 * rt->query names a parameter exactly ("status" does not accept
 * "status[]"; "status[]" accepts a single "status" too), and a word
 * ending in '*' accepts every name it begins
 * ("recipients*": recipients, recipients[], recipients[0][id]).  0, or -1
 * with *cause naming the first parameter that is not accepted.
 */
int
route_query_check(const struct sch_route *rt, json_t *query, char **cause)
{
	const char *k, *w, *list = rt->query != NULL ? rt->query : "";
	size_t n, wl;
	json_t *v;

	json_object_foreach(query, k, v) {
		n = strlen(k);
		for (w = list; *w != '\0'; w += wl + strspn(w + wl, " ")) {
			wl = strcspn(w, " ");
			if ((wl == n || (wl == n + 2 && memcmp(w + n, "[]",
			    2) == 0)) && memcmp(w, k, n) == 0)
				break;
			if (wl > 0 && w[wl - 1] == '*' && n >= wl - 1 &&
			    memcmp(w, k, wl - 1) == 0)
				break;
		}
		if (*w != '\0')
			continue;
		*cause = xasprintf("unknown query parameter \"%s\": %s %s "
		    "takes %s", k, route_method_name(rt->method), rt->pattern,
		    *list != '\0' ? list : "none");
		return -1;
	}
	return 0;
}
