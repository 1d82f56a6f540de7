//! The five questions a sales head asks of a period (default this week),
//! with the period before beside them: calls made, leads that became
//! opportunities, opportunities that reached purchase intent (entered the
//! intent stage), deals won, and the average won deal per currency.

use std::collections::BTreeMap;

use jiff::civil::Date;
use leadwheel_plumbing::auth::Caller;
use leadwheel_proto::reporting::v1::{
    FiveAnswers, GetFiveQuestionsRequest, GetFiveQuestionsResponse, Money, PeriodKind, RepFive,
};

use super::{Reports, check_id};
use crate::error::Error;
use crate::models::queries::DailyRow;
use crate::period::{self, Days};

const METRICS: [&str; 4] = ["activity", "converted", "entered", "won"];

/// Answers being summed: counts, and won value and deals per currency.
#[derive(Clone, Debug, Default)]
struct Tally {
    calls: i64,
    opportunities: i64,
    intents: i64,
    won: i64,
    won_value: BTreeMap<String, (i64, i64)>,
}

impl Tally {
    fn add(&mut self, row: &DailyRow, intent_stage: &str) {
        match row.metric.as_str() {
            "activity" if row.dim == "call" => self.calls += row.events,
            "converted" => self.opportunities += row.events,
            "entered" if row.dim == intent_stage => self.intents += row.events,
            "won" => {
                self.won += row.events;
                let value = self.won_value.entry(row.currency.clone()).or_default();
                value.0 += row.amount_minor;
                value.1 += row.events;
            }
            _ => {}
        }
    }

    fn answers(&self) -> FiveAnswers {
        let money = |currency: &String, amount_minor: i64| Money {
            currency: currency.clone(),
            amount_minor,
        };
        FiveAnswers {
            calls: self.calls,
            opportunities: self.opportunities,
            purchase_intents: self.intents,
            won: self.won,
            won_value: self
                .won_value
                .iter()
                .map(|(currency, (amount, _))| money(currency, *amount))
                .collect(),
            // Rounded down to the minor unit.
            average_deal: self
                .won_value
                .iter()
                .filter(|(_, (_, deals))| *deals > 0)
                .map(|(currency, (amount, deals))| money(currency, amount / deals))
                .collect(),
        }
    }
}

impl Reports {
    /// The five questions for the caller's scope, per rep and in total.
    pub async fn five(
        &self,
        caller: &Caller,
        request: &GetFiveQuestionsRequest,
        today: Date,
    ) -> Result<GetFiveQuestionsResponse, Error> {
        let days = period::resolve("period", request.period.as_ref(), PeriodKind::Week, today)?;
        let previous = days.previous();
        check_id("intent_stage", &request.intent_stage)?;
        let intent = if request.intent_stage.is_empty() {
            self.settings.intent_stage.clone()
        } else {
            request.intent_stage.clone()
        };
        if !self.reader.stages().await?.contains(&intent) {
            return Err(Error::invalid(
                "intent_stage",
                format!("unknown stage {intent:?}"),
            ));
        }
        let filter = self
            .filter(caller, &request.team_id, &request.rep_id)
            .await?;
        let mut reps: BTreeMap<(String, String), (Tally, Tally)> = BTreeMap::new();
        let (mut current, mut before) = (Tally::default(), Tally::default());
        for (which, span) in [(0, &days), (1, &previous)] {
            for row in self.read(&filter, span).await? {
                let rep = reps
                    .entry((row.team_id.clone(), row.rep_id.clone()))
                    .or_default();
                if which == 0 {
                    rep.0.add(&row, &intent);
                    current.add(&row, &intent);
                } else {
                    rep.1.add(&row, &intent);
                    before.add(&row, &intent);
                }
            }
        }
        Ok(GetFiveQuestionsResponse {
            period: Some(days.to_proto()),
            previous_period: Some(previous.to_proto()),
            intent_stage: intent,
            current: Some(current.answers()),
            previous: Some(before.answers()),
            reps: reps
                .into_iter()
                .map(|((team_id, rep_id), (now, then))| RepFive {
                    team_id,
                    rep_id,
                    current: Some(now.answers()),
                    previous: Some(then.answers()),
                })
                .collect(),
        })
    }

    async fn read(
        &self,
        filter: &crate::models::queries::Filter,
        days: &Days,
    ) -> Result<Vec<DailyRow>, Error> {
        Ok(self
            .reader
            .daily(filter, &days.from_key(), &days.to_key(), &METRICS)
            .await?)
    }
}
