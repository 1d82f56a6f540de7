//! One flat table per report, shown aligned for people or as CSV for
//! spreadsheets. The sheets and their CSV (formulas neutralised) come from
//! `leadwheel-report-sheets`, shared with reporting's HTTP download, so
//! `-o csv` and the download write the same file.

use anyhow::Result;
use serde::Serialize;

pub use leadwheel_report_sheets::*;

use crate::cli::Output;
use crate::output::{Table, print_out, to_json};

/// A sheet as aligned columns.
pub fn table(sheet: &Sheet) -> String {
    let mut table = Table::new(&sheet.headers);
    for row in &sheet.rows {
        table.row(row.clone());
    }
    table.render()
}

/// Prints `value` as JSON, or its sheet as a table or CSV.
pub fn show<T: Serialize>(
    output: Output,
    value: &T,
    sheet: impl FnOnce(&T) -> Sheet,
) -> Result<()> {
    let text = match output {
        Output::Json => to_json(value)?,
        Output::Table => table(&sheet(value)),
        Output::Csv => sheet(value).csv(),
    };
    print_out(&text);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sheet_renders_as_csv_and_table() {
        let mut sheet = Sheet::new(&["TEAM", "AMOUNT"]);
        sheet.row(vec!["=evil".into(), "12.50".into()]);
        assert_eq!(sheet.csv(), "team,amount\r\n'=evil,12.50\r\n");
        assert!(table(&sheet).starts_with("TEAM"));
    }
}
