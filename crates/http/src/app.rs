//! The application: shared state, the router with its middleware, start-up and serving.

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{
    CONNECTION, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, X_FRAME_OPTIONS,
};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use saghat_core::config::Config;
use saghat_core::platform::clock::SharedClock;
use saghat_core::platform::db::Db;
use saghat_core::platform::shared::Allowance;
use saghat_core::Ctx;

pub use crate::state::AppState;

use crate::error::ApiError;

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

#[derive(OpenApi)]
#[openapi(
    info(title = "Saghat", description = "Cooperative USDT loan fund: monthly fees per Jalali month, a monthly draw, repayments. \
        Amounts are decimal strings with 8 places; errors are `{\"detail\": …}`."),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Sign-in, tokens and members"),
         (name = "payments", description = "Monthly payments"),
         (name = "loans", description = "The monthly draw and loans"),
         (name = "wallet", description = "The double-entry ledger: balances, statements, transactions"),
         (name = "audit", description = "The audit log of critical actions"),
         (name = "jobs", description = "The background job queue: dead letters, retry, discard, depth"),
         (name = "notifications", description = "Notification preferences and the delivery log"),
         (name = "tickets", description = "Loan-request tickets: applications, review, maker-checker approval, disbursement and repayment"),
         (name = "payment-intents", description = "Online payments (Zarinpal): intents, the gateway's page, exchanges, settlement, reconciliation"),
         (name = "webhooks", description = "Signed outgoing webhooks: endpoints, their delivery log, replay"),
         (name = "reports", description = "Figures for dashboards and exports, as JSON or as CSV, XLSX and PDF files"),
         (name = "v1", description = "Seed 004's API in Django REST Framework's conventions: trailing slashes, simplejwt tokens, `{count, next, previous, results}` pages, errors as `{\"field\": [\"message\"]}` (400) or `{\"detail\": …}`"))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Documents on every operation the errors any of them can give, so clients (and schema
/// checkers) know every status to expect: 400 and 413 for a body, 401 where a token is needed,
/// 404 for a path id, 422 for a body or query, 429 rate limited, 503 database unavailable.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            // `/api/v1` documents its own, in DRF's shapes (`v1::CommonResponses`).
            if path.starts_with("/api/v1/") {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.patch,
                &mut item.put,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                let has_body = operation.request_body.is_some();
                let has_query = operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let needs_token = operation.security.as_ref().is_some_and(|s| !s.is_empty());
                let mut add = |status: &str, description: &str, applies: bool| {
                    if applies && !operation.responses.responses.contains_key(status) {
                        operation
                            .responses
                            .responses
                            .insert(status.to_string(), error(description).into());
                    }
                };
                add(
                    "400",
                    "Bad request: the body is not JSON, a business rule refused it, or the path holds control characters",
                    has_body || path.contains('{'),
                );
                add(
                    "401",
                    "Missing, invalid, expired or revoked token",
                    needs_token
                        || path.starts_with("/api/auth/login")
                        || path.starts_with("/api/auth/refresh"),
                );
                add("404", "Not found", path.contains('{'));
                add("413", "Request body too large", has_body);
                add(
                    "422",
                    "The body or query breaks the schema: one problem per field",
                    has_body || has_query,
                );
                add("429", "Too many requests (see Retry-After)", true);
                add(
                    "503",
                    "Database unavailable, or the request timed out",
                    true,
                );
            }
        }
    }
}

/// The OpenAPI document and the API routes it describes.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    // Paths exist only once the module routers are merged: add the common errors after that.
    let (router, mut openapi) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::auth::api::router())
        .merge(crate::auth::oidc::router())
        .merge(crate::fund::api::router())
        .merge(crate::fund::draws::router())
        .merge(crate::fund::membership::router())
        .merge(crate::fund::statements::router())
        .merge(crate::fund::years::router())
        .merge(crate::ledger::api::router())
        .merge(crate::audit::api::router())
        .merge(crate::jobs::api::router())
        .merge(crate::notify::api::router())
        .merge(crate::tickets::api::router())
        .merge(crate::webhooks::api::router())
        .merge(crate::intents::api::router())
        .merge(crate::reports::api::router())
        .merge(crate::reports::exports::router())
        .merge(crate::v1::router())
        .split_for_parts();
    CommonResponses.modify(&mut openapi);
    (router, openapi)
}

