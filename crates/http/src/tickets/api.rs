//! `/api/tickets`: loan-request tickets. Thin handlers over `saghat_core::tickets`: parse the
//! request, call one service, shape its answer. Who may make which move is the services' rule
//! (the state machine and maker-checker); this module only chooses each refusal's status.

use std::borrow::Cow;
use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, ErrorBody, FieldError};
use crate::extract::{length_kind, no_problems, page, query_i64, ApiJson, Validate};
use crate::state::AppState;
use saghat_core::auth::{CurrentUser, Role};
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::idempotency::HEADER as IDEMPOTENCY_HEADER;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::approval::ApprovalRefused;
use saghat_core::tickets::attachments::{self, Attachment};
use saghat_core::tickets::comments::{self, Comment, CommentHistory, COMMENT_MAX_CHARS};
use saghat_core::tickets::error::TicketError;
use saghat_core::tickets::fraud::Severity;
use saghat_core::tickets::loan_store::Repayment;
use saghat_core::tickets::loans::{self, RepaymentOutcome, ScheduleView, KEY_MAX_CHARS};
use saghat_core::tickets::queue::{self, TicketFilter, MAX_LIMIT};
use saghat_core::tickets::schedule::{Delinquency, ScheduleError};
use saghat_core::tickets::service::{
    self, is_reviewer, NewTicket, TicketView, PAYOUT_ADDRESS_MAX_CHARS, PURPOSE_MAX_CHARS,
};
use saghat_core::tickets::sla::{Phase, PhaseDeadline, PhaseStatus};
use saghat_core::tickets::state::{TicketState, TransitionError};
use saghat_core::tickets::store::{HistoryEntry, StoredFlag, Ticket};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_ticket, list_tickets))
        .routes(routes!(get_ticket))
        .routes(routes!(submit_ticket))
        .routes(routes!(review_ticket))
        .routes(routes!(ask_for_information))
        .routes(routes!(reject_ticket))
        .routes(routes!(withdraw_ticket))
        .routes(routes!(approve_ticket))
        .routes(routes!(disburse_ticket))
        .routes(routes!(repay_ticket))
        .routes(routes!(mark_ticket_defaulted))
        .routes(routes!(ticket_schedule))
        .routes(routes!(add_comment, list_comments))
        .routes(routes!(edit_comment))
        .routes(routes!(comment_history))
        .routes(routes!(list_attachments))
        .routes(routes!(download_attachment))
        // The file's own limit (ATTACHMENT_MAX_BYTES) is enforced while it is read.
        .merge(
            OpenApiRouter::new()
                .routes(routes!(add_attachment))
                .layer(axum::extract::DefaultBodyLimit::disable()),
        )
}

/// The longest reason kept with a move.
pub const REASON_MAX_CHARS: usize = 2_000;

// ---------------------------------------------------------------------------------------------
// Errors

/// Validation is 422 on its field; a missing ticket 404; who-you-are refusals (not the ticket's
/// borrower or reviewer, a move this actor may not make, approving one's own ticket) 403; and
/// where-the-ticket-is refusals (no such move from its state, the approvals already complete
/// or needing another lender) 409.
impl From<TicketError> for ApiError {
    fn from(err: TicketError) -> Self {
        if let Some(field) = err.field() {
            let kind = match err {
                TicketError::AmountNotPositive => "greater_than",
                TicketError::AmountTooLarge => "less_than_equal",
                TicketError::PurposeMissing => "string_too_short",
                TicketError::PurposeTooLong { .. } => "string_too_long",
                _ => "value_error",
            };
            return ApiError::invalid(field, kind, err.to_string());
        }
        match err {
            TicketError::NotFound => ApiError::not_found("Ticket not found"),
            TicketError::NotYours => ApiError::Forbidden("You may not act on this ticket".into()),
            TicketError::NotABorrower => ApiError::Forbidden(sentence(&err.to_string())),
            TicketError::Transition(refused) => transition_refused(refused),
            TicketError::Approval(refused @ ApprovalRefused::OwnTicket) => {
                ApiError::Forbidden(sentence(&refused.to_string()))
            }
            TicketError::Approval(refused) => ApiError::conflict(sentence(&refused.to_string())),
            TicketError::NotAMove(_) => ApiError::conflict(sentence(&err.to_string())),
            // The money: the fund's cash and the loan's state are where the ticket is (409);
            // a repayment's amount is its field (422), more than is owed a refused rule (400,
            // as a fund repayment above the balance).
            TicketError::InsufficientCash { .. }
            | TicketError::NotRepaying(_)
            | TicketError::Schedule(ScheduleError::NothingOwed) => {
                ApiError::conflict(sentence(&err.to_string()))
            }
            TicketError::Schedule(ScheduleError::Overpayment { .. }) => {
                ApiError::bad_request(sentence(&err.to_string()))
            }
            TicketError::Schedule(ScheduleError::NotPositive) => {
                ApiError::invalid("amount", "greater_than", sentence(&err.to_string()))
            }
            TicketError::Schedule(ScheduleError::TooLarge) => {
                ApiError::invalid("amount", "less_than_equal", sentence(&err.to_string()))
            }
            TicketError::RepaymentKeyInvalid { .. } | TicketError::RepaymentKeyReused { .. } => {
                let kind = match err {
                    TicketError::RepaymentKeyReused { .. } => "idempotency_key_reused",
                    _ => "value_error",
                };
                ApiError::Validation(vec![FieldError {
                    kind: kind.into(),
                    loc: vec!["header".into(), "Idempotency-Key".into()],
                    msg: sentence(&err.to_string()),
                }])
            }
            TicketError::CommentNotFound => ApiError::not_found("Comment not found"),
            TicketError::AttachmentNotFound => ApiError::not_found("Attachment not found"),
            TicketError::NotCommentAuthor => ApiError::Forbidden(sentence(&err.to_string())),
            TicketError::TooManyAttachments { .. } => {
                ApiError::conflict(sentence(&err.to_string()))
            }
            TicketError::AttachmentCorrupt { .. } | TicketError::AttachmentIo(_) => {
                ApiError::Internal(anyhow::Error::new(err))
            }
            // Like a ticket's page, its schedule does not exist for those who may not read it.
            TicketError::ScheduleHidden => ApiError::not_found("Ticket not found"),
            // The schedule's terms are the service's own (checked when the ticket was made) and
            // the postings balanced by construction: either failing is our bug.
            TicketError::Schedule(e) => ApiError::Internal(anyhow::Error::new(e)),
            TicketError::Ledger(e) => ApiError::Internal(anyhow::Error::new(e)),
            TicketError::Corrupt(e) => ApiError::Internal(anyhow::Error::new(e)),
            TicketError::Store(e) => e.into(),
            // Every validation error has a field (answered above).
            other => ApiError::invalid("body", "value_error", other.to_string()),
        }
    }
}

