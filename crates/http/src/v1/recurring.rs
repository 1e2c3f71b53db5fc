//! `/api/v1/recurring-invoices/`: templates that make a client's invoice on a day of each
//! Jalali or Gregorian month (the daily job makes them), over `invoicing::recurring`. Lines are
//! written and read as the invoice endpoints take them (DRF decimal strings in the client's
//! currency's places), so a template read can be written back whole.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::decimal::{self, InvoiceOut};
use super::drf::{may, path_id, Authenticated, DrfBody, DrfError, DrfErrorBody, DrfResult};
use super::drf::{LaterJson, Page, PageQuery};
use super::invoices::{DiscountWrite, LineWrite, Problems};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::calendar::Calendar;
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::invoicing::model::Discount;
use saghat_core::invoicing::recurring::{
    self, RecurringDetail, RecurringInput, Template, TemplateLine,
};
use saghat_core::invoicing::service;
use saghat_core::invoicing::store;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_recurring, create_recurring))
        .routes(routes!(
            retrieve_recurring,
            replace_recurring,
            patch_recurring,
            delete_recurring
        ))
        .routes(routes!(pause_recurring))
        .routes(routes!(resume_recurring))
        .routes(routes!(recurring_invoices))
}

/// A discount as read: exactly one of the two is set.
#[derive(Debug, Serialize, ToSchema)]
pub struct DiscountOut {
    /// Percent, to 2 places.
    pub percent: Option<String>,
    /// In the client currency's places.
    pub amount: Option<String>,
}

fn discount_out(currency: Currency, kind: Option<&str>, value: Option<i64>) -> Option<DiscountOut> {
    let value = value?;
    Some(match kind {
        Some("percent") => DiscountOut {
            percent: Some(decimal::percent(value)),
            amount: None,
        },
        _ => DiscountOut {
            percent: None,
            amount: Some(decimal::amount(currency.code(), value)),
        },
    })
}

/// One line of a template, in the shape `lines` is written in, with its net per period.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecurringLineOut {
    pub product: Option<i64>,
    pub description: String,
    pub unit: String,
    /// To 4 places.
    pub quantity: String,
    /// In the client currency's places.
    pub unit_price: String,
    pub discount: Option<DiscountOut>,
    pub tax_code: String,
    /// Percent, to 2 places.
    pub tax_rate: String,
    /// The line's net amount on each invoice, from the invoice totals.
    pub net: String,
}

/// A recurring invoice template.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecurringOut {
    pub id: i64,
    pub client: i64,
    pub client_name: String,
    /// The client's currency, which its invoices are in.
    pub currency: String,
    /// `jalali` or `gregorian`: whose months it follows.
    pub calendar: String,
    /// 1–31, clamped to each month's last day.
    pub day_of_month: i64,
    /// `YYYY-MM-DD`: the issue date of the next invoice.
    pub next_run: String,
    /// Paused templates make nothing.
    pub active: bool,
    /// Whether each invoice is sent as soon as it is made (else it stays a draft).
    pub auto_send: bool,
    pub lines: Vec<RecurringLineOut>,
    pub discount: Option<DiscountOut>,
    pub prices_include_tax: bool,
    pub notes: String,
    pub terms: String,
    /// Days from issue to due; `null`: the client's payment terms.
    pub due_in_days: Option<i64>,
    /// One invoice's amounts, from the invoice totals.
    pub lines_net: String,
    pub discount_total: String,
    pub tax: String,
    pub total: String,
    /// How many invoices it has made (`…/invoices/` lists them).
    pub invoices_made: i64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<RecurringDetail> for RecurringOut {
    fn from(d: RecurringDetail) -> Self {
        let c = d.currency;
        let money = |units: i64| decimal::amount(c.code(), units);
        let lines = d
            .template
            .lines
            .iter()
            .zip(&d.totals.lines)
            .map(|(l, t)| RecurringLineOut {
                product: l.product_id,
                description: l.description.clone(),
                unit: l.unit.clone(),
                quantity: decimal::quantity(l.quantity),
                unit_price: money(l.unit_price),
                discount: discount_out(c, l.discount_kind.as_deref(), l.discount_value),
                tax_code: l.tax_code.clone(),
                tax_rate: decimal::percent(l.tax_rate),
                net: money(t.net),
            })
            .collect();
        RecurringOut {
            id: d.row.id,
            client: d.row.client_id,
            client_name: d.client_name,
            currency: c.code().into(),
            calendar: d.row.calendar,
            day_of_month: d.row.day_of_month,
            next_run: d.row.next_run,
            active: d.row.active,
            auto_send: d.row.auto_send,
            lines,
            discount: discount_out(
                c,
                d.template.discount_kind.as_deref(),
                d.template.discount_value,
            ),
            prices_include_tax: d.template.prices_include_tax,
            notes: d.template.notes,
            terms: d.template.terms,
            due_in_days: d.template.due_in_days,
            lines_net: money(d.totals.lines_net),
            discount_total: money(d.totals.discount),
            tax: money(d.totals.tax),
            total: money(d.totals.total),
            invoices_made: d.invoices_made,
            created_at: d.row.created_at,
            updated_at: d.row.updated_at,
        }
    }
}

