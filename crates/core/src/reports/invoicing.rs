//! Invoicing's report: what was invoiced and collected per month and currency (with credit
//! notes and refunds), receivables aged per client, days sales outstanding, the top clients,
//! and the tax collected per rate and month — what an accountant files.
//!
//! Five grouped queries whatever the number of invoices: the months of the period are a
//! `VALUES` list joined by date range, so either calendar's months group in SQL without date
//! functions, and amounts are summed split (`split_sum`) so no sum can overflow.

use std::collections::BTreeMap;

use chrono::{Days, NaiveDate};
use serde::Serialize;
use sqlx::AnyConnection;

use super::access::{may_read, Report};
use super::aging::{dso_tenths, Bucket};
use super::cache;
use super::period::{MonthSpan, Period};
use super::sql::{currency_of, fetch, months_cte, units, Binds};
use super::table::Money;
use super::ReportError;
use crate::auth::CurrentUser;
use crate::invoicing::model::Percent;
use crate::platform::currency::Currency;
use crate::platform::db::split_sum;
use crate::Ctx;

/// DSO looks at the sales of this many days up to today.
pub const DSO_DAYS: i64 = 90;

/// The top clients listed per currency.
pub const TOP_CLIENTS: usize = 10;

#[derive(Clone, Debug)]
pub struct Filter {
    pub period: Period,
    pub currency: Option<Currency>,
    pub client_id: Option<i64>,
}

/// One month in one currency. Invoiced and credited are totals with tax; net is their
/// difference; collected is what clients paid (by the day received), refunded what was paid back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InvoicingMonth {
    pub month: String,
    pub currency: Currency,
    pub invoices: i64,
    pub invoiced: Money,
    /// The tax in what was invoiced.
    pub tax: Money,
    pub credit_notes: i64,
    pub credited: Money,
    pub net_invoiced: Money,
    pub payments: i64,
    pub collected: Money,
    pub refunded: Money,
}

/// What one client (or, without a client, everyone) still owes in one currency, by days past
/// the due date, today.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReceivablesAging {
    pub client_id: Option<i64>,
    pub client: Option<String>,
    pub currency: Currency,
    pub open_invoices: i64,
    pub current: Money,
    pub days_1_30: Money,
    pub days_31_60: Money,
    pub days_61_90: Money,
    pub over_90: Money,
    pub total: Money,
}

impl ReceivablesAging {
    fn new(client: Option<(i64, String)>, currency: Currency) -> ReceivablesAging {
        let zero = Money::zero(currency);
        let (client_id, client) = client.map_or((None, None), |(id, name)| (Some(id), Some(name)));
        ReceivablesAging {
            client_id,
            client,
            currency,
            open_invoices: 0,
            current: zero,
            days_1_30: zero,
            days_31_60: zero,
            days_61_90: zero,
            over_90: zero,
            total: zero,
        }
    }

    pub fn bucket(&self, bucket: Bucket) -> Money {
        match bucket {
            Bucket::Current => self.current,
            Bucket::Days1To30 => self.days_1_30,
            Bucket::Days31To60 => self.days_31_60,
            Bucket::Days61To90 => self.days_61_90,
            Bucket::Over90 => self.over_90,
        }
    }

    fn add(&mut self, bucket: Bucket, invoices: i64, units: i128) {
        let slot = match bucket {
            Bucket::Current => &mut self.current,
            Bucket::Days1To30 => &mut self.days_1_30,
            Bucket::Days31To60 => &mut self.days_31_60,
            Bucket::Days61To90 => &mut self.days_61_90,
            Bucket::Over90 => &mut self.over_90,
        };
        slot.units += units;
        self.total.units += units;
        self.open_invoices += invoices;
    }
}

