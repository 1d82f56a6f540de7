-- Everything after the claim: conversion, accounts, opportunities and their
-- stages, activities, the wheel's team directory, handovers and their tasks.
-- Portable between SQLite and Postgres: TEXT and BIGINT only; times are UTC
-- epoch ms, dates "YYYY-MM-DD" text (they sort as dates).

ALTER TABLE opps_leads_in_work ADD COLUMN touch_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE opps_leads_in_work ADD COLUMN next_follow_up TEXT NOT NULL DEFAULT '';
ALTER TABLE opps_leads_in_work ADD COLUMN account_id TEXT NOT NULL DEFAULT '';
ALTER TABLE opps_leads_in_work ADD COLUMN opportunity_id TEXT NOT NULL DEFAULT '';
ALTER TABLE opps_leads_in_work ADD COLUMN disqualify_reason TEXT NOT NULL DEFAULT '';
-- Free text from the rep; erased with the person.
ALTER TABLE opps_leads_in_work ADD COLUMN disqualify_note TEXT NOT NULL DEFAULT '';
-- Increases with every change: conditional updates use it.
ALTER TABLE opps_leads_in_work ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE opps_leads_in_work ADD COLUMN erased_at_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX opps_leads_in_work_by_team ON opps_leads_in_work (team_id, opened_at_ms, lead_id);

-- The pipeline's stages. An admin changes them at run time (SetStage);
-- deals read the probability through their stage, so a change applies to
-- every deal that does not override it.
CREATE TABLE opps_stages (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL,
    probability BIGINT NOT NULL,
    owner_locked BIGINT NOT NULL,
    stale_days BIGINT NOT NULL,
    -- "open", "won" or "lost".
    outcome TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
INSERT INTO opps_stages VALUES ('needs_identified', 10, 30, 0, 30, 'open', 0);
INSERT INTO opps_stages VALUES ('trial', 20, 60, 0, 21, 'open', 0);
INSERT INTO opps_stages VALUES ('commercial', 30, 90, 1, 14, 'open', 0);
INSERT INTO opps_stages VALUES ('won', 40, 100, 0, 0, 'won', 0);
INSERT INTO opps_stages VALUES ('lost', 50, 0, 0, 0, 'lost', 0);

-- One account per company.
CREATE TABLE opps_accounts (
    account_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    tier TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX opps_accounts_by_owner ON opps_accounts (owner_rep_id);

-- A domain belongs to one account: the key makes two conversions racing on
-- one new company end with one account.
CREATE TABLE opps_account_domains (
    domain TEXT PRIMARY KEY,
    account_id TEXT NOT NULL
);
CREATE INDEX opps_account_domains_by_account ON opps_account_domains (account_id);

CREATE TABLE opps_opportunities (
    opportunity_id TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    name TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    status TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    expected_close TEXT NOT NULL,
    -- -1: no override, the stage's probability applies.
    probability_override BIGINT NOT NULL,
    override_reason TEXT NOT NULL,
    next_follow_up TEXT NOT NULL,
    touch_count BIGINT NOT NULL,
    close_reason TEXT NOT NULL,
    stage_entered_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    version BIGINT NOT NULL,
    -- The ConvertLead request that made it (idempotent retries).
    request_id TEXT NOT NULL
);
CREATE INDEX opps_opportunities_by_owner ON opps_opportunities (owner_rep_id, created_at_ms, opportunity_id);
CREATE INDEX opps_opportunities_by_team ON opps_opportunities (team_id, created_at_ms, opportunity_id);
CREATE INDEX opps_opportunities_by_account ON opps_opportunities (account_id);
CREATE INDEX opps_opportunities_by_request ON opps_opportunities (request_id);

-- Every stage move, oldest first by id (ULIDs sort by time).
CREATE TABLE opps_stage_history (
    change_id TEXT PRIMARY KEY,
    opportunity_id TEXT NOT NULL,
    from_stage TEXT NOT NULL,
    to_stage TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX opps_stage_history_by_opportunity ON opps_stage_history (opportunity_id, change_id);

-- Owner changes of opportunities and accounts (the handover keeps them all).
CREATE TABLE opps_owner_history (
    change_id TEXT PRIMARY KEY,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    from_rep_id TEXT NOT NULL,
    to_rep_id TEXT NOT NULL,
    changed_by TEXT NOT NULL,
    reason TEXT NOT NULL,
    forced BIGINT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX opps_owner_history_by_entity ON opps_owner_history (entity, entity_id);

CREATE TABLE opps_activities (
    activity_id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    opportunity_id TEXT NOT NULL,
    -- Set once the lead is converted (its earlier touches join the account).
    account_id TEXT NOT NULL,
    logged_by TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    duration_seconds BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    recording_url TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    logged_at_ms BIGINT NOT NULL,
    request_id TEXT NOT NULL
);
CREATE INDEX opps_activities_by_account ON opps_activities (account_id, at_ms, activity_id);
CREATE INDEX opps_activities_by_lead ON opps_activities (lead_id, at_ms, activity_id);
CREATE INDEX opps_activities_by_request ON opps_activities (request_id);

CREATE TABLE opps_call_notes (
    activity_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    offset_seconds BIGINT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (activity_id, seq)
);

-- The wheel's team directory (wheel.team.upserted, wheel.rep.upserted):
-- who manages which team, and which team a rep is in.
CREATE TABLE opps_teams (
    team_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    manager_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX opps_teams_by_manager ON opps_teams (manager_id);
CREATE TABLE opps_reps (
    rep_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    team_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);

CREATE TABLE opps_handovers (
    handover_id TEXT PRIMARY KEY,
    rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    -- "draft", "applied", "completed": applying is a conditional update
    -- from "draft", so it happens once however many calls race.
    state TEXT NOT NULL,
    successor_rep_id TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    applied_at_ms BIGINT NOT NULL,
    applied_by TEXT NOT NULL
);
CREATE INDEX opps_handovers_by_rep ON opps_handovers (rep_id, state);

CREATE TABLE opps_handover_items (
    handover_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    item_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    stage TEXT NOT NULL,
    owner_locked BIGINT NOT NULL,
    action TEXT NOT NULL,
    to_rep_id TEXT NOT NULL,
    amount_minor BIGINT NOT NULL,
    currency TEXT NOT NULL,
    PRIMARY KEY (handover_id, kind, item_id)
);

CREATE TABLE opps_tasks (
    task_id TEXT PRIMARY KEY,
    handover_id TEXT NOT NULL,
    owner_rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    account_id TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    due_date TEXT NOT NULL,
    done_at_ms BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX opps_tasks_by_handover ON opps_tasks (handover_id, done_at_ms);
CREATE INDEX opps_tasks_by_owner ON opps_tasks (owner_rep_id, created_at_ms, task_id);
