//! `/products`, `/products/new`, `/products/{id}`: the products list (searched by name, archived
//! ones on request, a page at a time) and the product form: name, description, unit, price in
//! its currency's places, tax category and rate; archived and brought back, never deleted.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use serde::Deserialize;

use super::{
    currency_name, frame, may, money, page_error, refusal, require, tax_label, unit_name, RawForm,
};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::FormErrors;
use crate::web::i18n::{normalize_number, Lang, UiText};
use crate::web::pages::{render, View};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebResult};
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::model::{Percent, TaxCategory, TaxCode, Unit};
use saghat_core::invoicing::service::{self, ProductInput};
use saghat_core::invoicing::store::ProductRow;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use saghat_core::platform::decimal::DecimalError;

/// Products per page of the list.
const PRODUCTS_PAGE: i64 = 50;

/// `?done=…` after a product's redirect.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ProductDone {
    pub done: String,
}

impl ProductDone {
    pub fn notice(&self) -> Option<&'static str> {
        Some(match self.done.as_str() {
            "saved" => "pr_done_saved",
            "archived" => "pr_done_archived",
            "unarchived" => "pr_done_unarchived",
            _ => return None,
        })
    }
}

// ---- /products ----

#[derive(Deserialize, Default)]
#[serde(default)]
pub struct ProductsQuery {
    pub q: String,
    /// `1`: archived products are listed too.
    pub archived: String,
    pub page: i64,
    pub done: String,
}

pub struct ProductLine {
    pub id: i64,
    pub name: String,
    pub unit: String,
    pub price: String,
    pub currency: String,
    pub tax: String,
    pub archived: bool,
}

#[derive(Template)]
#[template(path = "invoicing_products.html")]
pub struct ProductsPage {
    pub v: View,
    pub q: String,
    pub show_archived: bool,
    pub products: Vec<ProductLine>,
    pub count: String,
    pub may_write: bool,
    pub prev: Option<String>,
    pub next: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(q): Query<ProductsQuery>,
) -> WebResult<Response> {
    require(&session.user, Action::ReadProducts)?;
    let lang = prefs.lang;
    let page = q.page.max(0);
    let show_archived = q.archived == "1";
    let search = Some(q.q.trim()).filter(|s| !s.is_empty());
    let (rows, count) = service::list_products(
        &state,
        &session.user,
        show_archived,
        search,
        PRODUCTS_PAGE,
        page.saturating_mul(PRODUCTS_PAGE),
    )
    .await
    .map_err(page_error)?;
    let mut query = form_urlencoded::Serializer::new(String::new());
    if let Some(s) = search {
        query.append_pair("q", s);
    }
    if show_archived {
        query.append_pair("archived", "1");
    }
    let query = query.finish();
    let href = |p: i64| {
        let join = if query.is_empty() { "" } else { "&" };
        format!("/products?{query}{join}page={p}")
    };
    let path = if query.is_empty() {
        "/products".to_string()
    } else {
        format!("/products?{query}")
    };
    let done = ProductDone { done: q.done };
    let v = frame(
        &state,
        prefs,
        &session,
        &path,
        "products",
        "pr_title",
        done.notice(),
    );
    render(&ProductsPage {
        products: rows.iter().map(|p| line(lang, p)).collect(),
        count: lang.int(count),
        may_write: may(&session.user, Action::ManageProducts),
        prev: (page > 0).then(|| href(page - 1)),
        next: ((page + 1) * PRODUCTS_PAGE < count).then(|| href(page + 1)),
        show_archived,
        q: q.q,
        v,
    })
}

fn line(lang: Lang, p: &ProductRow) -> ProductLine {
    ProductLine {
        id: p.id,
        name: p.name.clone(),
        unit: unit_name(lang, &p.unit),
        price: money(lang, &p.currency, p.unit_price),
        currency: currency_name(lang, &p.currency),
        tax: tax_label(lang, &p.tax_code, p.tax_rate),
        archived: p.archived,
    }
}

// ---- /products/new and /products/{id} ----

const FIELDS: &[&str] = &[
    "name",
    "description",
    "unit",
    "currency",
    "unit_price",
    "tax_code",
    "tax_rate",
];

/// The product form as typed (numbers in either digits).
#[derive(Clone, Default, Debug)]
pub struct ProductForm {
    pub name: String,
    pub description: String,
    pub unit: String,
    pub currency: String,
    pub unit_price: String,
    pub tax_code: String,
    pub tax_rate: String,
}

