//! Reports: the figures admins, accountants and lenders run their money by, computed in the
//! database in a fixed number of set-based queries whatever the size of the data.
//!
//! `period` and `aging` are plain rules (months of either calendar, days overdue, DSO); each
//! report (`invoicing`, …) reads its figures in a handful of grouped queries and folds them into
//! plain values; `table` is the one shape every export (CSV, XLSX, PDF) is written from; `access`
//! says who may read which report.

pub mod access;
pub mod aging;
mod cache;
pub mod error;
pub mod exports;
pub mod fund;
pub mod invoicing;
pub mod period;
mod sql;
pub mod table;
pub mod tickets;

pub use error::ReportError;
