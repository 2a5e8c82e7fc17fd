// The status page: polls /api/v1/status every second, acts with POST requests that carry
// the X-Tend-Request header (tend-web refuses changes without it), and follows one log over
// Server-Sent Events. Every text from the server goes in as textContent, never as HTML.
'use strict';
(function () {
  const tbody = document.querySelector('#procs tbody');
  const result = document.getElementById('result');
  const conn = document.getElementById('conn');
  let follow = null;

  function uptime(s) {
    if (!s) return '-';
    const d = Math.floor(s / 86400), h = Math.floor(s / 3600) % 24;
    const m = Math.floor(s / 60) % 60, sec = s % 60;
    const t = h + ':' + String(m).padStart(2, '0') + ':' + String(sec).padStart(2, '0');
    return d ? d + 'd ' + t : t;
  }

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function button(td, label, fn) {
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.dataset.action = label;
    b.addEventListener('click', fn);
    td.appendChild(b);
  }

  async function act(name, action) {
    result.textContent = action + ' ' + name + '...';
    try {
      const r = await fetch('/api/v1/processes/' + encodeURIComponent(name) + '/' + action, {
        method: 'POST', headers: {'X-Tend-Request': '1'}, credentials: 'same-origin'});
      const j = await r.json();
      result.textContent = (j.messages || []).concat(j.error ? [j.error] : []).join('; ');
    } catch (e) {
      result.textContent = action + ' ' + name + ' failed: ' + e;
    }
    refresh();
  }

  function showLog(name) {
    if (follow) follow.close();
    const pre = document.getElementById('log');
    pre.textContent = '';
    document.getElementById('logname').textContent = name;
    document.getElementById('logbox').hidden = false;
    follow = new EventSource('/api/v1/processes/' + encodeURIComponent(name) +
                             '/log/follow?lines=100');
    const add = (text) => {
      const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(text + '\n'));
      while (pre.childNodes.length > 2000) pre.removeChild(pre.firstChild);
      if (atEnd) pre.scrollTop = pre.scrollHeight;
    };
    follow.onmessage = (e) => add(JSON.parse(e.data));
    follow.addEventListener('note', (e) => add('[' + JSON.parse(e.data) + ']'));
    follow.addEventListener('end', (e) => {
      const why = JSON.parse(e.data);
      if (why) add('[' + why + ']');
      follow.close();
    });
  }

  document.getElementById('logclose').addEventListener('click', () => {
    if (follow) follow.close();
    follow = null;
    document.getElementById('logbox').hidden = true;
  });

  // Rows are kept and updated in place, so a button does not vanish under the pointer
  // between two refreshes.
  const rows = new Map();

  function makeRow(name) {
    const tr = document.createElement('tr');
    tr.dataset.name = name;
    cell(tr, name);
    for (const f of ['state', 'pid', 'uptime', 'restarts', 'health'])
      cell(tr, '').dataset.field = f;
    const td = cell(tr, '');
    for (const a of ['start', 'stop', 'restart'])
      button(td, a, () => act(name, a));
    button(td, 'log', () => showLog(name));
    return tr;
  }

  function set(tr, field, text, cls) {
    const td = tr.querySelector(`td[data-field="${field}"]`);
    if (td.textContent !== text) td.textContent = text;
    td.className = cls || '';
  }

  function render(procs) {
    const seen = new Set();
    let prev = null;
    for (const p of procs) {
      seen.add(p.name);
      let tr = rows.get(p.name);
      if (!tr) {
        tr = makeRow(p.name);
        rows.set(p.name, tr);
      }
      set(tr, 'state', p.state, p.state);
      set(tr, 'pid', p.pid ? String(p.pid) : '-');
      set(tr, 'uptime', uptime(p.uptime));
      set(tr, 'restarts', String(p.restarts));
      set(tr, 'health', p.health || '', p.health === 'failing' ? 'bad' : '');
      tr.title = p.reason || '';
      const want = prev ? prev.nextSibling : tbody.firstChild;
      if (want !== tr) tbody.insertBefore(tr, want);
      prev = tr;
    }
    for (const [name, tr] of rows) {
      if (!seen.has(name)) {
        tr.remove();
        rows.delete(name);
      }
    }
  }

  async function refresh() {
    try {
      const r = await fetch('/api/v1/status', {credentials: 'same-origin'});
      if (!r.ok) throw new Error('HTTP ' + r.status);
      render(await r.json());
      conn.textContent = 'live';
      conn.className = 'ok';
    } catch (e) {
      conn.textContent = 'disconnected: ' + e.message;
      conn.className = 'bad';
    }
  }

  fetch('/api/v1/version', {credentials: 'same-origin'}).then((r) => r.json()).then((v) => {
    document.getElementById('about').textContent = 'version ' + v.version + ', pid ' + v.pid;
  }).catch(() => {});
  refresh();
  setInterval(refresh, 1000);
})();
