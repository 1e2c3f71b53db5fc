//! SQL for invoicing: one function per query, on the caller's connection or transaction.
//! Amounts are BIGINT minor units of the row's currency; dates are `YYYY-MM-DD` text.

use sqlx::{AnyConnection, AssertSqlSafe};

use super::model::{Discount, Percent, Quantity, TaxCategory, TaxCode, Unit};
use super::totals::CategoryTotals;
use crate::platform::db::{Conditions, Flag};

// ---------- clients ----------

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ClientRow {
    pub id: i64,
    pub kind: String,
    pub name: String,
    pub tax_id: Option<String>,
    pub email: Option<String>,
    pub street: String,
    pub city: String,
    pub postal_code: String,
    pub country_code: String,
    pub language: String,
    pub currency: String,
    pub payment_terms_days: i64,
    pub notes: String,
    #[sqlx(try_from = "Flag")]
    pub archived: bool,
    /// Whether the daily pass sends it payment reminders (it may ask for none).
    #[sqlx(try_from = "Flag")]
    pub send_reminders: bool,
    pub created_at: String,
    pub updated_at: String,
}

const CLIENT_COLUMNS: &str = "id, kind, name, tax_id, email, street, city, postal_code, \
    country_code, language, currency, payment_terms_days, notes, archived, send_reminders, \
    created_at, updated_at";

pub struct ClientValues<'a> {
    pub kind: &'a str,
    pub name: &'a str,
    pub tax_id: Option<&'a str>,
    pub email: Option<&'a str>,
    pub street: &'a str,
    pub city: &'a str,
    pub postal_code: &'a str,
    pub country_code: &'a str,
    pub language: &'a str,
    pub currency: &'a str,
    pub payment_terms_days: i64,
    pub notes: &'a str,
    pub send_reminders: bool,
}

