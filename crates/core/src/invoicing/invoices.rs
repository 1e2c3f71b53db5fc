//! Invoices: drafts (created, replaced whole, deleted), sending (number, snapshots, taxes and
//! the ledger in one transaction), reading, the keyset-paged list and the daily overdue pass.
//! Money is only ever computed by `Invoice::totals`.

use crate::platform::response_cache::Area;
use chrono::{Duration, NaiveDate};
use serde_json::json;
use sqlx::AnyConnection;

use super::access::{allowed, client_may_see_invoice, Action};
use super::error::InvoicingError;
use super::model::{
    Address, Discount, Invoice, InvoiceKind, Line, Party, Quantity, TaxCategory, Unit,
};
use super::numbering;
use super::service::{audit, now_text, own_client, require};
use super::state::{self, Facts, Status};
use super::store::{
    self, ClientRow, DraftValues, InvoiceRow, LineRow, LineValues, ListFilter, NewInvoice,
    SentValues, StatusTotal, TaxRow,
};
use super::totals::Totals;
use crate::auth::CurrentUser;
use crate::ctx::Ctx;
use crate::ledger::domain::JournalTransaction;
use crate::ledger::store::{self as ledger, TxRecord};
use crate::platform::audit::RequestMeta;
use crate::platform::currency::Currency;
use crate::platform::db::{Backend, WriteTx};
use crate::platform::idempotency::Respond;
use crate::webhooks::{self, Event};

/// One line of a draft as a request gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftLine {
    pub product_id: Option<i64>,
    pub description: String,
    pub unit: Unit,
    pub quantity: Quantity,
    /// Minor units of the invoice's currency.
    pub unit_price: i64,
    pub discount: Option<Discount>,
    pub tax: TaxCategory,
}

/// A draft invoice as a request gives it; lines replace the draft's lines as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DraftInput {
    pub client_id: i64,
    /// Default: the client's currency.
    pub currency: Option<Currency>,
    pub issue_date: NaiveDate,
    /// Default: the issue date plus the client's payment terms.
    pub due_date: Option<NaiveDate>,
    pub lines: Vec<DraftLine>,
    pub discount: Option<Discount>,
    pub prices_include_tax: bool,
    pub notes: String,
    pub terms: String,
}

/// An invoice with everything the API and the pages show of it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InvoiceDetail {
    #[serde(flatten)]
    pub invoice: InvoiceRow,
    pub amount_due: i64,
    pub lines: Vec<LineRow>,
    pub taxes: Vec<TaxRow>,
    pub allocations: Vec<AllocationView>,
    pub credit_notes: Vec<String>,
    pub reminders: Vec<ReminderView>,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AllocationView {
    pub id: i64,
    pub source: String,
    pub payment_id: Option<String>,
    pub credit_note_id: Option<String>,
    pub amount: i64,
    pub created_at: String,
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ReminderView {
    pub step: String,
    /// When the step was logged.
    pub sent_at: String,
    /// `queued`, `sent`, `cancelled` (paid before it went), `skipped` (no address, no e-mail
    /// server) or `failed`.
    pub status: String,
    pub recipient: String,
    pub delivered_at: Option<String>,
}

pub(crate) fn parse_date(field: &str, text: &str) -> Result<NaiveDate, InvoicingError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| InvoicingError::invalid(field, "Date has wrong format. Use YYYY-MM-DD."))
}

fn date_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub(crate) fn today(ctx: &Ctx) -> NaiveDate {
    ctx.now()
        .with_timezone(&ctx.config.fund_timezone)
        .date_naive()
}

pub(crate) fn buyer_of(client: &ClientRow) -> Party {
    Party {
        name: client.name.clone(),
        address: Address {
            street: client.street.clone(),
            city: client.city.clone(),
            postal_code: client.postal_code.clone(),
            country_code: client.country_code.clone(),
        },
        tax_id: client.tax_id.clone(),
        email: client.email.clone(),
        phone: None,
    }
}

