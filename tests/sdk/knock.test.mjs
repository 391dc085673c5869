// Knock's official Node SDK (@knocklabs/node 1.x), unchanged, against
// belfryd's TCP listener.
//
//   BELFRY_URL=http://127.0.0.1:PORT BELFRY_KEY=sk_... node --test tests/sdk/
//
// tests/integration/test_sdk.sh starts a private belfryd with the config this
// file expects: channel "in-app" (type in_app_feed) and the workflow
// "sdk-comment" (one in-app step rendering
// "{{ actor.name }} commented on {{ data.post_id }}: {{ data.excerpt }}",
// data_required ["comment_id"]).
//
// The tests run in file order and share state: the trigger test's run is
// what the feed and message tests read back. Every check is on the value the
// SDK returns, so a route or JSON shape that differs from Knock's shows up as
// a failure here (an SDK list over the wrong key, for instance, quietly
// yields no items). Behaviour and Knock's entity shapes are separate tests:
// a reference returned as a bare id where the SDK's types promise an entity
// fails the "... carry ... (SDK type X)" test, not the behaviour test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Knock, {
  AuthenticationError,
  NotFoundError,
  UnprocessableEntityError,
} from '@knocklabs/node';

const BASE_URL = process.env.BELFRY_URL;
const API_KEY = process.env.BELFRY_KEY;
if (!BASE_URL || !API_KEY) {
  throw new Error('set BELFRY_URL (http://127.0.0.1:PORT) and BELFRY_KEY');
}

const knock = new Knock({ apiKey: API_KEY, baseURL: BASE_URL });

const WORKFLOW = 'sdk-comment';
const CHANNEL = 'in-app';
const T = { timeout: 30_000 }; // a hung daemon must not stall the suite

// Unique ids per run, so the suite also works against a non-empty store.
const run = `${process.pid}-${Date.now()}`;
const USER = `sdk-user-${run}`;
const USER2 = `sdk-user2-${run}`;
const ACTOR = `sdk-actor-${run}`;
const COLLECTION = 'sdk-projects';
const OBJECT = `proj-${run}`;

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

// Shared between tests (the run, message, feed entry and subscriptions).
const state = {};

// The first page of the user's in-app feed: its entries and the body's
// meta counts (EntriesCursor keeps the whole parsed body in `.body`).
async function feed(user, query = {}) {
  const page = await knock.users.feeds.listItems(user, CHANNEL, query);
  return { entries: page.getPaginatedItems(), meta: page.body?.meta, page };
}

