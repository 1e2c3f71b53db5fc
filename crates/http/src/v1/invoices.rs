//! `/api/v1/invoices/`: drafts written whole, sending (number, snapshots, taxes and ledger in
//! one transaction), reading, and the list paged by key (1,000,000 invoices stay fast), over
//! the invoicing services. Amounts are DRF decimal strings both ways (see `decimal`): in the
//! invoice currency's places, quantities to 4 places, rates and percentages to 2.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::decimal::{DecimalText, InvoiceDetailOut, InvoiceOut};
use super::drf::Idempotency;
use super::drf::{may, Authenticated, DrfBody, DrfError, DrfErrorBody, DrfResult, LaterJson};
use super::drf::{Cursor, CursorPage, CursorQuery};
use crate::state::AppState;
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::invoices::{self, DraftInput, DraftLine, InvoiceDetail, PageAt};
use saghat_core::invoicing::model::{Discount, Percent, TaxCategory, TaxCode, Unit};
use saghat_core::invoicing::payments::{self, CreditScope};
use saghat_core::invoicing::service;
use saghat_core::invoicing::store::ListFilter;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_invoices, create_invoice))
        .routes(routes!(retrieve_invoice, replace_invoice))
        .routes(routes!(send_invoice))
        .routes(routes!(credit_invoice))
        .routes(routes!(invoice_ubl))
        .routes(routes!(invoice_cii))
        .routes(routes!(invoice_pdf))
        .routes(routes!(invoice_facturx))
}

/// A discount: exactly one of a percentage or an amount in the invoice's currency.
#[derive(Deserialize, ToSchema, Clone)]
pub struct DiscountWrite {
    /// Percent, to 2 places (`"10.00"`).
    #[schema(value_type = Option<String>)]
    pub percent: Option<DecimalText>,
    /// In the invoice currency's places (`"5.00"`).
    #[schema(value_type = Option<String>)]
    pub amount: Option<DecimalText>,
}

/// One line of a draft.
#[derive(Deserialize, ToSchema, Clone)]
pub struct LineWrite {
    /// The catalogue product the line came from, if any.
    pub product: Option<i64>,
    pub description: String,
    /// UN/ECE Recommendation 20 code; default `C62` (piece).
    pub unit: Option<String>,
    /// To 4 decimal places (`"1.5000"`).
    #[schema(value_type = String)]
    pub quantity: DecimalText,
    /// In the invoice currency's places (`"212.55"`).
    #[schema(value_type = String)]
    pub unit_price: DecimalText,
    pub discount: Option<DiscountWrite>,
    /// Default `S`.
    pub tax_code: Option<String>,
    /// Percent, to 2 places (`"19.00"`); default `"0.00"`.
    #[schema(value_type = Option<String>)]
    pub tax_rate: Option<DecimalText>,
}

/// A draft invoice as written (`POST`, and `PUT` while it is a draft).
#[derive(Deserialize, ToSchema)]
pub struct InvoiceWrite {
    /// The client's id.
    pub client: i64,
    /// Default: the client's currency.
    pub currency: Option<Currency>,
    /// `YYYY-MM-DD`.
    pub issue_date: String,
    /// `YYYY-MM-DD`; default the issue date plus the client's payment terms.
    pub due_date: Option<String>,
    pub lines: Vec<LineWrite>,
    pub discount: Option<DiscountWrite>,
    #[serde(default)]
    pub prices_include_tax: bool,
    #[serde(default)]
    pub notes: String,
    #[serde(default)]
    pub terms: String,
}

impl DrfBody for InvoiceWrite {
    const REQUIRED: &'static [&'static str] = &["client", "issue_date", "lines"];
    const NOT_BLANK: &'static [&'static str] = &["issue_date"];
    const NOT_NULL: &'static [&'static str] = &["prices_include_tax", "notes", "terms"];
}

