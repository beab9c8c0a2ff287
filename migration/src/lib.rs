//! Schema migrations for Flow HQ, applied at start-up and by `flowhq migrate`.
//!
//! Migrations are self-contained: they describe tables with `DeriveIden` enums of
//! their own and never import the `entity` crate, so an old migration keeps
//! meaning what it meant when it shipped, whatever the entities become later.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_initial_schema;
mod m20261123_000002_sessions_and_tokens;
mod m20261123_000003_bot_runtime;
mod m20261123_000004_portal_sign_in;
mod m20261124_000005_real_transports;
mod m20261124_000006_whatsapp_web_store;
mod m20261204_000007_intents_and_conversations;
mod m20261205_000008_outbox;
mod m20261205_000009_session_offline_reason;
mod m20261205_000010_sealed_whatsapp_web_keys;
mod m20261205_000011_inbox;
mod m20261205_000012_team_invites;
mod m20261205_000013_knowledge;
mod m20261205_000014_tenant_api;
mod m20261205_000015_webhooks;
mod m20261205_000016_inbox_finish;
mod m20261205_000017_usage_notices;
mod m20261205_000018_ai_replies;
mod m20261206_000019_lighter_conversation_writes;
mod m20261207_000020_sent_wa_ids_only;
mod m20261207_000021_search_the_customers_words;
mod m20261207_000022_webhook_queue_floor;
mod statements;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial_schema::Migration),
            Box::new(m20261123_000002_sessions_and_tokens::Migration),
            Box::new(m20261123_000003_bot_runtime::Migration),
            Box::new(m20261123_000004_portal_sign_in::Migration),
            Box::new(m20261124_000005_real_transports::Migration),
            Box::new(m20261124_000006_whatsapp_web_store::Migration),
            Box::new(m20261204_000007_intents_and_conversations::Migration),
            Box::new(m20261205_000008_outbox::Migration),
            Box::new(m20261205_000009_session_offline_reason::Migration),
            Box::new(m20261205_000010_sealed_whatsapp_web_keys::Migration),
            Box::new(m20261205_000011_inbox::Migration),
            Box::new(m20261205_000012_team_invites::Migration),
            Box::new(m20261205_000013_knowledge::Migration),
            Box::new(m20261205_000014_tenant_api::Migration),
            Box::new(m20261205_000015_webhooks::Migration),
            Box::new(m20261205_000016_inbox_finish::Migration),
            Box::new(m20261205_000017_usage_notices::Migration),
            Box::new(m20261205_000018_ai_replies::Migration),
            Box::new(m20261206_000019_lighter_conversation_writes::Migration),
            Box::new(m20261207_000020_sent_wa_ids_only::Migration),
            Box::new(m20261207_000021_search_the_customers_words::Migration),
            Box::new(m20261207_000022_webhook_queue_floor::Migration),
        ]
    }
}
