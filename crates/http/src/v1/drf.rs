//! The conventions of Django REST Framework (3.14) and simplejwt that `/api/v1` follows, in one
//! place: the error bodies, the JSON body extractor, bearer authentication and pagination.
//!
//! The rest of Saghat's API answers `{"detail": …}` with a 422 list for schema problems; a DRF
//! front end expects `400 {"field": ["message"]}` instead, and DRF's exact sentences for 401,
//! 403, 404 and 405. Handlers return [`DrfError`], which the services' errors convert into.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, FieldError};
use crate::extract::has_control_characters;
use crate::state::AppState;
use saghat_core::auth::error::AuthError;
use saghat_core::auth::service::authenticate;
use saghat_core::auth::CurrentUser;
use saghat_core::invoicing::access::{allowed, Action};
use saghat_core::invoicing::error::InvoicingError;
use saghat_core::invoicing::service::PortalUserError;
use saghat_core::platform::idempotency::{
    IdempotencyError, IdempotencyKey, HEADER as IDEMPOTENCY_HEADER,
};

/// DRF's key for errors that belong to no one field.
pub const NON_FIELD_ERRORS: &str = "non_field_errors";
pub const REQUIRED: &str = "This field is required.";
pub const NOT_NULL: &str = "This field may not be null.";
pub const NOT_BLANK: &str = "This field may not be blank.";

/// An error of `/api/v1`, answered in DRF's shape.
#[derive(Debug, thiserror::Error)]
pub enum DrfError {
    /// 400 `{"field": ["message", …], "non_field_errors": […]}`.
    #[error("invalid input")]
    Fields(BTreeMap<String, Vec<String>>),
    /// 400 `{"detail": "JSON parse error - …"}`.
    #[error("JSON parse error - {0}")]
    Parse(String),
    /// 415, as DRF answers a body that is not JSON by its content type.
    #[error("Unsupported media type \"{0}\" in request.")]
    UnsupportedMediaType(String),
    #[error("Authentication credentials were not provided.")]
    NotAuthenticated,
    /// A malformed `Authorization: Bearer` header (simplejwt's `bad_authorization_header`).
    #[error("Authorization header must contain two space-delimited values")]
    BadAuthorizationHeader,
    /// An access token that is invalid, expired, revoked, or whose user is gone.
    #[error("Given token not valid for any token type")]
    InvalidAccessToken,
    /// A refresh token that is unknown, spent or past its sign-in's lifetime.
    #[error("Token is invalid or expired")]
    InvalidRefreshToken,
    /// simplejwt's answer to a wrong username or password.
    #[error("No active account found with the given credentials")]
    NoActiveAccount,
    #[error("You do not have permission to perform this action.")]
    PermissionDenied,
    #[error("Not found.")]
    NotFound,
    #[error("Invalid page.")]
    InvalidPage,
    #[error("Invalid cursor")]
    InvalidCursor,
    #[error("Method \"{0}\" not allowed.")]
    MethodNotAllowed(String),
    #[error("Request was throttled. Expected available in {wait_secs} seconds.")]
    Throttled { wait_secs: u64 },
    /// 409 `{"detail": …}`: a conflict the service reported.
    #[error("{0}")]
    Conflict(String),
    /// 400 `{"detail": …}`: a malformed header (`Idempotency-Key`).
    #[error("{0}")]
    BadRequest(String),
    /// 422 `{"detail": …}`: an `Idempotency-Key` used before with another request.
    #[error("{0}")]
    Unprocessable(String),
    /// Everything that is not the client's fault in DRF's terms (413, 503, 500): answered as
    /// the rest of the API answers it, which is already `{"detail": …}`.
    #[error(transparent)]
    Api(ApiError),
}

pub type DrfResult<T> = Result<T, DrfError>;

impl DrfError {
    /// One field's one message.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        DrfError::Fields(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            DrfError::Fields(_) | DrfError::Parse(_) => StatusCode::BAD_REQUEST,
            DrfError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            DrfError::NotAuthenticated
            | DrfError::BadAuthorizationHeader
            | DrfError::InvalidAccessToken
            | DrfError::InvalidRefreshToken
            | DrfError::NoActiveAccount => StatusCode::UNAUTHORIZED,
            DrfError::PermissionDenied => StatusCode::FORBIDDEN,
            DrfError::NotFound | DrfError::InvalidPage | DrfError::InvalidCursor => {
                StatusCode::NOT_FOUND
            }
            DrfError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            DrfError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
            DrfError::Conflict(_) => StatusCode::CONFLICT,
            DrfError::BadRequest(_) => StatusCode::BAD_REQUEST,
            DrfError::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            DrfError::Api(e) => e.status(),
        }
    }

    /// The JSON body DRF (or simplejwt) gives this error.
    fn body(&self) -> Value {
        match self {
            DrfError::Fields(fields) => nest(fields),
            DrfError::BadAuthorizationHeader => {
                json!({ "detail": self.to_string(), "code": "bad_authorization_header" })
            }
            DrfError::InvalidAccessToken => json!({
                "detail": self.to_string(),
                "code": "token_not_valid",
                "messages": [{
                    "token_class": "AccessToken",
                    "token_type": "access",
                    "message": "Token is invalid or expired",
                }],
            }),
            DrfError::InvalidRefreshToken => {
                json!({ "detail": self.to_string(), "code": "token_not_valid" })
            }
            other => json!({ "detail": other.to_string() }),
        }
    }
}

impl IntoResponse for DrfError {
    fn into_response(self) -> Response {
        if let DrfError::Api(e) = self {
            return e.into_response();
        }
        let status = self.status();
        let mut response = (status, Json(self.body())).into_response();
        let headers = response.headers_mut();
        if status == StatusCode::UNAUTHORIZED {
            // What DRF sends with JWTAuthentication, so a client knows which scheme to use.
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"api\""),
            );
        }
        if let DrfError::Throttled { wait_secs } = self {
            headers.insert(RETRY_AFTER, HeaderValue::from(wait_secs.max(1)));
        }
        response
    }
}