/// Days sales outstanding in one currency: receivables today as days of the last
/// [`DSO_DAYS`] days' sales (invoiced less credited: an invoice credited in full sold nothing).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SalesOutstanding {
    pub currency: Currency,
    pub receivable: Money,
    /// Invoiced (with tax) less credit notes in the last 90 days, today included.
    pub sales: Money,
    pub days: i64,
    /// One decimal (`"32.5"`); none when nothing was invoiced in those days.
    pub dso: Option<String>,
    /// The same in tenths of a day.
    #[serde(skip)]
    pub dso_tenths: Option<i128>,
}

/// A client's figures in the period in one currency, and what it owes today.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TopClient {
    pub client_id: i64,
    pub client: String,
    pub currency: Currency,
    pub invoiced: Money,
    pub credited: Money,
    pub net_invoiced: Money,
    pub collected: Money,
    pub outstanding: Money,
}

/// Tax per month, currency and category: what invoices charged, what credit notes gave back,
/// and the difference owed to the tax office.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TaxReturnRow {
    pub month: String,
    pub currency: Currency,
    /// EN 16931 category: S, Z, E, AE, K, G, O.
    pub tax_code: String,
    /// Percent, e.g. `"19"` or `"9.5"`.
    pub rate: String,
    /// The same in hundredths of a percent (1900).
    #[serde(skip)]
    pub rate_basis_points: i64,
    pub taxable: Money,
    pub tax: Money,
    pub credited_taxable: Money,
    pub credited_tax: Money,
    pub net_taxable: Money,
    pub net_tax: Money,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct InvoicingReport {
    /// `jalali` or `gregorian`.
    pub calendar: String,
    pub from: String,
    pub to: String,
    pub currency: Option<Currency>,
    pub client_id: Option<i64>,
    /// The day receivables are aged and DSO computed on.
    #[schema(value_type = String, format = Date)]
    pub as_of: NaiveDate,
    pub months: Vec<MonthSpan>,
    /// Every month of the period in each currency that has money in the period (quiet
    /// months included as zeros), oldest first, then by currency.
    pub monthly: Vec<InvoicingMonth>,
    /// Per client with anything open, by currency then client name.
    pub aging: Vec<ReceivablesAging>,
    /// All clients together, per currency.
    pub aging_totals: Vec<ReceivablesAging>,
    pub dso: Vec<SalesOutstanding>,
    /// Per currency, the clients with the most net invoiced in the period, most first.
    pub top_clients: Vec<TopClient>,
    pub tax: Vec<TaxReturnRow>,
}

/// The `AND …` restricting a table aliased `alias` to the filter's currency and client.
struct Scope {
    currency: Option<String>,
    client: Option<String>,
}

impl Scope {
    fn new(filter: &Filter, binds: &mut Binds) -> Scope {
        Scope {
            currency: filter.currency.map(|c| binds.push(c.code())),
            // Bound as text and cast: one kind of value keeps `Binds` simple.
            client: filter.client_id.map(|id| binds.push(id.to_string())),
        }
    }

    fn sql(&self, alias: &str) -> String {
        let mut out = String::new();
        if let Some(p) = &self.currency {
            out.push_str(&format!(" AND {alias}.currency = {p}"));
        }
        if let Some(p) = &self.client {
            out.push_str(&format!(" AND {alias}.client_id = CAST({p} AS BIGINT)"));
        }
        out
    }
}

/// The period's months as date spans for [`months_cte`].
fn date_spans(months: &[MonthSpan]) -> impl Iterator<Item = (String, String, String)> + '_ {
    months
        .iter()
        .map(|m| (m.month.clone(), m.starts.to_string(), m.ends.to_string()))
}

/// The report for `filter`, receivables as of `today`.
pub async fn report(
    ctx: &Ctx,
    actor: &CurrentUser,
    filter: &Filter,
) -> Result<InvoicingReport, ReportError> {
    if !may_read(actor.role, Report::Invoicing) {
        return Err(ReportError::Forbidden);
    }
    let today = crate::invoicing::reminder_job::today(ctx);
    let mut conn = ctx.db.pool.acquire().await?;
    read(&mut conn, filter, today).await
}

