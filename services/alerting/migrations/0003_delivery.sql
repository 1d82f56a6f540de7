-- Delivery: where alerts go, and the durable log of every attempt.
-- Portable between SQLite and Postgres: TEXT and BIGINT only.

-- A team's Slack-compatible webhook (empty: none).
CREATE TABLE alerting_team_channels (
    team_id TEXT PRIMARY KEY,
    webhook_url TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- How to reach a person by email (empty: not by email).
CREATE TABLE alerting_contacts (
    recipient_id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

-- One row per (alert, channel, recipient, reason): written in the same
-- transaction as the alert's change, sent by the channel's worker, retried
-- with backoff, "dead" when it cannot succeed.
CREATE TABLE alerting_deliveries (
    delivery_id TEXT PRIMARY KEY,
    alert_id TEXT NOT NULL,
    -- "live", "webhook" or "email".
    channel TEXT NOT NULL,
    -- A person for live and email; empty for a team's webhook.
    recipient_id TEXT NOT NULL,
    -- The URL, address or subject it goes to.
    target TEXT NOT NULL,
    -- "raised", "escalated" or "reopened" (a snooze ended).
    reason TEXT NOT NULL,
    -- "pending", "sent" or "dead".
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    next_attempt_at_ms BIGINT NOT NULL,
    last_error TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    done_at_ms BIGINT NOT NULL,
    UNIQUE (alert_id, channel, recipient_id, reason)
);
CREATE INDEX alerting_deliveries_due ON alerting_deliveries (channel, state, next_attempt_at_ms);
CREATE INDEX alerting_deliveries_by_time ON alerting_deliveries (created_at_ms, delivery_id);
