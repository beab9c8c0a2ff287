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

use crate::bots::{approved_tenant, customer_writes, start_and_link};
use crate::helpers::{Chromium, phone, spawn_app};

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
