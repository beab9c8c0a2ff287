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
/// The tenant detail page's live refresh (the page works without it).
const ADMIN_JS: &str = include_str!("../../static/admin.js");

/// `?v=` suffixes that change whenever the file does. Constants of the
/// binary, so plain lazy statics are fine here (they are not configuration).
static CSS_VERSION: LazyLock<String> = LazyLock::new(|| version(APP_CSS));
static JS_VERSION: LazyLock<String> = LazyLock::new(|| version(ADMIN_JS));

fn version(body: &str) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("{:x}", hasher.finish())
}

pub fn find(name: &str) -> Option<Asset> {
    match name {
        "app.css" => Some(Asset {
            name: "app.css",
            mime: mime::TEXT_CSS_UTF_8,
            body: APP_CSS,
        }),
        "admin.js" => Some(Asset {
            name: "admin.js",
            mime: mime::APPLICATION_JAVASCRIPT_UTF_8,
            body: ADMIN_JS,
        }),
        _ => None,
    }
}

pub fn css_url() -> String {
    format!("/static/app.css?v={}", *CSS_VERSION)
}

pub fn js_url() -> String {
    format!("/static/admin.js?v={}", *JS_VERSION)
}
