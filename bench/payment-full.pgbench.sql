-- pgbench transaction shaped like the whole of one Saghat payment as PostgreSQL sees it: the
-- reads before the transaction (the signed-in user, looked up once per member since each member
-- pays once; already paid this month?; the active loan; the Bitpin id used?) and then the
-- same transaction as bench/payment.pgbench.sql. A second ceiling beside the INSERT-only one.
--   pgbench -n -f bench/payment-full.pgbench.sql -D nusers=N -c 16 -j 2 -T 10 DB
\set uid random(1, :nusers)
\set year random(100000, 2000000000)
\set month random(1, 12)
\set r1 random(1, 2000000000)
\set r2 random(1, 2000000000)
SELECT id, username, role FROM users WHERE id = :uid AND is_active = 1;
SELECT COUNT(*) FROM payments WHERE user_id = :uid AND jalali_year = :year AND jalali_month = :month;
SELECT l.id, l.amount, l.min_amount_for_each_payment,
  CAST(COALESCE((SELECT SUM(p.loan_amount) FROM payments p WHERE p.loan_id = l.id), 0) AS BIGINT) AS total_paid
  FROM loans l WHERE l.user_id = :uid AND l.state = 'active';
SELECT COUNT(*) FROM payments WHERE bitpin_payment_id = 'pgbench-:r1-:r2';
BEGIN;
INSERT INTO payments (id, user_id, jalali_year, jalali_month, membership_fee, loan_id, loan_amount, amount, bitpin_payment_id, created_at)
  VALUES (gen_random_uuid()::text, :uid, :year, :month, 2000000000, NULL, NULL, 2000000000, 'pgbench-:r1-:r2', '2026-11-22T12:00:00.000000Z')
  RETURNING id AS pid, bitpin_payment_id AS bid \gset
INSERT INTO journal_transactions (id, kind, payment_id, loan_id, reverses_id, memo, jalali_year, jalali_month, created_at)
  VALUES (':pid', 'payment', ':pid', NULL, NULL, 'membership fee 1405/9', :year, :month, '2026-11-22T12:00:00.000000Z');
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
  SELECT ':pid', id, 2000000000, 0, currency FROM ledger_accounts WHERE code = 'fund:cash:USDT';
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
  SELECT ':pid', id, 0, 2000000000, currency FROM ledger_accounts WHERE code = 'member:' || :uid || ':contributions:USDT';
INSERT INTO audit_log (at, actor_user_id, action, target, client_ip, request_id, details)
  VALUES ('2026-11-22T12:00:00.000000Z', :uid, 'payment', 'payment:' || ':pid', '127.0.0.1', gen_random_uuid()::text,
          '{"amount":"20.00000000","bitpin_payment_id":"' || ':bid' || '","month":"1405/9"}');
END;
