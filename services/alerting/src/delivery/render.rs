//! What an alert looks like on each channel: a Slack-compatible webhook
//! body (`text` and `blocks`), an email's subject, plain text and HTML.
//! With the console's public URL configured, each carries a link to the
//! alert in the web console (`<console>/alerts/<id>`).

use serde_json::{Value, json};

use crate::store::Alert;

fn headline(alert: &Alert, reason: &str) -> String {
    let what = alert.kind.replace('_', " ");
    match reason {
        "escalated" => format!("Escalated: {what} (team {})", alert.team_id),
        "reopened" => format!("Reminder: {what} (team {})", alert.team_id),
        _ => format!("Alert: {what} (team {})", alert.team_id),
    }
}

/// The alert's page in the web console, when its public URL is known.
pub fn link(console: Option<&str>, alert: &Alert) -> Option<String> {
    console.map(|url| format!("{url}/alerts/{}", alert.alert_id))
}

/// The webhook body: `text` for clients that show only that, `blocks` for
/// Slack's layout.
pub fn slack(alert: &Alert, reason: &str, console: Option<&str>) -> Value {
    let head = headline(alert, reason);
    let link = link(console, alert);
    let mut text = format!("{head}: {}", alert.message);
    if let Some(link) = &link {
        text.push_str(&format!(" <{link}|Open in the console>"));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": head}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": alert.message}}),
    ];
    if let Some(link) = &link {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("<{link}|Open in the console>")}}));
    }
    blocks.push(json!({"type": "context", "elements": [{
        "type": "mrkdwn",
        "text": format!(
            "alert `{}` · about `{}` · for {} · acknowledge: `leadctl alerts ack {}`",
            alert.alert_id,
            alert.subject_key,
            if alert.recipient_ids.is_empty() { "admins".to_string() } else { alert.recipient_ids.join(", ") },
            alert.alert_id
        ),
    }]}));
    json!({"text": text, "blocks": blocks})
}

/// An email's subject.
pub fn subject(alert: &Alert, reason: &str) -> String {
    format!("[leadwheel] {}", headline(alert, reason))
}

/// An email's plain text.
pub fn plain(alert: &Alert, reason: &str, console: Option<&str>) -> String {
    let open = link(console, alert).map_or(String::new(), |l| format!("Open: {l}\n"));
    format!(
        "{}\n\n{}\n\nAlert: {}\nAbout: {}\n{open}Acknowledge: leadctl alerts ack {}\n",
        headline(alert, reason),
        alert.message,
        alert.alert_id,
        alert.subject_key,
        alert.alert_id
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_link(alert: &Alert, console: Option<&str>) -> String {
    link(console, alert).map_or(String::new(), |l| {
        format!("<p><a href=\"{}\">Open in the console</a></p>", escape(&l))
    })
}

/// An email's HTML.
pub fn html(alert: &Alert, reason: &str, console: Option<&str>) -> String {
    format!(
        "<!doctype html><html><body><h2>{}</h2><p>{}</p>{}\
         <p style=\"color:#666\">Alert <code>{}</code> about <code>{}</code>. \
         Acknowledge: <code>leadctl alerts ack {}</code></p></body></html>",
        escape(&headline(alert, reason)),
        escape(&alert.message),
        html_link(alert, console),
        escape(&alert.alert_id),
        escape(&alert.subject_key),
        escape(&alert.alert_id)
    )
}

/// A digest's subject.
pub fn digest_subject(count: usize) -> String {
    format!("[leadwheel] {count} alerts")
}

/// A digest's plain text: each alert as its own email would say it.
pub fn digest_plain(items: &[(&Alert, &str)], console: Option<&str>) -> String {
    items
        .iter()
        .map(|(alert, reason)| plain(alert, reason, console))
        .collect::<Vec<_>>()
        .join("\n---\n\n")
}

/// A digest's HTML.
pub fn digest_html(items: &[(&Alert, &str)], console: Option<&str>) -> String {
    let body: String = items
        .iter()
        .map(|(alert, reason)| {
            format!(
                "<h3>{}</h3><p>{}</p>{}<p style=\"color:#666\">Acknowledge: <code>leadctl alerts ack {}</code></p>",
                escape(&headline(alert, reason)),
                escape(&alert.message),
                html_link(alert, console),
                escape(&alert.alert_id)
            )
        })
        .collect();
    format!(
        "<!doctype html><html><body><h2>{}</h2>{body}</body></html>",
        escape(&digest_subject(items.len()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_escaped_and_slack_has_text_and_blocks() {
        let alert = Alert {
            alert_id: "alert_1".into(),
            kind: "no_first_touch".into(),
            team_id: "north".into(),
            message: "Lead <b>x</b> & co".into(),
            recipient_ids: vec!["ana".into()],
            ..Default::default()
        };
        assert!(html(&alert, "raised", None).contains("Lead &lt;b&gt;x&lt;/b&gt; &amp; co"));
        let body = slack(&alert, "escalated", None);
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .starts_with("Escalated: no first touch")
        );
        assert_eq!(body["blocks"].as_array().unwrap().len(), 3);
        assert!(!plain(&alert, "raised", None).contains("/alerts/"));
    }

    #[test]
    fn messages_link_to_the_alert_in_the_console() {
        let alert = Alert {
            alert_id: "alert_1".into(),
            kind: "no_first_touch".into(),
            ..Default::default()
        };
        let console = Some("https://leads.example.com");
        let want = "https://leads.example.com/alerts/alert_1";
        let body = slack(&alert, "raised", console);
        assert!(body["text"].as_str().unwrap().contains(want));
        assert_eq!(body["blocks"].as_array().unwrap().len(), 4);
        assert!(plain(&alert, "raised", console).contains(&format!("Open: {want}")));
        assert!(html(&alert, "raised", console).contains(&format!("href=\"{want}\"")));
        assert!(digest_html(&[(&alert, "raised")], console).contains(want));
    }
}
