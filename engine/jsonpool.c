/*
 * A pool for jansson's allocations in belfryd.
 *
 * A request builds and frees dozens of small JSON values (objects, their
 * hash buckets, strings); through glibc's malloc each costs a trip
 * through its bins, and the page-sized buffers of SQLite and libevent in
 * between make it consolidate its fast bins again and again.  Here a
 * freed block of up to 496 bytes (31 classes, 16 bytes apart) goes on a
 * list for its size class and the next allocation of that class takes it
 * back: a push and a pop.  New blocks are cut from 64 KiB slabs.  Blocks
 * carry their class in an 8-byte header; larger ones come from malloc
 * with the same header and go back to free.
 *
 * Memory on the lists is kept for reuse, never returned: the pool holds at
 * most what the JSON of the busiest moment needed.  It serves one thread
 * (belfryd has one), and must be installed before any JSON value exists,
 * since a value allocated by malloc must not be freed here; so nothing
 * outside jansson may free what jansson allocated (eng_json_dumps returns
 * malloc'd text instead of json_dumps).  Under AddressSanitizer it is not
 * installed, so that a use of a freed value is still caught.
 */
#include <stdint.h>
#include <stdlib.h>

#include "engine/engine_int.h"

#define JSONPOOL_GRAIN 16                       /* class width, bytes */
#define JSONPOOL_CLASSES 32                     /* classes 1..31 pooled */
#define JSONPOOL_SLAB 65536
#define JSONPOOL_HDR 8                          /* the class, before a block */

static void *jsonpool_lists[JSONPOOL_CLASSES];  /* free blocks per class */
static char *jsonpool_slab;                     /* where the next cut starts */
static size_t jsonpool_slab_left;
static size_t jsonpool_bytes;                   /* slabs taken from malloc */

/* Cut a block of class c from the slab, starting a new slab if short. */
static char *
jsonpool_cut(size_t c)
{
	size_t n = JSONPOOL_HDR + c * JSONPOOL_GRAIN;
	char *p;

	if (jsonpool_slab_left < n) {
		jsonpool_slab = xmalloc(JSONPOOL_SLAB);
		jsonpool_slab_left = JSONPOOL_SLAB;
		jsonpool_bytes += JSONPOOL_SLAB;
	}
	p = jsonpool_slab;
	jsonpool_slab += n;
	jsonpool_slab_left -= n;
	return p;
}

/* jansson's malloc: a pooled block of n bytes' class, or a malloc'd one. */
static void *
jsonpool_alloc(size_t n)
{
	size_t c = n == 0 ? 1 : (n + JSONPOOL_GRAIN - 1) / JSONPOOL_GRAIN;
	char *p;

	if (c < JSONPOOL_CLASSES) {
		if ((p = jsonpool_lists[c]) != NULL)
			jsonpool_lists[c] = *(void **)p;
		else {
			p = jsonpool_cut(c) + JSONPOOL_HDR;
			*(uint64_t *)(p - JSONPOOL_HDR) = c;
		}
		return p;
	}
	if ((p = malloc(JSONPOOL_HDR + n)) == NULL)
		return NULL;
	*(uint64_t *)p = JSONPOOL_CLASSES;
	return p + JSONPOOL_HDR;
}

/* jansson's free: back on its class's list, or to free for a large block. */
static void
jsonpool_free(void *v)
{
	char *p = v;
	uint64_t c;

	if (p == NULL)
		return;
	c = *(uint64_t *)(p - JSONPOOL_HDR);
	if (c < JSONPOOL_CLASSES) {
		*(void **)p = jsonpool_lists[c];
		jsonpool_lists[c] = p;
	} else
		free(p - JSONPOOL_HDR);
}

/* Route jansson's allocations through the pool (before any JSON exists). */
void
eng_json_pool(void)
{
#if defined(__SANITIZE_ADDRESS__)
	(void)jsonpool_alloc;   /* jansson keeps malloc: ASan sees its frees */
	(void)jsonpool_free;
#else
	json_set_alloc_funcs(jsonpool_alloc, jsonpool_free);
#endif
}

/* Bytes of slabs the pool has cut blocks from (its lists live in them). */
size_t
eng_json_pool_bytes(void)
{
	return jsonpool_bytes;
}
