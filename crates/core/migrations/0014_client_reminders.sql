-- A client may ask for no payment reminders: the daily pass logs their reminders as skipped.
ALTER TABLE clients ADD COLUMN send_reminders BIGINT NOT NULL DEFAULT 1;
