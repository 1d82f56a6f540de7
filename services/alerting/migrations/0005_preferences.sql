-- Per-recipient preferences: which channels, quiet hours in their time
-- zone (email waits until they end).

-- Comma-separated: "live", "email" (empty: neither).
ALTER TABLE alerting_contacts ADD COLUMN channels TEXT NOT NULL DEFAULT 'live,email';
-- An IANA zone, e.g. "Europe/Lisbon".
ALTER TABLE alerting_contacts ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
-- Minutes after local midnight; -1: no quiet hours.
ALTER TABLE alerting_contacts ADD COLUMN quiet_start_min BIGINT NOT NULL DEFAULT -1;
ALTER TABLE alerting_contacts ADD COLUMN quiet_end_min BIGINT NOT NULL DEFAULT -1;
-- Minutes between digest emails (all alerts of the interval in one); 0:
-- one email per alert.
ALTER TABLE alerting_contacts ADD COLUMN digest_minutes BIGINT NOT NULL DEFAULT 0;
