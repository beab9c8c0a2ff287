//! Tenant pages of the admin console: the searchable list, the create form,
//! the detail page (status, bot, edit form, messages, audit, danger zone) and
//! the delete confirmation. The Recent messages card's inside
//! (`recent_messages`) is also what the page's live JSON sends.
//!
//! Owns: `TenantFormValues`, the strings a tenant form shows, and
//! `tenant_form`, the ONE function rendering the create and the edit form
//! (the edit form adds the config-only fields). Must not: parse or validate;
//! the handler does that and hands back what was typed plus the errors.

use entity::enums::{TemplateType, TenantStatus};
use maud::{Markup, html};

use crate::domain::hours::BusinessHours;
use crate::domain::language::Language;
use crate::domain::lifecycle::{LifecycleAction, allowed_actions, status_name};
use crate::error::FieldErrors;
use crate::services::Page;
use crate::services::audit::AuditEntry;
use crate::services::messages::MessageView;
use crate::services::tenants::{DEFAULT_TIMEZONE, TenantDetail, TenantSummary, template_name};
use crate::urls::{AdminUrl, query_string};
use crate::views::admin::audit;
use crate::views::admin::bots::{self, BotFacts};
use crate::views::assets;
pub use crate::views::components::DayValues;
use crate::views::components::{self, Field};
use crate::views::layout::{self, AdminChrome};
use crate::views::transport::{self, TransportCard};

/// The list's filters as the page shows them.
pub struct ListFilter<'a> {
    pub q: &'a str,
    pub status: Option<TenantStatus>,
}

pub fn list(
    chrome: &AdminChrome<'_>,
    page: &Page<TenantSummary>,
    filter: &ListFilter<'_>,
) -> Markup {
    let status = filter.status.map(status_name).unwrap_or_default();
    let base_query = query_string(&[("q", filter.q), ("status", status)]);
    let filtered = !filter.q.trim().is_empty() || filter.status.is_some();
    layout::admin_page(
        "Tenants",
        chrome,
        html! {
            div.page-header {
                h1 { "Tenants" }
                a.button.primary href=(AdminUrl::NewTenant) { "New tenant" }
            }
            form.toolbar method="get" action=(AdminUrl::Tenants) role="search" {
                label.sr-only for="q" { "Search by name or phone number" }
                input #q type="search" name="q" value=(filter.q)
                    placeholder="Search by name or phone number";
                label.sr-only for="status" { "Status" }
                select #status name="status" {
                    option value="any" selected[filter.status.is_none()] { "Any status" }
                    @for candidate in <TenantStatus as sea_orm::Iterable>::iter() {
                        option value=(status_name(candidate))
                            selected[filter.status == Some(candidate)] { (status_name(candidate)) }
                    }
                }
                button.secondary type="submit" { "Filter" }
                @if filtered { a href=(AdminUrl::Tenants) { "Clear" } }
            }
            @if page.items.is_empty() {
                @if filtered {
                    (components::empty("No tenant matches", "Try another search or status.", None))
                } @else {
                    (components::empty(
                        "No tenants yet",
                        "Create the first tenant, or wait for a business to sign up in the portal.",
                        Some((&AdminUrl::NewTenant.to_string(), "New tenant")),
                    ))
                }
            } @else {
                (summary_table(&page.items))
                (components::pagination(page, &AdminUrl::Tenants.to_string(), &base_query))
            }
        },
    )
}

/// Name (linked), phone, status, created: the list's and the dashboard's table.
pub fn summary_table(tenants: &[TenantSummary]) -> Markup {
    html! {
        div.table-wrap {
            table.table {
                thead { tr {
                    th scope="col" { "Name" }
                    th scope="col" { "Phone number" }
                    th scope="col" { "Status" }
                    th scope="col" { "Created" }
                } }
                tbody {
                    @for tenant in tenants {
                        tr {
                            td { a href=(AdminUrl::Tenant(tenant.id)) { (tenant.name) } }
                            td.nowrap { (tenant.phone_number.as_deref().unwrap_or("—")) }
                            td { (components::badge(status_name(tenant.status))) }
                            td.nowrap { (components::datetime(&tenant.created_at)) }
                        }
                    }
                }
            }
        }
    }
}

