//! The bot runtime's database side, by job: worker control (`worker`), the
//! message log writer's batches (`log_batch`), linking (`link`) and what
//! the business's own phone wrote (`phone`).

pub mod conversation_batch;
pub mod handoff;
pub mod link;
pub mod log_batch;
pub mod phone;
pub mod unanswered;
pub mod worker;
