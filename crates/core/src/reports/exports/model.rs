//! What an export is: the register and file asked for, its labels, its state and progress.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::invoicing::calendar::Calendar;
use crate::platform::currency::Currency;
use crate::platform::lang::Lang;
use crate::reports::invoicing::Filter;
use crate::reports::period::{Month, Period};

/// Which register.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Register {
    /// Every sent invoice and credit note issued in the period.
    Invoices,
    /// Every payment received in the period.
    Payments,
}

impl Register {
    pub fn as_str(self) -> &'static str {
        match self {
            Register::Invoices => "invoices",
            Register::Payments => "payments",
        }
    }

    pub fn parse(text: &str) -> Option<Register> {
        match text {
            "invoices" => Some(Register::Invoices),
            "payments" => Some(Register::Payments),
            _ => None,
        }
    }
}

/// The file written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    Csv,
    Xlsx,
}

impl FileFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            FileFormat::Csv => "csv",
            FileFormat::Xlsx => "xlsx",
        }
    }

    pub fn parse(text: &str) -> Option<FileFormat> {
        match text {
            "csv" => Some(FileFormat::Csv),
            "xlsx" => Some(FileFormat::Xlsx),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FileFormat::Csv => "text/csv; charset=utf-8",
            FileFormat::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ExportState {
    Queued,
    Running,
    Done,
    Failed,
}

impl ExportState {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportState::Queued => "queued",
            ExportState::Running => "running",
            ExportState::Done => "done",
            ExportState::Failed => "failed",
        }
    }

    pub(super) fn parse(text: &str) -> ExportState {
        match text {
            "running" => ExportState::Running,
            "done" => ExportState::Done,
            "failed" => ExportState::Failed,
            _ => ExportState::Queued,
        }
    }

    /// Still to be written: the page keeps refreshing while any is.
    pub fn pending(self) -> bool {
        matches!(self, ExportState::Queued | ExportState::Running)
    }
}

/// What a file says in the reader's language, fixed when it is asked for: the job that writes
/// it later needs no translations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labels {
    pub title: String,
    pub subtitle: String,
    pub columns: Vec<String>,
    /// Names of the stored words the register holds (`sent`, `credit_note`, `bank_transfer`).
    pub values: BTreeMap<String, String>,
}

impl Labels {
    /// The name of a stored word, else the word itself.
    pub fn value(&self, word: &str) -> String {
        self.values
            .get(word)
            .cloned()
            .unwrap_or_else(|| word.to_owned())
    }
}

/// An export asked for.
#[derive(Clone, Debug)]
pub struct NewExport {
    pub register: Register,
    pub format: FileFormat,
    pub lang: Lang,
    pub filter: Filter,
    pub labels: Labels,
}

/// An export and how far its job has got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Export {
    pub id: String,
    pub register: Register,
    pub format: FileFormat,
    /// The file's language: `en` or `fa`.
    pub lang: String,
    pub calendar: String,
    pub from: String,
    pub to: String,
    pub currency: Option<Currency>,
    pub client_id: Option<i64>,
    pub state: ExportState,
    /// The rows the register holds, counted when the job starts.
    pub rows_total: Option<i64>,
    pub rows_done: i64,
    /// The file's size once written.
    pub size_bytes: Option<i64>,
    /// Why it failed.
    pub error: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<DateTime<Utc>>,
    /// The file's name when downloaded.
    pub file_name: String,
    #[serde(skip)]
    pub requested_by: i64,
    #[serde(skip)]
    pub title: String,
}

impl Export {
    /// Done, in hundredths of a percent (the whole when nothing was to be written).
    pub fn progress(&self) -> i64 {
        match (self.state, self.rows_total) {
            (ExportState::Done, _) => 10_000,
            (_, Some(total)) if total > 0 => (self.rows_done.min(total) * 10_000) / total,
            _ => 0,
        }
    }

    pub fn period(&self) -> Option<Period> {
        Some(Period {
            calendar: Calendar::parse(&self.calendar)?,
            from: Month::parse(&self.from)?,
            to: Month::parse(&self.to)?,
        })
    }
}

/// `saghat-invoices-1404-10_1405-09.xlsx`.
pub(super) fn file_name(register: Register, from: &str, to: &str, format: FileFormat) -> String {
    format!(
        "saghat-{}-{from}_{to}.{}",
        register.as_str(),
        format.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(state: ExportState, total: Option<i64>, done: i64) -> Export {
        Export {
            id: "x".into(),
            register: Register::Invoices,
            format: FileFormat::Csv,
            lang: "en".into(),
            calendar: "jalali".into(),
            from: "1405-01".into(),
            to: "1405-09".into(),
            currency: None,
            client_id: None,
            state,
            rows_total: total,
            rows_done: done,
            size_bytes: None,
            error: None,
            created_at: Utc::now(),
            finished_at: None,
            file_name: String::new(),
            requested_by: 1,
            title: String::new(),
        }
    }

    #[test]
    fn progress_is_the_share_of_rows_written_and_whole_when_done() {
        assert_eq!(export(ExportState::Queued, None, 0).progress(), 0);
        assert_eq!(export(ExportState::Running, Some(3), 1).progress(), 3333);
        assert_eq!(export(ExportState::Running, Some(0), 0).progress(), 0);
        assert_eq!(
            export(ExportState::Running, Some(10), 12).progress(),
            10_000
        );
        assert_eq!(export(ExportState::Done, Some(0), 0).progress(), 10_000);
    }

    #[test]
    fn names_round_trip_and_unknown_words_are_refused() {
        for r in [Register::Invoices, Register::Payments] {
            assert_eq!(Register::parse(r.as_str()), Some(r));
        }
        for f in [FileFormat::Csv, FileFormat::Xlsx] {
            assert_eq!(FileFormat::parse(f.as_str()), Some(f));
        }
        assert_eq!(Register::parse("pdf"), None);
        assert_eq!(FileFormat::parse("pdf"), None);
        assert_eq!(
            file_name(Register::Payments, "2026-01", "2026-11", FileFormat::Xlsx),
            "saghat-payments-2026-01_2026-11.xlsx"
        );
    }

    #[test]
    fn a_label_names_a_word_or_leaves_it() {
        let labels = Labels {
            values: [("sent".to_owned(), "Sent".to_owned())].into(),
            ..Labels::default()
        };
        assert_eq!(labels.value("sent"), "Sent");
        assert_eq!(labels.value("odd"), "odd");
    }
}
