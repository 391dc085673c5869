/*
 * Feed heads, written behind: the newest message of each recipient's
 * chain on a channel (see sqlite.c) is kept in memory and written to
 * feed_heads in bulk, not once per message.
 *
 * A message on a chain not held swaps the head in feed_heads at once (as
 * every message did before); from its second message on the chain is
 * held, and the next ones take the head from memory and replace it
 * there, marked dirty.  A commit writes every dirty head once
 * HEADS_DIRTY heads are dirty, or once HEADS_LAG messages were
 * sent since the last such write, together with meta('heads_upto') = the
 * last message seq then given.  So after a crash feed_heads lacks at most
 * the heads of messages above heads_upto, which the open recovers from
 * the messages themselves (each message names its recipient and channel;
 * the newest is the head).  A trigger to the same 1000 recipients again
 * and again writes 1000 heads every 65 triggers instead of 1000 per
 * trigger.
 *
 * Every change to an entry is logged so that a request's rollback (its
 * savepoint) undoes it; requests nest, so their marks in the log form a
 * stack, one per open request.  A transaction that fails drops every held head,
 * and the next one first recovers them as a start does (the messages
 * that did commit, perhaps outside the failed transaction, say what the
 * heads are).  Entries are hashed by recipient alone, so that a
 * recipient's heads on every channel share a bucket for sqlite_heads_of.
 * Clean entries are dropped after a commit once there are more than
 * HEADS_CACHE.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "engine/store/sqlite_int.h"
#include "tz/tz.h"

#define HEADS_DIRTY 4096
#define HEADS_LAG 65536
#define HEADS_CACHE 65536

/* The statements of this file. */
enum {
	HEADS_GET, HEADS_PUT, HEADS_PUSH, HEADS_UPTO, HEADS_OF, HEADS_COUNT
};
static const char *const heads_sql[HEADS_COUNT] = {
	[HEADS_GET] = "SELECT head FROM feed_heads WHERE rcpt = ?1 AND"
	    " channel = ?2",
	[HEADS_PUT] = "INSERT INTO feed_heads(rcpt, channel, head)"
	    " VALUES(?1, ?2, ?3) ON CONFLICT(rcpt, channel) DO UPDATE SET"
	    " head = excluded.head",
	/* belfry_swap(old, new) is new, and keeps old for heads_push. */
	[HEADS_PUSH] = "INSERT INTO feed_heads(rcpt, channel, head)"
	    " VALUES(?1, ?2, ?3) ON CONFLICT(rcpt, channel) DO UPDATE SET"
	    " head = belfry_swap(head, excluded.head)",
	[HEADS_UPTO] = "UPDATE meta SET v = ?1 WHERE k = 'heads_upto'",
	[HEADS_OF] = "SELECT head, channel FROM feed_heads WHERE"
	    " rcpt = ?1 AND (?2 IS NULL OR channel = ?2)",
};
const struct sqlite_sql sqlite_heads_sql = { heads_sql, HEADS_COUNT };

/* One held head; rcpt and channel point into the same allocation. */
struct heads_entry {
	struct heads_entry *next;
	char *rcpt, *channel;
	int64_t head;
	int dirty;
	char text[];
};

/* What an entry was before a change, to undo it. */
struct heads_undo {
	struct heads_entry *entry;
	int64_t head;
	int dirty;
};

struct sqlite_heads {
	struct heads_entry **bucket;
	size_t nbucket, count, ndirty;
	struct heads_undo *undo;
	size_t nundo, capundo;
	size_t mark[STORE_DEPTH_MAX]; /* the log's length at each request */
	size_t nmark;
	int64_t upto;            /* heads_upto as committed */
	int64_t upto_pending;    /* as written by this transaction, or -1 */
	int stale;               /* feed_heads needs recovering (rollback) */
};

/* FNV-1a of a recipient key. */
static size_t
heads_hash(const char *rcpt)
{
	uint64_t h = 14695981039346656037ULL;

	while (*rcpt != '\0')
		h = (h ^ (unsigned char)*rcpt++) * 1099511628211ULL;
	return (size_t)(h ^ (h >> 32));
}

