//! Disbursement and repayment of approved tickets: the money moves through the ledger (the
//! ticket receivable, apart from the draw's loans), the schedule is fixed when it leaves, and
//! each repayment settles installments oldest first. One write transaction per request, with
//! the ticket re-read under a lock, its history row, audit entry and notice.
//!
//! Disbursing moves the ticket `approved → disbursed → repaying` in one transaction: the
//! schedule runs from the moment the money leaves, so there is no state in which a borrower
//! owes but cannot repay, and the daily job has one state to read.

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::json;

use super::error::TicketError;
use super::loan_store::{self, LoanStatus, Repayment};
use super::schedule::{self, Delinquency, Installment, Terms};
use super::service::{actor_for, audit_ticket, is_reviewer, locked, short_ref};
use super::state::{self, Actor, TicketState, Transition};
use super::store::{self, HistoryEntry, Ticket};
use crate::auth::{CurrentUser, Role};
use crate::ledger::domain::{Account, JournalTransaction};
use crate::ledger::store::{self as ledger, TxRecord};
use crate::notify::outbox::notify_user;
use crate::notify::templates::Notice;
use crate::notify::ticket_notices::TicketNotice;
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::db::{Backend, WriteTx};
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;
use crate::webhooks::{self, Event};
use crate::Ctx;

/// A ticket's loan moved money: the fund's figures (its cash, what is lent) and the tickets'.
async fn changed(ctx: &Ctx) {
    ctx.changed(crate::platform::response_cache::Area::Fund)
        .await;
    ctx.changed(crate::platform::response_cache::Area::Tickets)
        .await;
}

/// The longest idempotency key a repayment takes.
pub const KEY_MAX_CHARS: usize = 200;

/// The loan columns of a schedule on `today`.
fn status_of(installments: &[Installment], today: NaiveDate) -> LoanStatus {
    LoanStatus {
        next_due_on: installments
            .iter()
            .find(|i| !i.is_settled())
            .map(|i| i.due_on),
        delinquency: schedule::delinquency(installments, today),
        days_past_due: schedule::days_past_due(installments, today),
    }
}

/// A reviewer pays out an approved ticket: the ledger posts it (refused when the fund's cash
/// does not cover it), the schedule is stored, and the ticket is being repaid. A retry, or a
/// second reviewer at the same moment, finds it disbursed and changes nothing.
pub async fn disburse(
    ctx: &Ctx,
    user: &CurrentUser,
    ticket_id: &str,
    meta: &RequestMeta,
) -> Result<Ticket, TicketError> {
    let now = ctx.now();
    let tz = ctx.config.fund_timezone;
    let mut tx = ctx.db.begin_write().await?;
    let ticket = locked(&mut tx, ctx, ticket_id).await?;
    let actor = actor_for(user, &ticket)?;
    if ticket.state.is_disbursed() {
        // Disbursing moves on to `repaying` at once: a ticket anywhere past `disbursed` is
        // one this actor's move would have left there, if they may make it at all.
        state::transition(TicketState::Disbursed, TicketState::Disbursed, actor)?;
        return Ok(ticket);
    }
    let Transition::Moved { from, to } =
        state::transition(ticket.state, TicketState::Disbursed, actor)?
    else {
        return Ok(ticket);
    };
    let month = JalaliMonth::containing(now, tz);
    let settings = &ctx.config.tickets;
    let terms = Terms {
        principal: ticket.amount,
        months: u32::try_from(ticket.term_months).map_err(|_| TicketError::TermOutOfRange)?,
        pricing: settings.pricing,
        due_day: settings.due_day,
    };
    let installments = schedule::amortise(&terms, month, tz)?;
    let charge: Amount = installments.iter().map(|i| i.charge).sum();
    let posting =
        JournalTransaction::ticket_disbursement(ticket.borrower_id, ticket.amount, charge)?;

    // Ticket disbursements spend the same cash one at a time: the cash account's row is
    // locked (PostgreSQL; SQLite has one writer) before its balance is read.
    lock_cash(&mut tx, ctx.db.backend).await?;
    let cash = ledger::balance_of(&mut tx, Account::FundCash).await?;
    if cash < ticket.amount {
        return Err(TicketError::InsufficientCash {
            cash,
            amount: ticket.amount,
        });
    }
    // Both accounts are opened on first use: the fund's existing books stay as they were.
    ledger::open_ticket_receivable(&mut tx, ticket.borrower_id, now).await?;
    if charge != Amount::ZERO {
        ledger::open_ticket_income(&mut tx, now).await?;
    }
    let record = TxRecord {
        id: &ticket.id,
        payment_id: None,
        loan_id: None,
        reverses_id: None,
        memo: "ticket disbursed",
        month,
    };
    ledger::post_for_ticket(&mut tx, &posting, &record, &ticket.id, now).await?;
    loan_store::insert_installments(&mut tx, &ticket.id, &installments).await?;
    loan_store::set_disbursed(&mut tx, &ticket.id, now).await?;
    let today = now.with_timezone(&tz).date_naive();
    loan_store::set_status(&mut tx, &ticket.id, &status_of(&installments, today)).await?;

    let details = json!({
        "amount": ticket.amount,
        "charge": charge,
        "installments": installments.len(),
        "first_due_on": installments.first().map(|i| loan_store::to_db_date(i.due_on)),
    });
    audit_ticket(
        &mut tx,
        ctx,
        meta,
        user,
        "ticket_disbursed",
        &ticket.id,
        details,
    )
    .await?;
    let ticket = record_move(&mut tx, ctx, meta, Some(user), ticket, from, to, "").await?;
    let borrower = ticket.borrower_id;
    notify_moved(&mut tx, ctx, &ticket, "disbursed", "").await?;
    let ticket = system_move(&mut tx, ctx, meta, ticket, TicketState::Repaying).await?;
    debug_assert_eq!(ticket.borrower_id, borrower);
    tx.commit().await?;
    changed(ctx).await;
    Ok(ticket)
}

