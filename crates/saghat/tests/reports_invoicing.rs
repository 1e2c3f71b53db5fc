//! Invoicing's report on both databases, against figures computed here from the invoices,
//! payments, credit notes and refunds this test makes: months of both calendars across their
//! boundaries, two currencies, a partial payment, a credit note, a refund, a draft that does
//! not count; the roles that may read it; its files read back (CSV as text, XLSX by openpyxl,
//! PDF by pdftotext); and its page.

use std::collections::BTreeMap;

use chrono::{NaiveDate, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use saghat_core::invoicing::payments::{self, CreditScope, RefundInput};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;
use saghat_core::Ctx;
use saghat_test_support::files::{pdf_text, xlsx_contents};
use saghat_test_support::invoicing::{client, invoice, pay};
use saghat_test_support::{on_both_databases, Backend, TestApp};

on_both_databases!(
    the_figures_match_the_invoices_in_either_calendar,
    filters_roles_and_bad_input,
    the_files_hold_the_same_figures,
    a_month_read_before_takes_rows_added_to_it_later,
);

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn ctx(app: &TestApp) -> &Ctx {
    app.state.ctx()
}

/// An invoice this test made, with the months it falls in written out by hand.
#[derive(Clone, Debug)]
struct Made {
    id: String,
    client: &'static str,
    currency: Currency,
    jalali: &'static str,
    gregorian: &'static str,
    net: i128,
    rate: i64,
    credited: bool,
}

impl Made {
    fn tax(&self) -> i128 {
        self.net * i128::from(self.rate) / 10_000
    }
    fn total(&self) -> i128 {
        self.net + self.tax()
    }
}

/// A draft of one line, sent unless `draft`.
/// What the scenario made: the invoices, and per client (payments, refunds) as
/// (currency, amount, jalali month, gregorian month).
struct Scenario {
    clients: BTreeMap<&'static str, i64>,
    invoices: Vec<Made>,
    payments: Vec<(&'static str, Currency, i128, &'static str, &'static str)>,
    refunds: Vec<(&'static str, Currency, i128, &'static str, &'static str)>,
}

/// Today is 1 December 2026 (10 Azar 1405). Jalali months begin on 23 July (Mordad), 23
/// September (Mehr), 23 October (Aban) and 22 November (Azar) 2026.
async fn scenario(app: &TestApp) -> Scenario {
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap());
    let admin = app.admin_user().await;
    let alpha = client(app, &admin, "Alpha GmbH", Currency::Eur).await;
    let beta = client(app, &admin, "Beta AG", Currency::Eur).await;
    let chabok = client(app, &admin, "شرکت چابک", Currency::Irr).await;
    let mut made = vec![];
    let mut add = |id: String, client, currency, jalali, gregorian, net, rate| {
        made.push(Made {
            id,
            client,
            currency,
            jalali,
            gregorian,
            net,
            rate,
            credited: false,
        });
    };
    // Alpha: 1,000.00 + 19 % on the last day of Aban, due yesterday, partly paid (1–30 days).
    let a1 = invoice(
        app,
        &admin,
        alpha,
        (day(2026, 11, 20), day(2026, 11, 30)),
        100_000,
        1_900,
        false,
    )
    .await;
    add(
        a1.clone(),
        "Alpha GmbH",
        Currency::Eur,
        "1405-08",
        "2026-11",
        100_000,
        1_900,
    );
    // Alpha: 200.00 + 7 % in Azar, not yet due.
    let a2 = invoice(
        app,
        &admin,
        alpha,
        (day(2026, 11, 23), day(2026, 12, 7)),
        20_000,
        700,
        false,
    )
    .await;
    add(
        a2,
        "Alpha GmbH",
        Currency::Eur,
        "1405-09",
        "2026-11",
        20_000,
        700,
    );
    // Beta: 300.00 + 19 % today, credited in full today (void).
    let b1 = invoice(
        app,
        &admin,
        beta,
        (day(2026, 12, 1), day(2026, 12, 15)),
        30_000,
        1_900,
        false,
    )
    .await;
    add(
        b1.clone(),
        "Beta AG",
        Currency::Eur,
        "1405-09",
        "2026-12",
        30_000,
        1_900,
    );
    // Beta: 100.00 + 19 % in Mordad, due 103 days ago (over 90).
    let b2 = invoice(
        app,
        &admin,
        beta,
        (day(2026, 8, 10), day(2026, 8, 20)),
        10_000,
        1_900,
        false,
    )
    .await;
    add(
        b2,
        "Beta AG",
        Currency::Eur,
        "1405-05",
        "2026-08",
        10_000,
        1_900,
    );
    // Chabok: 10,000,000 IRR + 10 % in Mehr, due 47 days ago (31–60), partly paid.
    let c1 = invoice(
        app,
        &admin,
        chabok,
        (day(2026, 10, 1), day(2026, 10, 15)),
        10_000_000,
        1_000,
        false,
    )
    .await;
    add(
        c1.clone(),
        "شرکت چابک",
        Currency::Irr,
        "1405-07",
        "2026-10",
        10_000_000,
        1_000,
    );
    // A draft counts nowhere.
    invoice(
        app,
        &admin,
        alpha,
        (day(2026, 11, 24), day(2026, 12, 8)),
        999_900,
        1_900,
        true,
    )
    .await;

    pay(
        app,
        &admin,
        alpha,
        Currency::Eur,
        50_000,
        day(2026, 11, 25),
        Some(&a1),
    )
    .await;
    pay(
        app,
        &admin,
        chabok,
        Currency::Irr,
        4_000_000,
        day(2026, 10, 20),
        Some(&c1),
    )
    .await;
    // Beta pays 150.00 on account (its credit), 50.00 of which goes back.
    pay(
        app,
        &admin,
        beta,
        Currency::Eur,
        15_000,
        day(2026, 11, 28),
        None,
    )
    .await;
    payments::refund(
        ctx(app),
        &admin,
        &RefundInput {
            client_id: beta,
            currency: Currency::Eur,
            amount: 5_000,
            refunded_on: day(2026, 11, 30),
            method: "bank_transfer".into(),
            reference: String::new(),
        },
        &RequestMeta::default(),
    )
    .await
    .unwrap();
    payments::issue_credit_note(
        ctx(app),
        &admin,
        &b1,
        CreditScope::Whole,
        day(2026, 12, 1),
        "",
        &RequestMeta::default(),
    )
    .await
    .unwrap();
    made.iter_mut().find(|m| m.id == b1).unwrap().credited = true;
    Scenario {
        clients: [
            ("Alpha GmbH", alpha),
            ("Beta AG", beta),
            ("شرکت چابک", chabok),
        ]
        .into(),
        invoices: made,
        payments: vec![
            ("Alpha GmbH", Currency::Eur, 50_000, "1405-09", "2026-11"),
            ("شرکت چابک", Currency::Irr, 4_000_000, "1405-07", "2026-10"),
            ("Beta AG", Currency::Eur, 15_000, "1405-09", "2026-11"),
        ],
        refunds: vec![("Beta AG", Currency::Eur, 5_000, "1405-09", "2026-11")],
    }
}

/// A money field of the JSON in minor units of `currency`.
fn units(v: &Value, currency: Currency) -> i128 {
    let text = v
        .as_str()
        .unwrap_or_else(|| panic!("an amount string, not {v}"));
    i128::from(
        currency
            .parse_amount(text)
            .unwrap_or_else(|_| panic!("{text}")),
    )
}

/// The report's monthly rows by (month, currency) as (invoices, invoiced, tax, credit
/// notes, credited, payments, collected, refunded).
fn monthly(report: &Value) -> BTreeMap<(String, String), [i128; 8]> {
    report["monthly"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let c = Currency::parse(r["currency"].as_str().unwrap()).unwrap();
            let n = |k: &str| i128::from(r[k].as_i64().unwrap());
            let net = units(&r["net_invoiced"], c);
            assert_eq!(net, units(&r["invoiced"], c) - units(&r["credited"], c));
            (
                (
                    r["month"].as_str().unwrap().to_string(),
                    c.code().to_string(),
                ),
                [
                    n("invoices"),
                    units(&r["invoiced"], c),
                    units(&r["tax"], c),
                    n("credit_notes"),
                    units(&r["credited"], c),
                    n("payments"),
                    units(&r["collected"], c),
                    units(&r["refunded"], c),
                ],
            )
        })
        .collect()
}

/// The same computed from the scenario, every month of `months` in both currencies.
fn expected_monthly(
    s: &Scenario,
    months: &[&str],
    jalali: bool,
) -> BTreeMap<(String, String), [i128; 8]> {
    let mut out = BTreeMap::new();
    for m in months {
        for c in ["EUR", "IRR"] {
            out.insert((m.to_string(), c.to_string()), [0i128; 8]);
        }
    }
    let month = |j: &str, g: &str| if jalali { j.to_string() } else { g.to_string() };
    for i in &s.invoices {
        let row = out
            .get_mut(&(month(i.jalali, i.gregorian), i.currency.code().into()))
            .unwrap();
        row[0] += 1;
        row[1] += i.total();
        row[2] += i.tax();
        if i.credited {
            // Credited on the day it was issued: the same month.
            row[3] += 1;
            row[4] += i.total();
        }
    }
    for (_, c, amount, j, g) in &s.payments {
        let row = out.get_mut(&(month(j, g), c.code().into())).unwrap();
        row[5] += 1;
        row[6] += amount;
    }
    for (_, c, amount, j, g) in &s.refunds {
        out.get_mut(&(month(j, g), c.code().into())).unwrap()[7] += amount;
    }
    out
}

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    let (status, body) = app
        .get(&format!("/api/reports/invoicing?{query}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{query}: {body}");
    body
}

async fn the_figures_match_the_invoices_in_either_calendar(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let s = scenario(&app).await;
    let admin = app.admin_token().await;

    let jalali = report(&app, &admin, "calendar=jalali&from=1405-05&to=1405-09").await;
    let months = ["1405-05", "1405-06", "1405-07", "1405-08", "1405-09"];
    assert_eq!(monthly(&jalali), expected_monthly(&s, &months, true));
    let spans: Vec<_> = jalali["months"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["month"].as_str().unwrap(), m["starts"].as_str().unwrap()))
        .collect();
    assert_eq!(spans[4], ("1405-09", "2026-11-22"));
    // Hand-checked: Azar 1405 in euros holds Alpha's second and Beta's credited invoice.
    let azar = &monthly(&jalali)[&("1405-09".to_string(), "EUR".to_string())];
    assert_eq!(*azar, [2, 57_100, 7_100, 1, 35_700, 2, 65_000, 5_000]);

    let gregorian = report(&app, &admin, "calendar=gregorian&from=2026-08&to=2026-12").await;
    let months = ["2026-08", "2026-09", "2026-10", "2026-11", "2026-12"];
    assert_eq!(monthly(&gregorian), expected_monthly(&s, &months, false));
    // Across the boundaries the other way: November holds both of Alpha's invoices.
    let november = &monthly(&gregorian)[&("2026-11".to_string(), "EUR".to_string())];
    assert_eq!(november[..3], [2, 140_400, 20_400]);

    // Aging today, per client: what is owed by days past due.
    let owed = |name: &str| -> i128 {
        let total: i128 = s
            .invoices
            .iter()
            .filter(|i| i.client == name && !i.credited)
            .map(Made::total)
            .sum();
        let paid: i128 = s.payments.iter().filter(|p| p.0 == name).map(|p| p.2).sum();
        // Beta's payment went to its credit, not to an invoice.
        total - if name == "Beta AG" { 0 } else { paid }
    };
    let aging: BTreeMap<String, &Value> = jalali["aging"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["client"].as_str().unwrap().to_string(), r))
        .collect();
    assert_eq!(aging.len(), 3);
    let a = aging["Alpha GmbH"];
    assert_eq!(units(&a["total"], Currency::Eur), owed("Alpha GmbH"));
    assert_eq!(
        (
            units(&a["current"], Currency::Eur),
            units(&a["days_1_30"], Currency::Eur)
        ),
        (21_400, 69_000)
    );
    assert_eq!(a["open_invoices"], 2);
    let b = aging["Beta AG"];
    assert_eq!(
        (
            units(&b["over_90"], Currency::Eur),
            units(&b["total"], Currency::Eur)
        ),
        (11_900, owed("Beta AG"))
    );
    let c = aging["شرکت چابک"];
    assert_eq!(
        (
            units(&c["days_31_60"], Currency::Irr),
            units(&c["total"], Currency::Irr)
        ),
        (7_000_000, owed("شرکت چابک"))
    );
    let totals: Vec<_> = jalali["aging_totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["currency"].as_str().unwrap(),
                r["total"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(totals, [("IRR", "7000000"), ("EUR", "1023.00")]);

    // DSO: owed today as days of the last 90 days' sales net of credit notes (Alpha's two
    // invoices; Beta's of today is credited; Mordad's is older): 1,023.00 × 90 ÷ 1,404.00.
    let dso: BTreeMap<&str, (&str, Option<&str>)> = jalali["dso"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["currency"].as_str().unwrap(),
                (r["sales"].as_str().unwrap(), r["dso"].as_str()),
            )
        })
        .collect();
    assert_eq!(dso["EUR"], ("1404.00", Some("65.6")));
    // 7,000,000 × 90 ÷ 11,000,000 = 57.27…
    assert_eq!(dso["IRR"], ("11000000", Some("57.3")));

    // Top clients of the period, most net invoiced first, per currency.
    let top: Vec<(String, String, String, String, String)> = jalali["top_clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let f = |k: &str| r[k].as_str().unwrap().to_string();
            (
                f("client"),
                f("net_invoiced"),
                f("credited"),
                f("collected"),
                f("outstanding"),
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            ("شرکت چابک", "11000000", "0", "4000000", "7000000"),
            ("Alpha GmbH", "1404.00", "0.00", "500.00", "904.00"),
            ("Beta AG", "119.00", "357.00", "150.00", "119.00"),
        ]
        .map(|(a, b, c, d, e)| (a.into(), b.into(), c.into(), d.into(), e.into()))
    );

    // Tax per month, currency and rate, net of the credit note, against the invoices.
    let mut expected: BTreeMap<(String, String, String), [i128; 4]> = BTreeMap::new();
    for i in &s.invoices {
        let rate = saghat_core::invoicing::model::Percent(i.rate).to_string();
        let row = expected
            .entry((i.jalali.into(), i.currency.code().into(), rate))
            .or_default();
        row[0] += i.net;
        row[1] += i.tax();
        if i.credited {
            row[2] += i.net;
            row[3] += i.tax();
        }
    }
    let tax: BTreeMap<(String, String, String), [i128; 4]> = jalali["tax"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let c = Currency::parse(r["currency"].as_str().unwrap()).unwrap();
            assert_eq!(r["tax_code"], "S");
            assert_eq!(
                units(&r["net_tax"], c),
                units(&r["tax"], c) - units(&r["credited_tax"], c)
            );
            (
                (
                    r["month"].as_str().unwrap().into(),
                    c.code().into(),
                    r["rate"].as_str().unwrap().into(),
                ),
                [
                    units(&r["taxable"], c),
                    units(&r["tax"], c),
                    units(&r["credited_taxable"], c),
                    units(&r["credited_tax"], c),
                ],
            )
        })
        .collect();
    assert_eq!(tax, expected);
    assert_eq!(
        tax[&("1405-09".into(), "EUR".into(), "19".into())],
        [30_000, 5_700, 30_000, 5_700]
    );
}

