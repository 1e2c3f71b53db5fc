//! The HTTP stack's ceiling for `bench/run.sh`: plain axum + tokio (the versions Saghat uses),
//! no middleware, one route returning a constant JSON body about the size of Saghat's
//! `GET /api/payments/config` answer. Run in release:
//!
//! ```text
//! cargo run --release --example constant_handler -- 127.0.0.1:8999
//! ```

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;

const BODY: &str = r#"{"min_membership_fee":"20.00000000","max_month_for_loan_payment":24,"min_amount_for_loan_payment":"20.00000000"}"#;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8999".into());
    let app = Router::new().route(
        "/",
        get(|| async { ([(CONTENT_TYPE, "application/json")], BODY) }),
    );
    let listener = tokio::net::TcpListener::bind(&bind).await?;
    eprintln!("constant handler listening on {bind}");
    axum::serve(listener, app).await
}
