//! The tenant state machine of DESIGN.md ("Tenant lifecycle"), in one function.
//!
//! ```text
//! NEW ──setup request──▶ PENDING ──approve──▶ APPROVED ──bot start──▶ QR_PENDING ──linked──▶ ACTIVE
//!                           └──reject──▶ NEW                  ACTIVE ⇄ PAUSED (admin)
//! any running state ──fail──▶ ERROR ──force restart──▶ QR_PENDING
//! ```
//!
//! Owns: which (status, action) pairs are legal and where they lead. Must not:
//! do the transition's side effects (starting bots, audit rows); services call
//! `transition` first and act only on `Ok`.

use std::fmt;

use entity::enums::TenantStatus;

/// Something that can happen to a tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LifecycleAction {
    SubmitSetupRequest,
    Approve,
    Reject,
    StartBot,
    Linked,
    Pause,
    Resume,
    Fail,
    ForceRestart,
    /// An admin approves a NEW tenant without a setup request.
    ApproveDirectly,
}

impl LifecycleAction {
    pub const ALL: [LifecycleAction; 10] = [
        LifecycleAction::SubmitSetupRequest,
        LifecycleAction::Approve,
        LifecycleAction::Reject,
        LifecycleAction::StartBot,
        LifecycleAction::Linked,
        LifecycleAction::Pause,
        LifecycleAction::Resume,
        LifecycleAction::Fail,
        LifecycleAction::ForceRestart,
        LifecycleAction::ApproveDirectly,
    ];

    /// Fits "cannot {verb} a tenant".
    pub const fn verb(&self) -> &'static str {
        match self {
            LifecycleAction::SubmitSetupRequest => "submit a setup request for",
            LifecycleAction::Approve => "approve",
            LifecycleAction::Reject => "reject",
            LifecycleAction::StartBot => "start the bot of",
            LifecycleAction::Linked => "link",
            LifecycleAction::Pause => "pause",
            LifecycleAction::Resume => "resume",
            LifecycleAction::Fail => "mark as failed",
            LifecycleAction::ForceRestart => "force-restart",
            LifecycleAction::ApproveDirectly => "approve directly",
        }
    }
}

/// The stored name of a status ("QR_PENDING"), as shown in the admin UI and API.
pub const fn status_name(status: TenantStatus) -> &'static str {
    match status {
        TenantStatus::New => "NEW",
        TenantStatus::Pending => "PENDING",
        TenantStatus::Approved => "APPROVED",
        TenantStatus::QrPending => "QR_PENDING",
        TenantStatus::Active => "ACTIVE",
        TenantStatus::Paused => "PAUSED",
        TenantStatus::Error => "ERROR",
    }
}

/// The only place that decides where a tenant may go. Everything not listed
/// is refused; in particular only a force restart leaves ERROR.
pub fn transition(
    from: TenantStatus,
    action: LifecycleAction,
) -> Result<TenantStatus, IllegalTransition> {
    use LifecycleAction as A;
    use TenantStatus as S;
    match (from, action) {
        (S::New, A::SubmitSetupRequest) => Ok(S::Pending),
        (S::Pending, A::Approve) => Ok(S::Approved),
        // An admin approves a tenant they created themselves (no request).
        (S::New, A::ApproveDirectly) => Ok(S::Approved),
        (S::Pending, A::Reject) => Ok(S::New),
        (S::Approved, A::StartBot) => Ok(S::QrPending),
        (S::QrPending, A::Linked) => Ok(S::Active),
        (S::Active, A::Pause) => Ok(S::Paused),
        (S::Paused, A::Resume) => Ok(S::Active),
        (S::Approved | S::QrPending | S::Active | S::Paused, A::Fail) => Ok(S::Error),
        (S::Error, A::ForceRestart) => Ok(S::QrPending),
        _ => Err(IllegalTransition { from, action }),
    }
}

/// Where a newly linked bot takes its tenant: what `transition` says for
/// `Linked` (ACTIVE), except that a tenant which was PAUSED when its bot
/// failed goes back to PAUSED: an admin's pause outlives a broken link.
pub fn after_link(
    from: TenantStatus,
    paused_before_error: bool,
) -> Result<TenantStatus, IllegalTransition> {
    transition(from, LifecycleAction::Linked).map(|to| match to {
        TenantStatus::Active if paused_before_error => TenantStatus::Paused,
        to => to,
    })
}

/// The actions `transition` accepts from `from`, in `LifecycleAction::ALL` order.
pub fn allowed_actions(from: TenantStatus) -> Vec<LifecycleAction> {
    LifecycleAction::ALL
        .into_iter()
        .filter(|action| transition(from, *action).is_ok())
        .collect()
}

