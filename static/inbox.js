// The inbox's live refresh, on the portal's inbox and on an admin's inbox
// of one tenant (the same markup). The page names its URLs on
// #inbox-live: the event stream (`data-inbox-events`, Server-Sent Events:
// "something of this business changed"), the chats needing a person as
// JSON (`data-inbox-needs`) and the list (`data-inbox-list`).
//
// On each event the page fetches itself once and swaps the parts marked
// `data-live` (never the reply box: what a person is typing stays), and
// reads the chats needing a person: their count goes in the tab's title
// and the page's badge, and a chat that starts needing a person while the
// page is open raises a browser notification, if the person opted in
// (the button asks for the permission only when clicked) and is not
// looking at this page (tab hidden or window in the background): someone
// looking at it sees the badge and the list change, and a popup over what
// they already see is noise. One notification per chat (its tag), however
// many inbox tabs are open.
//
// Quiet pages send nothing but the stream, after one read of the chats
// needing a person as the page loads. The stream's URL carries the mark
// the server took before it rendered the page (and each event its own
// mark, which the browser sends back as Last-Event-ID when it reopens a
// dropped stream): the server tells the stream at once when something
// changed after it, so nothing is missed between the render and the
// stream, and nothing is read again for nothing. Without EventSource it
// polls every 10 s while visible.
(function () {
  "use strict";
  var root = document.getElementById("inbox-live");
  if (!root || !document.querySelector("[data-live]") || !window.fetch || !window.DOMParser) {
    return;
  }
  var eventsUrl = root.getAttribute("data-inbox-events");
  var needsUrl = root.getAttribute("data-inbox-needs");
  var listUrl = root.getAttribute("data-inbox-list");
  var badge = document.getElementById("needs-human-count");
  var optIn = document.getElementById("notify-optin");
  var notifyState = document.getElementById("notify-state");
  var baseTitle = document.title;

  // `run` at most once at a time; asked again meanwhile, once more after.
  function coalesced(run) {
    var busy = false;
    var again = false;
    function go() {
      if (busy) {
        again = true;
        return;
      }
      busy = true;
      run()
        .catch(function () {})
        .then(function () {
          busy = false;
          if (again) {
            again = false;
            go();
          }
        });
    }
    return go;
  }

  function fetched(url, read) {
    return fetch(url, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return read(response);
    });
  }

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

  var refresh = coalesced(function () {
    return fetched(window.location.href, function (r) { return r.text(); }).then(swap);
  });

  // ---- chats needing a person: count, title, notifications ----

  // The ids of the chats needing a person at the last read; null before
  // the first (what already waits when the page opens is no news).
  var waiting = null;

  function showNeeds(page) {
    var items = (page && page.items) || [];
    var count = items.length;
    var label = String(count) + (page.next_cursor ? "+" : "");
    document.title = count ? "(" + label + ") " + baseTitle : baseTitle;
    if (badge) {
      badge.textContent = label + (label === "1" ? " chat needs a person" : " chats need a person");
      badge.hidden = count === 0;
    }
    var now = {};
    items.forEach(function (chat) {
      now[chat.id] = true;
      if (waiting && !waiting[chat.id]) {
        notify(chat);
      }
    });
    waiting = now;
    root.setAttribute("data-needs-human", label);
  }

  var readNeeds = coalesced(function () {
    return fetched(needsUrl, function (r) { return r.json(); }).then(showNeeds);
  });

  function notify(chat) {
    var Notice = window.Notification;
    if (!Notice || Notice.permission !== "granted") {
      return;
    }
    if (!document.hidden && document.hasFocus()) {
      return;
    }
    try {
      var notice = new Notice("A chat needs a person", {
        body: (chat.contact_name || chat.chat) + ": " + chat.preview,
        tag: "flowhq-needs-human-" + chat.id,
      });
      notice.onclick = function () {
        window.focus();
        window.location.href = listUrl + "/" + encodeURIComponent(chat.id);
      };
    } catch (e) {
      // Some mobile browsers only notify from a service worker: the badge
      // and the title still tell.
    }
  }

  function showOptIn() {
    var Notice = window.Notification;
    if (!optIn || !notifyState) {
      return;
    }
    var permission = Notice ? Notice.permission : "unsupported";
    optIn.hidden = permission !== "default";
    notifyState.hidden = permission === "default";
    notifyState.textContent =
      permission === "granted"
        ? "Browser notifications are on."
        : permission === "denied"
          ? "Browser notifications are blocked for this site (the browser's site settings can allow them)."
          : "This browser cannot show notifications.";
  }

  if (optIn) {
    optIn.addEventListener("click", function () {
      var Notice = window.Notification;
      if (!Notice) {
        return;
      }
      // Older Safari takes a callback and returns nothing.
      var asked = Notice.requestPermission(showOptIn);
      if (asked && asked.then) {
        asked.then(showOptIn, showOptIn);
      }
    });
  }
  showOptIn();
  readNeeds();

  if (window.EventSource) {
    var events = new EventSource(eventsUrl);
    events.addEventListener("changed", function () {
      refresh();
      readNeeds();
    });
    events.addEventListener("open", function () {
      document.documentElement.setAttribute("data-live-stream", "open");
    });
    return;
  }
  window.setInterval(function () {
    if (!document.hidden) {
      refresh();
      readNeeds();
    }
  }, 10000);
})();
