//! Loan-request tickets for people: a borrower's list (`/tickets`), the application form
//! (`/tickets/new`) and a ticket's page (`/tickets/{id}`) with its timeline, deadlines and the
//! moves its reader may make, through `saghat_core::tickets::service` (the API's functions).
//! Reviewers (lenders, admins) also see the fraud flags and act on the ticket; accountants read.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use sqlx::{AnyConnection, AssertSqlSafe};

use super::{render, Page, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::forms::{FormErrors, FormReader};
use crate::web::i18n::{Lang, UiText};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebError, WebForm, WebResult};
use saghat_core::auth::{CurrentUser, Role};
use saghat_core::fund::access::is_fund_member;
use saghat_core::intents::service as intents;
use saghat_core::platform::audit::RequestMeta;
use saghat_core::platform::money::Amount;
use saghat_core::tickets::approval::ApprovalRefused;
use saghat_core::tickets::error::TicketError;
use saghat_core::tickets::fraud::Severity;
use saghat_core::tickets::loans::{self, ScheduleView};
use saghat_core::tickets::queue::{self, TicketFilter};
use saghat_core::tickets::schedule::{Delinquency, ScheduleError};
use saghat_core::tickets::service::{self, NewTicket, TicketView};
use saghat_core::tickets::sla::PhaseStatus;
use saghat_core::tickets::state::{self, TicketState, TransitionError};
use saghat_core::tickets::store::Ticket;
use saghat_core::tickets::{attachments, comments};

/// A borrower's tickets per page of `/tickets`.
const MINE_PAGE_SIZE: i64 = 50;

const APPLY_FIELDS: &[&str] = &["amount", "term_months", "purpose", "payout_address"];

/// Whether `user` may apply for a loan: fund members (members and admins); lenders and
/// accountants are not members of the fund.
pub fn may_apply(user: &CurrentUser) -> bool {
    is_fund_member(user.role)
}

/// Whether `user` reads every ticket and the review queue: reviewers and accountants.
pub fn reads_all(user: &CurrentUser) -> bool {
    service::is_reviewer(user.role) || user.role == Role::Accountant
}

/// A file's size: `12 KB`, `3.4 MB` (in the page's digits).
pub fn size(lang: Lang, bytes: i64) -> String {
    let text = match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{} KB", (b + 1023) / 1024),
        b => format!("{:.1} MB", b as f64 / (1024.0 * 1024.0)),
    };
    lang.digits(&text)
}

/// A state's name on the pages.
pub fn state_name(lang: Lang, state: TicketState) -> &'static str {
    lang.t(&format!("tk_state_{}", state.as_str()))
}

/// A flag severity's name (`low`, `medium`, `high` as stored).
pub fn severity_name(lang: Lang, severity: &str) -> &'static str {
    lang.t(&format!("tk_sev_{severity}"))
}

/// An instant as a Jalali date and a clock time in the fund's time zone: `۱۴۰۵/۰۹/۰۱ ۱۴:۰۵`.
pub fn when(lang: Lang, tz: Tz, at: DateTime<Utc>) -> String {
    let stored = at.to_rfc3339();
    let time = at.with_timezone(&tz).format("%H:%M").to_string();
    format!("{} {}", lang.date(&stored, tz), lang.digits(&time))
}

/// The ticket's short reference as shown (Persian digits in Persian, as the notices write it).
pub fn reference(lang: Lang, ticket_id: &str) -> String {
    lang.digits(&service::short_ref(ticket_id))
}

/// Usernames by id (users are never deleted; a missing one shows as `#id`).
pub async fn usernames(
    conn: &mut AnyConnection,
    ids: impl IntoIterator<Item = i64>,
) -> Result<HashMap<i64, String>, sqlx::Error> {
    let mut ids: Vec<i64> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    // The ids are integers, written into the statement by us, never text from a request.
    let list: Vec<String> = ids.iter().map(i64::to_string).collect();
    let sql = format!(
        "SELECT id, username FROM users WHERE id IN ({})",
        list.join(", ")
    );
    let rows: Vec<(i64, String)> = sqlx::query_as(AssertSqlSafe(sql)).fetch_all(conn).await?;
    Ok(rows.into_iter().collect())
}

fn not_found() -> WebError {
    ApiError::not_found("ticket not found").into()
}

fn name_of(names: &HashMap<i64, String>, id: i64) -> String {
    names.get(&id).cloned().unwrap_or_else(|| format!("#{id}"))
}

