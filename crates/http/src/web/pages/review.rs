//! `/review`: the lenders' queue of loan-request tickets, ordered by SLA deadline
//! (`tickets::queue::list`), filtered by state, flag and breach, paged. Reviewers and
//! accountants read it; members may not.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::tickets::{reads_all, reference, severity_name, state_name, usernames, when};
use super::{render, Page, View};
use crate::error::ApiError;
use crate::state::AppState;
use crate::web::i18n::Lang;
use crate::web::session::{Prefs, Session, WebError, WebResult};
use saghat_core::tickets::error::TicketError;
use saghat_core::tickets::queue::{self, TicketFilter};
use saghat_core::tickets::state::TicketState;
use saghat_core::tickets::store::Ticket;

/// Tickets a page lists.
pub const PAGE_SIZE: i64 = 25;

/// The filters as the query string carries them; unknown values mean "any".
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
pub struct ReviewQuery {
    pub state: String,
    pub flagged: String,
    pub breached: String,
    pub offset: i64,
}

fn yes_no(text: &str) -> Option<bool> {
    match text {
        "yes" => Some(true),
        "no" => Some(false),
        _ => None,
    }
}

impl ReviewQuery {
    fn state(&self) -> Option<TicketState> {
        TicketState::parse(&self.state).ok()
    }

    /// No state (or one waiting on the lenders): the queue by deadline. Another state has no
    /// running clock, so those tickets are listed newest first.
    fn filter(&self) -> TicketFilter {
        let state = self.state();
        TicketFilter {
            states: state.into_iter().collect(),
            flagged: yes_no(&self.flagged),
            breached: yes_no(&self.breached),
            by_deadline: state.is_none_or(TicketState::awaits_lenders),
            ..TicketFilter::default()
        }
    }

    /// This list at another offset, in the query string.
    fn query(&self, offset: i64) -> String {
        let state = self.state().map_or("", TicketState::as_str);
        let flagged = yes_no(&self.flagged).map_or("", |b| if b { "yes" } else { "no" });
        let breached = yes_no(&self.breached).map_or("", |b| if b { "yes" } else { "no" });
        format!("state={state}&flagged={flagged}&breached={breached}&offset={offset}")
    }
}

/// A queue row as shown.
pub struct Row {
    pub ticket: Ticket,
    pub borrower: String,
}

#[derive(Template)]
#[template(path = "review.html")]
pub struct ReviewPage {
    pub v: View,
    pub query: ReviewQuery,
    pub rows: Vec<Row>,
    pub total: i64,
    pub offset: i64,
}

impl ReviewPage {
    pub fn states(&self) -> [TicketState; 11] {
        TicketState::ALL
    }

    pub fn state_name(&self, state: &TicketState) -> &'static str {
        state_name(self.v.lang, *state)
    }

    pub fn is_chosen(&self, state: &TicketState) -> bool {
        self.query.state() == Some(*state)
    }

    pub fn severity(&self, ticket: &Ticket) -> Option<(&'static str, &'static str)> {
        ticket
            .flag_severity
            .map(|s| (s.as_str(), severity_name(self.v.lang, s.as_str())))
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

    pub fn previous(&self) -> Option<String> {
        (self.offset > 0).then(|| {
            format!(
                "/review?{}",
                self.query.query((self.offset - PAGE_SIZE).max(0))
            )
        })
    }

    pub fn next(&self) -> Option<String> {
        (self.offset + PAGE_SIZE < self.total)
            .then(|| format!("/review?{}", self.query.query(self.offset + PAGE_SIZE)))
    }

    /// "1–25 of 120".
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

pub async fn show(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
    Query(query): Query<ReviewQuery>,
) -> WebResult<Response> {
    if !reads_all(&session.user) {
        return Err(ApiError::Forbidden("only lenders, admins and accountants".into()).into());
    }
    let offset = query.offset.max(0);
    let page = queue::list(&state, &session.user, &query.filter(), PAGE_SIZE, offset)
        .await
        .map_err(|err| match err {
            TicketError::Store(e) => WebError::from(e),
            other => ApiError::Internal(anyhow::Error::new(other)).into(),
        })?;
    let mut conn = state.db.pool.acquire().await?;
    let names = usernames(&mut conn, page.items.iter().map(|t| t.borrower_id)).await?;
    drop(conn);
    let rows = page
        .items
        .into_iter()
        .map(|ticket| Row {
            borrower: names
                .get(&ticket.borrower_id)
                .cloned()
                .unwrap_or_else(|| format!("#{}", ticket.borrower_id)),
            ticket,
        })
        .collect();
    let frame = Page {
        path: "/review",
        active: "review",
        title: "tk_review_title",
        notice: None,
    };
    let mut v = View::new(&state, prefs, Some(&session), frame);
    let other = match prefs.lang {
        Lang::En => Lang::Fa,
        Lang::Fa => Lang::En,
    };
    v.switch_href = format!("/review?{}&lang={}", query.query(offset), other.code());
    render(&ReviewPage {
        v,
        query,
        rows,
        total: page.total,
        offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_queue_is_by_deadline_and_other_states_newest_first() {
        let all = ReviewQuery::default().filter();
        assert!(all.by_deadline && all.states.is_empty());
        let waiting = ReviewQuery {
            state: "under_review".into(),
            ..ReviewQuery::default()
        };
        assert!(waiting.filter().by_deadline);
        let done = ReviewQuery {
            state: "approved".into(),
            flagged: "yes".into(),
            breached: "no".into(),
            offset: 0,
        };
        let filter = done.filter();
        assert!(!filter.by_deadline);
        assert_eq!(filter.states, vec![TicketState::Approved]);
        assert_eq!((filter.flagged, filter.breached), (Some(true), Some(false)));
        assert_eq!(
            done.query(25),
            "state=approved&flagged=yes&breached=no&offset=25"
        );
        let odd = ReviewQuery {
            state: "nonsense".into(),
            flagged: "maybe".into(),
            ..ReviewQuery::default()
        };
        assert_eq!(odd.query(0), "state=&flagged=&breached=&offset=0");
        assert_eq!(odd.filter().flagged, None);
    }
}
