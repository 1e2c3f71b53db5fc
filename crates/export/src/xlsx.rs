//! XLSX with rust_xlsxwriter, in constant-memory mode: one worksheet per table, numbers as
//! numbers in the currency's format, dates as dates, the header frozen.

use std::io::Write;

use chrono::Datelike;

use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError};
use saghat_core::platform::currency::Currency;
use saghat_core::reports::table::{Cell, Document, Money};

/// The largest integer a spreadsheet's 64-bit float holds exactly: larger amounts are written
/// as exact text rather than rounded.
const EXACT_LIMIT: i128 = 1 << 53;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Xlsx(#[from] XlsxError),
    /// The rows being written could not be read (a streaming caller's source failed).
    #[error("reading the rows: {0}")]
    Rows(String),
}

struct Formats {
    header: Format,
    text: Format,
    count: Format,
    date: Format,
    tenths: Format,
    share: Format,
    money: [Format; 4],
}

impl Formats {
    fn new(rtl: bool) -> Formats {
        let base = || {
            let f = Format::new();
            if rtl {
                f.set_reading_direction(2)
            } else {
                f
            }
        };
        Formats {
            header: base().set_bold().set_background_color("#EEF1F4"),
            text: base(),
            count: base().set_num_format("#,##0"),
            date: base().set_num_format("yyyy-mm-dd"),
            tenths: base().set_num_format("#,##0.0"),
            share: base().set_num_format("0.00%"),
            money: Currency::ALL.map(|c| base().set_num_format(money_format(c))),
        }
    }

    fn money(&self, currency: Currency) -> &Format {
        let i = Currency::ALL
            .iter()
            .position(|c| *c == currency)
            .unwrap_or(0);
        &self.money[i]
    }
}

/// `#,##0.00` with the currency's places.
fn money_format(currency: Currency) -> String {
    match currency.minor_units() {
        0 => "#,##0".into(),
        n => format!("#,##0.{}", "0".repeat(n as usize)),
    }
}

/// A worksheet being written row by row.
pub struct SheetWriter<'w> {
    sheet: &'w mut Worksheet,
    formats: &'w Formats,
    row: u32,
}

impl SheetWriter<'_> {
    pub fn row(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        write_row(self.sheet, self.formats, self.row, cells)?;
        self.row += 1;
        Ok(())
    }
}

fn write_row(
    sheet: &mut Worksheet,
    f: &Formats,
    row: u32,
    cells: &[Cell],
) -> Result<(), XlsxError> {
    for (col, cell) in cells.iter().enumerate() {
        write_cell(sheet, f, row, u16::try_from(col).unwrap_or(u16::MAX), cell)?;
    }
    Ok(())
}

fn write_cell(
    sheet: &mut Worksheet,
    f: &Formats,
    row: u32,
    col: u16,
    cell: &Cell,
) -> Result<(), XlsxError> {
    match cell {
        Cell::Text(t) | Cell::Name(t) => {
            sheet.write_string_with_format(row, col, t, &f.text)?;
        }
        Cell::Count(n) => {
            sheet.write_number_with_format(row, col, *n as f64, &f.count)?;
        }
        Cell::Money(m) => write_money(sheet, f, row, col, *m)?,
        Cell::Date(d) => {
            let year = u16::try_from(d.year()).unwrap_or(0);
            let date = ExcelDateTime::from_ymd(year, d.month() as u8, d.day() as u8)?;
            sheet.write_datetime_with_format(row, col, date, &f.date)?;
        }
        Cell::Tenths(t) if t.abs() < EXACT_LIMIT => {
            sheet.write_number_with_format(row, col, *t as f64 / 10.0, &f.tenths)?;
        }
        Cell::Share(bp) => {
            sheet.write_number_with_format(row, col, *bp as f64 / 10_000.0, &f.share)?;
        }
        other => {
            sheet.write_string_with_format(row, col, other.plain(), &f.text)?;
        }
    }
    Ok(())
}

