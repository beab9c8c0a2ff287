//! The bot runtime's database side, by job: worker control (`worker`), the
//! message log writer's batches (`log_batch`), linking (`link`) and what
//! the business's own phone wrote (`phone`), and a bot start's reads,
//! coalesced across the bots starting together (`start`, `coalesce`).

pub mod coalesce;
pub mod conversation_batch;
pub mod handoff;
pub mod link;
pub mod log_batch;
pub mod phone;
pub mod start;
pub mod unanswered;
pub mod worker;