/// The figures themselves, for a connection and a day.
pub async fn read(
    conn: &mut AnyConnection,
    filter: &Filter,
    today: NaiveDate,
) -> Result<InvoicingReport, ReportError> {
    let months = filter.period.months();
    let counts = source_counts(conn, filter, &months).await?;
    let monthly = monthly(conn, filter, &months, counts.as_ref()).await?;
    let (aging, aging_totals) = aging(conn, filter, today).await?;
    let dso = dso(conn, filter, today, &aging_totals).await?;
    let top_clients = top_clients(conn, filter, &aging).await?;
    let tax = tax(conn, filter, &months, counts.as_ref()).await?;
    Ok(InvoicingReport {
        calendar: filter.period.calendar.as_str().into(),
        from: filter.period.from.key(),
        to: filter.period.to.key(),
        currency: filter.currency,
        client_id: filter.client_id,
        as_of: today,
        months,
        monthly,
        aging,
        aging_totals,
        dso,
        top_clients,
        tax,
    })
}

/// How many rows each month's figures are summed from: its sent invoices (what the tax return
/// reads), and those with its payments and refunds (what the monthly flows read).
struct SourceCounts {
    invoices: BTreeMap<String, i64>,
    flows: BTreeMap<String, i64>,
}

/// What kept figures depend on beside the month: the calendar and the currency filtered to.
fn kept_params(filter: &Filter) -> String {
    format!(
        "{}:{}",
        filter.period.calendar.as_str(),
        filter.currency.map_or("*", |c| c.code())
    )
}

#[derive(sqlx::FromRow)]
struct CountRow {
    period: String,
    source: String,
    n: i64,
}

/// The months' source counts; none for one client's report, which reads few rows and is not
/// kept (see `cache`).
async fn source_counts(
    conn: &mut AnyConnection,
    filter: &Filter,
    months: &[MonthSpan],
) -> Result<Option<SourceCounts>, sqlx::Error> {
    if filter.client_id.is_some() {
        return Ok(None);
    }
    let mut binds = Binds::default();
    let scope = Scope::new(filter, &mut binds);
    let cte = months_cte(date_spans(months), &mut binds);
    let sql = format!(
        "{cte} \
         SELECT m.period, CAST('invoices' AS TEXT) AS source, COUNT(*) AS n FROM months m \
           JOIN invoices i ON i.issue_date >= m.starts AND i.issue_date < m.ends \
          WHERE i.sent_at IS NOT NULL{invoices} GROUP BY m.period \
         UNION ALL \
         SELECT m.period, CAST('payments' AS TEXT), COUNT(*) FROM months m \
           JOIN invoice_payments p ON p.received_on >= m.starts AND p.received_on < m.ends \
          WHERE 1 = 1{payments} GROUP BY m.period \
         UNION ALL \
         SELECT m.period, CAST('refunds' AS TEXT), COUNT(*) FROM months m \
           JOIN invoice_refunds r ON r.refunded_on >= m.starts AND r.refunded_on < m.ends \
          WHERE 1 = 1{refunds} GROUP BY m.period",
        invoices = scope.sql("i"),
        payments = scope.sql("p"),
        refunds = scope.sql("r"),
    );
    let rows: Vec<CountRow> = fetch(&mut *conn, sql, &binds).await?;
    let mut counts = SourceCounts {
        invoices: BTreeMap::new(),
        flows: BTreeMap::new(),
    };
    for r in rows {
        if r.source == "invoices" {
            *counts.invoices.entry(r.period.clone()).or_default() += r.n;
        }
        *counts.flows.entry(r.period).or_default() += r.n;
    }
    Ok(Some(counts))
}

#[derive(sqlx::FromRow, serde::Serialize, serde::Deserialize)]
struct FlowRow {
    period: String,
    currency: String,
    flow: String,
    n: i64,
    amount_whole: i64,
    amount_fraction: i64,
    tax_whole: i64,
    tax_fraction: i64,
}

