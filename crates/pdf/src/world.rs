//! The typst world: a template (the invoice's or the report's), the document as JSON, embedded
//! fonts, no file system.

use std::sync::LazyLock;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use typst::diag::{FileError, FileResult, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

use crate::document::InvoiceDocument;
use crate::error::PdfError;

const TEMPLATE: &str = include_str!("invoice.typ");
const REPORT_TEMPLATE: &str = include_str!("report.typ");
const STATEMENT_TEMPLATE: &str = include_str!("statement.typ");

/// Which template a document is laid out by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Template {
    Invoice,
    Report,
    Statement,
}

const FONT_FILES: [&[u8]; 4] = [
    include_bytes!("../fonts/NotoSans-Regular.ttf"),
    include_bytes!("../fonts/NotoSans-Bold.ttf"),
    include_bytes!("../fonts/Vazirmatn-Regular.ttf"),
    include_bytes!("../fonts/Vazirmatn-Bold.ttf"),
];

/// Loaded once per process: parsing the fonts and building the standard library are the
/// expensive part of a first render.
struct Shared {
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    main: Source,
    report: Source,
    statement: Source,
    data_id: FileId,
    logo_id: FileId,
    xml_id: FileId,
}

fn file_id(path: &str) -> FileId {
    // The paths are constants of this crate, so a failure is a programming error.
    let vpath = VirtualPath::new(path).expect("a valid virtual path");
    FileId::new(RootedPath::new(VirtualRoot::Project, vpath))
}

static SHARED: LazyLock<Shared> = LazyLock::new(|| {
    let fonts: Vec<Font> = FONT_FILES
        .iter()
        .flat_map(|data| Font::iter(Bytes::new(*data)))
        .collect();
    let book = FontBook::from_fonts(&fonts);
    Shared {
        library: LazyHash::new(Library::default()),
        book: LazyHash::new(book),
        fonts,
        main: Source::new(file_id("/invoice.typ"), TEMPLATE.to_owned()),
        report: Source::new(file_id("/report.typ"), REPORT_TEMPLATE.to_owned()),
        statement: Source::new(file_id("/statement.typ"), STATEMENT_TEMPLATE.to_owned()),
        data_id: file_id("/data.json"),
        logo_id: file_id("/logo.png"),
        xml_id: file_id("/factur-x.xml"),
    }
});

/// What the template reads from `/data.json`: the document plus what it cannot see itself.
#[derive(Serialize)]
struct TemplateData<'a> {
    #[serde(flatten)]
    doc: &'a InvoiceDocument,
    has_logo: bool,
    facturx: bool,
}

struct SaghatWorld {
    shared: &'static Shared,
    template: Template,
    data: Bytes,
    logo: Option<Bytes>,
    xml: Option<Bytes>,
}

impl World for SaghatWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.shared.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.shared.book
    }

    fn main(&self) -> FileId {
        self.main_source().id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main_source().id() {
            Ok(self.main_source().clone())
        } else {
            Err(not_found(id))
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        let found = if id == self.shared.data_id {
            Some(&self.data)
        } else if id == self.shared.logo_id {
            self.logo.as_ref()
        } else if id == self.shared.xml_id {
            self.xml.as_ref()
        } else if id == self.main_source().id() {
            return Ok(Bytes::from_string(self.main_source().clone()));
        } else {
            None
        };
        found.cloned().ok_or_else(|| not_found(id))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.shared.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        // The template prints only the caller's dates; none means `datetime.today()` errors.
        None
    }
}

impl SaghatWorld {
    fn main_source(&self) -> &Source {
        match self.template {
            Template::Invoice => &self.shared.main,
            Template::Report => &self.shared.report,
            Template::Statement => &self.shared.statement,
        }
    }
}

fn not_found(id: FileId) -> FileError {
    FileError::NotFound(id.vpath().get_without_slash().into())
}

