//! Typed URLs (kanidm's `enum Urls`): every link and redirect is built here,
//! so a path is spelled once and a typo is a compile error.

use std::fmt;

use entity::enums::TenantStatus;
use uuid::Uuid;

use crate::domain::bot::BotCommand;
use crate::domain::ids::{ConversationId, TenantId, WebhookId};
use crate::domain::lifecycle::status_name;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminUrl {
    Login,
    Logout,
    Dashboard,
    Tenants,
    /// The tenant list filtered to one status (the dashboard's counts).
    TenantsWithStatus(TenantStatus),
    NewTenant,
    Tenant(TenantId),
    TenantDelete(TenantId),
    TenantAction(TenantId, &'static str),
    /// Approves a NEW tenant directly (no setup request).
    TenantApprove(TenantId),
    /// Start, stop, restart or force-restart the tenant's bot.
    TenantBot(TenantId, BotCommand),
    /// The detail page's live state (JSON, polled by `admin.js`).
    TenantLive(TenantId),
    /// Simulates scanning the sandbox QR code.
    TenantSandboxScan(TenantId),
    /// Delivers a customer message to the sandbox bot.
    TenantSandboxInbound(TenantId),
    /// Chooses the tenant's transport (and its Cloud API credentials).
    TenantTransport(TenantId),
    /// WhatsApp Web: link by phone number (pairing code) or by QR code.
    TenantPairing(TenantId),
    /// Moves the tenant to another plan.
    TenantPlan(TenantId),
    /// Sets the tenant's monthly AI token budget.
    TenantAiBudget(TenantId),
    SetupRequests,
    /// The setup requests still waiting for a decision.
    WaitingSetupRequests,
    SetupRequestDecision(Uuid, &'static str),
    Audit,
    /// The audit trail of one tenant.
    TenantAudit(TenantId),
    /// The tenant's inbox as an admin sees it, and one of its threads
    /// with the thread's forms (the portal's pages, per tenant).
    TenantInbox(TenantId),
    TenantConversation(TenantId, ConversationId),
    TenantConversationReply(TenantId, ConversationId),
    TenantConversationTakeOver(TenantId, ConversationId),
    TenantConversationHandBack(TenantId, ConversationId),
    /// The tenant's conversations as JSON (read by the inbox's script).
    TenantConversationsJson(TenantId),
    /// The tenant's event stream (Server-Sent Events) for an admin's inbox.
    TenantLiveEvents(TenantId),
    /// What the tenant's bot knows: the portal's "Bot" page, per tenant.
    TenantKnowledge(TenantId),
    /// The root of the tenant's JSON twin under `/api/admin` (the Bot
    /// page's script appends `/knowledge`, `/try`, …).
    TenantApi(TenantId),
    /// The tenant's webhook endpoints, one endpoint's page, its buttons
    /// and "Send again" (the portal's pages, per tenant).
    TenantWebhooks(TenantId),
    TenantWebhook(TenantId, WebhookId),
    TenantWebhookAction(TenantId, WebhookId, &'static str),
    TenantWebhookResend(TenantId, WebhookId, i64),
    Tokens,
    TokenRevoke(Uuid),
    Plans,
}

impl fmt::Display for AdminUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Login => f.write_str("/admin/login"),
            Self::Logout => f.write_str("/admin/logout"),
            Self::Dashboard => f.write_str("/admin"),
            Self::Tenants => f.write_str("/admin/tenants"),
            Self::TenantsWithStatus(status) => {
                write!(f, "/admin/tenants?status={}", status_name(*status))
            }
            Self::NewTenant => f.write_str("/admin/tenants/new"),
            Self::Tenant(id) => write!(f, "/admin/tenants/{id}"),
            Self::TenantDelete(id) => write!(f, "/admin/tenants/{id}/delete"),
            Self::TenantAction(id, action) => write!(f, "/admin/tenants/{id}/{action}"),
            Self::TenantApprove(id) => write!(f, "/admin/tenants/{id}/approve"),
            Self::TenantBot(id, command) => {
                write!(f, "/admin/tenants/{id}/bot/{}", command.as_str())
            }
            Self::TenantLive(id) => write!(f, "/admin/tenants/{id}/live"),
            Self::TenantSandboxScan(id) => write!(f, "/admin/tenants/{id}/sandbox/scan"),
            Self::TenantSandboxInbound(id) => write!(f, "/admin/tenants/{id}/sandbox/inbound"),
            Self::TenantTransport(id) => write!(f, "/admin/tenants/{id}/transport"),
            Self::TenantPairing(id) => write!(f, "/admin/tenants/{id}/pairing"),
            Self::TenantPlan(id) => write!(f, "/admin/tenants/{id}/plan"),
            Self::TenantAiBudget(id) => write!(f, "/admin/tenants/{id}/ai-budget"),
            Self::SetupRequests => f.write_str("/admin/setup-requests"),
            Self::WaitingSetupRequests => f.write_str("/admin/setup-requests?status=SUBMITTED"),
            Self::SetupRequestDecision(id, decision) => {
                write!(f, "/admin/setup-requests/{id}/{decision}")
            }
            Self::Audit => f.write_str("/admin/audit"),
            Self::TenantAudit(id) => write!(f, "/admin/audit?tenant_id={id}"),
            Self::TenantInbox(id) => write!(f, "/admin/tenants/{id}/inbox"),
            Self::TenantConversation(id, cid) => write!(f, "/admin/tenants/{id}/inbox/{cid}"),
            Self::TenantConversationReply(id, cid) => {
                write!(f, "/admin/tenants/{id}/inbox/{cid}/reply")
            }
            Self::TenantConversationTakeOver(id, cid) => {
                write!(f, "/admin/tenants/{id}/inbox/{cid}/take-over")
            }
            Self::TenantConversationHandBack(id, cid) => {
                write!(f, "/admin/tenants/{id}/inbox/{cid}/hand-back")
            }
            Self::TenantConversationsJson(id) => {
                write!(f, "/api/admin/tenants/{id}/conversations")
            }
            Self::TenantLiveEvents(id) => write!(f, "/api/admin/tenants/{id}/events"),
            Self::TenantKnowledge(id) => write!(f, "/admin/tenants/{id}/bot"),
            Self::TenantApi(id) => write!(f, "/api/admin/tenants/{id}"),
            Self::TenantWebhooks(id) => write!(f, "/admin/tenants/{id}/webhooks"),
            Self::TenantWebhook(id, wid) => write!(f, "/admin/tenants/{id}/webhooks/{wid}"),
            Self::TenantWebhookAction(id, wid, action) => {
                write!(f, "/admin/tenants/{id}/webhooks/{wid}/{action}")
            }
            Self::TenantWebhookResend(id, wid, event) => {
                write!(
                    f,
                    "/admin/tenants/{id}/webhooks/{wid}/events/{event}/resend"
                )
            }
            Self::Tokens => f.write_str("/admin/tokens"),
            Self::TokenRevoke(id) => write!(f, "/admin/tokens/{id}/revoke"),
            Self::Plans => f.write_str("/admin/plans"),
        }
    }
}

