//! Request extractors that turn every kind of bad input into the API's JSON errors:
//! not JSON → 400, JSON that breaks the schema → 422 with one item per problem.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::{ApiError, FieldError};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::idempotency::{
    IdempotencyKey, StoredResponse, HEADER as IDEMPOTENCY_HEADER,
};
pub use saghat_core::platform::validation::length_kind;

/// What a request body needs beyond serde: its required fields (so that every missing one is
/// reported, not only the first), and semantic checks that run once it has the right shape.
pub trait Validate {
    /// Fields without a default, in the order they are reported when missing.
    const REQUIRED: &'static [&'static str] = &[];

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
            .map_err(body_rejection)?;
        Ok(ApiJson(parse_valid_body(&bytes)?))
    }
}

/// The JSON body of a money-moving request, with its `Idempotency-Key` (if any) fingerprinted
/// against the exact bytes of the body.
pub struct MoneyJson<T> {
    pub body: T,
    pub idempotency: Option<IdempotencyKey>,
}

impl<S, T> FromRequest<S> for MoneyJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(body_rejection)?;
        let idempotency = idempotency_key(&parts, &bytes)?;
        let body = parse_valid_body(&bytes)?;
        Ok(MoneyJson { body, idempotency })
    }
}

/// A response given before under the same `Idempotency-Key`, answered again as it was, marked
/// `Idempotent-Replayed: true`.
pub fn replay(stored: StoredResponse) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut response = (status, axum::Json(stored.body)).into_response();
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// The `Idempotency-Key` of a money-moving request without a body.
pub struct MaybeIdempotencyKey(pub Option<IdempotencyKey>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeIdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        idempotency_key(parts, b"").map(MaybeIdempotencyKey)
    }
}

/// The request's `Idempotency-Key`, fingerprinted with its method, path and `body`.
fn idempotency_key(parts: &Parts, body: &[u8]) -> Result<Option<IdempotencyKey>, ApiError> {
    let value = parts.headers.get(IDEMPOTENCY_HEADER).map(|v| v.as_bytes());
    Ok(IdempotencyKey::from_header(
        value,
        parts.method.as_str(),
        parts.uri.path(),
        body,
    )?)
}

/// A body parsed strictly, then checked by its own rules: every problem is one 422.
fn parse_valid_body<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    let value = parse_body::<T>(bytes)?;
    let problems = value.validate();
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    Ok(value)
}

fn body_rejection(rejection: BytesRejection) -> ApiError {
    match rejection {
        BytesRejection::FailedToBufferBody(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        _ => ApiError::bad_request("Cannot parse request body"),
    }
}

/// Parses a JSON body: a body that is not JSON is 400; JSON that is not an object of the right
/// shape is 422 with one problem per field (missing, unknown, or of the wrong type), and so is
/// a string holding a control character or an object posing as a number (see
/// [`private_number_fields`]): neither reaches a handler.
pub fn parse_body<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|_| ApiError::bad_request("Cannot parse request body"))?;
    let Value::Object(object) = &value else {
        return Err(ApiError::Validation(vec![FieldError {
            kind: "model_attributes_type".into(),
            loc: vec!["body".into()],
            msg: "Input should be a valid dictionary or object".into(),
        }]));
    };
    let mut problems: Vec<FieldError> = private_number_fields(bytes)
        .into_iter()
        .map(|field| {
            FieldError::body(
                &field,
                "value_error",
                "Value error, an object is not a number",
            )
        })
        .collect();
    for (key, value) in object {
        control_characters(value, &mut vec!["body".into(), key.clone()], &mut problems);
    }
    if !problems.is_empty() {
        return Err(ApiError::Validation(problems));
    }
    match serde_path_to_error::deserialize::<_, T>(&value) {
        Ok(parsed) => Ok(parsed),
        Err(first) => Err(ApiError::Validation(every_problem::<T>(object, &first))),
    }
}

