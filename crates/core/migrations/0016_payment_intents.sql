-- Online payments: one intent per attempt to pay something through a redirect gateway
-- (Zarinpal), with every exchange with the gateway (secrets masked). The amount and currency
-- are fixed when the intent is made; the gateway's own amount (Rials, or Tomans when so
-- configured) beside them.
CREATE TABLE payment_intents (
    id TEXT PRIMARY KEY,
    -- What is being paid: an invoice, or a ticket's installment (in USDT, paid in Rials at
    -- PAYMENT_IRR_PER_USDT).
    subject TEXT NOT NULL CHECK (subject IN ('invoice', 'installment')),
    invoice_id TEXT REFERENCES invoices (id),
    client_id BIGINT REFERENCES clients (id),
    ticket_id TEXT REFERENCES tickets (id),
    -- The USDT (10⁻⁸ units) an installment intent repays.
    usdt_amount BIGINT CHECK (usdt_amount > 0),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    gateway TEXT NOT NULL,
    gateway_amount BIGINT NOT NULL CHECK (gateway_amount > 0),
    gateway_currency TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('created', 'redirected', 'authorised', 'verified',
        'failed', 'expired', 'reversed')),
    authority TEXT UNIQUE,
    ref_id TEXT,
    card_pan TEXT,
    card_hash TEXT,
    fee BIGINT,
    -- Why the payment failed, was reversed or expired, in words a payer understands.
    reason TEXT NOT NULL DEFAULT '',
    -- The invoice payment or ticket repayment the verified money became (none once reversed).
    payment_id TEXT REFERENCES invoice_payments (id),
    repayment_id TEXT REFERENCES ticket_repayments (id),
    settled_at TEXT,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    CHECK ((subject = 'invoice') = (invoice_id IS NOT NULL AND client_id IS NOT NULL)),
    CHECK ((subject = 'installment') = (ticket_id IS NOT NULL AND usdt_amount IS NOT NULL)),
    CHECK (settled_at IS NULL OR state = 'verified')
);
CREATE INDEX payment_intents_open ON payment_intents (state, created_at);
CREATE INDEX payment_intents_invoice ON payment_intents (invoice_id);
CREATE INDEX payment_intents_ticket ON payment_intents (ticket_id);
CREATE UNIQUE INDEX payment_intents_payment ON payment_intents (payment_id);
CREATE UNIQUE INDEX payment_intents_repayment ON payment_intents (repayment_id);

CREATE TABLE payment_intent_exchanges (
    id {{ID}},
    intent_id TEXT NOT NULL REFERENCES payment_intents (id),
    -- request, verify, inquiry, unverified, reverse
    operation TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT,
    http_status BIGINT,
    created_at TEXT NOT NULL
);
CREATE INDEX payment_intent_exchanges_intent ON payment_intent_exchanges (intent_id, id);
