//! Recurring invoices: a template per client makes a draft (or sends it, with `auto_send`) on
//! a day of each Jalali or Gregorian month. A template makes at most one invoice per period
//! (a unique index on (recurring_id, recurring_period)), so a run repeated is harmless.

use crate::platform::response_cache::Area;
use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::access::Action;
use super::calendar::Calendar;
use super::error::InvoicingError;
use super::invoices::{self, parse_date, DraftInput, DraftLine};
use super::model::{
    Discount, Invoice, InvoiceKind, Line, Percent, Quantity, TaxCategory, TaxCode, Unit,
};
use super::service::{audit, now_text, require};
use super::store::{self, ClientRow, InvoiceRow};
use super::totals::Totals;
use crate::auth::CurrentUser;
use crate::ctx::Ctx;
use crate::platform::audit::RequestMeta;
use crate::platform::currency::Currency;
use crate::platform::db::{is_unique_violation, Conditions};
use sqlx::AssertSqlSafe;

/// What each period's invoice holds, stored as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Template {
    pub lines: Vec<TemplateLine>,
    /// `percent` (hundredths of %) or `amount` (minor units).
    pub discount_kind: Option<String>,
    pub discount_value: Option<i64>,
    pub prices_include_tax: bool,
    pub notes: String,
    pub terms: String,
    /// Days from issue to due; default the client's payment terms.
    pub due_in_days: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateLine {
    pub product_id: Option<i64>,
    pub description: String,
    pub unit: String,
    pub quantity: i64,
    pub unit_price: i64,
    pub discount_kind: Option<String>,
    pub discount_value: Option<i64>,
    pub tax_code: String,
    pub tax_rate: i64,
}

impl TemplateLine {
    pub fn from_line(line: &DraftLine) -> TemplateLine {
        let (discount_kind, discount_value) = store::discount_columns(line.discount);
        TemplateLine {
            product_id: line.product_id,
            description: line.description.clone(),
            unit: line.unit.code().into(),
            quantity: line.quantity.0,
            unit_price: line.unit_price,
            discount_kind: discount_kind.map(Into::into),
            discount_value,
            tax_code: line.tax.code.code().into(),
            tax_rate: line.tax.rate.0,
        }
    }

    fn to_line(&self, i: usize) -> Result<DraftLine, InvoicingError> {
        Ok(DraftLine {
            product_id: self.product_id,
            description: self.description.clone(),
            unit: Unit::parse(&self.unit).ok_or_else(|| {
                InvoicingError::invalid(format!("lines[{i}].unit"), "Unknown unit code.")
            })?,
            quantity: Quantity(self.quantity),
            unit_price: self.unit_price,
            discount: store::discount_of(self.discount_kind.as_deref(), self.discount_value),
            tax: TaxCategory {
                code: TaxCode::parse(&self.tax_code).ok_or_else(|| {
                    InvoicingError::invalid(format!("lines[{i}].tax_code"), "Unknown tax category.")
                })?,
                rate: Percent(self.tax_rate),
            },
        })
    }
}

impl Template {
    fn discount(&self) -> Option<Discount> {
        store::discount_of(self.discount_kind.as_deref(), self.discount_value)
    }

    fn draft(&self, client_id: i64, issue_date: NaiveDate) -> Result<DraftInput, InvoicingError> {
        Ok(DraftInput {
            client_id,
            currency: None,
            issue_date,
            due_date: self.due_in_days.map(|d| issue_date + Duration::days(d)),
            lines: self
                .lines
                .iter()
                .enumerate()
                .map(|(i, l)| l.to_line(i))
                .collect::<Result<_, _>>()?,
            discount: self.discount(),
            prices_include_tax: self.prices_include_tax,
            notes: self.notes.clone(),
            terms: self.terms.clone(),
        })
    }
}