/// A refused move's sentence names both states, so a client can tell a stale page from a bug.
fn transition_refused(refused: TransitionError) -> ApiError {
    match refused {
        TransitionError::NotAllowed { from, to } => ApiError::conflict(format!(
            "{}: there is no move from {from} to {to}",
            sentence(&refused.to_string())
        )),
        TransitionError::NotPermitted { from, to, .. } => ApiError::Forbidden(format!(
            "{} (the ticket is {from}; the move asked for is to {to})",
            sentence(&refused.to_string())
        )),
    }
}

/// The core's sentences start in lower case; the API's details are capitalised.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Lenders, admins and accountants read every ticket, with its fraud flags and approvals.
fn reads_every_ticket(role: Role) -> bool {
    is_reviewer(role) || role == Role::Accountant
}

/// A refusal answered to `user`: a member who is neither the borrower nor a reviewer learns
/// nothing about a ticket that is not theirs (404, as a read); an accountant, who may read
/// it, is forbidden to move it (403).
fn refusal(user: &CurrentUser) -> impl Fn(TicketError) -> ApiError + '_ {
    move |err| match err {
        TicketError::NotYours if !reads_every_ticket(user.role) => TicketError::NotFound.into(),
        err => err.into(),
    }
}

/// A path's ticket id: a ticket id is a UUID, anything else names no ticket.
fn ticket_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id.trim())
        .map(|id| id.to_string())
        .map_err(|_| TicketError::NotFound.into())
}

// ---------------------------------------------------------------------------------------------
// Bodies

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTicketRequest {
    /// The amount asked for, in USDT (> 0, at most 8 decimals).
    pub amount: Amount,
    /// What the loan is for.
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub purpose: String,
    /// The requested term in months.
    #[schema(minimum = 1, maximum = 360)]
    pub term_months: i64,
    /// The wallet address the loan is to be paid out to: letters, digits and `: _ - .`.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^\s*[A-Za-z0-9:_.\-]+\s*$"
    )]
    pub payout_address: String,
}

impl Validate for NewTicketRequest {
    const REQUIRED: &'static [&'static str] =
        &["amount", "purpose", "term_months", "payout_address"];

    /// The schema's lengths, counted on the text as sent (the service trims, then applies its
    /// own rules), so that a text longer than the schema allows is refused even when trimmed
    /// it would fit.
    fn validate(&self) -> Vec<FieldError> {
        let mut problems = vec![];
        let too_long = |field: &str, max: usize| {
            FieldError::body(
                field,
                "string_too_long",
                format!("String should have at most {max} characters"),
            )
        };
        if self.purpose.chars().count() > PURPOSE_MAX_CHARS {
            problems.push(too_long("purpose", PURPOSE_MAX_CHARS));
        }
        if self.payout_address.chars().count() > PAYOUT_ADDRESS_MAX_CHARS {
            problems.push(too_long("payout_address", PAYOUT_ADDRESS_MAX_CHARS));
        }
        problems
    }
}

impl From<NewTicketRequest> for NewTicket {
    fn from(body: NewTicketRequest) -> Self {
        NewTicket {
            amount: body.amount,
            purpose: body.purpose,
            term_months: body.term_months,
            payout_address: body.payout_address,
        }
    }
}

/// Why the ticket is sent back or rejected: the borrower reads it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonRequest {
    #[schema(min_length = 1, max_length = 2000, pattern = r"\S")]
    pub reason: String,
}

impl Validate for ReasonRequest {
    const REQUIRED: &'static [&'static str] = &["reason"];

    fn validate(&self) -> Vec<FieldError> {
        let trimmed = self.reason.trim();
        let count = self.reason.chars().count();
        if trimmed.is_empty() || count > REASON_MAX_CHARS {
            let kind = if trimmed.is_empty() {
                "string_too_short"
            } else {
                length_kind(&self.reason, 1, REASON_MAX_CHARS)
            };
            return vec![FieldError::body(
                "reason",
                kind,
                format!("reason is required, at most {REASON_MAX_CHARS} characters"),
            )];
        }
        vec![]
    }
}

// ---------------------------------------------------------------------------------------------
// Responses

/// A ticket's state (see the state machine in the API description of each move).
pub struct TicketStateName;

impl PartialSchema for TicketStateName {
    fn schema() -> RefOr<Schema> {
        string_enum(
            TicketState::ALL.map(TicketState::as_str).to_vec(),
            "draft → submitted → under_review → approved | rejected | needs_info; needs_info → \
             submitted; approved → disbursed → repaying → repaid | defaulted; withdrawn by the \
             borrower before disbursement",
        )
    }
}

impl ToSchema for TicketStateName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("TicketState")
    }
}

/// A fraud flag's severity.
pub struct SeverityName;

impl PartialSchema for SeverityName {
    fn schema() -> RefOr<Schema> {
        let all = [Severity::Low, Severity::Medium, Severity::High];
        string_enum(
            all.map(Severity::as_str).to_vec(),
            "A fraud flag's severity; a high one requires a second approver",
        )
    }
}

impl ToSchema for SeverityName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("FlagSeverity")
    }
}

fn string_enum(values: Vec<&'static str>, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .into()
}

