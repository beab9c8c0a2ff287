// The inbox's live refresh. The server's event stream (Server-Sent Events,
// /api/portal/events) says "something of your business changed"; the page
// then fetches itself once and swaps the parts marked `data-live` (never
// the reply box: what a person is typing stays). Quiet pages send nothing
// but the stream (and one catch-up fetch each time it opens, every 5
// minutes). Without EventSource it polls every 10 s while visible.
(function () {
  "use strict";
  if (!document.querySelector("[data-live]") || !window.fetch || !window.DOMParser) {
    return;
  }
  var busy = false;
  var again = false;

  function swap(text) {
    var fresh = new DOMParser().parseFromString(text, "text/html");
    document.querySelectorAll("[data-live]").forEach(function (part) {
      var name = part.getAttribute("data-live");
      var next = fresh.querySelector('[data-live="' + name + '"]');
      // Unchanged parts stay as they are (focus, a click under way).
      if (next && next.outerHTML !== part.outerHTML) {
        part.replaceWith(document.importNode(next, true));
      }
    });
    document.documentElement.setAttribute("data-refreshed", String(Date.now()));
  }

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) {
          throw new Error("HTTP " + response.status);
        }
        return response.text();
      })
      .then(swap)
      .catch(function () {})
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  if (window.EventSource) {
    var events = new EventSource("/api/portal/events");
    events.addEventListener("changed", refresh);
    // What changed between the page's render (or the last stream) and
    // this stream's start was told to nobody: catch up once per open.
    events.addEventListener("open", function () {
      document.documentElement.setAttribute("data-live-stream", "open");
      refresh();
    });
    return;
  }
  window.setInterval(function () {
    if (!document.hidden) {
      refresh();
    }
  }, 10000);
})();
