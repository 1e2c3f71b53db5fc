//! Payments, credit and credit notes on both databases, each checked against the ledger and
//! `ledger verify`: allocation to several invoices, overpayment becoming credit, credit used
//! on a later invoice and refunded, allocation by the invoice number in the reference, credit
//! notes partial and full (void), the client's statement, and recurring invoices across a
//! Jalali month end.

#[path = "invoicing_common/mod.rs"]
mod common;

use common::*;
use saghat_core::auth::{CurrentUser, Role};
use saghat_core::ctx::Ctx;
use saghat_core::invoicing::calendar::{to_jalali, Calendar};
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::invoicing::invoices;
use saghat_core::invoicing::payments::{self, CreditScope, PaymentInput, RefundInput};
use saghat_core::invoicing::recurring::{self, RecurringInput, Template, TemplateLine};
use saghat_core::ledger::domain::Account;
use saghat_core::ledger::verify::verify;
use saghat_core::platform::currency::Currency::{self, Eur};

async fn sent(ctx: &Ctx, admin: &CurrentUser, client: i64, price: i64) -> String {
    let d = invoices::create_draft(
        ctx,
        admin,
        &draft(
            client,
            date(2026, 12, 1),
            vec![line("Work", "1", price, standard(0))],
        ),
        &meta(),
    )
    .await
    .unwrap();
    invoices::send(ctx, admin, &d.invoice.id, &meta())
        .await
        .unwrap()
        .invoice
        .id
}

fn payment(
    client: i64,
    amount: i64,
    reference: &str,
    allocations: Vec<(String, i64)>,
) -> PaymentInput {
    PaymentInput {
        client_id: client,
        amount,
        currency: Eur,
        received_on: date(2026, 12, 3),
        method: "bank_transfer".into(),
        reference: reference.into(),
        notes: String::new(),
        allocations,
    }
}

async fn status(ctx: &Ctx, admin: &CurrentUser, id: &str) -> (String, i64) {
    let d = invoices::get(ctx, admin, id).await.unwrap();
    (d.invoice.status, d.amount_due)
}

async fn assert_books(ctx: &Ctx) {
    let report = verify(&ctx.db).await.unwrap();
    assert!(report.is_ok(), "{report}");
}

async fn payments_allocate_overpay_and_credit_is_used_then_refunded(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 12, 1)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let accountant = user(&ctx, "acc", Role::Accountant).await;
    let acme = client(&ctx, &admin, "Acme", Eur).await;
    let a = sent(&ctx, &admin, acme, 10_000).await;
    let b = sent(&ctx, &admin, acme, 5_000).await;
    // 120.00 paid: 60 on A, 50 on B (all of it), 10 left as credit.
    let p = payments::record_payment(
        &ctx,
        &accountant,
        &payment(
            acme,
            12_000,
            "bank",
            vec![(a.clone(), 6_000), (b.clone(), 5_000)],
        ),
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(p.unallocated, 1_000);
    assert_eq!(
        status(&ctx, &admin, &a).await,
        ("partially_paid".into(), 4_000)
    );
    assert_eq!(status(&ctx, &admin, &b).await, ("paid".into(), 0));
    assert_eq!(balance(&ctx, Account::InvoicingCash(Eur)).await, 12_000);
    assert_eq!(
        balance(&ctx, Account::ClientReceivable(acme, Eur)).await,
        4_000
    );
    assert_eq!(balance(&ctx, Account::ClientCredit(acme, Eur)).await, 1_000);
    assert_books(&ctx).await;

    // An allocation above what is due, or to a paid invoice, is refused by field.
    let err = payments::record_payment(
        &ctx,
        &admin,
        &payment(acme, 9_000, "", vec![(a.clone(), 4_001)]),
        &meta(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("allocations[0].amount"));
    let err = payments::record_payment(
        &ctx,
        &admin,
        &payment(acme, 1_000, "", vec![(a.clone(), 600), (b.clone(), 500)]),
        &meta(),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.field().as_deref(),
        Some("allocations[1].amount"),
        "B owes nothing"
    );

    // The credit pays 10.00 of A; more than the credit is refused.
    let err = payments::apply_credit(&ctx, &admin, &a, 1_001, &meta())
        .await
        .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("amount"));
    payments::apply_credit(&ctx, &admin, &a, 600, &meta())
        .await
        .unwrap();
    assert_eq!(
        status(&ctx, &admin, &a).await,
        ("partially_paid".into(), 3_400)
    );
    assert_eq!(balance(&ctx, Account::ClientCredit(acme, Eur)).await, 400);
    assert_books(&ctx).await;

    // The rest of the credit is paid back; nothing more can be.
    let refund = RefundInput {
        client_id: acme,
        currency: Eur,
        amount: 400,
        refunded_on: date(2026, 12, 4),
        method: "bank_transfer".into(),
        reference: "R1".into(),
    };
    payments::refund(&ctx, &admin, &refund, &meta())
        .await
        .unwrap();
    assert!(payments::refund(
        &ctx,
        &admin,
        &RefundInput {
            amount: 1,
            ..refund
        },
        &meta()
    )
    .await
    .is_err());
    assert_eq!(balance(&ctx, Account::ClientCredit(acme, Eur)).await, 0);
    assert_eq!(balance(&ctx, Account::InvoicingCash(Eur)).await, 11_600);
    assert_books(&ctx).await;

    // A payment in a currency the client is not invoiced in is refused.
    let err = payments::record_payment(
        &ctx,
        &admin,
        &PaymentInput {
            currency: Currency::Usd,
            ..payment(acme, 100, "", vec![])
        },
        &meta(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("currency"));

    // A viewer or a client user records nothing.
    let viewer = user(&ctx, "viewer", Role::Viewer).await;
    let err = payments::record_payment(&ctx, &viewer, &payment(acme, 100, "", vec![]), &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, InvoicingError::Forbidden));
}

