//! What an alert looks like on each channel: a Slack-compatible webhook
//! body (`text` and `blocks`), an email's subject, plain text and HTML.
//! With the console's public URL configured, each carries a link to open
//! the alert in the web console: the plain deep link (`<console>/alerts/<id>`)
//! or, in an email, a one-time sign-in link landing there
//! ([`super::signin`]); the caller says which.

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
pub fn slack(alert: &Alert, reason: &str, open: Option<&str>) -> Value {
    let head = headline(alert, reason);
    let link = open;
    let mut text = format!("{head}: {}", alert.message);
    if let Some(link) = link {
        text.push_str(&format!(" <{link}|Open in the console>"));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": head}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": alert.message}}),
    ];
    if let Some(link) = link {
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

/// An email's plain text: `page` is the alert's page in the console,
/// `signin` a one-time link signing the recipient in and landing there.
pub fn plain(alert: &Alert, reason: &str, page: Option<&str>, signin: Option<&str>) -> String {
    let mut open = String::new();
    if let Some(l) = signin {
        open.push_str(&format!("{SIGN_IN_OPEN}: {l}\n"));
    }
    if let Some(l) = page {
        open.push_str(&format!("Open: {l}\n"));
    }
    format!(
        "{}\n\n{}\n\nAlert: {}\nAbout: {}\n{open}Acknowledge: leadctl alerts ack {}\n",
        headline(alert, reason),
        alert.message,
        alert.alert_id,
        alert.subject_key,
        alert.alert_id
    )
}

const OPEN: &str = "Open in the console";
const SIGN_IN: &str = "Sign in to the console";
const SIGN_IN_OPEN: &str = "Sign in and open (the link works once)";

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn html_link(open: Option<&str>, label: &str) -> String {
    open.map_or(String::new(), |l| {
        format!("<p><a href=\"{}\">{label}</a></p>", escape(l))
    })
}

/// An email's HTML (the links as in [`plain`]).
pub fn html(alert: &Alert, reason: &str, page: Option<&str>, signin: Option<&str>) -> String {
    format!(
        "<!doctype html><html><body><h2>{}</h2><p>{}</p>{}\
         <p style=\"color:#666\">Alert <code>{}</code> about <code>{}</code>. \
         Acknowledge: <code>leadctl alerts ack {}</code></p></body></html>",
        escape(&headline(alert, reason)),
        escape(&alert.message),
        html_link(signin, SIGN_IN_OPEN) + &html_link(page, OPEN),
        escape(&alert.alert_id),
        escape(&alert.subject_key),
        escape(&alert.alert_id)
    )
}

/// A digest's subject.
pub fn digest_subject(count: usize) -> String {
    format!("[leadwheel] {count} alerts")
}

/// A digest's plain text: a sign-in link to the alerts inbox when there is
/// one, then each alert as its own email would say it, with its deep link.
pub fn digest_plain(
    items: &[(&Alert, &str)],
    console: Option<&str>,
    signin: Option<&str>,
) -> String {
    let head = signin.map_or(String::new(), |l| format!("{SIGN_IN}: {l}\n\n"));
    let body = items
        .iter()
        .map(|(alert, reason)| plain(alert, reason, link(console, alert).as_deref(), None))
        .collect::<Vec<_>>()
        .join("\n---\n\n");
    head + &body
}

/// A digest's HTML (as its plain text).
pub fn digest_html(
    items: &[(&Alert, &str)],
    console: Option<&str>,
    signin: Option<&str>,
) -> String {
    let head = html_link(signin, SIGN_IN);
    let body: String = items
        .iter()
        .map(|(alert, reason)| {
            format!(
                "<h3>{}</h3><p>{}</p>{}<p style=\"color:#666\">Acknowledge: <code>leadctl alerts ack {}</code></p>",
                escape(&headline(alert, reason)),
                escape(&alert.message),
                html_link(link(console, alert).as_deref(), OPEN),
                escape(&alert.alert_id)
            )
        })
        .collect();
    format!(
        "<!doctype html><html><body><h2>{}</h2>{head}{body}</body></html>",
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
        assert!(html(&alert, "raised", None, None).contains("Lead &lt;b&gt;x&lt;/b&gt; &amp; co"));
        let body = slack(&alert, "escalated", None);
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .starts_with("Escalated: no first touch")
        );
        assert_eq!(body["blocks"].as_array().unwrap().len(), 3);
        assert!(!plain(&alert, "raised", None, None).contains("/alerts/"));
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
        assert_eq!(link(console, &alert).as_deref(), Some(want));
        let open = Some(want);
        let body = slack(&alert, "raised", open);
        assert!(body["text"].as_str().unwrap().contains(want));
        assert_eq!(body["blocks"].as_array().unwrap().len(), 4);
        assert!(plain(&alert, "raised", open, None).contains(&format!("Open: {want}")));
        assert!(html(&alert, "raised", open, None).contains(&format!("href=\"{want}\"")));
        // With a sign-in link, both: the sign-in first, the page for later.
        let signin = Some("https://leads.example.com/signin/link?token=t&next=%2Falerts%2Falert_1");
        let text = plain(&alert, "raised", open, signin);
        assert!(text.contains("Sign in and open (the link works once): https://leads.example.com/signin/link?token=t&next=%2Falerts%2Falert_1\nOpen: "), "{text}");
        let page = html(&alert, "raised", open, signin);
        assert!(page.contains("href=\"https://leads.example.com/signin/link?token=t&amp;next=%2Falerts%2Falert_1\""), "{page}");
        assert!(page.contains(&format!("href=\"{want}\"")), "{page}");
        assert!(digest_html(&[(&alert, "raised")], console, None).contains(want));
    }

    #[test]
    fn a_digest_signs_in_once_and_links_each_alert() {
        let alerts: Vec<Alert> = ["alert_1", "alert_2"]
            .into_iter()
            .map(|id| Alert {
                alert_id: id.into(),
                kind: "no_first_touch".into(),
                ..Default::default()
            })
            .collect();
        let items: Vec<(&Alert, &str)> = alerts.iter().map(|a| (a, "raised")).collect();
        let console = Some("https://c.example");
        let signin = Some("https://c.example/signin/link?token=t&next=%2Falerts");
        let text = digest_plain(&items, console, signin);
        assert!(text.starts_with("Sign in to the console: https://c.example/signin/link?token=t"));
        assert_eq!(text.matches("/signin/link").count(), 1, "{text}");
        for id in ["alert_1", "alert_2"] {
            assert!(
                text.contains(&format!("Open: https://c.example/alerts/{id}")),
                "{text}"
            );
        }
        let html = digest_html(&items, console, signin);
        assert!(
            html.contains("href=\"https://c.example/signin/link?token=t&amp;next=%2Falerts\""),
            "{html}"
        );
        assert_eq!(
            digest_plain(&items, console, None)
                .matches("/signin/")
                .count(),
            0
        );
    }
}
