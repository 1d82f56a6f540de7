-- An optional second escalation level: a named person told when an alert
-- escalated to the manager is still not acknowledged after a further delay.
ALTER TABLE alerting_rules ADD COLUMN second_escalation_to TEXT NOT NULL DEFAULT '';
ALTER TABLE alerting_rules ADD COLUMN second_escalate_after_ms BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerting_alerts ADD COLUMN second_escalation_to TEXT NOT NULL DEFAULT '';
ALTER TABLE alerting_alerts ADD COLUMN second_escalate_after_ms BIGINT NOT NULL DEFAULT 0;
