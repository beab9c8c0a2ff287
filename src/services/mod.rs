//! Use-cases over the database. The only place that touches `entity::*`:
//! handlers call these with parsed input and render what comes back.
//! Every state change that an admin or owner makes writes its audit row in
//! the same transaction as the change.

pub mod admins;
pub mod ai;
pub mod api_keys;
pub mod audit;
pub mod bots;
pub mod cloud_webhook;
pub mod control;
pub mod inbox;
pub mod knowledge;
pub mod messages;
pub mod notifications;
pub mod plans;
pub mod portal;
pub mod runtime;
pub mod sandbox;

pub mod sessions;
pub mod setup_requests;
pub mod team;
pub mod tenant_api;
pub mod tenants;
pub mod transports;
pub mod usage;
pub mod users;
pub mod webhooks;

use serde::{Deserialize, Serialize};

/// Which page of a list to show (1-based), as parsed from `?page=&per_page=`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(default)]
pub struct PageRequest {
    pub page: u64,
    pub per_page: u64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: 25,
        }
    }
}

impl PageRequest {
    pub const MAX_PER_PAGE: u64 = 100;
    /// Far past any real list; keeps the offset a sane SQL number.
    pub const MAX_PAGE: u64 = 10_000_000;

    /// Page ≥ 1 and 1 ≤ per_page ≤ 100, whatever the query said.
    pub fn clamped(self) -> Self {
        Self {
            page: self.page.clamp(1, Self::MAX_PAGE),
            per_page: self.per_page.clamp(1, Self::MAX_PER_PAGE),
        }
    }

    pub fn offset(self) -> u64 {
        self.page.saturating_sub(1).saturating_mul(self.per_page)
    }
}

/// One page of a list plus what a pager needs.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

impl<T> Page<T> {
    pub fn total_pages(&self) -> u64 {
        self.total.div_ceil(self.per_page).max(1)
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            page: self.page,
            per_page: self.per_page,
            total: self.total,
        }
    }
}

/// `%` and `_` in user input match themselves in a LIKE pattern.
pub(crate) fn like_pattern(query: &str) -> String {
    let escaped = query
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
