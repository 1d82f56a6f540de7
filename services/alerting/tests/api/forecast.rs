//! Forecast below quota (rule 7) against a REAL reporting service, run
//! in-process on its own database and nats-server, fed the opportunity and
//! wheel events it reads and quotas over its gRPC API. Alerting's clock is
//! moved to the check point.

use leadwheel_alerting::{ManualClock, Settings};
use leadwheel_plumbing::bus::{OPPS_STREAM, WHEEL_STREAM, subjects};
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{
    TestDb, eventually, publish_event, service_config, test_token, wait_ready,
};
use leadwheel_plumbing::{Listeners, Role};
use leadwheel_proto::alerting::v1::{Alert, Rule, SetRuleRequest};
use leadwheel_proto::events::v1::{OpportunityOpened, OpportunityState, TeamUpserted};
use leadwheel_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
use leadwheel_proto::reporting::v1::{
    GetForecastRequest, Period, PeriodKind, Quota, QuotaScope, SetQuotasRequest,
};
use tokio::sync::oneshot;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{Env, TestApp, WAIT, spawn_app_with};
use crate::lifecycle::all_alerts;

/// 2030-03-02T00:00Z: March has 31 days, so half-way is the 16th at 12:00.
const MARCH_2: i64 = 1_898_640_000_000;
const MARCH_CHECK: i64 = MARCH_2 + 14 * 86_400_000 + 12 * 3_600_000;
/// April's half-way check: the 16th at 00:00.
const APRIL_CHECK: i64 = MARCH_2 + 45 * 86_400_000;
const KEY: &str = "rule:forecast_below_quota:north";

/// Reporting on a fixed gRPC port, so it can go down and come back where
/// alerting expects it.
struct Reporting {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn start_reporting(nats_url: &str, db_url: &str, port: u16) -> Reporting {
    let config = service_config("reporting", nats_url, db_url);
    let listeners = Listeners {
        grpc: leadwheel_plumbing::runtime::bind(([127, 0, 0, 1], port).into())
            .await
            .expect("binding reporting's port"),
        admin: leadwheel_plumbing::runtime::bind(([127, 0, 0, 1], 0).into())
            .await
            .expect("binding reporting's admin port"),
    };
    let admin = listeners.admin_addr();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(leadwheel_reporting::run(config, listeners, async move {
        let _ = stopped.await;
    }));
    wait_ready(admin).await;
    Reporting { stop, task }
}

impl Reporting {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task
            .await
            .expect("reporting panicked")
            .expect("reporting stopped cleanly");
    }
}

fn free_port() -> u16 {
    leadwheel_plumbing::testing::free_ports(1)[0]
}

/// A second database of the same backend as `db` (reporting's own).
async fn sibling_db(db: &TestDb) -> TestDb {
    if db.url.starts_with("postgres") {
        TestDb::postgres().await.expect("a Postgres database")
    } else {
        TestDb::sqlite()
    }
}

fn team_event() -> TeamUpserted {
    TeamUpserted {
        team_id: "north".into(),
        name: "North".into(),
        manager_id: "maya".into(),
        rep_ids: vec!["ana".into(), "bo".into()],
        window_ms: 60_000,
        at_ms: 1,
    }
}

/// An open deal of `rep` closing on 2030-03-20: `amount` × `percent`.
fn opened(id: &str, rep: &str, amount_minor: i64, percent: i32) -> OpportunityOpened {
    OpportunityOpened {
        opportunity: Some(OpportunityState {
            opportunity_id: id.into(),
            account_id: format!("acc-{id}"),
            lead_id: format!("lead-{id}"),
            name: format!("Deal {id}"),
            owner_rep_id: rep.into(),
            team_id: "north".into(),
            stage: "trial".into(),
            status: "open".into(),
            amount_minor,
            currency: "EUR".into(),
            probability_percent: percent,
            weighted_minor: amount_minor * i64::from(percent) / 100,
            expected_close_date: "2030-03-20".into(),
            forecast_category: "pipeline".into(),
            version: 1,
            created_at_ms: MARCH_2,
            stage_entered_at_ms: MARCH_2,
            ..Default::default()
        }),
        by: rep.into(),
        at_ms: MARCH_2,
    }
}

