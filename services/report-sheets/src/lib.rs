//! Every report as one flat sheet, shared by `leadctl report … -o csv`
//! (and its tables) and reporting's HTTP CSV download, so both write the
//! same columns and neutralise formulas the same way. Pure: a report's gRPC
//! response in, a sheet out.
//!
//! CSV cells a spreadsheet would run as a formula (starting with `=`, `+`,
//! `-`, `@`, tab or carriage return) are prefixed with `'` (OWASP's advice
//! against CSV injection); a negative amount so keeps its sign behind the
//! `'`.

use leadwheel_proto::reporting::v1::ResolvedPeriod;

mod quotas;
mod sales;
mod stages;
mod wheel;

pub use quotas::{kind_name, quota_sheet, scope_name};
pub use sales::{five_sheet, forecast_sheet, forecast_subject, movement_sheet, pipeline_sheet};
pub use stages::{activity_sheet, balance_sheet, stages_sheet};
pub use wheel::{fairness_sheet, routes_sheet, speed_sheet};

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

/// Currencies without minor units; every other has two.
const ZERO_DECIMALS: &[&str] = &["CLP", "ISK", "JPY", "KRW", "VND"];

/// How many decimals `currency`'s minor units have.
pub fn decimals(currency: &str) -> u32 {
    if ZERO_DECIMALS.contains(&currency) {
        0
    } else {
        2
    }
}

/// `1200050` minor units of EUR as `12000.50 EUR`.
pub fn money(amount_minor: i64, currency: &str) -> String {
    match decimals(currency) {
        0 => format!("{amount_minor} {currency}"),
        // The sign is written apart: -50 minor units is "-0.50", which
        // integer division alone would print as "0.50".
        _ => {
            let sign = if amount_minor < 0 { "-" } else { "" };
            let magnitude = amount_minor.unsigned_abs();
            format!(
                "{sign}{}.{:02} {currency}",
                magnitude / 100,
                magnitude % 100
            )
        }
    }
}

/// Minor units as a plain decimal in the currency's units (`12000.50`).
pub fn units(amount_minor: i64, currency: &str) -> String {
    let shown = money(amount_minor, currency);
    shown
        .strip_suffix(&format!(" {currency}"))
        .unwrap_or(&shown)
        .to_string()
}

/// Basis points as a percentage with two decimals (`1234` → `12.34`).
pub fn percent(basis_points: i64) -> String {
    format!("{}.{:02}", basis_points / 100, basis_points % 100)
}

/// A resolved period as `from..to`.
pub fn span(period: &Option<ResolvedPeriod>) -> String {
    period
        .as_ref()
        .map(|p| format!("{}..{}", p.from, p.to))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_keeps_the_sign_of_small_negative_amounts() {
        assert_eq!(money(-50, "EUR"), "-0.50 EUR");
        assert_eq!(money(-1_250, "EUR"), "-12.50 EUR");
        assert_eq!(money(1_200_050, "EUR"), "12000.50 EUR");
        assert_eq!(money(-7, "JPY"), "-7 JPY");
    }

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
    fn a_sheet_renders_as_csv() {
        let mut sheet = Sheet::new(&["TEAM", "AMOUNT"]);
        sheet.row(vec!["=evil".into(), "12.50".into()]);
        assert_eq!(sheet.csv(), "team,amount\r\n'=evil,12.50\r\n");
    }

    #[test]
    fn amounts_in_their_currency_s_units() {
        assert_eq!(money(1_200_050, "EUR"), "12000.50 EUR");
        assert_eq!(money(1_200, "JPY"), "1200 JPY");
        assert_eq!(units(-300_000, "EUR"), "-3000.00");
    }
}