/// A ticket as the API shows it. Times are RFC 3339 (UTC).
#[derive(Serialize, ToSchema)]
pub struct TicketBody {
    pub id: String,
    /// The short reference people use (the id's first 8 characters).
    pub reference: String,
    pub borrower_id: i64,
    pub amount: Amount,
    pub currency: String,
    pub purpose: String,
    pub term_months: i64,
    pub payout_address: String,
    #[schema(value_type = TicketStateName)]
    pub state: TicketState,
    /// The highest severity of the latest fraud evaluation; null when nothing fired, and
    /// always null for the borrower (fraud flags are for the reviewers).
    #[schema(value_type = Option<SeverityName>)]
    pub flag_severity: Option<&'static str>,
    /// The running SLA phase's deadline, if its clock runs.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sla_due_at: Option<DateTime<Utc>>,
    /// When an SLA breach was marked.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub sla_breached_at: Option<DateTime<Utc>>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl TicketBody {
    fn shown_to(ticket: Ticket, viewer: &CurrentUser) -> TicketBody {
        let internals = reads_every_ticket(viewer.role);
        TicketBody {
            reference: service::short_ref(&ticket.id),
            id: ticket.id,
            borrower_id: ticket.borrower_id,
            amount: ticket.amount,
            currency: ticket.currency,
            purpose: ticket.purpose,
            term_months: ticket.term_months,
            payout_address: ticket.payout_address,
            state: ticket.state,
            flag_severity: ticket
                .flag_severity
                .filter(|_| internals)
                .map(Severity::as_str),
            sla_due_at: ticket.sla_due_at,
            sla_breached_at: ticket.sla_breached_at,
            created_at: ticket.created_at,
            updated_at: ticket.updated_at,
        }
    }
}

/// One entry of a ticket's history: who moved it where, when and why.
#[derive(Serialize, ToSchema)]
pub struct HistoryBody {
    #[schema(value_type = Option<TicketStateName>)]
    pub from_state: Option<TicketState>,
    #[schema(value_type = TicketStateName)]
    pub to_state: TicketState,
    /// Null for a move made by the system.
    pub actor_user_id: Option<i64>,
    pub reason: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
}

impl From<HistoryEntry> for HistoryBody {
    fn from(h: HistoryEntry) -> Self {
        HistoryBody {
            from_state: h.from_state,
            to_state: h.to_state,
            actor_user_id: h.actor_user_id,
            reason: h.reason,
            at: h.at,
        }
    }
}

/// One SLA phase's deadline, in business time of the fund's calendar.
#[derive(Serialize, ToSchema)]
pub struct DeadlineBody {
    /// `first_response` (submitted → under review) or `decision` (under review → approved or
    /// rejected).
    #[schema(value_type = String, example = "first_response")]
    pub phase: &'static str,
    /// `running`, `paused` (waiting for the borrower), `met` or `stopped` (withdrawn).
    #[schema(value_type = String, example = "running")]
    pub status: &'static str,
    #[schema(value_type = String, format = DateTime)]
    pub started_at: DateTime<Utc>,
    /// When the allowed business time runs out (while paused: if the clock restarted now).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub met_at: Option<DateTime<Utc>>,
    pub breached: bool,
    /// Business time used so far, in seconds.
    pub elapsed_seconds: i64,
    /// Business time left, in seconds; negative by how much it is overdue.
    pub remaining_seconds: i64,
}

impl From<PhaseDeadline> for DeadlineBody {
    fn from(d: PhaseDeadline) -> Self {
        DeadlineBody {
            phase: match d.phase {
                Phase::FirstResponse => "first_response",
                Phase::Decision => "decision",
            },
            status: match d.status {
                PhaseStatus::Running => "running",
                PhaseStatus::Paused => "paused",
                PhaseStatus::Met => "met",
                PhaseStatus::Stopped => "stopped",
            },
            started_at: d.started_at,
            due_at: d.due_at,
            met_at: d.met_at,
            breached: d.breached,
            elapsed_seconds: d.elapsed.num_seconds(),
            remaining_seconds: d.remaining.num_seconds(),
        }
    }
}

/// A fired fraud rule, with its plain-language explanation and the inputs it saw.
#[derive(Serialize, ToSchema)]
pub struct FlagBody {
    pub code: String,
    #[schema(value_type = SeverityName)]
    pub severity: String,
    pub explanation_en: String,
    pub explanation_fa: String,
    /// What the rules saw at the evaluation (the application, the borrower's history and the
    /// recent applications it was compared with).
    #[schema(value_type = Object)]
    pub inputs: serde_json::Value,
    /// RFC 3339 (UTC).
    pub evaluated_at: String,
}

impl From<StoredFlag> for FlagBody {
    fn from(f: StoredFlag) -> Self {
        FlagBody {
            code: f.code,
            severity: f.severity,
            explanation_en: f.explanation_en,
            explanation_fa: f.explanation_fa,
            // Written by the store from a serialised `FraudInput`; text it cannot read is shown
            // as the text it is rather than failing the page.
            inputs: serde_json::from_str(&f.inputs).unwrap_or(serde_json::Value::String(f.inputs)),
            evaluated_at: f.evaluated_at,
        }
    }
}

/// A ticket with its history, SLA deadlines, fraud flags and approvals. The borrower sees no
/// flags and no approvals (`flags` empty, `approvals` empty, `approvals_needed` null).
#[derive(Serialize, ToSchema)]
pub struct TicketViewBody {
    pub ticket: TicketBody,
    /// Oldest first.
    pub history: Vec<HistoryBody>,
    pub deadlines: Vec<DeadlineBody>,
    pub flags: Vec<FlagBody>,
    /// The user ids of the lenders who approved so far.
    pub approvals: Vec<i64>,
    /// How many different approvers the ticket needs (1, or 2 above the threshold or with a
    /// high-severity flag).
    pub approvals_needed: Option<i64>,
}