fn quota(scope: QuotaScope, subject: &str, amount_minor: i64) -> Quota {
    Quota {
        scope: scope as i32,
        subject_id: subject.into(),
        period_kind: PeriodKind::Month as i32,
        period_start: "2030-03-01".into(),
        currency: "EUR".into(),
        amount_minor,
        ..Default::default()
    }
}

/// Feeds reporting the team, ana's deal (20 % of her quota weighted) and
/// bo's (90 %), and the quotas (the team's 250,000: 44 %); waits until its
/// forecast shows them.
async fn feed_reporting(nats_url: &str, port: u16) {
    publish_event(
        nats_url,
        &WHEEL_STREAM,
        subjects::TEAM_UPSERTED,
        "north",
        &team_event(),
    )
    .await
    .unwrap();
    for (id, rep, percent) in [("opp-a", "ana", 20), ("opp-b", "bo", 90)] {
        publish_event(
            nats_url,
            &OPPS_STREAM,
            subjects::OPPS_OPPORTUNITY_OPENED,
            id,
            &opened(id, rep, 100_000, percent),
        )
        .await
        .unwrap();
    }
    let bearer =
        leadwheel_plumbing::auth::BearerToken::new(&test_token("root", Role::Admin)).unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .expect("connecting to reporting");
    let client = ReportingServiceClient::with_interceptor(channel, bearer);
    eventually(
        WAIT,
        "reporting knows north's reps, deals and quotas",
        || {
            let mut client = client.clone();
            async move {
                client
                    .set_quotas(SetQuotasRequest {
                        quotas: vec![
                            quota(QuotaScope::Rep, "ana", 100_000),
                            quota(QuotaScope::Rep, "bo", 100_000),
                            quota(QuotaScope::Team, "north", 250_000),
                        ],
                    })
                    .await
                    .ok()?;
                let forecast = client
                    .get_forecast(GetForecastRequest {
                        team_id: "north".into(),
                        rep_id: String::new(),
                        period: Some(Period {
                            kind: PeriodKind::Month as i32,
                            date: "2030-03-01".into(),
                            ..Default::default()
                        }),
                    })
                    .await
                    .ok()?
                    .into_inner();
                let bp = |rep: &str| {
                    forecast
                        .reps
                        .iter()
                        .find(|r| r.rep_id == rep)
                        .and_then(|r| r.lines.first())
                        .map(|l| l.forecast_bp)
                };
                let team = forecast.lines.first().map(|l| l.forecast_bp);
                (bp("ana") == Some(2_000) && bp("bo") == Some(9_000) && team == Some(4_400))
                    .then_some(())
            }
        },
    )
    .await;
}

async fn spawn_alerting(env: &Env, clock: &ManualClock, port: u16) -> TestApp {
    spawn_app_with(
        env,
        Settings {
            clock: std::sync::Arc::new(clock.clone()),
            reporting_url: format!("http://127.0.0.1:{port}"),
            ..Settings::default()
        },
    )
    .await
}

/// Sets north's forecast rule: month, checked at `at` %, below 80 %.
async fn set_rule(app: &TestApp, at: i32) -> Result<Rule, tonic::Status> {
    set_rule_on(app, at, true).await
}

async fn set_rule_on(app: &TestApp, at: i32, enabled: bool) -> Result<Rule, tonic::Status> {
    let mut admin = app.client("root", Role::Admin).await;
    admin
        .set_rule(SetRuleRequest {
            rule: Some(Rule {
                team_id: "north".into(),
                rule: "forecast_below_quota".into(),
                enabled,
                recipients: "manager".into(),
                period: "month".into(),
                check_at_percent: at,
                threshold_percent: 80,
                ..Default::default()
            }),
        })
        .await
        .map(|r| r.into_inner().rule.expect("the rule"))
}

