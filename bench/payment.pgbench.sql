-- pgbench transaction shaped like one Saghat payment (POST /api/payments/pay, no loan): the
-- same INSERTs, in one transaction, as fund::service::pay writes them (read off the sqlx
-- statement log): the payment row, its journal transaction, the two journal entries (cash
-- debit, member contributions credit; the deferred balance trigger runs at COMMIT), the audit
-- row. Run against a database migrated by saghat with members seeded by seed_members:
--   pgbench -n -f bench/payment.pgbench.sql -D nusers=N -c 16 -j 2 -T 10 DB
-- Each transaction takes a random member and a random (year, month) far from real ones, so the
-- UNIQUE (user_id, jalali_year, jalali_month) never collides in practice.
\set uid random(1, :nusers)
\set year random(100000, 2000000000)
\set month random(1, 12)
BEGIN;
INSERT INTO payments (id, user_id, jalali_year, jalali_month, membership_fee, loan_id, loan_amount, amount, bitpin_payment_id, created_at)
  VALUES (gen_random_uuid()::text, :uid, :year, :month, 2000000000, NULL, NULL, 2000000000, 'pgbench-' || gen_random_uuid()::text, '2026-11-22T12:00:00.000000Z')
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