/// What a repayment did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepaymentOutcome {
    pub repayment: Repayment,
    /// (installment number, amount applied), oldest first; empty for a replayed key.
    pub applied: Vec<(u32, Amount)>,
    /// The same key was recorded before: nothing was done again.
    pub replayed: bool,
    pub state: TicketState,
    pub outstanding: Amount,
}

/// The borrower (or a reviewer for them) records a repayment of `amount` under the caller's
/// `key`: installments are settled oldest first, the ledger posts it, and the last one moves
/// the ticket to `repaid`. The same key again answers with the first repayment; more than is
/// owed is refused with nothing written.
pub async fn repay(
    ctx: &Ctx,
    user: &CurrentUser,
    ticket_id: &str,
    amount: Amount,
    key: &str,
    meta: &RequestMeta,
) -> Result<RepaymentOutcome, TicketError> {
    let key = key.trim();
    if key.is_empty() || key.chars().count() > KEY_MAX_CHARS || key.chars().any(char::is_control) {
        return Err(TicketError::RepaymentKeyInvalid { max: KEY_MAX_CHARS });
    }
    let mut tx = ctx.db.begin_write().await?;
    let ticket = locked(&mut tx, ctx, ticket_id).await?;
    actor_for(user, &ticket)?;
    let installments = loan_store::installments(&mut tx, &ticket.id).await?;
    if let Some(earlier) = loan_store::repayment_by_key(&mut tx, &ticket.id, key).await? {
        if earlier.amount != amount {
            return Err(TicketError::RepaymentKeyReused {
                amount: earlier.amount,
            });
        }
        return Ok(RepaymentOutcome {
            repayment: earlier,
            applied: vec![],
            replayed: true,
            state: ticket.state,
            outstanding: schedule::total_outstanding(&installments),
        });
    }
    if ticket.state != TicketState::Repaying {
        return Err(TicketError::NotRepaying(ticket.state));
    }
    if !amount.fits_column() {
        return Err(TicketError::AmountTooLarge);
    }
    let outcome = record_repayment(
        &mut tx,
        ctx,
        meta,
        user,
        Received {
            ticket,
            installments,
            amount,
            key,
            online: false,
        },
    )
    .await?;
    tx.commit().await?;
    changed(ctx).await;
    Ok(outcome)
}

