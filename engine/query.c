/*
 * Reading list queries as scheduler/route.c normalises them: arrays under
 * "name[]", one level of objects under "name", single values as strings.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/engine_int.h"

/*
 * The values of list parameter name of q (borrowed): the array "name[]",
 * or a plain "name" string, which is stored in q as a one-element "name[]"
 * so that both spellings read alike; NULL when there is neither.
 */
json_t *
eng_query_list(json_t *q, const char *name)
{
	char key[64];
	json_t *v, *a;

	snprintf(key, sizeof key, "%s[]", name);
	if (json_is_array(v = json_object_get(q, key)))
		return v;
	if (!json_is_string(v = json_object_get(q, name)))
		return NULL;
	a = json_array();
	json_array_append(a, v);
	json_object_set_new(q, key, a);
	return a;
}

/*
 * Field field of object parameter name of q ("name[field]=v" and
 * "name.field=v" alike), or NULL.
 */
const char *
eng_query_sub(json_t *q, const char *name, const char *field)
{
	return json_string_value(json_object_get(json_object_get(q, name),
	    field));
}

/*
 * Parse q's "page_size" into *out: def when absent, else an integer in
 * 1..max.  0, or -1 with *cause.
 */
int
eng_query_page_size(json_t *q, int def, int max, int *out, char **cause)
{
	const char *v = json_string_value(json_object_get(q, "page_size"));
	char *end;
	long n;

	*out = def;
	if (v == NULL)
		return 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || n < 1 || n > max) {
		*cause = xasprintf("\"page_size\" must be an integer 1..%d",
		    max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/*
 * Knock's page_info of a page of size whose first and last entries have
 * ids first and last (NULL for an empty page), reached with an "after"
 * cursor (from_after) or a "before" one (backward) or none, with more
 * entries beyond it in the direction it was paged: the side paged
 * towards has a cursor if there is more, the side a cursor came from
 * always has one.
 */
json_t *
eng_page_info(const char *first, const char *last, int from_after,
    int backward, int more, int size)
{
	return json_pack("{s:s, s:s?, s:s?, s:i}", "__typename", "PageInfo",
	    "after", last != NULL && (backward || more) ? last : NULL,
	    "before", first != NULL && (from_after || (backward && more)) ?
	    first : NULL, "page_size", size);
}
