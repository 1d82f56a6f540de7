-- Rules with more parameters (rep_saturated), and the accounts alerting
-- watches for silent customers.

-- rep_saturated: the share (percent) of passes and expiries that alerts,
-- and the fewest offers in the window before it may.
ALTER TABLE alerting_rules ADD COLUMN share_percent BIGINT NOT NULL DEFAULT 0;
ALTER TABLE alerting_rules ADD COLUMN min_count BIGINT NOT NULL DEFAULT 0;

-- Accounts as opportunity last announced them, with their last touch.
CREATE TABLE alerting_accounts (
    account_id TEXT PRIMARY KEY,
    owner_rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    tier TEXT NOT NULL,
    -- "active" or "closed".
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    last_touch_ms BIGINT NOT NULL
);

-- Offers that ended, per rep, for the saturation window (pruned past it).
CREATE TABLE alerting_offer_outcomes (
    offer_id TEXT PRIMARY KEY,
    rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    -- 1 for passed or expired, 0 for claimed.
    missed BIGINT NOT NULL,
    closed_at_ms BIGINT NOT NULL
);
CREATE INDEX alerting_offer_outcomes_by_rep ON alerting_offer_outcomes (rep_id, closed_at_ms);

-- Handover tasks not yet done (for handover_task_overdue), so a touch on
-- the task's customer or the handover's completion finds them.
CREATE TABLE alerting_handover_tasks (
    task_id TEXT PRIMARY KEY,
    handover_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    lead_id TEXT NOT NULL
);
CREATE INDEX alerting_handover_tasks_by_handover ON alerting_handover_tasks (handover_id);
CREATE INDEX alerting_handover_tasks_by_account ON alerting_handover_tasks (account_id);
CREATE INDEX alerting_handover_tasks_by_lead ON alerting_handover_tasks (lead_id);