/// Field errors as DRF nests them: a key `lines[1].unit_price` (as the services and the
/// handlers name a value inside a list or an object) becomes `{"lines": [{}, {"unit_price":
/// [...]}]}`, a list serializer's one object per item, `{}` for the items without errors.
fn nest(fields: &BTreeMap<String, Vec<String>>) -> Value {
    let mut out = Value::Object(Map::new());
    for (key, messages) in fields {
        let messages = json!(messages);
        // On a copy: a clash found halfway must leave no padding behind.
        let mut nested = out.clone();
        if insert_at(&mut nested, &path_of(key), messages.clone()) {
            out = nested;
        } else {
            // A path that clashes with another error's (a field both listed and nested):
            // the flat key keeps both.
            if let Value::Object(map) = &mut out {
                map.insert(key.clone(), messages);
            }
        }
    }
    out
}

/// One step of a field's path: a name in an object or an index in a list.
#[derive(Debug, PartialEq)]
enum Step {
    Name(String),
    Index(usize),
}

/// `lines[1].discount.amount` as its steps; a key that is not such a path is one name.
fn path_of(key: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in key.split('.') {
        let (name, rest) = part.split_once('[').unwrap_or((part, ""));
        if name.is_empty() {
            return vec![Step::Name(key.into())];
        }
        steps.push(Step::Name(name.into()));
        if rest.is_empty() {
            continue;
        }
        for index in rest.trim_end_matches(']').split("][") {
            match index.parse::<usize>() {
                // An index a request could make huge would build a huge list.
                Ok(i) if i < 10_000 && rest.ends_with(']') => steps.push(Step::Index(i)),
                _ => return vec![Step::Name(key.into())],
            }
        }
    }
    steps
}

/// Puts `leaf` at `path` inside `at`, making the objects and the lists (padded with `{}`) on
/// the way; false if something else is already in the way.
fn insert_at(at: &mut Value, path: &[Step], leaf: Value) -> bool {
    let Some((step, rest)) = path.split_first() else {
        return false;
    };
    let empty = || match rest.first() {
        Some(Step::Index(_)) => Value::Array(Vec::new()),
        _ => Value::Object(Map::new()),
    };
    let slot = match (step, at) {
        (Step::Name(name), Value::Object(map)) => {
            if rest.is_empty() {
                return map.insert(name.clone(), leaf).is_none();
            }
            map.entry(name.clone()).or_insert_with(empty)
        }
        // A list of messages is a leaf, not a list of items.
        (Step::Index(i), Value::Array(items)) if !items.iter().any(Value::is_string) => {
            while items.len() <= *i {
                items.push(Value::Object(Map::new()));
            }
            if rest.is_empty() {
                items[*i] = leaf;
                return true;
            }
            if matches!(rest.first(), Some(Step::Index(_))) && items[*i] == json!({}) {
                items[*i] = Value::Array(Vec::new());
            }
            &mut items[*i]
        }
        _ => return false,
    };
    insert_at(slot, rest, leaf)
}

/// Schema problems found by a service (`{type, loc, msg}`) as DRF's field errors: a problem
/// about the whole body goes under `non_field_errors`, one about a nested value under its
/// top-level field.
pub fn field_errors(problems: Vec<FieldError>) -> DrfError {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for problem in problems {
        let key = match problem.loc.as_slice() {
            [scope, field, ..] if scope == "body" || scope == "query" => field.clone(),
            _ => NON_FIELD_ERRORS.to_string(),
        };
        fields.entry(key).or_default().push(problem.msg);
    }
    DrfError::Fields(fields)
}

impl From<ApiError> for DrfError {
    fn from(err: ApiError) -> Self {
        match err {
            ApiError::Validation(problems) => field_errors(problems),
            ApiError::BadRequest(msg) => {
                DrfError::Fields(BTreeMap::from([(NON_FIELD_ERRORS.into(), vec![msg])]))
            }
            ApiError::Unauthorized => DrfError::NotAuthenticated,
            ApiError::Forbidden(_) => DrfError::PermissionDenied,
            ApiError::NotFound(_) => DrfError::NotFound,
            ApiError::Conflict(msg) => DrfError::Conflict(msg),
            ApiError::TooManyRequests {
                retry_after_secs, ..
            } => DrfError::Throttled {
                wait_secs: retry_after_secs,
            },
            ApiError::Auth(e) => e.into(),
            other => DrfError::Api(other),
        }
    }
}

/// The account services' refusals, each where a DRF serializer would put it.
impl From<AuthError> for DrfError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::InvalidCredentials => DrfError::NoActiveAccount,
            AuthError::SessionEnded => DrfError::InvalidRefreshToken,
            AuthError::LockedOut { retry_after_secs } => DrfError::Throttled {
                wait_secs: retry_after_secs,
            },
            AuthError::InvalidUsername(msg) => DrfError::field("username", msg),
            // Django's own sentence for its unique username.
            AuthError::UsernameTaken => {
                DrfError::field("username", "A user with that username already exists.")
            }
            AuthError::InvalidPassword(msg) => DrfError::field("password", msg),
            AuthError::CannotDemoteSelf | AuthError::NotAnAdmin { .. } => {
                DrfError::field(NON_FIELD_ERRORS, err.to_string())
            }
            AuthError::UserNotFound => DrfError::NotFound,
            AuthError::Invalid(problems) => field_errors(problems),
            // Store, hashing pool, internal: the platform's answers (503, 500).
            other => DrfError::Api(ApiError::from(other)),
        }
    }
}