/// The rules' view of a stored invoice and its lines (for totals, the PDF, the e-invoices).
pub fn to_model(row: &InvoiceRow, lines: &[LineRow]) -> Result<Invoice, InvoicingError> {
    let corrupt = |what: &str| InvoicingError::invalid(what, "stored value is not valid");
    let party = |json: &Option<String>| -> Party {
        json.as_deref()
            .and_then(|j| serde_json::from_str(j).ok())
            .unwrap_or_default()
    };
    let lines = lines
        .iter()
        .map(|l| {
            Ok(Line {
                description: l.description.clone(),
                unit: Unit::parse(&l.unit).ok_or_else(|| corrupt("unit"))?,
                quantity: Quantity(l.quantity),
                unit_price: l.unit_price,
                discount: store::discount_of(l.discount_kind.as_deref(), l.discount_value),
                tax: store::tax_category(&l.tax_code, l.tax_rate)
                    .ok_or_else(|| corrupt("tax_code"))?,
            })
        })
        .collect::<Result<Vec<_>, InvoicingError>>()?;
    Ok(Invoice {
        kind: if row.kind == "credit_note" {
            InvoiceKind::CreditNote
        } else {
            InvoiceKind::Invoice
        },
        number: row.number.clone(),
        currency: Currency::parse(&row.currency).ok_or_else(|| corrupt("currency"))?,
        issue_date: parse_date("issue_date", &row.issue_date)?,
        due_date: parse_date("due_date", &row.due_date)?,
        seller: party(&row.seller),
        buyer: party(&row.buyer),
        lines,
        discount: store::discount_of(row.discount_kind.as_deref(), row.discount_value),
        prices_include_tax: row.prices_include_tax,
        notes: row.notes.clone(),
        terms: row.terms.clone(),
        credited: None,
        payee_iban: row.payee_iban.clone(),
    })
}

