-- PostgreSQL: the ledger takes a member's departure (contributions refunded, the loan settled;
-- the transaction's id is the departure's).
ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check CHECK (kind IN
    ('payment', 'loan_disbursement', 'reversal', 'ticket_disbursement', 'ticket_repayment',
     'invoice_sent', 'invoice_payment', 'credit_allocation', 'credit_note', 'credit_refund',
     'gateway_settlement', 'member_departure'));