/// A ticket service's refusal as the page shows it: next to a field, for the form as a whole,
/// or (not about the input) as an error page.
enum Refusal {
    Field(&'static str, String),
    General(String),
}

fn refusal(err: TicketError, lang: Lang) -> Result<Refusal, WebError> {
    let mut field = err.field();
    let money = |a: &Amount| format!("{} USDT", lang.amount(*a));
    let in_state = |key: &str, state: &TicketState| {
        format!(
            "{} ({}: {}).",
            lang.t(key),
            lang.t("state"),
            state_name(lang, *state)
        )
    };
    let text = match &err {
        TicketError::NotFound | TicketError::ScheduleHidden => {
            return Err(ApiError::not_found("ticket not found").into())
        }
        TicketError::NotYours => {
            return Err(ApiError::Forbidden("you may not act on this ticket".into()).into())
        }
        TicketError::NotABorrower => {
            return Err(
                ApiError::Forbidden("only members of the fund may apply for a loan".into()).into(),
            )
        }
        TicketError::Store(_)
        | TicketError::Corrupt(_)
        | TicketError::Ledger(_)
        | TicketError::Schedule(
            ScheduleError::BadDueDay | ScheduleError::NegativeFee | ScheduleError::BadTerm,
        ) => {
            // Not about the input: the books, the configuration or the database.
            return Err(match err {
                TicketError::Store(e) => WebError::from(e),
                other => ApiError::Internal(anyhow::Error::new(other)).into(),
            });
        }
        TicketError::AmountNotPositive => lang.t("tk_bad_amount_positive").to_string(),
        TicketError::AmountTooLarge => lang.t("tk_bad_amount_large").to_string(),
        TicketError::PurposeMissing => lang.t("required").to_string(),
        TicketError::PurposeTooLong { .. } => lang.t("tk_bad_purpose_long").to_string(),
        TicketError::TermOutOfRange => lang.t("tk_bad_term").to_string(),
        TicketError::PayoutAddressInvalid { .. } => lang.t("tk_bad_payout").to_string(),
        TicketError::NotAMove(_) => lang.t("tk_refused_actor").to_string(),
        TicketError::Transition(TransitionError::NotAllowed { from, .. }) => {
            in_state("tk_refused_move", from)
        }
        TicketError::Transition(TransitionError::NotPermitted { .. }) => {
            lang.t("tk_refused_actor").to_string()
        }
        TicketError::Approval(ApprovalRefused::OwnTicket) => lang.t("tk_refused_own").to_string(),
        TicketError::Approval(ApprovalRefused::SameApprover) => {
            lang.t("tk_refused_same").to_string()
        }
        TicketError::Approval(ApprovalRefused::AlreadyComplete) => {
            lang.t("tk_refused_complete").to_string()
        }
        TicketError::InsufficientCash { cash, amount } => format!(
            "{} ({}: {}; {}: {}).",
            lang.t("tk_refused_cash"),
            lang.t("cash"),
            money(cash),
            lang.t("amount"),
            money(amount)
        ),
        TicketError::NotRepaying(state) => in_state("tk_refused_not_repaying", state),
        TicketError::Schedule(ScheduleError::Overpayment { owed }) => {
            field = Some("repay_amount");
            format!("{} ({})", lang.t("tk_refused_overpayment"), money(owed))
        }
        TicketError::Schedule(ScheduleError::NothingOwed) => {
            lang.t("tk_refused_nothing_owed").to_string()
        }
        TicketError::Schedule(ScheduleError::NotPositive) => {
            field = Some("repay_amount");
            lang.t("tk_bad_amount_positive").to_string()
        }
        TicketError::Schedule(ScheduleError::TooLarge) => {
            field = Some("repay_amount");
            lang.t("tk_bad_amount_large").to_string()
        }
        TicketError::RepaymentKeyInvalid { .. } | TicketError::RepaymentKeyReused { .. } => {
            lang.t("tk_refused_key").to_string()
        }
        TicketError::CommentNotFound | TicketError::AttachmentNotFound => {
            return Err(ApiError::not_found("not found").into())
        }
        TicketError::AttachmentCorrupt { .. } | TicketError::AttachmentIo(_) => {
            return Err(ApiError::Internal(anyhow::Error::new(err)).into())
        }
        TicketError::CommentEmpty | TicketError::AttachmentEmpty => lang.t("required").to_string(),
        TicketError::CommentTooLong { .. } => lang.t("tk_bad_comment_long").to_string(),
        TicketError::InternalNoteNotAllowed => lang.t("tk_refused_internal").to_string(),
        TicketError::NotCommentAuthor => lang.t("tk_refused_actor").to_string(),
        TicketError::AttachmentTooLarge { max } => format!(
            "{} ({} MB).",
            lang.t("tk_bad_file_large"),
            lang.int(i64::try_from(*max / (1024 * 1024)).unwrap_or(i64::MAX))
        ),
        TicketError::AttachmentTypeNotAllowed(_) | TicketError::AttachmentContentMismatch(_) => {
            lang.t("tk_bad_file_type").to_string()
        }
        TicketError::AttachmentNameInvalid { .. } => lang.t("tk_bad_file_name").to_string(),
        TicketError::TooManyAttachments { max } => format!(
            "{} ({}).",
            lang.t("tk_bad_file_count"),
            lang.int(i64::try_from(*max).unwrap_or(i64::MAX))
        ),
    };
    Ok(match field {
        Some(f) => Refusal::Field(f, text),
        None => Refusal::General(text),
    })
}

/// `?done=…` after a ticket redirect: which success message to show.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct TicketDone {
    pub done: String,
}

