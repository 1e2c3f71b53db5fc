//! Double-entry posting rules, as plain Rust: which accounts a money movement touches, and the
//! guarantee that every journal transaction balances. Storage only ever writes values of
//! [`JournalTransaction`], which can only be built balanced.

use std::collections::BTreeMap;

use crate::platform::currency::Currency;
use crate::platform::money::Amount;

/// The fund's only currency today; every entry carries its currency so that more can follow.
pub const CURRENCY: &str = "USDT";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Side {
    Debit,
    Credit,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Debit => "debit",
            Side::Credit => "credit",
        }
    }

    fn opposite(self) -> Side {
        match self {
            Side::Debit => Side::Credit,
            Side::Credit => Side::Debit,
        }
    }
}

/// A ledger account. The fund holds cash (and money in transit at a gateway); for each member
/// it owes their contributions and is owed their loan. Loan-request tickets are lent apart from
/// the draw's loans (their own receivable, reconciled with the tickets tables), and a ticket's
/// fee or interest is the fund's income.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Account {
    FundCash,
    GatewayClearing,
    Contributions(i64),
    LoanReceivable(i64),
    /// What a member owes on their disbursed tickets (principal and charge).
    TicketReceivable(i64),
    /// The fees and interest charged on tickets, earned when the ticket is disbursed.
    TicketIncome,
    /// Invoicing: what a client owes on its sent invoices, in the invoices' currency.
    ClientReceivable(i64, Currency),
    /// Invoicing: what the seller owes a client (overpayments, unapplied credit notes).
    ClientCredit(i64, Currency),
    /// Invoicing: revenue net of tax.
    InvoicingRevenue(Currency),
    /// Invoicing: tax charged on invoices, owed to the tax office.
    InvoicingTaxPayable(Currency),
    /// Invoicing: money received from clients.
    InvoicingCash(Currency),
    /// Invoicing: money a gateway verified as paid and has yet to pay out to the seller.
    InvoicingGatewayClearing(Currency),
}

impl Account {
    /// The unique code the account is stored under, e.g. `member:42:contributions:USDT`.
    pub fn code(self) -> String {
        match self {
            Account::FundCash => format!("fund:cash:{CURRENCY}"),
            Account::GatewayClearing => format!("fund:gateway_clearing:{CURRENCY}"),
            Account::Contributions(user) => format!("member:{user}:contributions:{CURRENCY}"),
            Account::LoanReceivable(user) => format!("member:{user}:loan_receivable:{CURRENCY}"),
            Account::TicketReceivable(user) => {
                format!("member:{user}:ticket_receivable:{CURRENCY}")
            }
            Account::TicketIncome => format!("fund:ticket_income:{CURRENCY}"),
            Account::ClientReceivable(client, cur) => {
                format!("client:{client}:receivable:{}", cur.code())
            }
            Account::ClientCredit(client, cur) => format!("client:{client}:credit:{}", cur.code()),
            Account::InvoicingRevenue(cur) => format!("invoicing:revenue:{}", cur.code()),
            Account::InvoicingTaxPayable(cur) => format!("invoicing:tax_payable:{}", cur.code()),
            Account::InvoicingCash(cur) => format!("invoicing:cash:{}", cur.code()),
            Account::InvoicingGatewayClearing(cur) => {
                format!("invoicing:gateway_clearing:{}", cur.code())
            }
        }
    }

