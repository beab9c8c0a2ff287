//! The embedded static files and their cache-busting URLs.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use actix_web::mime::{self, Mime};

pub struct Asset {
    pub name: &'static str,
    pub mime: Mime,
    pub body: &'static str,
}

const APP_CSS: &str = include_str!("../../static/app.css");

/// `?v=` suffix that changes whenever the stylesheet does. A constant of the
/// binary, so a plain lazy static is fine here (it is not configuration).
static CSS_VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut hasher = DefaultHasher::new();
    APP_CSS.hash(&mut hasher);
    format!("{:x}", hasher.finish())
});

pub fn find(name: &str) -> Option<Asset> {
    match name {
        "app.css" => Some(Asset {
            name: "app.css",
            mime: mime::TEXT_CSS_UTF_8,
            body: APP_CSS,
        }),
        _ => None,
    }
}

pub fn css_url() -> String {
    format!("/static/app.css?v={}", *CSS_VERSION)
}
