-- pgbench transactions shaped like creating and sending one 10-line invoice through
-- invoicing::invoices::{create_draft, send}: the same statements, in the same two transactions,
-- as the services write them (read off the sqlx statement log), with the values the
-- application would compute already written in. Run by bench/invoicing.sh against the database
-- invoicing_bench migrated and seeded (clients 1..nclients exist):
--   pgbench -n -f bench/invoice-send.pgbench.sql -D nclients=N -c 4 -j 2 -T 20 DB
-- It numbers in its own series (PGB) so it never meets the application's numbers.
\set cid random(1, :nclients)
BEGIN;
SELECT role FROM users WHERE id = 1;
INSERT INTO invoices (id, kind, client_id, currency, issue_date, due_date, status, language, prices_include_tax,
                      discount_kind, discount_value, notes, terms, lines_net, discount, tax, total,
                      credits_invoice_id, recurring_id, recurring_period, created_by, created_at, updated_at)
  SELECT gen_random_uuid()::text, 'invoice', id, currency, '2026-12-01', '2026-12-31', 'draft', language, 0,
         NULL, NULL, 'Thank you for your business.', 'Payable within 30 days.', 383440, 0, 47841, 431281,
         NULL, NULL, NULL, NULL, '2026-12-01T09:00:00.000000Z', '2026-12-01T09:00:00.000000Z'
  FROM clients WHERE id = :cid
  RETURNING id AS iid \gset
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 1, NULL, 'Service 0', 'HUR', 15000, 8000, NULL, NULL, 'S', 1900, 12000);
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 2, NULL, 'Service 1', 'HUR', 17500, 9250, NULL, NULL, 'S', 700, 16188);
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 3, NULL, 'Service 2', 'HUR', 20000, 10500, NULL, NULL, 'S', 1900, 21000);
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 4, NULL, 'Service 3', 'HUR', 22500, 11750, NULL, NULL, 'S', 700, 26438);
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 5, NULL, 'Service 4', 'HUR', 25000, 13000, NULL, NULL, 'S', 1900, 32500);
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 6, NULL, 'Service 5', 'HUR', 27500, 14250, NULL, NULL, 'S', 700, 39188);
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 7, NULL, 'Service 6', 'HUR', 30000, 15500, NULL, NULL, 'S', 1900, 46500);
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 8, NULL, 'Service 7', 'HUR', 32500, 16750, NULL, NULL, 'S', 700, 54438);
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 9, NULL, 'Service 8', 'HUR', 35000, 18000, NULL, NULL, 'S', 1900, 63000);
INSERT INTO invoice_lines (invoice_id, position, product_id, description, unit, quantity, unit_price, discount_kind, discount_value, tax_code, tax_rate, net) VALUES (':iid', 10, NULL, 'Service 9', 'HUR', 37500, 19250, NULL, NULL, 'S', 700, 72188);
INSERT INTO audit_log (at, actor_user_id, action, target, client_ip, request_id, details)
  VALUES ('2026-12-01T09:00:00.000000Z', NULL, 'invoice_created', 'invoice:' || ':iid', '127.0.0.1', gen_random_uuid()::text, '{"client_id":' || :cid || ',"total":431281}');
SELECT * FROM invoices WHERE id = ':iid';
SELECT * FROM invoice_lines WHERE invoice_id = ':iid' ORDER BY position;
END;
BEGIN;
SELECT * FROM invoices WHERE id = ':iid' FOR UPDATE;
SELECT role FROM users WHERE id = 1;
SELECT * FROM invoice_lines WHERE invoice_id = ':iid' ORDER BY position;
SELECT * FROM clients WHERE id = :cid;
INSERT INTO number_series (series, year, last_value) VALUES ('PGB', 1405, 1)
  ON CONFLICT (series, year) DO UPDATE SET last_value = number_series.last_value + 1
  RETURNING last_value AS seq \gset
INSERT INTO invoice_taxes (invoice_id, tax_code, tax_rate, lines_net, discount, taxable, tax) VALUES (':iid', 'S', 700, 208440, 0, 208440, 14591);
INSERT INTO invoice_taxes (invoice_id, tax_code, tax_rate, lines_net, discount, taxable, tax) VALUES (':iid', 'S', 1900, 175000, 0, 175000, 33250);
UPDATE invoices SET number = 'PGB-1405-' || lpad(':seq', 6, '0'), series = 'PGB', number_year = 1405, number_seq = :seq,
       seller = '{"name":"Saghat","address":{"street":"","city":"","postal_code":"","country_code":"IR"},"tax_id":null,"email":null,"phone":null}',
       buyer = '{"name":"Client","address":{"street":"Street","city":"Berlin","postal_code":"10115","country_code":"DE"},"tax_id":"DE123456789","email":null,"phone":null}',
       payee_iban = NULL, status = 'sent', sent_at = '2026-12-01T09:00:00.000000Z', updated_at = '2026-12-01T09:00:00.000000Z'
  WHERE id = ':iid' AND sent_at IS NULL;
INSERT INTO ledger_accounts (code, kind, normal_side, user_id, client_id, currency, created_at)
  VALUES ('client:' || :cid || ':receivable:EUR', 'client_receivable', 'debit', NULL, :cid, 'EUR', '2026-12-01T09:00:00.000000Z') ON CONFLICT (code) DO NOTHING;
INSERT INTO ledger_accounts (code, kind, normal_side, user_id, client_id, currency, created_at)
  VALUES ('invoicing:revenue:EUR', 'invoicing_revenue', 'credit', NULL, NULL, 'EUR', '2026-12-01T09:00:00.000000Z') ON CONFLICT (code) DO NOTHING;
INSERT INTO ledger_accounts (code, kind, normal_side, user_id, client_id, currency, created_at)
  VALUES ('invoicing:tax_payable:EUR', 'invoicing_tax_payable', 'credit', NULL, NULL, 'EUR', '2026-12-01T09:00:00.000000Z') ON CONFLICT (code) DO NOTHING;
INSERT INTO journal_transactions (id, kind, payment_id, loan_id, ticket_id, reverses_id, memo, jalali_year, jalali_month, created_at)
  VALUES ('invoice_sent:' || ':iid', 'invoice_sent', NULL, NULL, NULL, NULL, 'invoice PGB-1405-' || ':seq', 1405, 9, '2026-12-01T09:00:00.000000Z');
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
  SELECT 'invoice_sent:' || ':iid', id, 431281, 0, currency FROM ledger_accounts WHERE code = 'client:' || :cid || ':receivable:EUR';
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
  SELECT 'invoice_sent:' || ':iid', id, 0, 383440, currency FROM ledger_accounts WHERE code = 'invoicing:revenue:EUR';
INSERT INTO journal_entries (transaction_id, account_id, debit, credit, currency)
  SELECT 'invoice_sent:' || ':iid', id, 0, 47841, currency FROM ledger_accounts WHERE code = 'invoicing:tax_payable:EUR';
INSERT INTO audit_log (at, actor_user_id, action, target, client_ip, request_id, details)
  VALUES ('2026-12-01T09:00:00.000000Z', NULL, 'invoice_sent', 'invoice:' || ':iid', '127.0.0.1', gen_random_uuid()::text, '{"total":431281}');
SELECT * FROM invoices WHERE id = ':iid';
SELECT * FROM invoice_lines WHERE invoice_id = ':iid' ORDER BY position;
SELECT * FROM invoice_taxes WHERE invoice_id = ':iid';
END;
