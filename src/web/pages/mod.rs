//! Page handlers. Each gathers what its page shows, calls a service for what it changes, and
//! renders a template; a refused form is shown again with each error next to its field.

pub mod account;
pub mod admin;
pub mod dashboard;
pub mod fund;

use askama::Template;
use axum::response::{Html, IntoResponse, Response};
use chrono_tz::Tz;
use serde::Deserialize;

use super::i18n::{self, Lang};
use super::session::{Prefs, Session, WebForm, WebResult};
use crate::app::AppState;
use crate::auth::CurrentUser;
use crate::fund::store::Loan;
use crate::platform::money::Amount;

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

    pub fn digits(&self, text: &str) -> String {
        self.lang.digits(text)
    }

    pub fn percent(&self, n: &i64) -> String {
        self.lang.digits(&format!("{n}%"))
    }

    pub fn month(&self, year: &i64, month: &i64) -> String {
        self.lang.month(*year, *month)
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

    pub fn role(&self, role: &crate::auth::Role) -> &'static str {
        match role {
            crate::auth::Role::Admin => self.t("role_main"),
            crate::auth::Role::Accountant => self.t("role_accountant"),
            crate::auth::Role::Member => self.t("role_member"),
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
            "draw" => Some("done_draw"),
            "member" => Some("done_member"),
            "config" => Some("done_config"),
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
                    reason: reason(&m.reason, lang),
                })
                .collect(),
            pool: log.random_pool.iter().map(|id| name_of(*id)).collect(),
            note: log.note.map(|n| note(&n, lang)),
        }
    }
}

/// The draw's reasons for leaving a member out (`fund::draw::exclusion_reason`), in Persian.
fn reason(reason: &str, lang: Lang) -> String {
    let fa = match reason {
        "has an active loan" => "وام فعال دارد",
        // Draws logged before the reasons named the field read "loan request amount …".
        "loan_request_amount is 0" | "loan request amount is 0" => "مبلغ درخواستی صفر است",
        "loan_request_amount exceeds balance" | "loan request amount exceeds balance" => {
            "مبلغ درخواستی از موجودی بیشتر است"
        }
        _ => return reason.to_string(),
    };
    match lang {
        Lang::En => reason.to_string(),
        Lang::Fa => fa.to_string(),
    }
}

/// The draw's notes (`fund::draw::run_draw`), in Persian; parts are joined by "; ".
fn note(note: &str, lang: Lang) -> String {
    if lang == Lang::En {
        return note.to_string();
    }
    note.split("; ")
        .map(|part| match part {
            "no member was eligible this month" => "هیچ عضوی واجد شرایط نبود".to_string(),
            "no participant's request fits in the fund's available cash" => {
                "درخواست هیچ شرکت‌کننده‌ای در موجودی نقد صندوق نمی‌گنجد".to_string()
            }
            other => match other.strip_prefix("requests above the fund's available cash of ") {
                Some(rest) => format!("درخواست‌های بیش از موجودی نقد صندوق ({})", lang.digits(rest)),
                None => lang.digits(other),
            },
        })
        .collect::<Vec<_>>()
        .join("؛ ")
}

/// Form values are shown back as typed; amounts from the database without grouping.
pub fn plain(amount: Amount) -> String {
    i18n::plain(amount)
}
