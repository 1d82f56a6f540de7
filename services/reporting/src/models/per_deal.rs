//! Reads for team balance, routing outcome and the deals changed since a
//! past moment. Balance and routing outcome sum pre-aggregated buckets; the
//! changed deals are read one row per deal version. The sums the everyday
//! reports read are in `queries.rs`.

use std::collections::BTreeMap;

use leadwheel_plumbing::store::{Backend, StoreError};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::queries::{Filter, Reader, fetch};

/// Open and won deals of one rep, tier, stage and currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TierRow {
    pub team_id: String,
    pub rep_id: String,
    pub tier: String,
    pub stage: String,
    pub currency: String,
    pub deals: i64,
    pub amount_minor: i64,
}

impl Reader {
    /// Open and won deals within `filter` by account tier and stage: sums
    /// of the buckets of `reporting_balance` (kept by `aggregates.rs`).
    pub async fn by_tier(&self, filter: &Filter) -> Result<Vec<TierRow>, StoreError> {
        let (clause, binds) = filter.clause(1);
        // A bucket whose deals all moved elsewhere holds zeros: left out.
        let sql = format!(
            "SELECT team_id, rep_id, tier, stage, currency, CAST(SUM(deals) AS BIGINT) AS deals, \
             CAST(SUM(amount_minor) AS BIGINT) AS amount_minor FROM reporting_balance \
             WHERE deals > 0{clause} GROUP BY team_id, rep_id, tier, stage, currency \
             ORDER BY team_id, rep_id, tier, stage, currency"
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok(TierRow {
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    tier: row.try_get("tier")?,
                    stage: row.try_get("stage")?,
                    currency: row.try_get("currency")?,
                    deals: row.try_get("deals")?,
                    amount_minor: row.try_get("amount_minor")?,
                })
            })
            .collect()
    }

    /// Per (team, owner): active accounts, and accounts with a won deal,
    /// from `reporting_balance_accounts` (kept by `aggregates.rs`).
    pub async fn customers(
        &self,
        filter: &Filter,
    ) -> Result<Vec<(String, String, i64, i64)>, StoreError> {
        let (clause, binds) = filter.clause(1);
        // An owner whose accounts all moved elsewhere holds zeros: left out.
        let sql = format!(
            "SELECT team_id, rep_id AS owner_rep_id, customers, won_customers \
             FROM reporting_balance_accounts WHERE accounts > 0{clause} \
             ORDER BY team_id, rep_id"
        );
        let rows = fetch(&self.store, &sql, &binds).await?;
        rows.iter()
            .map(|row| {
                Ok((
                    row.try_get("team_id")?,
                    row.try_get("owner_rep_id")?,
                    row.try_get("customers")?,
                    row.try_get("won_customers")?,
                ))
            })
            .collect()
    }
}

/// Leads of one team, routing rule, route and won currency.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteRow {
    pub team_id: String,
    /// How the wheel chose the team (`rule`, `default`, …, or "").
    pub routed_by: String,
    /// The rule, when `routed_by` is `rule`.
    pub rule_id: String,
    pub route: String,
    pub won_currency: String,
    pub leads: i64,
    pub converted: i64,
    pub won: i64,
    pub won_minor: i64,
}

