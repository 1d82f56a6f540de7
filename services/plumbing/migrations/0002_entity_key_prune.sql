-- The entity an outbox event is about (its envelope's key, e.g. a lead
-- id), so a person's erasure can delete the published copies of their
-- events at once. Rows written before this column existed have ''; the
-- prune deletes them by age.
ALTER TABLE lw_outbox ADD COLUMN entity_key TEXT NOT NULL DEFAULT '';
CREATE INDEX lw_outbox_entity ON lw_outbox (entity_key);

-- The prune deletes inbox rows oldest first.
CREATE INDEX lw_inbox_processed ON lw_inbox (processed_at_ms);
