-- One gateway payment is claimed once however its id is written: `4242` and `04242`,
-- `SHARED-ID` and `shared-id` are one Bitpin payment. `bitpin_payment_id` keeps the id as the
-- member wrote it (the API returns it); `bitpin_payment_key` is the normalised id of the
-- payment (Bitpin's own id when Bitpin verified it) and is unique. The dialect files finish the
-- back-fill (numeric ids lose their leading zeros), then build the unique index.
ALTER TABLE payments ADD COLUMN bitpin_payment_key TEXT;
UPDATE payments SET bitpin_payment_key = LOWER(TRIM(bitpin_payment_id));
