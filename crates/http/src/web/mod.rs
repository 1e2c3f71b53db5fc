//! The web pages: server-rendered HTML for members and admins, served by the same binary as
//! the API and calling the same services (`auth::service`, `fund::service`), so a payment or a
//! draw made here follows exactly the API's rules.
//!
//! Layout: `session` (cookies, CSRF), `pages` (handlers and their templates in `templates/`),
//! `forms` (input and errors next to fields), `layers` (the language and headers of every page), `i18n` (English/Persian), `queries` (read-only
//! SQL of the pages), `chart` (the SVG chart). Static files are compiled into the binary.

pub mod bars;
pub mod chart;
pub mod forms;
pub mod i18n;
pub mod layers;
pub mod pages;
pub mod queries;
pub mod session;

pub use pages::errors::error_pages;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::HeaderName;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::state::AppState;
use layers::{page_headers, remember_lang};
use pages::invoicing as iv;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::account::home))
        .route(
            "/login",
            get(pages::account::login_page).post(pages::account::login),
        )
        .route("/logout", post(pages::account::logout))
        .route("/auth/oidc/{provider}/start", get(pages::oidc::start))
        .route("/auth/oidc/{provider}/callback", get(pages::oidc::callback))
        .route("/account/sign-in", get(pages::oidc::account))
        .route("/account/sign-in/{provider}/link", post(pages::oidc::link))
        .route(
            "/account/sign-in/{provider}/unlink",
            post(pages::oidc::unlink),
        )
        .route("/dashboard", get(pages::dashboard::show))
        .route(
            "/statements/{year}/{file}",
            get(pages::statements::download),
        )
        .route("/dashboard/pay", post(pages::dashboard::pay))
        .route(
            "/dashboard/loan-request",
            post(pages::dashboard::loan_request),
        )
        .route(
            "/dashboard/leave/confirm",
            post(pages::leaving_actions::confirm),
        )
        .route(
            "/dashboard/leave/decline",
            post(pages::leaving_actions::decline),
        )
        .route(
            "/notifications",
            get(pages::notifications::show).post(pages::notifications::save),
        )
        .route("/fund", get(pages::fund::show))
        .route("/fund/draw", post(pages::fund::draw))
        .route("/fund/draws/{loan_id}/verify", get(pages::draws::verify))
        .route(
            "/fund/draws/{loan_id}/proof.json",
            get(pages::draws::proof_file),
        )
        .route(
            "/admin/members",
            get(pages::admin::members).post(pages::admin::create_member),
        )
        .route(
            "/admin/config",
            get(pages::admin::config).post(pages::admin::save_config),
        )
        .route(
            "/admin/members/{id}",
            get(pages::admin::member).post(pages::admin::save_member),
        )
        .route("/admin/members/{id}/active", post(pages::admin::set_active))
        .route(
            "/admin/members/{id}/leave",
            get(pages::leaving_actions::ask_form).post(pages::leaving_actions::ask),
        )
        .route(
            "/admin/members/{id}/leave/withdraw",
            post(pages::leaving_actions::withdraw),
        )
        .route(
            "/admin/members/{id}/rejoin",
            post(pages::leaving_actions::rejoin),
        )
        .route(
            "/admin/members/{id}/password",
            post(pages::admin::reset_password),
        )
        .route("/admin/loans", get(pages::admin::loans))
        .route("/admin/jobs", get(pages::jobs::show))
        .route("/admin/jobs/{id}/retry", post(pages::jobs::retry))
        .route("/admin/jobs/{id}/discard", post(pages::jobs::discard))
        .route(
            "/admin/webhooks",
            get(pages::webhooks::show).post(pages::webhooks::create),
        )
        .route(
            "/admin/webhooks/deliveries/{id}/replay",
            post(pages::webhooks::replay),
        )
        .route(
            "/admin/webhooks/{id}/{change}",
            post(pages::webhooks::change),
        )
        .route(
            saghat_core::intents::service::CALLBACK_PATH,
            get(pages::pay::callback),
        )
        .route("/pay/{id}", get(pages::pay::result))
        .route("/tickets", get(pages::tickets::mine))
        .route(
            "/tickets/new",
            get(pages::tickets::new_form).post(pages::tickets::create),
        )
        .route("/tickets/{id}", get(pages::tickets::show))
        .route("/tickets/{id}/comment", post(pages::ticket_files::comment))
        // The file's own limit (ATTACHMENT_MAX_BYTES) is enforced while it is read.
        .route(
            "/tickets/{id}/files",
            post(pages::ticket_files::upload).layer(axum::extract::DefaultBodyLimit::disable()),
        )
        .route(
            "/tickets/{id}/files/{file}",
            get(pages::ticket_files::download),
        )
        .route(
            "/tickets/{id}/pay-online",
            post(pages::pay::pay_installment),
        )
        .route("/tickets/{id}/{action}", post(pages::tickets::act))
        .route("/review", get(pages::review::show))
        .route("/reports/invoicing", get(pages::reports::invoicing))
        .route("/reports/fund", get(pages::reports::fund))
        .route("/reports/tickets", get(pages::reports::tickets))
        .route("/reports/statement", get(pages::reports::statement))
        .route(
            "/reports/exports",
            get(pages::report_exports::list).post(pages::report_exports::create),
        )
        .route(
            "/reports/exports/{id}/file",
            get(pages::report_exports::file),
        )
        .route("/invoices", get(iv::invoices::list))
        .route(
            "/invoices/new",
            get(iv::editor::new_form).post(iv::editor::create),
        )
        .route("/invoices/totals", post(iv::editor::totals_fragment))
        .route("/invoices/{id}", get(iv::invoices::show))
        .route(
            "/invoices/{id}/edit",
            get(iv::editor::edit_form).post(iv::editor::update),
        )
        .route(
            "/invoices/{id}/{action}",
            get(iv::invoices::download).post(iv::invoices::act),
        )
        .route("/clients", get(iv::clients::list))
        .route(
            "/clients/new",
            get(iv::clients::new_form).post(iv::clients::create),
        )
        .route(
            "/clients/{id}",
            get(iv::clients::show).post(iv::clients::update),
        )
        .route("/clients/{id}/contacts", post(iv::clients::contact))
        .route("/payments", get(iv::payments::list))
        .route(
            "/payments/new",
            get(iv::payments::new_form).post(iv::payments::create),
        )
        .route("/payments/credit", post(iv::payments::use_credit))
        .route("/payments/refund", post(iv::payments::refund))
        .route("/portal", get(iv::portal::show))
        // The recurring invoices' pages.
        .route("/invoices/recurring", get(iv::recurring::list))
        .route(
            "/invoices/recurring/new",
            get(iv::recurring::new_form).post(iv::recurring::create),
        )
        .route(
            "/invoices/recurring/{id}",
            get(iv::recurring::show).post(iv::recurring::update),
        )
        .route(
            "/invoices/recurring/{id}/{action}",
            post(iv::recurring::act),
        )
        // The products' pages, the client's portal users and the editor's pickers.
        .route("/products", get(iv::products::list))
        .route(
            "/products/new",
            get(iv::products::new_form).post(iv::products::create),
        )
        .route(
            "/products/{id}",
            get(iv::products::show).post(iv::products::update),
        )
        .route("/products/{id}/archive", post(iv::products::archive))
        .route("/invoices/pick/clients", get(iv::pick::clients))
        .route("/invoices/pick/products", get(iv::pick::products))
        .route("/clients/{id}/users", post(iv::clients::create_user))
        .route(
            "/clients/{id}/users/{user}/unlink",
            post(iv::clients::unlink_user),
        )
        .layer(middleware::from_fn(remember_lang))
        .layer(middleware::from_fn(page_headers))
        .route("/static/htmx.min.js", get(htmx))
        .route("/static/app.css", get(css))
        .route("/static/app.js", get(js))
        .route("/static/favicon.svg", get(favicon))
        .route("/favicon.ico", get(favicon))
}

const HTMX: &str = include_str!("../../static/htmx.min.js");
const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
const FAVICON: &str = include_str!("../../static/favicon.svg");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
            (HeaderName::from_static("x-content-type-options"), "nosniff"),
        ],
        body,
    )
        .into_response()
}

async fn htmx() -> Response {
    asset("text/javascript; charset=utf-8", HTMX)
}

async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

/// Also at `/favicon.ico`, where browsers look without being told (an SVG: they read it).
async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON)
}
