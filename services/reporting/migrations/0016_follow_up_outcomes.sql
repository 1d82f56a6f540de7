-- Follow-ups by outcome, pre-aggregated: per due day, team and rep (the
-- owner when it was set), how many follow-ups were done on time, done
-- late, replaced by a newer one before being done, or are not done yet
-- ('open': overdue or pending, told apart at query time by the due day
-- against today). Kept by the consumers beside reporting_follow_ups and
-- reporting_touches (models/aggregates.rs: an activity or a new follow-up
-- on an item can change the outcome of that item's follow-ups), derived
-- by a rebuild and, once, at the first start after this migration
-- (reporting_upkeep 'follow_up_outcomes'). The activity report reads
-- these sums instead of judging every follow-up due in the period.
CREATE TABLE reporting_follow_up_daily (
    due_date TEXT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    outcome TEXT NOT NULL,
    follow_ups BIGINT NOT NULL,
    PRIMARY KEY (due_date, team_id, rep_id, outcome)
);
