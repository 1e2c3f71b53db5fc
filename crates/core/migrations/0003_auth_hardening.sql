-- Sign-in hardening: sessions a password reset or deactivation ends, an absolute lifetime for
-- a sign-in, and login attempts reserved atomically per key. Portable SQL for both databases.

-- Raised when a user's sessions are revoked (password reset, deactivation): access tokens carry
-- the version they were issued under (`ver`, 0 when absent), and older ones stop working.
ALTER TABLE users ADD COLUMN session_version BIGINT NOT NULL DEFAULT 0;

-- When the sign-in a refresh token was rotated from happened: no token of the family outlives
-- REFRESH_TOKEN_MAX_DAYS after it, however often it is refreshed.
ALTER TABLE refresh_tokens ADD COLUMN signed_in_at TEXT;
UPDATE refresh_tokens SET signed_in_at = (
    SELECT MIN(r.created_at) FROM refresh_tokens r WHERE r.family_id = refresh_tokens.family_id
);

-- One row per rate-limited key (an account and address pair, an address, an account): the
-- password checks reserved in the window that started at window_start. Reserving is one upsert,
-- so concurrent attempts cannot all pass a check made before any of them is counted.
CREATE TABLE login_attempts (
    limit_key TEXT PRIMARY KEY,
    attempts BIGINT NOT NULL,
    window_start TEXT NOT NULL
);
CREATE INDEX login_attempts_by_window ON login_attempts (window_start);

-- Replaced by login_attempts.
DROP TABLE login_failures;
