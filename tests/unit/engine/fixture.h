/*
 * The set-up the engine's unit tests share: a configuration directory
 * copied from tests/unit/engine/fixtures/NAME (belfry.conf and its
 * workflows as the JSON files a user writes) into a test's temporary
 * directory, and a fresh engine on a fresh database inside it.
 */
#ifndef BELFRY_TEST_FIXTURE_H
#define BELFRY_TEST_FIXTURE_H

#include "engine/engine.h"

char *fixture_read(const char *name, const char *file);
void fixture_put(const char *dir, const char *name, const char *text);
struct eng *fixture_open(const char *name, const char *dir);
void fixture_close(struct eng *e);

#endif
