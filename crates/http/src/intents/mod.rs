//! Online payments (payment intents) over HTTP: the API, and the gateway's callback with the
//! payer's result page in `web::pages::pay`. The work is `saghat_core::intents`.

pub mod api;
