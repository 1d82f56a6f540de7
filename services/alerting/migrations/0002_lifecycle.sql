-- Alert lifecycle, rules, durable timers and the team directory.
-- Portable between SQLite and Postgres: TEXT and BIGINT only.

-- "open", "acknowledged", "snoozed" or "resolved".
ALTER TABLE alerting_alerts ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
-- The subject's owner and their manager when raised (empty: none).
ALTER TABLE alerting_alerts ADD COLUMN rep_id TEXT NOT NULL DEFAULT '';
ALTER TABLE alerting_alerts ADD COLUMN manager_id TEXT NOT NULL DEFAULT '';
ALTER TABLE alerting_alerts ADD COLUMN acknowledged_by TEXT NOT NULL DEFAULT '';
ALTER TABLE alerting_alerts ADD COLUMN acknowledged_at_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerting_alerts ADD COLUMN snoozed_until_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerting_alerts ADD COLUMN resolved_at_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerting_alerts ADD COLUMN resolved_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE alerting_alerts ADD COLUMN escalation_level BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerting_alerts ADD COLUMN escalated_at_ms BIGINT NOT NULL DEFAULT 0;
-- The rule's escalation delay when raised (0: never escalates).
ALTER TABLE alerting_alerts ADD COLUMN escalate_after_ms BIGINT NOT NULL DEFAULT 0;

-- Open alerts of one subject, to resolve them when the condition clears.
CREATE INDEX alerting_alerts_by_subject ON alerting_alerts (kind, subject_key, state);
CREATE INDEX alerting_alerts_by_team ON alerting_alerts (team_id, raised_at_ms, alert_id);

-- Everyone an alert was addressed to: the first recipients, then whoever
-- an escalation added. Delivery and visibility read this.
CREATE TABLE alerting_recipients (
    alert_id TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    -- "raised" or "escalated".
    reason TEXT NOT NULL,
    added_at_ms BIGINT NOT NULL,
    -- Order of telling: the first recipients in rule order, then escalations.
    position BIGINT NOT NULL,
    PRIMARY KEY (alert_id, recipient_id)
);
CREATE INDEX alerting_recipients_by_recipient ON alerting_recipients (recipient_id, alert_id);

-- Rules a manager set; a rule without a row uses the documented default.
CREATE TABLE alerting_rules (
    team_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    enabled BIGINT NOT NULL,
    threshold_ms BIGINT NOT NULL,
    -- JSON object stage → milliseconds (stuck_in_stage only; else "{}").
    stage_thresholds TEXT NOT NULL,
    -- "rep", "manager" or "both".
    recipients TEXT NOT NULL,
    escalate_after_ms BIGINT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    PRIMARY KEY (team_id, rule)
);

-- Durable timers: one armed timer per key (rule and subject, or an
-- alert's escalation or snooze end). Armed and disarmed in the same
-- transaction as the event that caused it; the timer loop fires them.
CREATE TABLE alerting_timers (
    timer_key TEXT PRIMARY KEY,
    due_at_ms BIGINT NOT NULL,
    -- JSON: what the timer needs to act when it fires.
    payload TEXT NOT NULL,
    armed_at_ms BIGINT NOT NULL
);
CREATE INDEX alerting_timers_by_due ON alerting_timers (due_at_ms, timer_key);

-- Who manages which team and which team a rep is in, from the wheel's
-- events, so alerts find the manager and managers see their team's.
CREATE TABLE alerting_teams (
    team_id TEXT PRIMARY KEY,
    manager_id TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX alerting_teams_by_manager ON alerting_teams (manager_id, team_id);
CREATE TABLE alerting_reps (
    rep_id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Pipeline stages opportunity announced (opps.pipeline.stage_changed), so a
-- rule naming a stage can be checked; the default stages need no row.
CREATE TABLE alerting_stages (
    stage TEXT PRIMARY KEY,
    -- "open", "won" or "lost".
    outcome TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- Alerts raised before this migration were addressed to one recipient.
INSERT INTO alerting_recipients (alert_id, recipient_id, reason, added_at_ms, position)
SELECT alert_id, recipient_id, 'raised', raised_at_ms, 0 FROM alerting_alerts WHERE recipient_id <> '';
