//! The flow of an online payment: make the intent, send the payer to the gateway, take the
//! callback, verify, and apply the money exactly once.
//!
//! "Exactly once" rests on one conditional update: the move to `verified` happens only from a
//! state that may still be verified, in the same transaction as the invoice payment and its
//! ledger posting. A callback, its reload and reconciliation may all verify with the gateway
//! at the same time (Zarinpal answers 101 to the later ones); only the first to commit
//! applies the money, the others find the intent verified and do nothing.

use chrono::Duration;
use serde_json::json;

use super::domain::{effect_of, reason, rials_for_usdt, rials_to_charge, Effect, IntentState};
use super::error::IntentError;
use super::store::{self, IntentRow, NewIntent, Subject};
use crate::auth::{CurrentUser, Role};
use crate::ctx::Ctx;
use crate::gateways::{Exchange, GatewayFailure, PayRequest, RedirectGateway, Verification};
use crate::invoicing::access::{allowed, Action};
use crate::invoicing::payments;
use crate::invoicing::store as invoices;
use crate::ledger::domain::JournalTransaction;
use crate::platform::audit::{self, AuditEntry, RequestMeta};
use crate::platform::clock::to_db_time;
use crate::platform::currency::Currency;
use crate::platform::db::Backend;
use crate::platform::idempotency::{self, IdempotencyKey, Outcome, Respond};
use crate::platform::money::Amount;
use crate::tickets::loans;
use crate::tickets::schedule;
use crate::webhooks::{self, Event};

/// Where the gateway sends the payer back: `{PUBLIC_BASE_URL}{CALLBACK_PATH}`.
pub const CALLBACK_PATH: &str = "/pay/zarinpal/callback";

fn gateway(ctx: &Ctx) -> Result<&dyn RedirectGateway, IntentError> {
    ctx.online.as_deref().ok_or(IntentError::Off)
}

fn now_text(ctx: &Ctx) -> String {
    to_db_time(ctx.now())
}

/// Who may pay an invoice online: the client's own users, and the staff who record payments.
pub fn may_pay(role: Role, own_client: Option<i64>, client_id: i64) -> bool {
    allowed(role, own_client, Action::WritePayments, Some(client_id))
        || (role == Role::Client && own_client == Some(client_id))
}

/// Who may see an intent: whoever made it, and the staff who read the client's payments (an
/// invoice's) or the fund's books (an installment's).
fn may_see(actor: &CurrentUser, own_client: Option<i64>, intent: &IntentRow) -> bool {
    if intent.created_by == Some(actor.id) {
        return true;
    }
    match intent.subject.as_str() {
        "invoice" => {
            actor.role != Role::Client
                && allowed(
                    actor.role,
                    own_client,
                    Action::ReadPayments,
                    intent.client_id,
                )
        }
        _ => matches!(actor.role, Role::Admin | Role::Accountant | Role::Lender),
    }
}

/// The client a `client` user belongs to (invoicing's own rule).
async fn own_client(ctx: &Ctx, actor: &CurrentUser) -> Result<Option<i64>, IntentError> {
    let mut conn = ctx.db.pool.acquire().await?;
    Ok(crate::invoicing::service::own_client(&mut conn, actor).await?)
}

/// Moves an intent from one of `from` to `to` in a transaction of its own; false when another
/// request moved it first.
pub(crate) async fn move_now(
    ctx: &Ctx,
    id: &str,
    from: &[IntentState],
    to: IntentState,
    reason: &str,
) -> Result<bool, IntentError> {
    let mut tx = ctx.db.begin_write().await?;
    let moved = store::move_state(&mut tx, id, from, to, reason, &now_text(ctx)).await?;
    tx.commit().await?;
    Ok(moved)
}

/// The Rials an invoice would be charged online now, or why it cannot be paid online. Pages
/// ask it to decide whether to offer "Pay online".
pub fn online_charge(ctx: &Ctx, currency: &str, due: i64) -> Option<i64> {
    let gateway = ctx.online.as_deref()?;
    (currency == Currency::Irr.code())
        .then(|| rials_to_charge(due, gateway.rials_per_unit()))
        .flatten()
}

