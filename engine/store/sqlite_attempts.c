/*
 * The SQLite backend's delivery attempts: one row per attempt at a
 * delivery, keyed by an increasing integer (newest last), with the
 * message's key, its request and response (JSON) and its error.  A
 * message's attempts are found through an index on (message_seq, id);
 * the failed ones of every message through a partial index on id.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

/* The statements of this file. */
enum {
	ATT_ADD, ATT_PAGE, ATT_PAGE_FAILED, ATT_PAGE_MSG, ATT_COUNT_MSG,
	ATT_LAST_ERROR, ATT_COUNT
};

#define ATT_COLUMNS "id, message_seq, attempt, channel, at, duration_us," \
	" result, request, response, error"

static const char *const att_sql[ATT_COUNT] = {
	[ATT_ADD] = "INSERT INTO delivery_attempts(message_seq, attempt,"
	    " channel, at, duration_us, result, request, response, error)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[ATT_PAGE] = "SELECT " ATT_COLUMNS " FROM delivery_attempts WHERE"
	    " id < ?1 ORDER BY id DESC LIMIT ?2",
	[ATT_PAGE_FAILED] = "SELECT " ATT_COLUMNS " FROM delivery_attempts"
	    " WHERE result != 0 AND id < ?1 ORDER BY id DESC LIMIT ?2",
	[ATT_PAGE_MSG] = "SELECT " ATT_COLUMNS " FROM delivery_attempts"
	    " WHERE message_seq = ?3 AND id < ?1 AND (?4 = 0 OR result != 0)"
	    " ORDER BY id DESC LIMIT ?2",
	[ATT_COUNT_MSG] = "SELECT count(*) FROM delivery_attempts WHERE"
	    " message_seq = ?1",
	[ATT_LAST_ERROR] = "SELECT error FROM delivery_attempts WHERE"
	    " message_seq = ?1 AND error IS NOT NULL ORDER BY id DESC"
	    " LIMIT 1",
};
const struct sqlite_sql sqlite_attempts_sql = { att_sql, ATT_COUNT };

/* A statement of this file, reset. */
static sqlite3_stmt *
att_stmt(struct store *s, int i)
{
	return sqlite_stmt(s, PART_ATTEMPTS, i);
}


/* Record attempt a; 0 or -1. */
static int
sqlite_attempt_add(struct store *s, const struct store_attempt *a)
{
	sqlite3_stmt *st = att_stmt(s, ATT_ADD);

	sqlite3_bind_int64(st, 1, a->msg);
	sqlite3_bind_int(st, 2, a->attempt);
	sqlite3_bind_text(st, 3, a->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, a->at);
	sqlite3_bind_int64(st, 5, a->duration_us);
	sqlite3_bind_int(st, 6, a->result);
	sqlite_bind_text(st, 7, a->request_text);
	sqlite_bind_text(st, 8, a->response_text);
	sqlite_bind_text(st, 9, a->error);
	return sqlite_done(s, st);
}

/* Up to max attempts newest first below before (see store.h). */
static size_t
sqlite_attempts_page(struct store *s, int64_t msg, int failed,
    int64_t before, size_t max, struct store_attempt *out)
{
	sqlite3_stmt *st;
	size_t n = 0;

	if (msg != STORE_NONE) {
		st = att_stmt(s, ATT_PAGE_MSG);
		sqlite3_bind_int64(st, 3, msg);
		sqlite3_bind_int(st, 4, failed);
	} else
		st = att_stmt(s, failed ? ATT_PAGE_FAILED : ATT_PAGE);
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int64(st, 2, (int64_t)max);
	while (n < max && sqlite_row(s, st)) {
		out[n].id = sqlite3_column_int64(st, 0);
		out[n].msg = sqlite3_column_int64(st, 1);
		out[n].attempt = sqlite3_column_int(st, 2);
		out[n].channel = sqlite_text(st, 3);
		out[n].at = sqlite3_column_int64(st, 4);
		out[n].duration_us = sqlite3_column_int64(st, 5);
		out[n].result = sqlite3_column_int(st, 6);
		out[n].request = sqlite_json(st, 7);
		out[n].response = sqlite_json(st, 8);
		out[n].error = sqlite_text(st, 9);
		n++;
	}
	sqlite3_reset(st);
	return n;
}

/* Message msg's attempt count and its newest error (see store.h). */
static int
sqlite_attempts_summary(struct store *s, int64_t msg, char **last_error)
{
	sqlite3_stmt *st = att_stmt(s, ATT_COUNT_MSG);
	int n = 0;

	sqlite3_bind_int64(st, 1, msg);
	if (sqlite_row(s, st))
		n = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	*last_error = NULL;
	if (n == 0)
		return 0;
	st = att_stmt(s, ATT_LAST_ERROR);
	sqlite3_bind_int64(st, 1, msg);
	if (sqlite_row(s, st))
		*last_error = sqlite_text(st, 0);
	sqlite3_reset(st);
	return n;
}

/* This file's operations, into the backend's table. */
void
sqlite_attempts_ops(struct store_ops *o)
{
	o->attempt_add = sqlite_attempt_add;
	o->attempts_page = sqlite_attempts_page;
	o->attempts_summary = sqlite_attempts_summary;
}