/// The problems of a body's values, by field (`lines[0].quantity` for a line's, which the answer
/// nests as DRF does: `{"lines": [{"quantity": […]}]}`); the recurring templates' lines too.
#[derive(Default)]
pub(super) struct Problems(pub(super) BTreeMap<String, Vec<String>>);

impl Problems {
    pub(super) fn add(&mut self, field: String, message: String) {
        self.0.entry(field).or_default().push(message);
    }

    pub(super) fn date(&mut self, field: &str, text: &str) -> Option<NaiveDate> {
        let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
        if date.is_none() {
            self.add(
                field.into(),
                "Date has wrong format. Use YYYY-MM-DD.".into(),
            );
        }
        date
    }

    pub(super) fn discount(
        &mut self,
        field: &str,
        d: &DiscountWrite,
        currency: Currency,
    ) -> Option<Discount> {
        match (&d.percent, &d.amount) {
            (Some(p), None) => match p.percent() {
                Ok(p) => Some(Discount::Percent(p)),
                Err(e) => {
                    self.add(format!("{field}.percent"), e);
                    None
                }
            },
            (None, Some(a)) => match a.amount(currency) {
                Ok(a) => Some(Discount::Amount(a)),
                Err(e) => {
                    self.add(format!("{field}.amount"), e);
                    None
                }
            },
            _ => {
                self.add(field.into(), "Give either percent or amount.".into());
                None
            }
        }
    }

    pub(super) fn line(
        &mut self,
        index: usize,
        l: &LineWrite,
        currency: Currency,
    ) -> Option<DraftLine> {
        let field = |name: &str| format!("lines[{index}].{name}");
        let unit_code = l.unit.as_deref().unwrap_or("C62");
        let unit = Unit::parse(unit_code);
        if unit.is_none() {
            self.add(
                field("unit"),
                format!("\"{unit_code}\" is not a valid choice."),
            );
        }
        let tax_code = l.tax_code.as_deref().unwrap_or("S");
        let code = TaxCode::parse(tax_code);
        if code.is_none() {
            self.add(
                field("tax_code"),
                format!("\"{tax_code}\" is not a valid choice."),
            );
        }
        let rate = match &l.tax_rate {
            Some(rate) => rate
                .percent()
                .map_err(|e| self.add(field("tax_rate"), e))
                .ok(),
            None => Some(Percent(0)),
        };
        let quantity = l
            .quantity
            .quantity()
            .map_err(|e| self.add(field("quantity"), e))
            .ok();
        let unit_price = l
            .unit_price
            .amount(currency)
            .map_err(|e| self.add(field("unit_price"), e))
            .ok();
        let discount = match &l.discount {
            Some(d) => Some(self.discount(&field("discount"), d, currency)?),
            None => None,
        };
        Some(DraftLine {
            product_id: l.product,
            description: l.description.clone(),
            unit: unit?,
            quantity: quantity?,
            unit_price: unit_price?,
            discount,
            tax: TaxCategory {
                code: code?,
                rate: rate?,
            },
        })
    }
}

impl InvoiceWrite {
    /// The draft the services take; amounts are read in `currency`'s places.
    fn input(self, currency: Currency) -> DrfResult<DraftInput> {
        let mut p = Problems::default();
        let issue_date = p.date("issue_date", &self.issue_date);
        let due_date = self.due_date.as_ref().map(|text| p.date("due_date", text));
        let lines: Vec<Option<DraftLine>> = self
            .lines
            .iter()
            .enumerate()
            .map(|(i, l)| p.line(i, l, currency))
            .collect();
        let discount = self
            .discount
            .as_ref()
            .map(|d| p.discount("discount", d, currency));
        if !p.0.is_empty() {
            return Err(DrfError::Fields(p.0));
        }
        // Every value parsed: none of these is missing any more.
        let missing = || DrfError::field("non_field_errors", "Invalid data.");
        Ok(DraftInput {
            client_id: self.client,
            currency: Some(currency),
            issue_date: issue_date.ok_or_else(missing)?,
            due_date: due_date.map(|d| d.ok_or_else(missing)).transpose()?,
            lines: lines
                .into_iter()
                .collect::<Option<_>>()
                .ok_or_else(missing)?,
            discount: discount.map(|d| d.ok_or_else(missing)).transpose()?,
            prices_include_tax: self.prices_include_tax,
            notes: self.notes,
            terms: self.terms,
        })
    }
}

