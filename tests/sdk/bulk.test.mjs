// Bulk operations through Knock's Node SDK against the real belfryd
// (tests/integration/test_sdk.sh: workflow "sdk-comment"): each bulk call
// answers a BulkOperation queued or further on, bulkOperations.get follows
// it to completed, and the single-get calls read back what it did; a
// failing item shows in error_items without failing the operation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Knock from '@knocklabs/node';

const knock = new Knock({ apiKey: process.env.BELFRY_KEY, baseURL: process.env.BELFRY_URL });
const T = { timeout: 30_000 };
const run = `${process.pid}-${Date.now()}`;
const COLL = `bulk-projects`;

// Poll bulkOperations.get until op completes; the completed operation.
async function done(op) {
  assert.equal(op.__typename, 'BulkOperation');
  assert.ok(['queued', 'processing', 'completed'].includes(op.status), op.status);
  assert.equal(op.progress_path, `/v1/bulk_operations/${op.id}`);
  for (let i = 0; i < 200; i++) {
    const cur = await knock.bulkOperations.get(op.id);
    if (cur.status === 'completed') return cur;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`bulk operation ${op.id} did not complete`);
}

// Whether a single get fails with 404.
async function gone(p) {
  await assert.rejects(p, (err) => err.status === 404);
}

test('users.bulk.identify upserts every user; a bad item is an error item', T, async () => {
  const ids = [0, 1, 2].map((i) => `bulk-u${i}-${run}`);
  const op = await done(await knock.users.bulk.identify({
    users: [...ids.map((id, i) => ({ id, name: `User ${i}`, email: `u${i}@example.com` })),
      { id: `bulk-bad-${run}`, timezone: 'Not/AZone' }],
  }));
  assert.equal(op.name, 'users.identify');
  assert.equal(op.estimated_total_rows, 4);
  assert.equal(op.processed_rows, 4);
  assert.equal(op.success_count, 3);
  assert.equal(op.error_count, 1);
  assert.equal(op.error_items[0].id, `bulk-bad-${run}`);
  assert.ok(op.started_at && op.completed_at && op.inserted_at && op.updated_at);
  for (const [i, id] of ids.entries()) {
    const u = await knock.users.get(id);
    assert.equal(u.name, `User ${i}`);
    assert.equal(u.email, `u${i}@example.com`);
  }
  await gone(knock.users.get(`bulk-bad-${run}`));
});

test('users.bulk.delete deletes the users named and no other', T, async () => {
  const [a, b, keep] = ['a', 'b', 'keep'].map((x) => `bulk-del-${x}-${run}`);
  for (const id of [a, b, keep]) await knock.users.update(id, { name: id });
  const op = await done(await knock.users.bulk.delete({ user_ids: [a, b, `bulk-none-${run}`] }));
  assert.equal(op.success_count, 2);
  assert.equal(op.error_count, 1);
  assert.equal(op.error_items[0].id, `bulk-none-${run}`);
  await gone(knock.users.get(a));
  await gone(knock.users.get(b));
  assert.equal((await knock.users.get(keep)).name, keep);
});

test('users.bulk.setPreferences sets the set for every user named', T, async () => {
  const ids = [`bulk-p1-${run}`, `bulk-p2-${run}`];
  for (const id of ids) await knock.users.update(id, { name: id });
  const op = await done(await knock.users.bulk.setPreferences({
    user_ids: ids, preferences: { categories: { marketing: false }, channel_types: { in_app_feed: true } },
  }));
  assert.equal(op.success_count, 2);
  for (const id of ids) {
    const p = await knock.users.getPreferences(id, 'default');
    assert.equal(p.categories.marketing, false);
    assert.equal(p.channel_types.in_app_feed, true);
  }
});

test('objects.bulk.set and objects.bulk.delete', T, async () => {
  const ids = [`p1-${run}`, `p2-${run}`, `p3-${run}`];
  let op = await done(await knock.objects.bulk.set(COLL, {
    objects: ids.map((id, i) => ({ id, name: `Project ${i}` })),
  }));
  assert.equal(op.name, 'objects.set');
  assert.equal(op.success_count, 3);
  for (const [i, id] of ids.entries())
    assert.equal((await knock.objects.get(COLL, id)).properties.name, `Project ${i}`);
  op = await done(await knock.objects.bulk.delete(COLL, { object_ids: ids.slice(0, 2) }));
  assert.equal(op.success_count, 2);
  await gone(knock.objects.get(COLL, ids[0]));
  await gone(knock.objects.get(COLL, ids[1]));
  assert.equal((await knock.objects.get(COLL, ids[2])).properties.name, 'Project 2');
});

