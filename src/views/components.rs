//! Building blocks every page uses: flash, badges, form fields, CSRF input,
//! pagination, empty states, and the pieces the admin console and the
//! portal share (the business-hours grid, the template and language
//! choices, the message table). Pages compose these; they never repeat markup.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use entity::enums::{Direction, MessageStatus, TemplateType};
use maud::{Markup, html};

use crate::domain::hours::{BusinessHours, DAY_KEYS, parse_timezone, timezone_names};
use crate::domain::language::Language;
use crate::error::FieldErrors;
use crate::services::Page;
use crate::services::messages::MessageView;
use crate::services::sessions::{Flash, FlashKind};
use crate::services::tenants::template_name;

pub fn flash(flash: Option<&Flash>) -> Markup {
    html! {
        @if let Some(flash) = flash {
            @let class = match flash.kind {
                FlashKind::Success => "flash flash-success",
                FlashKind::Error => "flash flash-error",
                FlashKind::Info => "flash flash-info",
            };
            div class=(class) role="status" { (flash.message) }
        }
    }
}

/// A coloured badge for a status name such as `QR_PENDING` or `running`.
pub fn badge(status: &str) -> Markup {
    let class = format!("badge badge-{}", status.to_ascii_lowercase());
    html! { span class=(class) { (status.replace('_', " ")) } }
}

/// A badge coloured for `status` (as `badge`) that reads `label`: the
/// portal's plain words for a status code.
pub fn badge_labeled(status: &str, label: &str) -> Markup {
    let class = format!("badge badge-{}", status.to_ascii_lowercase());
    html! { span class=(class) { (label) } }
}

/// The stored string of an enum value (what the DB and the JSON API show).
pub fn enum_name<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

pub fn csrf_input(token: &str) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(token); }
}

/// A POST form of just a button (actions like pause, approve, sign out).
pub fn action_button(action: &str, csrf: &str, label: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_input(csrf))
            button class=(class) type="submit" { (label) }
        }
    }
}

/// What a form field needs to render: its name, label, current value and
/// the error for it, if any.
pub struct Field<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub hint: Option<&'a str>,
    pub errors: &'a FieldErrors,
}

