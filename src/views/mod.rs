//! Server-rendered HTML (maud). Pure functions from data to markup: no
//! database, no request; handlers give them what to show.

pub mod admin;
pub mod assets;
pub mod components;
pub mod error;
pub mod home;
pub mod inbox;
pub mod knowledge;
pub mod layout;
pub mod portal;
pub mod transport;
pub mod webhooks;