/// What is owed on a ticket being repaid, over all its installments; none when it is not
/// being repaid.
pub async fn owed_on(
    ctx: &Ctx,
    conn: &mut sqlx::AnyConnection,
    ticket_id: &str,
) -> Result<Option<(Ticket, Vec<schedule::Installment>)>, TicketError> {
    let Some(ticket) = crate::tickets::store::find(conn, ctx.db.backend, ticket_id, false).await?
    else {
        return Ok(None);
    };
    let ticket = ticket?;
    if ticket.state != TicketState::Repaying {
        return Ok(None);
    }
    let installments = loan_store::installments(conn, &ticket.id).await?;
    Ok(Some((ticket, installments)))
}

/// A repayment a gateway verified (an online payment intent), in the caller's transaction:
/// recorded as a repayment by the borrower, the money at the gateway (Dr the fund's gateway
/// clearing) until it pays out. None, with nothing written, when the ticket is no longer
/// being repaid or owes less: the caller gives the money back.
pub(crate) async fn repay_from_gateway(
    tx: &mut WriteTx,
    ctx: &Ctx,
    ticket_id: &str,
    amount: Amount,
    intent_id: &str,
) -> Result<Option<String>, TicketError> {
    let ticket = locked(tx, ctx, ticket_id).await?;
    if ticket.state != TicketState::Repaying {
        return Ok(None);
    }
    let installments = loan_store::installments(tx, &ticket.id).await?;
    if amount > schedule::total_outstanding(&installments) {
        return Ok(None);
    }
    let borrower = crate::auth::store::find_active_user(&ctx.db, ticket.borrower_id)
        .await?
        .ok_or(TicketError::NotFound)?;
    let key = format!("online:{intent_id}");
    let outcome = record_repayment(
        tx,
        ctx,
        &RequestMeta::default(),
        &borrower,
        Received {
            ticket,
            installments,
            amount,
            key: &key,
            online: true,
        },
    )
    .await?;
    Ok(Some(outcome.repayment.id))
}

/// A repayment about to be recorded: the ticket (locked), its installments, and whether the
/// money came through a gateway (then it is at the gateway's clearing, not in the cash).
struct Received<'a> {
    ticket: Ticket,
    installments: Vec<schedule::Installment>,
    amount: Amount,
    key: &'a str,
    online: bool,
}

/// Records a repayment in `tx`: the row, its ledger posting, the installments it settles, the
/// audit entry, and the move to `repaid` when it was the last.
async fn record_repayment(
    tx: &mut WriteTx,
    ctx: &Ctx,
    meta: &RequestMeta,
    user: &CurrentUser,
    received: Received<'_>,
) -> Result<RepaymentOutcome, TicketError> {
    let Received {
        ticket,
        mut installments,
        amount,
        key,
        online,
    } = received;
    let now = ctx.now();
    let tz = ctx.config.fund_timezone;
    let settlement = schedule::apply_repayment(&mut installments, amount)?;
    let posting = if online {
        let posting = JournalTransaction::ticket_gateway_repayment(ticket.borrower_id, amount)?;
        ledger::open_accounts(tx, &posting, now).await?;
        posting
    } else {
        JournalTransaction::ticket_repayment(ticket.borrower_id, amount)?
    };
    let repayment = Repayment {
        id: uuid::Uuid::new_v4().to_string(),
        ticket_id: ticket.id.clone(),
        amount,
        by_user_id: user.id,
        at: now,
    };
    loan_store::insert_repayment(tx, &repayment, key).await?;
    let record = TxRecord {
        id: &repayment.id,
        payment_id: None,
        loan_id: None,
        reverses_id: None,
        memo: "ticket repayment",
        month: JalaliMonth::containing(now, tz),
    };
    ledger::post_for_ticket(tx, &posting, &record, &ticket.id, now).await?;
    for (number, _) in &settlement.applied {
        let paid = installments[*number as usize - 1].paid;
        loan_store::set_paid(tx, &ticket.id, *number, paid).await?;
    }
    let today = now.with_timezone(&tz).date_naive();
    loan_store::set_status(tx, &ticket.id, &status_of(&installments, today)).await?;
    let applied: Vec<_> = settlement
        .applied
        .iter()
        .map(|(n, a)| json!({ "number": n, "amount": a }))
        .collect();
    let details = json!({ "repayment_id": repayment.id, "amount": amount, "applied": applied });
    audit_ticket(tx, ctx, meta, user, "ticket_repayment", &ticket.id, details).await?;
    let ticket = if settlement.repaid {
        let ticket = system_move(tx, ctx, meta, ticket, TicketState::Repaid).await?;
        notify_moved(tx, ctx, &ticket, "repaid", "").await?;
        ticket
    } else {
        ticket
    };
    Ok(RepaymentOutcome {
        repayment,
        applied: settlement.applied,
        replayed: false,
        state: ticket.state,
        outstanding: schedule::total_outstanding(&installments),
    })
}

