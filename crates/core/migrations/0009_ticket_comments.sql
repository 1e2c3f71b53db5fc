-- Loan-request tickets (issue 11), collaboration step: comments between the borrower and the
-- lenders (internal notes among reviewers only), the previous text of every edit, and
-- attachments' metadata (their bytes are files named by SHA-256 in ATTACHMENTS_DIR).

CREATE TABLE ticket_comments (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    -- the comment's position on its ticket (1, 2, …), given under the ticket's lock: comments
    -- written in the same instant still list in the order they were written
    seq BIGINT NOT NULL CHECK (seq > 0),
    author_id BIGINT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    -- 1: an internal note, which only reviewers see
    internal BIGINT NOT NULL DEFAULT 0 CHECK (internal IN (0, 1)),
    created_at TEXT NOT NULL,
    -- NULL until the first edit
    edited_at TEXT,
    UNIQUE (ticket_id, seq)
);
CREATE INDEX ticket_comments_by_author ON ticket_comments (author_id);

-- One row per edit, with the text it replaced.
CREATE TABLE ticket_comment_edits (
    id {{ID}},
    comment_id TEXT NOT NULL REFERENCES ticket_comments (id),
    previous_body TEXT NOT NULL,
    edited_at TEXT NOT NULL,
    editor_id BIGINT NOT NULL REFERENCES users (id)
);
CREATE INDEX ticket_comment_edits_by_comment ON ticket_comment_edits (comment_id, id);

CREATE TABLE ticket_attachments (
    id TEXT PRIMARY KEY,
    ticket_id TEXT NOT NULL REFERENCES tickets (id),
    uploader_id BIGINT NOT NULL REFERENCES users (id),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL CHECK (size_bytes > 0),
    -- lower-case hex; the file is {ATTACHMENTS_DIR}/{sha256[0..2]}/{sha256}
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    created_at TEXT NOT NULL
);
CREATE INDEX ticket_attachments_by_ticket ON ticket_attachments (ticket_id, created_at);
