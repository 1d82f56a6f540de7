-- The forecast's changes per deal and day (src/forecast_changes.rs): each
-- deal version changes, on its day, what the deal adds to one month's
-- forecast (won: its amount in the month won; open: its weighted value in
-- the month of its expected close date) by what it adds minus what the
-- version before it added, each under its own team, rep and currency.
-- The forecast's movement since a day sums the period's changes after it
-- (per currency, and per deal for the largest moves) instead of reading
-- each changed deal's versions then and now, which at 1,000,000 deals was
-- ~8,000 deals' versions for one team's month. Kept by the consumers with
-- each version (models/open_days.rs), written by a rebuild, derived from
-- the history once at the first start after this migration
-- (reporting_upkeep 'forecast_changes').
CREATE TABLE reporting_forecast_changes (
    team_id TEXT NOT NULL,
    month TEXT NOT NULL,
    day TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    currency TEXT NOT NULL,
    won_minor BIGINT NOT NULL,
    weighted_minor BIGINT NOT NULL,
    PRIMARY KEY (team_id, month, day, opportunity_id, rep_id, currency)
);
-- The movement's read from this index alone (the primary key's order with
-- the sums): a team's months, the days after the one compared with.
CREATE INDEX reporting_forecast_changes_sums ON reporting_forecast_changes
    (team_id, month, day, opportunity_id, rep_id, currency, won_minor, weighted_minor);
-- The movement no longer finds the deals that could add to a period
-- through the versions' close dates and won moments (0012): nothing else
-- reads those two indexes, and each cost the history's every write.
DROP INDEX reporting_opportunity_history_close;
DROP INDEX reporting_opportunity_history_won;
