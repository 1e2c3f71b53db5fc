//! Invoices on both databases: hand-computed totals sent to the ledger, gapless numbering
//! under concurrent sends from two instances, immutability enforced by the database itself,
//! the status lifecycle with the daily overdue pass, and the keyset-paged list.

#[path = "invoicing_common/mod.rs"]
mod common;

use common::*;
use saghat_core::auth::Role;
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::invoicing::invoices::{self, PageAt};
use saghat_core::invoicing::model::{Discount, Percent};
use saghat_core::invoicing::store::ListFilter;
use saghat_core::ledger::domain::Account;
use saghat_core::ledger::verify::verify;
use saghat_core::platform::currency::Currency;

async fn sent_invoice_posts_hand_computed_amounts(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 12, 1)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let acme = client(&ctx, &admin, "Acme GmbH", Currency::Eur).await;
    let mut b = line("Consulting", "1.5", 10_000, standard(700));
    b.discount = Some(Discount::Percent(Percent(1_000)));
    let mut input = draft(
        acme,
        date(2026, 12, 1),
        vec![line("Widget", "3", 1_999, standard(1_900)), b],
    );
    input.discount = Some(Discount::Amount(1_000));
    let d = invoices::create_draft(&ctx, &admin, &input, &meta())
        .await
        .unwrap();
    // By hand: A = 3 × 19.99 = 59.97 (19%); B = 1.5 × 100 − 10% = 135.00 (7%). The 10.00
    // discount splits 3.08 / 6.92 (largest remainder), so the taxable amounts are 56.89 and
    // 128.08, taxed once each: 10.81 and 8.97 (half away from zero). Total 184.97 + 19.78.
    assert_eq!(d.invoice.status, "draft");
    assert_eq!(d.invoice.number, None);
    assert_eq!(
        (
            d.invoice.lines_net,
            d.invoice.discount,
            d.invoice.tax,
            d.invoice.total
        ),
        (19_497, 1_000, 1_978, 20_475)
    );
    assert_eq!(
        d.lines.iter().map(|l| l.net).collect::<Vec<_>>(),
        vec![5_997, 13_500]
    );
    assert_eq!(
        d.invoice.due_date, "2026-12-15",
        "the client's 14 days of terms"
    );

    let sent = invoices::send(&ctx, &admin, &d.invoice.id, &meta())
        .await
        .unwrap();
    assert_eq!(sent.invoice.number.as_deref(), Some("INV-1405-000001"));
    assert_eq!(sent.invoice.status, "sent");
    assert_eq!(
        sent.taxes
            .iter()
            .map(|t| (t.tax_rate, t.taxable, t.tax))
            .collect::<Vec<_>>(),
        vec![(700, 12_808, 897), (1_900, 5_689, 1_081)]
    );
    let buyer: saghat_core::invoicing::model::Party =
        serde_json::from_str(sent.invoice.buyer.as_deref().unwrap()).unwrap();
    assert_eq!(buyer.name, "Acme GmbH");
    assert!(sent.invoice.seller.is_some());
    // Re-sending is a no-op returning it.
    let again = invoices::send(&ctx, &admin, &d.invoice.id, &meta())
        .await
        .unwrap();
    assert_eq!(again.invoice.number, sent.invoice.number);
    assert_eq!(again.invoice.sent_at, sent.invoice.sent_at);

    assert_eq!(
        balance(&ctx, Account::ClientReceivable(acme, Currency::Eur)).await,
        20_475
    );
    assert_eq!(
        balance(&ctx, Account::InvoicingRevenue(Currency::Eur)).await,
        18_497
    );
    assert_eq!(
        balance(&ctx, Account::InvoicingTaxPayable(Currency::Eur)).await,
        1_978
    );
    let report = verify(&ctx.db).await.unwrap();
    assert!(report.is_ok(), "{report}");

    // The ledger's views read the cents as euros.
    let mut conn = ctx.db.pool.acquire().await.unwrap();
    let (accounts, _) = saghat_core::ledger::store::accounts(&mut conn, None, None, 100, 0)
        .await
        .unwrap();
    let receivable = accounts
        .iter()
        .find(|a| a.code == format!("client:{acme}:receivable:EUR"))
        .unwrap();
    assert_eq!(receivable.balance.to_string(), "204.75000000");
    assert_eq!(receivable.currency, "EUR");
}

