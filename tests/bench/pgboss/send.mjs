// pg-boss's durable send rate: node send.mjs URI SECONDS INFLIGHT prints
// three rates (jobs/s), one per run, each run SECONDS long with INFLIGHT
// sends awaited at once, on a fresh queue.
import { PgBoss } from 'pg-boss';

const [uri, secs, inflight] = process.argv.slice(2);
const boss = new PgBoss(uri);
boss.on('error', (e) => console.error(e));
await boss.start();
const rates = [];
for (let run = 0; run < 3; run++) {
  const q = `bench${run}`;
  await boss.createQueue(q);
  const until = Date.now() + Number(secs) * 1000;
  const t0 = Date.now();
  let n = 0;
  // Each worker sends one job after another until the time is up.
  const worker = async () => {
    while (Date.now() < until) {
      await boss.send(q, { k: n });
      n++;
    }
  };
  await Promise.all(Array.from({ length: Number(inflight) }, worker));
  rates.push(n / ((Date.now() - t0) / 1000));
}
console.log(rates.join(' '));
await boss.stop();
