//! A report's [`Document`] as the file asked for: CSV (one table), XLSX (a sheet per table) or
//! PDF (every table), with a file name that says what it holds.

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use super::params::Format;
use crate::error::ApiError;
use saghat_core::platform::lang::Lang;
use saghat_core::reports::table::{Cell, Document};
use saghat_pdf::{ReportDocument, ReportTable};

/// The file of `doc` in `format` (not JSON), named `{stem}[-{table}].{ext}`. A CSV holds
/// `table` (by name), or the first.
pub async fn respond(
    doc: Document,
    format: Format,
    table: Option<&str>,
    stem: &str,
    lang: Lang,
    made_on: String,
) -> Result<Response, ApiError> {
    let (bytes, content_type, name) = match format {
        Format::Csv => {
            let chosen = match table {
                Some(name) => doc.table(name).ok_or_else(|| {
                    let names: Vec<&str> = doc.tables.iter().map(|t| t.name.as_str()).collect();
                    ApiError::invalid_query("table", format!("Choose one of: {}", names.join(", ")))
                })?,
                None => doc
                    .tables
                    .first()
                    .ok_or_else(|| ApiError::not_found("The report has no table"))?,
            };
            (
                saghat_export::csv::table(chosen),
                "text/csv; charset=utf-8",
                format!("{stem}-{}.csv", chosen.name),
            )
        }
        Format::Xlsx => {
            let bytes = tokio::task::spawn_blocking(move || saghat_export::xlsx::document(&doc))
                .await
                .map_err(|e| ApiError::Internal(e.into()))?
                .map_err(|e| ApiError::Internal(e.into()))?;
            (
                bytes,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                format!("{stem}.xlsx"),
            )
        }
        Format::Pdf => {
            let pdf = pdf_document(&doc, lang, made_on);
            let bytes = tokio::task::spawn_blocking(move || saghat_pdf::render_report(&pdf))
                .await
                .map_err(|e| ApiError::Internal(e.into()))?
                .map_err(|e| ApiError::Internal(e.into()))?;
            (bytes, "application/pdf", format!("{stem}.pdf"))
        }
        Format::Json => return Err(ApiError::bad_request("JSON is not a file")),
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&disposition(&name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(response)
}

/// `attachment; filename="…"`; a name beyond plain ASCII (a Persian username) goes as RFC 6266's
/// `filename*` in UTF-8, with `_` in its place in the plain one.
pub fn disposition(name: &str) -> String {
    let plain: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if plain == name {
        return format!("attachment; filename=\"{name}\"");
    }
    let encoded = percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC);
    format!("attachment; filename=\"{plain}\"; filename*=UTF-8''{encoded}")
}

/// A cell as a reader of `lang` reads it: grouped digits, Persian digits in Persian.
pub fn shown(cell: &Cell, lang: Lang) -> String {
    match cell {
        Cell::Text(t) | Cell::Name(t) => t.clone(),
        Cell::Count(n) => lang.int(*n),
        // USDT as the fund's pages write it: at least two places, no trailing zeros.
        Cell::Money(m) if m.currency == saghat_core::platform::currency::Currency::Usdt => lang
            .amount(saghat_core::platform::money::Amount::from_sum_units(
                m.units,
            )),
        Cell::Money(m) => lang.money(m.currency, m.units),
        Cell::Date(d) => lang.civil_date(*d),
        Cell::Tenths(_) => lang.digits(&cell.plain()),
        // A rate as people write it: 19, 9.5.
        Cell::Share(bp) => lang.digits(&saghat_core::platform::decimal::format_scaled_short(
            i128::from(*bp),
            2,
        )),
        Cell::Empty => "—".into(),
    }
}

fn pdf_document(doc: &Document, lang: Lang, made_on: String) -> ReportDocument {
    use crate::web::i18n::UiText;
    ReportDocument {
        lang: match lang {
            Lang::En => saghat_pdf::Lang::En,
            Lang::Fa => saghat_pdf::Lang::Fa,
        },
        title: doc.title.clone(),
        subtitle: doc.subtitle.clone(),
        generated: made_on,
        empty: lang.t("rp_none").into(),
        tables: doc
            .tables
            .iter()
            .map(|t| ReportTable {
                title: t.title.clone(),
                columns: t.columns.clone(),
                numeric: t.numeric_columns(),
                rows: t
                    .rows
                    .iter()
                    .map(|r| r.iter().map(|c| shown(c, lang)).collect())
                    .collect(),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::disposition;

    #[test]
    fn file_names_beyond_ascii_are_sent_encoded() {
        assert_eq!(
            disposition("saghat-fund-1405-01_1405-09.pdf"),
            "attachment; filename=\"saghat-fund-1405-01_1405-09.pdf\""
        );
        assert_eq!(
            disposition("saghat-statement-علی-1405-09.pdf"),
            "attachment; filename=\"saghat-statement-___-1405-09.pdf\"; \
             filename*=UTF-8''saghat%2Dstatement%2D%D8%B9%D9%84%DB%8C%2D1405%2D09%2Epdf"
        );
    }
}