    /// The currency of the account's entries: the fund's accounts are in USDT, invoicing's in
    /// the currency they name. Entries are stored in that currency's minor units.
    pub fn currency(self) -> &'static str {
        match self {
            Account::ClientReceivable(_, cur)
            | Account::ClientCredit(_, cur)
            | Account::InvoicingRevenue(cur)
            | Account::InvoicingTaxPayable(cur)
            | Account::InvoicingCash(cur)
            | Account::InvoicingGatewayClearing(cur) => cur.code(),
            _ => CURRENCY,
        }
    }

    /// The client an invoicing account belongs to.
    pub fn client_id(self) -> Option<i64> {
        match self {
            Account::ClientReceivable(client, _) | Account::ClientCredit(client, _) => Some(client),
            _ => None,
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Account::FundCash => "fund_cash",
            Account::GatewayClearing => "gateway_clearing",
            Account::Contributions(_) => "member_contributions",
            Account::LoanReceivable(_) => "member_loan_receivable",
            Account::TicketReceivable(_) => "member_ticket_receivable",
            Account::TicketIncome => "ticket_income",
            Account::ClientReceivable(..) => "client_receivable",
            Account::ClientCredit(..) => "client_credit",
            Account::InvoicingRevenue(_) => "invoicing_revenue",
            Account::InvoicingTaxPayable(_) => "invoicing_tax_payable",
            Account::InvoicingCash(_) => "invoicing_cash",
            Account::InvoicingGatewayClearing(_) => "invoicing_gateway_clearing",
        }
    }

    /// Assets (cash, money at the gateway, loans owed to the fund) grow with debits; what the
    /// fund owes its members grows with credits.
    pub fn normal_side(self) -> Side {
        match self {
            Account::FundCash
            | Account::GatewayClearing
            | Account::LoanReceivable(_)
            | Account::TicketReceivable(_)
            | Account::ClientReceivable(..)
            | Account::InvoicingCash(_)
            | Account::InvoicingGatewayClearing(_) => Side::Debit,
            Account::Contributions(_)
            | Account::TicketIncome
            | Account::ClientCredit(..)
            | Account::InvoicingRevenue(_)
            | Account::InvoicingTaxPayable(_) => Side::Credit,
        }
    }

    pub fn user_id(self) -> Option<i64> {
        match self {
            Account::Contributions(user)
            | Account::LoanReceivable(user)
            | Account::TicketReceivable(user) => Some(user),
            Account::FundCash
            | Account::GatewayClearing
            | Account::TicketIncome
            | Account::ClientReceivable(..)
            | Account::ClientCredit(..)
            | Account::InvoicingRevenue(_)
            | Account::InvoicingTaxPayable(_)
            | Account::InvoicingCash(_)
            | Account::InvoicingGatewayClearing(_) => None,
        }
    }

    /// Every account a member has.
    pub fn of_member(user_id: i64) -> [Account; 2] {
        [
            Account::Contributions(user_id),
            Account::LoanReceivable(user_id),
        ]
    }
}

/// An account's balance on its normal side, from the totals of its entries.
pub fn balance(normal_side: Side, debits: Amount, credits: Amount) -> Amount {
    let (plus, minus) = match normal_side {
        Side::Debit => (debits, credits),
        Side::Credit => (credits, debits),
    };
    plus.checked_sub(minus)
        .expect("i128 balances of i64 amounts do not overflow")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxKind {
    Payment,
    LoanDisbursement,
    Reversal,
    TicketDisbursement,
    TicketRepayment,
    /// An invoice sent: the client owes its total.
    InvoiceSent,
    /// A client's payment: onto its invoices, the rest its credit.
    InvoicePayment,
    /// A client's credit used on an invoice.
    CreditAllocation,
    /// A credit note: revenue and tax reversed, the invoice's debt reduced, the rest credit.
    CreditNote,
    /// A client's credit paid back.
    CreditRefund,
    /// Money a gateway verified, paid out by it: from the clearing account into cash.
    GatewaySettlement,
    /// A member leaving the fund: their contributions settle what their loan still owes, and
    /// the rest is paid back from the cash.
    MemberDeparture,
}

impl TxKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TxKind::Payment => "payment",
            TxKind::LoanDisbursement => "loan_disbursement",
            TxKind::Reversal => "reversal",
            TxKind::TicketDisbursement => "ticket_disbursement",
            TxKind::TicketRepayment => "ticket_repayment",
            TxKind::InvoiceSent => "invoice_sent",
            TxKind::InvoicePayment => "invoice_payment",
            TxKind::CreditAllocation => "credit_allocation",
            TxKind::CreditNote => "credit_note",
            TxKind::CreditRefund => "credit_refund",
            TxKind::GatewaySettlement => "gateway_settlement",
            TxKind::MemberDeparture => "member_departure",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Posting {
    pub account: Account,
    pub side: Side,
    pub amount: Amount,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    #[error("a journal transaction needs at least two entries")]
    TooFewEntries,
    #[error("an entry's amount must be positive and fit the currency, not {0}")]
    InvalidAmount(Amount),
    #[error("debits {debits} do not equal credits {credits}")]
    Unbalanced { debits: Amount, credits: Amount },
}

/// Two or more postings whose debits equal their credits. Fields are private: the only ways to
/// get one are the posting rules below, which cannot produce an unbalanced transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalTransaction {
    kind: TxKind,
    postings: Vec<Posting>,
}

