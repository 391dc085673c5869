/*
 * The store: every SQL statement of belfry lives in this file.
 *
 * SQLite in WAL mode with synchronous=FULL: a commit is durable when it
 * returns.  Hot tables are keyed by increasing integers (runs, recipient
 * runs by run << 24 | index, messages) so that inserts append to their B-trees;
 * their public UUIDs are derived from those keys (ids.c), never indexed.
 * A recipient's messages on a channel form a chain, newest first: each
 * message row keeps the seq of the one before it (prev) and feed_heads
 * the newest (schema 7), written behind (heads.c, schema 9).
 * Checkpoints are the owner's to run (store_wal_cb).  Log writes go
 * through walbuf.c's VFS, one write per commit.  The schema version
 * lives in meta('version');
 * migrations run at open.
 */
#include <sys/random.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

#define STORE_VERSION 10

/* PRAGMA application_id of a belfry database: "BLFY". */
#define STORE_APP_ID 0x424c4659
#define STORE_APP_PRAGMA "PRAGMA application_id = 1112295001"

static const char *store_schema =
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
 * Migrations: store_migrations[v] takes a database from version v to
 * v + 1.  A new database gets the version 1 schema and then every
 * migration, so there is one path to the current schema.
 */
static const char *store_migrations[STORE_VERSION] = {
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
	/* What eng_sweep deletes is found by index. */
	[4] = "CREATE INDEX idempotency_by_age ON idempotency(created_at);"
	    "ALTER TABLE throttle_hits ADD COLUMN expires_at INTEGER;"
	    "CREATE INDEX throttle_by_expiry ON throttle_hits(expires_at)"
	    " WHERE expires_at IS NOT NULL;",
	/*
	 * The messages of a recipient, found through two tables instead of an
	 * index on messages: new entries go to the small feed_recent, merged
	 * into feed_main in bulk (eng_feed_merge), so that a trigger to many
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
	 * Feed heads written behind (heads.c): feed_heads is exact up to
	 * the message seq in heads_upto; eng_open recovers the rest.  An
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
};

/* The columns of a schedule row, in the order schedules.c reads them. */
#define SCHED_COLS "seq, parent, workflow, rcpt, actor, tenant, data," \
	" repeats, rule, exdates, dtstart, start_at, timezone, dst_gap," \
	" dst_overlap, catchup_window, paused, ending_at, next_fire_at," \
	" last_fire_at, skipped, last_skipped_at, source, config_id, def," \
	" inserted_at, updated_at, per_sub, skip_reason, last_error"

/* The list statements' filters by several recipients and by tenant. */
#define SCHED_FILTERS " (?7 IS NULL OR rcpt IN (SELECT value FROM" \
	" json_each(?7))) AND (?8 IS NULL OR tenant = ?8)"

/*
 * After a crash feed_heads may lack the heads of messages above
 * heads_upto (heads.c): the newest such message of each chain is its
 * head.  Run at every open; a clean stop leaves nothing to do.
 */
static const char *store_heads_recover =
    "INSERT INTO feed_heads(rcpt, channel, head) SELECT rcpt, channel,"
    " max(seq) FROM messages WHERE seq > (SELECT CAST(v AS INTEGER) FROM"
    " meta WHERE k = 'heads_upto') GROUP BY rcpt, channel"
    " ON CONFLICT(rcpt, channel) DO UPDATE SET head = excluded.head;"
    "UPDATE meta SET v = (SELECT coalesce(max(seq), 0) FROM messages)"
    " WHERE k = 'heads_upto';";

static const char *store_sql[ST_COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_SAVEPOINT] = "SAVEPOINT req",
	[ST_RELEASE] = "RELEASE req",
	[ST_ROLLBACK_TO] = "ROLLBACK TO req",
	[ST_USER_GET] = "SELECT props, created_at, updated_at FROM users"
	    " WHERE id = ?1",
	[ST_USER_PUT] = "INSERT INTO users(id, props, created_at, updated_at)"
	    " VALUES(?1, ?2, ?3, ?3) ON CONFLICT(id) DO UPDATE SET"
	    " props = excluded.props, updated_at = excluded.updated_at",
	[ST_USER_DEL] = "DELETE FROM users WHERE id = ?1",
	[ST_OBJ_GET] = "SELECT props, created_at, updated_at FROM objects"
	    " WHERE collection = ?1 AND id = ?2",
	[ST_OBJ_PUT] = "INSERT INTO objects(collection, id, props, created_at,"
	    " updated_at) VALUES(?1, ?2, ?3, ?4, ?4) ON CONFLICT(collection,"
	    " id) DO UPDATE SET props = excluded.props,"
	    " updated_at = excluded.updated_at",
	[ST_OBJ_DEL] = "DELETE FROM objects WHERE collection = ?1 AND id = ?2",
	[ST_TENANT_GET] = "SELECT props, created_at, updated_at FROM tenants"
	    " WHERE id = ?1",
	[ST_TENANT_PUT] = "INSERT INTO tenants(id, props, created_at,"
	    " updated_at) VALUES(?1, ?2, ?3, ?3) ON CONFLICT(id) DO UPDATE SET"
	    " props = excluded.props, updated_at = excluded.updated_at",
	[ST_TENANT_STUB] = "INSERT OR IGNORE INTO tenants(id, props,"
	    " created_at, updated_at) VALUES(?1, '{}', ?2, ?2)",
	[ST_SUB_PUT] = "INSERT INTO subscriptions(collection, object_id, rcpt,"
	    " props, inserted_at, updated_at) VALUES(?1, ?2, ?3, ?4, ?5, ?5)"
	    " ON CONFLICT(collection, object_id, rcpt) DO UPDATE SET"
	    " props = excluded.props, updated_at = excluded.updated_at",
	[ST_SUB_DEL] = "DELETE FROM subscriptions WHERE collection = ?1 AND"
	    " object_id = ?2 AND rcpt = ?3",
	[ST_SUB_LIST] = "SELECT rcpt, props, inserted_at, updated_at FROM"
	    " subscriptions WHERE collection = ?1 AND object_id = ?2 AND"
	    " rcpt > ?3 ORDER BY rcpt LIMIT ?4",
	[ST_SUB_GET] = "SELECT props, inserted_at, updated_at FROM"
	    " subscriptions WHERE collection = ?1 AND object_id = ?2 AND"
	    " rcpt = ?3",
	[ST_PREF_GET] = "SELECT body FROM preferences WHERE rcpt = ?1 AND"
	    " set_id = ?2",
	[ST_PREF_PUT] = "INSERT INTO preferences(rcpt, set_id, body,"
	    " updated_at) VALUES(?1, ?2, ?3, ?4) ON CONFLICT(rcpt, set_id) DO"
	    " UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
	[ST_RUN_INS] = "INSERT INTO runs(workflow, actor, tenant, data,"
	    " cancellation_key, source, inserted_at, settings, schedule_seq,"
	    " fire_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	[ST_RUN_GET] = "SELECT workflow, actor, tenant, data, cancellation_key,"
	    " source, inserted_at, settings, schedule_seq, fire_at FROM runs"
	    " WHERE seq = ?1",
	[ST_RUN_BY_CK] = "SELECT seq FROM runs WHERE workflow = ?1 AND"
	    " cancellation_key = ?2 ORDER BY seq",
	[ST_RRUN_INS] = "INSERT INTO rruns(id, rcpt, status, events,"
	    " error_count, inserted_at, updated_at, pc, tdata, sub, wait_at,"
	    " batch_id) VALUES(?1 << 24 | ?2, ?3, ?4, ?5, 0, ?6, ?6, ?7, ?8,"
	    " ?9, ?10, ?11)",
	[ST_RRUN_UPD] = "UPDATE rruns SET status = ?3, events = ?4, pc = ?5,"
	    " wait_at = ?6, batch_id = ?7, updated_at = ?8 WHERE"
	    " id = ?1 << 24 | ?2",
	[ST_RRUN_LOAD] = "SELECT rcpt, status, events, pc, tdata, sub, wait_at,"
	    " batch_id FROM rruns WHERE id = ?1 << 24 | ?2",
	[ST_RRUN_OPEN] = "SELECT id & 16777215, rcpt FROM rruns WHERE id"
	    " BETWEEN ?1 << 24 AND ?1 << 24 | 16777215 AND status IN"
	    " ('paused', 'batched')",
	[ST_RUN_IDX] = "UPDATE runs SET next_idx = ?2 WHERE seq = ?1",
	[ST_RUN_NEXT_IDX] = "SELECT next_idx, workflow, cancellation_key,"
	    " inserted_at FROM runs WHERE seq = ?1",
	[ST_FAN_INS] = "INSERT INTO fanout(run_seq, seq, obj, level, after,"
	    " tdata) VALUES(?1, (SELECT coalesce(max(seq), 0) + 1 FROM fanout"
	    " WHERE run_seq = ?1), ?2, ?3, '', ?4)",
	[ST_FAN_HEAD] = "SELECT seq, obj, level, after, tdata FROM fanout WHERE"
	    " run_seq = ?1 ORDER BY seq LIMIT 1",
	[ST_FAN_AFTER] = "UPDATE fanout SET after = ?3 WHERE run_seq = ?1 AND"
	    " seq = ?2",
	[ST_FAN_DEL] = "DELETE FROM fanout WHERE run_seq = ?1 AND seq = ?2",
	[ST_FAN_DROP] = "DELETE FROM fanout WHERE run_seq = ?1",
	[ST_SEEN_INS] = "INSERT OR IGNORE INTO fanout_seen(run_seq, rcpt)"
	    " VALUES(?1, ?2)",
	[ST_SEEN_DROP] = "DELETE FROM fanout_seen WHERE run_seq = ?1",
	[ST_CANCEL_INS] = "INSERT INTO cancels(workflow, ckey, upto,"
	    " recipients) VALUES(?1, ?2, ?3, ?4)",
	[ST_CANCEL_GET] = "SELECT recipients FROM cancels WHERE workflow = ?1"
	    " AND ckey = ?2 AND upto >= ?3",
	[ST_WAIT_INS] = "INSERT OR IGNORE INTO waits(due_at, kind, a, b)"
	    " VALUES(?1, ?2, ?3, ?4)",
	[ST_WAIT_DEL] = "DELETE FROM waits WHERE due_at = ?1 AND kind = ?2 AND"
	    " a = ?3 AND b = ?4",
	[ST_WAIT_DUE] = "SELECT due_at, kind, a, b FROM waits WHERE due_at <= ?1"
	    " ORDER BY due_at, kind, a, b LIMIT ?2",
	[ST_WAIT_NEXT] = "SELECT min(due_at) FROM waits",
	[ST_BATCH_FIND] = "SELECT id, closes_at, hard_close FROM batches WHERE"
	    " bkey = ?1",
	[ST_BATCH_INS] = "INSERT INTO batches(bkey, run_seq, idx, pc,"
	    " opened_at, closes_at, hard_close) VALUES(?1, ?2, ?3, ?4, ?5, ?6,"
	    " ?7)",
	[ST_BATCH_GET] = "SELECT bkey, run_seq, idx, pc, closes_at FROM batches"
	    " WHERE id = ?1",
	[ST_BATCH_SET] = "UPDATE batches SET closes_at = ?2, run_seq = ?3,"
	    " idx = ?4 WHERE id = ?1",
	[ST_BATCH_CLOSE] = "UPDATE batches SET bkey = NULL WHERE id = ?1",
	[ST_BATCH_DEL] = "DELETE FROM batches WHERE id = ?1",
	[ST_ITEM_DROP] = "DELETE FROM batch_items WHERE batch_id = ?1",
	[ST_ITEM_INS] = "INSERT INTO batch_items(batch_id, item, run_seq, idx,"
	    " actor, data, inserted_at) VALUES(?1, (SELECT coalesce(max(item),"
	    " 0) + 1 FROM batch_items WHERE batch_id = ?1), ?2, ?3, ?4, ?5, ?6)",
	[ST_ITEM_LIST] = "SELECT run_seq, idx, actor, data, inserted_at FROM"
	    " batch_items WHERE batch_id = ?1 ORDER BY item",
	[ST_ITEM_DEL] = "DELETE FROM batch_items WHERE batch_id = ?1 AND"
	    " run_seq = ?2 AND idx = ?3",
	[ST_ITEM_COUNT] = "SELECT count(*) FROM batch_items WHERE batch_id = ?1",
	[ST_THR_COUNT] = "SELECT count(*) FROM throttle_hits WHERE tkey = ?1"
	    " AND at > ?2",
	[ST_THR_INS] = "INSERT OR IGNORE INTO throttle_hits(tkey, at, run_seq,"
	    " idx, expires_at) VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_THR_SWEEP] = "DELETE FROM throttle_hits WHERE (tkey, at, run_seq,"
	    " idx) IN (SELECT tkey, at, run_seq, idx FROM throttle_hits WHERE"
	    " expires_at <= ?1 LIMIT ?2)",
	[ST_CANCEL_SWEEP] = "DELETE FROM cancels WHERE NOT EXISTS(SELECT 1"
	    " FROM fanout WHERE fanout.run_seq <= cancels.upto)",
	[ST_THR_GC] = "DELETE FROM throttle_hits WHERE tkey = ?1 AND at <= ?2",
	[ST_RRUN_GET] = "SELECT rcpt, status, events, error_count, inserted_at,"
	    " updated_at FROM rruns WHERE id = ?1 << 24 | ?2",
	[ST_RRUN_LIST] = "SELECT r.id >> 24, r.id & 16777215, r.rcpt,"
	    " r.status, r.events, r.error_count, r.inserted_at, r.updated_at, u.workflow, u.actor,"
	    " u.tenant, u.cancellation_key, u.source, u.schedule_seq, u.fire_at"
	    " FROM rruns r JOIN runs u"
	    " ON u.seq = r.id >> 24 WHERE r.id < ?1 << 24 | ?2 AND"
	    " (?3 IS NULL OR u.workflow = ?3) AND (?4 IS NULL OR r.status = ?4)"
	    " AND (?5 IS NULL OR r.rcpt = ?5) ORDER BY r.id DESC LIMIT ?6",
	/* ST_RRUN_LIST's columns and parameters, for one schedule's runs (?7). */
	[ST_RRUN_BY_SCHED] = "SELECT r.id >> 24, r.id & 16777215, r.rcpt,"
	    " r.status, r.events, r.error_count, r.inserted_at, r.updated_at,"
	    " u.workflow, u.actor, u.tenant, u.cancellation_key, u.source,"
	    " u.schedule_seq, u.fire_at FROM runs u JOIN rruns r ON r.id"
	    " BETWEEN u.seq << 24 AND (u.seq << 24 | 16777215) WHERE"
	    " u.schedule_seq = ?7 AND r.id < ?1 << 24 | ?2 AND"
	    " (?3 IS NULL OR u.workflow = ?3) AND (?4 IS NULL OR r.status = ?4)"
	    " AND (?5 IS NULL OR r.rcpt = ?5) ORDER BY r.id DESC LIMIT ?6",
	[ST_MSG_INS] = "INSERT INTO messages(run_seq, idx, step_ref, channel,"
	    " rcpt, tenant, status, body, inserted_at, updated_at, prev, seq)"
	    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10, ?11)",
	[ST_MSG_GET] = "SELECT m.seq, m.run_seq, m.idx, m.step_ref, m.channel,"
	    " m.rcpt, m.tenant, m.status, m.body, m.seen_at, m.read_at,"
	    " m.archived_at, m.interacted_at, m.inserted_at, m.updated_at,"
	    " u.workflow, u.actor, u.data FROM messages m JOIN runs u ON"
	    " u.seq = m.run_seq WHERE m.seq = ?1",
	[ST_MSG_MARK] = "UPDATE messages SET seen_at = CASE WHEN ?2 = 'seen'"
	    " THEN ?3 ELSE seen_at END, read_at = CASE WHEN ?2 = 'read' THEN ?3"
	    " ELSE read_at END, archived_at = CASE WHEN ?2 = 'archived' THEN ?3"
	    " ELSE archived_at END, interacted_at = CASE WHEN ?2 = 'interacted'"
	    " THEN ?3 ELSE interacted_at END, updated_at = ?4 WHERE seq = ?1",
	[ST_MSG_STATUS] = "UPDATE messages SET status = ?2, updated_at = ?3"
	    " WHERE seq = ?1",
	/*
	 * One step of a walk down a recipient's chain (messages.c): the
	 * message (ST_MSG_GET's columns), the seq before it, and whether it
	 * passes the filters: ?2 the cursor (below it), ?3 tenant, ?4 whether
	 * a tenant is required, ?5 archived (0 all, 1 exclude, 2 only), ?6
	 * status (0 all, 1 unread, 2 read, 3 unseen, 4 seen).
	 */
	[ST_MSG_WALK] = "SELECT m.seq, m.run_seq, m.idx, m.step_ref,"
	    " m.channel, m.rcpt, m.tenant, m.status, m.body, m.seen_at,"
	    " m.read_at, m.archived_at, m.interacted_at, m.inserted_at,"
	    " m.updated_at, u.workflow, u.actor, u.data, m.prev, m.seq < ?2"
	    " AND (?3 IS NULL OR m.tenant = ?3 OR (m.tenant IS NULL AND"
	    " ?4 = 0)) AND (?4 = 0 OR m.tenant IS NOT NULL)"
	    " AND (?5 = 0 OR (?5 = 1 AND m.archived_at IS NULL) OR"
	    " (?5 = 2 AND m.archived_at IS NOT NULL))"
	    " AND (?6 = 0 OR (?6 = 1 AND m.read_at IS NULL) OR"
	    " (?6 = 2 AND m.read_at IS NOT NULL) OR (?6 = 3 AND m.seen_at IS"
	    " NULL) OR (?6 = 4 AND m.seen_at IS NOT NULL))"
	    " FROM messages m JOIN runs u ON u.seq = m.run_seq WHERE"
	    " m.seq = ?1",
	/* A chain only goes back in time (m.prev < m.seq): it ends. */
	[ST_MSG_COUNTS] = "WITH RECURSIVE w(seq) AS (SELECT ?1 WHERE ?1 > 0"
	    " UNION ALL SELECT m.prev FROM w JOIN messages m ON m.seq = w.seq"
	    " WHERE m.prev < m.seq) SELECT count(*), count(*) FILTER (WHERE"
	    " m.read_at IS NULL), count(*) FILTER (WHERE m.seen_at IS NULL)"
	    " FROM w JOIN messages m ON m.seq = w.seq WHERE m.archived_at IS"
	    " NULL AND (?2 IS NULL OR m.tenant = ?2 OR (m.tenant IS NULL AND"
	    " ?3 = 0)) AND (?3 = 0 OR m.tenant IS NOT NULL)",
	[ST_FEED_HEADS] = "SELECT head, channel FROM feed_heads WHERE"
	    " rcpt = ?1 AND (?2 IS NULL OR channel = ?2)",
	[ST_HEAD_GET] = "SELECT head FROM feed_heads WHERE rcpt = ?1 AND"
	    " channel = ?2",
	[ST_FEED_PUSH] = "INSERT INTO feed_heads(rcpt, channel, head)"
	    " VALUES(?1, ?2, ?3) ON CONFLICT(rcpt, channel) DO UPDATE SET"
	    " head = belfry_swap(head, excluded.head)",
	[ST_HEAD_PUT] = "INSERT INTO feed_heads(rcpt, channel, head)"
	    " VALUES(?1, ?2, ?3) ON CONFLICT(rcpt, channel) DO UPDATE SET"
	    " head = excluded.head",
	[ST_HEADS_UPTO] = "UPDATE meta SET v = ?1 WHERE k = 'heads_upto'",
	[ST_DLV_INS] = "INSERT INTO deliveries(message_seq, due_at, attempts,"
	    " inflight, url, body) VALUES(?1, ?2, 0, 0, ?3, ?4)",
	[ST_DLV_DUE] = "SELECT message_seq, url, body, attempts FROM deliveries"
	    " WHERE inflight = 0 AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
	[ST_DLV_TAKE] = "UPDATE deliveries SET inflight = 1, attempts ="
	    " attempts + 1 WHERE message_seq = ?1",
	[ST_DLV_DEL] = "DELETE FROM deliveries WHERE message_seq = ?1",
	[ST_DLV_RETRY] = "UPDATE deliveries SET inflight = 0, due_at = ?2,"
	    " last_error = ?3 WHERE message_seq = ?1",
	[ST_DLV_NEXT] = "SELECT min(due_at) FROM deliveries WHERE inflight = 0",
	[ST_DLV_GET] = "SELECT attempts FROM deliveries WHERE message_seq = ?1",
	[ST_DLV_RESET] = "UPDATE deliveries SET inflight = 0 WHERE"
	    " inflight = 1",
	[ST_IDEM_GET] = "SELECT status, body, created_at FROM idempotency"
	    " WHERE k = ?1",
	[ST_IDEM_PUT] = "INSERT OR REPLACE INTO idempotency(k, status, body,"
	    " created_at) VALUES(?1, ?2, ?3, ?4)",
	[ST_IDEM_GC] = "DELETE FROM idempotency WHERE k IN (SELECT k FROM"
	    " idempotency WHERE created_at < ?1 LIMIT ?2)",
	[ST_SCHED_INS] = "INSERT INTO schedules(parent, workflow, rcpt, actor,"
	    " tenant, data, repeats, rule, exdates, dtstart, start_at, timezone,"
	    " dst_gap, dst_overlap, catchup_window, paused, ending_at,"
	    " next_fire_at, source, config_id, def, inserted_at, updated_at,"
	    " per_sub) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
	    " ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?22, ?23)",
	[ST_SCHED_GET] = "SELECT " SCHED_COLS " FROM schedules WHERE seq = ?1",
	[ST_SCHED_UPD] = "UPDATE schedules SET workflow = ?2, actor = ?3,"
	    " tenant = ?4, data = ?5, repeats = ?6, rule = ?7, exdates = ?8,"
	    " dtstart = ?9, start_at = ?10, timezone = ?11, dst_gap = ?12,"
	    " dst_overlap = ?13, catchup_window = ?14, paused = ?15,"
	    " ending_at = ?16, next_fire_at = ?17, updated_at = ?18,"
	    " def = ?19, per_sub = ?20 WHERE seq = ?1",
	[ST_SCHED_KIDS_DEL] = "DELETE FROM schedules WHERE parent = ?1",
	/* An index-only scan of schedules_by_workflow. */
	[ST_SCHED_WORKFLOWS] = "SELECT workflow, count(*) FROM schedules"
	    " GROUP BY workflow",
	/* A recipient's schedules: first their children, then the rows. */
	[ST_SCHED_RCPT_KIDS_DEL] = "DELETE FROM schedules WHERE parent IN"
	    " (SELECT seq FROM schedules WHERE rcpt = ?1 AND parent IS NULL"
	    " AND config_id IS NULL)",
	[ST_SCHED_RCPT_DEL] = "DELETE FROM schedules WHERE rcpt = ?1 AND"
	    " config_id IS NULL",
	[ST_SCHED_DEL] = "DELETE FROM schedules WHERE seq = ?1 OR parent = ?1",
	/* The WHERE lets min() read the first entry of the partial index. */
	[ST_SCHED_NEXT] = "SELECT min(next_fire_at) FROM schedules WHERE"
	    " next_fire_at IS NOT NULL",
	[ST_SCHED_DUE] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " next_fire_at <= ?1 ORDER BY next_fire_at LIMIT ?2",
	[ST_SCHED_FIRED] = "UPDATE schedules SET next_fire_at = ?2,"
	    " last_fire_at = coalesce(?3, last_fire_at), skipped = skipped +"
	    " ?4, last_skipped_at = coalesce(?5, last_skipped_at),"
	    " skip_reason = coalesce(?6, skip_reason), last_error = CASE"
	    " WHEN ?7 IS NOT NULL THEN ?7 WHEN ?3 IS NOT NULL THEN NULL ELSE"
	    " last_error END WHERE seq = ?1",
	/*
	 * Lists: one statement per indexed filter (an "?1 IS NULL OR" term
	 * cannot use an index); the same parameters in each: ?1 workflow,
	 * ?2 rcpt, ?3 after seq, ?4 top-level only, ?5 limit, ?6 parent,
	 * ?7 a JSON array of rcpts (any of them), ?8 tenant.
	 */
	[ST_SCHED_LIST] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " (?1 IS NULL OR workflow = ?1) AND (?2 IS NULL OR rcpt = ?2) AND"
	    " seq > ?3 AND (?4 = 0 OR parent IS NULL) AND (?6 IS NULL OR"
	    " parent = ?6) AND" SCHED_FILTERS " ORDER BY seq LIMIT ?5",
	[ST_SCHED_BY_WF] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " workflow = ?1 AND (?2 IS NULL OR rcpt = ?2) AND seq > ?3 AND"
	    " (?4 = 0 OR parent IS NULL) AND (?6 IS NULL OR parent = ?6)"
	    " AND" SCHED_FILTERS " ORDER BY seq LIMIT ?5",
	[ST_SCHED_BY_RCPT] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " rcpt = ?2 AND (?1 IS NULL OR workflow = ?1) AND seq > ?3 AND"
	    " (?4 = 0 OR parent IS NULL) AND (?6 IS NULL OR parent = ?6)"
	    " AND" SCHED_FILTERS " ORDER BY seq LIMIT ?5",
	[ST_SCHED_BY_PARENT] = "SELECT " SCHED_COLS " FROM schedules WHERE"
	    " parent = ?6 AND (?1 IS NULL OR workflow = ?1) AND (?2 IS NULL OR"
	    " rcpt = ?2) AND seq > ?3 AND ?4 = 0 AND" SCHED_FILTERS
	    " ORDER BY seq LIMIT ?5",
	[ST_SCHED_CHILD_DEL] = "DELETE FROM schedules WHERE parent = ?1 AND"
	    " rcpt = ?2",
	[ST_SCHED_CFG_LIST] = "SELECT DISTINCT config_id, def FROM schedules"
	    " WHERE config_id IS NOT NULL AND parent IS NULL",
	[ST_SCHED_CFG_ROWS] = "SELECT seq, rcpt FROM schedules WHERE"
	    " config_id = ?1 AND parent IS NULL",
	[ST_SCHED_CFG_DEL] = "DELETE FROM schedules WHERE config_id = ?1",
};

