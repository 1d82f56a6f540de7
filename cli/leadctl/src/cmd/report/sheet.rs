//! One flat table per report, shown aligned for people or as CSV for
//! spreadsheets. CSV cells a spreadsheet would run as a formula (starting
//! with `=`, `+`, `-`, `@`, tab or carriage return) are prefixed with `'`
//! (OWASP's advice against CSV injection); a negative amount so keeps its
//! sign behind the `'`.

use anyhow::Result;
use serde::Serialize;

use crate::cli::Output;
use crate::output::{Table, print_out, to_json};

/// Headers and rows of strings.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sheet {
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

impl Sheet {
    pub fn new(headers: &[&'static str]) -> Self {
        Self {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Aligned columns.
    pub fn table(&self) -> String {
        let mut table = Table::new(&self.headers);
        for row in &self.rows {
            table.row(row.clone());
        }
        table.render()
    }

    /// RFC 4180 CSV with CRLF line ends, formulas neutralised.
    pub fn csv(&self) -> String {
        let mut out = String::new();
        let header: Vec<String> = self
            .headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        push_line(&mut out, &header);
        for row in &self.rows {
            push_line(&mut out, row);
        }
        out
    }
}

fn push_line(out: &mut String, cells: &[String]) {
    let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
    out.push_str(&line.join(","));
    out.push_str("\r\n");
}

/// One CSV cell: neutralised, then quoted when it holds a comma, a quote
/// or a line break.
pub fn csv_cell(text: &str) -> String {
    let neutral = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_string()
    };
    if neutral.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", neutral.replace('"', "\"\""))
    } else {
        neutral
    }
}

/// Prints `value` as JSON, or its sheet as a table or CSV.
pub fn show<T: Serialize>(
    output: Output,
    value: &T,
    sheet: impl FnOnce(&T) -> Sheet,
) -> Result<()> {
    let text = match output {
        Output::Json => to_json(value)?,
        Output::Table => sheet(value).table(),
        Output::Csv => sheet(value).csv(),
    };
    print_out(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_specials_quoted() {
        let cases = [
            (
                "=HYPERLINK(\"http://x\")",
                "\"'=HYPERLINK(\"\"http://x\"\")\"",
            ),
            ("+1", "'+1"),
            ("-3000.00", "'-3000.00"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tcmd", "'\tcmd"),
            ("\rcmd", "\"'\rcmd\""),
            ("Acme, Inc", "\"Acme, Inc\""),
            ("plain", "plain"),
            ("", ""),
        ];
        for (raw, want) in cases {
            assert_eq!(csv_cell(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn a_sheet_renders_as_csv_and_table() {
        let mut sheet = Sheet::new(&["TEAM", "AMOUNT"]);
        sheet.row(vec!["=evil".into(), "12.50".into()]);
        assert_eq!(sheet.csv(), "team,amount\r\n'=evil,12.50\r\n");
        assert!(sheet.table().starts_with("TEAM"));
    }
}
