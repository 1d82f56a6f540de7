//! End-to-end: the web console (`leadwheel-console`) against the five real
//! services over a real nats-server; its handlers over real HTTP, and the
//! rep's screen in Debian's Chromium driven by playwright-core
//! (`tests/browser/console.mjs`, run with node).

use std::process::Command;

use leadwheel_plumbing::auth::Role;
use leadwheel_plumbing::testing::{TEST_JWT_SECRET, eventually};
use leadwheel_proto::opportunity::v1::GetLeadInWorkRequest;
use leadwheel_proto::opportunity::v1::opportunity_service_client::OpportunityServiceClient;
use leadwheel_proto::wheel::v1::wheel_service_client::WheelServiceClient;

mod console_support;
use console_support::*;

#[tokio::test]
async fn console_handlers_over_http_against_the_real_services() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let (system, url) = start(30_000).await;
    let (ana, ana_csrf) = sign_in(&url, "rep:ana").await;
    let (ben, ben_csrf) = sign_in(&url, "rep:ben").await;

    // The live stream: a signup shows as an offer card with its absolute deadline.
    let mut stream = client()
        .get(format!("{url}/offers/stream"))
        .header("cookie", &ana)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert!(
        stream.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let first = String::from_utf8(stream.chunk().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(first.contains("event: hello"), "{first}");
    let lead = signup(&system, "pat@acme-console.example").await;
    let mut seen = String::new();
    tokio::time::timeout(WAIT, async {
        while !seen.contains(&format!("offer-{lead}")) {
            let chunk = stream
                .chunk()
                .await
                .unwrap()
                .expect("the stream stays open");
            seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no offer card for {lead} on ana's stream: {seen}"));
    assert!(
        seen.contains("event: fragment")
            && seen.contains("data-deadline=")
            && seen.contains(r#"<option value="on a call">"#),
        "{seen}"
    );

    // POSTs: no token, a wrong origin, no origin are refused with 403 and say why.
    let claim_url = format!("{url}/offers/{lead}/claim");
    let no_token = client()
        .post(&claim_url)
        .header("cookie", &ana)
        .header("origin", &url)
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), 403);
    assert!(no_token.text().await.unwrap().contains("security token"));
    let evil = client()
        .post(&claim_url)
        .header("cookie", &ana)
        .header("origin", "http://evil.example")
        .header("x-csrf-token", &ana_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    assert!(
        evil.text()
            .await
            .unwrap()
            .contains("cross-origin POST refused")
    );
    let no_origin = client()
        .post(&claim_url)
        .header("cookie", &ana)
        .header("x-csrf-token", &ana_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(no_origin.status(), 403);
    // Ben's token is not ana's.
    let wrong = client()
        .post(&claim_url)
        .header("cookie", &ana)
        .header("origin", &url)
        .header("x-csrf-token", &ben_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);

    // Ben cannot claim ana's offer: the wheel's refusal, mapped.
    let bens = client()
        .post(&claim_url)
        .header("cookie", &ben)
        .header("origin", &url)
        .header("x-csrf-token", &ben_csrf)
        .send()
        .await
        .unwrap();
    assert!(bens.status().is_client_error(), "{}", bens.status());
    // Ana can; the card says so and links the lead.
    let claimed = client()
        .post(&claim_url)
        .header("cookie", &ana)
        .header("origin", &url)
        .header("x-csrf-token", &ana_csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(claimed.status(), 200);
    let card = claimed.text().await.unwrap();
    assert!(
        card.contains(r#"data-state="claimed""#) && card.contains(&format!("/leads/{lead}")),
        "{card}"
    );

    // The lead page: ana's opens (once opportunity has it), ben gets 403.
    let opps =
        OpportunityServiceClient::new(system.authed("opportunity", "admin", Role::Admin).await);
    eventually(WAIT, "the claimed lead in work", || {
        let mut opps = opps.clone();
        let lead = lead.clone();
        async move {
            opps.get_lead_in_work(GetLeadInWorkRequest { lead_id: lead })
                .await
                .ok()
        }
    })
    .await;
    let own = client()
        .get(format!("{url}/leads/{lead}"))
        .header("cookie", &ana)
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    let leads = client()
        .get(format!("{url}/leads"))
        .header("cookie", &ana)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        leads.contains(&format!(r#"href="/leads/{lead}""#)),
        "{leads}"
    );
    let other = client()
        .get(format!("{url}/leads/{lead}"))
        .header("cookie", &ben)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 403);

    // Not signed in: pages send to the sign-in page, which comes back.
    let anonymous = client().get(format!("{url}/leads")).send().await.unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(anonymous.headers()["location"], "/signin?next=%2Fleads");

    // The admin port.
    let admin = system.addr("console", "admin");
    let ready = reqwest::get(format!("http://{admin}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("leadwheel_console_http_requests"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_leadctl_link_signs_in_once() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let (system, url) = start(30_000).await;
    let leadctl = leadwheel_e2e::bin_dir().join("leadctl");
    let output = Command::new(&leadctl)
        .args([
            "console", "link", "--as", "ana", "--url", &url, "--next", "/leads", "--lang",
            "zh-Hans",
        ])
        .env("LEADWHEEL_JWT_SECRET", TEST_JWT_SECRET)
        .output()
        .expect("running leadctl");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let link = String::from_utf8(output.stdout).unwrap().trim().to_string();
    assert!(
        link.starts_with(&format!("{url}/signin/link?token=")),
        "{link}"
    );
    let first = use_link(&url, &link).await;
    assert_eq!(first.status(), 303);
    assert_eq!(first.headers()["location"], "/leads");
    let cookie = session_cookie(&first);
    let page = client()
        .get(format!("{url}/leads"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(r#"lang="zh-Hans""#) && page.contains("我的线索"),
        "{page}"
    );
    let again = client().get(&link).send().await.unwrap();
    assert_eq!(again.status(), 403, "a link works once");
    // A link signed with another key is refused.
    let forged = Command::new(&leadctl)
        .args(["console", "link", "--as", "ana", "--url", &url])
        .env("LEADWHEEL_JWT_SECRET", "some-other-secret-0123456789")
        .output()
        .unwrap();
    let forged = String::from_utf8(forged.stdout).unwrap().trim().to_string();
    assert_eq!(client().get(&forged).send().await.unwrap().status(), 403);
    drop(system);
}

#[tokio::test]
async fn a_rep_works_offers_in_chromium() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    // A 5 s window: long enough to see the countdown and act, short enough
    // to watch one expire.
    let (system, url) = start(5_000).await;
    run_browser_script(&system, &url, "console.mjs", &[("WINDOW_MS", "5000")]).await;
}

#[tokio::test]
async fn reconnects_replay_the_offer_and_the_manager_board_is_live() {
    let _one_at_a_time = ONE_AT_A_TIME.lock().await;
    let (system, url) = start(30_000).await;
    let (ana, ana_csrf) = sign_in(&url, "rep:ana").await;
    let (maya, maya_csrf) = sign_in(&url, "manager:maya").await;
    let lead = signup(&system, "pat@replay.example").await;

    // Connecting after the offer opened replays it; so does a reconnection.
    for _ in 0..2 {
        let mut stream = client()
            .get(format!("{url}/offers/stream"))
            .header("cookie", &ana)
            .send()
            .await
            .unwrap();
        let seen = read_until(&mut stream, &format!(r#"id="offer-{lead}""#)).await;
        assert!(seen.contains(r#"data-state="open""#), "{seen}");
    }

    // The board: managers only; it shows the offer in flight, then live changes.
    let refused = client()
        .get(format!("{url}/board"))
        .header("cookie", &ana)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    let board = client()
        .get(format!("{url}/board"))
        .header("cookie", &maya)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        board.contains(&format!(r#"data-offer="{lead}" data-offer-rep="ana""#)),
        "{board}"
    );
    let mut live = client()
        .get(format!("{url}/board/stream"))
        .header("cookie", &maya)
        .send()
        .await
        .unwrap();
    read_until(&mut live, "event: hello").await;

    // A pass needs a reason, named in the refusal.
    let empty = post(
        &format!("{url}/offers/{lead}/pass"),
        &ana,
        &ana_csrf,
        "reason=",
    )
    .await;
    assert_eq!(empty.status(), 400);
    assert!(empty.text().await.unwrap().contains("reason"));
    let passed = post(
        &format!("{url}/offers/{lead}/pass"),
        &ana,
        &ana_csrf,
        "reason=busy",
    )
    .await;
    assert_eq!(passed.status(), 200);
    assert!(
        passed
            .text()
            .await
            .unwrap()
            .contains(r#"data-state="passed""#)
    );
    read_until(
        &mut live,
        &format!(r#"data-offer="{lead}" data-offer-rep="ben""#),
    )
    .await;

    // Ben lets it lapse... faster: he passes too, and the lead is pooled;
    // the board shows it in the pool, and maya assigns it to ana.
    let mut wheel = WheelServiceClient::new(system.authed("wheel", "ben", Role::Rep).await);
    wheel
        .pass(leadwheel_proto::wheel::v1::PassRequest {
            lead_id: lead.clone(),
            rep_id: "ben".into(),
            reason: "busy".into(),
        })
        .await
        .expect("ben passes");
    read_until(&mut live, &format!(r#"data-pool="{lead}""#)).await;
    // The assign field is typed (one list of the team's reps for every
    // card): a rep who is not there is refused, naming the field.
    let unknown = post(
        &format!("{url}/board/pool/{lead}/assign"),
        &maya,
        &maya_csrf,
        "rep_id=nobody",
    )
    .await;
    let status = unknown.status();
    let said = unknown.text().await.unwrap();
    assert!(status.is_client_error(), "{status}: {said}");
    assert!(said.contains("nobody") || said.contains("rep_id"), "{said}");
    let assigned = post(
        &format!("{url}/board/pool/{lead}/assign"),
        &maya,
        &maya_csrf,
        "rep_id=ana",
    )
    .await;
    assert_eq!(assigned.status(), 200);
    assert!(assigned.text().await.unwrap().contains("ana"));

    // The language toggle is kept in the session.
    let toggled = post(&format!("{url}/lang"), &ana, &ana_csrf, "lang=zh-Hans").await;
    assert_eq!(toggled.status(), 303);
    let home = client()
        .get(format!("{url}/"))
        .header("cookie", &ana)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains(r#"<html lang="zh-Hans">"#) && home.contains("实时推送"),
        "{home}"
    );
}