/// The top-level fields of a JSON text holding an object with serde_json's private number key.
///
/// With `arbitrary_precision` serde_json hands each number over as a one-entry map
/// `{"$serde_json::private::Number": "<digits>"}`, and reads such a map in the text back as a
/// number: without this check a client could send an object where an amount belongs and have
/// it taken for a number. The parsed `Value` cannot tell the two apart, so the text is scanned
/// (it has already parsed as JSON): every string followed by `:` is a key, unescaped exactly.
pub(crate) fn private_number_fields(bytes: &[u8]) -> Vec<String> {
    const TOKEN: &str = "$serde_json::private::Number";
    let mut found = vec![];
    let mut depth = 0usize;
    let mut field = String::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b'"' => {
                let start = i;
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let end = i.min(bytes.len() - 1);
                let next = bytes[end + 1..].iter().find(|b| !b.is_ascii_whitespace());
                if next == Some(&b':') {
                    if let Ok(key) = serde_json::from_slice::<String>(&bytes[start..=end]) {
                        if depth == 1 {
                            field.clone_from(&key);
                        }
                        if key == TOKEN && !found.contains(&field) {
                            found.push(field.clone());
                        }
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Whether text holds a control character (C0, DEL or C1; tabs and newlines included): no
/// field of this API needs one, and PostgreSQL refuses NUL in text.
pub fn has_control_characters(text: &str) -> bool {
    text.chars().any(char::is_control)
}

const CONTROL_CHARACTERS: &str = "Value error, control characters are not allowed";

/// One problem for each string of a JSON value that holds a control character.
fn control_characters(value: &Value, loc: &mut Vec<String>, problems: &mut Vec<FieldError>) {
    match value {
        Value::String(text) if has_control_characters(text) => problems.push(FieldError {
            kind: "value_error".into(),
            loc: loc.clone(),
            msg: CONTROL_CHARACTERS.into(),
        }),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                loc.push(index.to_string());
                control_characters(item, loc, problems);
                loc.pop();
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                loc.push(key.clone());
                control_characters(item, loc, problems);
                loc.pop();
            }
        }
        _ => {}
    }
}

/// Middleware: a URL whose path holds a control character (percent-encoded or not) is 400, a
/// query value or name holding one is 422, and so is a form field of the web pages (400), before
/// any handler or database sees them. Form bodies are read here, up to `max_body_bytes` (larger
/// is 413, as the extractors would answer), and handed on unchanged.
pub async fn reject_control_characters(
    axum::extract::State(max_body_bytes): axum::extract::State<usize>,
    req: Request,
    next: axum::middleware::Next,
) -> Response {
    let uri = req.uri();
    let path = percent_encoding::percent_decode_str(uri.path()).decode_utf8_lossy();
    if has_control_characters(&path) {
        return ApiError::bad_request("The URL path must not contain control characters")
            .into_response();
    }
    if let Some(query) = uri.query() {
        let problems: Vec<FieldError> = form_urlencoded::parse(query.as_bytes())
            .filter(|(name, value)| has_control_characters(name) || has_control_characters(value))
            .map(|(name, _)| {
                let name: String = name
                    .chars()
                    .map(|c| if c.is_control() { '\u{fffd}' } else { c })
                    .collect();
                FieldError::query(&name, "value_error", CONTROL_CHARACTERS)
            })
            .collect();
        if !problems.is_empty() {
            return ApiError::Validation(problems).into_response();
        }
    }
    let is_form = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    // Past the limit (or a body that cannot be read at all) the request goes no further.
    let Ok(bytes) = axum::body::to_bytes(body, max_body_bytes).await else {
        let mut response = ApiError::PayloadTooLarge.into_response();
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        return response;
    };
    if form_urlencoded::parse(&bytes)
        .any(|(name, value)| has_control_characters(&name) || has_control_characters(&value))
    {
        return ApiError::bad_request("Form fields must not contain control characters")
            .into_response();
    }
    next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
        .await
}

/// Collects every schema problem of a body serde refused (serde itself stops at the first).
fn every_problem<T: DeserializeOwned + Validate>(
    object: &Map<String, Value>,
    first: &serde_path_to_error::Error<serde_json::Error>,
) -> Vec<FieldError> {
    let mut problems = vec![];
    let known = struct_fields::<T>();
    if let Some(known) = known {
        for key in object.keys().filter(|k| !known.contains(&k.as_str())) {
            problems.push(FieldError::body(
                key,
                "extra_forbidden",
                "Extra inputs are not permitted",
            ));
        }
    }
    for field in T::REQUIRED.iter().filter(|f| !object.contains_key(**f)) {
        problems.push(FieldError::body(field, "missing", "Field required"));
    }
    // Each present field alone: serde reports a bad value before it notices the missing others.
    for (key, value) in object
        .iter()
        .filter(|(k, _)| known.is_none_or(|known| known.contains(&k.as_str())))
    {
        let alone = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        if let Err(err) = serde_path_to_error::deserialize::<_, T>(&alone) {
            let problem = schema_problem(&err);
            if problem.kind != "missing" && problem.loc.get(1) == Some(key) {
                problems.push(problem);
            }
        }
    }
    if problems.is_empty() {
        problems.push(schema_problem(first));
    }
    problems
}

/// The field names of a `#[derive(Deserialize)]` struct, read from what it asks a deserializer.
fn struct_fields<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    use serde::de::{Deserializer, Visitor};

    #[derive(Debug)]
    struct Captured;
    impl std::fmt::Display for Captured {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("fields captured")
        }
    }
    impl std::error::Error for Captured {}
    impl serde::de::Error for Captured {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Captured
        }
    }

    struct FieldsProbe<'a>(&'a mut Option<&'static [&'static str]>);
    impl<'de> Deserializer<'de> for FieldsProbe<'_> {
        type Error = Captured;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Captured> {
            Err(Captured)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Captured> {
            *self.0 = Some(fields);
            Err(Captured)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
            unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields = None;
    let _ = T::deserialize(FieldsProbe(&mut fields));
    fields
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
    let (kind, msg) = pydantic_problem(&message);
    FieldError {
        kind: kind.into(),
        loc,
        msg,
    }
}

/// A serde message as the original's validator (pydantic v2) names and words the problem.
fn pydantic_problem(message: &str) -> (&'static str, String) {
    use saghat_core::platform::money::{AmountError, EXPECTING};
    if let Some(problem) = AmountError::from_message(message) {
        return (problem.kind(), problem.message().into());
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let integer = expected
            .strip_prefix(['i', 'u'])
            .is_some_and(|bits| !bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit()));
        return match expected {
            "a string" => ("string_type", "Input should be a valid string".into()),
            "a boolean" => ("bool_type", "Input should be a valid boolean".into()),
            EXPECTING => (
                "decimal_type",
                "Decimal input should be an integer, float, string or Decimal object".into(),
            ),
            _ if integer && got.starts_with("string") => (
                "int_parsing",
                "Input should be a valid integer, unable to parse string as an integer".into(),
            ),
            _ if integer => ("int_type", "Input should be a valid integer".into()),
            // What serde_json expects of an enum of names (a role).
            "string or map" => ("enum", "Input should be a valid enumeration member".into()),
            _ => ("value_error", format!("Value error, {message}")),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let names: Vec<String> = rest
            .split_once("expected one of ")
            .map(|(_, names)| {
                names
                    .split(", ")
                    .map(|n| format!("'{}'", n.trim_matches('`')))
                    .collect()
            })
            .unwrap_or_default();
        let allowed = match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => "a valid enumeration member".into(),
        };
        return ("enum", format!("Input should be {allowed}"));
    }
    ("value_error", format!("Value error, {message}"))
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
                "Input should be a valid integer, unable to parse string as an integer",
            ));
            None
        }
    }
}

