/*
 * The openers of the store's backends, for store_open (store.c): each
 * returns its own struct store, which begins with its table of
 * operations (store.h).
 */
#ifndef BELFRY_STORE_BACKENDS_H
#define BELFRY_STORE_BACKENDS_H

struct store;

/* sqlite.c: open the store in the file at path. */
struct store *sqlite_store_open(const char *path, const char *check,
    char **cause);

/* pg.c: open the store on the PostgreSQL server conninfo names. */
struct store *pg_store_open(const char *conninfo, const char *check,
    char **cause);

#endif
