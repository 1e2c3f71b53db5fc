//! Money against invoices: payments (allocated to open invoices, by hand or by the invoice
//! number in their reference; the rest is the client's credit), the client's credit used on a
//! later invoice or refunded, credit notes, and the client's statement. Each posts to the
//! ledger in the transaction that records it.

use crate::platform::response_cache::Area;
use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::json;
use sqlx::AnyConnection;

use super::access::Action;
use super::error::InvoicingError;
use super::invoices::{self, detail, post, refresh, DraftInput, DraftLine, InvoiceDetail};
use super::numbering;
use super::service::{audit, now_text, require};
use super::store::{self, InvoiceRow, NewInvoice};
use crate::auth::CurrentUser;
use crate::ctx::Ctx;
use crate::ledger::domain::JournalTransaction;
use crate::platform::audit::RequestMeta;
use crate::platform::currency::Currency;
use crate::platform::db::{Backend, WriteTx};
use crate::platform::idempotency::{self, IdempotencyKey, Outcome, Respond};

pub const METHODS: [&str; 5] = ["bank_transfer", "cash", "card", "gateway", "other"];

#[derive(Debug, Clone)]
pub struct PaymentInput {
    pub client_id: i64,
    /// Minor units of `currency`.
    pub amount: i64,
    pub currency: Currency,
    pub received_on: NaiveDate,
    pub method: String,
    pub reference: String,
    pub notes: String,
    /// (invoice id, amount); empty: by the reference's invoice number, if it names one.
    pub allocations: Vec<(String, i64)>,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct PaymentRow {
    pub id: String,
    pub client_id: i64,
    pub amount: i64,
    pub currency: String,
    pub received_on: String,
    pub method: String,
    pub reference: String,
    pub notes: String,
    pub created_by: Option<i64>,
    pub created_at: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct PaymentDetail {
    #[serde(flatten)]
    pub payment: PaymentRow,
    /// (invoice id, amount).
    pub allocations: Vec<(String, i64)>,
    /// The part that became the client's credit.
    pub unallocated: i64,
}

fn check_method(method: &str) -> Result<(), InvoicingError> {
    if METHODS.contains(&method) {
        Ok(())
    } else {
        Err(InvoicingError::invalid(
            "method",
            format!("\"{method}\" is not a valid choice."),
        ))
    }
}

/// An invoice money may be applied to: the client's, sent, of the same currency, still owed.
/// Locked for the rest of the transaction on PostgreSQL.
async fn open_invoice(
    ctx: &Ctx,
    tx: &mut WriteTx,
    field: &str,
    id: &str,
    client_id: i64,
    currency: Currency,
) -> Result<InvoiceRow, InvoicingError> {
    let row = store::invoice_for_update(tx, id, ctx.db.backend == Backend::Postgres)
        .await?
        .filter(|r| r.client_id == client_id && r.kind == "invoice")
        .ok_or_else(|| InvoicingError::invalid(field, "Not an invoice of this client."))?;
    if row.is_draft() {
        return Err(InvoicingError::invalid(
            field,
            "The invoice is not sent yet.",
        ));
    }
    if row.currency != currency.code() {
        return Err(InvoicingError::invalid(
            field,
            "The invoice is in another currency.",
        ));
    }
    Ok(row)
}

/// Where the money applied to an invoice comes from.
#[derive(Clone, Copy)]
enum Source<'a> {
    Payment(&'a str),
    CreditNote(&'a str),
    Credit,
}

async fn insert_allocation(
    ctx: &Ctx,
    conn: &mut AnyConnection,
    invoice_id: &str,
    source: Source<'_>,
    amount: i64,
    currency: Currency,
    actor: Option<&CurrentUser>,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO invoice_allocations (invoice_id, source, payment_id, credit_note_id, amount, \
         currency, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(invoice_id)
    .bind(match source {
        Source::Payment(_) => "payment",
        Source::CreditNote(_) => "credit_note",
        Source::Credit => "credit",
    })
    .bind(match source {
        Source::Payment(id) => Some(id),
        _ => None,
    })
    .bind(match source {
        Source::CreditNote(id) => Some(id),
        _ => None,
    })
    .bind(amount)
    .bind(currency.code())
    .bind(actor.map(|a| a.id))
    .bind(now_text(ctx))
    .fetch_one(conn)
    .await
}

pub async fn record_payment(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &PaymentInput,
    meta: &RequestMeta,
) -> Result<PaymentDetail, InvoicingError> {
    record_payment_in(ctx, actor, input, meta, None).await
}

/// [`record_payment`] under an optional `Idempotency-Key`: a retry with the same key and body
/// gets the first answer (`respond` renders it) and records nothing; the answer is stored in
/// the payment's own transaction, so after a crash both exist or neither does.
pub async fn record_payment_once(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &PaymentInput,
    meta: &RequestMeta,
    key: Option<&IdempotencyKey>,
    respond: Respond<'_, PaymentDetail>,
) -> Result<Outcome<PaymentDetail>, InvoicingError> {
    let action = record_payment_in(ctx, actor, input, meta, key.map(|k| (k, respond)));
    idempotency::run(&ctx.db, actor.id, key, ctx.now(), action).await
}

async fn record_payment_in(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &PaymentInput,
    meta: &RequestMeta,
    key: Option<(&IdempotencyKey, Respond<'_, PaymentDetail>)>,
) -> Result<PaymentDetail, InvoicingError> {
    if input.amount <= 0 {
        return Err(InvoicingError::invalid(
            "amount",
            "Ensure this value is greater than 0.",
        ));
    }
    check_method(&input.method)?;
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::WritePayments, Some(input.client_id)).await?;
    store::lock_client(
        &mut tx,
        input.client_id,
        ctx.db.backend == Backend::Postgres,
    )
    .await?;
    let client = store::client(&mut tx, input.client_id)
        .await?
        .ok_or_else(|| {
            InvoicingError::invalid("client_id", "Invalid pk - object does not exist.")
        })?;
    // A client pays in its invoices' currency: its own, or one it was invoiced in.
    if client.currency != input.currency.code() {
        let invoiced: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM invoices WHERE client_id = $1 AND currency = $2 AND sent_at IS NOT NULL",
        )
        .bind(client.id)
        .bind(input.currency.code())
        .fetch_one(&mut **tx)
        .await?;
        if invoiced == 0 {
            return Err(InvoicingError::invalid(
                "currency",
                format!("The client is invoiced in {}.", client.currency),
            ));
        }
    }
    let mut allocations: Vec<(String, i64)> = Vec::new();
    if input.allocations.is_empty() {
        // A reference naming one of the client's open invoices pays it, as far as it goes.
        let series = &ctx.config.invoicing.invoice_series;
        if let Some(number) = numbering::number_in_reference(&input.reference, series) {
            if let Some(row) = store::invoice_by_number(&mut tx, &number).await? {
                if let Ok(row) = open_invoice(
                    ctx,
                    &mut tx,
                    "reference",
                    &row.id,
                    input.client_id,
                    input.currency,
                )
                .await
                {
                    let amount = input.amount.min(row.amount_due());
                    if amount > 0 {
                        allocations.push((row.id, amount));
                    }
                }
            }
        }
    } else {
        for (i, (invoice_id, amount)) in input.allocations.iter().enumerate() {
            let field = format!("allocations[{i}].invoice_id");
            if allocations.iter().any(|(id, _)| id == invoice_id) {
                return Err(InvoicingError::invalid(
                    field,
                    "The invoice is listed twice.",
                ));
            }
            let row = open_invoice(
                ctx,
                &mut tx,
                &field,
                invoice_id,
                input.client_id,
                input.currency,
            )
            .await?;
            if *amount <= 0 || *amount > row.amount_due() {
                return Err(InvoicingError::invalid(
                    format!("allocations[{i}].amount"),
                    format!(
                        "Must be more than 0 and at most the invoice's amount due ({}).",
                        input.currency.format(row.amount_due().into())
                    ),
                ));
            }
            allocations.push((invoice_id.clone(), *amount));
        }
    }
    let allocated: i64 = allocations.iter().map(|(_, a)| a).sum();
    if allocated > input.amount {
        return Err(InvoicingError::invalid(
            "allocations",
            "The allocations add up to more than the payment.",
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let now = now_text(ctx);
    sqlx::query(
        "INSERT INTO invoice_payments (id, client_id, amount, currency, received_on, method, \
         reference, notes, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(&id)
    .bind(input.client_id)
    .bind(input.amount)
    .bind(input.currency.code())
    .bind(input.received_on.format("%Y-%m-%d").to_string())
    .bind(&input.method)
    .bind(input.reference.trim())
    .bind(input.notes.trim())
    .bind(actor.id)
    .bind(&now)
    .execute(&mut **tx)
    .await?;
    for (invoice_id, amount) in &allocations {
        insert_allocation(
            ctx,
            &mut tx,
            invoice_id,
            Source::Payment(&id),
            *amount,
            input.currency,
            Some(actor),
        )
        .await?;
        refresh(ctx, &mut tx, invoice_id).await?;
    }
    let journal = JournalTransaction::invoice_payment(
        input.client_id,
        input.currency,
        input.amount,
        allocated,
    )?;
    post(
        ctx,
        &mut tx,
        &journal,
        &format!("invoice_payment:{id}"),
        &format!("payment {}", input.reference.trim()),
    )
    .await?;
    audit(&mut tx, ctx, meta, Some(actor), "invoice_payment_recorded", format!("invoice_payment:{id}"), json!({ "amount": input.amount, "currency": input.currency.code(), "allocated": allocated })).await?;
    let payment = payment_row(&mut tx, &id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let detail = PaymentDetail {
        payment,
        unallocated: input.amount - allocated,
        allocations,
    };
    if let Some((key, respond)) = key {
        let (status, body) = respond(&detail);
        idempotency::save(&mut tx, actor.id, key, status, &body, ctx.now()).await?;
    }
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(detail)
}

/// What an online payment for `invoice_id` may be and where it goes: the invoice, sent,
/// not void, and what is still owed on it. Locked for the caller's transaction on PostgreSQL.
pub(crate) async fn payable_invoice(
    ctx: &Ctx,
    conn: &mut AnyConnection,
    invoice_id: &str,
) -> Result<Option<InvoiceRow>, InvoicingError> {
    let row =
        store::invoice_for_update(conn, invoice_id, ctx.db.backend == Backend::Postgres).await?;
    Ok(row.filter(|r| r.kind == "invoice" && !r.is_draft() && r.status != "void"))
}

/// A payment a gateway verified (an online payment intent): `(amount, allocated)`, the part
/// allocated onto the invoice (what the intents' rule gave it), the rest the client's credit,
/// with the money at the gateway (Dr its clearing account) until it pays out. In the caller's
/// transaction, so the intent and the payment are recorded together or not at all. Returns
/// the payment's id.
pub(crate) async fn record_gateway_payment(
    ctx: &Ctx,
    conn: &mut AnyConnection,
    invoice: &InvoiceRow,
    (amount, allocated): (i64, i64),
    reference: &str,
    payer: Option<i64>,
) -> Result<String, InvoicingError> {
    let currency = Currency::parse(&invoice.currency).ok_or(InvoicingError::NotFound)?;
    store::lock_client(conn, invoice.client_id, ctx.db.backend == Backend::Postgres).await?;
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO invoice_payments (id, client_id, amount, currency, received_on, method, \
         reference, notes, created_by, created_at) VALUES ($1, $2, $3, $4, $5, 'gateway', $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(invoice.client_id)
    .bind(amount)
    .bind(currency.code())
    .bind(invoices::today(ctx).format("%Y-%m-%d").to_string())
    .bind(reference)
    .bind("Paid online")
    .bind(payer)
    .bind(now_text(ctx))
    .execute(&mut *conn)
    .await?;
    if allocated > 0 {
        insert_allocation(
            ctx,
            conn,
            &invoice.id,
            Source::Payment(&id),
            allocated,
            currency,
            None,
        )
        .await?;
        refresh(ctx, conn, &invoice.id).await?;
    }
    let journal = JournalTransaction::invoice_gateway_payment(
        invoice.client_id,
        currency,
        amount,
        allocated,
    )?;
    post(
        ctx,
        conn,
        &journal,
        &format!("invoice_payment:{id}"),
        &format!("online payment {reference}"),
    )
    .await?;
    Ok(id)
}

async fn payment_row(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<PaymentRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, client_id, amount, currency, received_on, method, reference, notes, created_by, \
         created_at FROM invoice_payments WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn get_payment(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
) -> Result<PaymentDetail, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let payment = payment_row(&mut conn, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    if require(
        &mut conn,
        actor,
        Action::ReadPayments,
        Some(payment.client_id),
    )
    .await
    .is_err()
    {
        return Err(InvoicingError::NotFound);
    }
    let allocations: Vec<(String, i64)> = sqlx::query_as(
        "SELECT invoice_id, amount FROM invoice_allocations WHERE payment_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let allocated: i64 = allocations.iter().map(|(_, a)| a).sum();
    Ok(PaymentDetail {
        unallocated: payment.amount - allocated,
        payment,
        allocations,
    })
}

/// Payments, newest first; a client user sees only its own.
pub async fn list_payments(
    ctx: &Ctx,
    actor: &CurrentUser,
    client_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<PaymentRow>, i64), InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let own = super::service::own_client(&mut conn, actor).await?;
    let client_id = if actor.role == crate::auth::Role::Client {
        own
    } else {
        client_id
    };
    require(&mut conn, actor, Action::ReadPayments, client_id).await?;
    let mut c = crate::platform::db::Conditions::default();
    c.push_some("client_id = ?", client_id);
    let clause = c.where_clause();
    Ok(crate::platform::db::fetch_page(
        &mut conn,
        &c,
        sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM invoice_payments{clause}")),
        sqlx::AssertSqlSafe(format!(
            "SELECT id, client_id, amount, currency, received_on, method, reference, notes, \
             created_by, created_at FROM invoice_payments{clause} ORDER BY received_on DESC, id DESC"
        )),
        limit,
        offset,
    )
    .await?)
}

/// What the seller owes a client in `currency`, from the business records: payments not
/// allocated to an invoice, plus credit notes not applied to the invoice they credit, less the
/// credit used on invoices and the refunds. `ledger verify` checks the ledger against it.
pub async fn client_credit(
    conn: &mut AnyConnection,
    client_id: i64,
    currency: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST( \
           (SELECT COALESCE(SUM(amount), 0) FROM invoice_payments WHERE client_id = $1 AND currency = $2) \
         + (SELECT COALESCE(SUM(total), 0) FROM invoices WHERE client_id = $1 AND currency = $2 \
              AND kind = 'credit_note' AND sent_at IS NOT NULL) \
         - (SELECT COALESCE(SUM(a.amount), 0) FROM invoice_allocations a JOIN invoices i ON i.id = a.invoice_id \
              WHERE i.client_id = $1 AND a.currency = $2) \
         - (SELECT COALESCE(SUM(amount), 0) FROM invoice_refunds WHERE client_id = $1 AND currency = $2) \
         AS BIGINT)",
    )
    .bind(client_id)
    .bind(currency)
    .fetch_one(conn)
    .await
}

/// Uses the client's credit on one of its open invoices.
pub async fn apply_credit(
    ctx: &Ctx,
    actor: &CurrentUser,
    invoice_id: &str,
    amount: i64,
    meta: &RequestMeta,
) -> Result<InvoiceDetail, InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    let row = store::invoice(&mut tx, invoice_id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    require(&mut tx, actor, Action::WritePayments, Some(row.client_id)).await?;
    store::lock_client(&mut tx, row.client_id, ctx.db.backend == Backend::Postgres).await?;
    let currency = Currency::parse(&row.currency).ok_or(InvoicingError::NotFound)?;
    let row = open_invoice(
        ctx,
        &mut tx,
        "invoice_id",
        invoice_id,
        row.client_id,
        currency,
    )
    .await?;
    if amount <= 0 || amount > row.amount_due() {
        return Err(InvoicingError::invalid(
            "amount",
            "Must be more than 0 and at most the invoice's amount due.",
        ));
    }
    let credit = client_credit(&mut tx, row.client_id, &row.currency).await?;
    if amount > credit {
        return Err(InvoicingError::invalid(
            "amount",
            format!(
                "The client's credit is {} {}.",
                currency.format(credit.into()),
                currency.code()
            ),
        ));
    }
    let allocation = insert_allocation(
        ctx,
        &mut tx,
        invoice_id,
        Source::Credit,
        amount,
        currency,
        Some(actor),
    )
    .await?;
    refresh(ctx, &mut tx, invoice_id).await?;
    let journal = JournalTransaction::credit_allocation(row.client_id, currency, amount)?;
    post(
        ctx,
        &mut tx,
        &journal,
        &format!("credit_allocation:{allocation}"),
        "client credit used",
    )
    .await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "invoice_credit_applied",
        format!("invoice:{invoice_id}"),
        json!({ "amount": amount }),
    )
    .await?;
    let detail = detail(&mut tx, invoice_id).await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(detail)
}

#[derive(Debug, Clone)]
pub struct RefundInput {
    pub client_id: i64,
    pub currency: Currency,
    pub amount: i64,
    pub refunded_on: NaiveDate,
    pub method: String,
    pub reference: String,
}

/// A refund of a client's credit, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refund {
    pub id: String,
    pub client_id: i64,
    pub currency: Currency,
    pub amount: i64,
    pub refunded_on: NaiveDate,
    pub method: String,
    pub reference: String,
}

/// Pays back (part of) the client's credit.
pub async fn refund(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &RefundInput,
    meta: &RequestMeta,
) -> Result<Refund, InvoicingError> {
    refund_in(ctx, actor, input, meta, None).await
}

/// [`refund`] under an optional `Idempotency-Key`: a retry with the same key and body gets
/// the first answer and pays nothing back twice.
pub async fn refund_once(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &RefundInput,
    meta: &RequestMeta,
    key: Option<&IdempotencyKey>,
    respond: Respond<'_, Refund>,
) -> Result<Outcome<Refund>, InvoicingError> {
    let action = refund_in(ctx, actor, input, meta, key.map(|k| (k, respond)));
    idempotency::run(&ctx.db, actor.id, key, ctx.now(), action).await
}

async fn refund_in(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &RefundInput,
    meta: &RequestMeta,
    key: Option<(&IdempotencyKey, Respond<'_, Refund>)>,
) -> Result<Refund, InvoicingError> {
    check_method(&input.method)?;
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::WritePayments, Some(input.client_id)).await?;
    store::lock_client(
        &mut tx,
        input.client_id,
        ctx.db.backend == Backend::Postgres,
    )
    .await?;
    store::client(&mut tx, input.client_id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let credit = client_credit(&mut tx, input.client_id, input.currency.code()).await?;
    if input.amount <= 0 || input.amount > credit {
        return Err(InvoicingError::invalid(
            "amount",
            format!(
                "Must be more than 0 and at most the client's credit ({} {}).",
                input.currency.format(credit.into()),
                input.currency.code()
            ),
        ));
    }
    let id = uuid::Uuid::new_v4().to_string();
    sqlx::query(
        "INSERT INTO invoice_refunds (id, client_id, amount, currency, refunded_on, method, \
         reference, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&id)
    .bind(input.client_id)
    .bind(input.amount)
    .bind(input.currency.code())
    .bind(input.refunded_on.format("%Y-%m-%d").to_string())
    .bind(&input.method)
    .bind(input.reference.trim())
    .bind(actor.id)
    .bind(now_text(ctx))
    .execute(&mut **tx)
    .await?;
    let journal = JournalTransaction::credit_refund(input.client_id, input.currency, input.amount)?;
    post(
        ctx,
        &mut tx,
        &journal,
        &format!("credit_refund:{id}"),
        "client credit refunded",
    )
    .await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "invoice_credit_refunded",
        format!("client:{}", input.client_id),
        json!({ "amount": input.amount, "currency": input.currency.code() }),
    )
    .await?;
    let refund = Refund {
        id,
        client_id: input.client_id,
        currency: input.currency,
        amount: input.amount,
        refunded_on: input.refunded_on,
        method: input.method.clone(),
        reference: input.reference.trim().to_string(),
    };
    if let Some((key, respond)) = key {
        let (status, body) = respond(&refund);
        idempotency::save(&mut tx, actor.id, key, status, &body, ctx.now()).await?;
    }
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(refund)
}

/// What a credit note credits: the whole invoice, or the lines given.
#[derive(Debug, Clone)]
pub enum CreditScope {
    Whole,
    Lines(Vec<DraftLine>),
}

/// Issues a credit note on a sent invoice and sends it at once (its own series): it reverses
/// its revenue and tax, is applied to the invoice's amount due first, and the rest becomes the
/// client's credit. An invoice credited in full is void.
pub async fn issue_credit_note(
    ctx: &Ctx,
    actor: &CurrentUser,
    invoice_id: &str,
    scope: CreditScope,
    issue_date: NaiveDate,
    notes: &str,
    meta: &RequestMeta,
) -> Result<InvoiceDetail, InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    let original =
        store::invoice_for_update(&mut tx, invoice_id, ctx.db.backend == Backend::Postgres)
            .await?
            .ok_or(InvoicingError::NotFound)?;
    require(
        &mut tx,
        actor,
        Action::IssueCreditNotes,
        Some(original.client_id),
    )
    .await?;
    if original.kind != "invoice" || original.is_draft() {
        return Err(InvoicingError::invalid(
            "invoice_id",
            "Only a sent invoice is credited (a draft is edited or deleted).",
        ));
    }
    let currency = Currency::parse(&original.currency).ok_or(InvoicingError::NotFound)?;
    let (lines, discount) = match scope {
        CreditScope::Whole => {
            let lines = store::lines(&mut tx, invoice_id).await?;
            let model = invoices::to_model(&original, &lines)?;
            let lines = model
                .lines
                .into_iter()
                .zip(&lines)
                .map(|(l, row)| DraftLine {
                    product_id: row.product_id,
                    description: l.description,
                    unit: l.unit,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    discount: l.discount,
                    tax: l.tax,
                })
                .collect();
            (lines, model.discount)
        }
        CreditScope::Lines(lines) => (lines, None),
    };
    let input = DraftInput {
        client_id: original.client_id,
        currency: Some(currency),
        issue_date,
        due_date: Some(issue_date),
        lines,
        discount,
        prices_include_tax: original.prices_include_tax,
        notes: notes.to_string(),
        terms: String::new(),
    };
    let id = uuid::Uuid::new_v4().to_string();
    let new = NewInvoice {
        id: &id,
        kind: "credit_note",
        credits_invoice_id: Some(invoice_id),
        recurring_id: None,
        recurring_period: None,
        created_by: Some(actor.id),
    };
    let totals = invoices::save_credit_note(ctx, &mut tx, &input, new).await?;
    let already = store::credit_notes_total(&mut tx, invoice_id).await?;
    if totals.total + already > original.total {
        return Err(InvoicingError::invalid(
            "lines",
            format!(
                "The credit notes would credit more than the invoice's total ({}).",
                currency.format(original.total.into())
            ),
        ));
    }
    let row = store::invoice(&mut tx, &id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    invoices::send_in(ctx, &mut tx, Some(actor), &row).await?;
    let applied = totals.total.min(original.amount_due().max(0));
    if applied > 0 {
        insert_allocation(
            ctx,
            &mut tx,
            invoice_id,
            Source::CreditNote(&id),
            applied,
            currency,
            Some(actor),
        )
        .await?;
    }
    refresh(ctx, &mut tx, invoice_id).await?;
    let sent = store::invoice(&mut tx, &id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let journal = JournalTransaction::credit_note(
        original.client_id,
        currency,
        totals.taxable,
        totals.tax,
        applied,
    )?;
    let number = sent.number.clone().unwrap_or_default();
    post(
        ctx,
        &mut tx,
        &journal,
        &format!("credit_note:{id}"),
        &format!("credit note {number}"),
    )
    .await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "credit_note_issued",
        format!("invoice:{invoice_id}"),
        json!({ "credit_note": id, "number": number, "total": totals.total, "applied": applied }),
    )
    .await?;
    let detail = detail(&mut tx, &id).await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(detail)
}

/// One currency of a client's statement over a period.
#[derive(Debug, Clone, Default, serde::Serialize, utoipa::ToSchema)]
pub struct StatementCurrency {
    pub currency: String,
    /// What the client owed (positive) or was owed (negative) when the period began.
    pub opening_balance: i64,
    pub invoiced: i64,
    pub paid: i64,
    pub credited: i64,
    pub refunded: i64,
    pub closing_balance: i64,
    /// Σ the amounts due of its open invoices, and its credit, now.
    pub open_invoices_due: i64,
    pub credit: i64,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct StatementLine {
    pub date: String,
    /// `invoice`, `credit_note`, `payment` or `refund`.
    pub kind: String,
    pub reference: String,
    pub currency: String,
    /// What the line adds to the client's balance (an invoice adds, a payment subtracts).
    pub amount: i64,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Statement {
    pub client_id: i64,
    pub from: String,
    pub to: String,
    pub lines: Vec<StatementLine>,
    pub currencies: Vec<StatementCurrency>,
}

/// A client's statement from `from` to `to` (inclusive): its sent invoices, credit notes,
/// payments and refunds, and the balance per currency.
pub async fn statement(
    ctx: &Ctx,
    actor: &CurrentUser,
    client_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Statement, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadStatement, Some(client_id)).await?;
    store::client(&mut conn, client_id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    // Every movement, dated, signed by what it does to the client's balance.
    let all: Vec<(String, String, String, String, i64)> = sqlx::query_as(
        "SELECT issue_date, kind, COALESCE(number, ''), currency, \
           CASE WHEN kind = 'invoice' THEN total ELSE -total END FROM invoices \
           WHERE client_id = $1 AND sent_at IS NOT NULL \
         UNION ALL SELECT received_on, 'payment', reference, currency, -amount FROM invoice_payments WHERE client_id = $1 \
         UNION ALL SELECT refunded_on, 'refund', reference, currency, amount FROM invoice_refunds WHERE client_id = $1",
    )
    .bind(client_id)
    .fetch_all(&mut *conn)
    .await?;
    let (from_text, to_text) = (
        from.format("%Y-%m-%d").to_string(),
        to.format("%Y-%m-%d").to_string(),
    );
    let mut per: BTreeMap<String, StatementCurrency> = BTreeMap::new();
    let mut lines = Vec::new();
    for (date, kind, reference, currency, amount) in all {
        let c = per
            .entry(currency.clone())
            .or_insert_with(|| StatementCurrency {
                currency: currency.clone(),
                ..Default::default()
            });
        if date < from_text {
            c.opening_balance += amount;
        } else if date <= to_text {
            match kind.as_str() {
                "invoice" => c.invoiced += amount,
                "credit_note" => c.credited -= amount,
                "payment" => c.paid -= amount,
                _ => c.refunded += amount,
            }
            lines.push(StatementLine {
                date,
                kind,
                reference,
                currency,
                amount,
            });
        }
    }
    for c in per.values_mut() {
        c.closing_balance = c.opening_balance + c.invoiced - c.paid - c.credited + c.refunded;
        c.open_invoices_due = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(total - amount_paid - amount_credited), 0) AS BIGINT) FROM invoices \
             WHERE client_id = $1 AND currency = $2 AND kind = 'invoice' AND sent_at IS NOT NULL",
        )
        .bind(client_id)
        .bind(&c.currency)
        .fetch_one(&mut *conn)
        .await?;
        c.credit = client_credit(&mut conn, client_id, &c.currency).await?;
    }
    lines.sort_by(|a, b| a.date.cmp(&b.date));
    Ok(Statement {
        client_id,
        from: from_text,
        to: to_text,
        lines,
        currencies: per.into_values().collect(),
    })
}
