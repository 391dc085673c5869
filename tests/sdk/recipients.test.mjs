// Knock's recipient API through the official Node SDK: user, object and
// tenant lists, merges, channel data, preference sets (merge strategy,
// per-key routes, and that they stop deliveries), subscriptions both ways
// and an object's messages.  Config as in knock.test.mjs (test_sdk.sh):
// channels "in-app" and "audit", workflow "sdk-comment" (category
// "comments", one in-app step).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Knock, { NotFoundError } from '@knocklabs/node';

const knock = new Knock({ apiKey: process.env.BELFRY_KEY, baseURL: process.env.BELFRY_URL });
const T = { timeout: 30_000 };
const run = `${process.pid}-${Date.now()}`;
const id = (s) => `rc-${s}-${run}`;
const COLL = `rc-coll-${run}`;

// Every item of an SDK list, all pages.
async function all(pagePromise) {
  const out = [];
  for await (const x of pagePromise) out.push(x);
  return out;
}

// The user's in-app feed entries, once `want` of them are there (or after
// 2 s, for a feed that must stay short).
async function feedOf(user, want) {
  let items = [];
  for (let i = 0; i < 20; i++) {
    const page = await knock.users.feeds.listItems(user, 'in-app');
    items = page.getPaginatedItems();
    if (items.length >= want) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return items;
}

test('users.list pages forwards with after and backwards with before', T, async () => {
  const ids = ['a', 'b', 'c'].map((s) => id(`list-${s}`));
  for (const u of ids) await knock.users.update(u, { name: u });
  const every = (await all(knock.users.list({ page_size: 2 }))).map((u) => u.id);
  for (const u of ids) assert.ok(every.includes(u), `${u} listed`);
  const sorted = [...every].sort();
  assert.deepEqual(every, sorted);
  const first = await knock.users.list({ page_size: 2 });
  assert.equal(first.entries.length, 2);
  assert.equal(first.page_info.__typename, 'PageInfo');
  assert.equal(first.page_info.after, first.entries[1].id);
  const second = await knock.users.list({ page_size: 2, after: first.page_info.after });
  assert.equal(second.page_info.before, second.entries[0].id);
  const back = await knock.users.list({ page_size: 2, before: second.page_info.before });
  assert.deepEqual(back.entries.map((u) => u.id), first.entries.map((u) => u.id));
  assert.equal(first.entries[0].__typename, 'User');
});

test('users.list include[]=preferences embeds the sets', T, async () => {
  const u = id('incl');
  await knock.users.update(u, { name: 'I' });
  await knock.users.setPreferences(u, 'default', { categories: { comments: false } });
  const got = (await all(knock.users.list({ include: ['preferences'] }))).find((x) => x.id === u);
  assert.equal(got.preferences.default.categories.comments, false);
  const plain = (await all(knock.users.list())).find((x) => x.id === u);
  assert.equal(plain.preferences, undefined);
});

test('users.update keeps created_at and applies inline channel_data and preferences', T, async () => {
  const u = id('identify');
  const user = await knock.users.update(u, {
    name: 'Ida',
    created_at: '2020-01-02T03:04:05Z',
    channel_data: { audit: { data: { tokens: ['t1'] } } },
    preferences: { default: { channel_types: { in_app_feed: false } } },
  });
  assert.equal(user.created_at, '2020-01-02T03:04:05Z');
  assert.equal(user.channel_data, undefined);
  assert.equal(user.preferences, undefined);
  const cd = await knock.users.getChannelData(u, 'audit');
  assert.deepEqual(cd, { __typename: 'ChannelData', channel_id: 'audit', data: { tokens: ['t1'] } });
  const ps = await knock.users.getPreferences(u, 'default');
  assert.equal(ps.channel_types.in_app_feed, false);
});

test('users channel data: set, get, unset, and an unknown channel is 404', T, async () => {
  const u = id('cd');
  await knock.users.update(u, { name: 'C' });
  const set = await knock.users.setChannelData(u, 'audit', { data: { tokens: ['x', 'y'] } });
  assert.deepEqual(set.data, { tokens: ['x', 'y'] });
  assert.equal(set.channel_id, 'audit');
  assert.deepEqual((await knock.users.getChannelData(u, 'audit')).data, { tokens: ['x', 'y'] });
  await knock.users.unsetChannelData(u, 'audit');
  await assert.rejects(knock.users.getChannelData(u, 'audit'), NotFoundError);
  await assert.rejects(knock.users.setChannelData(u, 'no-such', { data: { tokens: [] } }), NotFoundError);
});

test('users preferences: listPreferences, merge strategy, unsetPreferences', T, async () => {
  const u = id('prefs');
  await knock.users.update(u, { name: 'P' });
  await knock.users.setPreferences(u, 'default', { categories: { comments: false }, commercial_subscribed: false });
  await knock.users.setPreferences(u, 'tenant-a', { workflows: { x: true } });
  const merged = await knock.users.setPreferences(u, 'default', {
    __persistence_strategy__: 'merge', channel_types: { email: false },
  });
  assert.equal(merged.categories.comments, false, 'merge keeps what was stored');
  assert.equal(merged.channel_types.email, false);
  assert.equal(merged.commercial_subscribed, false);
  const replaced = await knock.users.setPreferences(u, 'tenant-a', { workflows: { y: false } });
  assert.deepEqual(replaced.workflows, { y: false }, 'replace is the default');
  const list = await knock.users.listPreferences(u);
  assert.deepEqual(list.map((p) => p.id), ['default', 'tenant-a']);
  assert.equal(list[0].__typename, 'PreferenceSet');
  await knock.users.unsetPreferences(u, 'tenant-a');
  assert.deepEqual((await knock.users.listPreferences(u)).map((p) => p.id), ['default']);
  await assert.rejects(knock.users.unsetPreferences(u, 'tenant-a'), NotFoundError);
});

test('a per-key preference route stops a delivery (PUT .../categories/{key})', T, async () => {
  const blocked = id('blocked');
  const control = id('control');
  for (const u of [blocked, control]) await knock.users.update(u, { name: u });
  const set = await knock.put(`/v1/users/${blocked}/preferences/default/categories/comments`, {
    body: { subscribed: false },
  });
  assert.equal(set.categories.comments, false);
  const types = await knock.put(`/v1/users/${blocked}/preferences/default/channel_types/email`, {
    body: { subscribed: false },
  });
  assert.equal(types.categories.comments, false, 'a second key keeps the first');
  assert.equal(types.channel_types.email, false);
  await knock.workflows.trigger('sdk-comment', {
    recipients: [blocked, control],
    data: { comment_id: 'c1', post_id: 'p', excerpt: 'e' },
  });
  assert.equal((await feedOf(control, 1)).length, 1, 'the control user got it');
  assert.equal((await feedOf(blocked, 1)).length, 0, 'the opted-out user did not');
  await knock.put(`/v1/users/${blocked}/preferences/default/categories/comments`, { body: { subscribed: true } });
  await knock.workflows.trigger('sdk-comment', {
    recipients: [blocked], data: { comment_id: 'c2', post_id: 'p', excerpt: 'e' },
  });
  assert.equal((await feedOf(blocked, 1)).length, 1, 'opted in again');
});

test('users.merge moves properties, channel data, preferences and subscriptions, and deletes the from-user', T, async () => {
  const into = id('into');
  const from = id('from');
  await knock.objects.set(COLL, 'merge-obj', { name: 'O' });
  await knock.users.update(into, { name: 'Into', plan: 'pro' });
  await knock.users.update(from, { name: 'From', email: 'from@example.com' });
  await knock.users.setChannelData(from, 'audit', { data: { tokens: ['f'] } });
  await knock.users.setPreferences(from, 'default', { categories: { comments: false } });
  await knock.objects.addSubscriptions(COLL, 'merge-obj', { recipients: [from] });
  const user = await knock.users.merge(into, { from_user_id: from });
  assert.equal(user.id, into);
  assert.equal(user.name, 'Into', "the user's own values win");
  assert.equal(user.email, 'from@example.com');
  assert.equal(user.plan, 'pro');
  assert.deepEqual((await knock.users.getChannelData(into, 'audit')).data, { tokens: ['f'] });
  assert.equal((await knock.users.getPreferences(into, 'default')).categories.comments, false);
  const subs = await all(knock.users.listSubscriptions(into));
  assert.deepEqual(subs.map((s) => s.object.id), ['merge-obj']);
  await assert.rejects(knock.users.get(from), NotFoundError);
});

test('users.listSubscriptions lists the objects, filtered by objects[]', T, async () => {
  const u = id('subs');
  await knock.users.update(u, { name: 'S' });
  for (const o of ['s1', 's2']) {
    await knock.objects.set(COLL, o, { name: o });
    await knock.objects.addSubscriptions(COLL, o, { recipients: [u], properties: { o } });
  }
  const subs = await all(knock.users.listSubscriptions(u));
  assert.deepEqual(subs.map((s) => s.object.id), ['s1', 's2']);
  assert.equal(subs[0].recipient.id, u);
  assert.equal(subs[0].__typename, 'Subscription');
  const only = await all(knock.users.listSubscriptions(u, { objects: [{ id: 's2', collection: COLL }] }));
  assert.deepEqual(only.map((s) => s.object.id), ['s2']);
  assert.deepEqual(only[0].properties, { o: 's2' });
  const incl = await all(knock.users.listSubscriptions(u, { include: ['preferences'] }));
  assert.deepEqual(incl[0].recipient.preferences, {});
});

test('objects.list, channel data and preference sets', T, async () => {
  const coll = `rc-list-${run}`;
  for (const o of ['o1', 'o2', 'o3']) await knock.objects.set(coll, o, { name: o });
  await knock.objects.set(`${coll}-other`, 'o9', { name: 'other' });
  const objs = await all(knock.objects.list(coll, { page_size: 2 }));
  assert.deepEqual(objs.map((o) => o.id), ['o1', 'o2', 'o3']);
  assert.equal(objs[0].__typename, 'Object');
  assert.equal(objs[0].collection, coll);
  assert.equal(objs[0].properties.name, 'o1');
  const cd = await knock.objects.setChannelData(coll, 'o1', 'audit', { data: { tokens: ['o'] } });
  assert.deepEqual(cd.data, { tokens: ['o'] });
  assert.deepEqual((await knock.objects.getChannelData(coll, 'o1', 'audit')).data, { tokens: ['o'] });
  await knock.objects.unsetChannelData(coll, 'o1', 'audit');
  await assert.rejects(knock.objects.getChannelData(coll, 'o1', 'audit'), NotFoundError);
  const ps = await knock.objects.setPreferences(coll, 'o1', 'default', { channel_types: { email: false } });
  assert.equal(ps.channel_types.email, false);
  assert.equal((await knock.objects.getPreferences(coll, 'o1', 'default')).channel_types.email, false);
  assert.deepEqual((await knock.objects.listPreferences(coll, 'o1')).map((p) => p.id), ['default']);
  await knock.objects.unsetPreferences(coll, 'o1', 'default');
  assert.deepEqual(await knock.objects.listPreferences(coll, 'o1'), []);
});

test('objects.listSubscriptions: recipients[] filter, mode=recipient', T, async () => {
  const [a, b] = [id('osa'), id('osb')];
  for (const u of [a, b]) await knock.users.update(u, { name: u });
  await knock.objects.set(COLL, 'parent', { name: 'P' });
  await knock.objects.set(COLL, 'child', { name: 'C' });
  await knock.objects.addSubscriptions(COLL, 'parent', {
    recipients: [a, b, { id: 'child', collection: COLL }],
  });
  const every = await all(knock.objects.listSubscriptions(COLL, 'parent'));
  assert.equal(every.length, 3);
  const one = await all(knock.objects.listSubscriptions(COLL, 'parent', { recipients: [b] }));
  assert.deepEqual(one.map((s) => s.recipient.id), [b]);
  const own = await all(knock.objects.listSubscriptions(COLL, 'child', { mode: 'recipient' }));
  assert.deepEqual(own.map((s) => s.object.id), ['parent']);
  assert.equal(own[0].recipient.id, 'child');
  const none = await all(knock.objects.listSubscriptions(COLL, 'child'));
  assert.deepEqual(none, []);
});

test('objects.listMessages lists the messages sent to the object', T, async () => {
  const o = `msg-${run}`;
  await knock.objects.set(COLL, o, { name: 'M' });
  await knock.objects.set(COLL, `${o}-other`, { name: 'N' });
  await knock.workflows.trigger('sdk-comment', {
    recipients: [{ id: o, collection: COLL }],
    data: { comment_id: 'c', post_id: 'p', excerpt: 'e' },
  });
  await knock.workflows.trigger('sdk-comment', {
    recipients: [{ id: `${o}-other`, collection: COLL }],
    data: { comment_id: 'c', post_id: 'p', excerpt: 'e' },
  });
  let msgs = [];
  for (let i = 0; i < 20 && msgs.length === 0; i++) {
    msgs = await all(knock.objects.listMessages(COLL, o));
    if (msgs.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(msgs.length, 1);
  assert.deepEqual(msgs[0].recipient, { id: o, collection: COLL });
  assert.equal(msgs[0].channel_id, 'in-app');
});

test('tenants.list filters by tenant_id and name; tenants.delete', T, async () => {
  const [t1, t2] = [id('t1'), id('t2')];
  await knock.tenants.set(t1, { name: `Acme ${run}`, settings: { branding: { primary_color: '#112233' } } });
  await knock.tenants.set(t2, { name: `Other ${run}` });
  const byName = await all(knock.tenants.list({ name: `Acme ${run}` }));
  assert.deepEqual(byName.map((t) => t.id), [t1]);
  assert.equal(byName[0].settings.branding.primary_color, '#112233');
  assert.equal(byName[0].__typename, 'Tenant');
  const byId = await all(knock.tenants.list({ tenant_id: t2 }));
  assert.deepEqual(byId.map((t) => t.id), [t2]);
  const every = (await all(knock.tenants.list({ page_size: 1 }))).map((t) => t.id);
  assert.ok(every.includes(t1) && every.includes(t2));
  await knock.tenants.delete(t1);
  await assert.rejects(knock.tenants.get(t1), NotFoundError);
  await assert.rejects(knock.tenants.delete(t1), NotFoundError);
});

test('commercial_subscribed false stops a commercial workflow, not others', T, async () => {
  const out = id('unsub');
  const control = id('sub');
  for (const u of [out, control]) await knock.users.update(u, { name: u });
  await knock.users.setPreferences(out, 'default', { commercial_subscribed: false });
  await knock.workflows.trigger('rc-promo', { recipients: [out, control] });
  assert.equal((await feedOf(control, 1)).length, 1, 'the subscribed user got it');
  assert.equal((await feedOf(out, 1)).length, 0, 'the unsubscribed user did not');
  await knock.workflows.trigger('sdk-comment', {
    recipients: [out], data: { comment_id: 'c', post_id: 'p', excerpt: 'e' },
  });
  assert.equal((await feedOf(out, 1)).length, 1, 'a workflow that is not commercial still sends');
});

test('an object\'s per-key preference routes merge one setting, the plural form replaces its section, a missing object is 404', T, async () => {
  const obj = id('prefobj');
  await knock.objects.set(COLL, obj, { name: 'Prefs' });
  const one = await knock.put(`/v1/objects/${COLL}/${obj}/preferences/default/categories/comments`, {
    body: { subscribed: false },
  });
  assert.equal(one.categories.comments, false);
  const two = await knock.put(`/v1/objects/${COLL}/${obj}/preferences/default/workflows/sdk-comment`, {
    body: { subscribed: true },
  });
  assert.equal(two.categories.comments, false, 'a second key keeps the first');
  assert.equal(two.workflows['sdk-comment'], true);
  const repl = await knock.put(`/v1/objects/${COLL}/${obj}/preferences/default/categories`, {
    body: { billing: true },
  });
  assert.deepEqual(repl.categories, { billing: true });
  const stored = await knock.objects.getPreferences(COLL, obj, 'default');
  assert.deepEqual(stored.categories, { billing: true });
  assert.equal(stored.workflows['sdk-comment'], true);
  await assert.rejects(knock.put(`/v1/objects/${COLL}/${id('nobody')}/preferences/default/channel_types/email`, {
    body: { subscribed: false },
  }), NotFoundError);
});
