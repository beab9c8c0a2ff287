//! Tenants, by job: parsing what users type (`input`), provisioning, edits
//! and deletion (`provision`), lifecycle actions (`lifecycle`), reading and
//! listing (`queries`) and the dashboard (`dashboard`). Callers use the
//! re-exports below.

mod dashboard;
mod input;
mod lifecycle;
mod provision;
mod queries;

pub use dashboard::*;
pub use input::*;
pub use lifecycle::*;
pub use provision::*;
pub use queries::*;
