//! A scripted month of events, encoded exactly as the publishers encode
//! them (the same protobuf payloads in the same envelopes), published
//! straight to JetStream. The answers the tests expect are worked out by
//! hand from this script.

use async_nats::HeaderMap;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use leadwheel_plumbing::bus::{Bus, OPPS_STREAM, StreamSpec, WHEEL_STREAM, subjects};
use leadwheel_proto::events::v1::{
    AccountChanged, ActivityLogged, AssignedVia, Envelope, LeadAssigned, LeadConverted,
    OfferClosed, OfferOpened, OfferOutcome, OpportunityAmountChanged, OpportunityClosed,
    OpportunityOpened, OpportunityStageChanged, OpportunityState, TeamUpserted,
};
use prost::Message;

/// One event as a publisher sends it.
#[derive(Clone, Debug)]
pub struct Scripted {
    pub subject: &'static str,
    /// The event id (envelope id).
    pub id: String,
    /// The JetStream dedupe id: the event id, or another for a redelivery.
    pub msg_id: String,
    pub key: String,
    pub payload: Vec<u8>,
}

impl Scripted {
    /// The same event delivered again (same event id, new message id), as
    /// JetStream redelivers one that was processed but not acked.
    pub fn redelivered(&self) -> Self {
        Self {
            msg_id: format!("{}-again", self.id),
            ..self.clone()
        }
    }

    /// The same fact announced again under a new event id.
    pub fn announced_again(&self) -> Self {
        let id = format!("{}-twice", self.id);
        Self {
            msg_id: id.clone(),
            id,
            ..self.clone()
        }
    }
}

/// Publishes `events` in order over one connection, creating the streams.
pub async fn publish_all(nats_url: &str, events: &[Scripted]) {
    let client = async_nats::connect(nats_url).await.expect("connecting");
    let bus = Bus {
        jetstream: async_nats::jetstream::new(client.clone()),
        client,
    };
    for stream in [&OPPS_STREAM, &WHEEL_STREAM] {
        bus.ensure_stream(stream).await.expect("creating stream");
    }
    for event in events {
        let envelope = Envelope {
            id: event.id.clone(),
            r#type: event.subject.to_string(),
            source: "script".into(),
            time_ms: 0,
            key: event.key.clone(),
            payload: event.payload.clone(),
        };
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", event.msg_id.as_str());
        bus.jetstream
            .publish_with_headers(event.subject, headers, envelope.encode_to_vec().into())
            .await
            .expect("publishing")
            .await
            .expect("publish acknowledged");
    }
}

/// Epoch milliseconds of `date` ("YYYY-MM-DD") at `hour`:00 UTC.
pub fn at(date: &str, hour: i8) -> i64 {
    let date: Date = date.parse().expect("a date");
    date.at(hour, 0, 0, 0)
        .to_zoned(TimeZone::UTC)
        .expect("a UTC time")
        .timestamp()
        .as_millisecond()
}

/// An opportunity being scripted: its state as opportunity would publish it.
#[derive(Clone, Debug)]
pub struct Opp {
    pub state: OpportunityState,
}

impl Opp {
    pub fn new(
        id: &str,
        (team, rep): (&str, &str),
        stage: &str,
        (amount_minor, currency, probability): (i64, &str, i32),
        close: &str,
    ) -> Self {
        let mut state = OpportunityState {
            opportunity_id: id.into(),
            account_id: format!("acc-{id}"),
            lead_id: format!("lead-{id}"),
            name: format!("Deal {id}"),
            owner_rep_id: rep.into(),
            team_id: team.into(),
            stage: stage.into(),
            status: "open".into(),
            amount_minor,
            currency: currency.into(),
            probability_percent: probability,
            expected_close_date: close.into(),
            version: 1,
            ..Default::default()
        };
        state.weighted_minor = amount_minor * i64::from(probability) / 100;
        let mut opp = Self { state };
        opp.categorise();
        opp
    }

    /// Opportunity's default category for the deal's state.
    fn categorise(&mut self) {
        self.state.forecast_category =
            match (self.state.status.as_str(), self.state.probability_percent) {
                ("won", _) => "closed",
                ("lost", _) => "omitted",
                (_, 90..) => "commit",
                (_, 50..=89) => "best_case",
                _ => "pipeline",
            }
            .into();
    }

    fn bump(&mut self) {
        self.state.version += 1;
        self.state.weighted_minor =
            self.state.amount_minor * i64::from(self.state.probability_percent) / 100;
        self.categorise();
    }
}

/// Builds a list of events in publishing order.
#[derive(Default)]
pub struct Script {
    pub events: Vec<Scripted>,
    next: u32,
}