fn diagnostics(diags: &[SourceDiagnostic]) -> String {
    diags
        .iter()
        .map(|d| d.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The current UTC time as typst's datetime (PDF/A's creation date).
fn now_utc() -> Result<Timestamp, PdfError> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| PdfError::Export(e.to_string()))?
        .as_secs();
    let (year, month, day, hour, minute, second) = civil_from_unix(secs);
    Datetime::from_ymd_hms(year, month, day, hour, minute, second)
        .map(Timestamp::new_utc)
        .ok_or_else(|| PdfError::Export("the clock is out of range".into()))
}

/// Seconds since the Unix epoch to the UTC (year, month, day, hour, minute, second).
fn civil_from_unix(secs: u64) -> (i32, u8, u8, u8, u8, u8) {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Howard Hinnant's civil_from_days: days since 1970-01-01 to a proleptic Gregorian date.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    let (hour, minute, second) = (
        (rem / 3600) as u8,
        (rem % 3600 / 60) as u8,
        (rem % 60) as u8,
    );
    (year, month, day, hour, minute, second)
}

pub(crate) fn render(doc: &InvoiceDocument, xml: Option<&[u8]>) -> Result<Vec<u8>, PdfError> {
    let data = TemplateData {
        doc,
        has_logo: doc.logo_png.is_some(),
        facturx: xml.is_some(),
    };
    let json = serde_json::to_vec(&data).map_err(|e| PdfError::Compile(e.to_string()))?;
    let world = SaghatWorld {
        shared: &SHARED,
        template: Template::Invoice,
        data: Bytes::new(json),
        logo: doc.logo_png.clone().map(Bytes::new),
        xml: xml.map(|x| Bytes::new(x.to_vec())),
    };
    let compiled = typst::compile::<PagedDocument>(&world).output;
    // comemo memoises across compilations; keep its cache from growing without bound.
    typst::comemo::evict(10);
    let document = compiled.map_err(|e| PdfError::Compile(diagnostics(&e)))?;

    let mut options = PdfOptions {
        ident: typst::foundations::Smart::Custom(format!("saghat-{}", doc.number)),
        creator: typst::foundations::Smart::Custom(Some("Saghat".to_owned())),
        ..PdfOptions::default()
    };
    if xml.is_some() {
        options.timestamp = Some(now_utc()?);
        options.standards = PdfStandards::new(&[PdfStandard::A_3b])
            .map_err(|e| PdfError::Export(e.message().to_string()))?;
    }
    typst_pdf::pdf(&document, &options).map_err(|e| PdfError::Export(diagnostics(&e)))
}

/// A plain PDF of `template` laid out from the JSON `data`.
pub(crate) fn render_template(
    template: Template,
    data: Vec<u8>,
    ident: &str,
) -> Result<Vec<u8>, PdfError> {
    let world = SaghatWorld {
        shared: &SHARED,
        template,
        data: Bytes::new(data),
        logo: None,
        xml: None,
    };
    let compiled = typst::compile::<PagedDocument>(&world).output;
    typst::comemo::evict(10);
    let document = compiled.map_err(|e| PdfError::Compile(diagnostics(&e)))?;
    let options = PdfOptions {
        ident: typst::foundations::Smart::Custom(ident.to_owned()),
        creator: typst::foundations::Smart::Custom(Some("Saghat".to_owned())),
        ..PdfOptions::default()
    };
    typst_pdf::pdf(&document, &options).map_err(|e| PdfError::Export(diagnostics(&e)))
}

#[cfg(test)]
mod tests {
    use super::civil_from_unix;

    #[test]
    fn unix_seconds_become_the_utc_calendar_date() {
        assert_eq!(civil_from_unix(0), (1970, 1, 1, 0, 0, 0));
        // 2024-02-29 23:59:59 UTC, a leap day.
        assert_eq!(civil_from_unix(1_709_251_199), (2024, 2, 29, 23, 59, 59));
        // 2026-12-01 20:00:00 UTC.
        assert_eq!(civil_from_unix(1_796_155_200), (2026, 12, 1, 20, 0, 0));
    }
}
