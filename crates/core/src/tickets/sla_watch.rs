//! Escalating SLA breaches: the periodic `ticket_sla_watch` job finds tickets whose running
//! deadline has passed, marks them breached, audits it and tells the lenders. Each deadline is
//! escalated once (`sla_escalated_for` remembers which), so a doubled or retried run adds
//! nothing; a ticket whose clock restarts with a new deadline can be escalated again.

use crate::platform::response_cache::Area;
use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::FromRow;

use super::error::TicketError;
use super::service::{refresh_sla, short_ref};
use super::sla::{Phase, PhaseStatus};
use super::store;
use crate::notify::outbox;
use crate::notify::templates::Notice;
use crate::notify::ticket_notices::TicketNotice;
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::clock::{to_db_time, DbTime};
use crate::Ctx;

/// Tickets escalated per run at most; the next run takes the rest.
pub const BATCH: i64 = 500;

#[derive(FromRow)]
struct Due {
    id: String,
    borrower_id: i64,
    sla_due_at: DbTime,
}

/// Escalates every breach due by now; returns how many tickets were escalated.
pub async fn escalate_breaches(ctx: &Ctx) -> Result<usize, TicketError> {
    let now = ctx.clock.now();
    let due: Vec<Due> = sqlx::query_as(
        "SELECT id, borrower_id, sla_due_at FROM tickets \
         WHERE sla_due_at IS NOT NULL AND sla_due_at <= $1 \
         AND (sla_escalated_for IS NULL OR sla_escalated_for <> sla_due_at) \
         ORDER BY sla_due_at LIMIT $2",
    )
    .bind(to_db_time(now))
    .bind(BATCH)
    .fetch_all(&ctx.db.pool)
    .await?;
    let mut escalated = 0;
    for ticket in due {
        if escalate_one(ctx, &ticket, now).await? {
            escalated += 1;
        }
    }
    Ok(escalated)
}

/// One ticket, in its own transaction: re-read under the lock, so a move made meanwhile (the
/// lender answered) wins.
async fn escalate_one(ctx: &Ctx, due: &Due, now: DateTime<Utc>) -> Result<bool, TicketError> {
    let mut tx = ctx.db.begin_write().await?;
    let Some(ticket) = store::find(&mut tx, ctx.db.backend, &due.id, true).await? else {
        return Ok(false);
    };
    let ticket = ticket?;
    let (Some(deadline), Some(seen)) = (ticket.sla_due_at, due.sla_due_at.0) else {
        return Ok(false);
    };
    if deadline != seen || deadline > now {
        return Ok(false);
    }
    let refreshed = refresh_sla(&mut tx, ctx, &ticket.id, now).await?;
    let phase = refreshed
        .deadlines
        .iter()
        .find(|d| d.status == PhaseStatus::Running && d.due_at == Some(deadline))
        .map_or(Phase::FirstResponse, |d| d.phase);
    store::mark_escalated(&mut tx, &ticket.id).await?;
    let meta = RequestMeta {
        client_ip: String::new(),
        request_id: "ticket_sla_watch".into(),
    };
    let entry = AuditEntry {
        actor_user_id: None,
        action: "ticket_sla_breached",
        target: format!("ticket:{}", ticket.id),
        details: json!({ "phase": phase.as_str(), "due_at": to_db_time(deadline), "state": ticket.state.as_str() }),
    };
    audit::record(&mut tx, now, &meta, entry).await?;
    let acted = store::reviewers_of(&mut tx, &ticket.id, due.borrower_id).await?;
    let recipients = if acted.is_empty() {
        store::reviewer_group(&mut tx).await?
    } else {
        acted
    };
    let notice = Notice::Ticket(TicketNotice::SlaBreached {
        ticket: short_ref(&ticket.id),
        phase: phase.as_str().into(),
    });
    for user_id in recipients {
        let key = format!(
            "ticket-sla:{}:{}:{}:{user_id}",
            ticket.id,
            phase.as_str(),
            to_db_time(deadline)
        );
        outbox::notify_user(&mut tx, ctx, user_id, &notice, &key).await?;
    }
    tx.commit().await?;
    ctx.changed(Area::Tickets).await;
    Ok(true)
}
