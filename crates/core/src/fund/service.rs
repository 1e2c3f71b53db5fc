//! The fund's two money-moving actions, shared by the API and the web pages: a member's monthly
//! payment and the monthly draw. Each checks the rules, then writes in one transaction.

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::access;
use super::error::{ConfigError, DrawError, PayError};
use super::notices;
use super::proof::seed::{commitment, Seed};
use super::proof::store as proof_store;
use super::proof::verify::prove;
use super::rules::{plan_payment, FundConfig};
use super::store::{self, Loan, NewLoan, NewPayment, Payment};
use crate::auth::store::set_loan_request;
use crate::auth::CurrentUser;
use crate::gateways::{normalise_payment_id, VerifyError};
use crate::jobs::{self, NewJob};
use crate::ledger::domain::JournalTransaction;
use crate::ledger::store::{self as ledger, TxRecord};
use crate::notify::outbox;
use crate::notify::templates::Notice;
use crate::platform::audit::RequestMeta;
use crate::platform::audit::{self, AuditEntry};
use crate::platform::clock::to_db_time;
use crate::platform::db::{is_unique_violation, Db};
use crate::platform::idempotency::{self, IdempotencyKey, Outcome};
use crate::platform::jalali::JalaliMonth;
use crate::platform::money::Amount;
use crate::platform::response_cache::Area;
use crate::webhooks::{self, Event};
use crate::Ctx;

/// The fund's configuration in effect this month, cached for `CACHE_TTL_SECONDS` (changes
/// invalidate it at once).
pub async fn current_config(ctx: &Ctx) -> Result<FundConfig, sqlx::Error> {
    let month = ctx.current_month();
    if let Some(config) = ctx.fund_config.get(&month) {
        return Ok(config);
    }
    let mut conn = ctx.db.pool.acquire().await?;
    let config = store::config(&mut conn, month).await?.unwrap_or_default();
    ctx.fund_config.insert(month, config);
    Ok(config)
}

/// A change of the fund's settings: `None` keeps the value in effect in the month the change
/// takes effect from (or the default, for a fund with no configuration yet).
#[derive(Debug, Clone, Copy, Default)]
pub struct ConfigChange {
    pub min_membership_fee: Option<Amount>,
    pub max_month_for_loan_payment: Option<i64>,
    pub min_amount_for_loan_payment: Option<Amount>,
    /// The Jalali month the change applies from (this month when `None`); earlier months keep
    /// the settings they had. A month already over is refused: it would rewrite history.
    pub effective_from: Option<JalaliMonth>,
}

/// What [`change_config`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigChanged {
    Created(FundConfig),
    Updated(FundConfig),
    /// The settings were already these: nothing written, nothing audited.
    Unchanged(FundConfig),
}

