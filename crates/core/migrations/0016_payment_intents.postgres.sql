-- PostgreSQL: the ledger takes the gateway clearing account of invoicing and the settlement
-- that empties it into cash.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check CHECK (kind IN ('fund_cash',
    'gateway_clearing', 'member_contributions', 'member_loan_receivable',
    'member_ticket_receivable', 'ticket_income', 'client_receivable', 'client_credit',
    'invoicing_revenue', 'invoicing_tax_payable', 'invoicing_cash',
    'invoicing_gateway_clearing'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_check
    CHECK ((user_id IS NULL) = (kind IN ('fund_cash', 'gateway_clearing', 'ticket_income',
        'client_receivable', 'client_credit', 'invoicing_revenue', 'invoicing_tax_payable',
        'invoicing_cash', 'invoicing_gateway_clearing')));

ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check CHECK (kind IN
    ('payment', 'loan_disbursement', 'reversal', 'ticket_disbursement', 'ticket_repayment',
     'invoice_sent', 'invoice_payment', 'credit_allocation', 'credit_note', 'credit_refund',
     'gateway_settlement'));