/*
 * What the last failure of db was, naming the causes an operator can
 * fix: a full disk and a read-only database or file system.  The text is
 * static or db's, valid until db's next call.
 */
static const char *
store_errtext(sqlite3 *db, char *buf, size_t len)
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

/* A new "sqlite: ..." cause for db's last failure. */
static char *
store_cause(sqlite3 *db)
{
	char buf[512];

	return xasprintf("sqlite: %s", store_errtext(db, buf, sizeof buf));
}

/* Run one SQL text; -1 with *cause on error. */
static int
store_exec(sqlite3 *db, const char *sql, char **cause)
{
	char *err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		sqlite3_free(err);
		*cause = store_cause(db);
		return -1;
	}
	return 0;
}

/*
 * Whether the database at the other end of db is belfry's: 1 (marked
 * with STORE_APP_ID, or a belfry database from before the mark: a meta
 * table with its version and id key), 0 when it is empty (new), -1 with
 * *cause when it is another application's or not a database.  Reads
 * only.
 */
static int
store_identify(sqlite3 *db, const char *path, char **cause)
{
	sqlite3_stmt *st;
	int64_t app = 0, objects = 0, marks = 0;
	char buf[512];

	if (sqlite3_prepare_v2(db, "SELECT (SELECT application_id FROM"
	    " pragma_application_id), (SELECT count(*) FROM sqlite_schema)",
	    -1, &st, NULL) != SQLITE_OK || sqlite3_step(st) != SQLITE_ROW) {
		*cause = xasprintf("%s is not a usable SQLite database: %s",
		    path, store_errtext(db, buf, sizeof buf));
		sqlite3_finalize(st);
		return -1;
	}
	app = sqlite3_column_int64(st, 0);
	objects = sqlite3_column_int64(st, 1);
	sqlite3_finalize(st);
	if (app == STORE_APP_ID)
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
store_check(sqlite3 *db, const char *path, const char *mode, char **cause)
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
		    path, store_errtext(db, buf, sizeof buf));
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
	    store_errtext(db, buf, sizeof buf));
	sqlite3_finalize(st);
	return -1;
}