/// The fields only the edit form has (the tenant exists, so its config does).
#[derive(Debug, Clone, Default)]
pub struct ConfigValues {
    pub welcome_message: String,
    pub auto_reply: bool,
    pub response_delay_ms: String,
    pub max_message_length: String,
    /// Empty: the platform default.
    pub rate_limit_per_minute: String,
    pub chat_rate_limit_per_minute: String,
}

/// What a tenant form shows: strings as typed (or as stored), so a refused
/// form comes back exactly as it was sent.
#[derive(Debug, Clone, Default)]
pub struct TenantFormValues {
    pub name: String,
    pub phone_number: String,
    pub template_type: String,
    pub business_name: String,
    pub language: String,
    pub timezone: String,
    /// Monday first.
    pub hours: [DayValues; 7],
    /// `Some` on the edit form only.
    pub config: Option<ConfigValues>,
    /// The create form as it first opens: its values are defaults, not
    /// choices, so the browser's own time zone may replace UTC.
    pub new_form: bool,
}

impl TenantFormValues {
    /// The create form's starting point: the defaults a tenant gets anyway.
    pub fn new_tenant() -> Self {
        Self {
            template_type: template_name(TemplateType::Booking).to_owned(),
            language: Language::En.code().to_owned(),
            timezone: DEFAULT_TIMEZONE.to_owned(),
            hours: components::day_values(&BusinessHours::default()),
            new_form: true,
            ..Self::default()
        }
    }

    /// The edit form filled from what is stored.
    pub fn from_detail(detail: &TenantDetail) -> Self {
        let config = &detail.config;
        // Stored hours were valid when written; if they no longer parse, the
        // grid starts empty and saving asks for them again.
        let hours = BusinessHours::parse_json(&config.hours)
            .map(|hours| components::day_values(&hours))
            .unwrap_or_default();
        Self {
            name: detail.tenant.name.clone(),
            phone_number: detail.tenant.phone_number.clone().unwrap_or_default(),
            template_type: template_name(config.template_type).to_owned(),
            business_name: config.business_name.clone(),
            language: config.language.clone(),
            timezone: config.timezone.clone(),
            hours,
            config: Some(ConfigValues {
                welcome_message: config.welcome_message.clone(),
                auto_reply: config.auto_reply,
                response_delay_ms: config.response_delay_ms.to_string(),
                max_message_length: config.max_message_length.to_string(),
                rate_limit_per_minute: config
                    .rate_limit_per_minute
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
                chat_rate_limit_per_minute: config
                    .chat_rate_limit_per_minute
                    .map(|v| v.to_string())
                    .unwrap_or_default(),
            }),
            new_form: false,
        }
    }

    /// What was typed into a submitted form (`edit`: the edit form, with its
    /// config-only fields). A checkbox is ticked when it was sent at all.
    pub fn from_form(get: impl Fn(&str) -> Option<String>, edit: bool) -> Self {
        let text = |key: &str| get(key).unwrap_or_default();
        let hours = components::days_from_form(&get);
        Self {
            name: text("name"),
            phone_number: text("phone_number"),
            template_type: text("template_type"),
            business_name: text("business_name"),
            language: text("language"),
            timezone: text("timezone"),
            hours,
            config: edit.then(|| ConfigValues {
                welcome_message: text("welcome_message"),
                auto_reply: get("auto_reply").is_some(),
                response_delay_ms: text("response_delay_ms"),
                max_message_length: text("max_message_length"),
                rate_limit_per_minute: text("rate_limit_per_minute"),
                chat_rate_limit_per_minute: text("chat_rate_limit_per_minute"),
            }),
            new_form: false,
        }
    }
}