/// Checks a draft, computes its totals and writes it with its lines (`existing`: replacing
/// that draft). The totals come from `Invoice::totals` and nowhere else.
enum Target<'a> {
    New(NewInvoice<'a>),
    Existing(&'a str),
}

async fn save_draft(
    ctx: &Ctx,
    tx: &mut WriteTx,
    input: &DraftInput,
    kind: InvoiceKind,
    target: Target<'_>,
) -> Result<Totals, InvoicingError> {
    let client = store::client(tx, input.client_id).await?.ok_or_else(|| {
        InvoicingError::invalid("client_id", "Invalid pk - object does not exist.")
    })?;
    if client.archived && matches!(target, Target::New(_)) {
        return Err(InvoicingError::invalid(
            "client_id",
            "The client is archived.",
        ));
    }
    let currency = match input.currency {
        Some(c) => c,
        None => Currency::parse(&client.currency).ok_or_else(|| {
            InvoicingError::invalid("currency", "The client's currency is unknown.")
        })?,
    };
    let due_date = input
        .due_date
        .unwrap_or(input.issue_date + Duration::days(client.payment_terms_days));
    if due_date < input.issue_date {
        return Err(InvoicingError::invalid(
            "due_date",
            "The due date cannot be before the issue date.",
        ));
    }
    for (i, line) in input.lines.iter().enumerate() {
        if line.description.trim().is_empty() {
            return Err(InvoicingError::invalid(
                format!("lines[{i}].description"),
                "This field may not be blank.",
            ));
        }
        if let Some(product_id) = line.product_id {
            if store::product(tx, product_id).await?.is_none() {
                return Err(InvoicingError::invalid(
                    format!("lines[{i}].product_id"),
                    "Invalid pk - object does not exist.",
                ));
            }
        }
    }
    let model = Invoice {
        kind,
        number: None,
        currency,
        issue_date: input.issue_date,
        due_date,
        seller: Party::default(),
        buyer: buyer_of(&client),
        lines: input
            .lines
            .iter()
            .map(|l| Line {
                description: l.description.trim().to_string(),
                unit: l.unit,
                quantity: l.quantity,
                unit_price: l.unit_price,
                discount: l.discount,
                tax: l.tax,
            })
            .collect(),
        discount: input.discount,
        prices_include_tax: input.prices_include_tax,
        notes: input.notes.clone(),
        terms: input.terms.clone(),
        credited: None,
        payee_iban: None,
    };
    let totals = model.totals()?;
    let (issue, due) = (date_text(input.issue_date), date_text(due_date));
    let values = DraftValues {
        client_id: client.id,
        currency: currency.code(),
        issue_date: &issue,
        due_date: &due,
        language: &client.language,
        prices_include_tax: input.prices_include_tax,
        discount: input.discount,
        notes: input.notes.trim(),
        terms: input.terms.trim(),
        lines_net: totals.lines_net,
        discount_total: totals.discount,
        tax: totals.tax,
        total: totals.total,
    };
    let now = now_text(ctx);
    let id = match &target {
        Target::New(new) => {
            store::insert_invoice(tx, new, &values, &now).await?;
            new.id
        }
        Target::Existing(id) => {
            if !store::update_draft(tx, id, &values, &now).await? {
                return Err(InvoicingError::NotADraft);
            }
            id
        }
    };
    let line_values: Vec<LineValues<'_>> = model
        .lines
        .iter()
        .zip(&input.lines)
        .zip(&totals.lines)
        .map(|((l, input), t)| LineValues {
            product_id: input.product_id,
            description: &l.description,
            unit: l.unit,
            quantity: l.quantity,
            unit_price: l.unit_price,
            discount: l.discount,
            tax: l.tax,
            net: t.net,
        })
        .collect();
    store::replace_lines(tx, id, &line_values).await?;
    Ok(totals)
}

pub async fn create_draft(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &DraftInput,
    meta: &RequestMeta,
) -> Result<InvoiceDetail, InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    require(&mut tx, actor, Action::WriteInvoices, Some(input.client_id)).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let totals = create_draft_in(ctx, &mut tx, Some(actor), input, &id, None).await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "invoice_created",
        format!("invoice:{id}"),
        json!({ "client_id": input.client_id, "total": totals.total }),
    )
    .await?;
    let detail = detail(&mut tx, &id).await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(detail)
}

/// A draft made inside the caller's transaction (by recurring templates too).
pub(crate) async fn create_draft_in(
    ctx: &Ctx,
    tx: &mut WriteTx,
    actor: Option<&CurrentUser>,
    input: &DraftInput,
    id: &str,
    recurring: Option<(i64, &str)>,
) -> Result<Totals, InvoicingError> {
    let new = NewInvoice {
        id,
        kind: "invoice",
        credits_invoice_id: None,
        recurring_id: recurring.map(|r| r.0),
        recurring_period: recurring.map(|r| r.1),
        created_by: actor.map(|a| a.id),
    };
    save_draft(ctx, tx, input, InvoiceKind::Invoice, Target::New(new)).await
}

/// A credit note's draft, in the caller's transaction (sent at once by its service).
pub(crate) async fn save_credit_note(
    ctx: &Ctx,
    tx: &mut WriteTx,
    input: &DraftInput,
    new: NewInvoice<'_>,
) -> Result<Totals, InvoicingError> {
    save_draft(ctx, tx, input, InvoiceKind::CreditNote, Target::New(new)).await
}

pub async fn update_draft(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
    input: &DraftInput,
    meta: &RequestMeta,
) -> Result<InvoiceDetail, InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    let postgres = ctx.db.backend == Backend::Postgres;
    let row = store::invoice_for_update(&mut tx, id, postgres)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    require(&mut tx, actor, Action::WriteInvoices, Some(row.client_id)).await?;
    require(&mut tx, actor, Action::WriteInvoices, Some(input.client_id)).await?;
    if !row.is_draft() {
        return Err(InvoicingError::NotADraft);
    }
    let kind = if row.kind == "credit_note" {
        InvoiceKind::CreditNote
    } else {
        InvoiceKind::Invoice
    };
    let totals = save_draft(ctx, &mut tx, input, kind, Target::Existing(id)).await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "invoice_updated",
        format!("invoice:{id}"),
        json!({ "total": totals.total }),
    )
    .await?;
    let detail = detail(&mut tx, id).await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(detail)
}

