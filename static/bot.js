// The "Bot" page, the portal's (/portal/bot) and the console's
// (/admin/tenants/{id}/bot): what the bot knows, read from and saved through
// the JSON twin whose root the page names in `data-api` (/api/portal or
// /api/admin/tenants/{id}: …/knowledge and friends), "Try your bot" and, in
// the portal, the sandbox customer chat. No inline script or style (strict
// CSP): elements are built with the DOM, texts set with textContent only.
(function () {
  "use strict";
  var root = document.getElementById("bot-page");
  if (!root || !root.dataset.api || !window.fetch) {
    return;
  }
  var API = root.dataset.api;
  var doc = { facts: { extra: {} }, services: [], faq: [], answers: {} };
  var FACTS = [
    ["address", "Address"],
    ["maps_url", "Maps link"],
    ["phone", "Phone"],
    ["email", "Email"],
    ["website", "Website"],
    ["booking_url", "Booking link"],
    ["payment", "Payment methods"],
    ["delivery", "Delivery / pick-up"],
  ];

  function $(id) {
    return document.getElementById(id);
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === "text") {
        node.textContent = attrs[key];
      } else if (key === "checked") {
        node.checked = !!attrs[key];
      } else if (key === "value") {
        node.value = attrs[key] == null ? "" : attrs[key];
      } else {
        node.setAttribute(key, attrs[key]);
      }
    });
    (children || []).forEach(function (child) {
      node.appendChild(child);
    });
    return node;
  }

  function field(label, input) {
    var id = input.id || "f-" + Math.random().toString(36).slice(2);
    input.id = id;
    return el("div", { class: "field" }, [el("label", { for: id, text: label }), input]);
  }

  function call(method, path, body) {
    var options = { method: method, credentials: "same-origin", headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(API + path, options).then(function (response) {
      return response.text().then(function (text) {
        var data = text ? JSON.parse(text) : null;
        if (!response.ok) {
          var error = new Error((data && data.message) || "HTTP " + response.status);
          error.data = data;
          throw error;
        }
        return data;
      });
    });
  }

  function say(id, text) {
    $(id).textContent = text;
  }

  function problems(error) {
    var fields = (error.data && error.data.fields) || {};
    var lines = Object.keys(fields).map(function (key) {
      return key + " " + fields[key];
    });
    return [error.message].concat(lines).join("\n");
  }

  // ---- facts ----
  function renderFacts() {
    var box = $("facts-fields");
    box.textContent = "";
    FACTS.forEach(function (pair) {
      var input = el("input", { type: "text", id: "fact-" + pair[0], value: doc.facts[pair[0]] });
      box.appendChild(field(pair[1], input));
    });
    var extra = $("extra-list");
    extra.textContent = "";
    Object.keys(doc.facts.extra || {}).forEach(function (key) {
      addExtra(key, doc.facts.extra[key]);
    });
  }

  function addExtra(key, value) {
    var row = el("div", { class: "actions extra-row" }, [
      el("input", { type: "text", class: "extra-key", placeholder: "key (e.g. parking)", value: key, "aria-label": "Key" }),
      el("input", { type: "text", class: "extra-value", placeholder: "value", value: value, "aria-label": "Value" }),
    ]);
    var remove = el("button", { type: "button", text: "Remove" });
    remove.addEventListener("click", function () {
      row.remove();
    });
    row.appendChild(remove);
    $("extra-list").appendChild(row);
  }

  // ---- services ----
  function serviceRow(service) {
    var row = el("div", { class: "card service-row" }, [
      field("Name", el("input", { type: "text", class: "service-name", value: service.name })),
      field("Description", el("input", { type: "text", class: "service-description", value: service.description })),
      field("Price", el("input", { type: "text", class: "service-price", inputmode: "decimal", value: service.price })),
      field("Currency", el("input", { type: "text", class: "service-currency", maxlength: "3", value: service.currency || "EUR" })),
      field("Duration (minutes)", el("input", { type: "number", min: "1", max: "1440", class: "service-duration", value: service.duration_minutes })),
      field("Active", el("input", { type: "checkbox", class: "service-active", checked: service.active !== false })),
    ]);
    var actions = el("div", { class: "actions" });
    [
      ["Up", function () { if (row.previousElementSibling) { row.parentNode.insertBefore(row, row.previousElementSibling); } }],
      ["Down", function () { if (row.nextElementSibling) { row.parentNode.insertBefore(row.nextElementSibling, row); } }],
      ["Remove", function () { row.remove(); }],
    ].forEach(function (pair) {
      var button = el("button", { type: "button", text: pair[0] });
      button.addEventListener("click", pair[1]);
      actions.appendChild(button);
    });
    row.appendChild(actions);
    return row;
  }

  function renderServices() {
    var list = $("service-list");
    list.textContent = "";
    doc.services.forEach(function (service) {
      list.appendChild(serviceRow(service));
    });
  }

  // ---- FAQ ----
  function faqRow(entry) {
    var language = el("select", { class: "faq-language" }, [
      el("option", { value: "", text: "Any language" }),
      el("option", { value: "en", text: "English" }),
      el("option", { value: "de", text: "Deutsch" }),
      el("option", { value: "es", text: "Español" }),
      el("option", { value: "fr", text: "Français" }),
    ]);
    language.value = entry.language || "";
    var row = el("div", { class: "card faq-row" }, [
      field("Question", el("input", { type: "text", class: "faq-question", value: entry.question })),
      field("Words or phrases it is asked with (comma-separated)", el("input", { type: "text", class: "faq-triggers", value: (entry.triggers || []).join(", ") })),
      field("Answer", el("textarea", { class: "faq-answer", rows: "3", value: entry.answer })),
      field("Language", language),
      field("Enabled", el("input", { type: "checkbox", class: "faq-enabled", checked: entry.enabled !== false })),
    ]);
    var remove = el("button", { type: "button", text: "Remove" });
    remove.addEventListener("click", function () {
      row.remove();
    });
    row.appendChild(el("div", { class: "actions" }, [remove]));
    return row;
  }

  function renderFaq() {
    var list = $("faq-list");
    list.textContent = "";
    doc.faq.forEach(function (entry) {
      list.appendChild(faqRow(entry));
    });
  }

  /// A new FAQ entry for a question nothing answered: filled in, the
  /// answer left to write, then "Save".
  function makeFaq(text, key) {
    var row = faqRow({ question: text, triggers: [key || text], answer: "", enabled: true });
    $("faq-list").appendChild(row);
    row.scrollIntoView({ block: "center" });
    row.querySelector(".faq-answer").focus();
    say("save-status", "Write the answer, then save.");
  }

  // ---- collect and save ----
  function collect() {
    var facts = { extra: {} };
    FACTS.forEach(function (pair) {
      facts[pair[0]] = $("fact-" + pair[0]).value;
    });
    document.querySelectorAll(".extra-row").forEach(function (row) {
      var key = row.querySelector(".extra-key").value.trim();
      if (key) {
        facts.extra[key] = row.querySelector(".extra-value").value;
      }
    });
    var services = [];
    document.querySelectorAll(".service-row").forEach(function (row) {
      var get = function (name) {
        return row.querySelector(".service-" + name);
      };
      services.push({
        name: get("name").value,
        description: get("description").value,
        price: get("price").value.trim() || null,
        currency: get("currency").value.trim() || null,
        duration_minutes: get("duration").value ? Number(get("duration").value) : null,
        active: get("active").checked,
      });
    });
    var faq = [];
    document.querySelectorAll(".faq-row").forEach(function (row) {
      faq.push({
        question: row.querySelector(".faq-question").value,
        triggers: row.querySelector(".faq-triggers").value.split(",").map(function (t) {
          return t.trim();
        }).filter(Boolean),
        answer: row.querySelector(".faq-answer").value,
        language: row.querySelector(".faq-language").value || null,
        enabled: row.querySelector(".faq-enabled").checked,
      });
    });
    var ai = {
      enabled: $("ai-enabled").checked,
      tone: $("ai-tone").value,
      rules: $("ai-rules").value.split("\n").map(function (r) { return r.trim(); }).filter(Boolean),
    };
    return { facts: facts, services: services, faq: faq, answers: doc.answers, ai: ai };
  }

  function save() {
    say("save-status", "Saving…");
    call("PUT", "/knowledge", collect())
      .then(function (saved) {
        doc = saved;
        renderAll();
        say("save-status", "Saved. Your bot answers with it now.");
        loadAnswers();
        loadUnanswered();
      })
      .catch(function (error) {
        say("save-status", problems(error));
      });
  }

  // ---- answers ----
  var answers = [];
  function loadAnswers() {
    return call("GET", "/knowledge/answers").then(function (list) {
      answers = list;
      renderAnswers();
    });
  }

  function renderAnswers() {
    var language = $("answer-language").value;
    var list = $("answer-list");
    list.textContent = "";
    answers
      .filter(function (a) {
        return a.language === language;
      })
      .forEach(function (answer) {
        var path = "/knowledge/answers/" + answer.key + "/" + answer.language;
        var text = el("textarea", { rows: "3", class: "answer-text", "data-key": answer.key, value: answer.text == null ? answer.default : answer.text });
        var status = el("p", { class: "muted", text: answer.text == null ? "Built-in default" : "Your wording" });
        var saveButton = el("button", { type: "button", text: "Save" });
        saveButton.addEventListener("click", function () {
          call("PUT", path, { text: text.value })
            .then(function (saved) { doc = saved; return loadAnswers(); })
            .catch(function (error) { status.textContent = problems(error); });
        });
        var reset = el("button", { type: "button", text: "Reset to default" });
        reset.addEventListener("click", function () {
          // With a body: a session's write must be application/json.
          call("DELETE", path, {})
            .then(function (saved) { doc = saved; return loadAnswers(); })
            .catch(function (error) { status.textContent = problems(error); });
        });
        var actions = el("div", { class: "actions" }, [saveButton, reset]);
        if (answer.versions.length) {
          var versions = el("select", { "aria-label": "Earlier versions" });
          answer.versions.forEach(function (v) {
            var label = new Date(v.created_at).toLocaleString() + ": " + (v.text == null ? "(default)" : v.text.slice(0, 40));
            versions.appendChild(el("option", { value: String(v.id), text: label }));
          });
          var restore = el("button", { type: "button", text: "Restore" });
          restore.addEventListener("click", function () {
            call("POST", "/knowledge/answers/versions/" + versions.value + "/restore", {})
              .then(function (saved) { doc = saved; return loadAnswers(); })
              .catch(function (error) { status.textContent = problems(error); });
          });
          actions.appendChild(versions);
          actions.appendChild(restore);
        }
        list.appendChild(el("div", { class: "card answer-row" }, [field(answer.label, text), status, actions]));
      });
  }

  // ---- unanswered ----
  function loadUnanswered() {
    return call("GET", "/knowledge/unanswered").then(function (body) {
      var list = $("unanswered-list");
      list.textContent = "";
      if (!body.items.length) {
        list.appendChild(el("p", { class: "muted", text: "Nothing so far." }));
      }
      body.items.forEach(function (q) {
        var make = el("button", { type: "button", class: "make-faq", text: "Make an FAQ entry" });
        make.addEventListener("click", function () {
          makeFaq(q.text, q.key);
        });
        var dismiss = el("button", { type: "button", text: "Dismiss" });
        dismiss.addEventListener("click", function () {
          call("DELETE", "/knowledge/unanswered/" + q.id, {}).then(loadUnanswered);
        });
        list.appendChild(el("div", { class: "actions unanswered-row" }, [
          el("span", { text: q.text }),
          el("span", { class: "badge", text: q.count + "×" }),
          make,
          dismiss,
        ]));
      });
    });
  }

  // ---- try your bot ----
  function describe(answer) {
    if (answer.rule === "faq") {
      return "Answered by your FAQ entry “" + answer.detail + "”";
    }
    if (answer.rule === "intent") {
      return "Answered by the built-in answer: " + answer.detail;
    }
    if (answer.rule === "ai") {
      return answer.detail === "handoff"
        ? "The AI handed this chat to a person"
        : "Answered by AI from your facts, services and questions";
    }
    if (answer.ai_note) {
      return "Nothing else covers this, and " + answer.ai_note;
    }
    return "Nothing covers this: the help menu";
  }

  function tryBot(event) {
    event.preventDefault();
    var text = $("try-text").value;
    var body = { text: text };
    if ($("try-at").value) {
      body.at = $("try-at").value;
    }
    call("POST", "/try", body)
      .then(function (answer) {
        var item = el("li", { class: "try-answer", "data-rule": answer.rule }, [
          el("p", { class: "try-question", text: "You: " + text }),
        ]);
        answer.replies.forEach(function (reply) {
          item.appendChild(el("pre", { class: "try-reply", text: reply }));
        });
        item.appendChild(el("p", { class: "muted try-rule", text: describe(answer) + (answer.open ? " (open)" : " (closed)") }));
        if (answer.rule === "help_menu") {
          var make = el("button", { type: "button", class: "make-faq", text: "Make an FAQ entry" });
          make.addEventListener("click", function () {
            makeFaq(text, "");
          });
          item.appendChild(make);
        }
        $("try-log").prepend(item);
        $("try-text").value = "";
      })
      .catch(function (error) {
        $("try-log").prepend(el("li", { class: "try-error", text: problems(error) }));
      });
  }

  // ---- sandbox customer (portal only) ----
  var sandboxTimer = null;
  function pollOutbox() {
    var from = $("sandbox-from").value.trim();
    call("GET", "/tenant/current/sandbox/outbox").then(function (sent) {
      var log = $("sandbox-log");
      log.textContent = "";
      sent.filter(function (m) { return m.to === from; }).forEach(function (m) {
        log.appendChild(el("li", { class: "sandbox-reply" }, [el("pre", { text: m.text })]));
      });
    }).catch(function () {});
  }

  function sandboxSend(event) {
    event.preventDefault();
    call("POST", "/tenant/current/sandbox/inbound", { from: $("sandbox-from").value.trim(), text: $("sandbox-text").value })
      .then(function () {
        say("sandbox-status", "Sent. The bot's answers appear below.");
        $("sandbox-text").value = "";
        pollOutbox();
        if (!sandboxTimer) {
          sandboxTimer = window.setInterval(function () {
            if (!document.hidden) { pollOutbox(); }
          }, 2000);
        }
      })
      .catch(function (error) {
        say("sandbox-status", problems(error));
      });
  }

  function renderAi() {
    var ai = doc.ai || { enabled: false, tone: "", rules: [] };
    $("ai-enabled").checked = !!ai.enabled;
    $("ai-tone").value = ai.tone || "";
    $("ai-rules").value = (ai.rules || []).join("\n");
  }

  function renderAll() {
    renderFacts();
    renderServices();
    renderFaq();
    renderAi();
  }

  $("add-extra").addEventListener("click", function () { addExtra("", ""); });
  $("add-service").addEventListener("click", function () {
    $("service-list").appendChild(serviceRow({ active: true, currency: "EUR" }));
  });
  $("add-faq").addEventListener("click", function () {
    $("faq-list").appendChild(faqRow({ enabled: true }));
  });
  $("save-knowledge").addEventListener("click", save);
  $("answer-language").addEventListener("change", renderAnswers);
  $("try-form").addEventListener("submit", tryBot);
  // The sandbox customer chat is the portal's only (its routes are the
  // session's tenant's); the console has its own on the tenant's page.
  if ($("sandbox-form")) {
    $("sandbox-form").addEventListener("submit", sandboxSend);
  }

  call("GET", "/knowledge")
    .then(function (loaded) {
      doc = loaded;
      renderAll();
      document.documentElement.setAttribute("data-bot-ready", "1");
      return Promise.all([loadAnswers(), loadUnanswered()]);
    })
    .catch(function (error) {
      say("bot-status", problems(error));
    });
})();
