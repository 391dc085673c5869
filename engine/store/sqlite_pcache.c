/*
 * A thin page cache over SQLite's own (pcache1) that spares it a pass
 * over its whole hash table at the end of most transactions.
 *
 * At every commit SQLite truncates the cache to the database's size, and
 * pcache1 then visits the pages above it; it knows only the highest page
 * number it ever held since the last truncation.  When a B-tree balance
 * swaps two pages' numbers it parks one of them for a moment at the page
 * after the lock-byte page (262145 with 4 KiB pages), so pcache1's
 * highest number becomes that, and the commit's truncation walks every
 * slot of its hash table (16,384 with a 64 MiB cache) to find nothing:
 * about a tenth of the daemon's time in a stream of deliveries.
 *
 * This cache forwards every call to pcache1 and keeps, beside it, a bound
 * on the page numbers it may hold: max, above which there is at most the
 * one page parked at aside (0: none).  A page enters the cache only by a
 * fetch or a rekey, both seen here, so a truncation that nothing can be
 * above is not forwarded; any other is.  The bound only ever errs high.
 */
#include "engine/store/sqlite_int.h"

/* One cache: pcache1's, and the bound on its page numbers. */
struct pcache {
	sqlite3_pcache *base;
	unsigned max;                /* no page above it but aside's */
	unsigned aside;              /* a page's number above max, or 0 */
};

static sqlite3_pcache_methods2 pcache_base;
static sqlite3_pcache_methods2 pcache_methods;

/* The pcache behind p. */
static struct pcache *
pcache_of(sqlite3_pcache *p)
{
	return (struct pcache *)(void *)p;
}

/* xInit: pcache1's. */
static int
pcache_init(void *arg)
{
	(void)arg;
	return pcache_base.xInit(pcache_base.pArg);
}

/* xShutdown: pcache1's. */
static void
pcache_shutdown(void *arg)
{
	(void)arg;
	if (pcache_base.xShutdown != NULL)
		pcache_base.xShutdown(pcache_base.pArg);
}

/* xCreate: a pcache1 cache, nothing above page 0 yet. */
static sqlite3_pcache *
pcache_create(int page, int extra, int purgeable)
{
	struct pcache *c = sqlite3_malloc64(sizeof *c);

	if (c == NULL)
		return NULL;
	if ((c->base = pcache_base.xCreate(page, extra, purgeable)) == NULL) {
		sqlite3_free(c);
		return NULL;
	}
	c->max = 0;
	c->aside = 0;
	return (sqlite3_pcache *)(void *)c;
}

/* xCachesize: pcache1's. */
static void
pcache_cachesize(sqlite3_pcache *p, int n)
{
	pcache_base.xCachesize(pcache_of(p)->base, n);
}

/* xPagecount: pcache1's. */
static int
pcache_pagecount(sqlite3_pcache *p)
{
	return pcache_base.xPagecount(pcache_of(p)->base);
}

/* xFetch: pcache1's, raising the bound to a page it returns. */
static sqlite3_pcache_page *
pcache_fetch(sqlite3_pcache *p, unsigned key, int create)
{
	struct pcache *c = pcache_of(p);
	sqlite3_pcache_page *pg = pcache_base.xFetch(c->base, key, create);

	if (pg != NULL && key > c->max && key != c->aside)
		c->max = key;
	return pg;
}

/* xUnpin: pcache1's (a page dropped leaves the bound as it was). */
static void
pcache_unpin(sqlite3_pcache *p, sqlite3_pcache_page *pg, int discard)
{
	pcache_base.xUnpin(pcache_of(p)->base, pg, discard);
}

/*
 * xRekey: pcache1's; the page leaves from (the parked page no longer is
 * when it was that one) and comes to to, parked when above the bound.
 */
static void
pcache_rekey(sqlite3_pcache *p, sqlite3_pcache_page *pg, unsigned from,
    unsigned to)
{
	struct pcache *c = pcache_of(p);

	pcache_base.xRekey(c->base, pg, from, to);
	if (from == c->aside)
		c->aside = 0;
	if (to <= c->max)
		return;
	if (c->aside == 0)
		c->aside = to;
	else
		c->max = to;
}

/* xTruncate: pcache1's, unless no page can be at limit or above. */
static void
pcache_truncate(sqlite3_pcache *p, unsigned limit)
{
	struct pcache *c = pcache_of(p);

	if (c->max < limit && (c->aside == 0 || c->aside < limit))
		return;
	pcache_base.xTruncate(c->base, limit);
	if (c->max >= limit)
		c->max = limit > 0 ? limit - 1 : 0;
	if (c->aside >= limit)
		c->aside = 0;
}

/* xDestroy: pcache1's, and this one's record. */
static void
pcache_destroy(sqlite3_pcache *p)
{
	pcache_base.xDestroy(pcache_of(p)->base);
	sqlite3_free(p);
}

/* xShrink: pcache1's. */
static void
pcache_shrink(sqlite3_pcache *p)
{
	pcache_base.xShrink(pcache_of(p)->base);
}

/* See sqlite_int.h. */
const sqlite3_pcache_methods2 *
sqlite_pcache(void)
{
	if (pcache_methods.xCreate != NULL)
		return &pcache_methods;
	if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &pcache_base) !=
	    SQLITE_OK)
		return NULL;
	pcache_methods.iVersion = 1;
	pcache_methods.xInit = pcache_init;
	pcache_methods.xShutdown = pcache_shutdown;
	pcache_methods.xCreate = pcache_create;
	pcache_methods.xCachesize = pcache_cachesize;
	pcache_methods.xPagecount = pcache_pagecount;
	pcache_methods.xFetch = pcache_fetch;
	pcache_methods.xUnpin = pcache_unpin;
	pcache_methods.xRekey = pcache_rekey;
	pcache_methods.xTruncate = pcache_truncate;
	pcache_methods.xDestroy = pcache_destroy;
	pcache_methods.xShrink = pcache_shrink;
	if (sqlite3_config(SQLITE_CONFIG_PCACHE2, &pcache_methods) !=
	    SQLITE_OK) {
		pcache_methods.xCreate = NULL;
		return NULL;
	}
	return &pcache_methods;
}
