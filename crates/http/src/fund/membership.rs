//! `/api/fund/…`: members leaving the fund (asked by an admin, confirmed by the member) and
//! rejoining it (`saghat_core::fund::membership`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::MainUser;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use saghat_core::auth::CurrentUser;
use saghat_core::fund::membership::service::{self, DepartureView};
use saghat_core::fund::membership::store::Departure;
use saghat_core::fund::membership::MembershipError;
use saghat_core::platform::audit::RequestMeta;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ask_to_leave, withdraw_request))
        .routes(routes!(rejoin))
        .routes(routes!(member_departures))
        .routes(routes!(my_departures))
        .routes(routes!(confirm_leaving))
        .routes(routes!(decline_leaving))
}

impl From<MembershipError> for ApiError {
    fn from(err: MembershipError) -> Self {
        match err {
            MembershipError::Store(e) => e.into(),
            MembershipError::Internal(e) => ApiError::Internal(e),
            e @ (MembershipError::NoSuchUser | MembershipError::NothingAsked) => {
                ApiError::not_found(e.to_string())
            }
            e @ MembershipError::OwesMore { .. } => ApiError::bad_request(e.to_string()),
            e @ (MembershipError::NotAMember
            | MembershipError::AlreadyLeft
            | MembershipError::AlreadyAsked
            | MembershipError::NotLeft) => ApiError::conflict(e.to_string()),
        }
    }
}

/// Ask a member to leave the fund. Nothing moves until they confirm; the answer says what
/// leaving now would give back (contributions less what their loan still owes). 400 when their
/// loan owes more than they paid in, 409 when they already left or were already asked.
#[utoipa::path(post, path = "/api/fund/members/{user_id}/leave", tag = "fund", security(("bearer" = [])),
    params(("user_id" = i64, Path)),
    responses((status = 201, body = DepartureView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn ask_to_leave(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
) -> ApiResult<(StatusCode, Json<DepartureView>)> {
    let asked = service::ask_to_leave(state.ctx(), &admin, user_id, &meta).await?;
    Ok((StatusCode::CREATED, Json(asked)))
}

/// Withdraw the request to leave before the member confirms it.
#[utoipa::path(delete, path = "/api/fund/members/{user_id}/leave", tag = "fund", security(("bearer" = [])),
    params(("user_id" = i64, Path)),
    responses((status = 200, body = Departure), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn withdraw_request(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
) -> ApiResult<Json<Departure>> {
    Ok(Json(
        service::cancel_leaving(state.ctx(), &admin, user_id, &meta).await?,
    ))
}

/// Let a member who left rejoin: they pay and take part in draws again, from no contributions.
#[utoipa::path(post, path = "/api/fund/members/{user_id}/rejoin", tag = "fund", security(("bearer" = [])),
    params(("user_id" = i64, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn rejoin(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(user_id): Path<i64>,
) -> ApiResult<StatusCode> {
    service::rejoin(state.ctx(), &admin, user_id, &meta).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A member's requests to leave, newest first.
#[utoipa::path(get, path = "/api/fund/members/{user_id}/departures", tag = "fund", security(("bearer" = [])),
    params(("user_id" = i64, Path)),
    responses((status = 200, body = Vec<DepartureView>), (status = 403, body = ErrorBody)))]
async fn member_departures(
    State(state): State<AppState>,
    _admin: MainUser,
    Path(user_id): Path<i64>,
) -> ApiResult<Json<Vec<DepartureView>>> {
    Ok(Json(service::departures_of(state.ctx(), user_id).await?))
}

/// My requests to leave the fund, newest first; an open one says what leaving now gives back.
#[utoipa::path(get, path = "/api/fund/my-departures", tag = "fund", security(("bearer" = [])),
    responses((status = 200, body = Vec<DepartureView>)))]
async fn my_departures(
    State(state): State<AppState>,
    user: CurrentUser,
) -> ApiResult<Json<Vec<DepartureView>>> {
    Ok(Json(service::departures_of(state.ctx(), user.id).await?))
}

/// Confirm leaving the fund: the contributions settle the loan's rest and the remainder is paid
/// back, posted to the ledger in the same transaction; no more payments or draws.
#[utoipa::path(post, path = "/api/fund/my-departures/confirm", tag = "fund", security(("bearer" = [])),
    responses((status = 200, body = Departure), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn confirm_leaving(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
) -> ApiResult<Json<Departure>> {
    Ok(Json(
        service::confirm_leaving(state.ctx(), &user, &meta).await?,
    ))
}

/// Decline the request to leave: nothing changes.
#[utoipa::path(post, path = "/api/fund/my-departures/decline", tag = "fund", security(("bearer" = [])),
    responses((status = 200, body = Departure), (status = 404, body = ErrorBody)))]
async fn decline_leaving(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
) -> ApiResult<Json<Departure>> {
    Ok(Json(
        service::cancel_leaving(state.ctx(), &user, user.id, &meta).await?,
    ))
}
