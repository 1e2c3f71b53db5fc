-- OpenID Connect sign-in (auth::oidc). An identity is a provider's subject linked to one
-- account; an account has at most one identity per provider.
CREATE TABLE oidc_identities (
    provider TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id BIGINT NOT NULL REFERENCES users (id),
    -- the e-mail the provider gave when it was linked, for the account page
    email TEXT NOT NULL DEFAULT '',
    linked_at TEXT NOT NULL,
    last_sign_in_at TEXT,
    PRIMARY KEY (provider, subject),
    UNIQUE (provider, user_id)
);

-- A sign-in under way at a provider: what its callback must find again. The row is looked up by
-- the hash of `state` and taken (deleted) by the first callback, so a state or a code works
-- once; it is bound to the browser (a cookie) or the API client (a secret) that began it, by
-- its hash. An API client's redirect_uri is its own (RFC 8252: loopback or an app's scheme), so
-- the code reaches only the client, which brings it back with its secret. `nonce` and the PKCE
-- verifier never leave the server.
CREATE TABLE oidc_logins (
    state_hash TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    binding_hash TEXT NOT NULL,
    nonce TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('web', 'api', 'link')),
    -- who asked for a link (purpose 'link')
    link_user_id BIGINT REFERENCES users (id),
    next_path TEXT NOT NULL DEFAULT '/dashboard',
    redirect_uri TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX oidc_logins_by_expiry ON oidc_logins (expires_at);
