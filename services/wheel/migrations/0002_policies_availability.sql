-- Team policies (tier windows, rotation, pool timeout, chain budget...)
-- and the round-robin standing as JSON owned by the pure core; rep
-- availability, rank and capacity; pool escalation deadlines.

ALTER TABLE wheel_teams ADD COLUMN policy TEXT NOT NULL DEFAULT '{}';
ALTER TABLE wheel_teams ADD COLUMN rotation TEXT NOT NULL DEFAULT '{}';
ALTER TABLE wheel_teams ADD COLUMN rotation_version BIGINT NOT NULL DEFAULT 0;

-- available | away
ALTER TABLE wheel_reps ADD COLUMN availability TEXT NOT NULL DEFAULT 'available';
ALTER TABLE wheel_reps ADD COLUMN rep_rank BIGINT NOT NULL DEFAULT 0;
-- Open leads plus offers in flight at which the rep is skipped; 0 = no cap.
ALTER TABLE wheel_reps ADD COLUMN capacity BIGINT NOT NULL DEFAULT 0;
-- Offers in a row the rep let lapse (the circuit breaker's count).
ALTER TABLE wheel_reps ADD COLUMN consecutive_expiries BIGINT NOT NULL DEFAULT 0;

-- When a pooled lead escalates to the manager (NULL: never).
ALTER TABLE wheel_leads ADD COLUMN escalate_at_ms BIGINT;
CREATE INDEX wheel_leads_escalation ON wheel_leads (state, escalate_at_ms);
