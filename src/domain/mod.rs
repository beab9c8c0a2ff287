//! Domain types parsed from user input (parse, don't validate): once you hold
//! one, it is valid.
//!
//! Owns: the small value types that forms, JSON bodies and stored columns are
//! turned into (`PhoneNumber`, `Language`, `BusinessHours`), and the tenant
//! lifecycle table. Must not: touch the database, `entity` models (beyond the
//! stored enums) or HTTP types; everything here is pure and unit-tested.
//! Errors are user-facing sentences (no internals), ready to show next to a
//! form field or in an API error body.

pub mod api_scope;
pub mod bot;
pub mod client_address;
pub mod handoff;
pub mod hours;
pub mod ids;
pub mod knowledge;
pub mod language;
pub mod lifecycle;
pub mod media;
pub mod password;
pub mod phone;

pub use hours::{BusinessHours, DayHours, parse_timezone};
pub use ids::TenantId;
pub use language::Language;
pub use lifecycle::{IllegalTransition, LifecycleAction, status_name, transition};
pub use phone::PhoneNumber;