/// The forecast alerts, by subject (the team or the rep).
fn forecast_alerts(alerts: Vec<Alert>) -> Vec<Alert> {
    let mut alerts: Vec<Alert> = alerts
        .into_iter()
        .filter(|a| a.kind == "forecast_below_quota")
        .collect();
    alerts.sort_by(|a, b| a.subject_key.cmp(&b.subject_key));
    alerts
}

fn subjects_of(alerts: &[Alert]) -> Vec<&str> {
    alerts.iter().map(|a| a.subject_key.as_str()).collect()
}

/// Waits until the timer is armed at `due` (the check ran, or was armed).
async fn wait_armed(tables: &crate::helpers::Tables, due: i64) {
    tables.wait_timer(KEY, due).await;
}

on_both_backends!(a_rep_below_quota_alerts_the_manager_once_per_period);
async fn a_rep_below_quota_alerts_the_manager_once_per_period(db: TestDb) {
    let reporting_db = sibling_db(&db).await;
    let env = Env::new(db);
    let reporting_env = Env::new(reporting_db);
    let port = free_port();
    let reporting = start_reporting(&reporting_env.nats.url(), &reporting_env.db.url, port).await;
    feed_reporting(&reporting_env.nats.url(), port).await;

    let clock = ManualClock::new(MARCH_2);
    let app = spawn_alerting(&env, &clock, port).await;
    let tables = crate::helpers::Tables::open(&env).await;
    app.wheel(subjects::TEAM_UPSERTED, "north", &team_event())
        .await;
    // The default rule (month, half-way, 80 %) is armed for a known team.
    wait_armed(&tables, MARCH_CHECK).await;

    // Bad fields are refused with the field named, nothing changed.
    for (at, field) in [(0, "rule.check_at_percent"), (101, "rule.check_at_percent")] {
        let status = set_rule(&app, at).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_details_bad_request().expect("field details");
        assert_eq!(details.field_violations[0].field, field);
    }
    assert_eq!(tables.timer_due(KEY).await, Some(MARCH_CHECK));
    let rule = set_rule(&app, 50).await.unwrap();
    assert_eq!(
        (
            rule.period.as_str(),
            rule.check_at_percent,
            rule.threshold_percent
        ),
        ("month", 50, 80)
    );

    // A team alerting knew before the rule existed has no timer: the
    // start arms it. Restarted before the check point, it fires once.
    tables.delete_timer(KEY).await;
    app.stop().await;
    let app = spawn_alerting(&env, &clock, port).await;
    assert_eq!(tables.timer_due(KEY).await, Some(MARCH_CHECK));
    clock.set(MARCH_CHECK);
    wait_armed(&tables, APRIL_CHECK).await;
    let alerts = forecast_alerts(all_alerts(&app).await);
    // ana (20 %) and the team (44 %) are below 80 %; bo (90 %) is not.
    assert_eq!(subjects_of(&alerts), ["ana", "north"], "{alerts:?}");
    let (ana, team) = (&alerts[0], &alerts[1]);
    for alert in [ana, team] {
        assert_eq!(alert.recipient_id, "maya");
        assert_eq!(alert.recipient_ids, ["maya"]);
        assert_eq!(alert.team_id, "north");
    }
    assert_eq!(
        ana.dedupe_key,
        "forecast_below_quota:north:rep:ana:2030-03-01:EUR"
    );
    assert_eq!(
        team.dedupe_key,
        "forecast_below_quota:north:team:2030-03-01:EUR"
    );
    assert!(
        ana.message.contains("20.00 %") && ana.message.contains("below 80 %"),
        "{}",
        ana.message
    );
    assert!(team.message.contains("44.00 %"), "{}", team.message);

    // Checked again in the same period (the check point moved to 60 %):
    // the same shortfall raises nothing new.
    set_rule(&app, 60).await.unwrap();
    // 60 % of March (31 days from the 1st), then of April (30 days).
    let march_1 = MARCH_2 - 86_400_000;
    let march_60 = march_1 + 31 * 86_400_000 * 60 / 100;
    let april_60 = march_1 + 31 * 86_400_000 + 30 * 86_400_000 * 60 / 100;
    wait_armed(&tables, march_60).await;
    clock.set(march_60);
    wait_armed(&tables, april_60).await;
    app.stop().await;
    let app = spawn_alerting(&env, &clock, port).await;
    let again = forecast_alerts(all_alerts(&app).await);
    assert_eq!(again, alerts, "one alert per subject and period");

    // Disabled: no check armed.
    set_rule_on(&app, 60, false).await.unwrap();
    tables.wait_no_timer(KEY).await;
    app.stop().await;
    reporting.stop().await;
}

