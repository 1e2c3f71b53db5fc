//! The Zarinpal v4 adapter: `POST {base}/pg/v4/payment/{request,verify,inquiry,unVerified,
//! reverse}.json` with the merchant id, and the payer sent to `{base}/pg/StartPay/{authority}`.
//! Amounts are Rials, or Tomans when `ZARINPAL_CURRENCY=IRT`. No redirect is followed: an
//! answer that is not Zarinpal's JSON counts as the gateway being unavailable.
//!
//! This file is the HTTP calls; `types.rs` reads the answers and masks what is stored.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{json, Value};

pub use types::{code_message, is_authority, is_transient, mask_pan};

use super::{
    Exchange, Exchanged, GatewayFailure, InquiryStatus, PayRequest, RedirectGateway, Verification,
};

mod types;

pub const PRODUCTION_BASE_URL: &str = "https://payment.zarinpal.com";
pub const SANDBOX_BASE_URL: &str = "https://sandbox.zarinpal.com";

/// Which unit Zarinpal is asked to charge in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZarinpalCurrency {
    Irr,
    /// Tomans: 10 Rials.
    Irt,
}

#[derive(Clone)]
pub struct ZarinpalClient {
    http: reqwest::Client,
    base_url: String,
    merchant_id: String,
    currency: ZarinpalCurrency,
}

impl ZarinpalClient {
    pub fn new(
        base_url: &str,
        merchant_id: &str,
        currency: ZarinpalCurrency,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let http = crate::platform::outbound::client_builder(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(ZarinpalClient {
            http,
            base_url: base_url.trim_end_matches('/').to_string(),
            merchant_id: merchant_id.to_string(),
            currency,
        })
    }

    /// POSTs `body` (with the merchant id) to `/pg/v4/payment/{path}.json`; returns the answer's
    /// `data` read by `read`, with the exchange as it may be stored.
    async fn call<T>(
        &self,
        operation: &'static str,
        path: &str,
        body: Value,
        read: impl FnOnce(&Value) -> Result<T, GatewayFailure>,
    ) -> Exchanged<T> {
        let started = std::time::Instant::now();
        let exchanged = self.exchange(operation, path, body, read).await;
        let answered = !matches!(exchanged.result, Err(GatewayFailure::Unavailable(_)));
        crate::platform::measure::gateway_call("zarinpal", operation, answered, started.elapsed());
        exchanged
    }

    async fn exchange<T>(
        &self,
        operation: &'static str,
        path: &str,
        mut body: Value,
        read: impl FnOnce(&Value) -> Result<T, GatewayFailure>,
    ) -> Exchanged<T> {
        body["merchant_id"] = Value::String(self.merchant_id.clone());
        let mut exchange = Exchange {
            operation,
            request: types::masked(body.clone()),
            response: None,
            http_status: None,
        };
        let url = format!("{}/pg/v4/payment/{path}.json", self.base_url);
        let sent = self
            .http
            .post(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let why = if e.is_timeout() {
                    "timed out"
                } else {
                    "is unreachable"
                };
                return Exchanged {
                    result: Err(GatewayFailure::Unavailable(format!("Zarinpal {why}"))),
                    exchange,
                };
            }
        };
        let status = response.status().as_u16();
        exchange.http_status = Some(status);
        let answer: Option<Value> = response.json().await.ok();
        exchange.response = answer.clone().map(types::masked);
        let result = match &answer {
            Some(answer) => types::read_answer(status, answer).and_then(read),
            None => Err(GatewayFailure::Unavailable(format!(
                "Zarinpal answered {status} with no readable body"
            ))),
        };
        Exchanged { result, exchange }
    }
}

impl RedirectGateway for ZarinpalClient {
    fn name(&self) -> &'static str {
        "zarinpal"
    }

    fn charge(&self, rials: i64) -> (i64, &'static str) {
        match self.currency {
            ZarinpalCurrency::Irr => (rials, "IRR"),
            ZarinpalCurrency::Irt => (rials / 10, "IRT"),
        }
    }

    fn rials_per_unit(&self) -> i64 {
        match self.currency {
            ZarinpalCurrency::Irr => 1,
            ZarinpalCurrency::Irt => 10,
        }
    }

    fn request<'a>(&'a self, request: &'a PayRequest) -> BoxFuture<'a, Exchanged<String>> {
        Box::pin(async move {
            let mut metadata = json!({ "order_id": request.order_id });
            if let Some(mobile) = &request.mobile {
                metadata["mobile"] = json!(mobile);
            }
            if let Some(email) = &request.email {
                metadata["email"] = json!(email);
            }
            let body = json!({
                "amount": request.amount,
                "currency": self.charge(0).1,
                "description": request.description,
                "callback_url": request.callback_url,
                "metadata": metadata,
            });
            self.call("request", "request", body, types::authority_of)
                .await
        })
    }

    fn pay_url(&self, authority: &str) -> String {
        format!("{}/pg/StartPay/{authority}", self.base_url)
    }

    fn verify<'a>(
        &'a self,
        authority: &'a str,
        amount: i64,
    ) -> BoxFuture<'a, Exchanged<Verification>> {
        Box::pin(async move {
            let body = json!({ "amount": amount, "authority": authority });
            self.call("verify", "verify", body, types::verification_of)
                .await
        })
    }

    fn inquire<'a>(&'a self, authority: &'a str) -> BoxFuture<'a, Exchanged<InquiryStatus>> {
        Box::pin(async move {
            let body = json!({ "authority": authority });
            self.call("inquiry", "inquiry", body, types::inquiry_of)
                .await
        })
    }

    fn unverified(&self) -> BoxFuture<'_, Exchanged<Vec<String>>> {
        Box::pin(async move {
            self.call("unverified", "unVerified", json!({}), |data| {
                Ok(types::unverified_of(data))
            })
            .await
        })
    }

    fn reverse<'a>(&'a self, authority: &'a str) -> BoxFuture<'a, Exchanged<()>> {
        Box::pin(async move {
            let body = json!({ "authority": authority });
            self.call("reverse", "reverse", body, |_| Ok(())).await
        })
    }
}