/* Start with no heads held; heads_upto is upto (store_open). */
void
sqlite_heads_init(struct store *s, int64_t upto)
{
	struct sqlite_heads *h = s->heads = xcalloc(1, sizeof *h);

	h->nbucket = 1024;
	h->bucket = xcalloc(h->nbucket, sizeof *h->bucket);
	h->upto = upto;
	h->upto_pending = -1;
}

/* Double the buckets once there are more entries than buckets. */
static void
heads_grow(struct sqlite_heads *h)
{
	struct heads_entry **b, *p, *next;
	size_t n = h->nbucket * 2, i, k;

	b = xcalloc(n, sizeof *b);
	for (i = 0; i < h->nbucket; i++)
		for (p = h->bucket[i]; p != NULL; p = next) {
			next = p->next;
			k = heads_hash(p->rcpt) & (n - 1);
			p->next = b[k];
			b[k] = p;
		}
	free(h->bucket);
	h->bucket = b;
	h->nbucket = n;
}

/* The entry of (rcpt, channel), or NULL if not held. */
static struct heads_entry *
heads_find(struct sqlite_heads *h, const char *rcpt, const char *channel)
{
	struct heads_entry *p;

	p = h->bucket[heads_hash(rcpt) & (h->nbucket - 1)];
	for (; p != NULL; p = p->next)
		if (strcmp(p->rcpt, rcpt) == 0 &&
		    strcmp(p->channel, channel) == 0)
			return p;
	return NULL;
}

/* Hold (rcpt, channel) with head (clean: feed_heads has it). */
static struct heads_entry *
heads_add(struct sqlite_heads *h, const char *rcpt, const char *channel,
    int64_t head)
{
	size_t nr = strlen(rcpt) + 1, nc = strlen(channel) + 1;
	struct heads_entry *p = xmalloc(sizeof *p + nr + nc), **b;

	p->rcpt = memcpy(p->text, rcpt, nr);
	p->channel = memcpy(p->text + nr, channel, nc);
	p->head = head;
	p->dirty = 0;
	b = &h->bucket[heads_hash(rcpt) & (h->nbucket - 1)];
	p->next = *b;
	*b = p;
	if (++h->count > h->nbucket)
		heads_grow(h);
	return p;
}

/* Set entry p, logging what it was. */
static void
heads_set(struct sqlite_heads *h, struct heads_entry *p, int64_t head,
    int dirty)
{
	if (h->nundo == h->capundo)
		h->undo = xreallocarray(h->undo, h->capundo = h->capundo ?
		    h->capundo * 2 : 256, sizeof *h->undo);
	h->undo[h->nundo++] = (struct heads_undo){ p, p->head, p->dirty };
	h->ndirty += (size_t)dirty - (size_t)p->dirty;
	p->head = head;
	p->dirty = dirty;
}

/* Undo the changes logged after position to. */
static void
heads_undo(struct sqlite_heads *h, size_t to)
{
	struct heads_undo *u;

	while (h->nundo > to) {
		u = &h->undo[--h->nundo];
		h->ndirty += (size_t)u->dirty - (size_t)u->entry->dirty;
		u->entry->head = u->head;
		u->entry->dirty = u->dirty;
	}
}

/* Store head as the head of p's chain in feed_heads; 0 or -1. */
static int
heads_put(struct store *s, struct heads_entry *p, int64_t head)
{
	sqlite3_stmt *st = sqlite_stmt(s, PART_HEADS, HEADS_PUT);

	sqlite3_bind_text(st, 1, p->rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, p->channel, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, head);
	return sqlite_done(s, st);
}