/// The invoicing services' refusals: a bad value under the field it names, an action the
/// role may not take 403.
impl From<InvoicingError> for DrfError {
    fn from(err: InvoicingError) -> Self {
        if let Some(field) = err.field() {
            let message = match &err {
                InvoicingError::Invalid { message, .. } => message.clone(),
                other => other.to_string(),
            };
            return DrfError::field(&api_field(&field), message);
        }
        match err {
            InvoicingError::Forbidden => DrfError::PermissionDenied,
            InvoicingError::NotFound => DrfError::NotFound,
            refused @ InvoicingError::NotADraft => {
                DrfError::field(NON_FIELD_ERRORS, refused.to_string())
            }
            InvoicingError::Store(e) => e.into(),
            InvoicingError::Idempotency(e) => e.into(),
            // A numbering pattern or a ledger posting that fails is the server's fault.
            other => DrfError::Api(ApiError::Internal(anyhow::Error::new(other))),
        }
    }
}

/// The name `/api/v1` gives a field the services name: DRF names a relation by the related
/// object (`client`, `lines[0].product`, not `client_id`), and the invoice in the path is no
/// field of the body (`non_field_errors`).
fn api_field(service_field: &str) -> String {
    if matches!(service_field, "invoice_id" | "recurring_id") {
        return NON_FIELD_ERRORS.into();
    }
    service_field
        .split('.')
        .map(|part| match part {
            "client_id" | "product_id" | "user_id" => part.trim_end_matches("_id"),
            other => other,
        })
        .collect::<Vec<_>>()
        .join(".")
}

/// The `Idempotency-Key` module's refusals: as the rest of the API answers them (422 for a key
/// reused with another request, 409 while its first request runs), in DRF's `detail` shape.
impl From<PortalUserError> for DrfError {
    fn from(err: PortalUserError) -> Self {
        match err {
            PortalUserError::Invoicing(e) => e.into(),
            PortalUserError::Auth(e) => e.into(),
        }
    }
}

impl From<IdempotencyError> for DrfError {
    fn from(err: IdempotencyError) -> Self {
        match err {
            IdempotencyError::MalformedKey => DrfError::BadRequest(err.to_string()),
            IdempotencyError::KeyReused => DrfError::Unprocessable(err.to_string()),
            IdempotencyError::InProgress => DrfError::Conflict(err.to_string()),
            IdempotencyError::Store(e) => e.into(),
            IdempotencyError::Internal(e) => DrfError::Api(ApiError::Internal(e)),
        }
    }
}

impl From<sqlx::Error> for DrfError {
    fn from(err: sqlx::Error) -> Self {
        DrfError::Api(err.into())
    }
}

/// The body of an `/api/v1` error, for the OpenAPI document: `detail` (and for token errors
/// `code`), or for 400 a list of messages per field.
#[derive(Serialize, ToSchema)]
pub struct DrfErrorBody {
    pub detail: Option<String>,
    /// simplejwt's machine-readable reason, e.g. `token_not_valid`.
    pub code: Option<String>,
    /// For a 400: each field's messages (and `non_field_errors`), as further properties; a
    /// list field's are one object of its item's errors per item (`{"lines": [{}, {"quantity":
    /// ["…"]}]}`), an object field's an object of its fields'.
    #[serde(flatten)]
    #[schema(value_type = BTreeMap<String, serde_json::Value>)]
    pub fields: BTreeMap<String, Value>,
}

// --- the JSON body --------------------------------------------------------------------------

/// What a body type declares, as a DRF serializer's fields do: the required ones, the text
/// ones that may not be blank, the optional ones that may be left out but not sent as `null`
/// (serde would read `null` as left out), and the rules that run once every field is
/// well-formed.
pub trait DrfBody {
    const REQUIRED: &'static [&'static str] = &[];
    const NOT_BLANK: &'static [&'static str] = &[];
    const NOT_NULL: &'static [&'static str] = &[];

    fn validate(&self) -> Vec<FieldError> {
        vec![]
    }
}

/// A JSON body of type `T`, read as a DRF serializer reads one: an empty body is `{}`, unknown
/// fields are ignored (a client may send back a whole object with its read-only fields), every
/// missing or malformed field is reported at once under its name, then `T`'s own rules run.
pub struct DrfJson<T>(pub T);

impl<S, T> FromRequest<S> for DrfJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + DrfBody,
{
    type Rejection = DrfError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = read_json_bytes(req, state).await?;
        Ok(DrfJson(parse(&bytes)?))
    }
}

/// The bytes of a JSON body: another content type is 415, a body past the limit 413.
async fn read_json_bytes<S: Send + Sync>(req: Request, state: &S) -> DrfResult<Bytes> {
    if let Some(kind) = req.headers().get(CONTENT_TYPE) {
        let text = String::from_utf8_lossy(kind.as_bytes()).to_string();
        let essence = text
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(DrfError::UnsupportedMediaType(text));
        }
    }
    Bytes::from_request(req, state)
        .await
        .map_err(|rejection| match rejection {
            BytesRejection::FailedToBufferBody(e)
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                DrfError::Api(ApiError::PayloadTooLarge)
            }
            _ => DrfError::Parse("the body could not be read".into()),
        })
}

/// The body of a request whose permission is checked first (as DRF checks permissions before
/// it reads a body): read now, parsed by [`LaterJson::parse`] once the handler has checked.
pub struct LaterJson(DrfResult<Bytes>);

impl LaterJson {
    pub fn parse<T: DeserializeOwned + DrfBody>(self) -> DrfResult<T> {
        parse(&self.0?)
    }
}

impl<S: Send + Sync> FromRequest<S> for LaterJson {
    type Rejection = DrfError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        Ok(LaterJson(read_json_bytes(req, state).await))
    }
}

/// The request's `Idempotency-Key` (if any), fingerprinted with its method, whole path and
/// body; a malformed key is refused only once the handler has checked the permission.
pub struct Idempotency(DrfResult<Option<IdempotencyKey>>);

impl Idempotency {
    pub fn key(self) -> DrfResult<Option<IdempotencyKey>> {
        self.0
    }

