-- Routing across teams: every version of the ordered rules is kept (the
-- audit: who set it, when); the highest version is in force. A lead keeps
-- how its team was chosen (rule, version, policy override) as JSON.
CREATE TABLE wheel_routing_rules (
    version BIGINT PRIMARY KEY,
    -- The ordered rules, as JSON (wheel-core's TeamRule list).
    rules TEXT NOT NULL,
    default_team_id TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at_ms BIGINT NOT NULL
);

ALTER TABLE wheel_leads ADD COLUMN routed_by TEXT;
