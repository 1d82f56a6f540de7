-- The activity that set a follow-up (its next follow-up date), or '' for
-- one set on its own (opps.follow_up.set). A follow-up is done by the
-- first activity at or after the moment it was set other than the one
-- that set it. Comparing milliseconds alone ("strictly after") missed a
-- call logged in the same millisecond as the follow-up it did.
ALTER TABLE reporting_follow_ups ADD COLUMN set_by_activity TEXT NOT NULL DEFAULT '';

-- Rows written before this column: the activity on the same item at the
-- same moment is the one that set it (under the old rule no activity of
-- that millisecond counted as doing it; now only that one does not).
UPDATE reporting_follow_ups SET set_by_activity = COALESCE(
    (SELECT MIN(t.activity_id) FROM reporting_touches t
     WHERE t.item = reporting_follow_ups.item AND t.at_ms = reporting_follow_ups.set_at_ms),
    '');
