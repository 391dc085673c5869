// Audiences through Knock's official Node SDK, against the daemon
// tests/integration/test_sdk.sh starts (its "# audiences:" block adds the
// workflows "aud-members", an in-app step conditioned on membership of the
// audience "sdk-vip", and "aud-others", one conditioned on not being in it).
//
// Every test makes data its check must leave out (a non-member, another
// tenant, a removed member), so dropping the behaviour fails the test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Knock, { NotFoundError, UnprocessableEntityError } from '@knocklabs/node';

const knock = new Knock({ apiKey: process.env.BELFRY_KEY, baseURL: process.env.BELFRY_URL });
const T = { timeout: 30_000 };

const run = `${process.pid}-${Date.now()}`;
const AUD = `aud-${run}`;
const U1 = `aud-u1-${run}`;
const U2 = `aud-u2-${run}`;
const U3 = `aud-u3-${run}`;
const TENANT = `aud-tenant-${run}`;
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

// The members of audience key (one page of up to 100).
async function members(key, query = {}) {
  return knock.audiences.listMembers(key, { query: { page_size: 100, ...query } });
}

// The user ids (with "#tenant" when in one) of a list's entries.
function ids(page) {
  return page.entries.map((m) => (m.tenant ? `${m.user_id}#${m.tenant}` : m.user_id));
}

// The rendered texts of the user's in-app feed.
async function feedTexts(user) {
  const page = await knock.users.feeds.listItems(user, 'in-app');
  return page.getPaginatedItems().flatMap((m) => (m.blocks ?? []).map((b) => b.rendered ?? ''));
}

test('audiences.addMembers identifies inline users; listMembers gives AudienceMembers', T, async () => {
  await knock.audiences.addMembers(AUD, {
    members: [
      { user: { id: U1, name: 'Ada', email: 'ada@example.com' } },
      { user: { id: U2 } },
      { user: { id: U3, name: 'Cy' }, tenant: TENANT },
    ],
  });
  const page = await members(AUD);
  assert.deepEqual(ids(page), [U1, U2, `${U3}#${TENANT}`]);
  const m1 = page.entries[0];
  assert.equal(m1.__typename, 'AudienceMember');
  assert.match(m1.added_at, ISO_TIME);
  assert.equal(m1.user.__typename, 'User');
  assert.equal(m1.user.id, U1);
  assert.equal(m1.user.name, 'Ada');
  assert.equal(m1.user.email, 'ada@example.com');
  assert.equal(m1.tenant ?? null, null);
  assert.equal(page.entries[2].tenant, TENANT);
  assert.equal(page.entries[2].user.name, 'Cy');
  assert.equal((await knock.users.get(U1)).name, 'Ada');
  assert.equal(page.page_info.__typename, 'PageInfo');
  assert.equal(page.page_info.after, null);
  assert.equal(page.page_info.before, null);
  // adding again keeps one membership (and its added_at)
  await knock.audiences.addMembers(AUD, { members: [{ user: { id: U1 } }] });
  const again = await members(AUD);
  assert.deepEqual(ids(again), [U1, U2, `${U3}#${TENANT}`]);
  assert.equal(again.entries[0].added_at, m1.added_at);
  // another audience is its own
  assert.deepEqual(ids(await members(`${AUD}-other`)), []);
});

test('audiences.listMembers pages with after and before', T, async () => {
  const p1 = await members(AUD, { page_size: 2 });
  assert.deepEqual(ids(p1), [U1, U2]);
  assert.equal(p1.page_info.page_size, 2);
  assert.equal(p1.page_info.before, null);
  assert.ok(p1.page_info.after);
  const p2 = await members(AUD, { page_size: 2, after: p1.page_info.after });
  assert.deepEqual(ids(p2), [`${U3}#${TENANT}`]);
  assert.equal(p2.page_info.after, null);
  assert.ok(p2.page_info.before);
  const back = await members(AUD, { page_size: 2, before: p2.page_info.before });
  assert.deepEqual(ids(back), [U1, U2]);
  assert.equal(back.page_info.before, null);
  assert.equal(back.page_info.after, p1.page_info.after);
  const back1 = await members(AUD, { page_size: 1, before: p2.page_info.before });
  assert.deepEqual(ids(back1), [U2]);
  assert.ok(back1.page_info.before);
  await assert.rejects(members(AUD, { page_size: 0 }), UnprocessableEntityError);
  await assert.rejects(members(AUD, { status: 'x' }), UnprocessableEntityError);
});