impl JournalTransaction {
    fn new(kind: TxKind, postings: Vec<Posting>) -> Result<Self, LedgerError> {
        if postings.len() < 2 {
            return Err(LedgerError::TooFewEntries);
        }
        let mut totals: BTreeMap<Side, Amount> = BTreeMap::new();
        for p in &postings {
            if !p.amount.is_positive() || !p.amount.fits_column() {
                return Err(LedgerError::InvalidAmount(p.amount));
            }
            let total = totals.entry(p.side).or_default();
            *total = total
                .checked_add(p.amount)
                .expect("i128 totals do not overflow");
        }
        let debits = totals.get(&Side::Debit).copied().unwrap_or_default();
        let credits = totals.get(&Side::Credit).copied().unwrap_or_default();
        if debits != credits {
            return Err(LedgerError::Unbalanced { debits, credits });
        }
        Ok(JournalTransaction { kind, postings })
    }

    pub fn kind(&self) -> TxKind {
        self.kind
    }

    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// A member's monthly payment: the money is in the fund's cash; the fee is what the fund now
    /// owes the member, the repayment reduces what the member owes the fund.
    pub fn payment(
        user_id: i64,
        fee: Amount,
        repayment: Option<Amount>,
    ) -> Result<Self, LedgerError> {
        let total = fee
            .checked_add(repayment.unwrap_or_default())
            .ok_or(LedgerError::InvalidAmount(fee))?;
        let mut postings = vec![
            Posting {
                account: Account::FundCash,
                side: Side::Debit,
                amount: total,
            },
            Posting {
                account: Account::Contributions(user_id),
                side: Side::Credit,
                amount: fee,
            },
        ];
        if let Some(repayment) = repayment {
            postings.push(Posting {
                account: Account::LoanReceivable(user_id),
                side: Side::Credit,
                amount: repayment,
            });
        }
        Self::new(TxKind::Payment, postings)
    }

    /// The draw's winner is paid out of the fund's cash and owes the fund the loan.
    pub fn loan_disbursement(user_id: i64, amount: Amount) -> Result<Self, LedgerError> {
        Self::new(
            TxKind::LoanDisbursement,
            vec![
                Posting {
                    account: Account::LoanReceivable(user_id),
                    side: Side::Debit,
                    amount,
                },
                Posting {
                    account: Account::FundCash,
                    side: Side::Credit,
                    amount,
                },
            ],
        )
    }

    /// A member leaves: all their `contributions` leave their account, `owed` of them settles
    /// their loan and the rest is paid back to them from the cash. `owed` ≤ `contributions`.
    pub fn member_departure(
        user_id: i64,
        contributions: Amount,
        owed: Amount,
    ) -> Result<Self, LedgerError> {
        let refund = contributions
            .checked_sub(owed)
            .filter(|r| *r >= Amount::ZERO)
            .ok_or(LedgerError::InvalidAmount(owed))?;
        let mut postings = vec![Posting {
            account: Account::Contributions(user_id),
            side: Side::Debit,
            amount: contributions,
        }];
        if owed.is_positive() {
            postings.push(Posting {
                account: Account::LoanReceivable(user_id),
                side: Side::Credit,
                amount: owed,
            });
        }
        if refund.is_positive() {
            postings.push(Posting {
                account: Account::FundCash,
                side: Side::Credit,
                amount: refund,
            });
        }
        Self::new(TxKind::MemberDeparture, postings)
    }

