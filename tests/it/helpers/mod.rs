//! What the integration tests share, by job: booting the app on a database
//! of its own (`app`), the admin API and direct database moves (`api`),
//! test data (`fixtures`), a cookie-jar browser (`browser`), a real one
//! (`chromium`: headless Chromium over WebDriver), reading HTML (`html`),
//! Google sign-in against the fake provider (`google`), the `flowhq`
//! binary serving as its own process (`process`), a mail server that
//! keeps what it receives (`smtp`) and an AI model server (`model`).

mod api;
mod app;
mod browser;
mod chromium;
mod fixtures;
mod google;
mod html;
mod model;
mod process;
mod smtp;

pub use api::*;
pub use app::*;
pub use browser::*;
pub use chromium::*;
pub use fixtures::*;
pub use google::*;
pub use html::*;
pub use model::*;
pub use process::*;
pub use smtp::*;
