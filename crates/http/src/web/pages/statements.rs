//! `GET /statements/{year}/{month}.pdf`: the signed-in member's own monthly statement, listed
//! on their page (`templates/statements_list.html`). Another member's, or a month without one,
//! is a 404: whose statements exist is nobody else's business.

use axum::extract::{Path, State};
use axum::response::Response;

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::i18n::{Lang, UiText};
use crate::web::session::{Session, WebResult};
use saghat_core::fund::statements::StatementEntry;
use saghat_core::platform::jalali::JalaliMonth;

/// A statement as the member's page lists it.
pub struct StatementLink {
    /// `Azar 1405` in the page's language.
    pub month: String,
    /// `/statements/1405/9.pdf`.
    pub href: String,
    /// Its size, written out (`48 KB`).
    pub size: String,
    /// When it was made, as the page dates things.
    pub made: String,
}

impl StatementLink {
    pub fn new(entry: &StatementEntry, lang: Lang, tz: chrono_tz::Tz) -> StatementLink {
        let kb = (entry.size_bytes + 1023) / 1024;
        StatementLink {
            month: lang.month(entry.jalali_year, entry.jalali_month),
            href: format!(
                "/statements/{}/{}.pdf",
                entry.jalali_year, entry.jalali_month
            ),
            size: format!("{} {}", lang.int(kb), lang.t("st_kb")),
            made: lang.date(&entry.created_at, tz),
        }
    }
}

/// The statement's PDF; `file` is `{month}.pdf`.
pub async fn download(
    State(state): State<AppState>,
    session: Session,
    Path((year, file)): Path<(i32, String)>,
) -> WebResult<Response> {
    let month = file
        .strip_suffix(".pdf")
        .and_then(|m| m.parse::<u8>().ok())
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| ApiError::not_found("No statement for that month"))?;
    let month = JalaliMonth { year, month };
    Ok(crate::fund::statements::pdf_answer(&state, session.user.id, month).await?)
}
