-- The full signup field set, scoring output, routing hints, touches,
-- erasure and intake's copy of the account domain map.

ALTER TABLE intake_leads ADD COLUMN company_size BIGINT NOT NULL DEFAULT 0;
ALTER TABLE intake_leads ADD COLUMN utm_source TEXT NOT NULL DEFAULT '';
ALTER TABLE intake_leads ADD COLUMN utm_medium TEXT NOT NULL DEFAULT '';
ALTER TABLE intake_leads ADD COLUMN utm_campaign TEXT NOT NULL DEFAULT '';
ALTER TABLE intake_leads ADD COLUMN utm_term TEXT NOT NULL DEFAULT '';
ALTER TABLE intake_leads ADD COLUMN utm_content TEXT NOT NULL DEFAULT '';
ALTER TABLE intake_leads ADD COLUMN product TEXT NOT NULL DEFAULT '';
ALTER TABLE intake_leads ADD COLUMN plan TEXT NOT NULL DEFAULT '';
ALTER TABLE intake_leads ADD COLUMN consent BIGINT NOT NULL DEFAULT 0;
-- Custom attributes as a JSON object of strings.
ALTER TABLE intake_leads ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
-- The rules that fired, as "rule:+points" joined by new lines.
ALTER TABLE intake_leads ADD COLUMN score_reasons TEXT NOT NULL DEFAULT '';
ALTER TABLE intake_leads ADD COLUMN account_owner_hint TEXT NOT NULL DEFAULT '';
ALTER TABLE intake_leads ADD COLUMN team_hint TEXT NOT NULL DEFAULT '';
-- 'active', or 'erased' once the person's data was erased.
ALTER TABLE intake_leads ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE intake_leads ADD COLUMN touches BIGINT NOT NULL DEFAULT 0;

CREATE INDEX intake_leads_created ON intake_leads (created_at_ms, lead_id);

-- One row per duplicate signup recorded against a lead.
CREATE TABLE intake_touches (
    touch_id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    source TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX intake_touches_lead ON intake_touches (lead_id);

-- Intake's copy of opportunity's accounts (from opps.account.* events):
-- only what routing needs.
CREATE TABLE intake_accounts (
    account_id TEXT PRIMARY KEY,
    owner_rep_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    status TEXT NOT NULL,
    version BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- domain -> account. One account per domain: the latest change to claim a
-- domain holds it.
CREATE TABLE intake_account_domains (
    domain TEXT PRIMARY KEY,
    account_id TEXT NOT NULL
);
CREATE INDEX intake_account_domains_account ON intake_account_domains (account_id);