    /// A loan-request ticket paid out: the borrower owes the principal and its charge (fee or
    /// interest, 0 by default); the principal leaves the cash, the charge is the fund's income.
    pub fn ticket_disbursement(
        user_id: i64,
        principal: Amount,
        charge: Amount,
    ) -> Result<Self, LedgerError> {
        let owed = principal
            .checked_add(charge)
            .ok_or(LedgerError::InvalidAmount(charge))?;
        let mut postings = vec![
            Posting {
                account: Account::TicketReceivable(user_id),
                side: Side::Debit,
                amount: owed,
            },
            Posting {
                account: Account::FundCash,
                side: Side::Credit,
                amount: principal,
            },
        ];
        if charge != Amount::ZERO {
            postings.push(Posting {
                account: Account::TicketIncome,
                side: Side::Credit,
                amount: charge,
            });
        }
        Self::new(TxKind::TicketDisbursement, postings)
    }

    /// A ticket's borrower pays back: the money is in the cash, and owed no more.
    pub fn ticket_repayment(user_id: i64, amount: Amount) -> Result<Self, LedgerError> {
        Self::ticket_repayment_into(Account::FundCash, user_id, amount)
    }

    /// A ticket's borrower paid online: the money is at the gateway (Dr the fund's gateway
    /// clearing) until it pays out.
    pub fn ticket_gateway_repayment(user_id: i64, amount: Amount) -> Result<Self, LedgerError> {
        Self::ticket_repayment_into(Account::GatewayClearing, user_id, amount)
    }

    fn ticket_repayment_into(
        into: Account,
        user_id: i64,
        amount: Amount,
    ) -> Result<Self, LedgerError> {
        Self::new(
            TxKind::TicketRepayment,
            vec![
                Posting {
                    account: into,
                    side: Side::Debit,
                    amount,
                },
                Posting {
                    account: Account::TicketReceivable(user_id),
                    side: Side::Credit,
                    amount,
                },
            ],
        )
    }

    /// The gateway paid out what it verified for the fund: Dr the fund's cash, Cr its
    /// gateway clearing.
    pub fn fund_gateway_settlement(amount: Amount) -> Result<Self, LedgerError> {
        Self::new(
            TxKind::GatewaySettlement,
            vec![
                Posting {
                    account: Account::FundCash,
                    side: Side::Debit,
                    amount,
                },
                Posting {
                    account: Account::GatewayClearing,
                    side: Side::Credit,
                    amount,
                },
            ],
        )
    }

    /// Postings of `(account, side, minor units)`, leaving out the zero ones (a tax-free invoice
    /// has no tax entry).
    fn invoicing(kind: TxKind, parts: &[(Account, Side, i64)]) -> Result<Self, LedgerError> {
        let postings = parts
            .iter()
            .filter(|(_, _, units)| *units != 0)
            .map(|&(account, side, units)| Posting {
                account,
                side,
                amount: Amount::from_units(units),
            })
            .collect();
        Self::new(kind, postings)
    }

    /// An invoice sent: Dr the client's receivable its total, Cr revenue its taxable amount and
    /// tax payable its tax (amounts in the currency's minor units, from `Invoice::totals`).
    pub fn invoice_sent(
        client: i64,
        currency: Currency,
        taxable: i64,
        tax: i64,
    ) -> Result<Self, LedgerError> {
        let total = taxable
            .checked_add(tax)
            .ok_or(LedgerError::InvalidAmount(Amount::from_units(tax)))?;
        Self::invoicing(
            TxKind::InvoiceSent,
            &[
                (
                    Account::ClientReceivable(client, currency),
                    Side::Debit,
                    total,
                ),
                (Account::InvoicingRevenue(currency), Side::Credit, taxable),
                (Account::InvoicingTaxPayable(currency), Side::Credit, tax),
            ],
        )
    }