impl Script {
    fn push(
        &mut self,
        stream: &'static StreamSpec,
        subject: &'static str,
        key: &str,
        payload: &impl Message,
    ) {
        self.next += 1;
        let id = format!("ev{:04}", self.next);
        // The stream follows from the subject; kept in the signature so
        // each call says which publisher sends the event.
        let _ = stream;
        self.events.push(Scripted {
            subject,
            msg_id: id.clone(),
            id,
            key: key.into(),
            payload: payload.encode_to_vec(),
        });
    }

    /// Any event exactly as given, on `subject`.
    pub fn event(&mut self, subject: &'static str, key: &str, payload: &impl Message) {
        let stream = if subject.starts_with("wheel.") {
            &WHEEL_STREAM
        } else {
            &OPPS_STREAM
        };
        self.push(stream, subject, key, payload);
    }

    pub fn team(&mut self, team: &str, manager: &str, reps: &[&str]) {
        let payload = TeamUpserted {
            team_id: team.into(),
            name: format!("Team {team}"),
            manager_id: manager.into(),
            window_ms: 60_000,
            rep_ids: reps.iter().map(|r| r.to_string()).collect(),
            at_ms: 1,
        };
        self.push(&WHEEL_STREAM, subjects::TEAM_UPSERTED, team, &payload);
    }

    /// The lead converted and the opportunity opened, as ConvertLead publishes.
    pub fn opened(&mut self, opp: &mut Opp, at_ms: i64) {
        opp.state.created_at_ms = at_ms;
        opp.state.stage_entered_at_ms = at_ms;
        let converted = LeadConverted {
            lead_id: opp.state.lead_id.clone(),
            rep_id: opp.state.owner_rep_id.clone(),
            team_id: opp.state.team_id.clone(),
            account_id: opp.state.account_id.clone(),
            opportunity_id: opp.state.opportunity_id.clone(),
            at_ms,
        };
        let key = opp.state.lead_id.clone();
        self.push(
            &OPPS_STREAM,
            subjects::OPPS_LEAD_CONVERTED,
            &key,
            &converted,
        );
        let opened = OpportunityOpened {
            opportunity: Some(opp.state.clone()),
            by: opp.state.owner_rep_id.clone(),
            at_ms,
        };
        let key = opp.state.opportunity_id.clone();
        self.push(
            &OPPS_STREAM,
            subjects::OPPS_OPPORTUNITY_OPENED,
            &key,
            &opened,
        );
    }

    pub fn stage(&mut self, opp: &mut Opp, to: &str, probability: i32, at_ms: i64) {
        let from = std::mem::replace(&mut opp.state.stage, to.into());
        let from_entered = opp.state.stage_entered_at_ms;
        opp.state.probability_percent = probability;
        opp.state.stage_entered_at_ms = at_ms;
        opp.bump();
        let payload = OpportunityStageChanged {
            opportunity: Some(opp.state.clone()),
            from_stage: from,
            to_stage: to.into(),
            from_stage_entered_at_ms: from_entered,
            by: opp.state.owner_rep_id.clone(),
            reason: String::new(),
            at_ms,
        };
        let key = opp.state.opportunity_id.clone();
        self.push(
            &OPPS_STREAM,
            subjects::OPPS_OPPORTUNITY_STAGE_CHANGED,
            &key,
            &payload,
        );
    }

    /// A new amount and a probability override.
    pub fn amount(&mut self, opp: &mut Opp, amount_minor: i64, probability: i32, at_ms: i64) {
        let previous = opp.state.clone();
        opp.state.amount_minor = amount_minor;
        opp.state.probability_percent = probability;
        opp.state.probability_overridden = true;
        self.amount_changed(opp, previous, "negotiated", at_ms);
    }

    /// A new expected close date, as opportunity publishes it (an amount
    /// change with the previous close date).
    pub fn close_date(&mut self, opp: &mut Opp, close: &str, at_ms: i64) {
        let previous = opp.state.clone();
        opp.state.expected_close_date = close.into();
        self.amount_changed(opp, previous, "moved", at_ms);
    }

    /// `opps.opportunity.amount_changed` from `previous` to `opp`'s state.
    fn amount_changed(
        &mut self,
        opp: &mut Opp,
        previous: OpportunityState,
        reason: &str,
        at_ms: i64,
    ) {
        opp.bump();
        let payload = OpportunityAmountChanged {
            opportunity: Some(opp.state.clone()),
            previous_amount_minor: previous.amount_minor,
            previous_currency: previous.currency,
            previous_probability_percent: previous.probability_percent,
            previous_expected_close_date: previous.expected_close_date,
            by: opp.state.owner_rep_id.clone(),
            reason: reason.into(),
            at_ms,
        };
        let key = opp.state.opportunity_id.clone();
        self.push(
            &OPPS_STREAM,
            subjects::OPPS_OPPORTUNITY_AMOUNT_CHANGED,
            &key,
            &payload,
        );
    }

