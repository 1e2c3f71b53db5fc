-- Invoice reminders are logged by the daily job and delivered by a job of their own: each row
-- gets an id (the delivery job's argument) and its delivery's state. Nothing wrote the table
-- of 0012 yet (the job is this step), so it is replaced rather than altered: SQLite cannot add
-- a key to an existing table.
DROP TABLE invoice_reminders;

CREATE TABLE invoice_reminders (
    id {{ID}},
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    -- Days relative to the due date (`INVOICE_REMINDER_DAYS`), as text: "-3", "0", "7".
    step TEXT NOT NULL,
    -- When the daily job logged the step (due once per invoice, whatever becomes of it).
    sent_at TEXT NOT NULL,
    -- queued (its delivery job pending), sent, cancelled (paid or voided before it went),
    -- skipped (no address, or e-mail not configured), failed (refused for good).
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'cancelled', 'skipped', 'failed')),
    recipient TEXT NOT NULL DEFAULT '',
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    provider_id TEXT,
    -- When the e-mail server accepted the message.
    delivered_at TEXT,
    UNIQUE (invoice_id, step)
);
