//! The one integration test binary (one link step instead of one per file).
//! Every test boots the real `App` on port 0 with a database of its own: a
//! temp SQLite file, or a fresh PostgreSQL database when `TEST_DATABASE_URL`
//! is set. Tests run in parallel and share nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod admin_audit;
mod admin_auth;
mod admin_bots;
mod admin_cli;
mod admin_inbox;
mod admin_knowledge;
mod admin_lifecycle;
mod admin_setup_requests;
mod admin_tenants;
mod ai_replies;
mod bots;
mod browser;
mod cloud_api;
mod config;
mod conversations;
mod crash;
mod data_model;
mod errors;
mod health;
mod inbox;
mod inbox_search;
mod knowledge;
mod media_messages;
mod migrations;
mod notifications;
mod plans;
mod portal_isolation;
mod portal_pages;
mod portal_sign_in;
mod portal_story;
mod slow_clients;
mod sqlite_live;
mod sqlite_writers;
mod team;
mod tenant_api;
mod tenant_api_docs;
mod tenant_api_webhooks;
mod transport_pages;
mod usage_notices;
mod use_cases;
mod webhook_targets;
mod webhooks;
#[cfg(feature = "whatsapp-web")]
mod whatsapp_web;
