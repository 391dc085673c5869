// Workflow recipient runs and Knock's legacy notify routes through Knock's
// official Node SDK, against the daemon tests/integration/test_sdk.sh starts
// (its "# runs:" block adds the workflows "runs-feed", one in-app step,
// "runs-delay", an hour's delay before one, and "runs-sandbox", an in-app
// step and one on the http channel "runs-hook", which posts to the receiver
// this file serves on RUNS_HOOK_PORT).
//
// Every filter test makes runs the filter must leave out, so dropping the
// filter fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import Knock, { UnprocessableEntityError } from '@knocklabs/node';

const knock = new Knock({ apiKey: process.env.BELFRY_KEY, baseURL: process.env.BELFRY_URL });
const T = { timeout: 30_000 };

const run = `${process.pid}-${Date.now()}`;
const U1 = `runs-u1-${run}`;
const U2 = `runs-u2-${run}`;
const TENANT = `runs-tenant-${run}`;
const COLLECTION = 'runs-projects';
const OBJ = `runs-obj-${run}`;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const started = new Date(Date.now() - 2000).toISOString().replace(/\.\d+Z$/, 'Z');

const state = {};

// Every run the list gives for query (following after cursors).
async function all(query) {
  const out = [];
  for await (const r of knock.workflowRecipientRuns.list(query)) out.push(r);
  return out;
}

// The ids of the runs of this file's users and object among rs.
function ours(rs) {
  return rs.filter((r) => [U1, U2].includes(r.recipient) || r.recipient?.id === OBJ);
}

test('setup: runs for two users, a tenant, an object, paused and cancelled', T, async () => {
  await knock.objects.set(COLLECTION, OBJ, { name: 'Runs project' });
  state.feed1 = await knock.workflows.trigger('runs-feed', { recipients: [U1], data: { n: 1 } });
  state.feed2 = await knock.workflows.trigger('runs-feed', {
    recipients: [U2], tenant: TENANT, actor: U1, data: { n: 2 },
  });
  state.obj = await knock.workflows.trigger('runs-feed', {
    recipients: [{ id: OBJ, collection: COLLECTION }], data: { n: 3 },
  });
  state.paused = await knock.workflows.trigger('runs-delay', {
    recipients: [U1], cancellation_key: `keep-${run}`, data: { n: 4 },
  });
  state.cancelled = await knock.workflows.trigger('runs-delay', {
    recipients: [U1], cancellation_key: `stop-${run}`, data: { n: 5 },
  });
  await knock.workflows.cancel('runs-delay', { cancellation_key: `stop-${run}` });
  const rs = ours(await all({ page_size: 50, starting_at: started }));
  assert.equal(rs.length, 5, JSON.stringify(rs));
});

test('workflowRecipientRuns.list: workflow filter', T, async () => {
  const rs = ours(await all({ workflow: 'runs-delay', starting_at: started }));
  assert.equal(rs.length, 2);
  assert.ok(rs.every((r) => r.workflow === 'runs-delay'));
});

test('workflowRecipientRuns.list: status[] filter', T, async () => {
  const c = ours(await all({ status: ['cancelled'], starting_at: started }));
  assert.deepEqual(c.map((r) => r.workflow_run_id), [state.cancelled.workflow_run_id]);
  assert.equal(c[0].status, 'cancelled');
  const pc = ours(await all({ status: ['paused', 'cancelled'], starting_at: started }));
  assert.deepEqual(new Set(pc.map((r) => r.workflow_run_id)),
    new Set([state.paused.workflow_run_id, state.cancelled.workflow_run_id]));
  await assert.rejects(knock.workflowRecipientRuns.list({ status: ['lost'] }), UnprocessableEntityError);
});

test('workflowRecipientRuns.list: tenant filter', T, async () => {
  const rs = ours(await all({ tenant: TENANT }));
  assert.deepEqual(rs.map((r) => r.workflow_run_id), [state.feed2.workflow_run_id]);
  assert.equal(rs[0].tenant, TENANT);
  assert.equal(rs[0].actor, U1);
});

test('workflowRecipientRuns.list: recipient filter (user id, object reference)', T, async () => {
  const u2 = await all({ recipient: U2 });
  assert.deepEqual(u2.map((r) => r.workflow_run_id), [state.feed2.workflow_run_id]);
  const o = await all({ recipient: { id: OBJ, collection: COLLECTION } });
  assert.deepEqual(o.map((r) => r.workflow_run_id), [state.obj.workflow_run_id]);
  assert.deepEqual(o[0].recipient, { id: OBJ, collection: COLLECTION });
});