impl ProductForm {
    fn of_raw(raw: &RawForm) -> ProductForm {
        ProductForm {
            name: raw.get("name").to_string(),
            description: raw.get("description").to_string(),
            unit: raw.get("unit").to_string(),
            currency: raw.get("currency").to_string(),
            unit_price: raw.get("unit_price").to_string(),
            tax_code: raw.get("tax_code").to_string(),
            tax_rate: raw.get("tax_rate").to_string(),
        }
    }

    fn of_row(lang: Lang, p: &ProductRow) -> ProductForm {
        let price = match Currency::parse(&p.currency) {
            Some(c) => c.format(i128::from(p.unit_price)),
            None => p.unit_price.to_string(),
        };
        ProductForm {
            name: p.name.clone(),
            description: p.description.clone(),
            unit: p.unit.clone(),
            currency: p.currency.clone(),
            unit_price: lang.digits(&price),
            tax_code: p.tax_code.clone(),
            tax_rate: lang.digits(&Percent(p.tax_rate).to_string()),
        }
    }

    fn blank(lang: Lang) -> ProductForm {
        ProductForm {
            unit: Unit::Piece.code().into(),
            currency: "EUR".into(),
            tax_code: TaxCode::Standard.code().into(),
            tax_rate: lang.digits("0"),
            ..ProductForm::default()
        }
    }

    /// The product as the service takes it, or the fields to fix (the price is read in the
    /// chosen currency's places, so it can only be checked once the currency is known).
    fn input(&self, lang: Lang) -> Result<ProductInput, FormErrors> {
        let mut errors = FormErrors::default();
        let unit = Unit::parse(&self.unit);
        if unit.is_none() {
            errors.add(Some("unit"), lang.t("required"));
        }
        let currency = Currency::parse(&self.currency);
        let price = match currency {
            None => {
                errors.add(Some("currency"), lang.t("required"));
                None
            }
            Some(c) => match c.parse_amount(&normalize_number(&self.unit_price)) {
                Ok(price) => Some(price),
                Err(e) => {
                    let text = match e {
                        DecimalError::TooPrecise(_) => lang
                            .t("pr_bad_price")
                            .replace("{places}", &lang.int(i64::from(c.minor_units()))),
                        DecimalError::TooLarge => lang.t("iv_bad_too_large").to_string(),
                        _ => lang.t("iv_bad_number").to_string(),
                    };
                    errors.add(Some("unit_price"), text);
                    None
                }
            },
        };
        let code = TaxCode::parse(&self.tax_code);
        if code.is_none() {
            errors.add(Some("tax_code"), lang.t("required"));
        }
        let rate_text = normalize_number(&self.tax_rate);
        let rate = if rate_text.is_empty() {
            Ok(Percent(0))
        } else {
            Percent::parse(&rate_text)
        };
        if rate.is_err() {
            errors.add(Some("tax_rate"), lang.t("iv_bad_number"));
        }
        match (unit, currency, price, code, rate) {
            (Some(unit), Some(currency), Some(unit_price), Some(code), Ok(rate))
                if errors.is_empty() =>
            {
                Ok(ProductInput {
                    name: self.name.clone(),
                    description: self.description.clone(),
                    unit,
                    unit_price,
                    currency,
                    tax: TaxCategory { code, rate },
                })
            }
            _ => Err(errors),
        }
    }
}

fn place(field: &str) -> Option<String> {
    FIELDS.contains(&field).then(|| field.to_string())
}

