-- Loan-request tickets (issue 11), first step: the ticket, its history, maker-checker approvals
-- and the fraud flags with the inputs they saw. Portable SQL for both databases ({{ID}}, TEXT
-- times and UUIDs, BIGINT amounts in minor units).

CREATE TABLE tickets (
    id TEXT PRIMARY KEY,
    borrower_id BIGINT NOT NULL REFERENCES users (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL DEFAULT 'USDT',
    purpose TEXT NOT NULL,
    term_months BIGINT NOT NULL CHECK (term_months BETWEEN 1 AND 360),
    -- tickets::state::TicketState::as_str
    state TEXT NOT NULL CHECK (state IN ('draft', 'submitted', 'under_review', 'approved',
        'rejected', 'needs_info', 'disbursed', 'repaying', 'repaid', 'defaulted', 'withdrawn')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
-- the review queue (by state, oldest first) and a borrower's own tickets
CREATE INDEX tickets_by_state ON tickets (state, created_at);
CREATE INDEX tickets_by_borrower ON tickets (borrower_id, created_at);
-- fraud rules read others' recent applications
CREATE INDEX tickets_by_created ON tickets (created_at);

-- One row per move; a retried move adds none.
CREATE TABLE ticket_history (
    id {{ID}},
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    -- NULL for the creation of the draft
    from_state TEXT,
    to_state TEXT NOT NULL,
    actor_user_id BIGINT REFERENCES users (id),
    reason TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL
);
CREATE INDEX ticket_history_by_ticket ON ticket_history (ticket_id, at);

-- Maker-checker: one approval per approver per ticket.
CREATE TABLE ticket_approvals (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    approver_id BIGINT NOT NULL REFERENCES users (id),
    at TEXT NOT NULL,
    PRIMARY KEY (ticket_id, approver_id)
);

-- The flags of the latest evaluation, each with the FraudInput JSON the rules saw.
CREATE TABLE ticket_flags (
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    code TEXT NOT NULL,
    severity TEXT NOT NULL CHECK (severity IN ('low', 'medium', 'high')),
    explanation_en TEXT NOT NULL,
    explanation_fa TEXT NOT NULL,
    inputs TEXT NOT NULL,
    evaluated_at TEXT NOT NULL
);
CREATE INDEX ticket_flags_by_ticket ON ticket_flags (ticket_id);