pub async fn delete_draft(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
    meta: &RequestMeta,
) -> Result<(), InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    let postgres = ctx.db.backend == Backend::Postgres;
    let row = store::invoice_for_update(&mut tx, id, postgres)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    require(&mut tx, actor, Action::WriteInvoices, Some(row.client_id)).await?;
    if !row.is_draft() {
        return Err(InvoicingError::NotADraft);
    }
    store::delete_draft(&mut tx, id).await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "invoice_deleted",
        format!("invoice:{id}"),
        json!({}),
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(())
}

/// Sends an invoice: assigns its number, snapshots the seller and the buyer, stores its taxes
/// and posts it to the ledger, all in one transaction. Sending a sent invoice returns it.
pub async fn send(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
    meta: &RequestMeta,
) -> Result<InvoiceDetail, InvoicingError> {
    send_keyed(ctx, actor, id, meta, None).await
}

/// [`send`] under an optional `Idempotency-Key`: a retry with the same key gets the first
/// answer (`respond` renders it), stored in the send's own transaction.
pub async fn send_once(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
    meta: &RequestMeta,
    key: Option<&crate::platform::idempotency::IdempotencyKey>,
    respond: Respond<'_, InvoiceDetail>,
) -> Result<crate::platform::idempotency::Outcome<InvoiceDetail>, InvoicingError> {
    let action = send_keyed(ctx, actor, id, meta, key.map(|k| (k, respond)));
    crate::platform::idempotency::run(&ctx.db, actor.id, key, ctx.now(), action).await
}

async fn send_keyed(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
    meta: &RequestMeta,
    key: Option<(
        &crate::platform::idempotency::IdempotencyKey,
        Respond<'_, InvoiceDetail>,
    )>,
) -> Result<InvoiceDetail, InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    let row = store::invoice_for_update(&mut tx, id, ctx.db.backend == Backend::Postgres)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    require(&mut tx, actor, Action::SendInvoices, Some(row.client_id)).await?;
    if row.is_draft() {
        send_in(ctx, &mut tx, Some(actor), &row).await?;
        audit(
            &mut tx,
            ctx,
            meta,
            Some(actor),
            "invoice_sent",
            format!("invoice:{id}"),
            json!({ "total": row.total }),
        )
        .await?;
    }
    let detail = detail(&mut tx, id).await?;
    if let Some((key, respond)) = key {
        let (status, body) = respond(&detail);
        crate::platform::idempotency::save(&mut tx, actor.id, key, status, &body, ctx.now())
            .await?;
    }
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(detail)
}

