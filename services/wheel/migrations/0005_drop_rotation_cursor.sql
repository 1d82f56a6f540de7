-- The first-look cursor became a per-rep standing (wheel_teams.rotation,
-- migration 0002); the old single cursor was never read since.
ALTER TABLE wheel_teams DROP COLUMN rotation_cursor;