    /// A client's payment: Dr cash the amount, Cr the receivable what was allocated to its
    /// invoices and Cr its credit the rest.
    pub fn invoice_payment(
        client: i64,
        currency: Currency,
        amount: i64,
        allocated: i64,
    ) -> Result<Self, LedgerError> {
        let into = Account::InvoicingCash(currency);
        Self::invoice_payment_into(into, client, currency, amount, allocated)
    }

    /// A client's payment verified by a gateway: as [`Self::invoice_payment`], but the money
    /// is at the gateway (Dr its clearing account) until it pays out.
    pub fn invoice_gateway_payment(
        client: i64,
        currency: Currency,
        amount: i64,
        allocated: i64,
    ) -> Result<Self, LedgerError> {
        let into = Account::InvoicingGatewayClearing(currency);
        Self::invoice_payment_into(into, client, currency, amount, allocated)
    }

    fn invoice_payment_into(
        into: Account,
        client: i64,
        currency: Currency,
        amount: i64,
        allocated: i64,
    ) -> Result<Self, LedgerError> {
        Self::invoicing(
            TxKind::InvoicePayment,
            &[
                (into, Side::Debit, amount),
                (
                    Account::ClientReceivable(client, currency),
                    Side::Credit,
                    allocated,
                ),
                (
                    Account::ClientCredit(client, currency),
                    Side::Credit,
                    amount - allocated,
                ),
            ],
        )
    }

    /// Credit the seller owes a client, used on one of its invoices.
    pub fn credit_allocation(
        client: i64,
        currency: Currency,
        amount: i64,
    ) -> Result<Self, LedgerError> {
        Self::invoicing(
            TxKind::CreditAllocation,
            &[
                (Account::ClientCredit(client, currency), Side::Debit, amount),
                (
                    Account::ClientReceivable(client, currency),
                    Side::Credit,
                    amount,
                ),
            ],
        )
    }

    /// A credit note: Dr revenue its taxable amount and tax payable its tax; Cr the receivable
    /// what it takes off the credited invoice and Cr the client's credit the rest.
    pub fn credit_note(
        client: i64,
        currency: Currency,
        taxable: i64,
        tax: i64,
        applied: i64,
    ) -> Result<Self, LedgerError> {
        let total = taxable + tax;
        Self::invoicing(
            TxKind::CreditNote,
            &[
                (Account::InvoicingRevenue(currency), Side::Debit, taxable),
                (Account::InvoicingTaxPayable(currency), Side::Debit, tax),
                (
                    Account::ClientReceivable(client, currency),
                    Side::Credit,
                    applied,
                ),
                (
                    Account::ClientCredit(client, currency),
                    Side::Credit,
                    total - applied,
                ),
            ],
        )
    }

    /// The gateway paid out what it verified: Dr cash, Cr the gateway's clearing account.
    pub fn gateway_settlement(currency: Currency, amount: i64) -> Result<Self, LedgerError> {
        Self::invoicing(
            TxKind::GatewaySettlement,
            &[
                (Account::InvoicingCash(currency), Side::Debit, amount),
                (
                    Account::InvoicingGatewayClearing(currency),
                    Side::Credit,
                    amount,
                ),
            ],
        )
    }

    /// A client's credit paid back: Dr its credit, Cr cash.
    pub fn credit_refund(
        client: i64,
        currency: Currency,
        amount: i64,
    ) -> Result<Self, LedgerError> {
        Self::invoicing(
            TxKind::CreditRefund,
            &[
                (Account::ClientCredit(client, currency), Side::Debit, amount),
                (Account::InvoicingCash(currency), Side::Credit, amount),
            ],
        )
    }