// Poll fn until it returns a truthy value (delivery may be asynchronous).
async function eventually(fn, what, ms = 5000) {
  const end = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// The id of a recipient, whether the response gives it as an entity or (not
// Knock's shape; checked separately) as a bare id string.
function rid(r) {
  return typeof r === 'string' ? r : r?.id;
}

// The rendered text of a feed entry's content blocks, joined.
function rendered(entry) {
  assert.ok(Array.isArray(entry.blocks), `entry.blocks is not an array: ${JSON.stringify(entry)}`);
  return entry.blocks.map((b) => b.rendered).join('\n');
}

test('users.update identifies a user (PUT /v1/users/{id})', T, async () => {
  const u = await knock.users.update(USER, {
    name: 'Ada Lovelace',
    email: 'ada@example.com',
    timezone: 'Europe/London',
    plan: 'pro',
    settings: { theme: 'dark', lang: 'en' },
  });
  assert.equal(u.id, USER);
  assert.equal(u.name, 'Ada Lovelace');
  assert.equal(u.email, 'ada@example.com');
  assert.equal(u.timezone, 'Europe/London');
  assert.equal(u.plan, 'pro');
  assert.match(String(u.updated_at), ISO_TIME);

  // A second update deep-merges into the first.
  const u2 = await knock.users.update(USER, { settings: { theme: 'light' }, phone_number: '+15555550100' });
  assert.equal(u2.id, USER);
  assert.equal(u2.name, 'Ada Lovelace');
  assert.equal(u2.phone_number, '+15555550100');
  assert.deepEqual(u2.settings, { theme: 'light', lang: 'en' });

  const a = await knock.users.update(ACTOR, { name: 'Grace' });
  assert.equal(a.id, ACTOR);
  assert.equal(a.name, 'Grace');
});

test('users.get returns the stored user (GET /v1/users/{id})', T, async () => {
  const u = await knock.users.get(USER);
  assert.equal(u.id, USER);
  assert.equal(u.name, 'Ada Lovelace');
  assert.equal(u.email, 'ada@example.com');
  assert.equal(u.phone_number, '+15555550100');
  assert.equal(u.plan, 'pro');
  assert.deepEqual(u.settings, { theme: 'light', lang: 'en' });
  assert.match(String(u.updated_at), ISO_TIME);
});

test('objects.set and objects.get (PUT/GET /v1/objects/{collection}/{id})', T, async () => {
  const o = await knock.objects.set(COLLECTION, OBJECT, { name: 'Apollo', region: 'eu', limits: { seats: 5 } });
  assert.equal(o.id, OBJECT);
  assert.equal(o.collection, COLLECTION);
  assert.equal(typeof o.properties, 'object', `no properties in ${JSON.stringify(o)}`);
  assert.equal(o.properties.region, 'eu');
  assert.deepEqual(o.properties.limits, { seats: 5 });
  assert.match(String(o.updated_at), ISO_TIME);

  const g = await knock.objects.get(COLLECTION, OBJECT);
  assert.equal(g.id, OBJECT);
  assert.equal(g.collection, COLLECTION);
  assert.equal(g.properties.region, 'eu');
  assert.deepEqual(g.properties.limits, { seats: 5 });
});

test('objects.addSubscriptions / listSubscriptions / deleteSubscriptions', T, async () => {
  await knock.users.update(USER2, { name: 'Second' });
  const added = await knock.objects.addSubscriptions(COLLECTION, OBJECT, {
    recipients: [USER, USER2],
    properties: { role: 'watcher' },
  });
  assert.ok(Array.isArray(added), `addSubscriptions did not return an array: ${JSON.stringify(added)}`);
  assert.equal(added.length, 2);
  for (const s of added) {
    assert.equal(s.object?.id, OBJECT);
    assert.equal(s.object?.collection, COLLECTION);
    assert.deepEqual(s.properties, { role: 'watcher' });
    assert.match(String(s.inserted_at), ISO_TIME);
  }
  assert.deepEqual(added.map((s) => rid(s.recipient)).sort(), [USER, USER2].sort());

  const listed = [];
  for await (const s of knock.objects.listSubscriptions(COLLECTION, OBJECT)) listed.push(s);
  assert.deepEqual(listed.map((s) => rid(s.recipient)).sort(), [USER, USER2].sort());
  assert.ok(listed.every((s) => s.object?.id === OBJECT && s.properties?.role === 'watcher'));

  const removed = await knock.objects.deleteSubscriptions(COLLECTION, OBJECT, { recipients: [USER2] });
  assert.ok(Array.isArray(removed), `deleteSubscriptions did not return an array: ${JSON.stringify(removed)}`);
  assert.deepEqual(removed.map((s) => rid(s.recipient)), [USER2]);

  const after = [];
  for await (const s of knock.objects.listSubscriptions(COLLECTION, OBJECT)) after.push(s);
  assert.deepEqual(after.map((s) => rid(s.recipient)), [USER]);
  state.subscriptions = { added, listed, removed };

  // The removed subscriptions come back as they were.
  assert.deepEqual(removed[0].properties, { role: 'watcher' }, `removed: ${JSON.stringify(removed)}`);
  assert.equal(removed[0].inserted_at, added.find((s) => rid(s.recipient) === USER2).inserted_at);
});

test('subscriptions carry full recipient and object entities (SDK type Subscription)', T, async () => {
  assert.ok(state.subscriptions, 'needs the subscriptions test');
  const { added, listed } = state.subscriptions;
  for (const s of [...added, ...listed]) {
    // Subscription.recipient is a Recipient (User | Object), .object an Object.
    assert.equal(typeof s.recipient, 'object', `recipient is ${JSON.stringify(s.recipient)}`);
    assert.equal(s.recipient?.__typename, 'User');
    assert.ok([USER, USER2].includes(s.recipient?.id));
    assert.match(String(s.recipient?.updated_at), ISO_TIME);
    assert.equal(s.object?.__typename, 'Object', `object is ${JSON.stringify(s.object)}`);
    assert.equal(s.object?.properties?.region, 'eu');
    assert.match(String(s.object?.updated_at), ISO_TIME);
  }
});

test('users.setPreferences / getPreferences (PUT/GET /v1/users/{id}/preferences/default)', T, async () => {
  const body = {
    categories: { marketing: false, comments: true },
    channel_types: { email: false, in_app_feed: true },
    workflows: { 'weekly-digest': false },
  };
  const set = await knock.users.setPreferences(USER, 'default', body);
  assert.equal(set.id, 'default');
  assert.equal(set.categories?.marketing, false);
  assert.equal(set.categories?.comments, true);
  assert.equal(set.channel_types?.email, false);
  assert.equal(set.channel_types?.in_app_feed, true);
  assert.equal(set.workflows?.['weekly-digest'], false);

  const got = await knock.users.getPreferences(USER, 'default');
  assert.equal(got.id, 'default');
  assert.deepEqual(got.categories, set.categories);
  assert.deepEqual(got.channel_types, set.channel_types);
  assert.deepEqual(got.workflows, set.workflows);
});

test('workflows.trigger returns a workflow_run_id (POST /v1/workflows/{key}/trigger)', T, async () => {
  const res = await knock.workflows.trigger(WORKFLOW, {
    recipients: [USER],
    actor: ACTOR,
    data: { comment_id: 'c1', post_id: 'p42', excerpt: 'nice work' },
  });
  assert.match(String(res.workflow_run_id), UUID_V4);
  state.runId = res.workflow_run_id;
});

test('workflows.trigger with an idempotencyKey replays the same run', T, async () => {
  const body = { recipients: [USER2], data: { comment_id: 'c2', post_id: 'p1', excerpt: 'x' } };
  const key = `sdk-idem-${run}`;
  const a = await knock.workflows.trigger(WORKFLOW, body, { idempotencyKey: key });
  const { data: b, response } = await knock.workflows.trigger(WORKFLOW, body, { idempotencyKey: key }).withResponse();
  assert.match(String(a.workflow_run_id), UUID_V4);
  assert.equal(b.workflow_run_id, a.workflow_run_id);
  assert.equal(response.headers.get('idempotent-replayed'), 'true');
});

test('workflows.trigger with an inline recipient identifies the user', T, async () => {
  const id = `sdk-inline-${run}`;
  const res = await knock.workflows.trigger(WORKFLOW, {
    recipients: [{ id, name: 'Inline Ivy', email: 'ivy@example.com' }],
    actor: { id: `sdk-inline-actor-${run}`, name: 'Inline Actor' },
    data: { comment_id: 'c3', post_id: 'p7', excerpt: 'hi' },
  });
  assert.match(String(res.workflow_run_id), UUID_V4);
  const u = await knock.users.get(id);
  assert.equal(u.name, 'Inline Ivy');
  assert.equal(u.email, 'ivy@example.com');
  const { entries } = await eventually(async () => {
    const f = await feed(id);
    return f.entries.length > 0 && f;
  }, 'the inline recipient\'s feed entry');
  assert.ok(rendered(entries[0]).includes('Inline Actor commented on p7: hi'), rendered(entries[0]));
});

test('users.feeds.listItems shows the rendered message (GET /v1/users/{id}/feeds/in-app)', T, async () => {
  assert.ok(state.runId, 'needs the trigger test\'s run');
  const { entries, meta } = await eventually(async () => {
    const f = await feed(USER);
    return f.entries.length > 0 && f;
  }, 'a feed entry');
  assert.equal(entries.length, 1);
  const e = entries[0];
  assert.equal(typeof e.id, 'string');
  assert.ok(e.id.length > 0);
  state.messageId = e.id;
  state.entry = e;
  // Knock: `content` is the block after Liquid, `rendered` its HTML.
  const block = e.blocks?.find((b) => b.type === 'markdown');
  assert.ok(block, `no markdown block in ${JSON.stringify(e.blocks)}`);
  assert.equal(block.content, 'Grace commented on p42: nice work');
  assert.ok(block.rendered.includes('Grace commented on p42: nice work'), `rendered: ${block.rendered}`);
  assert.ok(meta, 'the feed body has meta');
  assert.equal(meta.total_count, 1);
  assert.equal(meta.unseen_count, 1);
  assert.equal(meta.unread_count, 1);
  assert.equal(e.source?.key, WORKFLOW);
  assert.deepEqual(e.data, { comment_id: 'c1', post_id: 'p42', excerpt: 'nice work' });
  assert.deepEqual(e.actors?.map(rid), [ACTOR]);
  assert.equal(e.total_activities, 1);
  assert.equal(e.total_actors, 1);
  assert.ok(Array.isArray(e.activities) && e.activities.length === 1);
  assert.equal(e.seen_at ?? null, null);
  assert.equal(e.read_at ?? null, null);
  assert.match(String(e.inserted_at), ISO_TIME);
});

test('feed entry actors and activities carry Recipient entities (SDK type FeedListItemsResponse)', T, async () => {
  const e = state.entry;
  assert.ok(e, 'needs the feed test\'s entry');
  // actors: Array<Recipient>; activities[].actor / .recipient: Recipient.
  assert.equal(typeof e.actors[0], 'object', `actors: ${JSON.stringify(e.actors)}`);
  assert.equal(e.actors[0]?.id, ACTOR);
  assert.equal(e.actors[0]?.name, 'Grace');
  assert.equal(typeof e.activities[0]?.actor, 'object', `activities: ${JSON.stringify(e.activities)}`);
  assert.equal(e.activities[0]?.actor?.id, ACTOR);
  assert.equal(e.activities[0]?.recipient?.id, USER);
});

test('messages.markAsSeen / markAsRead update the message and the feed meta counts', T, async () => {
  assert.ok(state.messageId, 'needs the feed test\'s message');
  const id = state.messageId;

  const seen = await knock.messages.markAsSeen(id);
  assert.equal(seen.id, id);
  assert.match(String(seen.seen_at), ISO_TIME);
  assert.equal(seen.read_at ?? null, null);
  state.seen = seen;
  let f = await feed(USER);
  assert.equal(f.meta?.unseen_count, 0);
  assert.equal(f.meta?.unread_count, 1);
  assert.match(String(f.entries[0]?.seen_at), ISO_TIME);

  const read = await knock.messages.markAsRead(id);
  assert.equal(read.id, id);
  assert.match(String(read.read_at), ISO_TIME);
  state.read = read;
  f = await feed(USER);
  assert.equal(f.meta?.unread_count, 0);
  assert.equal(f.meta?.unseen_count, 0);
  assert.equal(f.meta?.total_count, 1);
  assert.equal((await feed(USER, { status: 'unread' })).entries.length, 0);
  assert.equal((await feed(USER, { status: 'read' })).entries.length, 1);

  const unread = await knock.messages.markAsUnread(id);
  assert.equal(unread.id, id);
  assert.equal(unread.read_at ?? null, null);
  f = await feed(USER);
  assert.equal(f.meta?.unread_count, 1);

  const got = await knock.messages.get(id);
  assert.equal(got.id, id);
  assert.equal(got.read_at ?? null, null);
  assert.match(String(got.seen_at), ISO_TIME);

  const archived = await knock.messages.archive(id);
  assert.match(String(archived.archived_at), ISO_TIME);
  f = await feed(USER);
  assert.equal(f.entries.length, 0, 'archived entries are excluded by default');
  assert.equal((await feed(USER, { archived: 'include' })).entries.length, 1);
  const back = await knock.messages.unarchive(id);
  assert.equal(back.archived_at ?? null, null);
  assert.equal((await feed(USER)).entries.length, 1);
});

test('messages carry engagement_statuses (SDK type Message)', T, async () => {
  assert.ok(state.seen && state.read, 'needs the markAsSeen/markAsRead test');
  assert.deepEqual(state.seen.engagement_statuses, ['seen'], `after markAsSeen: ${JSON.stringify(state.seen)}`);
  assert.deepEqual([...(state.read.engagement_statuses ?? [])].sort(), ['read', 'seen']);
});

test('users.listMessages lists the user\'s messages (GET /v1/users/{id}/messages)', T, async () => {
  assert.ok(state.runId, 'needs the trigger test\'s run');
  const items = [];
  for await (const m of knock.users.listMessages(USER)) items.push(m);
  assert.equal(items.length, 1, `messages: ${JSON.stringify(items)}`);
  const m = items[0];
  if (state.messageId) assert.equal(m.id, state.messageId);
  assert.equal(m.channel_id, CHANNEL);
  assert.equal(m.status, 'delivered');
  assert.equal(rid(m.recipient), USER);
  assert.equal(m.source?.key, WORKFLOW);
  assert.equal(m.source?.workflow_run_id, state.runId);
  assert.deepEqual(m.data, { comment_id: 'c1', post_id: 'p42', excerpt: 'nice work' });
  assert.match(String(m.inserted_at), ISO_TIME);
});

test('users.delete and objects.delete (DELETE, 204)', T, async () => {
  const uid = `sdk-gone-${run}`;
  await knock.users.update(uid, { name: 'Gone' });
  assert.equal((await knock.users.delete(uid)) ?? null, null); // 204: no body
  await assert.rejects(knock.users.get(uid), NotFoundError);

  const oid = `gone-${run}`;
  await knock.objects.set(COLLECTION, oid, { region: 'us' });
  assert.equal((await knock.objects.delete(COLLECTION, oid)) ?? null, null);
  await assert.rejects(knock.objects.get(COLLECTION, oid), NotFoundError);
});

// Every schedule the SDK's list yields for a query, as an array.
async function listSchedules(query) {
  const out = [];
  for await (const sc of knock.schedules.list(query)) out.push(sc);
  return out;
}

// The next UTC midnight after now, as RFC 3339.
function nextMidnight() {
  const d = new Date();
  d.setUTCHours(24, 0, 0, 0);
  return d.toISOString().replace('.000Z', 'Z');
}

test('schedules.create: several repeat rules, hours and minutes default to 0, Knock shapes', T, async () => {
  const SUSER = `sdk-sched-${run}`;
  const res = await knock.schedules.create({
    workflow: WORKFLOW,
    recipients: [SUSER],
    repeats: [{ frequency: 'daily' }, { frequency: 'weekly', days: ['mon'], minutes: 30 }],
    data: { comment_id: 'sched' },
    tenant: `sdk-tenant-${run}`,
  });
  assert.equal(res.length, 1);
  const sc = res[0];
  assert.equal(sc.__typename, 'Schedule');
  assert.equal(sc.workflow, WORKFLOW);
  assert.equal(sc.recipient.id, SUSER);
  assert.equal(sc.repeats.length, 2);
  for (const r of sc.repeats) {
    assert.equal(r.__typename, 'ScheduleRepeat');
    assert.equal(r.interval, 1);
  }
  assert.deepEqual(sc.repeats[1].days, ['mon']);
  assert.equal(sc.repeats[0].days, null);
  // Not at creation: at the next 00:00 in the recipient's zone (UTC here).
  assert.equal(sc.next_occurrence_at, nextMidnight());
  state.schedule = sc;
  state.schedUser = SUSER;
});

test('schedules.list filters by recipients and tenant (GET /v1/schedules)', T, async () => {
  const other = `sdk-sched-other-${run}`;
  await knock.schedules.create({
    workflow: WORKFLOW, recipients: [other, state.schedUser],
    repeats: [{ frequency: 'daily', hours: 7 }], data: { comment_id: 'x' },
  });
  const byRecipient = await listSchedules({ workflow: WORKFLOW, recipients: [state.schedUser] });
  assert.equal(byRecipient.length, 2);
  assert.ok(byRecipient.every((sc) => sc.recipient.id === state.schedUser));
  const both = await listSchedules({ workflow: WORKFLOW, recipients: [state.schedUser, other] });
  assert.equal(both.length, 3);
  const byTenant = await listSchedules({ workflow: WORKFLOW, tenant: `sdk-tenant-${run}` });
  assert.deepEqual(byTenant.map((sc) => sc.id), [state.schedule.id]);
});

test('schedules.update turns a recurring schedule into a one-off at an offset time', T, async () => {
  const res = await knock.schedules.update({
    schedule_ids: [state.schedule.id],
    repeats: [],
    scheduled_at: '2030-06-01T09:15:00-05:00',
  });
  assert.equal(res[0].id, state.schedule.id);
  assert.deepEqual(res[0].repeats, []);
  assert.equal(res[0].next_occurrence_at, '2030-06-01T14:15:00Z');
});

test('schedules.create with an idempotencyKey replays the same schedules', T, async () => {
  const body = { workflow: WORKFLOW, recipients: [`sdk-sched-idem-${run}`], repeats: [{ frequency: 'hourly' }], data: { comment_id: 'i' } };
  const key = `sdk-sched-idem-${run}`;
  const a = await knock.schedules.create(body, { idempotencyKey: key });
  const { data: b, response } = await knock.schedules.create(body, { idempotencyKey: key }).withResponse();
  assert.equal(b[0].id, a[0].id);
  assert.equal(response.headers.get('idempotent-replayed'), 'true');
  const listed = await listSchedules({ workflow: WORKFLOW, recipients: [`sdk-sched-idem-${run}`] });
  assert.equal(listed.length, 1);
});

test('schedules for an object run for the object itself by default', T, async () => {
  const oid = `sched-obj-${run}`;
  await knock.objects.set(COLLECTION, oid, { name: 'p' });
  const res = await knock.schedules.create({
    workflow: WORKFLOW, recipients: [{ id: oid, collection: COLLECTION }],
    repeats: [{ frequency: 'daily', hours: 8 }], data: { comment_id: 'o' },
  });
  assert.equal(res[0].recipient.id, oid);
  assert.equal(res[0].recipient.collection, COLLECTION);
  assert.equal(res[0].per_subscriber, false);
  assert.match(String(res[0].next_occurrence_at), /T08:00:00Z$/);
});

test('schedules.delete removes them; deleting a user removes theirs', T, async () => {
  const del = await knock.schedules.delete({ schedule_ids: [state.schedule.id] });
  assert.deepEqual(del.map((sc) => sc.id), [state.schedule.id]);
  const left = await listSchedules({ workflow: WORKFLOW, recipients: [state.schedUser] });
  assert.equal(left.length, 1);
  await knock.users.update(state.schedUser, { name: 'Scheduled' });
  await knock.users.delete(state.schedUser);
  assert.equal((await listSchedules({ workflow: WORKFLOW, recipients: [state.schedUser] })).length, 0);
});

test('errors: unknown workflow -> NotFoundError 404', T, async () => {
  await assert.rejects(
    knock.workflows.trigger(`no-such-workflow-${run}`, { recipients: [USER] }),
    (err) => {
      assert.ok(err instanceof NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
      assert.equal(err.status, 404);
      assert.equal(err.error?.status, 404);
      assert.equal(typeof err.error?.code, 'string');
      assert.equal(typeof err.error?.message, 'string');
      assert.equal(typeof err.error?.type, 'string');
      return true;
    },
  );
  await assert.rejects(knock.users.get(`no-such-user-${run}`), (err) => {
    assert.ok(err instanceof NotFoundError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 404);
    return true;
  });
});

test('errors: missing required data -> UnprocessableEntityError 422', T, async () => {
  await assert.rejects(knock.workflows.trigger(WORKFLOW, { recipients: [USER], data: { post_id: 'p1' } }), (err) => {
    assert.ok(err instanceof UnprocessableEntityError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 422);
    assert.equal(err.error?.status, 422);
    assert.equal(typeof err.error?.code, 'string');
    return true;
  });
});

test('errors: bad API key -> AuthenticationError 401', T, async () => {
  const bad = new Knock({ apiKey: 'sk_test_wrong_key', baseURL: BASE_URL });
  await assert.rejects(bad.users.get(USER), (err) => {
    assert.ok(err instanceof AuthenticationError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 401);
    assert.equal(err.error?.status, 401);
    assert.equal(typeof err.error?.code, 'string');
    return true;
  });
  await assert.rejects(bad.workflows.trigger(WORKFLOW, { recipients: [USER], data: { comment_id: 'x' } }), (err) => {
    assert.ok(err instanceof AuthenticationError, `got ${err?.constructor?.name}: ${err?.message}`);
    assert.equal(err.status, 401);
    return true;
  });
});
