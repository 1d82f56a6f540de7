//! The ledger as people read it.

use super::*;

fn entry(at_ms: i64, kind: &str, rep: &str, offer_no: i32, detail: &str) -> wheel::LedgerEntry {
    wheel::LedgerEntry {
        at_ms,
        kind: kind.into(),
        rep_id: rep.into(),
        offer_no,
        detail: detail.into(),
    }
}

/// 2024-02-29 12:34:56 UTC.
const T: i64 = 1_709_210_096_000;

fn ledger() -> Vec<wheel::LedgerEntry> {
    vec![
        entry(T, "received", "", 0, "tier=\"A\" score=80 source=\"web\""),
        entry(T + 5, "skipped", "ana", 0, "off_shift"),
        entry(
            T + 5,
            "offered",
            "ben",
            1,
            "window_ms=30000 first_look=true lap=1",
        ),
        entry(T + 12_005, "passed", "ben", 1, "on a call"),
        entry(
            T + 12_005,
            "offered",
            "carla",
            2,
            "window_ms=30000 first_look=false lap=1",
        ),
        entry(T + 42_005, "expired", "carla", 2, ""),
        entry(
            T + 42_005,
            "offered",
            "dmitri",
            3,
            "window_ms=30000 first_look=false lap=1",
        ),
        entry(T + 50_505, "claimed", "dmitri", 3, ""),
        entry(T + 50_505, "assigned", "dmitri", 0, "via=offer"),
    ]
}

#[test]
fn each_step_says_how_long_it_took() {
    let views = entries(ledger());
    let took: Vec<Option<i64>> = views.iter().map(|e| e.took_ms).collect();
    assert_eq!(
        took,
        [
            None,
            Some(5),
            Some(0),
            Some(12_000),
            Some(0),
            Some(30_000),
            Some(0),
            Some(8_500),
            Some(0)
        ]
    );
}

#[test]
fn details_read_as_words() {
    assert_eq!(
        pretty_detail("offered", "window_ms=30000 first_look=true lap=1"),
        "window 30s, first look, lap 1"
    );
    assert_eq!(
        pretty_detail("offered", "window_ms=12500 first_look=false lap=2"),
        "window 12.5s, lap 2"
    );
    assert_eq!(pretty_detail("skipped", "at_capacity"), "at capacity");
    assert_eq!(
        pretty_detail("pooled", "reason=budget_spent offers=3"),
        "chain budget spent, offers 3"
    );
    assert_eq!(
        pretty_detail("received", "tier=\"A\" score=80 source=\"web\""),
        "tier A, score 80, source web"
    );
    assert_eq!(
        pretty_detail("assigned", "via=account_owner"),
        "via account owner"
    );
    assert_eq!(pretty_detail("passed", "on a call"), "on a call");
}

#[test]
fn explain_is_a_timeline() {
    let view = ExplainView {
        lead_id: "L1".into(),
        team_id: "demo".into(),
        state: "assigned".into(),
        owner_rep_id: "dmitri".into(),
        entries: entries(ledger()),
    };
    let text = explain_text(&view);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "lead L1  ·  team demo  ·  assigned to dmitri");
    assert!(
        lines[2].starts_with("TIME (UTC)") && lines[2].contains("TOOK"),
        "{text}"
    );
    assert!(
        lines[3].starts_with("2024-02-29 12:34:56.000  received"),
        "{text}"
    );
    let passed = lines.iter().find(|l| l.contains("passed")).unwrap();
    assert!(
        passed.contains("ben")
            && passed.contains("#1")
            && passed.contains("12s")
            && passed.ends_with("on a call"),
        "{passed}"
    );
    let expired = lines.iter().find(|l| l.contains("expired")).unwrap();
    assert!(expired.contains("30s"), "{expired}");
    assert!(text.ends_with("3 offers over 50.5s\n"), "{text}");
    let json = serde_json::to_value(&view).unwrap();
    assert_eq!(json["entries"][3]["took_ms"], 12_000);
    assert!(json["entries"][0]["took_ms"].is_null());
}

