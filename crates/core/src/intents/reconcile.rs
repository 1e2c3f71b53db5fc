//! The periodic pass that finishes what a browser, the network or a crash left half-way:
//! payments the gateway holds unverified are verified and applied, intents stuck waiting are
//! asked about, old ones expire, and money for something already paid is given back. Safe to
//! run at the same time as callbacks and as itself: every move is conditional.

use super::domain::{reason, IntentState};
use super::error::IntentError;
use super::service::{authorise_and_verify, move_now, reverse, save_exchange};
use super::store;
use crate::ctx::Ctx;
use crate::gateways::{GatewayFailure, InquiryStatus};
use crate::platform::clock::to_db_time;

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Reconciled {
    /// Intents looked at.
    pub checked: usize,
    /// Now verified (or reversed) that were not before.
    pub verified: usize,
    pub failed: usize,
    pub expired: usize,
    pub reversed: usize,
    /// Left as they were because the gateway could not be asked.
    pub unanswered: usize,
}

/// How long an intent is left to its callback before reconciliation asks about it (the payer
/// may still be at the bank's page).
pub const MIN_AGE: std::time::Duration = std::time::Duration::from_secs(2 * 60);

/// Reconciles intents last changed more than `min_age` ago (so a payer still at the bank's
/// page, or a callback in flight, is left alone).
pub async fn reconcile(ctx: &Ctx, min_age: std::time::Duration) -> Result<Reconciled, IntentError> {
    let min_age = chrono::Duration::from_std(min_age).unwrap_or(chrono::Duration::MAX);
    let Some(gateway) = ctx.online.clone() else {
        return Ok(Reconciled::default());
    };
    let mut done = Reconciled::default();

    // Payments the gateway holds as paid and not verified: verify them.
    let unverified = gateway.unverified().await;
    let paid: Vec<String> = match unverified.result {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list Zarinpal's unverified payments");
            vec![]
        }
    };
    for authority in &paid {
        let intent = {
            let mut conn = ctx.db.pool.acquire().await?;
            store::by_authority(&mut conn, authority).await?
        };
        if let Some(intent) = intent {
            if intent.state().may_be_verified() {
                authorise_and_verify(ctx, &intent).await?;
                done.checked += 1;
                if now_state(ctx, &intent.id).await? == IntentState::Verified {
                    done.verified += 1;
                }
            }
        }
    }

    let now = ctx.now();
    let before = to_db_time(now - min_age);
    let stale = {
        let mut conn = ctx.db.pool.acquire().await?;
        store::unfinished(&mut conn, &before).await?
    };
    for intent in stale {
        if paid.iter().any(|a| Some(a) == intent.authority.as_ref()) {
            continue;
        }
        done.checked += 1;
        if intent.awaits_reversal() {
            reverse(ctx, &intent.id).await?;
            match now_state(ctx, &intent.id).await? {
                IntentState::Reversed => done.reversed += 1,
                _ => done.unanswered += 1,
            }
            continue;
        }
        let expired = intent.expires_at.as_str() <= to_db_time(now).as_str();
        let Some(authority) = intent.authority.clone() else {
            // Never sent to the gateway: nothing can have been paid.
            if expired && expire(ctx, &intent.id, &[IntentState::Created]).await? {
                done.expired += 1;
            }
            continue;
        };
        let answer = gateway.inquire(&authority).await;
        save_exchange(ctx, &intent.id, &answer.exchange).await?;
        match answer.result {
            Ok(InquiryStatus::Paid | InquiryStatus::Verified) => {
                // Verified at the gateway but not here (a crash between the two): verifying
                // again answers 101 with the same reference, and the money is applied once.
                authorise_and_verify(ctx, &intent).await?;
                if now_state(ctx, &intent.id).await? == IntentState::Verified {
                    done.verified += 1;
                } else {
                    done.unanswered += 1;
                }
            }
            Ok(InquiryStatus::Failed) => {
                if fail(ctx, &intent.id, reason::NOT_COMPLETED).await? {
                    done.failed += 1;
                }
            }
            Ok(InquiryStatus::Reversed) => {
                if fail(ctx, &intent.id, reason::REVERSED_AT_GATEWAY).await? {
                    done.failed += 1;
                }
            }
            Ok(InquiryStatus::InBank) => {
                if expired
                    && expire(
                        ctx,
                        &intent.id,
                        &[IntentState::Redirected, IntentState::Created],
                    )
                    .await?
                {
                    done.expired += 1;
                }
            }
            Err(GatewayFailure::Refused { .. }) if expired => {
                // The gateway no longer knows the authority (never paid, long gone).
                if expire(
                    ctx,
                    &intent.id,
                    &[IntentState::Redirected, IntentState::Created],
                )
                .await?
                {
                    done.expired += 1;
                }
            }
            Err(e) => {
                tracing::warn!(intent = intent.id, error = %e, "cannot reconcile an online payment yet");
                done.unanswered += 1;
            }
        }
    }
    Ok(done)
}

async fn now_state(ctx: &Ctx, id: &str) -> Result<IntentState, IntentError> {
    let mut conn = ctx.db.pool.acquire().await?;
    Ok(store::get(&mut conn, id)
        .await?
        .map(|i| i.state())
        .unwrap_or(IntentState::Failed))
}

async fn expire(ctx: &Ctx, id: &str, from: &[IntentState]) -> Result<bool, IntentError> {
    move_now(ctx, id, from, IntentState::Expired, reason::EXPIRED).await
}

async fn fail(ctx: &Ctx, id: &str, reason: &str) -> Result<bool, IntentError> {
    let waiting = [IntentState::Redirected, IntentState::Authorised];
    move_now(ctx, id, &waiting, IntentState::Failed, reason).await
}