/// The origin of the gateway's payment pages (`https://payment.zarinpal.com`), which a page's
/// "Pay online" form must be allowed to lead to.
pub fn gateway_origin(ctx: &Ctx) -> Option<String> {
    let page = ctx.online.as_deref()?.pay_url("A");
    let origin = reqwest::Url::parse(&page).ok()?.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The installment a borrower would pay online now: its USDT and the Rials charged for it;
/// none when not offered (no gateway or rate, nothing owed).
pub fn installment_charge(
    ctx: &Ctx,
    installments: &[schedule::Installment],
) -> Option<(Amount, i64)> {
    let gateway = ctx.online.as_deref()?;
    let rate = ctx.config.zarinpal.irr_per_usdt?;
    let next = installments
        .iter()
        .find(|i| i.outstanding().is_positive())?;
    let usdt = next.outstanding();
    let rials = rials_to_charge(rials_for_usdt(usdt, rate)?, gateway.rials_per_unit())?;
    Some((usdt, rials))
}

/// Makes an intent for the borrower to pay the next installment of a ticket being repaid (what
/// is still owed on it), in Rials at `PAYMENT_IRR_PER_USDT`, fixed now.
pub async fn create_for_installment(
    ctx: &Ctx,
    actor: &CurrentUser,
    ticket_id: &str,
    meta: &RequestMeta,
    key: Option<&IdempotencyKey>,
    respond: Respond<'_, IntentRow>,
) -> Result<Outcome<IntentRow>, IntentError> {
    let action = async {
        let gateway = gateway(ctx)?;
        if ctx.config.zarinpal.irr_per_usdt.is_none() {
            return Err(IntentError::Off);
        }
        let no_such = || IntentError::invalid("ticket_id", "No such ticket being repaid.");
        let mut conn = ctx.db.pool.acquire().await?;
        let owed = loans::owed_on(ctx, &mut conn, ticket_id)
            .await
            .map_err(|_| no_such())?;
        drop(conn);
        let Some((ticket, installments)) = owed else {
            return Err(no_such());
        };
        if ticket.borrower_id != actor.id {
            return Err(IntentError::Forbidden);
        }
        let (usdt, rials) = installment_charge(ctx, &installments).ok_or_else(|| {
            IntentError::Conflict("Nothing can be paid online on this ticket now.".into())
        })?;
        let mut tx = ctx.db.begin_write().await?;
        let subject = Subject::Installment {
            ticket_id: &ticket.id,
            usdt,
        };
        let keyed = key.map(|k| (k, respond));
        let row = insert_intent(ctx, &mut tx, actor, subject, rials, gateway, meta, keyed).await?;
        tx.commit().await?;
        Ok(row)
    };
    idempotency::run(&ctx.db, actor.id, key, ctx.now(), action).await
}

/// Writes a new intent for `amount` Rials, with its audit entry and (under a key) the answer
/// a retry gets, in `tx`.
#[allow(clippy::too_many_arguments)]
async fn insert_intent(
    ctx: &Ctx,
    tx: &mut crate::platform::db::WriteTx,
    actor: &CurrentUser,
    subject: Subject<'_>,
    amount: i64,
    gateway: &dyn RedirectGateway,
    meta: &RequestMeta,
    key: Option<(&IdempotencyKey, Respond<'_, IntentRow>)>,
) -> Result<IntentRow, IntentError> {
    let (gateway_amount, gateway_currency) = gateway.charge(amount);
    let id = uuid::Uuid::new_v4().to_string();
    let now = ctx.now();
    let expiry = Duration::from_std(ctx.config.zarinpal.intent_expiry)
        .unwrap_or_else(|_| Duration::minutes(30));
    let paying = match &subject {
        Subject::Invoice { invoice_id, .. } => json!({ "invoice_id": invoice_id }),
        Subject::Installment { ticket_id, usdt } => {
            json!({ "ticket_id": ticket_id, "usdt": usdt })
        }
    };
    store::insert(
        tx,
        &NewIntent {
            id: &id,
            subject,
            amount,
            currency: Currency::Irr.code(),
            gateway: gateway.name(),
            gateway_amount,
            gateway_currency,
            created_by: actor.id,
            now: &to_db_time(now),
            expires_at: &to_db_time(now + expiry),
        },
    )
    .await?;
    audit::record(
        tx,
        now,
        meta,
        AuditEntry {
            actor_user_id: Some(actor.id),
            action: "payment_intent_created",
            target: format!("payment_intent:{id}"),
            details: json!({ "paying": paying, "amount": amount, "currency": Currency::Irr.code() }),
        },
    )
    .await?;
    let row = store::get(tx, &id).await?.ok_or(IntentError::NotFound)?;
    if let Some((key, respond)) = key {
        let (status, body) = respond(&row);
        idempotency::save(tx, actor.id, key, status, &body, now).await?;
    }
    Ok(row)
}

/// Makes an intent to pay what is still owed on `invoice_id`, in Rials. Under an
/// `Idempotency-Key`, a retry gets the first intent back.
pub async fn create_for_invoice(
    ctx: &Ctx,
    actor: &CurrentUser,
    invoice_id: &str,
    meta: &RequestMeta,
    key: Option<&IdempotencyKey>,
    respond: Respond<'_, IntentRow>,
) -> Result<Outcome<IntentRow>, IntentError> {
    let action = create_in(ctx, actor, invoice_id, meta, key.map(|k| (k, respond)));
    idempotency::run(&ctx.db, actor.id, key, ctx.now(), action).await
}

async fn create_in(
    ctx: &Ctx,
    actor: &CurrentUser,
    invoice_id: &str,
    meta: &RequestMeta,
    key: Option<(&IdempotencyKey, Respond<'_, IntentRow>)>,
) -> Result<IntentRow, IntentError> {
    let gateway = gateway(ctx)?;
    let own = own_client(ctx, actor).await?;
    let mut tx = ctx.db.begin_write().await?;
    let invoice = invoices::invoice(&mut tx, invoice_id)
        .await?
        .filter(|i| i.kind == "invoice" && !i.is_draft())
        .filter(|i| actor.role != Role::Client || own == Some(i.client_id))
        .ok_or_else(|| IntentError::invalid("invoice_id", "No such sent invoice."))?;
    if !may_pay(actor.role, own, invoice.client_id) {
        return Err(IntentError::Forbidden);
    }
    if invoice.status == "void" {
        return Err(IntentError::Conflict("The invoice is void.".into()));
    }
    if invoice.currency != Currency::Irr.code() {
        return Err(IntentError::Conflict(format!(
            "Online payment takes Rials only; this invoice is in {}.",
            invoice.currency
        )));
    }
    let due = invoice.amount_due();
    if due <= 0 {
        return Err(IntentError::Conflict("The invoice is paid.".into()));
    }
    let amount = rials_to_charge(due, gateway.rials_per_unit()).ok_or_else(|| {
        IntentError::Conflict(format!(
            "The amount due is below the gateway's smallest payment ({} Rials).",
            super::domain::MIN_CHARGE_RIALS
        ))
    })?;
    let subject = Subject::Invoice {
        invoice_id: &invoice.id,
        client_id: invoice.client_id,
    };
    let row = insert_intent(ctx, &mut tx, actor, subject, amount, gateway, meta, key).await?;
    tx.commit().await?;
    Ok(row)
}

/// Stores one exchange with the gateway, in a transaction of its own (it happened, whatever
/// comes of it).
pub(crate) async fn save_exchange(
    ctx: &Ctx,
    intent_id: &str,
    exchange: &Exchange,
) -> Result<(), IntentError> {
    let mut tx = ctx.db.begin_write().await?;
    store::insert_exchange(&mut tx, intent_id, exchange, ctx.now()).await?;
    tx.commit().await?;
    Ok(())
}

/// The gateway's page to send the payer to. The first call asks the gateway for an authority;
/// later calls (a reload, a second click) give the same page again. `callback_base` is where
/// Saghat is reached (`https://pay.example.com`).
pub async fn redirect(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
    callback_base: &str,
) -> Result<String, IntentError> {
    let gateway = gateway(ctx)?;
    let intent = get(ctx, actor, id).await?;
    if let Some(authority) = &intent.authority {
        if intent.state() == IntentState::Redirected {
            return Ok(gateway.pay_url(authority));
        }
    }
    if intent.state() != IntentState::Created {
        return Err(IntentError::Conflict(format!(
            "This payment is {}; start a new one.",
            intent.state
        )));
    }
    if intent.expires_at.as_str() <= now_text(ctx).as_str() {
        return Err(IntentError::Conflict(
            "This payment expired; start a new one.".into(),
        ));
    }
    let (email, mobile) = payer_contact(ctx, actor.id).await?;
    let request = PayRequest {
        amount: intent.gateway_amount,
        description: description(ctx, &intent).await?,
        callback_url: format!("{}{CALLBACK_PATH}", callback_base.trim_end_matches('/')),
        mobile,
        email,
        order_id: intent.id.clone(),
    };
    let answer = gateway.request(&request).await;
    save_exchange(ctx, id, &answer.exchange).await?;
    let mut tx = ctx.db.begin_write().await?;
    let now = now_text(ctx);
    let result = match answer.result {
        Ok(authority) => {
            if !store::set_redirected(&mut tx, id, &authority, &now).await? {
                // Another click got its authority in first: send the payer to that one.
                let row = store::get(&mut tx, id)
                    .await?
                    .ok_or(IntentError::NotFound)?;
                match row.authority {
                    Some(a) if row.state() == IntentState::Redirected => Ok(gateway.pay_url(&a)),
                    _ => Err(IntentError::Conflict(format!(
                        "This payment is {}; start a new one.",
                        row.state
                    ))),
                }
            } else {
                Ok(gateway.pay_url(&authority))
            }
        }
        Err(GatewayFailure::Refused { code, message }) => {
            store::move_state(
                &mut tx,
                id,
                &[IntentState::Created],
                IntentState::Failed,
                &reason::gateway(code),
                &now,
            )
            .await?;
            Err(IntentError::Gateway(format!("{message} (code {code})")))
        }
        Err(GatewayFailure::Unavailable(why)) => Err(IntentError::Gateway(format!(
            "{why}; nothing was charged, try again"
        ))),
    };
    tx.commit().await?;
    result
}

async fn payer_contact(
    ctx: &Ctx,
    user_id: i64,
) -> Result<(Option<String>, Option<String>), IntentError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT u.email, p.mobile FROM users u \
         LEFT JOIN notification_preferences p ON p.user_id = u.id WHERE u.id = $1",
    )
    .bind(user_id)
    .fetch_optional(&mut *conn)
    .await?;
    let (email, mobile) = row.unwrap_or_default();
    // Zarinpal takes Iranian mobiles as 09…; preferences keep them in E.164 (+989…).
    let mobile = mobile
        .filter(|m| !m.is_empty())
        .map(|m| match m.strip_prefix("+98") {
            Some(rest) => format!("0{rest}"),
            None => m,
        });
    Ok((Some(email).filter(|e| !e.is_empty()), mobile))
}

async fn description(ctx: &Ctx, intent: &IntentRow) -> Result<String, IntentError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let number = match &intent.invoice_id {
        Some(id) => invoices::invoice(&mut conn, id)
            .await?
            .and_then(|i| i.number),
        None => None,
    };
    Ok(match (number, &intent.ticket_id) {
        (Some(number), _) => format!("Invoice {number}"),
        (None, Some(ticket)) => format!(
            "Loan installment, ticket {}",
            ticket.get(..8).unwrap_or(ticket)
        ),
        _ => "Payment".into(),
    })
}

