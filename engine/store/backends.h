/*
 * The openers of the store's backends, for store_open (store.c): each
 * returns its own struct store, which begins with its table of
 * operations (store.h).
 */
#ifndef BELFRY_STORE_BACKENDS_H
#define BELFRY_STORE_BACKENDS_H

#include <stdint.h>

struct store;

/* sqlite.c: open the store in the file at path. */
struct store *sqlite_store_open(const char *path, const char *check,
    char **cause);

/* pg.c: open the store on the PostgreSQL server conninfo names. */
struct store *pg_store_open(const char *conninfo, const char *check,
    char **cause);

/* store.c: a new random id key, and its 64 hex digits in hex[65]. */
int store_idkey_make(uint64_t key[4], char hex[80], char **cause);

/* store.c: the id key whose 64 hex digits hex holds. */
void store_idkey_parse(const char *hex, uint64_t key[4]);

#endif
