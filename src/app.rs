//! The application: shared state, the router with its middleware, start-up and serving.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
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

use crate::auth::tokens::JwtKeys;
use crate::config::Config;
use crate::gateways::bitpin::BitpinClient;
use crate::platform::clock::{ManualClock, SharedClock, SystemClock};
use crate::platform::db::Db;
use crate::platform::jalali::JalaliMonth;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub config: Arc<Config>,
    pub clock: SharedClock,
    pub jwt: JwtKeys,
    pub bitpin: Option<BitpinClient>,
}

impl AppState {
    pub fn new(db: Db, config: Config, clock: SharedClock) -> anyhow::Result<AppState> {
        let bitpin = match &config.bitpin_api_key {
            Some(key) => Some(BitpinClient::new(
                &config.bitpin_api_base_url,
                key,
                config.bitpin_timeout,
            )?),
            None => None,
        };
        Ok(AppState {
            jwt: JwtKeys::new(&config.jwt_secret_key, config.jwt_algorithm),
            db,
            config: Arc::new(config),
            clock,
            bitpin,
        })
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The Jalali month payments and draws belong to, in the fund's time zone.
    pub fn current_month(&self) -> JalaliMonth {
        JalaliMonth::containing(self.now(), self.config.fund_timezone)
    }
}

/// The clock the configuration asks for: the wall clock, or `SAGHAT_FAKE_NOW` (dev/test only).
pub fn clock_for(config: &Config) -> SharedClock {
    match config.fake_now {
        Some(at) => {
            tracing::warn!(%at, "SAGHAT_FAKE_NOW is set: the clock is fixed (never do this in production)");
            Arc::new(ManualClock::new(at))
        }
        None => Arc::new(SystemClock),
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Saghat", description = "Cooperative USDT loan fund: monthly fees per Jalali month, a monthly draw, repayments. \
        Amounts are decimal strings with 8 places; errors are `{\"detail\": …}`."),
    modifiers(&BearerAuth),
    tags((name = "auth", description = "Sign-in, tokens and members"),
         (name = "payments", description = "Monthly payments"),
         (name = "loans", description = "The monthly draw and loans"),
         (name = "wallet", description = "The double-entry ledger: balances, statements, transactions"),
         (name = "audit", description = "The audit log of critical actions"))
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

/// The OpenAPI document and the API routes it describes.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(crate::auth::http::router())
        .merge(crate::fund::http::router())
        .merge(crate::ledger::http::router())
        .merge(crate::platform::audit::http::router())
        .split_for_parts()
}

pub fn router(state: AppState) -> Router {
    let (api, openapi) = api();
    let config = state.config.clone();
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", openapi))
        .route("/swagger", get(|| async { Redirect::permanent("/api/docs/") }))
        .route("/swagger/", get(|| async { Redirect::permanent("/api/docs/") }))
        .merge(crate::ops::router())
        .merge(crate::web::router())
        .fallback(|| async { (StatusCode::NOT_FOUND, Json(json!({ "detail": "Not Found" }))) })
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .with_state(state)
        // Listed innermost first: the last layer sees the request first.
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, config.request_timeout))
        .layer(cors(&config.cors_origins))
        .layer(middleware::from_fn(json_errors))
        .layer(CatchPanicLayer::custom(|_| {
            (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({ "detail": "Internal server error" }))).into_response()
        }))
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

/// Every error leaves as `{"detail": …}`, including the ones produced by the framework and
/// middleware (405, 413, timeouts) rather than by our handlers.
async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
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
    crate::fund::store::ensure_config(&mut conn, &Default::default(), state.now()).await?;
    drop(conn);
    crate::cli::ensure_first_admin(&state).await?;
    if state.bitpin.is_none() {
        tracing::warn!("BITPIN_API_KEY is not set: Bitpin payments are NOT verified");
    }
    Ok(state)
}

/// Serves until SIGTERM or Ctrl-C, then finishes the requests in flight.
pub async fn serve(state: AppState, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let app = router(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
    .context("server error")
}

async fn shutdown_signal() {
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
    tracing::info!("shutting down: finishing requests in flight");
}
