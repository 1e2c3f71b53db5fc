//! `/admin/jobs`: the job queue for admins — jobs per state, the dead letters (or any state)
//! with their last error, and Retry / Discard, through the functions behind
//! `/api/admin/jobs` (`saghat_core::jobs::admin`).

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{render, Done, Page, PlainForm, View};
use crate::state::AppState;
use crate::web::i18n::{Lang, UiText};
use crate::web::session::{see_other, AdminForm, AdminSession, Prefs, Session, WebResult};
use saghat_core::jobs::admin::{
    self, JobAdminError, JobFilter, JobState, JobSummary, QueueSummary,
};
use saghat_core::platform::audit::RequestMeta;

/// Jobs a page lists.
const PAGE_SIZE: i64 = 50;

/// The filter of the list, as the query string carries it.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct JobQuery {
    pub state: String,
    pub kind: String,
    pub offset: i64,
    pub done: String,
}

impl JobQuery {
    /// An unknown state shows the dead letters, like no state.
    fn filter(&self) -> JobFilter {
        JobFilter {
            state: JobState::parse(&self.state).unwrap_or(JobState::Discarded),
            kind: Some(self.kind.trim().to_string()).filter(|k| !k.is_empty()),
        }
    }
}

#[derive(Template)]
#[template(path = "jobs.html")]
pub struct JobsPage {
    pub v: View,
    pub summary: QueueSummary,
    pub filter: JobFilter,
    pub jobs: Vec<JobSummary>,
    pub total: i64,
    pub offset: i64,
    /// Text key of why the last Retry or Discard was refused.
    pub problem: Option<&'static str>,
}

impl JobsPage {
    pub fn states(&self) -> [JobState; 8] {
        JobState::ALL
    }

    pub fn state_name(&self, state: &JobState) -> &'static str {
        self.v.t(&format!("job_state_{}", state.as_str()))
    }

    /// A stored UTC time as the fund's Jalali date and clock time: `۱۴۰۵/۰۹/۰۱ ۱۴:۰۵`.
    pub fn when(&self, at: &str) -> String {
        let time = DateTime::parse_from_rfc3339(at).map(|t| {
            t.with_timezone(&Utc)
                .with_timezone(&self.v.tz)
                .format("%H:%M")
                .to_string()
        });
        match time {
            Ok(time) => format!("{} {}", self.v.date(at), self.v.digits(&time)),
            Err(_) => String::new(),
        }
    }

    /// The last moment that matters for a job: when it was set aside or finished, else its
    /// latest attempt, else when it is due.
    pub fn last_seen(&self, job: &JobSummary) -> String {
        let at = job
            .finalized_at
            .as_deref()
            .or(job.attempted_at.as_deref())
            .unwrap_or(&job.scheduled_at);
        self.when(at)
    }

    pub fn attempts(&self, job: &JobSummary) -> String {
        self.v
            .digits(&format!("{} / {}", job.attempt, job.max_attempts))
    }

    pub fn args(&self, job: &JobSummary) -> String {
        job.args.to_string()
    }

    pub fn oldest_wait(&self) -> Option<String> {
        self.summary
            .oldest_available_secs
            .map(|secs| wait(secs, self.v.lang))
    }

    fn link(&self, offset: i64) -> String {
        let kind = percent_encoding::utf8_percent_encode(
            self.filter.kind.as_deref().unwrap_or(""),
            percent_encoding::NON_ALPHANUMERIC,
        );
        format!(
            "/admin/jobs?state={}&kind={kind}&offset={offset}",
            self.filter.state.as_str()
        )
    }

    pub fn newer(&self) -> Option<String> {
        (self.offset > 0).then(|| self.link((self.offset - PAGE_SIZE).max(0)))
    }

    pub fn older(&self) -> Option<String> {
        (self.offset + PAGE_SIZE < self.total).then(|| self.link(self.offset + PAGE_SIZE))
    }

    /// "1–50 of 120".
    pub fn range(&self) -> String {
        let last = (self.offset + PAGE_SIZE).min(self.total);
        format!(
            "{}–{} {} {}",
            self.v.int(&(self.offset + 1)),
            self.v.int(&last),
            self.v.t("of"),
            self.v.int(&self.total)
        )
    }
}

/// A wait in its largest whole unit: "45 seconds", "3 minutes", "2 hours", "4 days".
fn wait(secs: i64, lang: Lang) -> String {
    let (n, unit) = match secs {
        s if s < 60 => (s, "unit_seconds"),
        s if s < 3600 => (s / 60, "unit_minutes"),
        s if s < 86_400 => (s / 3600, "unit_hours"),
        s => (s / 86_400, "unit_days"),
    };
    format!("{} {}", lang.int(n), lang.t(unit))
}

