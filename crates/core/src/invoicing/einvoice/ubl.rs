//! The UBL 2.1 syntax of EN 16931: an `Invoice` document (type 380) or a `CreditNote` (381),
//! elements in the order of the OASIS schema.

use super::{
    check, line_price, rate, EInvoiceError, EInvoiceInput, TaxId, Xml, DISCOUNT_REASON,
    DISCOUNT_REASON_CODE, SPECIFICATION,
};
use crate::invoicing::model::{InvoiceKind, Party, TaxCategory};

const NS_INVOICE: &str = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2";
const NS_CREDIT_NOTE: &str = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2";
const NS_CAC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2";
const NS_CBC: &str = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2";

/// The invoice as a UBL 2.1 `Invoice`, or a `CreditNote` for a credit note.
pub fn to_ubl(input: &EInvoiceInput) -> Result<String, EInvoiceError> {
    let c = check(input)?;
    let invoice = input.invoice;
    let totals = input.totals;
    let credit = invoice.kind == InvoiceKind::CreditNote;
    let currency = c.currency.code();
    let money = |units: i64| c.amount(units);
    let cur = [("currencyID", currency)];

    let mut x = Xml::new();
    let (root, ns) = if credit {
        ("CreditNote", NS_CREDIT_NOTE)
    } else {
        ("Invoice", NS_INVOICE)
    };
    x.open_with(
        root,
        &[("xmlns", ns), ("xmlns:cac", NS_CAC), ("xmlns:cbc", NS_CBC)],
    );
    x.leaf("cbc:CustomizationID", SPECIFICATION);
    x.leaf("cbc:ID", c.number);
    x.leaf("cbc:IssueDate", &invoice.issue_date.to_string());
    if credit {
        // A UBL credit note has no DueDate: BT-9 goes in the payment means below.
        x.leaf("cbc:CreditNoteTypeCode", "381");
    } else {
        x.leaf("cbc:DueDate", &invoice.due_date.to_string());
        x.leaf("cbc:InvoiceTypeCode", "380");
    }
    if !invoice.notes.trim().is_empty() {
        x.leaf("cbc:Note", invoice.notes.trim());
    }
    x.leaf("cbc:DocumentCurrencyCode", currency);
    if let Some(reference) = input.buyer_reference.filter(|r| !r.trim().is_empty()) {
        x.leaf("cbc:BuyerReference", reference.trim());
    }
    if let Some(credited) = &invoice.credited {
        x.open("cac:BillingReference")
            .open("cac:InvoiceDocumentReference")
            .leaf("cbc:ID", &credited.number)
            .leaf("cbc:IssueDate", &credited.issue_date.to_string())
            .close()
            .close();
    }

    x.open("cac:AccountingSupplierParty");
    party(&mut x, &invoice.seller, Some(c.seller_tax), true);
    x.close();
    x.open("cac:AccountingCustomerParty");
    party(&mut x, &invoice.buyer, c.buyer_tax, false);
    x.close();

    // BG-16: how to pay; the invoice number is the remittance information (BT-83).
    x.open("cac:PaymentMeans");
    x.leaf("cbc:PaymentMeansCode", c.payment_means);
    if credit {
        x.leaf("cbc:PaymentDueDate", &invoice.due_date.to_string());
    }
    x.leaf("cbc:PaymentID", c.number);
    if let Some(iban) = &c.iban {
        x.open("cac:PayeeFinancialAccount")
            .leaf("cbc:ID", iban)
            .close();
    }
    x.close();
    if !invoice.terms.trim().is_empty() {
        x.open("cac:PaymentTerms")
            .leaf("cbc:Note", invoice.terms.trim())
            .close();
    }

    // BG-20: the invoice discount, one allowance per tax category it was allocated to.
    for category in totals.categories.iter().filter(|c| c.discount != 0) {
        x.open("cac:AllowanceCharge");
        x.leaf("cbc:ChargeIndicator", "false");
        x.leaf("cbc:AllowanceChargeReasonCode", DISCOUNT_REASON_CODE);
        x.leaf("cbc:AllowanceChargeReason", DISCOUNT_REASON);
        x.leaf_with("cbc:Amount", &cur, &money(category.discount));
        tax_category(&mut x, "cac:TaxCategory", &category.category, false);
        x.close();
    }

    // BG-23 and BT-110.
    x.open("cac:TaxTotal");
    x.leaf_with("cbc:TaxAmount", &cur, &money(totals.tax));
    for category in &totals.categories {
        x.open("cac:TaxSubtotal");
        x.leaf_with("cbc:TaxableAmount", &cur, &money(category.taxable));
        x.leaf_with("cbc:TaxAmount", &cur, &money(category.tax));
        tax_category(&mut x, "cac:TaxCategory", &category.category, true);
        x.close();
    }
    x.close();

    // BG-22.
    x.open("cac:LegalMonetaryTotal");
    x.leaf_with("cbc:LineExtensionAmount", &cur, &money(totals.lines_net));
    x.leaf_with("cbc:TaxExclusiveAmount", &cur, &money(totals.taxable));
    x.leaf_with("cbc:TaxInclusiveAmount", &cur, &money(totals.total));
    if totals.discount != 0 {
        x.leaf_with("cbc:AllowanceTotalAmount", &cur, &money(totals.discount));
    }
    if input.paid != 0 {
        x.leaf_with("cbc:PrepaidAmount", &cur, &money(input.paid));
    }
    x.leaf_with("cbc:PayableAmount", &cur, &money(c.due));
    x.close();

    // BG-25.
    let (line_tag, quantity_tag) = if credit {
        ("cac:CreditNoteLine", "cbc:CreditedQuantity")
    } else {
        ("cac:InvoiceLine", "cbc:InvoicedQuantity")
    };
    for (index, line) in invoice.lines.iter().enumerate() {
        let price = line_price(invoice, totals, index);
        let unit = [("unitCode", line.unit.code())];
        x.open(line_tag);
        x.leaf("cbc:ID", &(index + 1).to_string());
        x.leaf_with(quantity_tag, &unit, &line.quantity.to_string());
        x.leaf_with(
            "cbc:LineExtensionAmount",
            &cur,
            &money(totals.lines[index].net),
        );
        if price.allowance != 0 {
            x.open("cac:AllowanceCharge");
            x.leaf("cbc:ChargeIndicator", "false");
            x.leaf("cbc:AllowanceChargeReasonCode", DISCOUNT_REASON_CODE);
            x.leaf("cbc:AllowanceChargeReason", DISCOUNT_REASON);
            x.leaf_with("cbc:Amount", &cur, &money(price.allowance));
            x.close();
        }
        x.open("cac:Item");
        x.leaf("cbc:Name", line.description.trim());
        tax_category(&mut x, "cac:ClassifiedTaxCategory", &line.tax, false);
        x.close();
        x.open("cac:Price");
        x.leaf_with("cbc:PriceAmount", &cur, &money(price.amount));
        if let Some(base) = price.base_quantity {
            x.leaf_with("cbc:BaseQuantity", &unit, &base.to_string());
        }
        x.close();
        x.close();
    }
    x.close();
    Ok(x.finish())
}

