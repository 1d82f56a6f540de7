-- The wheel's store: teams and their rings, reps, leads being routed (with
-- the pure core's routing state), offers (the durable timers) and the
-- routing ledger. Portable between SQLite and Postgres.

CREATE TABLE wheel_teams (
    team_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    manager_id TEXT NOT NULL,
    window_ms BIGINT NOT NULL,
    -- Round-robin first-look cursor: advances by one per routed lead.
    rotation_cursor BIGINT NOT NULL DEFAULT 0,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE TABLE wheel_reps (
    rep_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    -- NULL once the rep is no longer on a team.
    team_id TEXT,
    -- Place in the team's ring.
    ring_position BIGINT NOT NULL DEFAULT 0,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX wheel_reps_team ON wheel_reps (team_id, ring_position);

CREATE TABLE wheel_leads (
    lead_id TEXT PRIMARY KEY,
    -- Empty while waiting for a team to exist.
    team_id TEXT NOT NULL,
    -- waiting | offered | assigned | pooled
    state TEXT NOT NULL,
    owner_rep_id TEXT,
    -- The pure core's LeadRouting, as JSON.
    routing TEXT NOT NULL,
    -- Optimistic concurrency: every transition bumps it conditionally.
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    company TEXT NOT NULL,
    email TEXT NOT NULL,
    domain TEXT NOT NULL,
    tier TEXT NOT NULL,
    score BIGINT NOT NULL,
    source TEXT NOT NULL,
    traceparent TEXT,
    lead_created_at_ms BIGINT NOT NULL,
    routed_at_ms BIGINT NOT NULL,
    pooled_at_ms BIGINT,
    assigned_at_ms BIGINT,
    updated_at_ms BIGINT NOT NULL
);
CREATE INDEX wheel_leads_state ON wheel_leads (team_id, state);
CREATE INDEX wheel_leads_owner ON wheel_leads (owner_rep_id);

CREATE TABLE wheel_offers (
    offer_id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    offer_no BIGINT NOT NULL,
    team_id TEXT NOT NULL,
    rep_id TEXT NOT NULL,
    -- open | claimed | passed | expired | withdrawn
    state TEXT NOT NULL,
    opened_at_ms BIGINT NOT NULL,
    deadline_ms BIGINT NOT NULL,
    closed_at_ms BIGINT,
    reason TEXT,
    UNIQUE (lead_id, offer_no)
);
-- The timer loop reads open offers in deadline order.
CREATE INDEX wheel_offers_due ON wheel_offers (state, deadline_ms);
CREATE INDEX wheel_offers_rep ON wheel_offers (rep_id, state);

-- Every routing decision: offered, skipped (with the reason), claimed,
-- passed, expired, assigned, pooled.
CREATE TABLE wheel_ledger (
    entry_id TEXT PRIMARY KEY,
    lead_id TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    rep_id TEXT,
    offer_no BIGINT,
    detail TEXT NOT NULL
);
CREATE INDEX wheel_ledger_lead ON wheel_ledger (lead_id, entry_id);
