//! Clients, contacts and products on both databases: validation by field, one primary contact,
//! a client archived (not deleted) once invoiced, its currency fixed once invoiced, products
//! archived, and who may do each.

#[path = "invoicing_common/mod.rs"]
mod common;

use common::*;
use saghat_core::auth::Role;
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::invoicing::invoices;
use saghat_core::invoicing::model::Unit;
use saghat_core::invoicing::service::{self, ContactInput, ProductInput};
use saghat_core::platform::currency::Currency;

fn contact(name: &str, primary: bool) -> ContactInput {
    ContactInput {
        name: name.into(),
        email: Some(format!("{name}@example.com")),
        phone: None,
        role: "billing".into(),
        is_primary: primary,
    }
}

async fn clients_and_contacts(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 12, 1)).await;
    let admin = user(&ctx, "admin", Role::Admin).await;
    let accountant = user(&ctx, "acc", Role::Accountant).await;
    let viewer = user(&ctx, "viewer", Role::Viewer).await;
    let lender = user(&ctx, "lender", Role::Lender).await;

    let mut bad = client_input("", Currency::Eur);
    assert_eq!(
        service::create_client(&ctx, &accountant, &bad, &meta())
            .await
            .unwrap_err()
            .field()
            .as_deref(),
        Some("name")
    );
    bad.name = "X".into();
    bad.email = Some("not-an-email".into());
    assert_eq!(
        service::create_client(&ctx, &accountant, &bad, &meta())
            .await
            .unwrap_err()
            .field()
            .as_deref(),
        Some("email")
    );
    bad.email = None;
    bad.address.country_code = "Germany".into();
    assert_eq!(
        service::create_client(&ctx, &accountant, &bad, &meta())
            .await
            .unwrap_err()
            .field()
            .as_deref(),
        Some("country_code")
    );
    assert!(matches!(
        service::create_client(&ctx, &viewer, &client_input("V", Currency::Eur), &meta()).await,
        Err(InvoicingError::Forbidden)
    ));
    assert!(matches!(
        service::create_client(&ctx, &lender, &client_input("L", Currency::Eur), &meta()).await,
        Err(InvoicingError::Forbidden)
    ));

    let acme = service::create_client(
        &ctx,
        &accountant,
        &client_input("Acme", Currency::Eur),
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(
        (acme.country_code.as_str(), acme.payment_terms_days),
        ("DE", 14)
    );
    let first = service::save_contact(
        &ctx,
        &accountant,
        acme.id,
        None,
        &contact("ana", true),
        &meta(),
    )
    .await
    .unwrap();
    let second = service::save_contact(
        &ctx,
        &accountant,
        acme.id,
        None,
        &contact("bo", true),
        &meta(),
    )
    .await
    .unwrap();
    let (_, contacts) = service::get_client(&ctx, &viewer, acme.id).await.unwrap();
    let primaries: Vec<i64> = contacts
        .iter()
        .filter(|c| c.is_primary)
        .map(|c| c.id)
        .collect();
    assert_eq!(
        primaries,
        vec![second.id],
        "the new primary replaced the old one"
    );
    // The database itself holds at most one primary per client.
    let second_primary = sqlx::query("UPDATE client_contacts SET is_primary = 1 WHERE id = $1")
        .bind(first.id)
        .execute(&ctx.db.pool)
        .await;
    assert!(second_primary.is_err());
    service::delete_contact(&ctx, &accountant, acme.id, first.id, &meta())
        .await
        .unwrap();

    // Never invoiced: deleted. Invoiced: archived, and its currency stays.
    let temp = service::create_client(&ctx, &admin, &client_input("Temp", Currency::Usd), &meta())
        .await
        .unwrap();
    assert!(
        service::archive_or_delete_client(&ctx, &admin, temp.id, &meta())
            .await
            .unwrap()
    );
    assert!(matches!(
        service::get_client(&ctx, &admin, temp.id).await,
        Err(InvoicingError::NotFound)
    ));
    invoices::create_draft(
        &ctx,
        &admin,
        &draft(
            acme.id,
            date(2026, 12, 1),
            vec![line("W", "1", 100, standard(0))],
        ),
        &meta(),
    )
    .await
    .unwrap();
    let err = service::update_client(
        &ctx,
        &admin,
        acme.id,
        &client_input("Acme", Currency::Usd),
        &meta(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.field().as_deref(), Some("currency"));
    let renamed = service::update_client(
        &ctx,
        &admin,
        acme.id,
        &client_input("Acme AG", Currency::Eur),
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(renamed.name, "Acme AG");
    assert!(
        !service::archive_or_delete_client(&ctx, &admin, acme.id, &meta())
            .await
            .unwrap()
    );
    let (archived, _) = service::get_client(&ctx, &admin, acme.id).await.unwrap();
    assert!(archived.archived);
    let (listed, count) = service::list_clients(&ctx, &viewer, false, None, 10, 0)
        .await
        .unwrap();
    assert_eq!((listed.len(), count), (0, 0));
    let (listed, _) = service::list_clients(&ctx, &viewer, true, Some("acme"), 10, 0)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    // A client user reads no client list, and may not link itself.
    let portal = user(&ctx, "portal", Role::Client).await;
    assert!(matches!(
        service::list_clients(&ctx, &portal, true, None, 10, 0).await,
        Err(InvoicingError::Forbidden)
    ));
    assert!(matches!(
        service::link_client_user(&ctx, &accountant, portal.id, acme.id, &meta()).await,
        Err(InvoicingError::Forbidden)
    ));
    let err = service::link_client_user(&ctx, &admin, viewer.id, acme.id, &meta())
        .await
        .unwrap_err();
    assert_eq!(
        err.field().as_deref(),
        Some("user_id"),
        "only client users are linked"
    );
}

async fn products(backend: Backend) {
    let Some(db) = TestDb::new(backend).await else {
        return;
    };
    let ctx = db.ctx(clock_at(2026, 12, 1)).await;
    let accountant = user(&ctx, "acc", Role::Accountant).await;
    let viewer = user(&ctx, "viewer", Role::Viewer).await;
    let input = ProductInput {
        name: "Hosting".into(),
        description: "a month".into(),
        unit: Unit::Month,
        unit_price: 2_500,
        currency: Currency::Eur,
        tax: standard(1_900),
    };
    let p = service::create_product(&ctx, &accountant, &input, &meta())
        .await
        .unwrap();
    assert_eq!(
        (
            p.unit.as_str(),
            p.unit_price,
            p.tax_code.as_str(),
            p.tax_rate
        ),
        ("MON", 2_500, "S", 1_900)
    );
    let exempt_with_rate = ProductInput {
        tax: saghat_core::invoicing::model::TaxCategory {
            code: saghat_core::invoicing::model::TaxCode::Exempt,
            rate: saghat_core::invoicing::model::Percent(500),
        },
        ..input.clone()
    };
    assert_eq!(
        service::create_product(&ctx, &accountant, &exempt_with_rate, &meta())
            .await
            .unwrap_err()
            .field()
            .as_deref(),
        Some("tax_rate")
    );
    assert!(matches!(
        service::create_product(&ctx, &viewer, &input, &meta()).await,
        Err(InvoicingError::Forbidden)
    ));
    let changed = service::update_product(
        &ctx,
        &accountant,
        p.id,
        &ProductInput {
            unit_price: 3_000,
            ..input.clone()
        },
        &meta(),
    )
    .await
    .unwrap();
    assert_eq!(changed.unit_price, 3_000);
    service::archive_product(&ctx, &accountant, p.id, true, &meta())
        .await
        .unwrap();
    assert_eq!(
        service::list_products(&ctx, &viewer, false, None, 10, 0)
            .await
            .unwrap()
            .1,
        0
    );
    assert!(
        service::get_product(&ctx, &viewer, p.id)
            .await
            .unwrap()
            .archived
    );
}

on_both_databases!(clients_and_contacts, products);
