//! A Zarinpal v4 stand-in (wiremock) speaking the documented request and response shapes:
//! `request.json` → `data.code` 100 and an authority; `verify.json` → 100 the first time and
//! 101 after; `inquiry.json`, `unVerified.json`, `reverse.json`; errors as
//! `{"data": [], "errors": {"code", "message", "validations"}}`; and `StartPay/{authority}`
//! answering 302 back to Saghat's callback, as the bank's page does once the payer paid.

use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const MERCHANT_ID: &str = "1344b5d4-0048-11e8-94db-005056a205be";

pub struct FakeZarinpal {
    pub server: MockServer,
}

/// A well-formed authority ending in `n`.
pub fn authority(n: u32) -> String {
    format!("A{:0>35}", n)
}

fn ok(data: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "data": data, "errors": [] }))
}

/// Zarinpal's error shape.
pub fn error(code: i64, message: &str) -> ResponseTemplate {
    let status = if code == -12 { 429 } else { 400 };
    ResponseTemplate::new(status).set_body_json(
        json!({ "data": [], "errors": { "code": code, "message": message, "validations": [] } }),
    )
}

impl FakeZarinpal {
    pub async fn start() -> FakeZarinpal {
        FakeZarinpal {
            server: MockServer::start().await,
        }
    }

    pub fn url(&self) -> String {
        self.server.uri()
    }

    /// Points the configuration at this stand-in.
    pub fn configure(&self, config: &mut saghat_core::config::Config) {
        config.zarinpal.merchant_id = Some(MERCHANT_ID.into());
        config.zarinpal.base_url = self.url();
    }

    /// The next payment request gets `authority`.
    pub async fn gives_authority(&self, authority: &str) {
        Mock::given(method("POST"))
            .and(path("/pg/v4/payment/request.json"))
            .and(body_partial_json(json!({ "merchant_id": MERCHANT_ID })))
            .respond_with(ok(
                json!({ "code": 100, "message": "Success", "authority": authority,
                "fee_type": "Merchant", "fee": 100 }),
            ))
            .up_to_n_times(1)
            .mount(&self.server)
            .await;
    }

    /// Verifying `authority` for `amount`: 100 with `ref_id` the first time, 101 after.
    pub async fn verifies(&self, authority: &str, amount: i64, ref_id: i64) {
        let body = json!({ "merchant_id": MERCHANT_ID, "authority": authority, "amount": amount });
        let data = |code: i64, message: &str| {
            json!({ "code": code, "message": message, "card_hash": "1EBE3EBEBE35C7EC0F8D6EE4F2F859107A87822CA179BC9528767EA7B5489B69",
                "card_pan": "502229******5995", "ref_id": ref_id, "fee_type": "Merchant", "fee": 100 })
        };
        Mock::given(method("POST"))
            .and(path("/pg/v4/payment/verify.json"))
            .and(body_partial_json(body.clone()))
            .respond_with(ok(data(100, "Verified")))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&self.server)
            .await;
        Mock::given(method("POST"))
            .and(path("/pg/v4/payment/verify.json"))
            .and(body_partial_json(body))
            .respond_with(ok(data(101, "Verified")))
            .with_priority(2)
            .mount(&self.server)
            .await;
    }

    /// `endpoint` (`verify`, `reverse`, …) answers `response` for `authority`.
    pub async fn answers(&self, endpoint: &str, authority: &str, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path(format!("/pg/v4/payment/{endpoint}.json")))
            .and(body_partial_json(json!({ "authority": authority })))
            .respond_with(response)
            .with_priority(3)
            .mount(&self.server)
            .await;
    }

    /// `inquiry.json` says `status` (`PAID`, `VERIFIED`, `IN_BANK`, `FAILED`, `REVERSED`).
    pub async fn inquiry_says(&self, authority: &str, status: &str) {
        self.answers(
            "inquiry",
            authority,
            ok(json!({ "code": 100, "message": "Success", "status": status })),
        )
        .await;
    }

    /// Gives the payment back.
    pub async fn reverses(&self, authority: &str) {
        self.answers(
            "reverse",
            authority,
            ok(json!({ "code": 100, "message": "Reversed" })),
        )
        .await;
    }

    /// `unVerified.json` lists these authorities (each for `amount`).
    pub async fn unverified(&self, authorities: &[&str], amount: i64) {
        let list: Vec<Value> = authorities
            .iter()
            .map(|a| json!({ "authority": a, "amount": amount, "callback_url": "", "referer": "", "date": "2026-11-22 12:00:00" }))
            .collect();
        Mock::given(method("POST"))
            .and(path("/pg/v4/payment/unVerified.json"))
            .respond_with(ok(
                json!({ "code": 100, "message": "Success", "authorities": list }),
            ))
            .mount(&self.server)
            .await;
    }

    /// The bank's page: the payer "pays" and is sent back to `callback` with `Status`.
    pub async fn start_pay_returns(&self, authority: &str, callback: &str, status: &str) {
        Mock::given(method("GET"))
            .and(path(format!("/pg/StartPay/{authority}")))
            .respond_with(ResponseTemplate::new(302).insert_header(
                "location",
                format!("{callback}?Authority={authority}&Status={status}"),
            ))
            .mount(&self.server)
            .await;
    }

    /// The JSON bodies received on `endpoint`, in order.
    pub async fn received(&self, endpoint: &str) -> Vec<Value> {
        let want = format!("/pg/v4/payment/{endpoint}.json");
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r.url.path() == want)
            .filter_map(|r| serde_json::from_slice(&r.body).ok())
            .collect()
    }
}
