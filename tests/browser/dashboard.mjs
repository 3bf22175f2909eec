// Drives the system Chromium (puppeteer-core, never a downloaded browser)
// against a running ducq-server's dashboard. Run by tests/dashboard_browser.rs,
// which starts the server and passes, in the environment:
//   DUCQ_URL      the dashboard (http://127.0.0.1:<http port>/)
//   DUCQ_CLI      the ducq CLI binary
//   DUCQ_PORT     the server's TCP port
//   SCREENSHOT    where to save the screenshot (kept as a test artifact)
//   PROFILE_DIR   a fresh, empty Chromium user-data folder
// It loads the page with 1 000 routes and 300 connections present, sees a
// publication from the CLI appear, a connection appear and vanish, a form
// publication reach `ducq sub`, the subscribe pane and the log tail fill,
// the commands listed, a queue's depth follow `ducq enq` and `ducq deq`,
// and no console error. Exits non-zero on failure.
import puppeteer from 'puppeteer-core';
import { spawn, execFileSync } from 'node:child_process';
import net from 'node:net';

const { DUCQ_URL, DUCQ_CLI, DUCQ_PORT, SCREENSHOT, PROFILE_DIR } = process.env;
const WAIT = 20000;
const errors = [];

function step(text) {
  process.stdout.write('step: ' + text + '\n');
}

function cli(...args) {
  return execFileSync(DUCQ_CLI, ['--port', DUCQ_PORT, ...args], { encoding: 'utf8' });
}

/** A raw length-framed TCP client. */
function tcpClient() {
  return new Promise((resolve, reject) => {
    const s = net.connect(Number(DUCQ_PORT), '127.0.0.1', () => resolve(s));
    s.on('error', reject);
  });
}
function frame(text) {
  const body = Buffer.from(text);
  return Buffer.concat([Buffer.from(body.length + '\n'), body]);
}
/** Sends frames on `s` and waits for `count` replies (each `3\nACK`). */
function acked(s, frames, count) {
  return new Promise((resolve) => {
    let seen = 0;
    let tail = '';
    const onData = (d) => {
      tail += d.toString('latin1');
      const parts = tail.split('3\nACK');
      seen += parts.length - 1;
      tail = parts[parts.length - 1];
      if (seen >= count) { s.off('data', onData); resolve(); }
    };
    s.on('data', onData);
    s.write(Buffer.concat(frames));
  });
}