#[derive(Debug, Clone)]
pub struct RecurringInput {
    pub client_id: i64,
    pub template: Template,
    pub calendar: Calendar,
    /// 1–31; clamped to each month's last day.
    pub day_of_month: u8,
    /// The issue date of the next invoice. `None`: on creation, the first `day_of_month` from
    /// today; on an update, kept, or moved to the new day when the schedule changes.
    pub first_run: Option<NaiveDate>,
    pub auto_send: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RecurringRow {
    pub id: i64,
    pub client_id: i64,
    pub template: String,
    pub calendar: String,
    pub day_of_month: i64,
    pub next_run: String,
    #[sqlx(try_from = "crate::platform::db::Flag")]
    pub active: bool,
    #[sqlx(try_from = "crate::platform::db::Flag")]
    pub auto_send: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl RecurringRow {
    pub fn parsed_template(&self) -> Result<Template, InvoicingError> {
        serde_json::from_str(&self.template)
            .map_err(|_| InvoicingError::invalid("template", "stored value is not valid"))
    }

    pub fn parsed_calendar(&self) -> Calendar {
        Calendar::parse(&self.calendar).unwrap_or(Calendar::Gregorian)
    }
}

/// A template with what the API and the pages show of it: its client, one period's totals
/// (from `Invoice::totals`, as its invoices will have them) and how many invoices it made.
#[derive(Debug, Clone)]
pub struct RecurringDetail {
    pub row: RecurringRow,
    pub template: Template,
    pub calendar: Calendar,
    pub client_name: String,
    pub currency: Currency,
    pub totals: Totals,
    pub invoices_made: i64,
}

const RECURRING_COLUMNS: &str = "id, client_id, template, calendar, day_of_month, next_run, \
    active, auto_send, created_at, updated_at";

impl Template {
    /// The invoice a period makes, as the rules see it (for its totals; no parties yet).
    pub fn model(
        &self,
        currency: Currency,
        issue_date: NaiveDate,
    ) -> Result<Invoice, InvoicingError> {
        let lines = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| l.to_line(i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Invoice {
            kind: InvoiceKind::Invoice,
            number: None,
            currency,
            issue_date,
            due_date: issue_date + Duration::days(self.due_in_days.unwrap_or(0)),
            seller: Default::default(),
            buyer: Default::default(),
            lines: lines
                .into_iter()
                .map(|l| Line {
                    description: l.description.trim().to_string(),
                    unit: l.unit,
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    discount: l.discount,
                    tax: l.tax,
                })
                .collect(),
            discount: self.discount(),
            prices_include_tax: self.prices_include_tax,
            notes: self.notes.clone(),
            terms: self.terms.clone(),
            credited: None,
            payee_iban: None,
        })
    }
}

/// The checks of the template alone, without I/O: a schedule day, lines, described, and due
/// days in range.
fn check_input(input: &RecurringInput) -> Result<(), InvoicingError> {
    if !(1..=31).contains(&input.day_of_month) {
        return Err(InvoicingError::invalid(
            "day_of_month",
            "Must be between 1 and 31.",
        ));
    }
    if input.template.lines.is_empty() {
        return Err(InvoicingError::invalid(
            "lines",
            "A template needs at least one line.",
        ));
    }
    for (i, line) in input.template.lines.iter().enumerate() {
        if line.description.trim().is_empty() {
            return Err(InvoicingError::invalid(
                format!("lines[{i}].description"),
                "This field may not be blank.",
            ));
        }
    }
    if let Some(days) = input.template.due_in_days {
        if !(0..=365).contains(&days) {
            return Err(InvoicingError::invalid(
                "due_in_days",
                "Must be between 0 and 365.",
            ));
        }
    }
    Ok(())
}

/// Checks a template against the database (its client, its products) and its totals, which
/// must be valid now rather than at the first run. Returns its client and one period's totals.
async fn check_template(
    conn: &mut sqlx::AnyConnection,
    input: &RecurringInput,
    issue_date: NaiveDate,
) -> Result<(ClientRow, Totals), InvoicingError> {
    check_input(input)?;
    let client = store::client(conn, input.client_id).await?.ok_or_else(|| {
        InvoicingError::invalid("client_id", "Invalid pk - object does not exist.")
    })?;
    if client.archived {
        return Err(InvoicingError::invalid(
            "client_id",
            "The client is archived.",
        ));
    }
    for (i, line) in input.template.lines.iter().enumerate() {
        if let Some(product_id) = line.product_id {
            if store::product(conn, product_id).await?.is_none() {
                return Err(InvoicingError::invalid(
                    format!("lines[{i}].product_id"),
                    "Invalid pk - object does not exist.",
                ));
            }
        }
    }
    let currency = Currency::parse(&client.currency)
        .ok_or_else(|| InvoicingError::invalid("client_id", "The client's currency is unknown."))?;
    let totals = input.template.model(currency, issue_date)?.totals()?;
    Ok((client, totals))
}

/// Where a schedule stands when it is written: what the template has made bounds it.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    pub calendar: Calendar,
    pub day_of_month: u8,
    pub today: NaiveDate,
    /// The stored next run, on an update.
    pub current: Option<NaiveDate>,
    /// Whether the calendar or the day changed (an update).
    pub changed: bool,
    /// The issue date of the latest invoice the template made.
    pub last_made: Option<NaiveDate>,
}

/// The next run a written schedule gets: the one asked for (refused if its month already has
/// the template's invoice); else, on creation, the first `day_of_month` from today; on an
/// update, the stored one, or when the day or calendar changed, the first new day from today,
/// but not before the stored run's month (a schedule set to start later still does). A month
/// already made is skipped, so a change never makes a second invoice for one (in either
/// calendar's months).
pub fn plan_next_run(s: &Schedule, asked: Option<NaiveDate>) -> Result<NaiveDate, InvoicingError> {
    let made = |date: NaiveDate| {
        s.last_made
            .is_some_and(|last| s.calendar.period_of(date) <= s.calendar.period_of(last))
    };
    if let Some(date) = asked {
        if made(date) {
            return Err(InvoicingError::invalid(
                "next_run",
                "The template already made the invoice of that month: choose a later month.",
            ));
        }
        return Ok(date);
    }
    let mut date = match s.current {
        Some(current) if !s.changed => current,
        Some(current) => {
            let start = s.calendar.month_start(current).max(s.today);
            s.calendar.first_on_or_after(start, s.day_of_month)
        }
        None => s.calendar.first_on_or_after(s.today, s.day_of_month),
    };
    while made(date) {
        date = s.calendar.next_month_on(date, s.day_of_month);
    }
    Ok(date)
}

pub async fn create_recurring(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &RecurringInput,
    meta: &RequestMeta,
) -> Result<RecurringRow, InvoicingError> {
    check_input(input)?;
    let next_run = plan_next_run(
        &Schedule {
            calendar: input.calendar,
            day_of_month: input.day_of_month,
            today: invoices::today(ctx),
            current: None,
            changed: false,
            last_made: None,
        },
        input.first_run,
    )?;
    let mut tx = ctx.db.begin_write().await?;
    require(
        &mut tx,
        actor,
        Action::ManageRecurring,
        Some(input.client_id),
    )
    .await?;
    let (client, _) = check_template(&mut tx, input, next_run).await?;
    let now = now_text(ctx);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO recurring_invoices (client_id, template, calendar, day_of_month, next_run, \
         active, auto_send, created_by, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8, $8) RETURNING id",
    )
    .bind(client.id)
    .bind(serde_json::to_string(&input.template).expect("a template serialises"))
    .bind(input.calendar.as_str())
    .bind(i64::from(input.day_of_month))
    .bind(next_run.format("%Y-%m-%d").to_string())
    .bind(i64::from(input.auto_send))
    .bind(actor.id)
    .bind(&now)
    .fetch_one(&mut **tx)
    .await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "recurring_invoice_created",
        format!("recurring:{id}"),
        json!({ "client_id": client.id, "next_run": next_run.format("%Y-%m-%d").to_string() }),
    )
    .await?;
    let row = recurring_row(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(row)
}

