//! `saghat ledger verify`: checks every invariant of the books against the database as it is,
//! and against the business records (payments, loans) the books must agree with.

use std::collections::HashMap;
use std::fmt;

use sqlx::AssertSqlSafe;

use super::domain::Side;
use super::store::Totals;
use crate::platform::db::{split_sum, Db};
use crate::platform::money::Amount;

/// One invariant: how many things were checked, and what broke it.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub checked: usize,
    pub violations: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.checks.iter().all(|c| c.violations.is_empty())
    }

    fn add(&mut self, name: &'static str, checked: usize, violations: Vec<String>) {
        self.checks.push(Check {
            name,
            checked,
            violations,
        });
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            let status = if check.violations.is_empty() {
                "ok  "
            } else {
                "FAIL"
            };
            writeln!(f, "{status} {} ({} checked)", check.name, check.checked)?;
            for violation in check.violations.iter().take(50) {
                writeln!(f, "       - {violation}")?;
            }
            if check.violations.len() > 50 {
                writeln!(f, "       … and {} more", check.violations.len() - 50)?;
            }
        }
        let failed = self
            .checks
            .iter()
            .filter(|c| !c.violations.is_empty())
            .count();
        write!(f, "{} checks, {failed} failed", self.checks.len())
    }
}

/// Each member account's balance on its normal side, by (user, kind).
type LedgerBalances = HashMap<(i64, String), Amount>;

/// Per transaction (and currency): entry count and totals.
struct TxTotals {
    entries: i64,
    debits: Amount,
    credits: Amount,
}

