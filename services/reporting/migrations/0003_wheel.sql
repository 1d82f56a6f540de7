-- Wheel fairness and speed to lead. Counters (offers, first looks,
-- claims, passes by reason, expiries, pool claims) go to reporting_daily;
-- durations are kept one per fact so percentiles can be taken over any
-- period and scope.

-- One duration per (metric, fact): 'time_to_claim' (per offer),
-- 'system', 'offer_to_claim' and 'claim_to_touch' (per lead, its first
-- assignment), 'stage_time' (per stay of a deal in a stage; dim: the
-- stage). The earliest occurrence (at_ms) wins, whatever the order.
CREATE TABLE reporting_durations (
    metric TEXT NOT NULL,
    fact_key TEXT NOT NULL,
    dim TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    day TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    duration_ms BIGINT NOT NULL,
    PRIMARY KEY (metric, fact_key)
);
CREATE INDEX reporting_durations_day ON reporting_durations (metric, day);

-- A lead's first assignment (how: via 'offer', 'pool', 'direct',
-- 'account_owner', and the claimed offer), first touch, conversion and win,
-- whichever event arrives first: for claim → first touch and for routing
-- outcome to revenue.
CREATE TABLE reporting_leads (
    lead_id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    via TEXT NOT NULL,
    offer_id TEXT NOT NULL,
    -- The business day of the assignment ('' until known).
    assigned_day TEXT NOT NULL,
    -- 0 until known.
    assigned_at_ms BIGINT NOT NULL,
    first_touch_at_ms BIGINT NOT NULL,
    converted_at_ms BIGINT NOT NULL,
    won_at_ms BIGINT NOT NULL,
    won_currency TEXT NOT NULL,
    won_minor BIGINT NOT NULL
);
CREATE INDEX reporting_leads_day ON reporting_leads (assigned_day);
