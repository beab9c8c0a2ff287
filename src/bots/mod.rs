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
//!
//! Status: the transport contract and the sandbox transport exist; the
//! registry, supervisor, pipeline, heartbeat and log writer are being built
//! (issue 4).

pub mod qr;
pub mod transport;
