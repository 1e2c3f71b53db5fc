-- Loan-request tickets (issue 11), review step: where the loan is paid out, what the fraud
-- rules compare across borrowers (snapshotted at submission, so others' checks are one indexed
-- lookup each), the highest flag, and the SLA deadline and breach the review queue is ordered
-- and marked by.

ALTER TABLE tickets ADD COLUMN payout_address TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN email_domain TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN phone TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN client_address TEXT NOT NULL DEFAULT '';
ALTER TABLE tickets ADD COLUMN submitted_at TEXT;
-- the highest severity of the latest fraud evaluation (NULL: no flag)
ALTER TABLE tickets ADD COLUMN flag_severity TEXT CHECK (flag_severity IN ('low', 'medium', 'high'));
-- the running SLA phase's deadline (NULL: no clock running), and when a breach was escalated
ALTER TABLE tickets ADD COLUMN sla_due_at TEXT;
ALTER TABLE tickets ADD COLUMN sla_breached_at TEXT;
-- the deadline whose breach was last escalated, so each deadline is escalated once
ALTER TABLE tickets ADD COLUMN sla_escalated_for TEXT;

-- the review queue: tickets with a running clock, by deadline
CREATE INDEX tickets_queue ON tickets (sla_due_at, created_at, id) WHERE sla_due_at IS NOT NULL;
CREATE INDEX tickets_by_email_domain ON tickets (email_domain, submitted_at);
CREATE INDEX tickets_by_phone ON tickets (phone, submitted_at);
CREATE INDEX tickets_by_payout_address ON tickets (payout_address, submitted_at);
CREATE INDEX tickets_by_client_address ON tickets (client_address, submitted_at);
