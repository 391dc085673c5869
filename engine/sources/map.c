/*
 * engine/sources/map.c: the model of source events, pure -- from a
 * source's definition and one event, sent in Segment's tracking API shape,
 * the request the event asks for (or why none).
 *
 * A track event applies the first entry of the source's "events" whose
 * event name is the track's and whose conditions on event.* hold; its
 * fields are dotted paths into the event ("properties.recipient_ids",
 * "userId", "context.groupId"; a segment of digits indexes an array).
 * Identify calls upsert the user when the source has "identify": true;
 * group calls upsert a tenant or an object (and may subscribe the user to
 * it) as the source's "group" says.  Page, screen and alias calls, and
 * track events no entry applies to, are unmapped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/sources/src_int.h"
#include "engine/workflow/conditions.h"

/*
 * The value at a dotted path in v (borrowed), or NULL when the path does
 * not resolve or ends at JSON null.
 */
static json_t *
src_path(json_t *v, const char *path)
{
	char seg[257], *end;
	const char *p = path;
	unsigned long idx;
	size_t len;

	while (v != NULL) {
		len = strcspn(p, ".");
		if (len == 0 || len >= sizeof seg)
			return NULL;
		memcpy(seg, p, len);
		seg[len] = '\0';
		if (json_is_object(v))
			v = json_object_get(v, seg);
		else if (json_is_array(v) && seg[0] >= '0' && seg[0] <= '9' &&
		    (idx = strtoul(seg, &end, 10), *end == '\0'))
			v = json_array_get(v, idx);
		else
			v = NULL;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	return json_is_null(v) ? NULL : v;
}

/* An id from a string or an integer (a new string), or NULL. */
static json_t *
src_id(json_t *v)
{
	char buf[32];

	if (json_is_string(v) && json_string_length(v) > 0)
		return json_incref(v);
	if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld",
		    (long long)json_integer_value(v));
		return json_string(buf);
	}
	return NULL;
}

/* Fail the request with why (a new string). */
static int
src_fail(struct eng_src_req *out, char *why)
{
	out->kind = ENG_SRC_FAIL;
	out->why = why;
	return -1;
}

/*
 * The recipients at path in ev as a trigger's list: one id, a list of ids
 * and recipient objects, or one recipient object; NULL with *why.
 */
static json_t *
src_recipients(json_t *ev, const char *path, char **why)
{
	json_t *v = src_path(ev, path), *list, *x, *id;
	size_t i;

	if (v == NULL || (json_is_array(v) && json_array_size(v) == 0)) {
		*why = xasprintf("no recipients at %s", path);
		return NULL;
	}
	if (json_is_object(v))
		return json_pack("[O]", v);
	if ((id = src_id(v)) != NULL)
		return json_pack("[o]", id);
	if (!json_is_array(v)) {
		*why = xasprintf("the recipients at %s must be an id, a list of "
		    "ids or recipient objects", path);
		return NULL;
	}
	list = json_array();
	json_array_foreach(v, i, x) {
		if (json_is_object(x))
			json_array_append(list, x);
		else if ((id = src_id(x)) != NULL)
			json_array_append_new(list, id);
		else {
			json_decref(list);
			*why = xasprintf("the recipient %s.%zu must be an id or "
			    "a recipient object", path, i);
			return NULL;
		}
	}
	return list;
}

/*
 * Set body's key from the id (or, with objects, the object) at path in
 * ev; absent is left unset.  0, or -1 with *why.
 */
static int
src_field(json_t *body, const char *key, json_t *ev, const char *path,
    int objects, char **why)
{
	json_t *v, *id;

	if (path == NULL || (v = src_path(ev, path)) == NULL)
		return 0;
	if (objects && json_is_object(v)) {
		json_object_set(body, key, v);
		return 0;
	}
	if ((id = src_id(v)) == NULL) {
		*why = xasprintf("the %s at %s must be %s", key, path, objects ?
		    "an id or an object" : "a string or an integer");
		return -1;
	}
	json_object_set_new(body, key, id);
	return 0;
}

/* The trigger or cancel that mapping m makes of track event ev. */
static int
src_map_track(const struct eng_srcmap *m, json_t *ev, struct eng_src_req *out)
{
	json_t *body = json_object(), *v;
	char *why = NULL;
	const char *dpath = m->data != NULL ? m->data : "properties";

	out->workflow = m->workflow;
	out->body = body;
	if (m->recipients != NULL) {
		v = src_recipients(ev, m->recipients, &why);
		if (v == NULL && (m->action == ENG_SRC_TRIGGER ||
		    src_path(ev, m->recipients) != NULL))
			return src_fail(out, why);
		free(why);
		why = NULL;
		if (v != NULL)
			json_object_set_new(body, "recipients", v);
	}
	if (src_field(body, "actor", ev, m->actor, 1, &why) != 0 ||
	    src_field(body, "tenant", ev, m->tenant, 1, &why) != 0 ||
	    src_field(body, "cancellation_key", ev, m->ckey, 0, &why) != 0)
		return src_fail(out, why);
	if (m->action == ENG_SRC_CANCEL) {
		if (json_object_get(body, "cancellation_key") == NULL)
			return src_fail(out, xasprintf("no cancellation key at "
			    "%s", m->ckey));
		out->kind = ENG_SRC_DO_CANCEL;
		return 0;
	}
	v = src_path(ev, dpath);
	if (v != NULL && !json_is_object(v))
		return src_fail(out, xasprintf("the data at %s must be an "
		    "object", dpath));
	json_object_set_new(body, "data", v != NULL ? json_deep_copy(v) :
	    json_object());
	out->kind = ENG_SRC_DO_TRIGGER;
	return 0;
}

