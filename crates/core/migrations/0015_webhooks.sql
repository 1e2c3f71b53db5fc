-- Outgoing webhooks: the endpoints an admin registers, and one delivery per event and endpoint.
CREATE TABLE webhook_endpoints (
    id {{ID}},
    url TEXT NOT NULL,
    -- The subscribed event names, a JSON list of text: ["invoice.sent", "invoice.paid"].
    events TEXT NOT NULL,
    -- The signing key: shown once when the endpoint is made, never returned or logged after.
    secret TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    active BIGINT NOT NULL DEFAULT 1,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id {{ID}},
    endpoint_id BIGINT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    event TEXT NOT NULL,
    -- The exact body that is signed and sent, the same on every attempt.
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('queued', 'delivered', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    last_status_code BIGINT,
    last_error TEXT NOT NULL DEFAULT '',
    last_attempt_at TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (endpoint_id, event_id)
);

CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, id);
