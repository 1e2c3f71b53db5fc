//! The UN/CEFACT CII D16B syntax of EN 16931 (`CrossIndustryInvoice`, type 380 or 381), in the
//! element order of the schema; the same XML is what a Factur-X PDF embeds.

use chrono::NaiveDate;

use super::{
    check, line_price, rate, EInvoiceError, EInvoiceInput, TaxId, Xml, DISCOUNT_REASON,
    DISCOUNT_REASON_CODE, SPECIFICATION,
};
use crate::invoicing::model::{InvoiceKind, Party, TaxCategory};

const NS_RSM: &str = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100";
const NS_RAM: &str =
    "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100";
const NS_QDT: &str = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100";
const NS_UDT: &str = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100";

/// The invoice or credit note as a CII `CrossIndustryInvoice`.
pub fn to_cii(input: &EInvoiceInput) -> Result<String, EInvoiceError> {
    let c = check(input)?;
    let invoice = input.invoice;
    let totals = input.totals;
    let credit = invoice.kind == InvoiceKind::CreditNote;
    let money = |units: i64| c.amount(units);

    let mut x = Xml::new();
    x.open_with(
        "rsm:CrossIndustryInvoice",
        &[
            ("xmlns:rsm", NS_RSM),
            ("xmlns:ram", NS_RAM),
            ("xmlns:qdt", NS_QDT),
            ("xmlns:udt", NS_UDT),
        ],
    );
    x.open("rsm:ExchangedDocumentContext")
        .open("ram:GuidelineSpecifiedDocumentContextParameter")
        .leaf("ram:ID", SPECIFICATION)
        .close()
        .close();

    x.open("rsm:ExchangedDocument");
    x.leaf("ram:ID", c.number);
    x.leaf("ram:TypeCode", if credit { "381" } else { "380" });
    date(
        &mut x,
        "ram:IssueDateTime",
        "udt:DateTimeString",
        invoice.issue_date,
    );
    if !invoice.notes.trim().is_empty() {
        x.open("ram:IncludedNote")
            .leaf("ram:Content", invoice.notes.trim())
            .close();
    }
    x.close();

    x.open("rsm:SupplyChainTradeTransaction");
    // BG-25.
    for (index, line) in invoice.lines.iter().enumerate() {
        let price = line_price(invoice, totals, index);
        let unit = [("unitCode", line.unit.code())];
        x.open("ram:IncludedSupplyChainTradeLineItem");
        x.open("ram:AssociatedDocumentLineDocument")
            .leaf("ram:LineID", &(index + 1).to_string())
            .close();
        x.open("ram:SpecifiedTradeProduct")
            .leaf("ram:Name", line.description.trim())
            .close();
        x.open("ram:SpecifiedLineTradeAgreement");
        x.open("ram:NetPriceProductTradePrice");
        x.leaf("ram:ChargeAmount", &money(price.amount));
        if let Some(base) = price.base_quantity {
            x.leaf_with("ram:BasisQuantity", &unit, &base.to_string());
        }
        x.close();
        x.close();
        x.open("ram:SpecifiedLineTradeDelivery")
            .leaf_with("ram:BilledQuantity", &unit, &line.quantity.to_string())
            .close();
        x.open("ram:SpecifiedLineTradeSettlement");
        trade_tax(&mut x, "ram:ApplicableTradeTax", &line.tax);
        if price.allowance != 0 {
            allowance(&mut x, &money(price.allowance), None);
        }
        x.open("ram:SpecifiedTradeSettlementLineMonetarySummation")
            .leaf("ram:LineTotalAmount", &money(totals.lines[index].net))
            .close();
        x.close();
        x.close();
    }

    x.open("ram:ApplicableHeaderTradeAgreement");
    if let Some(reference) = input.buyer_reference.filter(|r| !r.trim().is_empty()) {
        x.leaf("ram:BuyerReference", reference.trim());
    }
    party(
        &mut x,
        "ram:SellerTradeParty",
        &invoice.seller,
        Some(c.seller_tax),
        true,
    );
    party(
        &mut x,
        "ram:BuyerTradeParty",
        &invoice.buyer,
        c.buyer_tax,
        false,
    );
    x.close();
    // Nothing is delivered that the invoice records, but the element is required.
    x.empty("ram:ApplicableHeaderTradeDelivery");

    x.open("ram:ApplicableHeaderTradeSettlement");
    x.leaf("ram:PaymentReference", c.number);
    x.leaf("ram:InvoiceCurrencyCode", c.currency.code());
    x.open("ram:SpecifiedTradeSettlementPaymentMeans");
    x.leaf("ram:TypeCode", c.payment_means);
    if let Some(iban) = &c.iban {
        x.open("ram:PayeePartyCreditorFinancialAccount")
            .leaf("ram:IBANID", iban)
            .close();
    }
    x.close();
    // BG-23.
    for category in &totals.categories {
        x.open("ram:ApplicableTradeTax");
        x.leaf("ram:CalculatedAmount", &money(category.tax));
        x.leaf("ram:TypeCode", "VAT");
        if let Some(reason) = category.category.code.exemption_reason() {
            x.leaf("ram:ExemptionReason", reason);
        }
        x.leaf("ram:BasisAmount", &money(category.taxable));
        x.leaf("ram:CategoryCode", category.category.code.code());
        if let Some(rate) = rate(&category.category) {
            x.leaf("ram:RateApplicablePercent", &rate);
        }
        x.close();
    }
    // BG-20: the invoice discount, one allowance per tax category it was allocated to.
    for category in totals.categories.iter().filter(|c| c.discount != 0) {
        allowance(&mut x, &money(category.discount), Some(&category.category));
    }
    x.open("ram:SpecifiedTradePaymentTerms");
    if !invoice.terms.trim().is_empty() {
        x.leaf("ram:Description", invoice.terms.trim());
    }
    date(
        &mut x,
        "ram:DueDateDateTime",
        "udt:DateTimeString",
        invoice.due_date,
    );
    x.close();
    // BG-22.
    x.open("ram:SpecifiedTradeSettlementHeaderMonetarySummation");
    x.leaf("ram:LineTotalAmount", &money(totals.lines_net));
    if totals.discount != 0 {
        x.leaf("ram:AllowanceTotalAmount", &money(totals.discount));
    }
    x.leaf("ram:TaxBasisTotalAmount", &money(totals.taxable));
    x.leaf_with(
        "ram:TaxTotalAmount",
        &[("currencyID", c.currency.code())],
        &money(totals.tax),
    );
    x.leaf("ram:GrandTotalAmount", &money(totals.total));
    if input.paid != 0 {
        x.leaf("ram:TotalPrepaidAmount", &money(input.paid));
    }
    x.leaf("ram:DuePayableAmount", &money(c.due));
    x.close();
    // BG-3.
    if let Some(credited) = &invoice.credited {
        x.open("ram:InvoiceReferencedDocument");
        x.leaf("ram:IssuerAssignedID", &credited.number);
        date(
            &mut x,
            "ram:FormattedIssueDateTime",
            "qdt:DateTimeString",
            credited.issue_date,
        );
        x.close();
    }
    x.close();

    x.close();
    x.close();
    Ok(x.finish())
}

