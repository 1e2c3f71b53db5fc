//! Each report's figures as a [`Document`]: titled tables with labels in the reader's language
//! and typed cells, which the page, the CSV, the XLSX and the PDF are all written from.

use saghat_core::invoicing::calendar::Calendar;
use saghat_core::platform::lang::Lang;
use saghat_core::reports::aging::Bucket;
use saghat_core::reports::fund::{FundReport, Statement};
use saghat_core::reports::invoicing::{InvoicingReport, ReceivablesAging};
use saghat_core::reports::table::{Cell, Document, Table};
use saghat_core::reports::tickets::{Spread, TicketsReport};

use crate::web::i18n::UiText;

/// A month key (`1405-09`) of `calendar` by name: `Azar 1405`, `Nov 2026`, in `lang`.
pub fn month_label(calendar: Calendar, key: &str, lang: Lang) -> String {
    let Some((year, month)) = key.split_once('-') else {
        return key.to_owned();
    };
    let (Ok(year), Ok(month)) = (year.parse::<i64>(), month.parse::<i64>()) else {
        return key.to_owned();
    };
    match calendar {
        Calendar::Jalali => lang.month(year, month),
        Calendar::Gregorian => lang.gregorian_month(year, month),
    }
}

fn labels(lang: Lang, keys: &[&str]) -> Vec<String> {
    keys.iter().map(|k| lang.t(k).to_owned()).collect()
}

fn calendar_of(report: &InvoicingReport) -> Calendar {
    Calendar::parse(&report.calendar).unwrap_or(Calendar::Jalali)
}

/// "Azar 1404 – Aban 1405 · EUR · client 7".
pub fn period_text(calendar: Calendar, from: &str, to: &str, lang: Lang) -> String {
    let (from, to) = (
        month_label(calendar, from, lang),
        month_label(calendar, to, lang),
    );
    if from == to {
        from
    } else {
        format!("{from} – {to}")
    }
}

fn aging_cells(row: &ReceivablesAging, name: Cell, lang: Lang) -> Vec<Cell> {
    let mut cells = vec![
        name,
        Cell::text(lang.currency(row.currency)),
        Cell::Count(row.open_invoices),
    ];
    cells.extend(Bucket::ALL.iter().map(|b| Cell::Money(row.bucket(*b))));
    cells.push(Cell::Money(row.total));
    cells
}

