//! The inbox over real sockets: lettre (the SMTP client alerting uses)
//! sends to the SMTP receiver, reqwest POSTs to the webhook receiver, and
//! what they stored is read back through the files, the page and the JSON.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::Tls;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

use super::session::Limits;
use super::store::{self, Channel, Store};
use super::{Inbox, hook_url};

async fn start(dir: &std::path::Path) -> Inbox {
    let smtp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    Inbox::start(dir, smtp, http).unwrap()
}

fn mailer(inbox: &Inbox) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(inbox.smtp.ip().to_string())
        .port(inbox.smtp.port())
        .tls(Tls::None)
        .timeout(Some(Duration::from_secs(10)))
        .build()
}

#[tokio::test]
async fn lettre_delivers_to_the_smtp_receiver() {
    let data = tempfile::tempdir().unwrap();
    let inbox = start(data.path()).await;
    let message = Message::builder()
        .from(
            "leadwheel alerts <alerts@localhost>"
                .parse::<Mailbox>()
                .unwrap(),
        )
        .to("Ana Lima <ana@demo.example>".parse::<Mailbox>().unwrap())
        .to("maya@demo.example".parse::<Mailbox>().unwrap())
        .subject("[leadwheel] Alert: café ☕ (team demo)")
        .multipart(MultiPart::alternative_plain_html(
            "line one\n.a line that starts with a dot\n..two dots\nend\n".to_string(),
            "<p>html</p>".to_string(),
        ))
        .unwrap();
    mailer(&inbox).send(message).await.expect("sent");

    let entries = store::list(&store::dir_in(data.path())).unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    let email = &entries[0];
    assert_eq!(email.channel, Channel::Email);
    assert_eq!(email.to, "ana@demo.example, maya@demo.example");
    assert_eq!(email.summary, "[leadwheel] Alert: café ☕ (team demo)");
    let (_, raw) = store::read(&store::dir_in(data.path()), email.id)
        .unwrap()
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(
        raw.starts_with("Return-Path: <alerts@localhost>\r\nDelivered-To: ana@demo.example\r\n"),
        "{raw}"
    );
    // lettre doubled the leading dots on the wire; the inbox undid it.
    assert!(
        raw.contains("\r\n.a line that starts with a dot\r\n..two dots\r\n"),
        "{raw}"
    );
    inbox.stop().await;
}

/// Sends `line` and reads one reply (its lines joined).
async fn say(stream: &mut BufReader<TcpStream>, line: &str) -> String {
    if !line.is_empty() {
        stream
            .get_mut()
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .unwrap();
    }
    let mut reply = String::new();
    loop {
        let mut one = String::new();
        if stream.read_line(&mut one).await.unwrap() == 0 {
            return reply;
        }
        reply.push_str(&one);
        // "250-…" continues, "250 …" ends.
        if one.as_bytes().get(3) != Some(&b'-') {
            return reply;
        }
    }
}