/// A template as written (`POST`, `PUT`).
#[derive(Deserialize, ToSchema)]
pub struct RecurringWrite {
    /// The client's id; its currency is the invoices'. Fixed once the template made one.
    pub client: i64,
    /// `jalali` or `gregorian`.
    #[schema(value_type = String)]
    pub calendar: Calendar,
    /// 1–31, clamped to each month's last day.
    pub day_of_month: i64,
    /// `YYYY-MM-DD`, the next invoice's issue date. Default on `POST`: the next `day_of_month`
    /// from today; on `PUT`, kept, or moved to the new day when the day or calendar changes.
    /// A month the template already invoiced is refused.
    pub next_run: Option<String>,
    #[serde(default)]
    pub auto_send: bool,
    pub lines: Vec<LineWrite>,
    pub discount: Option<DiscountWrite>,
    #[serde(default)]
    pub prices_include_tax: bool,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub terms: String,
    /// Days from issue to due (0–365); `null`: the client's payment terms.
    pub due_in_days: Option<i64>,
}

impl DrfBody for RecurringWrite {
    const REQUIRED: &'static [&'static str] = &["client", "calendar", "day_of_month", "lines"];
    const NOT_NULL: &'static [&'static str] = &[
        "calendar",
        "day_of_month",
        "auto_send",
        "prices_include_tax",
        "notes",
        "terms",
    ];
}

/// Some fields of a template (`PATCH`); the others keep their values.
#[derive(Deserialize, ToSchema)]
pub struct PatchedRecurring {
    pub client: Option<i64>,
    #[schema(value_type = Option<String>)]
    pub calendar: Option<Calendar>,
    pub day_of_month: Option<i64>,
    pub next_run: Option<String>,
    pub auto_send: Option<bool>,
    pub lines: Option<Vec<LineWrite>>,
    /// `null` removes the discount.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DiscountWrite>)]
    pub discount: Option<Option<DiscountWrite>>,
    pub prices_include_tax: Option<bool>,
    pub notes: Option<String>,
    pub terms: Option<String>,
    /// `null`: the client's payment terms.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>)]
    pub due_in_days: Option<Option<i64>>,
}

/// A field given (even as `null`) is `Some`; one left out is `None`.
fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

impl DrfBody for PatchedRecurring {
    const NOT_NULL: &'static [&'static str] = &[
        "client",
        "calendar",
        "day_of_month",
        "auto_send",
        "lines",
        "prices_include_tax",
        "notes",
        "terms",
    ];
}

/// The template's fields read into the service's input: amounts in the client's currency's
/// places, every bad value under its field at once.
struct Fields<'a> {
    client: i64,
    calendar: Calendar,
    day_of_month: i64,
    next_run: Option<&'a str>,
    auto_send: bool,
    lines: &'a [LineWrite],
    discount: Option<&'a DiscountWrite>,
    prices_include_tax: bool,
    notes: &'a str,
    terms: &'a str,
    due_in_days: Option<i64>,
}

