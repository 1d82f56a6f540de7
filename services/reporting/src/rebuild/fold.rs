//! The replay's fold: events applied to in-memory copies of the read
//! models, with exactly the merge rules of the incremental SQL
//! (`crate::models::apply`, `crate::models::timing`, `crate::store` and
//! the inbox), so that writing the folded rows into empty tables gives
//! what the service's handler would have made of the same events in the
//! same order. No I/O: the rebuild feeds it decoded events and writes its
//! rows with multi-row inserts ([`super::bulk`]).
//!
//! Deltas are kept as the SQL keeps them: an open-pipeline bucket or a
//! daily cell a deal or a count moved out of stays as a row of zeros.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use jiff::tz::TimeZone;
use leadwheel_plumbing::Event;
use leadwheel_proto::events::v1::{AccountChanged, OpportunityState};

use crate::consumer::{Handler, Refused};
use crate::funnel::{self, Fact};
use crate::histogram::Histogram;
use crate::period;
use crate::sales::{self, Count, Update};

/// A column value of a folded row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value<'a> {
    Text(&'a str),
    Int(i64),
}

/// One folded table: its name, its columns, and its rows (in primary key
/// order, each with the columns' values in order), made as they are read.
pub struct Table<'a> {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub len: usize,
    pub rows: Box<dyn Iterator<Item = Vec<Value<'a>>> + Send + 'a>,
}

/// What became of one event.
#[derive(Debug)]
pub enum Outcome {
    /// Applied (or recorded as processed, for a subject reporting ignores).
    Applied,
    /// Its id was already processed by this consumer: skipped.
    Repeated,
    /// Malformed: skipped without an inbox row, as the replay always did
    /// (the durable consumer terminates it).
    Malformed(Refused),
}

/// A text of few distinct values (a team, a rep, a stage, a day, a
/// currency...), interned: the fold holds millions of rows naming a few
/// thousand values, and each row keeps a 4-byte id instead of its own copy
/// (a `String` is 24 bytes and an allocation). `Name::default()` is "".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
struct Name(u32);

/// The interned texts.
struct Names {
    ids: HashMap<Arc<str>, Name>,
    texts: Vec<Arc<str>>,
}

impl Names {
    fn new() -> Self {
        let mut names = Self {
            ids: HashMap::new(),
            texts: Vec::new(),
        };
        names.of("");
        names
    }

    fn of(&mut self, text: &str) -> Name {
        if let Some(&name) = self.ids.get(text) {
            return name;
        }
        let name = Name(u32::try_from(self.texts.len()).expect("fewer than 2^32 distinct names"));
        let text: Arc<str> = Arc::from(text);
        self.texts.push(Arc::clone(&text));
        self.ids.insert(text, name);
        name
    }

    fn get(&self, name: Name) -> &str {
        &self.texts[name.0 as usize]
    }
}

