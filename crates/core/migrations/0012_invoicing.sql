-- Invoicing (issue 12, seed 004): clients and their contacts and portal users, the product
-- catalogue, invoices and credit notes with their lines and per-category taxes, gapless
-- numbering, payments with their allocations, refunds, reminders and recurring templates.
-- Portable SQL ({{ID}}, TEXT times and ids, BIGINT amounts in the currency's minor units, 0/1
-- flags). The immutability guards of sent invoices and the ledger's new account and
-- transaction kinds are spelled per dialect: 0012_invoicing.<dialect>.sql.

CREATE TABLE clients (
    id {{ID}},
    kind TEXT NOT NULL CHECK (kind IN ('company', 'individual')),
    name TEXT NOT NULL,
    tax_id TEXT,
    email TEXT,
    street TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    postal_code TEXT NOT NULL DEFAULT '',
    country_code TEXT NOT NULL,
    language TEXT NOT NULL CHECK (language IN ('fa', 'en')),
    currency TEXT NOT NULL,
    payment_terms_days BIGINT NOT NULL CHECK (payment_terms_days BETWEEN 0 AND 365),
    notes TEXT NOT NULL DEFAULT '',
    archived BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX clients_by_name ON clients (archived, name, id);

CREATE TABLE client_contacts (
    id {{ID}},
    client_id BIGINT NOT NULL REFERENCES clients (id),
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    role TEXT NOT NULL DEFAULT '',
    is_primary BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE INDEX client_contacts_by_client ON client_contacts (client_id, id);
-- At most one primary contact per client.
CREATE UNIQUE INDEX client_contacts_one_primary ON client_contacts (client_id) WHERE is_primary = 1;

-- A `client` user's portal shows exactly one client.
CREATE TABLE client_users (
    user_id BIGINT PRIMARY KEY REFERENCES users (id),
    client_id BIGINT NOT NULL REFERENCES clients (id)
);
CREATE INDEX client_users_by_client ON client_users (client_id);

CREATE TABLE products (
    id {{ID}},
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    -- invoicing::model::Unit::code (UN/ECE Rec. 20)
    unit TEXT NOT NULL,
    unit_price BIGINT NOT NULL CHECK (unit_price >= 0),
    currency TEXT NOT NULL,
    -- invoicing::model::TaxCode::code and the rate in hundredths of a percent
    tax_code TEXT NOT NULL,
    tax_rate BIGINT NOT NULL CHECK (tax_rate BETWEEN 0 AND 10000),
    archived BIGINT NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX products_by_name ON products (archived, name, id);

CREATE TABLE recurring_invoices (
    id {{ID}},
    client_id BIGINT NOT NULL REFERENCES clients (id),
    -- the draft to make each period (invoicing::recurring::Template as JSON)
    template TEXT NOT NULL,
    calendar TEXT NOT NULL CHECK (calendar IN ('jalali', 'gregorian')),
    day_of_month BIGINT NOT NULL CHECK (day_of_month BETWEEN 1 AND 31),
    -- YYYY-MM-DD: the issue date of the next invoice
    next_run TEXT NOT NULL,
    active BIGINT NOT NULL DEFAULT 1,
    auto_send BIGINT NOT NULL DEFAULT 0,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX recurring_invoices_due ON recurring_invoices (active, next_run);

CREATE TABLE invoices (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('invoice', 'credit_note')),
    client_id BIGINT NOT NULL REFERENCES clients (id),
    -- assigned when sent, gapless per (series, number_year)
    number TEXT UNIQUE,
    series TEXT,
    number_year BIGINT,
    number_seq BIGINT,
    currency TEXT NOT NULL,
    issue_date TEXT NOT NULL,
    due_date TEXT NOT NULL,
    -- invoicing::state::Status::as_str, recomputed on every change (kept to index by it)
    status TEXT NOT NULL CHECK (status IN ('draft', 'sent', 'partially_paid', 'paid', 'overdue', 'void')),
    language TEXT NOT NULL CHECK (language IN ('fa', 'en')),
    prices_include_tax BIGINT NOT NULL DEFAULT 0,
    discount_kind TEXT CHECK (discount_kind IN ('percent', 'amount')),
    discount_value BIGINT,
    notes TEXT NOT NULL DEFAULT '',
    terms TEXT NOT NULL DEFAULT '',
    -- invoicing::model::Party as JSON, taken when sent
    seller TEXT,
    buyer TEXT,
    payee_iban TEXT,
    -- Invoice::totals() at the last save (draft) or at send
    lines_net BIGINT NOT NULL DEFAULT 0,
    discount BIGINT NOT NULL DEFAULT 0,
    tax BIGINT NOT NULL DEFAULT 0,
    total BIGINT NOT NULL DEFAULT 0,
    amount_paid BIGINT NOT NULL DEFAULT 0 CHECK (amount_paid >= 0),
    amount_credited BIGINT NOT NULL DEFAULT 0 CHECK (amount_credited >= 0),
    credits_invoice_id TEXT REFERENCES invoices (id),
    recurring_id BIGINT REFERENCES recurring_invoices (id),
    -- the template's period (`1405-06`) this invoice was made for
    recurring_period TEXT,
    sent_at TEXT,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CHECK ((number IS NULL) = (sent_at IS NULL)),
    CHECK ((kind = 'credit_note') = (credits_invoice_id IS NOT NULL)),
    CHECK (amount_paid + amount_credited <= total),
    UNIQUE (series, number_year, number_seq),
    UNIQUE (recurring_id, recurring_period)
);
-- The list pages by keyset on (issue_date, id), newest first, filtered or not.
CREATE INDEX invoices_by_issue ON invoices (issue_date, id);
CREATE INDEX invoices_by_status ON invoices (status, issue_date, id);
CREATE INDEX invoices_by_client ON invoices (client_id, issue_date, id);
-- The daily job reads the open invoices past due.
CREATE INDEX invoices_open_by_due ON invoices (due_date) WHERE status IN ('sent', 'partially_paid');
CREATE INDEX invoices_by_credited ON invoices (credits_invoice_id) WHERE credits_invoice_id IS NOT NULL;

CREATE TABLE invoice_lines (
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    position BIGINT NOT NULL CHECK (position >= 1),
    product_id BIGINT REFERENCES products (id),
    description TEXT NOT NULL,
    unit TEXT NOT NULL,
    -- ten-thousandths (invoicing::model::Quantity)
    quantity BIGINT NOT NULL CHECK (quantity > 0),
    unit_price BIGINT NOT NULL CHECK (unit_price >= 0),
    discount_kind TEXT CHECK (discount_kind IN ('percent', 'amount')),
    discount_value BIGINT,
    tax_code TEXT NOT NULL,
    tax_rate BIGINT NOT NULL,
    -- the line's net excluding tax (BT-131), from Invoice::totals()
    net BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, position)
);

-- Per tax category, stored at send (BG-23), for reports and the e-invoices.
CREATE TABLE invoice_taxes (
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    tax_code TEXT NOT NULL,
    tax_rate BIGINT NOT NULL,
    lines_net BIGINT NOT NULL,
    discount BIGINT NOT NULL,
    taxable BIGINT NOT NULL,
    tax BIGINT NOT NULL,
    PRIMARY KEY (invoice_id, tax_code, tax_rate)
);

-- The last number used per series and year; taken (row-locked) in the send transaction.
CREATE TABLE number_series (
    series TEXT NOT NULL,
    year BIGINT NOT NULL,
    last_value BIGINT NOT NULL CHECK (last_value >= 0),
    PRIMARY KEY (series, year)
);

-- Invoicing's payments (the fund's are `payments`).
CREATE TABLE invoice_payments (
    id TEXT PRIMARY KEY,
    client_id BIGINT NOT NULL REFERENCES clients (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    received_on TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('bank_transfer', 'cash', 'card', 'gateway', 'other')),
    reference TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX invoice_payments_by_client ON invoice_payments (client_id, received_on);
CREATE INDEX invoice_payments_by_date ON invoice_payments (received_on, id);

-- Money applied to an invoice: from a payment as it is recorded ('payment'), from a credit
-- note on the invoice it credits ('credit_note'), or from the client's credit later ('credit').
CREATE TABLE invoice_allocations (
    id {{ID}},
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    source TEXT NOT NULL CHECK (source IN ('payment', 'credit_note', 'credit')),
    payment_id TEXT REFERENCES invoice_payments (id),
    credit_note_id TEXT REFERENCES invoices (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL,
    CHECK ((source = 'payment') = (payment_id IS NOT NULL)),
    CHECK ((source = 'credit_note') = (credit_note_id IS NOT NULL))
);
CREATE INDEX invoice_allocations_by_invoice ON invoice_allocations (invoice_id);
CREATE INDEX invoice_allocations_by_payment ON invoice_allocations (payment_id) WHERE payment_id IS NOT NULL;

-- Client credit paid back.
CREATE TABLE invoice_refunds (
    id TEXT PRIMARY KEY,
    client_id BIGINT NOT NULL REFERENCES clients (id),
    amount BIGINT NOT NULL CHECK (amount > 0),
    currency TEXT NOT NULL,
    refunded_on TEXT NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('bank_transfer', 'cash', 'card', 'gateway', 'other')),
    reference TEXT NOT NULL DEFAULT '',
    created_by BIGINT REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX invoice_refunds_by_client ON invoice_refunds (client_id, refunded_on);

-- Each reminder step goes out once per invoice (the job is a later step).
CREATE TABLE invoice_reminders (
    invoice_id TEXT NOT NULL REFERENCES invoices (id),
    step TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    UNIQUE (invoice_id, step)
);

-- The ledger's invoicing accounts belong to a client (or to no one), in their own currency.
ALTER TABLE ledger_accounts ADD COLUMN client_id BIGINT REFERENCES clients (id);