/// The gateway sent the payer back with `authority` and `Status=OK|NOK`. Neither is trusted:
/// NOK only fails an intent still waiting for the payer, and OK is checked by verifying with
/// the gateway. Returns the intent, as it now stands, for its result page.
pub async fn callback(ctx: &Ctx, authority: &str, ok: bool) -> Result<IntentRow, IntentError> {
    if !crate::gateways::zarinpal::is_authority(authority) {
        return Err(IntentError::NotFound);
    }
    let intent = {
        let mut conn = ctx.db.pool.acquire().await?;
        store::by_authority(&mut conn, authority)
            .await?
            .ok_or(IntentError::NotFound)?
    };
    if !ok {
        let waiting = [IntentState::Redirected];
        move_now(
            ctx,
            &intent.id,
            &waiting,
            IntentState::Failed,
            reason::CANCELLED,
        )
        .await?;
    } else {
        authorise_and_verify(ctx, &intent).await?;
    }
    let mut conn = ctx.db.pool.acquire().await?;
    store::get(&mut conn, &intent.id)
        .await?
        .ok_or(IntentError::NotFound)
}

/// The gateway says the payer paid: record that, then verify and apply.
pub(crate) async fn authorise_and_verify(ctx: &Ctx, intent: &IntentRow) -> Result<(), IntentError> {
    if !intent.state().may_be_verified() {
        return Ok(());
    }
    let paid_from = [
        IntentState::Redirected,
        IntentState::Failed,
        IntentState::Expired,
    ];
    move_now(ctx, &intent.id, &paid_from, IntentState::Authorised, "").await?;
    verify_and_apply(ctx, &intent.id).await
}