#[test]
fn why_not_leads_with_the_sentence() {
    let view = WhyNotView {
        lead_id: "L1".into(),
        rep_id: "ana".into(),
        summary: "You were skipped: off shift.".into(),
        position_in_lap: 1,
        owner_rep_id: "dmitri".into(),
        entries: entries(vec![entry(T + 5, "skipped", "ana", 0, "off_shift")]),
    };
    let text = why_not_text(&view);
    assert!(
        text.starts_with(
            "You were skipped: off shift.\n(ana was #1 in the lap; dmitri owns it now)\n\n"
        ),
        "{text}"
    );
    assert!(text.contains("off shift"));
}

#[test]
fn stats_show_saturation() {
    let stats: Vec<RepStatsView> = vec![
        wheel::RepStats {
            rep_id: "ana".into(),
            team_id: "demo".into(),
            offers: 10,
            first_looks: 4,
            claims: 2,
            passes: 3,
            expiries: 5,
            median_time_to_claim_ms: 12_000,
            skips: [("away".to_string(), 2), ("at_capacity".to_string(), 1)].into(),
            availability: "away".into(),
            ..Default::default()
        }
        .into(),
        wheel::RepStats {
            rep_id: "ben".into(),
            team_id: "demo".into(),
            availability: "available".into(),
            ..Default::default()
        }
        .into(),
    ];
    assert_eq!(stats[0].miss_rate, 0.8);
    let text = stats_table(&stats);
    let ana = text.lines().nth(1).unwrap();
    for needle in ["ana", "away", "80%", "12s", "at capacity 1, away 2"] {
        assert!(ana.contains(needle), "{needle:?} missing in {ana}");
    }
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json[0]["skips"]["away"], 2);
    assert_eq!(json[1]["median_time_to_claim_ms"], 0);
    assert_eq!(stats_table(&[]), "no reps\n");
}

#[test]
fn pool_claims_are_claims_but_close_no_offer() {
    let stats: Vec<RepStatsView> = vec![
        wheel::RepStats {
            rep_id: "farid".into(),
            team_id: "demo".into(),
            offers: 2,
            claims: 2,
            pool_claims: 1,
            expiries: 1,
            median_time_to_claim_ms: 4_000,
            ..Default::default()
        }
        .into(),
        wheel::RepStats {
            rep_id: "gus".into(),
            team_id: "demo".into(),
            claims: 1,
            pool_claims: 1,
            ..Default::default()
        }
        .into(),
    ];
    // One offer claimed, one expired: half the closed offers missed.
    assert_eq!(stats[0].miss_rate, 0.5);
    assert_eq!(stats[1].miss_rate, 0.0);
    let text = stats_table(&stats);
    let header = text.lines().next().unwrap();
    assert!(header.contains("CLAIMS  FROM POOL"), "{header}");
    let cell = |line: &str, n: usize| line.split_whitespace().nth(n).unwrap().to_string();
    let farid = text.lines().nth(1).unwrap();
    // REP TEAM AVAILABILITY OFFERS FIRST-LOOKS CLAIMS FROM-POOL ...
    assert_eq!(
        (cell(farid, 5), cell(farid, 6)),
        ("2".into(), "1".into()),
        "{farid}"
    );
    assert!(farid.contains("4s"), "{farid}");
    let gus = text.lines().nth(2).unwrap();
    assert_eq!(
        (cell(gus, 5), cell(gus, 6)),
        ("1".into(), "1".into()),
        "{gus}"
    );
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json[1]["pool_claims"], 1);
}

#[test]
fn reason_codes_read_as_words() {
    assert_eq!(
        pretty_detail("pooled", "reason=lap_done offers=6"),
        "everyone had their turn, offers 6"
    );
    assert_eq!(pretty_detail("skipped", "off_shift"), "off shift");
    assert_eq!(
        pretty_detail("skipped", "mismatch"),
        "tier or region mismatch"
    );
}
