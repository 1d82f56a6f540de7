//! `leads show`: intake's record, the wheel's routing and offer history,
//! and the opportunity service's in-work record, side by side.

use anyhow::{Result, anyhow};
use leadwheel_proto::intake::v1::GetLeadRequest;
use leadwheel_proto::opportunity::v1::GetLeadInWorkRequest;
use leadwheel_proto::wheel::v1::GetLeadRoutingRequest;
use tonic::{Code, Status};

use crate::clock;
use crate::conn::Ctx;
use crate::error::Target;
use crate::output::{Table, emit};
use crate::views::{InWorkView, LeadDetail, LeadView, RoutingView};

/// Not found is an answer here (the lead may not have reached that
/// service yet), and so is permission denied (a rep may see the wheel's view
/// but not another service's); anything else is a failure. The refusal is
/// kept, to report if nothing at all can be shown.
fn found<T>(
    ctx: &Ctx,
    target: Target,
    result: Result<T, Status>,
    refused: &mut Option<anyhow::Error>,
) -> Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(status) if status.code() == Code::NotFound => Ok(None),
        Err(status) if status.code() == Code::PermissionDenied => {
            refused.get_or_insert(ctx.fail(target, status));
            Ok(None)
        }
        Err(status) => Err(ctx.fail(target, status)),
    }
}

pub async fn lead(ctx: &Ctx, lead_id: String) -> Result<()> {
    let lead_id = lead_id.trim().to_string();
    let (mut intake, mut wheel, mut opportunity) =
        tokio::try_join!(ctx.intake(), ctx.wheel(), ctx.opportunity())?;
    let (lead, routing, in_work) = tokio::join!(
        intake.get_lead(GetLeadRequest {
            lead_id: lead_id.clone()
        }),
        wheel.get_lead_routing(GetLeadRoutingRequest {
            lead_id: lead_id.clone()
        }),
        opportunity.get_lead_in_work(GetLeadInWorkRequest {
            lead_id: lead_id.clone()
        }),
    );
    let mut refused = None;
    let lead = found(ctx, Target::Intake, lead, &mut refused)?.and_then(|r| r.into_inner().lead);
    let routing = found(ctx, Target::Wheel, routing, &mut refused)?.map(|r| r.into_inner());
    let in_work =
        found(ctx, Target::Opportunity, in_work, &mut refused)?.and_then(|r| r.into_inner().lead);
    if lead.is_none() && routing.is_none() && in_work.is_none() {
        return Err(refused.unwrap_or_else(|| {
            anyhow!("not found: no lead {lead_id} at intake, the wheel or opportunity")
        }));
    }
    // The wheel may show lead details to a rep who cannot read intake's
    // record; fill the gap from it.
    let summary = routing.as_ref().and_then(|r| r.lead.clone());
    let lead = lead.map(LeadView::from).or_else(|| {
        summary.map(|s| LeadView {
            lead_id: s.lead_id,
            email: s.email,
            name: s.name,
            company: s.company,
            domain: s.domain,
            phone: String::new(),
            country: String::new(),
            source: s.source,
            tier: s.tier,
            score: s.score,
            message: String::new(),
            created_at_ms: s.created_at_ms,
        })
    });
    let detail = LeadDetail {
        lead_id,
        lead,
        routing: routing.map(RoutingView::from),
        in_work: in_work.map(InWorkView::from),
    };
    emit(ctx.output(), &detail, detail_text)
}

