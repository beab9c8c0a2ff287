//! The bot runtime: one supervised tokio task per tenant, in this process.
//!
//! ```text
//! BotRegistry (DashMap<TenantId, BotHandle>)      ← reconcile(): DB desired state ↔ running tasks
//!   └─ Supervisor task (one per tenant)            ← restarts with backoff + jitter, gives up → ERROR
//!        └─ Bot actor                              ← owns the pipeline for one tenant
//!             └─ Transport (sandbox | whatsapp_web | cloud_api)
//! ```
//!
//! Ownership: the registry holds handles only (never a map guard across an
//! `.await`); each supervisor owns its bot; each bot owns its transport.
//! Nothing here renders HTML or parses HTTP.

pub mod bot;
pub mod deps;
pub mod log_writer;
pub mod qr;
pub mod registry;
pub mod supervisor;
pub mod transport;

pub use registry::BotRegistry;
