-- Intake's store. Portable between SQLite and Postgres: TEXT and BIGINT
-- only, absent optional fields stored as '' (the proto's "unset"), times
-- as UTC epoch milliseconds.

-- Every accepted lead, normalised.
CREATE TABLE intake_leads (
    lead_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    name TEXT NOT NULL,
    company TEXT NOT NULL,
    domain TEXT NOT NULL,
    phone TEXT NOT NULL,
    website TEXT NOT NULL,
    country TEXT NOT NULL,
    source TEXT NOT NULL,
    message TEXT NOT NULL,
    tier TEXT NOT NULL,
    score BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX intake_leads_email_key ON intake_leads (email_key);

-- One row per dedupe key (the lowercased email): the lead it points at and
-- when that lead was made. The primary key is what makes dedupe race-safe:
-- of two concurrent signups with one email exactly one claims the key.
CREATE TABLE intake_dedupe_keys (
    email_key TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL
);

-- Idempotency keys (gRPC request_id, HTTP Idempotency-Key) and the outcome
-- they produced, so a retried request answers what the first one did.
CREATE TABLE intake_requests (
    request_key TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    lead_id TEXT NOT NULL,
    duplicate BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL
);
