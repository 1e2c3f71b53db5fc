//! Loan-request tickets over HTTP: `/api/tickets` (the API; the web pages come separately).

pub mod api;
