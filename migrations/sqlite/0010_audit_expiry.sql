-- Access events past their retention (policy [audit] retention_years, at least 5 years) can be
-- expired: the event's row goes, its sequence number, time, leaf hash and chain hash stay here,
-- so the stored tree, every checkpoint and the chain still verify. An event may be deleted only
-- once its stub is here with the same hashes, and never while it is younger than five years by
-- the database's own clock (the least retention, whatever the policy says). Append-only.

CREATE TABLE audit_expired (
    seq         INTEGER PRIMARY KEY,
    time        TEXT NOT NULL,
    leaf_hash   TEXT NOT NULL,
    chain_hash  TEXT NOT NULL
);
CREATE TRIGGER audit_expired_no_update BEFORE UPDATE ON audit_expired
BEGIN SELECT RAISE(ABORT, 'expired audit events are append-only'); END;
CREATE TRIGGER audit_expired_no_delete BEFORE DELETE ON audit_expired
BEGIN SELECT RAISE(ABORT, 'expired audit events are append-only'); END;

DROP TRIGGER audit_events_no_delete;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (
        SELECT 1 FROM audit_expired x
        WHERE x.seq = OLD.seq AND x.leaf_hash = OLD.leaf_hash AND x.chain_hash = OLD.chain_hash
    )
    OR OLD.time > strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-5 years')
BEGIN SELECT RAISE(ABORT, 'audit events are append-only until they expire'); END;

-- Every leaf of the tree: kept events' and expired events' alike.
CREATE VIEW audit_leaves AS
    SELECT seq, leaf_hash FROM audit_events
    UNION ALL
    SELECT seq, leaf_hash FROM audit_expired;