/// The invoicing report; `client` names the client it is filtered to.
pub fn invoicing(report: &InvoicingReport, lang: Lang, client: Option<&str>) -> Document {
    let calendar = calendar_of(report);
    let month = |key: &str| Cell::Text(month_label(calendar, key, lang));
    let monthly = Table {
        name: "monthly".into(),
        title: lang.t("rp_monthly").into(),
        columns: labels(
            lang,
            &[
                "rp_month",
                "rp_currency",
                "rp_invoices",
                "rp_invoiced",
                "rp_tax_amount",
                "rp_credit_notes",
                "rp_credited",
                "rp_net_invoiced",
                "rp_payments",
                "rp_collected",
                "rp_refunded",
            ],
        ),
        rows: report
            .monthly
            .iter()
            .map(|r| {
                vec![
                    month(&r.month),
                    Cell::text(lang.currency(r.currency)),
                    Cell::Count(r.invoices),
                    Cell::Money(r.invoiced),
                    Cell::Money(r.tax),
                    Cell::Count(r.credit_notes),
                    Cell::Money(r.credited),
                    Cell::Money(r.net_invoiced),
                    Cell::Count(r.payments),
                    Cell::Money(r.collected),
                    Cell::Money(r.refunded),
                ]
            })
            .collect(),
    };
    let mut aging_rows: Vec<Vec<Cell>> = report
        .aging
        .iter()
        .map(|r| aging_cells(r, Cell::Name(r.client.clone().unwrap_or_default()), lang))
        .collect();
    aging_rows.extend(
        report
            .aging_totals
            .iter()
            .map(|r| aging_cells(r, Cell::text(lang.t("rp_total")), lang)),
    );
    let aging = Table {
        name: "aging".into(),
        title: lang.t("rp_aging").into(),
        columns: labels(
            lang,
            &[
                "rp_client",
                "rp_currency",
                "rp_open_invoices",
                "rp_current",
                "rp_days_1_30",
                "rp_days_31_60",
                "rp_days_61_90",
                "rp_over_90",
                "rp_total",
            ],
        ),
        rows: aging_rows,
    };
    let dso = Table {
        name: "dso".into(),
        title: lang.t("rp_dso").into(),
        columns: labels(
            lang,
            &["rp_currency", "rp_receivable", "rp_sales_90", "rp_dso_days"],
        ),
        rows: report
            .dso
            .iter()
            .map(|r| {
                vec![
                    Cell::text(lang.currency(r.currency)),
                    Cell::Money(r.receivable),
                    Cell::Money(r.sales),
                    r.dso_tenths.map_or(Cell::Empty, Cell::Tenths),
                ]
            })
            .collect(),
    };
    let clients = Table {
        name: "clients".into(),
        title: lang.t("rp_top_clients").into(),
        columns: labels(
            lang,
            &[
                "rp_client",
                "rp_currency",
                "rp_invoiced",
                "rp_credited",
                "rp_net_invoiced",
                "rp_collected",
                "rp_outstanding",
            ],
        ),
        rows: report
            .top_clients
            .iter()
            .map(|r| {
                vec![
                    Cell::Name(r.client.clone()),
                    Cell::text(lang.currency(r.currency)),
                    Cell::Money(r.invoiced),
                    Cell::Money(r.credited),
                    Cell::Money(r.net_invoiced),
                    Cell::Money(r.collected),
                    Cell::Money(r.outstanding),
                ]
            })
            .collect(),
    };
    let tax = Table {
        name: "tax".into(),
        title: lang.t("rp_tax").into(),
        columns: labels(
            lang,
            &[
                "rp_month",
                "rp_currency",
                "rp_tax_category",
                "rp_rate",
                "rp_taxable",
                "rp_tax_amount",
                "rp_credited_taxable",
                "rp_credited_tax",
                "rp_net_taxable",
                "rp_net_tax",
            ],
        ),
        rows: report
            .tax
            .iter()
            .map(|r| {
                vec![
                    month(&r.month),
                    Cell::text(lang.currency(r.currency)),
                    Cell::text(r.tax_code.clone()),
                    Cell::Share(r.rate_basis_points),
                    Cell::Money(r.taxable),
                    Cell::Money(r.tax),
                    Cell::Money(r.credited_taxable),
                    Cell::Money(r.credited_tax),
                    Cell::Money(r.net_taxable),
                    Cell::Money(r.net_tax),
                ]
            })
            .collect(),
    };
    let mut subtitle = vec![period_text(calendar, &report.from, &report.to, lang)];
    if let Some(c) = report.currency {
        subtitle.push(lang.currency(c).to_owned());
    }
    if let Some(name) = client {
        subtitle.push(name.to_owned());
    }
    subtitle.push(format!(
        "{} {}",
        lang.t("rp_as_of"),
        lang.civil_date(report.as_of)
    ));
    Document {
        title: lang.t("rp_invoicing_title").into(),
        subtitle: subtitle.join(" · "),
        rtl: lang == Lang::Fa,
        tables: vec![monthly, aging, dso, clients, tax],
    }
}

fn loan_state(lang: Lang, state: &str) -> String {
    lang.t(match state {
        "active" => "state_active",
        "settled" => "state_settled",
        _ => "state_no_one",
    })
    .to_owned()
}

fn jalali(key: &str, lang: Lang) -> Cell {
    Cell::Text(month_label(Calendar::Jalali, key, lang))
}

