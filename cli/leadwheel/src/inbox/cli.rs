//! `leadwheel inbox`: what the dev inbox caught, read straight from
//! `<data-dir>/inbox/` (so it works whether `leadwheel dev` runs or not).

use std::path::PathBuf;

use anyhow::{Result, bail};

use super::mail;
use super::store::{self, Channel, Entry};
use super::utc;

/// Extra help for `leadwheel inbox`.
pub const INBOX_HELP: &str = "\
What lands there:
  `leadwheel dev` runs a local mail and webhook catcher, the dev inbox, and points alerting at it:
  - email: alerting sends to the inbox's SMTP port (127.0.0.1:2525 unless --inbox-smtp-addr),
    unless you set LEADWHEEL_ALERTING_SMTP_HOST yourself; the demo team's people have
    addresses <id>@demo.example (ana@demo.example, ..., maya@demo.example);
  - webhook: the demo team's Slack-compatible webhook is http://127.0.0.1:8091/hooks/demo
    (any POST /hooks/<name> with a JSON body is caught).
  Each arrival is a file in <data-dir>/inbox/, numbered: NNNNNN-<unix ms>.eml is the email
  with its envelope on top (Return-Path, Delivered-To), NNNNNN-<unix ms>.<hook>.json the
  body as posted. The same list is on the inbox's page, http://127.0.0.1:8091/, which
  reloads itself, and as JSON at /messages.

Examples:
  leadwheel inbox                       # the last 20: number, time, email or webhook, to, subject or text
  leadwheel inbox 7                     # message 7 whole: the email's headers and text, or the webhook's JSON
  leadwheel inbox --last 0 --json       # every arrival, as JSON
  leadwheel inbox --data-dir /tmp/lw    # the inbox of `leadwheel dev --data-dir /tmp/lw`";

/// Options of `leadwheel inbox`.
#[derive(Debug, Clone, clap::Args)]
pub struct InboxArgs {
    /// Print this message whole (its number, the first column of the list).
    pub id: Option<u64>,
    /// The data dir of `leadwheel dev`; the inbox is its `inbox/` folder.
    #[arg(long, env = "LEADWHEEL_DATA_DIR", default_value = "./.leadwheel")]
    pub data_dir: PathBuf,
    /// Only the last N arrivals (0: all).
    #[arg(long, default_value_t = 20)]
    pub last: usize,
    /// JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InboxArgs) -> Result<()> {
    let dir = store::dir_in(&args.data_dir);
    if !dir.is_dir() {
        bail!(
            "no inbox at {}: `leadwheel dev` creates it when it starts (was it started with \
             another --data-dir?)",
            dir.display()
        );
    }
    if let Some(id) = args.id {
        let Some((entry, content)) = store::read(&dir, id)? else {
            bail!(
                "no message {id} in {} (`leadwheel inbox` lists them)",
                dir.display()
            );
        };
        print!("{}", whole(&entry, &content, args.json));
        return Ok(());
    }
    let mut entries = store::list(&dir)?;
    if args.last > 0 && entries.len() > args.last {
        entries.drain(..entries.len() - args.last);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&entries)?);
    } else {
        print!("{}", table(&entries, &dir.display().to_string()));
    }
    Ok(())
}

/// One message whole: an email's headers and its text, decoded (so a link
/// in it can be opened as it is), the webhook body pretty-printed (as
/// JSON: the entry with the body as stored).
fn whole(entry: &Entry, content: &[u8], json: bool) -> String {
    let text = String::from_utf8_lossy(content).into_owned();
    if json {
        let mut value = serde_json::json!(entry);
        value["content"] = serde_json::json!(text);
        return serde_json::to_string_pretty(&value).unwrap_or_default() + "\n";
    }
    match entry.channel {
        Channel::Email => match mail::plain_text(content) {
            Some(plain) => {
                let head = text.replace("\r\n", "\n");
                let head = head.split_once("\n\n").map_or(head.as_str(), |(h, _)| h);
                format!("{head}\n\n{plain}")
            }
            None => text,
        },
        Channel::Webhook => serde_json::from_slice::<serde_json::Value>(content)
            .ok()
            .and_then(|body| serde_json::to_string_pretty(&body).ok())
            .map_or(text, |pretty| pretty + "\n"),
    }
}

/// The listing, oldest first, in aligned columns.
pub fn table(entries: &[Entry], dir: &str) -> String {
    if entries.is_empty() {
        return format!(
            "the inbox is empty ({dir}): alerts sent by email or to a team webhook land here\n"
        );
    }
    let header = ["#", "RECEIVED (UTC)", "CHANNEL", "TO", "SUBJECT / TEXT"];
    let rows: Vec<[String; 5]> = entries
        .iter()
        .map(|e| {
            [
                e.id.to_string(),
                utc(e.received_at_ms),
                e.channel.name().to_string(),
                e.to.clone(),
                e.summary.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: [&str; 5]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i == cells.len() - 1 {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(header);
    for row in &rows {
        out.push_str(&line(row.each_ref().map(String::as_str)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: u64, channel: Channel, to: &str, summary: &str) -> Entry {
        Entry {
            id,
            received_at_ms: 1_764_456_000_123,
            channel,
            to: to.into(),
            summary: summary.into(),
            file: String::new(),
        }
    }

    #[test]
    fn the_table_has_one_line_per_arrival() {
        let text = table(
            &[
                entry(1, Channel::Webhook, "/hooks/demo", "Alert: no first touch"),
                entry(2, Channel::Email, "ana@demo.example", "[leadwheel] Alert"),
            ],
            "/d/inbox",
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(lines[0].starts_with("#  RECEIVED (UTC)"), "{text}");
        assert!(
            lines[1].contains("2025-11-29 22:40:00  webhook  /hooks/demo"),
            "{text}"
        );
        assert!(lines[2].contains("email    ana@demo.example  "), "{text}");
        assert!(table(&[], "/d/inbox").contains("empty (/d/inbox)"));
    }

    #[test]
    fn a_webhook_is_shown_pretty() {
        let e = entry(1, Channel::Webhook, "/hooks/demo", "x");
        assert_eq!(
            whole(&e, br#"{"text":"x"}"#, false),
            "{\n  \"text\": \"x\"\n}\n"
        );
        let json: serde_json::Value =
            serde_json::from_str(&whole(&e, br#"{"text":"x"}"#, true)).unwrap();
        assert_eq!(json["content"], r#"{"text":"x"}"#);
        assert_eq!(json["channel"], "webhook");
    }
}
