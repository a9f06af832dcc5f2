-- The access log's RFC 9162 tree, stored: the hash of every perfect subtree of two or more
-- leaves, written as appends complete it (leaves are audit_events.leaf_hash). Proofs and
-- roots read O(log n) rows instead of rehashing the log. Append-only like the log; hashes hex.

CREATE TABLE audit_nodes (
    level  INTEGER NOT NULL,
    idx    INTEGER NOT NULL,
    hash   TEXT NOT NULL,
    PRIMARY KEY (level, idx)
);
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit nodes are append-only'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit nodes are append-only'); END;