/// The fund's report.
pub fn fund(report: &FundReport, lang: Lang) -> Document {
    let months = Table {
        name: "months".into(),
        title: lang.t("rp_fund_months").into(),
        columns: labels(
            lang,
            &[
                "rp_month",
                "rp_payments",
                "rp_on_time",
                "rp_late",
                "rp_fees",
                "rp_repayments",
                "rp_lent",
                "rp_cash",
                "rp_contributions",
                "rp_loans_outstanding",
            ],
        ),
        rows: report
            .months
            .iter()
            .map(|m| {
                vec![
                    jalali(&m.month, lang),
                    Cell::Count(m.payments),
                    Cell::Count(m.on_time),
                    Cell::Count(m.late),
                    Cell::Money(m.fees),
                    Cell::Money(m.repayments),
                    Cell::Money(m.lent),
                    Cell::Money(m.cash),
                    Cell::Money(m.contributions),
                    Cell::Money(m.outstanding),
                ]
            })
            .collect(),
    };
    let unpaid = Table {
        name: "unpaid".into(),
        title: format!(
            "{} ({})",
            lang.t("rp_unpaid"),
            month_label(Calendar::Jalali, &report.this_month, lang)
        ),
        columns: labels(lang, &["rp_username", "rp_name"]),
        rows: report
            .unpaid
            .iter()
            .map(|u| vec![Cell::Name(u.username.clone()), Cell::Name(u.name.clone())])
            .collect(),
    };
    let draws = Table {
        name: "draws".into(),
        title: lang.t("rp_draws").into(),
        columns: labels(
            lang,
            &[
                "rp_month",
                "rp_state",
                "rp_winner",
                "rp_amount",
                "rp_repaid",
                "rp_repaid_share",
            ],
        ),
        rows: report
            .draws
            .iter()
            .map(|d| {
                vec![
                    jalali(&d.month, lang),
                    Cell::Text(loan_state(lang, &d.state)),
                    d.winner.clone().map_or(Cell::Empty, Cell::Name),
                    d.amount.map_or(Cell::Empty, Cell::Money),
                    Cell::Money(d.repaid),
                    Cell::Share(d.repaid_share),
                ]
            })
            .collect(),
    };
    let states = Table {
        name: "loans".into(),
        title: lang.t("rp_loans_by_state").into(),
        columns: labels(
            lang,
            &[
                "rp_state",
                "rp_loans",
                "rp_amount",
                "rp_repaid",
                "rp_repaid_share",
            ],
        ),
        rows: report
            .loans_by_state
            .iter()
            .map(|s| {
                vec![
                    Cell::Text(loan_state(lang, &s.state)),
                    Cell::Count(s.loans),
                    Cell::Money(s.amount),
                    Cell::Money(s.repaid),
                    Cell::Share(s.repaid_share),
                ]
            })
            .collect(),
    };
    Document {
        title: lang.t("rp_fund_title").into(),
        subtitle: period_text(Calendar::Jalali, &report.from, &report.to, lang),
        rtl: lang == Lang::Fa,
        tables: vec![months, unpaid, draws, states],
    }
}

/// A member's statement; `tz` dates their payments.
pub fn statement(st: &Statement, lang: Lang, tz: chrono_tz::Tz) -> Document {
    let months = Table {
        name: "months".into(),
        title: lang.t("rp_statement_months").into(),
        columns: labels(
            lang,
            &[
                "rp_month",
                "rp_fee",
                "rp_repayment",
                "rp_paid_on",
                "rp_balance",
                "rp_owed",
            ],
        ),
        rows: st
            .months
            .iter()
            .map(|m| {
                vec![
                    jalali(&m.month, lang),
                    m.fee.map_or(Cell::Empty, Cell::Money),
                    m.repayment.map_or(Cell::Empty, Cell::Money),
                    m.paid_at
                        .as_deref()
                        .map_or(Cell::Empty, |at| Cell::Text(lang.date(at, tz))),
                    Cell::Money(m.balance),
                    Cell::Money(m.owed),
                ]
            })
            .collect(),
    };
    let loans = Table {
        name: "loans".into(),
        title: lang.t("rp_loans").into(),
        columns: labels(
            lang,
            &[
                "rp_month",
                "rp_state",
                "rp_amount",
                "rp_repaid",
                "rp_repaid_share",
            ],
        ),
        rows: st
            .loans
            .iter()
            .map(|l| {
                vec![
                    jalali(&l.month, lang),
                    Cell::Text(loan_state(lang, &l.state)),
                    Cell::Money(l.amount),
                    Cell::Money(l.repaid),
                    Cell::Share(l.repaid_share),
                ]
            })
            .collect(),
    };
    Document {
        title: format!("{} · {}", lang.t("rp_statement_title"), st.username),
        subtitle: period_text(Calendar::Jalali, &st.from, &st.to, lang),
        rtl: lang == Lang::Fa,
        tables: vec![months, loans],
    }
}

/// Whole minutes as hours with one decimal.
fn hours(minutes: Option<i64>) -> Cell {
    minutes.map_or(Cell::Empty, |m| {
        Cell::Tenths((i128::from(m) * 10 + 30) / 60)
    })
}

/// A UI text of `prefix` + `code`, or the code itself when there is none.
fn named(lang: Lang, prefix: &str, code: &str) -> String {
    let key = format!("{prefix}{code}");
    if crate::web::i18n::TEXTS.iter().any(|(k, _, _)| *k == key) {
        lang.t(&key).to_owned()
    } else {
        code.to_owned()
    }
}

