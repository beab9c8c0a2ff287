//! The admin console's pages.

pub mod login;
