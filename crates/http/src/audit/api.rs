//! `GET /api/audit`: the audit log, for admins.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::Json;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::MainUser;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{no_problems, page, query_i64, query_time, Paged};
use crate::state::AppState;
use saghat_core::platform::audit::{list, AuditFilter, AuditRecord};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(audit_log))
}

/// The audit log, newest first (admins only). Actions: `user_created`, `user_changed`,
/// `login_failed`, `login_lockout`, `config_changed`, `payment`, `draw`, `refresh_token_reuse`.
#[utoipa::path(get, path = "/api/audit", tag = "audit", security(("bearer" = [])),
    params(("action" = Option<String>, Query), ("actor_user_id" = Option<i64>, Query), ("target" = Option<String>, Query),
           ("since" = Option<String>, Query, format = Date, description = "YYYY-MM-DD or an RFC 3339 time, inclusive"),
           ("until" = Option<String>, Query, format = Date, description = "YYYY-MM-DD or an RFC 3339 time, exclusive"),
           ("limit" = Option<i64>, Query, minimum = 1, maximum = 500), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, body = Paged<AuditRecord>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn audit_log(
    State(state): State<AppState>,
    _admin: MainUser,
    Query(params): Query<HashMap<String, String>>,
) -> ApiResult<Json<Paged<AuditRecord>>> {
    let mut problems = vec![];
    let filter = AuditFilter {
        action: params.get("action").cloned(),
        actor_user_id: query_i64(&params, "actor_user_id", &mut problems),
        target: params.get("target").cloned(),
        since: query_time(&params, "since", &mut problems),
        until: query_time(&params, "until", &mut problems),
    };
    let page = page(&params, &mut problems);
    no_problems(problems)?;
    let mut conn = state.db.pool.acquire().await?;
    let (items, total) = list(&mut conn, &filter, page.limit, page.offset).await?;
    Ok(Json(Paged::new(items, total, page)))
}
