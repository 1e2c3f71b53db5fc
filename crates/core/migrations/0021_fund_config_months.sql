-- The fund's settings by the Jalali month they take effect from, so that changing them does
-- not rewrite history: fund_config (one row) holds the settings the fund started with, and
-- each change is a row here that applies from its month until the next change's.
CREATE TABLE fund_config_changes (
    from_year BIGINT NOT NULL,
    from_month BIGINT NOT NULL CHECK (from_month BETWEEN 1 AND 12),
    min_membership_fee BIGINT NOT NULL CHECK (min_membership_fee > 0),
    max_month_for_loan_payment BIGINT NOT NULL CHECK (max_month_for_loan_payment > 0),
    min_amount_for_loan_payment BIGINT NOT NULL CHECK (min_amount_for_loan_payment > 0),
    changed_at TEXT NOT NULL,
    PRIMARY KEY (from_year, from_month)
);
