//! `/reports/exports`: the reader's long exports (every invoice or payment of a period as XLSX
//! or CSV) with how far each has got, refreshing itself while any is being written, and a
//! download link for each one done. Asked for from the invoicing report's page, whose filters
//! the export takes.

use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Deserialize;

use super::reports::readable;
use super::{render, Page, View};
use crate::error::ApiError;
use crate::reports::documents::period_text;
use crate::reports::exports::{file_response, new_export, ExportRequest};
use crate::state::AppState;
use crate::web::i18n::{Lang, UiText};
use crate::web::session::{see_other, CsrfForm, Prefs, Session, WebForm, WebResult};
use saghat_core::invoicing::calendar::Calendar;
use saghat_core::reports::access::{may_read, Report};
use saghat_core::reports::exports::{self, Export, ExportState};
use saghat_core::reports::ReportError;

/// One export as the page lists it.
pub struct ShownExport {
    pub id: String,
    pub what: &'static str,
    pub period: String,
    pub format: &'static str,
    pub asked: String,
    pub state: ExportState,
    pub state_key: &'static str,
    /// Percent done, and the rows as "1,234 of 5,000".
    pub percent: i64,
    pub rows: String,
    pub size: String,
    pub error: String,
}

#[derive(Template)]
#[template(path = "report_exports.html")]
pub struct ExportsPage {
    pub v: View,
    pub tabs: Vec<(&'static str, &'static str, bool)>,
    pub exports: Vec<ShownExport>,
    /// Some export is still being written: the page refreshes itself.
    pub pending: bool,
    pub error: Option<String>,
}

fn shown(export: &Export, lang: Lang) -> ShownExport {
    let calendar = Calendar::parse(&export.calendar).unwrap_or(Calendar::Jalali);
    let rows = match export.rows_total {
        Some(total) => format!(
            "{} {} {}",
            lang.int(export.rows_done),
            lang.t("rp_export_of"),
            lang.int(total)
        ),
        None => String::new(),
    };
    ShownExport {
        id: export.id.clone(),
        what: match export.register {
            exports::Register::Invoices => "rp_register_invoices",
            exports::Register::Payments => "rp_register_payments",
        },
        period: period_text(calendar, &export.from, &export.to, lang),
        format: match export.format {
            exports::FileFormat::Csv => "CSV",
            exports::FileFormat::Xlsx => "XLSX",
        },
        asked: lang.civil_date(export.created_at.date_naive()),
        state: export.state,
        state_key: match export.state {
            ExportState::Queued => "rp_export_queued",
            ExportState::Running => "rp_export_running",
            ExportState::Done => "rp_export_done",
            ExportState::Failed => "rp_export_failed",
        },
        percent: export.progress() / 100,
        rows,
        size: export
            .size_bytes
            .map_or_else(String::new, |bytes| size(bytes, lang)),
        error: export.error.clone().unwrap_or_default(),
    }
}

/// A file's size as people read it: `12 KiB`, `33.1 MiB` (in Persian words and digits).
fn size(bytes: i64, lang: Lang) -> String {
    const MIB: i64 = 1024 * 1024;
    if bytes < MIB {
        format!("{} {}", lang.int((bytes + 1023) / 1024), lang.t("rp_kib"))
    } else {
        let tenths = (bytes * 10 + MIB / 2) / MIB;
        let number = format!("{}.{}", tenths / 10, tenths % 10);
        format!("{} {}", lang.digits(&number), lang.t("rp_mib"))
    }
}

async fn page(
    state: &AppState,
    prefs: Prefs,
    session: &Session,
    error: Option<String>,
) -> WebResult<Response> {
    let lang = prefs.lang;
    let list = exports::list(state, &session.user)
        .await
        .map_err(ApiError::from)?;
    let v = View::new(
        state,
        prefs,
        Some(session),
        Page {
            path: "/reports/exports",
            active: "reports",
            title: "rp_exports_title",
            notice: None,
        },
    );
    let tabs: Vec<(&'static str, &'static str, bool)> = readable(&session.user)
        .into_iter()
        .map(|(p, key)| (p, key, p == "/reports/exports"))
        .collect();
    render(&ExportsPage {
        v,
        tabs,
        pending: list.iter().any(|e| e.state.pending()),
        exports: list.iter().map(|e| shown(e, lang)).collect(),
        error,
    })
}

pub async fn list(
    State(state): State<AppState>,
    prefs: Prefs,
    session: Session,
) -> WebResult<Response> {
    if !may_read(session.user.role, Report::Invoicing) {
        return Err(ApiError::Forbidden("You may not export registers".into()).into());
    }
    page(&state, prefs, &session, None).await
}

/// The invoicing page's export form: the register, the file, and the report's filters.
#[derive(Deserialize)]
pub struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    register: String,
    #[serde(default)]
    format: String,
    #[serde(default)]
    calendar: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    currency: String,
    #[serde(default)]
    client_id: String,
}

impl WebForm for ExportForm {
    fn csrf(&self) -> &str {
        &self.csrf
    }
}

fn some(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

pub async fn create(
    State(state): State<AppState>,
    prefs: Prefs,
    CsrfForm(session, form): CsrfForm<ExportForm>,
) -> WebResult<Response> {
    let client_id = match some(&form.client_id) {
        None => None,
        Some(text) => match text.parse::<i64>() {
            Ok(id) => Some(id),
            Err(_) => {
                let message = prefs.lang.t("rp_export_bad_client").to_owned();
                return page(&state, prefs, &session, Some(message)).await;
            }
        },
    };
    let request = ExportRequest {
        register: form.register,
        format: some(&form.format),
        calendar: some(&form.calendar),
        from: some(&form.from),
        to: some(&form.to),
        currency: some(&form.currency),
        client_id,
        lang: Some(prefs.lang.code().into()),
    };
    let today = saghat_core::invoicing::reminder_job::today(&state);
    let client = crate::reports::api::client_name(&state, request.client_id).await?;
    let asked = match new_export(&request, today, prefs.lang, client.as_deref()) {
        Ok(new) => exports::request(&state, &session.user, &new).await,
        Err(e) => Err(e),
    };
    match asked {
        Ok(_) => Ok(see_other("/reports/exports")),
        Err(ReportError::Invalid { message, .. }) => {
            page(&state, prefs, &session, Some(message)).await
        }
        Err(e) => Err(ApiError::from(e).into()),
    }
}

pub async fn file(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    Ok(file_response(&state, &session.user, &id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_kibibytes_then_mebibytes_with_one_decimal() {
        assert_eq!(size(1, Lang::En), "1 KiB");
        assert_eq!(size(1024 * 1023, Lang::En), "1,023 KiB");
        assert_eq!(size(33 * 1024 * 1024 + 110_000, Lang::En), "33.1 MiB");
        assert_eq!(size(1024 * 1024, Lang::Fa), "۱٫۰ مگابایت");
    }
}
