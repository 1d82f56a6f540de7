//! The open pool, my leads in work, and one lead.

use leadwheel_proto::opportunity::v1::LeadInWork;
use leadwheel_proto::wheel::v1::{LeadSummary, PoolLead};
use maud::{Markup, html};

use super::time;
use crate::i18n::{self, Lang};

/// The pool's element id for a lead.
pub fn pool_id(lead_id: &str) -> String {
    format!("pool-{lead_id}")
}

/// The open pool, with Claim on each lead.
pub fn pool(leads: &[PoolLead], lang: Lang) -> Markup {
    html! {
        h1 { (i18n::NAV_POOL.get(lang)) }
        @if leads.is_empty() { p.muted { (i18n::POOL_EMPTY.get(lang)) } }
        @for pooled in leads {
            @let lead = pooled.lead.clone().unwrap_or_default();
            @let id = pool_id(&lead.lead_id);
            article.card id=(id) data-item {
                h2 { (title(&lead)) " " @if !lead.tier.is_empty() { span.tier { (i18n::TIER.get(lang)) " " (lead.tier) } } }
                dl {
                    @if !lead.source.is_empty() { dt { (i18n::SOURCE.get(lang)) } dd { (lead.source) } }
                    dt { (i18n::POOLED_AT.get(lang)) } dd { (time(pooled.pooled_at_ms)) }
                }
                form hx-post={ "/pool/" (lead.lead_id) "/claim" } hx-target={ "#" (id) } hx-swap="outerHTML" {
                    button.primary type="submit" { (i18n::CLAIM.get(lang)) }
                }
            }
        }
    }
}

/// What replaces a pool card once claimed.
pub fn pool_claimed(lead_id: &str, lang: Lang) -> Markup {
    html! {
        article.card.state-claimed id=(pool_id(lead_id)) {
            p role="status" { (i18n::CLAIMED_FROM_POOL.get(lang)) " "
                a href={ "/leads/" (lead_id) } { (i18n::OPEN_LEAD.get(lang)) } }
        }
    }
}

fn title(lead: &LeadSummary) -> &str {
    if lead.company.is_empty() {
        &lead.lead_id
    } else {
        &lead.company
    }
}

/// My leads in work.
pub fn leads(leads: &[LeadInWork], lang: Lang) -> Markup {
    html! {
        h1 { (i18n::NAV_LEADS.get(lang)) }
        @if leads.is_empty() {
            p.muted { (i18n::LEADS_EMPTY.get(lang)) }
        } @else {
            table {
                thead { tr {
                    th scope="col" { (i18n::LEAD.get(lang)) }
                    th scope="col" { (i18n::STATUS.get(lang)) }
                    th scope="col" { (i18n::CLAIMED_AT.get(lang)) }
                    th scope="col" { (i18n::NEXT_FOLLOW_UP.get(lang)) }
                } }
                tbody {
                    @for lead in leads {
                        tr {
                            td data-label=(i18n::LEAD.get(lang)) { a href={ "/leads/" (lead.lead_id) } { (lead.lead_id) } }
                            td data-label=(i18n::STATUS.get(lang)) { (lead.status) }
                            td data-label=(i18n::CLAIMED_AT.get(lang)) { (time(lead.claimed_at_ms)) }
                            td data-label=(i18n::NEXT_FOLLOW_UP.get(lang)) { (or_none(&lead.next_follow_up_date, lang)) }
                        }
                    }
                }
            }
        }
    }
}

fn or_none(value: &str, lang: Lang) -> String {
    if value.is_empty() {
        i18n::NONE.get(lang).to_string()
    } else {
        value.to_string()
    }
}

/// One lead in work, with what the wheel showed of it.
pub fn lead(lead: &LeadInWork, summary: Option<&LeadSummary>, lang: Lang) -> Markup {
    html! {
        p { a href="/leads" { "← " (i18n::BACK.get(lang)) } }
        h1 { (i18n::LEAD.get(lang)) " " (summary.map_or(lead.lead_id.as_str(), title)) }
        article.card {
            dl {
                @if let Some(summary) = summary {
                    @if !summary.name.is_empty() { dt { (i18n::CONTACT.get(lang)) } dd { (summary.name) " " @if !summary.email.is_empty() { "<" (summary.email) ">" } } }
                    @if !summary.tier.is_empty() { dt { (i18n::TIER.get(lang)) } dd { (summary.tier) } }
                    @if !summary.source.is_empty() { dt { (i18n::SOURCE.get(lang)) } dd { (summary.source) } }
                }
                dt { (i18n::STATUS.get(lang)) } dd data-field="status" { (lead.status) }
                dt { (i18n::OWNER.get(lang)) } dd { (lead.rep_id) }
                dt { (i18n::TEAM.get(lang)) } dd { (lead.team_id) }
                dt { (i18n::CLAIMED_AT.get(lang)) } dd { (time(lead.claimed_at_ms)) }
                dt { (i18n::TOUCHES.get(lang)) } dd { (lead.touch_count) }
                dt { (i18n::NEXT_FOLLOW_UP.get(lang)) } dd { (or_none(&lead.next_follow_up_date, lang)) }
                dt { (i18n::ACCOUNT.get(lang)) } dd { (or_none(&lead.account_id, lang)) }
                dt { (i18n::OPPORTUNITY.get(lang)) } dd { (or_none(&lead.opportunity_id, lang)) }
            }
        }
    }
}