impl Reader {
    /// Leads assigned within `filter` on the days `from` to `to`, by team,
    /// routing rule, route and won currency. An offer claim is a first look
    /// when its offer was counted as one. Sums the per-day buckets of
    /// `reporting_route_daily` (kept by `aggregates.rs`), not the leads.
    pub async fn routes(
        &self,
        filter: &Filter,
        from: &str,
        to: &str,
    ) -> Result<Vec<RouteRow>, StoreError> {
        let (clause, binds) = filter.clause(3);
        // A bucket whose leads all moved elsewhere holds zeros: left out.
        let sql = format!(
            "SELECT team_id, routed_by, rule_id, route, won_currency, \
             CAST(SUM(leads) AS BIGINT) AS leads, CAST(SUM(converted) AS BIGINT) AS converted, \
             CAST(SUM(won) AS BIGINT) AS won, CAST(SUM(won_minor) AS BIGINT) AS won_minor \
             FROM reporting_route_daily \
             WHERE leads > 0 AND day >= $1 AND day <= $2{clause} \
             GROUP BY team_id, routed_by, rule_id, route, won_currency \
             ORDER BY team_id, routed_by, rule_id, route, won_currency"
        );
        let mut all = vec![from.to_string(), to.to_string()];
        all.extend(binds);
        let rows = fetch(&self.store, &sql, &all).await?;
        rows.iter()
            .map(|row| {
                Ok(RouteRow {
                    team_id: row.try_get("team_id")?,
                    routed_by: row.try_get("routed_by")?,
                    rule_id: row.try_get("rule_id")?,
                    route: row.try_get("route")?,
                    won_currency: row.try_get("won_currency")?,
                    leads: row.try_get("leads")?,
                    converted: row.try_get("converted")?,
                    won: row.try_get("won")?,
                    won_minor: row.try_get("won_minor")?,
                })
            })
            .collect()
    }
}

/// An opportunity as it stood at some moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DealAsOf {
    pub opportunity_id: String,
    pub at_ms: i64,
    pub team_id: String,
    pub rep_id: String,
    pub stage: String,
    pub status: String,
    pub currency: String,
    pub amount_minor: i64,
    pub weighted_minor: i64,
    pub close_date: String,
}

impl Reader {
    /// The opportunities with a version in (`since_ms`, `now_ms`]: each
    /// one's version in force at `since_ms` and at `now_ms`, each `None`
    /// when there was none or it was outside `filter` then. Reads only the
    /// deals that changed (an index on the versions' moments), so what
    /// moved in a week costs that week's changes, not every deal.
    pub async fn changed_deals(
        &self,
        filter: &Filter,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<ChangedDeal>, StoreError> {
        let versions = self.changed_versions(since_ms, now_ms).await?;
        let mut changed: Vec<ChangedDeal> = Vec::new();
        for chunk in versions.chunks(VERSIONS_PER_READ) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let (clause, binds) = filter.clause(chunk.len() + 1);
            let sql = format!(
                "SELECT opportunity_id, version, at_ms, team_id, rep_id, stage, status, currency, \
                 amount_minor, weighted_minor, close_date FROM reporting_opportunity_history \
                 WHERE opportunity_id IN ({}){clause} ORDER BY opportunity_id, version",
                marks.join(", ")
            );
            let mut all: Vec<String> = chunk.iter().map(|(id, _, _)| id.clone()).collect();
            all.extend(binds);
            let rows = fetch(&self.store, &sql, &all).await?;
            let wanted: std::collections::HashMap<&str, (Option<i64>, Option<i64>)> = chunk
                .iter()
                .map(|(id, then, now)| (id.as_str(), (*then, *now)))
                .collect();
            for row in &rows {
                let version: i64 = row.try_get("version")?;
                let opportunity_id: String = row.try_get("opportunity_id")?;
                let Some(&(then_version, now_version)) = wanted.get(opportunity_id.as_str()) else {
                    continue;
                };
                let (is_then, is_now) =
                    (then_version == Some(version), now_version == Some(version));
                if !is_then && !is_now {
                    continue;
                }
                let deal = DealAsOf {
                    opportunity_id,
                    at_ms: row.try_get("at_ms")?,
                    team_id: row.try_get("team_id")?,
                    rep_id: row.try_get("rep_id")?,
                    stage: row.try_get("stage")?,
                    status: row.try_get("status")?,
                    currency: row.try_get("currency")?,
                    amount_minor: row.try_get("amount_minor")?,
                    weighted_minor: row.try_get("weighted_minor")?,
                    close_date: row.try_get("close_date")?,
                };
                if changed
                    .last()
                    .is_none_or(|last| last.opportunity_id != deal.opportunity_id)
                {
                    changed.push(ChangedDeal {
                        opportunity_id: deal.opportunity_id.clone(),
                        then: None,
                        now: None,
                    });
                }
                let last = changed.last_mut().expect("pushed above");
                if is_then {
                    last.then = Some(deal.clone());
                }
                if is_now {
                    last.now = Some(deal);
                }
            }
        }
        Ok(changed)
    }