impl Fields<'_> {
    fn input(&self, currency: Currency) -> DrfResult<RecurringInput> {
        let mut p = Problems::default();
        let next_run = self.next_run.map(|text| p.date("next_run", text));
        let lines: Vec<_> = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| p.line(i, l, currency))
            .collect();
        let discount = self.discount.map(|d| p.discount("discount", d, currency));
        let day_of_month = u8::try_from(self.day_of_month)
            .ok()
            .filter(|d| (1..=31).contains(d));
        if day_of_month.is_none() {
            p.add("day_of_month".into(), "Must be between 1 and 31.".into());
        }
        if !p.0.is_empty() {
            return Err(DrfError::Fields(p.0));
        }
        // Every value parsed: none of these is missing any more.
        let missing = || DrfError::field("non_field_errors", "Invalid data.");
        let lines: Vec<_> = lines
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(missing)?;
        let discount: Option<Discount> = discount.map(|d| d.ok_or_else(missing)).transpose()?;
        let (discount_kind, discount_value) = store::discount_columns(discount);
        Ok(RecurringInput {
            client_id: self.client,
            template: Template {
                lines: lines.iter().map(TemplateLine::from_line).collect(),
                discount_kind: discount_kind.map(Into::into),
                discount_value,
                prices_include_tax: self.prices_include_tax,
                notes: self.notes.to_string(),
                terms: self.terms.to_string(),
                due_in_days: self.due_in_days,
            },
            calendar: self.calendar,
            day_of_month: day_of_month.ok_or_else(missing)?,
            first_run: next_run.map(|d| d.ok_or_else(missing)).transpose()?,
            auto_send: self.auto_send,
        })
    }
}

impl RecurringWrite {
    fn fields(&self) -> Fields<'_> {
        Fields {
            client: self.client,
            calendar: self.calendar,
            day_of_month: self.day_of_month,
            next_run: self.next_run.as_deref(),
            auto_send: self.auto_send,
            lines: &self.lines,
            discount: self.discount.as_ref(),
            prices_include_tax: self.prices_include_tax,
            notes: &self.notes,
            terms: &self.terms,
            due_in_days: self.due_in_days,
        }
    }
}

/// The currency a client is invoiced in (which the actor must see); an unknown client is the
/// `client` field's error.
async fn currency_of(state: &AppState, user: &CurrentUser, client: i64) -> DrfResult<Currency> {
    let (client_row, _) = match service::get_client(state, user, client).await {
        Err(InvoicingError::NotFound) => {
            let message = format!("Invalid pk \"{client}\" - object does not exist.");
            return Err(DrfError::field("client", message));
        }
        other => other?,
    };
    Currency::parse(&client_row.currency)
        .ok_or_else(|| DrfError::field("client", "Unknown currency."))
}

/// Templates, oldest first, a page at a time (staff: admins, accountants, viewers); `?client=`
/// keeps one client's.
#[utoipa::path(get, path = "/recurring-invoices/", tag = "v1", security(("bearer" = [])),
    params(("page" = Option<String>, Query, description = "A page number, or `last`"),
           ("page_size" = Option<String>, Query, description = "Rows per page: a positive integer, default 20; more than 100 is read as 100 and anything else is ignored, as DRF does"),
           ("client" = Option<i64>, Query)),
    responses((status = 200, body = Page<RecurringOut>), (status = 403, body = DrfErrorBody),
              (status = 404, description = "Invalid page.", body = DrfErrorBody)))]
async fn list_recurring(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    pages: PageQuery,
) -> DrfResult<Json<Page<RecurringOut>>> {
    may(&user, Action::ReadRecurring)?;
    let client = match pages.url.param("client") {
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| DrfError::field("client", "Select a valid choice."))?,
        ),
        None => None,
    };
    let page = pages
        .fetch(|limit, offset| {
            let (state, user) = (&state, &user);
            async move {
                let (rows, total) =
                    recurring::list_recurring(state, user, client, limit, offset).await?;
                Ok::<_, DrfError>((rows.into_iter().map(RecurringOut::from).collect(), total))
            }
        })
        .await?;
    Ok(Json(page))
}

