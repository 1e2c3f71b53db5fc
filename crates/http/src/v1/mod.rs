//! `/api/v1`: seed 004's API in the conventions of Django REST Framework and simplejwt, which
//! its front end expects (see `drf`): trailing slashes, `{access, refresh}` tokens,
//! `{count, next, previous, results}` pages and `400 {"field": ["message"]}` errors.
//!
//! A path without its trailing slash is 404, as DRF's router answers it (no redirect: a
//! redirected POST would lose its body).

pub mod auth;
pub mod clients;
pub mod credit;
pub mod decimal;
pub mod drf;
pub mod invoices;
pub mod payments;
pub mod products;
pub mod recurring;
pub mod users;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use utoipa::Modify;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;
use drf::DrfError;

/// The routes under `/api/v1`, with DRF's 404 and 405 bodies.
pub fn router() -> OpenApiRouter<AppState> {
    let v1 = OpenApiRouter::new()
        .merge(auth::router())
        .merge(users::router())
        .merge(clients::router())
        .merge(products::router())
        .merge(invoices::router())
        .merge(payments::router())
        .merge(credit::router())
        .merge(recurring::router())
        .fallback(|| async { DrfError::NotFound })
        .layer(middleware::from_fn(method_not_allowed));
    let mut router = OpenApiRouter::new().nest("/api/v1", v1);
    CommonResponses.modify(router.get_openapi_mut());
    router
}

/// Documents on every `/api/v1` operation the errors any of them can give, in DRF's shapes:
/// 400 for a body or a path id, 401 where a token is needed, 404 for a path id, 413 and 415 for
/// a body, 429 rate limited, 503 database unavailable.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str, schema: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(schema)))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let has_body = operation.request_body.is_some();
                // A query parameter can be malformed too (a cursor, a status, a date).
                let has_query = operation
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query);
                let needs_token = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |status: &str, description: &str, applies: bool| {
                    if applies && !operation.responses.responses.contains_key(status) {
                        operation.responses.responses.insert(
                            status.to_string(),
                            // The query-string guard in front of every route answers in
                            // the rest of the API's shape.
                            error(
                                description,
                                if status == "422" {
                                    "ErrorBody"
                                } else {
                                    "DrfErrorBody"
                                },
                            )
                            .into(),
                        );
                    }
                };
                add(
                    "400",
                    "A field or query parameter is missing or malformed (`{\"field\": [\"message\"]}`), or the body is not JSON (`{\"detail\": \"JSON parse error - …\"}`)",
                    has_body || has_query || path.contains('{'),
                );
                add(
                    "401",
                    "Authentication credentials were not provided, or the token is not valid (`code`: `token_not_valid`)",
                    needs_token,
                );
                add("404", "Not found.", path.contains('{'));
                add(
                    "422",
                    "The query string holds control characters (refused before any endpoint reads it)",
                    has_query,
                );
                add("413", "Request body too large", has_body);
                add("415", "The body is not `application/json`", has_body);
                add("429", "Request was throttled (see Retry-After)", true);
                add(
                    "503",
                    "Database unavailable, or the request timed out",
                    true,
                );
            }
        }
    }
}

/// axum's 405 (a known path, another method) in DRF's words, keeping its `Allow` header.
async fn method_not_allowed(req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let response = next.run(req).await;
    if response.status() != StatusCode::METHOD_NOT_ALLOWED {
        return response;
    }
    let allow = response.headers().get(axum::http::header::ALLOW).cloned();
    let mut answer = DrfError::MethodNotAllowed(method).into_response();
    if let Some(allow) = allow {
        answer
            .headers_mut()
            .insert(axum::http::header::ALLOW, allow);
    }
    answer
}
