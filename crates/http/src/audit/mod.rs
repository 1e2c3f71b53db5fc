//! The audit log, read by admins.

pub mod api;
