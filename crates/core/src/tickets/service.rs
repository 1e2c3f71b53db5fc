//! The ticket services: create a draft, submit it (fraud rules), the review moves and
//! maker-checker approval. Each change is one write transaction that re-reads the ticket under
//! a lock, moves it through [`state::transition`], and writes the history row and the audit
//! entry with it; a retried move changes nothing and answers with the ticket as it is.

use serde_json::json;

use super::approval::{self, ApprovalOutcome, TicketFacts};
use super::error::TicketError;
use super::fraud::{self, Application, FraudConfig, FraudInput, FraudReport};
use super::state::{self, Actor, TicketState, Transition};
use super::store::{self, HistoryEntry, Ticket};
use crate::auth::{CurrentUser, Role};
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::db::WriteTx;
use crate::platform::money::Amount;
use crate::Ctx;

/// The longest purpose kept.
pub const PURPOSE_MAX_CHARS: usize = 2_000;
/// Wallet addresses are at most this long (TRON's are 34 characters, Ethereum's 42).
pub const PAYOUT_ADDRESS_MAX_CHARS: usize = 128;

/// A borrower's application, as typed.
#[derive(Debug, Clone)]
pub struct NewTicket {
    pub amount: Amount,
    pub purpose: String,
    pub term_months: i64,
    /// The wallet address the loan is to be paid out to.
    pub payout_address: String,
}

/// Who `user` is to `ticket`: its borrower, or a reviewer (a lender or an admin).
fn actor_for(user: &CurrentUser, ticket: &Ticket) -> Result<Actor, TicketError> {
    if user.id == ticket.borrower_id {
        Ok(Actor::Borrower)
    } else if is_reviewer(user.role) {
        Ok(Actor::Lender)
    } else {
        Err(TicketError::NotYours)
    }
}

fn validate(new: &NewTicket) -> Result<String, TicketError> {
    if !new.amount.is_positive() {
        return Err(TicketError::AmountNotPositive);
    }
    if !new.amount.fits_column() {
        return Err(TicketError::AmountTooLarge);
    }
    if !(1..=360).contains(&new.term_months) {
        return Err(TicketError::TermOutOfRange);
    }
    let purpose = new.purpose.trim();
    if purpose.is_empty() {
        return Err(TicketError::PurposeMissing);
    }
    if purpose.chars().count() > PURPOSE_MAX_CHARS {
        return Err(TicketError::PurposeTooLong {
            max: PURPOSE_MAX_CHARS,
        });
    }
    let address = new.payout_address.trim();
    let valid_char = |c: char| c.is_ascii_alphanumeric() || ":_-.".contains(c);
    if address.is_empty()
        || address.len() > PAYOUT_ADDRESS_MAX_CHARS
        || !address.chars().all(valid_char)
    {
        return Err(TicketError::PayoutAddressInvalid {
            max: PAYOUT_ADDRESS_MAX_CHARS,
        });
    }
    Ok(purpose.to_string())
}

/// Lenders and admins review tickets.
pub fn is_reviewer(role: Role) -> bool {
    matches!(role, Role::Lender | Role::Admin)
}