impl TicketViewBody {
    fn shown_to(view: TicketView, viewer: &CurrentUser) -> TicketViewBody {
        let internals = reads_every_ticket(viewer.role);
        TicketViewBody {
            ticket: TicketBody::shown_to(view.ticket, viewer),
            history: view.history.into_iter().map(HistoryBody::from).collect(),
            deadlines: view.deadlines.into_iter().map(DeadlineBody::from).collect(),
            flags: if internals {
                view.flags.into_iter().map(FlagBody::from).collect()
            } else {
                vec![]
            },
            approvals: if internals { view.approvals } else { vec![] },
            approvals_needed: internals.then_some(view.approvals_needed as i64),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Apply for a loan: creates a draft ticket (fund members only: admins and members; 403 for
/// others). Submit it with `POST /api/tickets/{ticket_id}/submit`.
#[utoipa::path(post, path = "/api/tickets", tag = "tickets", request_body = NewTicketRequest, security(("bearer" = [])),
    responses((status = 201, body = TicketBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    ApiJson(body): ApiJson<NewTicketRequest>,
) -> ApiResult<(StatusCode, Json<TicketBody>)> {
    let ticket = service::create_draft(&state, &user, body.into(), &meta).await?;
    Ok((
        StatusCode::CREATED,
        Json(TicketBody::shown_to(ticket, &user)),
    ))
}

/// Tickets, paged: a member sees their own; lenders, admins and accountants see all. Newest
/// first, or with `queue=true` the review queue: only tickets whose SLA clock runs, nearest
/// deadline first.
#[utoipa::path(get, path = "/api/tickets", tag = "tickets", security(("bearer" = [])),
    params(
        ("state" = Option<Vec<TicketStateName>>, Query, explode = true, description = "Any of these states: repeat the parameter or separate them with commas"),
        ("flagged" = Option<bool>, Query, description = "With (true) or without (false) a fraud flag; for lenders, admins and accountants"),
        ("breached" = Option<bool>, Query, description = "Has (true) or has not (false) breached an SLA"),
        ("borrower_id" = Option<i64>, Query, description = "One borrower's tickets (a member always sees only their own)"),
        ("min_amount" = Option<String>, Query, description = "Amount at least this, a decimal string"),
        ("max_amount" = Option<String>, Query, description = "Amount at most this, a decimal string"),
        ("created_from" = Option<String>, Query, format = Date, description = "YYYY-MM-DD or an RFC 3339 time, inclusive"),
        ("created_until" = Option<String>, Query, format = Date, description = "YYYY-MM-DD or an RFC 3339 time, exclusive"),
        ("queue" = Option<bool>, Query, description = "The review queue, ordered by SLA deadline"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100), ("offset" = Option<i64>, Query, minimum = 0)),
    responses((status = 200, body = TicketList), (status = 422, body = ErrorBody)))]
async fn list_tickets(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(pairs): Query<Vec<(String, String)>>,
) -> ApiResult<Json<TicketList>> {
    // The last of a repeated parameter counts, except `state`, which collects all of them.
    let params: HashMap<String, String> = pairs.iter().cloned().collect();
    let mut problems = vec![];
    let filter = TicketFilter {
        states: query_states(&pairs, &mut problems),
        flagged: query_bool(&params, "flagged", &mut problems),
        breached: query_bool(&params, "breached", &mut problems),
        borrower_id: query_i64(&params, "borrower_id", &mut problems),
        min_amount: query_amount(&params, "min_amount", &mut problems),
        max_amount: query_amount(&params, "max_amount", &mut problems),
        created_from: query_instant(&params, "created_from", &mut problems),
        created_until: query_instant(&params, "created_until", &mut problems),
        by_deadline: query_bool(&params, "queue", &mut problems).unwrap_or(false),
    };
    if filter.flagged.is_some() && !reads_every_ticket(user.role) {
        // A borrower does not learn whether their application raised a fraud flag.
        problems.push(FieldError::query(
            "flagged",
            "value_error",
            "Only lenders, admins and accountants may filter by fraud flags",
        ));
    }
    let page = page(&params, &mut problems);
    if page.limit > MAX_LIMIT {
        problems.push(FieldError::query(
            "limit",
            "less_than_equal",
            format!("Input should be less than or equal to {MAX_LIMIT}"),
        ));
    }
    no_problems(problems)?;
    let found = queue::list(&state, &user, &filter, page.limit, page.offset).await?;
    Ok(Json(TicketList {
        items: found
            .items
            .into_iter()
            .map(|t| TicketBody::shown_to(t, &user))
            .collect(),
        total: found.total,
        total_exact: found.total_exact,
        limit: page.limit,
        offset: page.offset,
    }))
}

/// A page of tickets. Matches are counted up to 1 000, so that a broad filter costs a page and
/// not a scan: past that `total` is 1 000 and `total_exact` false.
#[derive(Serialize, ToSchema)]
pub struct TicketList {
    pub items: Vec<TicketBody>,
    pub total: i64,
    pub total_exact: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Every `state` parameter, each a state or a comma-separated list of them.
fn query_states(pairs: &[(String, String)], problems: &mut Vec<FieldError>) -> Vec<TicketState> {
    let mut states = vec![];
    for (_, value) in pairs.iter().filter(|(name, _)| name == "state") {
        // An empty name (`state=`, `state=a,,b`) is no state: refused like any other.
        for name in value.split(',').map(str::trim) {
            match TicketState::parse(name) {
                Ok(s) if !states.contains(&s) => states.push(s),
                Ok(_) => {}
                Err(_) => {
                    let all: Vec<String> =
                        TicketState::ALL.iter().map(|s| format!("'{s}'")).collect();
                    problems.push(FieldError::query(
                        "state",
                        "enum",
                        format!("Input should be {}", all.join(", ")),
                    ));
                    return states;
                }
            }
        }
    }
    states
}

fn query_bool(
    params: &HashMap<String, String>,
    name: &str,
    problems: &mut Vec<FieldError>,
) -> Option<bool> {
    match params.get(name)?.trim() {
        "true" => Some(true),
        "false" => Some(false),
        _ => {
            problems.push(FieldError::query(
                name,
                "bool_parsing",
                "Input should be a valid boolean: true or false",
            ));
            None
        }
    }
}

fn query_amount(
    params: &HashMap<String, String>,
    name: &str,
    problems: &mut Vec<FieldError>,
) -> Option<Amount> {
    let raw = params.get(name)?;
    match Amount::parse(raw.trim()) {
        // No ticket holds more than a column does: such a bound is a typing error.
        Ok(amount) if amount.fits_column() => Some(amount),
        Ok(_) => {
            problems.push(FieldError::query(
                name,
                "value_error",
                "amount is too large",
            ));
            None
        }
        Err(e) => {
            problems.push(FieldError::query(name, e.kind(), e.message()));
            None
        }
    }
}

/// RFC 3339 (`2026-11-22T10:00:00Z`) or a date (`2026-11-22`, midnight UTC), as
/// `extract::query_time` reads the audit log's.
fn query_instant(
    params: &HashMap<String, String>,
    name: &str,
    problems: &mut Vec<FieldError>,
) -> Option<DateTime<Utc>> {
    let raw = params.get(name)?.trim();
    let parsed = DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
        });
    if parsed.is_none() {
        problems.push(FieldError::query(
            name,
            "datetime_parsing",
            "Input should be an RFC 3339 time or a YYYY-MM-DD date",
        ));
    }
    parsed
}

/// One ticket with its history, SLA deadlines, fraud flags (with explanations) and approvals.
/// Its borrower, lenders, admins and accountants may read it; to anyone else it does not
/// exist (404).
#[utoipa::path(get, path = "/api/tickets/{ticket_id}", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = TicketViewBody), (status = 404, body = ErrorBody)))]
async fn get_ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketViewBody>> {
    let view = service::get(&state, &user, &ticket_id(&id)?)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(TicketViewBody::shown_to(view, &user)))
}

/// The borrower submits a draft, or a ticket sent back for information: the fraud rules run
/// (their flags route it to review and may require a second approver) and the lenders are
/// notified. A retry answers the ticket as it is.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/submit", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = TicketBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The ticket cannot be submitted from its state")))]
async fn submit_ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketBody>> {
    let ticket = service::submit(&state, &user, &ticket_id(&id)?, &meta)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(TicketBody::shown_to(ticket, &user)))
}

