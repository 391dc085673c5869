/*
 * The SQLite backend of the store: open, schema and migrations, the
 * exclusive lock, the integrity check, transactions and savepoints,
 * maintenance (checkpoints), and the helpers the backend's files share.
 *
 * SQLite in WAL mode with synchronous=FULL: a commit is durable when it
 * returns.  Hot tables are keyed by increasing integers (runs, recipient
 * runs by run << 24 | index, messages) so that inserts append to their
 * B-trees; their public UUIDs are derived from those keys (ids.c), never
 * indexed.  A recipient's messages on a channel form a chain, newest
 * first: each message row keeps the seq of the one before it (prev) and
 * feed_heads the newest, written behind (sqlite_heads.c).  Checkpoints
 * are the owner's to run (store_maintain) between bursts.  Log writes go
 * through sqlite_walbuf.c's VFS, one write per commit.  The schema
 * version lives in meta('version'); migrations run at open.
 *
 * Every statement of the backend is prepared once at open and kept; each
 * file owns its own (sqlite_int.h).  A request is a savepoint; a failed
 * statement marks the innermost request, which then rolls back at its end.
 */
#include <sys/statvfs.h>

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/json.h"
#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

#define STORE_SQLITE_VERSION 16

/* PRAGMA application_id of a belfry database: "BLFY". */
#define STORE_SQLITE_APP_ID 0x424c4659
#define STORE_SQLITE_APP_PRAGMA "PRAGMA application_id = 1112295001"

/*
 * Maintenance: a checkpoint is due once the log holds this many pages,
 * urgent at four times as many (sqlite_wal_cb checkpoints by itself at
 * STORE_WAL_HARD).
 */
#define STORE_SQLITE_CKPT_PAGES 1000