/* Read or create the id derivation key and check the schema version. */
static int
store_meta(struct eng *e, char **cause)
{
	sqlite3_stmt *st;
	char hex[80];
	int version = 0, i, rc;

	if (sqlite3_prepare_v2(e->db, "SELECT k, v FROM meta", -1, &st,
	    NULL) != SQLITE_OK) {
		*cause = xasprintf("sqlite: %s", sqlite3_errmsg(e->db));
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
	if (version > STORE_VERSION) {
		*cause = xasprintf("database schema version %d is newer than "
		    "this belfry (%d)", version, STORE_VERSION);
		return -1;
	}
	if (hex[0] == '\0') {
		if (getrandom(e->idkey, sizeof e->idkey, 0) !=
		    (ssize_t)sizeof e->idkey) {
			*cause = xstrdup("getrandom failed");
			return -1;
		}
		for (i = 0; i < 4; i++)
			snprintf(hex + i * 16, sizeof hex - i * 16, "%016llx",
			    (unsigned long long)e->idkey[i]);
		sqlite3_stmt *ins;
		sqlite3_prepare_v2(e->db, "INSERT INTO meta(k, v) VALUES"
		    "('idkey', ?1), ('version', ?2)", -1, &ins, NULL);
		sqlite3_bind_text(ins, 1, hex, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(ins, 2, 1);
		rc = sqlite3_step(ins);
		sqlite3_finalize(ins);
		if (rc != SQLITE_DONE) {
			*cause = xasprintf("sqlite: %s", sqlite3_errmsg(e->db));
			return -1;
		}
		return 0;
	}
	for (i = 0; i < 4; i++) {
		char part[17];

		memcpy(part, hex + i * 16, 16);
		part[16] = '\0';
		e->idkey[i] = strtoull(part, NULL, 16);
	}
	return 0;
}

/* Apply the migrations from the stored version to STORE_VERSION. */
static int
store_migrate(struct eng *e, char **cause)
{
	sqlite3_stmt *st;
	int v = 1;
	char *sql;

	if (sqlite3_prepare_v2(e->db, "SELECT v FROM meta WHERE k = 'version'",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = atoi((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	for (; v < STORE_VERSION; v++) {
		if (store_exec(e->db, store_migrations[v], cause) != 0)
			return -1;
		sql = xasprintf("UPDATE meta SET v = '%d' WHERE k = 'version'",
		    v + 1);
		if (store_exec(e->db, sql, cause) != 0) {
			free(sql);
			return -1;
		}
		free(sql);
	}
	return 0;
}

/* The integer a one-row query answers, or 0. */
static int64_t
store_count(struct eng *e, const char *sql)
{
	sqlite3_stmt *q;
	int64_t n = 0;

	if (sqlite3_prepare_v2(e->db, sql, -1, &q, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(q) == SQLITE_ROW)
		n = sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return n;
}

/*
 * After each commit: note the log's size, and checkpoint at once only when
 * it has reached ENG_WAL_HARD pages.  Below that the owner checkpoints
 * when it has time (eng_checkpoint), so the copy into the database does
 * not land on a commit that due fires or requests wait for.
 */
static int
store_wal_cb(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct eng *e = arg;

	e->wal_pages = pages;
	if (pages >= ENG_WAL_HARD &&
	    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL) == SQLITE_OK)
		e->wal_pages = 0;
	return SQLITE_OK;
}

/* Pages written to the log since its last checkpoint. */
int
eng_wal_pages(const struct eng *e)
{
	return e->wal_pages;
}

/* Copy the log into the database (PASSIVE: never waits); 0 or -1. */
int
eng_checkpoint(struct eng *e, char **cause)
{
	char buf[512];

	if (sqlite3_wal_checkpoint_v2(e->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    NULL, NULL) != SQLITE_OK) {
		*cause = xasprintf("checkpoint: %s", store_errtext(e->db, buf,
		    sizeof buf));
		return -1;
	}
	e->wal_pages = 0;
	return 0;
}

/* Open the database with no integrity check (tests, tools, benches). */
struct eng *
eng_open(const char *path, char **cause)
{
	return eng_open_checked(path, "off", cause);
}

/*
 * Open the database, check it, apply the schema, prepare every statement.
 * Nothing is written before the file is known to be belfry's (or empty)
 * and, with check "quick" or "full", undamaged; the schema, the migrations
 * and the statements' preparation are one transaction, so a refused or
 * failed open leaves the file as it was.
 */
struct eng *
eng_open_checked(const char *path, const char *check, char **cause)
{
	struct eng *e = xcalloc(1, sizeof *e);
	int i, ours;

	/*
	 * No memory statistics: belfry never reads them, and SQLite takes a
	 * mutex around every allocation to keep them.  This only takes
	 * effect before SQLite initializes (the first open of the process).
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (sqlite3_open_v2(path, &e->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, eng_walbuf_vfs()) !=
	    SQLITE_OK) {
		*cause = xasprintf("cannot open database %s: %s", path,
		    e->db ? sqlite3_errmsg(e->db) : "out of memory");
		goto fail;
	}
	/* A refused database is closed as found: no checkpoint into it. */
	sqlite3_db_config(e->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* Only another process can hold the lock (EXCLUSIVE below). */
	sqlite3_busy_timeout(e->db, 1000);
	/* Replaces SQLite's auto-checkpoint (see store_wal_cb). */
	sqlite3_wal_hook(e->db, store_wal_cb, e);
	/* For ST_FEED_PUSH (eng_feed_push); not callable from the schema. */
	if (sqlite3_create_function(e->db, "belfry_swap", 2, SQLITE_UTF8 |
	    SQLITE_DIRECTONLY, e, eng_heads_swap, NULL, NULL) != SQLITE_OK) {
		*cause = store_cause(e->db);
		goto fail;
	}
	/*
	 * EXCLUSIVE: belfryd is the database's only user.  It keeps its locks
	 * (no lock calls around every transaction), the log's index lives in
	 * its memory (no -shm file), and a second process gets "database is
	 * locked" instead of a share of the writes.
	 */
	if (store_exec(e->db, "PRAGMA locking_mode=EXCLUSIVE;", cause) != 0 ||
	    (ours = store_identify(e->db, path, cause)) == -1 ||
	    (ours == 1 && store_check(e->db, path, check, cause) != 0))
		goto fail;
	if (store_exec(e->db, "PRAGMA journal_mode=WAL;"
	    "PRAGMA synchronous=FULL; PRAGMA foreign_keys=OFF;"
	    "PRAGMA cache_size=-65536; PRAGMA temp_store=MEMORY;", cause) != 0)
		goto fail;
	sqlite3_db_config(e->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	if (store_exec(e->db, "BEGIN IMMEDIATE", cause) != 0)
		goto fail;
	if (store_exec(e->db, store_schema, cause) != 0 ||
	    store_exec(e->db, STORE_APP_PRAGMA, cause) != 0 ||
	    store_meta(e, cause) != 0 || store_migrate(e, cause) != 0 ||
	    store_exec(e->db, store_heads_recover, cause) != 0)
		goto rollback;
	for (i = 0; i < ST_COUNT; i++) {
		if (sqlite3_prepare_v3(e->db, store_sql[i], -1,
		    SQLITE_PREPARE_PERSISTENT, &e->st[i], NULL) != SQLITE_OK) {
			*cause = xasprintf("sqlite: statement %d: %s", i,
			    sqlite3_errmsg(e->db));
			goto rollback;
		}
	}
	if (store_exec(e->db, "COMMIT", cause) != 0)
		goto rollback;
	e->msg_seq = store_count(e, "SELECT max(seq) FROM messages");
	eng_heads_init(e, e->msg_seq);
	e->has_prefs = store_count(e, "SELECT EXISTS(SELECT 1 FROM"
	    " preferences)") != 0;
	/* Deliveries in flight when the process died are due again. */
	eng_step_done(e, eng_stmt(e, ST_DLV_RESET));
	return e;
rollback:
	sqlite3_exec(e->db, "ROLLBACK", NULL, NULL, NULL);
fail:
	if (e->db != NULL && sqlite3_errcode(e->db) == SQLITE_BUSY) {
		free(*cause);
		*cause = xasprintf("database %s is in use by another process "
		    "(another belfryd?)", path);
	}
	eng_close(e);
	return NULL;
}

/* Finalize every statement and close the database. */
void
eng_close(struct eng *e)
{
	char *cause = NULL;
	int i;

	if (e == NULL)
		return;
	/* The heads still held go to feed_heads: the next open has none to
	 * recover. */
	if (e->heads != NULL && !e->in_txn && eng_begin(e, &cause) == 0) {
		if (eng_heads_flush(e, 1) != 0)
			eng_rollback(e);
		else
			eng_commit(e, &cause);
	}
	free(cause);
	eng_heads_free(e);
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(e->st[i]);
	if (e->db != NULL)
		sqlite3_close(e->db);
	eng_config_free(e->cfg);
	free(e->logs);
	eng_pushes_truncate(e, 0);
	free(e->pushes);
	free(e->fired);
	eng_sched_cache_free(e);
	free(e);
}

/* A prepared statement, reset and with its bindings cleared. */
sqlite3_stmt *
eng_stmt(struct eng *e, enum eng_stmt s)
{
	sqlite3_stmt *st = e->st[s];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Step a statement that returns no rows; 0 or -1. */
int
eng_step_done(struct eng *e, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	char buf[512];

	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		/* The text before the reset, which may clear it. */
		fprintf(stderr, "<3>belfry: sqlite: %s\n",
		    store_errtext(e->db, buf, sizeof buf));
		sqlite3_reset(st);
		e->stats.errors++;
		return -1;
	}
	sqlite3_reset(st);
	return 0;
}

/* A column holding JSON text, parsed (NULL for SQL NULL or bad text). */
json_t *
eng_json_col(sqlite3_stmt *st, int col)
{
	const char *s = (const char *)sqlite3_column_text(st, col);

	if (s == NULL)
		return NULL;
	return json_loads(s, 0, NULL);
}

/*
 * Bind v as JSON text (or NULL).  The text is written (jsonout.c) into
 * one reused buffer that SQLite copies, or a larger one of its own.
 */
void
eng_bind_json(sqlite3_stmt *st, int col, json_t *v)
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

/* RFC 3339 UTC text of an instant. */
void
eng_iso(int64_t t, char *buf, size_t len)
{
	tz_instant_format(t, buf, len);
}

/*
 * Start the group transaction; after a failed one, it first recovers the
 * feed heads (eng_heads_rollback).
 */
int
eng_begin(struct eng *e, char **cause)
{
	if (eng_step_done(e, eng_stmt(e, ST_BEGIN)) != 0) {
		*cause = store_cause(e->db);
		return -1;
	}
	e->in_txn = 1;
	if (e->heads != NULL && eng_heads_stale(e)) {
		if (store_exec(e->db, store_heads_recover, cause) != 0) {
			eng_rollback(e);
			return -1;
		}
		eng_heads_recovered(e, store_count(e, "SELECT CAST(v AS"
		    " INTEGER) FROM meta WHERE k = 'heads_upto'"));
	}
	return 0;
}

/*
 * Queue a log channel line: it is written when the transaction that sent
 * the message commits, and dropped if the work rolls back.
 */
void
eng_log_line(struct eng *e, const char *line)
{
	size_t n = strlen(line);

	e->logs = xreallocarray(e->logs, e->logs_len + n + 2, 1);
	memcpy(e->logs + e->logs_len, line, n);
	e->logs_len += n;
	e->logs[e->logs_len++] = '\n';
	e->logs[e->logs_len] = '\0';
}

/* Forget queued log lines after position len. */
static void
store_logs_truncate(struct eng *e, size_t len)
{
	e->logs_len = len;
	if (e->logs != NULL)
		e->logs[len] = '\0';
	e->logs_mark = len < e->logs_mark ? len : e->logs_mark;
}

/* Commit the group transaction (durably: synchronous=FULL). */
int
eng_commit(struct eng *e, char **cause)
{
	int rc = eng_heads_flush(e, 0);

	e->in_txn = 0;
	if (rc != 0 || eng_step_done(e, eng_stmt(e, ST_COMMIT)) != 0) {
		*cause = store_cause(e->db);
		eng_rollback(e);
		return -1;
	}
	eng_heads_committed(e);
	if (e->logs_len > 0)
		fputs(e->logs, stderr);
	store_logs_truncate(e, 0);
	return 0;
}

/* Abandon the group transaction. */
void
eng_rollback(struct eng *e)
{
	e->in_txn = 0;
	store_logs_truncate(e, 0);
	eng_heads_rollback(e, 1);
	eng_pushes_truncate(e, 0);
	e->nfired = 0;
	if (sqlite3_get_autocommit(e->db) == 0)
		eng_step_done(e, eng_stmt(e, ST_ROLLBACK));
}

/* Open a request's savepoint. */
void
eng_request_begin(struct eng *e)
{
	e->logs_mark = e->logs_len;
	e->pushes_mark = e->npushes;
	eng_heads_mark(e);
	eng_step_done(e, eng_stmt(e, ST_SAVEPOINT));
}

/* Close a request's savepoint, keeping its work only if ok. */
void
eng_request_end(struct eng *e, int ok)
{
	if (!ok) {
		eng_step_done(e, eng_stmt(e, ST_ROLLBACK_TO));
		store_logs_truncate(e, e->logs_mark);
		eng_pushes_truncate(e, e->pushes_mark);
		eng_heads_rollback(e, 0);
	}
	eng_step_done(e, eng_stmt(e, ST_RELEASE));
}

/* A stored idempotent reply younger than 24 h. */
int
eng_idem_get(struct eng *e, const char *key, int64_t now, int *status,
    char **body)
{
	sqlite3_stmt *st = eng_stmt(e, ST_IDEM_GET);
	int found = 0;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW &&
	    sqlite3_column_int64(st, 2) > now - 86400) {
		*status = sqlite3_column_int(st, 0);
		*body = xstrdup((const char *)sqlite3_column_text(st, 1));
		found = 1;
	}
	sqlite3_reset(st);
	return found;
}

/* Store an idempotent reply (eng_sweep drops it after 24 h). */
void
eng_idem_put(struct eng *e, const char *key, int status, const char *body,
    int64_t now)
{
	sqlite3_stmt *st = eng_stmt(e, ST_IDEM_PUT);

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, status);
	sqlite3_bind_text(st, 3, body, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now);
	eng_step_done(e, st);
}

/*
 * Delete what no longer matters, at most ENG_SWEEP_MAX rows of each kind
 * a call, once per ENG_SWEEP_EVERY seconds of engine time (in the
 * caller's transaction): idempotent replies older than 24 h, throttle hits
 * past the window they were counted for, and cancel tombstones once no
 * fan-out they could stop is pending.
 */
void
eng_sweep(struct eng *e, int64_t now)
{
	sqlite3_stmt *st;

	if (now < e->next_sweep)
		return;
	e->next_sweep = now + ENG_SWEEP_EVERY;
	st = eng_stmt(e, ST_IDEM_GC);
	sqlite3_bind_int64(st, 1, now - 86400);
	sqlite3_bind_int(st, 2, ENG_SWEEP_MAX);
	eng_step_done(e, st);
	st = eng_stmt(e, ST_THR_SWEEP);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, ENG_SWEEP_MAX);
	eng_step_done(e, st);
	eng_step_done(e, eng_stmt(e, ST_CANCEL_SWEEP));
}

/* Counters for /metrics. */
void
eng_stats(struct eng *e, struct eng_stats *s)
{
	*s = e->stats;
}
