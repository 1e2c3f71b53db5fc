-- Reports over large data (issue 14). Each month's grouped figures, kept once read
-- (reports::cache): `source_rows` is how many rows they were summed from; a report recomputes a
-- month whose rows now number otherwise.
CREATE TABLE report_month_figures (
    report TEXT NOT NULL,
    params TEXT NOT NULL,
    month TEXT NOT NULL,
    source_rows BIGINT NOT NULL,
    figures TEXT NOT NULL,
    PRIMARY KEY (report, params, month)
);

-- What the reports read, in indexes that hold it: the database sums them without visiting
-- the tables' rows (index-only).
CREATE INDEX invoices_sent_by_issue ON invoices (issue_date, currency, kind, client_id, total, tax, id)
    WHERE sent_at IS NOT NULL;
CREATE INDEX invoices_open_by_client ON invoices (client_id, currency, due_date, total, amount_paid, amount_credited)
    WHERE kind = 'invoice' AND status IN ('sent', 'partially_paid', 'overdue');
CREATE INDEX invoice_payments_sums ON invoice_payments (received_on, currency, client_id, amount);
CREATE INDEX invoice_refunds_by_day ON invoice_refunds (refunded_on, currency, client_id, amount);

-- A ticket's milestones, the first time each was reached (tickets::store::add_history keeps
-- them from now on): what the tickets report times against the SLA without grouping history.
ALTER TABLE tickets ADD COLUMN first_submitted_at TEXT;
ALTER TABLE tickets ADD COLUMN first_response_at TEXT;
ALTER TABLE tickets ADD COLUMN decided_at TEXT;
UPDATE tickets SET
    first_submitted_at = (SELECT MIN(h.at) FROM ticket_history h
                           WHERE h.ticket_id = tickets.id AND h.to_state = 'submitted'),
    first_response_at = (SELECT MIN(h.at) FROM ticket_history h
                          WHERE h.ticket_id = tickets.id
                            AND h.to_state IN ('under_review', 'needs_info', 'approved', 'rejected')),
    decided_at = (SELECT MIN(h.at) FROM ticket_history h
                   WHERE h.ticket_id = tickets.id AND h.to_state IN ('approved', 'rejected'));
CREATE INDEX tickets_by_submitted ON tickets (submitted_at, state, first_submitted_at, first_response_at, decided_at);
CREATE INDEX tickets_by_breach ON tickets (sla_breached_at) WHERE sla_breached_at IS NOT NULL;
CREATE INDEX ticket_history_by_time ON ticket_history (at, to_state, ticket_id);
