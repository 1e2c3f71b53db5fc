//! A member's monthly statement as a PDF (A4, right to left in Persian): their month and
//! payments, their loan with its schedule, the fund's cash in and out and the draw with its
//! proof. [`document`] writes every value of core's `MemberStatement` out in the member's
//! language (Persian digits, Jalali months and dates); `statement.typ` owns the labels and the
//! layout. [`Printer`] is what the worker's `member_statement` job renders with.

use serde::Serialize;

use saghat_core::fund::statements::model::{Installment, MemberStatement, MonthLine};
use saghat_core::fund::statements::StatementPdf;
use saghat_core::platform::currency::Currency;
use saghat_core::platform::lang::Lang as CoreLang;
use saghat_core::platform::money::Amount;

use crate::document::Lang;
use crate::error::PdfError;

/// Everything the statement prints, written out.
#[derive(Clone, Debug, Serialize)]
pub struct StatementDocument {
    pub lang: Lang,
    /// `Azar 1405`.
    pub month: String,
    /// Their names, else their username.
    pub member: String,
    /// Their username, when `member` is their names.
    pub username: Option<String>,
    pub made_on: String,
    /// The unit amounts are in: `USDT`, `تتر`.
    pub unit: String,
    pub this_month: ThisMonth,
    /// Month, fee, repayment, paid on, balance, owed.
    pub history: Vec<Vec<String>>,
    pub loan: Option<LoanDocument>,
    pub fund: FundDocument,
    pub draw: DrawDocument,
}

#[derive(Clone, Debug, Serialize)]
pub struct ThisMonth {
    pub fee: String,
    pub repayment: String,
    pub paid_on: String,
    pub balance: String,
    pub owed: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct LoanDocument {
    pub month: String,
    pub amount: String,
    pub repaid: String,
    pub remaining: String,
    pub minimum: String,
    pub won_now: bool,
    /// Number, month, installment, remaining after.
    pub rows: Vec<Vec<String>>,
    /// How many installments follow those listed, written out; `None` when none.
    pub more: Option<String>,
    pub last_due: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct FundDocument {
    pub opening: String,
    pub fees: String,
    pub repayments: String,
    /// `None` when nothing else came in (or went out).
    pub other_in: Option<String>,
    pub cash_in: String,
    pub lent: String,
    pub refunds: String,
    pub other_out: Option<String>,
    pub cash_out: String,
    pub closing: String,
    /// When the figures were read.
    pub as_of: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct DrawDocument {
    /// `None`: nobody won.
    pub winner: Option<String>,
    pub amount: Option<String>,
    pub you_won: bool,
    pub commitment: Option<String>,
    pub seed: Option<String>,
    pub inputs_digest: Option<String>,
    pub verify_page: String,
}

/// Renders the statement to a PDF.
pub fn render_statement(doc: &StatementDocument) -> Result<Vec<u8>, PdfError> {
    let json = serde_json::to_vec(doc).map_err(|e| PdfError::Compile(e.to_string()))?;
    crate::world::render_template(crate::world::Template::Statement, json, "saghat-statement")
}

/// The statement's PDF.
pub fn statement_pdf(statement: &MemberStatement) -> Result<Vec<u8>, PdfError> {
    render_statement(&document(statement))
}

/// Renders statements for the worker's `member_statement` job.
#[derive(Clone, Copy, Debug, Default)]
pub struct Printer;

impl StatementPdf for Printer {
    fn render(&self, statement: &MemberStatement) -> Result<Vec<u8>, String> {
        statement_pdf(statement).map_err(|e| e.to_string())
    }
}

/// The statement written out in its member's language.
pub fn document(st: &MemberStatement) -> StatementDocument {
    let lang = st.lang;
    let money = |a: Amount| lang.amount(a);
    let none = || "—".to_owned();
    let date = |stored: &str| lang.date(stored, st.tz);
    let line = |l: &MonthLine| {
        vec![
            lang.jalali_month(l.month),
            l.fee.map_or_else(none, money),
            l.repayment.map_or_else(none, money),
            l.paid_at.as_deref().map_or_else(none, date),
            money(l.balance),
            money(l.owed),
        ]
    };
    let this = st.this_month();
    let last = st.history.last();
    let this_month = ThisMonth {
        fee: this.and_then(|l| l.fee).map_or_else(none, money),
        repayment: this.and_then(|l| l.repayment).map_or_else(none, money),
        paid_on: this
            .and_then(|l| l.paid_at.as_deref())
            .map_or_else(none, date),
        balance: money(last.map_or(Amount::ZERO, |l| l.balance)),
        owed: money(last.map_or(Amount::ZERO, |l| l.owed)),
    };
    let loan = st.loan.as_ref().map(|l| LoanDocument {
        month: lang.jalali_month(l.month),
        amount: money(l.amount),
        repaid: money(l.repaid),
        remaining: money(l.remaining),
        minimum: money(l.minimum),
        won_now: l.won_now,
        rows: l
            .installments
            .iter()
            .enumerate()
            .map(|(i, r): (usize, &Installment)| {
                vec![
                    lang.int(i64::try_from(i).unwrap_or(i64::MAX) + 1),
                    lang.jalali_month(r.month),
                    money(r.amount),
                    money(r.remaining_after),
                ]
            })
            .collect(),
        more: (l.more > 0).then(|| lang.int(l.more)),
        last_due: l.last_due.map(|m| lang.jalali_month(m)),
    });
    let cash = &st.fund.cash;
    let some = |a: Amount| (a != Amount::ZERO).then(|| money(a));
    let fund = FundDocument {
        opening: money(cash.opening),
        fees: money(cash.fees),
        repayments: money(cash.repayments),
        other_in: some(cash.other_in),
        cash_in: money(cash.cash_in()),
        lent: money(cash.lent),
        refunds: money(cash.refunds),
        other_out: some(cash.other_out),
        cash_out: money(cash.cash_out()),
        closing: money(cash.closing()),
        as_of: date(&st.fund.as_of),
    };
    let evidence = st.fund.evidence.as_ref();
    let draw = DrawDocument {
        winner: st.fund.winner.as_ref().map(|w| w.name.clone()),
        amount: st.fund.winner.as_ref().map(|w| money(w.amount)),
        you_won: st.won(),
        commitment: evidence.map(|e| e.commitment.clone()),
        seed: evidence.map(|e| e.seed.clone()),
        inputs_digest: evidence.map(|e| e.inputs_digest.clone()),
        verify_page: st.verify_page.clone(),
    };
    let named = !st.member.name.is_empty();
    StatementDocument {
        lang: match lang {
            CoreLang::En => Lang::En,
            CoreLang::Fa => Lang::Fa,
        },
        month: lang.jalali_month(st.month()),
        member: if named {
            st.member.name.clone()
        } else {
            st.member.username.clone()
        },
        username: named.then(|| st.member.username.clone()),
        made_on: date(&st.made_at),
        unit: lang.currency(Currency::Usdt).to_owned(),
        this_month,
        history: st.history.iter().map(line).collect(),
        loan,
        fund,
        draw,
    }
}