impl TicketDone {
    fn notice(&self) -> Option<&'static str> {
        Some(match self.done.as_str() {
            "created" => "done_tk_created",
            "submit" => "done_tk_submit",
            "withdraw" => "done_tk_withdraw",
            "take" => "done_tk_take",
            "ask_info" => "done_tk_ask_info",
            "reject" => "done_tk_reject",
            "approve" => "done_tk_approve",
            "disburse" => "done_tk_disburse",
            "repay" => "done_tk_repay",
            "comment" => "done_tk_comment",
            "file" => "done_tk_file",
            _ => return None,
        })
    }
}

// ---- /tickets: the borrower's own tickets ----

#[derive(Template)]
#[template(path = "tickets_list.html")]
pub struct MinePage {
    pub v: View,
    pub tickets: Vec<Ticket>,
    pub may_apply: bool,
}

impl MinePage {
    pub fn state_name(&self, state: &TicketState) -> &'static str {
        state_name(self.v.lang, *state)
    }

    pub fn reference(&self, ticket: &Ticket) -> String {
        reference(self.v.lang, &ticket.id)
    }

    pub fn when(&self, at: &DateTime<Utc>) -> String {
        when(self.v.lang, self.v.tz, *at)
    }

    pub fn due(&self, ticket: &Ticket) -> String {
        match ticket.sla_due_at {
            Some(at) => self.when(&at),
            None => self.v.t("tk_no_deadline").to_string(),
        }
    }
}

pub async fn mine(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(done): Query<TicketDone>,
) -> WebResult<Response> {
    let filter = TicketFilter {
        borrower_id: Some(session.user.id),
        ..TicketFilter::default()
    };
    let page = queue::list(&state, &session.user, &filter, MINE_PAGE_SIZE, 0)
        .await
        .map_err(|e| match refusal(e, prefs.lang) {
            Err(web) => web,
            Ok(_) => WebError::Api(ApiError::bad_request("Cannot list the tickets")),
        })?;
    let frame = Page {
        path: "/tickets",
        active: "tickets",
        title: "tk_mine_title",
        notice: done.notice(),
    };
    render(&MinePage {
        v: View::new(&state, prefs, Some(&session), frame),
        tickets: page.items,
        may_apply: may_apply(&session.user),
    })
}

// ---- /tickets/new: the application form ----

/// The application as typed; shown back as typed when refused.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ApplyForm {
    pub amount: String,
    pub term_months: String,
    pub purpose: String,
    pub payout_address: String,
    /// `submit` to submit the new draft at once; otherwise it stays a draft.
    pub then: String,
    pub csrf: String,
}

impl WebForm for ApplyForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

impl ApplyForm {
    /// The application `create_draft` takes, or an error next to each field that is missing
    /// or not a number (the service checks the rest).
    fn read(&self, lang: Lang) -> Result<NewTicket, FormErrors> {
        let mut read = FormReader::new(lang);
        let amount = read.amount("amount", &self.amount, true);
        let term = read.int("term_months", &self.term_months);
        if self.term_months.trim().is_empty() {
            read.missing("term_months");
        }
        if self.purpose.trim().is_empty() {
            read.missing("purpose");
        }
        if self.payout_address.trim().is_empty() {
            read.missing("payout_address");
        }
        match (amount, term) {
            (Some(amount), Some(term_months)) if read.errors.is_empty() => Ok(NewTicket {
                amount,
                term_months,
                purpose: self.purpose.clone(),
                payout_address: self.payout_address.clone(),
            }),
            _ => Err(read.errors),
        }
    }
}

#[derive(Template)]
#[template(path = "tickets_new.html")]
pub struct ApplyPage {
    pub v: View,
    pub form: ApplyForm,
    pub errors: FormErrors,
}

fn apply_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    form: ApplyForm,
    errors: FormErrors,
) -> WebResult<Response> {
    let frame = Page {
        path: "/tickets/new",
        active: "tickets",
        title: "tk_new",
        notice: None,
    };
    render(&ApplyPage {
        v: View::new(state, prefs, Some(session), frame),
        form,
        errors,
    })
}

fn only_applicants(session: &Session) -> WebResult<()> {
    if may_apply(&session.user) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("only fund members apply for loans".into()).into())
    }
}

