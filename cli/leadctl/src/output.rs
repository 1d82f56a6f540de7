//! Tables for people, JSON for scripts.

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::cli::Output;

/// Widest a cell may be before it is cut with `…`.
const MAX_CELL: usize = 48;

/// A table: a header row and aligned rows, two spaces between columns.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Columns that narrow first when the table must fit a width.
    flexible: Vec<usize>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
            flexible: Vec::new(),
        }
    }

    /// Lets these columns (by index) narrow, widest first, when the table
    /// must fit a width: names and companies, never ids.
    pub fn flexible(mut self, columns: &[usize]) -> Self {
        self.flexible = columns.to_vec();
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with every column as wide as its widest cell; empty cells show `-`.
    pub fn render(&self) -> String {
        self.render_within(None)
    }

    /// Renders in at most `width` columns (None: any): the flexible columns
    /// narrow first (down to a few letters), then lines are cut.
    pub fn render_within(&self, width: Option<usize>) -> String {
        let last = self.headers.len().saturating_sub(1);
        let body = self.rows.iter().map(|row| {
            (0..self.headers.len())
                // The last column has room to run on: it is never cut.
                .map(|i| cell(row.get(i).map(String::as_str).unwrap_or(""), i < last))
                .collect::<Vec<_>>()
        });
        let cells: Vec<Vec<String>> = std::iter::once(self.headers.clone()).chain(body).collect();
        let mut widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        if let Some(width) = width {
            narrow(&mut widths, &self.flexible, width);
        }
        let cells: Vec<Vec<String>> = cells
            .into_iter()
            .map(|row| {
                row.iter()
                    .enumerate()
                    .map(|(i, text)| crate::term::cut(text, widths[i]))
                    .collect()
            })
            .collect();
        let mut out = String::new();
        for row in &cells {
            let mut line = String::new();
            for (i, text) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(text);
                } else {
                    line.push_str(text);
                    line.push_str(&" ".repeat(widths[i] - text.chars().count() + 2));
                }
            }
            let line = line.trim_end();
            match width {
                Some(width) => out.push_str(&crate::term::cut(line, width)),
                None => out.push_str(line),
            }
            out.push('\n');
        }
        out
    }
}

/// Narrows the widest flexible column, one character at a time, until the
/// row (two spaces between columns) fits `width` or none can give more.
fn narrow(widths: &mut [usize], flexible: &[usize], width: usize) {
    /// A column narrower than this says nothing.
    const FLOOR: usize = 6;
    let total =
        |widths: &[usize]| widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1);
    while total(widths) > width {
        let Some(&widest) = flexible
            .iter()
            .filter(|&&i| i < widths.len() && widths[i] > FLOOR)
            .max_by_key(|&&i| widths[i])
        else {
            return;
        };
        widths[widest] -= 1;
    }
}

fn cell(text: &str, cut: bool) -> String {
    let text = crate::error::one_line(text);
    if text.is_empty() {
        "-".to_string()
    } else if cut && text.chars().count() > MAX_CELL {
        let mut cut: String = text.chars().take(MAX_CELL - 1).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

/// JSON, pretty, with a trailing newline.
pub fn to_json<T: Serialize>(value: &T) -> Result<String> {
    Ok(serde_json::to_string_pretty(value)? + "\n")
}

/// Prints `value` as JSON, or as the text `human` makes of it.
pub fn emit<T: Serialize>(
    output: Output,
    value: &T,
    human: impl FnOnce(&T) -> String,
) -> Result<()> {
    let text = match output {
        Output::Json => to_json(value)?,
        Output::Table => human(value),
        Output::Csv => anyhow::bail!(
            "--output csv is offered by the report and quota commands; use --output json here"
        ),
    };
    print_out(&text);
    Ok(())
}

/// Writes to stdout, ignoring a closed pipe (`leadctl ... | head`).
pub fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut table = Table::new(&["REP", "NAME", "OPEN"]);
        table.row(vec!["ana".into(), "Ana Lima".into(), "1".into()]);
        table.row(vec!["dmitri".into(), "".into(), "0".into()]);
        assert_eq!(
            table.render(),
            "REP     NAME      OPEN\n\
             ana     Ana Lima  1\n\
             dmitri  -         0\n"
        );
    }

    #[test]
    fn counts_characters_not_bytes_and_cuts_long_cells() {
        let mut table = Table::new(&["NAME", "X"]);
        table.row(vec!["Elena García".into(), "1".into()]);
        table.row(vec!["x".repeat(60), "2".into()]);
        table.row(vec!["3".into(), "y".repeat(60)]);
        let text = table.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            format!("Elena García{}1", " ".repeat(MAX_CELL - 12 + 2))
        );
        assert!(lines[2].contains('…'));
        assert_eq!(lines[2].chars().count(), MAX_CELL + 3);
        assert!(
            lines[3].ends_with(&"y".repeat(60)),
            "the last column is never cut"
        );
    }

    #[test]
    fn flexible_columns_narrow_to_fit_a_width() {
        let mut table = Table::new(&["LEAD", "NAME", "COMPANY", "LEFT"]).flexible(&[1, 2]);
        table.row(vec![
            "lead_01JD3R2X7Q8M5V6N4K2P".into(),
            "Chloé García".into(),
            "Nordwind Energie GmbH".into(),
            "0:29".into(),
        ]);
        let wide = table.render();
        assert!(wide.lines().any(|l| l.chars().count() > 60), "{wide}");
        let text = table.render_within(Some(60));
        for line in text.lines() {
            assert!(line.chars().count() <= 60, "{line:?}");
        }
        let row = text.lines().nth(1).unwrap();
        // The id and the countdown stay whole; the company gave way first.
        assert!(
            row.starts_with("lead_01JD3R2X7Q8M5V6N4K2P  Chloé García") && row.ends_with("0:29"),
            "{row}"
        );
        assert!(row.contains("Nordwind Ene…"), "{row}");
        // Too narrow even for the floors: lines are cut.
        let tiny = table.render_within(Some(30));
        assert!(tiny.lines().all(|l| l.chars().count() <= 30), "{tiny}");
    }

    #[test]
    fn cells_are_one_line() {
        let mut table = Table::new(&["MESSAGE"]);
        table.row(vec!["hello\nworld".into()]);
        assert_eq!(table.render(), "MESSAGE\nhello world\n");
    }
}