/// A lender or an admin takes a submitted ticket under review (`under_review`): the first
/// response, which stops the first SLA clock. A retry answers the ticket as it is.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/review", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = TicketBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The ticket cannot be taken under review from its state")))]
async fn review_ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketBody>> {
    moved(&state, &user, &meta, &id, TicketState::UnderReview, "").await
}

/// A lender or an admin sends a ticket under review back to the borrower for information
/// (`needs_info`, the SLA clock paused); the reason is required and the borrower reads it.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/needs-info", tag = "tickets", request_body = ReasonRequest, security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = TicketBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The ticket cannot be sent back from its state"), (status = 422, body = ErrorBody)))]
async fn ask_for_information(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> ApiResult<Json<TicketBody>> {
    moved(
        &state,
        &user,
        &meta,
        &id,
        TicketState::NeedsInfo,
        &body.reason,
    )
    .await
}

/// A lender or an admin rejects a ticket under review; the reason is required.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/reject", tag = "tickets", request_body = ReasonRequest, security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = TicketBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The ticket cannot be rejected from its state"), (status = 422, body = ErrorBody)))]
async fn reject_ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> ApiResult<Json<TicketBody>> {
    moved(
        &state,
        &user,
        &meta,
        &id,
        TicketState::Rejected,
        &body.reason,
    )
    .await
}

/// The borrower withdraws their ticket, at any point before disbursement.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/withdraw", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = TicketBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The ticket can no longer be withdrawn")))]
async fn withdraw_ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketBody>> {
    moved(&state, &user, &meta, &id, TicketState::Withdrawn, "").await
}

async fn moved(
    state: &AppState,
    user: &CurrentUser,
    meta: &RequestMeta,
    id: &str,
    target: TicketState,
    reason: &str,
) -> ApiResult<Json<TicketBody>> {
    let ticket = service::move_ticket(state, user, &ticket_id(id)?, target, reason, meta)
        .await
        .map_err(refusal(user))?;
    Ok(Json(TicketBody::shown_to(ticket, user)))
}

/// A lender or an admin approves a ticket under review. Maker-checker: above the configured
/// amount, or with a high-severity fraud flag, two different approvers are needed (never the
/// borrower): the first approval is recorded and the ticket stays `under_review`; the one that
/// completes it moves it to `approved`. The same lender approving twice while a second
/// approver is awaited is refused (409); a retry once approved answers the ticket as it is.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/approve", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = TicketBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "Not under review, already approved by this lender, or already complete")))]
async fn approve_ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketBody>> {
    let ticket = service::approve(&state, &user, &ticket_id(&id)?, &meta)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(TicketBody::shown_to(ticket, &user)))
}

// ---------------------------------------------------------------------------------------------
// The loan: disbursement, repayments, default, schedule

/// A lender or an admin pays out an approved ticket: the ledger posts it (Dr ticket receivable,
/// Cr cash, refused with 409 when the fund's cash does not cover it), the repayment schedule
/// is fixed, and the ticket is being repaid (`approved → disbursed → repaying`). A retry, or a
/// second reviewer at the same moment, finds it disbursed and changes nothing.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/disburse", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = TicketBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "Not approved, or the fund's cash does not cover it")))]
async fn disburse_ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
) -> ApiResult<Json<TicketBody>> {
    let ticket = loans::disburse(&state, &user, &ticket_id(&id)?, &meta)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(TicketBody::shown_to(ticket, &user)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepaymentRequest {
    /// The amount repaid, in USDT (> 0, at most what is still owed).
    pub amount: Amount,
}

impl Validate for RepaymentRequest {
    const REQUIRED: &'static [&'static str] = &["amount"];

    fn validate(&self) -> Vec<FieldError> {
        if self.amount.is_positive() {
            return vec![];
        }
        vec![FieldError::body(
            "amount",
            "greater_than",
            "Input should be greater than 0",
        )]
    }
}

/// The borrower (or a lender or an admin for them) records a repayment: installments are
/// settled oldest first, the ledger posts it (Dr cash, Cr ticket receivable), and the one that
/// settles the last moves the ticket to `repaid`. The `Idempotency-Key` header is required: the
/// same key again answers the first repayment (200, `replayed`) with nothing done twice; with
/// another amount it is refused (422). More than is owed: 400, nothing written.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/repayments", tag = "tickets", request_body = RepaymentRequest, security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID"),
           ("Idempotency-Key" = String, Header, description = "1 to 200 visible characters, chosen by the client, one per repayment")),
    responses((status = 201, body = RepaymentBody), (status = 200, body = RepaymentBody, description = "The same key's repayment, replayed"),
              (status = 400, body = ErrorBody, description = "More than is owed"), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "The ticket is not being repaid"),
              (status = 422, body = ErrorBody)))]