    fn of(parts: &Parts, body: &[u8]) -> Idempotency {
        let path = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(parts.uri.path(), |original| original.0.path());
        let value = parts.headers.get(IDEMPOTENCY_HEADER).map(|v| v.as_bytes());
        Idempotency(
            IdempotencyKey::from_header(value, parts.method.as_str(), path, body)
                .map_err(DrfError::from),
        )
    }
}

/// A body read for later (as [`LaterJson`]) with the request's `Idempotency-Key`.
pub struct IdempotentJson {
    pub body: LaterJson,
    pub idempotency: Idempotency,
}

impl<S: Send + Sync> FromRequest<S> for IdempotentJson {
    type Rejection = DrfError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = req.into_parts();
        let bytes = read_json_bytes(Request::from_parts(parts.clone(), body), state).await;
        let idempotency = Idempotency::of(&parts, bytes.as_deref().unwrap_or_default());
        Ok(IdempotentJson {
            body: LaterJson(bytes),
            idempotency,
        })
    }
}

/// The `Idempotency-Key` of a request without a body.
impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = DrfError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Idempotency::of(parts, b""))
    }
}

/// Parses and validates a body as [`DrfJson`] does.
pub fn parse<T: DeserializeOwned + DrfBody>(bytes: &[u8]) -> DrfResult<T> {
    let value: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(bytes).map_err(|e| DrfError::Parse(e.to_string()))?
    };
    let Value::Object(object) = value else {
        let got = python_type(&value);
        return Err(DrfError::field(
            NON_FIELD_ERRORS,
            format!("Invalid data. Expected a dictionary, but got {got}."),
        ));
    };
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // An object where a number belongs would otherwise pass as serde_json's private number.
    for field in crate::extract::private_number_fields(bytes) {
        fields
            .entry(field)
            .or_default()
            .push("A valid number is required.".into());
    }
    for (key, value) in &object {
        if holds_control_characters(value) && !fields.contains_key(key) {
            fields
                .entry(key.clone())
                .or_default()
                .push("Control characters are not allowed.".into());
        }
    }
    for field in T::REQUIRED {
        if !object.contains_key(*field) {
            fields.insert(field.to_string(), vec![REQUIRED.into()]);
        }
    }
    for field in T::NOT_BLANK {
        if object.get(*field).and_then(Value::as_str) == Some("") {
            fields.insert(field.to_string(), vec![NOT_BLANK.into()]);
        }
    }
    for field in T::NOT_NULL {
        if object.get(*field).is_some_and(Value::is_null) {
            fields.insert(field.to_string(), vec![NOT_NULL.into()]);
        }
    }
    if fields.is_empty() {
        match serde_path_to_error::deserialize::<_, T>(Value::Object(object.clone())) {
            Ok(parsed) => {
                let problems = parsed.validate();
                return if problems.is_empty() {
                    Ok(parsed)
                } else {
                    Err(field_errors(problems))
                };
            }
            Err(first) => {
                let key = first_segment(&first).unwrap_or_else(|| NON_FIELD_ERRORS.into());
                fields.insert(key, vec![drf_message(first.inner())]);
            }
        }
    }
    // serde stops at the first problem: try each other field alone. A field alone fails for
    // the missing others too; only its own problem counts.
    for (key, value) in &object {
        if fields.contains_key(key) {
            continue;
        }
        let alone = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        if let Err(err) = serde_path_to_error::deserialize::<_, T>(alone) {
            if first_segment(&err).as_deref() == Some(key.as_str()) {
                fields.insert(key.clone(), vec![drf_message(err.inner())]);
            }
        }
    }
    Err(DrfError::Fields(fields))
}

fn first_segment(err: &serde_path_to_error::Error<serde_json::Error>) -> Option<String> {
    match err.path().iter().next()? {
        serde_path_to_error::Segment::Map { key } => Some(key.clone()),
        _ => None,
    }
}

fn holds_control_characters(value: &Value) -> bool {
    match value {
        Value::String(text) => has_control_characters(text),
        Value::Array(items) => items.iter().any(holds_control_characters),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| has_control_characters(k) || holds_control_characters(v)),
        _ => false,
    }
}

/// The name Python gives a JSON value's type, as DRF's "Expected a dictionary" says it.
fn python_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_i64() || n.is_u64() => "int",
        Value::Number(_) => "float",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// A serde message in DRF's words for the field type it concerns.
fn drf_message(err: &serde_json::Error) -> String {
    use saghat_core::platform::money::AmountError;
    let full = err.to_string();
    let message = full
        .rsplit_once(" at line ")
        .map_or(full.as_str(), |(m, _)| m);
    if let Some(problem) = AmountError::from_message(message) {
        return problem.message().into();
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        let (got, expected) = rest.split_once(", expected ").unwrap_or((rest, ""));
        let integer = expected
            .strip_prefix(['i', 'u'])
            .is_some_and(|bits| !bits.is_empty() && bits.bytes().all(|b| b.is_ascii_digit()));
        return match expected {
            _ if got == "null" => NOT_NULL.into(),
            "a string" => "Not a valid string.".into(),
            "a boolean" => "Must be a valid boolean.".into(),
            "a sequence" => format!("Expected a list of items but got type \"{got}\"."),
            "string or map" => "Not a valid choice.".into(),
            _ if integer => "A valid integer is required.".into(),
            _ => format!("Invalid value: {message}."),
        };
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let name = rest.split('`').nth(1).unwrap_or("");
        return format!("\"{name}\" is not a valid choice.");
    }
    if message.starts_with("missing field ") {
        return REQUIRED.into();
    }
    message.to_string()
}

// --- authentication -------------------------------------------------------------------------