/// The invoice's currency: the one asked for, or its client's (which the actor must see).
async fn currency_of(
    state: &AppState,
    user: &saghat_core::auth::CurrentUser,
    body: &InvoiceWrite,
) -> DrfResult<Currency> {
    if let Some(currency) = body.currency {
        return Ok(currency);
    }
    let (client, _) = match service::get_client(state, user, body.client).await {
        Err(saghat_core::invoicing::error::InvoicingError::NotFound) => {
            let message = format!("Invalid pk \"{}\" - object does not exist.", body.client);
            return Err(DrfError::field("client", message));
        }
        other => other?,
    };
    Currency::parse(&client.currency).ok_or_else(|| DrfError::field("currency", "Unknown."))
}

/// Invoices, newest first, paged by key (DRF's `CursorPagination`: `{next, previous, results}`
/// with `?cursor=`, both ways). Filters: `status`,
/// `client`, `currency`, `kind`, `issued_from`, `issued_to`, `search` (a number's prefix or a
/// word of the client's name). A client user sees only its own sent invoices.
#[utoipa::path(get, path = "/invoices/", tag = "v1", security(("bearer" = [])),
    params(("cursor" = Option<String>, Query), ("page_size" = Option<String>, Query, description = "Rows per page: a positive integer, default 20; more than 100 is read as 100 and anything else is ignored, as DRF does"),
           ("status" = Option<String>, Query), ("client" = Option<i64>, Query), ("currency" = Option<String>, Query),
           ("kind" = Option<String>, Query), ("issued_from" = Option<String>, Query), ("issued_to" = Option<String>, Query),
           ("search" = Option<String>, Query)),
    responses((status = 200, body = CursorPage<InvoiceOut>), (status = 403, body = DrfErrorBody),
              (status = 404, description = "Invalid cursor", body = DrfErrorBody)))]
async fn list_invoices(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    pages: CursorQuery,
) -> DrfResult<Json<CursorPage<InvoiceOut>>> {
    let param = |name: &str| pages.url.param(name).map(str::to_string);
    let client_id = match param("client") {
        Some(text) => Some(
            text.parse::<i64>()
                .map_err(|_| DrfError::field("client", "Select a valid choice."))?,
        ),
        None => None,
    };
    let filter = ListFilter {
        status: param("status"),
        kind: param("kind"),
        client_id,
        currency: param("currency"),
        issued_from: param("issued_from"),
        issued_to: param("issued_to"),
        search: param("search"),
        exclude_drafts: false,
    };
    let at = match (pages.cursor.position.as_deref(), pages.cursor.reverse) {
        (None, false) => PageAt::First,
        (Some(position), false) => PageAt::After(position),
        (Some(position), true) => PageAt::Before(position),
        (None, true) => return Err(DrfError::InvalidCursor),
    };
    let page = invoices::list(&state, &user, filter, at, pages.size as i64, false).await?;
    let link = |position: String, reverse: bool| {
        let cursor = Cursor {
            position: Some(position),
            reverse,
        };
        pages.url.with_param("cursor", Some(&cursor.encode()))
    };
    Ok(Json(CursorPage {
        next: page.next_cursor.map(|p| link(p, false)),
        previous: page.previous_cursor.map(|p| link(p, true)),
        results: page.results.into_iter().map(Into::into).collect(),
    }))
}