async fn monthly(
    conn: &mut AnyConnection,
    filter: &Filter,
    months: &[MonthSpan],
    counts: Option<&SourceCounts>,
) -> Result<Vec<InvoicingMonth>, sqlx::Error> {
    let params = kept_params(filter);
    let rows = cache::read_through(
        conn,
        ("invoicing_flows", &params),
        months,
        |m| &m.month,
        counts.map(|c| &c.flows),
        |r: &FlowRow| &r.period,
        async |conn, months| flows(conn, filter, months).await,
    )
    .await?;
    fold_monthly(months, &rows)
}

async fn flows(
    conn: &mut AnyConnection,
    filter: &Filter,
    months: &[MonthSpan],
) -> Result<Vec<FlowRow>, sqlx::Error> {
    let mut binds = Binds::default();
    let scope = Scope::new(filter, &mut binds);
    let cte = months_cte(date_spans(months), &mut binds);
    let sql = format!(
        "{cte} \
         SELECT m.period, i.currency, i.kind AS flow, COUNT(*) AS n, {total}, {tax} \
           FROM months m JOIN invoices i ON i.issue_date >= m.starts AND i.issue_date < m.ends \
          WHERE i.sent_at IS NOT NULL{invoices} GROUP BY m.period, i.currency, i.kind \
         UNION ALL \
         SELECT m.period, p.currency, CAST('payment' AS TEXT), COUNT(*), {paid}, {none} \
           FROM months m JOIN invoice_payments p ON p.received_on >= m.starts AND p.received_on < m.ends \
          WHERE 1 = 1{payments} GROUP BY m.period, p.currency \
         UNION ALL \
         SELECT m.period, r.currency, CAST('refund' AS TEXT), COUNT(*), {refunded}, {none} \
           FROM months m JOIN invoice_refunds r ON r.refunded_on >= m.starts AND r.refunded_on < m.ends \
          WHERE 1 = 1{refunds} GROUP BY m.period, r.currency",
        total = split_sum("i.total", "amount"),
        tax = split_sum("i.tax", "tax"),
        paid = split_sum("p.amount", "amount"),
        refunded = split_sum("r.amount", "amount"),
        none = "CAST(0 AS BIGINT) AS tax_whole, CAST(0 AS BIGINT) AS tax_fraction",
        invoices = scope.sql("i"),
        payments = scope.sql("p"),
        refunds = scope.sql("r"),
    );
    fetch(&mut *conn, sql, &binds).await
}

fn fold_monthly(
    months: &[MonthSpan],
    rows: &[FlowRow],
) -> Result<Vec<InvoicingMonth>, sqlx::Error> {
    let mut by_key: BTreeMap<(String, Currency), InvoicingMonth> = BTreeMap::new();
    let currencies: std::collections::BTreeSet<Currency> = rows
        .iter()
        .map(|r| currency_of(&r.currency))
        .collect::<Result<_, _>>()?;
    // Every month of the period in every currency seen: a chart and a table show quiet months.
    for m in months {
        for &c in &currencies {
            let zero = Money::zero(c);
            by_key.insert(
                (m.month.clone(), c),
                InvoicingMonth {
                    month: m.month.clone(),
                    currency: c,
                    invoices: 0,
                    invoiced: zero,
                    tax: zero,
                    credit_notes: 0,
                    credited: zero,
                    net_invoiced: zero,
                    payments: 0,
                    collected: zero,
                    refunded: zero,
                },
            );
        }
    }
    for r in rows {
        let currency = currency_of(&r.currency)?;
        let Some(row) = by_key.get_mut(&(r.period.clone(), currency)) else {
            continue;
        };
        let amount = units(r.amount_whole, r.amount_fraction);
        match r.flow.as_str() {
            "invoice" => {
                row.invoices = r.n;
                row.invoiced.units = amount;
                row.tax.units = units(r.tax_whole, r.tax_fraction);
            }
            "credit_note" => {
                row.credit_notes = r.n;
                row.credited.units = amount;
            }
            "payment" => {
                row.payments = r.n;
                row.collected.units = amount;
            }
            _ => row.refunded.units = amount,
        }
        row.net_invoiced.units = row.invoiced.units - row.credited.units;
    }
    // Months in order (keys sort as text: `1405-09` < `1405-10`), then currency.
    Ok(by_key.into_values().collect())
}

