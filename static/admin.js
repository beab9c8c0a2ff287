// Live refresh of the admin tenant page, on top of live.js. Progressive
// enhancement: without this script the page is complete, only static. Every
// 2 s while the tab is visible it reads the page's `/live` JSON and updates in
// place the status badges, why the transport is offline (while it retries),
// restart count, last error, the QR code or the pairing code (shown only
// while a link is awaited), the sandbox chat and
// the Recent messages card (which the server renders: the JSON carries its
// HTML). When other buttons apply (the bot stopped, the tenant was linked),
// it reloads the page, unless a form was edited.
(function () {
  'use strict';
  var L = window.FlowLive;
  var card = document.getElementById('bot');
  if (!card || !L) return;
  var controls = card.getAttribute('data-controls');
  var edited = false, chatKey = null, recentHtml = null;

  document.addEventListener('input', function () { edited = true; });

  function bubble(m) {
    var inbound = m.direction === 'IN';
    var el = document.createElement('div');
    el.className = inbound ? 'msg in' : 'msg out';
    var meta = document.createElement('span');
    meta.className = 'meta';
    meta.append(inbound ? m.from : '→ ' + m.to, ' · ', L.time(m.created_at),
      ' · ' + String(m.status).toLowerCase());
    // In its own element, which keeps the text's line breaks (app.css).
    var text = document.createElement('span');
    text.className = 'msg-text';
    text.textContent = m.text;
    el.append(text, meta);
    return el;
  }

  function chat(messages) {
    var box = L.$('chat');
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

  // The card's inside as the server renders it (escaped there, like the
  // page itself): replaced only when it changed.
  function recent(html) {
    var box = L.$('recent-messages');
    if (!box || typeof html !== 'string' || html === recentHtml) return;
    recentHtml = html;
    box.innerHTML = html;
  }

  function apply(live) {
    if (live.controls !== controls && !edited) { L.reload(); return; }
    L.badge('tenant-status', live.tenant_status);
    L.badge('bot-worker', live.stale ? 'STALE' : live.worker_status);
    L.badge('bot-session', live.session_state);
    L.note('bot-offline', live.offline_reason);
    L.text('bot-restarts', live.restart_count, '0');
    L.text('bot-error', live.last_error, 'none');
    L.text('bot-linked', live.linked_phone, '—');
    L.qr(live.session_state, live.qr, live.expires_at, live.pairing_code);
    chat(live.messages || []);
    recent(live.recent_messages);
  }

  var box = L.$('chat');
  if (box) box.scrollTop = box.scrollHeight;
  L.poll(card.getAttribute('data-live'), apply);
})();
