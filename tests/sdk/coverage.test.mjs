// Every product method of Knock's Node SDK is exercised by a test here.
//
// Walks the SDK client's resources (as a user sees them: knock.users.bulk.
// identify, ...) and requires each method, except those of Knock's hosted
// products (guides, the hosted preference center, Slack/Teams OAuth
// providers, Census/Hightouch), to be called as `knock.<path>(` in one of
// the other test files of this folder. A method the SDK gains, or a test
// removed, fails here until it is covered or listed as out of scope in
// docs/api.md.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Knock from '@knocklabs/node';

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT_OF_SCOPE = [
  'users.guides.', 'users.preferenceCenter.', 'providers.', 'integrations.',
];

// The methods of the client's resources, as dotted paths.
function methods(client) {
  const out = [];
  const seen = new Set();
  const walk = (obj, path) => {
    for (const key of Object.getOwnPropertyNames(obj)) {
      const v = obj[key];
      if (key.startsWith('_') || !v || typeof v !== 'object' ||
          !v._client || seen.has(v)) continue;
      seen.add(v);
      const proto = Object.getPrototypeOf(v);
      for (const m of Object.getOwnPropertyNames(proto))
        if (m !== 'constructor' && typeof proto[m] === 'function')
          out.push([...path, key, m].join('.'));
      walk(v, [...path, key]);
    }
  };
  walk(client, []);
  return out;
}

test('every product method of the SDK is called by a test', () => {
  const all = methods(new Knock({ apiKey: 'sk_x', baseURL: 'http://127.0.0.1:1' }));
  assert.ok(all.length >= 90, `the walk found only ${all.length} methods`);
  const text = readdirSync(HERE)
    .filter((f) => f.endsWith('.test.mjs') && f !== 'coverage.test.mjs')
    .map((f) => readFileSync(join(HERE, f), 'utf8'))
    .join('\n');
  const missing = all.filter((m) =>
    !OUT_OF_SCOPE.some((p) => m.startsWith(p)) &&
    !text.includes(`knock.${m}(`));
  assert.deepEqual(missing, []);
});
