-- The funnel read model: counters built from the event streams.
-- Portable between SQLite and Postgres: TEXT and BIGINT only.

-- One counter per (scope, team, rep, metric). scope is 'total', 'team'
-- or 'rep'; team_id and rep_id are '' where the scope has none (an empty
-- team id from an event stays distinguishable from the total by scope).
CREATE TABLE reporting_counters (
    scope TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (scope, team_id, rep_id, metric)
);

-- Facts already counted, by their natural key (an offer id, a lead id...).
-- The inbox drops a redelivered event id; this drops the same fact
-- announced again under a new event id, so counts never double.
CREATE TABLE reporting_facts (
    kind TEXT NOT NULL,
    fact_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    counted_at_ms BIGINT NOT NULL,
    PRIMARY KEY (kind, fact_key)
);
