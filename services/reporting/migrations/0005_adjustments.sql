-- A manager's own forecast for a rep or team and period, kept beside the
-- computed one (set through the API, not from events).
CREATE TABLE reporting_adjustments (
    scope TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    period_kind TEXT NOT NULL,
    period_start TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    note TEXT NOT NULL,
    team_id TEXT NOT NULL,
    set_by TEXT NOT NULL,
    set_at_ms BIGINT NOT NULL,
    PRIMARY KEY (scope, subject_id, period_kind, period_start)
);