impl Field<'_> {
    fn error(&self) -> Option<&String> {
        self.errors.get(self.name)
    }

    fn wrap(&self, control: Markup) -> Markup {
        let class = if self.error().is_some() {
            "field has-error"
        } else {
            "field"
        };
        html! {
            div class=(class) {
                label for=(self.name) { (self.label) }
                (control)
                @if let Some(hint) = self.hint { p.hint id=(format!("{}-hint", self.name)) { (hint) } }
                @if let Some(error) = self.error() {
                    p.error-text id=(format!("{}-error", self.name)) {
                        // Most messages continue the label ("is missing");
                        // a capitalised one is a sentence of its own.
                        @if !error.starts_with(|c: char| c.is_uppercase()) { (self.label) " " }
                        (error)
                    }
                }
            }
        }
    }

    fn described_by(&self) -> Option<String> {
        match (self.error().is_some(), self.hint.is_some()) {
            (true, _) => Some(format!("{}-error", self.name)),
            (false, true) => Some(format!("{}-hint", self.name)),
            _ => None,
        }
    }

    pub fn input(&self, kind: &str, required: bool) -> Markup {
        self.wrap(html! {
            input id=(self.name) name=(self.name) type=(kind) value=(self.value)
                required[required]
                aria-invalid=[self.error().map(|_| "true")]
                aria-describedby=[self.described_by()];
        })
    }

    /// A secret (token, password): never filled in, and never offered to
    /// the browser's password manager. `stored`: one is kept already, so
    /// leaving it empty keeps it.
    pub fn secret(&self, stored: bool) -> Markup {
        self.wrap(html! {
            input id=(self.name) name=(self.name) type="password" value=""
                autocomplete="new-password" spellcheck="false"
                placeholder=[stored.then_some("stored — leave empty to keep")]
                aria-invalid=[self.error().map(|_| "true")]
                aria-describedby=[self.described_by()];
        })
    }

    pub fn textarea(&self, rows: u32) -> Markup {
        self.wrap(html! {
            textarea id=(self.name) name=(self.name) rows=(rows)
                aria-invalid=[self.error().map(|_| "true")]
                aria-describedby=[self.described_by()] { (self.value) }
        })
    }

    /// A time zone: a text field with every IANA zone to pick from (a
    /// datalist, which browsers filter as one types: "Berlin" finds
    /// Europe/Berlin); without scripts it is still a plain field, and the
    /// server refuses a name it does not know. `new_form`: nothing was
    /// chosen yet, so `static/zone.js` may put the browser's own zone in;
    /// a stored or typed value is never marked, so never replaced.
    pub fn timezone(&self, new_form: bool) -> Markup {
        let list = format!("{}-zones", self.name);
        // The list after the field (it is never shown itself), so the
        // field's hint and error stay next to it.
        html! {
            (self.wrap(html! {
                input id=(self.name) name=(self.name) type="text" value=(self.value) list=(list)
                    autocomplete="off" spellcheck="false" data-browser-zone[new_form]
                    aria-invalid=[self.error().map(|_| "true")]
                    aria-describedby=[self.described_by()];
            }))
            datalist id=(list) {
                @for zone in timezone_names() { option value=(zone) {} }
            }
        }
    }

    /// A select of `(value, label)` options with the current value chosen.
    pub fn select(&self, options: &[(&str, &str)]) -> Markup {
        self.wrap(html! {
            select id=(self.name) name=(self.name)
                aria-invalid=[self.error().map(|_| "true")]
                aria-describedby=[self.described_by()] {
                @for (value, label) in options {
                    option value=(value) selected[*value == self.value] { (label) }
                }
            }
        })
    }
}

/// Previous/next links keeping the other query parameters (`base_query`
/// is e.g. `q=salon&status=ACTIVE`, without `page`).
pub fn pagination<T>(page: &Page<T>, path: &str, base_query: &str) -> Markup {
    let link = |n: u64| {
        let sep = if base_query.is_empty() { "" } else { "&" };
        format!(
            "{path}?{base_query}{sep}page={n}&per_page={}",
            page.per_page
        )
    };
    let last = page.total_pages();
    html! {
        nav.pagination aria-label="Pages" {
            @if page.page > 1 { a href=(link(page.page - 1)) rel="prev" { "← Previous" } }
            @else { span.disabled { "← Previous" } }
            span.current { "Page " (page.page) " of " (last) }
            @if page.page < last { a href=(link(page.page + 1)) rel="next" { "Next →" } }
            @else { span.disabled { "Next →" } }
            span.summary { (page.total) " in all" }
        }
    }
}

pub fn empty(title: &str, hint: &str, action: Option<(&str, &str)>) -> Markup {
    html! {
        div.empty {
            h2 { (title) }
            p { (hint) }
            @if let Some((href, label)) = action { a.button.primary href=(href) { (label) } }
        }
    }
}

/// A time as the admin console shows it: in UTC, and saying so.
pub fn datetime(at: &DateTime<Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) } }
}

/// A tenant's time zone: the portal shows its owner every time as a local
/// clock time, and names the zone once per page or section (`note`), not
/// in every cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Zone(Tz);

impl Zone {
    /// The zone of a stored IANA name; UTC if it no longer parses (stored
    /// names were valid when written).
    pub fn named(name: &str) -> Self {
        Self(parse_timezone(name).unwrap_or(Tz::UTC))
    }