/// The tickets' report.
pub fn tickets(report: &TicketsReport, lang: Lang) -> Document {
    let calendar = Calendar::parse(&report.calendar).unwrap_or(Calendar::Jalali);
    let months = Table {
        name: "months".into(),
        title: lang.t("rp_tickets_months").into(),
        columns: labels(
            lang,
            &[
                "rp_month",
                "rp_submitted",
                "rp_approved",
                "rp_rejected",
                "rp_approval_rate",
                "rp_breaches",
                "rp_defaulted",
                "rp_now_in",
            ],
        ),
        rows: report
            .months
            .iter()
            .map(|m| {
                let now: Vec<String> = m
                    .by_state
                    .iter()
                    .map(|s| {
                        format!(
                            "{} {}",
                            named(lang, "tk_state_", &s.state),
                            lang.int(s.tickets)
                        )
                    })
                    .collect();
                vec![
                    Cell::Text(month_label(calendar, &m.month, lang)),
                    Cell::Count(m.submitted),
                    Cell::Count(m.approved),
                    Cell::Count(m.rejected),
                    m.approval_rate.map_or(Cell::Empty, Cell::Share),
                    Cell::Count(m.breaches),
                    Cell::Count(m.defaulted),
                    Cell::Text(lang.list(&now)),
                ]
            })
            .collect(),
    };
    let spread = |key: &str, s: &Spread| {
        vec![
            Cell::text(lang.t(key)),
            Cell::Count(s.tickets),
            hours(s.median_minutes),
            hours(s.p90_minutes),
            hours(Some(s.target_business_minutes)),
        ]
    };
    let times = Table {
        name: "times".into(),
        title: lang.t("rp_times").into(),
        columns: labels(
            lang,
            &[
                "rp_measure",
                "rp_tickets",
                "rp_median_hours",
                "rp_p90_hours",
                "rp_target_hours",
            ],
        ),
        rows: vec![
            spread("rp_first_response", &report.first_response),
            spread("rp_decision", &report.decision),
        ],
    };
    let flags = Table {
        name: "flags".into(),
        title: lang.t("rp_flags").into(),
        columns: labels(
            lang,
            &[
                "rp_rule",
                "rp_severity",
                "rp_flagged",
                "rp_approved",
                "rp_rejected",
                "rp_withdrawn",
                "rp_pending",
                "rp_defaulted",
            ],
        ),
        rows: report
            .flags
            .iter()
            .map(|f| {
                vec![
                    Cell::Text(named(lang, "tk_flag_", &f.rule)),
                    Cell::Text(named(lang, "tk_sev_", &f.severity)),
                    Cell::Count(f.flagged),
                    Cell::Count(f.approved),
                    Cell::Count(f.rejected),
                    Cell::Count(f.withdrawn),
                    Cell::Count(f.pending),
                    Cell::Count(f.defaulted),
                ]
            })
            .collect(),
    };
    let bucket_key = |b: &str| match b {
        "current" => "rp_current",
        "1-30" => "rp_days_1_30",
        "31-60" => "rp_days_31_60",
        "61-90" => "rp_days_61_90",
        _ => "rp_over_90",
    };
    let mut portfolio_rows: Vec<Vec<Cell>> = report
        .delinquency
        .iter()
        .map(|d| {
            vec![
                Cell::text(lang.t(bucket_key(&d.bucket))),
                Cell::Count(d.loans),
                Cell::Money(d.outstanding),
            ]
        })
        .collect();
    portfolio_rows.push(vec![
        Cell::text(lang.t("rp_total")),
        Cell::Count(report.delinquency.iter().map(|d| d.loans).sum()),
        Cell::Money(report.outstanding),
    ]);
    portfolio_rows.push(vec![
        Cell::text(lang.t("rp_written_off")),
        Cell::Count(report.written_off),
        Cell::Money(report.written_off_amount),
    ]);
    let portfolio = Table {
        name: "portfolio".into(),
        title: lang.t("rp_portfolio").into(),
        columns: labels(lang, &["rp_bucket", "rp_loans", "rp_outstanding"]),
        rows: portfolio_rows,
    };
    let mut subtitle = vec![period_text(calendar, &report.from, &report.to, lang)];
    subtitle.push(format!(
        "{}: {}",
        lang.t("rp_par30"),
        lang.digits(&saghat_core::platform::decimal::format_scaled_short(
            i128::from(report.portfolio_at_risk_30),
            2
        ))
    ));
    if let Some(rate) = report.approval_rate {
        subtitle.push(format!(
            "{}: {}",
            lang.t("rp_approval_rate"),
            lang.digits(&saghat_core::platform::decimal::format_scaled_short(
                i128::from(rate),
                2
            ))
        ));
    }
    Document {
        title: lang.t("rp_tickets_title").into(),
        subtitle: subtitle.join(" · "),
        rtl: lang == Lang::Fa,
        tables: vec![months, times, flags, portfolio],
    }
}