pub fn router(state: AppState) -> Router {
    let (api, openapi) = api();
    let config = state.config.clone();
    let pages_state = state.clone();
    // The recorder is in place before anything counts.
    crate::metrics::handle();
    Router::new()
        .merge(api)
        .merge(
            Router::new()
                .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
                .layer(middleware::map_response(forbid_framing)),
        )
        .route("/swagger", get(|| async { Redirect::permanent("/api/docs/") }))
        .route("/swagger/", get(|| async { Redirect::permanent("/api/docs/") }))
        .merge(crate::ops::router())
        .merge(crate::metrics::router())
        .merge(crate::web::router())
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({ "detail": "Not Found" }))) })
        .layer(middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .with_state(state)
        // Listed innermost first: the last layer sees the request first.
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, config.request_timeout))
        .layer(cors(&config.cors_origins))
        .layer(middleware::from_fn_with_state(body_limits(&config), refuse_declared_oversize))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            config.max_body_bytes,
            crate::extract::reject_control_characters,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "detail": "Internal server error" }))).into_response()
        }))
        // Outside the panic catcher: a web page's failure of any kind is an HTML page.
        .layer(middleware::from_fn_with_state(pages_state, crate::web::error_pages))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request| {
                    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::from_fn(drop_unfit_request_id))
        // Outermost: every answer is counted, with its full latency. A layer on the router
        // runs after routing, so the matched route's template is known.
        .layer(middleware::from_fn(crate::metrics::track))
}

/// The longest `X-Request-Id` taken from a client; longer ones, or ones with other characters
/// than letters, digits, `.`, `_` and `-`, are replaced by a fresh id, so a client cannot put
/// kilobytes or control characters into every log line and response.
const MAX_REQUEST_ID_LEN: usize = 64;

fn is_fit_request_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Removes an unfit incoming `X-Request-Id` (and any repeated one), so `SetRequestIdLayer`
/// generates one.
async fn drop_unfit_request_id(mut req: Request, next: Next) -> Response {
    let headers = req.headers();
    let ids = headers.get_all(X_REQUEST_ID);
    let mut values = ids.iter();
    let fit = match (values.next(), values.next()) {
        (Some(id), None) => is_fit_request_id(id.as_bytes()),
        _ => false,
    };
    if !fit {
        req.headers_mut().remove(X_REQUEST_ID);
    }
    next.run(req).await
}

/// The largest body of a request, and of an upload (an attachment and its form).
#[derive(Clone, Copy)]
struct BodyLimits {
    body: u64,
    upload: u64,
}

fn body_limits(config: &saghat_core::config::Config) -> BodyLimits {
    BodyLimits {
        body: config.max_body_bytes as u64,
        upload: config.tickets.attachment_max_bytes + crate::upload::MULTIPART_OVERHEAD_BYTES,
    }
}

/// A body declared (`Content-Length`) larger than `MAX_BODY_BYTES` (an upload: than
/// `ATTACHMENT_MAX_BYTES` and its form) is refused before a byte of it is read, and the
/// connection closed, instead of the server waiting for a body it would refuse anyway.
async fn refuse_declared_oversize(
    State(limits): State<BodyLimits>,
    req: Request,
    next: Next,
) -> Response {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = if crate::upload::is_upload_path(req.method(), req.uri().path()) {
        limits.upload
    } else {
        limits.body
    };
    if declared.is_some_and(|n| n > limit) {
        let mut response = (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({ "detail": "Request body too large" })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(req).await
}

/// The API docs may not be shown inside another site's frame (clickjacking).
async fn forbid_framing(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("frame-ancestors 'none'"),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow_origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| HeaderValue::from_str(o).ok()))
    };
    CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            axum::http::header::AUTHORIZATION,
            CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            axum::http::header::RETRY_AFTER,
        ])
}

/// `ALLOWED_HOSTS`: refuse requests for host names this deployment does not serve.
async fn check_host(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let allowed = &state.config.allowed_hosts;
    if allowed.iter().any(|h| h == "*") {
        return next.run(req).await;
    }
    let host = req
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let name = host
        .rsplit_once(':')
        .filter(|(_, port)| port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(n, _)| n);
    if allowed.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        next.run(req).await
    } else {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "detail": "Invalid host header" })),
        )
            .into_response()
    }
}

/// `RATE_LIMIT_PER_MINUTE` requests per client address, counted across instances in Redis (or
/// per process while Redis is away). Health checks are never limited.
async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if matches!(path, "/healthz" | "/readyz" | crate::metrics::PATH) {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let ip = crate::extract::client_ip(&parts, state.config.trust_proxy_headers);
    let now = state.now().timestamp().max(0) as u64;
    match state.shared.allow(&format!("ip:{ip}"), now).await {
        Allowance::Allowed => next.run(Request::from_parts(parts, body)).await,
        Allowance::Limited { retry_after_secs } => ApiError::TooManyRequests {
            detail: format!("Too many requests. Try again in {retry_after_secs} seconds."),
            retry_after_secs,
        }
        .into_response(),
    }
}

/// Every error leaves as `{"detail": …}`, including the ones produced by the framework and
/// middleware (405, 413, timeouts) rather than by our handlers.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    // JSON errors are already in shape; HTML ones are the web pages' own error pages.
    let already_shaped = response.headers().get(CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
    });
    if !(status.is_client_error() || status.is_server_error()) || already_shaped {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text).trim().to_string();
    let detail = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "Request body too large".to_string(),
        StatusCode::SERVICE_UNAVAILABLE if text.is_empty() => "Request timed out".to_string(),
        _ if text.is_empty() || status.is_server_error() => {
            status.canonical_reason().unwrap_or("Error").to_string()
        }
        _ => text,
    };
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        parts
            .headers
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    Response::from_parts(parts, Body::from(json!({ "detail": detail }).to_string()))
}