#[tokio::test]
async fn a_raw_conversation_with_limits_resets_and_refusals() {
    let data = tempfile::tempdir().unwrap();
    let store = Store::open(store::dir_in(data.path())).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let (read, write) = socket.split();
        let limits = Limits {
            max_message_bytes: 100,
            ..Limits::default()
        };
        super::smtp::converse(BufReader::new(read), write, &store, limits).await;
    });
    let mut client = BufReader::new(TcpStream::connect(addr).await.unwrap());
    assert!(say(&mut client, "").await.starts_with("220 "));
    let ehlo = say(&mut client, "EHLO test.example").await;
    assert!(
        ehlo.contains("250-SIZE 100") && ehlo.ends_with("250 HELP\r\n"),
        "{ehlo}"
    );
    assert!(say(&mut client, "DATA").await.starts_with("503 "));
    assert!(
        say(&mut client, "MAIL FROM:<a@b.example>")
            .await
            .starts_with("250 ")
    );
    assert!(
        say(&mut client, "RCPT TO:<c@d.example>")
            .await
            .starts_with("250 ")
    );
    assert!(say(&mut client, "RSET").await.starts_with("250 "));
    assert!(
        say(&mut client, "DATA").await.starts_with("503 "),
        "RSET dropped the recipients"
    );
    assert!(say(&mut client, "NOOP").await.starts_with("250 "));
    // Too big: read to the end, refused, nothing stored.
    say(&mut client, "MAIL FROM:<a@b.example>").await;
    say(&mut client, "RCPT TO:<c@d.example>").await;
    assert!(say(&mut client, "DATA").await.starts_with("354 "));
    client
        .get_mut()
        .write_all(format!("Subject: big\r\n\r\n{}\r\n", "x".repeat(150)).as_bytes())
        .await
        .unwrap();
    assert!(say(&mut client, ".").await.starts_with("552 "));
    // A small one goes through, after the refusal.
    say(&mut client, "MAIL FROM:<a@b.example>").await;
    say(&mut client, "RCPT TO:<c@d.example>").await;
    say(&mut client, "DATA").await;
    client
        .get_mut()
        .write_all(b"Subject: small\r\n\r\n..hi\r\n")
        .await
        .unwrap();
    let stored = say(&mut client, ".").await;
    assert!(
        stored.starts_with("250 2.0.0 OK: stored as message 1"),
        "{stored}"
    );
    assert!(say(&mut client, "QUIT").await.starts_with("221 "));
    server.await.unwrap();
    let entries = store::list(&store::dir_in(data.path())).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].summary, "small");
    let (_, raw) = store::read(&store::dir_in(data.path()), 1)
        .unwrap()
        .unwrap();
    assert!(
        raw.ends_with(b"\r\n\r\n.hi\r\n"),
        "{}",
        String::from_utf8_lossy(&raw)
    );
}

#[tokio::test]
async fn webhook_posts_are_caught_and_listed() {
    let data = tempfile::tempdir().unwrap();
    let inbox = start(data.path()).await;
    let client = reqwest::Client::new();
    let base = format!("http://{}", inbox.http);

    let body = serde_json::json!({"text": "Alert: no first touch (team demo): Lead lead_1 …", "blocks": []});
    let answer = client
        .post(hook_url(inbox.http, "demo"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let answer: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(answer, serde_json::json!({"ok": true, "id": 1}));

    let refused = [
        (
            format!("{base}/hooks/demo"),
            "not json".to_string(),
            400,
            "body",
        ),
        (
            format!("{base}/hooks/bad.name"),
            "{}".to_string(),
            400,
            "name",
        ),
        (
            format!("{base}/hooks/demo"),
            format!("\"{}\"", "x".repeat(super::http::MAX_WEBHOOK_BYTES)),
            413,
            "body",
        ),
    ];
    for (url, body, status, field) in refused {
        let answer = client.post(&url).body(body).send().await.unwrap();
        assert_eq!(answer.status(), status, "{url}");
        let error: serde_json::Value = answer.json().await.unwrap();
        assert_eq!(error["error"]["field"], field, "{error}");
    }

    let listed: serde_json::Value = client
        .get(format!("{base}/messages"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        listed.as_array().unwrap().len(),
        1,
        "only the good post: {listed}"
    );
    assert_eq!(listed[0]["channel"], "webhook");
    assert_eq!(listed[0]["to"], "/hooks/demo");
    assert_eq!(listed[0]["summary"], body["text"]);

    let stored: serde_json::Value = client
        .get(format!("{base}/messages/1"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stored, body, "stored as posted");
    let page = client
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Lead lead_1"), "{page}");
    let missing = client
        .get(format!("{base}/messages/9"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let nowhere = client.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(nowhere.status(), 404);
    let wrong = client
        .get(hook_url(inbox.http, "demo"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 405);
    let wrong: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(wrong["error"]["code"], "method_not_allowed");

    let http = inbox.http;
    inbox.stop().await;
    assert!(
        TcpStream::connect(http).await.is_err(),
        "stopped: nothing answers"
    );
}