/// A page of a list: `limit` (1–500, default 100) and `offset` (default 0) query parameters.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

pub fn page(params: &HashMap<String, String>, problems: &mut Vec<FieldError>) -> Page {
    let limit = query_i64(params, "limit", problems).unwrap_or(100);
    let offset = query_i64(params, "offset", problems).unwrap_or(0);
    if limit < 1 {
        problems.push(FieldError::query(
            "limit",
            "greater_than_equal",
            "Input should be greater than or equal to 1",
        ));
    } else if limit > 500 {
        problems.push(FieldError::query(
            "limit",
            "less_than_equal",
            "Input should be less than or equal to 500",
        ));
    }
    if offset < 0 {
        problems.push(FieldError::query(
            "offset",
            "greater_than_equal",
            "Input should be greater than or equal to 0",
        ));
    }
    Page { limit, offset }
}

/// A page of items with the total number of matches.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub limit: i64,
    pub offset: i64,
}

impl<T> Paged<T> {
    pub fn new(items: Vec<T>, total: i64, page: Page) -> Self {
        Paged {
            items,
            total,
            limit: page.limit,
            offset: page.offset,
        }
    }
}

/// An optional instant query parameter: RFC 3339 (`2026-11-22T10:00:00Z`) or a date
/// (`2026-11-22`, midnight UTC), returned in the stored timestamp format.
pub fn query_time(
    params: &HashMap<String, String>,
    name: &str,
    problems: &mut Vec<FieldError>,
) -> Option<String> {
    let raw = params.get(name)?.trim();
    let parsed = chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        });
    match parsed {
        Some(t) => Some(saghat_core::platform::clock::to_db_time(t)),
        None => {
            problems.push(FieldError::query(
                name,
                "datetime_parsing",
                "Input should be an RFC 3339 time or a YYYY-MM-DD date",
            ));
            None
        }
    }
}

