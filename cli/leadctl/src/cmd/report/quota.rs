//! `leadctl quota set|list|import` and `leadctl report rebuild`: the
//! commands that change reporting.

use anyhow::{Context, Result, anyhow, bail};
use leadwheel_proto::reporting::v1::{
    ConsumerProgress, GetRebuildProgressRequest, ListQuotasRequest, ListQuotasResponse, PeriodKind,
    Quota, QuotaScope, RebuildRequest, SetForecastAdjustmentRequest, SetQuotasRequest,
};
use serde_json::{Value, json};

use super::sales::period;
use super::sheet::{Sheet, kind_name, quota_sheet, scope_name, show};
use crate::cli::{QuotaPeriodArg, QuotaSetArgs, ReportArgs};
use crate::cmd::intake::csv::records;
use crate::cmd::opps::views::parse_amount;
use crate::conn::Ctx;
use crate::error::Target;

const IMPORT_COLUMNS: [&str; 6] = ["scope", "subject", "period", "date", "amount", "currency"];

fn kind_of(name: &str) -> Option<PeriodKind> {
    match name {
        "month" => Some(PeriodKind::Month),
        "quarter" => Some(PeriodKind::Quarter),
        "year" => Some(PeriodKind::Year),
        _ => None,
    }
}

async fn send(ctx: &Ctx, quotas: Vec<Quota>) -> Result<Vec<Quota>> {
    Ok(ctx
        .reporting()
        .await?
        .set_quotas(SetQuotasRequest { quotas })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner()
        .quotas)
}

/// The quota (or adjustment) the flags name.
fn quota_of(args: QuotaSetArgs) -> Result<Quota> {
    let (scope, subject) = match (args.team, args.rep) {
        (Some(team), None) => (QuotaScope::Team, team),
        (None, Some(rep)) => (QuotaScope::Rep, rep),
        _ => bail!("give one of --team and --rep"),
    };
    let kind = match args.period {
        QuotaPeriodArg::Month => PeriodKind::Month,
        QuotaPeriodArg::Quarter => PeriodKind::Quarter,
        QuotaPeriodArg::Year => PeriodKind::Year,
    };
    let amount_minor = parse_amount(&args.amount, &args.currency).map_err(|e| anyhow!(e))?;
    Ok(Quota {
        scope: scope as i32,
        subject_id: subject,
        period_kind: kind as i32,
        period_start: args.date,
        currency: args.currency,
        amount_minor,
        ..Default::default()
    })
}

