-- The access log's RFC 9162 tree, stored: the hash of every perfect subtree of two or more
-- leaves, written as appends complete it (leaves are audit_events.leaf_hash). Proofs and
-- roots read O(log n) rows instead of rehashing the log. Append-only like the log; hashes hex.

CREATE TABLE audit_nodes (
    level  BIGINT NOT NULL,
    idx    BIGINT NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TRIGGER audit_nodes_append_only BEFORE UPDATE OR DELETE ON audit_nodes
    FOR EACH ROW EXECUTE FUNCTION sluis_append_only();
CREATE TRIGGER audit_nodes_no_truncate BEFORE TRUNCATE ON audit_nodes
    FOR EACH STATEMENT EXECUTE FUNCTION sluis_append_only();
