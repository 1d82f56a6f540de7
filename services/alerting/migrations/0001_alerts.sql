-- Alerts raised for managers and reps.
-- Portable between SQLite and Postgres: TEXT and BIGINT only.
CREATE TABLE alerting_alerts (
    alert_id TEXT PRIMARY KEY,
    -- The rule that raised it, e.g. "lead_pooled".
    kind TEXT NOT NULL,
    -- What makes two alerts "the same" for this kind (for lead_pooled, the
    -- lead id): a repeated or redelivered event raises one alert.
    dedupe_key TEXT NOT NULL,
    team_id TEXT NOT NULL,
    -- A manager or rep id; empty when nobody could be named (admins see it).
    recipient_id TEXT NOT NULL,
    -- The entity the alert is about, e.g. a lead id.
    subject_key TEXT NOT NULL,
    message TEXT NOT NULL,
    raised_at_ms BIGINT NOT NULL,
    UNIQUE (kind, dedupe_key)
);

-- Keyset paging, newest first, per recipient and across everyone.
CREATE INDEX alerting_alerts_by_recipient ON alerting_alerts (recipient_id, raised_at_ms, alert_id);
CREATE INDEX alerting_alerts_by_time ON alerting_alerts (raised_at_ms, alert_id);