async fn a_reference_naming_an_invoice_allocates_to_it(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 12, 1)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let acme = client(&ctx, &admin, "Acme", Eur).await;
    let other = client(&ctx, &admin, "Other", Eur).await;
    let _first = sent(&ctx, &admin, acme, 1_000).await;
    let second = sent(&ctx, &admin, acme, 7_000).await;
    let theirs = sent(&ctx, &admin, other, 3_000).await;
    let number = invoices::get(&ctx, &admin, &second)
        .await
        .unwrap()
        .invoice
        .number
        .unwrap();
    assert_eq!(number, "INV-1405-000002");
    let p = payments::record_payment(
        &ctx,
        &admin,
        &payment(acme, 9_000, "Transfer for inv-1405-000002 thanks", vec![]),
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(p.allocations, vec![(second.clone(), 7_000)]);
    assert_eq!(
        p.unallocated, 2_000,
        "the rest is credit, not spread elsewhere"
    );
    assert_eq!(status(&ctx, &admin, &second).await.0, "paid");
    // Another client's invoice number in the reference allocates nothing.
    let p = payments::record_payment(
        &ctx,
        &admin,
        &payment(acme, 500, "INV-1405-000003", vec![]),
        &meta(),
    )
    .await
    .unwrap();
    assert!(p.allocations.is_empty());
    assert_eq!(status(&ctx, &admin, &theirs).await, ("sent".into(), 3_000));
    assert_books(&ctx).await;
}

