-- Working hours (JSON: time zone, weekly hours, days off) and the lead
-- tiers and regions a rep takes; the lead's country for region matching.
ALTER TABLE wheel_reps ADD COLUMN schedule TEXT NOT NULL DEFAULT '{}';
ALTER TABLE wheel_reps ADD COLUMN skills TEXT NOT NULL DEFAULT '{}';
ALTER TABLE wheel_leads ADD COLUMN country TEXT NOT NULL DEFAULT '';
