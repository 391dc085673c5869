/*
 * scheduler/route.c: query strings normalised the way Knock's SDK (qs)
 * writes arrays and objects, and the per-route allowlist over the
 * normalised names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/http.h>

#include "scheduler/scheduler.h"

/* The one route the allowlist tests check against. */
const struct sch_route sch_routes[] = {
	{ EVHTTP_REQ_GET, "/v1/things", NULL, 0, NULL,
	    "status[] inserted_at recipients* page_size" },
};
const size_t sch_nroutes = 1;

/* Assert that query string q parses to the JSON text want. */
static void
expect_query(const char *q, const char *want)
{
	json_t *got = route_query(q), *w = json_loads(want, 0, NULL);
	char *text;

	assert_non_null(w);
	assert_non_null(got);
	if (!json_equal(got, w)) {
		text = json_dumps(got, JSON_SORT_KEYS);
		fail_msg("%s: got %s, want %s", q, text, want);
	}
	json_decref(got);
	json_decref(w);
}

/* Arrays: k[]=v and k[N]=v collect into "k[]" in order. */
static void
test_arrays(void **state)
{
	(void)state;
	expect_query("status%5B%5D=a&status%5B%5D=b", "{\"status[]\":[\"a\",\"b\"]}");
	expect_query("status[0]=a&status[1]=b", "{\"status[]\":[\"a\",\"b\"]}");
	expect_query("status=a&status=b", "{\"status\":\"b\"}");
}

/* Object references: k[][f] groups fields, a repeated field starts anew. */
static void
test_object_refs(void **state)
{
	(void)state;
	expect_query("recipients[]=u&recipients[][id]=o&recipients[][collection]=c"
	    "&recipients[][id]=o2&recipients[][collection]=c2",
	    "{\"recipients[]\":[\"u\",{\"id\":\"o\",\"collection\":\"c\"},"
	    "{\"id\":\"o2\",\"collection\":\"c2\"}]}");
	expect_query("recipients[0][id]=a&recipients[1]=u&recipients[0][collection]=c",
	    "{\"recipients[]\":[{\"id\":\"a\",\"collection\":\"c\"},\"u\"]}");
	expect_query("recipients[][id]=a&recipients[][id]=b",
	    "{\"recipients[]\":[{\"id\":\"a\"},{\"id\":\"b\"}]}");
}

/* Objects: k[f]=v and k.f=v alike; odd names stay as they are. */
static void
test_objects(void **state)
{
	(void)state;
	expect_query("inserted_at[gte]=x&inserted_at.lt=y",
	    "{\"inserted_at\":{\"gte\":\"x\",\"lt\":\"y\"}}");
	expect_query("trigger_data[a]=1", "{\"trigger_data\":{\"a\":\"1\"}}");
	expect_query("a[b=1&[x]=2&.y=3&z.=4&c[d][e][f]=5",
	    "{\"a[b\":\"1\",\"[x]\":\"2\",\".y\":\"3\",\"z.\":\"4\","
	    "\"c[d][e][f]\":\"5\"}");
}

/* The allowlist takes normalised names and names what it refuses. */
static void
test_allowlist(void **state)
{
	json_t *q;
	char *cause = NULL;

	(void)state;
	q = route_query("status[]=a&inserted_at.gte=x&recipients[][id]=o");
	assert_int_equal(route_query_check(&sch_routes[0], q, &cause), 0);
	json_decref(q);
	q = route_query("status=a");
	assert_int_equal(route_query_check(&sch_routes[0], q, &cause), 0);
	json_decref(q);
	q = route_query("page_size=5&statuses=a");
	assert_int_equal(route_query_check(&sch_routes[0], q, &cause), -1);
	assert_non_null(strstr(cause, "\"statuses\""));
	free(cause);
	json_decref(q);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_object_refs),
		cmocka_unit_test(test_objects),
		cmocka_unit_test(test_allowlist),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
