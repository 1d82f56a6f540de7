//! The listings: reps, teams, offers, pool, leads.

use anyhow::Result;
use leadwheel_proto::intake::v1::ListLeadsRequest;
use leadwheel_proto::wheel::v1::{
    ListOffersRequest, ListPoolRequest, ListRepsRequest, ListTeamsRequest,
};

use crate::clock::{self, Skew};
use crate::conn::Ctx;
use crate::error::Target;
use crate::output::{Table, emit};
use crate::views::{LeadView, OfferView, PoolLeadView, RepView, TeamView};

pub async fn reps(ctx: &Ctx, team: Option<String>) -> Result<()> {
    let response = ctx
        .wheel()
        .await?
        .list_reps(ListRepsRequest {
            team_id: team.unwrap_or_default(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?;
    let reps: Vec<RepView> = response
        .into_inner()
        .reps
        .into_iter()
        .map(Into::into)
        .collect();
    emit(ctx.output(), &reps, |reps| reps_table(reps))
}

pub fn reps_table(reps: &[RepView]) -> String {
    if reps.is_empty() {
        return "no reps (create a team first; `leadwheel dev` seeds team demo)\n".into();
    }
    let mut table = Table::new(&[
        "REP",
        "NAME",
        "TEAM",
        "AVAILABILITY",
        "ON SHIFT",
        "RANK",
        "CAPACITY",
        "OPEN OFFERS",
        "ASSIGNED",
        "EXPIRIES IN A ROW",
    ]);
    for r in reps {
        table.row(vec![
            r.rep_id.clone(),
            r.name.clone(),
            r.team_id.clone(),
            r.availability.clone(),
            if r.on_shift { "yes" } else { "no" }.to_string(),
            r.rank.to_string(),
            match r.capacity {
                0 => "no cap".to_string(),
                n => n.to_string(),
            },
            r.open_offers.to_string(),
            r.assigned_leads.to_string(),
            r.consecutive_expiries.to_string(),
        ]);
    }
    table.render()
}

pub async fn teams(ctx: &Ctx) -> Result<()> {
    let response = ctx
        .wheel()
        .await?
        .list_teams(ListTeamsRequest {})
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?;
    let teams: Vec<TeamView> = response
        .into_inner()
        .teams
        .into_iter()
        .map(Into::into)
        .collect();
    emit(ctx.output(), &teams, |teams| teams_table(teams))
}

pub fn teams_table(teams: &[TeamView]) -> String {
    if teams.is_empty() {
        return "no teams\n".into();
    }
    let mut table = Table::new(&["TEAM", "NAME", "MANAGER", "WINDOW", "RING", "POLICY"]);
    for t in teams {
        table.row(vec![
            t.team_id.clone(),
            t.name.clone(),
            t.manager_id.clone(),
            format!("{} s", t.window_ms as f64 / 1000.0),
            t.rep_ids.join(" → "),
            t.policy
                .as_ref()
                .map(crate::policy::describe)
                .unwrap_or_default(),
        ]);
    }
    table.render()
}

pub async fn offers(ctx: &Ctx) -> Result<()> {
    let rep = ctx.identity.rep("offers list")?;
    let response = ctx
        .wheel()
        .await?
        .list_offers(ListOffersRequest {
            rep_id: rep.clone(),
            ..Default::default()
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?;
    let offers: Vec<OfferView> = response
        .into_inner()
        .offers
        .into_iter()
        .map(Into::into)
        .collect();
    let now = clock::local_now_ms();
    emit(ctx.output(), &offers, |offers| {
        offers_table(&rep, offers, Skew::default(), now)
    })
}

pub fn offers_table(rep: &str, offers: &[OfferView], skew: Skew, local_now: i64) -> String {
    if offers.is_empty() {
        return format!("no open offers for {rep}\n");
    }
    let mut table = Table::new(&["LEAD", "NAME", "COMPANY", "TIER", "DEADLINE (UTC)", "LEFT"]);
    for o in offers {
        let lead = o.lead.clone().unwrap_or_default();
        table.row(vec![
            o.lead_id.clone(),
            lead.name,
            lead.company,
            lead.tier,
            clock::time_of_day(skew.to_local(o.deadline_ms)),
            clock::countdown(skew.remaining(o.deadline_ms, local_now)),
        ]);
    }
    table.render()
}

pub async fn pool(ctx: &Ctx, team: Option<String>) -> Result<()> {
    let response = ctx
        .wheel()
        .await?
        .list_pool(ListPoolRequest {
            team_id: team.unwrap_or_default(),
        })
        .await
        .map_err(|s| ctx.fail(Target::Wheel, s))?;
    let leads: Vec<PoolLeadView> = response
        .into_inner()
        .leads
        .into_iter()
        .map(Into::into)
        .collect();
    emit(ctx.output(), &leads, |leads| pool_table(leads))
}

pub fn pool_table(leads: &[PoolLeadView]) -> String {
    if leads.is_empty() {
        return "the pool is empty\n".into();
    }
    let mut table = Table::new(&["LEAD", "TEAM", "NAME", "COMPANY", "TIER", "POOLED (UTC)"]);
    for p in leads {
        let lead = p.lead.clone().unwrap_or_default();
        table.row(vec![
            p.lead_id.clone(),
            p.team_id.clone(),
            lead.name,
            lead.company,
            lead.tier,
            clock::datetime(p.pooled_at_ms),
        ]);
    }
    let mut text = table.render();
    text.push_str("\nclaim one with: leadctl claim LEAD --as REP   (first claim wins)\n");
    text
}

pub async fn leads(ctx: &Ctx, limit: i32) -> Result<()> {
    let response = ctx
        .intake()
        .await?
        .list_leads(ListLeadsRequest {
            page_size: limit,
            ..ListLeadsRequest::default()
        })
        .await
        .map_err(|s| ctx.fail(Target::Intake, s))?;
    let leads: Vec<LeadView> = response
        .into_inner()
        .leads
        .into_iter()
        .map(Into::into)
        .collect();
    emit(ctx.output(), &leads, |leads| leads_table(leads))
}

pub fn leads_table(leads: &[LeadView]) -> String {
    if leads.is_empty() {
        return "no leads yet (try: leadctl demo signups --rate 1 --count 5)\n".into();
    }
    let mut table = Table::new(&[
        "LEAD",
        "NAME",
        "COMPANY",
        "EMAIL",
        "TIER",
        "SCORE",
        "CREATED (UTC)",
    ]);
    for l in leads {
        table.row(vec![
            l.lead_id.clone(),
            l.name.clone(),
            l.company.clone(),
            l.email.clone(),
            l.tier.clone(),
            l.score.to_string(),
            clock::datetime(l.created_at_ms),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::LeadSummaryView;

    #[test]
    fn reps_render() {
        let reps = vec![RepView {
            rep_id: "ana".into(),
            name: "Ana Lima".into(),
            team_id: "demo".into(),
            open_offers: 1,
            assigned_leads: 3,
            availability: "available".into(),
            rank: 2,
            capacity: 0,
            consecutive_expiries: 1,
            on_shift: true,
            tiers: Vec::new(),
            regions: Vec::new(),
        }];
        assert_eq!(
            reps_table(&reps),
            "REP  NAME      TEAM  AVAILABILITY  ON SHIFT  RANK  CAPACITY  OPEN OFFERS  ASSIGNED  EXPIRIES IN A ROW\n\
             ana  Ana Lima  demo  available     yes       2     no cap    1            3         1\n"
        );
        assert!(reps_table(&[]).starts_with("no reps"));
    }

    #[test]
    fn teams_show_the_ring_and_window() {
        let teams = vec![TeamView {
            team_id: "demo".into(),
            name: "Demo team".into(),
            manager_id: "maya".into(),
            window_ms: 30_000,
            rep_ids: vec!["ana".into(), "ben".into()],
            policy: None,
        }];
        let text = teams_table(&teams);
        assert!(text.contains("30 s"), "{text}");
        assert!(text.contains("ana → ben"), "{text}");
    }

    #[test]
    fn offers_count_down_with_the_server_clock() {
        let offers = vec![OfferView {
            offer_id: "o1".into(),
            lead_id: "L1".into(),
            team_id: "demo".into(),
            rep_id: "ana".into(),
            state: "open".into(),
            step: 0,
            opened_at_ms: 0,
            deadline_ms: 1_000_000 + 30_000,
            closed_at_ms: 0,
            reason: String::new(),
            lead: Some(LeadSummaryView {
                name: "Jane Doe".into(),
                company: "Acme".into(),
                tier: "A".into(),
                ..Default::default()
            }),
        }];
        // Our clock is 5 s behind the server's.
        let skew = Skew::observe(1_000_000, 995_000);
        let text = offers_table("ana", &offers, skew, 995_000);
        assert!(text.contains("Jane Doe") && text.contains("Acme"), "{text}");
        assert!(text.contains("0:30"), "{text}");
        assert!(offers_table("ana", &[], skew, 0).contains("no open offers for ana"));
    }

    #[test]
    fn pool_says_how_to_claim() {
        let leads = vec![PoolLeadView {
            lead_id: "L9".into(),
            team_id: "demo".into(),
            pooled_at_ms: 1_709_210_096_000,
            lead: None,
        }];
        let text = pool_table(&leads);
        assert!(
            text.contains("L9") && text.contains("2024-02-29 12:34:56"),
            "{text}"
        );
        assert!(text.contains("leadctl claim"));
    }
}