/// Create a draft (admins and accountants).
#[utoipa::path(post, path = "/invoices/", tag = "v1", request_body = InvoiceWrite, security(("bearer" = [])),
    responses((status = 201, body = InvoiceDetailOut), (status = 403, body = DrfErrorBody)))]
async fn create_invoice(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    body: LaterJson,
) -> DrfResult<(StatusCode, Json<InvoiceDetailOut>)> {
    may(&user, Action::WriteInvoices)?;
    let body = body.parse::<InvoiceWrite>()?;
    let currency = currency_of(&state, &user, &body).await?;
    let input = body.input(currency)?;
    let detail = invoices::create_draft(&state, &user, &input, &meta).await?;
    Ok((StatusCode::CREATED, Json(detail.into())))
}

/// One invoice with its lines, taxes, allocations, credit notes and reminders.
#[utoipa::path(get, path = "/invoices/{id}/", tag = "v1", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = InvoiceDetailOut), (status = 403, body = DrfErrorBody)))]
async fn retrieve_invoice(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<Json<InvoiceDetailOut>> {
    Ok(Json(invoices::get(&state, &user, &id).await?.into()))
}

/// Replace a draft whole (admins and accountants); a sent invoice is immutable (400).
#[utoipa::path(put, path = "/invoices/{id}/", tag = "v1", request_body = InvoiceWrite, security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = InvoiceDetailOut), (status = 403, body = DrfErrorBody)))]
async fn replace_invoice(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    body: LaterJson,
) -> DrfResult<Json<InvoiceDetailOut>> {
    may(&user, Action::WriteInvoices)?;
    let body = body.parse::<InvoiceWrite>()?;
    let currency = currency_of(&state, &user, &body).await?;
    let input = body.input(currency)?;
    let detail = invoices::update_draft(&state, &user, &id, &input, &meta).await?;
    Ok(Json(detail.into()))
}

/// Send a draft: it gets its number, its client and seller snapshots and its ledger posting,
/// and never changes again. With an `Idempotency-Key`, a retry gets the first answer
/// (`Idempotent-Replayed: true`); the key on another request is 422.
#[utoipa::path(post, path = "/invoices/{id}/send/", tag = "v1", security(("bearer" = [])),
    params(("id" = String, Path),
           ("Idempotency-Key" = Option<String>, Header, description = "1 to 255 visible ASCII characters; kept 24 hours")),
    responses((status = 200, body = InvoiceDetailOut), (status = 403, body = DrfErrorBody),
              (status = 409, description = "A request with this key is still being processed", body = DrfErrorBody),
              (status = 422, description = "The key was used with another request", body = DrfErrorBody)))]
async fn send_invoice(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    idempotency: Idempotency,
) -> DrfResult<axum::response::Response> {
    use axum::response::IntoResponse;
    use saghat_core::platform::idempotency::Outcome;
    may(&user, Action::SendInvoices)?;
    let key = idempotency.key()?;
    let respond = |d: &InvoiceDetail| {
        let body = serde_json::to_value(InvoiceDetailOut::from(d.clone()));
        (StatusCode::OK.as_u16(), body.unwrap_or_default())
    };
    let outcome = invoices::send_once(&state, &user, &id, &meta, key.as_ref(), &respond).await?;
    Ok(match outcome {
        Outcome::Done(detail) => Json(InvoiceDetailOut::from(detail)).into_response(),
        Outcome::Replayed(stored) => crate::extract::replay(stored),
    })
}

/// A credit note (`POST /api/v1/invoices/{id}/credit-notes/`): the whole invoice, or the
/// lines given (a partial credit).
#[derive(Deserialize, ToSchema)]
pub struct CreditNoteWrite {
    /// `YYYY-MM-DD`.
    pub issue_date: String,
    /// The lines credited, in the invoice's currency; none: the whole invoice.
    pub lines: Option<Vec<LineWrite>>,
    #[serde(default)]
    pub notes: String,
}