/* Write every dirty head and heads_upto; 0 or -1. */
static int
heads_write(struct store *s, struct sqlite_heads *h)
{
	struct heads_entry *p;
	sqlite3_stmt *st;
	size_t i;

	for (i = 0; i < h->nbucket && h->ndirty > 0; i++)
		for (p = h->bucket[i]; p != NULL; p = p->next) {
			if (!p->dirty)
				continue;
			if (heads_put(s, p, p->head) != 0)
				return -1;
			heads_set(h, p, p->head, 0);
		}
	st = sqlite_stmt(s, PART_HEADS, HEADS_UPTO);
	sqlite3_bind_int64(st, 1, s->msg_seq);
	if (sqlite_done(s, st) != 0)
		return -1;
	h->upto_pending = s->msg_seq;
	return 0;
}

/* Drop every clean entry, or every entry. */
static void
heads_drop(struct sqlite_heads *h, int all)
{
	struct heads_entry **pp, *p;
	size_t i;

	for (i = 0; i < h->nbucket; i++)
		for (pp = &h->bucket[i]; (p = *pp) != NULL;) {
			if (p->dirty && !all) {
				pp = &p->next;
				continue;
			}
			*pp = p->next;
			free(p);
			h->count--;
		}
}

/*
 * A new message on rcpt's chain on channel: sets *seq to its seq and
 * returns the head it replaces, its prev (0: the first), or -1.  A chain
 * not held is swapped in feed_heads at once, in one statement whose
 * belfry_swap() hands back the old head, and held from then on unless
 * this was its first message.  A seq given to a message whose insert is
 * rolled back is not given again.
 */
int64_t
sqlite_heads_push(struct store *s, const char *rcpt, const char *channel,
    int64_t *seq)
{
	struct sqlite_heads *h = s->heads;
	struct heads_entry *p = heads_find(h, rcpt, channel);
	sqlite3_stmt *st;
	int64_t prev;

	/* SQLite ended the transaction by itself: no head can be trusted. */
	if (s->in_txn && sqlite3_get_autocommit(s->db)) {
		sqlite_failed(s, "the transaction was rolled back; no message "
		    "is sent until it ends");
		return -1;
	}
	*seq = ++s->msg_seq;
	if (p != NULL) {
		prev = p->head;
		/* Outside a transaction every statement commits by itself. */
		if (!s->in_txn && heads_put(s, p, *seq) != 0)
			return -1;
		heads_set(h, p, *seq, s->in_txn);
	} else {
		st = sqlite_stmt(s, PART_HEADS, HEADS_PUSH);
		sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, *seq);
		s->swapped = 0;
		if (sqlite_done(s, st) != 0)
			return -1;
		prev = s->swapped;
		/*
		 * Held from its second message on (a chain that only ever
		 * gets one costs no memory), logged from prev so that a
		 * rollback leaves it as stored.
		 */
		if (prev != 0)
			heads_set(h, heads_add(h, rcpt, channel, prev), *seq,
			    0);
	}
	/* No request is open outside a transaction: nothing to undo. */
	if (!s->in_txn) {
		assert(h->nmark == 0);
		h->nundo = 0;
	}
	return prev;
}

/* belfry_swap(old, new): new, keeping old for sqlite_heads_push. */
void
sqlite_heads_swap(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct store *s = sqlite3_user_data(ctx);

	(void)argc;
	s->swapped = sqlite3_value_int64(argv[0]);
	sqlite3_result_value(ctx, argv[1]);
}

/* The head of rcpt's chain on channel (0: none, or the read failed). */
int64_t
sqlite_heads_get(struct store *s, const char *rcpt, const char *channel)
{
	struct heads_entry *p = heads_find(s->heads, rcpt, channel);
	sqlite3_stmt *st;

	if (p != NULL)
		return p->head;
	st = sqlite_stmt(s, PART_HEADS, HEADS_GET);
	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, channel, -1, SQLITE_STATIC);
	return sqlite_scalar(s, st, 0);
}

/*
 * Call f for every head of rcpt (on channel, or on every channel when it
 * is NULL): feed_heads' first, then those held in memory, which are newer
 * and replace them.
 */
