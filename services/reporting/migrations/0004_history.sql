-- Every version of every opportunity with the time of its change, so the
-- pipeline and the forecast can be read as of a past moment with the
-- amounts, stages and probabilities in force then. Insert-only, keyed by
-- version: repeats and late arrivals change nothing.
CREATE TABLE reporting_opportunity_history (
    opportunity_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    weighted_minor BIGINT NOT NULL,
    close_date TEXT NOT NULL,
    PRIMARY KEY (opportunity_id, version)
);
CREATE INDEX reporting_opportunity_history_at ON reporting_opportunity_history (at_ms);
