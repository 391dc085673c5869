/*
 * What schedules do when recipients change (the hooks recipients.c calls
 * through the engine's table, installed at open): a deleted recipient's
 * rows go, a recipient's new zone re-plans their pending fires, and an
 * object's subscriptions add and remove its templates' children.
 */
#include "engine/schedules/sched_int.h"

/*
 * A user or object was deleted: their schedules go too (and, for an
 * object, its per-subscriber children).  Config-defined rows stay: they
 * are their files'.
 */
static int
hooks_deleted(struct eng *e, const char *rcpt)
{
	return store_sched_delete_rcpt(e->store, rcpt);
}

/* A recipient's time zone changed: re-plan their pending fires at once. */
static void
hooks_rezoned(struct eng *e, const char *rcpt, int64_t now)
{
	sched_each(e, NULL, rcpt, SCHED_NONE, sched_replan_cb, &now);
}

/* sched_each callback: give template s a child for the rcpt in arg. */
static int
hooks_subscribed_cb(struct eng *e, struct store_sched *s, void *arg)
{
	const char *rcpt = json_string_value(json_object_get(arg, "rcpt"));
	int64_t now = json_integer_value(json_object_get(arg, "now"));

	if (!sched_is_template(s))
		return 0;
	/* Re-subscribing must not make a second child. */
	if (store_sched_delete_child(e->store, s->seq, rcpt) != 0)
		return -1;
	return sched_child_add(e, s, rcpt, now);
}

/* rcpt subscribed to object obj: it joins obj's schedules. */
static void
hooks_subscribed(struct eng *e, const char *obj, const char *rcpt,
    int64_t now)
{
	json_t *arg = json_pack("{s:s, s:I}", "rcpt", rcpt, "now",
	    (json_int_t)now);

	sched_each(e, NULL, obj, SCHED_NONE, hooks_subscribed_cb, arg);
	json_decref(arg);
}

/* sched_each callback: drop template s's child for the rcpt in arg. */
static int
hooks_unsubscribed_cb(struct eng *e, struct store_sched *s, void *arg)
{
	if (!sched_is_template(s))
		return 0;
	return store_sched_delete_child(e->store, s->seq, arg);
}

/* rcpt unsubscribed from object obj: it leaves obj's schedules. */
static void
hooks_unsubscribed(struct eng *e, const char *obj, const char *rcpt)
{
	sched_each(e, NULL, obj, SCHED_NONE, hooks_unsubscribed_cb,
	    (void *)(uintptr_t)rcpt);
}

/* The hooks recipients.c calls (installed by eng_open). */
const struct eng_rcpt_hooks eng_sched_hooks = {
	hooks_rezoned, hooks_deleted, hooks_subscribed,
	hooks_unsubscribed
};
