/*
 * The PostgreSQL backend's delivery attempts: one row per attempt at a
 * delivery, keyed by an identity column (increasing, newest last; with
 * several nodes in the order of insertion), with the message's key, its
 * request and response (JSON text) and its error.  A message's attempts
 * are found through the index on (message_seq, id), the failed ones of
 * every message through the partial index on id.
 */
#include <stdint.h>

#include "engine/store/pg_int.h"

/* The statements of this file. */
enum {
	ATT_ADD, ATT_PAGE, ATT_PAGE_FAILED, ATT_PAGE_MSG, ATT_COUNT_MSG,
	ATT_LAST_ERROR, ATT_COUNT
};

#define ATT_COLUMNS "id, message_seq, attempt, channel, at, duration_us," \
	" result, request, response, error"

static const char *const attempts_sql[ATT_COUNT] = {
	[ATT_ADD] = "INSERT INTO delivery_attempts(message_seq, attempt,"
	    " channel, at, duration_us, result, request, response, error)"
	    " VALUES($1::bigint, $2::bigint, $3::text, $4::bigint,"
	    " $5::bigint, $6::bigint, $7::text, $8::text, $9::text)",
	[ATT_PAGE] = ("SELECT " ATT_COLUMNS " FROM delivery_attempts WHERE"
	    " id < $1::bigint ORDER BY id DESC LIMIT $2::bigint"),
	[ATT_PAGE_FAILED] = ("SELECT " ATT_COLUMNS " FROM delivery_attempts"
	    " WHERE result != 0 AND id < $1::bigint ORDER BY id DESC LIMIT"
	    " $2::bigint"),
	[ATT_PAGE_MSG] = ("SELECT " ATT_COLUMNS " FROM delivery_attempts"
	    " WHERE message_seq = $3::bigint AND id < $1::bigint AND"
	    " ($4::bigint = 0 OR result != 0) ORDER BY id DESC LIMIT"
	    " $2::bigint"),
	[ATT_COUNT_MSG] = "SELECT count(*) FROM delivery_attempts WHERE"
	    " message_seq = $1::bigint",
	[ATT_LAST_ERROR] = "SELECT error FROM delivery_attempts WHERE"
	    " message_seq = $1::bigint AND error IS NOT NULL ORDER BY id DESC"
	    " LIMIT 1",
};
const struct pg_sql pg_attempts_sql = { attempts_sql, ATT_COUNT };

/* Record attempt a; 0 or -1. */
static int
pg_attempt_add(struct store *s, const struct store_attempt *at)
{
	struct pg_args a = {0};

	pg_arg_int(&a, at->msg);
	pg_arg_int(&a, at->attempt);
	pg_arg_text(&a, at->channel);
	pg_arg_int(&a, at->at);
	pg_arg_int(&a, at->duration_us);
	pg_arg_int(&a, at->result);
	pg_arg_text(&a, at->request_text);
	pg_arg_text(&a, at->response_text);
	pg_arg_text(&a, at->error);
	return pg_done(s, PG_ATTEMPTS, ATT_ADD, &a);
}

/* Up to max attempts newest first below before (see store.h). */
static size_t
pg_attempts_page(struct store *s, int64_t msg, int failed, int64_t before,
    size_t max, struct store_attempt *out)
{
	struct pg_args a = {0};
	PGresult *r;
	size_t n, i;
	int st;

	if (max == 0)
		return 0;
	pg_arg_int(&a, before);
	pg_arg_int(&a, max > INT64_MAX ? INT64_MAX : (int64_t)max);
	if (msg != STORE_NONE) {
		st = ATT_PAGE_MSG;
		pg_arg_int(&a, msg);
		pg_arg_int(&a, failed);
	} else
		st = failed ? ATT_PAGE_FAILED : ATT_PAGE;
	if ((r = pg_run(s, PG_ATTEMPTS, st, &a)) == NULL)
		return 0;
	n = (size_t)PQntuples(r);
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		out[i].id = pg_int(r, (int)i, 0);
		out[i].msg = pg_int(r, (int)i, 1);
		out[i].attempt = (int)pg_int(r, (int)i, 2);
		out[i].channel = pg_text(r, (int)i, 3);
		out[i].at = pg_int(r, (int)i, 4);
		out[i].duration_us = pg_int(r, (int)i, 5);
		out[i].result = (int)pg_int(r, (int)i, 6);
		out[i].request = pg_json(r, (int)i, 7);
		out[i].response = pg_json(r, (int)i, 8);
		out[i].error = pg_text(r, (int)i, 9);
	}
	PQclear(r);
	return n;
}

/* Message msg's attempt count and its newest error (see store.h). */
static int
pg_attempts_summary(struct store *s, int64_t msg, char **last_error)
{
	struct pg_args a = {0}, b = {0};
	PGresult *r;
	int n;

	*last_error = NULL;
	pg_arg_int(&a, msg);
	n = (int)pg_scalar(s, PG_ATTEMPTS, ATT_COUNT_MSG, &a, 0);
	if (n == 0)
		return 0;
	pg_arg_int(&b, msg);
	if ((r = pg_run(s, PG_ATTEMPTS, ATT_LAST_ERROR, &b)) == NULL)
		return n;
	if (PQntuples(r) > 0)
		*last_error = pg_text(r, 0, 0);
	PQclear(r);
	return n;
}

/* This file's operations, into the backend's table. */
void
pg_attempts_ops(struct store_ops *o)
{
	o->attempt_add = pg_attempt_add;
	o->attempts_page = pg_attempts_page;
	o->attempts_summary = pg_attempts_summary;
}
