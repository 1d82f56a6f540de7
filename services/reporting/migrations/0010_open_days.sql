-- The open pipeline as of any past day (open_days.rs): its changes per
-- business day, and the same summed per month, per team, rep, stage and
-- currency. The pipeline at the end of day D is the sum of the months
-- before D's month and of D's month's days up to D. Kept by the consumers
-- with each deal version (models/open_days.rs) and recomputable from
-- reporting_opportunity_history.
CREATE TABLE reporting_open_daily (
    day TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    currency TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    weighted_minor BIGINT NOT NULL,
    PRIMARY KEY (day, team_id, rep_id, stage, currency)
);

CREATE TABLE reporting_open_monthly (
    month TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    currency TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    weighted_minor BIGINT NOT NULL,
    PRIMARY KEY (month, team_id, rep_id, stage, currency)
);

-- The forecast's movement reads the deals changed since a moment: their
-- versions after it (from this index alone), then each one's versions up
-- to it and up to now. It covers the index on at_ms alone.
CREATE INDEX reporting_opportunity_history_changed
    ON reporting_opportunity_history (at_ms, opportunity_id);
DROP INDEX reporting_opportunity_history_at;

-- The reports of durations (time in stage, time to claim, speed to lead)
-- read a period's durations of some metrics from this index alone, not
-- one table row per duration. It covers the index on (metric, day).
CREATE INDEX reporting_durations_period
    ON reporting_durations (metric, day, team_id, rep_id, dim, duration_ms);
DROP INDEX reporting_durations_day;

-- Which pre-aggregated tables have been derived from their base tables
-- in this database (at the first start after the migration that added
-- them, so an upgraded database does not read empty sums).
CREATE TABLE reporting_upkeep (
    name TEXT PRIMARY KEY,
    done_at_ms BIGINT NOT NULL
);

-- The reports that sum some metrics of a period's days (pipeline's won and
-- lost, the five questions, forecast's won, stages' moves) read those
-- metrics' rows from this index alone; the key starting with the day made
-- them read every metric of the period's days.
CREATE INDEX reporting_daily_metric
    ON reporting_daily (metric, day, team_id, rep_id, dim, currency, events, amount_minor);
