-- Leads a rep is working. One row per lead: the lead id is the key, so a
-- redelivered or repeated assignment can never create a second row.
-- Portable between SQLite and Postgres: TEXT and BIGINT only.
CREATE TABLE opps_leads_in_work (
    lead_id TEXT PRIMARY KEY,
    rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    -- "in_work" for now; conversion and disqualification come later.
    status TEXT NOT NULL,
    -- When the wheel assigned the lead (UTC epoch ms).
    claimed_at_ms BIGINT NOT NULL,
    -- When this service recorded it; the list order.
    opened_at_ms BIGINT NOT NULL,
    -- The wheel.lead.assigned event that opened it, for tracing back.
    assigned_event_id TEXT NOT NULL
);

-- Keyset paging, newest first, per rep and across everyone.
CREATE INDEX opps_leads_in_work_by_rep ON opps_leads_in_work (rep_id, opened_at_ms, lead_id);
CREATE INDEX opps_leads_in_work_by_time ON opps_leads_in_work (opened_at_ms, lead_id);
