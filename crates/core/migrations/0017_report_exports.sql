-- Long exports: a register of every invoice or payment of a period, written to a file under
-- EXPORTS_DIR by a `report_export` job. The row keeps what was asked (with the labels in the
-- reader's language, so the job needs no translations), the job's progress for the page, and
-- the file's size once written. Swept with its file after EXPORT_KEEP_DAYS.
CREATE TABLE report_exports (
    id TEXT PRIMARY KEY,
    requested_by BIGINT NOT NULL REFERENCES users (id),
    register TEXT NOT NULL CHECK (register IN ('invoices', 'payments')),
    format TEXT NOT NULL CHECK (format IN ('csv', 'xlsx')),
    lang TEXT NOT NULL CHECK (lang IN ('en', 'fa')),
    calendar TEXT NOT NULL CHECK (calendar IN ('jalali', 'gregorian')),
    from_month TEXT NOT NULL,
    to_month TEXT NOT NULL,
    currency TEXT,
    client_id BIGINT,
    -- reports::exports::Labels as JSON: title, subtitle, columns, value names
    labels TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    rows_total BIGINT,
    rows_done BIGINT NOT NULL DEFAULT 0,
    size_bytes BIGINT,
    error TEXT,
    created_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE INDEX report_exports_by_requester ON report_exports (requested_by, created_at);
CREATE INDEX report_exports_by_created ON report_exports (created_at);
