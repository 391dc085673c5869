// A feed's settings (users.feeds.getSettings) through Knock's Node SDK
// against the real belfryd (tests/integration/test_sdk.sh: channel "in-app").

import { test } from 'node:test';
import assert from 'node:assert/strict';
import Knock, { NotFoundError } from '@knocklabs/node';

const knock = new Knock({ apiKey: process.env.BELFRY_KEY, baseURL: process.env.BELFRY_URL });
const T = { timeout: 30_000 };
const USER = `feeds-user-${process.pid}-${Date.now()}`;

test('users.feeds.getSettings: an in-app channel asks for no branding; another channel is 404', T, async () => {
  await knock.users.update(USER, { name: 'Feeds' });
  const s = await knock.users.feeds.getSettings(USER, 'in-app');
  assert.deepEqual(s, { features: { branding_required: false } });
  await assert.rejects(knock.users.feeds.getSettings(USER, 'audit'), NotFoundError);
});