    /// The deals [`Self::changed_deals`] reads, by id (sorted), with their
    /// versions in force at `since_ms` and at `now_ms`: a small set, found
    /// through the indexes and each deal's primary key. The versions' rows
    /// are then read by id in chunks, which both backends answer from the
    /// primary key whatever their statistics say; one join here let
    /// SQLite 3.51 (no statistics) scan every version and Postgres (after
    /// a rebuild, before its statistics caught up) scan or range-search
    /// per deal, hundreds of milliseconds to seconds at 100,000 deals.
    async fn changed_versions(
        &self,
        since_ms: i64,
        now_ms: i64,
    ) -> Result<Vec<(String, Option<i64>, Option<i64>)>, StoreError> {
        let sql = "WITH changed AS (SELECT DISTINCT opportunity_id \
             FROM reporting_opportunity_history WHERE at_ms > $1 AND at_ms <= $2), \
             picked AS MATERIALIZED (SELECT c.opportunity_id, \
             (SELECT MAX(v.version) FROM reporting_opportunity_history v \
             WHERE v.opportunity_id = c.opportunity_id AND v.at_ms <= $1) AS then_version, \
             (SELECT MAX(v.version) FROM reporting_opportunity_history v \
             WHERE v.opportunity_id = c.opportunity_id AND v.at_ms <= $2) AS now_version \
             FROM changed c) \
             SELECT p.opportunity_id, p.then_version, p.now_version FROM picked p \
             ORDER BY p.opportunity_id";
        sqlx::query(sql)
            .bind(since_ms)
            .bind(now_ms)
            .fetch_all(self.store.pool())
            .await?
            .iter()
            .map(|row| {
                Ok((
                    row.try_get("opportunity_id")?,
                    row.try_get("then_version")?,
                    row.try_get("now_version")?,
                ))
            })
            .collect()
    }
}

/// The deals that moved a forecast period since a moment, summed and the
/// largest listed ([`Reader::forecast_moves`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ForecastMoves {
    /// Per currency, what the changed deals added to the period's forecast
    /// then minus what they add now: (won, weighted open).
    pub then_minus_now: BTreeMap<String, (i64, i64)>,
    /// How many deals add a different amount now than then.
    pub deals_moved: i64,
    /// The largest of those moves, largest change first, then by deal.
    pub largest: Vec<MovedDeal>,
}

/// One deal's move: what it added to the period then and now, and how it
/// stood (`None`: no version yet, or outside the filter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MovedDeal {
    pub opportunity_id: String,
    pub before_minor: i64,
    pub after_minor: i64,
    pub then: Option<DealSide>,
    pub now: Option<DealSide>,
}

/// What a move shows of a deal at one moment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DealSide {
    pub team_id: String,
    pub rep_id: String,
    pub currency: String,
    pub stage: String,
    pub close_date: String,
}