/// One plan's form in the console (`code` is capital letters, digits
/// and `_`, nothing to escape).
pub fn admin_plan(code: &str) -> String {
    format!("{}/{code}", AdminUrl::Plans)
}

/// The tenant owner's pages and sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PortalUrl {
    /// Sends the owner to onboarding or status, whichever fits.
    Home,
    Onboarding,
    Status,
    Logs,
    /// The conversations, and one conversation's thread and actions.
    Inbox,
    Conversation(ConversationId),
    ConversationReply(ConversationId),
    ConversationTakeOver(ConversationId),
    ConversationHandBack(ConversationId),
    /// The inbox's event stream (Server-Sent Events).
    LiveEvents,
    /// The session's conversations as JSON (read by the inbox's script).
    ConversationsJson,
    Settings,
    /// Chooses the tenant's transport (and its Cloud API credentials).
    SettingsTransport,
    /// WhatsApp Web: link by phone number (pairing code) or by QR code.
    SettingsPairing,
    /// A new code to link with, when the last ran out (restarts the bot).
    StatusNewCode,
    /// The sandbox: simulates scanning the QR code with the phone.
    StatusSandboxScan,
    /// What the bot knows (facts, services, FAQ, answers, try your bot).
    Bot,
    /// The root of the portal's JSON twin (the Bot page's script appends
    /// `/knowledge`, `/try`, …).
    Api,
    /// The owner's team: members, pending invitations, the invite form.
    Team,
    TeamInvite,
    TeamRemoveMember(Uuid),
    TeamRevokeInvitation(Uuid),
    /// The owner's webhook endpoints (list, create form).
    Webhooks,
    /// One endpoint: settings and delivery log.
    Webhook(WebhookId),
    /// A button of the endpoint's page: `toggle`, `rotate`, `test`, `delete`.
    WebhookAction(WebhookId, &'static str),
    /// "Send again" for one queued event of the endpoint.
    WebhookResend(WebhookId, i64),
    /// The owner's API keys and the form for a new one.
    ApiKeys,
    ApiKeysCreate,
    ApiKeyRevoke(Uuid),
    /// The month's usage against the plan, with the 30-day chart.
    Usage,
    /// Starts Google sign-in (or explains that it is not configured).
    SignIn,
    SignInCallback,
    SignOut,
    /// The status page's live state (JSON, polled by its script).
    LiveStatus,
    LiveQr,
}

