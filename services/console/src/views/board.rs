//! The manager's team board: who is available, away or at capacity, the
//! offers in flight with their time left, and the pool with assign.

use leadwheel_proto::wheel::v1::{Offer, PoolLead, Rep};
use maud::{Markup, html};

use super::time;
use crate::i18n::{self, Lang, Msg};

/// The board's element id (the live stream replaces it whole).
pub const ID: &str = "board";

fn status(rep: &Rep) -> (&'static str, Msg) {
    if rep.availability == "away" {
        ("away", i18n::AWAY)
    } else if !rep.on_shift {
        ("off", i18n::OFF_SHIFT)
    } else if rep.capacity > 0 && rep.open_offers + rep.assigned_leads >= rep.capacity {
        ("capacity", i18n::AT_CAPACITY)
    } else {
        ("available", i18n::AVAILABLE)
    }
}

/// The most offers the board lists (the soonest deadlines): a manager
/// reads a few dozen at a glance, and each rep's count is in the reps'
/// table whatever the number in flight.
pub const MAX_OFFERS: usize = 100;

/// The most pooled leads the board lists (the longest pooled first), each
/// with its assign form; the pool page lists them all.
pub const MAX_POOL: usize = 100;

/// The id of the board's one list of the team's reps, which every pool
/// card's assign field offers (one list, not one per card: a team of 500
/// reps would otherwise make each card 500 options long).
const REPS_LIST_ID: &str = "pool-reps";

/// Everything the board shows.
pub struct BoardData {
    /// The team's reps.
    pub reps: Vec<Rep>,
    /// Every open offer of the team.
    pub offers: Vec<Offer>,
    /// The team's pool.
    pub pool: Vec<PoolLead>,
}

/// The board.
pub fn board(team: &str, data: &BoardData, lang: Lang) -> Markup {
    html! {
        div id=(ID) data-item data-state="board" {
            h1 { (i18n::NAV_BOARD.get(lang)) " · " (team) }
            h2 { (i18n::REPS.get(lang)) }
            table {
                thead { tr {
                    th scope="col" { (i18n::REP.get(lang)) }
                    th scope="col" { (i18n::AVAILABILITY.get(lang)) }
                    th scope="col" { (i18n::OPEN_OFFERS.get(lang)) }
                    th scope="col" { (i18n::ASSIGNED.get(lang)) }
                    th scope="col" { (i18n::CAPACITY.get(lang)) }
                } }
                tbody {
                    @for rep in &data.reps {
                        @let (class, label) = status(rep);
                        tr data-rep=(rep.rep_id) {
                            td data-label=(i18n::REP.get(lang)) { (rep.name) " (" (rep.rep_id) ")" }
                            td data-label=(i18n::AVAILABILITY.get(lang)) class={ "status-" (class) } { (label.get(lang)) }
                            td data-label=(i18n::OPEN_OFFERS.get(lang)) { (rep.open_offers) }
                            td data-label=(i18n::ASSIGNED.get(lang)) { (rep.assigned_leads) }
                            td data-label=(i18n::CAPACITY.get(lang)) { @if rep.capacity > 0 { (rep.capacity) } @else { "—" } }
                        }
                    }
                }
            }
            h2 { (i18n::OPEN_OFFERS.get(lang)) }
            @if data.offers.is_empty() { p.muted { (i18n::NO_OFFERS_IN_FLIGHT.get(lang)) } }
            @let in_flight: i64 = data.reps.iter().map(|rep| i64::from(rep.open_offers)).sum();
            @if in_flight > data.offers.len() as i64 {
                p.muted data-offers-shown=(data.offers.len()) {
                    (i18n::OFFERS_SHOWN.get(lang)) " " (data.offers.len()) " / " (in_flight)
                    "; " (i18n::OFFERS_PER_REP.get(lang))
                }
            }
            @for offer in &data.offers {
                @let lead = offer.lead.clone().unwrap_or_default();
                article.card data-offer=(offer.lead_id) data-offer-rep=(offer.rep_id) data-deadline=(offer.deadline_ms) {
                    strong { (if lead.company.is_empty() { &offer.lead_id } else { &lead.company }) }
                    " → " (offer.rep_id) " · "
                    span.countdown role="timer" {
                        span data-countdown { (((offer.deadline_ms - leadwheel_plumbing::store::now_ms()).max(0) + 999) / 1000) }
                        " " (i18n::SECONDS_LEFT.get(lang))
                    }
                }
            }
            h2 { (i18n::NAV_POOL.get(lang)) }
            @if data.pool.is_empty() { p.muted { (i18n::POOL_EMPTY.get(lang)) } }
            @if data.pool.len() > MAX_POOL {
                p.muted data-pool-shown=(MAX_POOL) {
                    (i18n::POOL_SHOWN.get(lang)) " " (MAX_POOL) " / " (data.pool.len())
                }
            }
            @if !data.pool.is_empty() {
                datalist id=(REPS_LIST_ID) {
                    @for rep in &data.reps { option value=(rep.rep_id) { (rep.name) " (" (rep.rep_id) ")" } }
                }
            }
            @for pooled in data.pool.iter().take(MAX_POOL) {
                @let lead = pooled.lead.clone().unwrap_or_default();
                @let select_id = format!("assign-{}", lead.lead_id);
                article.card data-pool=(lead.lead_id) {
                    strong { (if lead.company.is_empty() { &lead.lead_id } else { &lead.company }) }
                    " · " (i18n::POOLED_AT.get(lang)) " " (time(pooled.pooled_at_ms))
                    form.actions hx-post={ "/board/pool/" (lead.lead_id) "/assign" } hx-target="closest article" hx-swap="outerHTML" {
                        div {
                            label for=(select_id) { (i18n::ASSIGN_TO.get(lang)) }
                            input id=(select_id) name="rep_id" list=(REPS_LIST_ID) required autocomplete="off" maxlength="128";
                        }
                        button.primary type="submit" { (i18n::ASSIGN.get(lang)) }
                    }
                }
            }
        }
    }
}

