//! `/api/wallet`: balances and statements. Members see their own accounts; admins and
//! accountants see every account.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::BooksReader;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::extract::{no_problems, page, query_i64, query_time, Page, Paged};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::ledger::access;
use saghat_core::ledger::domain::{Account, CURRENCY};
use saghat_core::ledger::store::{self, AccountView, EntryFilter, EntryView, FundSummary};
use saghat_core::platform::money::Amount;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_wallet))
        .routes(routes!(fund_wallet))
        .routes(routes!(list_accounts))
        .routes(routes!(account_entries))
        .routes(routes!(get_transaction))
}

#[derive(Serialize, ToSchema)]
pub struct MemberBalances {
    pub currency: String,
    /// Membership fees paid (what the fund owes the member).
    pub contributions: Amount,
    /// What the member still owes on loans.
    pub loan_outstanding: Amount,
}

#[derive(Serialize, ToSchema)]
pub struct MyWallet {
    pub balances: MemberBalances,
    pub statement: Paged<EntryView>,
}

#[derive(Serialize, ToSchema)]
pub struct TransactionView {
    pub id: String,
    pub kind: String,
    pub payment_id: Option<String>,
    pub loan_id: Option<String>,
    pub memo: String,
    pub jalali_year: i64,
    pub jalali_month: i64,
    pub created_at: String,
    pub entries: Vec<EntryView>,
}

impl TransactionView {
    /// A transaction from its entries, which all carry its kind, links, memo and dates; `None`
    /// when it has no entries.
    fn of(id: String, entries: Vec<EntryView>) -> Option<TransactionView> {
        let first = entries.first()?;
        Some(TransactionView {
            id,
            kind: first.kind.clone(),
            payment_id: first.payment_id.clone(),
            loan_id: first.loan_id.clone(),
            memo: first.memo.clone(),
            jalali_year: first.jalali_year,
            jalali_month: first.jalali_month,
            created_at: first.created_at.clone(),
            entries,
        })
    }
}

/// Statement filters shared by the statement endpoints, plus the page and the format.
struct StatementQuery {
    filter: EntryFilter,
    page: Page,
    csv: bool,
}

fn statement_query(params: &HashMap<String, String>) -> ApiResult<StatementQuery> {
    let mut problems = vec![];
    let filter = EntryFilter {
        from: query_time(params, "from", &mut problems),
        to: query_time(params, "to", &mut problems),
        jalali_year: query_i64(params, "jalali_year", &mut problems),
        jalali_month: query_i64(params, "jalali_month", &mut problems),
        ..Default::default()
    };
    if filter.jalali_month.is_some_and(|m| !(1..=12).contains(&m)) {
        problems.push(FieldError::query(
            "jalali_month",
            "value_error",
            "Input should be between 1 and 12",
        ));
    }
    let csv = match params.get("format").map(String::as_str) {
        None | Some("json") => false,
        Some("csv") => true,
        Some(_) => {
            problems.push(FieldError::query(
                "format",
                "enum",
                "Input should be 'json' or 'csv'",
            ));
            false
        }
    };
    let page = page(params, &mut problems);
    no_problems(problems)?;
    Ok(StatementQuery { filter, page, csv })
}

/// A statement as CSV (RFC 4180), for spreadsheets and accountants.
fn csv_response(entries: &[EntryView], filename: &str) -> Response {
    let mut out = String::from(
        "entry_id,transaction_id,kind,account,debit,credit,currency,payment_id,loan_id,memo,jalali_year,jalali_month,created_at\r\n",
    );
    for e in entries {
        let fields = [
            e.entry_id.to_string(),
            e.transaction_id.clone(),
            e.kind.clone(),
            e.account_code.clone(),
            // In the entry's currency's places (EUR cents, IRR whole rials, USDT's 8).
            saghat_core::ledger::store::format_in_currency(&e.currency, e.debit),
            saghat_core::ledger::store::format_in_currency(&e.currency, e.credit),
            e.currency.clone(),
            e.payment_id.clone().unwrap_or_default(),
            e.loan_id.clone().unwrap_or_default(),
            e.memo.clone(),
            e.jalali_year.to_string(),
            e.jalali_month.to_string(),
            e.created_at.clone(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        out,
    )
        .into_response()
}

fn csv_field(value: &str) -> String {
    // Quote when needed; a leading =, +, - or @ is neutralised so spreadsheets do not run it.
    let value = if value.starts_with(['=', '+', '@'])
        || (value.starts_with('-') && value.parse::<f64>().is_err())
    {
        format!("'{value}")
    } else {
        value.to_string()
    };
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

/// The signed-in member's balances and statement (oldest first). Filters: `from`, `to`
/// (RFC 3339 or YYYY-MM-DD), `jalali_year`, `jalali_month`; `format=csv` for a CSV file.
#[utoipa::path(get, path = "/api/wallet/me", tag = "wallet", security(("bearer" = [])),
    params(("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD or an RFC 3339 time, inclusive"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD or an RFC 3339 time, exclusive"), ("jalali_year" = Option<i64>, Query),
           ("jalali_month" = Option<i64>, Query, minimum = 1, maximum = 12), ("limit" = Option<i64>, Query, minimum = 1, maximum = 500), ("offset" = Option<i64>, Query, minimum = 0),
           ("format" = Option<String>, Query, pattern = "^(json|csv)$", description = "json (default) or csv")),
    responses((status = 200, description = "Balances and statement, or the statement as CSV with format=csv",
               content((MyWallet = "application/json"), (String = "text/csv"))),
               (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn my_wallet(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let StatementQuery {
        mut filter,
        page,
        csv,
    } = statement_query(&params)?;
    filter.user_id = Some(user.id);
    let mut conn = state.db.pool.acquire().await?;
    let (entries, total) = store::entries(&mut conn, &filter, page.limit, page.offset).await?;
    if csv {
        return Ok(csv_response(
            &entries,
            &format!("statement-{}.csv", user.username),
        ));
    }
    let balances = MemberBalances {
        currency: CURRENCY.into(),
        contributions: store::balance_of(&mut conn, Account::Contributions(user.id)).await?,
        loan_outstanding: store::balance_of(&mut conn, Account::LoanReceivable(user.id)).await?,
    };
    Ok(Json(MyWallet {
        balances,
        statement: Paged::new(entries, total, page),
    })
    .into_response())
}

/// The fund's books in brief: cash, money at gateways, loans outstanding, contributions
/// (admins and accountants).
#[utoipa::path(get, path = "/api/wallet/fund", tag = "wallet", security(("bearer" = [])),
    responses((status = 200, body = FundSummary), (status = 403, body = ErrorBody)))]
async fn fund_wallet(
    State(state): State<AppState>,
    _reader: BooksReader,
) -> ApiResult<Json<FundSummary>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(Json(store::fund_summary(&mut conn).await?))
}

/// Ledger accounts with their totals: all of them for admins and accountants, a member's own
/// for a member.
#[utoipa::path(get, path = "/api/wallet/accounts", tag = "wallet", security(("bearer" = [])),
    params(("limit" = Option<i64>, Query, minimum = 1, maximum = 500), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, body = Paged<AccountView>)))]
