// Live refresh of the portal's status page, on top of live.js. Progressive
// enhancement: without this script the page is complete, only static. Every
// 2 s while the tab is visible it reads the tenant's status JSON and updates in
// place the badges (in the words the page gives in `data-labels`), why the
// bot is offline while it retries, restart count, last problem and linked
// phone; while WhatsApp waits for a scan it
// also reads the QR JSON and shows the newest code (or the pairing code to
// type), and hides it once linked. When the tenant's or the request's status
// (approved, linked, rejected…) or the transport changes, other sections
// apply: the JSON's `page_key` then differs from the page's `data-key`, and
// it reloads the page.
(function () {
  'use strict';
  var L = window.FlowLive;
  var root = document.getElementById('portal-status');
  if (!root || !L) return;
  var qrUrl = root.getAttribute('data-qr');
  var key = root.getAttribute('data-key');
  var labels = {};
  try { labels = JSON.parse(root.getAttribute('data-labels')) || {}; } catch (e) { /* codes then */ }

  function words(kind, code) { return labels[kind] && labels[kind][code]; }

  function apply(live) {
    // Other sections apply (the tenant's or the request's status, the
    // transport changed): the server says so with another `page_key`. The
    // script never computes the key itself, so the two cannot drift apart.
    if (live.page_key !== key) { L.reload(); return null; }
    var worker = live.worker.stale ? 'STALE' : live.worker.status;
    L.badge('bot-worker', worker, words('worker', worker));
    L.badge('bot-session', live.session.state, words('session', live.session.state));
    L.note('bot-offline', live.session.offline_reason);
    L.text('bot-restarts', live.worker.restart_count, '0');
    L.text('bot-error', live.worker.last_error, 'none');
    L.text('bot-linked', live.session.linked_phone, '—');
    if (live.session.state === 'QR_READY') {
      return L.getJson(qrUrl).then(function (qr) {
        L.qr(qr.state, qr.qr, qr.expires_at, qr.pairing_code);
      });
    }
    L.qr(live.session.state, null);
    return null;
  }

  L.poll(root.getAttribute('data-live'), apply);
})();
