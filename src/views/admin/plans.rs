//! Plans (`/admin/plans`): each plan's name and limits in a form of its
//! own, and the form for a new plan. An empty limit is unlimited; a
//! refused value comes back as the flash.

use maud::{Markup, html};

use crate::services::plans::Plan;
use crate::urls::{AdminUrl, admin_plan};
use crate::views::components;
use crate::views::layout::{self, AdminChrome};

/// Everything the plans page shows: the plans and how many tenants each has.
pub struct PlansPage<'a> {
    pub plans: &'a [(Plan, u64)],
}

pub fn page(chrome: &AdminChrome<'_>, page: &PlansPage<'_>) -> Markup {
    layout::admin_page(
        "Plans",
        chrome,
        html! {
            div.page-header { h1 { "Plans" } }
            p.muted {
                "A tenant's plan sets its messages and AI tokens a month, its API requests a minute "
                "and how many people its team may have (the owner included). Leave a limit empty "
                "for unlimited. Changes reach the tenants on the plan at once."
            }
            @for (plan, tenants) in page.plans {
                section.card id=(format!("plan-{}", plan.code)) {
                    h2 { (plan.name) " " span.muted { code { (plan.code) } } }
                    p.muted { (tenants) @if *tenants == 1 { " tenant" } @else { " tenants" } }
                    (limits_form(chrome, &admin_plan(&plan.code), &plan.code, Some(plan), "Save"))
                }
            }
            section.card id="new-plan" {
                h2 { "New plan" }
                (limits_form(chrome, &AdminUrl::Plans.to_string(), "new", None, "Add plan"))
            }
        },
    )
}

/// A plan's fields; `plan` fills them in (a new plan also asks for its code).
fn limits_form(
    chrome: &AdminChrome<'_>,
    action: &str,
    prefix: &str,
    plan: Option<&Plan>,
    submit: &str,
) -> Markup {
    let number = |value: Option<i64>| value.map(|n| n.to_string()).unwrap_or_default();
    let fields = [
        (
            "name",
            "Name",
            plan.map(|p| p.name.clone()).unwrap_or_default(),
            "text",
            true,
            None,
        ),
        (
            "monthly_messages",
            "Messages a month",
            number(plan.and_then(|p| p.monthly_messages)),
            "number",
            false,
            Some("Empty: unlimited"),
        ),
        (
            "monthly_ai_tokens",
            "AI tokens a month",
            number(plan.and_then(|p| p.monthly_ai_tokens)),
            "number",
            false,
            Some("Empty: unlimited"),
        ),
        (
            "api_requests_per_minute",
            "API requests a minute",
            plan.map(|p| p.api_requests_per_minute.to_string())
                .unwrap_or_else(|| "60".to_owned()),
            "number",
            true,
            None,
        ),
        (
            "team_members",
            "Team members",
            number(plan.and_then(|p| p.team_members).map(i64::from)),
            "number",
            false,
            Some("The owner included; empty: unlimited"),
        ),
    ];
    html! {
        form.stack method="post" action=(action) {
            (components::csrf_input(chrome.csrf_token))
            @if plan.is_none() {
                div.field {
                    label for=(format!("{prefix}-code")) { "Code" }
                    input id=(format!("{prefix}-code")) name="code" type="text" required
                        pattern="[A-Za-z][A-Za-z0-9_]{1,31}" autocomplete="off";
                    p.hint { "Capital letters, digits and _, e.g. TEAM_PLUS; it never changes." }
                }
            }
            @for (name, label, value, kind, required, hint) in &fields {
                div.field {
                    label for=(format!("{prefix}-{name}")) { (label) }
                    input id=(format!("{prefix}-{name}")) name=(name) type=(kind) value=(value)
                        min=[(*kind == "number").then_some("0")] required[*required];
                    @if let Some(hint) = hint { p.hint { (hint) } }
                }
            }
            button.primary type="submit" { (submit) }
        }
    }
}