async function text(page, selector) {
  return page.$eval(selector, (e) => e.textContent);
}
async function waitText(page, selector, want) {
  await page.waitForFunction(
    (sel, w) => { const e = document.querySelector(sel); return e && e.textContent.includes(w); },
    { timeout: WAIT }, selector, want);
}
async function setInput(page, selector, value) {
  await page.$eval(selector, (e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }, value);
}
async function tab(page, name) {
  await page.click(`#tabs button[data-tab="${name}"]`);
}

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  userDataDir: PROFILE_DIR,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let page;
try {
  // A crowd first: 1 000 stored routes and 300 open connections.
  step('1 000 routes and 300 connections');
  const loader = await tcpClient();
  const frames = [];
  for (let i = 0; i < 1000; i++) frames.push(frame(`pub load/${String(i).padStart(4, '0')}\nvalue ${i}`));
  await acked(loader, frames, 1000);
  const crowd = [];
  for (let i = 0; i < 300; i++) crowd.push(await tcpClient());

  page = await browser.newPage();
  page.on('console', (m) => { if (m.type() === 'error') errors.push('console: ' + m.text()); });
  page.on('pageerror', (e) => errors.push('page error: ' + e.message));
  page.on('requestfailed', (r) => errors.push('request failed: ' + r.url()));
  page.on('response', (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.url()}`); });
  await page.setViewport({ width: 1280, height: 1000 });

  step('load the page');
  await page.goto(DUCQ_URL, { waitUntil: 'load' });
  await waitText(page, '#status', 'live');
  await waitText(page, '#routes-count', '1000 items');
  const rows = await page.$$eval('#routes-table tbody tr', (r) => r.length);
  if (rows !== 50) throw new Error(`routes page has ${rows} rows, not 50`);
  await waitText(page, '#routes-page', '1 / 20');
  await page.click('#routes-next');
  await page.waitForSelector('#routes-table tr[data-route="load/0050"]', { timeout: WAIT });
  await page.waitForFunction(() => Number(document.querySelector('#stat-connections').textContent) >= 300,
    { timeout: WAIT });

  step('a publication from the CLI appears');
  cli('pub', 'dash/temp', '21.5');
  await setInput(page, '#routes-filter', 'dash/*');
  await page.waitForFunction(() => {
    const r = document.querySelector('#routes-table tr[data-route="dash/temp"]');
    return r && r.cells[1].textContent === '21.5';
  }, { timeout: WAIT });

  step('a connection appears and vanishes');
  const watcher = await tcpClient();
  watcher.write(frame('sub dash/watch\n'));
  const id = `TCP:127.0.0.1:${watcher.localPort}`;
  await tab(page, 'conns');
  await setInput(page, '#conns-filter', id);
  await page.waitForFunction((i) => {
    const r = document.querySelector(`#conns-table tr[data-id="${i}"]`);
    return r && r.cells[3].textContent === 'dash/watch';
  }, { timeout: WAIT }, id);
  watcher.destroy();
  await page.waitForFunction((i) => !document.querySelector(`#conns-table tr[data-id="${i}"]`),
    { timeout: WAIT }, id);
  await setInput(page, '#conns-filter', '');
  await page.waitForFunction(() => parseInt(document.querySelector('#conns-count').textContent, 10) >= 300,
    { timeout: WAIT });
  const connRows = await page.$$eval('#conns-table tbody tr', (r) => r.length);
  if (connRows !== 50) throw new Error(`connections page has ${connRows} rows, not 50`);

  step('the form publishes to ducq sub');
  const sub = spawn(DUCQ_CLI, ['--port', DUCQ_PORT, 'sub', 'dash/form', '--count', '1']);
  let subOut = '';
  sub.stdout.on('data', (d) => { subOut += d; });
  const subDone = new Promise((resolve) => sub.on('exit', resolve));
  for (let i = 0; ; i++) {
    if (cli('lsconn').split('\n').some((l) => l.endsWith(',dash/form'))) break;
    if (i > 200) throw new Error('ducq sub never subscribed');
    await new Promise((r) => setTimeout(r, 50));
  }
  await tab(page, 'pubsub');
  await page.type('#pub-route', 'dash/form');
  await page.type('#pub-payload', 'from the browser');
  await page.click('#pub-send');
  await waitText(page, '#pub-result', 'ACK');
  const code = await subDone;
  if (code !== 0 || subOut !== 'from the browser\n') {
    throw new Error(`ducq sub exited ${code} with ${JSON.stringify(subOut)}`);
  }

  step('the subscribe pane receives');
  await page.type('#sub-pattern', 'dash/*');
  await page.click('#sub-go');
  await waitText(page, '#sub-state', 'subscribed to dash/*');
  cli('pub', 'dash/pane', 'hello pane');
  await waitText(page, '#sub-messages', 'dash/pane hello pane');

  step('the log tail and its level filter');
  await tab(page, 'log');
  await waitText(page, '#log-lines', 'INFO,close,');
  await page.select('#log-level', '3');
  const errorsOnly = await text(page, '#log-lines');
  if (errorsOnly.includes('INFO,')) throw new Error('the error filter still shows INFO lines');
  await page.select('#log-level', '1');

  step('the commands with their docs');
  await tab(page, 'commands');
  await page.waitForSelector('#commands-table tr[data-command="pub"]', { timeout: WAIT });
  const doc = await page.$eval('#commands-table tr[data-command="metrics"]', (r) => r.cells[1].textContent);
  if (!doc.includes('Prometheus')) throw new Error('metrics doc: ' + doc);

  step("a queue's depth follows ducq enq and deq");
  cli('enq', 'dash.jobs', 'first');
  cli('enq', 'dash.jobs', 'second');
  await tab(page, 'queues');
  const depth = (want) => page.waitForFunction((w) => {
    const r = document.querySelector('#queues-table tr[data-queue="dash.jobs"]');
    return r && r.cells[1].textContent === String(w)
      && document.querySelector('#stat-queued').textContent === String(w);
  }, { timeout: WAIT }, want);
  await depth(2);
  cli('enq', 'dash.jobs', 'third');
  await depth(3);
  if (cli('deq', 'dash.jobs') !== 'first\n') throw new Error('ducq deq did not print the first message');
  await depth(2);
  const ready = await page.$eval('#queues-table tr[data-queue="dash.jobs"]', (r) => r.cells[2].textContent);
  if (ready !== '2') throw new Error('ready: ' + ready);

  step('live rates for the screenshot');
  const talker = await tcpClient();
  let tick = 0;
  const feed = setInterval(() => {
    const batch = [];
    const n = 10 + Math.round(10 * Math.sin(tick++ / 8) + 10);
    for (let i = 0; i < n; i++) batch.push(frame(`pub dash/temp\n${(20 + Math.random() * 3).toFixed(2)}`));
    talker.write(Buffer.concat(batch));
  }, 100);
  await tab(page, 'routes');
  await page.waitForFunction(() => Number(document.querySelector('#stat-rate-in').textContent) > 50,
    { timeout: WAIT });
  await page.waitForFunction(() => {
    const r = document.querySelector('#routes-table tr[data-route="dash/temp"]');
    return r && Number(r.cells[4].textContent) > 50;
  }, { timeout: WAIT });
  // A few more seconds of varying traffic, so the charts have a shape.
  await new Promise((r) => setTimeout(r, 5000));
  clearInterval(feed);
  await page.screenshot({ path: SCREENSHOT, fullPage: true });

  talker.destroy();
  loader.destroy();
  for (const s of crowd) s.destroy();
  if (errors.length) throw new Error('browser errors:\n' + errors.join('\n'));
  step('done');
} catch (e) {
  process.stdout.write('FAILED: ' + (e.stack || e) + '\n');
  if (errors.length) process.stdout.write(errors.join('\n') + '\n');
  if (page) await page.screenshot({ path: SCREENSHOT.replace(/\.png$/, '-failed.png'), fullPage: true }).catch(() => {});
  await browser.close();
  process.exit(1);
}
await browser.close();
process.exit(0);
