UPDATE payments SET bitpin_payment_key = COALESCE(NULLIF(LTRIM(bitpin_payment_key, '0'), ''), '0')
WHERE bitpin_payment_key ~ '^[0-9]+$';
-- Payments recorded before this migration that claimed a payment an earlier one already had
-- (possible until now) stay as they are, without a key: the earliest claim keeps it, so the
-- payment cannot be claimed again.
UPDATE payments SET bitpin_payment_key = NULL
WHERE EXISTS (
    SELECT 1 FROM payments earlier
    WHERE earlier.bitpin_payment_key = payments.bitpin_payment_key
      AND (earlier.created_at < payments.created_at
           OR (earlier.created_at = payments.created_at AND earlier.id < payments.id)));
CREATE UNIQUE INDEX payments_bitpin_payment_key ON payments (bitpin_payment_key);