on_both_backends!(a_check_while_reporting_is_down_runs_when_it_is_back);
async fn a_check_while_reporting_is_down_runs_when_it_is_back(db: TestDb) {
    let reporting_db = sibling_db(&db).await;
    let env = Env::new(db);
    let reporting_env = Env::new(reporting_db);
    let port = free_port();
    let clock = ManualClock::new(MARCH_2);
    let app = spawn_alerting(&env, &clock, port).await;
    let tables = crate::helpers::Tables::open(&env).await;
    app.wheel(subjects::TEAM_UPSERTED, "north", &team_event())
        .await;
    wait_armed(&tables, MARCH_CHECK).await;

    // Nothing listens on reporting's port: the check is retried after 1 s.
    clock.set(MARCH_CHECK);
    wait_armed(&tables, MARCH_CHECK + 1_000).await;
    clock.set(MARCH_CHECK + 1_000);
    wait_armed(&tables, MARCH_CHECK + 1_000 + 2_000).await;
    assert!(forecast_alerts(all_alerts(&app).await).is_empty());

    let reporting = start_reporting(&reporting_env.nats.url(), &reporting_env.db.url, port).await;
    feed_reporting(&reporting_env.nats.url(), port).await;
    clock.set(MARCH_CHECK + 3_000);
    wait_armed(&tables, APRIL_CHECK).await;
    let alerts = forecast_alerts(all_alerts(&app).await);
    assert_eq!(subjects_of(&alerts), ["ana", "north"]);
    app.stop().await;
    reporting.stop().await;
}

