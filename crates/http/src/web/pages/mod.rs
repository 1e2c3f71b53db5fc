//! Page handlers. Each gathers what its page shows, calls a service for what it changes, and
//! renders a template; a refused form is shown again with each error next to its field.

pub mod account;
pub mod admin;
pub mod dashboard;
pub mod draws;
pub mod errors;
pub mod fund;
pub mod invoicing;
pub mod jobs;
pub mod leaving;
pub mod leaving_actions;
pub mod notifications;
pub mod oidc;
pub mod pay;
pub mod report_exports;
pub mod reports;
pub mod review;
pub mod statements;
pub mod ticket_files;
pub mod tickets;
pub mod webhooks;

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use chrono_tz::Tz;
use serde::Deserialize;

use super::i18n::{self, Lang};
use super::session::{Prefs, Session, WebForm, WebResult};
use crate::state::AppState;
use crate::web::i18n::UiText;
use saghat_core::auth::CurrentUser;
use saghat_core::fund::draw::Exclusion;
use saghat_core::fund::store::Loan;
use saghat_core::platform::jalali::JalaliMonth;
use saghat_core::platform::money::Amount;

/// What every page's frame needs: language, the signed-in user, the CSRF token of its forms.
pub struct View {
    pub lang: Lang,
    pub user: Option<CurrentUser>,
    pub csrf: String,
    /// The nav entry of this page.
    pub active: &'static str,
    /// Title text key.
    pub title: &'static str,
    /// Text key of a success message (after a redirect).
    pub notice: Option<&'static str>,
    /// This page in the other language.
    pub switch_href: String,
    pub tz: Tz,
}

impl View {
    pub fn new(state: &AppState, prefs: Prefs, session: Option<&Session>, page: Page) -> View {
        let other = match prefs.lang {
            Lang::En => Lang::Fa,
            Lang::Fa => Lang::En,
        };
        View {
            lang: prefs.lang,
            user: session.map(|s| s.user.clone()),
            csrf: session.map(|s| s.csrf.clone()).unwrap_or_default(),
            active: page.active,
            title: page.title,
            notice: page.notice,
            switch_href: format!("{}?lang={}", page.path, other.code()),
            tz: state.config.fund_timezone,
        }
    }

    pub fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    pub fn amount(&self, amount: &Amount) -> String {
        self.lang.amount(*amount)
    }

    pub fn int(&self, n: &i64) -> String {
        self.lang.int(*n)
    }

    pub fn list(&self, items: &[String]) -> String {
        self.lang.list(items)
    }

    /// What [`list`](Self::list) puts between items, for a list whose items are each
    /// isolated (`<bdi>`), so that Latin names keep the list's order in a right-to-left page.
    pub fn separator(&self) -> &'static str {
        match self.lang {
            Lang::En => ", ",
            Lang::Fa => "، ",
        }
    }

    pub fn digits(&self, text: &str) -> String {
        self.lang.digits(text)
    }

    pub fn percent(&self, n: &i64) -> String {
        self.lang.digits(&format!("{n}%"))
    }

    pub fn month(&self, year: &i64, month: &i64) -> String {
        self.lang.month(*year, *month)
    }

    pub fn jmonth(&self, month: &saghat_core::platform::jalali::JalaliMonth) -> String {
        self.lang.jalali_month(*month)
    }

    pub fn date(&self, stored: &str) -> String {
        self.lang.date(stored, self.tz)
    }

    pub fn state(&self, state: &str) -> &'static str {
        match state {
            "active" => self.t("state_active"),
            "settled" => self.t("state_settled"),
            _ => self.t("state_no_one"),
        }
    }

    pub fn role(&self, role: &saghat_core::auth::Role) -> &'static str {
        match role {
            saghat_core::auth::Role::Admin => self.t("role_main"),
            saghat_core::auth::Role::Accountant => self.t("role_accountant"),
            saghat_core::auth::Role::Lender => self.t("role_lender"),
            saghat_core::auth::Role::Member => self.t("role_member"),
            saghat_core::auth::Role::Client => self.t("role_client"),
            saghat_core::auth::Role::Viewer => self.t("role_viewer"),
        }
    }
}