pub async fn new_form(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
) -> WebResult<Response> {
    only_applicants(&session)?;
    apply_page(
        &state,
        prefs,
        &session,
        ApplyForm::default(),
        FormErrors::default(),
    )
}

pub async fn create(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    CsrfForm(session, form): CsrfForm<ApplyForm>,
) -> WebResult<Response> {
    only_applicants(&session)?;
    let lang = prefs.lang;
    let new = match form.read(lang) {
        Ok(new) => new,
        Err(errors) => return apply_page(&state, prefs, &session, form, errors),
    };
    let ticket = match service::create_draft(&state, &session.user, new, &meta).await {
        Ok(ticket) => ticket,
        Err(err) => {
            let mut errors = FormErrors::default();
            match refusal(err, lang)? {
                Refusal::Field(f, text) if APPLY_FIELDS.contains(&f) => errors.add(Some(f), text),
                Refusal::Field(_, text) | Refusal::General(text) => errors.add(None, text),
            }
            return apply_page(&state, prefs, &session, form, errors);
        }
    };
    if form.then != "submit" {
        return Ok(see_other(&format!("/tickets/{}?done=created", ticket.id)));
    }
    // The draft is saved; a refused submission is shown on its page, where it can be retried.
    let form = ActionForm::default();
    act_on(
        &state,
        prefs,
        &meta,
        &session,
        &ticket.id,
        Action::Submit,
        &form,
    )
    .await
}

// ---- /tickets/{id}: one ticket ----

/// One line of the timeline.
pub struct TimelineItem {
    pub at: String,
    pub who: String,
    /// A move's state, or empty for a comment.
    pub state: &'static str,
    /// A move's reason, or a comment's text.
    pub reason: String,
    pub comment: bool,
    pub internal: bool,
    pub edited: bool,
    sort: DateTime<Utc>,
}

/// One SLA phase as shown.
pub struct DeadlineRow {
    pub phase: &'static str,
    pub status: &'static str,
    /// "due 1405/09/03 12:00" or "done 1405/09/02 10:00".
    pub when: String,
    pub breached: bool,
}

/// A flag as shown, in the page's language.
pub struct FlagRow {
    pub code: String,
    pub name: &'static str,
    pub severity: String,
    pub severity_name: &'static str,
    pub explanation: String,
}

/// The buttons this reader gets.
#[derive(Default)]
pub struct Actions {
    pub submit: bool,
    pub resubmit: bool,
    pub withdraw: bool,
    pub take: bool,
    pub ask_info: bool,
    pub reject: bool,
    pub approve: bool,
    pub disburse: bool,
    /// Record a repayment: the borrower, or a reviewer for them.
    pub repay: bool,
}

impl Actions {
    fn any(&self) -> bool {
        self.submit
            || self.withdraw
            || self.take
            || self.ask_info
            || self.reject
            || self.approve
            || self.disburse
            || self.repay
    }
}

#[derive(Template)]
#[template(path = "tickets_show.html")]
pub struct TicketPage {
    pub v: View,
    pub t: Ticket,
    pub reference: String,
    pub borrower: String,
    pub own: bool,
    /// Reviewers and accountants: the flags and the approvals.
    pub staff: bool,
    /// Reads the ticket but may make no move on it (accountants).
    pub read_only: bool,
    pub timeline: Vec<TimelineItem>,
    pub deadlines: Vec<DeadlineRow>,
    pub flags: Vec<FlagRow>,
    pub approvals: usize,
    pub approvals_needed: usize,
    pub approved_by: Vec<String>,
    pub you_approved: bool,
    pub actions: Actions,
    pub has_actions: bool,
    /// Why the last action was refused, and the reason typed with it (kept).
    pub errors: FormErrors,
    pub reason_ask: String,
    pub reason_reject: String,
    /// The repayment form: the amount typed (kept when refused) and a fresh key, so that the
    /// same form sent twice records one repayment.
    pub repay_amount: String,
    pub repay_key: String,
    /// The loan, once disbursed.
    pub schedule: Option<ScheduleView>,
    /// "Pay online" for the borrower, saying what it charges; empty when not offered.
    pub pay_online: String,
    /// The comment form (those who may write) and internal notes (reviewers).
    pub may_comment: bool,
    pub may_note: bool,
    pub comment: String,
    pub files: Vec<FileRow>,
}

/// An attachment as listed.
pub struct FileRow {
    pub id: String,
    pub name: String,
    pub size: String,
    pub by: String,
    pub at: String,
    pub sha256: String,
}