async fn list_accounts(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Paged<AccountView>>> {
    let mut problems = vec![];
    let page = page(&params, &mut problems);
    no_problems(problems)?;
    let owner = access::visible_owner(&user);
    let mut conn = state.db.pool.acquire().await?;
    let (items, total) = store::accounts(&mut conn, owner, None, page.limit, page.offset).await?;
    Ok(Json(Paged::new(items, total, page)))
}

/// One account's entries, oldest first (its owner, admins and accountants). Same filters and
/// CSV export as `/api/wallet/me`.
#[utoipa::path(get, path = "/api/wallet/accounts/{account_id}/entries", tag = "wallet", security(("bearer" = [])),
    params(("account_id" = i64, Path), ("from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD or an RFC 3339 time, inclusive"), ("to" = Option<String>, Query, format = Date, description = "YYYY-MM-DD or an RFC 3339 time, exclusive"),
           ("jalali_year" = Option<i64>, Query), ("jalali_month" = Option<i64>, Query, minimum = 1, maximum = 12),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 500), ("offset" = Option<i64>, Query, minimum = 0), ("format" = Option<String>, Query, pattern = "^(json|csv)$", description = "json (default) or csv")),
    responses((status = 200, description = "The entries, or CSV with format=csv",
               content((Paged<EntryView> = "application/json"), (String = "text/csv"))),
               (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn account_entries(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(account_id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let not_found = || ApiError::not_found("Account not found");
    let account_id: i64 = account_id.parse().map_err(|_| not_found())?;
    let StatementQuery {
        mut filter,
        page,
        csv,
    } = statement_query(&params)?;
    let mut conn = state.db.pool.acquire().await?;
    let (accounts, _) = store::accounts(&mut conn, None, Some(account_id), 1, 0).await?;
    let account = accounts.into_iter().next().ok_or_else(not_found)?;
    if !access::may_see_account(&user, account.user_id) {
        return Err(ApiError::forbidden());
    }
    filter.account_id = Some(account_id);
    let (entries, total) = store::entries(&mut conn, &filter, page.limit, page.offset).await?;
    if csv {
        return Ok(csv_response(&entries, &format!("account-{account_id}.csv")));
    }
    Ok(Json(Paged::new(entries, total, page)).into_response())
}

/// One journal transaction with all its entries (admins, accountants, and members whose
/// accounts it touches).
#[utoipa::path(get, path = "/api/wallet/transactions/{transaction_id}", tag = "wallet", security(("bearer" = [])),
    params(("transaction_id" = String, Path)),
    responses((status = 200, body = TransactionView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_transaction(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(transaction_id): Path<String>,
) -> ApiResult<Json<TransactionView>> {
    let not_found = || ApiError::not_found("Transaction not found");
    let mut conn = state.db.pool.acquire().await?;
    let users = store::transaction_users(&mut conn, &transaction_id)
        .await?
        .ok_or_else(not_found)?;
    if !access::may_see_transaction(&user, &users) {
        return Err(ApiError::forbidden());
    }
    let filter = EntryFilter {
        transaction_id: Some(transaction_id.clone()),
        ..Default::default()
    };
    let (entries, _) = store::entries(&mut conn, &filter, 500, 0).await?;
    TransactionView::of(transaction_id, entries)
        .map(Json)
        .ok_or_else(not_found)
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=1+1"), "'=1+1");
        assert_eq!(csv_field("-20.00000000"), "-20.00000000");
        assert_eq!(csv_field("-cmd"), "'-cmd");
    }
}
