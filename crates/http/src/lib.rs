//! Saghat over HTTP: the application state, the JSON API (with its OpenAPI document) and the
//! server-rendered web pages, on top of `saghat-core`'s services. Handlers here parse a
//! request, call one service and shape its answer; the rules live in the core.

pub mod app;
pub mod audit;
pub mod auth;
pub mod error;
pub mod extract;
pub mod fund;
pub mod intents;
pub mod jobs;
pub mod ledger;
pub mod metrics;
pub mod notify;
pub mod ops;
pub mod printing;
pub mod reports;
pub mod state;
pub mod tickets;
pub mod upload;
pub mod v1;
pub mod web;
pub mod webhooks;