impl TicketPage {
    /// A schedule's due date as a Jalali date.
    pub fn day(&self, date: &chrono::NaiveDate) -> String {
        let noon = date.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
        let (y, m, d) = saghat_core::platform::jalali::jalali_date(noon, Tz::UTC);
        self.v.digits(&format!("{y}/{m:02}/{d:02}"))
    }

    /// An installment's number in the page's digits.
    pub fn number(&self, n: &u32) -> String {
        self.v.int(&i64::from(*n))
    }

    /// The loan's lateness bucket in words.
    pub fn delinquency(&self, s: &ScheduleView) -> &'static str {
        self.v.t(&late_key(s.delinquency))
    }

    pub fn state_name(&self, state: &TicketState) -> &'static str {
        state_name(self.v.lang, *state)
    }

    pub fn when(&self, at: &DateTime<Utc>) -> String {
        when(self.v.lang, self.v.tz, *at)
    }

    pub fn severity_of(&self, severity: &Severity) -> &'static str {
        severity_name(self.v.lang, severity.as_str())
    }

    /// "1 of 2 approvals" / "۱ از ۲ تأیید".
    pub fn approvals_line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.v.int(&(self.approvals as i64)),
            self.v.t("of"),
            self.v.int(&(self.approvals_needed as i64)),
            self.v.t("tk_approvals_count")
        )
    }
}

/// What the page typed into an action's form, when it is shown again.
#[derive(Default)]
struct Typed {
    errors: FormErrors,
    reason_ask: String,
    reason_reject: String,
    repay_amount: String,
    comment: String,
}

/// The text key of a lateness bucket (`current`, `1-30`, … `90+`).
fn late_key(bucket: Delinquency) -> String {
    format!("tk_late_{}", bucket.as_str().replace(['-', '+'], "_"))
}

