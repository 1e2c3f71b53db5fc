//! The ticket services: create a draft, submit it (fraud rules), the review moves and
//! maker-checker approval. Each change is one write transaction that re-reads the ticket under
//! a lock, moves it through [`state::transition`], and writes the history row and the audit
//! entry with it; a retried move changes nothing and answers with the ticket as it is.

use crate::platform::response_cache::Area;
use serde_json::json;

use super::approval::{self, ApprovalOutcome, TicketFacts};
use super::error::TicketError;
use super::fraud::{self, Application, FraudInput, FraudReport};
use super::sla;
use super::state::StateChange;
use super::state::{self, Actor, TicketState, Transition};
use super::store::{self, Fingerprint, HistoryEntry, Ticket};
use crate::auth::{CurrentUser, Role};
use crate::fund::access::is_fund_member;
use crate::notify::outbox;
use crate::notify::templates::Notice;
use crate::notify::ticket_notices::TicketNotice;
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::db::WriteTx;
use crate::platform::money::Amount;
use crate::webhooks::{self, Event};
use crate::Ctx;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;

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
pub fn actor_for(user: &CurrentUser, ticket: &Ticket) -> Result<Actor, TicketError> {
    if user.id == ticket.borrower_id {
        return Ok(Actor::Borrower);
    }
    match user.role {
        Role::Lender => Ok(Actor::Lender),
        Role::Admin => Ok(Actor::Admin),
        _ => Err(TicketError::NotYours),
    }
}

/// Whether `viewer` may read `ticket`: its borrower, a reviewer, or an accountant.
pub fn may_read(viewer: &CurrentUser, ticket: &Ticket) -> bool {
    viewer.id == ticket.borrower_id || is_reviewer(viewer.role) || viewer.role == Role::Accountant
}

/// The ticket with its history and flags, for those who may read it.
pub async fn get(
    ctx: &Ctx,
    viewer: &CurrentUser,
    ticket_id: &str,
) -> Result<TicketView, TicketError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let ticket = match store::find(&mut conn, ctx.db.backend, ticket_id, false).await? {
        Some(ticket) => ticket?,
        None => return Err(TicketError::NotFound),
    };
    if !may_read(viewer, &ticket) {
        // Not "forbidden": whether a ticket exists is the borrower's business.
        return Err(TicketError::NotFound);
    }
    let history = store::history(&mut conn, &ticket.id).await??;
    let changes = state_changes(&history);
    let deadlines = sla::deadlines(
        &changes,
        &ctx.config.tickets.sla,
        &ctx.config.tickets.calendar,
        ctx.clock.now(),
    );
    let flags = store::flags(&mut conn, &ticket.id).await?;
    let approvals = store::approvals(&mut conn, &ticket.id).await?;
    let facts = TicketFacts {
        borrower_id: ticket.borrower_id,
        amount: ticket.amount,
        highest_flag: ticket.flag_severity,
    };
    let approvals_needed = approval::approvals_needed(&facts, &ctx.config.tickets.approval);
    Ok(TicketView {
        ticket,
        history,
        deadlines,
        flags,
        approvals,
        approvals_needed,
    })
}

/// A ticket as its page and the API show it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TicketView {
    pub ticket: Ticket,
    pub history: Vec<HistoryEntry>,
    pub deadlines: Vec<sla::PhaseDeadline>,
    pub flags: Vec<store::StoredFlag>,
    /// Who has approved so far, and how many approvals the ticket needs.
    pub approvals: Vec<i64>,
    pub approvals_needed: usize,
}

fn state_changes(history: &[HistoryEntry]) -> Vec<StateChange> {
    history
        .iter()
        .map(|h| StateChange {
            state: h.to_state,
            entered_at: h.at,
        })
        .collect()
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
    // Borrowers are the fund's members (admins included); lenders and accountants lend and
    // keep the books, they do not borrow.
    if !is_fund_member(user.role) {
        return Err(TicketError::NotABorrower);
    }
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
    ctx.changed(Area::Tickets).await;
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
    let (input, print, report) = assess(&mut tx, ctx, &ticket, meta, now).await?;
    store::snapshot_submission(&mut tx, &ticket.id, &print, now).await?;
    store::replace_flags(
        &mut tx,
        &ticket.id,
        &report,
        &store::inputs_json(&input),
        now,
    )
    .await?;
    let ticket = Ticket {
        flag_severity: report.highest,
        ..ticket
    };
    let moved = record_move(&mut tx, ctx, meta, user, ticket, from, to, "").await?;
    audit_flags(&mut tx, ctx, meta, user, &moved.id, &report).await?;
    tx.commit().await?;
    ctx.changed(Area::Tickets).await;
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
    ctx.changed(Area::Tickets).await;
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
    ctx.changed(Area::Tickets).await;
    Ok(ticket)
}

