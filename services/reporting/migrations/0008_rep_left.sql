-- A rep who left their team (`wheel.rep.left`) stays in the roster, marked
-- left (epoch ms; 0 while a member), so reports show their history but do
-- not count them as a current member. Joining a team again clears it.
ALTER TABLE reporting_reps ADD COLUMN left_at_ms BIGINT NOT NULL DEFAULT 0;
