/*
 * The set-up the engine's unit tests share: a configuration directory
 * copied from tests/unit/engine/fixtures/NAME (belfry.conf and its
 * workflows as the JSON files a user writes) into a test's temporary
 * directory, and a fresh engine on a fresh database inside it.
 *
 * With BELFRY_TEST_PG set to a PostgreSQL base URI (such as
 * postgresql://postgres@127.0.0.1:55432), the database is PostgreSQL
 * instead of a SQLite file: one database per test binary, created if
 * missing and emptied (its public schema dropped and made again) whenever
 * a test asks for a database path it did not ask for last, so that each
 * test starts as on a new SQLite file.  Tests that look inside SQLite
 * skip themselves when fixture_pg() is true, or look through the
 * fixture_pg_ functions instead where the same SQL serves both backends.
 */
#ifndef BELFRY_TEST_FIXTURE_H
#define BELFRY_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

char *fixture_read(const char *name, const char *file);
void fixture_put(const char *dir, const char *name, const char *text);
struct eng *fixture_open(const char *name, const char *dir);
const char *fixture_db(const char *path);
int fixture_pg(void);
int fixture_pg_exec(struct eng *e, const char *sql);
int64_t fixture_pg_int(struct eng *e, const char *sql);
char *fixture_pg_text(struct eng *e, const char *sql);
int64_t *fixture_pg_cells(struct eng *e, const char *sql, size_t *n);
void fixture_close(struct eng *e);

#endif
