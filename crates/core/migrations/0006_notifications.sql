-- Notifications: each user's contact data and preferences, and the outbox that is also the
-- delivery log. Portable SQL for both databases ({{ID}}, BIGINT flags, TEXT times).

-- A user's preferences, in a table of their own rather than columns on users: the auth module
-- keeps its rows and queries, and a user without a row has the defaults (Persian, e-mail only,
-- reminders on), so no existing user needs a backfill. The e-mail address is users.email.
CREATE TABLE notification_preferences (
    user_id BIGINT PRIMARY KEY REFERENCES users (id),
    -- 'fa' or 'en'
    language TEXT NOT NULL DEFAULT 'fa' CHECK (language IN ('fa', 'en')),
    -- E.164 (+989121234567), '' for none
    mobile TEXT NOT NULL DEFAULT '',
    email_on BIGINT NOT NULL DEFAULT 1 CHECK (email_on IN (0, 1)),
    sms_on BIGINT NOT NULL DEFAULT 0 CHECK (sms_on IN (0, 1)),
    whatsapp_on BIGINT NOT NULL DEFAULT 0 CHECK (whatsapp_on IN (0, 1)),
    -- opt-out of the 'reminders' topic (monthly fee reminders, "few left to pay"); transactional
    -- notices (payment recorded, loan settled, draw ran) cannot be opted out of
    reminders_off BIGINT NOT NULL DEFAULT 0 CHECK (reminders_off IN (0, 1)),
    updated_at TEXT NOT NULL
);

-- One row per message to one recipient on one channel: written in the business transaction
-- (status 'queued', with its delivery job) or as 'skipped' with the reason nobody was told.
CREATE TABLE notifications (
    id {{ID}},
    user_id BIGINT NOT NULL REFERENCES users (id),
    -- 'transactional', 'reminders' or 'admin'
    topic TEXT NOT NULL,
    -- the notice: payment_recorded, loan_settled, draw_ran, fee_reminder, few_left_to_pay, draw_ready
    kind TEXT NOT NULL,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'whatsapp')),
    -- the address or E.164 number, '' when there was none (skipped)
    recipient TEXT NOT NULL,
    language TEXT NOT NULL,
    subject TEXT NOT NULL,
    text TEXT NOT NULL,
    html TEXT NOT NULL,
    -- one effect: payment-recorded:{payment_id}:email
    unique_key TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'skipped')),
    attempts BIGINT NOT NULL DEFAULT 0,
    -- why it was skipped or the last failure; never a secret
    last_error TEXT NOT NULL DEFAULT '',
    provider_id TEXT,
    created_at TEXT NOT NULL,
    sent_at TEXT
);
CREATE INDEX notifications_by_user ON notifications (user_id, id);
CREATE INDEX notifications_by_status ON notifications (status, id);