async fn repay_ticket(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RepaymentRequest>,
) -> ApiResult<Response> {
    let id = ticket_id(&id)?;
    let key = match headers.get(IDEMPOTENCY_HEADER).map(HeaderValue::to_str) {
        Some(Ok(key)) => key.to_string(),
        // Missing, or not visible ASCII: the service's rule for a key, answered on the header.
        _ => return Err(TicketError::RepaymentKeyInvalid { max: KEY_MAX_CHARS }.into()),
    };
    let outcome = loans::repay(&state, &user, &id, body.amount, &key, &meta)
        .await
        .map_err(refusal(&user))?;
    let status = if outcome.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(RepaymentBody::from(outcome))).into_response())
}

/// One repayment as recorded.
#[derive(Serialize, ToSchema)]
pub struct RepaymentRecord {
    pub id: String,
    pub amount: Amount,
    /// Who recorded it (the borrower, or a reviewer for them).
    pub by_user_id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub at: DateTime<Utc>,
}

impl From<Repayment> for RepaymentRecord {
    fn from(r: Repayment) -> Self {
        RepaymentRecord {
            id: r.id,
            amount: r.amount,
            by_user_id: r.by_user_id,
            at: r.at,
        }
    }
}

/// What part of a repayment went to one installment.
#[derive(Serialize, ToSchema)]
pub struct AppliedBody {
    pub number: u32,
    pub amount: Amount,
}

/// A repayment and what it did.
#[derive(Serialize, ToSchema)]
pub struct RepaymentBody {
    pub repayment: RepaymentRecord,
    /// The installments it settled (in part or whole), oldest first; empty when replayed.
    pub applied: Vec<AppliedBody>,
    /// The key's earlier repayment, answered again: nothing was done this time.
    pub replayed: bool,
    #[schema(value_type = TicketStateName)]
    pub state: TicketState,
    /// Still owed after it.
    pub outstanding: Amount,
}

impl From<RepaymentOutcome> for RepaymentBody {
    fn from(o: RepaymentOutcome) -> Self {
        RepaymentBody {
            repayment: o.repayment.into(),
            applied: o
                .applied
                .into_iter()
                .map(|(number, amount)| AppliedBody { number, amount })
                .collect(),
            replayed: o.replayed,
            state: o.state,
            outstanding: o.outstanding,
        }
    }
}

/// An admin declares a ticket being repaid in default (lenders may not: 403); the reason is
/// required. A retry answers the ticket as it is.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/default", tag = "tickets", request_body = ReasonRequest, security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = TicketBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody, description = "The ticket is not being repaid"), (status = 422, body = ErrorBody)))]
async fn mark_ticket_defaulted(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ReasonRequest>,
) -> ApiResult<Json<TicketBody>> {
    let ticket = loans::mark_default(&state, &user, &ticket_id(&id)?, &body.reason, &meta)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(TicketBody::shown_to(ticket, &user)))
}

/// How late a loan is: `current`, or the days its oldest unpaid installment is past due.
pub struct DelinquencyName;

impl PartialSchema for DelinquencyName {
    fn schema() -> RefOr<Schema> {
        string_enum(
            vec!["current", "1-30", "31-60", "61-90", "90+"],
            "How late a loan is: `current`, or the days its oldest unpaid installment is past due",
        )
    }
}

impl ToSchema for DelinquencyName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Delinquency")
    }
}

fn delinquency_name(d: Delinquency) -> &'static str {
    match d {
        Delinquency::Current => "current",
        Delinquency::Days1To30 => "1-30",
        Delinquency::Days31To60 => "31-60",
        Delinquency::Days61To90 => "61-90",
        Delinquency::Over90 => "90+",
    }
}

/// One installment of the schedule.
#[derive(Serialize, ToSchema)]
pub struct InstallmentBody {
    pub number: u32,
    /// The Jalali month it falls due in, and the day (the fund's time zone).
    pub due_year: i32,
    pub due_month: u8,
    #[schema(value_type = String, format = Date)]
    pub due_on: chrono::NaiveDate,
    pub principal: Amount,
    /// The fee or interest part (0 by default).
    pub charge: Amount,
    pub amount: Amount,
    pub paid: Amount,
    pub outstanding: Amount,
}

/// A ticket's loan: its repayment schedule, repayments and lateness as of now (empty before it
/// is disbursed).
#[derive(Serialize, ToSchema)]
pub struct ScheduleBody {
    pub ticket_id: String,
    #[schema(value_type = TicketStateName)]
    pub state: TicketState,
    pub installments: Vec<InstallmentBody>,
    /// Oldest first.
    pub repayments: Vec<RepaymentRecord>,
    pub total: Amount,
    pub paid: Amount,
    pub outstanding: Amount,
    #[schema(value_type = DelinquencyName)]
    pub delinquency: &'static str,
    pub days_past_due: i64,
}

impl From<ScheduleView> for ScheduleBody {
    fn from(v: ScheduleView) -> Self {
        ScheduleBody {
            ticket_id: v.ticket_id,
            state: v.state,
            installments: v
                .installments
                .into_iter()
                .map(|i| InstallmentBody {
                    number: i.number,
                    due_year: i.due_month.year,
                    due_month: i.due_month.month,
                    due_on: i.due_on,
                    principal: i.principal,
                    charge: i.charge,
                    amount: i.amount,
                    paid: i.paid,
                    outstanding: i.outstanding,
                })
                .collect(),
            repayments: v
                .repayments
                .into_iter()
                .map(RepaymentRecord::from)
                .collect(),
            total: v.total,
            paid: v.paid,
            outstanding: v.outstanding,
            delinquency: delinquency_name(v.delinquency),
            days_past_due: v.days_past_due,
        }
    }
}

/// A ticket's repayment schedule, repayments and lateness, for its borrower, lenders, admins
/// and accountants (404 to anyone else).
#[utoipa::path(get, path = "/api/tickets/{ticket_id}/schedule", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = ScheduleBody), (status = 404, body = ErrorBody)))]
async fn ticket_schedule(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<ScheduleBody>> {
    let view = loans::schedule_of(&state, &user, &ticket_id(&id)?)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(view.into()))
}

