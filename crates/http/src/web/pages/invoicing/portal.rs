//! `/portal`: a client user's own client only: its sent invoices (never drafts), their files,
//! its statement and its payments. Another client's invoice is "not found" on its page.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::response::Response;

use super::clients::{period, statement_rows, BalanceRow, StatementRow};
use super::invoices::{portal_client, InvoiceLine};
use super::payments::{payment_lines, PaymentLine};
use super::{frame, page_error, today};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::pages::{render, View};
use crate::web::session::{Prefs, Session, WebResult};
use saghat_core::auth::Role;
use saghat_core::invoicing::invoices::{self, PageAt};
use saghat_core::invoicing::payments;
use saghat_core::invoicing::store::{self, ListFilter};

#[derive(Template)]
#[template(path = "invoicing_portal.html")]
pub struct PortalPage {
    pub v: View,
    pub client: String,
    pub rows: Vec<InvoiceLine>,
    pub payments: Vec<PaymentLine>,
    pub statement: Vec<StatementRow>,
    pub balances: Vec<BalanceRow>,
    pub period: String,
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
) -> WebResult<Response> {
    if session.user.role != Role::Client {
        return Err(ApiError::Forbidden("the portal is for client users".into()).into());
    }
    let lang = prefs.lang;
    let user = &session.user;
    let client_id = portal_client(&state, &session).await?;
    let mut conn = state.db.pool.acquire().await?;
    let client = store::client(&mut conn, client_id)
        .await?
        .ok_or_else(|| ApiError::not_found("client not found"))?;
    drop(conn);
    // The service itself keeps a client user to its own sent invoices.
    let page = invoices::list(
        &state,
        user,
        ListFilter::default(),
        PageAt::First,
        100,
        false,
    )
    .await
    .map_err(page_error)?;
    let names: HashMap<i64, String> = [(client_id, client.name.clone())].into_iter().collect();
    let (paid, _) = payments::list_payments(&state, user, Some(client_id), 100, 0)
        .await
        .map_err(page_error)?;
    let (from, to) = period(today(&state));
    let s = payments::statement(&state, user, client_id, from, to)
        .await
        .map_err(page_error)?;
    let (statement, balances) = statement_rows(lang, &s);
    let v = frame(
        &state,
        prefs,
        &session,
        "/portal",
        "portal",
        "iv_portal_title",
        None,
    );
    render(&PortalPage {
        rows: page
            .results
            .iter()
            .map(|r| InvoiceLine::of(lang, r, &names))
            .collect(),
        payments: payment_lines(lang, &paid, &names),
        statement,
        balances,
        period: format!("{} – {}", lang.civil_date(from), lang.civil_date(to)),
        client: client.name,
        v,
    })
}