async fn sending_needs_a_line_and_a_positive_total(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 12, 1)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let acme = client(&ctx, &admin, "Acme", Currency::Irr).await;
    let empty = invoices::create_draft(
        &ctx,
        &admin,
        &draft(acme, date(2026, 12, 1), vec![]),
        &meta(),
    )
    .await
    .unwrap();
    let err = invoices::send(&ctx, &admin, &empty.invoice.id, &meta())
        .await
        .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("lines"), "{err}");
    let free = invoices::create_draft(
        &ctx,
        &admin,
        &draft(
            acme,
            date(2026, 12, 1),
            vec![line("Gift", "1", 0, standard(900))],
        ),
        &meta(),
    )
    .await
    .unwrap();
    let err = invoices::send(&ctx, &admin, &free.invoice.id, &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, InvoicingError::Invalid { .. }), "{err}");
    // Neither left a number behind: the next sent invoice is the first.
    let real = invoices::create_draft(
        &ctx,
        &admin,
        &draft(
            acme,
            date(2026, 12, 1),
            vec![line("Work", "2", 1_500_000, standard(1_000))],
        ),
        &meta(),
    )
    .await
    .unwrap();
    let sent = invoices::send(&ctx, &admin, &real.invoice.id, &meta())
        .await
        .unwrap();
    assert_eq!(sent.invoice.number.as_deref(), Some("INV-1405-000001"));
    assert_eq!(
        sent.invoice.total, 3_300_000,
        "IRR has no minor unit: 3,000,000 + 10%"
    );
    // A field error names its field.
    let mut bad = draft(
        acme,
        date(2026, 12, 1),
        vec![
            line("Work", "1", 100, standard(1_000)),
            line("Bad", "1", 100, standard(1_000)),
        ],
    );
    bad.lines[1].quantity = saghat_core::invoicing::model::Quantity(0);
    let err = invoices::create_draft(&ctx, &admin, &bad, &meta())
        .await
        .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("lines[1].quantity"));
}

async fn numbers_are_gapless_under_concurrent_sends_on_two_instances(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let clock = clock_at(2026, 12, 1);
    let one = std::sync::Arc::new(db.ctx(clock.clone()).await);
    let two = std::sync::Arc::new(db.ctx(clock).await);
    let admin = user(&one, "admin", Role::Admin).await;
    let acme = client(&one, &admin, "Acme", Currency::Eur).await;
    let mut ids = vec![];
    for i in 0..20 {
        let d = invoices::create_draft(
            &one,
            &admin,
            &draft(
                acme,
                date(2026, 12, 1),
                vec![line(&format!("Item {i}"), "1", 1_000 + i, standard(1_900))],
            ),
            &meta(),
        )
        .await
        .unwrap();
        ids.push(d.invoice.id);
    }
    let mut tasks = vec![];
    for (i, id) in ids.iter().enumerate() {
        let ctx = if i % 2 == 0 { one.clone() } else { two.clone() };
        let (admin, id) = (admin.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            invoices::send(&ctx, &admin, &id, &meta())
                .await
                .map(|d| d.invoice.number_seq)
        }));
    }
    let mut seqs = vec![];
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap().unwrap());
    }
    seqs.sort();
    assert_eq!(seqs, (1..=20).collect::<Vec<i64>>());
    let report = verify(&one.db).await.unwrap();
    assert!(report.is_ok(), "{report}");
}