/// The create and the edit form: identity, bot settings, (edit only) reply
/// behaviour, business hours.
fn tenant_form(
    csrf_token: &str,
    action: AdminUrl,
    submit: &str,
    cancel: AdminUrl,
    values: &TenantFormValues,
    errors: &FieldErrors,
) -> Markup {
    let templates = components::template_options();
    let languages = components::language_options();
    html! {
        form.stack method="post" action=(action) {
            (components::csrf_input(csrf_token))
            // Fields side by side both have a hint, so their inputs line up.
            fieldset {
                legend { "Tenant" }
                div.field-row {
                    (Field { name: "name", label: "Name", value: &values.name,
                             hint: Some("How the console and the portal name the tenant"),
                             errors }.input("text", true))
                    (Field { name: "phone_number", label: "Phone number",
                             value: &values.phone_number,
                             hint: Some("The WhatsApp number, international format: +4915112345678"),
                             errors }.input("tel", true))
                }
            }
            fieldset {
                legend { "Bot" }
                div.field-row.mb {
                    (Field { name: "business_name", label: "Business name",
                             value: &values.business_name,
                             hint: Some("How the bot names the business to customers"),
                             errors }.input("text", true))
                    (Field { name: "template_type", label: "Template", value: &values.template_type,
                             hint: Some("Which replies the bot answers with"),
                             errors }.select(&templates))
                }
                div.field-row.mb[values.config.is_some()] {
                    (Field { name: "language", label: "Language", value: &values.language,
                             hint: Some("The language the bot replies in"),
                             errors }.select(&languages))
                    (Field { name: "timezone", label: "Time zone", value: &values.timezone,
                             hint: Some("Type a city or region and pick its zone, e.g. Europe/Berlin"),
                             errors }.timezone(values.new_form))
                }
                @if let Some(config) = &values.config {
                    div.mb {
                        (Field { name: "welcome_message", label: "Welcome message",
                                 value: &config.welcome_message,
                                 hint: Some("What the bot answers to a greeting or a first message; the Bot page's \
                                            \"Welcome\" wording, where set, replaces it in its language"),
                                 errors }.textarea(3))
                    }
                    div.field.mb {
                        label.check for="auto_reply" {
                            input #auto_reply type="checkbox" name="auto_reply" value="on"
                                checked[config.auto_reply];
                            "Reply automatically"
                        }
                    }
                    div.field-row {
                        (Field { name: "response_delay_ms", label: "Response delay (ms)",
                                 value: &config.response_delay_ms,
                                 hint: Some("0 to 30000: how long the bot waits before answering"),
                                 errors }.input("number", true))
                        (Field { name: "max_message_length", label: "Maximum message length",
                                 value: &config.max_message_length,
                                 hint: Some("160 to 4096 characters"),
                                 errors }.input("number", true))
                    }
                    div.field-row {
                        (Field { name: "rate_limit_per_minute", label: "Replies per minute (tenant)",
                                 value: &config.rate_limit_per_minute,
                                 hint: Some("Empty: the platform default. Applies when the bot next starts."),
                                 errors }.input("number", false))
                        (Field { name: "chat_rate_limit_per_minute", label: "Replies per minute (per chat)",
                                 value: &config.chat_rate_limit_per_minute,
                                 hint: Some("Empty: the platform default. Applies when the bot next starts."),
                                 errors }.input("number", false))
                    }
                }
            }
            (components::hours_grid(&values.hours, errors.get("hours")))
            div.form-actions {
                button.primary type="submit" { (submit) }
                a.button.secondary href=(cancel) { "Cancel" }
            }
        }
    }
}

pub fn new(chrome: &AdminChrome<'_>, values: &TenantFormValues, errors: &FieldErrors) -> Markup {
    layout::admin_page_with_scripts(
        "New tenant",
        chrome,
        &assets::zone_scripts(),
        html! {
            div.page-header {
                h1 { "New tenant" }
                a href=(AdminUrl::Tenants) { "← All tenants" }
            }
            section.card {
                p.muted {
                    "The tenant starts as NEW with a stopped bot. Its reply settings get "
                    "defaults you can change on its page afterwards."
                }
                (tenant_form(chrome.csrf_token, AdminUrl::Tenants, "Create tenant",
                             AdminUrl::Tenants, values, errors))
            }
        },
    )
}

/// Everything the detail page shows.
pub struct DetailPage<'a> {
    pub detail: &'a TenantDetail,
    /// The edit form: the stored values, or what was typed when refused.
    pub form: &'a TenantFormValues,
    pub errors: &'a FieldErrors,
    pub messages: &'a Page<MessageView>,
    pub audit: &'a Page<AuditEntry>,
    pub bot: BotFacts,
    /// The sandbox conversation, oldest first; `None` for other transports.
    pub chat: Option<&'a [MessageView]>,
    /// The Transport card (its form posts to `AdminUrl::TenantTransport`).
    pub transport: TransportCard<'a>,
    /// The "Plan and usage" card.
    pub plan: PlanCard<'a>,
}

