//! `/api/v1/clients/`: the customers invoices are made out to, over the invoicing services
//! (which check the role again and audit). Staff read them; admins and accountants write.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::decimal::StatementOut;
use super::drf::{may, path_id, Authenticated, DrfBody, DrfErrorBody, DrfResult, LaterJson};
use super::drf::{DrfError, Page, PageQuery, RequestUrl, REQUIRED};
use crate::state::AppState;
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::model::Address;
use saghat_core::invoicing::payments;
use saghat_core::invoicing::service::{self, ClientInput};
use saghat_core::invoicing::store::{ClientRow, ContactRow};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_clients, create_client))
        .routes(routes!(retrieve_client, replace_client))
        .routes(routes!(client_statement))
}

/// A client with its contacts.
#[derive(Serialize, ToSchema)]
pub struct ClientDetail {
    #[serde(flatten)]
    pub client: ClientRow,
    pub contacts: Vec<ContactRow>,
}

/// A client as written (`POST` and `PUT`).
#[derive(Deserialize, ToSchema)]
pub struct ClientWrite {
    /// `company` (default) or `individual`.
    #[serde(default = "company")]
    pub kind: String,
    #[schema(max_length = 200)]
    pub name: String,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub street: String,
    #[serde(default)]
    pub city: String,
    #[serde(default)]
    pub postal_code: String,
    /// ISO 3166-1 alpha-2.
    pub country_code: String,
    /// `fa` or `en` (default): the language of the client's invoices.
    #[serde(default = "english")]
    pub language: String,
    pub currency: Currency,
    /// Days from issue to due date, 0–365 (default 30).
    #[serde(default = "thirty")]
    pub payment_terms_days: i64,
    #[serde(default)]
    pub notes: String,
    /// Payment reminders by e-mail (default true; false when the client asked for none).
    #[serde(default = "yes")]
    pub send_reminders: bool,
}

fn yes() -> bool {
    true
}
fn company() -> String {
    "company".into()
}
fn english() -> String {
    "en".into()
}
fn thirty() -> i64 {
    30
}

impl DrfBody for ClientWrite {
    const REQUIRED: &'static [&'static str] = &["name", "country_code", "currency"];
    const NOT_BLANK: &'static [&'static str] = &["name", "country_code"];
    const NOT_NULL: &'static [&'static str] = &["send_reminders"];
}

impl From<ClientWrite> for ClientInput {
    fn from(c: ClientWrite) -> Self {
        ClientInput {
            kind: c.kind,
            name: c.name,
            tax_id: c.tax_id,
            email: c.email,
            address: Address {
                street: c.street,
                city: c.city,
                postal_code: c.postal_code,
                country_code: c.country_code,
            },
            language: c.language,
            currency: c.currency,
            payment_terms_days: c.payment_terms_days,
            notes: c.notes,
            send_reminders: c.send_reminders,
        }
    }
}

/// Clients by name, a page at a time; `?search=` in names, `?include_archived=true`.
#[utoipa::path(get, path = "/clients/", tag = "v1", security(("bearer" = [])),
    params(("page" = Option<String>, Query, description = "A page number, or `last`"),
           ("page_size" = Option<String>, Query, description = "Rows per page: a positive integer, default 20; more than 100 is read as 100 and anything else is ignored, as DRF does"),
           ("search" = Option<String>, Query), ("include_archived" = Option<String>, Query, description = "`true` lists the archived ones too; any other value does not")),
    responses((status = 200, body = Page<ClientRow>), (status = 403, body = DrfErrorBody),
              (status = 404, description = "Invalid page.", body = DrfErrorBody)))]
async fn list_clients(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    pages: PageQuery,
) -> DrfResult<Json<Page<ClientRow>>> {
    let search = pages.url.param("search").map(str::to_string);
    let archived = pages.url.param("include_archived") == Some("true");
    let page = pages
        .fetch(|limit, offset| {
            service::list_clients(&state, &user, archived, search.as_deref(), limit, offset)
        })
        .await?;
    Ok(Json(page))
}

/// Create a client (admins and accountants).
#[utoipa::path(post, path = "/clients/", tag = "v1", request_body = ClientWrite, security(("bearer" = [])),
    responses((status = 201, body = ClientDetail), (status = 403, body = DrfErrorBody)))]
async fn create_client(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    body: LaterJson,
) -> DrfResult<(StatusCode, Json<ClientDetail>)> {
    may(&user, Action::WriteClients)?;
    let input: ClientInput = body.parse::<ClientWrite>()?.into();
    let client = service::create_client(&state, &user, &input, &meta).await?;
    let detail = ClientDetail {
        client,
        contacts: vec![],
    };
    Ok((StatusCode::CREATED, Json(detail)))
}

/// One client with its contacts.
#[utoipa::path(get, path = "/clients/{id}/", tag = "v1", security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ClientDetail), (status = 403, body = DrfErrorBody)))]
async fn retrieve_client(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
) -> DrfResult<Json<ClientDetail>> {
    let id = path_id(&id)?;
    let (client, contacts) = service::get_client(&state, &user, id).await?;
    Ok(Json(ClientDetail { client, contacts }))
}

/// Replace a client's fields (admins and accountants). Its currency stays once it is invoiced.
#[utoipa::path(put, path = "/clients/{id}/", tag = "v1", request_body = ClientWrite, security(("bearer" = [])),
    params(("id" = i64, Path)),
    responses((status = 200, body = ClientDetail), (status = 403, body = DrfErrorBody)))]
async fn replace_client(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    meta: RequestMeta,
    Path(id): Path<String>,
    body: LaterJson,
) -> DrfResult<Json<ClientDetail>> {
    may(&user, Action::WriteClients)?;
    let id = path_id(&id)?;
    let input: ClientInput = body.parse::<ClientWrite>()?.into();
    service::update_client(&state, &user, id, &input, &meta).await?;
    let (client, contacts) = service::get_client(&state, &user, id).await?;
    Ok(Json(ClientDetail { client, contacts }))
}

/// A client's statement from `?from=` to `?to=` (`YYYY-MM-DD`, inclusive): its sent invoices,
/// credit notes, payments and refunds, and the balance per currency. A client user reads its
/// own.
#[utoipa::path(get, path = "/clients/{id}/statement/", tag = "v1", security(("bearer" = [])),
    params(("id" = i64, Path), ("from" = String, Query), ("to" = String, Query)),
    responses((status = 200, body = StatementOut), (status = 400, body = DrfErrorBody), (status = 403, body = DrfErrorBody)))]
async fn client_statement(
    State(state): State<AppState>,
    Authenticated(user): Authenticated,
    Path(id): Path<String>,
    url: RequestUrl,
) -> DrfResult<Json<StatementOut>> {
    let id = path_id(&id)?;
    let mut fields = std::collections::BTreeMap::<String, Vec<String>>::new();
    let mut date = |name: &str| match url.param(name) {
        None => {
            fields.insert(name.into(), vec![REQUIRED.into()]);
            None
        }
        Some(text) => {
            let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok();
            if date.is_none() {
                let message = "Date has wrong format. Use YYYY-MM-DD.";
                fields.insert(name.into(), vec![message.into()]);
            }
            date
        }
    };
    let (from, to) = (date("from"), date("to"));
    let (Some(from), Some(to)) = (from, to) else {
        return Err(DrfError::Fields(fields));
    };
    Ok(Json(
        payments::statement(&state, &user, id, from, to)
            .await?
            .into(),
    ))
}
