-- Commit–reveal draws (fund::proof): each Jalali month's secret seed and the commitment
-- published when the month began; once the month's draw ran, its loan, when the seed was
-- revealed and the draw's proof (the DrawProof JSON, everything needed to recompute it).
CREATE TABLE draw_commitments (
    jalali_year BIGINT NOT NULL,
    jalali_month BIGINT NOT NULL CHECK (jalali_month BETWEEN 1 AND 12),
    commitment TEXT NOT NULL,
    seed TEXT NOT NULL,
    committed_at TEXT NOT NULL,
    loan_id TEXT REFERENCES loans (id),
    revealed_at TEXT,
    proof TEXT,
    PRIMARY KEY (jalali_year, jalali_month),
    CHECK ((revealed_at IS NULL) = (proof IS NULL))
);
