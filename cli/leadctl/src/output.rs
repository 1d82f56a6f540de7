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
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Self {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    /// Renders with every column as wide as its widest cell; empty cells show `-`.
    pub fn render(&self) -> String {
        let last = self.headers.len().saturating_sub(1);
        let body = self.rows.iter().map(|row| {
            (0..self.headers.len())
                // The last column has room to run on: it is never cut.
                .map(|i| cell(row.get(i).map(String::as_str).unwrap_or(""), i < last))
                .collect::<Vec<_>>()
        });
        let cells: Vec<Vec<String>> = std::iter::once(self.headers.clone()).chain(body).collect();
        let widths: Vec<usize> = (0..self.headers.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|row| row[i].chars().count())
                    .max()
                    .unwrap_or(0)
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
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
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
    fn cells_are_one_line() {
        let mut table = Table::new(&["MESSAGE"]);
        table.row(vec!["hello\nworld".into()]);
        assert_eq!(table.render(), "MESSAGE\nhello world\n");
    }
}
