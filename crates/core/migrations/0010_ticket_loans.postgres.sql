-- PostgreSQL: the ledger's CHECK constraints take the tickets' account and transaction kinds.
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_kind_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_kind_check CHECK (kind IN ('fund_cash',
    'gateway_clearing', 'member_contributions', 'member_loan_receivable',
    'member_ticket_receivable', 'ticket_income'));
ALTER TABLE ledger_accounts DROP CONSTRAINT ledger_accounts_check;
ALTER TABLE ledger_accounts ADD CONSTRAINT ledger_accounts_check
    CHECK ((user_id IS NULL) = (kind IN ('fund_cash', 'gateway_clearing', 'ticket_income')));

ALTER TABLE journal_transactions DROP CONSTRAINT journal_transactions_kind_check;
ALTER TABLE journal_transactions ADD CONSTRAINT journal_transactions_kind_check CHECK (kind IN
    ('payment', 'loan_disbursement', 'reversal', 'ticket_disbursement', 'ticket_repayment'));
ALTER TABLE journal_transactions ADD COLUMN ticket_id TEXT REFERENCES tickets (id);
-- A ticket is paid out once; each repayment's transaction carries the repayment's id.
CREATE UNIQUE INDEX journal_transactions_ticket ON journal_transactions (ticket_id)
    WHERE kind = 'ticket_disbursement';
CREATE INDEX journal_transactions_by_ticket ON journal_transactions (ticket_id) WHERE ticket_id IS NOT NULL;
