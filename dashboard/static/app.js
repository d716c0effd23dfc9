// meshmq dashboard: polls api/state and renders it. Every string from the
// state goes into the page as text (textContent, Text nodes) or as the value
// of a fixed, inert attribute: never as markup.
'use strict';
(function () {
  // Relative to the page, so that the dashboard works under any prefix,
  // also when the page's path lacks its trailing slash.
  const path = location.pathname;
  const api = (path.endsWith('/') ? '' : path.slice(path.lastIndexOf('/') + 1) + '/') + 'api/state';

  const SVG = 'http://www.w3.org/2000/svg';
  const HISTORY = 60; // sparkline points
  const STATES = { self: 'this peer', alive: 'alive', left: 'left', failed: 'failed', gone: 'gone' };
  const nf = new Intl.NumberFormat('en-US');
  const history = new Map(); // channel name -> [{send, handle}]
  let refreshMs = 1000;

  function $(id) { return document.getElementById(id); }

  // el builds an element: attrs are fixed attribute names with data values
  // (set as attribute values, never parsed), children are nodes or text.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    if (attrs) {
      for (const k of Object.keys(attrs)) {
        if (attrs[k] === undefined || attrs[k] === null) continue;
        if (k === 'class') e.className = attrs[k];
        else e.setAttribute(k, String(attrs[k]));
      }
    }
    for (const c of children) {
      if (c === undefined || c === null || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function setText(id, text) { $(id).textContent = text; }

  function count(n) { return nf.format(n || 0); }

  function rate(r) {
    if (!r) return '0';
    if (r < 10) return r.toFixed(1);
    return nf.format(Math.round(r));
  }

  function bytes(n) {
    if (!n) return '0 B';
    if (n < 1024) return n + ' B';
    if (n < 1024 * 1024) return (n / 1024).toFixed(1) + ' KiB';
    return (n / 1024 / 1024).toFixed(1) + ' MiB';
  }

  function duration(s, n) {
    if (!n) return '–';
    if (s >= 10) return '≥ 10 s';
    if (s < 0.001) return Math.max(1, Math.round(s * 1e6)) + ' µs';
    if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : s < 0.1 ? 1 : 0) + ' ms';
    return s.toFixed(2) + ' s';
  }

  // Cells carry data-k, the State field they show, for tests and tools.
  function rateCell(r, kind, key) {
    return el('td', { class: 'num', 'data-k': key }, el('span', { class: r ? 'rate-' + kind : 'zero' }, rate(r)));
  }

  function numCell(n, key, cls) {
    return el('td', { class: 'num' + (cls && n ? ' ' + cls : ''), 'data-k': key }, count(n));
  }

  function chips(items, cls, text) {
    if (!items.length) return el('span', { class: 'muted' }, '–');
    const box = el('div', { class: 'chips' });
    for (const it of items) box.append(text(it, cls));
    return box;
  }

  function chip(s, cls) { return el('span', { class: 'chip ' + cls, title: s }, s); }

  function subChip(sub) {
    const c = el('span', { class: 'chip sub', title: sub.pattern + (sub.group ? ' (group ' + sub.group + ')' : '') }, sub.pattern);
    if (sub.group) c.append(el('span', { class: 'grp' }, ' · ' + sub.group));
    if (sub.partitions) c.append(el('span', { class: 'grp' }, ' · ' + sub.partitions + 'p'));
    return c;
  }

  function memberRow(m) {
    const state = Object.prototype.hasOwnProperty.call(STATES, m.state) ? m.state : 'gone';
    const departed = state === 'left' || state === 'failed' || state === 'gone';
    const name = el('td', { class: 'name', 'data-k': 'name' }, m.name);
    if (state === 'self') name.append(el('span', { class: 'tag' }, 'you'));
    let link;
    if (state === 'self') link = el('span', { class: 'muted' }, '–');
    else if (m.connected) link = el('span', { class: 'link up' }, '● connected');
    else link = el('span', { class: 'link down' }, departed ? '○ closed' : '○ not connected');
    const sec = m.secured
      ? el('span', { class: 'sec on', title: 'CURVE key ' + m.key }, el('span', { class: 'lock' }), 'CURVE')
      : el('span', { class: 'sec off', title: 'no CURVE key advertised' }, el('span', { class: 'lock open' }), 'plain');
    const t = m.traffic;
    let stateText = STATES[state];
    if (departed && m.since) stateText += ' ' + new Date(m.since).toLocaleTimeString('en-GB');
    return el('tr', { class: departed ? 'departed' : null, 'data-member': m.name },
      name,
      el('td', { 'data-k': 'state' }, el('span', { class: 'state ' + state }, stateText)),
      el('td', { class: 'mono' }, m.endpoint || '–'),
      el('td', { 'data-k': 'services' }, chips(m.services || [], 'svc', chip)),
      el('td', { 'data-k': 'subscriptions' }, chips(m.subscriptions || [], 'sub', subChip)),
      el('td', { 'data-k': 'connected' }, link),
      el('td', { 'data-k': 'secured' }, sec),
      el('td', { class: 'num', 'data-k': 'sent' }, t ? count(t.sent) : '–'),
      t ? rateCell(t.sendRate, 'send', 'sendRate') : el('td', { class: 'num muted', 'data-k': 'sendRate' }, '–'),
      el('td', { class: 'num', 'data-k': 'inFlight' }, t ? count(t.inFlight) : '–'));
  }

  function sparkline(points) {
    const w = 120, h = 26;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('width', w);
    svg.setAttribute('height', h);
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    const base = document.createElementNS(SVG, 'line');
    base.setAttribute('class', 'base');
    base.setAttribute('x1', 0);
    base.setAttribute('x2', w);
    base.setAttribute('y1', h - 1.5);
    base.setAttribute('y2', h - 1.5);
    svg.append(base);
    let top = 0;
    for (const p of points) top = Math.max(top, p.send, p.handle);
    for (const kind of ['send', 'handle']) {
      if (!points.some(p => p[kind] > 0)) continue;
      const xy = points.map((p, i) => {
        const x = w - (points.length - 1 - i) * (w / (HISTORY - 1));
        const y = h - 2 - (top ? (p[kind] / top) * (h - 6) : 0);
        return x.toFixed(1) + ',' + y.toFixed(1);
      });
      const line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('class', kind);
      line.setAttribute('points', xy.join(' '));
      svg.append(line);
    }
    return svg;
  }

  function channelRow(c) {
    const name = c.name === ''
      ? el('td', { class: 'name replies', 'data-k': 'name' }, '(replies)')
      : el('td', { class: 'name', 'data-k': 'name' }, c.name);
    const lat = c.latency || {};
    return el('tr', { 'data-channel': c.name },
      name,
      el('td', { 'data-k': 'receivers' }, chips(c.receivers || [], 'svc', chip)),
      rateCell(c.sendRate, 'send', 'sendRate'),
      rateCell(c.handleRate, 'handle', 'handleRate'),
      el('td', null, sparkline(history.get(c.name) || [])),
      numCell(c.sent, 'sent'),
      numCell(c.acked, 'acked'),
      numCell(c.handled, 'handled'),
      numCell(c.inFlight, 'inFlight'),
      numCell(c.retried, 'retried', 'warn'),
      numCell(c.deadLettered, 'deadLettered', 'bad'),
      numCell(c.duplicates, 'duplicates', 'warn'),
      numCell(c.handlerErrors, 'handlerErrors', 'bad'),
      el('td', { class: 'num', 'data-k': 'p50', title: lat.recent ? 'over the ' + count(lat.count) + ' most recent runs' : 'over every run since the peer started' }, duration(lat.p50Seconds, lat.count)),
      el('td', { class: 'num', 'data-k': 'p99' }, duration(lat.p99Seconds, lat.count)));
  }

  function securityItem(k, v, cls) {
    return el('div', { class: 'item' }, el('div', { class: 'k' }, k), el('div', { class: 'v ' + (cls || '') }, v));
  }

  function renderSecurity(s) {
    const gaps = s.insecure || [];
    const badge = $('security-badge');
    badge.className = 'badge ' + (gaps.length ? 'warn' : 'ok');
    badge.replaceChildren(el('span', { class: gaps.length ? 'lock open' : 'lock' }), gaps.length ? 'not fully secured' : 'secured');
    const box = $('security');
    box.replaceChildren(
      securityItem('Data connections', s.curve ? 'CURVE: encrypted, authenticated' : 'plain: not encrypted', s.curve ? 'ok' : 'warn'),
      s.gossip
        ? securityItem('Gossip', s.gossipEncrypted ? 'encrypted, authenticated' : 'not encrypted', s.gossipEncrypted ? 'ok' : 'warn')
        : securityItem('Gossip', 'none (static discovery)', 'muted'),
      securityItem('Members with a CURVE key', count(s.securedMembers) + ' of ' + count(s.members), s.securedMembers === s.members ? 'ok' : 'warn'),
      securityItem('Refused connections', count(s.refused) + ' not allowed · ' + count(s.unidentified) + ' wrong name', s.refused || s.unidentified ? 'bad' : ''));
    if (gaps.length) {
      const list = el('ul', { class: 'gaps' });
      for (const g of gaps) list.append(el('li', null, g));
      box.append(list);
    }
  }

  function warnValue(id, n, cls) {
    const e = $(id);
    e.textContent = count(n);
    e.className = 'value' + (n ? ' ' + cls : '');
  }

  function render(st) {
    const self = $('self');
    self.replaceChildren('peer ', el('b', null, st.self), ' · ' + (st.members.length ? st.members[0].endpoint : ''));
    document.title = st.title + ' · ' + st.self;

    const t = st.totals;
    setText('t-members', count(t.alive + 1));
    setText('t-members-sub', count(t.left) + ' left · ' + count(t.failed) + ' failed');
    setText('t-send-rate', rate(t.sendRate));
    setText('t-sent', count(t.sent) + ' sent');
    setText('t-handle-rate', rate(t.handleRate));
    setText('t-handled', count(t.handled) + ' handled');
    setText('t-inflight', count(t.inFlight));
    setText('t-buffer', bytes(t.bufferBytes) + ' buffered' + (t.retained ? ' · ' + count(t.retained) + ' retained' : ''));
    warnValue('t-retried', t.retried, 'warn');
    setText('t-failedover', count(t.failedOver) + ' failed over');
    warnValue('t-dead', t.deadLettered, 'bad');
    setText('t-rejected', count(t.rejected) + ' rejected here');
    warnValue('t-dups', t.duplicates, 'warn');
    warnValue('t-errors', t.handlerErrors, 'bad');
    setText('t-runs', 'of ' + count(t.handled + t.handlerErrors) + ' runs');

    const alive = st.members.filter(m => m.state === 'self' || m.state === 'alive').length;
    setText('members-count', alive + ' alive' + (st.members.length > alive ? ' · ' + (st.members.length - alive) + ' gone' : ''));
    $('members').tBodies[0].replaceChildren(...st.members.map(memberRow));

    const seen = new Set();
    for (const c of st.channels) {
      seen.add(c.name);
      const h = history.get(c.name) || [];
      if (st.rateWindowSeconds > 0) h.push({ send: c.sendRate || 0, handle: c.handleRate || 0 }); // else no rates yet
      if (h.length > HISTORY) h.shift();
      history.set(c.name, h);
    }
    for (const name of Array.from(history.keys())) if (!seen.has(name)) history.delete(name);
    setText('channels-count', st.channels.length ? String(st.channels.length) : '');
    $('channels').tBodies[0].replaceChildren(...st.channels.map(channelRow));
    $('channels-empty').className = st.channels.length ? 'empty hidden' : 'empty';

    renderSecurity(st.security);
    setText('footer-text', 'Rates over the last ' + st.rateWindowSeconds.toFixed(1) + ' s · refreshed every ' +
      st.refreshSeconds + ' s · counts since the peer started');
  }

  function live(ok, text) {
    $('live').className = 'live ' + (ok ? 'on' : 'off');
    setText('live-text', text);
  }

  async function tick() {
    let st = null;
    try {
      const res = await fetch(api, { cache: 'no-store', headers: { Accept: 'application/json' } });
      if (!res.ok) throw new Error('HTTP ' + res.status);
      st = await res.json();
    } catch (err) {
      live(false, 'disconnected, retrying (' + (err && err.message ? err.message : 'error') + ')');
    }
    try {
      if (st) {
        render(st);
        if (st.refreshSeconds > 0) refreshMs = st.refreshSeconds * 1000;
        live(true, 'live · ' + new Date(st.time).toLocaleTimeString('en-GB'));
      }
    } finally {
      setTimeout(tick, refreshMs);
    }
  }

  tick();
})();
