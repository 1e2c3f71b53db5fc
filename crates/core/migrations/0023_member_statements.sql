-- Monthly statements (fund::statements): after each draw every active member gets a PDF of their
-- month (payments, balance, loan with its schedule) and the fund's (cash in and out from the
-- ledger, the winner and the draw's proof), kept here and e-mailed with the notice.

-- The fund's side of a month's statements, the same for every member: written once, when the
-- `monthly_statements` job first runs after the draw (the JSON of fund::statements::FundMonth),
-- so a retried or late member's statement shows the same figures as the others.
CREATE TABLE fund_month_statements (
    jalali_year BIGINT NOT NULL,
    jalali_month BIGINT NOT NULL CHECK (jalali_month BETWEEN 1 AND 12),
    loan_id TEXT NOT NULL REFERENCES loans (id),
    facts TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (jalali_year, jalali_month)
);

-- One statement per member per month, ever. The PDF is a file under SAGHAT_DATA_DIR named by
-- its SHA-256 (`statements/ab/ab12….pdf`, as tickets' attachments): written before the row's
-- transaction commits, checked again on every read.
CREATE TABLE member_statements (
    id {{ID}},
    user_id BIGINT NOT NULL REFERENCES users (id),
    jalali_year BIGINT NOT NULL,
    jalali_month BIGINT NOT NULL CHECK (jalali_month BETWEEN 1 AND 12),
    loan_id TEXT NOT NULL REFERENCES loans (id),
    -- the member's language when it was made: 'fa' or 'en'
    language TEXT NOT NULL CHECK (language IN ('fa', 'en')),
    file TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (user_id, jalali_year, jalali_month)
);
CREATE INDEX member_statements_by_month ON member_statements (jalali_year, jalali_month);

-- Files an e-mail notification carries (a monthly statement's PDF), read by the delivery from
-- SAGHAT_DATA_DIR and checked against their SHA-256; other channels send none.
CREATE TABLE notification_attachments (
    notification_id BIGINT NOT NULL REFERENCES notifications (id),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    -- relative to SAGHAT_DATA_DIR
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    PRIMARY KEY (notification_id, file_name)
);