/// The signed-in user of an `/api/v1` request (simplejwt's `JWTAuthentication` with
/// `IsAuthenticated`): the same access tokens as the rest of the API.
#[derive(Debug, Clone)]
pub struct Authenticated(pub CurrentUser);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = DrfError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            return Err(DrfError::NotAuthenticated);
        };
        let text = header
            .to_str()
            .map_err(|_| DrfError::BadAuthorizationHeader)?;
        let mut words = text.split_whitespace();
        // Another scheme is not ours to judge, as simplejwt leaves it to other authenticators.
        match words.next() {
            Some(scheme) if scheme.eq_ignore_ascii_case("bearer") => {}
            _ => return Err(DrfError::NotAuthenticated),
        }
        let (Some(token), None) = (words.next(), words.next()) else {
            return Err(DrfError::BadAuthorizationHeader);
        };
        match authenticate(state, token).await? {
            Some(user) => Ok(Authenticated(user)),
            None => Err(DrfError::InvalidAccessToken),
        }
    }
}

/// A signed-in user who manages users (DRF's `IsAdminUser`: `Action::ManageUsers`, the admins),
/// checked before the body
/// is read, as DRF checks permissions first: anyone else gets 403.
#[derive(Debug, Clone)]
pub struct Admin(pub CurrentUser);

impl FromRequestParts<AppState> for Admin {
    type Rejection = DrfError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Authenticated(user) = Authenticated::from_request_parts(parts, state).await?;
        may(&user, Action::ManageUsers)?;
        Ok(Admin(user))
    }
}

/// Refuses with 403 unless the user's role may do `action` at all (seed 004's permission
/// classes, from the one access function in core). The service checks again, per record.
pub fn may(user: &CurrentUser, action: Action) -> DrfResult<()> {
    // A client user's rights are over its own client, which the service resolves.
    let own = (user.role == saghat_core::auth::Role::Client).then_some(0);
    if allowed(user.role, own, action, own) {
        Ok(())
    } else {
        Err(DrfError::PermissionDenied)
    }
}

// --- pagination -----------------------------------------------------------------------------

/// DRF's `PAGE_SIZE` for `/api/v1` lists, and `max_page_size` for `?page_size=`.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;

/// One page of a list (DRF's `PageNumberPagination`): links are absolute, `null` at the ends.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub count: u64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// One page of a list paged by a cursor (DRF's `CursorPagination`), for lists too long to
/// count (invoices): the same envelope without `count`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CursorPage<T> {
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<T>,
}

/// The address of the request, to build absolute `next`/`previous` links from, as Django's
/// `build_absolute_uri` does: the `Host` header (already checked against `ALLOWED_HOSTS`) and
/// `X-Forwarded-Proto` when the proxy headers are trusted.
#[derive(Debug, Clone)]
pub struct RequestUrl {
    /// `scheme://host/path`, without the query.
    pub base: String,
    /// The query's pairs, in order.
    pub query: Vec<(String, String)>,
}

impl RequestUrl {
    pub fn from_parts(parts: &Parts, trust_proxy_headers: bool) -> RequestUrl {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let scheme = trust_proxy_headers
            .then(|| header("x-forwarded-proto"))
            .flatten()
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| matches!(*v, "http" | "https"))
            .unwrap_or("http");
        let host = parts
            .headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| parts.uri.authority().map(|a| a.as_str()))
            .unwrap_or("localhost");
        // Under `nest` the router sees the path without `/api/v1`; links need the whole one.
        let uri = parts
            .extensions
            .get::<axum::extract::OriginalUri>()
            .map_or(&parts.uri, |original| &original.0);
        let query = uri
            .query()
            .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
            .unwrap_or_default();
        RequestUrl {
            base: format!("{scheme}://{host}{}", uri.path()),
            query,
        }
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// This URL with `name` set to `value` (or removed), the query sorted by name as Django's
    /// `replace_query_param` writes it.
    pub fn with_param(&self, name: &str, value: Option<&str>) -> String {
        let mut query: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (k, v) in &self.query {
            if k != name {
                query.entry(k).or_default().push(v);
            }
        }
        if let Some(value) = value {
            query.insert(name, vec![value]);
        }
        if query.is_empty() {
            return self.base.clone();
        }
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, values) in query {
            for v in values {
                out.append_pair(k, v);
            }
        }
        format!("{}?{}", self.base, out.finish())
    }
}

impl FromRequestParts<AppState> for RequestUrl {
    type Rejection = DrfError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(RequestUrl::from_parts(
            parts,
            state.config.trust_proxy_headers,
        ))
    }
}

/// `?page_size=`: DRF ignores one that is not a positive integer, and caps a large one.
fn page_size(url: &RequestUrl) -> u64 {
    url.param("page_size")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|&n| n > 0)
        .map_or(DEFAULT_PAGE_SIZE, |n| n.min(MAX_PAGE_SIZE))
}

/// `?page=` and `?page_size=` of a list request, with its URL for the links.
#[derive(Debug, Clone)]
pub struct PageQuery {
    pub url: RequestUrl,
    pub size: u64,
}

/// The rows a page asks for, once the list's length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub number: u64,
    pub offset: u64,
    pub limit: u64,
    pub pages: u64,
}

impl PageQuery {
    pub fn new(url: RequestUrl) -> PageQuery {
        let size = page_size(&url);
        PageQuery { url, size }
    }

    /// The window of page `?page=` in a list of `count` rows. Like Django's `Paginator`, an
    /// empty list has one (empty) page, `last` names the last page, and a number that is not
    /// a page (0, past the end, not a number) is 404 "Invalid page.".
    pub fn window(&self, count: u64) -> DrfResult<Window> {
        let pages = count.div_ceil(self.size).max(1);
        let number = match self.url.param("page").map(str::trim) {
            None | Some("") => 1,
            Some("last") => pages,
            Some(text) => text.parse::<u64>().map_err(|_| DrfError::InvalidPage)?,
        };
        if number == 0 || number > pages {
            return Err(DrfError::InvalidPage);
        }
        Ok(Window {
            number,
            offset: (number - 1) * self.size,
            limit: self.size,
            pages,
        })
    }