impl fmt::Display for PortalUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Conversation(id) => return write!(f, "/portal/inbox/{id}"),
            Self::ConversationReply(id) => return write!(f, "/portal/inbox/{id}/reply"),
            Self::ConversationTakeOver(id) => return write!(f, "/portal/inbox/{id}/take-over"),
            Self::ConversationHandBack(id) => return write!(f, "/portal/inbox/{id}/hand-back"),
            Self::TeamRemoveMember(id) => return write!(f, "/portal/team/members/{id}/remove"),
            Self::TeamRevokeInvitation(id) => {
                return write!(f, "/portal/team/invitations/{id}/revoke");
            }
            Self::Webhook(id) => return write!(f, "/portal/webhooks/{id}"),
            Self::WebhookAction(id, action) => return write!(f, "/portal/webhooks/{id}/{action}"),
            Self::WebhookResend(id, event) => {
                return write!(f, "/portal/webhooks/{id}/events/{event}/resend");
            }
            Self::ApiKeyRevoke(id) => return write!(f, "/portal/api-keys/{id}/revoke"),
            _ => {}
        }
        f.write_str(match self {
            Self::Home => "/portal",
            Self::Inbox => "/portal/inbox",
            Self::LiveEvents => "/api/portal/events",
            Self::ConversationsJson => "/api/portal/conversations",
            Self::Conversation(_)
            | Self::ConversationReply(_)
            | Self::ConversationTakeOver(_)
            | Self::ConversationHandBack(_)
            | Self::TeamRemoveMember(_)
            | Self::TeamRevokeInvitation(_)
            | Self::Webhook(_)
            | Self::WebhookAction(..)
            | Self::WebhookResend(..)
            | Self::ApiKeyRevoke(_) => "",
            Self::Webhooks => "/portal/webhooks",
            Self::Bot => "/portal/bot",
            Self::Api => "/api/portal",
            Self::ApiKeys => "/portal/api-keys",
            Self::ApiKeysCreate => "/portal/api-keys/create",
            Self::Usage => "/portal/usage",
            Self::Team => "/portal/team",
            Self::TeamInvite => "/portal/team/invite",
            Self::Onboarding => "/portal/onboarding",
            Self::Status => "/portal/status",
            Self::Logs => "/portal/logs",
            Self::Settings => "/portal/settings",
            Self::SettingsTransport => "/portal/settings/transport",
            Self::SettingsPairing => "/portal/settings/pairing",
            Self::StatusNewCode => "/portal/status/new-code",
            Self::StatusSandboxScan => "/portal/status/sandbox-scan",
            Self::SignIn => "/auth/google/login",
            Self::SignInCallback => "/auth/google/callback",
            Self::SignOut => "/auth/logout",
            Self::LiveStatus => "/api/portal/tenant/current/status",
            Self::LiveQr => "/api/portal/tenant/current/qr",
        })
    }
}

impl From<PortalUrl> for String {
    fn from(url: PortalUrl) -> Self {
        url.to_string()
    }
}

impl From<AdminUrl> for String {
    fn from(url: AdminUrl) -> Self {
        url.to_string()
    }
}

/// Where the webhook pages' links and forms go: the portal (the session's
/// tenant) or the admin console's view of one tenant, so one markup serves
/// both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookUrls {
    Portal,
    Admin(TenantId),
}

impl WebhookUrls {
    /// The endpoints and the form for a new one.
    pub fn list(self) -> String {
        match self {
            Self::Portal => PortalUrl::Webhooks.to_string(),
            Self::Admin(id) => AdminUrl::TenantWebhooks(id).to_string(),
        }
    }

    /// One endpoint's page.
    pub fn endpoint(self, wid: WebhookId) -> String {
        match self {
            Self::Portal => PortalUrl::Webhook(wid).to_string(),
            Self::Admin(id) => AdminUrl::TenantWebhook(id, wid).to_string(),
        }
    }