/// An open-pipeline bucket: team, rep, stage, currency, close date and
/// forecast category.
type OpenKey = [Name; 6];
/// A daily cell: day, team, rep, metric, dim and currency.
type CellKey = (Name, Name, Name, &'static str, Name, Name);

/// The columns of an opportunity the read models keep (of the event's
/// whole `OpportunityState`), interned.
#[derive(Clone, Copy)]
struct Deal {
    version: i64,
    account_id: Name,
    team_id: Name,
    rep_id: Name,
    stage: Name,
    status: Name,
    currency: Name,
    amount_minor: i64,
    weighted_minor: i64,
    probability_percent: i64,
    close_date: Name,
    stage_entered_at_ms: i64,
    category: Name,
}

impl Deal {
    fn open_key(&self) -> OpenKey {
        [
            self.team_id,
            self.rep_id,
            self.stage,
            self.currency,
            self.close_date,
            self.category,
        ]
    }
}

struct FactRow {
    event_id: String,
}

struct CountedRow {
    at_ms: i64,
    day: Name,
    team_id: Name,
    rep_id: Name,
    dim: Name,
    currency: Name,
    amount_minor: i64,
}

impl CountedRow {
    fn cell(&self, metric: &'static str) -> CellKey {
        (
            self.day,
            self.team_id,
            self.rep_id,
            metric,
            self.dim,
            self.currency,
        )
    }
}

struct HistoryRow {
    at_ms: i64,
    deal: Deal,
}

struct RepRow {
    team_id: String,
    at_ms: i64,
    left_at_ms: i64,
}

struct DurationRow {
    dim: Name,
    at_ms: i64,
    day: Name,
    team_id: Name,
    rep_id: Name,
    duration_ms: i64,
}

#[derive(Default)]
struct LeadRow {
    team_id: Name,
    rep_id: Name,
    via: Name,
    offer_id: String,
    assigned_day: Name,
    assigned_at_ms: i64,
    first_touch_at_ms: i64,
    converted_at_ms: i64,
    won_at_ms: i64,
    won_currency: Name,
    won_minor: i64,
    routed_by: Name,
    rule_id: Name,
}

struct FollowUpRow {
    due_date: String,
    team_id: String,
    rep_id: String,
    set_by_activity: String,
}

impl FollowUpRow {
    /// Of two follow-ups set on one item in the same millisecond, the one
    /// kept (as `apply.rs` keeps it): the later date, then the greater setter.
    fn replaces(&self, old: &FollowUpRow) -> bool {
        (&self.due_date, &self.set_by_activity) > (&old.due_date, &old.set_by_activity)
    }
}

/// The read models (and the reporting consumers' inbox rows) built so far.
pub struct Fold {
    zone: TimeZone,
    /// Written as the inbox's `processed_at_ms` and the facts'
    /// `counted_at_ms` (the handler writes the time it applied the event).
    now_ms: i64,
    inbox: HashSet<(&'static str, String)>,
    facts: HashMap<(&'static str, String), FactRow>,
    counters: HashMap<(&'static str, String, String, &'static str), i64>,
    names: Names,
    /// "open", interned.
    open_status: Name,
    opportunities: HashMap<String, Deal>,
    open: HashMap<OpenKey, [i64; 3]>,
    stages: HashMap<String, (i64, i64)>,
    history: HashMap<(String, i64), HistoryRow>,
    counted: HashMap<(&'static str, String), CountedRow>,
    daily: HashMap<CellKey, [i64; 2]>,
    teams: HashMap<String, (String, i64)>,
    reps: HashMap<String, RepRow>,
    accounts: HashMap<String, AccountChanged>,
    durations: HashMap<(&'static str, String), DurationRow>,
    leads: HashMap<String, LeadRow>,
    touches: HashMap<(String, String), i64>,
    follow_ups: HashMap<(String, i64), FollowUpRow>,
}

impl Fold {
    /// An empty fold of tables whose only rows are `stages` (the stages the
    /// migrations seed: `(stage, position, stale_days)`), taking days in
    /// `zone` and stamping rows with `now_ms`.
    pub fn new(zone: TimeZone, now_ms: i64, stages: Vec<(String, i64, i64)>) -> Self {
        let mut names = Names::new();
        let open_status = names.of("open");
        Self {
            names,
            open_status,
            zone,
            now_ms,
            inbox: HashSet::new(),
            facts: HashMap::new(),
            counters: HashMap::new(),
            opportunities: HashMap::new(),
            open: HashMap::new(),
            stages: stages
                .into_iter()
                .map(|(stage, position, stale)| (stage, (position, stale)))
                .collect(),
            history: HashMap::new(),
            counted: HashMap::new(),
            daily: HashMap::new(),
            teams: HashMap::new(),
            reps: HashMap::new(),
            accounts: HashMap::new(),
            durations: HashMap::new(),
            leads: HashMap::new(),
            touches: HashMap::new(),
            follow_ups: HashMap::new(),
        }
    }

    /// Applies `event` as the durable consumer `durable` would: refused
    /// when malformed, skipped when its id was processed, else its inbox
    /// row, funnel facts and sales updates.
    pub fn event(&mut self, durable: &'static str, event: &Event) -> Outcome {
        let incoming = match Handler::read(event) {
            Ok(incoming) => incoming,
            Err(refused) => return Outcome::Malformed(refused),
        };
        let (facts, updates) = match &incoming {
            None => (Vec::new(), Vec::new()),
            Some(incoming) => {
                let facts = match funnel::facts_of(incoming) {
                    Ok(facts) => facts,
                    Err(err) => return Outcome::Malformed(err.into()),
                };
                match sales::updates_of(incoming) {
                    Ok(updates) => (facts, updates),
                    Err(err) => return Outcome::Malformed(err.into()),
                }
            }
        };
        if self.apply(durable, &event.envelope.id, &facts, &updates) {
            Outcome::Applied
        } else {
            Outcome::Repeated
        }
    }

    /// Applies one event's `facts` and `updates` unless `durable` processed
    /// `event_id` already; true when applied.
    pub fn apply(
        &mut self,
        durable: &'static str,
        event_id: &str,
        facts: &[Fact],
        updates: &[Update],
    ) -> bool {
        if !self.inbox.insert((durable, event_id.to_string())) {
            return false;
        }
        for fact in facts {
            self.fact(fact, event_id);
        }
        for update in updates {
            self.update(update);
        }
        true
    }

    /// `crate::store::count`: the first event announcing a fact counts it.
    fn fact(&mut self, fact: &Fact, event_id: &str) {
        let key = (fact.kind, fact.key.clone());
        if self.facts.contains_key(&key) {
            return;
        }
        self.facts.insert(
            key,
            FactRow {
                event_id: event_id.to_string(),
            },
        );
        let metric = fact.metric.as_str();
        if fact.in_total {
            self.bump_counter("total", "", "", metric);
        }
        if let Some(team) = &fact.team_id {
            self.bump_counter("team", team, "", metric);
            if let Some(rep) = &fact.rep_id {
                self.bump_counter("rep", team, rep, metric);
            }
        }
    }

    fn bump_counter(&mut self, scope: &'static str, team: &str, rep: &str, metric: &'static str) {
        *self
            .counters
            .entry((scope, team.to_string(), rep.to_string(), metric))
            .or_default() += 1;
    }

    /// The business day of `at_ms`, interned.
    fn day(&mut self, at_ms: i64) -> Name {
        let day = period::day_of(at_ms, &self.zone).to_string();
        self.names.of(&day)
    }

    fn deal(&mut self, state: &OpportunityState) -> Deal {
        let names = &mut self.names;
        Deal {
            version: state.version,
            account_id: names.of(&state.account_id),
            team_id: names.of(&state.team_id),
            rep_id: names.of(&state.owner_rep_id),
            stage: names.of(&state.stage),
            status: names.of(&state.status),
            currency: names.of(&state.currency),
            amount_minor: state.amount_minor,
            weighted_minor: state.weighted_minor,
            probability_percent: i64::from(state.probability_percent),
            close_date: names.of(&state.expected_close_date),
            stage_entered_at_ms: state.stage_entered_at_ms,
            category: names.of(&state.forecast_category),
        }
    }

    /// `crate::models::apply::Applier::apply`.
    fn update(&mut self, update: &Update) {
        match update {
            Update::Opportunity(state) => self.opportunity(state),
            Update::History { state, at_ms } => {
                let key = (state.opportunity_id.clone(), state.version);
                if !self.history.contains_key(&key) {
                    let deal = self.deal(state);
                    self.history.insert(
                        key,
                        HistoryRow {
                            at_ms: *at_ms,
                            deal,
                        },
                    );
                }
            }
            Update::Count(count) => self.count(count),
            Update::Team {
                team_id,
                manager_id,
                rep_ids,
                at_ms,
            } => {
                match self.teams.get_mut(team_id) {
                    Some(row) if row.1 <= *at_ms => *row = (manager_id.clone(), *at_ms),
                    Some(_) => {}
                    None => {
                        self.teams
                            .insert(team_id.clone(), (manager_id.clone(), *at_ms));
                    }
                }
                for rep_id in rep_ids {
                    self.rep(rep_id, team_id, *at_ms, 0);
                }
            }
            Update::Rep {
                rep_id,
                team_id,
                at_ms,
            } => self.rep(rep_id, team_id, *at_ms, 0),
            Update::RepLeft {
                rep_id,
                team_id,
                at_ms,
            } => self.rep(rep_id, team_id, *at_ms, *at_ms),
            Update::Account(account) => match self.accounts.get_mut(&account.account_id) {
                Some(row) if row.version < account.version => *row = account.clone(),
                Some(_) => {}
                None => {
                    self.accounts
                        .insert(account.account_id.clone(), account.clone());
                }
            },
            Update::Duration {
                metric,
                key,
                dim,
                team_id,
                rep_id,
                at_ms,
                duration_ms,
            } => {
                let row = DurationRow {
                    dim: self.names.of(dim),
                    at_ms: *at_ms,
                    day: self.day(*at_ms),
                    team_id: self.names.of(team_id),
                    rep_id: self.names.of(rep_id),
                    duration_ms: *duration_ms,
                };
                self.duration(metric, key, row, false);
            }
            Update::Assigned {
                lead_id,
                team_id,
                rep_id,
                via,
                routed_by,
                rule_id,
                offer_id,
                at_ms,
            } => {
                let lead = self.leads.entry(lead_id.clone()).or_default();
                if lead.assigned_at_ms == 0 || lead.assigned_at_ms > *at_ms {
                    let day = period::day_of(*at_ms, &self.zone).to_string();
                    let names = &mut self.names;
                    lead.team_id = names.of(team_id);
                    lead.rep_id = names.of(rep_id);
                    lead.via = names.of(via);
                    lead.offer_id = offer_id.clone().unwrap_or_default();
                    lead.assigned_day = names.of(&day);
                    lead.assigned_at_ms = *at_ms;
                    lead.routed_by = names.of(routed_by);
                    lead.rule_id = names.of(rule_id);
                }
                self.claim_to_touch(lead_id);
            }
            Update::LeadConverted { lead_id, at_ms } => {
                let lead = self.leads.entry(lead_id.clone()).or_default();
                if lead.converted_at_ms == 0 || lead.converted_at_ms > *at_ms {
                    lead.converted_at_ms = *at_ms;
                }
            }
            Update::LeadWon {
                lead_id,
                at_ms,
                currency,
                amount_minor,
            } => {
                let lead = self.leads.entry(lead_id.clone()).or_default();
                if lead.won_at_ms == 0 || lead.won_at_ms > *at_ms {
                    lead.won_at_ms = *at_ms;
                    lead.won_currency = self.names.of(currency);
                    lead.won_minor = *amount_minor;
                }
            }
            Update::Touch { lead_id, at_ms } => {
                let lead = self.leads.entry(lead_id.clone()).or_default();
                if lead.first_touch_at_ms == 0 || lead.first_touch_at_ms > *at_ms {
                    lead.first_touch_at_ms = *at_ms;
                }
                self.claim_to_touch(lead_id);
            }
            Update::ItemTouch {
                item,
                activity_id,
                at_ms,
            } => {
                self.touches
                    .entry((item.clone(), activity_id.clone()))
                    .or_insert(*at_ms);
            }
            Update::FollowUp {
                item,
                set_at_ms,
                set_by_activity,
                due_date,
                team_id,
                rep_id,
            } => {
                let row = FollowUpRow {
                    due_date: due_date.clone(),
                    team_id: team_id.clone(),
                    rep_id: rep_id.clone(),
                    set_by_activity: set_by_activity.clone(),
                };
                match self.follow_ups.get_mut(&(item.clone(), *set_at_ms)) {
                    Some(old) if row.replaces(old) => *old = row,
                    Some(_) => {}
                    None => {
                        self.follow_ups.insert((item.clone(), *set_at_ms), row);
                    }
                }
            }
            Update::Stage {
                stage,
                position,
                stale_days,
            } => {
                self.stages.insert(
                    stage.clone(),
                    (i64::from(*position), i64::from(*stale_days)),
                );
            }
        }
    }

    fn rep(&mut self, rep_id: &str, team_id: &str, at_ms: i64, left_at_ms: i64) {
        let row = RepRow {
            team_id: team_id.to_string(),
            at_ms,
            left_at_ms,
        };
        match self.reps.get_mut(rep_id) {
            Some(old) if old.at_ms <= at_ms => *old = row,
            Some(_) => {}
            None => {
                self.reps.insert(rep_id.to_string(), row);
            }
        }
    }

    fn duration(&mut self, metric: &'static str, key: &str, row: DurationRow, replace: bool) {
        match self.durations.get_mut(&(metric, key.to_string())) {
            Some(old) if replace || old.at_ms > row.at_ms => *old = row,
            Some(_) => {}
            None => {
                self.durations.insert((metric, key.to_string()), row);
            }
        }
    }

    fn claim_to_touch(&mut self, lead_id: &str) {
        let Some(lead) = self.leads.get(lead_id) else {
            return;
        };
        if lead.assigned_at_ms == 0 || lead.first_touch_at_ms == 0 {
            return;
        }
        let (assigned_at_ms, team_id, rep_id) = (lead.assigned_at_ms, lead.team_id, lead.rep_id);
        let duration_ms = (lead.first_touch_at_ms - assigned_at_ms).max(0);
        let row = DurationRow {
            dim: Name::default(),
            at_ms: assigned_at_ms,
            day: self.day(assigned_at_ms),
            team_id,
            rep_id,
            duration_ms,
        };
        self.duration("claim_to_touch", lead_id, row, true);
    }

    fn opportunity(&mut self, state: &OpportunityState) {
        if let Some(old) = self.opportunities.get(&state.opportunity_id) {
            if old.version >= state.version {
                return;
            }
            if old.status == self.open_status {
                let (bucket, amount, weighted) =
                    (old.open_key(), old.amount_minor, old.weighted_minor);
                add(
                    self.open.entry(bucket).or_default(),
                    [-1, -amount, -weighted],
                );
            }
        }
        let deal = self.deal(state);
        if deal.status == self.open_status {
            add(
                self.open.entry(deal.open_key()).or_default(),
                [1, deal.amount_minor, deal.weighted_minor],
            );
        }
        self.opportunities
            .insert(state.opportunity_id.clone(), deal);
        self.stages.entry(state.stage.clone()).or_insert((1000, 0));
    }

    fn count(&mut self, count: &Count) {
        let metric = count.metric.as_str();
        let key = (metric, count.key.clone());
        if self
            .counted
            .get(&key)
            .is_some_and(|old| old.at_ms <= count.at_ms)
        {
            return;
        }
        let row = CountedRow {
            at_ms: count.at_ms,
            day: self.day(count.at_ms),
            team_id: self.names.of(&count.team_id),
            rep_id: self.names.of(&count.rep_id),
            dim: self.names.of(&count.dim),
            currency: self.names.of(&count.currency),
            amount_minor: count.amount_minor,
        };
        let cell = row.cell(metric);
        // An earlier occurrence arrived late: the count moves to it.
        if let Some(old) = self.counted.insert(key, row) {
            add(
                self.daily.entry(old.cell(metric)).or_default(),
                [-1, -old.amount_minor],
            );
        }
        add(self.daily.entry(cell).or_default(), [1, count.amount_minor]);
    }

    /// The folded deals, each with its versions in version order, in
    /// order of deal.
    pub fn deal_versions(&self) -> impl Iterator<Item = (&str, Vec<crate::open_days::Version>)> {
        let mut ordered: Vec<(&(String, i64), &HistoryRow)> = self.history.iter().collect();
        ordered.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let text = |name| self.names.get(name).to_string();
        let mut deals = Vec::new();
        for deal in ordered.chunk_by(|a, b| a.0.0 == b.0.0) {
            deals.push((deal[0].0.0.as_str(), deal.to_vec()));
        }
        deals.into_iter().map(move |(id, deal)| {
            let versions = deal
                .iter()
                .map(|((_, version), row)| {
                    let d = &row.deal;
                    crate::open_days::Version {
                        version: *version,
                        at_ms: row.at_ms,
                        team_id: text(d.team_id),
                        rep_id: text(d.rep_id),
                        stage: text(d.stage),
                        status: text(d.status),
                        currency: text(d.currency),
                        amount_minor: d.amount_minor,
                        weighted_minor: d.weighted_minor,
                        close_date: text(d.close_date),
                    }
                })
                .collect();
            (id, versions)
        })
    }

    /// The folded durations' day histograms
    /// (`models::duration_histograms`), counted under interned keys first.
    pub fn duration_cells(&self) -> crate::models::duration_histograms::Cells {
        let mut by_name: HashMap<(&'static str, Name, Name, Name, Name), Histogram> =
            HashMap::new();
        for ((metric, _), row) in &self.durations {
            by_name
                .entry((metric, row.day, row.team_id, row.rep_id, row.dim))
                .or_default()
                .add(row.duration_ms);
        }
        let text = |name| self.names.get(name).to_string();
        by_name
            .into_iter()
            .map(|((metric, day, team, rep, dim), histogram)| {
                let key = (
                    metric.to_string(),
                    text(day),
                    text(team),
                    text(rep),
                    text(dim),
                );
                (key, histogram)
            })
            .collect()
    }

    /// Events applied so far (each consumer's inbox rows).
    pub fn applied(&self) -> usize {
        self.inbox.len()
    }

    /// Every folded table, in primary key order, the inbox (`lw_inbox`)
    /// last.
    pub fn tables(&self) -> Vec<Table<'_>> {
        use Value::{Int, Text};
        let now = self.now_ms;
        let names = &self.names;
        let name = move |name: Name| Text(names.get(name));
        vec![
            table(
                "reporting_counters",
                &["scope", "team_id", "rep_id", "metric", "value"],
                &self.counters,
                |(scope, team, rep, metric), value| {
                    vec![
                        Text(scope),
                        Text(team),
                        Text(rep),
                        Text(metric),
                        Int(*value),
                    ]
                },
            ),
            table(
                "reporting_facts",
                &["kind", "fact_key", "event_id", "counted_at_ms"],
                &self.facts,
                move |(kind, key), row| vec![Text(kind), Text(key), Text(&row.event_id), Int(now)],
            ),
            table(
                "reporting_opportunities",
                &[
                    "opportunity_id",
                    "version",
                    "account_id",
                    "team_id",
                    "rep_id",
                    "stage",
                    "status",
                    "currency",
                    "amount_minor",
                    "weighted_minor",
                    "probability_percent",
                    "close_date",
                    "stage_entered_at_ms",
                    "category",
                ],
                &self.opportunities,
                move |id, d| {
                    vec![
                        Text(id),
                        Int(d.version),
                        name(d.account_id),
                        name(d.team_id),
                        name(d.rep_id),
                        name(d.stage),
                        name(d.status),
                        name(d.currency),
                        Int(d.amount_minor),
                        Int(d.weighted_minor),
                        Int(d.probability_percent),
                        name(d.close_date),
                        Int(d.stage_entered_at_ms),
                        name(d.category),
                    ]
                },
            ),
            table_by_text(
                "reporting_open",
                &[
                    "team_id",
                    "rep_id",
                    "stage",
                    "currency",
                    "close_date",
                    "category",
                    "deals",
                    "amount_minor",
                    "weighted_minor",
                ],
                &self.open,
                move |key| key.map(|part| names.get(part)),
                move |key, sums| {
                    let mut row: Vec<Value<'_>> = key.iter().map(|&part| name(part)).collect();
                    row.extend([Int(sums[0]), Int(sums[1]), Int(sums[2])]);
                    row
                },
            ),
            table_by_text(
                "reporting_daily",
                &[
                    "day",
                    "team_id",
                    "rep_id",
                    "metric",
                    "dim",
                    "currency",
                    "events",
                    "amount_minor",
                ],
                &self.daily,
                move |&(day, team, rep, metric, dim, currency)| {
                    (
                        names.get(day),
                        names.get(team),
                        names.get(rep),
                        metric,
                        names.get(dim),
                        names.get(currency),
                    )
                },
                move |&(day, team, rep, metric, dim, currency), sums| {
                    vec![
                        name(day),
                        name(team),
                        name(rep),
                        Text(metric),
                        name(dim),
                        name(currency),
                        Int(sums[0]),
                        Int(sums[1]),
                    ]
                },
            ),
            table(
                "reporting_counted",
                &[
                    "metric",
                    "fact_key",
                    "at_ms",
                    "day",
                    "team_id",
                    "rep_id",
                    "dim",
                    "currency",
                    "amount_minor",
                ],
                &self.counted,
                move |(metric, key), row| {
                    vec![
                        Text(metric),
                        Text(key),
                        Int(row.at_ms),
                        name(row.day),
                        name(row.team_id),
                        name(row.rep_id),
                        name(row.dim),
                        name(row.currency),
                        Int(row.amount_minor),
                    ]
                },
            ),
            table(
                "reporting_teams",
                &["team_id", "manager_id", "at_ms"],
                &self.teams,
                |team, (manager, at_ms)| vec![Text(team), Text(manager), Int(*at_ms)],
            ),
            table(
                "reporting_reps",
                &["rep_id", "team_id", "at_ms", "left_at_ms"],
                &self.reps,
                |rep, row| {
                    vec![
                        Text(rep),
                        Text(&row.team_id),
                        Int(row.at_ms),
                        Int(row.left_at_ms),
                    ]
                },
            ),
            table(
                "reporting_stages",
                &["stage", "position", "stale_days"],
                &self.stages,
                |stage, (position, stale)| vec![Text(stage), Int(*position), Int(*stale)],
            ),
            table(
                "reporting_durations",
                &[
                    "metric",
                    "fact_key",
                    "dim",
                    "at_ms",
                    "day",
                    "team_id",
                    "rep_id",
                    "duration_ms",
                ],
                &self.durations,
                move |(metric, key), row| {
                    vec![
                        Text(metric),
                        Text(key),
                        name(row.dim),
                        Int(row.at_ms),
                        name(row.day),
                        name(row.team_id),
                        name(row.rep_id),
                        Int(row.duration_ms),
                    ]
                },
            ),
            table(
                "reporting_leads",
                &[
                    "lead_id",
                    "team_id",
                    "rep_id",
                    "via",
                    "offer_id",
                    "assigned_day",
                    "assigned_at_ms",
                    "first_touch_at_ms",
                    "converted_at_ms",
                    "won_at_ms",
                    "won_currency",
                    "won_minor",
                    "routed_by",
                    "rule_id",
                ],
                &self.leads,
                move |id, l| {
                    vec![
                        Text(id),
                        name(l.team_id),
                        name(l.rep_id),
                        name(l.via),
                        Text(&l.offer_id),
                        name(l.assigned_day),
                        Int(l.assigned_at_ms),
                        Int(l.first_touch_at_ms),
                        Int(l.converted_at_ms),
                        Int(l.won_at_ms),
                        name(l.won_currency),
                        Int(l.won_minor),
                        name(l.routed_by),
                        name(l.rule_id),
                    ]
                },
            ),
            table(
                "reporting_accounts",
                &[
                    "account_id",
                    "version",
                    "owner_rep_id",
                    "team_id",
                    "tier",
                    "status",
                ],
                &self.accounts,
                |id, a| {
                    vec![
                        Text(id),
                        Int(a.version),
                        Text(&a.owner_rep_id),
                        Text(&a.team_id),
                        Text(&a.tier),
                        Text(&a.status),
                    ]
                },
            ),
            table(
                "reporting_opportunity_history",
                &[
                    "opportunity_id",
                    "version",
                    "at_ms",
                    "team_id",
                    "rep_id",
                    "stage",
                    "status",
                    "currency",
                    "amount_minor",
                    "weighted_minor",
                    "close_date",
                    "category",
                ],
                &self.history,
                move |(id, version), h| {
                    let d = &h.deal;
                    vec![
                        Text(id),
                        Int(*version),
                        Int(h.at_ms),
                        name(d.team_id),
                        name(d.rep_id),
                        name(d.stage),
                        name(d.status),
                        name(d.currency),
                        Int(d.amount_minor),
                        Int(d.weighted_minor),
                        name(d.close_date),
                        name(d.category),
                    ]
                },
            ),
            table(
                "reporting_touches",
                &["item", "activity_id", "at_ms"],
                &self.touches,
                |(item, activity), at_ms| vec![Text(item), Text(activity), Int(*at_ms)],
            ),
            table(
                "reporting_follow_ups",
                &[
                    "item",
                    "set_at_ms",
                    "due_date",
                    "team_id",
                    "rep_id",
                    "set_by_activity",
                ],
                &self.follow_ups,
                |(item, set_at_ms), row| {
                    vec![
                        Text(item),
                        Int(*set_at_ms),
                        Text(&row.due_date),
                        Text(&row.team_id),
                        Text(&row.rep_id),
                        Text(&row.set_by_activity),
                    ]
                },
            ),
            {
                let mut keys: Vec<&(&'static str, String)> = self.inbox.iter().collect();
                keys.sort_unstable();
                Table {
                    name: "lw_inbox",
                    columns: &["consumer", "event_id", "processed_at_ms"],
                    len: keys.len(),
                    rows: Box::new(
                        keys.into_iter()
                            .map(move |(consumer, id)| vec![Text(consumer), Text(id), Int(now)]),
                    ),
                }
            },
        ]
    }
}

fn add<const N: usize>(sums: &mut [i64; N], deltas: [i64; N]) {
    for (sum, delta) in sums.iter_mut().zip(deltas) {
        *sum += delta;
    }
}

/// The rows of `map` made by `row`, sorted by the texts `text` gives of
/// each key (keys of interned names: their ids are in no useful order).
fn table_by_text<'a, K: Sync, V: Sync, T: Ord>(
    name: &'static str,
    columns: &'static [&'static str],
    map: &'a HashMap<K, V>,
    text: impl Fn(&'a K) -> T,
    row: impl Fn(&'a K, &'a V) -> Vec<Value<'a>> + Send + 'a,
) -> Table<'a> {
    let mut sorted: Vec<(T, &'a K, &'a V)> = map
        .iter()
        .map(|(key, value)| (text(key), key, value))
        .collect();
    sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    let entries: Vec<(&'a K, &'a V)> = sorted.into_iter().map(|(_, k, v)| (k, v)).collect();
    Table {
        name,
        columns,
        len: entries.len(),
        rows: Box::new(entries.into_iter().map(move |(key, value)| row(key, value))),
    }
}

/// The rows of `map` made by `row`, sorted by key: inserting in primary
/// key order keeps the B-trees' pages filling one after another.
fn table<'a, K: Ord + Sync, V: Sync>(
    name: &'static str,
    columns: &'static [&'static str],
    map: &'a HashMap<K, V>,
    row: impl Fn(&'a K, &'a V) -> Vec<Value<'a>> + Send + 'a,
) -> Table<'a> {
    let mut entries: Vec<(&'a K, &'a V)> = map.iter().collect();
    entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
    Table {
        name,
        columns,
        len: entries.len(),
        rows: Box::new(entries.into_iter().map(move |(key, value)| row(key, value))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use proptest::prelude::*;

    use super::*;
    use crate::funnel::Metric;

    const DURABLE: &str = "reporting-opps";

    /// One generated event: its facts and updates. Every timestamp and
    /// version is the event's own (`i`), so no two different events tie;
    /// what two events share is keys (deals, leads, reps, facts...), which
    /// is where order could matter.
    fn event(i: usize, kind: u8, a: u8, b: u8) -> (String, Vec<Fact>, Vec<Update>) {
        let at = 1_780_000_000_000 + i as i64 * 3_600_000;
        let (a, b) = (a % 4, b % 3);
        let team = format!("t{b}");
        let rep = format!("r{a}");
        let mut facts = Vec::new();
        let updates = match kind % 12 {
            0 | 1 => {
                let stage = ["trial", "commercial", "won"][usize::from(a % 3)];
                let status = if kind.is_multiple_of(12) {
                    "open"
                } else {
                    "won"
                };
                let state = OpportunityState {
                    opportunity_id: format!("o{a}"),
                    version: i as i64 + 1,
                    team_id: team.clone(),
                    owner_rep_id: rep.clone(),
                    // A deal keeps its stage name space small and its own.
                    stage: format!("{stage}-{a}"),
                    status: status.into(),
                    currency: "EUR".into(),
                    amount_minor: 100 * i as i64,
                    weighted_minor: 10 * i as i64,
                    expected_close_date: format!("2026-12-0{}", 1 + b),
                    forecast_category: "pipeline".into(),
                    ..Default::default()
                };
                vec![
                    Update::Opportunity(state.clone()),
                    Update::History { state, at_ms: at },
                ]
            }
            2 => {
                // The same fact (key) always says the same thing.
                facts.push(Fact {
                    kind: "claimed",
                    key: format!("f{a}"),
                    metric: Metric::Claimed,
                    team_id: Some(format!("t{}", a % 2)),
                    rep_id: (a > 1).then(|| format!("r{a}")),
                    in_total: a != 3,
                });
                vec![Update::Count(Count {
                    metric: crate::sales::Metric::Activity,
                    key: format!("act{a}"),
                    dim: "call".into(),
                    team_id: team.clone(),
                    rep_id: rep.clone(),
                    currency: String::new(),
                    amount_minor: i as i64,
                    at_ms: at,
                })]
            }
            3 => vec![Update::Team {
                team_id: team.clone(),
                manager_id: format!("m{i}"),
                rep_ids: vec![rep.clone(), format!("r{}", (a + 1) % 4)],
                at_ms: at,
            }],
            4 => vec![Update::Rep {
                rep_id: rep.clone(),
                team_id: team.clone(),
                at_ms: at,
            }],
            5 => vec![Update::RepLeft {
                rep_id: rep.clone(),
                team_id: team.clone(),
                at_ms: at,
            }],
            6 => vec![Update::Account(AccountChanged {
                account_id: format!("a{a}"),
                version: i as i64 + 1,
                owner_rep_id: rep.clone(),
                team_id: team.clone(),
                tier: format!("tier{b}"),
                status: "active".into(),
                ..Default::default()
            })],
            7 => vec![Update::Duration {
                metric: "time_to_claim",
                key: format!("offer{a}"),
                dim: String::new(),
                team_id: team.clone(),
                rep_id: rep.clone(),
                at_ms: at,
                duration_ms: i as i64,
            }],
            8 => vec![Update::Assigned {
                lead_id: format!("l{a}"),
                team_id: team.clone(),
                rep_id: rep.clone(),
                via: "offer",
                routed_by: "rule".into(),
                rule_id: format!("rule{b}"),
                offer_id: (b > 0).then(|| format!("offer{i}")),
                at_ms: at,
            }],
            9 => vec![
                Update::Touch {
                    lead_id: format!("l{a}"),
                    at_ms: at,
                },
                Update::ItemTouch {
                    item: format!("lead:l{a}"),
                    activity_id: format!("act-{i}"),
                    at_ms: at,
                },
            ],
            10 => vec![
                Update::LeadConverted {
                    lead_id: format!("l{a}"),
                    at_ms: at,
                },
                Update::LeadWon {
                    lead_id: format!("l{a}"),
                    at_ms: at + 1,
                    currency: "EUR".into(),
                    amount_minor: i as i64,
                },
            ],
            _ => {
                // Same item and moment, several dates and setters: the
                // later date wins, then the greater setter; a date always
                // comes with the same owner.
                let due = format!("2026-12-1{b}");
                vec![Update::FollowUp {
                    item: format!("lead:l{}", a % 2),
                    set_at_ms: 1_780_000_000_000 + i64::from(a),
                    set_by_activity: ["", "act-1", "act-2"][i % 3].to_string(),
                    due_date: due,
                    team_id: format!("t{b}"),
                    rep_id: format!("r{b}"),
                }]
            }
        };
        (format!("e{i}"), facts, updates)
    }

    fn fold(events: &[(String, Vec<Fact>, Vec<Update>)], order: &[usize]) -> Fold {
        let seeded = vec![("trial-0".to_string(), 20, 21)];
        let mut fold = Fold::new(TimeZone::UTC, 42, seeded);
        for &index in order {
            let (id, facts, updates) = &events[index];
            fold.apply(DURABLE, id, facts, updates);
        }
        fold
    }

    /// Rows that can depend on arrival order only in ways no report sees:
    /// buckets and cells whose sums went back to zero (a deal or a count
    /// that moved away leaves one behind, or not, by order), and which of
    /// a fact's events counted it.
    fn comparable(fold: &Fold) -> BTreeMap<&'static str, BTreeSet<Vec<Value<'_>>>> {
        fold.tables()
            .into_iter()
            .map(|table| {
                let name = table.name;
                let rows = table
                    .rows
                    .filter(|row| match name {
                        "reporting_open" => row[6..] != [Value::Int(0); 3],
                        "reporting_daily" => row[6..] != [Value::Int(0); 2],
                        _ => true,
                    })
                    .map(|mut row| {
                        if name == "reporting_facts" {
                            row.remove(2);
                        }
                        row
                    })
                    .collect();
                (name, rows)
            })
            .collect()
    }

    /// Generated events (kind and two key choices each), an order of them,
    /// and the positions of repeats to insert.
    type Plan = (Vec<(u8, u8, u8)>, Vec<usize>, Vec<prop::sample::Index>);

    fn events_and_orders() -> impl Strategy<Value = Plan> {
        prop::collection::vec((any::<u8>(), any::<u8>(), any::<u8>()), 1..80).prop_flat_map(
            |events| {
                let order: Vec<usize> = (0..events.len()).collect();
                (
                    Just(events),
                    Just(order).prop_shuffle(),
                    prop::collection::vec(any::<prop::sample::Index>(), 0..40),
                )
            },
        )
    }

    proptest! {
        /// The replay reads the streams in its own order (three at once)
        /// and a stream may hold an event twice: the folded tables are the
        /// same whatever the order and however often an event comes.
        #[test]
        fn order_and_repeats_do_not_change_the_tables(
            (raw, shuffled, repeats) in events_and_orders()
        ) {
            let events: Vec<_> = raw
                .iter()
                .enumerate()
                .map(|(i, (kind, a, b))| event(i, *kind, *a, *b))
                .collect();
            let in_order: Vec<usize> = (0..events.len()).collect();
            let mut messy = shuffled.clone();
            for repeat in &repeats {
                let at = repeat.index(messy.len() + 1);
                messy.insert(at, shuffled[repeat.index(shuffled.len())]);
            }
            let expected = fold(&events, &in_order);
            let got = fold(&events, &messy);
            prop_assert_eq!(got.applied(), events.len());
            prop_assert_eq!(comparable(&got), comparable(&expected));
        }
    }

    #[test]
    fn a_repeated_event_is_skipped_and_a_deal_moving_leaves_its_old_bucket_at_zero() {
        let events = vec![event(0, 0, 1, 0), event(1, 0, 1, 1)];
        let folded = fold(&events, &[0, 1, 0]);
        assert_eq!(folded.applied(), 2);
        let open: Vec<_> = folded
            .tables()
            .into_iter()
            .find(|table| table.name == "reporting_open")
            .expect("the open table")
            .rows
            .map(|row| row[6..].to_vec())
            .collect();
        use Value::Int;
        assert_eq!(
            open,
            vec![
                vec![Int(0), Int(0), Int(0)],
                vec![Int(1), Int(100), Int(10)]
            ]
        );
    }
}