async fn ticket_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    ticket_id: &str,
    notice: Option<&'static str>,
    typed: Typed,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let user = &session.user;
    let view: TicketView = match service::get(state, user, ticket_id).await {
        Ok(view) => view,
        Err(err) => {
            return Err(match refusal(err, lang) {
                Err(web) => web,
                Ok(_) => ApiError::not_found("ticket not found").into(),
            })
        }
    };
    let ticket = view.ticket;
    let comment_list = comments::list_comments(state, user, &ticket.id)
        .await
        .map_err(|e| refusal(e, lang).err().unwrap_or_else(not_found))?;
    let files = attachments::list_attachments(state, user, &ticket.id)
        .await
        .map_err(|e| refusal(e, lang).err().unwrap_or_else(not_found))?;
    let mut conn = state.db.pool.acquire().await?;
    let people = view
        .history
        .iter()
        .filter_map(|h| h.actor_user_id)
        .chain(view.approvals.iter().copied())
        .chain(files.iter().map(|f| f.uploader_id))
        .chain([ticket.borrower_id]);
    let names = usernames(&mut conn, people).await?;
    drop(conn);
    let tz = state.config.fund_timezone;
    let timeline = view
        .history
        .iter()
        .map(|h| TimelineItem {
            at: when(lang, tz, h.at),
            who: h
                .actor_user_id
                .map_or_else(|| lang.t("tk_system").to_string(), |id| name_of(&names, id)),
            state: state_name(lang, h.to_state),
            reason: h.reason.clone(),
            comment: false,
            internal: false,
            edited: false,
            sort: h.at,
        })
        .chain(comment_list.iter().map(|c| TimelineItem {
            at: when(lang, tz, c.created_at),
            who: c.author_username.clone(),
            state: "",
            reason: c.body.clone(),
            comment: true,
            internal: c.internal,
            edited: c.edited_at.is_some(),
            sort: c.created_at,
        }))
        .collect::<Vec<_>>();
    // States and comments in the order they happened (a stable sort keeps a move before the
    // comment written at the same instant).
    let mut timeline = timeline;
    timeline.sort_by_key(|item| item.sort);
    let deadlines = view
        .deadlines
        .iter()
        .map(|d| {
            let (label, at) = match (d.status, d.met_at) {
                (PhaseStatus::Met, Some(met)) => ("tk_done_at", Some(met)),
                _ => ("tk_due_by", d.due_at),
            };
            DeadlineRow {
                phase: lang.t(&format!("tk_phase_{}", d.phase.as_str())),
                status: lang.t(match d.status {
                    PhaseStatus::Running => "tk_clock_running",
                    PhaseStatus::Paused => "tk_clock_paused",
                    PhaseStatus::Met => "tk_clock_met",
                    PhaseStatus::Stopped => "tk_clock_stopped",
                }),
                when: at.map_or_else(String::new, |at| {
                    format!("{} {}", lang.t(label), when(lang, tz, at))
                }),
                breached: d.breached,
            }
        })
        .collect();
    let staff = reads_all(user);
    let flags = if staff {
        view.flags
            .iter()
            .map(|f| FlagRow {
                name: lang.t(&format!("tk_flag_{}", f.code)),
                code: f.code.clone(),
                severity_name: severity_name(lang, &f.severity),
                severity: f.severity.clone(),
                explanation: match lang {
                    Lang::En => f.explanation_en.clone(),
                    Lang::Fa => f.explanation_fa.clone(),
                },
            })
            .collect()
    } else {
        Vec::new()
    };
    let you_approved = view.approvals.contains(&user.id);
    let actor = service::actor_for(user, &ticket).ok();
    let next = actor.map_or_else(Vec::new, |actor| state::next_states(ticket.state, actor));
    let can = |s: TicketState| next.contains(&s);
    let actions = Actions {
        submit: can(TicketState::Submitted),
        resubmit: ticket.state == TicketState::NeedsInfo,
        withdraw: can(TicketState::Withdrawn),
        take: can(TicketState::UnderReview),
        ask_info: can(TicketState::NeedsInfo),
        reject: can(TicketState::Rejected),
        approve: can(TicketState::Approved) && !you_approved,
        disburse: can(TicketState::Disbursed),
        repay: ticket.state == TicketState::Repaying && actor.is_some(),
    };
    let schedule = if ticket.state.is_disbursed() {
        match loans::schedule_of(state, user, &ticket.id).await {
            Ok(view) => Some(view),
            Err(err) => {
                return Err(match refusal(err, lang) {
                    Err(web) => web,
                    Ok(_) => ApiError::not_found("ticket not found").into(),
                })
            }
        }
    } else {
        None
    };
    let own = ticket.borrower_id == user.id;
    let pay_online = if own && ticket.state == TicketState::Repaying {
        let mut conn = state.db.pool.acquire().await?;
        let owed = loans::owed_on(state, &mut conn, &ticket.id)
            .await
            .ok()
            .flatten();
        owed.and_then(|(_, installments)| intents::installment_charge(state, &installments))
            .map(|(usdt, rials)| {
                lang.t("tk_pay_online_help")
                    .replace("{usdt}", &lang.amount(usdt))
                    .replace(
                        "{rials}",
                        &lang.money(saghat_core::platform::currency::Currency::Irr, rials.into()),
                    )
            })
            .unwrap_or_default()
    } else {
        String::new()
    };
    let access = comments::Access::of(user.id, user.role, &ticket);
    let frame = Page {
        path: "/tickets",
        active: if own { "tickets" } else { "review" },
        title: "tk_title",
        notice,
    };
    let mut v = View::new(state, prefs, Some(session), frame);
    let other = match lang {
        Lang::En => Lang::Fa,
        Lang::Fa => Lang::En,
    };
    v.switch_href = format!("/tickets/{}?lang={}", ticket.id, other.code());
    let offers_online = !pay_online.is_empty();
    let mut response = render(&TicketPage {
        pay_online,
        reference: reference(lang, &ticket.id),
        borrower: name_of(&names, ticket.borrower_id),
        own,
        staff,
        read_only: actor.is_none(),
        timeline,
        deadlines,
        flags,
        approvals: view.approvals.len(),
        approvals_needed: view.approvals_needed,
        approved_by: view
            .approvals
            .iter()
            .map(|id| name_of(&names, *id))
            .collect(),
        you_approved,
        has_actions: actions.any(),
        actions,
        errors: typed.errors,
        reason_ask: typed.reason_ask,
        reason_reject: typed.reason_reject,
        repay_amount: typed.repay_amount,
        repay_key: uuid::Uuid::new_v4().to_string(),
        schedule,
        may_comment: access.is_some_and(comments::Access::may_write),
        may_note: access.is_some_and(comments::Access::sees_internal),
        comment: typed.comment,
        files: files
            .iter()
            .map(|f| FileRow {
                id: f.id.clone(),
                name: f.file_name.clone(),
                size: size(lang, f.size_bytes),
                by: name_of(&names, f.uploader_id),
                at: when(lang, tz, f.created_at),
                sha256: f.sha256.clone(),
            })
            .collect(),
        t: ticket,
        v,
    })?;
    if offers_online {
        if let Some(origin) = intents::gateway_origin(state) {
            crate::web::layers::allow_form_target(response.headers_mut(), &origin);
        }
    }
    Ok(response)
}

/// The ticket's page again with `message` as the error of its forms.
pub async fn show_with_error(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    ticket_id: &str,
    message: &'static str,
) -> WebResult<Response> {
    let mut errors = FormErrors::default();
    errors.add(None, message);
    let typed = Typed {
        errors,
        ..Typed::default()
    };
    ticket_page(state, prefs, session, ticket_id, None, typed).await
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Path(id): Path<String>,
    Query(done): Query<TicketDone>,
) -> WebResult<Response> {
    ticket_page(
        &state,
        prefs,
        &session,
        &id,
        done.notice(),
        Typed::default(),
    )
    .await
}

