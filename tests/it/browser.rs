//! The pages in a real browser (headless Chromium over WebDriver, see
//! `helpers::chromium`): what their scripts do, how they lay out, what the
//! browser itself brings (its time zone). Each test starts its own app and
//! its own browser, and skips when Chromium is not installed (unless
//! `FLOWHQ_BROWSER_TESTS=required`).
//!
//! The pattern for a new one: `let Some(chromium) = Chromium::launch(&app)
//! .await else { return };`, sign in with `sign_in_admin` / `sign_in_owner`,
//! `goto` the page, act like a person (`type_into`, `click`), then
//! `wait_until` a JavaScript condition holds. Never a fixed sleep, except
//! `observe` for a claim about a whole span of time.

use std::time::Duration;

use crate::bots::{
    approve_always_open, approved_tenant, bot, customer_writes, start_and_link, wait_for_qr,
};
use crate::helpers::{Chromium, ChromiumOptions, eventually, phone, spawn_app};

/// Whether the page in the browser is still the load `mark_page` marked.
const SAME_LOAD: &str = "window.__flowhqMarker === 'this page load'";

#[tokio::test]
async fn a_portal_status_page_left_open_is_not_reloaded_and_keeps_its_flash() {
    let app = spawn_app().await;
    let Some(chromium) = Chromium::launch(&app).await else {
        return;
    };
    chromium.sign_in_owner(&app, "ann@example.com").await;

    // The owner sends the setup request: the status page says so in a flash.
    chromium.goto("/portal/onboarding").await;
    chromium.type_into("#business_name", "Salon Ann").await;
    chromium.type_into("#whatsapp_number", &phone(1)).await;
    chromium
        .click(r#"form[action="/portal/onboarding"] button[type=submit]"#)
        .await;
    let flash = "document.querySelector('.flash-success')";
    chromium
        .wait_until(
            "the status page with the 'request sent' flash",
            &format!(
                "location.pathname === '/portal/status' && {flash} \
                 && {flash}.textContent.includes('request was sent')"
            ),
        )
        .await;
    chromium.mark_page().await;

    // Ten seconds, five polls of the live status: the same page load all along.
    let same_load =
        format!("{SAME_LOAD} && performance.getEntriesByType('navigation')[0].type === 'navigate'");
    let observed = chromium.observe(Duration::from_secs(10), &same_load).await;
    assert!(
        observed.failed.is_empty(),
        "the page was reloaded: {} of {} checks found another page load (the first: {:?})",
        observed.failed.len(),
        observed.held + observed.failed.len(),
        observed.failed.first()
    );
    let polls = chromium
        .js("return performance.getEntriesByType('resource')
                .filter(e => e.name.includes('/api/portal/tenant/current/status')).length;")
        .await;
    assert!(
        polls.as_u64().unwrap() >= 3,
        "the script kept polling the live status meanwhile: {polls} polls"
    );
    let shown = chromium
        .js(&format!(
            "const f = {flash}; return !!f && f.offsetParent !== null \
             && f.textContent.includes('request was sent');"
        ))
        .await;
    assert_eq!(shown, true, "the flash is still shown after 10 s");
}

#[tokio::test]
async fn a_customer_message_appears_in_the_admins_recent_messages_without_a_reload() {
    let app = spawn_app().await;
    let Some(chromium) = Chromium::launch(&app).await else {
        return;
    };
    let id = approved_tenant(&app, 21).await;
    start_and_link(&app, id).await;
    chromium.sign_in_admin(&app).await;
    chromium.goto(&format!("/admin/tenants/{id}")).await;
    chromium
        .wait_until(
            "an empty Recent messages card",
            "document.getElementById('recent-messages').innerText.includes('No messages yet')",
        )
        .await;
    chromium.mark_page().await;

    customer_writes(
        &app,
        id,
        "+4917600000021",
        "Do you sell gift cards?",
        "m-21",
    )
    .await;

    chromium
        .wait_until(
            "the customer's message in Recent messages",
            "document.getElementById('recent-messages').innerText.includes('Do you sell gift cards?')",
        )
        .await;
    assert_eq!(
        chromium.js(&format!("return {SAME_LOAD};")).await,
        true,
        "updated in place, not by reloading the page"
    );
}

/// How many lines the browser shows of `reply` where `selector` finds
/// it: `innerText` keeps a line break only where the CSS keeps it, while
/// `textContent` (which finds the element) has them all.
async fn shown_lines(chromium: &Chromium, what: &str, selector: &str, reply: &str) -> usize {
    let text = chromium
        .wait_until(
            what,
            &format!(
                "[...document.querySelectorAll({selector:?})]
                    .find(e => e.textContent.trim() === {reply:?})?.innerText"
            ),
        )
        .await;
    text.as_str().unwrap().trim().lines().count()
}

#[tokio::test]
async fn multi_line_replies_keep_their_line_breaks_in_the_chat_recent_messages_and_portal_logs() {
    let app = spawn_app().await;
    let Some(chromium) = Chromium::launch(&app).await else {
        return;
    };
    let owner = chromium.sign_in_owner(&app, "lee@example.com").await;
    let id = owner.tenant_id.into();
    approve_always_open(&app, id).await;
    start_and_link(&app, id).await;
    chromium.sign_in_admin(&app).await;
    chromium.goto(&format!("/admin/tenants/{id}")).await;
    chromium.mark_page().await;

    // The welcome, then the opening hours: a title and a line a weekday.
    let question = "What are your opening hours?";
    customer_writes(&app, id, "+4917600000022", question, "m-22").await;
    let reply = eventually("the bot's opening hours", || async {
        let (_, outbox) = app
            .api_get(&format!("/api/admin/tenants/{id}/sandbox/outbox"))
            .await;
        let texts = outbox.as_array()?.iter().filter_map(|m| m["text"].as_str());
        texts
            .filter(|text| text.contains('\n'))
            .map(str::to_owned)
            .next()
    })
    .await;
    let lines = reply.lines().count();
    assert_eq!(lines, 8, "a title and seven days: {reply}");

    // Put in by admin.js, then rendered by the server after a reload.
    for loaded in ["updated live", "rendered by the server"] {
        let what = format!("the reply in the chat, {loaded}");
        let shown = shown_lines(&chromium, &what, "#chat .msg-text", &reply).await;
        assert_eq!(shown, lines, "{what}");
        let what = format!("the reply in Recent messages, {loaded}");
        let shown = shown_lines(&chromium, &what, "#recent-messages .m-text", &reply).await;
        assert_eq!(shown, lines, "{what}");
        if loaded == "updated live" {
            let same = chromium.js(&format!("return {SAME_LOAD};")).await;
            assert_eq!(same, true, "{loaded}: not by a reload");
        }
        chromium.goto(&format!("/admin/tenants/{id}")).await;
    }

    chromium.goto("/portal/logs").await;
    let what = "the reply in the portal's logs";
    assert_eq!(shown_lines(&chromium, what, ".m-text", &reply).await, lines);
}

/// Whether the element `selector` finds lies within the viewport's width,
/// as laid out now (no scrolling of the page or of a table first).
async fn within_the_width(chromium: &Chromium, selector: &str) -> serde_json::Value {
    chromium
        .js(&format!(
            "const e = document.querySelector({selector:?});
             if (!e) return 'missing';
             const r = e.getBoundingClientRect();
             return r.width > 0 && r.left >= 0 && r.right <= window.innerWidth
                 || `${{r.left}}..${{r.right}} of ${{window.innerWidth}}`;"
        ))
        .await
}

#[tokio::test]
async fn on_a_phone_a_setup_requests_approve_and_reject_buttons_are_on_the_screen() {
    let app = spawn_app().await;
    let phone_screen = ChromiumOptions {
        phone: Some((390, 844)),
        ..ChromiumOptions::default()
    };
    let Some(chromium) = Chromium::launch_with(&app, phone_screen).await else {
        return;
    };
    let tenant = app.new_tenant(41).await;
    let request = app.submit_setup_request(tenant, &phone(41)).await;
    chromium.sign_in_admin(&app).await;
    chromium.goto("/admin/setup-requests").await;
    assert_eq!(
        chromium.js("return window.innerWidth;").await,
        390,
        "a phone's width"
    );

    let approve = format!(r#"form[action="/admin/setup-requests/{request}/approve"] button"#);
    assert_eq!(within_the_width(&chromium, &approve).await, true, "Approve");
    let reject_toggle =
        format!(r#"form[action="/admin/setup-requests/{request}/approve"] ~ details summary"#);
    assert_eq!(
        within_the_width(&chromium, &reject_toggle).await,
        true,
        "Reject…"
    );
    chromium.click(&reject_toggle).await;
    let reject = format!(r#"form[action="/admin/setup-requests/{request}/reject"] button"#);
    assert_eq!(within_the_width(&chromium, &reject).await, true, "Reject");
}

/// The time zone field's value.
const ZONE_FIELD: &str = "document.getElementById('timezone').value";

/// Waits until the time zone field holds `zone`.
async fn zone_shown(chromium: &Chromium, what: &str, zone: &str) {
    chromium
        .wait_until(what, &format!("{ZONE_FIELD} === {zone:?}"))
        .await;
}

#[tokio::test]
async fn a_new_form_starts_with_the_browsers_time_zone_and_a_stored_one_stays() {
    let app = spawn_app().await;
    let in_tokyo = ChromiumOptions {
        timezone: Some("Asia/Tokyo"),
        ..ChromiumOptions::default()
    };
    let Some(chromium) = Chromium::launch_with(&app, in_tokyo).await else {
        return;
    };
    let zone = "Intl.DateTimeFormat().resolvedOptions().timeZone";
    assert_eq!(chromium.js(&format!("return {zone};")).await, "Asia/Tokyo");
    chromium.sign_in_admin(&app).await;

    // The admin's create form: the browser's zone, and it is what is stored.
    chromium.goto("/admin/tenants/new").await;
    zone_shown(
        &chromium,
        "the browser's zone in the new form",
        "Asia/Tokyo",
    )
    .await;
    chromium.type_into("#name", "Tokyo Salon").await;
    chromium.type_into("#phone_number", &phone(51)).await;
    chromium.type_into("#business_name", "Tokyo Salon KK").await;
    chromium
        .click(r#"form[action="/admin/tenants"] button[type=submit]"#)
        .await;
    let created = chromium
        .wait_until(
            "the new tenant's page",
            "/^\\/admin\\/tenants\\/[0-9a-f-]{36}$/.test(location.pathname) && location.pathname",
        )
        .await;
    let id: uuid::Uuid = created.as_str().unwrap()["/admin/tenants/".len()..]
        .parse()
        .unwrap();
    assert_eq!(app.tenant(id).await["config"]["timezone"], "Asia/Tokyo");

    // A stored zone is never replaced: the edit form of a Berlin tenant.
    let berlin = app.new_tenant(52).await;
    // (`goto` returns after the load event: the page's scripts have run.)
    chromium.goto(&format!("/admin/tenants/{berlin}")).await;
    assert_eq!(
        chromium.js(&format!("return {ZONE_FIELD};")).await,
        "Europe/Berlin"
    );

    // The owner's first setup request, and the stored settings.
    chromium.sign_in_owner(&app, "kai@example.com").await;
    chromium.goto("/portal/onboarding").await;
    zone_shown(
        &chromium,
        "the browser's zone in the setup request",
        "Asia/Tokyo",
    )
    .await;
    chromium.goto("/portal/settings").await;
    assert_eq!(chromium.js(&format!("return {ZONE_FIELD};")).await, "UTC");
}

/// Opens `path` and waits until `ready` (a JavaScript expression) holds:
/// the page loaded and its scripts did what they do first.
async fn visit(chromium: &Chromium, path: &str, ready: &str) {
    chromium.goto(path).await;
    chromium
        .wait_until(
            &format!("{path} ready"),
            &format!("location.pathname && ({ready})"),
        )
        .await;
}

/// The QR image shows a `data:` URI (the policy's `img-src` allows them).
const QR_SHOWN: &str = "document.getElementById('qr-img')?.src.startsWith('data:image/') \
    && !document.getElementById('qr-panel').hidden";

/// A live page's event stream is open (its script runs).
const STREAM_OPEN: &str = "document.documentElement.getAttribute('data-live-stream') === 'open'";
/// The Bot page's script read the tenant's knowledge and drew its forms.
const BOT_READY: &str = "document.documentElement.getAttribute('data-bot-ready') === '1'";

/// The id of the tenant's most recently active conversation.
async fn first_conversation(app: &crate::helpers::TestApp, id: uuid::Uuid) -> String {
    let (status, body) = app
        .api_get(&format!("/api/admin/tenants/{id}/conversations"))
        .await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    match &body["items"][0]["id"] {
        serde_json::Value::String(id) => id.clone(),
        serde_json::Value::Number(id) => id.to_string(),
        other => panic!("no conversation: {other} in {body}"),
    }
}

#[tokio::test]
async fn pages_run_without_a_content_security_policy_violation() {
    let app = spawn_app().await;
    let Some(chromium) = Chromium::launch(&app).await else {
        return;
    };
    // Signed out: the home page, the sign-in pages, an error page.
    for path in ["/", "/admin/login", "/portal", "/no-such-page"] {
        visit(&chromium, path, "document.body").await;
    }

    // An owner's pages: before approval, then waiting for a link (the QR
    // code, polled by the page's script), then linked with a conversation.
    let owner = chromium.sign_in_owner(&app, "csp@example.com").await;
    let id = owner.tenant_id.into();
    visit(
        &chromium,
        "/portal/onboarding",
        "document.getElementById('timezone').value",
    )
    .await;
    approve_always_open(&app, id).await;
    let (status, body) = bot(&app, id, "start").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    wait_for_qr(&app, id).await;
    visit(&chromium, "/portal/status", QR_SHOWN).await;
    // A form post that redirects back (`form-action 'self'`).
    chromium
        .click(r#"form[action="/portal/status/sandbox-scan"] button[type=submit]"#)
        .await;
    chromium
        .wait_until(
            "the linked status page",
            "location.pathname === '/portal/status' && !!document.querySelector('.flash-success')",
        )
        .await;
    customer_writes(
        &app,
        id,
        "+4917600000061",
        "Do you sell gift cards?",
        "m-61",
    )
    .await;
    for (path, ready) in [
        ("/portal", "document.body"),
        (
            "/portal/logs",
            "document.body.innerText.includes('gift cards')",
        ),
        ("/portal/settings", "document.getElementById('timezone')"),
        ("/portal/inbox", STREAM_OPEN),
        ("/portal/bot", BOT_READY),
        ("/portal/team", "document.body"),
        ("/portal/webhooks", "document.body"),
        ("/portal/api-keys", "document.body"),
        ("/portal/usage", "document.body"),
    ] {
        visit(&chromium, path, ready).await;
    }
    // The thread (its stream and script), and an endpoint's delivery log.
    let conversation = first_conversation(&app, id).await;
    visit(
        &chromium,
        &format!("/portal/inbox/{conversation}"),
        &format!("{STREAM_OPEN} && document.getElementById('thread-messages').innerText.includes('gift cards')"),
    )
    .await;
    let (endpoint, _) =
        crate::webhooks::endpoint(&app, id, "http://127.0.0.1:9/hooks", &["message.received"])
            .await;
    visit(
        &chromium,
        &format!("/portal/webhooks/{endpoint}"),
        "document.body",
    )
    .await;

    // The console: every list and form, and a tenant page whose script puts
    // the server's HTML for new messages in place.
    chromium.sign_in_admin(&app).await;
    let waiting = approved_tenant(&app, 62).await;
    let (status, body) = bot(&app, waiting, "start").await;
    assert_eq!(status, reqwest::StatusCode::OK, "{body}");
    for path in [
        "/admin",
        "/admin/tenants",
        "/admin/tenants/new",
        "/admin/setup-requests",
        "/admin/audit",
        "/admin/tokens",
        "/admin/plans",
    ] {
        visit(&chromium, path, "document.body").await;
    }
    for path in [
        format!("/admin/tenants/{id}/webhooks"),
        format!("/admin/tenants/{id}/webhooks/{endpoint}"),
    ] {
        visit(&chromium, &path, "document.body").await;
    }
    visit(&chromium, &format!("/admin/tenants/{waiting}"), QR_SHOWN).await;
    visit(&chromium, &format!("/admin/tenants/{id}/bot"), BOT_READY).await;
    visit(
        &chromium,
        &format!("/admin/tenants/{id}/inbox/{conversation}"),
        STREAM_OPEN,
    )
    .await;
    visit(
        &chromium,
        &format!("/admin/tenants/{id}"),
        "document.getElementById('recent-messages')",
    )
    .await;
    customer_writes(&app, id, "+4917600000061", "And vouchers?", "m-62").await;
    chromium
        .wait_until(
            "the new message in Recent messages, put in by the script",
            "document.getElementById('recent-messages').innerText.includes('And vouchers?')",
        )
        .await;
    // The tenant's inbox in the console: its stream open, the script's
    // JSON read (the count of chats needing a person).
    visit(
        &chromium,
        &format!("/admin/tenants/{id}/inbox"),
        "document.documentElement.getAttribute('data-live-stream') === 'open' \
         && document.getElementById('inbox-live').hasAttribute('data-needs-human')",
    )
    .await;

    // Last, an inline script the policy must refuse: the browser reports it
    // after everything above (so the log is complete up to here), and it
    // shows the log does report violations.
    chromium
        .js("const s = document.createElement('script'); \
             s.textContent = 'window.__inlineRan = true'; document.body.append(s); return null;")
        .await;
    let mut log = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let probe = loop {
        log.extend(chromium.console_log().await);
        if let Some(at) = log
            .iter()
            .position(|m| m.message.contains("inline script") && m.is_csp_violation())
        {
            break at;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the refused inline script never reached the console: {log:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        chromium.js("return window.__inlineRan === true;").await,
        false,
        "the inline script did not run"
    );
    let violations: Vec<_> = log[..probe]
        .iter()
        .filter(|m| m.is_csp_violation())
        .map(|m| format!("{} {}", m.level, m.message))
        .collect();
    assert!(
        violations.is_empty(),
        "the pages broke the policy:\n{}",
        violations.join("\n")
    );
}

/// The inbox, as an owner uses it in a real browser: a customer's message
/// arrives live, asking for a person flags the chat, the owner takes over
/// and replies (delivered through the sandbox, the bot silent), hands back,
/// and the bot answers again: all on pages that update without a reload.
#[tokio::test]
async fn an_owner_works_a_chat_in_the_inbox_live_from_arrival_to_hand_back() {
    let app = spawn_app().await;
    let Some(chromium) = Chromium::launch(&app).await else {
        return;
    };
    let owner = chromium.sign_in_owner(&app, "ines@example.com").await;
    let id = owner.tenant_id.into();
    approve_always_open(&app, id).await;
    start_and_link(&app, id).await;
    let customer = "+4917600000077";

    chromium.goto("/portal/inbox").await;
    chromium
        .wait_until(
            "the event stream open",
            "document.documentElement.getAttribute('data-live-stream') === 'open'",
        )
        .await;
    // A quiet page reads nothing but its stream: the chats needing a
    // person once as it loads, and the page itself never again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        chromium
            .js("return [performance.getEntriesByType('resource')
                    .filter(e => e.initiatorType === 'fetch').length,
                  document.documentElement.hasAttribute('data-refreshed')];")
            .await,
        serde_json::json!([1, false]),
        "a quiet inbox read more than the chats needing a person"
    );
    chromium.mark_page().await;
    customer_writes(&app, id, customer, "Do you have gift cards?", "ib-1").await;
    chromium
        .wait_until(
            "the new conversation in the list",
            "document.getElementById('inbox-list').innerText.includes('Do you have gift cards?') \
             || document.getElementById('inbox-list').innerText.includes('Welcome')",
        )
        .await;
    customer_writes(&app, id, customer, "I want to talk to a human", "ib-2").await;
    chromium
        .wait_until(
            "the chat flagged as needing a person",
            "document.querySelector('#inbox-list .conversation.needs-human') !== null",
        )
        .await;
    assert_eq!(
        chromium.js(&format!("return {SAME_LOAD};")).await,
        true,
        "the list updated in place, not by a reload"
    );
    chromium.screenshot("inbox-list").await;

    // Open the thread: the request is there, with the bot's promise.
    chromium.click("#inbox-list .conversation a").await;
    chromium
        .wait_until(
            "the thread with the customer's request",
            "document.getElementById('thread-messages')?.innerText.includes('I want to talk to a human')",
        )
        .await;
    chromium.click("#thread-state form button").await; // already HUMAN: "Hand back"
    chromium
        .wait_until(
            "handed back to the bot",
            "document.getElementById('thread-state')?.innerText.includes('The bot answers this chat')",
        )
        .await;
    chromium.click("#thread-state form button").await; // "Take over"
    chromium
        .wait_until(
            "taken over",
            "document.getElementById('thread-state')?.innerText.includes('A person has this chat')",
        )
        .await;

    // The owner's reply goes out through the sandbox, shown as sent.
    chromium
        .type_into("#text", "Hi, this is Ines. Yes we do!")
        .await;
    chromium.click("form.reply button").await;
    chromium
        .wait_until(
            "the reply shown as sent",
            "[...document.querySelectorAll('#thread-messages .message-out')]
                .some(m => m.innerText.includes('Hi, this is Ines') && m.innerText.includes('sent'))",
        )
        .await;
    chromium.screenshot("inbox-thread").await;
    let delivered = eventually("the reply in the customer's WhatsApp", || async {
        let (_, outbox) = app
            .api_get(&format!("/api/admin/tenants/{id}/sandbox/outbox"))
            .await;
        outbox
            .as_array()?
            .iter()
            .any(|m| m["to"] == customer && m["text"] == "Hi, this is Ines. Yes we do!")
            .then_some(())
    })
    .await;
    assert_eq!(delivered, ());

    // The customer answers: it arrives live, and the bot stays silent.
    chromium.mark_page().await;
    let sent_before = outbox_to(&app, id, customer).await;
    customer_writes(&app, id, customer, "Great, how much are they?", "ib-3").await;
    chromium
        .wait_until(
            "the customer's answer, live",
            "document.getElementById('thread-messages').innerText.includes('Great, how much are they?')",
        )
        .await;
    assert_eq!(chromium.js(&format!("return {SAME_LOAD};")).await, true);
    assert_eq!(
        outbox_to(&app, id, customer).await,
        sent_before,
        "the bot spoke while a person had the chat"
    );

    // Hand back: the bot answers again, live.
    chromium.click("#thread-state form button").await;
    chromium
        .wait_until(
            "handed back",
            "document.getElementById('thread-state')?.innerText.includes('The bot answers this chat')",
        )
        .await;
    chromium.mark_page().await;
    customer_writes(&app, id, customer, "What are your opening hours?", "ib-4").await;
    chromium
        .wait_until(
            "the bot's answer, live",
            "[...document.querySelectorAll('#thread-messages .message-out')]
                .some(m => m.innerText.startsWith('Bot') && m.innerText.includes('Monday'))",
        )
        .await;
    assert_eq!(chromium.js(&format!("return {SAME_LOAD};")).await, true);
}

/// How many messages the sandbox customer `to` has received.
async fn outbox_to(app: &crate::helpers::TestApp, id: uuid::Uuid, to: &str) -> usize {
    let (_, outbox) = app
        .api_get(&format!("/api/admin/tenants/{id}/sandbox/outbox"))
        .await;
    outbox
        .as_array()
        .map_or(0, |all| all.iter().filter(|m| m["to"] == to).count())
}

/// What the inbox test puts in place of the browser's notifications (a
/// headless browser shows none): `window.Notification` records what it is
/// asked to show in `__notifications`, starts with the permission not yet
/// asked (`default`) and grants it when asked (`__permissionAsked` counts).
/// `__away = true` is the person looking elsewhere: the tab hidden, the
/// window without focus.
const NOTIFICATION_STUB: &str = r#"(function () {
  var permission = "default";
  window.__notifications = [];
  window.__permissionAsked = 0;
  window.__away = false;
  function Recorded(title, options) {
    options = options || {};
    window.__notifications.push({ title: title, body: options.body || "", tag: options.tag || "" });
  }
  Object.defineProperty(Recorded, "permission", { get: function () { return permission; } });
  Recorded.requestPermission = function () {
    window.__permissionAsked += 1;
    permission = "granted";
    return Promise.resolve(permission);
  };
  window.Notification = Recorded;
  Object.defineProperty(Document.prototype, "hidden", {
    configurable: true,
    get: function () { return window.__away; },
  });
  Document.prototype.hasFocus = function () { return !window.__away; };
})();"#;

/// An admin's inbox of one tenant, left open: customers' messages arrive
/// without a reload, the count of chats needing a person is in the badge
/// and the tab's title, and a chat that starts needing a person raises a
/// browser notification only once the admin opted in, and only while they
/// look elsewhere. The notifications are `NOTIFICATION_STUB`'s, installed
/// before the page's scripts run.
#[tokio::test]
async fn an_admins_inbox_updates_live_and_notifies_when_a_chat_starts_needing_a_person() {
    let app = spawn_app().await;
    let Some(chromium) = Chromium::launch(&app).await else {
        return;
    };
    chromium.before_each_page(NOTIFICATION_STUB).await;
    let id = approved_tenant(&app, 23).await;
    start_and_link(&app, id).await;
    chromium.sign_in_admin(&app).await;
    chromium.goto(&format!("/admin/tenants/{id}")).await;
    chromium.click("#tenant-inbox").await;
    chromium
        .wait_until(
            "the tenant's inbox with its event stream open",
            &format!(
                "location.pathname === '/admin/tenants/{id}/inbox' \
                 && document.documentElement.getAttribute('data-live-stream') === 'open' \
                 && document.getElementById('inbox-live').getAttribute('data-needs-human') === '0'"
            ),
        )
        .await;
    assert_eq!(
        chromium
            .js("return !document.getElementById('notify-optin').hidden \
                 && window.__permissionAsked === 0 && document.getElementById('needs-human-count').hidden;")
            .await,
        true,
        "the opt-in offered, the permission not asked, no count shown"
    );
    chromium.mark_page().await;

    // A customer writes: the list shows it without a reload.
    customer_writes(
        &app,
        id,
        "+4917600000231",
        "Do you sell gift cards?",
        "an-1",
    )
    .await;
    chromium
        .wait_until(
            "the customer's message in the list",
            "document.getElementById('inbox-list').innerText.includes('+4917600000231')",
        )
        .await;
    // They ask for a person: the count, in the badge and the title; no
    // notification, as nobody allowed one.
    customer_writes(
        &app,
        id,
        "+4917600000231",
        "I want to talk to a human",
        "an-2",
    )
    .await;
    chromium
        .wait_until(
            "one chat needing a person, in the badge and the title",
            "document.getElementById('inbox-live').getAttribute('data-needs-human') === '1' \
             && document.title.startsWith('(1) ') \
             && document.getElementById('needs-human-count').innerText === '1 chat needs a person' \
             && document.querySelector('#inbox-list .conversation.needs-human') !== null",
        )
        .await;
    assert_eq!(
        chromium.js("return window.__notifications.length;").await,
        0,
        "a notification without permission"
    );

    // The admin opts in: asked once, on the click.
    chromium.click("#notify-optin").await;
    chromium
        .wait_until(
            "notifications on",
            "Notification.permission === 'granted' \
             && document.getElementById('notify-optin').hidden \
             && document.getElementById('notify-state').innerText.includes('notifications are on')",
        )
        .await;
    assert_eq!(chromium.js("return window.__permissionAsked;").await, 1);

    // Looking at the page: the badge says it, no popup over it.
    customer_writes(
        &app,
        id,
        "+4917600000232",
        "I want to talk to a human",
        "an-3",
    )
    .await;
    chromium
        .wait_until(
            "two chats needing a person",
            "document.getElementById('inbox-live').getAttribute('data-needs-human') === '2' \
             && document.title.startsWith('(2) ')",
        )
        .await;
    assert_eq!(
        chromium.js("return window.__notifications.length;").await,
        0,
        "a popup while the admin looks at the page"
    );

    // Looking elsewhere: the next chat needing a person is a notification.
    chromium.js("window.__away = true; return null;").await;
    customer_writes(
        &app,
        id,
        "+4917600000233",
        "I want to talk to a human",
        "an-4",
    )
    .await;
    let notified = chromium
        .wait_until(
            "a notification",
            "window.__notifications.length > 0 && window.__notifications",
        )
        .await;
    let notified = notified.as_array().unwrap();
    assert_eq!(notified.len(), 1, "one notification per chat: {notified:?}");
    assert_eq!(notified[0]["title"], "A chat needs a person");
    assert!(
        notified[0]["body"]
            .as_str()
            .unwrap()
            .contains("+4917600000233"),
        "{notified:?}"
    );
    chromium
        .wait_until(
            "three chats needing a person",
            "document.getElementById('inbox-live').getAttribute('data-needs-human') === '3' \
             && document.title.startsWith('(3) ')",
        )
        .await;
    assert_eq!(
        chromium.js(&format!("return {SAME_LOAD};")).await,
        true,
        "all of it without reloading the page"
    );
}