async fn recurring_row(
    conn: &mut sqlx::AnyConnection,
    id: i64,
) -> Result<Option<RecurringRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {RECURRING_COLUMNS} FROM recurring_invoices WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// How many invoices a template made, and the issue date of the latest.
async fn made_by(
    conn: &mut sqlx::AnyConnection,
    id: i64,
) -> Result<(i64, Option<NaiveDate>), InvoicingError> {
    let (count, last): (i64, Option<String>) =
        sqlx::query_as("SELECT COUNT(*), MAX(issue_date) FROM invoices WHERE recurring_id = $1")
            .bind(id)
            .fetch_one(conn)
            .await?;
    let last = last.map(|d| parse_date("issue_date", &d)).transpose()?;
    Ok((count, last))
}

async fn detail_of(
    conn: &mut sqlx::AnyConnection,
    row: RecurringRow,
) -> Result<RecurringDetail, InvoicingError> {
    let client = store::client(conn, row.client_id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let (invoices_made, _) = made_by(conn, row.id).await?;
    let currency = Currency::parse(&client.currency).unwrap_or(Currency::Irr);
    let template = row.parsed_template()?;
    let issue = parse_date("next_run", &row.next_run)?;
    let totals = template.model(currency, issue)?.totals()?;
    Ok(RecurringDetail {
        calendar: row.parsed_calendar(),
        row,
        template,
        client_name: client.name,
        currency,
        totals,
        invoices_made,
    })
}

/// One template (staff: admins, accountants and viewers).
pub async fn get_recurring(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
) -> Result<RecurringDetail, InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadRecurring, None).await?;
    let row = recurring_row(&mut conn, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    detail_of(&mut conn, row).await
}

