//! Building blocks every page uses: flash, badges, form fields, CSRF input,
//! pagination, empty states. Pages compose these; they never repeat markup.

use maud::{Markup, html};

use crate::error::FieldErrors;
use crate::services::Page;
use crate::services::sessions::{Flash, FlashKind};

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
                    p.error-text id=(format!("{}-error", self.name)) { (self.label) " " (error) }
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

    pub fn textarea(&self, rows: u32) -> Markup {
        self.wrap(html! {
            textarea id=(self.name) name=(self.name) rows=(rows)
                aria-invalid=[self.error().map(|_| "true")]
                aria-describedby=[self.described_by()] { (self.value) }
        })
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

pub fn datetime(at: &chrono::DateTime<chrono::Utc>) -> Markup {
    html! { time datetime=(at.to_rfc3339()) { (at.format("%Y-%m-%d %H:%M UTC")) } }
}