// ---------------------------------------------------------------------------------------------
// Comments

/// A comment on a ticket. `internal` notes are among reviewers: the borrower never sees one.
#[derive(Serialize, ToSchema)]
pub struct CommentBody {
    pub id: String,
    pub ticket_id: String,
    /// Its position on the ticket: 1 for the first comment.
    pub seq: i64,
    pub author_id: i64,
    pub author_username: String,
    pub body: String,
    pub internal: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// When it was last edited (its earlier texts: `GET /api/tickets/comments/{id}/history`).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub edited_at: Option<DateTime<Utc>>,
}

impl From<Comment> for CommentBody {
    fn from(c: Comment) -> Self {
        CommentBody {
            id: c.id,
            ticket_id: c.ticket_id,
            seq: c.seq,
            author_id: c.author_id,
            author_username: c.author_username,
            body: c.body,
            internal: c.internal,
            created_at: c.created_at,
            edited_at: c.edited_at,
        }
    }
}

/// A text a comment had before an edit.
#[derive(Serialize, ToSchema)]
pub struct CommentEditBody {
    pub previous_body: String,
    #[schema(value_type = String, format = DateTime)]
    pub edited_at: DateTime<Utc>,
    pub editor_id: i64,
}

/// A comment with the texts it had before, oldest first.
#[derive(Serialize, ToSchema)]
pub struct CommentHistoryBody {
    pub comment: CommentBody,
    pub edits: Vec<CommentEditBody>,
}

impl From<CommentHistory> for CommentHistoryBody {
    fn from(h: CommentHistory) -> Self {
        CommentHistoryBody {
            comment: h.comment.into(),
            edits: h
                .edits
                .into_iter()
                .map(|e| CommentEditBody {
                    previous_body: e.previous_body,
                    edited_at: e.edited_at,
                    editor_id: e.editor_id,
                })
                .collect(),
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommentRequest {
    /// The text; `@username` mentions notify those users (if they may see the comment).
    #[schema(min_length = 1, max_length = 5000, pattern = r"\S")]
    pub body: String,
    /// An internal note, among reviewers (lenders and admins only).
    #[serde(default)]
    pub internal: bool,
}

impl Validate for NewCommentRequest {
    const REQUIRED: &'static [&'static str] = &["body"];

    fn validate(&self) -> Vec<FieldError> {
        comment_too_long(&self.body)
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditCommentRequest {
    #[schema(min_length = 1, max_length = 5000, pattern = r"\S")]
    pub body: String,
}

impl Validate for EditCommentRequest {
    const REQUIRED: &'static [&'static str] = &["body"];

    fn validate(&self) -> Vec<FieldError> {
        comment_too_long(&self.body)
    }
}

/// The schema's length on the text as sent (the service trims, then checks its own).
fn comment_too_long(body: &str) -> Vec<FieldError> {
    if body.chars().count() <= COMMENT_MAX_CHARS {
        return vec![];
    }
    vec![FieldError::body(
        "body",
        "string_too_long",
        format!("String should have at most {COMMENT_MAX_CHARS} characters"),
    )]
}

/// Write on a ticket: its borrower, or a lender or an admin (who may also write `internal`
/// notes). Accountants read only (403). The other side is notified, and `@mentioned` users who
/// may see the comment are told they were mentioned.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/comments", tag = "tickets", request_body = NewCommentRequest, security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 201, body = CommentBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn add_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<NewCommentRequest>,
) -> ApiResult<(StatusCode, Json<CommentBody>)> {
    let comment = comments::add_comment(
        &state,
        &user,
        &ticket_id(&id)?,
        &body.body,
        body.internal,
        &meta,
    )
    .await
    .map_err(refusal(&user))?;
    Ok((StatusCode::CREATED, Json(comment.into())))
}

/// A ticket's comments, oldest first; the borrower (and an accountant) sees no internal note.
#[utoipa::path(get, path = "/api/tickets/{ticket_id}/comments", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = Vec<CommentBody>), (status = 404, body = ErrorBody)))]
async fn list_comments(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<CommentBody>>> {
    let found = comments::list_comments(&state, &user, &ticket_id(&id)?)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(found.into_iter().map(CommentBody::from).collect()))
}

/// A comment's author edits it; the previous text is kept in its history.
#[utoipa::path(patch, path = "/api/tickets/comments/{comment_id}", tag = "tickets", request_body = EditCommentRequest, security(("bearer" = [])),
    params(("comment_id" = String, Path, description = "The comment's UUID")),
    responses((status = 200, body = CommentBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn edit_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<EditCommentRequest>,
) -> ApiResult<Json<CommentBody>> {
    let comment = comments::edit_comment(&state, &user, &comment_id(&id)?, &body.body, &meta)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(comment.into()))
}

/// A comment with the texts it had before each edit, for those who may see the comment.
#[utoipa::path(get, path = "/api/tickets/comments/{comment_id}/history", tag = "tickets", security(("bearer" = [])),
    params(("comment_id" = String, Path, description = "The comment's UUID")),
    responses((status = 200, body = CommentHistoryBody), (status = 404, body = ErrorBody)))]
async fn comment_history(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<CommentHistoryBody>> {
    let history = comments::comment_history(&state, &user, &comment_id(&id)?)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(history.into()))
}

