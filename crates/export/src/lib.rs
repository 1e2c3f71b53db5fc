//! Reports as files. Both writers stream: a row is written as it comes, so an export of a
//! million rows needs memory for one row (and, for XLSX, rust_xlsxwriter's constant-memory
//! temporary file), not for the whole table.
//!
//! - [`csv`]: RFC 4180 (CRLF, fields quoted when they must be, quotes doubled), UTF-8 with a
//!   byte-order mark so spreadsheet programs read Persian right; text that a spreadsheet would
//!   run as a formula (`=`, `+`, `-`, `@`, tab, carriage return) is prefixed with `'`.
//! - [`xlsx`]: typed cells (numbers with the currency's places, dates as dates), a frozen,
//!   bold header row, right to left for Persian.
//! - [`register`]: the `report_export` job's work, a register of every invoice or payment of a
//!   period written page by page to its file under `EXPORTS_DIR`.

pub mod csv;
pub mod register;
pub mod xlsx;