test('workflowRecipientRuns.list: has_errors, starting_at and ending_at', T, async () => {
  assert.equal(ours(await all({ has_errors: true, starting_at: started })).length, 0);
  assert.equal(ours(await all({ has_errors: false, starting_at: started })).length, 5);
  const future = new Date(Date.now() + 3600_000).toISOString();
  const past = new Date(Date.now() - 3600_000).toISOString();
  assert.equal(ours(await all({ starting_at: future })).length, 0);
  assert.equal(ours(await all({ ending_at: past })).length, 0);
  assert.equal(ours(await all({ starting_at: past, ending_at: future })).length, 5);
  await assert.rejects(knock.workflowRecipientRuns.list({ starting_at: 'soon' }), UnprocessableEntityError);
});

test('workflowRecipientRuns.list: after and before page through the runs', T, async () => {
  const q = { workflow: 'runs-feed', starting_at: started, page_size: 1 };
  const p1 = await knock.workflowRecipientRuns.list(q);
  const a = p1.getPaginatedItems();
  assert.equal(a.length, 1);
  assert.equal(p1.body.page_info.__typename, 'PageInfo');
  assert.equal(p1.body.page_info.before, null);
  const p2 = await knock.workflowRecipientRuns.list({ ...q, after: p1.body.page_info.after });
  const b = p2.getPaginatedItems();
  assert.equal(b.length, 1);
  assert.notEqual(b[0].id, a[0].id);
  assert.ok(p2.body.page_info.before);
  const back = await knock.workflowRecipientRuns.list({ ...q, before: p2.body.page_info.before });
  assert.deepEqual(back.getPaginatedItems().map((r) => r.id), [a[0].id]);
  assert.equal(back.body.page_info.after, a[0].id);
  assert.equal(back.body.page_info.before, null);
  const three = ours(await all(q));
  assert.equal(three.length, 3);
  assert.deepEqual(three.slice(0, 2).map((r) => r.id), [a[0].id, b[0].id]);
});

test('workflowRecipientRuns.get: an API trigger\'s run (SDK type WorkflowRecipientRunDetail)', T, async () => {
  const [item] = await all({ recipient: U2 });
  const r = await knock.workflowRecipientRuns.get(item.id);
  assert.equal(r.__typename, 'WorkflowRecipientRun');
  assert.equal(r.id, item.id);
  assert.equal(r.workflow_run_id, state.feed2.workflow_run_id);
  assert.equal(r.workflow, 'runs-feed');
  assert.equal(r.recipient, U2);
  assert.equal(r.status, 'completed');
  assert.equal(r.error_count, 0);
  assert.equal(r.trigger_source.type, 'api');
  assert.equal(r.trigger_source.schedule_id ?? null, null);
  assert.equal(r.trigger_source.scheduled_at, undefined);
  assert.match(r.inserted_at, ISO_TIME);
  assert.match(r.updated_at, ISO_TIME);
  assert.ok(Math.abs(Date.parse(r.inserted_at) - Date.now()) < 120_000, r.inserted_at);
  assert.ok(r.events.length >= 1);
  for (const ev of r.events) {
    assert.equal(ev.__typename, 'WorkflowRecipientRunEvent');
    assert.equal(typeof ev.id, 'string');
    assert.ok(['ok', 'error'].includes(ev.status), ev.status);
    assert.match(ev.inserted_at, ISO_TIME);
  }
  const sent = r.events.find((ev) => ev.event === 'message_sent');
  assert.equal(sent.step_ref, 'feed');
  assert.equal(sent.step_type, 'channel');
  const again = await knock.workflowRecipientRuns.get(item.id);
  assert.deepEqual(again.events.map((ev) => ev.id), r.events.map((ev) => ev.id));
  const other = await knock.workflowRecipientRuns.get((await all({ recipient: U1, workflow: 'runs-feed' }))[0].id);
  assert.notEqual(other.events[0].id, r.events[0].id);
});

test('POST /v1/notify triggers the workflow named in the body', T, async () => {
  const res = await knock.post('/v1/notify', {
    body: { name: 'runs-feed', actor: U2, recipients: [U1], data: { n: 6 } },
  });
  assert.equal(typeof res.result_id, 'string');
  const rs = await all({ workflow: 'runs-feed', recipient: U1 });
  const r = rs.find((x) => x.workflow_run_id === res.result_id);
  assert.ok(r, 'no run for the notify');
  assert.equal(r.actor, U2);
  const msgs = await knock.users.feeds.listItems(U1, 'in-app');
  assert.ok(msgs.getPaginatedItems().some((m) => m.blocks?.some((b) => b.rendered?.includes('runs 6'))));
  await assert.rejects(knock.post('/v1/notify', { body: { actor: U2, recipients: [U1] } }),
    UnprocessableEntityError);
  await assert.rejects(knock.post('/v1/notify', { body: { name: 'runs-feed', recipients: [U1] } }),
    UnprocessableEntityError);
});

