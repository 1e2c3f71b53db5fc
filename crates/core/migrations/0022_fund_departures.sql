-- Members leaving the fund and coming back. An admin asks a member to leave; it takes effect
-- when the member confirms: their contributions are refunded less what they still owe on their
-- loan (which that settles), posted to the ledger (member_departure) in the same transaction,
-- and they sit out the payments and draws until an admin lets them rejoin.
ALTER TABLE users ADD COLUMN left_fund_at TEXT;
-- What a departure took from the member's contributions to settle the loan.
ALTER TABLE loans ADD COLUMN settled_from_contributions BIGINT;

CREATE TABLE fund_departures (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    state TEXT NOT NULL CHECK (state IN ('asked', 'confirmed', 'cancelled')),
    asked_by BIGINT NOT NULL REFERENCES users (id),
    asked_at TEXT NOT NULL,
    decided_at TEXT,
    -- At confirmation: the contributions, what the loan still owed, what was paid back.
    contributions BIGINT,
    owed BIGINT,
    refunded BIGINT,
    loan_id TEXT REFERENCES loans (id),
    rejoined_at TEXT,
    CHECK ((state = 'confirmed') = (refunded IS NOT NULL))
);
-- One open request per member.
CREATE UNIQUE INDEX fund_departures_one_asked ON fund_departures (user_id) WHERE state = 'asked';
CREATE INDEX fund_departures_by_user ON fund_departures (user_id, asked_at);