#[derive(Template)]
#[template(path = "invoicing_product.html")]
pub struct ProductPage {
    pub v: View,
    pub id: Option<i64>,
    /// The stored name: it heads the page even while a changed one is being fixed.
    pub name: String,
    pub archived: bool,
    pub form: ProductForm,
    pub errors: FormErrors,
    pub may_write: bool,
    pub units: Vec<(&'static str, String)>,
    pub taxes: Vec<(&'static str, &'static str)>,
    pub currencies: Vec<(&'static str, String)>,
}

impl ProductPage {
    pub fn err(&self, name: &str) -> Option<String> {
        self.errors.field(name).map(str::to_string)
    }
}

async fn product_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    id: Option<i64>,
    form: Option<ProductForm>,
    errors: FormErrors,
    notice: Option<&'static str>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let mut archived = false;
    let mut name = String::new();
    let form = match id {
        Some(id) => {
            let row = service::get_product(state, &session.user, id)
                .await
                .map_err(page_error)?;
            archived = row.archived;
            name = row.name.clone();
            form.unwrap_or_else(|| ProductForm::of_row(lang, &row))
        }
        None => form.unwrap_or_else(|| ProductForm::blank(lang)),
    };
    let (path, title) = match id {
        Some(id) => (format!("/products/{id}"), "pr_edit_title"),
        None => ("/products/new".to_string(), "pr_new_title"),
    };
    let v = frame(state, prefs, session, &path, "products", title, notice);
    render(&ProductPage {
        name,
        may_write: may(&session.user, Action::ManageProducts),
        id,
        archived,
        form,
        errors,
        units: Unit::ALL
            .iter()
            .map(|u| (u.code(), unit_name(lang, u.code())))
            .collect(),
        taxes: TaxCode::ALL
            .iter()
            .map(|c| (c.code(), super::tax_name(lang, c.code())))
            .collect(),
        currencies: Currency::ALL
            .iter()
            .map(|c| (c.code(), currency_name(lang, c.code())))
            .collect(),
        v,
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
) -> WebResult<Response> {
    require(&session.user, Action::ManageProducts)?;
    product_page(
        &state,
        prefs,
        &session,
        None,
        None,
        FormErrors::default(),
        None,
    )
    .await
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Path(id): Path<i64>,
    Query(done): Query<ProductDone>,
) -> WebResult<Response> {
    require(&session.user, Action::ReadProducts)?;
    product_page(
        &state,
        prefs,
        &session,
        Some(id),
        None,
        FormErrors::default(),
        done.notice(),
    )
    .await
}

pub async fn create(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    save(&state, prefs, &meta, &session, None, &raw).await
}

pub async fn update(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<i64>,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    save(&state, prefs, &meta, &session, Some(id), &raw).await
}

async fn save(
    state: &AppState,
    prefs: Prefs,
    meta: &RequestMeta,
    session: &Session,
    id: Option<i64>,
    raw: &RawForm,
) -> WebResult<Response> {
    require(&session.user, Action::ManageProducts)?;
    let form = ProductForm::of_raw(raw);
    let input = match form.input(prefs.lang) {
        Ok(input) => input,
        Err(errors) => {
            return product_page(state, prefs, session, id, Some(form), errors, None).await
        }
    };
    let saved = match id {
        None => service::create_product(state, &session.user, &input, meta).await,
        Some(id) => service::update_product(state, &session.user, id, &input, meta).await,
    };
    match saved {
        Ok(row) => Ok(see_other(&format!("/products/{}?done=saved", row.id))),
        Err(e) => {
            let errors = refusal(e, prefs.lang, place)?;
            product_page(state, prefs, session, id, Some(form), errors, None).await
        }
    }
}

/// `POST /products/{id}/archive` with `archived=1` (archive) or `archived=0` (bring back).
pub async fn archive(
    State(state): State<AppState>,
    meta: RequestMeta,
    Path(id): Path<i64>,
    CsrfForm(session, raw): CsrfForm<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::ManageProducts)?;
    let archived = match raw.get("archived") {
        "1" => true,
        "0" => false,
        _ => return Err(ApiError::bad_request("archived: must be 0 or 1").into()),
    };
    service::archive_product(&state, &session.user, id, archived, &meta)
        .await
        .map_err(page_error)?;
    let done = if archived { "archived" } else { "unarchived" };
    Ok(see_other(&format!("/products/{id}?done={done}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(currency: &str, price: &str, code: &str, rate: &str) -> ProductForm {
        ProductForm {
            name: "Support".into(),
            unit: "HUR".into(),
            currency: currency.into(),
            unit_price: price.into(),
            tax_code: code.into(),
            tax_rate: rate.into(),
            ..ProductForm::default()
        }
    }

    #[test]
    fn prices_are_read_in_the_currencys_places_and_either_digits() {
        let usdt = form("USDT", "۱۲٫۳۴۵۶۷۸۹۱", "S", "۹")
            .input(Lang::Fa)
            .unwrap();
        assert_eq!(usdt.unit_price, 1_234_567_891);
        assert_eq!(usdt.tax.rate, Percent(900));
        let irr = form("IRR", "1500000", "S", "10").input(Lang::En).unwrap();
        assert_eq!(irr.unit_price, 1_500_000);
        let errors = form("IRR", "10.5", "S", "10").input(Lang::En).unwrap_err();
        assert_eq!(
            errors.field("unit_price"),
            Some("Enter the price with at most 0 decimal places for this currency.")
        );
        let errors = form("EUR", "1", "X", "abc").input(Lang::En).unwrap_err();
        assert!(errors.field("tax_code").is_some() && errors.field("tax_rate").is_some());
    }

    #[test]
    fn every_notice_is_translated() {
        for done in ["saved", "archived", "unarchived"] {
            let key = ProductDone { done: done.into() }.notice().unwrap();
            for lang in [Lang::En, Lang::Fa] {
                assert_ne!(lang.t(key), "?", "{key}");
            }
        }
    }
}
