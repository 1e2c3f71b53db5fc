//! `/api/admin/jobs`: River's jobs by state, one job with its errors, retry, discard, and the
//! queue's summary (admins only).

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::MainUser;
use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::extract::{no_problems, page, Paged};
use crate::state::AppState;
use saghat_core::jobs::admin::{
    self, JobAdminError, JobDetail, JobFilter, JobState, JobSummary, QueueSummary,
};
use saghat_core::platform::audit::RequestMeta;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_jobs))
        .routes(routes!(queue_summary))
        .routes(routes!(get_job, discard_job))
        .routes(routes!(retry_job))
}

impl From<JobAdminError> for ApiError {
    fn from(err: JobAdminError) -> Self {
        match err {
            JobAdminError::Store(e) => e.into(),
            JobAdminError::NotFound => ApiError::not_found(err.to_string()),
            JobAdminError::Running => ApiError::conflict(err.to_string()),
        }
    }
}

/// A path's job id; one that is not a number names no job.
fn job_id(id: &str) -> Result<i64, ApiError> {
    id.parse().map_err(|_| JobAdminError::NotFound.into())
}

/// The queue's jobs in one state (default `discarded`: the dead letters), newest first.
#[utoipa::path(get, path = "/api/admin/jobs", tag = "jobs", security(("bearer" = [])),
    params(("state" = Option<JobState>, Query, description = "default discarded"), ("kind" = Option<String>, Query),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 500), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, body = Paged<JobSummary>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn list_jobs(
    State(state): State<AppState>,
    _admin: MainUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Paged<JobSummary>>> {
    let mut problems = vec![];
    let mut filter = JobFilter {
        kind: params.get("kind").filter(|k| !k.is_empty()).cloned(),
        ..JobFilter::default()
    };
    match params.get("state").map(|s| JobState::parse(s)) {
        Some(Some(job_state)) => filter.state = job_state,
        Some(None) => problems.push(FieldError::query("state", "enum", "Input should be 'pending', 'scheduled', 'available', 'running', 'retryable', 'completed', 'cancelled' or 'discarded'")),
        None => {}
    }
    let page = page(&params, &mut problems);
    no_problems(problems)?;
    let mut conn = state.db.pool.acquire().await?;
    let (items, total) = admin::list(
        &mut conn,
        state.db.backend,
        &filter,
        page.limit,
        page.offset,
    )
    .await?;
    Ok(Json(Paged::new(items, total, page)))
}

/// Jobs per state (the queue's depth) and how long the oldest available job has waited.
#[utoipa::path(get, path = "/api/admin/jobs/summary", tag = "jobs", security(("bearer" = [])),
    responses((status = 200, body = QueueSummary), (status = 403, body = ErrorBody)))]
async fn queue_summary(
    State(state): State<AppState>,
    _admin: MainUser,
) -> ApiResult<Json<QueueSummary>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(Json(admin::summary(&mut conn, state.db.backend).await?))
}

/// One job with every failed attempt's error, oldest first.
#[utoipa::path(get, path = "/api/admin/jobs/{job_id}", tag = "jobs", security(("bearer" = [])),
    params(("job_id" = i64, Path)),
    responses((status = 200, body = JobDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_job(
    State(state): State<AppState>,
    _admin: MainUser,
    Path(id): Path<String>,
) -> ApiResult<Json<JobDetail>> {
    let mut conn = state.db.pool.acquire().await?;
    Ok(Json(
        admin::get(&mut conn, state.db.backend, job_id(&id)?).await?,
    ))
}

/// Runs the job again now: available, with one more attempt if it used all of its attempts
/// (its attempt count and errors are kept). Audited as `job_retried`. A running job: 409.
#[utoipa::path(post, path = "/api/admin/jobs/{job_id}/retry", tag = "jobs", security(("bearer" = [])),
    params(("job_id" = i64, Path)),
    responses((status = 200, body = JobDetail), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The job is running")))]
async fn retry_job(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<Json<JobDetail>> {
    Ok(Json(
        admin::retry(&state, &admin, &meta, job_id(&id)?).await?,
    ))
}

/// Deletes the job for good. Audited as `job_discarded`. A running job: 409.
#[utoipa::path(delete, path = "/api/admin/jobs/{job_id}", tag = "jobs", security(("bearer" = [])),
    params(("job_id" = i64, Path)),
    responses((status = 204, description = "Deleted"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The job is running")))]
async fn discard_job(
    State(state): State<AppState>,
    MainUser(admin): MainUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    admin::discard(&state, &admin, &meta, job_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
