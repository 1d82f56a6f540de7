-- Each rep's leads in work (owned, work not closed), counted by ListReps,
-- the board and the capacity check before an offer: through
-- wheel_leads_owner the count visited every lead the rep ever owned and
-- checked work_closed_at_ms on each, growing with their history. This
-- partial index holds only the leads in work.
CREATE INDEX wheel_leads_in_work ON wheel_leads (owner_rep_id) WHERE work_closed_at_ms IS NULL;