/// Verifies an authorised intent with the gateway and applies the money once. A gateway that
/// cannot be asked leaves it authorised, for reconciliation to finish.
async fn verify_and_apply(ctx: &Ctx, id: &str) -> Result<(), IntentError> {
    let gateway = gateway(ctx)?;
    let intent = {
        let mut conn = ctx.db.pool.acquire().await?;
        store::get(&mut conn, id)
            .await?
            .ok_or(IntentError::NotFound)?
    };
    let Some(authority) = intent.authority.clone() else {
        return Ok(());
    };
    if intent.state() != IntentState::Authorised {
        return Ok(());
    }
    let answer = gateway.verify(&authority, intent.gateway_amount).await;
    save_exchange(ctx, id, &answer.exchange).await?;
    match answer.result {
        Ok(verification) => {
            if ctx.config.zarinpal.crash_after_verify {
                // The crash test: the gateway has verified, Saghat has recorded nothing.
                tracing::error!(intent = id, "SAGHAT_TEST_CRASH_AFTER_VERIFY: exiting");
                std::process::exit(75);
            }
            apply(ctx, &intent, &verification).await
        }
        Err(GatewayFailure::Refused { code, .. }) => {
            let why = reason::gateway(code);
            move_now(
                ctx,
                id,
                &[IntentState::Authorised],
                IntentState::Failed,
                &why,
            )
            .await?;
            Ok(())
        }
        Err(GatewayFailure::Unavailable(why)) => {
            tracing::warn!(intent = id, %why, "cannot verify an online payment yet");
            Ok(())
        }
    }
}

