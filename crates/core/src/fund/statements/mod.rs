//! Monthly statements: after each draw every active member receives a PDF of their month —
//! their payments, balance and loan with its schedule — and of the fund's: its cash in and out
//! from the ledger, who won and with what proof (the commitment, the revealed seed, the
//! inputs' digest, where to verify). In their language, e-mailed with the notice (the PDF
//! attached) and kept for their page.
//!
//! The draw enqueues `monthly_statements` in its own transaction. That job ([`prepare_month`])
//! reads the fund's month once, keeps it (`fund_month_statements`), and enqueues one
//! `member_statement` job per active member by one statement, keyed per (member, month). Each
//! of those ([`make_statement`]) gathers the member's part, has the worker's [`StatementPdf`]
//! render it, keeps the file under `SAGHAT_DATA_DIR` (named by its SHA-256) and, in one
//! transaction, records the statement (`UNIQUE (user_id, year, month)`) and writes its notice
//! to the outbox with the file attached to the e-mail. However often either job runs, a
//! member gets one statement and one notice per month; members who left the fund get none.

mod error;
mod jobs;
pub mod model;
mod service;
pub mod store;

pub use error::StatementError;
pub use jobs::{MEMBER_STATEMENT_JOB, MONTHLY_STATEMENTS_JOB};
pub use model::{FundMonth, MemberStatement};
pub use service::{
    file_name, make_statement, open, page_url, prepare_month, statements_of, Made, StatementPdf,
};
pub use store::StatementEntry;