async fn credit_notes_partial_then_full_make_the_invoice_void(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 12, 1)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let acme = client(&ctx, &admin, "Acme", Eur).await;
    // 2 × 50.00 at 19%: 100.00 + 19.00.
    let d = invoices::create_draft(
        &ctx,
        &admin,
        &draft(
            acme,
            date(2026, 12, 1),
            vec![line("Seat", "2", 5_000, standard(1_900))],
        ),
        &meta(),
    )
    .await
    .unwrap();
    let inv = invoices::send(&ctx, &admin, &d.invoice.id, &meta())
        .await
        .unwrap()
        .invoice
        .id;
    payments::record_payment(
        &ctx,
        &admin,
        &payment(acme, 4_000, "", vec![(inv.clone(), 4_000)]),
        &meta(),
    )
    .await
    .unwrap();
    // Partial: one seat back, 59.50; applied to the 79.00 still due.
    let partial = payments::issue_credit_note(
        &ctx,
        &admin,
        &inv,
        CreditScope::Lines(vec![line("Seat", "1", 5_000, standard(1_900))]),
        date(2026, 12, 2),
        "one seat",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(partial.invoice.kind, "credit_note");
    assert_eq!(partial.invoice.number.as_deref(), Some("CN-1405-000001"));
    assert_eq!(partial.invoice.total, 5_950);
    // Its files name the invoice it credits, and their totals are the stored ones.
    let model = invoices::sent_model(&ctx, &admin, &partial.invoice.id)
        .await
        .unwrap();
    let credited = model.credited.clone().unwrap();
    assert_eq!(credited.number, "INV-1405-000001");
    assert_eq!(model.totals().unwrap().total, partial.invoice.total);
    assert_eq!(model.seller.name, "Saghat");
    assert_eq!(
        status(&ctx, &admin, &inv).await,
        ("partially_paid".into(), 11_900 - 4_000 - 5_950)
    );
    assert_eq!(balance(&ctx, Account::InvoicingRevenue(Eur)).await, 5_000);
    assert_eq!(balance(&ctx, Account::InvoicingTaxPayable(Eur)).await, 950);
    assert_books(&ctx).await;
    // More than what is left to credit is refused.
    let err = payments::issue_credit_note(
        &ctx,
        &admin,
        &inv,
        CreditScope::Whole,
        date(2026, 12, 2),
        "",
        &meta(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("lines"));
    // The rest: 59.50 more, of which 19.50 is still due and 40.00 becomes the client's credit.
    let rest = payments::issue_credit_note(
        &ctx,
        &admin,
        &inv,
        CreditScope::Lines(vec![line("Seat", "1", 5_000, standard(1_900))]),
        date(2026, 12, 2),
        "",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(rest.invoice.number.as_deref(), Some("CN-1405-000002"));
    let voided = invoices::get(&ctx, &admin, &inv).await.unwrap();
    assert_eq!(voided.invoice.status, "void");
    assert_eq!(voided.amount_due, 0);
    assert_eq!(voided.credit_notes.len(), 2);
    assert_eq!(balance(&ctx, Account::ClientReceivable(acme, Eur)).await, 0);
    assert_eq!(balance(&ctx, Account::ClientCredit(acme, Eur)).await, 4_000);
    assert_eq!(balance(&ctx, Account::InvoicingRevenue(Eur)).await, 0);
    assert_eq!(balance(&ctx, Account::InvoicingTaxPayable(Eur)).await, 0);
    assert_books(&ctx).await;
    // Invoice numbers are unaffected by credit notes' own series.
    let next = sent(&ctx, &admin, acme, 1_000).await;
    assert_eq!(
        invoices::get(&ctx, &admin, &next)
            .await
            .unwrap()
            .invoice
            .number
            .as_deref(),
        Some("INV-1405-000002")
    );

    // A whole-invoice credit note, unpaid: void at once, nothing left as credit.
    let whole = payments::issue_credit_note(
        &ctx,
        &admin,
        &next,
        CreditScope::Whole,
        date(2026, 12, 3),
        "",
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(whole.invoice.total, 1_000);
    assert_eq!(status(&ctx, &admin, &next).await, ("void".into(), 0));
    assert_eq!(balance(&ctx, Account::ClientCredit(acme, Eur)).await, 4_000);
    assert_books(&ctx).await;

    // The statement over the period: 129.00 invoiced, 40.00 paid, 129.00 credited.
    let st = payments::statement(&ctx, &admin, acme, date(2026, 12, 1), date(2026, 12, 31))
        .await
        .unwrap();
    let eur = &st.currencies[0];
    assert_eq!(
        (eur.invoiced, eur.paid, eur.credited, eur.refunded),
        (12_900, 4_000, 12_900, 0)
    );
    assert_eq!(
        eur.closing_balance, -4_000,
        "the seller owes the client its credit"
    );
    assert_eq!((eur.open_invoices_due, eur.credit), (0, 4_000));
    // The client's own portal reads its statement; another client's is refused.
    let portal = user(&ctx, "portal", Role::Client).await;
    saghat_core::invoicing::service::link_client_user(&ctx, &admin, portal.id, acme, &meta())
        .await
        .unwrap();
    assert!(
        payments::statement(&ctx, &portal, acme, date(2026, 12, 1), date(2026, 12, 31))
            .await
            .is_ok()
    );
    let other = client(&ctx, &admin, "Other", Currency::Eur).await;
    assert!(matches!(
        payments::statement(&ctx, &portal, other, date(2026, 12, 1), date(2026, 12, 31)).await,
        Err(InvoicingError::Forbidden)
    ));
}

async fn recurring_invoices_follow_jalali_months_once_per_period(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 9, 1)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let acme = client(&ctx, &admin, "Acme", Eur).await;
    let template = Template {
        lines: vec![TemplateLine::from_line(&line(
            "Hosting",
            "1",
            2_500,
            standard(1_900),
        ))],
        discount_kind: None,
        discount_value: None,
        prices_include_tax: false,
        notes: String::new(),
        terms: String::new(),
        due_in_days: Some(10),
    };
    // On the 31st of each Jalali month: 31 Shahrivar 1405 is 22 September 2026; Mehr has 30.
    let first = saghat_core::invoicing::calendar::from_jalali(1405, 6, 31).unwrap();
    let rec = recurring::create_recurring(
        &ctx,
        &admin,
        &RecurringInput {
            client_id: acme,
            template,
            calendar: Calendar::Jalali,
            day_of_month: 31,
            first_run: Some(first),
            auto_send: true,
        },
        &meta(),
    )
    .await
    .unwrap();
    assert!(recurring::run_due_recurring(&ctx, date(2026, 9, 21))
        .await
        .unwrap()
        .is_empty());
    let made = recurring::run_due_recurring(&ctx, first).await.unwrap();
    assert_eq!(made.len(), 1);
    assert_eq!(made[0].period, "1405-06");
    assert!(made[0].sent);
    assert!(
        recurring::run_due_recurring(&ctx, first)
            .await
            .unwrap()
            .is_empty(),
        "idempotent"
    );
    // Two months later, both missed periods are made, the day clamped to Mehr's 30th.
    let later = saghat_core::invoicing::calendar::from_jalali(1405, 8, 30).unwrap();
    let made = recurring::run_due_recurring(&ctx, later).await.unwrap();
    assert_eq!(
        made.iter().map(|m| m.period.as_str()).collect::<Vec<_>>(),
        vec!["1405-07", "1405-08"]
    );
    let mehr = invoices::get(&ctx, &admin, &made[0].invoice_id)
        .await
        .unwrap();
    assert_eq!(to_jalali(date_of(&mehr.invoice.issue_date)), (1405, 7, 30));
    assert_eq!(mehr.invoice.total, 2_975);
    assert_eq!(mehr.invoice.recurring_id, Some(rec.id));
    let aban = invoices::get(&ctx, &admin, &made[1].invoice_id)
        .await
        .unwrap();
    assert_eq!(
        to_jalali(date_of(&aban.invoice.issue_date)),
        (1405, 8, 30),
        "Aban has 30 days too"
    );
    assert_eq!(
        balance(&ctx, Account::ClientReceivable(acme, Eur)).await,
        3 * 2_975
    );
    assert_books(&ctx).await;
    // A paused template makes nothing.
    recurring::set_recurring_active(&ctx, &admin, rec.id, false, &meta())
        .await
        .unwrap();
    assert!(recurring::run_due_recurring(&ctx, date(2027, 6, 1))
        .await
        .unwrap()
        .is_empty());
}

/// A template changed between runs (its day, then its calendar) still makes one invoice per
/// month: the month already made is never made again, in either calendar's months.
async fn an_updated_template_still_makes_one_invoice_per_month(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 9, 1)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let acme = client(&ctx, &admin, "Acme", Eur).await;
    let template = Template {
        lines: vec![TemplateLine::from_line(&line(
            "Hosting",
            "1",
            2_500,
            standard(1_900),
        ))],
        discount_kind: None,
        discount_value: None,
        prices_include_tax: false,
        notes: String::new(),
        terms: String::new(),
        due_in_days: Some(10),
    };
    let mut input = RecurringInput {
        client_id: acme,
        template,
        calendar: Calendar::Gregorian,
        day_of_month: 5,
        first_run: Some(date(2026, 9, 5)),
        auto_send: false,
    };
    let rec = recurring::create_recurring(&ctx, &admin, &input, &meta())
        .await
        .unwrap();
    let run_through = |from: chrono::NaiveDate, to: chrono::NaiveDate| {
        let ctx = &ctx;
        async move {
            let mut made = 0;
            let mut day = from;
            while day <= to {
                made += recurring::run_due_recurring(ctx, day).await.unwrap().len();
                day = day.succ_opt().unwrap();
            }
            made
        }
    };
    assert_eq!(run_through(date(2026, 9, 1), date(2026, 9, 30)).await, 1);

    // To Jalali months on the 25th: September's invoice (14 Shahrivar) keeps Shahrivar made.
    input.calendar = Calendar::Jalali;
    input.day_of_month = 25;
    input.first_run = None;
    let row = recurring::update_recurring(&ctx, &admin, rec.id, &input, &meta())
        .await
        .unwrap();
    assert_eq!(
        to_jalali(date_of(&row.next_run)),
        (1405, 7, 25),
        "25 Mehr, as the stored run (5 October) is in Mehr"
    );
    // Asking for Shahrivar again is refused, and nothing changes.
    input.first_run = Some(saghat_core::invoicing::calendar::from_jalali(1405, 6, 30).unwrap());
    let refused = recurring::update_recurring(&ctx, &admin, rec.id, &input, &meta())
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, InvoicingError::Invalid { field, .. } if field == "next_run"),
        "{refused:?}"
    );
    input.first_run = None;
    assert_eq!(run_through(date(2026, 10, 1), date(2026, 11, 20)).await, 2);

    // The 25th of Azar is next; moved to the 3rd, Azar still gets its one invoice.
    input.day_of_month = 3;
    let row = recurring::update_recurring(&ctx, &admin, rec.id, &input, &meta())
        .await
        .unwrap();
    assert_eq!(to_jalali(date_of(&row.next_run)), (1405, 9, 3));
    assert_eq!(run_through(date(2026, 11, 20), date(2027, 1, 31)).await, 3);

    let made: Vec<String> = sqlx::query_scalar(
        "SELECT issue_date FROM invoices WHERE recurring_id = $1 ORDER BY issue_date",
    )
    .bind(rec.id)
    .fetch_all(&ctx.db.pool)
    .await
    .unwrap();
    let months: Vec<(i32, u8, u8)> = made.iter().map(|d| to_jalali(date_of(d))).collect();
    assert_eq!(
        months.iter().map(|(y, m, _)| (*y, *m)).collect::<Vec<_>>(),
        vec![
            (1405, 6),
            (1405, 7),
            (1405, 8),
            (1405, 9),
            (1405, 10),
            (1405, 11)
        ],
        "one invoice per month: {made:?}"
    );
    assert_eq!(
        months
            .iter()
            .skip(1)
            .map(|(_, _, d)| *d)
            .collect::<Vec<_>>(),
        vec![25, 25, 3, 3, 3]
    );
    // Having made invoices, it is not deleted.
    let refused = recurring::delete_recurring(&ctx, &admin, rec.id, &meta())
        .await
        .unwrap_err();
    assert!(
        matches!(refused, InvoicingError::Invalid { .. }),
        "{refused:?}"
    );
    assert_books(&ctx).await;
}