    /// A button of the endpoint's page: `toggle`, `rotate`, `test`, `delete`.
    pub fn action(self, wid: WebhookId, action: &'static str) -> String {
        match self {
            Self::Portal => PortalUrl::WebhookAction(wid, action).to_string(),
            Self::Admin(id) => AdminUrl::TenantWebhookAction(id, wid, action).to_string(),
        }
    }

    /// "Send again" for one event of the endpoint.
    pub fn resend(self, wid: WebhookId, event: i64) -> String {
        match self {
            Self::Portal => PortalUrl::WebhookResend(wid, event).to_string(),
            Self::Admin(id) => AdminUrl::TenantWebhookResend(id, wid, event).to_string(),
        }
    }
}

/// Where an inbox page links and posts: the portal's own (the session's
/// tenant) or the admin console's view of one tenant. The inbox views take
/// this, so one markup serves both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxUrls {
    Portal,
    Admin(TenantId),
}

impl InboxUrls {
    /// The conversation list.
    pub fn list(self) -> String {
        match self {
            Self::Portal => PortalUrl::Inbox.to_string(),
            Self::Admin(id) => AdminUrl::TenantInbox(id).to_string(),
        }
    }

    /// One thread.
    pub fn conversation(self, cid: ConversationId) -> String {
        match self {
            Self::Portal => PortalUrl::Conversation(cid).to_string(),
            Self::Admin(id) => AdminUrl::TenantConversation(id, cid).to_string(),
        }
    }

    pub fn reply(self, cid: ConversationId) -> String {
        match self {
            Self::Portal => PortalUrl::ConversationReply(cid).to_string(),
            Self::Admin(id) => AdminUrl::TenantConversationReply(id, cid).to_string(),
        }
    }

    pub fn take_over(self, cid: ConversationId) -> String {
        match self {
            Self::Portal => PortalUrl::ConversationTakeOver(cid).to_string(),
            Self::Admin(id) => AdminUrl::TenantConversationTakeOver(id, cid).to_string(),
        }
    }

    pub fn hand_back(self, cid: ConversationId) -> String {
        match self {
            Self::Portal => PortalUrl::ConversationHandBack(cid).to_string(),
            Self::Admin(id) => AdminUrl::TenantConversationHandBack(id, cid).to_string(),
        }
    }

    /// The event stream the page's script listens to.
    pub fn events(self) -> String {
        match self {
            Self::Portal => PortalUrl::LiveEvents.to_string(),
            Self::Admin(id) => AdminUrl::TenantLiveEvents(id).to_string(),
        }
    }

    /// The chats waiting for a person, as JSON (the script's count and
    /// browser notifications).
    pub fn needs_human_json(self) -> String {
        let list = match self {
            Self::Portal => PortalUrl::ConversationsJson.to_string(),
            Self::Admin(id) => AdminUrl::TenantConversationsJson(id).to_string(),
        };
        format!("{list}?{}", query_string(&[("filter", "needs_human")]))
    }
}

/// Whose "Bot" page (what the bot knows) this is: the owner's own (the
/// session's tenant) or the admin console's view of one tenant. The page's
/// markup takes this, so it is written once; its script reads and writes
/// the JSON twin under `api()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotUrls {
    Portal,
    Admin(TenantId),
}

impl BotUrls {
    /// The JSON twin's root: `/knowledge`, `/try`, … follow it.
    pub fn api(self) -> String {
        match self {
            Self::Portal => PortalUrl::Api.to_string(),
            Self::Admin(id) => AdminUrl::TenantApi(id).to_string(),
        }
    }
}

/// The Cloud API webhook address of a tenant, to paste into Meta's app
/// settings (WhatsApp → Configuration → Callback URL).
pub fn webhook_url(public_url: &str, tenant: TenantId) -> String {
    format!(
        "{}/webhooks/whatsapp/{tenant}",
        public_url.trim_end_matches('/')
    )
}

/// An invitation link without its token (`…/portal/join`); the token is
/// appended once, when the invitation is made.
pub fn invitation_link_base(public_url: &str) -> String {
    format!("{}/portal/join", public_url.trim_end_matches('/'))
}

/// `a=1&b=x%20y` from the pairs whose value is not empty, for links that
/// keep a list's filters (pagination). Values are form-urlencoded.
pub fn query_string(pairs: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(_, value)| !value.is_empty()) {
        query.append_pair(key, value);
    }
    query.finish()
}