/// Connects, migrates, and makes sure the fund has a configuration and an admin.
pub async fn prepare(config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
    let db = Db::connect(&config.database_url, config.database_max_connections).await?;
    db.migrate().await?;
    let state = AppState::new(db, config, clock)?;
    let mut conn = state.db.pool.acquire().await?;
    saghat_core::fund::store::ensure_config(&mut conn, &Default::default(), state.now()).await?;
    drop(conn);
    let first = saghat_core::auth::service::ensure_first_admin(&state)
        .await
        .map_err(|e| {
            use saghat_core::auth::error::AuthError;
            let e = match e {
                AuthError::InvalidUsername(e) => anyhow::anyhow!("username: {e}"),
                AuthError::InvalidPassword(e) => anyhow::anyhow!("password: {e}"),
                e => e.into(),
            };
            e.context("cannot create the first admin")
        })?;
    if let Some(first) = first {
        tell_first_admin(&state, &first)?;
    }
    state
        .revoked
        .poll(&state.db, state.now(), state.access_lifetime())
        .await?;
    Ctx::start_background_sync(state.ctx());
    if state.bitpin.is_none() {
        tracing::warn!("BITPIN_API_KEY is not set: Bitpin payments are NOT verified");
    }
    Ok(state)
}

/// Where a generated first-admin password is written when stdout is not a terminal, in
/// `SAGHAT_DATA_DIR`.
pub const INITIAL_ADMIN_PASSWORD_FILE: &str = "initial-admin-password";

/// The generated first password goes to the terminal when there is one, else to a file only
/// this user can read; never into the logs, which are often collected and kept.
fn tell_first_admin(
    state: &AppState,
    first: &saghat_core::auth::service::FirstAdmin,
) -> anyhow::Result<()> {
    use anyhow::Context as _;
    use std::io::IsTerminal;
    let username = &first.username;
    let Some(password) = &first.generated_password else {
        tracing::info!(
            username,
            "first start: created the main user from SAGHAT_ADMIN_USERNAME"
        );
        return Ok(());
    };
    if std::io::stdout().is_terminal() {
        println!("\n  First start: created main user {username:?} with password {password}\n  Sign in and keep it safe; it is not shown again.\n");
        return Ok(());
    }
    let path = state.config.data_dir.join(INITIAL_ADMIN_PASSWORD_FILE);
    saghat_core::config::create_private_dir(&state.config.data_dir)?;
    // A file left by an earlier fund may have other permissions: start afresh.
    let _ = std::fs::remove_file(&path);
    saghat_core::config::write_private(&path, &format!("{password}\n"))
        .context("cannot write the first admin's password")?;
    tracing::warn!(
        username,
        file = %path.display(),
        "first start: created the main user with a generated password, written to the file (readable by this user only); sign in, then delete the file"
    );
    Ok(())
}

/// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    serve_until(state, listener, shutdown_signal()).await
}

/// Serves until `shutdown` completes, then stops accepting, closes idle connections and waits
/// (at most `REQUEST_TIMEOUT_SECONDS`) for the requests in flight.
///
/// Built on hyper-util's connection builder because `axum::serve` has no timeouts: without them
/// a client sending its headers a byte at a time, or opening connections and saying nothing,
/// holds a connection (and a file descriptor) for as long as it likes.
/// - `HEADER_READ_TIMEOUT_SECONDS`: hyper's HTTP/1 header-read timeout, counted from when the
///   server starts waiting for a request's head, so it also closes a kept-alive connection that
///   sends no next request.
/// - `IDLE_TIMEOUT_SECONDS`: every connection's socket is wrapped so that a read or write left
///   waiting on the client that long fails, and hyper closes the connection. This covers what
///   the header timeout does not: a stalled body, HTTP/2 connections, a client that stops
///   reading its answer.
pub async fn serve_until(
    state: AppState,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use tower::Service;

    let config = state.config.clone();
    let app = router(state);
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(true);
    builder.http2().timer(TokioTimer::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a moment instead of spinning, and keep serving.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let mut stream = tokio_io_timeout::TimeoutStream::new(stream);
        stream.set_read_timeout(Some(config.idle_timeout));
        stream.set_write_timeout(Some(config.idle_timeout));
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut()
                .insert(axum::extract::ConnectInfo(peer));
            app.clone().call(req)
        });
        let connection = builder
            .serve_connection(TokioIo::new(Box::pin(stream)), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection closed");
            }
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(config.request_timeout) => {
            tracing::warn!("shutting down with requests still in flight after REQUEST_TIMEOUT_SECONDS");
        }
    }
    Ok(())
}

/// SIGTERM or Ctrl-C: what `serve` and `saghat worker` stop on.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing the work in flight");
}