fn date(x: &mut Xml, tag: &'static str, inner: &str, date: NaiveDate) {
    x.open(tag)
        .leaf_with(
            inner,
            &[("format", "102")],
            &date.format("%Y%m%d").to_string(),
        )
        .close();
}

/// A line or document-level discount; a document-level one names its tax category (BT-95).
fn allowance(x: &mut Xml, amount: &str, category: Option<&TaxCategory>) {
    x.open("ram:SpecifiedTradeAllowanceCharge");
    x.open("ram:ChargeIndicator")
        .leaf("udt:Indicator", "false")
        .close();
    x.leaf("ram:ActualAmount", amount);
    x.leaf("ram:ReasonCode", DISCOUNT_REASON_CODE);
    x.leaf("ram:Reason", DISCOUNT_REASON);
    if let Some(category) = category {
        trade_tax(x, "ram:CategoryTradeTax", category);
    }
    x.close();
}

fn trade_tax(x: &mut Xml, tag: &'static str, category: &TaxCategory) {
    x.open(tag);
    x.leaf("ram:TypeCode", "VAT");
    x.leaf("ram:CategoryCode", category.code.code());
    if let Some(rate) = rate(category) {
        x.leaf("ram:RateApplicablePercent", &rate);
    }
    x.close();
}

/// BG-4 or BG-7, as in UBL: the seller's VAT id (scheme VA) or tax number (FC, and then its
/// identifier BT-29 too, for BR-CO-26); the buyer's VAT id, or its identifier BT-46.
fn party(x: &mut Xml, tag: &'static str, party: &Party, tax: Option<TaxId>, seller: bool) {
    x.open(tag);
    if let Some(TaxId::Other(id)) = tax {
        x.leaf("ram:ID", id);
    }
    x.leaf("ram:Name", party.name.trim());
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
        x.open("ram:DefinedTradeContact");
        if let Some(phone) = phone {
            x.open("ram:TelephoneUniversalCommunication")
                .leaf("ram:CompleteNumber", phone)
                .close();
        }
        if let Some(email) = email {
            x.open("ram:EmailURIUniversalCommunication")
                .leaf("ram:URIID", email)
                .close();
        }
        x.close();
    }
    let address = &party.address;
    x.open("ram:PostalTradeAddress");
    if !address.postal_code.trim().is_empty() {
        x.leaf("ram:PostcodeCode", address.postal_code.trim());
    }
    if !address.street.trim().is_empty() {
        x.leaf("ram:LineOne", address.street.trim());
    }
    if !address.city.trim().is_empty() {
        x.leaf("ram:CityName", address.city.trim());
    }
    x.leaf("ram:CountryID", address.country_code.trim());
    x.close();
    match tax {
        Some(TaxId::Vat(id)) => {
            x.open("ram:SpecifiedTaxRegistration")
                .leaf_with("ram:ID", &[("schemeID", "VA")], id)
                .close();
        }
        Some(TaxId::Other(id)) if seller => {
            x.open("ram:SpecifiedTaxRegistration")
                .leaf_with("ram:ID", &[("schemeID", "FC")], id)
                .close();
        }
        _ => {}
    }
    x.close();
}