    /// The correction of a transaction: the same entries on the opposite sides. Entries are
    /// never updated or deleted.
    pub fn reversal(&self) -> Self {
        let postings = self
            .postings
            .iter()
            .map(|p| Posting {
                side: p.side.opposite(),
                ..*p
            })
            .collect();
        JournalTransaction {
            kind: TxKind::Reversal,
            postings,
        }
    }

    /// What the transaction does to `account`, on the account's normal side.
    pub fn effect_on(&self, account: Account) -> Amount {
        self.postings
            .iter()
            .filter(|p| p.account == account)
            .map(|p| {
                if p.side == account.normal_side() {
                    p.amount
                } else {
                    Amount::ZERO.checked_sub(p.amount).unwrap()
                }
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usdt(n: &str) -> Amount {
        Amount::parse(n).unwrap()
    }

    #[test]
    fn a_payment_moves_money_into_cash_and_onto_the_members_accounts() {
        let tx = JournalTransaction::payment(7, usdt("20"), Some(usdt("35.5"))).unwrap();
        assert_eq!(tx.postings().len(), 3);
        assert_eq!(tx.effect_on(Account::FundCash), usdt("55.5"));
        assert_eq!(tx.effect_on(Account::Contributions(7)), usdt("20"));
        assert_eq!(tx.effect_on(Account::LoanReceivable(7)), usdt("-35.5"));
        let fee_only = JournalTransaction::payment(7, usdt("20"), None).unwrap();
        assert_eq!(fee_only.postings().len(), 2);
    }

    #[test]
    fn a_disbursement_moves_cash_to_the_borrower() {
        let tx = JournalTransaction::loan_disbursement(3, usdt("100")).unwrap();
        assert_eq!(tx.effect_on(Account::FundCash), usdt("-100"));
        assert_eq!(tx.effect_on(Account::LoanReceivable(3)), usdt("100"));
    }

    #[test]
    fn a_ticket_is_lent_apart_from_the_draws_loans_and_its_charge_is_income() {
        let tx = JournalTransaction::ticket_disbursement(4, usdt("600"), usdt("12")).unwrap();
        assert_eq!(tx.kind(), TxKind::TicketDisbursement);
        assert_eq!(tx.effect_on(Account::TicketReceivable(4)), usdt("612"));
        assert_eq!(tx.effect_on(Account::FundCash), usdt("-600"));
        assert_eq!(tx.effect_on(Account::TicketIncome), usdt("12"));
        assert_eq!(tx.effect_on(Account::LoanReceivable(4)), Amount::ZERO);
        let free = JournalTransaction::ticket_disbursement(4, usdt("600"), Amount::ZERO).unwrap();
        assert_eq!(free.postings().len(), 2, "no income entry without a charge");
        let back = JournalTransaction::ticket_repayment(4, usdt("51")).unwrap();
        assert_eq!(back.kind(), TxKind::TicketRepayment);
        assert_eq!(back.effect_on(Account::FundCash), usdt("51"));
        assert_eq!(back.effect_on(Account::TicketReceivable(4)), usdt("-51"));
        assert!(matches!(
            JournalTransaction::ticket_repayment(4, Amount::ZERO),
            Err(LedgerError::InvalidAmount(_))
        ));
        assert_eq!(
            Account::TicketReceivable(4).code(),
            "member:4:ticket_receivable:USDT"
        );
        assert_eq!(Account::TicketReceivable(4).normal_side(), Side::Debit);
        assert_eq!(Account::TicketIncome.user_id(), None);
    }

    #[test]
    fn a_reversal_undoes_every_effect() {
        let tx = JournalTransaction::payment(7, usdt("20"), Some(usdt("5"))).unwrap();
        let back = tx.reversal();
        assert_eq!(back.kind(), TxKind::Reversal);
        for account in [
            Account::FundCash,
            Account::Contributions(7),
            Account::LoanReceivable(7),
        ] {
            let net = tx
                .effect_on(account)
                .checked_add(back.effect_on(account))
                .unwrap();
            assert_eq!(net, Amount::ZERO, "{account:?}");
        }
    }

    #[test]
    fn unbalanced_empty_or_non_positive_transactions_cannot_be_built() {
        let p = |account, side, amount| Posting {
            account,
            side,
            amount,
        };
        assert_eq!(
            JournalTransaction::new(
                TxKind::Payment,
                vec![p(Account::FundCash, Side::Debit, usdt("1"))]
            ),
            Err(LedgerError::TooFewEntries)
        );
        assert!(matches!(
            JournalTransaction::new(
                TxKind::Payment,
                vec![
                    p(Account::FundCash, Side::Debit, usdt("2")),
                    p(Account::Contributions(1), Side::Credit, usdt("1"))
                ]
            ),
            Err(LedgerError::Unbalanced { .. })
        ));
        assert!(matches!(
            JournalTransaction::payment(1, Amount::ZERO, None),
            Err(LedgerError::InvalidAmount(_))
        ));
        assert!(matches!(
            JournalTransaction::loan_disbursement(1, usdt("-5")),
            Err(LedgerError::InvalidAmount(_))
        ));
    }

    #[test]
    fn invoicing_postings_balance_in_the_invoice_currency() {
        use Currency::Eur;
        let units = |n| Amount::from_units(n);
        let sent = JournalTransaction::invoice_sent(3, Eur, 10_000, 1_900).unwrap();
        assert_eq!(sent.kind(), TxKind::InvoiceSent);
        assert_eq!(
            sent.effect_on(Account::ClientReceivable(3, Eur)),
            units(11_900)
        );
        assert_eq!(
            sent.effect_on(Account::InvoicingRevenue(Eur)),
            units(10_000)
        );
        assert_eq!(
            sent.effect_on(Account::InvoicingTaxPayable(Eur)),
            units(1_900)
        );
        let tax_free = JournalTransaction::invoice_sent(3, Eur, 500, 0).unwrap();
        assert_eq!(tax_free.postings().len(), 2, "no zero tax entry");
        let paid = JournalTransaction::invoice_payment(3, Eur, 12_000, 11_900).unwrap();
        assert_eq!(paid.effect_on(Account::InvoicingCash(Eur)), units(12_000));
        assert_eq!(
            paid.effect_on(Account::ClientReceivable(3, Eur)),
            units(-11_900)
        );
        assert_eq!(paid.effect_on(Account::ClientCredit(3, Eur)), units(100));
        let used = JournalTransaction::credit_allocation(3, Eur, 100).unwrap();
        assert_eq!(used.effect_on(Account::ClientCredit(3, Eur)), units(-100));
        assert_eq!(
            used.effect_on(Account::ClientReceivable(3, Eur)),
            units(-100)
        );
        let cn = JournalTransaction::credit_note(3, Eur, 1_000, 190, 1_000).unwrap();
        assert_eq!(cn.effect_on(Account::InvoicingRevenue(Eur)), units(-1_000));
        assert_eq!(cn.effect_on(Account::InvoicingTaxPayable(Eur)), units(-190));
        assert_eq!(
            cn.effect_on(Account::ClientReceivable(3, Eur)),
            units(-1_000)
        );
        assert_eq!(cn.effect_on(Account::ClientCredit(3, Eur)), units(190));
        let back = JournalTransaction::credit_refund(3, Eur, 190).unwrap();
        assert_eq!(back.effect_on(Account::InvoicingCash(Eur)), units(-190));
        assert!(matches!(
            JournalTransaction::invoice_payment(3, Eur, 100, 200),
            Err(LedgerError::InvalidAmount(_))
        ));
        assert_eq!(
            Account::ClientReceivable(3, Eur).code(),
            "client:3:receivable:EUR"
        );
        assert_eq!(
            Account::ClientCredit(3, Currency::Irr).code(),
            "client:3:credit:IRR"
        );
        assert_eq!(Account::InvoicingCash(Eur).currency(), "EUR");
        assert_eq!(Account::FundCash.currency(), "USDT");
        assert_eq!(Account::ClientCredit(3, Eur).client_id(), Some(3));
        assert_eq!(Account::ClientCredit(3, Eur).user_id(), None);
    }

    #[test]
    fn balances_are_read_on_the_normal_side() {
        assert_eq!(balance(Side::Debit, usdt("10"), usdt("4")), usdt("6"));
        assert_eq!(balance(Side::Credit, usdt("4"), usdt("10")), usdt("6"));
        assert_eq!(
            Account::Contributions(5).code(),
            "member:5:contributions:USDT"
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// A fund operation as the business layer would request it.
    #[derive(Debug, Clone)]
    enum Op {
        Pay {
            user: i64,
            fee: i64,
            repayment: Option<i64>,
        },
        Disburse {
            user: i64,
            amount: i64,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let units = 1..=10_000_000_000_000i64; // up to 100,000 USDT, in 10⁻⁸ units
        prop_oneof![
            (0..5i64, units.clone(), proptest::option::of(units.clone())).prop_map(
                |(user, fee, repayment)| Op::Pay {
                    user,
                    fee,
                    repayment
                }
            ),
            (0..5i64, units).prop_map(|(user, amount)| Op::Disburse { user, amount }),
        ]
    }

    proptest! {
        /// Any sequence of fund operations leaves every transaction balanced, and the fund's
        /// cash equal to fees + repayments − disbursements; each member's accounts equal what
        /// they paid and what they still owe.
        #[test]
        fn postings_keep_the_books_balanced(ops in proptest::collection::vec(op(), 0..60)) {
            let mut transactions = vec![];
            let (mut fees, mut repayments, mut disbursed) = (Amount::ZERO, Amount::ZERO, Amount::ZERO);
            let mut per_member: BTreeMap<i64, (Amount, Amount)> = BTreeMap::new();
            for op in &ops {
                match *op {
                    Op::Pay { user, fee, repayment } => {
                        let (fee, repayment) = (Amount::from_units(fee), repayment.map(Amount::from_units));
                        transactions.push(JournalTransaction::payment(user, fee, repayment).unwrap());
                        fees = fees.checked_add(fee).unwrap();
                        let member = per_member.entry(user).or_default();
                        member.0 = member.0.checked_add(fee).unwrap();
                        if let Some(r) = repayment {
                            repayments = repayments.checked_add(r).unwrap();
                            member.1 = member.1.checked_sub(r).unwrap();
                        }
                    }
                    Op::Disburse { user, amount } => {
                        let amount = Amount::from_units(amount);
                        transactions.push(JournalTransaction::loan_disbursement(user, amount).unwrap());
                        disbursed = disbursed.checked_add(amount).unwrap();
                        let member = per_member.entry(user).or_default();
                        member.1 = member.1.checked_add(amount).unwrap();
                    }
                }
            }
            for tx in &transactions {
                let side_total = |side| tx.postings().iter().filter(|p| p.side == side).map(|p| p.amount).sum::<Amount>();
                prop_assert_eq!(side_total(Side::Debit), side_total(Side::Credit));
                prop_assert!(tx.postings().len() >= 2);
                // A reversal balances too, and cancels the original.
                let back = tx.reversal();
                prop_assert_eq!(
                    back.postings().iter().filter(|p| p.side == Side::Debit).map(|p| p.amount).sum::<Amount>(),
                    side_total(Side::Credit)
                );
            }
            let effect = |account| transactions.iter().map(|tx| tx.effect_on(account)).sum::<Amount>();
            let expected_cash = fees.checked_add(repayments).and_then(|c| c.checked_sub(disbursed)).unwrap();
            prop_assert_eq!(effect(Account::FundCash), expected_cash);
            for (user, (contributed, owed)) in per_member {
                prop_assert_eq!(effect(Account::Contributions(user)), contributed);
                prop_assert_eq!(effect(Account::LoanReceivable(user)), owed);
            }
        }
    }
}
