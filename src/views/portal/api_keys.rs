//! `/portal/api-keys` (the owner's): the tenant's API keys (name, scopes,
//! prefix, created, last used, expiry, revoke), the form for a new one
//! and — once, in the answer to that form — the key itself; and
//! `/portal/usage`: the month against the plan and a server-rendered SVG
//! chart of the last 30 days' messages (no script, no chart library).
//! Must not: keep or log a key; it is only in that one page.

use maud::{Markup, html};

use crate::domain::api_scope::Scope;
use crate::error::FieldErrors;
use crate::services::api_keys::{ApiKeyView, CreatedKey};
use crate::services::usage::{DayCount, Usage};
use crate::urls::PortalUrl;
use crate::views::components::{self, Field};
use crate::views::layout::{self, PortalChrome};

pub struct KeysPage<'a> {
    pub keys: &'a [ApiKeyView],
    pub name: &'a str,
    pub errors: &'a FieldErrors,
    pub created: Option<&'a CreatedKey>,
}

/// The form field of a scope's checkbox.
pub fn scope_field(scope: Scope) -> String {
    format!("scope_{}", scope.as_str().replace(':', "_"))
}

pub fn page(chrome: &PortalChrome<'_>, page: &KeysPage<'_>) -> Markup {
    layout::portal_page(
        "API keys",
        chrome,
        html! {
            div.page-header { h1 { "API keys" } }
            @if let Some(created) = page.created {
                section.card role="status" {
                    h2 { "Key \"" (created.view.name) "\" created" }
                    p { strong { "Copy this key now; it will not be shown again." } }
                    pre.code { code #api-key { (created.key) } }
                    p.muted { "Send it as " code { "Authorization: Bearer …" } " to " code { "/api/v1" } "." }
                }
            }
            section.card {
                h2 { "New key" }
                p.muted {
                    "A key lets your own systems (a shop, a CRM, an automation) send messages through your bot "
                    "and read your conversations. It acts as your business; give it only what it needs. "
                    "The reference is at " a href="/api/v1/docs" { "/api/v1/docs" } "."
                }
                form.stack method="post" action=(PortalUrl::ApiKeysCreate) {
                    (components::csrf_input(chrome.csrf_token))
                    (Field {
                        name: "name",
                        label: "Name",
                        value: page.name,
                        hint: Some("Where it is used, e.g. \"Shop\""),
                        errors: page.errors,
                    }.input("text", true))
                    fieldset {
                        legend { "Scopes" }
                        @for scope in Scope::ALL {
                            label.checkbox {
                                input type="checkbox" name=(scope_field(scope)) value="on";
                                " " code { (scope.as_str()) } " — " (scope.describe())
                            }
                        }
                        @if let Some(problem) = page.errors.get("scopes") {
                            p.field-error { (problem) }
                        }
                    }
                    label {
                        "Expires"
                        select name="expires_in_days" {
                            option value="" { "Never" }
                            option value="30" { "In 30 days" }
                            option value="90" { "In 90 days" }
                            option value="365" { "In a year" }
                        }
                    }
                    button.primary type="submit" { "Create key" }
                }
            }
            section.card {
                h2 { "Keys" }
                @if page.keys.is_empty() {
                    p.muted { "None yet." }
                } @else {
                    div.table-wrap {
                        table.table #api-keys {
                            thead { tr {
                                th scope="col" { "Name" }
                                th scope="col" { "Key" }
                                th scope="col" { "Scopes" }
                                th scope="col" { "Created" }
                                th scope="col" { "Last used" }
                                th scope="col" { "Expires" }
                                th scope="col" { span.sr-only { "Actions" } }
                            } }
                            tbody {
                                @for key in page.keys {
                                    tr {
                                        td { (key.name) }
                                        td { code { (key.prefix) "…" } }
                                        td { @for scope in &key.scopes { code { (scope) } " " } }
                                        td.nowrap { (components::datetime(&key.created_at)) }
                                        td.nowrap {
                                            @match &key.last_used_at {
                                                Some(at) => (components::datetime(at)),
                                                None => span.muted { "never" },
                                            }
                                        }
                                        td.nowrap {
                                            @match &key.expires_at {
                                                Some(at) => (components::datetime(at)),
                                                None => span.muted { "never" },
                                            }
                                        }
                                        td.right {
                                            @if key.active {
                                                (components::action_button(
                                                    &PortalUrl::ApiKeyRevoke(key.id.as_uuid()).to_string(),
                                                    chrome.csrf_token, "Revoke", "danger small"))
                                            } @else if key.revoked_at.is_some() {
                                                (components::badge("revoked"))
                                            } @else {
                                                (components::badge("expired"))
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

pub fn usage_page(chrome: &PortalChrome<'_>, usage: &Usage, days: &[DayCount]) -> Markup {
    let limit = usage
        .messages_limit
        .map_or_else(|| "unlimited".to_owned(), |l| l.to_string());
    layout::portal_page(
        "Usage",
        chrome,
        html! {
            div.page-header { h1 { "Usage" } }
            @if usage.quota_reached {
                section.card role="alert" {
                    h2 { "This month's messages are used up" }
                    p {
                        "Your bot no longer answers on its own and API sends are refused until the month ends. "
                        "Messages still arrive and are in your inbox, where you can answer them. "
                        "Ask us for a larger plan to resume sooner."
                    }
                }
            }
            @if let (Some(warned_at), false) = (usage.warned_at, usage.quota_reached) {
                section.card role="status" #usage-warning {
                    h2 { "Over " (crate::services::usage::WARNING_PERCENT) " % of this month's messages used" }
                    p {
                        "Your bot has sent " (usage.messages_used) " of " (limit) " messages this month "
                        "(passed " (crate::services::usage::WARNING_PERCENT) " % on "
                        (warned_at.format("%Y-%m-%d")) "; the owners were emailed). "
                        "At the limit it stops answering on its own until the month ends."
                    }
                }
            }
            @if usage.ai_budget_reached {
                section.card role="alert" #ai-budget-reached {
                    h2 { "This month's AI tokens are used up" }
                    p {
                        "Your bot answers from your facts, services and questions only (no AI) until the month ends. "
                        "Ask us for a larger AI budget to resume sooner."
                    }
                }
            }
            section.card {
                h2 { (usage.plan.name) " plan, " (usage.month) }
                dl.props #usage {
                    dt { "Messages sent" } dd { (usage.messages_used) " of " (limit) }
                    dt { "Bot replies" } dd { (usage.this_month.bot_replies) }
                    dt { "Your replies" } dd { (usage.this_month.human_replies) }
                    dt { "API sends" } dd { (usage.this_month.api_sends) }
                    dt { "Messages received" } dd { (usage.this_month.inbound) }
                    dt { "AI tokens" } dd {
                        (usage.this_month.ai_tokens)
                        @if let Some(limit) = usage.ai_tokens_limit { " of " (limit) }
                    }
                    dt { "Today" } dd { (usage.today.inbound) " in, " (usage.today.outbound) " out" }
                    dt { "Active conversations (24 h)" } dd { (usage.active_conversations) }
                }
            }
            section.card {
                h2 { "Messages per day, last 30 days" }
                (chart(days))
            }
        },
    )
}

/// Bars of messages in and out per day, as SVG drawn here (presentation
/// attributes only: nothing the strict CSP refuses).
pub fn chart(days: &[DayCount]) -> Markup {
    const W: f64 = 600.0;
    const H: f64 = 160.0;
    let most = days
        .iter()
        .map(|d| d.inbound + d.outbound)
        .max()
        .unwrap_or(0)
        .max(1);
    let slot = W / days.len().max(1) as f64;
    let bar = (slot - 2.0).max(1.0);
    let height = |n: i64| n as f64 / most as f64 * (H - 20.0);
    html! {
        svg.chart #usage-chart xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {W} {H}"))
            role="img" aria-label="Messages per day, last 30 days" {
            @for (i, day) in days.iter().enumerate() {
                @let x = i as f64 * slot;
                @let out_h = height(day.outbound);
                @let in_h = height(day.inbound);
                g {
                    title { (day.day) ": " (day.inbound) " in, " (day.outbound) " out" }
                    rect x=(format!("{x:.1}")) y=(format!("{:.1}", H - out_h)) width=(format!("{bar:.1}"))
                        height=(format!("{out_h:.1}")) fill="#2563eb" {}
                    rect x=(format!("{x:.1}")) y=(format!("{:.1}", H - out_h - in_h)) width=(format!("{bar:.1}"))
                        height=(format!("{in_h:.1}")) fill="#93c5fd" {}
                }
            }
            text x="0" y="12" font-size="11" fill="currentColor" { "max " (most) " a day · dark: sent · light: received" }
        }
    }
}