/// A path's comment id: a UUID, anything else names no comment.
fn comment_id(id: &str) -> Result<String, ApiError> {
    uuid::Uuid::parse_str(id.trim())
        .map(|id| id.to_string())
        .map_err(|_| TicketError::CommentNotFound.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;
    use saghat_core::tickets::state::Actor;

    fn status(err: TicketError) -> StatusCode {
        ApiError::from(err).into_response().status()
    }

    #[test]
    fn each_refusal_gets_its_status() {
        assert_eq!(
            status(TicketError::AmountNotPositive),
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(status(TicketError::NotFound), StatusCode::NOT_FOUND);
        assert_eq!(status(TicketError::NotYours), StatusCode::FORBIDDEN);
        let not_allowed = TransitionError::NotAllowed {
            from: TicketState::Rejected,
            to: TicketState::Approved,
        };
        assert_eq!(status(not_allowed.into()), StatusCode::CONFLICT);
        let not_permitted = TransitionError::NotPermitted {
            from: TicketState::UnderReview,
            to: TicketState::Approved,
            actor: Actor::Borrower,
        };
        assert_eq!(status(not_permitted.into()), StatusCode::FORBIDDEN);
        assert_eq!(
            status(ApprovalRefused::OwnTicket.into()),
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            status(ApprovalRefused::SameApprover.into()),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(TicketError::Store(sqlx::Error::PoolTimedOut)),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn a_refused_move_names_both_states() {
        let err = ApiError::from(TicketError::from(TransitionError::NotAllowed {
            from: TicketState::Rejected,
            to: TicketState::Approved,
        }));
        assert_eq!(
            err.to_string(),
            "A rejected ticket cannot be approved: there is no move from rejected to approved"
        );
    }

    #[test]
    fn a_member_who_cannot_read_the_ticket_is_told_it_does_not_exist() {
        let member = CurrentUser {
            id: 7,
            username: "reza".into(),
            is_main: false,
            role: Role::Member,
            session_version: 0,
        };
        let accountant = CurrentUser {
            role: Role::Accountant,
            ..member.clone()
        };
        let answer = |user: &CurrentUser| refusal(user)(TicketError::NotYours).status();
        assert_eq!(answer(&member), StatusCode::NOT_FOUND);
        assert_eq!(answer(&accountant), StatusCode::FORBIDDEN);
    }

    #[test]
    fn states_repeat_or_come_as_a_comma_list() {
        let pairs = vec![
            ("state".to_string(), "submitted, under_review".to_string()),
            ("state".to_string(), "needs_info".to_string()),
            ("limit".to_string(), "5".to_string()),
        ];
        let mut problems = vec![];
        assert_eq!(
            query_states(&pairs, &mut problems),
            vec![
                TicketState::Submitted,
                TicketState::UnderReview,
                TicketState::NeedsInfo
            ]
        );
        assert!(problems.is_empty());
        query_states(&[("state".into(), "open".into())], &mut problems);
        assert_eq!(problems[0].loc, vec!["query", "state"]);
        query_states(&[("state".into(), "".into())], &mut problems);
        assert_eq!(problems.len(), 2, "an empty state is refused too");
    }
}

// ---------------------------------------------------------------------------------------------
// Attachments

/// A file attached to a ticket; its bytes are at `…/attachments/{id}`.
#[derive(Serialize, ToSchema)]
pub struct AttachmentBody {
    pub id: String,
    pub ticket_id: String,
    pub uploader_id: i64,
    pub file_name: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// The SHA-256 of the bytes, in hex: checked again each time the file is read.
    pub sha256: String,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

impl From<Attachment> for AttachmentBody {
    fn from(a: Attachment) -> Self {
        AttachmentBody {
            id: a.id,
            ticket_id: a.ticket_id,
            uploader_id: a.uploader_id,
            file_name: a.file_name,
            content_type: a.content_type,
            size_bytes: a.size_bytes,
            sha256: a.sha256,
            created_at: a.created_at,
        }
    }
}

/// The upload form: one `file` part, with its file name and content type.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AttachmentUpload {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Attaches a file (PDF, PNG or JPEG by default: `ATTACHMENT_TYPES`, at most
/// `ATTACHMENT_MAX_BYTES`; its bytes must be what its type says) to a ticket, as its borrower or
/// a reviewer.
#[utoipa::path(post, path = "/api/tickets/{ticket_id}/attachments", tag = "tickets", security(("bearer" = [])),
    request_body(content = AttachmentUpload, content_type = "multipart/form-data"),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 201, body = AttachmentBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody),
              (status = 422, body = ErrorBody)))]
async fn add_attachment(
    State(state): State<AppState>,
    user: CurrentUser,
    meta: RequestMeta,
    Path(id): Path<String>,
    form: axum::extract::Multipart,
) -> ApiResult<(StatusCode, Json<AttachmentBody>)> {
    let ticket = ticket_id(&id)?;
    let upload =
        crate::upload::read_upload(form, state.config.tickets.attachment_max_bytes).await?;
    let Some(file) = upload.file else {
        return Err(TicketError::AttachmentEmpty.into());
    };
    let stored = attachments::add_attachment(
        &state,
        &user,
        &ticket,
        &file.file_name,
        &file.content_type,
        &file.bytes,
        &meta,
    )
    .await
    .map_err(refusal(&user))?;
    Ok((StatusCode::CREATED, Json(stored.into())))
}

/// A ticket's attachments, oldest first.
#[utoipa::path(get, path = "/api/tickets/{ticket_id}/attachments", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID")),
    responses((status = 200, body = Vec<AttachmentBody>), (status = 404, body = ErrorBody)))]
async fn list_attachments(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<AttachmentBody>>> {
    let found = attachments::list_attachments(&state, &user, &ticket_id(&id)?)
        .await
        .map_err(refusal(&user))?;
    Ok(Json(found.into_iter().map(AttachmentBody::from).collect()))
}

/// An attachment's bytes, as stored (their SHA-256 checked), always as a download.
#[utoipa::path(get, path = "/api/tickets/{ticket_id}/attachments/{attachment_id}", tag = "tickets", security(("bearer" = [])),
    params(("ticket_id" = String, Path, description = "The ticket's UUID"),
           ("attachment_id" = String, Path, description = "The attachment's UUID")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = ErrorBody)))]
async fn download_attachment(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, attachment_id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ticket = ticket_id(&id)?;
    let (attachment, bytes) = attachments::open_attachment(&state, &user, attachment_id.trim())
        .await
        .map_err(refusal(&user))?;
    if attachment.ticket_id != ticket {
        return Err(TicketError::AttachmentNotFound.into());
    }
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    let content_type = HeaderValue::from_str(&attachment.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(axum::http::header::CONTENT_TYPE, content_type);
    headers.insert(
        axum::http::header::CONTENT_DISPOSITION,
        crate::upload::content_disposition(&attachment.file_name),
    );
    Ok(response)
}