test('objects.bulk.addSubscriptions and deleteSubscriptions', T, async () => {
  const obj = `subs-${run}`;
  const [u1, u2] = [`bulk-s1-${run}`, `bulk-s2-${run}`];
  await knock.objects.set(COLL, obj, { name: 'subs' });
  let op = await done(await knock.objects.bulk.addSubscriptions(COLL, {
    subscriptions: [{ id: obj, recipients: [u1, u2], properties: { role: 'w' } },
      { id: `missing-${run}`, recipients: [u1] }],
  }));
  assert.equal(op.success_count, 1);
  assert.equal(op.error_count, 1);
  assert.equal(op.error_items[0].id, `missing-${run}`);
  assert.equal(op.error_items[0].collection, COLL);
  let subs = [];
  for await (const s of knock.objects.listSubscriptions(COLL, obj)) subs.push(s);
  assert.deepEqual(subs.map((s) => s.recipient.id).sort(), [u1, u2].sort());
  assert.equal(subs[0].properties.role, 'w');
  op = await done(await knock.objects.bulk.deleteSubscriptions(COLL, {
    subscriptions: [{ id: obj, recipients: [u1] }],
  }));
  assert.equal(op.success_count, 1);
  subs = [];
  for await (const s of knock.objects.listSubscriptions(COLL, obj)) subs.push(s);
  assert.deepEqual(subs.map((s) => s.recipient.id), [u2]);
});

test('tenants.bulk.set upserts tenants', T, async () => {
  const ids = [`bulk-t1-${run}`, `bulk-t2-${run}`];
  const op = await done(await knock.tenants.bulk.set({
    tenants: ids.map((id) => ({ id, name: `Tenant ${id}` })),
  }));
  assert.equal(op.name, 'tenants.set');
  assert.equal(op.success_count, 2);
  for (const id of ids) assert.equal((await knock.tenants.get(id)).name, `Tenant ${id}`);
});

test('schedules.bulk.create makes one schedule per entry', T, async () => {
  const [a, b] = [`bulk-sa-${run}`, `bulk-sb-${run}`];
  const op = await done(await knock.schedules.bulk.create({
    schedules: [
      { workflow: 'sdk-comment', recipient: a, repeats: [{ frequency: 'daily', hours: 9 }], data: { comment_id: 'x' } },
      { workflow: 'sdk-comment', recipient: b, repeats: [{ frequency: 'weekly', days: ['mon'] }], data: { comment_id: 'y' } },
      { workflow: `no-such-${run}`, recipient: a, repeats: [{ frequency: 'daily' }] },
    ],
  }));
  assert.equal(op.success_count, 2);
  assert.equal(op.error_count, 1);
  const sa = [];
  for await (const s of knock.users.listSchedules(a)) sa.push(s);
  assert.equal(sa.length, 1);
  assert.equal(sa[0].data.comment_id, 'x');
  const sb = [];
  for await (const s of knock.users.listSchedules(b)) sb.push(s);
  assert.equal(sb.length, 1);
  assert.equal(sb[0].repeats[0].frequency, 'weekly');
});

test('a bulk call beyond 1000 items or with a wrong body is a 422', T, async () => {
  await assert.rejects(knock.users.bulk.identify({
    users: Array.from({ length: 1001 }, (_, i) => ({ id: `x${i}` })),
  }), (err) => err.status === 422 && /1 to 1000/.test(err.message));
  await assert.rejects(knock.users.bulk.delete({ user_ids: [1] }), (err) => err.status === 422);
  await gone(knock.bulkOperations.get('00000000-0000-4000-8000-000000000000'));
});

test('channels.bulk.updateMessageStatus marks the named users\' feeds only', T, async () => {
  const [a, b] = [`bulk-feed-a-${run}`, `bulk-feed-b-${run}`];
  for (let i = 0; i < 2; i++)
    await knock.workflows.trigger('sdk-comment', {
      recipients: [a, b], data: { comment_id: `c${i}`, post_id: 'p', excerpt: 'e' },
    });
  const unread = async (u) => {
    const page = await knock.users.feeds.listItems(u, 'in-app');
    return page.body.meta.unread_count;
  };
  assert.equal(await unread(a), 2);
  const op = await done(await knock.channels.bulk.updateMessageStatus('in-app', 'read', { user_ids: [a] }));
  assert.equal(op.name, 'channels.update_message_status');
  assert.equal(op.estimated_total_rows, 1);
  assert.equal(op.success_count, 1);
  assert.equal(await unread(a), 0);
  assert.equal(await unread(b), 2);
});

test('tenants.bulk.delete deletes the tenants of the query\'s tenant_ids only', T, async () => {
  const [a, b, keep] = ['a', 'b', 'keep'].map((x) => `bulk-td-${x}-${run}`);
  for (const id of [a, b, keep]) await knock.tenants.set(id, { name: id });
  const op = await done(await knock.tenants.bulk.delete({ tenant_ids: [a, b] }));
  assert.equal(op.name, 'tenants.delete');
  assert.equal(op.success_count, 2);
  await gone(knock.tenants.get(a));
  await gone(knock.tenants.get(b));
  assert.equal((await knock.tenants.get(keep)).name, keep);
  await knock.tenants.delete(keep);
  await gone(knock.tenants.get(keep));
});