/// Fails with 422 when the query had problems.
pub fn no_problems(problems: Vec<FieldError>) -> Result<(), ApiError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(problems))
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
impl FromRequestParts<crate::state::AppState> for RequestMeta {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &crate::state::AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestMeta {
            client_ip: client_ip(parts, state.config.trust_proxy_headers),
            request_id: request_id(parts),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saghat_core::platform::money::Amount;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        fee: Amount,
        months: Option<i64>,
        note: String,
    }

    impl Validate for Body {
        const REQUIRED: &'static [&'static str] = &["fee", "note"];
    }

    /// The (type, field) of each problem of a 422.
    fn problems(json: &str) -> Vec<(String, String)> {
        match parse_body::<Body>(json.as_bytes()) {
            Err(ApiError::Validation(p)) => p
                .into_iter()
                .map(|p| (p.kind, p.loc[1..].join(".")))
                .collect(),
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(k, f)| (k.to_string(), f.to_string()))
            .collect()
    }

    #[test]
    fn syntax_errors_are_400_even_after_a_schema_error() {
        for not_json in [
            "",
            "{",
            "{\"fee\": 1,}",
            "fee=1",
            "{\"fee\": 1} trailing",
            "{\"extra\": 1,}",
            "{\"fee\": true",
        ] {
            assert!(
                matches!(
                    parse_body::<Body>(not_json.as_bytes()),
                    Err(ApiError::BadRequest(_))
                ),
                "{not_json:?}"
            );
        }
    }

    #[test]
    fn every_schema_problem_is_reported_with_its_field() {
        assert_eq!(
            problems("{}"),
            pairs(&[("missing", "fee"), ("missing", "note")])
        );
        assert_eq!(
            problems(r#"{"fee": "1", "note": "", "extra": 1, "more": 2}"#),
            pairs(&[("extra_forbidden", "extra"), ("extra_forbidden", "more")])
        );
        assert_eq!(
            problems(r#"{"fee": true, "months": "x"}"#),
            pairs(&[
                ("missing", "note"),
                ("decimal_type", "fee"),
                ("int_parsing", "months")
            ])
        );
        let decimals = problems(r#"{"fee": 1.123456789, "note": ""}"#);
        assert_eq!(decimals, pairs(&[("decimal_max_places", "fee")]));
        for not_object in ["[1]", "\"fee\"", "3", "null", "true"] {
            assert_eq!(
                problems(not_object),
                pairs(&[("model_attributes_type", "")]),
                "{not_object}"
            );
        }
    }

    /// Each problem as the original's validator (pydantic v2) names it.
    #[test]
    fn problems_carry_the_original_type_names() {
        assert_eq!(
            problems(r#"{"fee": "twenty", "note": 5, "months": true}"#),
            pairs(&[
                ("decimal_parsing", "fee"),
                ("int_type", "months"),
                ("string_type", "note")
            ])
        );
        assert_eq!(
            problems(r#"{"fee": "1e30", "note": null}"#),
            pairs(&[("less_than_equal", "fee"), ("string_type", "note")])
        );
        let body = match parse_body::<Body>(br#"{"fee": [], "note": ""}"#) {
            Err(ApiError::Validation(p)) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(body[0].kind, "decimal_type");
        assert_eq!(
            body[0].msg,
            "Decimal input should be an integer, float, string or Decimal object"
        );
    }

    /// serde_json reads `{"$serde_json::private::Number": "5"}` as the number 5: a client must
    /// not be able to send it, however the key is escaped.
    #[test]
    fn objects_posing_as_numbers_are_refused() {
        for body in [
            r#"{"fee": {"$serde_json::private::Number": "5"}, "note": ""}"#,
            r#"{"note": "", "fee": {"$serde_json::private::Numbe\u0072": "0.5"}}"#,
            r#"{"fee": "1", "note": {"$serde_json::private::Number": "7"}}"#,
            r#"{"fee" : { "$serde_json::private::Number" : "1e-5" } , "note": "{\"x\": 1}"}"#,
        ] {
            let field = if body.contains(r#""note": {"#) {
                "note"
            } else {
                "fee"
            };
            assert_eq!(problems(body), pairs(&[("value_error", field)]), "{body}");
        }
        // The same text inside a string value, or as a value, is not a key.
        let body: Body =
            parse_body(br#"{"fee": 2, "note": "$serde_json::private::Number"}"#).unwrap();
        assert_eq!(body.note, "$serde_json::private::Number");
        let body: Body =
            parse_body(br#"{"fee": 2, "note": "\"$serde_json::private::Number\": 1"}"#).unwrap();
        assert_eq!(body.fee, Amount::whole(2));
    }

    #[test]
    fn control_characters_in_strings_are_422_at_their_field() {
        for text in [
            "a\\u0000b",
            "tab\\there",
            "line\\nbreak",
            "\\u007f",
            "\\u0085",
        ] {
            let body = format!(r#"{{"fee": "1", "note": "{text}"}}"#);
            assert_eq!(problems(&body), pairs(&[("value_error", "note")]), "{text}");
        }
        // Letters of any script and ordinary punctuation are fine.
        let body: Body =
            parse_body("{\"fee\": 1, \"note\": \"سارا – O'Brien\"}".as_bytes()).unwrap();
        assert_eq!(body.note, "سارا – O'Brien");
    }

    #[test]
    fn a_valid_body_parses() {
        let body: Body = parse_body(br#"{"fee": 1e-5, "note": "x"}"#).unwrap();
        assert_eq!(body.fee.to_string(), "0.00001000");
    }
}

#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde::Deserialize;

    use super::*;
    use saghat_core::platform::money::Amount;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Pay {
        membership_fee: Amount,
        loan: Option<Amount>,
        bitpin_payment_id: String,
    }

    impl Validate for Pay {
        const REQUIRED: &'static [&'static str] = &["membership_fee", "bitpin_payment_id"];
    }

    /// JSON values, nested a little, with keys that sometimes match the struct's.
    fn json_value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[1-9][0-9]{0,13}\\.[0-9]{1,10}".prop_map(|s| serde_json::from_str(&s).unwrap()),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map(
                    prop_oneof![
                        Just("membership_fee".to_string()),
                        Just("loan".to_string()),
                        Just("bitpin_payment_id".to_string()),
                        "[a-z]{1,6}"
                    ],
                    inner,
                    0..4
                )
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Arbitrary bytes: a 400 when they are not JSON, never a panic.
        #[test]
        fn any_bytes_are_parsed_or_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            match parse_body::<Pay>(&bytes) {
                Ok(_) | Err(ApiError::Validation(_)) => prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_ok()),
                Err(ApiError::BadRequest(_)) => prop_assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_err()),
                Err(other) => prop_assert!(false, "unexpected {other:?}"),
            }
        }

        /// Any JSON: accepted only when it is an object of the right shape; otherwise a 422 with
        /// at least one problem, each pointing into the body.
        #[test]
        fn any_json_gets_a_clear_answer(value in json_value()) {
            let bytes = serde_json::to_vec(&value).unwrap();
            match parse_body::<Pay>(&bytes) {
                Ok(_) => prop_assert!(value.is_object()),
                Err(ApiError::Validation(problems)) => {
                    prop_assert!(!problems.is_empty());
                    prop_assert!(problems.iter().all(|p| p.loc.first().map(String::as_str) == Some("body")));
                }
                Err(other) => prop_assert!(false, "valid JSON must not get {other:?}"),
            }
        }
    }
}
