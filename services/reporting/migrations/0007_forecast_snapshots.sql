-- Weekly snapshots of the forecast, taken by the service's snapshot job at
-- the configured weekday and hour (business time zone) from the deals'
-- version history. Not built from events: a rebuild keeps them, like the
-- quotas. Portable between SQLite and Postgres (TEXT and BIGINT only).

-- One row per snapshot, by its day ('YYYY-MM-DD'); a second replica or a
-- restart finds it and takes nothing.
CREATE TABLE reporting_snapshots (
    snapshot_day TEXT PRIMARY KEY,
    -- The moment it stands for (its weekday and hour) and when it was taken.
    at_ms BIGINT NOT NULL,
    taken_at_ms BIGINT NOT NULL,
    deals BIGINT NOT NULL
);

-- Each deal open at that moment, or won in its calendar year or the one
-- before, as it stood.
CREATE TABLE reporting_snapshot_deals (
    snapshot_day TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    category TEXT NOT NULL,
    close_date TEXT NOT NULL,
    won_day TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    weighted_minor BIGINT NOT NULL,
    PRIMARY KEY (snapshot_day, opportunity_id)
);

-- The forecast then, per rep, period (the month, quarter and year each
-- deal closes or was won in), currency and category ('closed' for won).
CREATE TABLE reporting_snapshot_lines (
    snapshot_day TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    period_kind TEXT NOT NULL,
    period_start TEXT NOT NULL,
    currency TEXT NOT NULL,
    category TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    value_minor BIGINT NOT NULL,
    PRIMARY KEY (snapshot_day, team_id, rep_id, period_kind, period_start, currency, category)
);
