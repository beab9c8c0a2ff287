//! One supervisor per tenant (one_for_one): runs the bot, and when it
//! crashes (error or panic) runs it again after an exponential backoff with
//! jitter. Too many crashes within the window, or a fatal exit (QR not
//! scanned, logged out), stop it in ERROR with `last_error` until an admin
//! force-restarts it. A panic is caught here and never leaves the task, so
//! one tenant's crash cannot touch another.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::bot::{self, BotMsg, BotSignals, Exit};
use super::deps::BotDeps;
use crate::domain::ids::TenantId;
use crate::services::runtime;

/// `min · 2^(attempt-1)`, capped at `max`, then a random cut of up to half
/// (jitter), so bots that crashed together do not restart together.
pub fn backoff(attempt: u32, min: Duration, max: Duration) -> Duration {
    let exp = min.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
    let capped = exp.min(max);
    let factor: f64 = rand::random_range(0.5..=1.0);
    capped.mul_f64(factor)
}

pub async fn supervise(
    tenant: TenantId,
    deps: Arc<BotDeps>,
    mut inbox: mpsc::Receiver<BotMsg>,
    signals: Arc<BotSignals>,
    cancel: CancellationToken,
) {
    let settings = &deps.settings;
    let intensity = usize::try_from(settings.restart_intensity.get()).unwrap_or(usize::MAX);
    let mut crashes: VecDeque<Instant> = VecDeque::new();
    let mut restarts: u32 = 0;
    loop {
        let run = Box::pin(bot::run(
            tenant,
            deps.clone(),
            &mut inbox,
            signals.clone(),
            cancel.clone(),
        ));
        let exit = AssertUnwindSafe(run)
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| {
                let text = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "unknown panic".to_owned());
                Exit::Crashed(format!("bot panicked: {text}"))
            });
        let reason = match exit {
            // The whole registry stops: it records every bot at once.
            Exit::Crashed(_) | Exit::Stopped if deps.shutting_down.is_cancelled() => return,
            Exit::Crashed(_) | Exit::Stopped if cancel.is_cancelled() => {
                record(
                    Box::pin(runtime::worker::record_stopped(&deps.db, tenant)).await,
                    tenant,
                );
                return;
            }
            Exit::Stopped => {
                record(
                    Box::pin(runtime::worker::record_stopped(&deps.db, tenant)).await,
                    tenant,
                );
                return;
            }
            Exit::Fatal { reason, logged_out } => {
                tracing::warn!(%tenant, %reason, "bot stopped in ERROR");
                record(
                    Box::pin(runtime::worker::record_failed(
                        &deps.db, tenant, &reason, logged_out,
                    ))
                    .await,
                    tenant,
                );
                return;
            }
            Exit::Crashed(reason) => reason,
        };

        let now = Instant::now();
        crashes.push_back(now);
        while crashes
            .front()
            .is_some_and(|at| now.duration_since(*at) > settings.restart_window)
        {
            crashes.pop_front();
        }
        restarts = restarts.saturating_add(1);
        if crashes.len() > intensity {
            let reason = format!(
                "crashed {} times within {}: {reason}",
                crashes.len(),
                humantime_serde::re::humantime::format_duration(settings.restart_window)
            );
            tracing::error!(%tenant, %reason, "bot stopped in ERROR: too many crashes");
            record(
                Box::pin(runtime::worker::record_failed(
                    &deps.db, tenant, &reason, false,
                ))
                .await,
                tenant,
            );
            return;
        }
        let wait = backoff(
            u32::try_from(crashes.len()).unwrap_or(u32::MAX),
            settings.restart_backoff_min,
            settings.restart_backoff_max,
        );
        tracing::warn!(%tenant, %reason, restarts, ?wait, "bot crashed; restarting");
        record(
            Box::pin(runtime::worker::record_restarting(
                &deps.db, tenant, &reason, restarts,
            ))
            .await,
            tenant,
        );
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => {
                if !deps.shutting_down.is_cancelled() {
                    record(Box::pin(runtime::worker::record_stopped(&deps.db, tenant)).await, tenant);
                }
                return;
            }
        }
    }
}

fn record<E: std::fmt::Display>(result: Result<(), E>, tenant: TenantId) {
    if let Err(err) = result {
        tracing::warn!(%tenant, error = %err, "could not record the bot's state");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_at_most_half_jitter() {
        let (min, max) = (Duration::from_secs(1), Duration::from_secs(60));
        for (attempt, full) in [(1, 1), (2, 2), (3, 4), (4, 8), (7, 60), (30, 60)] {
            for _ in 0..50 {
                let wait = backoff(attempt, min, max);
                let full = Duration::from_secs(full);
                assert!(
                    wait <= full && wait >= full / 2,
                    "attempt {attempt}: {wait:?}"
                );
            }
        }
    }
}