/// The send itself, on the caller's transaction (credit notes and recurring invoices use it).
/// Returns the totals it posted.
pub(crate) async fn send_in(
    ctx: &Ctx,
    tx: &mut WriteTx,
    _actor: Option<&CurrentUser>,
    row: &InvoiceRow,
) -> Result<Totals, InvoicingError> {
    let lines = store::lines(tx, &row.id).await?;
    if lines.is_empty() {
        return Err(InvoicingError::invalid(
            "lines",
            "An invoice needs at least one line to be sent.",
        ));
    }
    let client = store::client(tx, row.client_id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let cfg = &ctx.config.invoicing;
    let mut model = to_model(row, &lines)?;
    model.seller = cfg.seller.clone();
    model.buyer = buyer_of(&client);
    model.payee_iban = cfg.seller_iban.clone();
    let totals = model.totals()?;
    if totals.total <= 0 {
        return Err(InvoicingError::invalid(
            "lines",
            "An invoice's total must be more than zero to be sent.",
        ));
    }
    // The stored totals were computed at the last save from these same lines; what is sent
    // and posted must be exactly what was stored.
    if totals.total != row.total || totals.tax != row.tax {
        return Err(InvoicingError::invalid(
            "lines",
            "The draft's totals are stale: save it again.",
        ));
    }
    let credit_note = row.kind == "credit_note";
    let series = if credit_note {
        &cfg.credit_note_series
    } else {
        &cfg.invoice_series
    };
    let year = numbering::numbering_year(&cfg.number_pattern, model.issue_date);
    let seq = store::next_number(tx, series, i64::from(year)).await?;
    let number = numbering::format_number(&cfg.number_pattern, series, model.issue_date, seq)?;
    // Taxes first: once `sent_at` is set the database refuses any change to them.
    store::insert_taxes(tx, &row.id, &totals.categories).await?;
    let facts = Facts {
        sent: true,
        total: totals.total,
        paid: 0,
        credited: 0,
        credit_notes: 0,
        due_date: model.due_date,
        today: today(ctx),
    };
    let status = if credit_note {
        Status::Sent
    } else {
        state::status(facts)
    };
    let seller = serde_json::to_string(&model.seller).expect("a party serialises");
    let buyer = serde_json::to_string(&model.buyer).expect("a party serialises");
    let now = now_text(ctx);
    let values = SentValues {
        number: &number,
        series,
        year: i64::from(year),
        seq,
        seller: &seller,
        buyer: &buyer,
        payee_iban: model.payee_iban.as_deref(),
        status: status.as_str(),
        sent_at: &now,
    };
    if !store::mark_sent(tx, &row.id, &values).await? {
        return Err(InvoicingError::NotADraft);
    }
    // A credit note's posting is its service's: it splits what is applied and what is credit.
    if !credit_note {
        let journal = JournalTransaction::invoice_sent(
            row.client_id,
            model.currency,
            totals.taxable,
            totals.tax,
        )?;
        post(
            ctx,
            tx,
            &journal,
            &format!("invoice_sent:{}", row.id),
            &format!("invoice {number}"),
        )
        .await?;
        let data = json!({ "invoice_id": row.id, "number": number, "client_id": row.client_id,
            "currency": row.currency, "total": totals.total, "due_date": row.due_date });
        webhooks::emit(tx, ctx, Event::InvoiceSent, data).await?;
    }
    Ok(totals)
}

/// Posts an invoicing transaction under its own id (so each is posted once), opening its
/// accounts first.
pub(crate) async fn post(
    ctx: &Ctx,
    conn: &mut AnyConnection,
    journal: &JournalTransaction,
    id: &str,
    memo: &str,
) -> Result<(), InvoicingError> {
    let now = ctx.now();
    ledger::open_accounts(conn, journal, now).await?;
    let record = TxRecord {
        id,
        payment_id: None,
        loan_id: None,
        reverses_id: None,
        memo,
        month: ctx.current_month(),
    };
    ledger::post(conn, journal, &record, now).await?;
    Ok(())
}

/// Recomputes a sent invoice's paid and credited amounts and its status from its allocations.
pub(crate) async fn refresh(
    ctx: &Ctx,
    conn: &mut AnyConnection,
    id: &str,
) -> Result<InvoiceRow, InvoicingError> {
    let row = store::invoice(conn, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let (paid, credited): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(CASE WHEN source <> 'credit_note' THEN amount ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN source = 'credit_note' THEN amount ELSE 0 END), 0) AS BIGINT) \
         FROM invoice_allocations WHERE invoice_id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let credit_notes = store::credit_notes_total(conn, id).await?;
    let status = state::status(Facts {
        sent: !row.is_draft(),
        total: row.total,
        paid,
        credited,
        credit_notes,
        due_date: parse_date("due_date", &row.due_date)?,
        today: today(ctx),
    });
    store::set_amounts(conn, id, paid, credited, status.as_str(), &now_text(ctx)).await?;
    if status == Status::Paid && row.status != Status::Paid.as_str() {
        let data = json!({ "invoice_id": row.id, "number": row.number, "client_id": row.client_id,
            "currency": row.currency, "total": row.total, "amount_paid": paid });
        webhooks::emit(conn, ctx, Event::InvoicePaid, data).await?;
    }
    store::invoice(conn, id)
        .await?
        .ok_or(InvoicingError::NotFound)
}

