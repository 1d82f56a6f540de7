-- The plumbing's own tables, shared by every service's store.
-- Portable between SQLite and Postgres: TEXT, BIGINT and BYTEA only.

-- Events written in the same transaction as the state change they describe;
-- the relay publishes them to JetStream and marks them sent.
CREATE TABLE lw_outbox (
    id TEXT PRIMARY KEY,
    subject TEXT NOT NULL,
    envelope BYTEA NOT NULL,
    traceparent TEXT,
    created_at_ms BIGINT NOT NULL,
    sent_at_ms BIGINT
);
CREATE INDEX lw_outbox_pending ON lw_outbox (sent_at_ms, id);

-- Event ids a consumer has processed, written in the same transaction as
-- the consumer's effect, so a redelivered event changes nothing.
CREATE TABLE lw_inbox (
    consumer TEXT NOT NULL,
    event_id TEXT NOT NULL,
    processed_at_ms BIGINT NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