/// Add a template (admins and accountants). Its lines must make a valid invoice now.
#[utoipa::path(post, path = "/recurring-invoices/", tag = "v1", request_body = RecurringWrite, security(("bearer" = [])),
    responses((status = 201, body = RecurringOut), (status = 403, body = DrfErrorBody)))]
async fn create_recurring(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    body: LaterJson,
) -> DrfResult<(StatusCode, Json<RecurringOut>)> {
    may(&user, Action::ManageRecurring)?;
    let body = body.parse::<RecurringWrite>()?;
    let currency = currency_of(&state, &user, body.client).await?;
    let input = body.fields().input(currency)?;
    let row = recurring::create_recurring(&state, &user, &input, &meta).await?;
    let detail = recurring::get_recurring(&state, &user, row.id).await?;
    Ok((StatusCode::CREATED, Json(detail.into())))
}

/// One template.
#[utoipa::path(get, path = "/recurring-invoices/{id}/", tag = "v1", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RecurringOut), (status = 403, body = DrfErrorBody)))]
async fn retrieve_recurring(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<Json<RecurringOut>> {
    let id = path_id(&id)?;
    may(&user, Action::ReadRecurring)?;
    Ok(Json(
        recurring::get_recurring(&state, &user, id).await?.into(),
    ))
}

/// Replace a template's lines and schedule (admins and accountants). A month it already
/// invoiced never gets a second invoice.
#[utoipa::path(put, path = "/recurring-invoices/{id}/", tag = "v1", request_body = RecurringWrite, security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RecurringOut), (status = 403, body = DrfErrorBody)))]
async fn replace_recurring(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    body: LaterJson,
) -> DrfResult<Json<RecurringOut>> {
    let id = path_id(&id)?;
    may(&user, Action::ManageRecurring)?;
    let body = body.parse::<RecurringWrite>()?;
    let currency = currency_of(&state, &user, body.client).await?;
    let input = body.fields().input(currency)?;
    recurring::update_recurring(&state, &user, id, &input, &meta).await?;
    Ok(Json(
        recurring::get_recurring(&state, &user, id).await?.into(),
    ))
}

/// Change some of a template's fields, as `PUT` does with the others kept.
#[utoipa::path(patch, path = "/recurring-invoices/{id}/", tag = "v1", request_body = Option<PatchedRecurring>, security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RecurringOut), (status = 403, body = DrfErrorBody)))]
async fn patch_recurring(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    body: LaterJson,
) -> DrfResult<Json<RecurringOut>> {
    let id = path_id(&id)?;
    may(&user, Action::ManageRecurring)?;
    let body = body.parse::<PatchedRecurring>()?;
    let current = recurring::get_recurring(&state, &user, id).await?;
    let client = body.client.unwrap_or(current.row.client_id);
    let currency = currency_of(&state, &user, client).await?;
    // The lines kept are written back as they read, in the currency they were written in.
    let kept = RecurringOut::from(current.clone());
    let kept_lines: Vec<LineWrite>;
    let lines = match &body.lines {
        Some(lines) => lines.as_slice(),
        None => {
            kept_lines = kept.lines.iter().map(line_write).collect();
            &kept_lines
        }
    };
    let kept_discount = kept.discount.as_ref().map(discount_write);
    let discount = match &body.discount {
        Some(given) => given.as_ref(),
        None => kept_discount.as_ref(),
    };
    let template = &current.template;
    let fields = Fields {
        client,
        calendar: body.calendar.unwrap_or(current.calendar),
        day_of_month: body.day_of_month.unwrap_or(current.row.day_of_month),
        next_run: body.next_run.as_deref(),
        auto_send: body.auto_send.unwrap_or(current.row.auto_send),
        lines,
        discount,
        prices_include_tax: body
            .prices_include_tax
            .unwrap_or(template.prices_include_tax),
        notes: body.notes.as_deref().unwrap_or(&template.notes),
        terms: body.terms.as_deref().unwrap_or(&template.terms),
        due_in_days: body.due_in_days.unwrap_or(template.due_in_days),
    };
    let input = fields.input(currency)?;
    recurring::update_recurring(&state, &user, id, &input, &meta).await?;
    Ok(Json(
        recurring::get_recurring(&state, &user, id).await?.into(),
    ))
}

fn discount_write(d: &DiscountOut) -> DiscountWrite {
    DiscountWrite {
        percent: d.percent.clone().map(decimal::DecimalText),
        amount: d.amount.clone().map(decimal::DecimalText),
    }
}

fn line_write(l: &RecurringLineOut) -> LineWrite {
    LineWrite {
        product: l.product,
        description: l.description.clone(),
        unit: Some(l.unit.clone()),
        quantity: decimal::DecimalText(l.quantity.clone()),
        unit_price: decimal::DecimalText(l.unit_price.clone()),
        discount: l.discount.as_ref().map(discount_write),
        tax_code: Some(l.tax_code.clone()),
        tax_rate: Some(decimal::DecimalText(l.tax_rate.clone())),
    }
}

/// Delete a template that made no invoice (admins and accountants); one that did is refused
/// (400): pause it instead.
#[utoipa::path(delete, path = "/recurring-invoices/{id}/", tag = "v1", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 400, body = DrfErrorBody),
              (status = 403, body = DrfErrorBody)))]