pub fn detail_text(d: &LeadDetail) -> String {
    let mut out = format!("lead {}", d.lead_id);
    match &d.routing {
        Some(r) if !r.owner_rep_id.is_empty() => {
            out.push_str(&format!("  ·  {} to {}", r.state, r.owner_rep_id))
        }
        Some(r) => out.push_str(&format!("  ·  {}", r.state)),
        None => out.push_str("  ·  not routed yet"),
    }
    out.push_str("\n\n");
    match &d.lead {
        Some(l) => {
            let fields = [
                ("name", l.name.clone()),
                ("company", l.company.clone()),
                ("email", l.email.clone()),
                ("phone", l.phone.clone()),
                ("country", l.country.clone()),
                ("source", l.source.clone()),
                ("tier", tier_and_score(&l.tier, l.score)),
                (
                    "created",
                    format!("{} UTC", clock::datetime(l.created_at_ms)),
                ),
                ("message", l.message.clone()),
            ];
            for (name, value) in fields {
                if !value.trim().is_empty() {
                    out.push_str(&format!("  {name:<9} {}\n", crate::error::one_line(&value)));
                }
            }
        }
        None => out.push_str("  (intake's record is not visible to this caller)\n"),
    }
    if let Some(r) = &d.routing {
        out.push_str(&format!("\noffers (team {})\n", r.team_id));
        if r.offers.is_empty() {
            out.push_str("  none yet\n");
        } else {
            let mut table = Table::new(&[
                "STEP", "REP", "STATE", "OPENED", "DEADLINE", "CLOSED", "REASON",
            ]);
            for o in &r.offers {
                table.row(vec![
                    o.step.to_string(),
                    o.rep_id.clone(),
                    o.state.clone(),
                    time_or_dash(o.opened_at_ms),
                    time_or_dash(o.deadline_ms),
                    time_or_dash(o.closed_at_ms),
                    o.reason.clone(),
                ]);
            }
            for line in table.render().lines() {
                out.push_str("  ");
                out.push_str(line);
                out.push('\n');
            }
            out.push_str("  (times UTC)\n");
        }
    }
    out.push_str("\nin work\n");
    match &d.in_work {
        Some(w) => out.push_str(&format!(
            "  {} by {} (team {}), claimed {} UTC\n",
            w.status,
            w.rep_id,
            w.team_id,
            clock::datetime(w.claimed_at_ms)
        )),
        None => out.push_str("  not yet: nobody has claimed it\n"),
    }
    out
}

fn tier_and_score(tier: &str, score: i32) -> String {
    if tier.is_empty() {
        format!("not tiered (score {score})")
    } else {
        format!("{tier} (score {score})")
    }
}

fn time_or_dash(ms: i64) -> String {
    if ms == 0 {
        "-".into()
    } else {
        clock::time_of_day(ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::OfferView;

    fn offer(step: i32, rep: &str, state: &str) -> OfferView {
        OfferView {
            offer_id: format!("o{step}"),
            lead_id: "L1".into(),
            team_id: "demo".into(),
            rep_id: rep.into(),
            state: state.into(),
            step,
            opened_at_ms: 1_709_210_096_000,
            deadline_ms: 1_709_210_126_000,
            closed_at_ms: 0,
            reason: String::new(),
            lead: None,
        }
    }

    #[test]
    fn shows_all_three_parts() {
        let detail = LeadDetail {
            lead_id: "L1".into(),
            lead: Some(LeadView {
                lead_id: "L1".into(),
                email: "jane@acme.io".into(),
                name: "Jane Doe".into(),
                company: "Acme".into(),
                domain: "acme.io".into(),
                phone: String::new(),
                country: "DE".into(),
                source: "website".into(),
                tier: "A".into(),
                score: 80,
                message: String::new(),
                created_at_ms: 1_709_210_090_000,
            }),
            routing: Some(RoutingView {
                lead_id: "L1".into(),
                team_id: "demo".into(),
                state: "assigned".into(),
                owner_rep_id: "ben".into(),
                offers: vec![offer(1, "ana", "expired"), offer(2, "ben", "claimed")],
            }),
            in_work: Some(InWorkView {
                lead_id: "L1".into(),
                rep_id: "ben".into(),
                team_id: "demo".into(),
                status: "in_work".into(),
                claimed_at_ms: 1_709_210_100_000,
                opened_at_ms: 1_709_210_100_500,
            }),
        };
        let text = detail_text(&detail);
        assert!(text.starts_with("lead L1  ·  assigned to ben\n"), "{text}");
        assert!(
            text.contains("Jane Doe") && text.contains("A (score 80)"),
            "{text}"
        );
        assert!(!text.contains("phone"), "empty fields are left out: {text}");
        assert!(
            text.contains("ana") && text.contains("expired") && text.contains("12:34:56"),
            "{text}"
        );
        assert!(text.contains("in_work by ben"), "{text}");
        let json = serde_json::to_value(&detail).unwrap();
        assert_eq!(json["routing"]["offers"][1]["state"], "claimed");
        assert_eq!(json["in_work"]["rep_id"], "ben");
    }

    #[test]
    fn a_fresh_lead_has_no_routing_or_work() {
        let detail = LeadDetail {
            lead_id: "L2".into(),
            lead: None,
            routing: None,
            in_work: None,
        };
        let text = detail_text(&detail);
        assert!(
            text.contains("not routed yet") && text.contains("nobody has claimed it"),
            "{text}"
        );
        assert!(serde_json::to_value(&detail).unwrap()["routing"].is_null());
    }
}
