//! The inbox page: every arrival, newest first, each linked to its whole
//! message; it reloads itself every five seconds.

use std::fmt::Write;
use std::path::Path;

use super::store::Entry;
use super::utc;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub fn render(entries: &[Entry], dir: &Path) -> String {
    let mut rows = String::new();
    for e in entries.iter().rev() {
        let _ = writeln!(
            rows,
            "<tr><td><a href=\"/messages/{id}\">{id}</a></td><td>{at}</td><td>{channel}</td><td>{to}</td><td>{summary}</td></tr>",
            id = e.id,
            at = utc(e.received_at_ms),
            channel = e.channel.name(),
            to = escape(&e.to),
            summary = escape(&e.summary),
        );
    }
    if entries.is_empty() {
        rows.push_str("<tr><td colspan=\"5\">nothing yet: alerts sent by email or to a team webhook land here</td></tr>\n");
    }
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta http-equiv=\"refresh\" content=\"5\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>leadwheel dev inbox ({count})</title>\
<style>body{{font-family:system-ui,sans-serif;margin:1.5rem}}table{{border-collapse:collapse;width:100%}}\
td,th{{text-align:left;padding:.3rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}}\
th{{background:#f4f4f4}}code{{font-size:.9em}}</style></head><body>\n\
<h1>leadwheel dev inbox</h1>\n\
<p>Emails and webhook posts that alerting sent while <code>leadwheel dev</code> runs, newest first \
(files in <code>{dir}</code>; <a href=\"/messages\">JSON</a>; <code>leadwheel inbox</code> lists them in a terminal).</p>\n\
<table><thead><tr><th>#</th><th>received (UTC)</th><th>channel</th><th>to</th><th>subject or text</th></tr></thead>\n\
<tbody>\n{rows}</tbody></table>\n</body></html>\n",
        count = entries.len(),
        dir = escape(&dir.display().to_string()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::store::Channel;

    #[test]
    fn newest_first_and_escaped() {
        let entry = |id, summary: &str| Entry {
            id,
            received_at_ms: 0,
            channel: Channel::Webhook,
            to: "/hooks/demo".into(),
            summary: summary.into(),
            file: String::new(),
        };
        let html = render(
            &[entry(1, "alpha"), entry(2, "<b>omega</b>")],
            Path::new("/d/inbox"),
        );
        assert!(html.find("omega").unwrap() < html.find("alpha").unwrap());
        assert!(html.contains("&lt;b&gt;omega&lt;/b&gt;"), "{html}");
        assert!(html.contains("href=\"/messages/2\""), "{html}");
        assert!(html.contains("1970-01-01 00:00:00"), "{html}");
    }
}
