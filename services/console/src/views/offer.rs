//! A live offer as a card: what the rep may see before claiming, why it
//! came to them, the countdown to its absolute deadline, Claim and Pass;
//! once closed, how it ended (claimed, passed, missed, withdrawn).

use leadwheel_proto::wheel::v1::{Offer, OfferState};
use maud::{Markup, html};

use crate::i18n::{self, Lang};

/// The card's element id: one per lead, so a later update replaces it.
pub fn card_id(lead_id: &str) -> String {
    format!("offer-{lead_id}")
}

/// The `data-state` of an offer.
pub fn state_name(offer: &Offer) -> &'static str {
    match offer.state() {
        OfferState::Open => "open",
        OfferState::Claimed => "claimed",
        OfferState::Passed => "passed",
        OfferState::Expired => "missed",
        OfferState::Withdrawn => "withdrawn",
        OfferState::Unspecified => "unknown",
    }
}

/// The card for `offer`. `reasons` are the team's pass reasons (a free
/// reason is asked for when the team has none).
pub fn card(offer: &Offer, lang: Lang, reasons: &[String]) -> Markup {
    let lead = offer.lead.clone().unwrap_or_default();
    let state = state_name(offer);
    let id = card_id(&offer.lead_id);
    let title = if lead.company.is_empty() {
        &offer.lead_id
    } else {
        &lead.company
    };
    let open = offer.state() == OfferState::Open;
    html! {
        article class={ "card state-" (state) } id=(id) data-item data-state=(state)
            data-lead=(offer.lead_id) data-deadline=[open.then_some(offer.deadline_ms)]
            // Closing updates carry no lead summary: the page keeps the one it showed.
            data-bare[offer.lead.is_none()]
            aria-labelledby={ (id) "-title" } {
            h2 id={ (id) "-title" } {
                (title) " "
                @if !lead.tier.is_empty() { span.tier { (i18n::TIER.get(lang)) " " (lead.tier) } }
            }
            dl {
                @if !lead.name.is_empty() { dt { (i18n::CONTACT.get(lang)) } dd { (lead.name) } }
                @if !lead.source.is_empty() { dt { (i18n::SOURCE.get(lang)) } dd { (lead.source) } }
                dt { (i18n::SCORE.get(lang)) } dd { (lead.score) }
                dt { (i18n::WHY_YOU.get(lang)) }
                dd { "#" (offer.step) " " (i18n::STEP_IN_LAP.get(lang)) }
            }
            @match offer.state() {
                OfferState::Open => {
                    p.countdown role="timer" {
                        span data-countdown { (((offer.deadline_ms - leadwheel_plumbing::store::now_ms()).max(0) + 999) / 1000) }
                        " " (i18n::SECONDS_LEFT.get(lang))
                    }
                    div.actions {
                        form hx-post={ "/offers/" (offer.lead_id) "/claim" } hx-target={ "#" (id) } hx-swap="outerHTML" {
                            button.primary type="submit" data-action="claim" { (i18n::CLAIM.get(lang)) }
                        }
                        form hx-post={ "/offers/" (offer.lead_id) "/pass" } hx-target={ "#" (id) } hx-swap="outerHTML" {
                            label for={ (id) "-reason" } { (i18n::PASS_REASON.get(lang)) }
                            @if reasons.is_empty() {
                                input id={ (id) "-reason" } name="reason" required maxlength="200";
                            } @else {
                                select id={ (id) "-reason" } name="reason" required {
                                    @for reason in reasons { option value=(reason) { (reason) } }
                                }
                            }
                            button type="submit" data-action="pass" { (i18n::PASS.get(lang)) }
                        }
                    }
                }
                OfferState::Claimed => {
                    p role="status" { (i18n::CLAIMED.get(lang)) " "
                        a href={ "/leads/" (offer.lead_id) } { (i18n::OPEN_LEAD.get(lang)) } }
                }
                OfferState::Passed => { p role="status" { (i18n::PASSED.get(lang)) ": " (offer.reason) } }
                OfferState::Expired => { p.error role="status" { (i18n::MISSED.get(lang)) } }
                OfferState::Withdrawn | OfferState::Unspecified => {
                    p role="status" { (i18n::WITHDRAWN.get(lang)) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadwheel_proto::wheel::v1::LeadSummary;

    fn offer(state: OfferState) -> Offer {
        Offer {
            lead_id: "L1".into(),
            rep_id: "ana".into(),
            state: state as i32,
            deadline_ms: 4_000_000_000_000,
            step: 2,
            lead: Some(LeadSummary {
                company: "Acme <script>".into(),
                tier: "A".into(),
                source: "website".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_open_offer_counts_down_to_its_absolute_deadline() {
        let html = card(&offer(OfferState::Open), Lang::En, &["busy".into()]).into_string();
        assert!(html.contains(r#"data-deadline="4000000000000""#), "{html}");
        assert!(html.contains(r#"hx-post="/offers/L1/claim""#), "{html}");
        assert!(html.contains(r#"<option value="busy">"#), "{html}");
        assert!(html.contains("Acme &lt;script&gt;"), "escaped: {html}");
        assert!(
            html.contains(r#"<label for="offer-L1-reason">"#),
            "labelled: {html}"
        );
    }

    #[test]
    fn a_closed_offer_says_how_it_ended() {
        let missed = card(&offer(OfferState::Expired), Lang::Zh, &[]).into_string();
        assert!(
            missed.contains(r#"data-state="missed""#) && missed.contains("已错过"),
            "{missed}"
        );
        assert!(
            !missed.contains("data-deadline") && !missed.contains("hx-post"),
            "{missed}"
        );
        assert!(
            !missed.contains("data-bare"),
            "it has its summary: {missed}"
        );
        let mut bare = offer(OfferState::Expired);
        bare.lead = None;
        let bare = card(&bare, Lang::En, &[]).into_string();
        assert!(
            bare.contains("data-bare"),
            "the page keeps what it showed: {bare}"
        );
        let claimed = card(&offer(OfferState::Claimed), Lang::En, &[]).into_string();
        assert!(claimed.contains(r#"href="/leads/L1""#), "{claimed}");
    }
}