on_both_backends!(a_forecast_alert_resolves_when_a_later_check_finds_it_back_above);
/// Checked again (the check point moved later in the period) after ana won
/// more pipeline: her alert resolves, the team's (still below) stays.
async fn a_forecast_alert_resolves_when_a_later_check_finds_it_back_above(db: TestDb) {
    let reporting_db = sibling_db(&db).await;
    let env = Env::new(db);
    let reporting_env = Env::new(reporting_db);
    let port = free_port();
    let reporting = start_reporting(&reporting_env.nats.url(), &reporting_env.db.url, port).await;
    feed_reporting(&reporting_env.nats.url(), port).await;
    let clock = ManualClock::new(MARCH_2);
    let app = spawn_alerting(&env, &clock, port).await;
    let tables = crate::helpers::Tables::open(&env).await;
    app.wheel(subjects::TEAM_UPSERTED, "north", &team_event())
        .await;
    wait_armed(&tables, MARCH_CHECK).await;
    clock.set(MARCH_CHECK);
    wait_armed(&tables, APRIL_CHECK).await;
    let alerts = forecast_alerts(all_alerts(&app).await);
    assert_eq!(subjects_of(&alerts), ["ana", "north"], "{alerts:?}");

    // Ana opens a deal weighted 70,000: 90 % of her quota; the team's
    // forecast is 180,000 of 250,000 (72 %), still below 80 %.
    publish_event(
        &reporting_env.nats.url(),
        &OPPS_STREAM,
        subjects::OPPS_OPPORTUNITY_OPENED,
        "opp-c",
        &opened("opp-c", "ana", 100_000, 70),
    )
    .await
    .unwrap();
    let bearer =
        leadwheel_plumbing::auth::BearerToken::new(&test_token("root", Role::Admin)).unwrap();
    let channel = tonic::transport::Channel::from_shared(format!("http://127.0.0.1:{port}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let client = ReportingServiceClient::with_interceptor(channel, bearer);
    eventually(WAIT, "reporting counts ana's new deal", || {
        let mut client = client.clone();
        async move {
            let forecast = client
                .get_forecast(GetForecastRequest {
                    team_id: "north".into(),
                    rep_id: String::new(),
                    period: Some(Period {
                        kind: PeriodKind::Month as i32,
                        date: "2030-03-01".into(),
                        ..Default::default()
                    }),
                })
                .await
                .ok()?
                .into_inner();
            let ana = forecast.reps.iter().find(|r| r.rep_id == "ana")?;
            (ana.lines.first()?.forecast_bp == 9_000).then_some(())
        }
    })
    .await;

    set_rule(&app, 60).await.unwrap();
    let march_1 = MARCH_2 - 86_400_000;
    let march_60 = march_1 + 31 * 86_400_000 * 60 / 100;
    let april_60 = march_1 + 31 * 86_400_000 + 30 * 86_400_000 * 60 / 100;
    wait_armed(&tables, march_60).await;
    clock.set(march_60);
    wait_armed(&tables, april_60).await;
    let after = forecast_alerts(all_alerts(&app).await);
    assert_eq!(subjects_of(&after), ["ana", "north"], "nothing new raised");
    let (ana, team) = (&after[0], &after[1]);
    assert_eq!(
        (ana.state.as_str(), ana.resolved_reason.as_str()),
        ("resolved", "forecast_recovered")
    );
    assert_eq!(ana.alert_id, alerts[0].alert_id);
    assert_eq!(team.state, "open");
    app.stop().await;
    reporting.stop().await;
}

/// A reporting that accepts connections and never answers; counts them.
async fn hanging_reporting() -> (
    u16,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            held.push(socket);
        }
    });
    (port, accepted, task)
}

on_both_backends!(a_hanging_reporting_holds_only_its_own_check);
/// Reporting accepts the forecast check's call and never answers: the
/// timer falling due just after the check still fires at once, while the
/// check waits (its timer leased, not yet failed and re-armed).
async fn a_hanging_reporting_holds_only_its_own_check(db: TestDb) {
    let env = Env::new(db);
    let (port, accepted, hanging) = hanging_reporting().await;
    let clock = ManualClock::new(MARCH_2);
    let app = spawn_alerting(&env, &clock, port).await;
    let tables = crate::helpers::Tables::open(&env).await;
    app.wheel(subjects::TEAM_UPSERTED, "north", &team_event())
        .await;
    wait_armed(&tables, MARCH_CHECK).await;
    // A lead claimed 4 h (the default rule) before a second after the check.
    let due = MARCH_CHECK + 1_000;
    app.opps(
        subjects::OPPS_LEAD_OPENED,
        "lead-1",
        &crate::lifecycle::lead_opened("lead-1", "ana", due - 4 * 3_600_000),
    )
    .await;
    tables.wait_timer("rule:no_first_touch:lead-1", due).await;

    clock.set(due);
    let alert = crate::lifecycle::wait_for(&app, "no first touch on lead-1", |a| {
        a.kind == "no_first_touch"
    })
    .await;
    assert_eq!(alert.subject_key, "lead-1");
    // The check is still waiting on reporting (a timed-out call would have
    // re-armed it 1 s ahead): leased, not holding the loop.
    assert_eq!(
        tables.timer_due(KEY).await,
        Some(due + leadwheel_alerting::ops::forecast::LEASE_MS)
    );
    assert!(accepted.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    tables.close().await;
    app.stop().await;
    hanging.abort();
}
