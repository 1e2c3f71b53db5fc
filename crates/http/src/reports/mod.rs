//! Reports over HTTP: `/api/reports/…` answers the figures as JSON, or with `format=csv|xlsx|pdf`
//! as a file; the pages (`web::pages::reports`) show the same figures with a chart and offer
//! the same files. One function per report turns its figures into a labelled
//! [`Document`](saghat_core::reports::table::Document) that every file is written from.

pub mod api;
pub mod documents;
pub mod exports;
pub mod files;
pub mod params;
