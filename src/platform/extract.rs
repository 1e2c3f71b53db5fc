//! Request extractors that turn every kind of bad input into the API's JSON errors:
//! not JSON → 400, JSON that breaks the schema → 422 with one item per problem.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};

/// Semantic checks that run after a body has the right shape.
pub trait Validate {
    fn validate(&self) -> Vec<FieldError> {
        vec![]
    }
}

/// A JSON body of type `T`, parsed strictly and validated.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|rejection| match rejection {
                BytesRejection::FailedToBufferBody(e)
                    if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
                {
                    ApiError::PayloadTooLarge
                }
                _ => ApiError::bad_request("Cannot parse request body"),
            })?;
        let value = parse_body::<T>(&bytes)?;
        let problems = value.validate();
        if !problems.is_empty() {
            return Err(ApiError::Validation(problems));
        }
        Ok(ApiJson(value))
    }
}

/// Parses a JSON body: syntax errors are 400, schema errors 422 with the failing field's path.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let not_json = || ApiError::bad_request("Cannot parse request body");
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => value,
        Err(err) if err.inner().is_data() => {
            return Err(ApiError::Validation(vec![schema_problem(&err)]))
        }
        Err(_) => return Err(not_json()),
    };
    deserializer.end().map_err(|_| not_json())?;
    Ok(value)
}

/// Turns serde's message into the original API's `{type, loc, msg}`.
fn schema_problem(err: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    use serde_path_to_error::Segment;
    let mut loc = vec!["body".to_string()];
    for segment in err.path().iter() {
        match segment {
            Segment::Map { key } => loc.push(key.clone()),
            Segment::Seq { index } => loc.push(index.to_string()),
            Segment::Enum { variant } => loc.push(variant.clone()),
            Segment::Unknown => {}
        }
    }
    let full = err.inner().to_string();
    let message = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(m, _)| m)
        .to_string();
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_string);
    if let Some(field) = message.strip_prefix("missing field ").and_then(quoted) {
        loc.push(field);
        return FieldError {
            kind: "missing".into(),
            loc,
            msg: "Field required".into(),
        };
    }
    if let Some(field) = message.strip_prefix("unknown field ").and_then(quoted) {
        if loc.last() != Some(&field) {
            loc.push(field);
        }
        return FieldError {
            kind: "extra_forbidden".into(),
            loc,
            msg: "Extra inputs are not permitted".into(),
        };
    }
    let kind = if message.starts_with("invalid type") {
        "type_error"
    } else {
        "value_error"
    };
    FieldError {
        kind: kind.into(),
        loc,
        msg: message,
    }
}

/// Parses optional integer query parameters, collecting one problem per bad value.
pub fn query_i64(
    params: &HashMap<String, String>,
    name: &str,
    problems: &mut Vec<FieldError>,
) -> Option<i64> {
    let raw = params.get(name)?;
    match raw.trim().parse::<i64>() {
        Ok(v) => Some(v),
        Err(_) => {
            problems.push(FieldError::query(
                name,
                "int_parsing",
                "Input should be a valid integer",
            ));
            None
        }
    }
}

/// The client's address: the socket peer, or with `TRUST_PROXY_HEADERS` the first address in
/// `X-Forwarded-For` (set by the nginx in front of Saghat).
pub fn client_ip(parts: &Parts, trust_proxy_headers: bool) -> String {
    if trust_proxy_headers {
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded {
            return ip.to_string();
        }
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// The request id set by the request-id layer (`x-request-id`).
pub fn request_id(parts: &Parts) -> String {
    parts
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Who sent the request and under which id, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub client_ip: String,
    pub request_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta
where
    crate::app::AppState: axum::extract::FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = <crate::app::AppState as axum::extract::FromRef<S>>::from_ref(state);
        Ok(RequestMeta {
            client_ip: client_ip(parts, app.config.trust_proxy_headers),
            request_id: request_id(parts),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::money::Amount;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        fee: Amount,
        months: Option<i64>,
    }

    fn problem(json: &str) -> FieldError {
        match parse_body::<Body>(json.as_bytes()) {
            Err(ApiError::Validation(mut p)) => p.remove(0),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn syntax_errors_are_400_and_schema_errors_422_with_the_field() {
        for not_json in ["", "{", "{\"fee\": 1,}", "fee=1", "{\"fee\": 1} trailing"] {
            assert!(
                matches!(
                    parse_body::<Body>(not_json.as_bytes()),
                    Err(ApiError::BadRequest(_))
                ),
                "{not_json:?}"
            );
        }
        let p = problem("{}");
        assert_eq!(
            (p.kind.as_str(), p.loc.clone()),
            ("missing", vec!["body".into(), "fee".into()])
        );
        let p = problem(r#"{"fee": "1", "extra": 1}"#);
        assert_eq!(
            (p.kind.as_str(), p.loc.clone()),
            ("extra_forbidden", vec!["body".into(), "extra".into()])
        );
        let p = problem(r#"{"fee": "1", "months": "x"}"#);
        assert_eq!(
            (p.kind.as_str(), p.loc.clone()),
            ("type_error", vec!["body".into(), "months".into()])
        );
        let p = problem(r#"{"fee": 1.123456789}"#);
        assert_eq!(p.loc, vec!["body".to_string(), "fee".into()]);
        assert!(p.msg.contains("more than 8 decimal places"), "{}", p.msg);
        let p = problem("[1]");
        assert_eq!(p.loc, vec!["body".to_string()]);
    }
}