pub async fn insert_client(
    conn: &mut AnyConnection,
    v: &ClientValues<'_>,
    now: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO clients (kind, name, tax_id, email, street, city, postal_code, country_code, \
         language, currency, payment_terms_days, notes, send_reminders, archived, created_at, \
         updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, $14, $14) RETURNING id",
    )
    .bind(v.kind)
    .bind(v.name)
    .bind(v.tax_id)
    .bind(v.email)
    .bind(v.street)
    .bind(v.city)
    .bind(v.postal_code)
    .bind(v.country_code)
    .bind(v.language)
    .bind(v.currency)
    .bind(v.payment_terms_days)
    .bind(v.notes)
    .bind(i64::from(v.send_reminders))
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn update_client(
    conn: &mut AnyConnection,
    id: i64,
    v: &ClientValues<'_>,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE clients SET kind = $1, name = $2, tax_id = $3, email = $4, street = $5, city = $6, \
         postal_code = $7, country_code = $8, language = $9, currency = $10, \
         payment_terms_days = $11, notes = $12, send_reminders = $13, updated_at = $14 \
         WHERE id = $15",
    )
    .bind(v.kind)
    .bind(v.name)
    .bind(v.tax_id)
    .bind(v.email)
    .bind(v.street)
    .bind(v.city)
    .bind(v.postal_code)
    .bind(v.country_code)
    .bind(v.language)
    .bind(v.currency)
    .bind(v.payment_terms_days)
    .bind(v.notes)
    .bind(i64::from(v.send_reminders))
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn client(conn: &mut AnyConnection, id: i64) -> Result<Option<ClientRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {CLIENT_COLUMNS} FROM clients WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Clients by name, a page at a time; `only` restricts to one (a client user's own).
pub async fn clients(
    conn: &mut AnyConnection,
    include_archived: bool,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ClientRow>, i64), sqlx::Error> {
    let mut c = Conditions::default();
    if !include_archived {
        c.push("archived = ?", 0i64);
    }
    c.push_some(
        "LOWER(name) LIKE ?",
        search.map(|s| format!("%{}%", s.to_lowercase())),
    );
    let clause = c.where_clause();
    crate::platform::db::fetch_page(
        conn,
        &c,
        AssertSqlSafe(format!("SELECT COUNT(*) FROM clients{clause}")),
        AssertSqlSafe(format!(
            "SELECT {CLIENT_COLUMNS} FROM clients{clause} ORDER BY name, id"
        )),
        limit,
        offset,
    )
    .await
}

/// Up to `limit` clients not archived whose name contains `search` (any case; all when it is
/// empty), by name: what a chooser offers.
pub async fn client_choices(
    conn: &mut AnyConnection,
    search: &str,
    limit: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, name FROM clients WHERE archived = 0 AND LOWER(name) LIKE $1 ESCAPE '\\' \
         ORDER BY name, id LIMIT $2",
    )
    .bind(contains_pattern(search))
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// The names of these clients (archived or not), for rows that name them.
pub async fn client_names(
    conn: &mut AnyConnection,
    ids: &[i64],
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
    // Only placeholder numbers are formatted into the SQL.
    let sql = format!(
        "SELECT id, name FROM clients WHERE id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_as(AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(conn).await
}

pub async fn set_client_archived(
    conn: &mut AnyConnection,
    id: i64,
    archived: bool,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE clients SET archived = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(archived))
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn client_has_invoices(conn: &mut AnyConnection, id: i64) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM invoices WHERE client_id = $1")
        .bind(id)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

pub async fn delete_client(conn: &mut AnyConnection, id: i64) -> Result<(), sqlx::Error> {
    for sql in [
        "DELETE FROM client_contacts WHERE client_id = $1",
        "DELETE FROM client_users WHERE client_id = $1",
        "DELETE FROM clients WHERE id = $1",
    ] {
        sqlx::query(sql).bind(id).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Takes the client's row lock until the transaction ends (PostgreSQL; SQLite's write
/// transaction is already the only writer): its credit is read and spent under it, so two
/// concurrent uses cannot both spend the same credit.
pub async fn lock_client(
    conn: &mut AnyConnection,
    id: i64,
    postgres: bool,
) -> Result<(), sqlx::Error> {
    if postgres {
        sqlx::query("SELECT id FROM clients WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    }
    Ok(())
}

/// The client a `client` user's portal shows.
pub async fn client_of_user(
    conn: &mut AnyConnection,
    user_id: i64,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar("SELECT client_id FROM client_users WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(conn)
        .await
}

pub async fn link_client_user(
    conn: &mut AnyConnection,
    user_id: i64,
    client_id: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM client_users WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("INSERT INTO client_users (user_id, client_id) VALUES ($1, $2)")
        .bind(user_id)
        .bind(client_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A user whose portal shows a client.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ClientUserRow {
    pub id: i64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    #[sqlx(try_from = "Flag")]
    pub is_active: bool,
}

/// The users linked to a client, by username.
pub async fn client_users(
    conn: &mut AnyConnection,
    client_id: i64,
) -> Result<Vec<ClientUserRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT u.id, u.username, u.first_name, u.last_name, u.email, u.is_active \
         FROM client_users cu JOIN users u ON u.id = cu.user_id \
         WHERE cu.client_id = $1 ORDER BY u.username, u.id",
    )
    .bind(client_id)
    .fetch_all(conn)
    .await
}

/// Removes a user's link to the client; whether there was one.
pub async fn unlink_client_user(
    conn: &mut AnyConnection,
    user_id: i64,
    client_id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM client_users WHERE user_id = $1 AND client_id = $2")
        .bind(user_id)
        .bind(client_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ContactRow {
    pub id: i64,
    pub client_id: i64,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub role: String,
    #[sqlx(try_from = "Flag")]
    pub is_primary: bool,
    pub created_at: String,
}

pub async fn contacts(
    conn: &mut AnyConnection,
    client_id: i64,
) -> Result<Vec<ContactRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, client_id, name, email, phone, role, is_primary, created_at \
         FROM client_contacts WHERE client_id = $1 ORDER BY id",
    )
    .bind(client_id)
    .fetch_all(conn)
    .await
}

#[allow(clippy::too_many_arguments)]
pub async fn upsert_contact(
    conn: &mut AnyConnection,
    id: Option<i64>,
    client_id: i64,
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
    role: &str,
    is_primary: bool,
    now: &str,
) -> Result<Option<i64>, sqlx::Error> {
    if is_primary {
        // One primary per client (the partial unique index refuses a second): the new one
        // takes over.
        sqlx::query(
            "UPDATE client_contacts SET is_primary = 0 WHERE client_id = $1 AND is_primary = 1",
        )
        .bind(client_id)
        .execute(&mut *conn)
        .await?;
    }
    match id {
        None => sqlx::query_scalar(
            "INSERT INTO client_contacts (client_id, name, email, phone, role, is_primary, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
        )
        .bind(client_id)
        .bind(name)
        .bind(email)
        .bind(phone)
        .bind(role)
        .bind(i64::from(is_primary))
        .bind(now)
        .fetch_one(conn)
        .await
        .map(Some),
        Some(id) => {
            let done = sqlx::query(
                "UPDATE client_contacts SET name = $1, email = $2, phone = $3, role = $4, \
                 is_primary = $5 WHERE id = $6 AND client_id = $7",
            )
            .bind(name)
            .bind(email)
            .bind(phone)
            .bind(role)
            .bind(i64::from(is_primary))
            .bind(id)
            .bind(client_id)
            .execute(conn)
            .await?;
            Ok((done.rows_affected() == 1).then_some(id))
        }
    }
}

pub async fn delete_contact(
    conn: &mut AnyConnection,
    client_id: i64,
    id: i64,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM client_contacts WHERE id = $1 AND client_id = $2")
        .bind(id)
        .bind(client_id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---------- products ----------

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ProductRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub unit: String,
    pub unit_price: i64,
    pub currency: String,
    pub tax_code: String,
    pub tax_rate: i64,
    #[sqlx(try_from = "Flag")]
    pub archived: bool,
    pub created_at: String,
    pub updated_at: String,
}

const PRODUCT_COLUMNS: &str = "id, name, description, unit, unit_price, currency, tax_code, \
    tax_rate, archived, created_at, updated_at";

pub struct ProductValues<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub unit: Unit,
    pub unit_price: i64,
    pub currency: &'a str,
    pub tax: TaxCategory,
}

pub async fn insert_product(
    conn: &mut AnyConnection,
    v: &ProductValues<'_>,
    now: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO products (name, description, unit, unit_price, currency, tax_code, tax_rate, \
         archived, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 0, $8, $8) RETURNING id",
    )
    .bind(v.name)
    .bind(v.description)
    .bind(v.unit.code())
    .bind(v.unit_price)
    .bind(v.currency)
    .bind(v.tax.code.code())
    .bind(v.tax.rate.0)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn update_product(
    conn: &mut AnyConnection,
    id: i64,
    v: &ProductValues<'_>,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE products SET name = $1, description = $2, unit = $3, unit_price = $4, \
         currency = $5, tax_code = $6, tax_rate = $7, updated_at = $8 WHERE id = $9",
    )
    .bind(v.name)
    .bind(v.description)
    .bind(v.unit.code())
    .bind(v.unit_price)
    .bind(v.currency)
    .bind(v.tax.code.code())
    .bind(v.tax.rate.0)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn product(conn: &mut AnyConnection, id: i64) -> Result<Option<ProductRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// A `LIKE` pattern that finds `typed` anywhere in a lower-cased column, with the pattern's
/// own characters (`%`, `_`, `\`) taken as typed (the query says `ESCAPE '\'`).
pub fn contains_pattern(typed: &str) -> String {
    let mut pattern = String::from("%");
    for ch in typed.trim().to_lowercase().chars() {
        if matches!(ch, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(ch);
    }
    pattern.push('%');
    pattern
}

/// Products by name, a page at a time; `search` keeps those whose name contains it.
pub async fn products(
    conn: &mut AnyConnection,
    include_archived: bool,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProductRow>, i64), sqlx::Error> {
    let mut c = Conditions::default();
    if !include_archived {
        c.push("archived = ?", 0i64);
    }
    c.push_some(
        "LOWER(name) LIKE ? ESCAPE '\\'",
        search.map(contains_pattern),
    );
    let clause = c.where_clause();
    crate::platform::db::fetch_page(
        conn,
        &c,
        AssertSqlSafe(format!("SELECT COUNT(*) FROM products{clause}")),
        AssertSqlSafe(format!(
            "SELECT {PRODUCT_COLUMNS} FROM products{clause} ORDER BY name, id"
        )),
        limit,
        offset,
    )
    .await
}

/// Up to `limit` products not archived whose name contains `search` (any case; all when it
/// is empty), in `currency` when given, by name: what a chooser offers.
pub async fn product_choices(
    conn: &mut AnyConnection,
    search: &str,
    currency: Option<&str>,
    limit: i64,
) -> Result<Vec<ProductRow>, sqlx::Error> {
    let in_currency = if currency.is_some() {
        " AND currency = $3"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {PRODUCT_COLUMNS} FROM products WHERE archived = 0 \
         AND LOWER(name) LIKE $1 ESCAPE '\\'{in_currency} ORDER BY name, id LIMIT $2"
    );
    let mut query = sqlx::query_as(AssertSqlSafe(sql))
        .bind(contains_pattern(search))
        .bind(limit);
    if let Some(code) = currency {
        query = query.bind(code);
    }
    query.fetch_all(conn).await
}

pub async fn set_product_archived(
    conn: &mut AnyConnection,
    id: i64,
    archived: bool,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("UPDATE products SET archived = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(archived))
        .bind(now)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

// ---------- invoices ----------

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct InvoiceRow {
    pub id: String,
    pub kind: String,
    pub client_id: i64,
    pub number: Option<String>,
    pub series: Option<String>,
    pub number_year: Option<i64>,
    pub number_seq: Option<i64>,
    pub currency: String,
    pub issue_date: String,
    pub due_date: String,
    pub status: String,
    pub language: String,
    #[sqlx(try_from = "Flag")]
    pub prices_include_tax: bool,
    pub discount_kind: Option<String>,
    pub discount_value: Option<i64>,
    pub notes: String,
    pub terms: String,
    /// `model::Party` as JSON, once sent.
    pub seller: Option<String>,
    pub buyer: Option<String>,
    pub payee_iban: Option<String>,
    pub lines_net: i64,
    pub discount: i64,
    pub tax: i64,
    pub total: i64,
    pub amount_paid: i64,
    pub amount_credited: i64,
    pub credits_invoice_id: Option<String>,
    pub recurring_id: Option<i64>,
    pub recurring_period: Option<String>,
    pub sent_at: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: String,
    pub updated_at: String,
}

impl InvoiceRow {
    pub fn amount_due(&self) -> i64 {
        super::totals::amount_due(self.total, self.amount_paid, self.amount_credited)
    }

    pub fn is_draft(&self) -> bool {
        self.sent_at.is_none()
    }
}

pub(crate) const INVOICE_COLUMNS: &str = "id, kind, client_id, number, series, number_year, \
    number_seq, currency, issue_date, due_date, status, language, prices_include_tax, \
    discount_kind, discount_value, notes, terms, seller, buyer, payee_iban, lines_net, discount, \
    tax, total, amount_paid, amount_credited, credits_invoice_id, recurring_id, recurring_period, \
    sent_at, created_by, created_at, updated_at";

pub fn discount_columns(d: Option<Discount>) -> (Option<&'static str>, Option<i64>) {
    match d {
        None => (None, None),
        Some(Discount::Percent(p)) => (Some("percent"), Some(p.0)),
        Some(Discount::Amount(a)) => (Some("amount"), Some(a)),
    }
}

pub fn discount_of(kind: Option<&str>, value: Option<i64>) -> Option<Discount> {
    match (kind, value) {
        (Some("percent"), Some(v)) => Some(Discount::Percent(Percent(v))),
        (Some("amount"), Some(v)) => Some(Discount::Amount(v)),
        _ => None,
    }
}

/// The columns a draft's save writes.
pub struct DraftValues<'a> {
    pub client_id: i64,
    pub currency: &'a str,
    pub issue_date: &'a str,
    pub due_date: &'a str,
    pub language: &'a str,
    pub prices_include_tax: bool,
    pub discount: Option<Discount>,
    pub notes: &'a str,
    pub terms: &'a str,
    pub lines_net: i64,
    pub discount_total: i64,
    pub tax: i64,
    pub total: i64,
}

pub struct NewInvoice<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub credits_invoice_id: Option<&'a str>,
    pub recurring_id: Option<i64>,
    pub recurring_period: Option<&'a str>,
    pub created_by: Option<i64>,
}

pub async fn insert_invoice(
    conn: &mut AnyConnection,
    new: &NewInvoice<'_>,
    v: &DraftValues<'_>,
    now: &str,
) -> Result<(), sqlx::Error> {
    let (dk, dv) = discount_columns(v.discount);
    sqlx::query(
        "INSERT INTO invoices (id, kind, client_id, currency, issue_date, due_date, status, \
         language, prices_include_tax, discount_kind, discount_value, notes, terms, lines_net, \
         discount, tax, total, credits_invoice_id, recurring_id, recurring_period, created_by, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, 'draft', $7, $8, $9, $10, $11, \
         $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)",
    )
    .bind(new.id)
    .bind(new.kind)
    .bind(v.client_id)
    .bind(v.currency)
    .bind(v.issue_date)
    .bind(v.due_date)
    .bind(v.language)
    .bind(i64::from(v.prices_include_tax))
    .bind(dk)
    .bind(dv)
    .bind(v.notes)
    .bind(v.terms)
    .bind(v.lines_net)
    .bind(v.discount_total)
    .bind(v.tax)
    .bind(v.total)
    .bind(new.credits_invoice_id)
    .bind(new.recurring_id)
    .bind(new.recurring_period)
    .bind(new.created_by)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn update_draft(
    conn: &mut AnyConnection,
    id: &str,
    v: &DraftValues<'_>,
    now: &str,
) -> Result<bool, sqlx::Error> {
    let (dk, dv) = discount_columns(v.discount);
    let done = sqlx::query(
        "UPDATE invoices SET client_id = $1, currency = $2, issue_date = $3, due_date = $4, \
         language = $5, prices_include_tax = $6, discount_kind = $7, discount_value = $8, \
         notes = $9, terms = $10, lines_net = $11, discount = $12, tax = $13, total = $14, \
         updated_at = $15 WHERE id = $16 AND sent_at IS NULL",
    )
    .bind(v.client_id)
    .bind(v.currency)
    .bind(v.issue_date)
    .bind(v.due_date)
    .bind(v.language)
    .bind(i64::from(v.prices_include_tax))
    .bind(dk)
    .bind(dv)
    .bind(v.notes)
    .bind(v.terms)
    .bind(v.lines_net)
    .bind(v.discount_total)
    .bind(v.tax)
    .bind(v.total)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn invoice(
    conn: &mut AnyConnection,
    id: &str,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// The invoice, row-locked until the transaction ends on PostgreSQL (SQLite's write
/// transaction already holds the database's only write lock).
pub async fn invoice_for_update(
    conn: &mut AnyConnection,
    id: &str,
    postgres: bool,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    let lock = if postgres { " FOR UPDATE" } else { "" };
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1{lock}"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

pub async fn invoice_by_number(
    conn: &mut AnyConnection,
    number: &str,
) -> Result<Option<InvoiceRow>, sqlx::Error> {
    sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {INVOICE_COLUMNS} FROM invoices WHERE number = $1"
    )))
    .bind(number)
    .fetch_optional(conn)
    .await
}

pub async fn delete_draft(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query("DELETE FROM invoice_lines WHERE invoice_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    let done = sqlx::query("DELETE FROM invoices WHERE id = $1 AND sent_at IS NULL")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LineRow {
    pub position: i64,
    pub product_id: Option<i64>,
    pub description: String,
    pub unit: String,
    /// Ten-thousandths.
    pub quantity: i64,
    pub unit_price: i64,
    pub discount_kind: Option<String>,
    pub discount_value: Option<i64>,
    pub tax_code: String,
    pub tax_rate: i64,
    pub net: i64,
}

pub struct LineValues<'a> {
    pub product_id: Option<i64>,
    pub description: &'a str,
    pub unit: Unit,
    pub quantity: Quantity,
    pub unit_price: i64,
    pub discount: Option<Discount>,
    pub tax: TaxCategory,
    pub net: i64,
}

/// Replaces a draft's lines as a whole.
pub async fn replace_lines(
    conn: &mut AnyConnection,
    invoice_id: &str,
    lines: &[LineValues<'_>],
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM invoice_lines WHERE invoice_id = $1")
        .bind(invoice_id)
        .execute(&mut *conn)
        .await?;
    for (i, l) in lines.iter().enumerate() {
        let (dk, dv) = discount_columns(l.discount);
        sqlx::query(
            "INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, \
             quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(invoice_id)
        .bind(i as i64 + 1)
        .bind(l.product_id)
        .bind(l.description)
        .bind(l.unit.code())
        .bind(l.quantity.0)
        .bind(l.unit_price)
        .bind(dk)
        .bind(dv)
        .bind(l.tax.code.code())
        .bind(l.tax.rate.0)
        .bind(l.net)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn lines(
    conn: &mut AnyConnection,
    invoice_id: &str,
) -> Result<Vec<LineRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT position, product_id, description, unit, quantity, unit_price, discount_kind, \
         discount_value, tax_code, tax_rate, net FROM invoice_lines WHERE invoice_id = $1 \
         ORDER BY position",
    )
    .bind(invoice_id)
    .fetch_all(conn)
    .await
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TaxRow {
    pub tax_code: String,
    pub tax_rate: i64,
    pub lines_net: i64,
    pub discount: i64,
    pub taxable: i64,
    pub tax: i64,
}

pub async fn insert_taxes(
    conn: &mut AnyConnection,
    invoice_id: &str,
    categories: &[CategoryTotals],
) -> Result<(), sqlx::Error> {
    for c in categories {
        sqlx::query(
            "INSERT INTO invoice_taxes (invoice_id, tax_code, tax_rate, lines_net, discount, \
             taxable, tax) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(invoice_id)
        .bind(c.category.code.code())
        .bind(c.category.rate.0)
        .bind(c.lines_net)
        .bind(c.discount)
        .bind(c.taxable)
        .bind(c.tax)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

pub async fn taxes(conn: &mut AnyConnection, invoice_id: &str) -> Result<Vec<TaxRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT tax_code, tax_rate, lines_net, discount, taxable, tax FROM invoice_taxes \
         WHERE invoice_id = $1 ORDER BY tax_code, tax_rate",
    )
    .bind(invoice_id)
    .fetch_all(conn)
    .await
}

/// Takes the next number of (series, year): the upsert row-locks the counter until the send
/// transaction ends (PostgreSQL), or runs under SQLite's single write lock, so a concurrent
/// send waits and a rolled-back one leaves no gap.
pub async fn next_number(
    conn: &mut AnyConnection,
    series: &str,
    year: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO number_series (series, year, last_value) VALUES ($1, $2, 1) \
         ON CONFLICT (series, year) DO UPDATE SET last_value = number_series.last_value + 1 \
         RETURNING last_value",
    )
    .bind(series)
    .bind(year)
    .fetch_one(conn)
    .await
}

pub struct SentValues<'a> {
    pub number: &'a str,
    pub series: &'a str,
    pub year: i64,
    pub seq: i64,
    pub seller: &'a str,
    pub buyer: &'a str,
    pub payee_iban: Option<&'a str>,
    pub status: &'a str,
    pub sent_at: &'a str,
}

pub async fn mark_sent(
    conn: &mut AnyConnection,
    id: &str,
    v: &SentValues<'_>,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query(
        "UPDATE invoices SET number = $1, series = $2, number_year = $3, number_seq = $4, \
         seller = $5, buyer = $6, payee_iban = $7, status = $8, sent_at = $9, updated_at = $9 \
         WHERE id = $10 AND sent_at IS NULL",
    )
    .bind(v.number)
    .bind(v.series)
    .bind(v.year)
    .bind(v.seq)
    .bind(v.seller)
    .bind(v.buyer)
    .bind(v.payee_iban)
    .bind(v.status)
    .bind(v.sent_at)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The only columns of a sent invoice that move.
pub async fn set_amounts(
    conn: &mut AnyConnection,
    id: &str,
    paid: i64,
    credited: i64,
    status: &str,
    now: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE invoices SET amount_paid = $1, amount_credited = $2, status = $3, updated_at = $4 \
         WHERE id = $5",
    )
    .bind(paid)
    .bind(credited)
    .bind(status)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(())
}

/// Σ the totals of the sent credit notes of an invoice.
pub async fn credit_notes_total(
    conn: &mut AnyConnection,
    invoice_id: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(total), 0) AS BIGINT) FROM invoices \
         WHERE credits_invoice_id = $1 AND sent_at IS NOT NULL",
    )
    .bind(invoice_id)
    .fetch_one(conn)
    .await
}

/// Open invoices past due become overdue; returns their ids.
pub async fn mark_overdue(
    conn: &mut AnyConnection,
    today: &str,
    now: &str,
) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar(
        "UPDATE invoices SET status = 'overdue', updated_at = $1 \
         WHERE status IN ('sent', 'partially_paid') AND kind = 'invoice' AND due_date < $2 \
         AND total - amount_paid - amount_credited > 0 RETURNING id",
    )
    .bind(now)
    .bind(today)
    .fetch_all(conn)
    .await
}

// ---------- listing ----------

#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub client_id: Option<i64>,
    pub currency: Option<String>,
    pub issued_from: Option<String>,
    pub issued_to: Option<String>,
    /// A number prefix or a word of the client's name.
    pub search: Option<String>,
    /// Client users never see drafts.
    pub exclude_drafts: bool,
}

impl ListFilter {
    pub(crate) fn conditions(&self) -> Conditions {
        let mut c = Conditions::default();
        c.push_some("i.status = ?", self.status.clone())
            .push_some("i.kind = ?", self.kind.clone())
            .push_some("i.client_id = ?", self.client_id)
            .push_some("i.currency = ?", self.currency.clone())
            .push_some("i.issue_date >= ?", self.issued_from.clone())
            .push_some("i.issue_date <= ?", self.issued_to.clone());
        if self.exclude_drafts {
            c.push("i.status <> ?", "draft");
        }
        if let Some(search) = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            match number_range(search) {
                // A number's prefix (`inv-1405` finds INV-1405-…) as a range on the unique
                // index: LIKE would not use it under every collation.
                Some((from, to)) => {
                    c.push("i.number >= ?", from).push("i.number < ?", to);
                }
                None => {
                    let like = format!("%{}%", search.to_uppercase().replace(['%', '_'], ""));
                    c.push(
                        "i.client_id IN (SELECT id FROM clients WHERE UPPER(name) LIKE ?)",
                        like,
                    );
                }
            }
        }
        c
    }
}

/// A search that looks like an invoice number (ASCII with a digit) as the range of numbers it
/// prefixes: `[PREFIX, PREFIX with its last character incremented)`.
fn number_range(search: &str) -> Option<(String, String)> {
    let upper = search.to_ascii_uppercase();
    if !upper.is_ascii() || !upper.bytes().any(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut end = upper.clone().into_bytes();
    let last = end.last_mut()?;
    // `~` is the last printable ASCII character: nothing a number holds sorts above it.
    if *last >= b'~' {
        return None;
    }
    *last += 1;
    Some((upper, String::from_utf8(end).ok()?))
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct StatusTotal {
    pub status: String,
    pub currency: String,
    pub count: i64,
    pub total: i64,
    pub due: i64,
}

/// A page of invoices, newest issue date first, after the keyset `after` (the last row's
/// (issue_date, id) of the previous page). Reads `limit + 1` rows to tell if more follow.
pub async fn list(
    conn: &mut AnyConnection,
    filter: &ListFilter,
    keyset: Option<Keyset<'_>>,
    limit: i64,
) -> Result<Vec<InvoiceRow>, sqlx::Error> {
    let c = filter.conditions();
    let n = c.next_placeholder();
    let mut clause = c.where_clause();
    if let Some(keyset) = keyset {
        // Strictly after (older than) or before (newer than) a row's (issue_date, id). As a
        // row value, which PostgreSQL reads as one index condition (the OR form it does not:
        // 250 ms instead of 0.5 over 1,000,000 invoices).
        let op = if keyset.newer { ">" } else { "<" };
        let cond = format!("((i.issue_date, i.id) {op} (${n}, ${}))", n + 1);
        clause = if clause.is_empty() {
            format!(" WHERE {cond}")
        } else {
            format!("{clause} AND {cond}")
        };
    }
    let limit_at = if keyset.is_some() { n + 2 } else { n };
    // Newer rows are read nearest first (ascending) and turned round below.
    let order = if keyset.is_some_and(|k| k.newer) {
        "ASC"
    } else {
        "DESC"
    };
    let sql = format!(
        "SELECT {} FROM invoices i{clause} ORDER BY i.issue_date {order}, i.id {order} LIMIT ${limit_at}",
        INVOICE_COLUMNS
            .split(", ")
            .map(|col| format!("i.{col}"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    let mut query = c.bind(sqlx::query(AssertSqlSafe(sql)));
    if let Some(keyset) = keyset {
        query = query
            .bind(keyset.issue_date.to_string())
            .bind(keyset.id.to_string());
    }
    let rows = query.bind(limit).fetch_all(conn).await?;
    let mut rows = rows
        .iter()
        .map(<InvoiceRow as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    if keyset.is_some_and(|k| k.newer) {
        rows.reverse();
    }
    Ok(rows)
}

/// A row's place in the list's order, and which side of it a page is read from.
#[derive(Debug, Clone, Copy)]
pub struct Keyset<'a> {
    pub issue_date: &'a str,
    pub id: &'a str,
    /// The rows newer than it (a previous page) rather than older (the next).
    pub newer: bool,
}

/// Counts and sums per status and currency of everything the filter matches.
pub async fn totals_by_status(
    conn: &mut AnyConnection,
    filter: &ListFilter,
) -> Result<Vec<StatusTotal>, sqlx::Error> {
    let c = filter.conditions();
    let sql = format!(
        "SELECT i.status, i.currency, COUNT(*) AS count, CAST(COALESCE(SUM(i.total), 0) AS BIGINT) AS total, \
         CAST(COALESCE(SUM(i.total - i.amount_paid - i.amount_credited), 0) AS BIGINT) AS due \
         FROM invoices i{} GROUP BY i.status, i.currency ORDER BY i.status, i.currency",
        c.where_clause()
    );
    let rows = c
        .bind(sqlx::query(AssertSqlSafe(sql)))
        .fetch_all(conn)
        .await?;
    rows.iter()
        .map(<StatusTotal as sqlx::FromRow<'_, sqlx::any::AnyRow>>::from_row)
        .collect()
}

pub fn tax_category(code: &str, rate: i64) -> Option<TaxCategory> {
    Some(TaxCategory {
        code: TaxCode::parse(code)?,
        rate: Percent(rate),
    })
}

#[cfg(test)]
mod tests {
    use super::number_range;

    #[test]
    fn a_number_prefix_is_a_range() {
        assert_eq!(
            number_range("inv-1405-00001"),
            Some(("INV-1405-00001".into(), "INV-1405-00002".into()))
        );
        assert_eq!(
            number_range("INV-9"),
            Some(("INV-9".into(), "INV-:".into()))
        );
        assert_eq!(number_range("acme"), None, "no digit: a client's name");
        assert_eq!(number_range("شرکت ۱۲"), None);
    }
}