    /// The IANA name, e.g. `Europe/Berlin`.
    pub fn name(&self) -> &'static str {
        self.0.name()
    }

    /// `2026-11-23 22:48`, local to the zone.
    pub fn datetime(&self, at: &DateTime<Utc>) -> Markup {
        let local = at.with_timezone(&self.0);
        html! { time datetime=(at.to_rfc3339()) { (local.format("%Y-%m-%d %H:%M")) } }
    }

    /// `22:48:05`, local to the zone.
    pub fn clock(&self, at: &DateTime<Utc>) -> Markup {
        let local = at.with_timezone(&self.0);
        html! { time datetime=(at.to_rfc3339()) { (local.format("%H:%M:%S")) } }
    }

    /// The one line naming the zone of a section's times.
    pub fn note(&self) -> Markup {
        html! { p.muted.zone-note { "Times are in " (self.name()) ", your business's time zone." } }
    }
}

const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

const TEMPLATES: [(TemplateType, &str); 3] = [
    (TemplateType::Booking, "Booking (appointments)"),
    (TemplateType::Ecommerce, "E-commerce (orders)"),
    (TemplateType::Support, "Support (questions)"),
];

/// A template's name for people, as the select shows it.
pub fn template_label(template: TemplateType) -> &'static str {
    TEMPLATES
        .iter()
        .find(|(t, _)| *t == template)
        .map_or("", |(_, label)| *label)
}

/// A stored language code's name for people ("Deutsch" for `de`), as the
/// select shows it; an unknown code as it is.
pub fn language_label(code: &str) -> &str {
    Language::parse(code).map_or(code, |language| language.name())
}

/// The template select's `(value, label)` options.
pub fn template_options() -> Vec<(&'static str, &'static str)> {
    TEMPLATES
        .iter()
        .map(|(template, label)| (template_name(*template), *label))
        .collect()
}

/// The language select's `(value, label)` options.
pub fn language_options() -> Vec<(&'static str, &'static str)> {
    Language::ALL
        .iter()
        .map(|language| (language.code(), language.name()))
        .collect()
}

/// One weekday of the hours grid, as typed or stored.
#[derive(Debug, Clone, Default)]
pub struct DayValues {
    pub open: String,
    pub close: String,
    pub closed: bool,
}

/// The grid filled from stored hours, Monday first.
pub fn day_values(hours: &BusinessHours) -> [DayValues; 7] {
    hours.days().map(|day| match day {
        Some(range) => DayValues {
            open: range.open().format("%H:%M").to_string(),
            close: range.close().format("%H:%M").to_string(),
            closed: false,
        },
        None => DayValues {
            closed: true,
            ..DayValues::default()
        },
    })
}

/// The grid as typed into a submitted form (`hours_mon_open`, …); a
/// checkbox is ticked when it was sent at all.
pub fn days_from_form(get: impl Fn(&str) -> Option<String>) -> [DayValues; 7] {
    DAY_KEYS.map(|day| DayValues {
        open: get(&format!("hours_{day}_open")).unwrap_or_default(),
        close: get(&format!("hours_{day}_close")).unwrap_or_default(),
        closed: get(&format!("hours_{day}_closed")).is_some(),
    })
}