/// The form of every ticket button: the reason, where the move takes one.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ActionForm {
    pub reason: String,
    /// A repayment's amount and idempotency key.
    pub amount: String,
    pub key: String,
    pub csrf: String,
}

impl WebForm for ActionForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A ticket button (or form).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Submit,
    Withdraw,
    Take,
    AskInfo,
    Reject,
    Approve,
    Disburse,
    Repay,
    /// The comment and upload forms (`pages::ticket_files`).
    Comment,
    Upload,
}

impl Action {
    fn parse(path: &str) -> Option<Action> {
        Some(match path {
            "submit" => Action::Submit,
            "withdraw" => Action::Withdraw,
            "take" => Action::Take,
            "ask_info" => Action::AskInfo,
            "reject" => Action::Reject,
            "approve" => Action::Approve,
            "disburse" => Action::Disburse,
            "repay" => Action::Repay,
            _ => return None,
        })
    }

    fn code(self) -> &'static str {
        match self {
            Action::Submit => "submit",
            Action::Withdraw => "withdraw",
            Action::Take => "take",
            Action::AskInfo => "ask_info",
            Action::Reject => "reject",
            Action::Approve => "approve",
            Action::Disburse => "disburse",
            Action::Repay => "repay",
            Action::Comment => "comment",
            Action::Upload => "file",
        }
    }

    /// The field of the reason it takes (required: the borrower must know why).
    fn reason_field(self) -> Option<&'static str> {
        match self {
            Action::AskInfo => Some("ask_info_reason"),
            Action::Reject => Some("reject_reason"),
            _ => None,
        }
    }
}

/// `POST /tickets/{id}/{action}`.
pub async fn act(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path((id, action)): Path<(String, String)>,
    CsrfForm(session, form): CsrfForm<ActionForm>,
) -> WebResult<Response> {
    let action = Action::parse(&action).ok_or_else(|| ApiError::not_found("no such action"))?;
    act_on(&state, prefs, &meta, &session, &id, action, &form).await
}

async fn act_on(
    state: &AppState,
    prefs: Prefs,
    meta: &RequestMeta,
    session: &Session,
    id: &str,
    action: Action,
    form: &ActionForm,
) -> WebResult<Response> {
    let reason = form.reason.as_str();
    let typed = |errors: FormErrors| Typed {
        errors,
        reason_ask: if action == Action::AskInfo {
            reason.to_string()
        } else {
            String::new()
        },
        reason_reject: if action == Action::Reject {
            reason.to_string()
        } else {
            String::new()
        },
        repay_amount: if action == Action::Repay {
            form.amount.clone()
        } else {
            String::new()
        },
        comment: if action == Action::Comment {
            reason.to_string()
        } else {
            String::new()
        },
    };
    if let Some(field) = action.reason_field() {
        if reason.trim().is_empty() {
            let mut errors = FormErrors::default();
            errors.add(Some(field), prefs.lang.t("required"));
            return ticket_page(state, prefs, session, id, None, typed(errors)).await;
        }
    }
    let user = &session.user;
    let mut repay_amount = Amount::ZERO;
    if action == Action::Repay {
        let mut read = FormReader::new(prefs.lang);
        match read.amount("repay_amount", &form.amount, true) {
            Some(amount) => repay_amount = amount,
            None => return ticket_page(state, prefs, session, id, None, typed(read.errors)).await,
        }
    }
    let moved = |outcome: Result<Ticket, TicketError>| outcome.map(|_| ());
    let move_to = |target, why| service::move_ticket(state, user, id, target, why, meta);
    let outcome = match action {
        Action::Submit => moved(service::submit(state, user, id, meta).await),
        Action::Approve => moved(service::approve(state, user, id, meta).await),
        Action::Withdraw => moved(move_to(TicketState::Withdrawn, "").await),
        Action::Take => moved(move_to(TicketState::UnderReview, "").await),
        Action::AskInfo => moved(move_to(TicketState::NeedsInfo, reason).await),
        Action::Reject => moved(move_to(TicketState::Rejected, reason).await),
        Action::Disburse => moved(loans::disburse(state, user, id, meta).await),
        Action::Repay => loans::repay(state, user, id, repay_amount, &form.key, meta)
            .await
            .map(|_| ()),
        // Their own handlers (`pages::ticket_files`); never parsed from a path.
        Action::Comment | Action::Upload => Err(TicketError::NotFound),
    };
    match outcome {
        // Whether a ticket exists is its borrower's business (as on its page); an accountant,
        // who may read it, is told they may not act.
        Err(TicketError::NotYours) if !reads_all(user) => {
            Err(ApiError::not_found("ticket not found").into())
        }
        Ok(()) => Ok(see_other(&format!("/tickets/{id}?done={}", action.code()))),
        Err(err) => {
            let mut errors = FormErrors::default();
            match refusal(err, prefs.lang)? {
                // A repayment's amount is its form's only field.
                Refusal::Field("amount" | "repay_amount", text) if action == Action::Repay => {
                    errors.add(Some("repay_amount"), text)
                }
                Refusal::Field(_, text) | Refusal::General(text) => errors.add(None, text),
            }
            ticket_page(state, prefs, session, id, None, typed(errors)).await
        }
    }
}