pub async fn verify(db: &Db) -> Result<Report, sqlx::Error> {
    let mut conn = db.pool.acquire().await?;
    let mut report = Report::default();

    // 1. Every transaction balances per currency and has two entries or more.
    let sql = format!(
        "SELECT t.id, e.currency, COUNT(e.id) AS n, {}, {} FROM journal_transactions t \
         LEFT JOIN journal_entries e ON e.transaction_id = t.id GROUP BY t.id, e.currency",
        split_sum("e.debit", "debits"),
        split_sum("e.credit", "credits")
    );
    #[derive(sqlx::FromRow)]
    struct TxRow {
        id: String,
        currency: Option<String>,
        n: i64,
        #[sqlx(flatten)]
        totals: Totals,
    }
    let rows: Vec<TxRow> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?;
    let mut totals: HashMap<String, TxTotals> = HashMap::new();
    let mut unbalanced = vec![];
    for row in rows {
        let (debits, credits) = (row.totals.debits(), row.totals.credits());
        if debits != credits {
            unbalanced.push(format!(
                "transaction {} ({}): debits {debits} ≠ credits {credits}",
                row.id,
                row.currency.unwrap_or_default()
            ));
        }
        let t = totals.entry(row.id).or_insert(TxTotals {
            entries: 0,
            debits: Amount::ZERO,
            credits: Amount::ZERO,
        });
        t.entries += row.n;
        t.debits = t.debits.checked_add(debits).unwrap_or(t.debits);
        t.credits = t.credits.checked_add(credits).unwrap_or(t.credits);
    }
    report.add(
        "every journal transaction balances in each currency",
        totals.len(),
        unbalanced,
    );
    let short: Vec<String> = totals
        .iter()
        .filter(|(_, t)| t.entries < 2)
        .map(|(id, t)| format!("transaction {id} has {} entries", t.entries))
        .collect();
    report.add(
        "every journal transaction has at least two entries",
        totals.len(),
        short,
    );

    // 2. Entries: each belongs to a transaction and an account, and carries one positive side.
    // Units as stored, so that a malformed entry is shown as it is.
    #[derive(sqlx::FromRow)]
    struct EntryRow {
        id: i64,
        debit: i64,
        credit: i64,
        no_tx: i64,
        no_account: i64,
    }
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT e.id, e.debit, e.credit, \
         CAST(CASE WHEN t.id IS NULL THEN 1 ELSE 0 END AS BIGINT) AS no_tx, \
         CAST(CASE WHEN a.id IS NULL THEN 1 ELSE 0 END AS BIGINT) AS no_account \
         FROM journal_entries e LEFT JOIN journal_transactions t ON t.id = e.transaction_id \
         LEFT JOIN ledger_accounts a ON a.id = e.account_id \
         WHERE t.id IS NULL OR a.id IS NULL OR NOT ((e.debit > 0 AND e.credit = 0) OR (e.credit > 0 AND e.debit = 0))",
    )
    .fetch_all(&mut *conn)
    .await?;
    let entry_count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM journal_entries")
        .fetch_one(&mut *conn)
        .await?;
    let mut orphans = vec![];
    for row in &rows {
        let id = row.id;
        if row.no_tx == 1 {
            orphans.push(format!("entry {id} belongs to no transaction"));
        }
        if row.no_account == 1 {
            orphans.push(format!("entry {id} belongs to no account"));
        }
        let (debit, credit) = (row.debit, row.credit);
        if !((debit > 0 && credit == 0) || (credit > 0 && debit == 0)) {
            orphans.push(format!(
                "entry {id} has debit {debit} and credit {credit} (units)"
            ));
        }
    }
    report.add(
        "no orphan or two-sided entries",
        entry_count as usize,
        orphans,
    );

    // 3. Every payment is posted exactly once, with its own amounts, and nothing else claims to be a payment.
    let sql =
        "SELECT p.id, p.amount, p.membership_fee, p.loan_amount, \
         CAST(COUNT(t.id) AS BIGINT) AS postings, \
         CAST(COALESCE(SUM(CASE WHEN a.kind = 'fund_cash' THEN e.debit - e.credit ELSE 0 END), 0) AS BIGINT) AS cash, \
         CAST(COALESCE(SUM(CASE WHEN a.kind = 'member_contributions' AND a.user_id = p.user_id THEN e.credit - e.debit ELSE 0 END), 0) AS BIGINT) AS fee, \
         CAST(COALESCE(SUM(CASE WHEN a.kind = 'member_loan_receivable' AND a.user_id = p.user_id THEN e.credit - e.debit ELSE 0 END), 0) AS BIGINT) AS repaid \
         FROM payments p LEFT JOIN journal_transactions t ON t.payment_id = p.id AND t.kind = 'payment' \
         LEFT JOIN journal_entries e ON e.transaction_id = t.id LEFT JOIN ledger_accounts a ON a.id = e.account_id \
         GROUP BY p.id, p.amount, p.membership_fee, p.loan_amount";
    #[derive(sqlx::FromRow)]
    struct PaymentRow {
        id: String,
        amount: Amount,
        membership_fee: Amount,
        loan_amount: Option<Amount>,
        postings: i64,
        cash: Amount,
        fee: Amount,
        repaid: Amount,
    }
    let rows: Vec<PaymentRow> = sqlx::query_as(sql).fetch_all(&mut *conn).await?;
    let mut payment_problems = vec![];
    for row in &rows {
        let id = &row.id;
        let expected = (
            row.amount,
            row.membership_fee,
            row.loan_amount.unwrap_or(Amount::ZERO),
        );
        let posted = (row.cash, row.fee, row.repaid);
        if row.postings == 0 {
            payment_problems.push(format!("payment {id} is not in the ledger"));
        } else if expected != posted {
            payment_problems.push(format!(
                "payment {id}: recorded (total, fee, repayment) {} but the ledger says {}",
                units3(expected),
                units3(posted)
            ));
        }
    }
    let stray: Vec<String> = sqlx::query_scalar(
        "SELECT t.id FROM journal_transactions t LEFT JOIN payments p ON p.id = t.payment_id \
         WHERE t.kind = 'payment' AND p.id IS NULL",
    )
    .fetch_all(&mut *conn)
    .await?;
    payment_problems.extend(
        stray
            .into_iter()
            .map(|id| format!("transaction {id} posts a payment that does not exist")),
    );
    report.add(
        "every payment is posted once with its amounts",
        rows.len(),
        payment_problems,
    );

    // 4. Every loan paid out is posted once with its amount; `no_one` months move no money.
    #[derive(sqlx::FromRow)]
    struct LoanRow {
        id: String,
        state: String,
        amount: Option<Amount>,
        postings: i64,
        lent: Amount,
    }
    let rows: Vec<LoanRow> = sqlx::query_as(
        "SELECT l.id, l.state, l.amount, CAST(COUNT(DISTINCT t.id) AS BIGINT) AS postings, \
         CAST(COALESCE(SUM(CASE WHEN a.kind = 'member_loan_receivable' AND a.user_id = l.user_id THEN e.debit - e.credit ELSE 0 END), 0) AS BIGINT) AS lent \
         FROM loans l LEFT JOIN journal_transactions t ON t.loan_id = l.id AND t.kind = 'loan_disbursement' \
         LEFT JOIN journal_entries e ON e.transaction_id = t.id LEFT JOIN ledger_accounts a ON a.id = e.account_id \
         GROUP BY l.id, l.state, l.amount",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut loan_problems = vec![];
    for row in &rows {
        let (id, postings, lent) = (&row.id, row.postings, row.lent);
        match (row.state.as_str(), row.amount) {
            ("no_one", _) if postings > 0 => {
                loan_problems.push(format!("loan {id} went to no one but money was paid out"))
            }
            ("no_one", _) => {}
            (_, Some(amount)) if postings != 1 || lent != amount => loan_problems.push(format!(
                "loan {id} of {amount} is posted {postings} times for {lent}"
            )),
            _ => {}
        }
    }
    report.add(
        "every loan paid out is posted once with its amount",
        rows.len(),
        loan_problems,
    );

    // 5. Balances derived from the ledger equal what the business records say.
    let sql = format!(
        "SELECT a.user_id, a.kind, {}, {} FROM ledger_accounts a LEFT JOIN journal_entries e ON e.account_id = a.id \
         WHERE a.user_id IS NOT NULL GROUP BY a.user_id, a.kind",
        split_sum("e.debit", "debits"),
        split_sum("e.credit", "credits")
    );
    #[derive(sqlx::FromRow)]
    struct AccountRow {
        user_id: i64,
        kind: String,
        #[sqlx(flatten)]
        totals: Totals,
    }
    let ledger_rows: Vec<AccountRow> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?;
    let sql = format!(
        "SELECT u.id, \
           (SELECT {} FROM payments p WHERE p.user_id = u.id) AS fees_whole, \
           (SELECT {} FROM payments p WHERE p.user_id = u.id) AS fees_fraction, \
           (SELECT {} FROM loans l WHERE l.user_id = u.id AND l.state IN ('active', 'settled')) AS lent_whole, \
           (SELECT {} FROM loans l WHERE l.user_id = u.id AND l.state IN ('active', 'settled')) AS lent_fraction, \
           (SELECT {} FROM payments p WHERE p.user_id = u.id) AS repaid_whole, \
           (SELECT {} FROM payments p WHERE p.user_id = u.id) AS repaid_fraction, \
           (SELECT {} FROM fund_departures d WHERE d.user_id = u.id AND d.state = 'confirmed') AS left_whole, \
           (SELECT {} FROM fund_departures d WHERE d.user_id = u.id AND d.state = 'confirmed') AS left_fraction, \
           (SELECT {} FROM loans l WHERE l.user_id = u.id) AS settled_whole, \
           (SELECT {} FROM loans l WHERE l.user_id = u.id) AS settled_fraction \
         FROM users u",
        whole("p.membership_fee"),
        fraction("p.membership_fee"),
        whole("l.amount"),
        fraction("l.amount"),
        whole("COALESCE(p.loan_amount, 0)"),
        fraction("COALESCE(p.loan_amount, 0)"),
        whole("COALESCE(d.contributions, 0)"),
        fraction("COALESCE(d.contributions, 0)"),
        whole("COALESCE(l.settled_from_contributions, 0)"),
        fraction("COALESCE(l.settled_from_contributions, 0)"),
    );
    #[derive(sqlx::FromRow)]
    struct UserRow {
        id: i64,
        fees_whole: i64,
        fees_fraction: i64,
        lent_whole: i64,
        lent_fraction: i64,
        repaid_whole: i64,
        repaid_fraction: i64,
        left_whole: i64,
        left_fraction: i64,
        settled_whole: i64,
        settled_fraction: i64,
    }
    let business_rows: Vec<UserRow> = sqlx::query_as(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await?;
    let mut ledger_balances: LedgerBalances = HashMap::new();
    for row in ledger_rows {
        let side = if row.kind == "member_contributions" {
            Side::Credit
        } else {
            Side::Debit
        };
        ledger_balances.insert((row.user_id, row.kind), row.totals.balance(side));
    }
    let mut balance_problems = vec![];
    let (mut fees_total, mut lent_total, mut repaid_total) =
        (Amount::ZERO, Amount::ZERO, Amount::ZERO);
    // Paid back to members who left: their contributions less what settled their loans.
    let mut refunded_total = Amount::ZERO;
    for row in &business_rows {
        let user = row.id;
        let fees = Amount::from_split_sum(row.fees_whole, row.fees_fraction);
        let lent = Amount::from_split_sum(row.lent_whole, row.lent_fraction);
        let repaid = Amount::from_split_sum(row.repaid_whole, row.repaid_fraction);
        let left_with = Amount::from_split_sum(row.left_whole, row.left_fraction);
        let settled = Amount::from_split_sum(row.settled_whole, row.settled_fraction);
        fees_total = fees_total.checked_add(fees).unwrap_or(fees_total);
        lent_total = lent_total.checked_add(lent).unwrap_or(lent_total);
        repaid_total = repaid_total.checked_add(repaid).unwrap_or(repaid_total);
        let refunded = left_with.checked_sub(settled).unwrap_or_default();
        refunded_total = refunded_total
            .checked_add(refunded)
            .unwrap_or(refunded_total);
        let owed = lent
            .checked_sub(repaid)
            .and_then(|o| o.checked_sub(settled))
            .unwrap_or_default();
        let contributions = fees.checked_sub(left_with).unwrap_or_default();
        for (kind, expected) in [
            ("member_contributions", contributions),
            ("member_loan_receivable", owed),
        ] {
            match ledger_balances.get(&(user, kind.to_string())) {
                None => balance_problems.push(format!("user {user} has no {kind} account")),
                Some(actual) if *actual != expected => balance_problems.push(format!(
                    "user {user} {kind}: ledger {actual}, records {expected}"
                )),
                Some(_) => {}
            }
        }
    }
    let cash = {
        let sql = format!(
            "SELECT {}, {} FROM journal_entries e JOIN ledger_accounts a ON a.id = e.account_id \
             WHERE a.kind IN ('fund_cash', 'gateway_clearing')",
            split_sum("e.debit", "debits"),
            split_sum("e.credit", "credits")
        );
        let totals: Totals = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await?;
        totals.balance(Side::Debit)
    };
    // The cash counts the money a gateway verified for the fund and has yet to pay out (online
    // ticket repayments). Tickets are lent from the same cash: their principal leaves it, their
    // repayments return.
    let tickets = tickets::read(&mut conn).await?;
    let expected_cash = fees_total
        .checked_add(repaid_total)
        .and_then(|t| t.checked_sub(lent_total))
        .and_then(|t| t.checked_add(tickets.repaid_total))
        .and_then(|t| t.checked_sub(tickets.principal_total))
        .and_then(|t| t.checked_sub(refunded_total))
        .unwrap_or_default();
    if cash != expected_cash {
        balance_problems.push(format!(
            "fund cash (with money at the gateway) is {cash} in the ledger, but fees {fees_total} + repayments {repaid_total} − loans {lent_total} \
             + ticket repayments {} − tickets paid out {} − refunds to members who left {refunded_total} = {expected_cash}",
            tickets.repaid_total, tickets.principal_total
        ));
    }
    report.add(
        "member balances and the fund's cash equal fees + repayments − loans paid out − refunds",
        business_rows.len() + 1,
        balance_problems,
    );

    // 6. Loan states agree with their repayments.
    #[derive(sqlx::FromRow)]
    struct StateRow {
        id: String,
        state: String,
        amount: Amount,
        repaid: Amount,
    }
    let rows: Vec<StateRow> = sqlx::query_as(
        "SELECT l.id, l.state, l.amount, CAST(COALESCE(SUM(p.loan_amount), 0) \
                + COALESCE(MAX(l.settled_from_contributions), 0) AS BIGINT) AS repaid \
         FROM loans l LEFT JOIN payments p ON p.loan_id = l.id WHERE l.state <> 'no_one' \
         GROUP BY l.id, l.state, l.amount",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut state_problems = vec![];
    for row in &rows {
        let (id, state, amount, repaid) = (&row.id, &row.state, row.amount, row.repaid);
        let consistent = match state.as_str() {
            "settled" => repaid == amount,
            _ => repaid < amount,
        };
        if !consistent {
            state_problems.push(format!(
                "loan {id} is {state} with {repaid} of {amount} repaid"
            ));
        }
    }
    report.add(
        "settled loans are fully repaid and active ones are not",
        rows.len(),
        state_problems,
    );

    // 7. Loan-request tickets: each disbursed once with its schedule, each repayment once, the
    // receivables and the fees earned equal what the tickets tables say.
    tickets::check(&mut conn, &tickets, &ledger_balances, &mut report).await?;

    // 8. Invoicing: each client's receivable and credit, per currency, equal what the invoices,
    // payments, allocations and refunds say; every sent invoice is posted once.
    invoicing::check(&mut conn, &mut report).await?;
    Ok(report)
}

/// The invoicing side of the books. Amounts are in each currency's minor units, as stored.
mod invoicing {
    use std::collections::BTreeMap;

    use sqlx::AnyConnection;

    use super::Report;

    type Balances = BTreeMap<(i64, String), i64>;

    async fn per_client(conn: &mut AnyConnection, sql: &str) -> Result<Balances, sqlx::Error> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_all(conn)
            .await?;
        Ok(rows.into_iter().map(|(c, cur, v)| ((c, cur), v)).collect())
    }

    fn compare(name: &str, ledger: &Balances, records: &Balances) -> Vec<String> {
        let keys: std::collections::BTreeSet<_> = ledger.keys().chain(records.keys()).collect();
        keys.into_iter()
            .filter_map(|key| {
                let (l, r) = (
                    ledger.get(key).copied().unwrap_or(0),
                    records.get(key).copied().unwrap_or(0),
                );
                (l != r).then(|| {
                    format!(
                        "client {} {}: the ledger's {name} is {l} but the records say {r} (minor units)",
                        key.0, key.1
                    )
                })
            })
            .collect()
    }

    pub(super) async fn check(
        conn: &mut AnyConnection,
        report: &mut Report,
    ) -> Result<(), sqlx::Error> {
        let ledger_of = |kind: &str, sign: &str| {
            format!(
                "SELECT a.client_id, a.currency, CAST(COALESCE(SUM({sign}), 0) AS BIGINT)                  FROM ledger_accounts a LEFT JOIN journal_entries e ON e.account_id = a.id                  WHERE a.kind = '{kind}' GROUP BY a.client_id, a.currency"
            )
        };
        let receivable =
            per_client(conn, &ledger_of("client_receivable", "e.debit - e.credit")).await?;
        let due = per_client(
            conn,
            "SELECT client_id, currency, CAST(SUM(total - amount_paid - amount_credited) AS BIGINT)              FROM invoices WHERE kind = 'invoice' AND sent_at IS NOT NULL GROUP BY client_id, currency",
        )
        .await?;
        let problems = compare("receivable", &receivable, &due);
        report.add(
            "each client's receivable equals the amounts due of its sent invoices, per currency",
            due.len().max(receivable.len()),
            problems,
        );

        let credit = per_client(conn, &ledger_of("client_credit", "e.credit - e.debit")).await?;
        let owed = per_client(
            conn,
            "SELECT client_id, currency, CAST(SUM(x) AS BIGINT) FROM (                SELECT client_id, currency, amount AS x FROM invoice_payments                UNION ALL SELECT client_id, currency, total FROM invoices                  WHERE kind = 'credit_note' AND sent_at IS NOT NULL                UNION ALL SELECT i.client_id, a.currency, -a.amount FROM invoice_allocations a                  JOIN invoices i ON i.id = a.invoice_id                UNION ALL SELECT client_id, currency, -amount FROM invoice_refunds              ) s GROUP BY client_id, currency",
        )
        .await?;
        let problems = compare("credit", &credit, &owed);
        report.add(
            "each client's credit equals unallocated payments + unapplied credit notes − refunds, per currency",
            owed.len().max(credit.len()),
            problems,
        );

        // Each sent invoice: one posting of its total; paid and credited equal its allocations.
        let rows: Vec<(String, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT i.id, i.total, i.amount_paid, i.amount_credited,                (SELECT CAST(COUNT(*) AS BIGINT) FROM journal_transactions t WHERE t.id = 'invoice_sent:' || i.id),                (SELECT CAST(COALESCE(SUM(CASE WHEN a.source <> 'credit_note' THEN a.amount ELSE 0 END), 0) AS BIGINT)                   FROM invoice_allocations a WHERE a.invoice_id = i.id),                (SELECT CAST(COALESCE(SUM(CASE WHEN a.source = 'credit_note' THEN a.amount ELSE 0 END), 0) AS BIGINT)                   FROM invoice_allocations a WHERE a.invoice_id = i.id)              FROM invoices i WHERE i.kind = 'invoice' AND i.sent_at IS NOT NULL",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut problems = vec![];
        for (id, _total, paid, credited, postings, allocated, applied) in &rows {
            if *postings != 1 {
                problems.push(format!("invoice {id} is posted {postings} times"));
            }
            if (paid, credited) != (allocated, applied) {
                problems.push(format!(
                    "invoice {id} says paid {paid} and credited {credited} but its allocations are {allocated} and {applied}"
                ));
            }
        }
        report.add(
            "every sent invoice is posted once and its paid and credited amounts equal its allocations",
            rows.len(),
            problems,
        );

        // Online payments: what each gateway clearing account holds equals the verified
        // payments recorded and not yet paid out; each recorded one is a gateway payment of
        // its amount.
        let in_clearing: BTreeMap<String, i64> = sqlx::query_as(
            "SELECT a.currency, CAST(COALESCE(SUM(e.debit - e.credit), 0) AS BIGINT) \
             FROM ledger_accounts a LEFT JOIN journal_entries e ON e.account_id = a.id \
             WHERE a.kind = 'invoicing_gateway_clearing' GROUP BY a.currency",
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
        let mut unsettled: BTreeMap<String, i64> = sqlx::query_as(
            "SELECT currency, CAST(SUM(amount) AS BIGINT) FROM payment_intents \
             WHERE state = 'verified' AND payment_id IS NOT NULL AND settled_at IS NULL \
             GROUP BY currency",
        )
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
        // The fund's clearing (USDT, 10⁻⁸ units) holds the online ticket repayments.
        let fund_clearing: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(e.debit - e.credit), 0) AS BIGINT) FROM ledger_accounts a \
             LEFT JOIN journal_entries e ON e.account_id = a.id WHERE a.kind = 'gateway_clearing'",
        )
        .fetch_one(&mut *conn)
        .await?;
        let fund_unsettled: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(usdt_amount), 0) AS BIGINT) FROM payment_intents \
             WHERE state = 'verified' AND repayment_id IS NOT NULL AND settled_at IS NULL",
        )
        .fetch_one(&mut *conn)
        .await?;
        let mut in_clearing = in_clearing;
        if fund_clearing != 0 || fund_unsettled != 0 {
            in_clearing.insert("USDT (fund)".into(), fund_clearing);
            unsettled.insert("USDT (fund)".into(), fund_unsettled);
        }
        let currencies: std::collections::BTreeSet<&String> =
            in_clearing.keys().chain(unsettled.keys()).collect();
        let mut problems: Vec<String> = currencies
            .iter()
            .filter_map(|cur| {
                let (l, r) = (
                    in_clearing.get(*cur).copied().unwrap_or(0),
                    unsettled.get(*cur).copied().unwrap_or(0),
                );
                (l != r).then(|| {
                    format!("{cur}: the gateway clearing holds {l} but the verified payments not paid out are {r}")
                })
            })
            .collect();
        let mismatched: Vec<(String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT i.id, p.amount, p.method FROM payment_intents i \
             LEFT JOIN invoice_payments p ON p.id = i.payment_id \
             WHERE i.payment_id IS NOT NULL AND (p.id IS NULL OR p.amount <> i.amount \
             OR p.method <> 'gateway' OR i.state <> 'verified')",
        )
        .fetch_all(&mut *conn)
        .await?;
        problems.extend(mismatched.into_iter().map(|(id, amount, method)| {
            format!("online payment {id} is recorded as {amount:?} by {method:?}")
        }));
        let repayments: Vec<(String, Option<i64>)> = sqlx::query_as(
            "SELECT i.id, r.amount FROM payment_intents i \
             LEFT JOIN ticket_repayments r ON r.id = i.repayment_id \
             WHERE i.repayment_id IS NOT NULL AND (r.id IS NULL OR r.amount <> i.usdt_amount \
             OR i.state <> 'verified')",
        )
        .fetch_all(&mut *conn)
        .await?;
        problems.extend(
            repayments.into_iter().map(|(id, amount)| {
                format!("online ticket repayment {id} is recorded as {amount:?}")
            }),
        );
        report.add(
            "the gateway clearing holds exactly the verified online payments not yet paid out",
            currencies.len(),
            problems,
        );
        Ok(())
    }
}