impl DrfBody for CreditNoteWrite {
    const REQUIRED: &'static [&'static str] = &["issue_date"];
    const NOT_BLANK: &'static [&'static str] = &["issue_date"];
    const NOT_NULL: &'static [&'static str] = &["notes"];
}

/// Credit a sent invoice (admins and accountants): a credit note in its own series reverses it
/// in the ledger, wholly (the invoice becomes void) or in part.
#[utoipa::path(post, path = "/invoices/{id}/credit-notes/", tag = "v1", request_body = CreditNoteWrite, security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 201, body = InvoiceDetailOut), (status = 403, body = DrfErrorBody)))]
async fn credit_invoice(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    body: LaterJson,
) -> DrfResult<(StatusCode, Json<InvoiceDetailOut>)> {
    may(&user, Action::IssueCreditNotes)?;
    let body = body.parse::<CreditNoteWrite>()?;
    let invoice = invoices::get(&state, &user, &id).await?;
    let currency = Currency::parse(&invoice.invoice.currency)
        .ok_or_else(|| DrfError::field("currency", "Unknown currency."))?;
    let mut p = Problems::default();
    let issue_date = p.date("issue_date", &body.issue_date);
    let lines: Option<Vec<Option<DraftLine>>> = body.lines.as_ref().map(|lines| {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| p.line(i, l, currency))
            .collect()
    });
    if !p.0.is_empty() {
        return Err(DrfError::Fields(p.0));
    }
    let missing = || DrfError::field("non_field_errors", "Invalid data.");
    let scope = match lines {
        None => CreditScope::Whole,
        Some(lines) => CreditScope::Lines(
            lines
                .into_iter()
                .collect::<Option<_>>()
                .ok_or_else(missing)?,
        ),
    };
    let issue_date = issue_date.ok_or_else(missing)?;
    let note =
        payments::issue_credit_note(&state, &user, &id, scope, issue_date, &body.notes, &meta)
            .await?;
    Ok((StatusCode::CREATED, Json(note.into())))
}

/// Which EN 16931 syntax an export is written in.
#[derive(Clone, Copy)]
enum Syntax {
    Ubl,
    Cii,
}

/// A sent invoice or credit note as an EN 16931 XML file, from its one totals computation.
async fn einvoice(
    state: &AppState,
    user: &saghat_core::auth::CurrentUser,
    id: &str,
    syntax: Syntax,
) -> DrfResult<axum::response::Response> {
    use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
    use axum::response::IntoResponse;
    use saghat_core::invoicing::einvoice::{cii, ubl, EInvoiceInput};
    let model = invoices::sent_model(state, user, id).await?;
    let detail = invoices::get(state, user, id).await?;
    let totals = model
        .totals()
        .map_err(saghat_core::invoicing::error::InvoicingError::from)?;
    let input = EInvoiceInput {
        invoice: &model,
        totals: &totals,
        paid: detail.invoice.amount_paid,
        buyer_reference: None,
    };
    let (xml, suffix) = match syntax {
        Syntax::Ubl => (ubl::to_ubl(&input), "ubl"),
        Syntax::Cii => (cii::to_cii(&input), "cii"),
    };
    let xml = xml.map_err(|e| DrfError::field("non_field_errors", e.to_string()))?;
    let name = file_name(detail.invoice.number, id, &format!(".{suffix}.xml"));
    let disposition = format!("attachment; filename=\"{name}\"");
    Ok((
        [
            (CONTENT_TYPE, "application/xml; charset=utf-8".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        xml,
    )
        .into_response())
}

/// The sent invoice (or credit note) as EN 16931 UBL 2.1 XML. A draft is 404; what EN 16931
/// needs and the invoice lacks (the seller's VAT id, an ISO 4217 currency) is 400.
#[utoipa::path(get, path = "/invoices/{id}/ubl/", tag = "v1", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "UBL 2.1 Invoice or CreditNote", content_type = "application/xml", body = String),
              (status = 400, body = DrfErrorBody), (status = 403, body = DrfErrorBody)))]