/// An amount as a number the spreadsheet can sum: minor units below 2⁵³ divided by a power of
/// ten give the double nearest the exact decimal, which the format shows exactly.
fn write_money(
    sheet: &mut Worksheet,
    f: &Formats,
    row: u32,
    col: u16,
    m: Money,
) -> Result<(), XlsxError> {
    if m.units.abs() < EXACT_LIMIT {
        let value = m.units as f64 / 10f64.powi(m.currency.minor_units() as i32);
        sheet.write_number_with_format(row, col, value, f.money(m.currency))?;
    } else {
        sheet.write_string_with_format(row, col, m.decimal(), &f.text)?;
    }
    Ok(())
}

/// A sheet name Excel accepts: at most 31 characters, none of `[]:*?/\`.
fn sheet_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
        .take(31)
        .collect();
    if clean.trim().is_empty() {
        "Sheet".into()
    } else {
        clean
    }
}

/// A workbook written sheet by sheet.
pub struct XlsxWriter {
    workbook: Workbook,
    formats: Formats,
    rtl: bool,
    /// The sheet being written and its next row.
    current: Option<(usize, u32)>,
}

impl XlsxWriter {
    pub fn new(title: &str, subject: &str, rtl: bool) -> XlsxWriter {
        let mut workbook = Workbook::new();
        workbook.set_properties(
            &DocProperties::new()
                .set_title(title)
                .set_subject(subject)
                .set_author("Saghat"),
        );
        XlsxWriter {
            workbook,
            formats: Formats::new(rtl),
            rtl,
            current: None,
        }
    }

    /// Adds a worksheet with its bold, frozen header; its rows follow through `write`.
    pub fn sheet(
        &mut self,
        name: &str,
        columns: &[String],
        write: impl FnOnce(&mut SheetWriter<'_>) -> Result<(), ExportError>,
    ) -> Result<(), ExportError> {
        self.start_sheet(name, columns)?;
        let (index, row) = self.current.expect("a sheet was just started");
        let mut writer = SheetWriter {
            sheet: self.workbook.worksheet_from_index(index)?,
            formats: &self.formats,
            row,
        };
        write(&mut writer)?;
        self.current = Some((index, writer.row));
        Ok(())
    }

    /// Adds a worksheet with its bold, frozen header; [`XlsxWriter::row`] writes its rows.
    /// For rows that arrive between awaits (a job reading pages), where `sheet`'s closure
    /// cannot wait.
    pub fn start_sheet(&mut self, name: &str, columns: &[String]) -> Result<(), ExportError> {
        let sheet = self.workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(sheet_name(name))?;
        sheet.set_right_to_left(self.rtl);
        for (i, column) in columns.iter().enumerate() {
            let width = (column.chars().count() + 4).clamp(12, 40) as f64;
            sheet.set_column_width(u16::try_from(i).unwrap_or(u16::MAX), width)?;
        }
        for (i, column) in columns.iter().enumerate() {
            sheet.write_string_with_format(
                0,
                u16::try_from(i).unwrap_or(u16::MAX),
                column,
                &self.formats.header,
            )?;
        }
        sheet.set_freeze_panes(1, 0)?;
        let index = self.workbook.worksheets().len() - 1;
        self.current = Some((index, 1));
        Ok(())
    }

    /// A row of the sheet last started.
    pub fn row(&mut self, cells: &[Cell]) -> Result<(), ExportError> {
        let (index, row) = self
            .current
            .ok_or_else(|| ExportError::Rows("a row before any sheet".into()))?;
        write_row(
            self.workbook.worksheet_from_index(index)?,
            &self.formats,
            row,
            cells,
        )?;
        self.current = Some((index, row + 1));
        Ok(())
    }

    /// Writes the finished file to `out`.
    pub fn finish(mut self, out: impl Write + Send) -> Result<(), ExportError> {
        self.workbook.save_to_writer(out)?;
        Ok(())
    }
}

/// A whole document as XLSX bytes, a sheet per table.
pub fn document(doc: &Document) -> Result<Vec<u8>, ExportError> {
    let mut writer = XlsxWriter::new(&doc.title, &doc.subtitle, doc.rtl);
    for table in &doc.tables {
        writer.sheet(&table.title, &table.columns, |sheet| {
            table.rows.iter().try_for_each(|row| sheet.row(row))
        })?;
    }
    let mut out = Vec::new();
    writer.finish(&mut out)?;
    Ok(out)
}
