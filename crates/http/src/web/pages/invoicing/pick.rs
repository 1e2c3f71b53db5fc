//! Choosers of a client or a product that work with any number of them: a search box whose
//! matches (at most `PICK_LIMIT`, archived ones left out) fill the `<select>` beside it —
//! through htmx as one types (`/invoices/pick/clients?q=`,
//! `/invoices/pick/products?q=&currency=`), or on the form's "Find" button without script.
//! The `<select>` still posts the id, and the one chosen stays in it whatever the search.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};

use super::{page_error, require, RawForm};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::i18n::UiText;
use crate::web::session::{Prefs, Session, WebResult};
use saghat_core::auth::CurrentUser;
use saghat_core::invoicing::access::Action;
use saghat_core::invoicing::service;
use saghat_core::invoicing::store::ProductRow;
use saghat_core::platform::currency::Currency;

/// At most this many matches in a chooser.
pub const PICK_LIMIT: i64 = 20;

/// One `<option>` of a chooser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Choice {
    pub id: i64,
    pub name: String,
    pub selected: bool,
}

/// The chosen client first when the search does not find it, then the matches of `search`.
pub async fn client_choices(
    state: &AppState,
    user: &CurrentUser,
    selected: Option<i64>,
    search: &str,
) -> WebResult<Vec<Choice>> {
    let matches = service::pick_clients(state, user, search.trim(), PICK_LIMIT)
        .await
        .map_err(page_error)?;
    let mut choices = Vec::new();
    if let Some(id) = selected.filter(|id| !matches.iter().any(|(m, _)| m == id)) {
        let named = service::client_names(state, user, &[id])
            .await
            .map_err(page_error)?;
        choices.extend(named.into_iter().map(|(id, name)| Choice {
            id,
            name,
            selected: true,
        }));
    }
    choices.extend(matches.into_iter().map(|(id, name)| Choice {
        selected: Some(id) == selected,
        id,
        name,
    }));
    Ok(choices)
}

/// The products matching `search` (in `currency` when known), as rows.
pub async fn product_matches(
    state: &AppState,
    user: &CurrentUser,
    search: &str,
    currency: Option<Currency>,
) -> WebResult<Vec<ProductRow>> {
    service::pick_products(state, user, search.trim(), currency, PICK_LIMIT)
        .await
        .map_err(page_error)
}

/// The chosen product first when `matches` lack it, then `matches`.
pub async fn product_choices(
    state: &AppState,
    user: &CurrentUser,
    selected: Option<i64>,
    matches: &[ProductRow],
) -> WebResult<Vec<Choice>> {
    let mut choices = Vec::new();
    if let Some(id) = selected.filter(|id| !matches.iter().any(|p| p.id == *id)) {
        match service::get_product(state, user, id).await {
            Ok(p) => choices.push(Choice {
                id,
                name: p.name,
                selected: true,
            }),
            // A product id that is not one: nothing to keep.
            Err(saghat_core::invoicing::error::InvoicingError::NotFound) => {}
            Err(e) => return Err(page_error(e)),
        }
    }
    choices.extend(matches.iter().map(|p| Choice {
        id: p.id,
        name: p.name.clone(),
        selected: Some(p.id) == selected,
    }));
    Ok(choices)
}

#[derive(Template)]
#[template(path = "invoicing_pick_options.html")]
pub struct OptionsFragment {
    pub blank: &'static str,
    pub choices: Vec<Choice>,
}

fn fragment(page: OptionsFragment) -> WebResult<Response> {
    Ok(Html(page.render().map_err(|e| ApiError::Internal(e.into()))?).into_response())
}

/// The first of `names` the query has a non-empty value for: a search box keeps its own
/// name in the form it belongs to (`client_q`, `lines[2].product_q`), so the same box works
/// when the form is posted without script.
fn first<'a>(raw: &'a RawForm, names: &[&str]) -> &'a str {
    names
        .iter()
        .map(|n| raw.get(n).trim())
        .find(|v| !v.is_empty())
        .unwrap_or("")
}

/// `GET /invoices/pick/clients?q=…&selected=…`: the `<option>`s of a client chooser.
/// `blank=any` names the empty choice "Any" (a filter) rather than "Choose…".
pub async fn clients(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(raw): Query<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::ReadClients)?;
    let search = first(&raw, &["q", "client_q"]);
    let selected = first(&raw, &["selected", "client_id", "client"])
        .parse()
        .ok();
    let choices = client_choices(&state, &session.user, selected, search).await?;
    let blank = prefs.lang.t(if raw.get("blank") == "any" {
        "tk_any"
    } else {
        "iv_choose"
    });
    fragment(OptionsFragment { blank, choices })
}

/// `GET /invoices/pick/products?q=…&currency=…&line=…`: the `<option>`s of a line's product
/// chooser, in the invoice's currency (the form's, else its client's) when it is known.
pub async fn products(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(raw): Query<RawForm>,
) -> WebResult<Response> {
    require(&session.user, Action::ReadProducts)?;
    let line = raw.get("line");
    let search = first(&raw, &["q", &format!("lines[{line}].product_q")]);
    let selected = first(&raw, &["selected", &format!("lines[{line}].product_id")])
        .parse()
        .ok();
    let currency = invoice_currency(
        &state,
        &session.user,
        raw.get("currency"),
        raw.get("client_id"),
    )
    .await;
    let matches = product_matches(&state, &session.user, search, currency).await?;
    let choices = product_choices(&state, &session.user, selected, &matches).await?;
    fragment(OptionsFragment {
        blank: prefs.lang.t("iv_no_product"),
        choices,
    })
}

/// The invoice's currency: the one chosen, else its client's, else unknown.
pub async fn invoice_currency(
    state: &AppState,
    user: &CurrentUser,
    currency: &str,
    client_id: &str,
) -> Option<Currency> {
    if let Some(c) = Currency::parse(currency) {
        return Some(c);
    }
    let id = client_id.parse::<i64>().ok()?;
    let (client, _) = service::get_client(state, user, id).await.ok()?;
    Currency::parse(&client.currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_box_is_read_by_its_own_name_too() {
        let raw = RawForm(vec![
            ("q".into(), " ".into()),
            ("client_q".into(), "acme".into()),
        ]);
        assert_eq!(first(&raw, &["q", "client_q"]), "acme");
        assert_eq!(first(&raw, &["selected", "client_id"]), "");
    }
}
