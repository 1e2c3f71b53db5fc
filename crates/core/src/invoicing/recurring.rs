//! Recurring invoices: a template per client makes a draft (or sends it, with `auto_send`) on
//! a day of each Jalali or Gregorian month. A template makes at most one invoice per period
//! (a unique index on (recurring_id, recurring_period)), so a run repeated is harmless.

use chrono::{Duration, NaiveDate};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::access::Action;
use super::calendar::Calendar;
use super::error::InvoicingError;
use super::invoices::{self, parse_date, DraftInput, DraftLine};
use super::model::{Discount, Percent, Quantity, TaxCategory, TaxCode, Unit};
use super::service::{audit, now_text, require};
use super::store;
use crate::auth::CurrentUser;
use crate::ctx::Ctx;
use crate::platform::audit::RequestMeta;
use crate::platform::currency::Currency;
use crate::platform::db::is_unique_violation;

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
    pub first_run: NaiveDate,
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
}

pub async fn create_recurring(
    ctx: &Ctx,
    actor: &CurrentUser,
    input: &RecurringInput,
    meta: &RequestMeta,
) -> Result<RecurringRow, InvoicingError> {
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
    let mut tx = ctx.db.begin_write().await?;
    require(
        &mut tx,
        actor,
        Action::ManageRecurring,
        Some(input.client_id),
    )
    .await?;
    let client = store::client(&mut tx, input.client_id)
        .await?
        .ok_or_else(|| {
            InvoicingError::invalid("client_id", "Invalid pk - object does not exist.")
        })?;
    // The template must make a valid invoice: its totals are checked now, not at the first run.
    let draft = input.template.draft(client.id, input.first_run)?;
    let currency = Currency::parse(&client.currency).unwrap_or(Currency::Irr);
    let model = super::model::Invoice {
        kind: super::model::InvoiceKind::Invoice,
        number: None,
        currency,
        issue_date: input.first_run,
        due_date: input.first_run,
        seller: Default::default(),
        buyer: Default::default(),
        lines: draft
            .lines
            .iter()
            .map(|l| super::model::Line {
                description: l.description.clone(),
                unit: l.unit,
                quantity: l.quantity,
                unit_price: l.unit_price,
                discount: l.discount,
                tax: l.tax,
            })
            .collect(),
        discount: draft.discount,
        prices_include_tax: draft.prices_include_tax,
        notes: String::new(),
        terms: String::new(),
        credited: None,
        payee_iban: None,
    };
    model.totals()?;
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
    .bind(input.first_run.format("%Y-%m-%d").to_string())
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
        json!({ "client_id": client.id }),
    )
    .await?;
    let row = recurring_row(&mut tx, id)
        .await?
        .ok_or(InvoicingError::NotFound)?;
    tx.commit().await?;
    Ok(row)
}

async fn recurring_row(
    conn: &mut sqlx::AnyConnection,
    id: i64,
) -> Result<Option<RecurringRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, client_id, template, calendar, day_of_month, next_run, active, auto_send \
         FROM recurring_invoices WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(conn)
    .await
}

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
            let calendar = Calendar::parse(&row.calendar).unwrap_or(Calendar::Gregorian);
            let period = calendar.period_of(run_on);
            let template: Template = serde_json::from_str(&row.template)
                .map_err(|_| InvoicingError::invalid("template", "stored value is not valid"))?;
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