    /// The envelope of `results`, the rows of `window` in a list of `count`.
    pub fn page<T>(&self, window: Window, count: u64, results: Vec<T>) -> Page<T> {
        let next = (window.number < window.pages).then(|| {
            self.url
                .with_param("page", Some(&(window.number + 1).to_string()))
        });
        // DRF's link to the first page has no `page` at all.
        let previous = match window.number {
            1 => None,
            2 => Some(self.url.with_param("page", None)),
            n => Some(self.url.with_param("page", Some(&(n - 1).to_string()))),
        };
        Page {
            count,
            next,
            previous,
            results,
        }
    }

    /// Pages a list the store reads a window at a time: `fetch(limit, offset)` answers the rows
    /// and the list's length. `?page=last` needs the length first (a read of no rows).
    pub async fn fetch<T, E, F, Fut>(&self, fetch: F) -> DrfResult<Page<T>>
    where
        F: Fn(i64, i64) -> Fut,
        Fut: std::future::Future<Output = Result<(Vec<T>, i64), E>>,
        DrfError: From<E>,
    {
        let asked = self.url.param("page").map(str::trim);
        let size = self.size as i64;
        let offset = match asked {
            Some("last") => {
                let (_, total) = fetch(0, 0).await?;
                self.window(total.max(0) as u64)?.offset as i64
            }
            None | Some("") => 0,
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n >= 1 => (n - 1).saturating_mul(size),
                _ => return Err(DrfError::InvalidPage),
            },
        };
        let (rows, total) = fetch(size, offset).await?;
        let count = total.max(0) as u64;
        let window = self.window(count)?;
        Ok(self.page(window, count, rows))
    }

    /// Pages a list that is read whole (a short one, such as the users).
    pub fn page_of<T>(&self, all: Vec<T>) -> DrfResult<Page<T>> {
        let count = all.len() as u64;
        let window = self.window(count)?;
        let results = all
            .into_iter()
            .skip(window.offset as usize)
            .take(window.limit as usize)
            .collect();
        Ok(self.page(window, count, results))
    }
}

impl FromRequestParts<AppState> for PageQuery {
    type Rejection = DrfError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(PageQuery::new(RequestUrl::from_parts(
            parts,
            state.config.trust_proxy_headers,
        )))
    }
}

/// Where a keyset page starts: after (or, going back, before) the row whose ordering key is
/// `position`, as DRF's `CursorPagination` keeps it in an opaque `?cursor=`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// The ordering key of the last row seen (the first, going back); `None` is the start.
    pub position: Option<String>,
    /// True for a `previous` link: the rows before `position`, read in reverse.
    pub reverse: bool,
}

impl Cursor {
    /// The opaque text of the cursor: `r=1&p=…` in hex, so it needs no escaping in a URL.
    pub fn encode(&self) -> String {
        let mut text = form_urlencoded::Serializer::new(String::new());
        if self.reverse {
            text.append_pair("r", "1");
        }
        if let Some(position) = &self.position {
            text.append_pair("p", position);
        }
        text.finish().bytes().map(|b| format!("{b:02x}")).collect()
    }

    pub fn decode(text: &str) -> DrfResult<Cursor> {
        // Hex digits only: a cursor with other characters (even multi-byte ones) is refused
        // before it is cut in pairs.
        if !text.is_ascii() || !text.len().is_multiple_of(2) || text.len() > 2048 {
            return Err(DrfError::InvalidCursor);
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()
            .map_err(|_| DrfError::InvalidCursor)?;
        let mut cursor = Cursor {
            position: None,
            reverse: false,
        };
        for (key, value) in form_urlencoded::parse(&bytes) {
            match &*key {
                "r" if value == "1" => cursor.reverse = true,
                "p" => cursor.position = Some(value.into_owned()),
                _ => return Err(DrfError::InvalidCursor),
            }
        }
        Ok(cursor)
    }
}

/// `?cursor=` and `?page_size=` of a list paged by key.
#[derive(Debug, Clone)]
pub struct CursorQuery {
    pub url: RequestUrl,
    pub cursor: Cursor,
    pub size: u64,
}

impl CursorQuery {
    pub fn new(url: RequestUrl) -> DrfResult<CursorQuery> {
        let cursor = match url.param("cursor") {
            Some(text) => Cursor::decode(text)?,
            None => Cursor {
                position: None,
                reverse: false,
            },
        };
        let size = page_size(&url);
        Ok(CursorQuery { url, cursor, size })
    }

    /// The envelope of a keyset read. `rows` are what the store returned for this cursor in
    /// the list's order, up to `size + 1` of them (the extra one says there is more in the
    /// direction read); `key` gives a row's ordering key.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> String) -> CursorPage<T> {
        let more = rows.len() as u64 > self.size;
        rows.truncate(self.size as usize);
        if self.cursor.reverse {
            // Read backwards; shown in the list's order.
            rows.reverse();
        }
        let link = |position: Option<String>, reverse: bool| {
            let cursor = Cursor { position, reverse };
            self.url.with_param("cursor", Some(&cursor.encode()))
        };
        let (has_next, has_previous) = if self.cursor.reverse {
            (self.cursor.position.is_some(), more)
        } else {
            (more, self.cursor.position.is_some())
        };
        let next = match rows.last() {
            Some(last) if has_next => Some(link(Some(key(last)), false)),
            // Went back past everything: the next page starts where we came from.
            None if has_next => Some(link(self.cursor.position.clone(), false)),
            _ => None,
        };
        let previous = match rows.first() {
            Some(first) if has_previous => Some(link(Some(key(first)), true)),
            None if has_previous => Some(link(self.cursor.position.clone(), true)),
            _ => None,
        };
        CursorPage {
            next,
            previous,
            results: rows,
        }
    }
}

impl FromRequestParts<AppState> for CursorQuery {
    type Rejection = DrfError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        CursorQuery::new(RequestUrl::from_parts(
            parts,
            state.config.trust_proxy_headers,
        ))
    }
}

