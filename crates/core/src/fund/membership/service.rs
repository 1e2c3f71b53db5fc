//! Leaving and rejoining the fund: each a single transaction with its audit entry; the refund
//! posted to the ledger with it.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::store::{self, Departure};
use super::{settle, MembershipError, Settlement};
use crate::auth::{CurrentUser, Role};
use crate::fund::access::is_fund_member;
use crate::fund::store as fund_store;
use crate::ledger::domain::JournalTransaction;
use crate::ledger::store::{self as ledger, TxRecord};
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::money::Amount;
use crate::platform::response_cache::Area;
use crate::Ctx;

/// A request to leave with what confirming it now would settle.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DepartureView {
    #[serde(flatten)]
    pub departure: Departure,
    /// For a request still open: what leaving now would give back.
    pub would_settle: Option<Settlement>,
}

/// What leaving now would settle for `user_id`: contributions against the active loan's rest.
async fn settlement_now(
    conn: &mut sqlx::AnyConnection,
    user_id: i64,
) -> Result<(Settlement, Option<String>), MembershipError> {
    let contributions = store::contributions(conn, user_id).await?;
    let loan = fund_store::active_loan(conn, user_id).await?;
    let owed = loan
        .as_ref()
        .and_then(|l| l.amount.checked_sub(l.total_paid))
        .unwrap_or(Amount::ZERO);
    Ok((settle(contributions, owed)?, loan.map(|l| l.id)))
}

async fn fund_member(conn: &mut sqlx::AnyConnection, user_id: i64) -> Result<(), MembershipError> {
    let Some((role, active, left)) = store::member(conn, user_id).await? else {
        return Err(MembershipError::NoSuchUser);
    };
    let role = Role::parse(&role);
    if !active || !is_fund_member(role) {
        return Err(MembershipError::NotAMember);
    }
    if left.is_some() {
        return Err(MembershipError::AlreadyLeft);
    }
    Ok(())
}

/// An admin asks `user_id` to leave; nothing moves until they confirm. Refused when their loan
/// owes more than they paid in (it must be repaid down first).
pub async fn ask_to_leave(
    ctx: &Ctx,
    admin: &CurrentUser,
    user_id: i64,
    meta: &RequestMeta,
) -> Result<DepartureView, MembershipError> {
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    fund_member(&mut tx, user_id).await?;
    if store::open_request(&mut tx, user_id).await?.is_some() {
        return Err(MembershipError::AlreadyAsked);
    }
    let (would_settle, _) = settlement_now(&mut tx, user_id).await?;
    let id = uuid::Uuid::new_v4().to_string();
    store::insert_request(&mut tx, &id, user_id, admin.id, now).await?;
    let entry = AuditEntry {
        actor_user_id: Some(admin.id),
        action: "leave_asked",
        target: format!("user:{user_id}"),
        details: json!({ "departure_id": id, "contributions": would_settle.contributions,
            "owed": would_settle.owed, "refund": would_settle.refund }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    let departure = store::open_request(&mut tx, user_id)
        .await?
        .ok_or(MembershipError::NothingAsked)?;
    tx.commit().await?;
    Ok(DepartureView {
        departure,
        would_settle: Some(would_settle),
    })
}

/// The member's requests to leave, newest first, the open one with what it would settle.
pub async fn departures_of(ctx: &Ctx, user_id: i64) -> Result<Vec<DepartureView>, MembershipError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let mut views = vec![];
    for departure in store::departures(&mut conn, user_id).await? {
        let would_settle = if departure.state == "asked" {
            settlement_now(&mut conn, user_id)
                .await
                .ok()
                .map(|(s, _)| s)
        } else {
            None
        };
        views.push(DepartureView {
            departure,
            would_settle,
        });
    }
    Ok(views)
}

/// The member confirms leaving: their contributions settle their loan's rest and the remainder
/// is paid back (one ledger transaction, `member_departure`), and they leave the draws.
pub async fn confirm_leaving(
    ctx: &Ctx,
    member: &CurrentUser,
    meta: &RequestMeta,
) -> Result<Departure, MembershipError> {
    let now = ctx.now();
    let month = ctx.current_month();
    let mut tx = ctx.db.begin_write().await?;
    let Some(asked) = store::open_request(&mut tx, member.id).await? else {
        return Err(MembershipError::NothingAsked);
    };
    let (settled, loan_id) = settlement_now(&mut tx, member.id).await?;
    if settled.contributions.is_positive() {
        let posting =
            JournalTransaction::member_departure(member.id, settled.contributions, settled.owed)
                .map_err(|e| anyhow::anyhow!("departure {} cannot be posted: {e}", asked.id))?;
        let record = TxRecord {
            id: &asked.id,
            payment_id: None,
            loan_id: loan_id.as_deref().filter(|_| settled.owed.is_positive()),
            reverses_id: None,
            memo: "contributions refunded to a member leaving the fund",
            month,
        };
        ledger::post(&mut tx, &posting, &record, now).await?;
    }
    if let Some(loan) = &loan_id {
        store::settle_loan(&mut tx, loan, settled.owed).await?;
    }
    let amounts = (settled.contributions, settled.owed, settled.refund);
    store::confirm(&mut tx, &asked.id, amounts, loan_id.as_deref(), now).await?;
    let entry = AuditEntry {
        actor_user_id: Some(member.id),
        action: "left_fund",
        target: format!("user:{}", member.id),
        details: json!({ "departure_id": asked.id, "contributions": settled.contributions,
            "owed": settled.owed, "refunded": settled.refund, "loan_id": loan_id }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    let departure = store::departures(&mut tx, member.id)
        .await?
        .into_iter()
        .find(|d| d.id == asked.id)
        .ok_or(MembershipError::NothingAsked)?;
    tx.commit().await?;
    ctx.invalidate(&format!("user:{}", member.id)).await;
    ctx.changed(Area::Fund).await;
    Ok(departure)
}

/// The member declines, or an admin withdraws the request.
pub async fn cancel_leaving(
    ctx: &Ctx,
    actor: &CurrentUser,
    user_id: i64,
    meta: &RequestMeta,
) -> Result<Departure, MembershipError> {
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    let Some(asked) = store::open_request(&mut tx, user_id).await? else {
        return Err(MembershipError::NothingAsked);
    };
    store::cancel(&mut tx, &asked.id, now).await?;
    let entry = AuditEntry {
        actor_user_id: Some(actor.id),
        action: "leave_cancelled",
        target: format!("user:{user_id}"),
        details: json!({ "departure_id": asked.id }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    tx.commit().await?;
    Ok(Departure {
        state: "cancelled".into(),
        decided_at: Some(crate::platform::clock::to_db_time(now)),
        ..asked
    })
}

/// An admin lets a member who left rejoin: they pay and take part in draws again, starting
/// from no contributions.
pub async fn rejoin(
    ctx: &Ctx,
    admin: &CurrentUser,
    user_id: i64,
    meta: &RequestMeta,
) -> Result<(), MembershipError> {
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    let Some((_, _, left)) = store::member(&mut tx, user_id).await? else {
        return Err(MembershipError::NoSuchUser);
    };
    if left.is_none() {
        return Err(MembershipError::NotLeft);
    }
    store::rejoin(&mut tx, user_id, now).await?;
    let entry = AuditEntry {
        actor_user_id: Some(admin.id),
        action: "rejoined_fund",
        target: format!("user:{user_id}"),
        details: json!({}),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    tx.commit().await?;
    ctx.invalidate(&format!("user:{user_id}")).await;
    ctx.changed(Area::Fund).await;
    Ok(())
}
