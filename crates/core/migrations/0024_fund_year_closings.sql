-- A closed Jalali year: the fund's cash across it by kind of movement, from the ledger, and
-- the `ledger verify` report that held when it was closed (a year closes only on books that
-- verify). Closed once; never changed.
CREATE TABLE fund_year_closings (
    jalali_year BIGINT PRIMARY KEY,
    closed_at TEXT NOT NULL,
    closed_by BIGINT REFERENCES users (id),
    figures TEXT NOT NULL,
    ledger_checks BIGINT NOT NULL,
    ledger_report TEXT NOT NULL
);