/// BG-4 or BG-7. The seller's tax id is its VAT id (BT-31) or its tax registration (BT-32,
/// which is then also its identifier BT-29, as BR-CO-26 asks for one); the buyer's is its VAT
/// id (BT-48) or its identifier (BT-46).
fn party(x: &mut Xml, party: &Party, tax: Option<TaxId>, seller: bool) {
    x.open("cac:Party");
    if let Some(TaxId::Other(id)) = tax {
        x.open("cac:PartyIdentification").leaf("cbc:ID", id).close();
    }
    let address = &party.address;
    x.open("cac:PostalAddress");
    if !address.street.trim().is_empty() {
        x.leaf("cbc:StreetName", address.street.trim());
    }
    if !address.city.trim().is_empty() {
        x.leaf("cbc:CityName", address.city.trim());
    }
    if !address.postal_code.trim().is_empty() {
        x.leaf("cbc:PostalZone", address.postal_code.trim());
    }
    x.open("cac:Country")
        .leaf("cbc:IdentificationCode", address.country_code.trim())
        .close();
    x.close();
    match tax {
        Some(TaxId::Vat(id)) => {
            x.open("cac:PartyTaxScheme")
                .leaf("cbc:CompanyID", id)
                .open("cac:TaxScheme")
                .leaf("cbc:ID", "VAT")
                .close()
                .close();
        }
        Some(TaxId::Other(id)) if seller => {
            x.open("cac:PartyTaxScheme")
                .leaf("cbc:CompanyID", id)
                .open("cac:TaxScheme")
                .leaf("cbc:ID", "TAX")
                .close()
                .close();
        }
        _ => {}
    }
    x.open("cac:PartyLegalEntity")
        .leaf("cbc:RegistrationName", party.name.trim())
        .close();
    let phone = party
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let email = party
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    if phone.is_some() || email.is_some() {
        x.open("cac:Contact");
        if let Some(phone) = phone {
            x.leaf("cbc:Telephone", phone);
        }
        if let Some(email) = email {
            x.leaf("cbc:ElectronicMail", email);
        }
        x.close();
    }
    x.close();
}

/// A VAT category: on a line, an allowance, or (with the exemption reason) in the breakdown.
fn tax_category(x: &mut Xml, tag: &'static str, category: &TaxCategory, breakdown: bool) {
    x.open(tag);
    x.leaf("cbc:ID", category.code.code());
    if let Some(rate) = rate(category) {
        x.leaf("cbc:Percent", &rate);
    }
    if breakdown {
        if let Some(reason) = category.code.exemption_reason() {
            x.leaf("cbc:TaxExemptionReason", reason);
        }
    }
    x.open("cac:TaxScheme").leaf("cbc:ID", "VAT").close();
    x.close();
}