async fn credit_is_spent_once_under_concurrent_use(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let clock = clock_at(2026, 12, 1);
    let one = std::sync::Arc::new(db.ctx(clock.clone()).await);
    let two = std::sync::Arc::new(db.ctx(clock).await);
    let admin = user(&one, "admin", Role::Admin).await;
    let acme = client(&one, &admin, "Acme", Eur).await;
    let a = sent(&one, &admin, acme, 1_000).await;
    let b = sent(&one, &admin, acme, 1_000).await;
    payments::record_payment(
        &one,
        &admin,
        &payment(acme, 1_000, "advance", vec![]),
        &meta(),
    )
    .await
    .unwrap();
    let tasks: Vec<_> = [(one.clone(), a), (two.clone(), b)]
        .into_iter()
        .map(|(ctx, id)| {
            let admin = admin.clone();
            tokio::spawn(async move {
                payments::apply_credit(&ctx, &admin, &id, 1_000, &meta())
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap());
    }
    assert_eq!(ok, 1, "10.00 of credit pays one 10.00 invoice, not two");
    assert_eq!(balance(&one, Account::ClientCredit(acme, Eur)).await, 0);
    assert_books(&one).await;
}

fn date_of(text: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

on_both_databases!(
    payments_allocate_overpay_and_credit_is_used_then_refunded,
    a_reference_naming_an_invoice_allocates_to_it,
    credit_notes_partial_then_full_make_the_invoice_void,
    recurring_invoices_follow_jalali_months_once_per_period,
    an_updated_template_still_makes_one_invoice_per_month,
    credit_is_spent_once_under_concurrent_use,
);