pub(crate) async fn detail(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<InvoiceDetail, InvoicingError> {
    let invoice = store::invoice(conn, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let lines = store::lines(conn, id).await?;
    let taxes = store::taxes(conn, id).await?;
    let allocations = sqlx::query_as(
        "SELECT id, source, payment_id, credit_note_id, amount, created_at FROM invoice_allocations \
         WHERE invoice_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let credit_notes = sqlx::query_scalar(
        "SELECT id FROM invoices WHERE credits_invoice_id = $1 ORDER BY created_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let reminders = sqlx::query_as(
        "SELECT step, sent_at, status, recipient, delivered_at FROM invoice_reminders \
         WHERE invoice_id = $1 ORDER BY sent_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(InvoiceDetail {
        amount_due: invoice.amount_due(),
        invoice,
        lines,
        taxes,
        allocations,
        credit_notes,
        reminders,
    })
}

/// An invoice as the actor may see it: staff any, a client user only its own sent ones
/// (another's, or a draft, is "not found", so ids do not leak).
pub async fn get(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
) -> Result<InvoiceDetail, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let own = own_client(&mut conn, actor).await?;
    let detail = detail(&mut conn, id).await?;
    let client_id = detail.invoice.client_id;
    if !allowed(actor.role, own, Action::ReadInvoices, Some(client_id)) {
        return Err(if own.is_some() {
            InvoicingError::NotFound
        } else {
            InvoicingError::Forbidden
        });
    }
    if actor.role == crate::auth::Role::Client
        && !client_may_see_invoice(own, client_id, detail.invoice.is_draft())
    {
        return Err(InvoicingError::NotFound);
    }
    Ok(detail)
}

/// A page of the list and the pages beside it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InvoicePage {
    pub results: Vec<InvoiceRow>,
    /// Where the next (older) page starts (`issue_date|id`), when there is one.
    pub next_cursor: Option<String>,
    /// Where the previous (newer) page ends, when this is not the first page.
    pub previous_cursor: Option<String>,
    /// Counts and sums per status and currency of everything the filter matches.
    pub totals: Vec<StatusTotal>,
}

