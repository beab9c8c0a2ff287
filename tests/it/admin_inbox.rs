//! The admin console's inbox of one tenant (`/admin/tenants/{id}/inbox…`):
//! the portal's pages per tenant, worked with the console's session and
//! CSRF tokens; what an admin does is recorded as the admin's. Isolation
//! (another tenant's chat under this tenant's id, a portal session) is in
//! `portal_isolation`; the live page in a real browser in `browser`.

use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

use crate::bots::{customer_writes, linked_tenant, outbox};
use crate::helpers::{Browser, TestApp, attribute_values, csrf_of, eventually, flash_of, location};
use crate::inbox::{base, messages_when, settled};

const CUSTOMER: &str = "+4917600000052";

fn inbox_of(id: Uuid) -> String {
    format!("/admin/tenants/{id}/inbox")
}

/// The tenant's one conversation as the JSON twin has it, once `done`.
async fn conversation_when(
    app: &TestApp,
    id: Uuid,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    eventually(what, || async {
        let (status, body) = app.api_get(&base(id)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"]
            .as_array()?
            .first()
            .filter(|c| done(c))
            .cloned()
    })
    .await
}

/// Posts a form of the thread page (with the token the page carries) and
/// returns the thread it redirects back to, with its flash.
async fn post_on_thread(admin: &Browser, thread: &str, action: &str, text: Option<&str>) -> String {
    let page = admin.page(thread).await;
    let mut form = vec![("csrf_token", csrf_of(&page))];
    if let Some(text) = text {
        form.push(("text", text.to_owned()));
    }
    let response = admin.post_form(&format!("{thread}/{action}"), &form).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {action}");
    assert_eq!(location(&response), thread);
    admin.page(thread).await
}

#[tokio::test]
async fn an_admin_works_a_tenants_chat_from_the_console_inbox_as_the_admin() {
    let (app, id) = spawn_app_linked().await;
    customer_writes(&app, id, CUSTOMER, "hello", "ai-1").await;
    customer_writes(&app, id, CUSTOMER, "I want to talk to a human", "ai-2").await;
    let flagged = conversation_when(&app, id, "the chat flagged", |c| {
        c["needs_human"] == true && c["unread"].as_i64() == Some(2)
    })
    .await;
    let cid = flagged["id"].clone();
    messages_when(&app, id, &cid, "both answered", |m| settled(m, 2)).await;
    let admin = app.signed_in_browser().await;

    // The tenant page leads to the inbox.
    let tenant_page = admin.page(&format!("/admin/tenants/{id}")).await;
    assert!(
        tenant_page.contains(&format!("href=\"{}\"", inbox_of(id))),
        "no link to the inbox on the tenant page"
    );

    // The list: the chat, flagged, linking to the console's thread; the
    // script's URLs are the admin's of this tenant.
    let list = admin.page(&inbox_of(id)).await;
    let thread = format!("{}/{cid}", inbox_of(id));
    assert!(list.contains(CUSTOMER), "{list}");
    assert!(list.contains("Needs a person"), "{list}");
    assert!(list.contains(&format!("href=\"{thread}\"")), "{list}");
    assert!(
        list.contains(&format!(
            "data-inbox-events=\"/api/admin/tenants/{id}/events?since="
        )),
        "{list}"
    );
    assert!(
        list.contains(&format!(
            "data-inbox-needs=\"/api/admin/tenants/{id}/conversations?filter=needs_human\""
        )),
        "{list}"
    );
    assert!(
        !list.contains("/portal/inbox"),
        "a portal link on the console: {list}"
    );
    let filtered = admin.page(&format!("{}?filter=bot", inbox_of(id))).await;
    assert!(
        !filtered.contains(CUSTOMER),
        "a HUMAN chat under 'With the bot'"
    );

    // The thread: the request, and the unread count left to the tenant's people.
    let page = admin.page(&thread).await;
    assert!(page.contains("I want to talk to a human"), "{page}");
    assert!(page.contains("A person has this chat"), "{page}");
    assert!(
        page.contains(&format!("action=\"{thread}/hand-back\"")),
        "{page}"
    );
    let after = conversation_when(&app, id, "the conversation", |_| true).await;
    assert_eq!(
        after["unread"], 2,
        "an admin's look cleared the unread count"
    );

    // Hand back, then take over: through the console's routes, as the admin.
    let page = post_on_thread(&admin, &thread, "hand-back", None).await;
    assert!(page.contains("The bot answers this chat"), "{page}");
    assert_eq!(
        flash_of(&page).map(|(_, text)| text),
        Some("Handed back: the bot answers this chat again.".to_owned())
    );
    let page = post_on_thread(&admin, &thread, "take-over", None).await;
    assert!(page.contains("A person has this chat"), "{page}");
    assert!(
        page.contains("(admin (admin))"),
        "the switch names the admin: {page}"
    );

    // A form without the session's token changes nothing.
    let response = admin
        .post_form(&format!("{thread}/hand-back"), &[("csrf_token", "forged")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let (_, conversation) = app.api_get(&format!("{}/{cid}", base(id))).await;
    assert_eq!(conversation["mode"], "HUMAN", "{conversation}");

    // The admin's reply goes out through the tenant's bot, signed as the admin.
    let page = post_on_thread(&admin, &thread, "reply", Some("Hello from support")).await;
    assert_eq!(
        flash_of(&page).map(|(_, text)| text),
        Some("Sent to the customer's WhatsApp.".to_owned())
    );
    let messages = messages_when(&app, id, &cid, "the admin's reply sent", |m| {
        m.last()
            .is_some_and(|m| m["text"] == "Hello from support" && m["status"] == "SENT")
    })
    .await;
    assert_eq!(messages.last().unwrap()["author"], "admin (admin)");
    assert!(
        outbox(&app, id)
            .await
            .iter()
            .any(|m| m["to"] == CUSTOMER && m["text"] == "Hello from support"),
        "the reply did not reach the customer"
    );
    let (_, audit) = app
        .api_get(&format!("/api/admin/audit?tenant_id={id}"))
        .await;
    let reply_entry = audit["items"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["event_type"] == "conversation.reply")
        .unwrap_or_else(|| panic!("no audit entry for the reply: {audit}"));
    assert_eq!(reply_entry["actor"], "admin:admin", "{reply_entry}");

    // An empty reply is refused in words, on the thread.
    let page = post_on_thread(&admin, &thread, "reply", Some("   ")).await;
    let (kind, text) = flash_of(&page).expect("a flash");
    assert_eq!(kind, "error");
    assert!(text.starts_with("Your reply"), "{text}");
}

#[tokio::test]
async fn the_console_inbox_s_script_reads_the_admin_json_and_events_on_the_session_cookie() {
    let (app, id) = spawn_app_linked().await;
    customer_writes(&app, id, CUSTOMER, "I want to talk to a human", "aj-1").await;
    let flagged =
        conversation_when(&app, id, "the chat flagged", |c| c["needs_human"] == true).await;
    let admin = app.signed_in_browser().await;

    // The GETs the page's script makes, with the cookie and nothing else.
    let response = admin.get(&format!("{}?filter=needs_human", base(id))).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["items"][0]["id"], flagged["id"], "{body}");

    let mut events = admin.get(&format!("/api/admin/tenants/{id}/events")).await;
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(
        events.headers()["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let opening = events.chunk().await.unwrap().expect("the stream's opening");
    assert!(
        String::from_utf8_lossy(&opening).contains(": connected"),
        "{opening:?}"
    );
    // Something of the tenant changes: the stream says so.
    customer_writes(&app, id, CUSTOMER, "hello?", "aj-2").await;
    let changed = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        let mut seen = String::new();
        while let Some(chunk) = events.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("event: changed") {
                return seen;
            }
        }
        seen
    })
    .await
    .expect("no event within 20 s");
    assert!(changed.contains("event: changed"), "{changed}");
    drop(events);

    // A cookie alone never writes to the admin API: the console writes
    // with forms and their CSRF tokens.
    let response = admin
        .client
        .post(admin.url(&format!("{}/{}/take-over", base(id), flagged["id"])))
        .header("origin", admin.url(""))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // Signed out, the stream and the JSON are 401.
    let stranger = app.browser();
    assert_eq!(
        stranger
            .get(&format!("/api/admin/tenants/{id}/events"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        stranger.get(&base(id)).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

/// The event stream URL a page names (with the mark taken as it rendered).
fn events_url_of(page: &str) -> String {
    attribute_values(page, "div", "data-inbox-events")
        .into_iter()
        .next()
        .expect("no event stream on the page")
}

/// The first chunk of the stream at `url`: its opening, and a `changed`
/// event in it when the server says the page is behind.
async fn stream_opening(admin: &Browser, url: &str, last_event_id: Option<&str>) -> String {
    let mut request = admin.client.get(admin.url(url));
    if let Some(id) = last_event_id {
        request = request.header("Last-Event-ID", id);
    }
    let mut response = request.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{url}");
    let opening = response
        .chunk()
        .await
        .unwrap()
        .expect("the stream's opening");
    String::from_utf8_lossy(&opening).into_owned()
}

/// A page's stream tells it at once only of what changed after the page
/// was read, and a stream the browser reopens (with the last event's id)
/// only of what changed since that event: a quiet page never reads itself
/// again for nothing, and misses nothing between its render and its
/// stream.
#[tokio::test]
async fn a_stream_catches_up_at_once_only_on_what_changed_after_its_page() {
    let (app, id) = spawn_app_linked().await;
    customer_writes(&app, id, CUSTOMER, "hello", "sc-1").await;
    let cid = conversation_when(&app, id, "the chat", |_| true).await["id"].clone();
    messages_when(&app, id, &cid, "answered", |m| settled(m, 1)).await;
    // The writer tells the stream right after its commit, which the
    // reads above may see a moment before.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let admin = app.signed_in_browser().await;
    let url = events_url_of(&admin.page(&inbox_of(id)).await);

    let quiet = stream_opening(&admin, &url, None).await;
    assert!(quiet.contains(": connected"), "{quiet}");
    assert!(
        !quiet.contains("event: changed"),
        "nothing changed: {quiet}"
    );

    // A message arrives while no stream is open (between the render and
    // the stream, or while a dropped stream reconnects).
    customer_writes(&app, id, CUSTOMER, "still there?", "sc-2").await;
    messages_when(&app, id, &cid, "answered", |m| settled(m, 2)).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let behind = stream_opening(&admin, &url, None).await;
    assert!(behind.contains("event: changed"), "{behind}");
    let event_id = behind
        .lines()
        .find_map(|line| line.strip_prefix("id: "))
        .expect("the event's id")
        .to_owned();

    // Reopened with that event's id (as the browser does): up to date.
    let reopened = stream_opening(&admin, &url, Some(&event_id)).await;
    assert!(
        !reopened.contains("event: changed"),
        "caught up already: {reopened}"
    );
    // An id of another process (before a restart) says nothing of what
    // happened since: the page reads again.
    let restarted = stream_opening(&admin, &url, Some("0123456789ab.99")).await;
    assert!(restarted.contains("event: changed"), "{restarted}");
}

async fn spawn_app_linked() -> (TestApp, Uuid) {
    let app = crate::helpers::spawn_app().await;
    let id = linked_tenant(&app, 52).await;
    (app, id)
}