    pub fn closed(&mut self, opp: &mut Opp, won: bool, at_ms: i64) {
        let from = opp.state.stage.clone();
        let outcome = if won { "won" } else { "lost" };
        opp.state.stage = outcome.into();
        opp.state.status = outcome.into();
        opp.state.probability_percent = if won { 100 } else { 0 };
        opp.bump();
        let payload = OpportunityClosed {
            opportunity: Some(opp.state.clone()),
            won,
            from_stage: from,
            from_stage_entered_at_ms: opp.state.stage_entered_at_ms,
            by: opp.state.owner_rep_id.clone(),
            reason: "decided".into(),
            at_ms,
        };
        let key = opp.state.opportunity_id.clone();
        self.push(
            &OPPS_STREAM,
            subjects::OPPS_OPPORTUNITY_CLOSED,
            &key,
            &payload,
        );
    }

    /// An offer opened at `opened` and closed at `closed` with `outcome`.
    pub fn offer(
        &mut self,
        (offer, lead): (&str, &str),
        (team, rep): (&str, &str),
        first_look: bool,
        (opened, closed): (i64, i64),
        (outcome, reason): (OfferOutcome, &str),
    ) {
        let open = OfferOpened {
            offer_id: offer.into(),
            lead_id: lead.into(),
            team_id: team.into(),
            rep_id: rep.into(),
            lap: 1,
            step: 1,
            opened_at_ms: opened,
            deadline_ms: opened + 60_000,
            first_look,
            ..Default::default()
        };
        self.push(&WHEEL_STREAM, subjects::OFFER_OPENED, offer, &open);
        let close = OfferClosed {
            offer_id: offer.into(),
            lead_id: lead.into(),
            team_id: team.into(),
            rep_id: rep.into(),
            outcome: outcome as i32,
            reason: reason.into(),
            opened_at_ms: opened,
            closed_at_ms: closed,
        };
        self.push(&WHEEL_STREAM, subjects::OFFER_CLOSED, offer, &close);
    }

    /// `lead` assigned to `rep` (through `offer` when via an offer);
    /// created, first offered and assigned at the given times.
    pub fn assigned(
        &mut self,
        (lead, offer): (&str, &str),
        (team, rep): (&str, &str),
        via: AssignedVia,
        (created, first_offer, assigned): (i64, i64, i64),
    ) {
        let payload = LeadAssigned {
            lead_id: lead.into(),
            team_id: team.into(),
            rep_id: rep.into(),
            via: via as i32,
            offer_id: (!offer.is_empty()).then(|| offer.to_string()),
            lead_created_at_ms: created,
            first_offer_at_ms: first_offer,
            assigned_at_ms: assigned,
            ..Default::default()
        };
        self.push(&WHEEL_STREAM, subjects::LEAD_ASSIGNED, lead, &payload);
    }

    /// An account's state at `version`, as opportunity publishes it.
    pub fn account(&mut self, id: &str, (team, owner): (&str, &str), tier: &str, version: i64) {
        let payload = AccountChanged {
            account_id: id.into(),
            name: format!("Company {id}"),
            domains: vec![format!("{id}.example")],
            tier: tier.into(),
            owner_rep_id: owner.into(),
            team_id: team.into(),
            status: "active".into(),
            version,
            at_ms: version,
        };
        let subject = if version == 1 {
            subjects::OPPS_ACCOUNT_CREATED
        } else {
            subjects::OPPS_ACCOUNT_OWNER_CHANGED
        };
        self.push(&OPPS_STREAM, subject, id, &payload);
    }

    /// An activity exactly as given.
    pub fn logged(&mut self, activity: ActivityLogged) {
        let key = activity.activity_id.clone();
        self.push(
            &OPPS_STREAM,
            subjects::OPPS_ACTIVITY_LOGGED,
            &key,
            &activity,
        );
    }

    /// A touch on a lead (the activity names the lead).
    pub fn touch(&mut self, id: &str, lead: &str, (team, rep): (&str, &str), at_ms: i64) {
        let payload = ActivityLogged {
            activity_id: id.into(),
            kind: "call".into(),
            lead_id: lead.into(),
            by: rep.into(),
            owner_rep_id: rep.into(),
            team_id: team.into(),
            at_ms,
            touch_count: 1,
            ..Default::default()
        };
        self.push(&OPPS_STREAM, subjects::OPPS_ACTIVITY_LOGGED, id, &payload);
    }

    pub fn activity(&mut self, id: &str, kind: &str, (team, rep): (&str, &str), at_ms: i64) {
        let payload = ActivityLogged {
            activity_id: id.into(),
            kind: kind.into(),
            lead_id: format!("lead-of-{id}"),
            by: rep.into(),
            owner_rep_id: rep.into(),
            team_id: team.into(),
            at_ms,
            touch_count: 1,
            ..Default::default()
        };
        self.push(&OPPS_STREAM, subjects::OPPS_ACTIVITY_LOGGED, id, &payload);
    }
}