static const char *sqlite_schema =
    "CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS users(id TEXT PRIMARY KEY, props TEXT NOT"
    " NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS objects(collection TEXT NOT NULL, id TEXT"
    " NOT NULL, props TEXT NOT NULL, created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL, PRIMARY KEY(collection, id))"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tenants(id TEXT PRIMARY KEY, props TEXT NOT"
    " NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL)"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS subscriptions(collection TEXT NOT NULL,"
    " object_id TEXT NOT NULL, rcpt TEXT NOT NULL, props TEXT NOT NULL,"
    " inserted_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(collection, object_id, rcpt)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS preferences(rcpt TEXT NOT NULL, set_id TEXT"
    " NOT NULL, body TEXT NOT NULL, updated_at INTEGER NOT NULL,"
    " PRIMARY KEY(rcpt, set_id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS runs(seq INTEGER PRIMARY KEY, workflow TEXT"
    " NOT NULL, actor TEXT, tenant TEXT, data TEXT NOT NULL,"
    " cancellation_key TEXT, source TEXT NOT NULL, inserted_at INTEGER NOT"
    " NULL);"
    "CREATE TABLE IF NOT EXISTS rruns(run_seq INTEGER NOT NULL, idx INTEGER"
    " NOT NULL, rcpt TEXT NOT NULL, status TEXT NOT NULL, events TEXT NOT"
    " NULL, error_count INTEGER NOT NULL, inserted_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL, PRIMARY KEY(run_seq, idx))"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS messages(seq INTEGER PRIMARY KEY, run_seq"
    " INTEGER NOT NULL, idx INTEGER NOT NULL, step_ref TEXT NOT NULL,"
    " channel TEXT NOT NULL, rcpt TEXT NOT NULL, tenant TEXT, status TEXT"
    " NOT NULL, body TEXT NOT NULL, seen_at INTEGER, read_at INTEGER,"
    " archived_at INTEGER, interacted_at INTEGER, inserted_at INTEGER NOT"
    " NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS deliveries(message_seq INTEGER PRIMARY KEY,"
    " due_at INTEGER NOT NULL, attempts INTEGER NOT NULL, inflight INTEGER"
    " NOT NULL, url TEXT NOT NULL, body TEXT NOT NULL, last_error TEXT);"
    "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries(inflight,"
    " due_at);"
    "CREATE TABLE IF NOT EXISTS idempotency(k TEXT PRIMARY KEY, status"
    " INTEGER NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL)"
    " WITHOUT ROWID;";

/*
 * Migrations: sqlite_migrations[v] takes a database from version v to
 * v + 1.  A new database gets the version 1 schema and then every
 * migration, so there is one path to the current schema.
 */
static const char *sqlite_migrations[STORE_SQLITE_VERSION] = {
	[1] = "ALTER TABLE rruns ADD COLUMN pc INTEGER NOT NULL DEFAULT 0;"
	    "ALTER TABLE rruns ADD COLUMN tdata TEXT;"
	    "ALTER TABLE rruns ADD COLUMN sub TEXT;"
	    "ALTER TABLE rruns ADD COLUMN wait_at INTEGER;"
	    "ALTER TABLE rruns ADD COLUMN batch_id INTEGER;"
	    "ALTER TABLE runs ADD COLUMN settings TEXT;"
	    "CREATE INDEX runs_by_cancellation ON runs(workflow,"
	    " cancellation_key) WHERE cancellation_key IS NOT NULL;"
	    "CREATE TABLE waits(due_at INTEGER NOT NULL, kind INTEGER NOT NULL,"
	    " a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY(due_at, kind,"
	    " a, b)) WITHOUT ROWID;"
	    "CREATE TABLE batches(id INTEGER PRIMARY KEY, bkey TEXT UNIQUE,"
	    " run_seq INTEGER NOT NULL, idx INTEGER NOT NULL, pc INTEGER NOT"
	    " NULL, opened_at INTEGER NOT NULL, closes_at INTEGER NOT NULL,"
	    " hard_close INTEGER NOT NULL);"
	    "CREATE TABLE batch_items(batch_id INTEGER NOT NULL, item INTEGER"
	    " NOT NULL, run_seq INTEGER NOT NULL, idx INTEGER NOT NULL, actor"
	    " TEXT, data TEXT NOT NULL, inserted_at INTEGER NOT NULL,"
	    " PRIMARY KEY(batch_id, item)) WITHOUT ROWID;"
	    "CREATE TABLE throttle_hits(tkey TEXT NOT NULL, at INTEGER NOT NULL,"
	    " run_seq INTEGER NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY(tkey,"
	    " at, run_seq, idx)) WITHOUT ROWID;",
	[2] = "ALTER TABLE runs ADD COLUMN next_idx INTEGER NOT NULL DEFAULT 0;"
	    "CREATE TABLE fanout(run_seq INTEGER NOT NULL, seq INTEGER NOT NULL,"
	    " obj TEXT NOT NULL, level INTEGER NOT NULL, after TEXT NOT NULL,"
	    " tdata TEXT, PRIMARY KEY(run_seq, seq)) WITHOUT ROWID;"
	    "CREATE TABLE fanout_seen(run_seq INTEGER NOT NULL, rcpt TEXT NOT"
	    " NULL, PRIMARY KEY(run_seq, rcpt)) WITHOUT ROWID;"
	    "CREATE TABLE cancels(workflow TEXT NOT NULL, ckey TEXT NOT NULL,"
	    " upto INTEGER NOT NULL, recipients TEXT);"
	    "CREATE INDEX cancels_by_key ON cancels(workflow, ckey);",
	/* AUTOINCREMENT: a deleted schedule's id is never given again. */
	[3] = "CREATE TABLE schedules(seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	    " parent INTEGER,"
	    " workflow TEXT NOT NULL, rcpt TEXT NOT NULL, actor TEXT, tenant"
	    " TEXT, data TEXT, repeats TEXT, rule TEXT, exdates TEXT, dtstart"
	    " TEXT NOT NULL, start_at INTEGER, timezone TEXT, dst_gap TEXT NOT"
	    " NULL, dst_overlap TEXT NOT NULL, catchup_window INTEGER NOT NULL,"
	    " paused INTEGER NOT NULL, ending_at INTEGER, next_fire_at INTEGER,"
	    " last_fire_at INTEGER, skipped INTEGER NOT NULL DEFAULT 0,"
	    " last_skipped_at INTEGER, source TEXT NOT NULL, config_id TEXT,"
	    " def TEXT, inserted_at INTEGER NOT NULL, updated_at INTEGER NOT"
	    " NULL);"
	    "CREATE INDEX schedules_due ON schedules(next_fire_at) WHERE"
	    " next_fire_at IS NOT NULL;"
	    "CREATE INDEX schedules_by_rcpt ON schedules(rcpt);"
	    "CREATE INDEX schedules_by_parent ON schedules(parent) WHERE"
	    " parent IS NOT NULL;"
	    "CREATE INDEX schedules_by_workflow ON schedules(workflow, seq);"
	    "CREATE INDEX schedules_by_config ON schedules(config_id) WHERE"
	    " config_id IS NOT NULL;"
	    "ALTER TABLE runs ADD COLUMN schedule_seq INTEGER;"
	    "ALTER TABLE runs ADD COLUMN fire_at INTEGER;"
	    "CREATE UNIQUE INDEX runs_by_fire ON runs(schedule_seq, fire_at)"
	    " WHERE schedule_seq IS NOT NULL;",
	/* What the sweep deletes is found by index. */
	[4] = "CREATE INDEX idempotency_by_age ON idempotency(created_at);"
	    "ALTER TABLE throttle_hits ADD COLUMN expires_at INTEGER;"
	    "CREATE INDEX throttle_by_expiry ON throttle_hits(expires_at)"
	    " WHERE expires_at IS NOT NULL;",
	/*
	 * The messages of a recipient, found through two tables instead of an
	 * index on messages: new entries go to the small feed_recent, merged
	 * into feed_main in bulk , so that a trigger to many
	 * recipients writes a few pages of feed_recent rather than one page of
	 * a large index per recipient.
	 */
	[5] = "CREATE TABLE feed_main(rcpt TEXT NOT NULL, channel TEXT NOT NULL,"
	    " seq INTEGER NOT NULL, PRIMARY KEY(rcpt, channel, seq))"
	    " WITHOUT ROWID;"
	    "CREATE TABLE feed_recent(rcpt TEXT NOT NULL, channel TEXT NOT NULL,"
	    " seq INTEGER NOT NULL, PRIMARY KEY(rcpt, channel, seq))"
	    " WITHOUT ROWID;"
	    "INSERT INTO feed_main SELECT rcpt, channel, seq FROM messages"
	    " ORDER BY rcpt, channel, seq;"
	    "DROP INDEX IF EXISTS messages_by_rcpt;",
	/*
	 * The feed tables give way to chains: a message names the previous
	 * message of its recipient on its channel, feed_heads the newest.  A
	 * new message updates one small row in place instead of adding an
	 * entry that a merge must later insert into a large index.
	 */
	[6] = "ALTER TABLE messages ADD COLUMN prev INTEGER;"
	    "CREATE TABLE feed_heads(rcpt TEXT NOT NULL, channel TEXT NOT NULL,"
	    " head INTEGER NOT NULL, PRIMARY KEY(rcpt, channel)) WITHOUT ROWID;"
	    "INSERT INTO feed_main SELECT rcpt, channel, seq FROM feed_recent;"
	    "UPDATE messages SET prev = (SELECT max(f.seq) FROM feed_main f"
	    " WHERE f.rcpt = messages.rcpt AND f.channel = messages.channel"
	    " AND f.seq < messages.seq);"
	    "INSERT INTO feed_heads SELECT rcpt, channel, max(seq) FROM"
	    " feed_main GROUP BY rcpt, channel;"
	    "DROP TABLE feed_main; DROP TABLE feed_recent;",
	/*
	 * Recipient runs keyed by one integer, run_seq << 24 | idx (the split
	 * of the public ids, ids.c): a trigger appends to a table B-tree,
	 * whose pages fill up, instead of inserting whole rows into an
	 * index B-tree, whose pages split half empty.
	 */
	[7] = "CREATE TABLE rruns_new(id INTEGER PRIMARY KEY, rcpt TEXT NOT"
	    " NULL, status TEXT NOT NULL, events TEXT NOT NULL, error_count"
	    " INTEGER NOT NULL, inserted_at INTEGER NOT NULL, updated_at"
	    " INTEGER NOT NULL, pc INTEGER NOT NULL, tdata TEXT, sub TEXT,"
	    " wait_at INTEGER, batch_id INTEGER);"
	    "INSERT INTO rruns_new SELECT run_seq << 24 | idx, rcpt, status,"
	    " events, error_count, inserted_at, updated_at, pc, tdata, sub,"
	    " wait_at, batch_id FROM rruns ORDER BY run_seq, idx;"
	    "DROP TABLE rruns; ALTER TABLE rruns_new RENAME TO rruns;",
	/*
	 * Feed heads written behind (sqlite_heads.c): feed_heads is exact up to
	 * the message seq in heads_upto; the open recovers the rest.  An
	 * older belfry, which trusts feed_heads, refuses this version.
	 */
	[8] = "INSERT INTO meta(k, v) SELECT 'heads_upto', coalesce(max(seq),"
	    " 0) FROM messages;",
	/*
	 * An object's schedule runs for the object itself unless it is
	 * per-subscriber (per_sub); the object schedules made before were
	 * all per-subscriber and stay so.  A skip keeps its reason, a failed
	 * fire its error.
	 */
	[9] = "ALTER TABLE schedules ADD COLUMN per_sub INTEGER NOT NULL"
	    " DEFAULT 0;"
	    "UPDATE schedules SET per_sub = 1 WHERE parent IS NULL AND"
	    " instr(rcpt, '/') > 0;"
	    "ALTER TABLE schedules ADD COLUMN skip_reason TEXT;"
	    "ALTER TABLE schedules ADD COLUMN last_error TEXT;",
	/*
	 * Sources (sqlite_sources.c): the log of received events, which also
	 * answers whether a message id was seen; the counts by outcome; and
	 * where each run a source event made came from.
	 */
	[10] = "CREATE TABLE source_events(seq INTEGER PRIMARY KEY, source TEXT"
	    " NOT NULL, message_id TEXT, type TEXT, event TEXT, outcome TEXT"
	    " NOT NULL, detail TEXT, run_seq INTEGER, timestamp TEXT,"
	    " received_at INTEGER NOT NULL);"
	    "CREATE INDEX source_events_by_source ON source_events(source,"
	    " seq);"
	    "CREATE INDEX source_events_by_message ON source_events(source,"
	    " message_id) WHERE message_id IS NOT NULL;"
	    "CREATE TABLE source_counts(source TEXT NOT NULL, outcome TEXT NOT"
	    " NULL, n INTEGER NOT NULL, PRIMARY KEY(source, outcome))"
	    " WITHOUT ROWID;"
	    "CREATE TABLE source_runs(run_seq INTEGER PRIMARY KEY, source TEXT"
	    " NOT NULL, event TEXT, message_id TEXT, timestamp TEXT);",
	/*
	 * A delivery names its channel (taken channel by channel, so that
	 * one channel's limits never hold another's back) and keeps the
	 * headers rendered for it; every attempt is kept with its request,
	 * response and error (sqlite_attempts.c).
	 */
	[11] = "ALTER TABLE deliveries ADD COLUMN channel TEXT NOT NULL"
	    " DEFAULT '';"
	    "ALTER TABLE deliveries ADD COLUMN headers TEXT;"
	    "UPDATE deliveries SET channel = coalesce((SELECT m.channel FROM"
	    " messages m WHERE m.seq = deliveries.message_seq), '');"
	    "CREATE INDEX deliveries_by_channel ON deliveries(channel,"
	    " inflight, due_at);"
	    "CREATE TABLE delivery_attempts(id INTEGER PRIMARY KEY,"
	    " message_seq INTEGER NOT NULL, attempt INTEGER NOT NULL,"
	    " channel TEXT NOT NULL, at INTEGER NOT NULL, duration_us INTEGER"
	    " NOT NULL, result INTEGER NOT NULL, request TEXT NOT NULL,"
	    " response TEXT, error TEXT);"
	    "CREATE INDEX delivery_attempts_by_message ON"
	    " delivery_attempts(message_seq, id);"
	    "CREATE INDEX delivery_attempts_failed ON delivery_attempts(id)"
	    " WHERE result != 0;",
	/*
	 * Bulk operations (sqlite_bulk.c): one row per operation with its
	 * progress, and its input items not yet processed, by index.
	 */
	[12] = "CREATE TABLE bulk_ops(seq INTEGER PRIMARY KEY, name TEXT NOT"
	    " NULL, arg TEXT, args TEXT, status TEXT NOT NULL, total INTEGER NOT NULL,"
	    " processed INTEGER NOT NULL, success INTEGER NOT NULL, errors"
	    " INTEGER NOT NULL, error_items TEXT NOT NULL, inserted_at INTEGER"
	    " NOT NULL, updated_at INTEGER NOT NULL, started_at INTEGER,"
	    " completed_at INTEGER, failed_at INTEGER);"
	    "CREATE TABLE bulk_items(op INTEGER NOT NULL, idx INTEGER NOT NULL,"
	    " item TEXT NOT NULL, PRIMARY KEY(op, idx)) WITHOUT ROWID;",
	/*
	 * Recipients' channel data (one row a recipient key and channel
	 * name), and subscriptions found by their subscriber (a user's
	 * subscriptions, an object's own).
	 */
	[13] = "CREATE TABLE channel_data(rcpt TEXT NOT NULL, channel TEXT NOT"
	    " NULL, data TEXT NOT NULL, updated_at INTEGER NOT NULL,"
	    " PRIMARY KEY(rcpt, channel)) WITHOUT ROWID;"
	    "CREATE INDEX subscriptions_by_rcpt ON subscriptions(rcpt);",
	/*
	 * Messages: the metadata an interaction keeps, the events of their
	 * lives after they were made (sqlite_messages.c), and a run's
	 * messages found by index (run_seq only grows, so it appends).
	 */
	[14] = "ALTER TABLE messages ADD COLUMN metadata TEXT;"
	    "CREATE TABLE message_events(id INTEGER PRIMARY KEY, message_seq"
	    " INTEGER NOT NULL, type TEXT NOT NULL, data TEXT, inserted_at"
	    " INTEGER NOT NULL);"
	    "CREATE INDEX message_events_by_message ON"
	    " message_events(message_seq, id);"
	    "CREATE INDEX messages_by_run ON messages(run_seq);",
	/*
	 * Audiences: a static audience's members, each a user with an
	 * optional tenant ('' for none), paged in (user, tenant) order and
	 * found by user when the user is deleted (sqlite_audiences.c).
	 */
	[15] = "CREATE TABLE audience_members(audience TEXT NOT NULL, user_id"
	    " TEXT NOT NULL, tenant TEXT NOT NULL, added_at INTEGER NOT NULL,"
	    " PRIMARY KEY(audience, user_id, tenant)) WITHOUT ROWID;"
	    "CREATE INDEX audience_members_by_user ON"
	    " audience_members(user_id);",
};

/*
 * After a crash feed_heads may lack the heads of messages above
 * heads_upto (sqlite_heads.c): the newest such message of each chain is its
 * head.  Run at every open; a clean stop leaves nothing to do.
 */
const char *const sqlite_heads_recover =
    "INSERT INTO feed_heads(rcpt, channel, head) SELECT rcpt, channel,"
    " max(seq) FROM messages WHERE seq > (SELECT CAST(v AS INTEGER) FROM"
    " meta WHERE k = 'heads_upto') GROUP BY rcpt, channel"
    " ON CONFLICT(rcpt, channel) DO UPDATE SET head = excluded.head;"
    "UPDATE meta SET v = (SELECT coalesce(max(seq), 0) FROM messages)"
    " WHERE k = 'heads_upto';";

/* The statements of this file. */
enum {
	CORE_BEGIN, CORE_COMMIT, CORE_ROLLBACK, CORE_SAVEPOINT, CORE_RELEASE,
	CORE_ROLLBACK_TO, CORE_PING, CORE_BYTES, CORE_SCHEDULES, CORE_COUNT
};
static const char *const core_sql[CORE_COUNT] = {
	[CORE_BEGIN] = "BEGIN IMMEDIATE",
	[CORE_COMMIT] = "COMMIT",
	[CORE_ROLLBACK] = "ROLLBACK",
	[CORE_SAVEPOINT] = "SAVEPOINT req",
	[CORE_RELEASE] = "RELEASE req",
	[CORE_ROLLBACK_TO] = "ROLLBACK TO req",
	/* store_ping and store_figures: a store-wide overview. */
	[CORE_PING] = "SELECT count(*) FROM meta",
	[CORE_BYTES] = ("SELECT page_count * page_size FROM"
	    " pragma_page_count(), pragma_page_size()"),
	[CORE_SCHEDULES] = "SELECT count(*) FROM schedules",
};
const struct sqlite_sql sqlite_core_sql = { core_sql, CORE_COUNT };

/* Every part's statements, in enum sqlite_part's order. */
static const struct sqlite_sql *const sqlite_parts[PARTS] = {
	[PART_CORE] = &sqlite_core_sql,
	[PART_HEADS] = &sqlite_heads_sql,
	[PART_RECIPIENTS] = &sqlite_recipients_sql,
	[PART_IDEMPOTENCY] = &sqlite_idempotency_sql,
	[PART_DELIVERIES] = &sqlite_deliveries_sql,
	[PART_RUNS] = &sqlite_runs_sql,
	[PART_STEPS] = &sqlite_steps_sql,
	[PART_MESSAGES] = &sqlite_messages_sql,
	[PART_SCHEDULES] = &sqlite_schedules_sql,
	[PART_SOURCES] = &sqlite_sources_sql,
	[PART_ATTEMPTS] = &sqlite_attempts_sql,
	[PART_RETAIN] = &sqlite_retain_sql,
	[PART_RETAIN_MSG] = &sqlite_retain_msg_sql,
	[PART_BULK] = &sqlite_bulk_sql,
	[PART_AUDIENCES] = &sqlite_audiences_sql,
};

/*
 * What the last failure of db was, naming the causes an operator can
 * fix: a full disk and a read-only database or file system.  The text is
 * static or db's, valid until db's next call.
 */
static const char *
sqlite_errtext(sqlite3 *db, char *buf, size_t len)
{
	int rc = sqlite3_extended_errcode(db), err = sqlite3_system_errno(db);
	const char *file;
	struct statvfs fs;

	if ((rc & 0xff) == SQLITE_FULL || err == ENOSPC || err == EDQUOT) {
		snprintf(buf, len, "disk full: no space left for the database "
		    "or its log (%s)", sqlite3_errmsg(db));
		return buf;
	}
	file = sqlite3_db_filename(db, "main");
	if ((rc & 0xff) == SQLITE_READONLY || err == EROFS || (file != NULL &&
	    *file != '\0' && statvfs(file, &fs) == 0 &&
	    (fs.f_flag & ST_RDONLY))) {
		snprintf(buf, len, "read-only: the database or its file system "
		    "cannot be written (%s)", sqlite3_errmsg(db));
		return buf;
	}
	return sqlite3_errmsg(db);
}

/*
 * Whether the database at the other end of db is belfry's: 1 (marked
 * with STORE_SQLITE_APP_ID, or a belfry database from before the mark: a meta
 * table with its version and id key), 0 when it is empty (new), -1 with
 * *cause when it is another application's or not a database.  Reads
 * only.
 */
static int
sqlite_identify(sqlite3 *db, const char *path, char **cause)
{
	sqlite3_stmt *st;
	int64_t app = 0, objects = 0, marks = 0;
	char buf[512];

	if (sqlite3_prepare_v2(db, "SELECT (SELECT application_id FROM"
	    " pragma_application_id), (SELECT count(*) FROM sqlite_schema)",
	    -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		*cause = xasprintf("%s is not a usable SQLite database: %s",
		    path, sqlite_errtext(db, buf, sizeof buf));
		sqlite3_finalize(st);
		return -1;
	}
	app = sqlite3_column_int64(st, 0);
	objects = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	if (app == STORE_SQLITE_APP_ID)
		return 1;
	if (app == 0 && objects == 0)
		return 0;
	if (app == 0 && sqlite3_prepare_v2(db, "SELECT count(*) FROM meta"
	    " WHERE k IN ('version', 'idkey')", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			marks = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (marks == 2)
			return 1;
	}
	*cause = xasprintf("%s belongs to another application (SQLite "
	    "application_id %lld, %lld schema objects, not belfry's): "
	    "refusing to touch it; give belfry a database of its own",
	    path, (long long)app, (long long)objects);
	return -1;
}

/*
 * Check an existing database before anything is written to it: "quick"
 * (PRAGMA quick_check: every page and B-tree, not index contents),
 * "full" (integrity_check) or "off"; -1 with *cause naming the first
 * problem.
 */
static int
sqlite_check(sqlite3 *db, const char *path, const char *mode, char **cause)
{
	sqlite3_stmt *st;
	const char *what;
	char buf[512];
	int rc;

	if (mode == NULL || strcmp(mode, "off") == 0)
		return 0;
	if (sqlite3_prepare_v2(db, strcmp(mode, "full") == 0 ?
	    "PRAGMA integrity_check(1)" : "PRAGMA quick_check(1)", -1, &st,
	    NULL) != SQLITE_OK) {
		*cause = xasprintf("%s: the integrity check cannot run: %s",
		    path, sqlite_errtext(db, buf, sizeof buf));
		return -1;
	}
	rc = sqlite3_step(st);
	what = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) :
	    NULL;
	if (what != NULL && strcmp(what, "ok") == 0) {
		sqlite3_finalize(st);
		return 0;
	}
	*cause = xasprintf("%s is damaged (%s integrity check: %.200s): "
	    "refusing to start on it; restore it from a backup, or salvage "
	    "it with sqlite3's .recover", path, mode, what != NULL ? what :
	    sqlite_errtext(db, buf, sizeof buf));
	sqlite3_finalize(st);
	return -1;
}

/* A new "sqlite: ..." cause for the last failure of s. */
char *
sqlite_cause(struct store *s)
{
	char buf[512];

	return xasprintf("sqlite: %s", sqlite_errtext(s->db, buf, sizeof buf));
}

/* Run one SQL text; -1 with *cause on error. */
int
sqlite_exec(struct store *s, const char *sql, char **cause)
{
	char *err = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		sqlite3_free(err);
		*cause = sqlite_cause(s);
		return -1;
	}
	return 0;
}

/* The integer a one-row query answers, or 0. */
int64_t
sqlite_count(struct store *s, const char *sql)
{
	sqlite3_stmt *q;
	int64_t n = 0;

	if (sqlite3_prepare_v2(s->db, sql, -1, &q, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

/* Read or create the id derivation key and check the schema version. */
static int
sqlite_meta(struct store *s, char **cause)
{
	sqlite3_stmt *st, *ins;
	char hex[80];
	int version = 0, rc;

	if (sqlite3_prepare_v2(s->db, "SELECT k, v FROM meta", -1, &st,
	    NULL) != SQLITE_OK) {
		*cause = sqlite_cause(s);
		return -1;
	}
	hex[0] = '\0';
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *k = (const char *)sqlite3_column_text(st, 0);
		const char *v = (const char *)sqlite3_column_text(st, 1);

		if (strcmp(k, "version") == 0)
			version = atoi(v);
		else if (strcmp(k, "idkey") == 0)
			snprintf(hex, sizeof hex, "%s", v);
	}
	sqlite3_finalize(st);
	if (version > STORE_SQLITE_VERSION) {
		*cause = xasprintf("database schema version %d is newer than "
		    "this belfry (%d)", version, STORE_SQLITE_VERSION);
		return -1;
	}
	if (hex[0] == '\0') {
		if (store_idkey_make(s->idkey, hex, cause) != 0)
			return -1;
		sqlite3_prepare_v2(s->db, "INSERT INTO meta(k, v) VALUES"
		    "('idkey', ?1), ('version', ?2)", -1, &ins, NULL);
		sqlite3_bind_text(ins, 1, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(ins, 2, 1);
		rc = sqlite3_step(ins);
		sqlite3_finalize(ins);
		if (rc != SQLITE_DONE) {
			*cause = sqlite_cause(s);
			return -1;
		}
		return 0;
	}
	store_idkey_parse(hex, s->idkey);
	return 0;
}

/* Apply the migrations from the stored version to STORE_SQLITE_VERSION. */
static int
sqlite_migrate(struct store *s, char **cause)
{
	sqlite3_stmt *st;
	int v = 1;
	char *sql;

	if (sqlite3_prepare_v2(s->db, "SELECT v FROM meta WHERE k = 'version'",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = atoi((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	for (; v < STORE_SQLITE_VERSION; v++) {
		if (sqlite_exec(s, sqlite_migrations[v], cause) != 0)
			return -1;
		sql = xasprintf("UPDATE meta SET v = '%d' WHERE k = 'version'",
		    v + 1);
		if (sqlite_exec(s, sql, cause) != 0) {
			free(sql);
			return -1;
		}
		free(sql);
	}
	return 0;
}

/*
 * After each commit: note the log's size, and checkpoint at once only when
 * it has reached STORE_WAL_HARD pages.  Below that the owner checkpoints
 * when it has time (store_maintain), so the copy into the database does
 * not land on a commit that due fires or requests wait for.
 */
static int
sqlite_wal_cb(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *s = arg;

	s->wal_pages = pages;
	if (pages >= STORE_WAL_HARD &&
	    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL) == SQLITE_OK)
		s->wal_pages = 0;
	return SQLITE_OK;
}

/* A checkpoint is due once the log is long, urgent when it is longer. */
static enum store_maint
sqlite_maint_due(const struct store *s)
{
	if (s->wal_pages >= 4 * STORE_SQLITE_CKPT_PAGES)
		return STORE_MAINT_URGENT;
	if (s->wal_pages >= STORE_SQLITE_CKPT_PAGES)
		return STORE_MAINT_DUE;
	return STORE_MAINT_NONE;
}

/* Copy the log into the database (PASSIVE: never waits); 0 or -1. */
static int
sqlite_maintain(struct store *s, char **cause)
{
	char buf[512];

	assert(!s->in_txn);
	if (sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL) != SQLITE_OK) {
		*cause = xasprintf("checkpoint: %s", sqlite_errtext(s->db, buf,
		    sizeof buf));
		return -1;
	}
	s->wal_pages = 0;
	return 0;
}

/* The log's length in pages since its last checkpoint. */
static size_t
sqlite_gauges(const struct store *s, struct store_gauge *out, size_t max)
{
	if (max < 1)
		return 0;
	out[0].name = "belfry_wal_pages";
	out[0].help = "Pages in the write-ahead log since its last checkpoint.";
	out[0].value = (uint64_t)s->wal_pages;
	return 1;
}

/* See store.h: a query that reads the database file's first pages. */
static int
sqlite_ping(struct store *s, char **cause)
{
	sqlite3_stmt *st = sqlite_stmt(s, PART_CORE, CORE_PING);
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		*cause = sqlite_cause(s);
		return -1;
	}
	return 0;
}

/* See store.h: the schema version, size and counts. */
static void
sqlite_figures(struct store *s, struct store_figures *out)
{
	out->schema_version = STORE_SQLITE_VERSION;
	out->bytes = sqlite_scalar(s, sqlite_stmt(s, PART_CORE, CORE_BYTES),
	    0);
	out->schedules = sqlite_scalar(s, sqlite_stmt(s, PART_CORE,
	    CORE_SCHEDULES), 0);
	out->messages_created = s->msg_seq;
	out->backend = "sqlite";
	out->node[0] = '\0';
	out->leases = 0;
}

/* Prepare every part's statements; -1 with *cause. */
static int
sqlite_prepare(struct store *s, char **cause)
{
	const struct sqlite_sql *p;
	size_t i, k;

	for (k = 0; k < PARTS; k++) {
		p = sqlite_parts[k];
		s->st[k] = xcalloc(p->n, sizeof *s->st[k]);
		for (i = 0; i < p->n; i++)
			if (sqlite3_prepare_v3(s->db, p->sql[i], -1,
			    SQLITE_PREPARE_PERSISTENT, &s->st[k][i], NULL) !=
			    SQLITE_OK) {
				*cause = xasprintf("sqlite: statement %zu.%zu: "
				    "%s", k, i, sqlite3_errmsg(s->db));
				return -1;
			}
	}
	return 0;
}

/*
 * Before a migration: copy the database as it is to PATH.vN.bak (N its
 * schema version), so that the older belfry can be put back with it, and
 * log where; an existing database already at STORE_SQLITE_VERSION is left
 * alone.  0, or -1 with *cause (then nothing is migrated).
 */
static int
sqlite_upgrade_backup(struct store *s, const char *path, char **cause)
{
	int64_t v = sqlite_count(s, "SELECT CAST(v AS INTEGER) FROM meta"
	    " WHERE k = 'version'");
	char *bak, *why = NULL;

	if (v <= 0 || v >= STORE_SQLITE_VERSION)
		return 0;
	bak = xasprintf("%s.v%lld.bak", path, (long long)v);
	if (sqlite_backup_whole(s, bak, &why) != 0) {
		*cause = xasprintf("schema version %lld needs upgrading to %d, "
		    "but the copy before it failed (%s): nothing was changed",
		    (long long)v, STORE_SQLITE_VERSION, why);
		free(why);
		free(bak);
		return -1;
	}
	log_info("database %s: schema version %lld upgrades to %d; the "
	    "database as it was is copied to %s", path, (long long)v,
	    STORE_SQLITE_VERSION, bak);
	free(bak);
	return 0;
}

/* The backend's table of operations, filled by its files once. */
static const struct store_ops *
sqlite_ops(void)
{
	static struct store_ops o;

	if (o.close == NULL) {
		sqlite_core_ops(&o);
		sqlite_attempts_ops(&o);
		sqlite_audiences_ops(&o);
		sqlite_backup_ops(&o);
		sqlite_bulk_ops(&o);
		sqlite_deliveries_ops(&o);
		sqlite_idempotency_ops(&o);
		sqlite_messages_ops(&o);
		sqlite_recipients_ops(&o);
		sqlite_retain_ops(&o);
		sqlite_runs_ops(&o);
		sqlite_schedules_ops(&o);
		sqlite_sources_ops(&o);
		sqlite_steps_ops(&o);
	}
	return &o;
}

/*
 * Open the database, check it, apply the schema, prepare every statement.
 * Nothing is written before the file is known to be belfry's (or empty)
 * and, with check "quick" or "full", undamaged; the schema, the migrations
 * and the statements' preparation are one transaction, so a refused or
 * failed open leaves the file as it was.
 */
struct store *
sqlite_store_open(const char *path, const char *check, char **cause)
{
	struct store *s = xcalloc(1, sizeof *s);
	int ours;

	s->ops = sqlite_ops();

	/*
	 * No memory statistics: belfry never reads them, and SQLite takes a
	 * mutex around every allocation to keep them.  This only takes
	 * effect before SQLite initializes (the first open of the process).
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	/* Truncations of the page cache that cannot drop a page are skipped. */
	sqlite_pcache();
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, sqlite_walbuf_vfs()) !=
	    SQLITE_OK) {
		*cause = xasprintf("cannot open database %s: %s", path,
		    s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	/* A refused database is closed as found: no checkpoint into it. */
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* Only another process can hold the lock (EXCLUSIVE below). */
	sqlite3_busy_timeout(s->db, 1000);
	/* Replaces SQLite's auto-checkpoint (see sqlite_wal_cb). */
	sqlite3_wal_hook(s->db, sqlite_wal_cb, s);
	/* For the feed push (sqlite_heads.c); not callable from the schema. */
	if (sqlite3_create_function(s->db, "belfry_swap", 2, SQLITE_UTF8 |
	    SQLITE_DIRECTONLY, s, sqlite_heads_swap, NULL, NULL) != SQLITE_OK) {
		*cause = sqlite_cause(s);
		goto fail;
	}
	/*
	 * EXCLUSIVE: belfryd is the database's only user.  It keeps its locks
	 * (no lock calls around every transaction), the log's index lives in
	 * its memory (no -shm file), and a second process gets "database is
	 * locked" instead of a share of the writes.
	 */
	if (sqlite_exec(s, "PRAGMA locking_mode=EXCLUSIVE;", cause) != 0 ||
	    (ours = sqlite_identify(s->db, path, cause)) == -1 ||
	    (ours == 1 && sqlite_check(s->db, path, check, cause) != 0))
		goto fail;
	if (sqlite_exec(s, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
	    "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;", cause) != 0)
		goto fail;
	if (ours == 1 && sqlite_upgrade_backup(s, path, cause) != 0)
		goto fail;
	sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	if (sqlite_exec(s, "BEGIN IMMEDIATE", cause) != 0)
		goto fail;
	if (sqlite_exec(s, sqlite_schema, cause) != 0 ||
	    sqlite_exec(s, STORE_SQLITE_APP_PRAGMA, cause) != 0 ||
	    sqlite_meta(s, cause) != 0 || sqlite_migrate(s, cause) != 0 ||
	    sqlite_exec(s, sqlite_heads_recover, cause) != 0 ||
	    sqlite_prepare(s, cause) != 0)
		goto rollback;
	if (sqlite_exec(s, "COMMIT", cause) != 0)
		goto rollback;
	s->msg_seq = sqlite_count(s, "SELECT max(seq) FROM messages");
	sqlite_heads_init(s, s->msg_seq);
	if (sqlite_deliveries_reset(s) != 0) {
		*cause = sqlite_cause(s);
		goto fail;
	}
	return s;
rollback:
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	if (s->db != NULL && sqlite3_errcode(s->db) == SQLITE_BUSY) {
		free(*cause);
		*cause = xasprintf("database %s is in use by another process "
		    "(another belfryd?)", path);
	}
	store_close(s);
	return NULL;
}

/* Write the held heads out, finalize every statement, close the database. */
static void
sqlite_close(struct store *s)
{
	char *cause = NULL;
	size_t i, k;

	if (s == NULL)
		return;
	/* The heads still held go to feed_heads: the next open has none to
	 * recover. */
	if (s->heads != NULL && !s->in_txn && store_begin(s, &cause) == 0) {
		if (sqlite_heads_flush(s, 1) != 0)
			store_rollback(s);
		else
			store_commit(s, &cause);
	}
	free(cause);
	sqlite_heads_free(s);
	for (k = 0; k < PARTS; k++) {
		for (i = 0; s->st[k] != NULL && i < sqlite_parts[k]->n; i++)
			sqlite3_finalize(s->st[k][i]);
		free(s->st[k]);
	}
	if (s->db != NULL)
		sqlite3_close(s->db);
	free(s);
}

/* The id derivation key read (or made) at open. */
static void
sqlite_idkey(const struct store *s, uint64_t key[4])
{
	memcpy(key, s->idkey, sizeof s->idkey);
}

/* How many statements have failed. */
static uint64_t
sqlite_errors(const struct store *s)
{
	return s->errors;
}

/* Statement i of part p, reset and with its bindings cleared. */
sqlite3_stmt *
sqlite_stmt(struct store *s, enum sqlite_part p, int i)
{
	sqlite3_stmt *st = s->st[p][i];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/*
 * A statement failed (what: the text of its failure, read before the
 * reset that may clear it): log it, count it, and mark the innermost
 * open request so that it rolls back.
 */
void
sqlite_failed(struct store *s, const char *what)
{
	char *line = xasprintf("sqlite: %s", what);

	log_emit(LOG_PRI_ERR, line);
	free(line);
	s->errors++;
	if (s->depth > 0)
		s->failed[s->depth - 1] = 1;
}

/* Step a statement to its end (rows ignored), then reset it; 0 or -1. */
int
sqlite_done(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	char buf[512];

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		sqlite_failed(s, sqlite_errtext(s->db, buf, sizeof buf));
		sqlite3_reset(st);
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

/* Step a statement that writes: 1 if it changed a row, 0 if none, or -1. */
int
sqlite_changed(struct store *s, sqlite3_stmt *st)
{
	if (sqlite_done(s, st) != 0)
		return -1;
	return sqlite3_changes(s->db) > 0;
}

/*
 * Step a query: 1 with a row, 0 at its end or on a failure (marked as
 * sqlite_failed does).  The caller resets the statement.
 */
int
sqlite_row(struct store *s, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	char buf[512];

	if (rc == SQLITE_ROW)
		return 1;
	if (rc != SQLITE_DONE)
		sqlite_failed(s, sqlite_errtext(s->db, buf, sizeof buf));
	return 0;
}

/*
 * The integer a query's first row has in its first column, or none when
 * there is no row or it is NULL; st is reset.
 */
int64_t
sqlite_scalar(struct store *s, sqlite3_stmt *st, int64_t none)
{
	int64_t v = none;

	if (sqlite_row(s, st) && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return v;
}

/* Step statement i of part p with ?1 = key to its end; 0 or -1. */
int
sqlite_done_key(struct store *s, enum sqlite_part p, int i, int64_t key)
{
	sqlite3_stmt *st = sqlite_stmt(s, p, i);

	sqlite3_bind_int64(st, 1, key);
	return sqlite_done(s, st);
}

/* A column holding JSON text, parsed (NULL for SQL NULL or bad text). */
json_t *
sqlite_json(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	if (s == NULL)
		return NULL;
	return json_loads(s, 0, NULL);
}

/* A text column, copied, or NULL. */
char *
sqlite_text(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	return s ? xstrdup(s) : NULL;
}

/*
 * Copy the text columns cols[0..n) of the current row into one
 * allocation, pointing *out[i] at each copy (NULL for SQL NULL); the
 * allocation, the caller's to free once done with every pointer.
 */
char *
sqlite_texts(sqlite3_stmt *st, size_t n, const int *cols,
    const char **const *out)
{
	const char *t;
	size_t len = 0, i, k;
	char *buf, *p;

	for (i = 0; i < n; i++)
		if (sqlite3_column_text(st, cols[i]) != NULL)
			len += (size_t)sqlite3_column_bytes(st, cols[i]) + 1;
	p = buf = xmalloc(len > 0 ? len : 1);
	for (i = 0; i < n; i++) {
		if ((t = (const char *)sqlite3_column_text(st, cols[i])) ==
		    NULL) {
			*out[i] = NULL;
			continue;
		}
		k = (size_t)sqlite3_column_bytes(st, cols[i]);
		memcpy(p, t, k);
		p[k] = '\0';
		*out[i] = p;
		p += k + 1;
	}
	return buf;
}

/* An integer column, or STORE_NONE for SQL NULL. */
int64_t
sqlite_int(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return STORE_NONE;
	return sqlite3_column_int64(st, col);
}

/*
 * Bind v as JSON text (or NULL).  The text is written (jsonout.c) into
 * one reused buffer that SQLite copies, or a larger one of its own.
 */
void
sqlite_bind_json(sqlite3_stmt *st, int col, json_t *v)
{
	static char buf[16384];
	size_t n;
	char *big;

	if (v == NULL || json_is_null(v)) {
		sqlite3_bind_null(st, col);
		return;
	}
	n = eng_json_write(v, buf, sizeof buf);
	if (n == 0)
		sqlite3_bind_text(st, col, eng_json_dumps(v, JSON_COMPACT |
		    JSON_ENCODE_ANY), -1, free);
	else if (n <= sizeof buf)
		sqlite3_bind_text(st, col, buf, (int)n, SQLITE_TRANSIENT);
	else {
		big = xmalloc(n);
		eng_json_write(v, big, n);
		sqlite3_bind_text(st, col, big, (int)n, free);
	}
}

/*
 * Bind a string (NULL: SQL NULL), borrowed until the statement's next
 * reset: the caller keeps it alive while the statement runs.
 */
void
sqlite_bind_text(sqlite3_stmt *st, int col, const char *v)
{
	if (v == NULL)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_text(st, col, v, -1, SQLITE_STATIC);
}

/* Bind an integer (STORE_NONE: SQL NULL). */
void
sqlite_bind_int(sqlite3_stmt *st, int col, int64_t v)
{
	if (v == STORE_NONE)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_int64(st, col, v);
}

/*
 * Start the group transaction; after a failed one, it first recovers the
 * feed heads (sqlite_heads_rollback).
 */
static int
sqlite_begin(struct store *s, char **cause)
{
	assert(!s->in_txn && s->depth == 0);
	if (sqlite_done(s, sqlite_stmt(s, PART_CORE, CORE_BEGIN)) != 0) {
		*cause = sqlite_cause(s);
		return -1;
	}
	s->in_txn = 1;
	if (s->heads != NULL && sqlite_heads_stale(s)) {
		if (sqlite_exec(s, sqlite_heads_recover, cause) != 0) {
			store_rollback(s);
			return -1;
		}
		sqlite_heads_recovered(s, sqlite_count(s, "SELECT CAST(v AS"
		    " INTEGER) FROM meta WHERE k = 'heads_upto'"));
	}
	return 0;
}

/* Commit the group transaction (durably: synchronous=FULL). */
static int
sqlite_commit(struct store *s, char **cause)
{
	int rc;

	assert(s->in_txn && s->depth == 0);
	rc = sqlite_heads_flush(s, 0);
	s->in_txn = 0;
	if (rc != 0 || sqlite_done(s, sqlite_stmt(s, PART_CORE,
	    CORE_COMMIT)) != 0) {
		*cause = sqlite_cause(s);
		store_rollback(s);
		return -1;
	}
	sqlite_heads_committed(s);
	return 0;
}

/* See store.h: SQLite's commit is never left pending. */
static int
sqlite_commit_send(struct store *s, char **cause)
{
	return sqlite_commit(s, cause) == 0 ? 0 : -1;
}

/* See store.h: no commit is ever pending. */
static int
sqlite_commit_poll(struct store *s, int wait, char **cause)
{
	(void)s;
	(void)wait;
	(void)cause;
	return 0;
}

/* See store.h: no commit is ever pending. */
static int
sqlite_commit_fd(const struct store *s)
{
	(void)s;
	return -1;
}

/* Abandon the group transaction (and any request still open in it). */
static void
sqlite_rollback(struct store *s)
{
	s->in_txn = 0;
	s->depth = 0;
	sqlite_heads_rollback(s, 1);
	if (sqlite3_get_autocommit(s->db) == 0)
		sqlite_done(s, sqlite_stmt(s, PART_CORE, CORE_ROLLBACK));
}

/*
 * Delete what no longer matters, at most max rows of each kind: replies
 * made before idem_before, throttle hits expired at now, and cancels no
 * pending fan-out can meet.
 */
static int
sqlite_sweep(struct store *s, int64_t now, int64_t idem_before, int max)
{
	int rc = sqlite_idempotency_sweep(s, idem_before, max);

	if (sqlite_steps_sweep(s, now, max) != 0)
		rc = -1;
	if (sqlite_runs_sweep(s) != 0)
		rc = -1;
	return rc;
}

/* No bound on the requests of one transaction. */
static size_t
sqlite_group_max(const struct store *s)
{
	(void)s;
	return SIZE_MAX;
}

/* Nobody else writes: the file is locked by this process. */
static int
sqlite_shared(const struct store *s)
{
	(void)s;
	return 0;
}

/* Requests never wait on SQLite: there is nothing to be optimistic about. */
static void
sqlite_optimistic(struct store *s, int on)
{
	(void)s;
	(void)on;
}

/* One writer: nothing is ever worth running again. */
static int
sqlite_request_retry(const struct store *s)
{
	(void)s;
	return 0;
}

/* Nobody to tell (sqlite_shared). */
static int
sqlite_announce(struct store *s, const struct store_note *n, size_t count,
    int all)
{
	(void)s;
	(void)n;
	(void)count;
	(void)all;
	return 0;
}

/* Nothing to watch. */
static int
sqlite_listen_fd(struct store *s)
{
	(void)s;
	return -1;
}

/* Nothing is ever heard. */
static size_t
sqlite_heard(struct store *s, void (*f)(void *, const struct store_note *),
    void *arg, int64_t *due)
{
	(void)s;
	(void)f;
	(void)arg;
	(void)due;
	return 0;
}

/* Whether the group transaction is open. */
static int
sqlite_in_txn(const struct store *s)
{
	return s->in_txn;
}

/* Open a request's savepoint. */
static void
sqlite_request_begin(struct store *s)
{
	assert(s->in_txn);
	assert(s->depth < STORE_DEPTH_MAX);
	s->failed[s->depth++] = 0;
	sqlite_heads_mark(s);
	sqlite_done(s, sqlite_stmt(s, PART_CORE, CORE_SAVEPOINT));
}

/*
 * Close the innermost request's savepoint, keeping its work only if ok
 * and none of its statements failed (a failure in its savepoint's own
 * statements counts too).
 */
static int
sqlite_request_end(struct store *s, int ok)
{
	int keep;

	assert(s->in_txn && s->depth > 0);
	keep = ok && !s->failed[s->depth - 1];
	if (!keep) {
		sqlite_done(s, sqlite_stmt(s, PART_CORE, CORE_ROLLBACK_TO));
		sqlite_heads_rollback(s, 0);
	} else
		sqlite_heads_release(s);
	s->depth--;
	sqlite_done(s, sqlite_stmt(s, PART_CORE, CORE_RELEASE));
	return keep;
}

/* This file's operations, into the backend's table. */
void
sqlite_core_ops(struct store_ops *o)
{
	o->maint_due = sqlite_maint_due;
	o->maintain = sqlite_maintain;
	o->gauges = sqlite_gauges;
	o->ping = sqlite_ping;
	o->figures = sqlite_figures;
	o->close = sqlite_close;
	o->idkey = sqlite_idkey;
	o->errors = sqlite_errors;
	o->begin = sqlite_begin;
	o->commit = sqlite_commit;
	o->commit_send = sqlite_commit_send;
	o->commit_poll = sqlite_commit_poll;
	o->commit_fd = sqlite_commit_fd;
	o->rollback = sqlite_rollback;
	o->sweep = sqlite_sweep;
	o->group_max = sqlite_group_max;
	o->shared = sqlite_shared;
	o->request_retry = sqlite_request_retry;
	o->txn_retry = sqlite_request_retry;
	o->optimistic = sqlite_optimistic;
	o->announce = sqlite_announce;
	o->listen_fd = sqlite_listen_fd;
	o->heard = sqlite_heard;
	o->in_txn = sqlite_in_txn;
	o->request_begin = sqlite_request_begin;
	o->request_end = sqlite_request_end;
}
