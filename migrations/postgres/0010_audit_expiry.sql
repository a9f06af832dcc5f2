-- Access events past their retention (policy [audit] retention_years, at least 5 years) can be
-- expired: the event's row goes, its sequence number, time, leaf hash and chain hash stay here,
-- so the stored tree, every checkpoint and the chain still verify. An event may be deleted only
-- once its stub is here with the same hashes, and never while it is younger than five years by
-- the database's own clock (the least retention, whatever the policy says). Append-only. Only
-- the owner role deletes (postgres-grants.sql gives the broker no DELETE on the log).

CREATE TABLE audit_expired (
    seq         BIGINT PRIMARY KEY,
    time        TEXT NOT NULL,
    leaf_hash   TEXT NOT NULL,
    chain_hash  TEXT NOT NULL
);
CREATE TRIGGER audit_expired_append_only BEFORE UPDATE OR DELETE ON audit_expired
    FOR EACH ROW EXECUTE FUNCTION sluis_append_only();
CREATE TRIGGER audit_expired_no_truncate BEFORE TRUNCATE ON audit_expired
    FOR EACH STATEMENT EXECUTE FUNCTION sluis_append_only();

CREATE FUNCTION sluis_expire_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.time > to_char((now() AT TIME ZONE 'UTC') - interval '5 years',
                          'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
       OR NOT EXISTS (
           SELECT 1 FROM audit_expired x
           WHERE x.seq = OLD.seq AND x.leaf_hash = OLD.leaf_hash AND x.chain_hash = OLD.chain_hash
       ) THEN
        RAISE EXCEPTION 'audit events are append-only until they expire';
    END IF;
    RETURN OLD;
END
$$;

DROP TRIGGER audit_events_append_only ON audit_events;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION sluis_append_only();
CREATE TRIGGER audit_events_expire_only BEFORE DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION sluis_expire_only();

-- Every leaf of the tree: kept events' and expired events' alike.
CREATE VIEW audit_leaves AS
    SELECT seq, leaf_hash FROM audit_events
    UNION ALL
    SELECT seq, leaf_hash FROM audit_expired;
