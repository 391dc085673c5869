// Schedule lists of one recipient (users.listSchedules,
// objects.listSchedules) and the object-reference form of schedules.list's
// recipients filter, through Knock's Node SDK against the real belfryd
// (tests/integration/test_sdk.sh: workflow "sdk-comment").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Knock from '@knocklabs/node';

const knock = new Knock({ apiKey: process.env.BELFRY_KEY, baseURL: process.env.BELFRY_URL });
const T = { timeout: 30_000 };
const run = `${process.pid}-${Date.now()}`;
const WORKFLOW = 'sdk-comment';
const USER = `sched-user-${run}`;
const COLL = 'sched-teams';
const OBJ = `team-${run}`;

// Every item of an SDK list, across pages.
async function all(list) {
  const out = [];
  for await (const item of list) out.push(item);
  return out;
}

// One daily schedule of WORKFLOW for recipient r with tenant t.
async function schedule(r, t) {
  const [sc] = await knock.schedules.create({
    workflow: WORKFLOW, recipients: [r], tenant: t,
    repeats: [{ frequency: 'daily', hours: 9 }], data: { comment_id: 'c' },
  });
  return sc;
}

test('users.listSchedules lists the user\'s own schedules and filters by tenant', T, async () => {
  const a = await schedule(USER, `ta-${run}`);
  const b = await schedule(USER, `tb-${run}`);
  await schedule(`${USER}-other`, `ta-${run}`);
  const mine = await all(knock.users.listSchedules(USER));
  assert.deepEqual(mine.map((s) => s.id).sort(), [a.id, b.id].sort());
  assert.ok(mine.every((s) => s.recipient.id === USER && s.__typename === 'Schedule'));
  const ta = await all(knock.users.listSchedules(USER, { tenant: `ta-${run}` }));
  assert.deepEqual(ta.map((s) => s.id), [a.id]);
});

test('users.listSchedules pages with page_size and after', T, async () => {
  const u = `${USER}-pages`;
  const ids = [];
  for (let i = 0; i < 5; i++) ids.push((await schedule(u, `tp-${run}`)).id);
  const first = await knock.users.listSchedules(u, { page_size: 2 });
  assert.equal(first.entries.length, 2);
  assert.ok(first.page_info.after);
  const every = await all(knock.users.listSchedules(u, { page_size: 2 }));
  assert.deepEqual(every.map((s) => s.id).sort(), ids.sort());
});

test('objects.listSchedules lists the object\'s schedules, not its subscribers\'', T, async () => {
  await knock.objects.set(COLL, OBJ, { name: 'Team' });
  const sc = await schedule({ id: OBJ, collection: COLL }, `to-${run}`);
  await schedule(USER, `to-${run}`);
  const got = await all(knock.objects.listSchedules(COLL, OBJ));
  assert.deepEqual(got.map((s) => s.id), [sc.id]);
  assert.equal(got[0].recipient.id, OBJ);
  assert.equal(got[0].recipient.collection, COLL);
});

test('schedules.list takes object references in recipients (recipients[][id]&recipients[][collection])', T, async () => {
  const list = await all(knock.schedules.list({
    workflow: WORKFLOW,
    recipients: [{ id: OBJ, collection: COLL }, `${USER}-other`],
  }));
  assert.equal(list.length, 2);
  assert.deepEqual(list.map((s) => s.recipient.id).sort(), [`${USER}-other`, OBJ].sort());
});
