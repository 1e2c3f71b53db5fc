-- The review queue without the breached tickets (`breached=false`), by deadline: the earliest
-- deadlines are mostly the breached ones, which the full queue index would have to step over.
CREATE INDEX tickets_queue_on_time ON tickets (sla_due_at, created_at, id)
    WHERE sla_due_at IS NOT NULL AND sla_breached_at IS NULL;