/// A refused transition. Displays as a sentence fit for users, e.g. "cannot
/// force-restart a tenant that is ACTIVE; allowed now: pause, mark as failed".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct IllegalTransition {
    pub from: TenantStatus,
    pub action: LifecycleAction,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot {} a tenant that is {}",
            self.action.verb(),
            status_name(self.from)
        )?;
        let allowed: Vec<&str> = allowed_actions(self.from)
            .iter()
            .map(LifecycleAction::verb)
            .collect();
        if allowed.is_empty() {
            f.write_str("; nothing is allowed now")
        } else {
            write!(f, "; allowed now: {}", allowed.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LifecycleAction as A;
    use TenantStatus as S;

    const STATUSES: [TenantStatus; 7] = [
        S::New,
        S::Pending,
        S::Approved,
        S::QrPending,
        S::Active,
        S::Paused,
        S::Error,
    ];

    /// Fails to compile when a status is added, so STATUSES cannot fall behind.
    #[allow(dead_code)]
    fn statuses_are_complete(s: TenantStatus) {
        match s {
            S::New | S::Pending | S::Approved | S::QrPending | S::Active | S::Paused | S::Error => {
            }
        }
    }

    /// Written out by hand from DESIGN.md, one row per status, columns in
    /// `LifecycleAction::ALL` order: SubmitSetupRequest, Approve, Reject,
    /// StartBot, Linked, Pause, Resume, Fail, ForceRestart, ApproveDirectly.
    fn expected(from: TenantStatus) -> [Option<TenantStatus>; 10] {
        let x = None;
        match from {
            S::New => [Some(S::Pending), x, x, x, x, x, x, x, x, Some(S::Approved)],
            S::Pending => [x, Some(S::Approved), Some(S::New), x, x, x, x, x, x, x],
            S::Approved => [x, x, x, Some(S::QrPending), x, x, x, Some(S::Error), x, x],
            S::QrPending => [x, x, x, x, Some(S::Active), x, x, Some(S::Error), x, x],
            S::Active => [x, x, x, x, x, Some(S::Paused), x, Some(S::Error), x, x],
            S::Paused => [x, x, x, x, x, x, Some(S::Active), Some(S::Error), x, x],
            S::Error => [x, x, x, x, x, x, x, x, Some(S::QrPending), x],
        }
    }

    #[test]
    fn every_status_and_action_pair_matches_the_design_table() {
        let mut checked = 0;
        for from in STATUSES {
            for (action, want) in A::ALL.into_iter().zip(expected(from)) {
                let got = transition(from, action);
                match want {
                    Some(to) => assert_eq!(got, Ok(to), "{from:?} + {action:?}"),
                    None => {
                        let err = got.expect_err(&format!("{from:?} + {action:?} must be refused"));
                        assert_eq!(err, IllegalTransition { from, action });
                        let msg = err.to_string();
                        assert!(
                            msg.starts_with(&format!(
                                "cannot {} a tenant that is {}; allowed now: ",
                                action.verb(),
                                status_name(from)
                            )),
                            "{msg}"
                        );
                    }
                }
                checked += 1;
            }
        }
        assert_eq!(checked, 7 * 10);
    }

    #[test]
    fn refusals_say_what_is_allowed_instead() {
        let cases = [
            (
                S::Pending,
                A::StartBot,
                "cannot start the bot of a tenant that is PENDING; allowed now: approve, reject",
            ),
            (
                S::Error,
                A::StartBot,
                "cannot start the bot of a tenant that is ERROR; allowed now: force-restart",
            ),
            (
                S::Active,
                A::ForceRestart,
                "cannot force-restart a tenant that is ACTIVE; allowed now: pause, mark as failed",
            ),
            (
                S::New,
                A::Approve,
                "cannot approve a tenant that is NEW; allowed now: submit a setup request for, approve directly",
            ),
            (
                S::QrPending,
                A::Resume,
                "cannot resume a tenant that is QR_PENDING; allowed now: link, mark as failed",
            ),
        ];
        for (from, action, want) in cases {
            assert_eq!(transition(from, action).unwrap_err().to_string(), want);
        }
    }

    #[test]
    fn every_status_has_a_way_out_and_every_action_is_used() {
        for from in STATUSES {
            assert!(!allowed_actions(from).is_empty(), "{from:?} is a dead end");
        }
        for action in A::ALL {
            assert!(
                STATUSES.iter().any(|s| transition(*s, action).is_ok()),
                "{action:?} is never legal"
            );
        }
    }

    #[test]
    fn a_link_makes_a_tenant_active_unless_it_was_paused_before_its_bot_failed() {
        assert_eq!(after_link(S::QrPending, false), Ok(S::Active));
        assert_eq!(after_link(S::QrPending, true), Ok(S::Paused));
        for from in [
            S::New,
            S::Pending,
            S::Approved,
            S::Active,
            S::Paused,
            S::Error,
        ] {
            assert!(after_link(from, true).is_err(), "{from:?}");
        }
    }

    #[test]
    fn status_names_are_the_stored_strings() {
        for status in STATUSES {
            let serde_name = serde_json::to_value(status).unwrap();
            assert_eq!(serde_name, status_name(status), "{status:?}");
        }
    }
}