impl Reader {
    /// How the forecast of the period `bounds` moved within `filter`
    /// between `since_ms` and `now_ms`, computed in the store: each changed
    /// deal's contribution then and now (its amount when won in the period,
    /// its weighted value when open and expected to close in it, from the
    /// version in force at each moment, so a probability changed later does
    /// not rewrite what was forecast before), summed per currency and
    /// counted, and only the `limit` largest moves returned. The deals read
    /// are those with some version that could add to the period; only the
    /// sums and the listed rows cross to the service (at 1,000,000 deals a
    /// period's changes since early in it are ~8,000 deals: read row by row
    /// they took ~240 ms).
    pub async fn forecast_moves(
        &self,
        filter: &Filter,
        (since_ms, now_ms): (i64, i64),
        bounds: &ForecastBounds,
        limit: usize,
    ) -> Result<ForecastMoves, StoreError> {
        // $1 since, $2 now, $3..$6 the bounds, $7 the limit, then the
        // filter's values, bound once and used on each side.
        let (clause, binds) = filter.clause(8);
        let (then_clause, _) = filter.clause_on("t.", 8);
        let (now_clause, _) = filter.clause_on("n.", 8);
        // Postgres is told to look each side up by its key (a lateral
        // subquery); a plain join could be planned as a scan of every
        // version when its estimate of the changed deals is off. SQLite has
        // no LATERAL and looks a materialised table's rows up by key.
        let version_at = |alias: &str, version: &str, side_clause: &str| match self.store.backend()
        {
            Backend::Postgres => format!(
                "LEFT JOIN LATERAL (SELECT * FROM reporting_opportunity_history {alias} \
                 WHERE {alias}.opportunity_id = p.opportunity_id \
                 AND {alias}.version = p.{version}{side_clause}) {alias} ON TRUE"
            ),
            Backend::Sqlite => format!(
                "LEFT JOIN reporting_opportunity_history {alias} \
                 ON {alias}.opportunity_id = p.opportunity_id \
                 AND {alias}.version = p.{version}{side_clause}"
            ),
        };
        let side = |alias: &str| {
            format!(
                "{alias}.team_id AS {alias}_team, {alias}.rep_id AS {alias}_rep, \
                 {alias}.currency AS {alias}_currency, {alias}.stage AS {alias}_stage, \
                 {alias}.close_date AS {alias}_close, \
                 CASE WHEN {alias}.status = 'won' AND {alias}.at_ms >= $5 \
                 AND {alias}.at_ms <= $6 THEN {alias}.amount_minor ELSE 0 END AS {alias}_won, \
                 CASE WHEN {alias}.status = 'open' AND {alias}.close_date >= $3 \
                 AND {alias}.close_date <= $4 THEN {alias}.weighted_minor ELSE 0 END \
                 AS {alias}_open"
            )
        };
        let (no_text, no_number) = ("CAST(NULL AS TEXT)", "CAST(NULL AS BIGINT)");
        // The first SELECT names the columns; the others line up with it.
        let no_side = [no_text; 5].join(", ");
        let named_no_side = |alias: &str| {
            ["team", "rep", "currency", "stage", "close"]
                .map(|column| format!("{no_text} AS {alias}_{column}"))
                .join(", ")
        };
        let sql = format!(
            "WITH changed AS (SELECT opportunity_id FROM reporting_opportunity_history \
             WHERE close_date >= $3 AND close_date <= $4{clause} \
             UNION SELECT opportunity_id FROM reporting_opportunity_history \
             WHERE status = 'won' AND at_ms >= $5 AND at_ms <= $6{clause}), \
             picked AS MATERIALIZED (SELECT c.opportunity_id, \
             (SELECT MAX(v.version) FROM reporting_opportunity_history v \
             WHERE v.opportunity_id = c.opportunity_id AND v.at_ms <= $1) AS then_version, \
             (SELECT MAX(v.version) FROM reporting_opportunity_history v \
             WHERE v.opportunity_id = c.opportunity_id AND v.at_ms <= $2) AS now_version \
             FROM changed c), \
             sides AS MATERIALIZED (SELECT p.opportunity_id, {then_side}, {now_side} \
             FROM picked p {then_join} {now_join} \
             WHERE p.then_version IS DISTINCT FROM p.now_version), \
             moved AS MATERIALIZED (SELECT * FROM sides WHERE t_won + t_open <> n_won + n_open) \
             SELECT CAST(0 AS BIGINT) AS part, CAST(NULL AS TEXT) AS opportunity_id, currency, \
             CAST(SUM(won) AS BIGINT) AS won_minor, CAST(SUM(weighted) AS BIGINT) AS weighted_minor, \
             {then_names}, {now_names}, {no_number} AS before_minor, \
             {no_number} AS after_minor \
             FROM (SELECT t_currency AS currency, t_won AS won, t_open AS weighted FROM sides \
             WHERE t_currency IS NOT NULL \
             UNION ALL SELECT n_currency, -n_won, -n_open FROM sides \
             WHERE n_currency IS NOT NULL) AS parts GROUP BY currency \
             UNION ALL SELECT CAST(1 AS BIGINT), {no_text}, {no_text}, CAST(COUNT(*) AS BIGINT), \
             {no_number}, {no_side}, {no_side}, {no_number}, {no_number} FROM moved \
             UNION ALL SELECT * FROM (SELECT CAST(2 AS BIGINT), opportunity_id, {no_text}, \
             {no_number}, {no_number}, t_team, t_rep, t_currency, t_stage, t_close, \
             n_team, n_rep, n_currency, n_stage, n_close, \
             CAST(t_won + t_open AS BIGINT), CAST(n_won + n_open AS BIGINT) FROM moved \
             ORDER BY ABS((n_won + n_open) - (t_won + t_open)) DESC, opportunity_id \
             LIMIT $7) AS largest",
            then_names = named_no_side("t"),
            now_names = named_no_side("n"),
            then_side = side("t"),
            now_side = side("n"),
            then_join = version_at("t", "then_version", &then_clause),
            now_join = version_at("n", "now_version", &now_clause),
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(since_ms)
            .bind(now_ms)
            .bind(bounds.from.clone())
            .bind(bounds.to.clone())
            .bind(bounds.start_ms)
            .bind(bounds.end_ms)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX));
        for value in binds {
            query = query.bind(value);
        }
        let mut moves = ForecastMoves::default();
        for row in query.fetch_all(self.store.pool()).await? {
            match row.try_get::<i64, _>("part")? {
                0 => {
                    moves.then_minus_now.insert(
                        row.try_get("currency")?,
                        (row.try_get("won_minor")?, row.try_get("weighted_minor")?),
                    );
                }
                1 => moves.deals_moved = row.try_get("won_minor")?,
                _ => moves.largest.push(MovedDeal {
                    opportunity_id: row.try_get("opportunity_id")?,
                    before_minor: row.try_get("before_minor")?,
                    after_minor: row.try_get("after_minor")?,
                    then: deal_side(&row, "t")?,
                    now: deal_side(&row, "n")?,
                }),
            }
        }
        // The listed rows' order within the union is the store's to choose.
        moves.largest.sort_by(|a, b| {
            (b.after_minor - b.before_minor)
                .abs()
                .cmp(&(a.after_minor - a.before_minor).abs())
                .then_with(|| a.opportunity_id.cmp(&b.opportunity_id))
        });
        Ok(moves)
    }
}