async fn delete_recurring(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> DrfResult<StatusCode> {
    let id = path_id(&id)?;
    may(&user, Action::ManageRecurring)?;
    recurring::delete_recurring(&state, &user, id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_active(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    active: bool,
    meta: &RequestMeta,
) -> DrfResult<Json<RecurringOut>> {
    let id = path_id(id)?;
    may(user, Action::ManageRecurring)?;
    recurring::set_recurring_active(state, user, id, active, meta).await?;
    Ok(Json(
        recurring::get_recurring(state, user, id).await?.into(),
    ))
}

/// Pause a template: it makes nothing until resumed.
#[utoipa::path(post, path = "/recurring-invoices/{id}/pause/", tag = "v1", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RecurringOut), (status = 403, body = DrfErrorBody)))]
async fn pause_recurring(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> DrfResult<Json<RecurringOut>> {
    set_active(&state, &user, &id, false, &meta).await
}

/// Resume a paused template. Months missed while paused are made at its next run, each once.
#[utoipa::path(post, path = "/recurring-invoices/{id}/resume/", tag = "v1", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = RecurringOut), (status = 403, body = DrfErrorBody)))]
async fn resume_recurring(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> DrfResult<Json<RecurringOut>> {
    set_active(&state, &user, &id, true, &meta).await
}

/// The invoices a template made, newest first, a page at a time.
#[utoipa::path(get, path = "/recurring-invoices/{id}/invoices/", tag = "v1", security(("bearer" = [])),
    params(("id" = i64, Path),
           ("page" = Option<String>, Query, description = "A page number, or `last`"),
           ("page_size" = Option<String>, Query, description = "Rows per page: a positive integer, default 20; more than 100 is read as 100 and anything else is ignored, as DRF does")),
    responses((status = 200, body = Page<InvoiceOut>), (status = 403, body = DrfErrorBody),
              (status = 404, description = "Not found, or invalid page.", body = DrfErrorBody)))]
async fn recurring_invoices(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
    pages: PageQuery,
) -> DrfResult<Json<Page<InvoiceOut>>> {
    let id = path_id(&id)?;
    may(&user, Action::ReadRecurring)?;
    let page = pages
        .fetch(|limit, offset| {
            let (state, user) = (&state, &user);
            async move {
                let (rows, total) =
                    recurring::recurring_invoices_made(state, user, id, limit, offset).await?;
                Ok::<_, DrfError>((rows.into_iter().map(InvoiceOut::from).collect(), total))
            }
        })
        .await?;
    Ok(Json(page))
}
