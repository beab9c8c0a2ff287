// Shared helpers of the live-refresh scripts (admin.js, portal.js), loaded
// before them. Defines `window.FlowLive` (left undefined without `fetch`, so
// the pages stay static): element helpers, the JSON fetch that stops polling
// once signed out, the QR panel, and the poll loop: every 2 s while the tab
// is visible, never two requests at once, again at once when the tab shows.
(function () {
  'use strict';
  if (!window.fetch) return;
  // Page-wide: once signed out or reloading, every loop stops.
  var stopped = false;

  function $(id) { return document.getElementById(id); }

  // `12:34:56` of an RFC 3339 time, as the server renders it: in the IANA
  // zone `tz` (the portal's tenant zone), else in UTC (the admin console).
  function clock(iso, tz) {
    if (!iso) return '';
    if (tz && window.Intl) {
      try {
        return new Intl.DateTimeFormat('en-GB', {
          timeZone: tz, hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23'
        }).format(new Date(iso));
      } catch (e) { /* an unknown zone: UTC below */ }
    }
    return new Date(iso).toISOString().slice(11, 19);
  }

  function time(iso, tz) {
    var el = document.createElement('time');
    el.setAttribute('datetime', iso);
    el.textContent = clock(iso, tz);
    return el;
  }

  // `label`: the words to show (the portal's); else the code itself.
  function badge(id, status, label) {
    var el = $(id) && $(id).querySelector('.badge');
    if (!el || !status) return;
    el.className = 'badge badge-' + status.toLowerCase();
    el.textContent = label || status.replace(/_/g, ' ');
  }

  function text(id, value, empty) {
    var el = $(id);
    if (!el) return;
    var none = value === null || value === undefined || value === '';
    el.textContent = none ? empty : String(value);
    el.classList.toggle('muted', none);
  }

  // A `dt`/`dd` pair (`id` names the `dd`) shown only while `value` says
  // something.
  function note(id, value) {
    var el = $(id);
    if (!el) return;
    var none = value === null || value === undefined || value === '';
    el.textContent = none ? '' : String(value);
    el.hidden = none;
    var label = el.previousElementSibling;
    if (label && label.tagName === 'DT') label.hidden = none;
  }

  function stop() { stopped = true; }

  // Other sections apply: show them (and stop polling meanwhile).
  function reload() { stopped = true; location.reload(); }

  function getJson(url) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (response) {
        // Signed out: the answer is a 401 or the sign-in page. Stop; a
        // reload shows it.
        if (response.status === 401 || response.redirected) stopped = true;
        if (!response.ok || response.redirected) throw new Error('HTTP ' + response.status);
        return response.json();
      });
  }

  // `ABCD-EFGH`: a pairing code grouped as the phone shows it.
  function grouped(code) {
    return code.length === 8 ? code.slice(0, 4) + '-' + code.slice(4) : code;
  }

  // The QR panel (`qr-panel`, `qr-img`, `qr-expires`): shown with the newest
  // code while the session `state` awaits a scan, hidden otherwise. When
  // WhatsApp Web links by phone number, the `pairing` code (`qr-pairing`,
  // `pairing-code`, with its steps `qr-how-pair`) replaces the QR image
  // (and its steps `qr-how-scan`). The expiry is in the zone `qr-expires`
  // names in `data-tz`, else in UTC.
  function qr(state, code, expiresAt, pairing) {
    var panel = $('qr-panel'), img = $('qr-img'), expires = $('qr-expires');
    if (!panel || !img) return;
    var waiting = state === 'QR_READY';
    var byCode = waiting && !!pairing;
    var showing = byCode || (waiting && !!code);
    if (showing && !byCode && img.getAttribute('src') !== code) img.setAttribute('src', code);
    img.hidden = byCode;
    var box = $('qr-pairing'), text = $('pairing-code');
    if (box) box.hidden = !byCode;
    if (text && byCode && text.textContent !== grouped(pairing)) text.textContent = grouped(pairing);
    if ($('qr-how-scan')) $('qr-how-scan').hidden = byCode;
    if ($('qr-how-pair')) $('qr-how-pair').hidden = !byCode;
    if (showing && expires && expiresAt) {
      var tz = expires.getAttribute('data-tz');
      expires.replaceChildren(time(expiresAt, tz), tz ? ' (' + tz + ')' : ' UTC');
    }
    panel.hidden = !showing;
  }

  // Runs `step` (which may return a promise) 2 s after the previous run
  // settled, while the tab is visible; a failed run is retried next tick.
  function start(step) {
    var busy = false, timer = null;

    function schedule() {
      if (!stopped && !busy && !timer && !document.hidden) timer = setTimeout(run, 2000);
    }

    function run() {
      timer = null;
      if (stopped || document.hidden) return;
      busy = true;
      new Promise(function (resolve) { resolve(step()); })
        .catch(function () { /* try again at the next tick */ })
        .then(function () { busy = false; schedule(); });
    }

    document.addEventListener('visibilitychange', function () {
      if (document.hidden) { clearTimeout(timer); timer = null; } else if (!busy && !timer) run();
    });
    schedule();
  }

  // Polls `url`'s JSON and hands it to `apply` (which may return a promise).
  function poll(url, apply) {
    start(function () { return getJson(url).then(apply); });
  }

  window.FlowLive = {
    $: $, clock: clock, time: time, badge: badge, text: text, note: note,
    getJson: getJson, qr: qr, stop: stop, reload: reload, start: start, poll: poll
  };
})();