#[derive(sqlx::FromRow)]
struct AgingSqlRow {
    client_id: i64,
    name: String,
    currency: String,
    bucket: i64,
    n: i64,
    owed_whole: i64,
    owed_fraction: i64,
}

async fn aging(
    conn: &mut AnyConnection,
    filter: &Filter,
    today: NaiveDate,
) -> Result<(Vec<ReceivablesAging>, Vec<ReceivablesAging>), sqlx::Error> {
    let mut binds = Binds::default();
    let scope = Scope::new(filter, &mut binds);
    let first = binds.0.len() + 1;
    for bound in Bucket::due_bounds(today) {
        binds.push(bound.to_string());
    }
    let sql = format!(
        // Grouped first, named after: the names join the groups, not each open invoice.
        "SELECT a.client_id, c.name, a.currency, a.bucket, a.n, a.owed_whole, a.owed_fraction FROM ( \
           SELECT i.client_id, i.currency, {bucket} AS bucket, COUNT(*) AS n, {owed} FROM invoices i \
            WHERE i.kind = 'invoice' AND i.status IN ('sent', 'partially_paid', 'overdue'){scope} \
            GROUP BY i.client_id, i.currency, {bucket} \
         ) a JOIN clients c ON c.id = a.client_id",
        bucket = Bucket::case_sql("i.due_date", first),
        owed = split_sum("i.total - i.amount_paid - i.amount_credited", "owed"),
        scope = scope.sql("i"),
    );
    let rows: Vec<AgingSqlRow> = fetch(&mut *conn, sql, &binds).await?;
    let mut clients: BTreeMap<(Currency, String, i64), ReceivablesAging> = BTreeMap::new();
    let mut totals: BTreeMap<Currency, ReceivablesAging> = BTreeMap::new();
    for r in rows {
        let currency = currency_of(&r.currency)?;
        let bucket = Bucket::from_index(r.bucket)
            .ok_or_else(|| sqlx::Error::Decode("an aging bucket out of range".into()))?;
        let owed = units(r.owed_whole, r.owed_fraction);
        clients
            .entry((currency, r.name.clone(), r.client_id))
            .or_insert_with(|| ReceivablesAging::new(Some((r.client_id, r.name.clone())), currency))
            .add(bucket, r.n, owed);
        totals
            .entry(currency)
            .or_insert_with(|| ReceivablesAging::new(None, currency))
            .add(bucket, r.n, owed);
    }
    Ok((
        clients.into_values().collect(),
        totals.into_values().collect(),
    ))
}

#[derive(sqlx::FromRow)]
struct SalesRow {
    currency: String,
    sold_whole: i64,
    sold_fraction: i64,
}

