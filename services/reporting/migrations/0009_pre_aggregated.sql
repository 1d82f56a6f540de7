-- Pre-aggregated read models for the reports that read one row per lead
-- or deal at query time before. Each is kept by the consumers beside its
-- base table (models/aggregates.rs: a row's contribution taken away before
-- a change and added after it) and can be recomputed from the base tables
-- (models/derived.rs). Portable between SQLite and Postgres (TEXT and
-- BIGINT only).

-- Routing outcome: the leads first assigned on a business day, per team,
-- rep, how the wheel chose the team (routed_by, rule_id), way of
-- assignment (route: first_look, later_in_lap, pool, account_owner,
-- direct) and the currency of their deal's win ('' while not won): how
-- many, how many converted, how many won and the won value, so far.
CREATE TABLE reporting_route_daily (
    day TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    routed_by TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    route TEXT NOT NULL,
    won_currency TEXT NOT NULL,
    leads BIGINT NOT NULL,
    converted BIGINT NOT NULL,
    won BIGINT NOT NULL,
    won_minor BIGINT NOT NULL,
    PRIMARY KEY (day, team_id, rep_id, routed_by, rule_id, route, won_currency)
);

-- A first look counted late moves the leads claimed through that offer
-- from later_in_lap to first_look: they are found by their offer.
CREATE INDEX reporting_leads_offer ON reporting_leads (offer_id);

-- Team balance: open and won deals per team, rep, their account's tier
-- ('' while the account is not known), stage, status and currency.
CREATE TABLE reporting_balance (
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    tier TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    deals BIGINT NOT NULL,
    amount_minor BIGINT NOT NULL,
    PRIMARY KEY (team_id, rep_id, tier, stage, status, currency)
);

-- Team balance: the accounts per team and owner, the active ones
-- (customers) and those with a won deal.
CREATE TABLE reporting_balance_accounts (
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    accounts BIGINT NOT NULL,
    customers BIGINT NOT NULL,
    won_customers BIGINT NOT NULL,
    PRIMARY KEY (team_id, rep_id)
);

-- Stuck deals: per stage, the open deals that entered it longest ago
-- first, so the stages report reads only the deals it lists (per team
-- too, for a manager's teams).
CREATE INDEX reporting_opportunities_stuck
    ON reporting_opportunities (status, stage, stage_entered_at_ms, opportunity_id);
CREATE INDEX reporting_opportunities_team_stuck
    ON reporting_opportunities (team_id, status, stage, stage_entered_at_ms, opportunity_id);
