-- Loan-request tickets (issue 11), disbursement and repayment: the schedule fixed when the money
-- leaves, the repayments (each once per idempotency key), and how late the borrower is. The
-- ledger's new account and transaction kinds change CHECK constraints, which the dialects
-- spell differently: 0010_ticket_loans.<dialect>.sql.

ALTER TABLE tickets ADD COLUMN disbursed_at TEXT;
-- tickets::schedule::Delinquency::as_str, recomputed by the daily job and on each repayment
ALTER TABLE tickets ADD COLUMN delinquency TEXT NOT NULL DEFAULT 'current'
    CHECK (delinquency IN ('current', '1-30', '31-60', '61-90', '90+'));
ALTER TABLE tickets ADD COLUMN days_past_due BIGINT NOT NULL DEFAULT 0;
-- The due date (YYYY-MM-DD, the fund's local date) of the oldest installment not fully paid;
-- NULL once all are. The daily job reads the late tickets through it, one indexed range.
ALTER TABLE tickets ADD COLUMN next_due_on TEXT;
CREATE INDEX tickets_next_due ON tickets (state, next_due_on);

CREATE TABLE ticket_installments (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    number BIGINT NOT NULL CHECK (number >= 1),
    jalali_year BIGINT NOT NULL,
    jalali_month BIGINT NOT NULL,
    due_on TEXT NOT NULL,
    principal BIGINT NOT NULL CHECK (principal >= 0),
    charge BIGINT NOT NULL DEFAULT 0 CHECK (charge >= 0),
    paid BIGINT NOT NULL DEFAULT 0 CHECK (paid >= 0),
    -- when the borrower was reminded of it (NULL: not yet)
    reminded_at TEXT,
    PRIMARY KEY (ticket_id, number),
    CHECK (paid <= principal + charge)
);
-- the reminders still to send, by due date
CREATE INDEX ticket_installments_to_remind ON ticket_installments (due_on) WHERE reminded_at IS NULL;

CREATE TABLE ticket_repayments (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    -- the caller's key: the same key on the same ticket is the same repayment
    idempotency_key TEXT NOT NULL,
    by_user_id BIGINT NOT NULL REFERENCES users (id),
    at TEXT NOT NULL,
    UNIQUE (ticket_id, idempotency_key)
);
CREATE INDEX ticket_repayments_by_ticket ON ticket_repayments (ticket_id, at);