async fn dso(
    conn: &mut AnyConnection,
    filter: &Filter,
    today: NaiveDate,
    aging_totals: &[ReceivablesAging],
) -> Result<Vec<SalesOutstanding>, sqlx::Error> {
    let mut binds = Binds::default();
    let scope = Scope::new(filter, &mut binds);
    let since = today
        .checked_sub_days(Days::new(DSO_DAYS as u64 - 1))
        .unwrap_or(NaiveDate::MIN);
    let sql = format!(
        "SELECT i.currency, {sold} FROM invoices i \
          WHERE i.sent_at IS NOT NULL \
            AND i.issue_date >= {since} AND i.issue_date <= {today}{scope} \
          GROUP BY i.currency",
        sold = split_sum(
            "CASE WHEN i.kind = 'credit_note' THEN -i.total ELSE i.total END",
            "sold"
        ),
        since = binds.push(since.to_string()),
        today = binds.push(today.to_string()),
        scope = scope.sql("i"),
    );
    let rows: Vec<SalesRow> = fetch(&mut *conn, sql, &binds).await?;
    let mut sales: BTreeMap<Currency, i128> = BTreeMap::new();
    for r in rows {
        sales.insert(
            currency_of(&r.currency)?,
            units(r.sold_whole, r.sold_fraction),
        );
    }
    for t in aging_totals {
        sales.entry(t.currency).or_insert(0);
    }
    Ok(sales
        .into_iter()
        .map(|(currency, sold)| {
            let owed = aging_totals
                .iter()
                .find(|t| t.currency == currency)
                .map_or(0, |t| t.total.units);
            let tenths = dso_tenths(owed, sold, i128::from(DSO_DAYS));
            SalesOutstanding {
                currency,
                receivable: Money::new(owed, currency),
                sales: Money::new(sold, currency),
                days: DSO_DAYS,
                dso: tenths.map(|t| crate::platform::decimal::format_scaled(t, 1)),
                dso_tenths: tenths,
            }
        })
        .collect())
}

#[derive(sqlx::FromRow)]
struct ClientSqlRow {
    client_id: i64,
    name: String,
    currency: String,
    flow: String,
    amount_whole: i64,
    amount_fraction: i64,
}

async fn top_clients(
    conn: &mut AnyConnection,
    filter: &Filter,
    aging: &[ReceivablesAging],
) -> Result<Vec<TopClient>, sqlx::Error> {
    let mut binds = Binds::default();
    let scope = Scope::new(filter, &mut binds);
    let starts = binds.push(filter.period.starts().to_string());
    let ends = binds.push(filter.period.ends().to_string());
    let sql = format!(
        "SELECT f.client_id, c.name, f.currency, f.flow, f.amount_whole, f.amount_fraction FROM ( \
           SELECT i.client_id, i.currency, i.kind AS flow, {total} FROM invoices i \
            WHERE i.sent_at IS NOT NULL AND i.issue_date >= {starts} AND i.issue_date < {ends}{invoices} \
            GROUP BY i.client_id, i.currency, i.kind \
           UNION ALL \
           SELECT p.client_id, p.currency, CAST('payment' AS TEXT), {paid} FROM invoice_payments p \
            WHERE p.received_on >= {starts} AND p.received_on < {ends}{payments} \
            GROUP BY p.client_id, p.currency \
         ) f JOIN clients c ON c.id = f.client_id",
        total = split_sum("i.total", "amount"),
        paid = split_sum("p.amount", "amount"),
        invoices = scope.sql("i"),
        payments = scope.sql("p"),
    );
    let rows: Vec<ClientSqlRow> = fetch(&mut *conn, sql, &binds).await?;
    let mut clients: BTreeMap<(Currency, i64), TopClient> = BTreeMap::new();
    for r in rows {
        let currency = currency_of(&r.currency)?;
        let zero = Money::zero(currency);
        let row = clients
            .entry((currency, r.client_id))
            .or_insert_with(|| TopClient {
                client_id: r.client_id,
                client: r.name.clone(),
                currency,
                invoiced: zero,
                credited: zero,
                net_invoiced: zero,
                collected: zero,
                outstanding: aging
                    .iter()
                    .find(|a| a.client_id == Some(r.client_id) && a.currency == currency)
                    .map_or(zero, |a| a.total),
            });
        let amount = units(r.amount_whole, r.amount_fraction);
        match r.flow.as_str() {
            "invoice" => row.invoiced.units = amount,
            "credit_note" => row.credited.units = amount,
            _ => row.collected.units = amount,
        }
        row.net_invoiced.units = row.invoiced.units - row.credited.units;
    }
    let mut per_currency: BTreeMap<Currency, Vec<TopClient>> = BTreeMap::new();
    for ((currency, _), row) in clients {
        per_currency.entry(currency).or_default().push(row);
    }
    Ok(per_currency
        .into_values()
        .flat_map(|mut rows| {
            rows.sort_by(|a, b| {
                b.net_invoiced
                    .units
                    .cmp(&a.net_invoiced.units)
                    .then_with(|| a.client.cmp(&b.client))
                    .then(a.client_id.cmp(&b.client_id))
            });
            rows.truncate(TOP_CLIENTS);
            rows
        })
        .collect())
}