/// This month's usage against the plan, and the forms that change them.
pub struct PlanCard<'a> {
    pub usage: &'a crate::services::usage::Usage,
    pub plans: &'a [crate::services::plans::Plan],
    /// The admin's AI token budget for this tenant (`None`: the plan's).
    pub own_ai_budget: Option<i64>,
}

fn limit(value: Option<i64>) -> String {
    value.map_or_else(|| "unlimited".to_owned(), |v| v.to_string())
}

fn plan_card(csrf: &str, tenant: crate::domain::ids::TenantId, card: &PlanCard<'_>) -> Markup {
    let usage = card.usage;
    html! {
        section.card #plan aria-labelledby="plan-title" {
            h2 #plan-title { "Plan and usage, " (usage.month) }
            dl.props {
                dt { "Messages sent" } dd #tenant-usage {
                    (usage.messages_used) " of " (limit(usage.messages_limit))
                    @if usage.quota_reached { " " (components::badge("quota_reached")) }
                    @if let Some(at) = usage.quota_reached_at {
                        " — limit reached " (components::datetime(&at)) " (owners emailed)"
                    } @else if let Some(at) = usage.warned_at {
                        " — passed " (crate::services::usage::WARNING_PERCENT) " % "
                        (components::datetime(&at)) " (owners warned)"
                    }
                }
                dt { "Messages received" } dd { (usage.this_month.inbound) }
                dt { "AI tokens" } dd {
                    (usage.this_month.ai_tokens) " of " (limit(usage.ai_tokens_limit))
                    @if usage.ai_budget_reached { " " (components::badge("ai_budget_reached")) }
                }
                dt { "Active conversations (24 h)" } dd { (usage.active_conversations) }
            }
            form.inline method="post" action=(AdminUrl::TenantPlan(tenant)) {
                input type="hidden" name="csrf_token" value=(csrf);
                label for="plan-select" { "Plan" }
                select #plan-select name="plan" {
                    @for plan in card.plans {
                        option value=(plan.code) selected[plan.code == usage.plan.code] {
                            (plan.name) " (" (limit(plan.monthly_messages)) " messages, "
                            (limit(plan.monthly_ai_tokens)) " AI tokens a month)"
                        }
                    }
                }
                button type="submit" { "Change plan" }
            }
            form.inline method="post" action=(AdminUrl::TenantAiBudget(tenant)) {
                input type="hidden" name="csrf_token" value=(csrf);
                label for="ai-budget" { "AI tokens a month (empty: the plan's)" }
                input #ai-budget name="monthly_tokens" type="number" min="0"
                    value=[card.own_ai_budget];
                button type="submit" { "Set AI budget" }
            }
        }
    }
}

