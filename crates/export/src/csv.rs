//! CSV, RFC 4180, formula-safe.

use std::io::{self, Write};

use saghat_core::reports::table::{Cell, Table};

/// Writes rows of cells as CSV to `out`.
pub struct CsvWriter<W: Write> {
    out: W,
}

impl<W: Write> CsvWriter<W> {
    /// Starts the file (its byte-order mark) and writes the header.
    pub fn new(mut out: W, columns: &[String]) -> io::Result<CsvWriter<W>> {
        out.write_all("\u{feff}".as_bytes())?;
        let mut writer = CsvWriter { out };
        let header: Vec<Cell> = columns.iter().map(|c| Cell::Text(c.clone())).collect();
        writer.row(&header)?;
        Ok(writer)
    }

    pub fn row(&mut self, cells: &[Cell]) -> io::Result<()> {
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            let text = match cell {
                Cell::Text(t) | Cell::Name(t) => defuse(t),
                other => other.plain(),
            };
            self.out.write_all(quote(&text).as_bytes())?;
        }
        self.out.write_all(b"\r\n")
    }

    pub fn finish(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A whole table as CSV bytes.
pub fn table(table: &Table) -> Vec<u8> {
    let mut writer = CsvWriter::new(Vec::new(), &table.columns).expect("writing to memory");
    for row in &table.rows {
        writer.row(row).expect("writing to memory");
    }
    writer.finish().expect("writing to memory")
}

/// Text a spreadsheet would take for a formula (or a command, through DDE) is kept text by a
/// leading apostrophe, as OWASP advises.
fn defuse(text: &str) -> String {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}"),
        _ => text.to_owned(),
    }
}

/// Quoted when it holds a comma, a quote or a line break (RFC 4180 §2.6), quotes doubled.
fn quote(text: &str) -> String {
    if text.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use saghat_core::platform::currency::Currency;
    use saghat_core::reports::table::Money;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        let t = Table {
            name: "t".into(),
            title: "T".into(),
            columns: vec!["Client".into(), "Amount".into(), "Note".into()],
            rows: vec![
                vec![
                    Cell::text("=HYPERLINK(\"http://x\")"),
                    Cell::Money(Money::new(-119_050, Currency::Eur)),
                    Cell::text("a, \"b\"\nc"),
                ],
                vec![Cell::text("@SUM(A1)"), Cell::Count(3), Cell::text("-1+2")],
                vec![Cell::Name("Acme".into()), Cell::Empty, Cell::text("شرکت")],
            ],
        };
        let text = String::from_utf8(table(&t)).unwrap();
        assert_eq!(
            text,
            "\u{feff}Client,Amount,Note\r\n\
             \"'=HYPERLINK(\"\"http://x\"\")\",-1190.50,\"a, \"\"b\"\"\nc\"\r\n\
             '@SUM(A1),3,'-1+2\r\n\
             Acme,,شرکت\r\n"
        );
    }
}
