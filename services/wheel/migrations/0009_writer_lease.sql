-- Who may batch the wheel's writes (Postgres, several replicas): one row
-- per shard, held by one replica until it stops renewing; `epoch` grows
-- at every change of holder, and each batch updates the row only while
-- it still names its holder and epoch (fencing: a deposed holder's batch
-- fails instead of committing). SQLite has one process per store and
-- never reads it.
CREATE TABLE wheel_writer_lease (
    shard TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
