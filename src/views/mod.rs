//! Server-rendered HTML (maud). Pure functions from data to markup: no
//! database, no request; handlers give them what to show.

pub mod assets;
pub mod error;
pub mod home;
pub mod layout;