test('audiences.removeMembers removes (user, tenant) pairs', T, async () => {
  await knock.audiences.removeMembers(AUD, { members: [{ user: { id: U2 } }, { user: { id: U3 } }] });
  // U3 is a member in TENANT only: removing it without the tenant leaves it
  assert.deepEqual(ids(await members(AUD)), [U1, `${U3}#${TENANT}`]);
  await knock.audiences.removeMembers(AUD, { members: [{ user: { id: U3 }, tenant: TENANT }] });
  assert.deepEqual(ids(await members(AUD)), [U1]);
});

test('deleting a user removes its memberships', T, async () => {
  const other = `${AUD}-del`;
  await knock.audiences.addMembers(other, { members: [{ user: { id: U1 } }, { user: { id: U2 } }] });
  await knock.users.delete(U1);
  assert.deepEqual(ids(await members(AUD)), []);
  assert.deepEqual(ids(await members(other)), [U2]);
});

test('audiences: bad requests are 422, create_audience=false on a new audience 404', T, async () => {
  await assert.rejects(knock.audiences.addMembers(AUD, { members: [] }), UnprocessableEntityError);
  await assert.rejects(knock.audiences.addMembers(AUD, { members: [{ user: { name: 'x' } }] }),
    UnprocessableEntityError);
  await assert.rejects(knock.audiences.addMembers(AUD, { members: [{ user: { id: U2 }, tenant: 5 }] }),
    UnprocessableEntityError);
  await assert.rejects(knock.audiences.removeMembers(AUD, { members: 'x' }), UnprocessableEntityError);
  await assert.rejects(knock.audiences.addMembers(`${AUD}-new`, {
    members: [{ user: { id: U2 } }], create_audience: false,
  }), NotFoundError);
  assert.deepEqual(ids(await members(`${AUD}-new`)), []);
  await knock.audiences.addMembers(`${AUD}-new`, { members: [{ user: { id: U2 } }], create_audience: true });
  await knock.audiences.addMembers(`${AUD}-new`, { members: [{ user: { id: U3 } }], create_audience: false });
  assert.deepEqual(ids(await members(`${AUD}-new`)), [U2, U3]);
});

test('is_audience_member / is_not_audience_member conditions deliver by membership', T, async () => {
  const member = `aud-m-${run}`, other = `aud-n-${run}`, tenanted = `aud-t-${run}`;
  await knock.users.update(other, { name: 'Not a member' });
  await knock.audiences.addMembers('sdk-vip', {
    members: [{ user: { id: member, name: 'VIP' } }, { user: { id: tenanted }, tenant: TENANT }],
  });
  await knock.workflows.trigger('aud-members', { recipients: [member, other], data: { n: 1 } });
  await knock.workflows.trigger('aud-others', { recipients: [member, other], data: { n: 2 } });
  const m = await feedTexts(member), o = await feedTexts(other);
  assert.ok(m.some((t) => t.includes('members 1')), JSON.stringify(m));
  assert.ok(!m.some((t) => t.includes('others 2')), JSON.stringify(m));
  assert.ok(o.some((t) => t.includes('others 2')), JSON.stringify(o));
  assert.ok(!o.some((t) => t.includes('members 1')), JSON.stringify(o));
  // a member in a tenant is one only in runs of that tenant
  await knock.workflows.trigger('aud-members', { recipients: [tenanted], data: { n: 3 } });
  await knock.workflows.trigger('aud-members', { recipients: [tenanted], tenant: TENANT, data: { n: 4 } });
  const t = await feedTexts(tenanted);
  assert.ok(!t.some((x) => x.includes('members 3')), JSON.stringify(t));
  assert.ok(t.some((x) => x.includes('members 4')), JSON.stringify(t));
  // removed, the member is one no more
  await knock.audiences.removeMembers('sdk-vip', { members: [{ user: { id: member } }] });
  await knock.workflows.trigger('aud-members', { recipients: [member], data: { n: 5 } });
  await knock.workflows.trigger('aud-others', { recipients: [member], data: { n: 6 } });
  const after = await feedTexts(member);
  assert.ok(!after.some((x) => x.includes('members 5')), JSON.stringify(after));
  assert.ok(after.some((x) => x.includes('others 6')), JSON.stringify(after));
});
