// Drive a belfry source with Segment's or RudderStack's own Node library,
// unchanged, pointed at the source's endpoint.
//
//   node drive.mjs segment|rudderstack BASE_URL SOURCE WRITE_KEY < CALLS
//
// CALLS is a JSON array of {"call": "identify"|"track"|"group"|"page"|
// "screen"|"alias", "args": {...the library's arguments...}}; they are
// queued in order and flushed (RudderStack's library sends its first call
// at once, the rest in a second batch).  Prints one JSON line:
// {"statuses": [HTTP status of each batch request], "errors": [text]}.
// Segment's library is given host BASE_URL and path
// /sources/SOURCE/v1/batch; RudderStack's dataPlaneUrl BASE_URL/sources/
// SOURCE (it appends /v1/batch and gzips the body, as it does by default).
// Neither retries here, so a refused batch is reported at once.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const [lib, base, source, writeKey] = process.argv.slice(2);
const calls = JSON.parse(readFileSync(0, 'utf8'));
const out = { statuses: [], errors: [] };

async function segment() {
  const { Analytics } = require('@segment/analytics-node');
  const analytics = new Analytics({
    writeKey,
    host: base,
    path: `/sources/${source}/v1/batch`,
    flushAt: calls.length,
    maxRetries: 0,
  });
  analytics.on('http_response', (r) => out.statuses.push(r.status));
  analytics.on('error', (e) => out.errors.push(String(e.code || e.reason || e)));
  for (const c of calls) analytics[c.call](c.args);
  await analytics.closeAndFlush({ timeout: 20000 });
}

async function rudderstack() {
  const Analytics = require('@rudderstack/rudder-sdk-node');
  // The library's own axios, watched for the status of each reply.
  const axios = createRequire(require.resolve('@rudderstack/rudder-sdk-node'))('axios');
  const axiosInstance = axios.create();
  axiosInstance.interceptors.response.use((r) => {
    out.statuses.push(r.status);
    return r;
  }, (e) => {
    out.statuses.push(e.response ? e.response.status : 0);
    return Promise.reject(e);
  });
  const client = new Analytics(writeKey, {
    dataPlaneUrl: `${base}/sources/${source}`,
    axiosInstance,
    flushAt: calls.length,
    retryCount: 0,
    logLevel: 'error',
    errorHandler: (err) => out.errors.push(String(err.message)),
  });
  // Its first call flushes at once; flush() sends the rest now.
  const sent = new Promise((resolve) => {
    let left = calls.length;
    for (const c of calls) {
      client[c.call](c.args, (err) => {
        if (err) out.errors.push(String(err.message));
        if (--left === 0) resolve();
      });
    }
  });
  await client.flush().catch(() => {});
  await sent;
}

try {
  await (lib === 'segment' ? segment() : rudderstack());
} catch (e) {
  out.errors.push(String(e && e.message ? e.message : e));
}
console.log(JSON.stringify(out));
process.exit(0);