/* Whether a trait's name is one a recipient body reserves. */
static int
src_reserved(const char *k)
{
	static const char *const keys[] = { "id", "collection", "__typename",
		"created_at", "updated_at", "preferences", "settings",
		"phone" };
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(k, keys[i]) == 0)
			return 1;
	return 0;
}

/*
 * A recipient body from traits: each trait as a property of its name but
 * the reserved ones; a Segment "phone" is the user's phone_number.
 */
static json_t *
src_traits(json_t *traits, int user)
{
	json_t *body = json_object(), *v;
	const char *k;

	json_object_foreach(traits, k, v) {
		if (!src_reserved(k))
			json_object_set(body, k, v);
	}
	v = json_object_get(traits, "phone");
	if (user && v != NULL && json_object_get(body, "phone_number") == NULL)
		json_object_set(body, "phone_number", v);
	return body;
}

/* The user upsert an identify call makes. */
static int
src_map_identify(const struct eng_srcdef *d, json_t *ev,
    struct eng_src_req *out)
{
	json_t *id, *traits = json_object_get(ev, "traits"), *ctx, *v;
	static const char *const fromctx[] = { "timezone", "locale" };
	size_t i;

	if (!d->identify) {
		out->why = xstrdup("identify calls are not mapped (\"identify\" "
		    "is off)");
		return 0;
	}
	if ((id = src_id(json_object_get(ev, "userId"))) == NULL) {
		out->why = xstrdup("no userId (an anonymous identify)");
		return 0;
	}
	out->id = xstrdup(json_string_value(id));
	json_decref(id);
	if (traits != NULL && !json_is_object(traits))
		return src_fail(out, xstrdup("\"traits\" must be an object"));
	out->body = src_traits(traits, 1);
	ctx = json_object_get(ev, "context");
	for (i = 0; i < sizeof fromctx / sizeof fromctx[0]; i++) {
		v = json_object_get(ctx, fromctx[i]);
		if (json_object_get(out->body, fromctx[i]) == NULL &&
		    json_is_string(v))
			json_object_set(out->body, fromctx[i], v);
	}
	out->kind = ENG_SRC_DO_IDENTIFY;
	return 0;
}

/* The tenant or object upsert a group call makes. */
static int
src_map_group(const struct eng_srcdef *d, json_t *ev, struct eng_src_req *out)
{
	json_t *id, *traits = json_object_get(ev, "traits");

	if (d->group == ENG_SRC_GROUP_NONE) {
		out->why = xstrdup("group calls are not mapped (no \"group\")");
		return 0;
	}
	if ((id = src_id(json_object_get(ev, "groupId"))) == NULL)
		return src_fail(out, xstrdup("a group call needs \"groupId\""));
	out->id = xstrdup(json_string_value(id));
	json_decref(id);
	if (traits != NULL && !json_is_object(traits))
		return src_fail(out, xstrdup("\"traits\" must be an object"));
	out->body = src_traits(traits, 0);
	if (d->group == ENG_SRC_GROUP_OBJECT && d->group_subscribe &&
	    (id = src_id(json_object_get(ev, "userId"))) != NULL) {
		out->user = xstrdup(json_string_value(id));
		json_decref(id);
	}
	out->kind = ENG_SRC_DO_GROUP;
	return 0;
}

/* See src_int.h. */
int
eng_src_map(const struct eng_srcdef *d, json_t *ev, struct eng_src_req *out)
{
	const char *type, *name;
	json_t *ctx;
	size_t i;
	int rc = 0;

	memset(out, 0, sizeof *out);
	out->kind = ENG_SRC_UNMAPPED;
	if (!json_is_object(ev))
		return src_fail(out, xstrdup("an event must be a JSON object"));
	type = json_string_value(json_object_get(ev, "type"));
	if (type == NULL)
		return src_fail(out, xstrdup("an event needs \"type\""));
	if (strcmp(type, "identify") == 0)
		return src_map_identify(d, ev, out);
	if (strcmp(type, "group") == 0)
		return src_map_group(d, ev, out);
	if (strcmp(type, "page") == 0 || strcmp(type, "screen") == 0 ||
	    strcmp(type, "alias") == 0) {
		out->why = xasprintf("%s calls are not mapped", type);
		return 0;
	}
	if (strcmp(type, "track") != 0)
		return src_fail(out, xasprintf("unknown event type \"%.64s\"",
		    type));
	if ((name = json_string_value(json_object_get(ev, "event"))) == NULL)
		return src_fail(out, xstrdup("a track event needs \"event\""));
	ctx = json_pack("{s:O}", "event", ev);
	for (i = 0; i < d->nmaps; i++) {
		if (strcmp(d->maps[i].event, name) == 0 &&
		    eng_cond_eval(d->maps[i].conditions, ctx, NULL))
			break;
	}
	json_decref(ctx);
	if (i == d->nmaps)
		out->why = xasprintf("no mapping applies to \"%.128s\"", name);
	else
		rc = src_map_track(&d->maps[i], ev, out);
	return rc;
}

/* Free what a mapped request holds. */
void
eng_src_req_clear(struct eng_src_req *r)
{
	json_decref(r->body);
	free(r->id);
	free(r->user);
	free(r->why);
	memset(r, 0, sizeof *r);
}