/// Records verified money: in one transaction, the move to `verified` (only from a state that
/// may still be verified: whoever comes second does nothing), the invoice payment with its
/// ledger posting, the `payment.verified` event and the audit entry. Money for an invoice
/// already paid is not taken: it is given back at the gateway (see [`reverse`]).
async fn apply(
    ctx: &Ctx,
    intent: &IntentRow,
    verification: &Verification,
) -> Result<(), IntentError> {
    let mut tx = ctx.db.begin_write().await?;
    let postgres = ctx.db.backend == Backend::Postgres;
    let Some(current) = store::get_for_update(&mut tx, &intent.id, postgres).await? else {
        return Err(IntentError::NotFound);
    };
    let now = now_text(ctx);
    if !store::move_state(
        &mut tx,
        &intent.id,
        &[IntentState::Authorised],
        IntentState::Verified,
        "",
        &now,
    )
    .await?
    {
        // Applied (or failed) by a concurrent callback or reconciliation.
        return Ok(());
    }
    let (mut payment_id, mut repayment_id) = (None, None);
    if let (Some(ticket_id), Some(usdt)) = (&current.ticket_id, current.usdt_amount) {
        repayment_id = loans::repay_from_gateway(&mut tx, ctx, ticket_id, usdt, &current.id)
            .await
            .map_err(|e| IntentError::Gateway(format!("cannot record the repayment: {e}")))?;
    } else if let Some(invoice_id) = &current.invoice_id {
        let invoice = payments::payable_invoice(ctx, &mut tx, invoice_id).await?;
        let effect = effect_of(current.amount, invoice.as_ref().map(|i| i.amount_due()));
        if let (Effect::Apply { allocated }, Some(invoice)) = (effect, &invoice) {
            let id = payments::record_gateway_payment(
                ctx,
                &mut tx,
                invoice,
                (current.amount, allocated),
                &format!("Zarinpal {}", verification.ref_id),
                current.created_by,
            )
            .await?;
            payment_id = Some(id);
        }
    }
    let applied = payment_id.is_some() || repayment_id.is_some();
    let reason = if applied { "" } else { reason::ALREADY_PAID };
    store::set_verified(
        &mut tx,
        &intent.id,
        &store::Verified {
            ref_id: &verification.ref_id,
            card_pan: verification.card_pan.as_deref(),
            card_hash: verification.card_hash.as_deref(),
            fee: verification.fee,
            payment_id: payment_id.as_deref(),
            repayment_id: repayment_id.as_deref(),
            reason,
        },
        &now,
    )
    .await?;
    let data = json!({
        "intent_id": current.id, "invoice_id": current.invoice_id, "client_id": current.client_id,
        "ticket_id": current.ticket_id, "usdt_amount": current.usdt_amount,
        "amount": current.amount, "currency": current.currency, "gateway": current.gateway,
        "ref_id": verification.ref_id, "payment_id": payment_id, "repayment_id": repayment_id,
    });
    webhooks::emit(&mut tx, ctx, Event::PaymentVerified, data.clone()).await?;
    audit::record(
        &mut tx,
        ctx.now(),
        &RequestMeta::default(),
        AuditEntry {
            actor_user_id: None,
            action: "payment_intent_verified",
            target: format!("payment_intent:{}", current.id),
            details: data,
        },
    )
    .await?;
    tx.commit().await?;
    // A fund payment, a ticket repayment or an invoice payment: whichever, its figures changed.
    ctx.changed_all().await;
    if !applied {
        reverse(ctx, &intent.id).await?;
    }
    Ok(())
}

