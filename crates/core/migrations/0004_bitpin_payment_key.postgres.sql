UPDATE payments SET bitpin_payment_key = COALESCE(NULLIF(LTRIM(bitpin_payment_key, '0'), ''), '0')
WHERE bitpin_payment_key ~ '^[0-9]+$';
-- Payments recorded before this migration that claimed a payment an earlier one already had
-- (possible until now) stay as they are, without a key: the earliest claim keeps it, so the
-- payment cannot be claimed again. One pass with a window, not a lookup per row.
UPDATE payments SET bitpin_payment_key = NULL
WHERE id IN (
    SELECT id FROM (
        SELECT id, ROW_NUMBER() OVER (PARTITION BY bitpin_payment_key ORDER BY created_at, id) AS claim
        FROM payments) claims
    WHERE claim > 1);
CREATE UNIQUE INDEX payments_bitpin_payment_key ON payments (bitpin_payment_key);
