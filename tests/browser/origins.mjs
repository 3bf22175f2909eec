// Browser origins against a running ducq-server, in the system Chromium
// (puppeteer-core, never a downloaded browser). Run by
// tests/origins_browser.rs, which starts the server and two page servers
// and passes, in the environment:
//   BROKER        the broker's HTTP listener (http://127.0.0.1:<port>)
//   FOREIGN       a page of an origin the broker does not list
//   LISTED        a page of the origin its [http] allow_origins lists
//   USER          user:password of a user that may publish to sensors/*
//   PROFILE_DIR   a fresh, empty Chromium user-data folder
// From each page (foreign first) it tries what a hostile page would: read
// the stored messages, publish anonymously, publish with credentials (a
// preflighted request), open a WebSocket and subscribe. It prints one line
// per page, `<page> <JSON of the outcomes>`, each outcome the status and
// body the page could read, or `blocked` when the browser kept the answer
// from the page. The test judges the lines; this script judges nothing.
import puppeteer from 'puppeteer-core';

const { BROKER, FOREIGN, LISTED, USER, PROFILE_DIR } = process.env;

/** Runs in the page: the four attempts, as the page sees them. */
async function attempts({ broker, user, route }) {
  const seen = async (request) => {
    try {
      const r = await request;
      return `${r.status} ${await r.text()}`;
    } catch (e) {
      return 'blocked';
    }
  };
  const out = {};
  out.read = await seen(fetch(`${broker}/last/home/*`));
  out.publish = await seen(fetch(`${broker}/pub/home/${route}`, { method: 'POST', body: 'x' }));
  out.credentials = await seen(fetch(`${broker}/pub/sensors/${route}`, {
    method: 'POST',
    body: '21',
    headers: { Authorization: `Basic ${btoa(user)}` },
  }));
  out.websocket = await new Promise((resolve) => {
    const ws = new WebSocket(`${broker.replace('http:', 'ws:')}/`);
    ws.onopen = () => ws.send('sub home/*\n');
    ws.onmessage = (e) => { resolve(`message ${e.data}`); ws.close(); };
    ws.onerror = () => resolve('error');
  });
  return out;
}

const browser = await puppeteer.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  userDataDir: PROFILE_DIR,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  for (const [name, url] of [['foreign', FOREIGN], ['listed', LISTED]]) {
    const page = await browser.newPage();
    await page.goto(url, { waitUntil: 'load' });
    const out = await page.evaluate(attempts, { broker: BROKER, user: USER, route: name });
    process.stdout.write(`${name} ${JSON.stringify(out)}\n`);
    await page.close();
  }
} finally {
  await browser.close();
}