#[derive(sqlx::FromRow, serde::Serialize, serde::Deserialize)]
struct TaxSqlRow {
    period: String,
    currency: String,
    kind: String,
    tax_code: String,
    tax_rate: i64,
    taxable_whole: i64,
    taxable_fraction: i64,
    tax_whole: i64,
    tax_fraction: i64,
}

async fn tax(
    conn: &mut AnyConnection,
    filter: &Filter,
    months: &[MonthSpan],
    counts: Option<&SourceCounts>,
) -> Result<Vec<TaxReturnRow>, sqlx::Error> {
    let params = kept_params(filter);
    let rows = cache::read_through(
        conn,
        ("invoicing_tax", &params),
        months,
        |m| &m.month,
        counts.map(|c| &c.invoices),
        |r: &TaxSqlRow| &r.period,
        async |conn, months| tax_rows(conn, filter, months).await,
    )
    .await?;
    fold_tax(rows)
}

async fn tax_rows(
    conn: &mut AnyConnection,
    filter: &Filter,
    months: &[MonthSpan],
) -> Result<Vec<TaxSqlRow>, sqlx::Error> {
    let mut binds = Binds::default();
    let scope = Scope::new(filter, &mut binds);
    let cte = months_cte(date_spans(months), &mut binds);
    let sql = format!(
        "{cte} \
         SELECT m.period, i.currency, i.kind, t.tax_code, t.tax_rate, {taxable}, {tax} \
           FROM months m JOIN invoices i ON i.issue_date >= m.starts AND i.issue_date < m.ends \
           JOIN invoice_taxes t ON t.invoice_id = i.id \
          WHERE i.sent_at IS NOT NULL{scope} \
          GROUP BY m.period, i.currency, i.kind, t.tax_code, t.tax_rate",
        taxable = split_sum("t.taxable", "taxable"),
        tax = split_sum("t.tax", "tax"),
        scope = scope.sql("i"),
    );
    fetch(&mut *conn, sql, &binds).await
}

fn fold_tax(rows: Vec<TaxSqlRow>) -> Result<Vec<TaxReturnRow>, sqlx::Error> {
    let mut by_key: BTreeMap<(String, Currency, String, i64), TaxReturnRow> = BTreeMap::new();
    for r in rows {
        let currency = currency_of(&r.currency)?;
        let zero = Money::zero(currency);
        let row = by_key
            .entry((r.period.clone(), currency, r.tax_code.clone(), r.tax_rate))
            .or_insert_with(|| TaxReturnRow {
                month: r.period.clone(),
                currency,
                tax_code: r.tax_code.clone(),
                rate: Percent(r.tax_rate).to_string(),
                rate_basis_points: r.tax_rate,
                taxable: zero,
                tax: zero,
                credited_taxable: zero,
                credited_tax: zero,
                net_taxable: zero,
                net_tax: zero,
            });
        let (taxable, tax) = (
            units(r.taxable_whole, r.taxable_fraction),
            units(r.tax_whole, r.tax_fraction),
        );
        if r.kind == "credit_note" {
            row.credited_taxable.units = taxable;
            row.credited_tax.units = tax;
        } else {
            row.taxable.units = taxable;
            row.tax.units = tax;
        }
        row.net_taxable.units = row.taxable.units - row.credited_taxable.units;
        row.net_tax.units = row.tax.units - row.credited_tax.units;
    }
    Ok(by_key.into_values().collect())
}