/// Gives back, at the gateway, money verified for something already paid. If the gateway
/// refuses for good (too late, or the bank cannot), the money is kept as the client's credit
/// rather than lost from the books; if it cannot be asked, reconciliation tries again.
pub(crate) async fn reverse(ctx: &Ctx, id: &str) -> Result<(), IntentError> {
    let gateway = gateway(ctx)?;
    let intent = {
        let mut conn = ctx.db.pool.acquire().await?;
        store::get(&mut conn, id)
            .await?
            .ok_or(IntentError::NotFound)?
    };
    let (true, Some(authority)) = (intent.awaits_reversal(), intent.authority.clone()) else {
        return Ok(());
    };
    let answer = gateway.reverse(&authority).await;
    save_exchange(ctx, id, &answer.exchange).await?;
    let mut tx = ctx.db.begin_write().await?;
    let postgres = ctx.db.backend == Backend::Postgres;
    let current = store::get_for_update(&mut tx, id, postgres)
        .await?
        .ok_or(IntentError::NotFound)?;
    if !current.awaits_reversal() {
        return Ok(());
    }
    let now = now_text(ctx);
    match answer.result {
        Ok(()) => {
            store::move_state(
                &mut tx,
                id,
                &[IntentState::Verified],
                IntentState::Reversed,
                reason::GIVEN_BACK,
                &now,
            )
            .await?;
        }
        Err(GatewayFailure::Refused { code, message }) if current.ticket_id.is_some() => {
            tracing::warn!(intent = id, code, %message, "the gateway cannot give a payment back: refund it by hand");
            store::set_unreversed(&mut tx, id, None, reason::REFUND_BY_HAND, &now).await?;
        }
        Err(GatewayFailure::Refused { code, message }) => {
            tracing::warn!(intent = id, code, %message, "the gateway cannot give a payment back: it is kept as credit");
            let invoice = match &current.invoice_id {
                Some(invoice_id) => invoices::invoice(&mut tx, invoice_id).await?,
                None => None,
            };
            let Some(invoice) = invoice else {
                return Err(IntentError::NotFound);
            };
            // Whatever the invoice still owes is paid; the rest is the client's credit.
            let allocated = match effect_of(current.amount, Some(invoice.amount_due())) {
                Effect::Apply { allocated } => allocated,
                Effect::Reverse => 0,
            };
            let payment_id = payments::record_gateway_payment(
                ctx,
                &mut tx,
                &invoice,
                (current.amount, allocated),
                &format!("Zarinpal {}", current.ref_id.clone().unwrap_or_default()),
                current.created_by,
            )
            .await?;
            let kept = reason::KEPT_AS_CREDIT;
            store::set_unreversed(&mut tx, id, Some(&payment_id), kept, &now).await?;
        }
        Err(GatewayFailure::Unavailable(why)) => {
            tracing::warn!(intent = id, %why, "cannot reverse an online payment yet");
        }
    }
    tx.commit().await?;
    ctx.changed_all().await;
    Ok(())
}

