//! Reading back the files Saghat writes, with the tools their readers use: poppler's
//! `pdftotext` for PDFs, Python's openpyxl for spreadsheets. Outside CI a missing tool skips
//! (None, said on stderr); in CI it fails.

use std::process::Command;

use serde_json::Value;

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn missing(what: &str) -> Option<String> {
    if ci() {
        panic!("CI needs {what}");
    }
    eprintln!("SKIPPED: {what} is not installed");
    None
}

/// The text of a PDF, laid out as on the page (`pdftotext -layout`).
pub fn pdf_text(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file.pdf");
    std::fs::write(&file, pdf).unwrap();
    match Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(_) => missing("pdftotext (poppler-utils)").map(|_| unreachable!()),
    }
}

const READ_XLSX: &str = r#"
import json, sys, openpyxl
book = openpyxl.load_workbook(sys.argv[1])
out = {"title": book.properties.title, "sheets": []}
for ws in book.worksheets:
    rows = []
    for row in ws.iter_rows():
        rows.append([{"value": c.value if not hasattr(c.value, "isoformat") else c.value.isoformat(),
                      "type": c.data_type, "format": c.number_format, "bold": bool(c.font and c.font.b)}
                     for c in row])
    out["sheets"].append({"name": ws.title, "freeze": ws.freeze_panes,
                          "rtl": bool(ws.sheet_view.rightToLeft), "rows": rows})
print(json.dumps(out, default=str))
"#;

/// A workbook as openpyxl reads it: `{title, sheets: [{name, freeze, rtl, rows: [[{value,
/// type, format, bold}]]}]}` (`type` is openpyxl's: `n` number, `s` text, `d` date).
pub fn xlsx_contents(xlsx: &[u8]) -> Option<Value> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file.xlsx");
    std::fs::write(&file, xlsx).unwrap();
    let python = std::env::var("SAGHAT_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let has_it = Command::new(&python)
        .args(["-c", "import openpyxl"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_it {
        return missing("python3 with openpyxl (pip install openpyxl)").map(|_| unreachable!());
    }
    let out = Command::new(&python)
        .args(["-c", READ_XLSX])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}
