//! Outgoing webhooks for admins: endpoints, their delivery log, replay. The page is
//! `web::pages::webhooks`; the work is `saghat_core::webhooks`.

pub mod api;