/// Changes the fund's settings from `change.effective_from` (else `this_month`) on, in one
/// transaction with an audit entry (`source` says who: `saghat setup-fund`, the web page),
/// shared by the CLI and the web configuration page. The caller tells the running instances
/// (their caches) once this returns.
pub async fn change_config(
    db: &Db,
    (now, this_month): (chrono::DateTime<chrono::Utc>, JalaliMonth),
    meta: &RequestMeta,
    actor_user_id: Option<i64>,
    source: &str,
    change: ConfigChange,
) -> Result<ConfigChanged, ConfigError> {
    // The schema's CHECKs: every setting is positive.
    if change.min_membership_fee.is_some_and(|a| !a.is_positive())
        || change
            .min_amount_for_loan_payment
            .is_some_and(|a| !a.is_positive())
        || change.max_month_for_loan_payment.is_some_and(|m| m <= 0)
    {
        return Err(ConfigError::NotPositive);
    }
    let from = change.effective_from.unwrap_or(this_month);
    if from < this_month {
        return Err(ConfigError::PastMonth { month: from });
    }
    let mut tx = db.begin_write().await?;
    let current = store::config(&mut tx, from).await?;
    let existed = current.is_some();
    let before = current.unwrap_or_default();
    let after = FundConfig {
        min_membership_fee: change
            .min_membership_fee
            .unwrap_or(before.min_membership_fee),
        max_month_for_loan_payment: change
            .max_month_for_loan_payment
            .unwrap_or(before.max_month_for_loan_payment),
        min_amount_for_loan_payment: change
            .min_amount_for_loan_payment
            .unwrap_or(before.min_amount_for_loan_payment),
    };
    if existed && after == before {
        return Ok(ConfigChanged::Unchanged(before));
    }
    if existed {
        store::save_config_from(&mut tx, from, &after, now).await?;
    } else {
        store::save_base_config(&mut tx, &after, now).await?;
    }
    let given: Vec<&str> = [
        ("min_membership_fee", change.min_membership_fee.is_some()),
        (
            "max_month_for_loan_payment",
            change.max_month_for_loan_payment.is_some(),
        ),
        (
            "min_amount_for_loan_payment",
            change.min_amount_for_loan_payment.is_some(),
        ),
    ]
    .into_iter()
    .filter_map(|(name, given)| given.then_some(name))
    .collect();
    // One shape for both callers. The flat values are what `setup-fund` recorded before the
    // two shared this service: kept, so no key a reader of the log knows goes missing.
    let entry = AuditEntry {
        actor_user_id,
        action: "config_changed",
        target: "fund_config".into(),
        details: json!({
            "source": source,
            "given": given,
            "effective_from": format!("{}/{:02}", from.year, from.month),
            "before": config_json(&before),
            "after": config_json(&after),
            "min_membership_fee": after.min_membership_fee,
            "max_month_for_loan_payment": after.max_month_for_loan_payment,
            "min_amount_for_loan_payment": after.min_amount_for_loan_payment,
        }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    tx.commit().await?;
    Ok(if existed {
        ConfigChanged::Updated(after)
    } else {
        ConfigChanged::Created(after)
    })
}

fn config_json(config: &FundConfig) -> serde_json::Value {
    json!({
        "min_membership_fee": config.min_membership_fee,
        "max_month_for_loan_payment": config.max_month_for_loan_payment,
        "min_amount_for_loan_payment": config.min_amount_for_loan_payment,
    })
}

/// A monthly payment as a member claims it: what [`submit_payment`] checks and records.
#[derive(Debug, Clone)]
pub struct PaymentClaim {
    pub membership_fee: Amount,
    /// Required while the member has an active loan, absent otherwise.
    pub loan: Option<Amount>,
    /// A new amount to ask for in the coming draws, if any.
    pub loan_request_amount: Option<Amount>,
    pub bitpin_payment_id: String,
}

/// Records this month's payment of `user`: rules, then the gateway, then one transaction that
/// writes the payment, posts it to the ledger, and settles the loan it pays off.
pub async fn submit_payment(
    ctx: &Ctx,
    user: &CurrentUser,
    meta: &RequestMeta,
    claim: PaymentClaim,
) -> Result<Payment, PayError> {
    pay(ctx, user, meta, claim, None).await
}

/// [`submit_payment`] under an optional `Idempotency-Key`: a retry replays the first response.
pub async fn submit_payment_once(
    ctx: &Ctx,
    user: &CurrentUser,
    meta: &RequestMeta,
    claim: PaymentClaim,
    key: Option<&IdempotencyKey>,
) -> Result<Outcome<Payment>, PayError> {
    let action = pay(ctx, user, meta, claim, key);
    idempotency::run(&ctx.db, user.id, key, ctx.now(), action).await
}

async fn pay(
    ctx: &Ctx,
    user: &CurrentUser,
    meta: &RequestMeta,
    body: PaymentClaim,
    key: Option<&IdempotencyKey>,
) -> Result<Payment, PayError> {
    if !access::is_fund_member(user.role) {
        return Err(PayError::NotAMember);
    }
    let month = ctx.current_month();
    let bitpin_payment_id = body.bitpin_payment_id.trim().to_string();
    // What makes a claim unique: the id normalised now, and Bitpin's own id once it answered.
    let mut bitpin_key = normalise_payment_id(&bitpin_payment_id);
    let already_paid = || PayError::AlreadyPaid { month };
    let id_used = || PayError::BitpinIdUsed;

    // The configuration first: when its cache is cold, current_config takes a connection of its
    // own, and taking it while holding `conn` deadlocked a burst of payments as large as the pool
    // (each holding one connection, all waiting for a second) until the acquire timeout: 503s.
    let config = current_config(ctx).await?;
    let mut conn = ctx.db.pool.acquire().await?;
    if super::membership::store::has_left(&mut conn, user.id).await? {
        return Err(PayError::LeftTheFund);
    }
    if store::has_paid(&mut conn, user.id, month).await? {
        return Err(already_paid());
    }
    let active_loan = store::active_loan(&mut conn, user.id).await?;
    let plan = plan_payment(
        body.membership_fee,
        body.loan,
        &config,
        active_loan.as_ref(),
    )?;
    if store::bitpin_id_used(&mut conn, &bitpin_key).await? {
        return Err(id_used());
    }
    drop(conn);

    // Ask the gateway before opening the transaction: no database lock waits on the network.
    if let Some(verifier) = &ctx.bitpin {
        let verified = verifier
            .verify_payment(&bitpin_payment_id, plan.total)
            .await
            .map_err(|e| match e {
                VerifyError::Rejected(why) => PayError::GatewayRejected(why),
                VerifyError::Unavailable(why) => PayError::GatewayUnavailable(why),
            })?;
        bitpin_key = verified.key;
    }

    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    let new_payment = NewPayment {
        user_id: user.id,
        month,
        plan: &plan,
        bitpin_payment_id: &bitpin_payment_id,
        bitpin_payment_key: &bitpin_key,
    };
    let payment = match store::insert_payment(&mut tx, &new_payment, now).await {
        Ok(payment) => payment,
        Err(e) if is_unique_violation(&e) => {
            // Lost a race: tell the client which rule the winner took.
            drop(tx);
            let mut conn = ctx.db.pool.acquire().await?;
            return Err(if store::has_paid(&mut conn, user.id, month).await? {
                already_paid()
            } else {
                id_used()
            });
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(repayment) = &plan.repayment {
        let loan = active_loan
            .as_ref()
            .expect("a repayment implies an active loan");
        let total_paid = store::loan_total_paid(&mut tx, &repayment.loan_id).await?;
        if total_paid > loan.amount {
            return Err(PayError::ExceedsBalanceNow);
        }
        if total_paid == loan.amount {
            store::settle_loan(&mut tx, &repayment.loan_id).await?;
            let settled = Notice::LoanSettled {
                amount: loan.amount,
            };
            let effect = format!("loan-settled:{}", repayment.loan_id);
            outbox::notify_user(&mut tx, ctx, user.id, &settled, &effect).await?;
        }
    }
    // In the payment's transaction: told exactly when it is recorded (a replay is answered
    // from the stored response, without coming here).
    let recorded = Notice::PaymentRecorded {
        month,
        fee: plan.membership_fee,
        repayment: plan.repayment.as_ref().map(|r| r.amount),
    };
    let effect = format!("payment-recorded:{}", payment.id);
    outbox::notify_user(&mut tx, ctx, user.id, &recorded, &effect).await?;
    notices::tell_admins_if_draw_ready(&mut tx, ctx, month).await?;
    let posting = JournalTransaction::payment(
        user.id,
        plan.membership_fee,
        plan.repayment.as_ref().map(|r| r.amount),
    )
    .map_err(|e| anyhow::anyhow!("payment {} cannot be posted: {e}", payment.id))?;
    let record = TxRecord {
        id: &payment.id,
        payment_id: Some(&payment.id),
        loan_id: None,
        reverses_id: None,
        memo: &format!("membership fee {month}"),
        month,
    };
    ledger::post(&mut tx, &posting, &record, now).await?;
    if let Some(amount) = body.loan_request_amount {
        set_loan_request(&mut tx, user.id, amount).await?;
    }
    // The month's draw needs its commitment before the inputs are complete; the job makes it
    // when the month begins, and a month's first payment if the job has not run.
    proof_store::ensure_commitment(&mut tx, month, now, meta).await?;
    if let Some(key) = key {
        idempotency::save(&mut tx, user.id, key, 201, &payment, now).await?;
    }
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action: "payment",
        target: format!("payment:{}", payment.id),
        details: json!({ "month": month.to_string(), "amount": payment.amount, "bitpin_payment_id": bitpin_payment_id }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    tx.commit().await?;
    ctx.changed(Area::Fund).await;
    Ok(payment)
}

/// A month's draw: its loan and a sentence saying what happened.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DrawResult {
    pub loan: Loan,
    pub message: String,
}

/// Runs this month's draw and records its loan (`active`, or `no_one`) with the draw's log; the
/// loan paid out is posted to the ledger in the same transaction.
pub async fn run_monthly_draw(
    ctx: &Ctx,
    user: &CurrentUser,
    meta: &RequestMeta,
) -> Result<(Loan, String), DrawError> {
    let result = draw(ctx, user, meta, None).await?;
    Ok((result.loan, result.message))
}

/// [`run_monthly_draw`] under an optional `Idempotency-Key`.
pub async fn run_monthly_draw_once(
    ctx: &Ctx,
    user: &CurrentUser,
    meta: &RequestMeta,
    key: Option<&IdempotencyKey>,
) -> Result<Outcome<DrawResult>, DrawError> {
    let action = draw(ctx, user, meta, key);
    idempotency::run(&ctx.db, user.id, key, ctx.now(), action).await
}

async fn draw(
    ctx: &Ctx,
    user: &CurrentUser,
    meta: &RequestMeta,
    key: Option<&IdempotencyKey>,
) -> Result<DrawResult, DrawError> {
    // Accountants read the books but are not in the fund: the draw is the members' own.
    if !access::is_fund_member(user.role) {
        return Err(DrawError::NotAMember);
    }
    let month = ctx.current_month();
    let already_drawn = || DrawError::AlreadyDrawn { month };
    let now = ctx.now();
    let mut tx = ctx.db.begin_write().await?;
    if super::membership::store::has_left(&mut tx, user.id).await? {
        return Err(DrawError::NotAMember);
    }
    if store::draw_exists(&mut tx, month).await? {
        return Err(already_drawn());
    }
    let unpaid = store::unpaid_members(&mut tx, month).await?;
    if !unpaid.is_empty() {
        return Err(DrawError::NotAllPaid { month, unpaid });
    }
    let seed = committed_seed(&mut tx, month).await?;
    let members = store::member_stats(&mut tx).await?;
    let cash = store::available_cash(&mut tx).await?;
    let config = store::config(&mut tx, month).await?.unwrap_or_default();
    let (outcome, mut proof) = prove(month, (&seed.0, &seed.1), members, cash);
    let log = serde_json::to_value(&outcome.log).map_err(anyhow::Error::from)?;
    let new_loan = NewLoan {
        month,
        winner: outcome.winner.as_ref().map(|w| (w.user_id, w.amount)),
        min_amount_for_each_payment: outcome
            .winner
            .as_ref()
            .map(|_| config.min_amount_for_loan_payment),
        log: &log,
    };
    let loan_id = match store::insert_loan(&mut tx, &new_loan, now).await {
        Ok(id) => id,
        Err(e) if is_unique_violation(&e) => return Err(already_drawn()),
        Err(e) => return Err(e.into()),
    };
    proof.loan_id.clone_from(&loan_id);
    let proof = serde_json::to_string(&proof).map_err(anyhow::Error::from)?;
    proof_store::reveal(&mut tx, month, &loan_id, &proof, now).await?;
    if let Some(winner) = &outcome.winner {
        let posting = JournalTransaction::loan_disbursement(winner.user_id, winner.amount)
            .map_err(|e| anyhow::anyhow!("loan {loan_id} cannot be posted: {e}"))?;
        let record = TxRecord {
            id: &loan_id,
            payment_id: None,
            loan_id: Some(&loan_id),
            reverses_id: None,
            memo: &format!("loan of the {month} draw"),
            month,
        };
        ledger::post(&mut tx, &posting, &record, now).await?;
        let data = json!({ "loan_id": loan_id, "month": month.to_string(),
            "user_id": winner.user_id, "amount": winner.amount.to_string() });
        webhooks::emit(&mut tx, ctx, Event::LoanAssigned, data).await?;
    }
    let entry = AuditEntry {
        actor_user_id: Some(user.id),
        action: "draw",
        target: format!("loan:{loan_id}"),
        details: json!({ "month": month.to_string(), "selected": outcome.log.selected, "cash": cash }),
    };
    audit::record(&mut tx, now, meta, entry).await?;
    // Every member hears the result through a job committed with the draw: writing their
    // notices here took a draw over 100,000 members from under 1 s to about 4.
    let announce = NewJob {
        kind: ANNOUNCE_DRAW_JOB,
        args: json!({ "loan_id": loan_id }),
        unique_key: format!("announce-draw:{loan_id}"),
        max_attempts: ctx.config.jobs.max_attempts,
    };
    jobs::enqueue(&mut tx, ctx.db.backend, &announce).await?;
    // And every member's monthly statement of it (`fund::statements`), by the same rule.
    let statements = NewJob {
        kind: super::statements::MONTHLY_STATEMENTS_JOB,
        args: json!({ "loan_id": loan_id }),
        unique_key: format!("monthly-statements:{loan_id}"),
        max_attempts: ctx.config.jobs.max_attempts,
    };
    jobs::enqueue(&mut tx, ctx.db.backend, &statements).await?;
    // The loan as `store::loans` would read it back, built from what was just written: reading
    // it again meant fetching and parsing the draw's log (megabytes over 100,000 members).
    let amount = outcome.winner.as_ref().map(|w| w.amount);
    let loan = Loan {
        id: loan_id,
        user_id: outcome.winner.as_ref().map(|w| w.user_id),
        username: outcome.winner.as_ref().map(|w| w.username.clone()),
        amount,
        state: if outcome.winner.is_some() {
            "active"
        } else {
            "no_one"
        }
        .to_string(),
        jalali_year: i64::from(month.year),
        jalali_month: i64::from(month.month),
        min_amount_for_each_payment: outcome
            .winner
            .as_ref()
            .map(|_| config.min_amount_for_loan_payment),
        total_paid: Amount::ZERO,
        remaining_balance: amount.unwrap_or(Amount::ZERO),
        settled_from_contributions: None,
        log,
        payments: vec![],
        created_at: to_db_time(now),
    };
    let message = match &outcome.winner {
        Some(w) => format!(
            "Loan of {} assigned to {} for {month}",
            w.amount, w.username
        ),
        None => format!("No one received a loan for {month}"),
    };
    let result = DrawResult { loan, message };
    if let Some(key) = key {
        idempotency::save(&mut tx, user.id, key, 201, &result, now).await?;
    }
    tx.commit().await?;
    ctx.changed(Area::Fund).await;
    Ok(result)
}

/// `month`'s committed seed and when it was committed, checked against the commitment stored
/// with it and the one the audit log published.
async fn committed_seed(
    tx: &mut sqlx::AnyConnection,
    month: JalaliMonth,
) -> Result<(Seed, String), DrawError> {
    let Some(row) = proof_store::commitment_for(tx, month).await? else {
        return Err(DrawError::NoCommitment { month });
    };
    let published = proof_store::published_commitment(tx, month).await?;
    let seed = Seed::from_hex(&row.seed).filter(|seed| {
        commitment(seed, month) == row.commitment && published.as_ref() == Some(&row.commitment)
    });
    match seed {
        Some(seed) => Ok((seed, row.committed_at)),
        None => Err(DrawError::CommitmentChanged { month }),
    }
}

/// The job kind that tells every member the result of a draw (args: `{"loan_id": id}`).
pub const ANNOUNCE_DRAW_JOB: &str = "announce_draw";

/// Tells every active member the result of the draw that made `loan_id`, with their own (the
/// `announce_draw` job, enqueued in the draw's transaction, so a draw rolled back tells no
/// one). Each member is told once however often it runs. Returns the notices queued.
pub async fn announce_draw(ctx: &Ctx, loan_id: &str) -> Result<u64, sqlx::Error> {
    type LoanRow = (Option<i64>, Option<Amount>, i64, i64);
    // Read before the write transaction (SQLite: see `notify::preferences::change`).
    let mut conn = ctx.db.pool.acquire().await?;
    let loan: Option<LoanRow> = sqlx::query_as(
        "SELECT user_id, amount, jalali_year, jalali_month FROM loans WHERE id = $1",
    )
    .bind(loan_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((winner, amount, year, month)) = loan else {
        return Ok(0);
    };
    let winner_name = match winner {
        Some(id) => Some(match outbox::display_name(&mut conn, id).await? {
            Some(name) => name,
            None => {
                sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *conn)
                    .await?
            }
        }),
        None => None,
    };
    drop(conn);
    let month = JalaliMonth {
        year: i32::try_from(year).unwrap_or_default(),
        month: u8::try_from(month).unwrap_or_default(),
    };
    let notice_for = |you_won| Notice::DrawRan {
        month,
        winner: winner_name.clone(),
        amount,
        you_won,
    };
    let mut tx = ctx.db.begin_write().await?;
    let effect = format!("draw-ran:{loan_id}");
    let queued = outbox::notify_members(&mut tx, ctx, notice_for, winner, &effect).await?;
    tx.commit().await?;
    Ok(queued)
}
