//! `leadctl import leads FILE.csv`: rows through intake's `ImportLeads`.
//!
//! The file is read and checked first (header names, consent values), so
//! a typo in the header fails before anything is sent. Rows then go in
//! batches; each row's request id is the file's hash and its line, so
//! running the same file again answers the same leads instead of making
//! new ones. A progress bar goes to stderr when it is a terminal.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};

use anyhow::{Context, Result, bail};
use leadwheel_proto::intake::v1::{ImportLeadsRequest, ImportRow, LeadFields};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::csv;
use crate::cli::ImportLeadsArgs;
use crate::conn::Ctx;
use crate::error::Target;
use crate::output::{Table, emit};

/// The columns a header may name (besides `attributes.NAME`).
const COLUMNS: [&str; 18] = [
    "email",
    "name",
    "company",
    "phone",
    "website",
    "domain",
    "company_size",
    "country",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "product",
    "plan",
    "consent",
    "message",
];

/// Most rows in one file: a bound on memory; split bigger files.
const MAX_ROWS: usize = 1_000_000;

#[derive(Debug, Serialize)]
struct RowError {
    line: i64,
    field: String,
    code: String,
    message: String,
}

#[derive(Debug, Serialize)]
struct Summary {
    file: String,
    dry_run: bool,
    rows: usize,
    created: usize,
    duplicates: usize,
    valid: usize,
    refused: usize,
    errors: Vec<RowError>,
}

fn set(fields: &mut LeadFields, column: &str, value: String) -> Result<(), String> {
    let slot = match column {
        "email" => &mut fields.email,
        "name" => &mut fields.name,
        "company" => &mut fields.company,
        "phone" => &mut fields.phone,
        "website" => &mut fields.website,
        "domain" => &mut fields.domain,
        "company_size" => &mut fields.company_size,
        "country" => &mut fields.country,
        "source" => &mut fields.source,
        "utm_source" => &mut fields.utm_source,
        "utm_medium" => &mut fields.utm_medium,
        "utm_campaign" => &mut fields.utm_campaign,
        "utm_term" => &mut fields.utm_term,
        "utm_content" => &mut fields.utm_content,
        "product" => &mut fields.product,
        "plan" => &mut fields.plan,
        "message" => &mut fields.message,
        "consent" => {
            fields.consent = match value.trim().to_ascii_lowercase().as_str() {
                "" | "false" | "no" | "off" | "0" => false,
                "true" | "yes" | "on" | "1" => true,
                other => return Err(format!("{other:?} is not true or false")),
            };
            return Ok(());
        }
        other => {
            let name = other.strip_prefix("attributes.").unwrap_or(other);
            if !value.is_empty() {
                fields.attributes.insert(name.to_string(), value);
            }
            return Ok(());
        }
    };
    *slot = value;
    Ok(())
}

/// The rows of `text`, or why the file cannot be imported at all; rows
/// refused here (a bad consent value) are reported like intake's refusals.
fn rows(text: &str, file_key: &str) -> Result<(Vec<ImportRow>, Vec<RowError>)> {
    let records = csv::records(text).map_err(|e| anyhow::anyhow!(e))?;
    let Some((header, body)) = records.split_first() else {
        bail!("the file is empty: the first line must name the columns");
    };
    let mut seen = HashMap::new();
    let columns: Vec<String> = header
        .fields
        .iter()
        .map(|name| name.trim().to_ascii_lowercase())
        .collect();
    for name in &columns {
        let known = COLUMNS.contains(&name.as_str())
            || name
                .strip_prefix("attributes.")
                .is_some_and(|attr| !attr.is_empty());
        if !known {
            bail!(
                "line 1: unknown column {name:?}; columns are {} and attributes.NAME",
                COLUMNS.join(", ")
            );
        }
        if seen.insert(name.clone(), ()).is_some() {
            bail!("line 1: column {name:?} appears twice");
        }
    }
    if !columns.iter().any(|c| c == "email") {
        bail!("line 1: no email column (every lead needs one)");
    }
    if body.len() > MAX_ROWS {
        bail!("{} rows; at most {MAX_ROWS} per file", body.len());
    }
    let mut rows = Vec::with_capacity(body.len());
    let mut errors = Vec::new();
    for record in body {
        let line = record.line as i64;
        if record.fields.len() != columns.len() {
            errors.push(RowError {
                line,
                field: String::new(),
                code: "column_count".into(),
                message: format!(
                    "{} fields; the header has {}",
                    record.fields.len(),
                    columns.len()
                ),
            });
            continue;
        }
        let mut fields = LeadFields::default();
        let mut bad = None;
        for (column, value) in columns.iter().zip(&record.fields) {
            if let Err(message) = set(&mut fields, column, value.clone()) {
                bad = Some(RowError {
                    line,
                    field: column.clone(),
                    code: "invalid_format".into(),
                    message: format!("{column}: {message}"),
                });
                break;
            }
        }
        match bad {
            Some(err) => errors.push(err),
            None => rows.push(ImportRow {
                row: line,
                request_id: format!("import:{file_key}:{line}"),
                fields: Some(fields),
            }),
        }
    }
    Ok((rows, errors))
}