test('POST /v1/notify/cancel cancels by the body\'s name and cancellation key', T, async () => {
  const res = await knock.post('/v1/notify', {
    body: { name: 'runs-delay', actor: U2, recipients: [U2], cancellation_key: `n-${run}` },
  });
  const other = await knock.post('/v1/notify', {
    body: { name: 'runs-delay', actor: U2, recipients: [U2], cancellation_key: `n2-${run}` },
  });
  await knock.post('/v1/notify/cancel', {
    body: { name: 'runs-delay', cancellation_key: `n-${run}`, recipients: [U2] },
  });
  const rs = await all({ workflow: 'runs-delay', recipient: U2 });
  assert.equal(rs.find((r) => r.workflow_run_id === res.result_id).status, 'cancelled');
  assert.equal(rs.find((r) => r.workflow_run_id === other.result_id).status, 'paused');
});

test('settings.sandbox_mode: the feed has the message, the http channel receives nothing', T, async () => {
  const bodies = [];
  const srv = http.createServer((req, res) => {
    let b = '';
    req.on('data', (c) => { b += c; });
    req.on('end', () => { bodies.push(b); res.end('ok'); });
  });
  await new Promise((r) => srv.listen(Number(process.env.RUNS_HOOK_PORT), '127.0.0.1', r));
  try {
    const sand = await knock.workflows.trigger('runs-sandbox', {
      recipients: [U2], data: { n: `s7-${run}` }, settings: { sandbox_mode: true },
    });
    const real = await knock.workflows.trigger('runs-sandbox', {
      recipients: [U2], data: { n: `s8-${run}` },
    });
    // The trigger without sandbox mode reaches the receiver: it listens.
    const end = Date.now() + 10_000;
    while (!bodies.some((b) => b.includes(`s8-${run}`))) {
      assert.ok(Date.now() < end, `no delivery to the receiver: ${JSON.stringify(bodies)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(!bodies.some((b) => b.includes(`s7-${run}`)), JSON.stringify(bodies));
    const items = (await knock.users.feeds.listItems(U2, 'in-app')).getPaginatedItems();
    const text = items.map((m) => m.blocks.map((b) => b.rendered).join()).join('|');
    assert.ok(text.includes(`sandbox s7-${run}`), text);
    assert.ok(text.includes(`sandbox s8-${run}`), text);
    const rs = await all({ workflow: 'runs-sandbox', recipient: U2 });
    const sr = await knock.workflowRecipientRuns.get(rs.find((r) => r.workflow_run_id === sand.workflow_run_id).id);
    const skip = sr.events.find((ev) => ev.step_ref === 'hook');
    assert.equal(skip.event, 'step_skipped');
    assert.equal(skip.data.reason, 'sandbox_mode');
    assert.equal(typeof skip.data.message_id, 'string');
    assert.ok(sr.events.some((ev) => ev.step_ref === 'feed' && ev.event === 'message_sent'));
    const rr = await knock.workflowRecipientRuns.get(rs.find((r) => r.workflow_run_id === real.workflow_run_id).id);
    assert.ok(rr.events.some((ev) => ev.step_ref === 'hook' && ev.event === 'message_sent'));
    await assert.rejects(knock.workflows.trigger('runs-sandbox', {
      recipients: [U2], settings: { sandbox_mode: 'yes' },
    }), UnprocessableEntityError);
  } finally {
    srv.close();
  }
});

test('users.listSchedules and schedules.list page back with before', T, async () => {
  const user = `runs-sched-${run}`;
  for (let i = 0; i < 3; i++) {
    await knock.schedules.create({
      workflow: 'runs-feed', recipients: [user], repeats: [{ frequency: 'daily', hours: 9 + i }],
    });
  }
  const p1 = await knock.users.listSchedules(user, { page_size: 1 });
  const a = p1.getPaginatedItems();
  assert.equal(a.length, 1);
  assert.equal(p1.body.page_info.before, null);
  const p2 = await knock.users.listSchedules(user, { page_size: 1, after: p1.body.page_info.after });
  const b = p2.getPaginatedItems();
  assert.equal(b.length, 1);
  assert.notEqual(b[0].id, a[0].id);
  const back = await knock.users.listSchedules(user, { page_size: 1, before: p2.body.page_info.before });
  assert.deepEqual(back.getPaginatedItems().map((x) => x.id), [a[0].id]);
  assert.equal(back.body.page_info.before, null);
  assert.equal(back.body.page_info.after, a[0].id);
  const q = { workflow: 'runs-feed', recipients: [user], page_size: 2 };
  const s1 = await knock.schedules.list(q);
  const s2 = await knock.schedules.list({ ...q, after: s1.body.page_info.after });
  assert.equal(s2.getPaginatedItems().length, 1);
  const s0 = await knock.schedules.list({ ...q, before: s2.body.page_info.before });
  assert.deepEqual(s0.getPaginatedItems().map((x) => x.id), s1.getPaginatedItems().map((x) => x.id));
});
