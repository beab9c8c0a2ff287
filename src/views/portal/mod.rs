//! The tenant owner's portal pages: onboarding (the setup request), status
//! (with the live QR code), the message log and the bot's settings. Same
//! look and building blocks as the admin console; the shell is
//! `layout::portal_page`. Must not: read the database; handlers hand over
//! the `services::portal` views.

pub mod api_keys;
pub mod bot;
pub mod inbox;
pub mod logs;
pub mod onboarding;
pub mod settings;
pub mod status;
pub mod team;
pub mod webhooks;

use crate::domain::hours::BusinessHours;
use crate::views::components::{self, DayValues};

/// The hours grid from stored hours JSON. Stored hours were valid when
/// written; if they no longer parse, the grid starts empty and saving asks
/// for them again.
fn days_of_json(hours: &serde_json::Value) -> [DayValues; 7] {
    BusinessHours::parse_json(hours)
        .map(|hours| components::day_values(&hours))
        .unwrap_or_default()
}
