/*
 * Config-defined schedules: eng_schedules_sync makes the stored rows match
 * the schedules/ files at every start and reload (add, change and remove
 * by id; API-defined rows are never touched).
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "engine/schedules/sched_int.h"

/* Sync: drop the stored config schedules that the config no longer has. */
static int
sched_sync_drop(struct eng *e, json_t *want, json_t *have)
{
	const char *id;
	json_t *v;

	json_object_foreach(have, id, v) {
		if (json_object_get(want, id) != NULL)
			continue;
		if (store_sched_delete_config(e->store, id) != 0)
			return -1;
	}
	return 0;
}

/* Bring config-defined schedules into the store (see engine.h). */
int
eng_schedules_sync(struct eng *e, int64_t now, char **cause)
{
	json_t *have, *want = json_object(), *def, *copy;
	json_t *rows;
	const char *id, *old;
	enum eng_status rc;
	char *text, *err = NULL;
	size_t i;
	int ret = 0;

	assert(store_in_txn(e->store));
	have = store_sched_configs(e->store);
	json_array_foreach(e->cfg ? e->cfg->schedules : NULL, i, def) {
		id = json_string_value(json_object_get(def, "id"));
		json_object_set_new(want, id, json_true());
		text = eng_json_dumps(def, JSON_COMPACT | JSON_SORT_KEYS);
		old = json_string_value(json_object_get(have, id));
		rows = store_sched_config_rows(e->store, id);
		/* Unchanged, with a row for each recipient: nothing to do. */
		if (old != NULL && strcmp(old, text) == 0 &&
		    json_object_size(rows) == json_array_size(
		    json_object_get(def, "recipients"))) {
			json_decref(rows);
			free(text);
			continue;
		}
		copy = json_deep_copy(def);
		json_object_del(copy, "id");
		eng_request_begin(e);
		rc = sched_create(e, copy, now, "config", id, text, rows, NULL,
		    &err);
		/* A store operation may fail under sched_create's success. */
		if (!eng_request_end(e, rc == ENG_OK))
			rc = rc == ENG_OK ? ENG_INTERNAL : rc;
		json_decref(rows);
		if (rc != ENG_OK && ret == 0) {
			*cause = xasprintf("schedule \"%s\": %s", id,
			    err ? err : "store failure");
			ret = -1;
		}
		free(err);
		err = NULL;
		json_decref(copy);
		free(text);
	}
	if (sched_sync_drop(e, want, have) != 0 && ret == 0) {
		*cause = xstrdup("store failure");
		ret = -1;
	}
	json_decref(have);
	json_decref(want);
	return ret;
}