/// Which page a [`View`] frames.
pub struct Page {
    pub path: &'static str,
    pub active: &'static str,
    pub title: &'static str,
    pub notice: Option<&'static str>,
}

pub fn render(page: &impl Template) -> WebResult<Response> {
    Ok(Html(page.render()?).into_response())
}

/// `?done=…` after a redirect: which success message to show.
#[derive(Deserialize, Default)]
pub struct Done {
    #[serde(default)]
    pub done: String,
}

impl Done {
    pub fn notice(&self) -> Option<&'static str> {
        match self.done.as_str() {
            "paid" => Some("done_paid"),
            "loan_request" => Some("done_loan_request"),
            "notifications" => Some("done_notifications"),
            "draw" => Some("done_draw"),
            "member" => Some("done_member"),
            "config" => Some("done_config"),
            "member_saved" => Some("done_member_saved"),
            "deactivated" => Some("done_deactivated"),
            "reactivated" => Some("done_reactivated"),
            "password_reset" => Some("done_password_reset"),
            "job_retried" => Some("done_job_retried"),
            "job_discarded" => Some("done_job_discarded"),
            "leave_asked" => Some("done_leave_asked"),
            "leave_withdrawn" => Some("done_leave_withdrawn"),
            "rejoined" => Some("done_rejoined"),
            "left" => Some("done_left"),
            "leave_declined" => Some("done_leave_declined"),
            _ => None,
        }
    }
}

/// A form with nothing but its CSRF token (sign-out, start the draw).
#[derive(Deserialize)]
pub struct PlainForm {
    #[serde(default)]
    pub csrf: String,
}

impl WebForm for PlainForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

/// A member who took part in a draw.
pub struct Participant {
    pub name: String,
    /// The score as shown: a decimal, or "unlimited".
    pub score: String,
    pub in_pool: bool,
    pub won: bool,
}

/// A member left out of a draw, and why.
pub struct Excluded {
    pub name: String,
    pub reason: String,
}