/// A refused form's errors: those `fields` name next to their field (as `(error's field, the
/// page's field)`), the rest for the form; not about the input, an error page (a stranger's
/// ticket is "not found", as its page).
pub fn refusal_errors(
    err: TicketError,
    lang: Lang,
    user: &CurrentUser,
    fields: &[(&str, &'static str)],
) -> Result<FormErrors, WebError> {
    if matches!(err, TicketError::NotYours) && !reads_all(user) {
        return Err(ApiError::not_found("ticket not found").into());
    }
    let mut errors = FormErrors::default();
    match refusal(err, lang)? {
        Refusal::Field(f, text) => match fields.iter().find(|(from, _)| *from == f) {
            Some((_, to)) => errors.add(Some(to), text),
            None => errors.add(None, text),
        },
        Refusal::General(text) => errors.add(None, text),
    }
    Ok(errors)
}

/// The ticket page again after a refused form, with what was typed into it.
pub async fn show_again(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    id: &str,
    action: Action,
    form: &ActionForm,
    errors: FormErrors,
) -> WebResult<Response> {
    let typed = Typed {
        errors,
        comment: if action == Action::Comment {
            form.reason.clone()
        } else {
            String::new()
        },
        ..Typed::default()
    };
    ticket_page(state, prefs, session, id, None, typed).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use saghat_core::tickets::fraud::FlagCode;
    use saghat_core::tickets::sla::Phase;

    #[test]
    fn every_state_flag_phase_and_notice_is_translated() {
        let mut keys: Vec<String> = TicketState::ALL
            .iter()
            .map(|s| format!("tk_state_{}", s.as_str()))
            .collect();
        keys.extend(
            Phase::ALL
                .iter()
                .map(|p| format!("tk_phase_{}", p.as_str())),
        );
        keys.extend(["low", "medium", "high"].map(|s| format!("tk_sev_{s}")));
        use FlagCode::*;
        for code in [
            AmountAboveHistory,
            DisposableEmail,
            SharedEmailDomain,
            Velocity,
            NewAccountLargeAmount,
            SharedPhone,
            SharedPayoutAddress,
            SharedClientAddress,
            Structuring,
        ] {
            keys.push(format!("tk_flag_{}", code.as_str()));
        }
        for done in [
            "created", "submit", "withdraw", "take", "ask_info", "reject", "approve", "disburse",
            "repay",
        ] {
            let notice = TicketDone { done: done.into() }.notice();
            keys.push(notice.unwrap_or("missing").to_string());
        }
        keys.extend([0, 10, 40, 70, 100].map(|days| late_key(Delinquency::of_days(days))));
        for key in keys {
            for lang in [Lang::En, Lang::Fa] {
                assert_ne!(lang.t(&key), "?", "{key} in {lang:?}");
            }
        }
    }

    #[test]
    fn refusals_say_why_in_the_pages_language() {
        for lang in [Lang::En, Lang::Fa] {
            let Ok(Refusal::Field(field, text)) = refusal(TicketError::TermOutOfRange, lang) else {
                panic!("a term error is about its field");
            };
            assert_eq!(field, "term_months");
            assert_eq!(text, lang.t("tk_bad_term"));
            let moved = TicketError::Transition(TransitionError::NotAllowed {
                from: TicketState::Rejected,
                to: TicketState::Approved,
            });
            let Ok(Refusal::General(text)) = refusal(moved, lang) else {
                panic!("a refused move is for the page");
            };
            assert!(
                text.contains(state_name(lang, TicketState::Rejected)),
                "{text}"
            );
            assert!(refusal(TicketError::NotFound, lang).is_err());
            assert!(refusal(TicketError::NotYours, lang).is_err());
        }
    }

    #[test]
    fn times_are_jalali_in_the_funds_zone_with_the_languages_digits() {
        let at = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 11, 22, 9, 0, 0).unwrap();
        assert_eq!(when(Lang::En, Tz::Asia__Tehran, at), "1405/09/01 12:30");
        assert_eq!(when(Lang::Fa, Tz::Asia__Tehran, at), "۱۴۰۵/۰۹/۰۱ ۱۲:۳۰");
    }
}
