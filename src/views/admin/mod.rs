//! The admin console's pages.

pub mod audit;
pub mod bots;
pub mod dashboard;
pub mod inbox;
pub mod knowledge;
pub mod login;
pub mod plans;
pub mod setup_requests;
pub mod tenants;
pub mod tokens;
pub mod webhooks;