/// Where a signed-out browser asking for `path` is sent, if anywhere: the
/// admin sign-in page for the console, Google sign-in for the portal.
pub fn sign_in_for(path: &str, query: &str) -> Option<String> {
    let sign_in = if path.starts_with("/admin") && path != "/admin/login" {
        AdminUrl::Login.to_string()
    } else if path == "/portal" || path.starts_with("/portal/") {
        PortalUrl::SignIn.to_string()
    } else {
        return None;
    };
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    let next = url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>();
    Some(format!("{sign_in}?next={next}"))
}

/// A `next` parameter is followed only to our own portal pages (no open
/// redirect), and only when it is short and plain enough to be a header.
pub fn safe_portal_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if (next == "/portal"
                || next.starts_with("/portal/")
                || next.starts_with("/portal?"))
                && plain_path(next) =>
        {
            next.to_owned()
        }
        _ => PortalUrl::Home.to_string(),
    }
}

/// No backslash, whitespace or control character, at most 500 bytes.
fn plain_path(next: &str) -> bool {
    next.len() <= 500
        && !next
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
}

/// A `next` parameter is followed only to our own admin pages (no open redirect).
pub fn safe_admin_next(next: Option<&str>) -> String {
    match next {
        Some(next) if next.starts_with("/admin") && !next.starts_with("//") && plain_path(next) => {
            next.to_owned()
        }
        _ => AdminUrl::Dashboard.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_followed_only_to_plain_pages_of_its_own_area() {
        for ok in ["/portal", "/portal/logs?page=2", "/portal?x=1"] {
            assert_eq!(safe_portal_next(Some(ok)), ok);
        }
        for refused in [
            "//evil.example",
            "https://evil.example/portal",
            "/portal\\..\\admin",
            "/portal/logs\r\nSet-Cookie: x=1",
            "/portal/ spaced",
            "/admin",
            "/portalx",
        ] {
            assert_eq!(safe_portal_next(Some(refused)), "/portal", "{refused:?}");
        }
        let long = format!("/portal/{}", "a".repeat(600));
        assert_eq!(safe_portal_next(Some(&long)), "/portal");
        assert_eq!(safe_admin_next(Some("/admin/tenants")), "/admin/tenants");
        assert_eq!(safe_admin_next(Some("/admin\n")), "/admin");
        assert_eq!(safe_admin_next(Some("//evil")), "/admin");
    }

    #[test]
    fn a_bot_page_and_its_script_stay_within_their_own_area_and_tenant() {
        let tenant = TenantId::new_random();
        assert_eq!(BotUrls::Portal.api(), "/api/portal");
        assert_eq!(
            BotUrls::Admin(tenant).api(),
            format!("/api/admin/tenants/{tenant}")
        );
        assert_eq!(
            AdminUrl::TenantKnowledge(tenant).to_string(),
            format!("/admin/tenants/{tenant}/bot")
        );
    }

    #[test]
    fn an_inbox_links_within_its_own_area_and_tenant() {
        let tenant = TenantId::new_random();
        let cid = ConversationId::new(7);
        let portal = InboxUrls::Portal;
        assert_eq!(portal.list(), "/portal/inbox");
        assert_eq!(portal.conversation(cid), format!("/portal/inbox/{cid}"));
        assert_eq!(
            portal.take_over(cid),
            format!("/portal/inbox/{cid}/take-over")
        );
        assert_eq!(portal.events(), "/api/portal/events");
        assert_eq!(
            portal.needs_human_json(),
            "/api/portal/conversations?filter=needs_human"
        );
        let admin = InboxUrls::Admin(tenant);
        let base = format!("/admin/tenants/{tenant}/inbox");
        assert_eq!(admin.list(), base);
        assert_eq!(admin.conversation(cid), format!("{base}/{cid}"));
        assert_eq!(admin.reply(cid), format!("{base}/{cid}/reply"));
        assert_eq!(admin.take_over(cid), format!("{base}/{cid}/take-over"));
        assert_eq!(admin.hand_back(cid), format!("{base}/{cid}/hand-back"));
        assert_eq!(
            admin.events(),
            format!("/api/admin/tenants/{tenant}/events")
        );
        assert_eq!(
            admin.needs_human_json(),
            format!("/api/admin/tenants/{tenant}/conversations?filter=needs_human")
        );
    }
}
