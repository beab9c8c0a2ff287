// Live refresh of the admin tenant page. Progressive enhancement: without
// this script the page is complete, only static. Every 2 s while the tab is
// visible it reads the page's `/live` JSON and updates in place the status
// badges, restart count, last error, the QR code (shown only while a scan is
// awaited) and the sandbox chat. When other buttons apply (the bot stopped,
// the tenant was linked), it reloads the page, unless a form was edited.
(function () {
  'use strict';
  var card = document.getElementById('bot');
  if (!card || !window.fetch) return;
  var url = card.getAttribute('data-live');
  var controls = card.getAttribute('data-controls');
  var edited = false, stopped = false, busy = false, timer = null, chatKey = null;

  document.addEventListener('input', function () { edited = true; });

  function $(id) { return document.getElementById(id); }

  // `12:34:56` of an RFC 3339 time in UTC, as the server renders it.
  function clock(iso) { return iso ? new Date(iso).toISOString().slice(11, 19) : ''; }

  function badge(id, status) {
    var el = $(id) && $(id).querySelector('.badge');
    if (!el || !status) return;
    el.className = 'badge badge-' + status.toLowerCase();
    el.textContent = status.replace(/_/g, ' ');
  }

  function text(id, value, empty) {
    var el = $(id);
    if (!el) return;
    var none = value === null || value === undefined || value === '';
    el.textContent = none ? empty : String(value);
    el.classList.toggle('muted', none);
  }

  function time(iso) {
    var el = document.createElement('time');
    el.setAttribute('datetime', iso);
    el.textContent = clock(iso);
    return el;
  }

  function qr(live) {
    var panel = $('qr-panel'), img = $('qr-img'), expires = $('qr-expires');
    if (!panel || !img) return;
    var showing = live.session_state === 'QR_READY' && !!live.qr;
    if (showing && img.getAttribute('src') !== live.qr) img.setAttribute('src', live.qr);
    if (showing && expires && live.expires_at) expires.replaceChildren(time(live.expires_at), ' UTC');
    panel.hidden = !showing;
  }

  function bubble(m) {
    var inbound = m.direction === 'IN';
    var el = document.createElement('div');
    el.className = inbound ? 'msg in' : 'msg out';
    var meta = document.createElement('span');
    meta.className = 'meta';
    meta.append(inbound ? m.from : '→ ' + m.to, ' · ', time(m.created_at),
      ' · ' + String(m.status).toLowerCase());
    el.append(m.text, meta);
    return el;
  }

  function chat(messages) {
    var box = $('chat');
    if (!box) return;
    var key = JSON.stringify(messages);
    if (key === chatKey) return;
    chatKey = key;
    var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    var empty = document.createElement('p');
    empty.className = 'muted chat-empty';
    empty.textContent = 'No messages yet.';
    box.replaceChildren.apply(box, messages.length ? messages.map(bubble) : [empty]);
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  function apply(live) {
    if (live.controls !== controls && !edited) { stopped = true; location.reload(); return; }
    badge('tenant-status', live.tenant_status);
    badge('bot-worker', live.stale ? 'STALE' : live.worker_status);
    badge('bot-session', live.session_state);
    text('bot-restarts', live.restart_count, '0');
    text('bot-error', live.last_error, 'none');
    text('bot-linked', live.linked_phone, '—');
    qr(live);
    chat(live.messages || []);
  }

  function schedule() {
    if (!stopped && !busy && !timer && !document.hidden) timer = setTimeout(poll, 2000);
  }

  function poll() {
    timer = null;
    if (stopped || document.hidden) return;
    busy = true;
    fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) {
        // Signed out: the answer is the sign-in page. Stop; a reload shows it.
        if (response.redirected) stopped = true;
        if (!response.ok || response.redirected) throw new Error('HTTP ' + response.status);
        return response.json();
      })
      .then(apply)
      .catch(function () { /* try again at the next tick */ })
      .then(function () { busy = false; schedule(); });
  }

  document.addEventListener('visibilitychange', function () {
    if (document.hidden) { clearTimeout(timer); timer = null; } else if (!busy && !timer) poll();
  });
  var box = $('chat');
  if (box) box.scrollTop = box.scrollHeight;
  schedule();
})();