void
sqlite_heads_of(struct store *s, const char *rcpt, const char *channel,
    void (*f)(void *, const char *, int64_t), void *arg)
{
	struct sqlite_heads *h = s->heads;
	struct heads_entry *p;
	sqlite3_stmt *st;

	st = sqlite_stmt(s, PART_HEADS, HEADS_OF);
	sqlite3_bind_text(st, 1, rcpt, -1, SQLITE_STATIC);
	sqlite_bind_text(st, 2, channel);
	while (sqlite_row(s, st))
		f(arg, (const char *)sqlite3_column_text(st, 1),
		    sqlite3_column_int64(st, 0));
	sqlite3_reset(st);
	p = h->bucket[heads_hash(rcpt) & (h->nbucket - 1)];
	for (; p != NULL; p = p->next)
		if (strcmp(p->rcpt, rcpt) == 0 && (channel == NULL ||
		    strcmp(p->channel, channel) == 0))
			f(arg, p->channel, p->head);
}

/*
 * Before a commit: write the dirty heads and heads_upto if it is time
 * (force: if there is anything new at all); 0 or -1.  With no head held,
 * heads_upto alone still moves on, so that a start after a crash never
 * looks at more than the last HEADS_LAG messages.
 */
int
sqlite_heads_flush(struct store *s, int force)
{
	struct sqlite_heads *h = s->heads;

	assert(h->nmark == 0);
	if (force ? h->ndirty == 0 && s->msg_seq == h->upto :
	    h->ndirty < HEADS_DIRTY && s->msg_seq - h->upto < HEADS_LAG)
		return 0;
	return heads_write(s, h);
}

/* A request starts: push its mark, so that its changes can be undone. */
void
sqlite_heads_mark(struct store *s)
{
	struct sqlite_heads *h = s->heads;

	assert(h->nmark < STORE_DEPTH_MAX);
	h->mark[h->nmark++] = h->nundo;
}

/* A request ended and kept its changes: they become its parent's. */
void
sqlite_heads_release(struct store *s)
{
	struct sqlite_heads *h = s->heads;

	assert(h->nmark > 0);
	h->nmark--;
}

/*
 * A request rolled back: undo its changes and pop its mark.  Or (all) the
 * transaction did, perhaps behind belfry's back (SQLite ends a
 * transaction by itself on a full disk or an I/O error, and the
 * statements after run on their own): hold nothing and have the next
 * transaction recover the heads from the messages, as a start after a
 * crash does.
 */
void
sqlite_heads_rollback(struct store *s, int all)
{
	struct sqlite_heads *h = s->heads;

	if (!all) {
		assert(h->nmark > 0);
		heads_undo(h, h->mark[--h->nmark]);
		return;
	}
	h->nundo = h->nmark = 0;
	h->ndirty = 0;
	heads_drop(h, 1);
	h->upto_pending = -1;
	h->stale = 1;
}

/* Whether the heads must be recovered (see sqlite_heads_rollback). */
int
sqlite_heads_stale(struct store *s)
{
	return s->heads->stale;
}

/* This transaction recovered the heads up to message seq upto. */
void
sqlite_heads_recovered(struct store *s, int64_t upto)
{
	s->heads->upto_pending = upto;
}

/* The transaction committed: its changes stay. */
void
sqlite_heads_committed(struct store *s)
{
	struct sqlite_heads *h = s->heads;

	assert(h->nmark == 0);
	h->nundo = 0;
	if (h->upto_pending >= 0) {
		h->upto = h->upto_pending;
		h->stale = 0;
	}
	h->upto_pending = -1;
	if (h->count > HEADS_CACHE)
		heads_drop(h, 0);
}

/* Free the state (after a final flush and commit). */
void
sqlite_heads_free(struct store *s)
{
	struct sqlite_heads *h = s->heads;

	if (h == NULL)
		return;
	heads_drop(h, 1);
	free(h->bucket);
	free(h->undo);
	free(h);
	s->heads = NULL;
}
