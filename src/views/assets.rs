//! The embedded static files and their cache-busting URLs.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::LazyLock;

use actix_web::mime::{self, Mime};

pub struct Asset {
    pub name: &'static str,
    pub mime: Mime,
    pub body: &'static str,
    /// The `?v=` suffix of its URL: changes whenever the file does.
    pub version: String,
}

/// Every served file, with its `?v=` version computed once. Constants of the
/// binary, so a plain lazy static is fine here (they are not configuration).
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let js = || mime::APPLICATION_JAVASCRIPT_UTF_8;
    [
        (
            "app.css",
            mime::TEXT_CSS_UTF_8,
            include_str!("../../static/app.css"),
        ),
        // The helpers and poll loop the two live scripts share (load first).
        ("live.js", js(), include_str!("../../static/live.js")),
        // The tenant detail page's live refresh (the page works without it).
        ("admin.js", js(), include_str!("../../static/admin.js")),
        // The portal status page's live refresh (the page works without it).
        ("portal.js", js(), include_str!("../../static/portal.js")),
        // The inbox's live refresh over Server-Sent Events (the pages work without it).
        ("inbox.js", js(), include_str!("../../static/inbox.js")),
        // New forms' time zone: the browser's own (the form works without it).
        ("zone.js", js(), include_str!("../../static/zone.js")),
        // The "Bot" page (portal and console): what the bot knows, try your bot (needs it).
        ("bot.js", js(), include_str!("../../static/bot.js")),
        // The tenant API's reference page: Swagger UI, vendored (no CDN),
        // and the script that starts it on /api/v1/openapi.json.
        (
            "swagger-ui.css",
            mime::TEXT_CSS_UTF_8,
            include_str!("../../static/vendor/swagger-ui/swagger-ui.css"),
        ),
        (
            "swagger-ui-bundle.js",
            js(),
            include_str!("../../static/vendor/swagger-ui/swagger-ui-bundle.js"),
        ),
        (
            "api-docs.js",
            js(),
            include_str!("../../static/api-docs.js"),
        ),
    ]
    .into_iter()
    .map(|(name, mime, body)| Asset {
        name,
        mime,
        body,
        version: version(body),
    })
    .collect()
});

fn version(body: &str) -> String {
    let mut hasher = DefaultHasher::new();
    body.hash(&mut hasher);
    format!("{:x}", hasher.finish())
}

pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|asset| asset.name == name)
}

/// `/static/{name}?v=…`; `name` must be one of the files above.
fn url(name: &str) -> String {
    let asset = find(name).unwrap_or_else(|| panic!("no static file {name}"));
    format!("/static/{}?v={}", asset.name, asset.version)
}

pub fn css_url() -> String {
    url("app.css")
}

/// The scripts of the admin tenant page, in load order.
pub fn admin_scripts() -> [String; 2] {
    [url("live.js"), url("admin.js")]
}

/// The scripts of the portal status page, in load order.
pub fn portal_scripts() -> [String; 2] {
    [url("live.js"), url("portal.js")]
}

/// The API reference page's stylesheet and scripts, in load order.
pub fn api_docs_assets() -> (String, [String; 2]) {
    (
        url("swagger-ui.css"),
        [url("swagger-ui-bundle.js"), url("api-docs.js")],
    )
}

/// The scripts of the inbox pages.
pub fn inbox_scripts() -> [String; 1] {
    [url("inbox.js")]
}

/// The scripts of the "Bot" page (the portal's and the console's).
pub fn bot_scripts() -> [String; 1] {
    [url("bot.js")]
}

/// The scripts of a page with a new form's time zone field.
pub fn zone_scripts() -> [String; 1] {
    [url("zone.js")]
}
