-- Touches before conversion, pre-aggregated: per business day of the
-- conversion, team and rep (of the converting rep), how many leads were
-- converted with exactly `touches` activities logged on the lead at or
-- before its conversion. Kept by the consumers beside reporting_counted
-- ('converted') and reporting_touches (models/aggregates.rs), derived from
-- them by a rebuild and, once, at the first start after this migration
-- (reporting_upkeep 'conversion_touches'). The activity report reads
-- these sums instead of counting touches per converted lead.
CREATE TABLE reporting_conversion_touches (
    day TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    touches BIGINT NOT NULL,
    leads BIGINT NOT NULL,
    PRIMARY KEY (day, team_id, rep_id, touches)
);