/// An admin declares a ticket being repaid in default (the state machine leaves this to
/// admins and the system: a lender is refused with its typed error).
pub async fn mark_default(
    ctx: &Ctx,
    user: &CurrentUser,
    ticket_id: &str,
    reason: &str,
    meta: &RequestMeta,
) -> Result<Ticket, TicketError> {
    let mut tx = ctx.db.begin_write().await?;
    let ticket = locked(&mut tx, ctx, ticket_id).await?;
    let actor = actor_for(user, &ticket)?;
    let Transition::Moved { from, to } =
        state::transition(ticket.state, TicketState::Defaulted, actor)?
    else {
        return Ok(ticket);
    };
    let reason = reason.trim();
    let ticket = record_move(&mut tx, ctx, meta, Some(user), ticket, from, to, reason).await?;
    notify_moved(&mut tx, ctx, &ticket, "defaulted", reason).await?;
    tx.commit().await?;
    changed(ctx).await;
    Ok(ticket)
}

/// One installment as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallmentView {
    pub number: u32,
    pub due_month: JalaliMonth,
    pub due_on: NaiveDate,
    pub principal: Amount,
    pub charge: Amount,
    pub amount: Amount,
    pub paid: Amount,
    pub outstanding: Amount,
}

/// A ticket's loan: its schedule, repayments and lateness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleView {
    pub ticket_id: String,
    pub state: TicketState,
    pub installments: Vec<InstallmentView>,
    pub repayments: Vec<Repayment>,
    pub total: Amount,
    pub paid: Amount,
    pub outstanding: Amount,
    pub delinquency: Delinquency,
    pub days_past_due: i64,
}

/// The schedule of a ticket, for its borrower, reviewers and accountants (empty before it is
/// disbursed). Lateness is as of now, not as of the last daily run.
pub async fn schedule_of(
    ctx: &Ctx,
    viewer: &CurrentUser,
    ticket_id: &str,
) -> Result<ScheduleView, TicketError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let ticket = match store::find(&mut conn, ctx.db.backend, ticket_id, false).await? {
        Some(ticket) => ticket?,
        None => return Err(TicketError::NotFound),
    };
    let allowed = viewer.id == ticket.borrower_id
        || is_reviewer(viewer.role)
        || viewer.role == Role::Accountant;
    if !allowed {
        return Err(TicketError::ScheduleHidden);
    }
    let installments = loan_store::installments(&mut conn, &ticket.id).await?;
    let repayments = loan_store::repayments(&mut conn, &ticket.id).await?;
    let today = ctx
        .now()
        .with_timezone(&ctx.config.fund_timezone)
        .date_naive();
    let total: Amount = installments.iter().map(Installment::amount).sum();
    let paid: Amount = installments.iter().map(|i| i.paid).sum();
    Ok(ScheduleView {
        ticket_id: ticket.id,
        state: ticket.state,
        total,
        paid,
        outstanding: schedule::total_outstanding(&installments),
        delinquency: schedule::delinquency(&installments, today),
        days_past_due: schedule::days_past_due(&installments, today),
        installments: installments
            .iter()
            .map(|i| InstallmentView {
                number: i.number,
                due_month: i.due_month,
                due_on: i.due_on,
                principal: i.principal,
                charge: i.charge,
                amount: i.amount(),
                paid: i.paid,
                outstanding: i.outstanding(),
            })
            .collect(),
        repayments,
    })
}