/// A draw's log, as people read it.
pub struct DrawView {
    pub month: String,
    pub winner: Option<String>,
    pub amount: Option<Amount>,
    pub state: String,
    pub participants: Vec<Participant>,
    pub excluded: Vec<Excluded>,
    pub pool: Vec<String>,
    pub note: Option<String>,
    /// The draw's verification page, when it has a proof and the viewer may see it (set by
    /// the page that shows the draw).
    pub proof_href: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LogJson {
    not_participated: Vec<LogMember>,
    participated: Vec<LogMember>,
    selected: Option<i64>,
    random_pool: Vec<i64>,
    note: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct LogMember {
    user_id: i64,
    username: String,
    reason: String,
    code: Option<String>,
    point: serde_json::Value,
}

impl DrawView {
    pub fn new(loan: &Loan, lang: Lang) -> DrawView {
        let log: LogJson = serde_json::from_value(loan.log.clone()).unwrap_or_default();
        let name_of = |id: i64| {
            log.participated
                .iter()
                .find(|m| m.user_id == id)
                .map_or_else(|| format!("#{id}"), |m| m.username.clone())
        };
        let participants = log
            .participated
            .iter()
            .map(|m| {
                let score = match m.point.as_str() {
                    Some("unlimited") => lang.t("unlimited").to_string(),
                    Some(points) => lang.digits(points),
                    None => lang.digits(&m.point.to_string()),
                };
                Participant {
                    name: m.username.clone(),
                    score,
                    in_pool: log.random_pool.contains(&m.user_id),
                    won: log.selected == Some(m.user_id),
                }
            })
            .collect();
        DrawView {
            month: lang.month(loan.jalali_year, loan.jalali_month),
            winner: loan.username.clone(),
            amount: loan.amount,
            state: loan.state.clone(),
            participants,
            excluded: log
                .not_participated
                .iter()
                .map(|m| Excluded {
                    name: m.username.clone(),
                    reason: reason(m.code.as_deref(), &m.reason, lang),
                })
                .collect(),
            pool: log.random_pool.iter().map(|id| name_of(*id)).collect(),
            note: log.note.map(|n| note(&n, lang)),
            proof_href: None,
        }
    }
}

/// The stable code of a reason the draw gave for leaving a member out, for logs written
/// before the draw logged codes.
pub fn reason_code(reason: &str) -> Option<&'static str> {
    Exclusion::from_reason(reason).map(Exclusion::code)
}

/// Why a member sat out a draw, in plain words: by the log's `code` when it has one, else by
/// its sentence; a reason we do not know is shown as the draw wrote it.
fn reason(code: Option<&str>, sentence: &str, lang: Lang) -> String {
    let key = match code.or_else(|| reason_code(sentence)) {
        Some("active_loan") => "reason_active_loan",
        Some("no_request") => "reason_no_request",
        Some("request_above_balance") => "reason_request_above_balance",
        _ => return sentence.to_string(),
    };
    lang.t(key).to_string()
}

/// The draw's notes (`fund::draw::run_draw`) in the page's language and numbers; parts are
/// joined by "; ".
fn note(note: &str, lang: Lang) -> String {
    use super::forms::humanize;
    if lang == Lang::En {
        return humanize(note, lang);
    }
    note.split("; ")
        .map(|part| match part {
            "no member was eligible this month" => "هیچ عضوی واجد شرایط نبود".to_string(),
            "no participant's request fits in the fund's available cash" => {
                "درخواست هیچ شرکت‌کننده‌ای در موجودی نقد صندوق نمی‌گنجد".to_string()
            }
            other => match other.strip_prefix("requests above the fund's available cash of ") {
                Some(rest) => match rest.split_once(": ") {
                    Some((cash, names)) => format!(
                        "درخواست بیش از موجودی نقد صندوق ({}): {}",
                        humanize(cash, lang),
                        humanize(names, lang)
                    ),
                    None => format!(
                        "درخواست‌های بیش از موجودی نقد صندوق ({})",
                        humanize(rest, lang)
                    ),
                },
                None => humanize(other, lang),
            },
        })
        .collect::<Vec<_>>()
        .join("؛ ")
}

/// Whether a row's `jalali_year` and `jalali_month` are `month`.
pub fn is_month(month: JalaliMonth, jalali_year: i64, jalali_month: i64) -> bool {
    jalali_year == i64::from(month.year) && jalali_month == i64::from(month.month)
}

/// Form values are shown back as typed; amounts from the database without grouping.
pub fn plain(amount: Amount) -> String {
    i18n::plain(amount)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_read_by_code_then_by_sentence_in_either_wording() {
        for lang in [Lang::En, Lang::Fa] {
            let plain = |key| lang.t(key).to_string();
            assert_eq!(
                reason(Some("request_above_balance"), "whatever it says", lang),
                plain("reason_request_above_balance")
            );
            assert_eq!(
                reason(Some("active_loan"), "", lang),
                plain("reason_active_loan")
            );
            for (sentence, key) in [
                ("has an active loan", "reason_active_loan"),
                ("loan request amount is 0", "reason_no_request"),
                ("loan_request_amount is 0", "reason_no_request"),
                (
                    "loan request amount exceeds balance",
                    "reason_request_above_balance",
                ),
                (
                    "loan_request_amount exceeds balance",
                    "reason_request_above_balance",
                ),
            ] {
                assert_eq!(reason(None, sentence, lang), plain(key), "{sentence}");
            }
            assert_eq!(reason(None, "a new rule", lang), "a new rule");
            assert_eq!(reason(Some("new_code"), "a new rule", lang), "a new rule");
        }
    }

    #[test]
    fn the_draws_own_reasons_all_have_a_code_and_a_translation() {
        for exclusion in Exclusion::ALL {
            assert_eq!(reason_code(exclusion.reason()), Some(exclusion.code()));
            for lang in [Lang::En, Lang::Fa] {
                let shown = reason(Some(exclusion.code()), exclusion.reason(), lang);
                assert_ne!(
                    shown,
                    exclusion.reason(),
                    "{lang:?} translates {exclusion:?}"
                );
            }
        }
    }
}