/// Creates `user`'s draft ticket.
pub async fn create_draft(
    ctx: &Ctx,
    user: &CurrentUser,
    new: NewTicket,
    meta: &RequestMeta,
) -> Result<Ticket, TicketError> {
    let purpose = validate(&new)?;
    let now = ctx.clock.now();
    let ticket = Ticket {
        id: uuid::Uuid::new_v4().to_string(),
        borrower_id: user.id,
        amount: new.amount,
        currency: "USDT".into(),
        purpose,
        term_months: new.term_months,
        payout_address: new.payout_address.trim().to_string(),
        state: TicketState::Draft,
        flag_severity: None,
        sla_due_at: None,
        sla_breached_at: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = ctx.db.begin_write().await?;
    store::insert(&mut tx, &ticket).await?;
    let entry = HistoryEntry {
        from_state: None,
        to_state: TicketState::Draft,
        actor_user_id: Some(user.id),
        reason: String::new(),
        at: now,
    };
    store::add_history(&mut tx, &ticket.id, &entry).await?;
    let details = json!({ "amount": ticket.amount, "term_months": ticket.term_months });
    audit_ticket(
        &mut tx,
        ctx,
        meta,
        user,
        "ticket_created",
        &ticket.id,
        details,
    )
    .await?;
    tx.commit().await?;
    Ok(ticket)
}

/// The borrower submits a draft (or a ticket sent back for information): the fraud rules run
/// on what the store knows, and their flags are stored with the inputs they saw.
pub async fn submit(
    ctx: &Ctx,
    user: &CurrentUser,
    ticket_id: &str,
    meta: &RequestMeta,
) -> Result<Ticket, TicketError> {
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin_write().await?;
    let ticket = locked(&mut tx, ctx, ticket_id).await?;
    let actor = actor_for(user, &ticket)?;
    let Transition::Moved { from, to } =
        state::transition(ticket.state, TicketState::Submitted, actor)?
    else {
        return Ok(ticket);
    };
    let settings = &ctx.config.tickets;
    let input = fraud_input(&mut tx, &ticket, &settings.fraud, meta, now).await?;
    let report = fraud::evaluate(
        &input,
        &settings.fraud,
        settings.approval.two_approvers_above,
    );
    store::replace_flags(
        &mut tx,
        &ticket.id,
        &report,
        &store::inputs_json(&input),
        now,
    )
    .await?;
    let moved = record_move(&mut tx, ctx, meta, user, ticket, from, to, "").await?;
    audit_flags(&mut tx, ctx, meta, user, &moved.id, &report).await?;
    tx.commit().await?;
    Ok(moved)
}

/// The review moves (`under_review`, `needs_info`, `rejected`) and the borrower's withdrawal.
pub async fn move_ticket(
    ctx: &Ctx,
    user: &CurrentUser,
    ticket_id: &str,
    target: TicketState,
    reason: &str,
    meta: &RequestMeta,
) -> Result<Ticket, TicketError> {
    use TicketState::*;
    if !matches!(target, UnderReview | NeedsInfo | Rejected | Withdrawn) {
        return Err(TicketError::NotAMove(target));
    }
    let mut tx = ctx.db.begin_write().await?;
    let ticket = locked(&mut tx, ctx, ticket_id).await?;
    let actor = actor_for(user, &ticket)?;
    let Transition::Moved { from, to } = state::transition(ticket.state, target, actor)? else {
        return Ok(ticket);
    };
    let moved = record_move(&mut tx, ctx, meta, user, ticket, from, to, reason.trim()).await?;
    tx.commit().await?;
    Ok(moved)
}

/// A reviewer approves. The role is the state machine's question, the count maker-checker's:
/// the approval that completes it moves the ticket to `approved`, an earlier one is recorded.
pub async fn approve(
    ctx: &Ctx,
    user: &CurrentUser,
    ticket_id: &str,
    meta: &RequestMeta,
) -> Result<Ticket, TicketError> {
    let now = ctx.clock.now();
    let mut tx = ctx.db.begin_write().await?;
    let ticket = locked(&mut tx, ctx, ticket_id).await?;
    let actor = actor_for(user, &ticket)?;
    let step = state::transition(ticket.state, TicketState::Approved, actor)?;
    let facts = TicketFacts {
        borrower_id: ticket.borrower_id,
        amount: ticket.amount,
        highest_flag: store::highest_flag(&mut tx, &ticket.id).await?,
    };
    let so_far = store::approvals(&mut tx, &ticket.id).await?;
    let outcome = approval::approve(&facts, &ctx.config.tickets.approval, &so_far, user.id)?;
    let Transition::Moved { from, to } = step else {
        // Already approved: this approver's retry (anyone else was refused above).
        return Ok(ticket);
    };
    if outcome == ApprovalOutcome::AlreadyApproved {
        return Ok(ticket);
    }
    store::add_approval(&mut tx, &ticket.id, user.id, now).await?;
    let details =
        json!({ "approvals": so_far.len() + 1, "completes": outcome == ApprovalOutcome::Approved });
    audit_ticket(
        &mut tx,
        ctx,
        meta,
        user,
        "ticket_approval",
        &ticket.id,
        details,
    )
    .await?;
    let ticket = match outcome {
        ApprovalOutcome::Approved => {
            record_move(&mut tx, ctx, meta, user, ticket, from, to, "").await?
        }
        _ => ticket,
    };
    tx.commit().await?;
    Ok(ticket)
}

/// The ticket, re-read inside the transaction and locked against concurrent changes.
async fn locked(tx: &mut WriteTx, ctx: &Ctx, ticket_id: &str) -> Result<Ticket, TicketError> {
    match store::find(tx, ctx.db.backend, ticket_id, true).await? {
        Some(ticket) => Ok(ticket?),
        None => Err(TicketError::NotFound),
    }
}

#[allow(clippy::too_many_arguments)]
async fn record_move(
    tx: &mut WriteTx,
    ctx: &Ctx,
    meta: &RequestMeta,
    user: &CurrentUser,
    ticket: Ticket,
    from: TicketState,
    to: TicketState,
    reason: &str,
) -> Result<Ticket, TicketError> {
    let now = ctx.clock.now();
    store::set_state(tx, &ticket.id, to, now).await?;
    let entry = HistoryEntry {
        from_state: Some(from),
        to_state: to,
        actor_user_id: Some(user.id),
        reason: reason.to_string(),
        at: now,
    };
    store::add_history(tx, &ticket.id, &entry).await?;
    let details = json!({ "from": from.as_str(), "to": to.as_str(), "reason": reason });
    audit_ticket(tx, ctx, meta, user, "ticket_moved", &ticket.id, details).await?;
    Ok(Ticket {
        state: to,
        updated_at: now,
        ..ticket
    })
}

async fn fraud_input(
    tx: &mut WriteTx,
    ticket: &Ticket,
    config: &FraudConfig,
    meta: &RequestMeta,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<FraudInput, TicketError> {
    let (history, contact) = store::borrower_history(tx, ticket.borrower_id, &ticket.id).await?;
    let window = chrono::Duration::hours(config.recent_window_hours);
    let recent = store::recent_by_others(tx, ticket.borrower_id, now, window).await?;
    Ok(FraudInput {
        application: Application {
            borrower_id: ticket.borrower_id,
            amount: ticket.amount,
            email: contact.email,
            phone: contact.phone,
            payout_address: ticket.payout_address.clone(),
            client_address: meta.client_ip.clone(),
            at: now,
        },
        history,
        recent,
    })
}

async fn audit_flags(
    tx: &mut WriteTx,
    ctx: &Ctx,
    meta: &RequestMeta,
    user: &CurrentUser,
    ticket_id: &str,
    report: &FraudReport,
) -> Result<(), TicketError> {
    let codes: Vec<&str> = report.flags.iter().map(|f| f.code.as_str()).collect();
    let details = json!({ "flags": codes, "highest": report.highest.map(|s| s.as_str()) });
    audit_ticket(
        tx,
        ctx,
        meta,
        user,
        "ticket_flags_evaluated",
        ticket_id,
        details,
    )
    .await
}

async fn audit_ticket(
    tx: &mut WriteTx,
    ctx: &Ctx,
    meta: &RequestMeta,
    user: &CurrentUser,
    action: &str,
    ticket_id: &str,
    details: serde_json::Value,
) -> Result<(), TicketError> {
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action,
        target: format!("ticket:{ticket_id}"),
        details,
    };
    audit::record(tx, ctx.clock.now(), meta, entry).await?;
    Ok(())
}