/// The tickets' side of the books: what the tickets tables say was lent and repaid, against
/// the `ticket_disbursement` and `ticket_repayment` transactions.
mod tickets {
    use std::collections::BTreeMap;

    use sqlx::AnyConnection;

    use super::{LedgerBalances, Report};
    use crate::ledger::domain::{Account, Side};
    use crate::platform::money::Amount;

    /// A ticket that is (or, by the ledger, was) disbursed, with its records and its postings.
    #[derive(sqlx::FromRow)]
    pub(super) struct TicketRow {
        id: String,
        borrower_id: i64,
        state: String,
        amount: Amount,
        /// principal + charge over the schedule
        owed: Amount,
        charge: Amount,
        /// paid over the schedule
        settled: Amount,
        repaid: Amount,
        postings: i64,
        lent: Amount,
        paid_out: Amount,
    }

    pub(super) struct Tickets {
        rows: Vec<TicketRow>,
        pub principal_total: Amount,
        pub repaid_total: Amount,
    }

    const DISBURSED: &str = "('disbursed', 'repaying', 'repaid', 'defaulted')";

    pub(super) async fn read(conn: &mut AnyConnection) -> Result<Tickets, sqlx::Error> {
        let posted = |expression: &str, kind: &str| {
            format!(
                "(SELECT CAST(COALESCE(SUM({expression}), 0) AS BIGINT) FROM journal_transactions j \
                 JOIN journal_entries e ON e.transaction_id = j.id JOIN ledger_accounts a ON a.id = e.account_id \
                 WHERE j.ticket_id = t.id AND j.kind = 'ticket_disbursement' AND a.kind = '{kind}')"
            )
        };
        let sql = format!(
            "SELECT t.id, t.borrower_id, t.state, t.amount, \
             (SELECT CAST(COALESCE(SUM(i.principal + i.charge), 0) AS BIGINT) FROM ticket_installments i WHERE i.ticket_id = t.id) AS owed, \
             (SELECT CAST(COALESCE(SUM(i.charge), 0) AS BIGINT) FROM ticket_installments i WHERE i.ticket_id = t.id) AS charge, \
             (SELECT CAST(COALESCE(SUM(i.paid), 0) AS BIGINT) FROM ticket_installments i WHERE i.ticket_id = t.id) AS settled, \
             (SELECT CAST(COALESCE(SUM(r.amount), 0) AS BIGINT) FROM ticket_repayments r WHERE r.ticket_id = t.id) AS repaid, \
             (SELECT CAST(COUNT(*) AS BIGINT) FROM journal_transactions j WHERE j.ticket_id = t.id AND j.kind = 'ticket_disbursement') AS postings, \
             {} AS lent, {} AS paid_out \
             FROM tickets t WHERE t.state IN {DISBURSED} \
             OR EXISTS (SELECT 1 FROM journal_transactions j WHERE j.ticket_id = t.id) ORDER BY t.id",
            posted("e.debit - e.credit", "member_ticket_receivable"),
            posted("e.credit - e.debit", "fund_cash"),
        );
        let rows: Vec<TicketRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await?;
        let (mut principal_total, mut repaid_total) = (Amount::ZERO, Amount::ZERO);
        for row in &rows {
            // What the ledger paid out, so that a ticket posted but not disbursed (reported
            // below) does not also show as a cash difference.
            principal_total = principal_total
                .checked_add(row.paid_out)
                .unwrap_or(principal_total);
        }
        let repaid: Vec<Amount> = sqlx::query_scalar("SELECT amount FROM ticket_repayments")
            .fetch_all(&mut *conn)
            .await?;
        for amount in repaid {
            repaid_total = repaid_total.checked_add(amount).unwrap_or(repaid_total);
        }
        Ok(Tickets {
            rows,
            principal_total,
            repaid_total,
        })
    }

