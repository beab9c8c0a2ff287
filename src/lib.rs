//! Flow HQ: one process hosting the admin console, the tenant portal, the
//! JSON APIs and every tenant's WhatsApp bot. See DESIGN.md for the shape.

pub mod app;
pub mod bench;
pub mod bots;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod fake_google;
pub mod limits;
pub mod live;
pub mod oauth;
pub mod replies;
pub mod services;
pub mod state;
pub mod telemetry;
pub mod text;
pub mod urls;
pub mod views;
pub mod web;