pub fn detail(chrome: &AdminChrome<'_>, page: &DetailPage<'_>) -> Markup {
    let detail = page.detail;
    let tenant = &detail.tenant;
    let actions = allowed_actions(tenant.status);
    let tenant_card = html! {
        section.card {
            h2 { "Tenant" }
            dl.props {
                dt { "Phone number" } dd { (tenant.phone_number.as_deref().unwrap_or("—")) }
                dt { "Plan" } dd { (tenant.plan) }
                dt { "Created" } dd { (components::datetime(&tenant.created_at)) }
                dt { "Updated" } dd { (components::datetime(&tenant.updated_at)) }
                dt { "Id" } dd { code { (tenant.id) } }
            }
        }
    };
    layout::admin_page_with_scripts(
        &tenant.name,
        chrome,
        &assets::admin_scripts(),
        html! {
            div.page-header {
                div {
                    p.eyebrow { a href=(AdminUrl::Tenants) { "Tenants" } }
                    h1 {
                        (tenant.name) " "
                        span #tenant-status { (components::badge(status_name(tenant.status))) }
                    }
                }
                div.actions {
                    a.button.secondary #tenant-inbox href=(AdminUrl::TenantInbox(tenant.id)) { "Inbox" }
                    a.button.secondary #tenant-knowledge href=(AdminUrl::TenantKnowledge(tenant.id))
                        title="Facts, services, FAQ, answers; try the bot" { "What the bot knows" }
                    a.button.secondary #tenant-webhooks href=(AdminUrl::TenantWebhooks(tenant.id))
                        title="Endpoints, delivery log, send again" { "Webhooks" }
                    @if actions.contains(&LifecycleAction::Pause) {
                        (components::action_button(
                            &AdminUrl::TenantAction(tenant.id, "pause").to_string(),
                            chrome.csrf_token, "Pause", "secondary"))
                    }
                    @if actions.contains(&LifecycleAction::Resume) {
                        (components::action_button(
                            &AdminUrl::TenantAction(tenant.id, "resume").to_string(),
                            chrome.csrf_token, "Resume", "primary"))
                    }
                }
            }
            // The bot first; with a sandbox the chat sits beside it and the
            // tenant card goes under the bot, otherwise it takes the chat's place.
            div.two-col {
                div.col {
                    (bots::bot_card(chrome.csrf_token, detail, page.bot))
                    @if page.chat.is_some() { (tenant_card) }
                }
                div.col {
                    (bots::qr_panel(chrome.csrf_token, detail))
                    @match page.chat {
                        Some(chat) => (bots::chat_panel(chrome.csrf_token, detail, chat)),
                        None => (tenant_card),
                    }
                }
            }
            section.card #transport aria-labelledby="transport-title" {
                h2 #transport-title { "Transport" }
                (transport::card_body(&page.transport))
            }
            (plan_card(chrome.csrf_token, tenant.id, &page.plan))
            section.card {
                h2 { "Configuration" }
                (tenant_form(chrome.csrf_token, AdminUrl::Tenant(tenant.id), "Save changes",
                             AdminUrl::Tenant(tenant.id), page.form, page.errors))
            }
            section.card aria-labelledby="recent-title" {
                h2 #recent-title { "Recent messages" }
                div #recent-messages aria-live="polite" {
                    (recent_messages(&page.messages.items, page.messages.total))
                }
            }
            section.card {
                h2 { "Audit trail" }
                @if page.audit.items.is_empty() {
                    p.muted { "Nothing recorded yet." }
                } @else {
                    (audit::table(&page.audit.items, false))
                }
                p {
                    a href=(AdminUrl::TenantAudit(tenant.id)) { "All audit entries of this tenant" }
                }
            }
            section.danger-zone {
                h2 { "Danger zone" }
                p { "Deleting the tenant removes its configuration, WhatsApp session, messages "
                    "and setup requests. The audit trail keeps a record of the deletion." }
                a.button.danger href=(AdminUrl::TenantDelete(tenant.id)) { "Delete this tenant…" }
            }
        },
    )
}

/// The inside of the detail page's Recent messages card (`#recent-messages`):
/// the latest `messages`, newest first, out of `total`. The page renders it,
/// and so does its live JSON (`recent_messages`), which `admin.js` puts in
/// place: one rendering, whether the page is loaded or updated.
pub fn recent_messages(messages: &[MessageView], total: u64) -> Markup {
    html! {
        @if messages.is_empty() {
            p.muted { "No messages yet." }
        } @else {
            (components::messages_table(messages, components::LogReader::Admin))
            @if total > messages.len() as u64 {
                p.muted { "The latest " (messages.len()) " of " (total) " messages." }
            }
        }
    }
}

pub fn confirm_delete(chrome: &AdminChrome<'_>, tenant: &TenantSummary) -> Markup {
    layout::admin_page(
        &format!("Delete {}", tenant.name),
        chrome,
        html! {
            section.danger-zone {
                h1 { "Delete " (tenant.name) "?" }
                p {
                    "This removes the tenant with its configuration, WhatsApp session, "
                    "message log and setup requests. It cannot be undone."
                }
                div.form-actions {
                    form.inline method="post" action=(AdminUrl::TenantDelete(tenant.id)) {
                        (components::csrf_input(chrome.csrf_token))
                        button.danger type="submit" { "Delete " (tenant.name) " and all its data" }
                    }
                    a.button.secondary href=(AdminUrl::Tenant(tenant.id)) { "Cancel" }
                }
            }
        },
    )
}