async fn jobs_page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    query: &JobQuery,
    notice: Option<&'static str>,
    problem: Option<&'static str>,
) -> WebResult<Response> {
    let filter = query.filter();
    let offset = query.offset.max(0);
    let mut conn = state.db.pool.acquire().await?;
    let summary = admin::summary(&mut conn, state.db.backend).await?;
    let (jobs, total) =
        admin::list(&mut conn, state.db.backend, &filter, PAGE_SIZE, offset).await?;
    drop(conn);
    let page = Page {
        path: "/admin/jobs",
        active: "jobs",
        title: "jobs",
        notice,
    };
    render(&JobsPage {
        v: View::new(state, prefs, Some(session), page),
        summary,
        filter,
        jobs,
        total,
        offset,
        problem,
    })
}

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    AdminSession(session): AdminSession,
    Query(query): Query<JobQuery>,
) -> WebResult<Response> {
    let notice = Done {
        done: query.done.clone(),
    }
    .notice();
    jobs_page(&state, prefs, &session, &query, notice, None).await
}

/// The list to go back to after a Retry or Discard: the state it was filtered on.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct BackTo {
    pub state: String,
}

/// After a refusal the page is shown again with why; a store failure is an error page.
async fn answer(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    back: BackTo,
    outcome: Result<(), JobAdminError>,
    done: &str,
) -> WebResult<Response> {
    let problem = match outcome {
        Ok(()) => {
            let to = match JobState::parse(&back.state) {
                Some(s) => format!("/admin/jobs?state={}&done={done}", s.as_str()),
                None => format!("/admin/jobs?done={done}"),
            };
            return Ok(see_other(&to));
        }
        Err(JobAdminError::NotFound) => "job_not_found",
        Err(JobAdminError::Running) => "job_running",
        Err(JobAdminError::Store(e)) => return Err(e.into()),
    };
    let query = JobQuery {
        state: back.state,
        ..JobQuery::default()
    };
    jobs_page(state, prefs, session, &query, None, Some(problem)).await
}

/// Runs a job again now (`jobs::admin::retry`, as `POST /api/admin/jobs/{id}/retry`).
pub async fn retry(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<i64>,
    Query(back): Query<BackTo>,
    AdminForm(session, _form): AdminForm<PlainForm>,
) -> WebResult<Response> {
    act(&state, prefs, &meta, id, back, &session, Action::Retry).await
}

/// Deletes a job (`jobs::admin::discard`, as `DELETE /api/admin/jobs/{id}`).
pub async fn discard(
    State(state): State<AppState>,
    prefs: Prefs,
    meta: RequestMeta,
    Path(id): Path<i64>,
    Query(back): Query<BackTo>,
    AdminForm(session, _form): AdminForm<PlainForm>,
) -> WebResult<Response> {
    act(&state, prefs, &meta, id, back, &session, Action::Discard).await
}

/// A job button on the page.
#[derive(Clone, Copy)]
enum Action {
    Retry,
    Discard,
}

/// Does `action` to job `id` and answers as the page does after either button.
async fn act(
    state: &AppState,
    prefs: Prefs,
    meta: &RequestMeta,
    id: i64,
    back: BackTo,
    session: &Session,
    action: Action,
) -> WebResult<Response> {
    let (outcome, done) = match action {
        Action::Retry => (
            admin::retry(state, &session.user, meta, id).await,
            "job_retried",
        ),
        Action::Discard => (
            admin::discard(state, &session.user, meta, id).await,
            "job_discarded",
        ),
    };
    answer(state, prefs, session, back, outcome.map(|_| ()), done).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_and_unit_the_page_names_is_translated() {
        let keys = JobState::ALL
            .iter()
            .map(|s| format!("job_state_{}", s.as_str()))
            .chain(["unit_seconds", "unit_minutes", "unit_hours", "unit_days"].map(String::from))
            .chain(
                [
                    "job_running",
                    "job_not_found",
                    "done_job_retried",
                    "done_job_discarded",
                ]
                .map(String::from),
            );
        for key in keys {
            for lang in [Lang::En, Lang::Fa] {
                assert_ne!(lang.t(&key), "?", "{key} in {lang:?}");
            }
        }
    }

    #[test]
    fn waits_are_shown_in_their_largest_unit() {
        assert_eq!(
            wait(45, Lang::En),
            format!("45 {}", Lang::En.t("unit_seconds"))
        );
        assert_eq!(
            wait(185, Lang::En),
            format!("3 {}", Lang::En.t("unit_minutes"))
        );
        assert_eq!(
            wait(7300, Lang::En),
            format!("2 {}", Lang::En.t("unit_hours"))
        );
        assert_eq!(
            wait(4 * 86_400 + 5, Lang::Fa),
            format!("۴ {}", Lang::Fa.t("unit_days"))
        );
    }
}
