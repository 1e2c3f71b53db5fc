//! The HTTP client Saghat calls other services with (payment gateways, message providers):
//! every call bounded in time, and named as Saghat's.

use std::time::Duration;

/// A client builder whose calls, connecting included, give up after `timeout`.
pub fn client_builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(concat!("saghat/", env!("CARGO_PKG_VERSION")))
}