    pub(super) async fn check(
        conn: &mut AnyConnection,
        tickets: &Tickets,
        ledger_balances: &LedgerBalances,
        report: &mut Report,
    ) -> Result<(), sqlx::Error> {
        let disbursed =
            |state: &str| matches!(state, "disbursed" | "repaying" | "repaid" | "defaulted");
        let mut problems = vec![];
        let mut owed_by: BTreeMap<i64, Amount> = BTreeMap::new();
        let mut charges = Amount::ZERO;
        for row in &tickets.rows {
            let (id, state) = (&row.id, row.state.as_str());
            if !disbursed(state) {
                problems.push(format!("ticket {id} is {state} but the ledger paid it out"));
                continue;
            }
            if row.postings != 1 || row.lent != row.owed || row.paid_out != row.amount {
                problems.push(format!(
                    "ticket {id} of {} (owed {}) is posted {} times, lending {} out of {} cash",
                    row.amount, row.owed, row.postings, row.lent, row.paid_out
                ));
            }
            if row.owed.checked_sub(row.charge) != Some(row.amount) {
                problems.push(format!(
                    "ticket {id}: its schedule's principal is not its amount {}",
                    row.amount
                ));
            }
            if row.settled != row.repaid {
                problems.push(format!(
                    "ticket {id}: repayments of {} but {} settled on its installments",
                    row.repaid, row.settled
                ));
            }
            let consistent = match state {
                "repaid" => row.repaid == row.owed,
                _ => row.repaid < row.owed,
            };
            if !consistent {
                problems.push(format!(
                    "ticket {id} is {state} with {} of {} repaid",
                    row.repaid, row.owed
                ));
            }
            let still = row.owed.checked_sub(row.repaid).unwrap_or_default();
            let total = owed_by.entry(row.borrower_id).or_default();
            *total = total.checked_add(still).unwrap_or(*total);
            charges = charges.checked_add(row.charge).unwrap_or(charges);
        }
        report.add(
            "every disbursed ticket is posted once with its schedule",
            tickets.rows.len(),
            problems,
        );

        // Each repayment is one transaction with the repayment's id and amount.
        #[derive(sqlx::FromRow)]
        struct RepaymentRow {
            id: String,
            amount: Amount,
            postings: i64,
            cash: Amount,
            settled: Amount,
        }
        let rows: Vec<RepaymentRow> = sqlx::query_as(
            "SELECT r.id, r.amount, CAST(COUNT(DISTINCT j.id) AS BIGINT) AS postings, \
             CAST(COALESCE(SUM(CASE WHEN a.kind IN ('fund_cash', 'gateway_clearing') THEN e.debit - e.credit ELSE 0 END), 0) AS BIGINT) AS cash, \
             CAST(COALESCE(SUM(CASE WHEN a.kind = 'member_ticket_receivable' AND a.user_id = t.borrower_id \
               THEN e.credit - e.debit ELSE 0 END), 0) AS BIGINT) AS settled \
             FROM ticket_repayments r JOIN tickets t ON t.id = r.ticket_id \
             LEFT JOIN journal_transactions j ON j.id = r.id AND j.kind = 'ticket_repayment' AND j.ticket_id = r.ticket_id \
             LEFT JOIN journal_entries e ON e.transaction_id = j.id LEFT JOIN ledger_accounts a ON a.id = e.account_id \
             GROUP BY r.id, r.amount",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut problems = vec![];
        for row in &rows {
            if row.postings != 1 || row.cash != row.amount || row.settled != row.amount {
                problems.push(format!(
                    "ticket repayment {} of {} is posted {} times for {} cash, {} settled",
                    row.id, row.amount, row.postings, row.cash, row.settled
                ));
            }
        }
        let stray: Vec<String> = sqlx::query_scalar(
            "SELECT j.id FROM journal_transactions j LEFT JOIN ticket_repayments r ON r.id = j.id \
             WHERE j.kind = 'ticket_repayment' AND (r.id IS NULL OR j.ticket_id IS NULL OR j.ticket_id <> r.ticket_id)",
        )
        .fetch_all(&mut *conn)
        .await?;
        problems.extend(
            stray
                .into_iter()
                .map(|id| format!("transaction {id} posts a ticket repayment that does not exist")),
        );
        report.add(
            "every ticket repayment is posted once with its amount",
            rows.len(),
            problems,
        );

        // Receivables per borrower, and the fees earned.
        let mut problems = vec![];
        let kind = Account::TicketReceivable(0).kind();
        for (user, expected) in &owed_by {
            let actual = ledger_balances
                .get(&(*user, kind.to_string()))
                .copied()
                .unwrap_or_default();
            if actual != *expected {
                problems.push(format!(
                    "user {user} {kind}: ledger {actual}, tickets {expected}"
                ));
            }
        }
        for ((user, account_kind), actual) in ledger_balances {
            if account_kind == kind && !owed_by.contains_key(user) && *actual != Amount::ZERO {
                problems.push(format!(
                    "user {user} {kind}: ledger {actual}, but no disbursed ticket"
                ));
            }
        }
        let income = crate::ledger::store::balance_of(conn, Account::TicketIncome).await?;
        debug_assert_eq!(Account::TicketIncome.normal_side(), Side::Credit);
        if income != charges {
            problems.push(format!(
                "ticket income is {income} in the ledger, but the disbursed schedules charge {charges}"
            ));
        }
        report.add(
            "ticket receivables equal disbursed − repaid, and ticket income the charges",
            owed_by.len() + 1,
            problems,
        );
        Ok(())
    }
}

fn whole(expression: &str) -> String {
    format!("CAST(COALESCE(SUM(({expression}) / 100000000), 0) AS BIGINT)")
}

fn fraction(expression: &str) -> String {
    format!("CAST(COALESCE(SUM(({expression}) % 100000000), 0) AS BIGINT)")
}

fn units3((a, b, c): (Amount, Amount, Amount)) -> String {
    format!("({a}, {b}, {c})")
}