/// The side `alias` (`t` then, `n` now) of a moved deal's row, `None` when
/// the deal had no version in the filter at that moment.
fn deal_side(row: &AnyRow, alias: &str) -> Result<Option<DealSide>, StoreError> {
    let text =
        |column: &str| row.try_get::<Option<String>, _>(format!("{alias}_{column}").as_str());
    let Some(team_id) = text("team")? else {
        return Ok(None);
    };
    Ok(Some(DealSide {
        team_id,
        rep_id: text("rep")?.unwrap_or_default(),
        currency: text("currency")?.unwrap_or_default(),
        stage: text("stage")?.unwrap_or_default(),
        close_date: text("close")?.unwrap_or_default(),
    }))
}

/// Deals whose versions one statement reads by id (well under both
/// backends' limits on bound values).
const VERSIONS_PER_READ: usize = 500;

/// What a deal version must match to add to a forecast period: open with
/// its close date in `from..=to` (days, `YYYY-MM-DD`), or won at a moment in
/// `start_ms..=end_ms` (the period's first and last millisecond in the
/// business time zone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ForecastBounds {
    pub from: String,
    pub to: String,
    pub start_ms: i64,
    pub end_ms: i64,
}

/// A deal changed since a moment: as it stood then and now (`None`: no
/// version yet, or outside the filter).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangedDeal {
    pub opportunity_id: String,
    pub then: Option<DealAsOf>,
    pub now: Option<DealAsOf>,
}
