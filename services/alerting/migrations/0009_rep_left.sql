-- A rep who left their team (`wheel.rep.left`): epoch ms, 0 while a member.
-- The row keeps the team they left, so their alerts still read right; a
-- manager no longer answers for them and timed rules about what they still
-- own go to the manager. Joining a team again clears it.
ALTER TABLE alerting_reps ADD COLUMN left_at_ms BIGINT NOT NULL DEFAULT 0;