/// Where a page of the list is read from: a cursor is a row's `issue_date|id` as a page gave
/// it; `After` it are the older rows, `Before` it the newer ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageAt<'a> {
    First,
    After(&'a str),
    Before(&'a str),
}

impl<'a> PageAt<'a> {
    /// The next page's place for a `?cursor=` that may be absent.
    pub fn after(cursor: Option<&'a str>) -> PageAt<'a> {
        cursor.map_or(PageAt::First, PageAt::After)
    }

    fn keyset(self) -> Result<Option<store::Keyset<'a>>, InvoicingError> {
        let (cursor, newer) = match self {
            PageAt::First => return Ok(None),
            PageAt::After(c) => (c, false),
            PageAt::Before(c) => (c, true),
        };
        let (issue_date, id) = cursor
            .split_once('|')
            .filter(|(d, _)| parse_date("cursor", d).is_ok())
            .ok_or_else(|| InvoicingError::invalid("cursor", "Invalid cursor"))?;
        Ok(Some(store::Keyset {
            issue_date,
            id,
            newer,
        }))
    }
}

fn cursor_of(row: &InvoiceRow) -> String {
    format!("{}|{}", row.issue_date, row.id)
}

/// Invoices matching `filter`, newest first, `limit` at a time from `at`. A client user sees
/// only its own client's sent invoices, whatever the filter says.
pub async fn list(
    ctx: &Ctx,
    actor: &CurrentUser,
    mut filter: ListFilter,
    at: PageAt<'_>,
    limit: i64,
    with_totals: bool,
) -> Result<InvoicePage, InvoicingError> {
    let limit = limit.clamp(1, 500);
    let mut conn = ctx.db.pool.acquire().await?;
    let own = own_client(&mut conn, actor).await?;
    if actor.role == crate::auth::Role::Client {
        if !allowed(actor.role, own, Action::ReadInvoices, own) {
            return Err(InvoicingError::Forbidden);
        }
        filter.client_id = own;
        filter.exclude_drafts = true;
    } else if !allowed(actor.role, own, Action::ReadInvoices, filter.client_id) {
        return Err(InvoicingError::Forbidden);
    }
    if let Some(status) = &filter.status {
        if Status::parse(status).is_none() {
            return Err(InvoicingError::invalid(
                "status",
                format!("\"{status}\" is not a valid choice."),
            ));
        }
    }
    let mut at = at;
    let mut results = store::list(&mut conn, &filter, at.keyset()?, limit + 1).await?;
    let mut more = results.len() as i64 > limit;
    if matches!(at, PageAt::Before(_)) && !more {
        // Back at the start: the first page, full, rather than what is left before the cursor.
        at = PageAt::First;
        results = store::list(&mut conn, &filter, None, limit + 1).await?;
        more = results.len() as i64 > limit;
    }
    let (next_cursor, previous_cursor) = match at {
        PageAt::Before(_) => {
            // Read backwards: the extra row is the newest; older rows follow (the cursor's own).
            results.remove(0);
            let next = results.last().map(cursor_of);
            (next, results.first().map(cursor_of))
        }
        PageAt::First | PageAt::After(_) => {
            results.truncate(limit as usize);
            let next = more.then(|| results.last().map(cursor_of)).flatten();
            let previous = match at {
                PageAt::After(cursor) => results.first().map(cursor_of).or(Some(cursor.into())),
                _ => None,
            };
            (next, previous)
        }
    };
    let totals = if with_totals {
        store::totals_by_status(&mut conn, &filter).await?
    } else {
        vec![]
    };
    Ok(InvoicePage {
        results,
        next_cursor,
        previous_cursor,
        totals,
    })
}

/// The daily pass: open invoices past their due date become overdue (one set-based UPDATE).
/// Returns the ids that became overdue.
pub async fn refresh_overdue(ctx: &Ctx, today: NaiveDate) -> Result<Vec<String>, InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    let ids = store::mark_overdue(&mut tx, &date_text(today), &now_text(ctx)).await?;
    if !ids.is_empty() {
        audit(
            &mut tx,
            ctx,
            &RequestMeta::default(),
            None,
            "invoices_overdue",
            format!("date:{}", date_text(today)),
            json!({ "count": ids.len() }),
        )
        .await?;
    }
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(ids)
}

/// A sent invoice or credit note as the rules see it, for its PDF and e-invoices: the
/// snapshots taken at send, and for a credit note the invoice it credits (BG-3). Drafts have
/// no files (their numbers and snapshots do not exist yet).
pub async fn sent_model(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: &str,
) -> Result<Invoice, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    let own = own_client(&mut conn, actor).await?;
    let row = store::invoice(&mut conn, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    if !allowed(
        actor.role,
        own,
        Action::DownloadInvoices,
        Some(row.client_id),
    ) {
        return Err(if actor.role == crate::auth::Role::Client {
            InvoicingError::NotFound
        } else {
            InvoicingError::Forbidden
        });
    }
    if row.is_draft() {
        return Err(InvoicingError::NotFound);
    }
    let lines = store::lines(&mut conn, id).await?;
    let mut model = to_model(&row, &lines)?;
    if let Some(credited) = &row.credits_invoice_id {
        let original = store::invoice(&mut conn, credited)
            .await?
            .ok_or(InvoicingError::NotFound)?;
        model.credited = Some(super::model::CreditedInvoice {
            number: original.number.unwrap_or_default(),
            issue_date: parse_date("issue_date", &original.issue_date)?,
        });
    }
    Ok(model)
}