async fn the_database_refuses_changes_to_a_sent_invoice(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 12, 1)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let acme = client(&ctx, &admin, "Acme", Currency::Eur).await;
    let d = invoices::create_draft(
        &ctx,
        &admin,
        &draft(
            acme,
            date(2026, 12, 1),
            vec![line("Widget", "1", 1_000, standard(1_900))],
        ),
        &meta(),
    )
    .await
    .unwrap();
    let id = d.invoice.id.clone();
    // A draft may change through SQL as through the service.
    sqlx::query("UPDATE invoices SET notes = 'draft note' WHERE id = $1")
        .bind(&id)
        .execute(&ctx.db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE invoice_lines SET description = 'Widget!' WHERE invoice_id = $1")
        .bind(&id)
        .execute(&ctx.db.pool)
        .await
        .unwrap();
    invoices::send(&ctx, &admin, &id, &meta()).await.unwrap();
    let refused = [
        "UPDATE invoices SET total = 1 WHERE id = $1",
        "UPDATE invoices SET notes = 'changed' WHERE id = $1",
        "UPDATE invoices SET issue_date = '2026-01-01' WHERE id = $1",
        "UPDATE invoices SET buyer = '{}' WHERE id = $1",
        "UPDATE invoices SET number = 'X-1' WHERE id = $1",
        "UPDATE invoices SET sent_at = NULL, number = NULL WHERE id = $1",
        "DELETE FROM invoices WHERE id = $1",
        "UPDATE invoice_lines SET unit_price = 1 WHERE invoice_id = $1",
        "DELETE FROM invoice_lines WHERE invoice_id = $1",
        "INSERT INTO invoice_lines (invoice_id, position, description, unit, quantity, unit_price, tax_code, tax_rate, net) VALUES ($1, 9, 'x', 'C62', 10000, 1, 'S', 1900, 1)",
        "UPDATE invoice_taxes SET tax = 0 WHERE invoice_id = $1",
        "DELETE FROM invoice_taxes WHERE invoice_id = $1",
        "INSERT INTO invoice_taxes (invoice_id, tax_code, tax_rate, lines_net, discount, taxable, tax) VALUES ($1, 'Z', 0, 1, 0, 1, 0)",
    ];
    for sql in refused {
        let result = sqlx::query(sql).bind(&id).execute(&ctx.db.pool).await;
        assert!(result.is_err(), "{sql} was allowed");
    }
    // What may move after sending still does.
    sqlx::query("UPDATE invoices SET status = 'paid', amount_paid = total, updated_at = 'now' WHERE id = $1").bind(&id).execute(&ctx.db.pool).await.unwrap();
    // And the services say why.
    let err = invoices::update_draft(
        &ctx,
        &admin,
        &id,
        &draft(acme, date(2026, 12, 1), vec![]),
        &meta(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, InvoicingError::NotADraft), "{err}");
    let err = invoices::delete_draft(&ctx, &admin, &id, &meta())
        .await
        .unwrap_err();
    assert!(matches!(err, InvoicingError::NotADraft), "{err}");
}