async fn lock_cash(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<(), sqlx::Error> {
    if backend == Backend::Postgres {
        sqlx::query("SELECT id FROM ledger_accounts WHERE code = $1 FOR UPDATE")
            .bind(Account::FundCash.code())
            .fetch_optional(conn)
            .await?;
    }
    Ok(())
}

/// A move the system makes as a consequence of the request (`disbursed → repaying`,
/// `repaying → repaid`): no person is its actor in the history, the request's user is audited.
async fn system_move(
    tx: &mut WriteTx,
    ctx: &Ctx,
    meta: &RequestMeta,
    ticket: Ticket,
    target: TicketState,
) -> Result<Ticket, TicketError> {
    let Transition::Moved { from, to } = state::transition(ticket.state, target, Actor::System)?
    else {
        return Ok(ticket);
    };
    record_move(tx, ctx, meta, None, ticket, from, to, "").await
}

#[allow(clippy::too_many_arguments)]
async fn record_move(
    tx: &mut WriteTx,
    ctx: &Ctx,
    meta: &RequestMeta,
    user: Option<&CurrentUser>,
    ticket: Ticket,
    from: TicketState,
    to: TicketState,
    reason: &str,
) -> Result<Ticket, TicketError> {
    let now = ctx.now();
    store::set_state(tx, &ticket.id, to, now).await?;
    let entry = HistoryEntry {
        from_state: Some(from),
        to_state: to,
        actor_user_id: user.map(|u| u.id),
        reason: reason.to_string(),
        at: now,
    };
    store::add_history(tx, &ticket.id, &entry).await?;
    let details = json!({ "from": from.as_str(), "to": to.as_str(), "reason": reason });
    let entry = AuditEntry {
        actor_user_id: user.map(|u| u.id),
        action: "ticket_moved",
        target: format!("ticket:{}", ticket.id),
        details,
    };
    audit::record(tx, now, meta, entry).await?;
    let data = json!({ "ticket_id": ticket.id, "from": from.as_str(), "to": to.as_str() });
    webhooks::emit(tx, ctx, Event::TicketStateChanged, data).await?;
    Ok(Ticket {
        state: to,
        updated_at: now,
        ..ticket
    })
}

async fn notify_moved(
    tx: &mut WriteTx,
    ctx: &Ctx,
    ticket: &Ticket,
    to: &str,
    reason: &str,
) -> Result<(), TicketError> {
    let notice = Notice::Ticket(TicketNotice::Moved {
        ticket: short_ref(&ticket.id),
        to: to.to_string(),
        reason: reason.to_string(),
    });
    let key = format!("ticket:{}:{to}", ticket.id);
    notify_user(tx, ctx, ticket.borrower_id, &notice, &key).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::schedule::Pricing;

    #[test]
    fn the_loan_columns_follow_the_oldest_unpaid_installment() {
        let terms = Terms {
            principal: Amount::whole(300),
            months: 3,
            pricing: Pricing::Free,
            due_day: 1,
        };
        let month = JalaliMonth {
            year: 1405,
            month: 9,
        };
        let mut s = schedule::amortise(&terms, month, chrono_tz::Tz::UTC).unwrap();
        let first = s[0].due_on;
        let status = status_of(&s, first - chrono::Days::new(1));
        assert_eq!(status.next_due_on, Some(first));
        assert_eq!(status.delinquency, Delinquency::Current);
        let late = status_of(&s, first + chrono::Days::new(31));
        assert_eq!(
            (late.days_past_due, late.delinquency),
            (31, Delinquency::Days31To60)
        );
        schedule::apply_repayment(&mut s, Amount::whole(300)).unwrap();
        let done = status_of(&s, first + chrono::Days::new(31));
        assert_eq!(done.next_due_on, None);
        assert_eq!(done.days_past_due, 0);
        assert_eq!(short_ref("0123456789abcdef"), "01234567");
    }
}