/// What replaces a pool card once assigned.
pub fn assigned(lead_id: &str, rep_id: &str, lang: Lang) -> Markup {
    html! {
        article.card.state-claimed data-pool=(lead_id) {
            p role="status" { (lead_id) ": " (i18n::ASSIGNED_TO.get(lang)) " " (rep_id) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rep(rep_id: &str, open_offers: i32) -> Rep {
        Rep {
            rep_id: rep_id.into(),
            name: rep_id.into(),
            open_offers,
            ..Default::default()
        }
    }

    fn offer(lead_id: &str, rep_id: &str) -> Offer {
        Offer {
            lead_id: lead_id.into(),
            rep_id: rep_id.into(),
            ..Default::default()
        }
    }

    #[test]
    fn pool_cards_share_one_rep_list_and_the_longest_pooled_are_listed() {
        let pooled = |id: &str| PoolLead {
            lead: Some(leadwheel_proto::wheel::v1::LeadSummary {
                lead_id: id.into(),
                ..Default::default()
            }),
            team_id: "demo".into(),
            pooled_at_ms: 1,
        };
        let data = BoardData {
            reps: vec![rep("ana", 0), rep("ben", 0)],
            offers: vec![],
            pool: (0..MAX_POOL + 5)
                .map(|i| pooled(&format!("lead-{i}")))
                .collect(),
        };
        let html = board("demo", &data, Lang::En).into_string();
        assert_eq!(html.matches("<datalist").count(), 1, "one rep list");
        assert_eq!(html.matches(r#"<option value="ana""#).count(), 1, "{html}");
        assert_eq!(html.matches(r#"list="pool-reps""#).count(), MAX_POOL);
        assert!(
            html.contains(r#"data-pool="lead-0""#) && !html.contains(r#"data-pool="lead-100""#)
        );
        assert!(
            html.contains(&format!(
                r#"data-pool-shown="100">Longest pooled shown: 100 / {}"#,
                MAX_POOL + 5
            )),
            "{html}"
        );
        let zh = board("demo", &data, Lang::Zh).into_string();
        assert!(zh.contains("按入池时间最早显示： 100 / 105"), "{zh}");
    }

    #[test]
    fn the_board_says_when_it_lists_only_the_soonest_offers() {
        let all = BoardData {
            reps: vec![rep("ana", 1), rep("ben", 1)],
            offers: vec![offer("l1", "ana"), offer("l2", "ben")],
            pool: vec![],
        };
        let html = board("demo", &all, Lang::En).into_string();
        assert!(!html.contains("data-offers-shown"), "{html}");
        let some = BoardData {
            reps: vec![rep("ana", 3), rep("ben", 2)],
            ..all
        };
        let html = board("demo", &some, Lang::En).into_string();
        assert!(
            html.contains(r#"data-offers-shown="2">Soonest deadlines shown: 2 / 5;"#),
            "{html}"
        );
        let zh = board("demo", &some, Lang::Zh).into_string();
        assert!(zh.contains("按截止时间最近显示： 2 / 5"), "{zh}");
    }
}
