//! Email to a tenant's people when one of its chats needs a person.
//!
//! Owns: the SMTP transport built from `[smtp]` (`smtp`).
//! Must not: log the SMTP password.

mod smtp;

pub use smtp::{Mailer, MailerError};