/// The gateway paid out a verified payment: its money moves from the clearing account into
/// cash (admins and accountants).
pub async fn settle(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
    meta: &RequestMeta,
) -> Result<IntentRow, IntentError> {
    if !matches!(actor.role, Role::Admin | Role::Accountant) {
        return Err(IntentError::Forbidden);
    }
    let mut tx = ctx.db.begin_write().await?;
    let postgres = ctx.db.backend == Backend::Postgres;
    let intent = store::get_for_update(&mut tx, id, postgres)
        .await?
        .ok_or(IntentError::NotFound)?;
    if intent.settled_at.is_some() {
        return Err(IntentError::Conflict(
            "This payment is settled already.".into(),
        ));
    }
    if intent.state() != IntentState::Verified || intent.unapplied() {
        return Err(IntentError::Conflict(
            "Only a verified payment that was recorded can be settled.".into(),
        ));
    }
    if !store::set_settled(&mut tx, id, &now_text(ctx)).await? {
        return Err(IntentError::Conflict(
            "This payment is settled already.".into(),
        ));
    }
    let journal = match intent.usdt_amount {
        // An installment's money is the fund's, in USDT.
        Some(usdt) => JournalTransaction::fund_gateway_settlement(usdt),
        None => {
            let currency = Currency::parse(&intent.currency).ok_or(IntentError::NotFound)?;
            JournalTransaction::gateway_settlement(currency, intent.amount)
        }
    }
    .map_err(|e| IntentError::Invoicing(e.into()))?;
    let tx_id = format!("gateway_settlement:{id}");
    crate::invoicing::invoices::post(ctx, &mut tx, &journal, &tx_id, "gateway payout").await?;
    audit::record(
        &mut tx,
        ctx.now(),
        meta,
        AuditEntry {
            actor_user_id: Some(actor.id),
            action: "payment_intent_settled",
            target: format!("payment_intent:{id}"),
            details: json!({ "amount": intent.amount, "currency": intent.currency }),
        },
    )
    .await?;
    let row = store::get(&mut tx, id)
        .await?
        .ok_or(IntentError::NotFound)?;
    tx.commit().await?;
    ctx.changed_all().await;
    Ok(row)
}

/// An intent its viewer may see (see [`may_see`]); another's is "not found".
pub async fn get(ctx: &Ctx, actor: &CurrentUser, id: &str) -> Result<IntentRow, IntentError> {
    let own = own_client(ctx, actor).await?;
    let mut conn = ctx.db.pool.acquire().await?;
    store::get(&mut conn, id)
        .await?
        .filter(|i| may_see(actor, own, i))
        .ok_or(IntentError::NotFound)
}

/// The intent behind a result page: its UUID is the capability (it is only in the payer's
/// own redirect), and the page shows no card number.
pub async fn get_by_capability(ctx: &Ctx, id: &str) -> Result<IntentRow, IntentError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(IntentError::NotFound);
    }
    let mut conn = ctx.db.pool.acquire().await?;
    store::get(&mut conn, id)
        .await?
        .ok_or(IntentError::NotFound)
}

/// The viewer's intents (staff: everyone's), newest first, optionally for one invoice.
pub async fn list(
    ctx: &Ctx,
    actor: &CurrentUser,
    invoice_id: Option<&str>,
) -> Result<Vec<IntentRow>, IntentError> {
    let staff = matches!(actor.role, Role::Admin | Role::Accountant | Role::Viewer);
    let mut conn = ctx.db.pool.acquire().await?;
    let created_by = (!staff).then_some(actor.id);
    Ok(store::list(&mut conn, created_by, invoice_id, 200).await?)
}

/// What was said with the gateway about an intent (staff only).
pub async fn exchanges(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
) -> Result<Vec<store::ExchangeRow>, IntentError> {
    if !matches!(actor.role, Role::Admin | Role::Accountant) {
        return Err(IntentError::Forbidden);
    }
    let intent = get(ctx, actor, id).await?;
    let mut conn = ctx.db.pool.acquire().await?;
    Ok(store::exchanges(&mut conn, &intent.id).await?)
}
