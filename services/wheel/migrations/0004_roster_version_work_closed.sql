-- Bumped with every change to a team's roster (members, availability,
-- rank, capacity, schedule, skills), so a replica can keep the roster in
-- memory and reload it only when this moved.
ALTER TABLE wheel_teams ADD COLUMN roster_version BIGINT NOT NULL DEFAULT 0;
-- When opportunity reported the lead's work done (converted, disqualified,
-- handed back): from then on it no longer counts toward its owner's
-- capacity.
ALTER TABLE wheel_leads ADD COLUMN work_closed_at_ms BIGINT;
