//! sea-orm entities of Flow HQ, one module per table of `migration`.
//!
//! Written by hand rather than generated: the columns are plain strings in the
//! database (portable between SQLite and PostgreSQL) and typed here as active
//! enums, which `sea-orm-cli generate` cannot infer. Keep them in step with the
//! migrations; `tests/it` checks both backends against them.
//! Only `flowhq::services` may use these types; web handlers never do.

pub mod admin_account;
pub mod admin_api_token;
pub mod ai_reply;
pub mod api_idempotency;
pub mod api_key;
pub mod audit_log;
pub mod conversation;
pub mod conversation_event;
pub mod enums;
pub mod knowledge_answer_version;
pub mod message_log;
pub mod notice;
pub mod oauth_login;
pub mod plan;
pub mod setup_request;
pub mod team_invite;
pub mod tenant;
pub mod tenant_config;
pub mod tenant_knowledge;
pub mod transport_credential;
pub mod unanswered_question;
pub mod usage_day;
pub mod usage_month;
pub mod user;
pub mod wa_device;
pub mod wa_key;
pub mod web_session;
pub mod webhook_attempt;
pub mod webhook_endpoint;
pub mod webhook_event;
pub mod whatsapp_session;
pub mod worker_process;

pub mod prelude {
    pub use super::admin_account::Entity as AdminAccount;
    pub use super::admin_api_token::Entity as AdminApiToken;
    pub use super::ai_reply::Entity as AiReply;
    pub use super::api_idempotency::Entity as ApiIdempotency;
    pub use super::api_key::Entity as ApiKey;
    pub use super::audit_log::Entity as AuditLog;
    pub use super::conversation::Entity as Conversation;
    pub use super::conversation_event::Entity as ConversationEvent;
    pub use super::knowledge_answer_version::Entity as KnowledgeAnswerVersion;
    pub use super::message_log::Entity as MessageLog;
    pub use super::notice::Entity as Notice;
    pub use super::oauth_login::Entity as OauthLogin;
    pub use super::plan::Entity as Plan;
    pub use super::setup_request::Entity as SetupRequest;
    pub use super::team_invite::Entity as TeamInvite;
    pub use super::tenant::Entity as Tenant;
    pub use super::tenant_config::Entity as TenantConfig;
    pub use super::tenant_knowledge::Entity as TenantKnowledge;
    pub use super::transport_credential::Entity as TransportCredential;
    pub use super::unanswered_question::Entity as UnansweredQuestion;
    pub use super::usage_day::Entity as UsageDay;
    pub use super::usage_month::Entity as UsageMonth;
    pub use super::user::Entity as User;
    pub use super::wa_device::Entity as WaDevice;
    pub use super::wa_key::Entity as WaKey;
    pub use super::web_session::Entity as WebSession;
    pub use super::webhook_attempt::Entity as WebhookAttempt;
    pub use super::webhook_endpoint::Entity as WebhookEndpoint;
    pub use super::webhook_event::Entity as WebhookEvent;
    pub use super::whatsapp_session::Entity as WhatsappSession;
    pub use super::worker_process::Entity as WorkerProcess;
}
