-- The sales read models: pipeline, forecast against quota, the five
-- questions. Built only from events; portable between SQLite and Postgres
-- (TEXT and BIGINT only). Days are 'YYYY-MM-DD' in the business time zone,
-- which sort like the dates they name.

-- Each opportunity's latest state, replaced only by a higher version, so a
-- late older event never overwrites a newer one.
CREATE TABLE reporting_opportunities (
    opportunity_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    account_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    weighted_minor BIGINT NOT NULL,
    probability_percent BIGINT NOT NULL,
    -- 'YYYY-MM-DD' or '' when not set.
    close_date TEXT NOT NULL,
    -- When it entered its current stage (for deals stuck in a stage).
    stage_entered_at_ms BIGINT NOT NULL,
    category TEXT NOT NULL
);

CREATE INDEX reporting_opportunities_account ON reporting_opportunities (account_id);

-- Each account's latest state (opps.account.*, replaced only by a higher
-- version): its owner, team and tier, for team balance.
CREATE TABLE reporting_accounts (
    account_id TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    tier TEXT NOT NULL,
    status TEXT NOT NULL
);

-- Open deals, summed per (team, rep, stage, currency, expected close day,
-- forecast category):
-- kept by adding a deal's new state and taking away its old one, so the
-- pipeline and the forecast read sums, not deals.
CREATE TABLE reporting_open (
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    currency TEXT NOT NULL,
    close_date TEXT NOT NULL,
    -- The deal's forecast category (pipeline, best_case, commit).
    category TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    weighted_minor BIGINT NOT NULL,
    PRIMARY KEY (team_id, rep_id, stage, currency, close_date, category)
);
CREATE INDEX reporting_open_close ON reporting_open (close_date);

-- Counters per business day, team, rep, metric ('won', 'lost',
-- 'converted', 'entered', 'activity'), dimension (a stage, an activity
-- kind) and currency.
CREATE TABLE reporting_daily (
    day TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    dim TEXT NOT NULL,
    currency TEXT NOT NULL,
    events BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (day, team_id, rep_id, metric, dim, currency)
);
CREATE INDEX reporting_daily_team ON reporting_daily (team_id, day);

-- Each counted fact by its natural key, with where it was counted: a
-- repeat is ignored, an earlier occurrence arriving late moves the count.
CREATE TABLE reporting_counted (
    metric TEXT NOT NULL,
    fact_key TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    day TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    dim TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (metric, fact_key)
);

-- Teams and their managers, reps and their teams (from the wheel): who may
-- see what, and which team ids exist.
CREATE TABLE reporting_teams (
    team_id TEXT PRIMARY KEY,
    manager_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX reporting_teams_manager ON reporting_teams (manager_id);
CREATE TABLE reporting_reps (
    rep_id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);

-- Known pipeline stages: opportunity's defaults (same positions and days
-- after which a deal counts as stuck; 0 = never), those opportunity
-- announces and those seen on deals.
CREATE TABLE reporting_stages (
    stage TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    stale_days BIGINT NOT NULL
);
INSERT INTO reporting_stages (stage, position, stale_days) VALUES
    ('needs_identified', 10, 30), ('trial', 20, 21), ('commercial', 30, 14),
    ('won', 40, 0), ('lost', 50, 0);

-- Quotas, set by managers: one amount in one currency per rep or team and
-- month, quarter or year (period_start is the period's first day).
CREATE TABLE reporting_quotas (
    scope TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    period_kind TEXT NOT NULL,
    period_start TEXT NOT NULL,
    period_end TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    team_id TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, subject_id, period_kind, period_start)
);