async fn statuses_follow_the_facts_and_the_daily_pass_sets_overdue(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let clock = clock_at(2026, 12, 1);
    let ctx = db.ctx(clock.clone()).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let acme = client(&ctx, &admin, "Acme", Currency::Eur).await;
    let mk = |due: u32| {
        let mut d = draft(
            acme,
            date(2026, 12, 1),
            vec![line("Widget", "1", 10_000, standard(0))],
        );
        d.due_date = Some(date(2026, 12, due));
        d
    };
    let early = invoices::create_draft(&ctx, &admin, &mk(5), &meta())
        .await
        .unwrap();
    let late = invoices::create_draft(&ctx, &admin, &mk(20), &meta())
        .await
        .unwrap();
    let draft_only = invoices::create_draft(&ctx, &admin, &mk(2), &meta())
        .await
        .unwrap();
    invoices::send(&ctx, &admin, &early.invoice.id, &meta())
        .await
        .unwrap();
    invoices::send(&ctx, &admin, &late.invoice.id, &meta())
        .await
        .unwrap();
    assert!(
        invoices::refresh_overdue(&ctx, date(2026, 12, 5))
            .await
            .unwrap()
            .is_empty(),
        "due today is not late"
    );
    let overdue = invoices::refresh_overdue(&ctx, date(2026, 12, 6))
        .await
        .unwrap();
    assert_eq!(overdue, vec![early.invoice.id.clone()]);
    assert!(
        invoices::refresh_overdue(&ctx, date(2026, 12, 6))
            .await
            .unwrap()
            .is_empty(),
        "once"
    );
    let get = |id: String| {
        let (ctx, admin) = (&ctx, &admin);
        async move { invoices::get(ctx, admin, &id).await.unwrap().invoice.status }
    };
    assert_eq!(get(early.invoice.id.clone()).await, "overdue");
    assert_eq!(get(late.invoice.id.clone()).await, "sent");
    assert_eq!(
        get(draft_only.invoice.id.clone()).await,
        "draft",
        "a draft is never overdue"
    );
}

