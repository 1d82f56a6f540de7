//! The console in-process over real HTTP, with no services behind it (a
//! wheel URL nobody answers): what it does on its own — assets, probes,
//! sign-in links, sessions, and a live stream that says the wheel is
//! unreachable instead of failing for good.

use leadwheel_console::link;
use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::config::Secret;

mod common;
use common::{Console, KEY, Options, client, session_cookie, use_link};

async fn spawn(dev_mode: bool) -> Console {
    Console::spawn(Options {
        dev_mode,
        ..Default::default()
    })
    .await
}

#[tokio::test]
async fn probes_assets_and_the_production_sign_in() {
    let console = spawn(false).await;
    let ready = reqwest::get(format!("{}/readyz", console.admin))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        reqwest::get(format!("{}/healthz", console.admin))
            .await
            .unwrap()
            .status(),
        200
    );

    let htmx = reqwest::get(format!(
        "{}{}/htmx.min.js",
        console.url,
        leadwheel_console::assets::PREFIX
    ))
    .await
    .unwrap();
    assert_eq!(htmx.status(), 200);
    assert!(
        htmx.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert_eq!(
        htmx.bytes().await.unwrap().len(),
        leadwheel_console::assets::HTMX.len()
    );
    let missing = reqwest::get(format!(
        "{}{}/nope.js",
        console.url,
        leadwheel_console::assets::PREFIX
    ))
    .await
    .unwrap();
    assert_eq!(missing.status(), 404);

    // Production: no picker, a link instead.
    let signin = reqwest::get(format!("{}/signin", console.url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        signin.contains("leadctl console link") && !signin.contains("data-user"),
        "{signin}"
    );
    let picked = client()
        .post(format!("{}/signin/dev", console.url))
        .header("origin", &console.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("who=admin:admin")
        .send()
        .await
        .unwrap();
    assert_eq!(picked.status(), 403, "no signed form token");

    // A link with its team given needs no service: it signs in.
    let token = link::issue(
        &Secret::new(KEY),
        "ana",
        Role::Rep,
        Some("demo"),
        leadwheel_plumbing::store::now_ms() / 1000,
        60,
    );
    let link = format!(
        "{}/signin/link?token={token}&next=//evil.example",
        console.url
    );
    // Opening the link (as a mail scanner or a chat preview would, twice)
    // uses nothing: it asks to continue.
    for _ in 0..2 {
        let page = client().get(&link).send().await.unwrap();
        assert_eq!(page.status(), 200);
        assert!(page.headers().get("set-cookie").is_none());
        let page = page.text().await.unwrap();
        assert!(
            page.contains(r#"data-user="ana""#) && page.contains(r#"data-action="continue""#),
            "{page}"
        );
    }
    // Continuing from another site, or without the page's token, is refused.
    let body = leadwheel_plumbing::testing::link_continue_body(
        &client()
            .get(&link)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(body.contains("token="), "{body}");
    let continue_from = |origin: &str, body: String| {
        client()
            .post(format!("{}/signin/link", console.url))
            .header("origin", origin)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
    };
    let cross_site = continue_from("https://evil.example", body.clone())
        .await
        .unwrap();
    assert_eq!(cross_site.status(), 403);
    let without_csrf: String = body
        .split('&')
        .filter(|pair| !pair.starts_with("csrf="))
        .collect::<Vec<_>>()
        .join("&");
    let unsigned = continue_from(&console.url, without_csrf).await.unwrap();
    assert_eq!(unsigned.status(), 403);
    let answer = use_link(&console.url, &link).await;
    assert_eq!(answer.status(), 303);
    assert_eq!(
        answer.headers()["location"],
        "/",
        "only paths on the console"
    );
    // Used once: the link now opens a refusal, and cannot be used again.
    assert_eq!(client().get(&link).send().await.unwrap().status(), 403);
    let again = continue_from(&console.url, body).await.unwrap();
    assert_eq!(again.status(), 403);
    let cookie = session_cookie(&answer);

    // The wheel is unreachable: the stream is still a 200 event stream,
    // saying so, with a retry, so the browser keeps trying.
    let stream = client()
        .get(format!("{}/offers/stream", console.url))
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

    // Signing out ends the session.
    let page = client()
        .get(format!("{}/", console.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let marker = r#"name="csrf" value=""#;
    let csrf = page[page.find(marker).unwrap() + marker.len()..]
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let out = client()
        .post(format!("{}/signout", console.url))
        .header("cookie", &cookie)
        .header("origin", &console.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    let after = client()
        .get(format!("{}/", console.url))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(after.headers()["location"], "/signin");

    console.shutdown().await;
}

#[tokio::test]
async fn served_over_tls_when_a_certificate_is_configured() {
    let pki = leadwheel_plumbing::testing::TestPki::new().unwrap();
    let console = Console::spawn(Options {
        tls: Some(pki.server_settings()),
        ..Default::default()
    })
    .await;
    assert!(console.url.starts_with("https://"), "{}", console.url);
    let ca = pki.ca_file();
    let https_get = |url: String| {
        let ca = ca.clone();
        async move {
            leadwheel_plumbing::testing::https_get(&url, &ca, None)
                .await
                .unwrap()
        }
    };

    // The page, the probes and the metrics, each over TLS.
    let signin = https_get(format!("{}/signin", console.url)).await;
    assert_eq!(signin.status, 200);
    assert!(signin.content_type.starts_with("text/html"), "{signin:?}");
    assert!(signin.body.contains("leadctl console link"), "{signin:?}");
    for path in ["/healthz", "/readyz", "/metrics"] {
        let answer = https_get(format!("{}{path}", console.admin)).await;
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
    }

    // A session's cookie is Secure: the browser came over https.
    let token = link::issue(
        &Secret::new(KEY),
        "ana",
        Role::Rep,
        Some("demo"),
        leadwheel_plumbing::store::now_ms() / 1000,
        60,
    );
    let opened = https_get(format!("{}/signin/link?token={token}", console.url)).await;
    assert_eq!(opened.status, 200, "{opened:?}");
    let request = http::Request::post(format!("{}/signin/link", console.url))
        .header("origin", &console.url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(leadwheel_plumbing::testing::link_continue_body(&opened.body).into())
        .unwrap();
    let signed_in = leadwheel_plumbing::testing::https_request(request, &ca)
        .await
        .unwrap();
    assert_eq!(signed_in.status, 303, "{signed_in:?}");
    let cookie = signed_in.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure"), "{cookie}");

    // Plain HTTP gets no page from either port.
    for url in [&console.url, &console.admin] {
        let plain = url.replacen("https://", "http://", 1);
        let refused = reqwest::get(format!("{plain}/healthz")).await;
        assert!(refused.is_err(), "plain HTTP to {plain}: {refused:?}");
    }
    console.shutdown().await;
}

#[tokio::test]
async fn the_admin_port_can_stay_plain_under_tls() {
    let pki = leadwheel_plumbing::testing::TestPki::new().unwrap();
    let mut tls = pki.server_settings();
    tls.admin = false;
    let console = Console::spawn(Options {
        tls: Some(tls),
        ..Default::default()
    })
    .await;
    assert!(console.admin.starts_with("http://"), "{}", console.admin);
    let ready = reqwest::get(format!("{}/readyz", console.admin))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let page = leadwheel_plumbing::testing::https_get(
        &format!("{}/signin", console.url),
        &pki.ca_file(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(page.status, 200, "{page:?}");
    console.shutdown().await;
}
