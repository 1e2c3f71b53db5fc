-- SQLite: the ledger takes a member's departure (contributions refunded, the loan settled;
-- the transaction's id is the departure's). As in 0016, a CHECK constraint changes only with
-- its table, so the ledger's three tables are rebuilt (the rows, ids and links as they were),
-- then their indexes and append-only triggers are made again.
PRAGMA defer_foreign_keys = ON;

CREATE TABLE ledger_accounts_0022 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('fund_cash', 'gateway_clearing', 'member_contributions',
        'member_loan_receivable', 'member_ticket_receivable', 'ticket_income',
        'client_receivable', 'client_credit', 'invoicing_revenue', 'invoicing_tax_payable',
        'invoicing_cash', 'invoicing_gateway_clearing')),
    normal_side TEXT NOT NULL CHECK (normal_side IN ('debit', 'credit')),
    user_id BIGINT REFERENCES users (id),
    currency TEXT NOT NULL,
    created_at TEXT NOT NULL,
    client_id BIGINT REFERENCES clients (id),
    CHECK ((user_id IS NULL) = (kind IN ('fund_cash', 'gateway_clearing', 'ticket_income',
        'client_receivable', 'client_credit', 'invoicing_revenue', 'invoicing_tax_payable',
        'invoicing_cash', 'invoicing_gateway_clearing'))),
    CHECK ((client_id IS NOT NULL) = (kind IN ('client_receivable', 'client_credit')))
);
CREATE TABLE journal_transactions_0022 (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('payment', 'loan_disbursement', 'reversal',
        'ticket_disbursement', 'ticket_repayment', 'invoice_sent', 'invoice_payment',
        'credit_allocation', 'credit_note', 'credit_refund', 'gateway_settlement',
        'member_departure')),
    payment_id TEXT REFERENCES payments (id),
    loan_id TEXT REFERENCES loans (id),
    reverses_id TEXT REFERENCES journal_transactions_0022 (id),
    memo TEXT NOT NULL DEFAULT '',
    jalali_year BIGINT NOT NULL,
    jalali_month BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    ticket_id TEXT REFERENCES tickets (id)
);
CREATE TABLE journal_entries_0022 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id TEXT NOT NULL REFERENCES journal_transactions_0022 (id),
    account_id BIGINT NOT NULL REFERENCES ledger_accounts_0022 (id),
    debit BIGINT NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit BIGINT NOT NULL DEFAULT 0 CHECK (credit >= 0),
    currency TEXT NOT NULL,
    CHECK ((debit > 0 AND credit = 0) OR (credit > 0 AND debit = 0))
);

INSERT INTO ledger_accounts_0022 (id, code, kind, normal_side, user_id, currency, created_at, client_id)
    SELECT id, code, kind, normal_side, user_id, currency, created_at, client_id FROM ledger_accounts;
INSERT INTO journal_transactions_0022 (id, kind, payment_id, loan_id, reverses_id, memo, jalali_year, jalali_month, created_at, ticket_id)
    SELECT id, kind, payment_id, loan_id, reverses_id, memo, jalali_year, jalali_month, created_at, ticket_id FROM journal_transactions;
INSERT INTO journal_entries_0022 (id, transaction_id, account_id, debit, credit, currency)
    SELECT id, transaction_id, account_id, debit, credit, currency FROM journal_entries;

-- Dropping a table drops its triggers first: the append-only guards do not fire.
DROP TABLE journal_entries;
DROP TABLE journal_transactions;
DROP TABLE ledger_accounts;
-- Renaming also renames the references to it (the entries' and the reversals' links).
ALTER TABLE ledger_accounts_0022 RENAME TO ledger_accounts;
ALTER TABLE journal_transactions_0022 RENAME TO journal_transactions;
ALTER TABLE journal_entries_0022 RENAME TO journal_entries;

CREATE UNIQUE INDEX ledger_accounts_member ON ledger_accounts (user_id, kind, currency);
CREATE UNIQUE INDEX journal_transactions_payment ON journal_transactions (payment_id) WHERE kind = 'payment';
CREATE UNIQUE INDEX journal_transactions_loan ON journal_transactions (loan_id) WHERE kind = 'loan_disbursement';
CREATE INDEX journal_transactions_month ON journal_transactions (jalali_year, jalali_month);
-- A ticket is paid out once; each repayment's transaction carries the repayment's id.
CREATE UNIQUE INDEX journal_transactions_ticket ON journal_transactions (ticket_id)
    WHERE kind = 'ticket_disbursement';
CREATE INDEX journal_transactions_by_ticket ON journal_transactions (ticket_id) WHERE ticket_id IS NOT NULL;
CREATE INDEX journal_entries_account ON journal_entries (account_id, id);
CREATE INDEX journal_entries_transaction ON journal_entries (transaction_id);

CREATE TRIGGER journal_entries_no_update BEFORE UPDATE ON journal_entries
BEGIN SELECT RAISE(ABORT, 'journal_entries is append-only: correct it with a reversing transaction'); END;
CREATE TRIGGER journal_entries_no_delete BEFORE DELETE ON journal_entries
BEGIN SELECT RAISE(ABORT, 'journal_entries is append-only: correct it with a reversing transaction'); END;
CREATE TRIGGER journal_transactions_no_update BEFORE UPDATE ON journal_transactions
BEGIN SELECT RAISE(ABORT, 'journal_transactions is append-only: correct it with a reversing transaction'); END;
CREATE TRIGGER journal_transactions_no_delete BEFORE DELETE ON journal_transactions
BEGIN SELECT RAISE(ABORT, 'journal_transactions is append-only: correct it with a reversing transaction'); END;

