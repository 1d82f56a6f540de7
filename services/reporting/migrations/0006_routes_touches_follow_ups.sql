-- Routing rules, skips, touches before conversion, follow-ups on time.
-- Portable between SQLite and Postgres (TEXT and BIGINT only).

-- How the wheel chose a lead's team (wheel.lead.assigned): 'rule' with
-- the rule's id, 'default', 'team_hint', 'fallback', or '' when unknown.
ALTER TABLE reporting_leads ADD COLUMN routed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE reporting_leads ADD COLUMN rule_id TEXT NOT NULL DEFAULT '';

-- A deal's forecast category in each version, for the weekly snapshots
-- taken from the history ('' in rows written before this column).
ALTER TABLE reporting_opportunity_history ADD COLUMN category TEXT NOT NULL DEFAULT '';

-- Every activity on a lead or deal (item 'lead:<id>' or
-- 'opportunity:<id>') with when it happened: touches before a lead's
-- conversion, and the activity that did a follow-up. Insert-only, keyed
-- by the activity, so repeats and late arrivals change nothing; no
-- business day is kept, so a change of time zone needs no rebuild here.
CREATE TABLE reporting_touches (
    item TEXT NOT NULL,
    activity_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (item, activity_id)
);

-- Every follow-up set on a lead or deal (opps.follow_up.set, or an
-- activity's next follow-up date): its due day, the owner then, and when
-- it was set. Insert-only, keyed by (item, set_at_ms). Whether it was done
-- on time is read from reporting_touches at query time.
CREATE TABLE reporting_follow_ups (
    item TEXT NOT NULL,
    set_at_ms BIGINT NOT NULL,
    -- 'YYYY-MM-DD', or '' when the follow-up was cleared.
    due_date TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    PRIMARY KEY (item, set_at_ms)
);
CREATE INDEX reporting_follow_ups_due ON reporting_follow_ups (due_date);