async fn invoice_ubl(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<axum::response::Response> {
    einvoice(&state, &user, &id, Syntax::Ubl).await
}

/// The sent invoice (or credit note) as EN 16931 UN/CEFACT CII (D16B) XML, as `…/ubl/`.
#[utoipa::path(get, path = "/invoices/{id}/cii/", tag = "v1", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "CII CrossIndustryInvoice", content_type = "application/xml", body = String),
              (status = 400, body = DrfErrorBody), (status = 403, body = DrfErrorBody)))]
async fn invoice_cii(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<axum::response::Response> {
    einvoice(&state, &user, &id, Syntax::Cii).await
}

/// Which printed form of an invoice.
#[derive(Clone, Copy)]
enum Printed {
    Pdf,
    FacturX,
}

/// A file name from an invoice number: `[A-Z0-9-]` by its pattern; anything else is dropped.
fn file_name(number: Option<String>, id: &str, suffix: &str) -> String {
    let number = number.unwrap_or_else(|| id.to_string());
    let name: String = number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    format!("{name}{suffix}")
}

/// A sent invoice printed in its client's language, from its one totals computation; the
/// typesetting runs on the blocking pool, off the request threads.
async fn printed(
    state: &AppState,
    user: &saghat_core::auth::CurrentUser,
    id: &str,
    form: Printed,
) -> DrfResult<axum::response::Response> {
    use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
    use axum::response::IntoResponse;
    use saghat_core::platform::lang::Lang;
    use saghat_pdf::print::PrintError;
    let model = invoices::sent_model(state, user, id).await?;
    let row = invoices::get(state, user, id).await?.invoice;
    let lang = Lang::parse(&row.language).unwrap_or(Lang::En);
    let settled = row.amount_paid + row.amount_credited;
    let bytes = crate::printing::print_invoice(
        state,
        model,
        lang,
        settled,
        matches!(form, Printed::FacturX),
    )
    .await?
    .map_err(|e| match e {
        PrintError::Totals(t) => {
            DrfError::from(saghat_core::invoicing::error::InvoicingError::from(t))
        }
        // What EN 16931 needs and the invoice lacks, as for the XML downloads.
        PrintError::EInvoice(e) => DrfError::field("non_field_errors", e.to_string()),
        PrintError::Pdf(e) => DrfError::Api(crate::error::ApiError::Internal(e.into())),
    })?;
    let suffix = match form {
        Printed::Pdf => ".pdf",
        Printed::FacturX => ".facturx.pdf",
    };
    let disposition = format!(
        "attachment; filename=\"{}\"",
        file_name(row.number, id, suffix)
    );
    Ok((
        [
            (CONTENT_TYPE, "application/pdf".to_string()),
            (CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// The sent invoice (or credit note) as a PDF in its client's language. A draft is 404.
#[utoipa::path(get, path = "/invoices/{id}/pdf/", tag = "v1", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The invoice's PDF", content_type = "application/pdf", body = Vec<u8>),
              (status = 403, body = DrfErrorBody)))]
async fn invoice_pdf(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<axum::response::Response> {
    printed(&state, &user, &id, Printed::Pdf).await
}

/// The sent invoice as a Factur-X (EN 16931) PDF/A-3: the PDF with its CII XML embedded. What
/// EN 16931 needs and the invoice lacks (the seller's VAT id) is 400, as for `…/cii/`.
#[utoipa::path(get, path = "/invoices/{id}/facturx/", tag = "v1", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "Factur-X PDF/A-3", content_type = "application/pdf", body = Vec<u8>),
              (status = 400, body = DrfErrorBody), (status = 403, body = DrfErrorBody)))]
async fn invoice_facturx(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<axum::response::Response> {
    printed(&state, &user, &id, Printed::FacturX).await
}
