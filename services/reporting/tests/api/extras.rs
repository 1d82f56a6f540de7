//! Skips per rep by reason (fairness), routing outcome by routing rule,
//! touches before conversion and follow-ups on time (activity), over a
//! scripted November 2026 (hand-worked answers in the comments), on both
//! backends.

use leadwheel_plumbing::Role;
use leadwheel_plumbing::bus::subjects;
use leadwheel_plumbing::on_both_backends;
use leadwheel_plumbing::testing::{TestDb, eventually};
use leadwheel_proto::events::v1::{
    ActivityLogged, AssignedVia, FollowUpSet, LeadAssigned, LeadPooled, OfferOpened, SkippedRep,
};
use leadwheel_proto::reporting::v1::{
    ConversionTouches, FollowUpRow, GetActivityRequest, GetFairnessRequest,
    GetRoutingOutcomeRequest, Money, Period, PeriodKind, ReasonCount, RouteOutcome,
};

use crate::helpers::{Env, TestApp, WAIT, spawn_app};
use crate::sales::{month, week};
use crate::script::{self, ANA, BO, Opp, Script, at};

fn skipped(rep: &str, reason: &str) -> SkippedRep {
    SkippedRep {
        rep_id: rep.into(),
        reason: reason.into(),
    }
}

fn reasons(list: &[(&str, i64)]) -> Vec<ReasonCount> {
    list.iter()
        .map(|(reason, count)| ReasonCount {
            reason: reason.to_string(),
            count: *count,
        })
        .collect()
}

/// An assignment as the wheel publishes it, with how the team was chosen.
fn assigned(
    lead: &str,
    rep: &str,
    via: AssignedVia,
    offer: &str,
    at_ms: i64,
    rule: (&str, &str),
) -> LeadAssigned {
    LeadAssigned {
        lead_id: lead.into(),
        team_id: "north".into(),
        rep_id: rep.into(),
        via: via as i32,
        offer_id: (!offer.is_empty()).then(|| offer.to_string()),
        lead_created_at_ms: at_ms - 60_000,
        first_offer_at_ms: if offer.is_empty() { 0 } else { at_ms - 30_000 },
        assigned_at_ms: at_ms,
        routed_by: rule.0.into(),
        routing_rule_id: rule.1.into(),
        routing_rules_version: if rule.0.is_empty() { 0 } else { 4 },
    }
}