pub async fn adjust(ctx: &Ctx, args: QuotaSetArgs, note: String, clear: bool) -> Result<()> {
    let q = quota_of(args)?;
    ctx.reporting()
        .await?
        .set_forecast_adjustment(SetForecastAdjustmentRequest {
            scope: q.scope,
            subject_id: q.subject_id.clone(),
            period_kind: q.period_kind,
            period_start: q.period_start.clone(),
            currency: q.currency.clone(),
            amount_minor: q.amount_minor,
            note,
            clear,
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?;
    let what = if clear { "cleared" } else { "set" };
    let view =
        json!({"subject_id": q.subject_id, "period_start": q.period_start, "adjustment": what});
    show(ctx.output(), &view, |_| {
        let mut sheet = Sheet::new(&["WHO", "FROM", "ADJUSTMENT"]);
        sheet.row(vec![
            q.subject_id.clone(),
            q.period_start.clone(),
            what.into(),
        ]);
        sheet
    })
}

pub async fn set(ctx: &Ctx, args: QuotaSetArgs) -> Result<()> {
    let quotas = send(ctx, vec![quota_of(args)?]).await?;
    let list = ListQuotasResponse { quotas };
    show(ctx.output(), &list_json(&list), |_| quota_sheet(&list))
}

pub async fn list(ctx: &Ctx, args: ReportArgs) -> Result<()> {
    let list = ctx
        .reporting()
        .await?
        .list_quotas(ListQuotasRequest {
            team_id: args.team.unwrap_or_default(),
            rep_id: args.rep.unwrap_or_default(),
            period: period(&args.period),
        })
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    show(ctx.output(), &list_json(&list), |_| quota_sheet(&list))
}

/// The quotas of a CSV file (see `leadctl quota import --help`); a bad
/// line is named.
pub fn parse_import(text: &str) -> Result<Vec<Quota>> {
    let records = records(text).map_err(|e| anyhow!(e))?;
    let Some((header, rows)) = records.split_first() else {
        bail!(
            "the file is empty; it needs the header {}",
            IMPORT_COLUMNS.join(",")
        );
    };
    let names: Vec<String> = header
        .fields
        .iter()
        .map(|f| f.trim().to_ascii_lowercase())
        .collect();
    if names != IMPORT_COLUMNS {
        bail!(
            "line {}: the header must be {} (found {})",
            header.line,
            IMPORT_COLUMNS.join(","),
            names.join(",")
        );
    }
    rows.iter()
        .map(|record| {
            let at = |what: String| anyhow!("line {}: {what}", record.line);
            let [scope, subject, kind, date, amount, currency] = &record.fields[..] else {
                return Err(at(format!("{} fields; 6 expected", record.fields.len())));
            };
            let scope = match scope.trim() {
                "team" => QuotaScope::Team,
                "rep" => QuotaScope::Rep,
                other => return Err(at(format!("scope {other:?} is not team or rep"))),
            };
            let kind = kind_of(kind.trim())
                .ok_or_else(|| at(format!("period {kind:?} is not month, quarter or year")))?;
            let currency = currency.trim().to_string();
            let amount_minor = parse_amount(amount, &currency).map_err(at)?;
            Ok(Quota {
                scope: scope as i32,
                subject_id: subject.trim().to_string(),
                period_kind: kind as i32,
                period_start: date.trim().to_string(),
                currency,
                amount_minor,
                ..Default::default()
            })
        })
        .collect()
}

pub async fn import(ctx: &Ctx, file: std::path::PathBuf) -> Result<()> {
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let quotas = parse_import(&text)?;
    let count = quotas.len();
    let quotas = send(ctx, quotas).await?;
    let list = ListQuotasResponse { quotas };
    eprintln!("{count} quotas set from {}", file.display());
    show(ctx.output(), &list_json(&list), |_| quota_sheet(&list))
}

fn list_json(list: &ListQuotasResponse) -> Value {
    Value::Array(
        list.quotas
            .iter()
            .map(|q| {
                json!({
                    "scope": scope_name(q.scope), "subject_id": q.subject_id,
                    "team_id": q.team_id, "period": kind_name(q.period_kind),
                    "period_start": q.period_start, "currency": q.currency,
                    "amount_minor": q.amount_minor, "set_by": q.set_by, "set_at_ms": q.set_at_ms,
                })
            })
            .collect(),
    )
}

fn progress_line(
    state: &str,
    events: i64,
    elapsed_ms: i64,
    consumers: &[ConsumerProgress],
) -> String {
    let per_consumer = consumers
        .iter()
        .map(|c| {
            format!(
                "{}: {} replayed, {} to go",
                c.consumer, c.delivered, c.pending
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let rate = if elapsed_ms > 0 {
        events * 1000 / elapsed_ms
    } else {
        0
    };
    format!(
        "{state}: {events} events in {:.1} s ({rate}/s); {per_consumer}",
        elapsed_ms as f64 / 1000.0
    )
}

pub async fn rebuild(ctx: &Ctx) -> Result<()> {
    let mut client = ctx.reporting().await?;
    let started = client
        .rebuild(RebuildRequest {})
        .await
        .map_err(|s| ctx.fail(Target::Reporting, s))?
        .into_inner();
    eprintln!(
        "rebuilding into fresh tables (reports answer from the current ones until the switch)\n  {}",
        progress_line(
            &started.state,
            started.events,
            started.elapsed_ms,
            &started.consumers
        )
    );
    let done = loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        let progress = client
            .get_rebuild_progress(GetRebuildProgressRequest {})
            .await
            .map_err(|s| ctx.fail(Target::Reporting, s))?
            .into_inner();
        eprintln!(
            "  {}",
            progress_line(
                &progress.state,
                progress.events,
                progress.elapsed_ms,
                &progress.consumers
            )
        );
        match progress.state.as_str() {
            "done" => break progress,
            "failed" => bail!(
                "the rebuild failed (the reports still answer from the previous tables): {}",
                progress.error
            ),
            _ => {}
        }
    };
    let view = json!({
        "state": done.state,
        "events": done.events,
        "elapsed_ms": done.elapsed_ms,
        "consumers": done.consumers.iter().map(|c| json!({
            "consumer": c.consumer, "replayed": c.delivered, "pending": c.pending,
        })).collect::<Vec<_>>(),
    });
    show(ctx.output(), &view, |_| {
        let mut sheet = Sheet::new(&["CONSUMER", "REPLAYED", "PENDING"]);
        for c in &done.consumers {
            sheet.row(vec![
                c.consumer.clone(),
                c.delivered.to_string(),
                c.pending.to_string(),
            ]);
        }
        sheet
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_file_becomes_quotas() {
        let text = "scope,subject,period,date,amount,currency\r\n\
                    rep,ana,month,2027-01-01,\"20,000.50\",EUR\r\n\
                    team,demo,year,2027-01-01,900000,JPY\r\n";
        let quotas = parse_import(text).unwrap();
        assert_eq!(quotas.len(), 2);
        assert_eq!(
            (
                quotas[0].scope,
                quotas[0].amount_minor,
                quotas[0].period_kind
            ),
            (QuotaScope::Rep as i32, 2_000_050, PeriodKind::Month as i32)
        );
        assert_eq!(quotas[1].amount_minor, 900_000);
    }

    #[test]
    fn a_bad_line_is_named() {
        let bad_header = parse_import("who,amount\nana,1\n").unwrap_err().to_string();
        assert!(bad_header.contains("line 1"), "{bad_header}");
        let text = "scope,subject,period,date,amount,currency\nrep,ana,week,2027-01-01,1,EUR\n";
        let err = parse_import(text).unwrap_err().to_string();
        assert!(err.starts_with("line 2:") && err.contains("week"), "{err}");
    }
}