/// A path id: anything that is not one is DRF's 404 (not a 400), as its URL patterns say.
pub fn path_id(text: &str) -> DrfResult<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or(DrfError::NotFound)
}

#[cfg(test)]
mod tests {
    use super::*;
    use saghat_core::auth::Role;
    use serde::Deserialize;

    fn url(query: &str) -> RequestUrl {
        let uri = format!("/api/v1/users/{query}");
        let request = axum::http::Request::builder()
            .uri(uri)
            .header(HOST, "saghat.example:8000")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        RequestUrl::from_parts(&parts, false)
    }

    fn fields(err: DrfError) -> Value {
        match err {
            DrfError::Fields(f) => json!(f),
            other => panic!("not field errors: {other:?}"),
        }
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Body {
        username: String,
        age: Option<i64>,
        active: Option<bool>,
        role: Option<Role>,
    }

    impl DrfBody for Body {
        const REQUIRED: &'static [&'static str] = &["username"];
        const NOT_BLANK: &'static [&'static str] = &["username"];
        const NOT_NULL: &'static [&'static str] = &["active"];
        fn validate(&self) -> Vec<FieldError> {
            if self.username == "root" {
                return vec![FieldError::body("username", "value_error", "reserved")];
            }
            vec![]
        }
    }

    #[test]
    fn every_bad_field_is_reported_under_its_name_in_drfs_words() {
        let err = parse::<Body>(br#"{"age": "x"}"#).unwrap_err();
        assert_eq!(
            fields(err),
            json!({ "username": [REQUIRED], "age": ["A valid integer is required."] })
        );
        let err = parse::<Body>(br#"{"username": 5, "age": "x", "active": 3, "role": "king"}"#)
            .unwrap_err();
        assert_eq!(
            fields(err),
            json!({
                "username": ["Not a valid string."],
                "age": ["A valid integer is required."],
                "active": ["Must be a valid boolean."],
                "role": ["\"king\" is not a valid choice."],
            })
        );
        let err = parse::<Body>(br#"{"username": null, "active": null}"#).unwrap_err();
        assert_eq!(
            fields(err),
            json!({ "username": [NOT_NULL], "active": [NOT_NULL] })
        );
        // An optional field that may be null reads as left out.
        let body = parse::<Body>(br#"{"username": "sam", "age": null}"#).unwrap();
        assert_eq!(body.age, None);
        let err = parse::<Body>(br#"{"username": "", "age": "x"}"#).unwrap_err();
        assert_eq!(
            fields(err),
            json!({ "username": [NOT_BLANK], "age": ["A valid integer is required."] })
        );
        // The body's own rules run once every field is well-formed.
        let err = parse::<Body>(br#"{"username": "root"}"#).unwrap_err();
        assert_eq!(fields(err), json!({ "username": ["reserved"] }));
        let err = parse::<Body>(b"{\"username\": \"a\\u0000b\"}").unwrap_err();
        assert_eq!(
            fields(err),
            json!({ "username": ["Control characters are not allowed."] })
        );
    }

    #[test]
    fn unknown_fields_are_ignored_and_an_empty_body_is_an_empty_object() {
        let body = parse::<Body>(br#"{"username": "sam", "id": 7, "extra": [1]}"#).unwrap();
        assert_eq!(body.username, "sam");
        let err = parse::<Body>(b"").unwrap_err();
        assert_eq!(fields(err), json!({ "username": [REQUIRED] }));
    }

    #[test]
    fn malformed_json_and_non_objects_get_drfs_answers() {
        match parse::<Body>(b"{\"username\":").unwrap_err() {
            DrfError::Parse(msg) => assert!(msg.contains("EOF"), "{msg}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            DrfError::Parse("x".into()).body(),
            json!({ "detail": "JSON parse error - x" })
        );
        let err = parse::<Body>(b"[1, 2]").unwrap_err();
        assert_eq!(
            fields(err),
            json!({ NON_FIELD_ERRORS: ["Invalid data. Expected a dictionary, but got list."] })
        );
        let err = parse::<Body>(b"\"text\"").unwrap_err();
        assert_eq!(
            fields(err),
            json!({ NON_FIELD_ERRORS: ["Invalid data. Expected a dictionary, but got str."] })
        );
    }

    #[test]
    fn service_problems_land_under_their_field_or_non_field_errors() {
        let err = field_errors(vec![
            FieldError::body("password", "value_error", "too short"),
            FieldError::body("password", "value_error", "too plain"),
            FieldError {
                kind: "model".into(),
                loc: vec!["body".into()],
                msg: "whole".into(),
            },
        ]);
        assert_eq!(
            fields(err),
            json!({ "password": ["too short", "too plain"], NON_FIELD_ERRORS: ["whole"] })
        );
    }

    #[test]
    fn page_windows_follow_djangos_paginator() {
        let q = PageQuery::new(url(""));
        assert_eq!(q.size, DEFAULT_PAGE_SIZE);
        // An empty list has one empty page, and no second.
        assert_eq!(q.window(0).unwrap().pages, 1);
        let q = PageQuery::new(url("?page=2"));
        assert!(matches!(q.window(0), Err(DrfError::InvalidPage)));
        let q = PageQuery::new(url("?page=3&page_size=10"));
        let w = q.window(25).unwrap();
        assert_eq!((w.number, w.offset, w.limit, w.pages), (3, 20, 10, 3));
        assert!(matches!(q.window(20), Err(DrfError::InvalidPage)));
        for bad in ["?page=0", "?page=x", "?page=-1"] {
            let q = PageQuery::new(url(bad));
            assert!(matches!(q.window(5), Err(DrfError::InvalidPage)), "{bad}");
        }
        let q = PageQuery::new(url("?page=last&page_size=2"));
        assert_eq!(q.window(5).unwrap().number, 3);
        // A page size past the cap is capped; a bad one is the default.
        assert_eq!(PageQuery::new(url("?page_size=1000")).size, MAX_PAGE_SIZE);
        assert_eq!(PageQuery::new(url("?page_size=0")).size, DEFAULT_PAGE_SIZE);
        assert_eq!(
            PageQuery::new(url("?page_size=ten")).size,
            DEFAULT_PAGE_SIZE
        );
    }

    #[test]
    fn page_links_are_absolute_sorted_and_the_first_has_no_page() {
        let q = PageQuery::new(url("?role=admin&page=2&page_size=2"));
        let page = q.page_of((1..=5).collect::<Vec<i32>>()).unwrap();
        assert_eq!(page.count, 5);
        assert_eq!(page.results, vec![3, 4]);
        assert_eq!(
            page.next.as_deref(),
            Some("http://saghat.example:8000/api/v1/users/?page=3&page_size=2&role=admin")
        );
        assert_eq!(
            page.previous.as_deref(),
            Some("http://saghat.example:8000/api/v1/users/?page_size=2&role=admin")
        );
        let q = PageQuery::new(url("?page=3&page_size=2"));
        let page = q.page_of((1..=5).collect::<Vec<i32>>()).unwrap();
        assert_eq!(page.results, vec![5]);
        assert_eq!(page.next, None);
        assert_eq!(
            page.previous.as_deref(),
            Some("http://saghat.example:8000/api/v1/users/?page=2&page_size=2")
        );
        let page = PageQuery::new(url("")).page_of(vec![1]).unwrap();
        assert_eq!((page.next, page.previous), (None, None));
    }

    #[test]
    fn cursors_round_trip_and_refuse_forgeries() {
        let cursor = Cursor {
            position: Some("2026-11-22|42&x=1".into()),
            reverse: true,
        };
        assert_eq!(Cursor::decode(&cursor.encode()).unwrap(), cursor);
        for bad in ["zz", "abc", "783d31"] {
            assert!(
                matches!(Cursor::decode(bad), Err(DrfError::InvalidCursor)),
                "{bad}"
            );
        }
    }

    #[test]
    fn cursor_pages_link_both_ways() {
        let key = |n: &i32| n.to_string();
        // First page of 2 from rows 1..: the store returned 3 (one more than asked).
        // Not hex, not even ASCII: refused as an invalid cursor, never a panic.
        for bad in ["?cursor=%F1%BB%82%9E", "?cursor=zz", "?cursor=abc"] {
            assert!(matches!(
                CursorQuery::new(url(bad)),
                Err(DrfError::InvalidCursor)
            ));
        }
        let q = CursorQuery::new(url("?page_size=2")).unwrap();
        let page = q.page(vec![1, 2, 3], key);
        assert_eq!(page.results, vec![1, 2]);
        assert_eq!(page.previous, None);
        let next = page.next.unwrap();
        let next_cursor = next
            .split("cursor=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let cursor = Cursor::decode(next_cursor).unwrap();
        assert_eq!(cursor.position.as_deref(), Some("2"));
        assert!(!cursor.reverse);
        // The last page: nothing beyond, a way back before its first row.
        let q = CursorQuery::new(url(&format!("?page_size=2&cursor={next_cursor}"))).unwrap();
        let page = q.page(vec![3], key);
        assert_eq!(page.next, None);
        let previous = page.previous.unwrap();
        let back = previous
            .split("cursor=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let back = Cursor::decode(back).unwrap();
        assert_eq!((back.position.as_deref(), back.reverse), (Some("3"), true));
        // Going back: the store read 2, 1 (descending); shown ascending, no earlier page.
        let q = CursorQuery::new(url(&format!("?page_size=2&cursor={}", back.encode()))).unwrap();
        let page = q.page(vec![2, 1], key);
        assert_eq!(page.results, vec![1, 2]);
        assert_eq!(page.previous, None);
        assert!(page.next.is_some());
    }

    #[test]
    fn errors_inside_lists_and_objects_are_nested_as_drf_nests_them() {
        let err = DrfError::Fields(BTreeMap::from([
            (
                "lines[1].unit_price".to_string(),
                vec!["bad price".to_string()],
            ),
            (
                "lines[1].discount.amount".to_string(),
                vec!["bad".to_string()],
            ),
            ("lines[3].quantity".to_string(), vec!["bad qty".to_string()]),
            ("discount.percent".to_string(), vec!["too big".to_string()]),
            ("client".to_string(), vec!["gone".to_string()]),
        ]));
        assert_eq!(
            err.body(),
            json!({
                "lines": [
                    {},
                    { "unit_price": ["bad price"], "discount": { "amount": ["bad"] } },
                    {},
                    { "quantity": ["bad qty"] },
                ],
                "discount": { "percent": ["too big"] },
                "client": ["gone"],
            })
        );
        // A field both listed and nested keeps the nested one under its flat key.
        let err = DrfError::Fields(BTreeMap::from([
            ("lines".to_string(), vec!["empty".to_string()]),
            ("lines[0].quantity".to_string(), vec!["bad".to_string()]),
            ("lines[2].unit".to_string(), vec!["bad".to_string()]),
            ("odd[x]".to_string(), vec!["kept".to_string()]),
        ]));
        assert_eq!(
            err.body(),
            json!({
                "lines": ["empty"],
                "lines[0].quantity": ["bad"],
                "lines[2].unit": ["bad"],
                "odd[x]": ["kept"],
            })
        );
    }

    #[test]
    fn token_errors_have_simplejwts_bodies() {
        assert_eq!(
            DrfError::InvalidRefreshToken.body(),
            json!({ "detail": "Token is invalid or expired", "code": "token_not_valid" })
        );
        assert_eq!(
            DrfError::InvalidAccessToken.body()["detail"],
            "Given token not valid for any token type"
        );
        assert_eq!(
            DrfError::NotAuthenticated.body(),
            json!({ "detail": "Authentication credentials were not provided." })
        );
        assert_eq!(
            DrfError::MethodNotAllowed("PATCH".into()).body(),
            json!({ "detail": "Method \"PATCH\" not allowed." })
        );
    }
}
