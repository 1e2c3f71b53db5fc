-- Saghat fund core. One file for PostgreSQL and SQLite: {{ID}} is the dialect's
-- auto-incrementing integer key; amounts are BIGINT counts of 10^-8 USDT; flags are 0/1;
-- timestamps are RFC 3339 UTC text; UUIDs are text.

CREATE TABLE users (
    id {{ID}},
    username TEXT NOT NULL,
    -- lower-cased username: "Sam" and "sam" are one account
    username_key TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    email TEXT NOT NULL DEFAULT '',
    is_main BIGINT NOT NULL DEFAULT 0 CHECK (is_main IN (0, 1)),
    is_active BIGINT NOT NULL DEFAULT 1 CHECK (is_active IN (0, 1)),
    loan_request_amount BIGINT NOT NULL DEFAULT 0 CHECK (loan_request_amount >= 0),
    created_at TEXT NOT NULL
);

CREATE TABLE fund_config (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    min_membership_fee BIGINT NOT NULL CHECK (min_membership_fee > 0),
    max_month_for_loan_payment BIGINT NOT NULL CHECK (max_month_for_loan_payment > 0),
    min_amount_for_loan_payment BIGINT NOT NULL CHECK (min_amount_for_loan_payment > 0),
    updated_at TEXT NOT NULL
);

CREATE TABLE loans (
    id TEXT PRIMARY KEY,
    user_id BIGINT REFERENCES users (id),
    amount BIGINT CHECK (amount > 0),
    state TEXT NOT NULL CHECK (state IN ('active', 'no_one', 'settled')),
    jalali_year BIGINT NOT NULL,
    jalali_month BIGINT NOT NULL CHECK (jalali_month BETWEEN 1 AND 12),
    min_amount_for_each_payment BIGINT,
    log TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- one draw per Jalali month, whichever instance runs it
    UNIQUE (jalali_year, jalali_month),
    CHECK ((state = 'no_one') = (user_id IS NULL)),
    CHECK ((state = 'no_one') = (amount IS NULL))
);
-- a member repays one loan at a time
CREATE UNIQUE INDEX loans_one_active_per_user ON loans (user_id) WHERE state = 'active';

CREATE TABLE payments (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    jalali_year BIGINT NOT NULL,
    jalali_month BIGINT NOT NULL CHECK (jalali_month BETWEEN 1 AND 12),
    membership_fee BIGINT NOT NULL CHECK (membership_fee > 0),
    loan_id TEXT REFERENCES loans (id),
    loan_amount BIGINT,
    amount BIGINT NOT NULL,
    bitpin_payment_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    -- one payment per member per Jalali month
    UNIQUE (user_id, jalali_year, jalali_month),
    -- a gateway payment is claimed once
    UNIQUE (bitpin_payment_id),
    CHECK ((loan_id IS NULL) = (loan_amount IS NULL)),
    CHECK (loan_amount IS NULL OR loan_amount > 0),
    CHECK (amount = membership_fee + COALESCE(loan_amount, 0))
);
CREATE INDEX payments_by_month ON payments (jalali_year, jalali_month);
CREATE INDEX payments_by_loan ON payments (loan_id);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id),
    -- all tokens rotated from one login; reuse of a spent one revokes the whole family
    family_id TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

CREATE TABLE login_failures (
    id {{ID}},
    username_key TEXT NOT NULL,
    client_ip TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX login_failures_by_user ON login_failures (username_key, at);
CREATE INDEX login_failures_by_ip ON login_failures (client_ip, at);
CREATE INDEX login_failures_by_time ON login_failures (at);

CREATE TABLE audit_log (
    id {{ID}},
    at TEXT NOT NULL,
    actor_user_id BIGINT,
    action TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    client_ip TEXT NOT NULL DEFAULT '',
    request_id TEXT NOT NULL DEFAULT '',
    details TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_by_time ON audit_log (at);
