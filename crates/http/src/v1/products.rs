//! `/api/v1/products/`: the catalogue of products and services, with prices in each one's
//! currency as DRF decimal strings in its places (never floating point; see `decimal`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::decimal::{self, DecimalText};
use super::drf::{may, path_id, Authenticated, DrfBody, DrfError, DrfErrorBody, DrfResult};
use super::drf::{LaterJson, Page, PageQuery};
use crate::state::AppState;
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::model::{TaxCategory, TaxCode, Unit};
use saghat_core::invoicing::service::{self, ProductInput};
use saghat_core::invoicing::store::ProductRow;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products, create_product))
        .routes(routes!(retrieve_product, replace_product))
}

/// A product as `/api/v1` shows one.
#[derive(Serialize, ToSchema)]
pub struct Product {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// UN/ECE Recommendation 20 code (`C62` piece, `HUR` hour, …).
    pub unit: String,
    /// In `currency`, with its minor units (`"12.50"` EUR, `"1500000"` IRR).
    pub unit_price: String,
    pub currency: String,
    /// EN 16931 tax category code (`S`, `Z`, `E`, `AE`, …).
    pub tax_code: String,
    /// Percent, to 2 places (`"9.00"`, `"19.60"`).
    pub tax_rate: String,
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<ProductRow> for Product {
    fn from(p: ProductRow) -> Self {
        let price = decimal::amount(&p.currency, p.unit_price);
        Product {
            id: p.id,
            name: p.name,
            description: p.description,
            unit: p.unit,
            unit_price: price,
            currency: p.currency,
            tax_code: p.tax_code,
            tax_rate: decimal::percent(p.tax_rate),
            archived: p.archived,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// A product as written (`POST` and `PUT`).
#[derive(Deserialize, ToSchema)]
pub struct ProductWrite {
    #[schema(max_length = 200)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// UN/ECE Recommendation 20 code; default `C62` (piece).
    #[serde(default = "piece")]
    pub unit: String,
    /// A decimal string (or an exact JSON number) in `currency`'s places at most.
    #[schema(value_type = String)]
    pub unit_price: DecimalText,
    pub currency: Currency,
    /// Default `S` (standard rate).
    #[serde(default = "standard")]
    pub tax_code: String,
    /// Percent, to 2 places; default `"0.00"`.
    #[serde(default = "zero")]
    #[schema(value_type = String)]
    pub tax_rate: DecimalText,
}

fn piece() -> String {
    "C62".into()
}
fn standard() -> String {
    "S".into()
}
fn zero() -> DecimalText {
    DecimalText("0".into())
}

impl DrfBody for ProductWrite {
    const REQUIRED: &'static [&'static str] = &["name", "unit_price", "currency"];
    const NOT_BLANK: &'static [&'static str] = &["name", "unit_price"];
}

impl ProductWrite {
    /// The codes and decimals read into the service's input, each bad one under its field.
    fn input(self) -> DrfResult<ProductInput> {
        let mut fields = std::collections::BTreeMap::new();
        let unit = Unit::parse(&self.unit);
        if unit.is_none() {
            fields.insert("unit", format!("\"{}\" is not a valid choice.", self.unit));
        }
        let code = TaxCode::parse(&self.tax_code);
        if code.is_none() {
            fields.insert(
                "tax_code",
                format!("\"{}\" is not a valid choice.", self.tax_code),
            );
        }
        let price = self.unit_price.amount(self.currency);
        if let Err(e) = &price {
            fields.insert("unit_price", e.clone());
        }
        let rate = self.tax_rate.percent();
        if let Err(e) = &rate {
            fields.insert("tax_rate", e.clone());
        }
        match (unit, code, price, rate) {
            (Some(unit), Some(code), Ok(unit_price), Ok(rate)) => Ok(ProductInput {
                name: self.name,
                description: self.description,
                unit,
                unit_price,
                currency: self.currency,
                tax: TaxCategory { code, rate },
            }),
            _ => Err(DrfError::Fields(
                fields
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), vec![v]))
                    .collect(),
            )),
        }
    }
}

/// Products by name, a page at a time; `?include_archived=true`.
#[utoipa::path(get, path = "/products/", tag = "v1", security(("bearer" = [])),
    params(("page" = Option<String>, Query, description = "A page number, or `last`"),
           ("page_size" = Option<String>, Query, description = "Rows per page: a positive integer, default 20; more than 100 is read as 100 and anything else is ignored, as DRF does"),
           ("include_archived" = Option<String>, Query, description = "`true` lists the archived ones too; any other value does not")),
    responses((status = 200, body = Page<Product>), (status = 403, body = DrfErrorBody),
              (status = 404, description = "Invalid page.", body = DrfErrorBody)))]
async fn list_products(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    pages: PageQuery,
) -> DrfResult<Json<Page<Product>>> {
    let archived = pages.url.param("include_archived") == Some("true");
    let page = pages
        .fetch(|limit, offset| {
            let (state, user) = (&state, &user);
            async move {
                let (rows, total) =
                    service::list_products(state, user, archived, None, limit, offset).await?;
                Ok::<_, DrfError>((rows.into_iter().map(Product::from).collect(), total))
            }
        })
        .await?;
    Ok(Json(page))
}

/// Add a product (admins and accountants).
#[utoipa::path(post, path = "/products/", tag = "v1", request_body = ProductWrite, security(("bearer" = [])),
    responses((status = 201, body = Product), (status = 403, body = DrfErrorBody)))]
async fn create_product(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    body: LaterJson,
) -> DrfResult<(StatusCode, Json<Product>)> {
    may(&user, Action::ManageProducts)?;
    let input = body.parse::<ProductWrite>()?.input()?;
    let row = service::create_product(&state, &user, &input, &meta).await?;
    Ok((StatusCode::CREATED, Json(row.into())))
}

/// One product.
#[utoipa::path(get, path = "/products/{id}/", tag = "v1", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Product), (status = 403, body = DrfErrorBody)))]
async fn retrieve_product(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<Json<Product>> {
    let id = path_id(&id)?;
    Ok(Json(service::get_product(&state, &user, id).await?.into()))
}

/// Replace a product's fields (admins and accountants); invoices keep what they were sent with.
#[utoipa::path(put, path = "/products/{id}/", tag = "v1", request_body = ProductWrite, security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = Product), (status = 403, body = DrfErrorBody)))]
async fn replace_product(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    body: LaterJson,
) -> DrfResult<Json<Product>> {
    may(&user, Action::ManageProducts)?;
    let id = path_id(&id)?;
    let input = body.parse::<ProductWrite>()?.input()?;
    let row = service::update_product(&state, &user, id, &input, &meta).await?;
    Ok(Json(row.into()))
}
