-- One source of truth for "main user": the role. The API's `is_main` is read from `role = 'admin'`,
-- so the column that repeated it (kept in sync by every write) goes. A row whose two flags ever
-- disagreed keeps the broader of them.
UPDATE users SET role = 'admin' WHERE is_main = 1 AND role <> 'admin';
ALTER TABLE users DROP COLUMN is_main;
