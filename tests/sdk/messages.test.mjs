// Knock's messages API through the official Node SDK: messages.list and
// users.listMessages with every filter Knock documents (each test makes
// messages the filter must leave out), getContent per channel type,
// listActivities, listEvents, listDeliveryLogs, the engagement marks
// (interacted keeps its metadata) and every messages.batch method, and the
// feed's filters as the normalised query reads them.
//
// tests/integration/test_sdk.sh's "messages:" block provides the workflows
// msgs-multi (in-app, email and http steps, category msgs-cat) and
// msgs-other (in-app only, category other-cat).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Knock, { UnprocessableEntityError } from '@knocklabs/node';

const knock = new Knock({ apiKey: process.env.BELFRY_KEY, baseURL: process.env.BELFRY_URL });
const T = { timeout: 30_000 };
const run = `${process.pid}-${Date.now()}`;
const U1 = `msgs-u1-${run}`;
const U2 = `msgs-u2-${run}`;
const TENANT = `msgs-t-${run}`;
const TENANT2 = `msgs-t2-${run}`;
const state = {};

// Every page of a list (the SDK's auto-pagination).
async function all(list) {
  const out = [];
  for await (const m of list) out.push(m);
  return out;
}

// Retry fn until it returns something truthy (messages are made after the
// trigger's reply).
async function eventually(fn, what, ms = 5000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// The messages of this run's users among every recipient's (GET /v1/messages).
async function listMine(query = {}) {
  const ms = await all(knock.messages.list({ page_size: 50, ...query }));
  return ms.filter((m) => m.recipient === U1 || m.recipient === U2);
}

const ns = (ms) => ms.map((m) => `${m.data?.n}/${m.channel_id}`).sort();

test('setup: users and triggers', T, async () => {
  await knock.users.update(U1, { name: 'One', email: 'one@example.com' });
  await knock.users.update(U2, { name: 'Two', email: 'two@example.com' });
  const a = await knock.workflows.trigger('msgs-multi', {
    recipients: [U1], tenant: TENANT, actor: U2, data: { n: 'a', kind: 'x', num: 7 },
  });
  const b = await knock.workflows.trigger('msgs-other', { recipients: [U1], data: { n: 'b', kind: 'y' } });
  const c = await knock.workflows.trigger('msgs-multi', { recipients: [U2], data: { n: 'c', kind: 'x' } });
  const d = await knock.workflows.trigger('msgs-other', {
    recipients: [U1, U2], tenant: TENANT2, data: { n: 'd', kind: 'x' },
  });
  Object.assign(state, { a: a.workflow_run_id, b: b.workflow_run_id, c: c.workflow_run_id, d: d.workflow_run_id });
  const ms = await eventually(async () => {
    const got = await listMine();
    return got.length === 9 && got;
  }, 'the 9 messages');
  state.msgs = ms;
  state.byKey = Object.fromEntries(ms.map((m) => [`${m.data.n}/${m.channel_id}/${m.recipient}`, m]));
});

test('messages.list: every recipient\'s messages, newest first, paged by after', T, async () => {
  const ms = state.msgs;
  assert.equal(ms.length, 9);
  for (let i = 1; i < ms.length; i++) assert.ok(ms[i - 1].inserted_at >= ms[i].inserted_at);
  const p1 = await knock.messages.list({ page_size: 2 });
  assert.equal(p1.items.length, 2);
  assert.ok(p1.page_info.after);
  assert.equal(p1.page_info.page_size, 2);
  const p2 = await knock.messages.list({ page_size: 2, after: p1.page_info.after });
  assert.equal(p2.items.length, 2);
  assert.notEqual(p2.items[0].id, p1.items[1].id);
  assert.equal(p2.page_info.before, p2.items[0].id);
  // before pages back: the page just above p2 is p1.
  const back = await knock.messages.list({ page_size: 2, before: p2.items[0].id });
  assert.deepEqual(back.items.map((m) => m.id), p1.items.map((m) => m.id));
});

test('messages.list filters by status[] (delivery status)', T, async () => {
  const queued = await listMine({ status: ['queued'] });
  assert.ok(queued.length >= 1);
  assert.ok(queued.every((m) => m.status === 'queued'));
  assert.ok(queued.every((m) => m.channel_id !== 'in-app'));
  const delivered = await listMine({ status: ['delivered'] });
  assert.ok(delivered.every((m) => m.status === 'delivered'));
  assert.ok(delivered.some((m) => m.channel_id === 'in-app'));
  const both = await listMine({ status: ['queued', 'delivered'] });
  assert.equal(both.length, queued.length + delivered.length);
  await assert.rejects(knock.messages.list({ status: ['nope'] }), UnprocessableEntityError);
});

test('messages.list filters by channel_id, source and workflow_categories[]', T, async () => {
  assert.deepEqual(ns(await listMine({ channel_id: 'msgs-mail' })), ['a/msgs-mail', 'c/msgs-mail']);
  assert.deepEqual(ns(await listMine({ source: 'msgs-other' })), ['b/in-app', 'd/in-app', 'd/in-app']);
  assert.deepEqual(ns(await listMine({ workflow_categories: ['other-cat'] })),
    ['b/in-app', 'd/in-app', 'd/in-app']);
  assert.equal((await listMine({ workflow_categories: ['msgs-cat', 'other-cat'] })).length, 9);
});

test('messages.list filters by tenant (that tenant only) and has_tenant', T, async () => {
  assert.deepEqual(ns(await listMine({ tenant: TENANT })), ['a/in-app', 'a/msgs-hook', 'a/msgs-mail']);
  const ht = await listMine({ has_tenant: true });
  assert.deepEqual(ns(ht), ['a/in-app', 'a/msgs-hook', 'a/msgs-mail', 'd/in-app', 'd/in-app']);
});

test('messages.list filters by workflow_run_id and workflow_recipient_run_id', T, async () => {
  const byRun = await all(knock.messages.list({ workflow_run_id: state.d }));
  assert.deepEqual(byRun.map((m) => m.recipient).sort(), [U1, U2].sort());
  const rrun = byRun.find((m) => m.recipient === U2).source.workflow_recipient_run_id;
  const byRrun = await all(knock.messages.list({ workflow_recipient_run_id: rrun }));
  assert.deepEqual(byRrun.map((m) => m.recipient), [U2]);
  assert.equal((await all(knock.messages.list({ workflow_run_id: state.a }))).length, 3);
});

test('messages.list filters by message_ids[] and trigger_data', T, async () => {
  const a = state.byKey[`a/in-app/${U1}`];
  const c = state.byKey[`c/msgs-hook/${U2}`];
  const got = await all(knock.messages.list({ message_ids: [a.id, c.id] }));
  assert.deepEqual(got.map((m) => m.id).sort(), [a.id, c.id].sort());
  // Other filters still apply to the ids given.
  const narrowed = await all(knock.messages.list({ message_ids: [a.id, c.id], channel_id: 'in-app' }));
  assert.deepEqual(narrowed.map((m) => m.id), [a.id]);
  assert.deepEqual(ns(await listMine({ trigger_data: JSON.stringify({ kind: 'y' }) })), ['b/in-app']);
  assert.deepEqual(ns(await listMine({ trigger_data: JSON.stringify({ kind: 'x', n: 'a' }) })),
    ['a/in-app', 'a/msgs-hook', 'a/msgs-mail']);
});

test('messages.list filters by inserted_at (gt, gte, lt, lte)', T, async () => {
  const oldest = state.msgs[state.msgs.length - 1];
  const newest = state.msgs[0];
  const gte = await listMine({ inserted_at: { gte: oldest.inserted_at } });
  assert.equal(gte.length, 9);
  const gt = await listMine({ inserted_at: { gt: oldest.inserted_at } });
  assert.ok(!gt.some((m) => m.id === oldest.id));
  const lt = await listMine({ inserted_at: { lt: newest.inserted_at } });
  assert.ok(!lt.some((m) => m.id === newest.id));
  const lte = await listMine({ inserted_at: { lte: newest.inserted_at } });
  assert.ok(lte.some((m) => m.id === newest.id));
});

test('messages.markAsInteracted keeps metadata; engagement_status[] filters', T, async () => {
  const m = state.byKey[`b/in-app/${U1}`];
  const r = await knock.messages.markAsInteracted(m.id, { metadata: { button: 'open', n: 2 } });
  assert.deepEqual(r.metadata, { button: 'open', n: 2 });
  assert.ok(r.interacted_at);
  assert.ok(r.read_at, 'interacted marks it read');
  assert.deepEqual((await knock.messages.get(m.id)).metadata, { button: 'open', n: 2 });
  const seen = await knock.messages.markAsSeen(state.byKey[`d/in-app/${U1}`].id);
  assert.ok(seen.seen_at);
  assert.deepEqual(ns(await listMine({ engagement_status: ['interacted'] })), ['b/in-app']);
  assert.deepEqual(ns(await listMine({ engagement_status: ['seen'] })), ['d/in-app']);
  assert.equal((await listMine({ engagement_status: ['unread'] })).length, 8);
  await assert.rejects(knock.messages.markAsInteracted(m.id, { metadata: { a: { nested: 1 } } }),
    UnprocessableEntityError);
  const unseen = await knock.messages.markAsUnseen(state.byKey[`d/in-app/${U1}`].id);
  assert.equal(unseen.seen_at, null);
});

test('users.listMessages takes the same filters, for that user only', T, async () => {
  const mine = await all(knock.users.listMessages(U1, { page_size: 2 }));
  assert.equal(mine.length, 5);
  assert.ok(mine.every((m) => m.recipient === U1));
  assert.deepEqual(ns(await all(knock.users.listMessages(U1, { tenant: TENANT }))),
    ['a/in-app', 'a/msgs-hook', 'a/msgs-mail']);
  assert.deepEqual(ns(await all(knock.users.listMessages(U1, { source: 'msgs-other', status: ['delivered'] }))),
    ['b/in-app', 'd/in-app']);
  assert.deepEqual(ns(await all(knock.users.listMessages(U1, { engagement_status: ['interacted'] }))), ['b/in-app']);
  assert.deepEqual(ns(await all(knock.users.listMessages(U1, { workflow_categories: ['msgs-cat'],
    channel_id: 'msgs-hook' }))), ['a/msgs-hook']);
  assert.deepEqual(ns(await all(knock.users.listMessages(U2, { trigger_data: JSON.stringify({ n: 'c' }) }))),
    ['c/in-app', 'c/msgs-hook', 'c/msgs-mail']);
  const p1 = await knock.users.listMessages(U1, { page_size: 2 });
  const p2 = await knock.users.listMessages(U1, { page_size: 2, after: p1.page_info.after });
  const back = await knock.users.listMessages(U1, { page_size: 2, before: p2.items[0].id });
  assert.deepEqual(back.items.map((m) => m.id), p1.items.map((m) => m.id));
});

test('messages.getContent: in-app blocks, email and http', T, async () => {
  const feed = await knock.messages.getContent(state.byKey[`a/in-app/${U1}`].id);
  assert.equal(feed.__typename, 'MessageContent');
  assert.equal(feed.message_id, state.byKey[`a/in-app/${U1}`].id);
  assert.equal(feed.data.__typename, 'MessageInAppFeedContent');
  const body = feed.data.blocks.find((b) => b.name === 'body');
  assert.equal(body.type, 'markdown');
  assert.equal(body.content, '**a** for you');
  assert.match(body.rendered, /<strong>a<\/strong>/);
  assert.equal(feed.data.blocks.find((b) => b.type === 'button_set').buttons[0].action, '/m/a');
  const mail = await knock.messages.getContent(state.byKey[`a/msgs-mail/${U1}`].id);
  assert.equal(mail.data.__typename, 'MessageEmailContent');
  assert.equal(mail.data.subject_line, 'Note a');
  assert.equal(mail.data.html_body, '<p>Note <b>a</b></p>');
  assert.match(mail.data.text_body, /Note a/);
  assert.equal(mail.data.to, 'one@example.com');
  assert.equal(mail.data.from, 'Belfry <alerts@example.com>');
  const hook = await knock.messages.getContent(state.byKey[`a/msgs-hook/${U1}`].id);
  assert.equal(hook.data.__typename, 'MessageHttpContent');
  assert.equal(hook.data.body, '{"n": "a"}');
  assert.equal(hook.data.url, 'http://127.0.0.1:9/hook');
});

test('messages.batch.getContent: the contents of the ids given', T, async () => {
  const ids = [state.byKey[`a/in-app/${U1}`].id, state.byKey[`c/msgs-mail/${U2}`].id];
  const got = await knock.messages.batch.getContent({ message_ids: ids });
  assert.deepEqual(got.map((c) => c.message_id), ids);
  assert.deepEqual(got.map((c) => c.data.__typename), ['MessageInAppFeedContent', 'MessageEmailContent']);
  assert.equal(got[1].data.subject_line, 'Note c');
});

test('messages.listActivities: the trigger\'s actor and data', T, async () => {
  const m = state.byKey[`a/in-app/${U1}`];
  const acts = await all(knock.messages.listActivities(m.id));
  assert.equal(acts.length, 1);
  assert.equal(acts[0].__typename, 'Activity');
  assert.equal(acts[0].actor.id, U2);
  assert.equal(acts[0].recipient.id, U1);
  assert.deepEqual(acts[0].data, { n: 'a', kind: 'x', num: 7 });
  assert.equal(acts[0].inserted_at, m.inserted_at);
  const none = await all(knock.messages.listActivities(m.id, { trigger_data: JSON.stringify({ n: 'zz' }) }));
  assert.equal(none.length, 0);
});

test('messages.listEvents: made, then each engagement change, newest first', T, async () => {
  const m = state.byKey[`d/in-app/${U1}`];
  const evs = await all(knock.messages.listEvents(m.id));
  assert.deepEqual(evs.map((e) => e.type),
    ['message.unseen', 'message.seen', 'message.delivered', 'message.sent']);
  assert.ok(evs.every((e) => e.__typename === 'MessageEvent' && e.recipient === U1 && e.id));
  const b = await all(knock.messages.listEvents(state.byKey[`b/in-app/${U1}`].id));
  const inter = b.find((e) => e.type === 'message.interacted');
  assert.deepEqual(inter.data, { button: 'open', n: 2 });
  assert.ok(b.some((e) => e.type === 'message.read'));
  const mail = await all(knock.messages.listEvents(state.byKey[`a/msgs-mail/${U1}`].id));
  assert.equal(mail[mail.length - 1].type, 'message.queued');
  // Paging: a page of one, then the next, then back.
  const p1 = await knock.messages.listEvents(m.id, { page_size: 1 });
  const p2 = await knock.messages.listEvents(m.id, { page_size: 1, after: p1.page_info.after });
  assert.equal(p2.items[0].type, 'message.seen');
  const back = await knock.messages.listEvents(m.id, { page_size: 1, before: p2.items[0].id });
  assert.equal(back.items[0].type, 'message.unseen');
});

test('messages.listDeliveryLogs: Knock\'s list shape', T, async () => {
  const page = await knock.messages.listDeliveryLogs(state.byKey[`a/msgs-hook/${U1}`].id);
  assert.ok(Array.isArray(page.items));
  assert.equal(page.page_info.__typename, 'PageInfo');
});

test('messages.batch: seen, unseen, read, unread, archived, unarchived, interacted', T, async () => {
  const ids = [state.byKey[`c/in-app/${U2}`].id, state.byKey[`d/in-app/${U2}`].id];
  const seen = await knock.messages.batch.markAsSeen({ message_ids: ids });
  assert.deepEqual(seen.map((m) => m.id), ids);
  assert.ok(seen.every((m) => m.seen_at));
  assert.ok((await knock.messages.batch.markAsUnseen({ message_ids: ids })).every((m) => m.seen_at === null));
  assert.ok((await knock.messages.batch.markAsRead({ message_ids: ids })).every((m) => m.read_at));
  assert.ok((await knock.messages.batch.markAsUnread({ message_ids: ids })).every((m) => m.read_at === null));
  assert.ok((await knock.messages.batch.archive({ message_ids: ids })).every((m) => m.archived_at));
  assert.ok((await knock.messages.batch.unarchive({ message_ids: ids })).every((m) => m.archived_at === null));
  const inter = await knock.messages.batch.markAsInteracted({ message_ids: ids, metadata: { via: 'batch' } });
  assert.ok(inter.every((m) => m.interacted_at && m.read_at));
  assert.ok(inter.every((m) => m.metadata?.via === 'batch'));
  // Messages not named are untouched.
  assert.equal((await knock.messages.get(state.byKey[`c/msgs-hook/${U2}`].id)).interacted_at, null);
});

test('feeds: source, workflow_categories[], trigger_data both ways, inserted_at, tenant, exclude', T, async () => {
  const items = async (q = {}) => {
    const p = await knock.users.feeds.listItems(U1, 'in-app', q);
    return p.getPaginatedItems();
  };
  const texts = (es) => es.map((e) => e.data.n).sort();
  assert.deepEqual(texts(await items()), ['a', 'b', 'd']);
  assert.deepEqual(texts(await items({ source: 'msgs-other' })), ['b', 'd']);
  assert.deepEqual(texts(await items({ workflow_categories: ['msgs-cat'] })), ['a']);
  assert.deepEqual(texts(await items({ trigger_data: JSON.stringify({ kind: 'x' }) })), ['a', 'd']);
  assert.deepEqual(texts(await items({ trigger_data: { kind: 'y' } })), ['b']);
  assert.deepEqual(texts(await items({ trigger_data: { num: '7' } })), ['a']);
  assert.deepEqual(texts(await items({ tenant: TENANT })), ['a']);
  assert.deepEqual(texts(await items({ has_tenant: true })), ['a', 'd']);
  const all3 = await items();
  const oldest = all3[all3.length - 1];
  assert.ok(!(await items({ inserted_at: { gt: oldest.inserted_at } })).some((e) => e.id === oldest.id));
  assert.equal((await items({ inserted_at: { gte: oldest.inserted_at } })).length, 3);
  const ex = await items({ exclude: 'entries.archived_at,entries.data' });
  assert.ok(ex.length === 3 && ex.every((e) => !('archived_at' in e) && !('data' in e) && e.id));
  await assert.rejects(items({ exclude: 'entries..x' }), UnprocessableEntityError);
  // The feed's counts follow the tenant filter too.
  const p = await knock.users.feeds.listItems(U1, 'in-app', { tenant: TENANT });
  assert.equal(p.body.meta.total_count, 1);
});