async fn filters_roles_and_bad_input(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let s = scenario(&app).await;
    let admin = app.admin_token().await;

    // One currency: only its rows.
    let irr = report(&app, &admin, "from=1405-05&to=1405-09&currency=irr").await;
    assert!(irr["monthly"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["currency"] == "IRR"));
    assert_eq!(irr["monthly"].as_array().unwrap().len(), 5);
    assert_eq!(irr["aging"].as_array().unwrap().len(), 1);
    // One client: its figures alone.
    let alpha = s.clients["Alpha GmbH"];
    let one = report(
        &app,
        &admin,
        &format!("from=1405-08&to=1405-09&client_id={alpha}"),
    )
    .await;
    let rows = monthly(&one);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[&("1405-08".to_string(), "EUR".to_string())][..3],
        [1, 119_000, 19_000]
    );
    assert_eq!(
        rows[&("1405-09".to_string(), "EUR".to_string())][5..],
        [1, 50_000, 0]
    );
    assert_eq!(one["top_clients"].as_array().unwrap().len(), 1);
    assert_eq!(one["aging_totals"][0]["total"], "904.00");
    // The default period: the twelve months to this one.
    let default = report(&app, &admin, "").await;
    assert_eq!(
        (default["from"].as_str(), default["to"].as_str()),
        (Some("1404-10"), Some("1405-09"))
    );
    assert_eq!(default["calendar"], "jalali");

    // Who may read it: admins and accountants.
    let accountant = app.v1_user(&admin, "acc", "accountant", None).await;
    report(&app, &accountant, "").await;
    for (name, role) in [("lend", "lender"), ("view", "viewer")] {
        let token = app.v1_user(&admin, name, role, None).await;
        let (status, body) = app.get("/api/reports/invoicing", &token).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{role}: {body}");
    }
    let (_, member) = app.member(&admin, "mem", "100").await;
    assert_eq!(
        app.get("/api/reports/invoicing", &member).await.0,
        StatusCode::FORBIDDEN
    );
    let portal = app.v1_user(&admin, "portal", "client", Some(alpha)).await;
    assert_eq!(
        app.get("/api/reports/invoicing", &portal).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get("/api/reports/invoicing", "").await.0,
        StatusCode::UNAUTHORIZED
    );

    // Bad filters: 422 naming the parameter, never a 500.
    for (query, field) in [
        ("from=1405-13", "from"),
        ("to=1405.09", "to"),
        ("calendar=lunar", "calendar"),
        ("from=1405-09&to=1405-01", "from"),
        ("from=1390-01&to=1405-09", "from"),
        ("currency=GBP", "currency"),
        ("client_id=abc", "client_id"),
        ("format=docx", "format"),
        ("format=csv&table=nope", "table"),
        ("format=pdf&lang=de", "lang"),
    ] {
        let (status, body) = app
            .get(&format!("/api/reports/invoicing?{query}"), &admin)
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(
            body["detail"][0]["loc"],
            serde_json::json!(["query", field]),
            "{query}: {body}"
        );
    }
}

