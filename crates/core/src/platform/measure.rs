//! What Saghat counts for `/metrics`, through the `metrics` facade: the HTTP layer installs the
//! Prometheus recorder, and without one (the CLI, unit tests) these cost nothing. Names and
//! labels are listed in the README's "Metrics".

use std::time::Duration;

/// How a call to a payment gateway ended: it answered (`ok`), or it could not be asked, failed
/// or answered no (`error`).
pub fn gateway_call(gateway: &'static str, operation: &'static str, ok: bool, took: Duration) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("saghat_gateway_calls_total", "gateway" => gateway, "operation" => operation, "outcome" => outcome)
        .increment(1);
    if !ok {
        metrics::counter!("saghat_gateway_errors_total", "gateway" => gateway, "operation" => operation)
            .increment(1);
    }
    metrics::histogram!("saghat_gateway_call_duration_seconds", "gateway" => gateway, "operation" => operation)
        .record(took.as_secs_f64());
}

/// One delivery attempt of a notification on `channel` (`email`, `sms`, `whatsapp`).
pub fn notification(channel: &str, sent: bool) {
    let outcome = if sent { "sent" } else { "failed" };
    metrics::counter!("saghat_notifications_total", "channel" => channel.to_string(), "outcome" => outcome)
        .increment(1);
}

/// A password check that failed.
pub fn login_failure() {
    metrics::counter!("saghat_login_failures_total").increment(1);
}

/// A login answered 429 because a login limit is full (a lockout).
pub fn login_lockout() {
    metrics::counter!("saghat_login_lockouts_total").increment(1);
}
