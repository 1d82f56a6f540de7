-- Durations as histograms (src/histogram.rs) per business day and per
-- month: one row per (metric, day or month, team, rep, dim) holding that
-- cell's histogram as text ("facts:min:max" per bucket). The percentiles of
-- a period read its whole months and the days around them: a number of
-- rows that grows with reps and days, not with the facts in the period
-- (reporting_durations keeps one row per fact, the source of these).
-- Filled from reporting_durations at the first start after this migration
-- (reporting_upkeep 'duration_histograms').
CREATE TABLE reporting_duration_days (
    metric TEXT NOT NULL,
    day TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    dim TEXT NOT NULL,
    histogram TEXT NOT NULL,
    PRIMARY KEY (metric, day, team_id, rep_id, dim)
);

CREATE TABLE reporting_duration_months (
    metric TEXT NOT NULL,
    month TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    dim TEXT NOT NULL,
    histogram TEXT NOT NULL,
    PRIMARY KEY (metric, month, team_id, rep_id, dim)
);