/// Templates, oldest first, a page at a time; `client_id` keeps one client's.
pub async fn list_recurring(
    ctx: &Ctx,
    actor: &CurrentUser,
    client_id: Option<i64>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<RecurringDetail>, i64), InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadRecurring, client_id).await?;
    let mut c = Conditions::default();
    c.push_some("client_id = ?", client_id);
    let clause = c.where_clause();
    let (rows, count): (Vec<RecurringRow>, i64) = crate::platform::db::fetch_page(
        &mut conn,
        &c,
        AssertSqlSafe(format!("SELECT COUNT(*) FROM recurring_invoices{clause}")),
        AssertSqlSafe(format!(
            "SELECT {RECURRING_COLUMNS} FROM recurring_invoices{clause} ORDER BY id"
        )),
        limit,
        offset,
    )
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(detail_of(&mut conn, row).await?);
    }
    Ok((out, count))
}

/// The invoices a template made, newest first, a page at a time.
pub async fn recurring_invoices_made(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<InvoiceRow>, i64), InvoicingError> {
    let mut conn = ctx.db.pool.acquire().await?;
    require(&mut conn, actor, Action::ReadRecurring, None).await?;
    require(&mut conn, actor, Action::ReadInvoices, None).await?;
    recurring_row(&mut conn, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    let mut c = Conditions::default();
    c.push("recurring_id = ?", id);
    let clause = c.where_clause();
    Ok(crate::platform::db::fetch_page(
        &mut conn,
        &c,
        AssertSqlSafe(format!("SELECT COUNT(*) FROM invoices{clause}")),
        AssertSqlSafe(format!(
            "SELECT {} FROM invoices{clause} ORDER BY issue_date DESC, id DESC",
            store::INVOICE_COLUMNS
        )),
        limit,
        offset,
    )
    .await?)
}

/// Replaces a template's lines and schedule. The next run moves only as [`plan_next_run`]
/// says, so no month gets a second invoice; once it made invoices, its client stays.
pub async fn update_recurring(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
    input: &RecurringInput,
    meta: &RequestMeta,
) -> Result<RecurringRow, InvoicingError> {
    check_input(input)?;
    let mut tx = ctx.db.begin_write().await?;
    let before = recurring_row(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    require(
        &mut tx,
        actor,
        Action::ManageRecurring,
        Some(before.client_id),
    )
    .await?;
    let (made, last_made) = made_by(&mut tx, id).await?;
    if made > 0 && input.client_id != before.client_id {
        return Err(InvoicingError::invalid(
            "client_id",
            "The template has made invoices for its client: it cannot change.",
        ));
    }
    let current = parse_date("next_run", &before.next_run)?;
    let next_run = plan_next_run(
        &Schedule {
            calendar: input.calendar,
            day_of_month: input.day_of_month,
            today: invoices::today(ctx),
            current: Some(current),
            changed: input.calendar != before.parsed_calendar()
                || i64::from(input.day_of_month) != before.day_of_month,
            last_made,
        },
        input.first_run.filter(|asked| *asked != current),
    )?;
    check_template(&mut tx, input, next_run).await?;
    let next_text = next_run.format("%Y-%m-%d").to_string();
    sqlx::query(
        "UPDATE recurring_invoices SET client_id = $1, template = $2, calendar = $3, \
         day_of_month = $4, next_run = $5, auto_send = $6, updated_at = $7 WHERE id = $8",
    )
    .bind(input.client_id)
    .bind(serde_json::to_string(&input.template).expect("a template serialises"))
    .bind(input.calendar.as_str())
    .bind(i64::from(input.day_of_month))
    .bind(&next_text)
    .bind(i64::from(input.auto_send))
    .bind(now_text(ctx))
    .bind(id)
    .execute(&mut **tx)
    .await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "recurring_invoice_updated",
        format!("recurring:{id}"),
        json!({ "next_run": next_text, "day_of_month": input.day_of_month,
                "calendar": input.calendar.as_str() }),
    )
    .await?;
    let row = recurring_row(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(row)
}

/// Deletes a template that made no invoice; one that did is paused instead (its invoices
/// point at it).
pub async fn delete_recurring(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
    meta: &RequestMeta,
) -> Result<(), InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    let row = recurring_row(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    require(&mut tx, actor, Action::ManageRecurring, Some(row.client_id)).await?;
    let (made, _) = made_by(&mut tx, id).await?;
    if made > 0 {
        return Err(InvoicingError::invalid(
            "recurring_id",
            TEMPLATE_HAS_INVOICES,
        ));
    }
    sqlx::query("DELETE FROM recurring_invoices WHERE id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "recurring_invoice_deleted",
        format!("recurring:{id}"),
        json!({ "client_id": row.client_id }),
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(())
}

/// Why a template that made invoices is not deleted.
pub const TEMPLATE_HAS_INVOICES: &str =
    "The template has made invoices, which point at it: pause it instead.";

pub async fn set_recurring_active(
    ctx: &Ctx,
    actor: &CurrentUser,
    id: i64,
    active: bool,
    meta: &RequestMeta,
) -> Result<(), InvoicingError> {
    let mut tx = ctx.db.begin_write().await?;
    let row = recurring_row(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    require(&mut tx, actor, Action::ManageRecurring, Some(row.client_id)).await?;
    sqlx::query("UPDATE recurring_invoices SET active = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(active))
        .bind(now_text(ctx))
        .bind(id)
        .execute(&mut **tx)
        .await?;
    audit(
        &mut tx,
        ctx,
        meta,
        Some(actor),
        "recurring_invoice_updated",
        format!("recurring:{id}"),
        json!({ "active": active }),
    )
    .await?;
    tx.commit().await?;
    ctx.changed(Area::Invoicing).await;
    Ok(())
}

/// One invoice a run made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    pub recurring_id: i64,
    pub period: String,
    pub invoice_id: String,
    pub sent: bool,
}

/// Makes the invoices of every active template due on or before `today`, each in its own
/// transaction, advancing `next_run` by a month of the template's calendar (catching up on
/// missed months). A period already made is skipped, so running twice makes nothing twice.
pub async fn run_due_recurring(ctx: &Ctx, today: NaiveDate) -> Result<Vec<Made>, InvoicingError> {
    let due: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM recurring_invoices WHERE active = 1 AND next_run <= $1 ORDER BY id",
    )
    .bind(today.format("%Y-%m-%d").to_string())
    .fetch_all(&ctx.db.pool)
    .await?;
    let mut made = Vec::new();
    for id in due {
        loop {
            let mut tx = ctx.db.begin_write().await?;
            // One run at a time per template, across instances (PostgreSQL's row lock;
            // SQLite's write transaction is the only writer).
            if ctx.db.backend == crate::platform::db::Backend::Postgres {
                sqlx::query("SELECT id FROM recurring_invoices WHERE id = $1 FOR UPDATE")
                    .bind(id)
                    .fetch_optional(&mut **tx)
                    .await?;
            }
            let Some(row) = recurring_row(&mut tx, id).await? else {
                break;
            };
            let run_on = parse_date("next_run", &row.next_run)?;
            if !row.active || run_on > today {
                break;
            }
            let calendar = row.parsed_calendar();
            let period = calendar.period_of(run_on);
            let template = row.parsed_template()?;
            let draft = template.draft(row.client_id, run_on)?;
            let invoice_id = uuid::Uuid::new_v4().to_string();
            let next = calendar.next_month_on(run_on, row.day_of_month as u8);
            let now = now_text(ctx);
            // Savepoint-free idempotency: the period is checked first (the unique index is
            // the backstop against a concurrent run, whose transaction then fails whole).
            let exists: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM invoices WHERE recurring_id = $1 AND recurring_period = $2",
            )
            .bind(id)
            .bind(&period)
            .fetch_one(&mut **tx)
            .await?;
            let mut sent = false;
            if exists == 0 {
                match invoices::create_draft_in(
                    ctx,
                    &mut tx,
                    None,
                    &draft,
                    &invoice_id,
                    Some((id, &period)),
                )
                .await
                {
                    Ok(_) => {}
                    Err(InvoicingError::Store(e)) if is_unique_violation(&e) => break,
                    Err(e) => return Err(e),
                }
                if row.auto_send {
                    let inv = store::invoice(&mut tx, &invoice_id)
                        .await?
                        .ok_or(InvoicingError::NotFound)?;
                    invoices::send_in(ctx, &mut tx, None, &inv).await?;
                    sent = true;
                }
                audit(
                    &mut tx,
                    ctx,
                    &RequestMeta::default(),
                    None,
                    "recurring_invoice_made",
                    format!("invoice:{invoice_id}"),
                    json!({ "recurring_id": id, "period": period, "sent": sent }),
                )
                .await?;
            }
            sqlx::query(
                "UPDATE recurring_invoices SET next_run = $1, updated_at = $2 WHERE id = $3",
            )
            .bind(next.format("%Y-%m-%d").to_string())
            .bind(&now)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            tx.commit().await?;
            ctx.changed(Area::Invoicing).await;
            if exists == 0 {
                made.push(Made {
                    recurring_id: id,
                    period,
                    invoice_id,
                    sent,
                });
            }
        }
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoicing::calendar::from_jalali;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn line(description: &str) -> TemplateLine {
        TemplateLine {
            product_id: None,
            description: description.into(),
            unit: "C62".into(),
            quantity: 10_000,
            unit_price: 1_000,
            discount_kind: None,
            discount_value: None,
            tax_code: "S".into(),
            tax_rate: 900,
        }
    }

    fn input(day: u8, lines: Vec<TemplateLine>) -> RecurringInput {
        RecurringInput {
            client_id: 1,
            template: Template {
                lines,
                discount_kind: None,
                discount_value: None,
                prices_include_tax: false,
                notes: String::new(),
                terms: String::new(),
                due_in_days: Some(10),
            },
            calendar: Calendar::Gregorian,
            day_of_month: day,
            first_run: None,
            auto_send: false,
        }
    }

    fn schedule(day: u8, today: NaiveDate) -> Schedule {
        Schedule {
            calendar: Calendar::Gregorian,
            day_of_month: day,
            today,
            current: None,
            changed: false,
            last_made: None,
        }
    }

    #[test]
    fn a_new_schedule_starts_on_the_next_day_of_month_or_the_date_asked() {
        let s = schedule(5, d(2026, 5, 10));
        assert_eq!(plan_next_run(&s, None).unwrap(), d(2026, 6, 5));
        assert_eq!(
            plan_next_run(&schedule(10, d(2026, 5, 10)), None).unwrap(),
            d(2026, 5, 10)
        );
        assert_eq!(
            plan_next_run(&s, Some(d(2026, 5, 20))).unwrap(),
            d(2026, 5, 20)
        );
    }

    #[test]
    fn an_update_keeps_the_next_run_unless_the_schedule_changed() {
        let mut s = schedule(5, d(2026, 5, 10));
        s.current = Some(d(2026, 6, 5));
        s.last_made = Some(d(2026, 5, 5));
        assert_eq!(plan_next_run(&s, None).unwrap(), d(2026, 6, 5));
        // A new day moves it within the month of the stored run, never back into May's.
        s.day_of_month = 20;
        s.changed = true;
        assert_eq!(plan_next_run(&s, None).unwrap(), d(2026, 6, 20));
        s.day_of_month = 1;
        assert_eq!(plan_next_run(&s, None).unwrap(), d(2026, 6, 1));
        // A month not made whose new day is still ahead is not skipped.
        s.today = d(2026, 6, 10);
        s.current = Some(d(2026, 6, 5));
        s.day_of_month = 25;
        assert_eq!(plan_next_run(&s, None).unwrap(), d(2026, 6, 25));
        s.day_of_month = 3;
        assert_eq!(plan_next_run(&s, None).unwrap(), d(2026, 7, 3));
        s.today = d(2026, 5, 10);
        // A paused template's stale run starts again from today, past May (made).
        s.current = Some(d(2026, 1, 5));
        s.day_of_month = 3;
        assert_eq!(plan_next_run(&s, None).unwrap(), d(2026, 6, 3));
    }

    #[test]
    fn a_month_already_made_is_skipped_or_refused_in_the_new_calendar_too() {
        let mut s = schedule(5, d(2026, 5, 10));
        s.last_made = Some(d(2026, 5, 5));
        let refused = plan_next_run(&s, Some(d(2026, 5, 28))).unwrap_err();
        assert_eq!(refused.field().as_deref(), Some("next_run"));
        assert_eq!(
            plan_next_run(&s, Some(d(2026, 6, 1))).unwrap(),
            d(2026, 6, 1)
        );
        // Switched to Jalali: 5 May 2026 is 15 Ordibehesht 1405, whose month is made; 25
        // Ordibehesht (15 May) would be a second invoice for it.
        s.calendar = Calendar::Jalali;
        s.day_of_month = 25;
        s.current = Some(d(2026, 5, 12));
        s.changed = true;
        let next = plan_next_run(&s, None).unwrap();
        assert_eq!(next, from_jalali(1405, 3, 25).unwrap());
    }

    #[test]
    fn the_template_alone_is_checked_before_any_io() {
        assert_eq!(
            check_input(&input(0, vec![line("Hosting")]))
                .unwrap_err()
                .field()
                .as_deref(),
            Some("day_of_month")
        );
        assert_eq!(
            check_input(&input(32, vec![line("Hosting")]))
                .unwrap_err()
                .field()
                .as_deref(),
            Some("day_of_month")
        );
        assert_eq!(
            check_input(&input(5, vec![]))
                .unwrap_err()
                .field()
                .as_deref(),
            Some("lines")
        );
        assert_eq!(
            check_input(&input(5, vec![line("Hosting"), line("  ")]))
                .unwrap_err()
                .field()
                .as_deref(),
            Some("lines[1].description")
        );
        assert!(check_input(&input(31, vec![line("Hosting")])).is_ok());
    }

    #[test]
    fn one_periods_totals_come_from_the_invoice_model() {
        let template = input(5, vec![line("Hosting"), line("Support")]).template;
        let totals = template
            .model(Currency::Eur, d(2026, 5, 5))
            .unwrap()
            .totals()
            .unwrap();
        // 2 × (1 × 10.00 + 9 %).
        assert_eq!(totals.lines_net, 2_000);
        assert_eq!(totals.tax, 180);
        assert_eq!(totals.total, 2_180);
    }
}
