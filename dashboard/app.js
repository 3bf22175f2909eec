// ducq dashboard. Talks to the server over its own WebSocket, with ducq
// messages: `stats` (counters and queue totals, once a second), `routes`,
// `conns` and `queues` (one page of 50 at a time, only for the tab on
// screen), `lscmd`, `pub`; a second socket subscribes to `__MONITOR__` (the
// log lines with upper-case levels, as the original's dashboard reads
// them), a third to the subscribe
// pane's pattern. Whatever the number of routes or connections, the server
// sends one page and a total. Everything shown from the server goes
// through textContent, never as HTML.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const WS_URL = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/';
  const PAGE = 50;
  const HISTORY = 300; // seconds kept for the charts
  const LOG_LINES = 500;
  const SUB_LINES = 200;

  // ---- formatting -------------------------------------------------------
  function bytes(n) {
    if (n < 1024) return n + ' B';
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n / 1024, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return v.toFixed(1) + ' ' + units[u];
  }
  function duration(s) {
    s = Math.floor(s);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }
  function rate(v) {
    return v >= 100 ? Math.round(v).toString() : v.toFixed(1);
  }
  function cell(row, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }
  /** `NACK *\n<code>\n<text>` → "NACK <code>: <text>". */
  function nackText(m) {
    const lines = m.split('\n');
    return 'NACK ' + (lines[1] || '?') + ': ' + lines.slice(2).join(' ');
  }

  // ---- links --------------------------------------------------------------
  /** A WebSocket that answers the server's PINGs and reconnects. */
  class Link {
    constructor(onOpen, onMessage, onClose) {
      this.onOpen = onOpen;
      this.onMessage = onMessage;
      this.onClose = onClose || (() => {});
      this.wait = 500;
      this.closed = false;
      this.connect();
    }
    connect() {
      const ws = new WebSocket(WS_URL);
      this.ws = ws;
      ws.onopen = () => { this.wait = 500; this.onOpen(this); };
      ws.onmessage = (e) => {
        const data = typeof e.data === 'string' ? e.data : '';
        if (data.startsWith('PING ')) { ws.send('PONG ' + data.slice(5)); return; }
        this.onMessage(data);
      };
      ws.onclose = () => {
        this.onClose();
        if (this.closed) return;
        setTimeout(() => this.connect(), this.wait);
        this.wait = Math.min(this.wait * 2, 5000);
      };
      ws.onerror = () => {}; // onclose follows and retries
    }
    send(text) {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(text);
    }
    close() {
      this.closed = true;
      this.ws.close();
    }
  }

  /** Request/response over one link: the server answers in order. */
  const pending = [];
  function request(text) {
    return new Promise((resolve, reject) => {
      if (!control || control.ws.readyState !== WebSocket.OPEN) {
        reject(new Error('not connected'));
        return;
      }
      pending.push({ resolve, reject, parts: null });
      control.send(text);
    });
  }
  function onReply(m) {
    const p = pending[0];
    if (!p) return; // nothing asked: not ours
    if (p.parts !== null) {
      if (m === 'END') { pending.shift(); p.resolve(p.parts); } else p.parts.push(m);
      return;
    }
    if (m === 'PARTS') { p.parts = []; return; }
    pending.shift();
    if (m.startsWith('NACK')) p.reject(new Error(nackText(m))); else p.resolve(m);
  }
  function setLive(live) {
    const s = $('status');
    s.textContent = live ? 'live' : 'reconnecting';
    s.className = 'status ' + (live ? 'live' : 'down');
  }

  // ---- overview and charts -----------------------------------------------
  const history = { in: [], out: [], conns: [] };
  let last = null; // previous stats reading, for rates

  function push(series, v) {
    series.push(v);
    if (series.length > HISTORY) series.shift();
  }
  function connections(s) {
    return s.connections.reduce((n, g) => n + g.count, 0);
  }
  function showStats(s) {
    const now = s.uptime_seconds;
    let rin = 0, rout = 0;
    if (last && now > last.uptime_seconds) {
      const dt = now - last.uptime_seconds;
      rin = (s.messages_received - last.messages_received) / dt;
      rout = (s.deliveries - last.deliveries) / dt;
      push(history.in, rin);
      push(history.out, rout);
      push(history.conns, connections(s));
    }
    last = s;
    $('version').textContent = 'v' + s.version;
    $('stat-connections').textContent = connections(s);
    $('stat-rate-in').textContent = rate(rin);
    $('stat-rate-out').textContent = rate(rout);
    $('stat-routes').textContent = s.routes_stored;
    $('stat-subs').textContent = s.subscriptions;
    $('stat-queued').textContent = s.queue_totals ? s.queue_totals.depth : 0;
    $('stat-rss').textContent = bytes(s.process.resident_memory_bytes);
    $('stat-fds').textContent = s.process.open_fds;
    $('stat-uptime').textContent = duration(now);
    draw($('chart-rate'), [[history.in, '#2563eb'], [history.out, '#16a34a']]);
    draw($('chart-conns'), [[history.conns, '#7c3aed']]);
    const span = 'last ' + duration(Math.max(history.in.length, 1));
    $('rate-span').textContent = span;
    $('conns-span').textContent = span;
  }
  function draw(canvas, series) {
    const ratio = window.devicePixelRatio || 1;
    const w = canvas.clientWidth || 600, h = canvas.clientHeight || 140;
    canvas.width = w * ratio;
    canvas.height = h * ratio;
    const g = canvas.getContext('2d');
    g.scale(ratio, ratio);
    g.clearRect(0, 0, w, h);
    const max = Math.max(1, ...series.flatMap(([v]) => v));
    // Up to five minutes; a young server's few samples are not squeezed
    // into the right edge: the axis spans at least 30 s.
    const span = Math.max(29, ...series.map(([v]) => v.length - 1));
    const top = 14, bottom = h - 4;
    g.strokeStyle = '#dde1e8';
    g.fillStyle = '#6b7385';
    g.font = '11px system-ui, sans-serif';
    for (const f of [0, 0.5, 1]) {
      const y = bottom - f * (bottom - top);
      g.beginPath(); g.moveTo(0, y); g.lineTo(w, y); g.stroke();
    }
    g.fillText(rate(max), 4, top - 3);
    for (const [values, colour] of series) {
      if (values.length < 2) continue;
      g.strokeStyle = colour;
      g.lineWidth = 1.5;
      g.beginPath();
      values.forEach((v, i) => {
        const x = w - (values.length - 1 - i) * (w / span);
        const y = bottom - (v / max) * (bottom - top);
        if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
      });
      g.stroke();
    }
  }
  async function loadHistory() {
    const s = JSON.parse(await request('stats _\nhistory'));
    const hist = s.history || { messages_received: [], deliveries: [], connections: [] };
    history.in = hist.messages_received.slice(-HISTORY);
    history.out = hist.deliveries.slice(-HISTORY);
    history.conns = hist.connections.slice(-HISTORY);
    last = null;
    showStats(s);
  }
  async function pollStats() {
    // The summary: queue totals without every queue (the Queues tab pages them).
    try { showStats(JSON.parse(await request('stats _\nsummary'))); } catch (e) { /* reconnecting */ }
  }

  // ---- paged tables -------------------------------------------------------
  /** A paginated table fed by a server command answering {total, offset, items}. */
  function pager(name, command, render) {
    const state = { offset: 0, total: 0, filter: $(name + '-filter').value };
    const refresh = async () => {
      const filter = state.filter.trim() || '*';
      let page;
      try {
        page = JSON.parse(await request(command + ' ' + filter + '\n' + state.offset + ' ' + PAGE));
      } catch (e) {
        $(name + '-count').textContent = String(e.message || e);
        return;
      }
      state.total = page.total;
      if (page.items.length === 0 && state.offset > 0 && state.offset >= page.total) {
        state.offset = Math.max(0, page.total - PAGE);
        return refresh();
      }
      $(name + '-count').textContent = page.total + (page.total === 1 ? ' item' : ' items');
      const pages = Math.max(1, Math.ceil(page.total / PAGE));
      $(name + '-page').textContent = ' ' + (Math.floor(state.offset / PAGE) + 1) + ' / ' + pages + ' ';
      const body = $(name + '-table').tBodies[0];
      const rows = page.items.map(render);
      body.replaceChildren(...rows);
    };
    let timer = null;
    $(name + '-filter').addEventListener('input', (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => { state.filter = e.target.value; state.offset = 0; refresh(); }, 250);
    });
    $(name + '-prev').onclick = () => { state.offset = Math.max(0, state.offset - PAGE); refresh(); };
    $(name + '-next').onclick = () => {
      if (state.offset + PAGE < state.total) { state.offset += PAGE; refresh(); }
    };
    return refresh;
  }

  const published = new Map(); // route -> [count, uptime] of the last poll
  const refreshRoutes = pager('routes', 'routes', (r) => {
    const tr = document.createElement('tr');
    tr.dataset.route = r.route;
    cell(tr, r.route);
    const p = cell(tr, r.payload + (r.truncated ? '…' : ''), 'payload');
    p.title = r.payload;
    cell(tr, r.size, 'num');
    cell(tr, r.subscribers, 'num');
    const seen = published.get(r.route);
    const now = last ? last.uptime_seconds : 0;
    const perSecond = seen && now > seen[1] ? (r.published - seen[0]) / (now - seen[1]) : 0;
    published.set(r.route, [r.published, now]);
    cell(tr, rate(perSecond), 'num');
    return tr;
  });
  const refreshConns = pager('conns', 'conns', (c) => {
    const tr = document.createElement('tr');
    tr.dataset.id = c.id;
    cell(tr, c.id);
    cell(tr, c.protocol);
    cell(tr, c.listener);
    const shown = c.subscriptions.slice(0, 3);
    const more = c.subscription_count - shown.length;
    cell(tr, shown.join(', ') + (more > 0 ? ' +' + more : ''));
    cell(tr, bytes(c.queued), 'num');
    cell(tr, bytes(c.bytes_in), 'num');
    cell(tr, bytes(c.bytes_out), 'num');
    cell(tr, duration(c.age_seconds), 'num');
    return tr;
  });

  const refreshQueues = pager('queues', 'queues', (q) => {
    const tr = document.createElement('tr');
    tr.dataset.queue = q.name;
    cell(tr, q.name);
    cell(tr, q.depth, 'num');
    cell(tr, q.ready, 'num');
    cell(tr, q.in_flight, 'num');
    cell(tr, q.consumers, 'num');
    cell(tr, q.depth ? duration(q.oldest_ms / 1000) : '–', 'num');
    return tr;
  });

  // ---- commands -----------------------------------------------------------
  let commands = [];
  async function loadCommands() {
    try {
      const parts = await request('lscmd');
      commands = parts.flatMap((p) => p.split('\n')).filter((l) => l).map((l) => {
        const m = /^"(.*)","(.*)"$/.exec(l);
        return m ? { name: m[1], doc: m[2] } : { name: l, doc: '' };
      });
      showCommands();
    } catch (e) { /* reconnecting */ }
  }
  function showCommands() {
    const f = $('commands-filter').value.toLowerCase();
    const rows = commands
      .filter((c) => !f || c.name.toLowerCase().includes(f) || c.doc.toLowerCase().includes(f))
      .map((c) => {
        const tr = document.createElement('tr');
        tr.dataset.command = c.name;
        cell(tr, c.name);
        cell(tr, c.doc);
        return tr;
      });
    $('commands-table').tBodies[0].replaceChildren(...rows);
  }
  $('commands-filter').addEventListener('input', showCommands);

  // ---- log ----------------------------------------------------------------
  const LEVELS = { DEBUG: 0, INFO: 1, WARN: 2, ERROR: 3 };
  const logLines = [];
  function showLog() {
    const min = Number($('log-level').value);
    const pre = $('log-lines');
    const spans = logLines.filter((l) => l.level >= min).map((l) => {
      const s = document.createElement('span');
      s.className = 'lvl-' + l.name;
      s.textContent = l.time + ' ' + l.text + '\n';
      return s;
    });
    pre.replaceChildren(...spans);
    pre.scrollTop = pre.scrollHeight;
  }
  function onLog(m) {
    if (m === 'ACK' || $('log-pause').checked) return;
    const name = m.slice(0, m.indexOf(',')).toUpperCase();
    const level = name in LEVELS ? LEVELS[name] : 1;
    logLines.push({ level, name, time: new Date().toLocaleTimeString(), text: m });
    if (logLines.length > LOG_LINES) logLines.shift();
    if (!$('tab-log').hidden) showLog();
  }
  $('log-level').onchange = showLog;
  $('log-clear').onclick = () => { logLines.length = 0; showLog(); };

  // ---- publish and subscribe ---------------------------------------------
  $('pub-form').onsubmit = async (e) => {
    e.preventDefault();
    const out = $('pub-result');
    try {
      const reply = await request('pub ' + $('pub-route').value + '\n' + $('pub-payload').value);
      out.textContent = reply;
      out.className = 'ok';
    } catch (err) {
      out.textContent = String(err.message || err);
      out.className = 'bad';
    }
  };
  let pane = null;
  const paneLines = [];
  function paneMessage(m) {
    if (m === 'ACK') { $('sub-state').textContent = 'subscribed to ' + pane.pattern; return; }
    if (m.startsWith('NACK')) { $('sub-state').textContent = nackText(m); return; }
    const nl = m.indexOf('\n');
    const head = nl < 0 ? m : m.slice(0, nl);
    const route = head.startsWith('pub ') ? head.slice(4) : head;
    paneLines.push(route + ' ' + (nl < 0 ? '' : m.slice(nl + 1)));
    if (paneLines.length > SUB_LINES) paneLines.shift();
    $('sub-messages').textContent = paneLines.join('\n');
  }
  $('sub-form').onsubmit = (e) => {
    e.preventDefault();
    if (pane) pane.close();
    const pattern = $('sub-pattern').value;
    paneLines.length = 0;
    $('sub-messages').textContent = '';
    $('sub-state').textContent = 'subscribing…';
    pane = new Link((l) => l.send('sub ' + pattern + '\n'), paneMessage);
    pane.pattern = pattern;
  };
  $('sub-stop').onclick = () => {
    if (pane) { pane.close(); pane = null; }
    $('sub-state').textContent = 'stopped';
  };

  // ---- tabs and timers ----------------------------------------------------
  let tab = 'routes';
  function refreshTab() {
    if (tab === 'routes') refreshRoutes();
    else if (tab === 'conns') refreshConns();
    else if (tab === 'queues') refreshQueues();
    else if (tab === 'commands') loadCommands();
    else if (tab === 'log') showLog();
  }
  for (const b of document.querySelectorAll('#tabs button')) {
    b.onclick = () => {
      tab = b.dataset.tab;
      for (const o of document.querySelectorAll('#tabs button')) o.classList.toggle('active', o === b);
      for (const s of document.querySelectorAll('.tab')) s.hidden = s.id !== 'tab-' + tab;
      refreshTab();
    };
  }

  const control = new Link(
    () => { setLive(true); loadHistory().then(refreshTab, () => {}); loadCommands(); },
    onReply,
    () => {
      setLive(false);
      while (pending.length) pending.shift().reject(new Error('connection lost'));
    },
  );
  new Link((l) => l.send('sub __MONITOR__\n'), onLog);
  setInterval(pollStats, 1000);
  setInterval(() => { if (['routes', 'conns', 'queues'].includes(tab)) refreshTab(); }, 1000);
})();
