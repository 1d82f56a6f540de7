//! The rep's screens in-process over real HTTP, with no services behind
//! them: what the console decides on its own — a deep link opened without
//! a session goes through sign-in and back; forms refuse what cannot be
//! read (naming the field, 400) before any service is asked, as a fragment
//! for htmx and as the page for a plain form; live alerts and numbers say
//! a service is unreachable instead of failing for good.

use leadwheel_console::link;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::config::Secret;

mod common;
use common::{Console, KEY, Options, client, session_cookie, use_link};

async fn spawn() -> Console {
    Console::spawn(Options::default()).await
}

/// Signs `ana` in with a one-time link landing on `next`; returns the
/// cookie and where the link sent her.
async fn link_in(console: &Console, next: &str) -> (String, String) {
    let token = link::issue(
        &Secret::new(KEY),
        "ana",
        Role::Rep,
        Some("demo"),
        leadwheel_plumbing::store::now_ms() / 1000,
        60,
    );
    let next: String = form_urlencoded::byte_serialize(next.as_bytes()).collect();
    let link = format!("{}/signin/link?token={token}&next={next}", console.url);
    let answer = use_link(&console.url, &link).await;
    assert_eq!(answer.status(), 303);
    let cookie = session_cookie(&answer);
    let location = answer.headers()["location"].to_str().unwrap().to_string();
    (cookie, location)
}

async fn csrf(console: &Console, cookie: &str) -> String {
    // Any page carries the session's token; the pool page needs the wheel,
    // which is down, and still shows the header's forms.
    let page = client()
        .get(format!("{}/pool", console.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = r#"name="csrf" value=""#;
    page[page.find(marker).expect("a csrf field") + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_string()
}

async fn post(
    console: &Console,
    cookie: &str,
    token: &str,
    path: &str,
    body: &str,
    htmx: bool,
) -> (u16, String) {
    let mut request = client()
        .post(format!("{}{path}", console.url))
        .header("cookie", cookie)
        .header("origin", &console.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={token}&{body}"));
    if htmx {
        request = request.header("hx-request", "true");
    }
    let answer = request.send().await.unwrap();
    (answer.status().as_u16(), answer.text().await.unwrap())
}

#[tokio::test]
async fn deep_links_come_back_after_sign_in_and_forms_name_the_field() {
    let console = spawn().await;

    // An alert's link opened without a session: to sign-in, remembering it.
    let cold = client()
        .get(format!("{}/alerts/alert_01ABC", console.url))
        .send()
        .await
        .unwrap();
    assert_eq!(cold.status(), 303);
    assert_eq!(
        cold.headers()["location"],
        "/signin?next=%2Falerts%2Falert_01ABC"
    );
    let signin = reqwest::get(format!(
        "{}/signin?next=%2Falerts%2Falert_01ABC",
        console.url
    ))
    .await
    .unwrap();
    assert_eq!(signin.status(), 200);
    // Signing in (a one-time link here) lands on it; never on another site.
    let (cookie, location) = link_in(&console, "/alerts/alert_01ABC").await;
    assert_eq!(location, "/alerts/alert_01ABC");
    let (_, elsewhere) = link_in(&console, "/\\evil.example").await;
    assert_eq!(elsewhere, "/");
    let token = csrf(&console, &cookie).await;

    // The rep's nav: offers, pool, leads, opportunities, alerts, numbers.
    let page = client()
        .get(format!("{}/pool", console.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for href in ["/opportunities", "/alerts", "/numbers"] {
        assert!(
            page.contains(&format!(r#"href="{href}""#)),
            "{href} in the nav"
        );
    }

    // Forms refuse what they cannot read, naming the field, with 400 —
    // htmx gets a fragment, a plain form the page.
    let cases = [
        (
            "/leads/lead_1/activity",
            "kind=call&notes=pricing",
            "notes: line 1",
        ),
        (
            "/leads/lead_1/activity",
            "kind=call&duration=soon",
            "duration:",
        ),
        ("/leads/lead_1/activity", "kind=fax", "kind:"),
        ("/leads/lead_1/follow-up", "date=next+week", "date:"),
        (
            "/leads/lead_1/convert",
            "account_name=Acme&currency=EUR&amount=ten",
            "amount:",
        ),
        (
            "/leads/lead_1/convert",
            "account_name=Acme&currency=EUR&amount=1.234",
            "amount:",
        ),
        ("/leads/lead_1/disqualify", "reason=", "reason:"),
        ("/leads/lead_1/hand-back", "reason=", "reason:"),
        (
            "/opportunities/opp_1/amount",
            "amount=12&currency=EUR&expected_close_date=31.12.2026",
            "expected_close_date:",
        ),
        (
            "/opportunities/opp_1/stage",
            "stage=won&version=v2",
            "version:",
        ),
        ("/alerts/alert_1/snooze", "until=tomorrow", "until:"),
        ("/alerts/alert_1/snooze", "for=", "for:"),
    ];
    for (path, body, want) in cases {
        for htmx in [true, false] {
            let (status, text) = post(&console, &cookie, &token, path, body, htmx).await;
            assert_eq!(status, 400, "{path} {body}: {text}");
            assert!(text.contains(want), "{path} {body} names {want}: {text}");
            assert!(text.contains(r#"role="alert""#), "{text}");
            assert_eq!(
                text.contains("<!DOCTYPE html>"),
                !htmx,
                "{path} htmx={htmx}"
            );
        }
    }

    // Without the token, the rep's forms are refused like every POST.
    let refused = client()
        .post(format!("{}/leads/lead_1/convert", console.url))
        .header("cookie", &cookie)
        .header("origin", &console.url)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    // Alerting is down: the live alerts are still a 200 event stream saying so.
    let stream = client()
        .get(format!("{}/alerts/stream", console.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let text = stream.text().await.unwrap();
    assert!(
        text.contains("event: unavailable") && text.contains("retry: 5000"),
        "{text}"
    );
    // Reporting is down: the numbers page says so with a 503.
    let numbers = client()
        .get(format!("{}/numbers", console.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(numbers.status(), 503);

    console.shutdown().await;
}