/// The ticket, re-read inside the transaction and locked against concurrent changes.
pub(crate) async fn locked(
    tx: &mut WriteTx,
    ctx: &Ctx,
    ticket_id: &str,
) -> Result<Ticket, TicketError> {
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
    let data = json!({ "ticket_id": ticket.id, "from": from.as_str(), "to": to.as_str() });
    webhooks::emit(tx, ctx, Event::TicketStateChanged, data).await?;
    let sla = refresh_sla(tx, ctx, &ticket.id, now).await?;
    let moved = Ticket {
        state: to,
        updated_at: now,
        sla_due_at: sla.due_at,
        sla_breached_at: ticket.sla_breached_at.or(sla.breached_at),
        ..ticket
    };
    notify_move(tx, ctx, user, &moved, reason).await?;
    Ok(moved)
}

/// The SLA columns just written, and the deadlines they come from.
pub struct SlaRefresh {
    pub deadlines: Vec<sla::PhaseDeadline>,
    pub due_at: Option<DateTime<Utc>>,
    pub breached_at: Option<DateTime<Utc>>,
}

/// Recomputes the ticket's running SLA deadline from its history (and marks a breach).
pub async fn refresh_sla(
    tx: &mut WriteTx,
    ctx: &Ctx,
    ticket_id: &str,
    now: DateTime<Utc>,
) -> Result<SlaRefresh, TicketError> {
    let history = store::history(tx, ticket_id).await??;
    let settings = &ctx.config.tickets;
    let deadlines = sla::deadlines(
        &state_changes(&history),
        &settings.sla,
        &settings.calendar,
        now,
    );
    let due = sla::next_due(&deadlines);
    let breached = sla::any_breached(&deadlines).then_some(now);
    store::set_sla(tx, ticket_id, due, breached).await?;
    Ok(SlaRefresh {
        deadlines,
        due_at: due,
        breached_at: breached,
    })
}

/// Tells the other side of a move: the borrower when a reviewer (or the system) moved the
/// ticket; the reviewers who have acted on it when the borrower did (all lenders for a new
/// application).
async fn notify_move(
    tx: &mut WriteTx,
    ctx: &Ctx,
    actor: &CurrentUser,
    ticket: &Ticket,
    reason: &str,
) -> Result<(), TicketError> {
    let recipients = if actor.id == ticket.borrower_id {
        let acted = store::reviewers_of(tx, &ticket.id, ticket.borrower_id).await?;
        if acted.is_empty() {
            store::reviewer_group(tx).await?
        } else {
            acted
        }
    } else {
        vec![ticket.borrower_id]
    };
    let notice = Notice::Ticket(TicketNotice::Moved {
        ticket: short_ref(&ticket.id),
        to: ticket.state.as_str().to_string(),
        reason: reason.to_string(),
    });
    // The move's place in the history names it: a retried request makes no move, and so
    // reaches no notice.
    let move_number = store::history_len(tx, &ticket.id).await?;
    for user_id in recipients.into_iter().filter(|id| *id != actor.id) {
        let key = format!("ticket-moved:{}:{move_number}:{user_id}", ticket.id);
        outbox::notify_user(tx, ctx, user_id, &notice, &key).await?;
    }
    Ok(())
}

/// A ticket's short reference for people: the first 8 characters of its id.
pub fn short_ref(ticket_id: &str) -> String {
    ticket_id.chars().take(8).collect()
}

/// The fraud rules on `ticket` as submitted now: what the store knows about the borrower and
/// the recent applications that share something with this one, and the rules' verdict. Reads
/// only (a bounded number of indexed queries), so the benchmark can time it alone.
pub async fn assess(
    conn: &mut AnyConnection,
    ctx: &Ctx,
    ticket: &Ticket,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> Result<(FraudInput, Fingerprint, FraudReport), TicketError> {
    let settings = &ctx.config.tickets;
    let config = &settings.fraud;
    let (history, contact) = store::borrower_history(conn, ticket.borrower_id, &ticket.id).await?;
    let print = Fingerprint {
        email_domain: fraud::shareable_domain(&contact.email, config).unwrap_or_default(),
        phone: contact.phone.trim().to_string(),
        payout_address: ticket.payout_address.clone(),
        client_address: meta.client_ip.clone(),
    };
    let window = chrono::Duration::hours(config.recent_window_hours);
    let recent = store::recent_by_others(conn, ticket.borrower_id, &print, now, window).await?;
    let input = FraudInput {
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
    };
    let report = fraud::evaluate(&input, config, settings.approval.two_approvers_above);
    Ok((input, print, report))
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

/// The audit entry of a change to ticket `ticket_id`, in the change's transaction.
pub(crate) async fn audit_ticket(
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