async fn the_list_pages_by_keyset_with_totals_per_status(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    // Before any of them is due (14 days of terms).
    let ctx = db.ctx(clock_at(2026, 11, 8)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let viewer = user(&ctx, "viewer", Role::Viewer).await;
    let acme = client(&ctx, &admin, "Acme", Currency::Eur).await;
    let other = client(&ctx, &admin, "Other Ltd", Currency::Eur).await;
    let mut sent_ids = vec![];
    for day in 1..=7u32 {
        let who = if day % 2 == 0 { other } else { acme };
        let d = invoices::create_draft(
            &ctx,
            &admin,
            &draft(
                who,
                date(2026, 11, day),
                vec![line("W", "1", 1_000, standard(0))],
            ),
            &meta(),
        )
        .await
        .unwrap();
        if day <= 5 {
            sent_ids.push(
                invoices::send(&ctx, &admin, &d.invoice.id, &meta())
                    .await
                    .unwrap()
                    .invoice
                    .id,
            );
        }
    }
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    let mut previous: Option<String>;
    loop {
        let page = invoices::list(
            &ctx,
            &viewer,
            ListFilter::default(),
            PageAt::after(cursor.as_deref()),
            3,
            cursor.is_none(),
        )
        .await
        .unwrap();
        if cursor.is_none() {
            let by_status: Vec<(String, i64, i64)> = page
                .totals
                .iter()
                .map(|t| (t.status.clone(), t.count, t.total))
                .collect();
            assert_eq!(
                by_status,
                vec![("draft".into(), 2, 2_000), ("sent".into(), 5, 5_000)]
            );
        }
        seen.extend(page.results.iter().map(|r| r.issue_date.clone()));
        assert_eq!(page.previous_cursor.is_some(), cursor.is_some());
        previous = page.previous_cursor.clone();
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<String> = (1..=7u32)
        .rev()
        .map(|d| format!("2026-11-{d:02}"))
        .collect();
    assert_eq!(seen, expected, "newest first, each once");
    // And back again from the last page: each previous page is the one read before it, and
    // the first has none.
    let mut at = previous.expect("the last page has a previous one");
    let mut pages_back = vec![];
    loop {
        let page = invoices::list(
            &ctx,
            &viewer,
            ListFilter::default(),
            PageAt::Before(&at),
            3,
            false,
        )
        .await
        .unwrap();
        let dates: Vec<String> = page.results.iter().map(|r| r.issue_date.clone()).collect();
        pages_back.push(dates);
        // Forward again from a page read backwards is the page after it.
        if pages_back.len() == 1 {
            let next = page.next_cursor.clone().expect("a next page");
            let again = invoices::list(
                &ctx,
                &viewer,
                ListFilter::default(),
                PageAt::After(&next),
                3,
                false,
            )
            .await
            .unwrap();
            assert_eq!(again.results.len(), 1, "the last page again");
        }
        match page.previous_cursor {
            Some(c) => at = c,
            None => break,
        }
    }
    assert_eq!(
        pages_back,
        vec![expected[3..6].to_vec(), expected[0..3].to_vec()],
        "from the third page: the second, then the first"
    );
    let filtered = invoices::list(
        &ctx,
        &viewer,
        ListFilter {
            client_id: Some(other),
            status: Some("sent".into()),
            ..Default::default()
        },
        PageAt::First,
        50,
        false,
    )
    .await
    .unwrap();
    assert_eq!(filtered.results.len(), 2);
    let by_number = invoices::list(
        &ctx,
        &viewer,
        ListFilter {
            search: Some("inv-1405-000003".into()),
            ..Default::default()
        },
        PageAt::First,
        50,
        false,
    )
    .await
    .unwrap();
    assert_eq!(by_number.results.len(), 1);
    let by_name = invoices::list(
        &ctx,
        &viewer,
        ListFilter {
            search: Some("other".into()),
            ..Default::default()
        },
        PageAt::First,
        50,
        false,
    )
    .await
    .unwrap();
    assert_eq!(by_name.results.len(), 3);
    // A client user sees only its own client's sent invoices, whatever it asks for.
    let portal = user(&ctx, "portal", Role::Client).await;
    saghat_core::invoicing::service::link_client_user(&ctx, &admin, portal.id, acme, &meta())
        .await
        .unwrap();
    let own = invoices::list(
        &ctx,
        &portal,
        ListFilter {
            client_id: Some(other),
            ..Default::default()
        },
        PageAt::First,
        50,
        true,
    )
    .await
    .unwrap();
    assert_eq!(
        own.results.iter().map(|r| r.client_id).collect::<Vec<_>>(),
        vec![acme, acme, acme]
    );
    assert!(own.results.iter().all(|r| r.status != "draft"));
    let drafts = invoices::list(
        &ctx,
        &admin,
        ListFilter {
            status: Some("draft".into()),
            ..Default::default()
        },
        PageAt::First,
        50,
        false,
    )
    .await
    .unwrap();
    let acme_draft = drafts.results.iter().find(|r| r.client_id == acme).unwrap();
    assert!(matches!(
        invoices::get(&ctx, &portal, &acme_draft.id).await,
        Err(InvoicingError::NotFound)
    ));
    let others = invoices::list(
        &ctx,
        &admin,
        ListFilter {
            client_id: Some(other),
            status: Some("sent".into()),
            ..Default::default()
        },
        PageAt::First,
        1,
        false,
    )
    .await
    .unwrap();
    assert!(matches!(
        invoices::get(&ctx, &portal, &others.results[0].id).await,
        Err(InvoicingError::NotFound)
    ));
    assert!(invoices::get(&ctx, &portal, &sent_ids[0]).await.is_ok());
    // A viewer writes nothing; a member has no part in invoicing.
    let err = invoices::create_draft(
        &ctx,
        &viewer,
        &draft(acme, date(2026, 12, 1), vec![]),
        &meta(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, InvoicingError::Forbidden));
    let member = user(&ctx, "member", Role::Member).await;
    assert!(matches!(
        invoices::list(
            &ctx,
            &member,
            ListFilter::default(),
            PageAt::First,
            5,
            false
        )
        .await,
        Err(InvoicingError::Forbidden)
    ));
}

on_both_databases!(
    sent_invoice_posts_hand_computed_amounts,
    sending_needs_a_line_and_a_positive_total,
    numbers_are_gapless_under_concurrent_sends_on_two_instances,
    the_database_refuses_changes_to_a_sent_invoice,
    statuses_follow_the_facts_and_the_daily_pass_sets_overdue,
    the_list_pages_by_keyset_with_totals_per_status,
);
