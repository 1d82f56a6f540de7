//! Rebuild: the read models emptied and the streams replayed give the
//! incrementally built numbers again.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::TestDb;
use leadwheel_proto::reporting::v1::GetForecastRequest;

use crate::helpers::{Env, WAIT, spawn_app};
use crate::sales::{all_numbers, publish_and_wait};
use crate::script;

/// A rebuild empties the read models and replays the streams: numbers
/// damaged behind the service's back come back equal to the incrementally
/// built ones.
async fn rebuild_equals_incremental(db: TestDb) {
    let url = db.url.clone();
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    publish_and_wait(&app, &script::november()).await;
    let admin = app.client("root", Role::Admin).await;
    let built = all_numbers(&admin).await;
    // Damage: 100 calls ana never made, and a deal that does not exist.
    let store = leadwheel_plumbing::Store::connect(&url, &leadwheel_reporting::MIGRATOR)
        .await
        .expect("connecting to the test database");
    sqlx::query(
        "UPDATE reporting_daily SET events = events + 100 WHERE day = '2026-11-03' \
         AND rep_id = 'ana' AND metric = 'activity' AND dim = 'call'",
    )
    .execute(store.pool())
    .await
    .expect("damaging");
    sqlx::query(
        "INSERT INTO reporting_open (team_id, rep_id, stage, currency, close_date, category, \
         deals, amount_minor, weighted_minor) \
         VALUES ('north', 'bo', 'trial', 'EUR', '2026-11-27', 'pipeline', 1, 5, 5)",
    )
    .execute(store.pool())
    .await
    .expect("damaging");
    assert_ne!(all_numbers(&admin).await, built);

    let ana = app.client("ana", Role::Rep).await;
    let refused = ana
        .clone()
        .rebuild(leadwheel_proto::reporting::v1::RebuildRequest {})
        .await
        .expect_err("only admins rebuild");
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    admin
        .clone()
        .rebuild(leadwheel_proto::reporting::v1::RebuildRequest {})
        .await
        .expect("Rebuild");
    let mut last = String::new();
    let reached = tokio::time::timeout(WAIT, async {
        loop {
            let progress = admin
                .clone()
                .get_rebuild_progress(leadwheel_proto::reporting::v1::GetRebuildProgressRequest {})
                .await
                .expect("GetRebuildProgress")
                .into_inner();
            let done = progress.consumers.iter().all(|c| c.pending == 0);
            // Until team north is replayed its forecast is refused.
            let north_known = admin
                .clone()
                .get_forecast(GetForecastRequest {
                    team_id: "north".into(),
                    ..Default::default()
                })
                .await
                .is_ok();
            if north_known {
                last = all_numbers(&admin).await;
                if done && last == built {
                    return;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    assert!(
        reached.is_ok(),
        "the rebuilt numbers never equalled the built ones:\n{last}\n---\n{built}"
    );
    store.close().await;
    app.stop().await;
}

on_both_backends!(rebuild_equals_incremental);