async fn skips_and_routing_rules(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let mut s = Script::default();
    s.team("north", "maya", &["ana", "bo", "cy"]);
    // Monday 2 November: L1 offered to ana after bo (away) and cy (off
    // shift) were passed over; she claims it. The rule "enterprise" chose
    // north.
    let l1 = at("2026-11-02", 9);
    s.event(
        subjects::OFFER_OPENED,
        "o1",
        &OfferOpened {
            offer_id: "o1".into(),
            lead_id: "L1".into(),
            team_id: "north".into(),
            rep_id: "ana".into(),
            lap: 1,
            step: 1,
            opened_at_ms: l1,
            deadline_ms: l1 + 60_000,
            first_look: true,
            skipped: vec![skipped("bo", "away"), skipped("cy", "off_shift")],
        },
    );
    s.event(
        subjects::LEAD_ASSIGNED,
        "L1",
        &assigned(
            "L1",
            "ana",
            AssignedVia::Offer,
            "o1",
            l1 + 20_000,
            ("rule", "enterprise"),
        ),
    );
    // Tuesday 3 November: L2 is pooled with ana (at capacity) and bo
    // (away) passed over; cy claims it from the pool. Also chosen by
    // "enterprise".
    let l2 = at("2026-11-03", 9);
    s.event(
        subjects::LEAD_POOLED,
        "L2",
        &LeadPooled {
            lead_id: "L2".into(),
            team_id: "north".into(),
            manager_id: "maya".into(),
            pooled_at_ms: l2,
            reason: "none_eligible".into(),
            skipped: vec![skipped("ana", "at_capacity"), skipped("bo", "away")],
            ..Default::default()
        },
    );
    s.event(
        subjects::LEAD_ASSIGNED,
        "L2",
        &assigned(
            "L2",
            "cy",
            AssignedVia::Pool,
            "",
            l2 + 600_000,
            ("rule", "enterprise"),
        ),
    );
    // Wednesday 4 November: L3 went to north as the rules' default team
    // and maya gave it to bo; L4 came with the account owner's team hint.
    let l3 = at("2026-11-04", 9);
    s.event(
        subjects::LEAD_ASSIGNED,
        "L3",
        &assigned("L3", "bo", AssignedVia::Direct, "", l3, ("default", "")),
    );
    s.event(
        subjects::LEAD_ASSIGNED,
        "L4",
        &assigned(
            "L4",
            "ana",
            AssignedVia::AccountOwner,
            "",
            l3 + 1_000,
            ("team_hint", ""),
        ),
    );
    // L1 converts and its deal is won for 8,000.00 EUR on 20 November.
    let mut deal = Opp::new("d1", ANA, "trial", (8_000_00, "EUR", 50), "2026-11-30");
    deal.state.lead_id = "L1".into();
    s.opened(&mut deal, at("2026-11-05", 9));
    s.closed(&mut deal, true, at("2026-11-20", 9));
    script::publish_all(&app.nats_url, &s.events).await;
    let maya = app.client("maya", Role::Manager).await;

    // Fairness, the week of 2 November: ana had one offer (a first look)
    // and one skip at capacity; bo two skips away, no offer; cy one skip
    // off shift and one pool claim.
    type Row = (String, i64, i64, i64, Vec<ReasonCount>);
    let expected: Vec<Row> = vec![
        ("ana".into(), 1, 1, 0, reasons(&[("at_capacity", 1)])),
        ("bo".into(), 0, 0, 0, reasons(&[("away", 2)])),
        ("cy".into(), 0, 0, 1, reasons(&[("off_shift", 1)])),
    ];
    let fairness = eventually(WAIT, "the skips to be counted", || {
        let maya = maya.clone();
        let expected = expected.clone();
        async move {
            let r = maya
                .clone()
                .get_fairness(GetFairnessRequest {
                    team_id: "north".into(),
                    period: week("2026-11-02"),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner();
            let rows: Vec<Row> = r
                .reps
                .iter()
                .map(|r| {
                    (
                        r.rep_id.clone(),
                        r.offers,
                        r.first_looks,
                        r.pool_claims,
                        r.skips.clone(),
                    )
                })
                .collect();
            (rows == expected).then_some(r)
        }
    })
    .await;
    // Only ana had an offer: evenness over her alone.
    assert_eq!(fairness.teams[0].evenness_bp, 10_000);

    // Routing outcome, November, by the rule that chose the team: the
    // enterprise rule brought L1 (first look, converted, won 8,000.00) and
    // L2 (pool); the default team L3 (direct); the team hint L4.
    let route = |routed_by: &str,
                 rule_id: &str,
                 route: &str,
                 (converted, won): (i64, i64),
                 value: Option<i64>| RouteOutcome {
        team_id: "north".into(),
        route: route.into(),
        leads: 1,
        converted,
        won,
        won_value: value
            .map(|amount_minor| Money {
                currency: "EUR".into(),
                amount_minor,
            })
            .into_iter()
            .collect(),
        routed_by: routed_by.into(),
        rule_id: rule_id.into(),
    };
    let expected = vec![
        route("default", "", "direct", (0, 0), None),
        route("rule", "enterprise", "first_look", (1, 1), Some(8_000_00)),
        route("rule", "enterprise", "pool", (0, 0), None),
        route("team_hint", "", "account_owner", (0, 0), None),
    ];
    let routes = eventually(WAIT, "the routes by rule", || {
        let maya = maya.clone();
        let expected = expected.clone();
        async move {
            let got = maya
                .clone()
                .get_routing_outcome(GetRoutingOutcomeRequest {
                    team_id: "north".into(),
                    period: month("2026-11-02"),
                    ..Default::default()
                })
                .await
                .ok()?
                .into_inner()
                .routes;
            (got == expected).then_some(got)
        }
    })
    .await;
    assert_eq!(routes, expected);
    app.stop().await;
}

fn touch(
    id: &str,
    (lead, opportunity): (&str, &str),
    (team, rep): (&str, &str),
    at_ms: i64,
) -> ActivityLogged {
    ActivityLogged {
        activity_id: id.into(),
        kind: "call".into(),
        lead_id: lead.into(),
        opportunity_id: opportunity.into(),
        by: rep.into(),
        owner_rep_id: rep.into(),
        team_id: team.into(),
        at_ms,
        touch_count: 1,
        ..Default::default()
    }
}

fn follow_up((lead, opportunity): (&str, &str), rep: &str, date: &str, at_ms: i64) -> FollowUpSet {
    FollowUpSet {
        lead_id: lead.into(),
        opportunity_id: opportunity.into(),
        owner_rep_id: rep.into(),
        team_id: "north".into(),
        date: date.into(),
        by: rep.into(),
        at_ms,
    }
}

/// Leads converted with touches before, and follow-ups on time, late,
/// overdue, replaced and pending, in November 2026.
pub fn follow_ups_script() -> Vec<script::Scripted> {
    let mut s = Script::default();
    s.team("north", "maya", &["ana", "bo"]);
    // Lead la (ana): a follow-up for 3 November set on the 2nd, calls on
    // the 2nd and the 3rd (the second does the follow-up on time),
    // converted on the 4th, one more call on the lead on the 5th (after
    // the conversion: not counted).
    s.event(
        subjects::OPPS_FOLLOW_UP_SET,
        "la",
        &follow_up(("la", ""), "ana", "2026-11-03", at("2026-11-02", 8)),
    );
    s.logged(touch("a1", ("la", ""), ANA, at("2026-11-02", 7)));
    s.logged(touch("a2", ("la", ""), ANA, at("2026-11-03", 9)));
    let mut da = Opp::new("da", ANA, "trial", (1_000_00, "EUR", 50), "2026-12-31");
    da.state.lead_id = "la".into();
    s.opened(&mut da, at("2026-11-04", 9));
    s.logged(touch("a3", ("la", ""), ANA, at("2026-11-05", 9)));
    // Lead lb (ana): a call on the 3rd sets the next follow-up for the
    // 4th; the next call is on the 5th (late); converted on the 6th.
    let mut with_date = touch("b1", ("lb", ""), ANA, at("2026-11-03", 10));
    with_date.next_follow_up_date = "2026-11-04".into();
    s.logged(with_date);
    s.logged(touch("b2", ("lb", ""), ANA, at("2026-11-05", 10)));
    let mut db_ = Opp::new("db", ANA, "trial", (1_000_00, "EUR", 50), "2026-12-31");
    db_.state.lead_id = "lb".into();
    s.opened(&mut db_, at("2026-11-06", 9));
    // Lead lc (bo): converted on the 5th without a touch.
    let mut dc = Opp::new("dc", BO, "trial", (1_000_00, "EUR", 50), "2026-12-31");
    dc.state.lead_id = "lc".into();
    s.opened(&mut dc, at("2026-11-05", 9));
    // Bo's deal dc: a follow-up for 10 November, never done (overdue).
    // His deal dd: a follow-up for 12 November set on the 6th, moved on
    // the 8th to 5 January 2099 before anything was done (replaced: in
    // neither count; the new one is pending in 2099).
    s.event(
        subjects::OPPS_FOLLOW_UP_SET,
        "dc",
        &follow_up(("", "dc"), "bo", "2026-11-10", at("2026-11-06", 9)),
    );
    s.event(
        subjects::OPPS_FOLLOW_UP_SET,
        "dd",
        &follow_up(("", "dd"), "bo", "2026-11-12", at("2026-11-06", 10)),
    );
    s.event(
        subjects::OPPS_FOLLOW_UP_SET,
        "dd",
        &follow_up(("", "dd"), "bo", "2099-01-05", at("2026-11-08", 10)),
    );
    // His deal de: a follow-up for 11 November set on the 7th and a call
    // logged in the same millisecond: done on time (the moment is not
    // finer than a millisecond; only the activity that sets a follow-up is
    // not its doing).
    s.event(
        subjects::OPPS_FOLLOW_UP_SET,
        "de",
        &follow_up(("", "de"), "bo", "2026-11-11", at("2026-11-07", 9)),
    );
    s.logged(touch("e1", ("", "de"), BO, at("2026-11-07", 9)));
    s.events
}

async fn check_touches_and_follow_ups(app: &TestApp) {
    let maya = app.client("maya", Role::Manager).await;

    // November: ana converted la (2 touches before: a1, a2) and lb (2:
    // b1, b2): 4 touches, 2.00 a lead, median 2. Bo converted lc with none.
    // Follow-ups due in November: ana's la (on time) and lb (late); bo's
    // dc (overdue) and de (on time); dd's first was replaced.
    let expected_conversions = vec![
        ConversionTouches {
            team_id: "north".into(),
            rep_id: "ana".into(),
            leads_converted: 2,
            touches: 4,
            average_hundredths: 200,
            median: 2,
        },
        ConversionTouches {
            team_id: "north".into(),
            rep_id: "bo".into(),
            leads_converted: 1,
            touches: 0,
            average_hundredths: 0,
            median: 0,
        },
    ];
    let expected_follow_ups = vec![
        FollowUpRow {
            team_id: "north".into(),
            rep_id: "ana".into(),
            due: 2,
            on_time: 1,
            late: 1,
            overdue: 0,
            pending: 0,
        },
        FollowUpRow {
            team_id: "north".into(),
            rep_id: "bo".into(),
            due: 2,
            on_time: 1,
            late: 0,
            overdue: 1,
            pending: 0,
        },
    ];
    let november = GetActivityRequest {
        team_id: "north".into(),
        period: month("2026-11-02"),
        ..Default::default()
    };
    let got = eventually(WAIT, "touches and follow-ups", || {
        let maya = maya.clone();
        let november = november.clone();
        let want = (expected_conversions.clone(), expected_follow_ups.clone());
        async move {
            let r = maya.clone().get_activity(november).await.ok()?.into_inner();
            ((r.conversions.clone(), r.follow_ups.clone()) == want).then_some(r)
        }
    })
    .await;
    assert_eq!(got.conversions, expected_conversions);

    // January 2099: bo's rescheduled follow-up, not due yet.
    let far = maya
        .clone()
        .get_activity(GetActivityRequest {
            team_id: "north".into(),
            period: Some(Period {
                kind: PeriodKind::Month as i32,
                date: "2099-01-05".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("activity in 2099")
        .into_inner();
    assert_eq!(
        far.follow_ups,
        vec![FollowUpRow {
            team_id: "north".into(),
            rep_id: "bo".into(),
            due: 1,
            pending: 1,
            ..Default::default()
        }]
    );
    assert!(far.conversions.is_empty());

    // A rep sees only their own.
    let bo = app.client("bo", Role::Rep).await;
    let own = bo
        .clone()
        .get_activity(GetActivityRequest {
            period: month("2026-11-02"),
            ..Default::default()
        })
        .await
        .expect("bo's activity")
        .into_inner();
    assert_eq!(own.conversions, expected_conversions[1..].to_vec());
    assert_eq!(own.follow_ups, expected_follow_ups[1..].to_vec());
}

async fn touches_before_conversion_and_follow_ups(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    script::publish_all(&app.nats_url, &follow_ups_script()).await;
    check_touches_and_follow_ups(&app).await;
    app.stop().await;
}

/// The same events backwards, each redelivered and announced again under a
/// new id, give the same answers.
async fn follow_ups_do_not_depend_on_order(db: TestDb) {
    let env = Env::new(db);
    let app = spawn_app(&env).await;
    let mut events = Vec::new();
    for event in follow_ups_script().into_iter().rev() {
        events.push(event.announced_again());
        events.push(event.redelivered());
        events.push(event);
    }
    script::publish_all(&app.nats_url, &events).await;
    check_touches_and_follow_ups(&app).await;
    app.stop().await;
}

on_both_backends!(
    skips_and_routing_rules,
    touches_before_conversion_and_follow_ups,
    follow_ups_do_not_depend_on_order,
);

/// Migration 0013 on a store written before it: a follow-up set by an
/// activity (a touch on its item at the same moment) keeps that activity
/// as its setter; one set on its own keeps none.
async fn follow_ups_written_before_0013_get_their_setter(db: TestDb) {
    use leadwheel_reporting::MIGRATOR;
    let old = crate::helpers::store_before(&db.url, 13).await;
    for sql in [
        "INSERT INTO reporting_touches (item, activity_id, at_ms) VALUES \
         ('lead:la', 'a1', 100), ('lead:la', 'a2', 200), ('lead:lb', 'b1', 300)",
        "INSERT INTO reporting_follow_ups (item, set_at_ms, due_date, team_id, rep_id) VALUES \
         ('lead:la', 100, '2026-11-03', 'north', 'ana'), \
         ('lead:lb', 250, '2026-11-04', 'north', 'ana')",
    ] {
        sqlx::query(sql).execute(old.pool()).await.expect(sql);
    }
    old.close().await;
    let store = leadwheel_plumbing::Store::connect(&db.url, &MIGRATOR)
        .await
        .expect("migrating to 0013");
    let setters: Vec<(String, String)> =
        sqlx::query("SELECT item, set_by_activity FROM reporting_follow_ups ORDER BY item")
            .fetch_all(store.pool())
            .await
            .expect("the follow-ups")
            .iter()
            .map(|row| {
                use sqlx::Row;
                (row.get("item"), row.get("set_by_activity"))
            })
            .collect();
    assert_eq!(
        setters,
        vec![
            ("lead:la".to_string(), "a1".to_string()),
            ("lead:lb".to_string(), String::new()),
        ]
    );
    store.close().await;
}

on_both_backends!(follow_ups_written_before_0013_get_their_setter);

/// Migrations 0015 and 0016 on a store written before them: the touches
/// before conversion of the leads converted then, and the outcomes of the
/// follow-ups set then, are summed at the first start.
async fn stores_written_before_0015_get_their_new_sums(db: TestDb) {
    use leadwheel_reporting::MIGRATOR;
    let old = crate::helpers::store_before(&db.url, 15).await;
    for sql in [
        // la: two touches by its conversion (one after it does not
        // count); lb: none; lc: two, converted by bo.
        "INSERT INTO reporting_touches (item, activity_id, at_ms) VALUES \
         ('lead:la', 'a1', 100), ('lead:la', 'a2', 200), ('lead:la', 'a3', 900), \
         ('lead:lc', 'c1', 100), ('lead:lc', 'c2', 150)",
        "INSERT INTO reporting_counted (metric, fact_key, at_ms, day, team_id, rep_id, dim, \
         currency, amount_minor) VALUES \
         ('converted', 'la', 500, '2026-11-03', 'north', 'ana', '', '', 0), \
         ('converted', 'lb', 600, '2026-11-03', 'north', 'ana', '', '', 0), \
         ('converted', 'lc', 700, '2026-11-03', 'north', 'bo', '', '', 0)",
        // A follow-up on la set at 150, done by a2 at 200: on time.
        "INSERT INTO reporting_follow_ups (item, set_at_ms, due_date, team_id, rep_id, \
         set_by_activity) VALUES ('lead:la', 150, '2026-11-03', 'north', 'ana', '')",
    ] {
        sqlx::query(sql).execute(old.pool()).await.expect(sql);
    }
    old.close().await;
    let store = leadwheel_plumbing::Store::connect(&db.url, &MIGRATOR)
        .await
        .expect("migrating to 0015");
    leadwheel_reporting::models::derived::upkeep(&store, &jiff::tz::TimeZone::UTC, 1_000)
        .await
        .expect("upkeep");
    let sums: Vec<(String, i64, i64)> = sqlx::query(
        "SELECT rep_id, touches, leads FROM reporting_conversion_touches \
         ORDER BY rep_id, touches",
    )
    .fetch_all(store.pool())
    .await
    .expect("the sums")
    .iter()
    .map(|row| {
        use sqlx::Row;
        (row.get("rep_id"), row.get("touches"), row.get("leads"))
    })
    .collect();
    assert_eq!(
        sums,
        vec![
            ("ana".to_string(), 0, 1),
            ("ana".to_string(), 2, 1),
            ("bo".to_string(), 2, 1),
        ]
    );
    let outcomes: Vec<(String, String, i64)> =
        sqlx::query("SELECT due_date, outcome, follow_ups FROM reporting_follow_up_daily")
            .fetch_all(store.pool())
            .await
            .expect("the follow-ups")
            .iter()
            .map(|row| {
                use sqlx::Row;
                (
                    row.get("due_date"),
                    row.get("outcome"),
                    row.get("follow_ups"),
                )
            })
            .collect();
    assert_eq!(
        outcomes,
        vec![("2026-11-03".to_string(), "on_time".to_string(), 1)]
    );
    store.close().await;
}

on_both_backends!(stores_written_before_0015_get_their_new_sums);
