//! Invoicing's data for the tests that need some: a client, an invoice (a draft or sent) and
//! a payment, made through invoicing's own services as the admin.

use chrono::NaiveDate;

use saghat_core::auth::CurrentUser;
use saghat_core::invoicing::invoices::{self, DraftInput, DraftLine};
use saghat_core::invoicing::model::{Address, Percent, Quantity, TaxCategory, TaxCode, Unit};
use saghat_core::invoicing::payments::{self, PaymentInput};
use saghat_core::invoicing::service::{self, ClientInput};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::currency::Currency;

use crate::TestApp;

/// A company client in Berlin billed in `currency`, paying in 14 days; its id.
pub async fn client(app: &TestApp, admin: &CurrentUser, name: &str, currency: Currency) -> i64 {
    let input = ClientInput {
        kind: "company".into(),
        name: name.into(),
        tax_id: None,
        email: None,
        address: Address {
            street: "Hauptstr. 1".into(),
            city: "Berlin".into(),
            postal_code: "10115".into(),
            country_code: "DE".into(),
        },
        language: "en".into(),
        currency,
        payment_terms_days: 14,
        notes: String::new(),
        send_reminders: false,
    };
    service::create_client(app.state.ctx(), admin, &input, &RequestMeta::default())
        .await
        .unwrap()
        .id
}

/// An invoice of one line of `net` minor units at standard rate `rate` (hundredths of a
/// percent), issued and due as given; sent unless `draft`. Its id.
pub async fn invoice(
    app: &TestApp,
    admin: &CurrentUser,
    client_id: i64,
    (issue, due): (NaiveDate, NaiveDate),
    net: i64,
    rate: i64,
    draft: bool,
) -> String {
    let ctx = app.state.ctx();
    let made = invoices::create_draft(
        ctx,
        admin,
        &DraftInput {
            client_id,
            currency: None,
            issue_date: issue,
            due_date: Some(due),
            lines: vec![DraftLine {
                product_id: None,
                description: "Consulting".into(),
                unit: Unit::Piece,
                quantity: Quantity::parse("1").unwrap(),
                unit_price: net,
                discount: None,
                tax: TaxCategory {
                    code: TaxCode::Standard,
                    rate: Percent(rate),
                },
            }],
            discount: None,
            prices_include_tax: false,
            notes: String::new(),
            terms: String::new(),
        },
        &RequestMeta::default(),
    )
    .await
    .unwrap();
    if draft {
        return made.invoice.id;
    }
    invoices::send(ctx, admin, &made.invoice.id, &RequestMeta::default())
        .await
        .unwrap()
        .invoice
        .id
}

/// A bank transfer of `amount` received `on`, applied to invoice `to` (else kept as credit).
pub async fn pay(
    app: &TestApp,
    admin: &CurrentUser,
    client_id: i64,
    currency: Currency,
    amount: i64,
    on: NaiveDate,
    to: Option<&str>,
) {
    payments::record_payment(
        app.state.ctx(),
        admin,
        &PaymentInput {
            client_id,
            amount,
            currency,
            received_on: on,
            method: "bank_transfer".into(),
            reference: String::new(),
            notes: String::new(),
            allocations: to
                .map(|id| vec![(id.to_string(), amount)])
                .unwrap_or_default(),
        },
        &RequestMeta::default(),
    )
    .await
    .unwrap();
}