pub const ANA: (&str, &str) = ("north", "ana");
pub const BO: (&str, &str) = ("north", "bo");
pub const CY: (&str, &str) = ("south", "cy");

/// November 2026 (and one call in late October) for teams north (maya:
/// ana, bo) and south (sue: cy). See the tests for the answers.
pub fn november() -> Vec<Scripted> {
    let mut s = Script::default();
    s.team("north", "maya", &["ana", "bo"]);
    s.team("south", "sue", &["cy"]);
    // opp1 (ana): 10,000.00 EUR, needs_identified → commercial → won 11-10.
    let mut opp1 = Opp::new(
        "opp1",
        ANA,
        "needs_identified",
        (10_000_00, "EUR", 30),
        "2026-11-20",
    );
    s.opened(&mut opp1, at("2026-11-02", 9));
    s.stage(&mut opp1, "commercial", 90, at("2026-11-05", 9));
    s.closed(&mut opp1, true, at("2026-11-10", 9));
    // opp2 (ana): trial 5,000.00 EUR → 8,000.00 at an overridden 50%, open.
    let mut opp2 = Opp::new("opp2", ANA, "trial", (5_000_00, "EUR", 60), "2026-11-25");
    s.opened(&mut opp2, at("2026-11-03", 9));
    s.amount(&mut opp2, 8_000_00, 50, at("2026-11-04", 9));
    // opp3 (bo): opened in commercial, 2,000.00 USD at 90%, open.
    let mut opp3 = Opp::new(
        "opp3",
        BO,
        "commercial",
        (2_000_00, "USD", 90),
        "2026-11-28",
    );
    s.opened(&mut opp3, at("2026-11-04", 9));
    // opp4 (bo): 1,000.00 EUR, lost 11-12.
    let mut opp4 = Opp::new(
        "opp4",
        BO,
        "needs_identified",
        (1_000_00, "EUR", 30),
        "2026-12-15",
    );
    s.opened(&mut opp4, at("2026-11-05", 9));
    s.closed(&mut opp4, false, at("2026-11-12", 9));
    // opp5 (cy, south): trial 3,000.00 EUR at 60%, open.
    let mut opp5 = Opp::new("opp5", CY, "trial", (3_000_00, "EUR", 60), "2026-11-30");
    s.opened(&mut opp5, at("2026-11-06", 9));
    // opp6 (ana): opened in commercial 4,000.00 EUR, won 11-20.
    let mut opp6 = Opp::new(
        "opp6",
        ANA,
        "commercial",
        (4_000_00, "EUR", 90),
        "2026-11-30",
    );
    s.opened(&mut opp6, at("2026-11-09", 9));
    s.closed(&mut opp6, true, at("2026-11-20", 9));
    // opp7 (bo): open, no expected close date (in no forecast period).
    let mut opp7 = Opp::new("opp7", BO, "trial", (500_00, "EUR", 60), "");
    s.opened(&mut opp7, at("2026-11-11", 9));
    // Calls and other touches.
    s.activity("a1", "call", ANA, at("2026-10-28", 9));
    s.activity("a2", "call", ANA, at("2026-11-02", 10));
    s.activity("a3", "call", ANA, at("2026-11-03", 10));
    s.activity("a4", "email", ANA, at("2026-11-03", 11));
    s.activity("a5", "call", BO, at("2026-11-04", 10));
    s.activity("a6", "call", ANA, at("2026-11-16", 10));
    s.activity("a7", "call", CY, at("2026-11-06", 10));
    // The deals' accounts. acc-opp3 went from ana to bo (version 2); its
    // creation (version 1) arrives late and must not take it back.
    for (account, owner, tier) in [
        ("acc-opp1", ANA, "A"),
        ("acc-opp2", ANA, "A"),
        ("acc-opp4", BO, "B"),
        ("acc-opp5", CY, "A"),
        ("acc-opp6", ANA, "B"),
        ("acc-opp7", BO, "A"),
    ] {
        s.account(account, owner, tier, 1);
    }
    s.account("acc-opp3", BO, "B", 2);
    s.account("acc-opp3", ANA, "B", 1);
    s.events
}

/// The day of the sentinel event.
pub const SENTINEL_DAY: &str = "2026-12-01";

/// A call on [`SENTINEL_DAY`], published last: when it counts, all before
/// it on the opportunity stream has been applied.
pub fn sentinel() -> Scripted {
    let mut s = Script::default();
    s.activity("zz-sentinel", "call", CY, at(SENTINEL_DAY, 12));
    let mut event = s.events.remove(0);
    event.id = "sentinel".into();
    event.msg_id = "sentinel".into();
    event
}