/// The report as a file (`query` holds its format).
async fn file(app: &TestApp, token: &str, query: &str) -> (StatusCode, String, String, Vec<u8>) {
    app.get_file(&format!("/api/reports/invoicing?{query}"), token)
        .await
}

async fn the_files_hold_the_same_figures(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    scenario(&app).await;
    let admin = app.admin_token().await;
    let period = "from=1405-05&to=1405-09";

    // CSV: one table, RFC 4180 lines, the same amounts as the JSON.
    let (status, kind, disposition, bytes) =
        file(&app, &admin, &format!("{period}&format=csv&table=aging")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert_eq!(
        disposition,
        "attachment; filename=\"saghat-invoicing-1405-05_1405-09-aging.csv\""
    );
    let text = String::from_utf8(bytes).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert_eq!(lines[0], "Client,Currency,Open invoices,Not yet due,1–30 days,31–60 days,61–90 days,Over 90 days,Total");
    assert!(
        lines.contains(&"Alpha GmbH,EUR,2,214.00,690.00,0.00,0.00,0.00,904.00"),
        "{text}"
    );
    assert!(
        lines.contains(&"شرکت چابک,IRR,1,0,0,7000000,0,0,7000000"),
        "{text}"
    );
    assert!(
        lines.contains(&"Total,EUR,3,214.00,690.00,0.00,0.00,119.00,1023.00"),
        "{text}"
    );
    let (_, _, _, monthly_csv) = file(
        &app,
        &admin,
        &format!("{period}&format=csv&calendar=jalali"),
    )
    .await;
    let monthly_csv = String::from_utf8(monthly_csv).unwrap();
    assert!(
        monthly_csv.contains("\r\nAzar 1405,EUR,2,571.00,71.00,1,357.00,214.00,2,650.00,50.00\r\n"),
        "{monthly_csv}"
    );

    // XLSX: a sheet per table, typed cells with the currency's places, the header frozen.
    let (status, kind, _, xlsx) = file(&app, &admin, &format!("{period}&format=xlsx")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        kind,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    if let Some(book) = xlsx_contents(&xlsx) {
        assert_eq!(book["title"], "Invoicing report");
        let sheets = book["sheets"].as_array().unwrap();
        let names: Vec<&str> = sheets.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            [
                "Invoiced and collected by month",
                "Receivables by days past due",
                "Days sales outstanding",
                "Top clients",
                "Tax per rate"
            ]
        );
        let aging = &sheets[1];
        assert_eq!(aging["freeze"], "A2");
        assert_eq!(aging["rows"][0][0]["bold"], true);
        let alpha = aging["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0]["value"] == "Alpha GmbH")
            .unwrap();
        assert_eq!(
            (alpha[2]["type"].as_str(), alpha[2]["value"].as_i64()),
            (Some("n"), Some(2))
        );
        assert_eq!(
            (alpha[8]["type"].as_str(), alpha[8]["value"].as_f64()),
            (Some("n"), Some(904.0))
        );
        assert_eq!(alpha[8]["format"], "#,##0.00");
        let chabok = aging["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[1]["value"] == "IRR")
            .unwrap();
        assert_eq!(
            (chabok[5]["value"].as_f64(), chabok[5]["format"].as_str()),
            (Some(7_000_000.0), Some("#,##0"))
        );
        // The DSO sheet: days with one decimal.
        let dso = sheets[2]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0]["value"] == "EUR")
            .unwrap();
        assert_eq!(
            (dso[3]["value"].as_f64(), dso[3]["format"].as_str()),
            (Some(65.6), Some("#,##0.0"))
        );
    }
    // In Persian: right to left, Persian labels.
    let (_, _, _, xlsx_fa) = file(&app, &admin, &format!("{period}&format=xlsx&lang=fa")).await;
    if let Some(book) = xlsx_contents(&xlsx_fa) {
        assert_eq!(book["sheets"][0]["rtl"], true);
        assert_eq!(book["sheets"][0]["rows"][0][0]["value"], "ماه");
        assert_eq!(book["sheets"][0]["rows"][10][0]["value"], "آذر ۱۴۰۵");
    }

    // PDF: every table, its figures as a reader sees them.
    let (status, kind, disposition, pdf) =
        file(&app, &admin, &format!("{period}&format=pdf")).await;
    assert_eq!((status, kind.as_str()), (StatusCode::OK, "application/pdf"));
    assert!(disposition.ends_with("saghat-invoicing-1405-05_1405-09.pdf\""));
    assert!(pdf.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&pdf) {
        for needle in [
            "Invoicing report",
            "Mordad 1405 – Azar 1405",
            "Receivables by days past due",
            "Alpha GmbH",
            "904.00",
            "1,023.00",
            "7,000,000",
            "65.6",
            "Tax per rate",
        ] {
            assert!(text.contains(needle), "{needle} in {text}");
        }
    }
    let (status, _, _, pdf_fa) = file(&app, &admin, &format!("{period}&format=pdf&lang=fa")).await;
    assert_eq!(status, StatusCode::OK);
    if let Some(text) = pdf_text(&pdf_fa) {
        assert!(
            text.contains("۷٬۰۰۰٬۰۰۰") || text.contains("۷,۰۰۰,۰۰۰"),
            "{text}"
        );
    }
}

/// A month's figures are kept once read (reports::cache); a payment recorded with an earlier
/// date, or a draft sent with a backdated issue date, changes a month already read, and the
/// next report shows it.
async fn a_month_read_before_takes_rows_added_to_it_later(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let s = scenario(&app).await;
    let admin = app.admin_token().await;
    let query = "calendar=jalali&from=1405-05&to=1405-09";
    let before = report(&app, &admin, query).await;
    // Read twice: the second answer comes from the kept months and is the same.
    assert_eq!(report(&app, &admin, query).await, before);
    let mordad = ("1405-05".to_string(), "EUR".to_string());
    let shahrivar = ("1405-06".to_string(), "EUR".to_string());

    let user = app.admin_user().await;
    let alpha = s.clients["Alpha GmbH"];
    // 2026-07-30 is in Mordad; 2026-09-01 in Shahrivar.
    pay(
        &app,
        &user,
        alpha,
        Currency::Eur,
        1_234,
        day(2026, 7, 30),
        None,
    )
    .await;
    invoice(
        &app,
        &user,
        alpha,
        (day(2026, 9, 1), day(2026, 9, 30)),
        10_000,
        1900,
        false,
    )
    .await;

    let after = report(&app, &admin, query).await;
    let (was, now) = (monthly(&before), monthly(&after));
    let (m0, m1) = (was.get(&mordad).copied().unwrap_or_default(), now[&mordad]);
    assert_eq!(
        (m1[5] - m0[5], m1[6] - m0[6]),
        (1, 1_234),
        "Mordad's payments"
    );
    let (s0, s1) = (
        was.get(&shahrivar).copied().unwrap_or_default(),
        now[&shahrivar],
    );
    assert_eq!(
        (s1[0] - s0[0], s1[1] - s0[1], s1[2] - s0[2]),
        (1, 11_900, 1_900),
        "Shahrivar's invoices"
    );
    let tax_of = |r: &Value| -> i128 {
        r["tax"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["month"] == "1405-06" && t["currency"] == "EUR")
            .map(|t| units(&t["tax"], Currency::Eur))
            .sum()
    };
    assert_eq!(tax_of(&after) - tax_of(&before), 1_900);
    // The other months are as they were.
    for (key, row) in &was {
        if *key != mordad && *key != shahrivar {
            assert_eq!(now[key], *row, "{key:?}");
        }
    }
}
