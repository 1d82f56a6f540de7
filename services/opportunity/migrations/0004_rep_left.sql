-- A rep who left their team (wheel.rep.left) stays in the directory with
-- the team they left, so a late copy of an older membership cannot bring
-- them back and their book can still be handed over; NULL: on the team.
ALTER TABLE opps_reps ADD COLUMN left_at_ms BIGINT;