fn progress(done: usize, total: usize) {
    let mut err = std::io::stderr().lock();
    if !err.is_terminal() {
        return;
    }
    let width = 30;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    let _ = write!(
        err,
        "\r[{}{}] {done}/{total} rows",
        "#".repeat(filled),
        " ".repeat(width - filled)
    );
    if done == total {
        let _ = writeln!(err);
    }
    let _ = err.flush();
}

pub async fn run(ctx: &Ctx, args: ImportLeadsArgs) -> Result<()> {
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8", args.file.display()))?;
    let digest = Sha256::digest(&bytes);
    let file_key: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let (rows, mut errors) = rows(&text, &file_key)?;
    let total = rows.len() + errors.len();
    let mut summary = Summary {
        file: args.file.display().to_string(),
        dry_run: args.dry_run,
        rows: total,
        created: 0,
        duplicates: 0,
        valid: 0,
        refused: 0,
        errors: Vec::new(),
    };
    let mut client = ctx.intake().await?;
    let mut done = errors.len();
    progress(done, total);
    for batch in rows.chunks(usize::from(args.batch)) {
        let response = client
            .import_leads(ImportLeadsRequest {
                rows: batch.to_vec(),
                dry_run: args.dry_run,
            })
            .await
            .map_err(|s| ctx.fail(Target::Intake, s))?
            .into_inner();
        for result in response.results {
            if !result.error_code.is_empty() {
                errors.push(RowError {
                    line: result.row,
                    field: result.error_field,
                    code: result.error_code,
                    message: result.error_message,
                });
            } else if args.dry_run {
                summary.valid += 1;
            } else if result.duplicate {
                summary.duplicates += 1;
            } else {
                summary.created += 1;
            }
        }
        done += batch.len();
        progress(done, total);
    }
    errors.sort_by_key(|e| e.line);
    summary.refused = errors.len();
    summary.errors = errors;
    emit(ctx.output(), &summary, report)?;
    if summary.refused > 0 {
        bail!(
            "{} of {} rows refused (see the report above)",
            summary.refused,
            summary.rows
        );
    }
    Ok(())
}

fn report(summary: &Summary) -> String {
    let mut text = String::new();
    if !summary.errors.is_empty() {
        let mut table = Table::new(&["LINE", "FIELD", "CODE", "WHY"]);
        for err in &summary.errors {
            table.row(vec![
                err.line.to_string(),
                err.field.clone(),
                err.code.clone(),
                err.message.clone(),
            ]);
        }
        text.push_str(&table.render());
        text.push('\n');
    }
    if summary.dry_run {
        text.push_str(&format!(
            "dry run of {}: {} rows, {} valid, {} refused; nothing stored\n",
            summary.file, summary.rows, summary.valid, summary.refused
        ));
    } else {
        text.push_str(&format!(
            "imported {}: {} rows, {} new leads, {} duplicates of existing leads, {} refused\n",
            summary.file, summary.rows, summary.created, summary.duplicates, summary.refused
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_rows_are_checked_before_sending() {
        let (rows, errors) = rows(
            "Email,name,consent,attributes.crm\nana@acme.io,Ana,yes,hubspot\nbo@x.io,Bo,perhaps,\nshort\n",
            "k",
        )
        .unwrap();
        assert_eq!(rows.len(), 1);
        let fields = rows[0].fields.as_ref().unwrap();
        assert!(fields.consent);
        assert_eq!(fields.attributes["crm"], "hubspot");
        assert_eq!(rows[0].request_id, "import:k:2");
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.line, e.code.as_str()))
                .collect::<Vec<_>>(),
            [(3, "invalid_format"), (4, "column_count")]
        );
        for bad in ["name,colour\nx,y\n", "name\nx\n", "email,email\n", ""] {
            assert!(super::rows(bad, "k").is_err(), "{bad:?}");
        }
    }
}
