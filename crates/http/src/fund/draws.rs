//! The verifiable draw on `/api`: each month's published commitment, a draw's proof and its
//! verification (`saghat_core::fund::proof`).

use axum::extract::{Path, State};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::fund::access::may_see_draws;
use saghat_core::fund::proof::service::{self, PublishedCommitment};
use saghat_core::fund::proof::verify::{DrawProof, Verification};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_commitments))
        .routes(routes!(current_commitment))
        .routes(routes!(loan_proof))
        .routes(routes!(loan_proof_verification))
}

fn allowed(user: &CurrentUser) -> ApiResult<()> {
    if may_see_draws(user.role) {
        Ok(())
    } else {
        Err(ApiError::Forbidden(
            "Only the fund's members and accountants see its draws".into(),
        ))
    }
}

/// Every month's draw commitment, newest first: published when the month began, its seed
/// shown once the month's draw ran (or the month is over).
#[utoipa::path(get, path = "/api/draws", tag = "loans", security(("bearer" = [])),
    responses((status = 200, body = Vec<PublishedCommitment>), (status = 403, body = ErrorBody)))]
async fn list_commitments(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<PublishedCommitment>>> {
    allowed(&user)?;
    Ok(Json(service::commitments(state.ctx()).await?))
}

/// This month's draw commitment: SHA-256(seed ‖ year ‖ month) of the seed the draw will use.
#[utoipa::path(get, path = "/api/draws/current", tag = "loans", security(("bearer" = [])),
    responses((status = 200, body = PublishedCommitment), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
async fn current_commitment(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<PublishedCommitment>> {
    allowed(&user)?;
    let month = state.current_month();
    service::commitment_of(state.ctx(), month)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("No commitment is published for {month} yet")))
}

async fn proof(state: &AppState, user: &CurrentUser, loan_id: &str) -> ApiResult<DrawProof> {
    allowed(user)?;
    let loan_id = uuid::Uuid::parse_str(loan_id)
        .map_err(|_| ApiError::not_found("Invalid loan ID format"))?;
    service::proof_of_loan(state.ctx(), &loan_id.to_string())
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "No proof: no such loan, or its draw ran before draws were verifiable",
            )
        })
}

/// Everything needed to recompute the draw that made this loan: every active member's figures
/// as the draw read them, the fund's cash, the revealed seed and its commitment, the canonical
/// inputs and the numbers drawn. `docs/verify_draw.py` checks it without trusting the server.
#[utoipa::path(get, path = "/api/loans/{loan_id}/proof", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = String, Path, description = "The loan's UUID")),
    responses((status = 200, body = DrawProof), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn loan_proof(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(loan_id): Path<String>,
) -> ApiResult<Json<DrawProof>> {
    Ok(Json(proof(&state, &user, &loan_id).await?))
}

/// The server's own verification of the proof, step by step, including that the commitment is
/// the one the audit log published when the month began.
#[utoipa::path(get, path = "/api/loans/{loan_id}/proof/verification", tag = "loans", security(("bearer" = [])),
    params(("loan_id" = String, Path, description = "The loan's UUID")),
    responses((status = 200, body = Verification), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn loan_proof_verification(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(loan_id): Path<String>,
) -> ApiResult<Json<Verification>> {
    let proof = proof(&state, &user, &loan_id).await?;
    Ok(Json(service::verify_published(state.ctx(), &proof).await?))
}