/// Seven rows of (day, opens, closes, closed). The hours error names the
/// days it is about ("tue: …", "wed.open: …"); those days are marked invalid.
pub fn hours_grid(days: &[DayValues; 7], error: Option<&String>) -> Markup {
    let invalid = |key: &str| {
        error.is_some_and(|e| e.contains(&format!("{key}:")) || e.contains(&format!("{key}.")))
    };
    html! {
        fieldset aria-describedby=[error.map(|_| "hours-error")] {
            legend { "Business hours" }
            div.hours-grid {
                span.muted.hours-head.hours-day aria-hidden="true" { "Day" }
                span.muted.hours-head aria-hidden="true" { "Opens" }
                span.muted.hours-head aria-hidden="true" { "Closes" }
                span.muted.hours-head.hours-day aria-hidden="true" {}
                @for ((key, name), day) in DAY_KEYS.iter().zip(DAY_NAMES).zip(days) {
                    @let (open, close, closed) = (
                        format!("hours_{key}_open"),
                        format!("hours_{key}_close"),
                        format!("hours_{key}_closed"),
                    );
                    @let bad = invalid(key);
                    span { (name) }
                    div {
                        label.sr-only for=(open) { (name) " opens at" }
                        input id=(open) name=(open) type="time" value=(day.open)
                            aria-invalid=[bad.then_some("true")]
                            aria-describedby=[bad.then_some("hours-error")];
                    }
                    div {
                        label.sr-only for=(close) { (name) " closes at" }
                        input id=(close) name=(close) type="time" value=(day.close)
                            aria-invalid=[bad.then_some("true")]
                            aria-describedby=[bad.then_some("hours-error")];
                    }
                    label.check for=(closed) {
                        input id=(closed) name=(closed) type="checkbox" value="on"
                            checked[day.closed];
                        "Closed" span.sr-only { " on " (name) }
                    }
                }
            }
            @if let Some(error) = error {
                p.error-text #hours-error { "Business hours: " (error) }
            }
        }
    }
}

/// Who reads a message log: an admin (the stored codes, times in UTC) or
/// the tenant's owner (plain words, times in the tenant's zone).
#[derive(Debug, Clone, Copy)]
pub enum LogReader {
    Admin,
    Owner(Zone),
}

/// An owner's word for a message's direction.
fn direction_label(direction: Direction) -> &'static str {
    match direction {
        Direction::In => "Received",
        Direction::Out => "Bot reply",
    }
}

/// An owner's words for a message's status.
fn message_status_label(status: MessageStatus) -> &'static str {
    match status {
        MessageStatus::Received => "Not answered yet",
        MessageStatus::Answered => "Answered",
        MessageStatus::Skipped => "Not answered",
        MessageStatus::Sent => "Sent",
        MessageStatus::Delivered => "Delivered",
        MessageStatus::Read => "Read",
        MessageStatus::Failed => "Failed",
        MessageStatus::Queued => "Waiting to be sent",
        MessageStatus::Sending => "Sending",
        MessageStatus::Unknown => "Maybe not sent",
    }
}

/// A tenant's message log: time, direction, from, to, text, status. A
/// table on wide screens; on small ones (`app.css`, `.stacked`) each
/// message becomes a block: time, direction and status on one line, the
/// text below in full width, then who wrote to whom.
pub fn messages_table(messages: &[MessageView], reader: LogReader) -> Markup {
    html! {
        div.table-wrap {
            table.table.stacked.messages {
                thead { tr {
                    th scope="col" { "Time" }
                    th scope="col" { "Direction" }
                    th scope="col" { "From" }
                    th scope="col" { "To" }
                    th scope="col" { "Text" }
                    th scope="col" { "Status" }
                } }
                tbody {
                    @for message in messages {
                        @let status = enum_name(&message.status);
                        tr {
                            td.nowrap.m-time {
                                @match reader {
                                    LogReader::Admin => (datetime(&message.created_at)),
                                    LogReader::Owner(zone) => (zone.datetime(&message.created_at)),
                                }
                            }
                            td.m-dir {
                                @match reader {
                                    LogReader::Admin => (badge(&enum_name(&message.direction))),
                                    LogReader::Owner(_) => {
                                        @let class = format!("direction direction-{}",
                                            enum_name(&message.direction).to_ascii_lowercase());
                                        span class=(class) { (direction_label(message.direction)) }
                                    }
                                }
                            }
                            td.nowrap.m-from data-label="From" { (message.from) }
                            td.nowrap.m-to data-label="To" { (message.to) }
                            td.m-text { (message.text) }
                            td.m-status {
                                @match reader {
                                    LogReader::Admin => (badge(&status)),
                                    LogReader::Owner(_) => (badge_labeled(&status,
                                        message_status_label(message.status))),
                                }
                                @if let Some(error) = &message.error {
                                    " " span.muted { (error) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
