//! The tenant owner's whole story, end to end, as one test: Google sign-in
//! (fake provider) → setup request in the portal → an admin approves → the
//! bot starts → the QR code shows in the portal → a (sandbox) scan → ACTIVE
//! → a customer writes → the bot's reply shows in the portal's logs → the
//! owner makes an API key on the portal page, sends a message with the
//! README's own curl commands, reads it back and sees the usage rise.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{
    Browser, decode_entities, eventually, google_browser, hours_form, id_of, json_of, location,
    spawn_app_with_google,
};

const BUSINESS: &str = "Ann's Bakery";
const NUMBER: &str = "+4915123456789";
const CUSTOMER: &str = "+4917698765432";

/// Open around the clock (UTC), so the bot answers whenever the test runs.
fn always_open() -> Value {
    let day = json!({"open": "00:00", "close": "24:00"});
    json!({
        "mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day,
    })
}

async fn portal_json(browser: &Browser, path: &str) -> Value {
    let (status, body) = json_of(browser.get(path).await).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

#[tokio::test]
async fn an_owner_signs_in_asks_for_a_bot_gets_approved_links_whatsapp_and_sees_the_reply_to_a_customer()
 {
    let (app, fake) = spawn_app_with_google().await;

    // 1. Sign in with Google: a new tenant, sent to onboarding.
    let owner = google_browser(&app, &fake, "ann@bakery.example").await;
    let response = owner.get("/portal").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal/onboarding");
    let me = portal_json(&owner, "/api/portal/me").await;
    let tenant: Uuid = me["tenant"]["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(me["tenant"]["status"], "NEW");

    // 2. The setup request, through the onboarding form.
    let page = owner.page("/portal/onboarding").await;
    assert!(page.contains("name=\"whatsapp_number\""), "{page}");
    let mut fields = vec![
        ("csrf_token".to_owned(), crate::helpers::csrf_of(&page)),
        ("template_type".to_owned(), "BOOKING".to_owned()),
        ("business_name".to_owned(), BUSINESS.to_owned()),
        ("whatsapp_number".to_owned(), NUMBER.to_owned()),
        ("language".to_owned(), "en".to_owned()),
        ("timezone".to_owned(), "UTC".to_owned()),
        ("notes".to_owned(), "Cakes and bread.".to_owned()),
    ];
    fields.extend(hours_form(&always_open()));
    let response = owner.post_form("/portal/onboarding", &fields).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/portal/status");
    let request = portal_json(&owner, "/api/portal/setup-request").await;
    assert_eq!(request["status"], "SUBMITTED", "{request}");
    assert_eq!(request["business_name"], BUSINESS);
    assert_eq!(request["whatsapp_number"], NUMBER);
    let status = portal_json(&owner, "/api/portal/tenant/current/status").await;
    assert_eq!(status["tenant"]["status"], "PENDING", "{status}");
    let page = decode_entities(&owner.page("/portal/status").await);
    assert!(page.contains("waiting for review"), "{page}");

    // 3. An admin approves it: the bot starts and shows a QR code.
    let (status, decided) = app
        .api_post(
            &format!("/api/admin/setup-requests/{}/approve", id_of(&request)),
            &json!({"note": "Welcome aboard!"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{decided}");
    let qr = eventually("the QR code in the portal", || async {
        let qr = portal_json(&owner, "/api/portal/tenant/current/qr").await;
        (qr["state"] == "QR_READY").then_some(qr)
    })
    .await;
    let data_uri = qr["qr"].as_str().unwrap();
    assert!(data_uri.starts_with("data:image/svg+xml;base64,"), "{qr}");
    assert!(qr["expires_at"].is_string(), "{qr}");
    let status = portal_json(&owner, "/api/portal/tenant/current/status").await;
    assert_eq!(status["tenant"]["status"], "QR_PENDING", "{status}");
    assert_eq!(status["setup_request"]["status"], "APPROVED");
    let page = owner.page("/portal/status").await;
    assert!(page.contains("id=\"qr-img\""), "the QR image: {page}");
    assert!(
        page.contains("data:image/svg+xml;base64,"),
        "the QR code is on the page: {page}"
    );
    assert!(decode_entities(&page).contains("Welcome aboard!"), "{page}");

    // 4. The owner's phone scans it: ACTIVE, linked to their number.
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{tenant}/sandbox/scan"),
            &json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let status = eventually("the tenant ACTIVE in the portal", || async {
        let status = portal_json(&owner, "/api/portal/tenant/current/status").await;
        (status["tenant"]["status"] == "ACTIVE").then_some(status)
    })
    .await;
    assert_eq!(status["session"]["state"], "CONNECTED", "{status}");
    assert_eq!(status["session"]["linked_phone"], NUMBER);
    let qr = portal_json(&owner, "/api/portal/tenant/current/qr").await;
    assert_eq!(qr["qr"], Value::Null, "no QR code once linked: {qr}");
    let page = owner.page("/portal/status").await;
    assert!(page.contains(r#"badge-active">Active<"#), "{page}");
    assert!(page.contains(NUMBER), "the linked phone: {page}");

    // 5. A customer writes; the bot answers.
    let (status, body) = app
        .api_post(
            &format!("/api/admin/tenants/{tenant}/sandbox/inbound"),
            &json!({"from": CUSTOMER, "text": "What are your opening hours?", "id": "wamid.story-1"}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let reply = eventually("the bot's reply in the portal's logs", || async {
        let logs = portal_json(&owner, "/api/portal/tenant/current/logs").await;
        logs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["direction"] == "OUT" && m["to"] == CUSTOMER)
            .cloned()
    })
    .await;
    let reply_text = reply["text"].as_str().unwrap().to_owned();
    assert!(!reply_text.is_empty());
    let (_, outbox) = app
        .api_get(&format!("/api/admin/tenants/{tenant}/sandbox/outbox"))
        .await;
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .any(|sent| sent["to"] == CUSTOMER && sent["text"] == reply_text.as_str()),
        "the logged reply is what WhatsApp got: {outbox}"
    );
    let logs = portal_json(&owner, "/api/portal/tenant/current/logs").await;
    let question = logs["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["direction"] == "IN")
        .expect("the customer's message is logged");
    assert_eq!(question["from"], CUSTOMER);
    assert_eq!(question["text"], "What are your opening hours?");

    // …and the logs page shows both.
    let page = decode_entities(&owner.page("/portal/logs").await);
    assert!(page.contains("What are your opening hours?"), "{page}");
    let first_line = reply_text.lines().next().unwrap();
    assert!(
        page.contains(first_line),
        "the reply {first_line:?} on {page}"
    );
    assert!(page.contains(CUSTOMER), "{page}");

    // 7. An API key from the portal page, used as the README shows (with
    // curl: without it this step skips, unless FLOWHQ_CURL_TESTS=required,
    // as in CI).
    let curl = tokio::task::spawn_blocking(|| {
        std::process::Command::new("curl").arg("--version").output()
    })
    .await
    .unwrap();
    if let Err(err) = curl {
        assert_ne!(
            std::env::var("FLOWHQ_CURL_TESTS").as_deref(),
            Ok("required"),
            "curl is required here: {err}"
        );
        eprintln!("skipping the README's curl commands: {err} (apt-get install curl)");
        return;
    }
    let key = crate::tenant_api::key_made_on_the_portal_page(
        &owner,
        &[
            ("name", "Shop"),
            ("scope_messages_send", "on"),
            ("scope_usage_read", "on"),
        ],
    )
    .await;
    let readme = readme_api_commands(&app.url(""), &key);
    let usage = |out: &str| -> i64 {
        let usage: Value = serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"));
        usage["this_month"]["api_sends"].as_i64().unwrap()
    };
    let before = usage(&sh(&readme.usage).await);
    let sent: Value = serde_json::from_str(&sh(&readme.send).await).unwrap();
    assert_eq!(sent["status"], "QUEUED", "{sent}");
    let id = sent["id"].as_i64().unwrap();
    let read_back = eventually("the API's message sent", || async {
        let message: Value = serde_json::from_str(&sh(&readme.read(id)).await).unwrap();
        (message["status"] == "SENT").then_some(message)
    })
    .await;
    assert_eq!(read_back["text"], "Your order has shipped.", "{read_back}");
    assert_eq!(
        usage(&sh(&readme.usage).await),
        before + 1,
        "the usage rose"
    );
    let outbox = crate::bots::outbox(&app, tenant).await;
    assert!(
        outbox
            .iter()
            .any(|m| m["text"] == "Your order has shipped."),
        "{outbox:?}"
    );
}

/// The README's tenant API commands (its `sh` block that starts with
/// `KEY=`), for this server and key.
struct ReadmeCommands {
    send: String,
    read_template: String,
    usage: String,
}

impl ReadmeCommands {
    /// The read-back command for message `id` (the README's shows 17).
    fn read(&self, id: i64) -> String {
        self.read_template
            .replace("/messages/17", &format!("/messages/{id}"))
    }
}

fn readme_api_commands(base: &str, key: &str) -> ReadmeCommands {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let block = readme
        .split("```sh\n")
        .find(|block| block.starts_with("KEY=fhq_live_"))
        .and_then(|block| block.split("```").next())
        .expect("the README's tenant API example");
    let script = block
        .replace("http://127.0.0.1:8080", base.trim_end_matches('/'))
        .replace("$KEY", key);
    // Commands, with their continuation lines joined; comments dropped.
    let mut commands = Vec::new();
    let mut current = String::new();
    for line in script.lines() {
        let line = line.split(" #").next().unwrap_or_default().trim_end();
        if line.starts_with('#') || line.starts_with("KEY=") || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(start) => current.push_str(start),
            None => {
                current.push_str(line);
                commands.push(std::mem::take(&mut current));
            }
        }
    }
    let find = |what: &str| {
        commands
            .iter()
            .find(|c| c.contains(what))
            .unwrap_or_else(|| panic!("no command with {what} in {commands:#?}"))
            .clone()
    };
    ReadmeCommands {
        send: find("-X POST"),
        read_template: find("/api/v1/messages/17"),
        usage: find("/api/v1/usage"),
    }
}

/// Runs `command` with `sh` (off the runtime, which serves the app); its
/// standard output (it must succeed).
async fn sh(command: &str) -> String {
    let mut child = std::process::Command::new("sh");
    child.arg("-c").arg(command);
    let out = tokio::task::spawn_blocking(move || child.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("running {command}: {e}"));
    assert!(
        out.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
