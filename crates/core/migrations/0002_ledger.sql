-- Double-entry ledger, roles, idempotency keys. Portable SQL for both databases; the
-- append-only guards, which the dialects spell differently, are in 0002_ledger.<dialect>.sql.

-- Roles: admin (= the original's is_main), accountant (sees the books, not a fund member), member.
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'member';
UPDATE users SET role = 'admin' WHERE is_main = 1;

CREATE TABLE ledger_accounts (
    id {{ID}},
    code TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL CHECK (kind IN ('fund_cash', 'gateway_clearing', 'member_contributions', 'member_loan_receivable')),
    -- debit-normal accounts (assets) grow with debits, credit-normal ones (what the fund owes) with credits
    normal_side TEXT NOT NULL CHECK (normal_side IN ('debit', 'credit')),
    user_id BIGINT REFERENCES users (id),
    currency TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK ((user_id IS NULL) = (kind IN ('fund_cash', 'gateway_clearing')))
);
CREATE UNIQUE INDEX ledger_accounts_member ON ledger_accounts (user_id, kind, currency);

CREATE TABLE journal_transactions (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('payment', 'loan_disbursement', 'reversal')),
    payment_id TEXT REFERENCES payments (id),
    loan_id TEXT REFERENCES loans (id),
    reverses_id TEXT REFERENCES journal_transactions (id),
    memo TEXT NOT NULL DEFAULT '',
    jalali_year BIGINT NOT NULL,
    jalali_month BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX journal_transactions_payment ON journal_transactions (payment_id) WHERE kind = 'payment';
CREATE UNIQUE INDEX journal_transactions_loan ON journal_transactions (loan_id) WHERE kind = 'loan_disbursement';
CREATE INDEX journal_transactions_month ON journal_transactions (jalali_year, jalali_month);

CREATE TABLE journal_entries (
    id {{ID}},
    transaction_id TEXT NOT NULL REFERENCES journal_transactions (id),
    account_id BIGINT NOT NULL REFERENCES ledger_accounts (id),
    debit BIGINT NOT NULL DEFAULT 0 CHECK (debit >= 0),
    credit BIGINT NOT NULL DEFAULT 0 CHECK (credit >= 0),
    currency TEXT NOT NULL,
    -- exactly one side of an entry carries the amount
    CHECK ((debit > 0 AND credit = 0) OR (credit > 0 AND debit = 0))
);
CREATE INDEX journal_entries_account ON journal_entries (account_id, id);
CREATE INDEX journal_entries_transaction ON journal_entries (transaction_id);

-- The fund's own accounts, and every existing member's.
INSERT INTO ledger_accounts (code, kind, normal_side, user_id, currency, created_at) VALUES
    ('fund:cash:USDT', 'fund_cash', 'debit', NULL, 'USDT', '1970-01-01T00:00:00.000000Z'),
    ('fund:gateway_clearing:USDT', 'gateway_clearing', 'debit', NULL, 'USDT', '1970-01-01T00:00:00.000000Z');
INSERT INTO ledger_accounts (code, kind, normal_side, user_id, currency, created_at)
    SELECT 'member:' || id || ':contributions:USDT', 'member_contributions', 'credit', id, 'USDT', created_at FROM users;
INSERT INTO ledger_accounts (code, kind, normal_side, user_id, currency, created_at)
    SELECT 'member:' || id || ':loan_receivable:USDT', 'member_loan_receivable', 'debit', id, 'USDT', created_at FROM users;

-- Post the history recorded before the ledger existed, with the same rules the code uses:
-- a payment debits cash and credits the member's contributions (fee) and loan receivable
-- (repayment); a loan paid out debits the borrower's receivable and credits cash.
INSERT INTO journal_transactions (id, kind, payment_id, memo, jalali_year, jalali_month, created_at)
    SELECT id, 'payment', id, 'posted from history', jalali_year, jalali_month, created_at FROM payments;
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
    SELECT p.id, a.id, p.amount, 0, 'USDT' FROM payments p JOIN ledger_accounts a ON a.code = 'fund:cash:USDT';
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
    SELECT p.id, a.id, 0, p.membership_fee, 'USDT' FROM payments p
    JOIN ledger_accounts a ON a.user_id = p.user_id AND a.kind = 'member_contributions';
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
    SELECT p.id, a.id, 0, p.loan_amount, 'USDT' FROM payments p
    JOIN ledger_accounts a ON a.user_id = p.user_id AND a.kind = 'member_loan_receivable'
    WHERE p.loan_amount IS NOT NULL;
INSERT INTO journal_transactions (id, kind, loan_id, memo, jalali_year, jalali_month, created_at)
    SELECT id, 'loan_disbursement', id, 'posted from history', jalali_year, jalali_month, created_at
    FROM loans WHERE state IN ('active', 'settled');
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
    SELECT l.id, a.id, l.amount, 0, 'USDT' FROM loans l
    JOIN ledger_accounts a ON a.user_id = l.user_id AND a.kind = 'member_loan_receivable'
    WHERE l.state IN ('active', 'settled');
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
    SELECT l.id, a.id, 0, l.amount, 'USDT' FROM loans l JOIN ledger_accounts a ON a.code = 'fund:cash:USDT'
    WHERE l.state IN ('active', 'settled');

-- Stored responses of money-moving requests, replayed for a retried Idempotency-Key.
CREATE TABLE idempotency_keys (
    user_id BIGINT NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status BIGINT NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (user_id, idempotency_key)
);
CREATE INDEX idempotency_keys_by_time ON idempotency_keys (created_at);

CREATE INDEX audit_log_by_action ON audit_log (action, at);
CREATE INDEX audit_log_by_actor ON audit_log (actor_user_id, at);
