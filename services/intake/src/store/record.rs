//! A stored lead and its two outward forms (API message, event).

use std::collections::BTreeMap;

use leadwheel_proto::events::v1::LeadCreated;
use leadwheel_proto::intake::v1::Lead;
use sqlx::Row;
use sqlx::any::AnyRow;

/// A stored lead.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LeadRecord {
    /// `lead_...`.
    pub lead_id: String,
    /// Normalised email.
    pub email: String,
    /// Dedupe key (lowercased email); written, not read back.
    pub email_key: String,
    /// Name.
    pub name: String,
    /// Company.
    pub company: String,
    /// Company domain.
    pub domain: String,
    /// Phone (E.164-ish).
    pub phone: String,
    /// Website.
    pub website: String,
    /// Employees (0 = unknown).
    pub company_size: i64,
    /// Country code.
    pub country: String,
    /// Source tag.
    pub source: String,
    /// `utm_source`, `utm_medium`, `utm_campaign`, `utm_term`, `utm_content`.
    pub utm: [String; 5],
    /// Product.
    pub product: String,
    /// Plan.
    pub plan: String,
    /// Marketing consent.
    pub consent: bool,
    /// Free text.
    pub message: String,
    /// Custom attributes.
    pub attributes: BTreeMap<String, String>,
    /// Tier label; empty when no rules were in force.
    pub tier: String,
    /// Score 0..100.
    pub score: i32,
    /// The rules that fired, as `rule:+points`.
    pub score_reasons: Vec<String>,
    /// Owner of the account the domain belongs to, if any.
    pub account_owner_hint: String,
    /// That account's team.
    pub team_hint: String,
    /// `active` or `erased`.
    pub status: String,
    /// Duplicate signups recorded against the lead.
    pub touches: i64,
    /// Creation time, epoch ms.
    pub created_at_ms: i64,
}

/// The stored form of custom attributes: a JSON object.
pub fn attributes_json(attributes: &BTreeMap<String, String>) -> String {
    serde_json::to_string(attributes).unwrap_or_else(|_| "{}".into())
}

impl LeadRecord {
    pub(crate) fn from_row(row: &AnyRow) -> Result<Self, sqlx::Error> {
        let score: i64 = row.try_get("score")?;
        let attributes: String = row.try_get("attributes")?;
        let reasons: String = row.try_get("score_reasons")?;
        Ok(Self {
            lead_id: row.try_get("lead_id")?,
            email: row.try_get("email")?,
            email_key: String::new(),
            name: row.try_get("name")?,
            company: row.try_get("company")?,
            domain: row.try_get("domain")?,
            phone: row.try_get("phone")?,
            website: row.try_get("website")?,
            company_size: row.try_get("company_size")?,
            country: row.try_get("country")?,
            source: row.try_get("source")?,
            utm: [
                row.try_get("utm_source")?,
                row.try_get("utm_medium")?,
                row.try_get("utm_campaign")?,
                row.try_get("utm_term")?,
                row.try_get("utm_content")?,
            ],
            product: row.try_get("product")?,
            plan: row.try_get("plan")?,
            consent: row.try_get::<i64, _>("consent")? != 0,
            message: row.try_get("message")?,
            attributes: serde_json::from_str(&attributes)
                .map_err(|err| sqlx::Error::Decode(err.into()))?,
            tier: row.try_get("tier")?,
            score: i32::try_from(score).unwrap_or_default(),
            score_reasons: reasons
                .split('\n')
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect(),
            account_owner_hint: row.try_get("account_owner_hint")?,
            team_hint: row.try_get("team_hint")?,
            status: row.try_get("status")?,
            touches: row.try_get("touches")?,
            created_at_ms: row.try_get("created_at_ms")?,
        })
    }

    /// The lead as the gRPC API shows it.
    pub fn to_proto(&self) -> Lead {
        let [utm_source, utm_medium, utm_campaign, utm_term, utm_content] = self.utm.clone();
        Lead {
            lead_id: self.lead_id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            company: self.company.clone(),
            domain: self.domain.clone(),
            phone: self.phone.clone(),
            country: self.country.clone(),
            source: self.source.clone(),
            tier: self.tier.clone(),
            score: self.score,
            message: self.message.clone(),
            created_at_ms: self.created_at_ms,
            website: self.website.clone(),
            company_size: self.company_size,
            utm_source,
            utm_medium,
            utm_campaign,
            utm_term,
            utm_content,
            product: self.product.clone(),
            plan: self.plan.clone(),
            consent: self.consent,
            attributes: self.attributes.clone().into_iter().collect(),
            status: self.status.clone(),
            account_owner_hint: self.account_owner_hint.clone(),
            team_hint: self.team_hint.clone(),
            touches: self.touches,
        }
    }

    /// The `intake.lead.created` payload.
    pub fn to_event(&self) -> LeadCreated {
        let [utm_source, utm_medium, utm_campaign, utm_term, utm_content] = self.utm.clone();
        LeadCreated {
            lead_id: self.lead_id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            company: self.company.clone(),
            domain: self.domain.clone(),
            tier: self.tier.clone(),
            score: self.score,
            source: self.source.clone(),
            account_owner_hint: self.account_owner_hint.clone(),
            created_at_ms: self.created_at_ms,
            // Stored empty when intake named no team.
            team_hint: Some(self.team_hint.clone()).filter(|t| !t.is_empty()),
            phone: self.phone.clone(),
            country: self.country.clone(),
            message: self.message.clone(),
            website: self.website.clone(),
            company_size: self.company_size,
            utm_source,
            utm_medium,
            utm_campaign,
            utm_term,
            utm_content,
            product: self.product.clone(),
            plan: self.plan.clone(),
            consent: self.consent,
            attributes: self.attributes.clone().into_iter().collect(),
            score_reasons: self.score_reasons.clone(),
        }
    }
}
