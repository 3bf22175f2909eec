// Measures the dashboard at scale (run by scripts/dashboard-load.sh, not by
// the test suite): opens CONNS idle TCP connections and stores ROUTES
// routes on a running ducq-server, then times the commands the dashboard
// polls and their reply sizes, and loads the dashboard in the system
// Chromium, timing how long until its tables are filled and how much main
// thread time ten seconds of live updates take. Prints a markdown table.
// Environment: DUCQ_URL, DUCQ_PORT, PROFILE_DIR, CONNS (10000), ROUTES (1000).
import puppeteer from 'puppeteer-core';
import net from 'node:net';

const { DUCQ_URL, DUCQ_PORT, PROFILE_DIR } = process.env;
const CONNS = Number(process.env.CONNS || 10000);
const ROUTES = Number(process.env.ROUTES || 1000);

function connect() {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(DUCQ_PORT), '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}
function frame(text) {
  const body = Buffer.from(text);
  return Buffer.concat([Buffer.from(body.length + '\n'), body]);
}
/** One request, one length-framed reply: [milliseconds, reply bytes]. */
function call(s, text) {
  return new Promise((resolve) => {
    let buf = Buffer.alloc(0);
    const start = process.hrtime.bigint();
    const onData = (d) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf(10);
      if (nl < 0) return;
      const len = Number(buf.subarray(0, nl).toString());
      if (buf.length < nl + 1 + len) return;
      s.off('data', onData);
      resolve([Number(process.hrtime.bigint() - start) / 1e6, len]);
    };
    s.on('data', onData);
    s.write(frame(text));
  });
}

const crowd = [];
for (let i = 0; i < CONNS; i++) {
  const s = await connect();
  if (i % 10 === 0) s.write(frame(`sub crowd/${i % 500}\n`));
  crowd.push(s);
}
const control = await connect();
for (let i = 0; i < ROUTES; i++) await call(control, `pub crowd/${i}\npayload number ${i}`);

const rows = [];
for (const [label, req] of [
  ['stats', 'stats'],
  ['routes, first page', 'routes *\n0 50'],
  ['conns, first page', 'conns *\n0 50'],
  ['conns, last page', `conns *\n${CONNS - 50} 50`],
  ['conns, filtered to one id', `conns TCP:127.0.0.1:${crowd[0].localPort}\n0 50`],
  ['metrics', 'metrics'],
]) {
  const times = [];
  let size = 0;
  for (let i = 0; i < 5; i++) {
    const [ms, len] = await call(control, req);
    times.push(ms);
    size = len;
  }
  times.sort((a, b) => a - b);
  rows.push(`| \`${req.split('\n')[0]}\` ${label} | ${times[2].toFixed(1)} ms | ${size} B |`);
}

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium', headless: true, userDataDir: PROFILE_DIR,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage();
const t0 = Date.now();
await page.goto(DUCQ_URL, { waitUntil: 'load' });
await page.waitForFunction(() => document.querySelectorAll('#routes-table tbody tr').length === 50,
  { timeout: 60000 });
const loaded = Date.now() - t0;
await page.click('#tabs button[data-tab="conns"]');
await page.waitForFunction(() => document.querySelectorAll('#conns-table tbody tr').length === 50,
  { timeout: 60000 });
const before = await page.metrics();
await new Promise((r) => setTimeout(r, 10000));
const after = await page.metrics();
const busy = (after.TaskDuration - before.TaskDuration) * 1000;
await browser.close();

console.log(`${CONNS} idle connections (one in ten subscribed), ${ROUTES} stored routes:\n`);
console.log('| request | round trip (median of 5) | reply |');
console.log('|---|---|---|');
for (const r of rows) console.log(r);
console.log(`\nDashboard: tables filled ${loaded} ms after navigation; ` +
  `10 s of live updates on the connections tab took ${busy.toFixed(0)} ms of the page's main thread ` +
  `(JS heap ${(after.JSHeapUsedSize / 1048576).toFixed(1)} MiB).`);
for (const s of crowd) s.destroy();
control.destroy();
process.exit(0);
